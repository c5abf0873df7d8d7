"""The Items page: every item of a project with its label, who answered it and what waits on
it, filtered and paged, so a reviewer or manager can find "everything bob labeled negative" and
open one to see its whole trace (``review.item_detail``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from labelloop.errors import LabelloopError
from labelloop.govern.permissions import Permission
from labelloop.store import browse as store_browse
from labelloop.store import users as store_users
from labelloop.store.db import Database
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.review import is_expert, item_detail
from labelloop.workflow.seeding import (
    MAX_OFFSET,
    MAX_TEXT_CHARS,
    query_words,
    shown_text,
    shows_words,
)
from labelloop.workflow.values import find_item

STATUSES = store_browse.STATUSES
SPLITS = ("pool", "eval")
RESOLUTIONS = ("imported", "single", "reviewed", "consensus", "dawid_skene", "adjudicated", "auto")
MAX_LIMIT = 200


def list_items(
    db: Database,
    ctx: ProjectContext,
    *,
    status: str = "all",
    split: str | None = None,
    label: str | None = None,
    resolution: str | None = None,
    annotator: str | None = None,
    q: str | None = None,
    newest_first: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the project's items that pass every filter given, and how many pass in all.

    ``status`` is one of :data:`STATUSES`; ``label`` is the resolved label of the target
    control; ``annotator`` a username (an item they answered; a name nobody answered with finds
    nothing); ``q`` words the item's content holds, all of them, any case. Gold checks are
    listed (``status=gold``) to the expert tier only: to anyone else they are not there, as
    they must look like any other item when served. Reviewers and managers.
    """
    ctx.require(Permission.REVIEW)
    expert = is_expert(ctx)
    status = status or "all"  # an empty filter, as a form sends it, is no filter
    split, label, resolution = split or None, label or None, resolution or None
    annotator = (annotator or "").strip() or None
    _one_of("status", status, STATUSES if expert else tuple(s for s in STATUSES if s != "gold"))
    if split is not None:
        _one_of("split", split, SPLITS)
    if resolution is not None:
        _one_of("resolution", resolution, RESOLUTIONS)
    if not 1 <= limit <= MAX_LIMIT:
        raise LabelloopError(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise LabelloopError(f"offset must be between 0 and {MAX_OFFSET:,}")
    words = query_words(q) if q is not None and q.strip() else []
    target = ctx.schema.target
    checks: list[Callable[[Mapping[str, Any]], bool]] = []  # what SQL cannot read
    if ctx.schema.data_type == "table" and words:
        checks.append(lambda r: shows_words(r["payload"], words))
    regions = label is not None and target.type not in ("choice", "multi_choice", "rating")
    if regions:  # spans or boxes: an item whose label has a region of that label
        checks.append(lambda r: label in _region_labels((r["value"] or {}).get(target.name)))
    with db.read() as conn:
        annotator_id: int | None = None
        if annotator is not None:
            found = store_users.by_name(conn, annotator.strip())
            if found is None:
                return _page([], 0, limit=limit, offset=offset)
            annotator_id = int(found["id"])
        filters = store_browse.Filters(
            status=status,
            split=split,
            label=None if regions else label,
            listed=target.type == "multi_choice",
            resolution=resolution,
            annotator_id=annotator_id,
            words=words,
            with_gold=expert,
        )
        rows, total = store_browse.browse(
            conn,
            project_id=ctx.id,
            data_type=ctx.schema.data_type,
            filters=filters,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
            row_filter=(lambda r: all(check(r) for check in checks)) if checks else None,
        )
    return _page(
        [_row(r, target.name, expert=expert) for r in rows], total, limit=limit, offset=offset
    )


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise LabelloopError(f"{name} must be one of {', '.join(allowed)}; got {value[:40]!r}")


def _page(items: list[dict[str, Any]], total: int, *, limit: int, offset: int) -> dict[str, Any]:
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def _region_labels(value: Any) -> set[str]:
    """The labels of a spans or boxes value (a list of regions), as a set."""
    if not isinstance(value, list):
        return set()
    return {str(v.get("label")) for v in value if isinstance(v, Mapping)}


def _row(r: dict[str, Any], target: str, *, expert: bool) -> dict[str, Any]:
    text = shown_text(r["payload"])
    out = {
        "id": int(r["id"]),
        "external_id": r["external_id"],
        "split": r["split"],
        "text": text[:MAX_TEXT_CHARS],
        "truncated": len(text) > MAX_TEXT_CHARS,
        # The target's value as an export's label column has it: a name, a list of names, or
        # spans and boxes.
        "label": (r["value"] or {}).get(target),
        "resolution": r["resolution"],
        "decided_by": r["decided_by"],
        "decided_at": r["decided_at"].isoformat() if r["decided_at"] is not None else None,
        "answers": r["answers"],
        "flags": r["flags"],
    }
    if expert:
        out["gold"] = bool(r["gold"])
    return out


def item_trace(
    db: Database, ctx: ProjectContext, *, item_id: int | None = None, external_id: str | None = None
) -> dict[str, Any]:
    """One item's whole trace (``review.item_detail``), named by its number or its import id."""
    ctx.require(Permission.REVIEW)
    with db.read() as conn:
        found = find_item(conn, ctx, item_id=item_id, external_id=external_id)
    return item_detail(db, ctx, int(found["id"]))
