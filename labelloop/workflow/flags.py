"""Annotators flag an item as ambiguous, with a note, while they label it (feeds guideline work)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from labelloop.errors import NotFound, Unprocessable
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import review as store_review
from labelloop.store import tasks as store_tasks
from labelloop.store.db import Database
from labelloop.workflow.projects import ProjectContext

AMBIGUOUS = "ambiguous"
MAX_NOTE_CHARS = 2_000
"""The longest note on a flag: the API and the workflow refuse a longer one, and the labeling
page's note field, which the server renders with it, lets no more be typed."""


def flag_task(
    db: Database, ctx: ProjectContext, assignment_id: int, *, note: str
) -> dict[str, Any]:
    """Flag the item of one of the caller's tasks as ambiguous; the task stays theirs to finish.

    Flagging the same item again changes the note of the caller's open flag instead of adding one.
    """
    return _flag_own(
        db,
        ctx,
        note=note,
        find=store_tasks.get_assignment,
        what="task",
        via="assignment_id",
        ref=assignment_id,
    )


def flag_annotation(
    db: Database, ctx: ProjectContext, annotation_id: int, *, note: str
) -> dict[str, Any]:
    """Flag the item of one of the caller's earlier annotations as ambiguous (from Back)."""
    return _flag_own(
        db,
        ctx,
        note=note,
        find=store_tasks.get_annotation,
        what="annotation",
        via="annotation_id",
        ref=annotation_id,
    )


def _flag_own(
    db: Database,
    ctx: ProjectContext,
    *,
    note: str,
    find: Callable[[Any, int], Mapping[Any, Any] | None],
    what: str,
    via: str,
    ref: int,
) -> dict[str, Any]:
    """Flag the item of the caller's own task or annotation ``ref`` (looked up by ``find``)."""
    ctx.require(Permission.ANNOTATE)
    clean = _note(note)
    with db.write(project_id=ctx.id) as conn:
        row = find(conn, ref)
        if row is None or row["project_id"] != ctx.id or row["user_id"] != ctx.user.id:
            raise NotFound(f"no {what} {ref} of yours in project '{ctx.slug}'")
        return _raise(
            db,
            conn,
            ctx,
            item_id=int(row["item_id"]),
            annotation_id=ref if via == "annotation_id" else None,
            note=clean,
            via={via: ref},
        )


def _note(note: str) -> str:
    clean = (note or "").strip()
    if len(clean) > MAX_NOTE_CHARS:
        raise Unprocessable(f"note: {len(clean):,} characters; the limit is {MAX_NOTE_CHARS:,}")
    return clean


def _raise(
    db: Database,
    conn: Any,
    ctx: ProjectContext,
    *,
    item_id: int,
    annotation_id: int | None,
    note: str,
    via: dict[str, int],
) -> dict[str, Any]:
    """Write the flag and its audit event in the caller's transaction."""
    flag_id, added = store_review.raise_user_flag(
        conn,
        project_id=ctx.id,
        item_id=item_id,
        annotation_id=annotation_id,
        user_id=ctx.user.id,
        kind=AMBIGUOUS,
        note=note,
    )
    audit.record(
        db,
        conn,
        action="flag.raise" if added else "flag.note",
        actor_id=ctx.actor_id,
        project_id=ctx.id,
        subject=f"item:{item_id}",
        payload={"flag_id": flag_id, "kinds": [AMBIGUOUS], "note": note, **via},
    )
    return {"flag_id": flag_id, "item_id": item_id, "kind": AMBIGUOUS, "note": note, "new": added}
