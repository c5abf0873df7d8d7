"""A second look at imported labels the model contradicts.

Under the review policy ``flagged`` a label issue on an annotator's answer sends the answer back
to review; a label an import brought has no answer to send, so its flag waits in the review
queue itself (:func:`labelloop.workflow.review.next_review` serves it once no answer waits).
The reviewer keeps the label, which closes the flag as a person's decision (a later model does
not flag it again), or fixes it: the fix is the reviewer's own answer under the guideline
version in force, and the label becomes ``reviewed``, decided by them. Given on no assignment,
the fix is a reviewer's decision, not an annotation: agreement between annotators leaves it out
(:func:`~labelloop.store.review.independent`), and answers that join the item later neither
outvote it nor take it away (:func:`labelloop.workflow.review.resolve`). Either way the imported
label and where it came from (its import batch and file) stay in the audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelloop.domain import MAX_COMMENT_CHARS
from labelloop.errors import Conflict, LabelloopError
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import imported_issues as store_imported
from labelloop.store import projects as store_projects
from labelloop.store import review as store_review
from labelloop.store import tasks as store_tasks
from labelloop.store.db import Database
from labelloop.store.users import now
from labelloop.workflow import review_leases as leases
from labelloop.workflow.imports import _label_text
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.values import checked, checked_on_item

VERDICTS = ("keep", "fix")


def waiting(conn: Any, ctx: ProjectContext) -> int:
    """How many imported labels wait for a second look in the review queue (under the review
    policy ``flagged``; none otherwise)."""
    if ctx.settings.review_policy != "flagged":
        return 0
    return store_imported.count(conn, ctx.id)


def facts(flagged: Mapping[str, Any]) -> dict[str, Any]:
    """What a reviewer is shown of a flagged imported label: the label, why the model doubts
    it (the label it says instead, ``suggestion``, and how sure it is, ``confidence``), and
    where it came from."""
    return {
        "flag_id": int(flagged["id"]),
        "value": flagged["value"],
        "label": flagged["label"],
        "note": flagged["note"],
        "score": flagged["score"],
        "import_batch": flagged["batch_id"],
        "filename": flagged["filename"],
        "suggestion": flagged["suggestion"],
        "confidence": flagged["suggestion_confidence"],
    }


def flagged(db: Database, ctx: ProjectContext) -> dict[str, Any]:
    """The imported labels waiting for a second look (reviewers, as on the Review page), oldest
    flag first: each item, its label, the model's suggestion and how sure it is (``confidence``)
    and where the label came from. ``in_review_queue``: whether the review queue serves them
    (the review policy ``flagged``). ``labelloop second-look SLUG --json`` prints it and
    ``GET /api/projects/SLUG/second-look`` answers it."""
    from labelloop.insight.flow import as_utc

    ctx.require(Permission.REVIEW)
    with db.read() as conn:
        rows = store_imported.listed(conn, ctx.id)
    items = [
        {
            "item_id": int(row["item_id"]),
            "external_id": row["external_id"],
            **facts(row),
            "flagged_at": as_utc(row["created_at"]).isoformat(),
        }
        for row in rows
    ]
    return {
        "project": ctx.slug,
        "in_review_queue": ctx.settings.review_policy == "flagged",
        "items": items,
    }


def second_look(
    db: Database,
    ctx: ProjectContext,
    item_id: int,
    *,
    verdict: str,
    value: Mapping[str, Any] | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """Keep or fix the imported label of ``item_id`` that a label issue flags, closing the
    flag, in one audited transaction. ``fix`` needs ``value`` and a reviewer of the project:
    it is their answer."""
    ctx.require(Permission.REVIEW)
    if verdict not in VERDICTS:
        raise LabelloopError(f"verdict must be one of {', '.join(VERDICTS)}, not '{verdict[:40]}'")
    if verdict == "fix" and (value is None or not ctx.user.id):
        raise LabelloopError(
            "a fix needs the new value and a reviewer to give it (the CLI: --as USER)"
        )
    clean: dict[str, Any] | None = None
    if verdict == "fix" and value is not None:
        ctx, clean = checked(db, ctx, value)
    note = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
    with db.write(project_id=ctx.id) as conn:
        leases.hold_item(db, conn, ctx, item_id)
        flagged = store_imported.of_item(conn, project_id=ctx.id, item_id=item_id)
        if flagged is None:
            raise Conflict(
                f"item {item_id} has no imported label flagged as a likely error (kept, fixed "
                "or closed meanwhile); nothing was recorded"
            )
        leases.refuse_if_taken(
            conn, ctx, item_id, at=now(), tier=leases.REVIEW, then="; nothing was recorded"
        )
        label, resolution, answer_id = flagged["label"], "imported", None
        if clean is not None:
            clean = checked_on_item(conn, ctx, clean, item_id)
            label, resolution = _label_text(clean.get(ctx.schema.target.name)), "reviewed"
            answer_id = store_tasks.insert_annotation(
                conn,
                project_id=ctx.id,
                item_id=item_id,
                user_id=ctx.user.id,
                assignment_id=None,
                value=clean,
                status="accepted",
                schema_version=ctx.schema_version,
                guideline_version=store_projects.newest_guideline_version(conn, ctx.id) or None,
                active_ms=0,
            )
            store_tasks.upsert_label(
                conn,
                item_id=item_id,
                project_id=ctx.id,
                value=clean,
                label=label,
                resolution=resolution,
                annotation_id=answer_id,
                decided_by=ctx.user.id,
            )
        store_review.resolve_flags(
            conn, item_id=item_id, kinds=["label_issue"], by=ctx.user.id or None
        )
        leases.give_back(conn, ctx, item_id)
        audit.record(
            db,
            conn,
            action=f"review.imported_label.{verdict}",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{item_id}",
            payload={
                "flag_id": int(flagged["id"]),
                "imported": flagged["value"],
                "import_batch": flagged["batch_id"],
                "filename": flagged["filename"],
                "value": clean,
                "annotation_id": answer_id,
                "comment": note,
            },
        )
    return {
        "item_id": item_id,
        "verdict": verdict,
        "label": label,
        "resolution": resolution,
        "annotation_id": answer_id,
    }
