"""Label issues on imported labels: the open ``label_issue`` flags on items whose label an
import brought (no answer behind it), which wait in the review queue for a second look."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from labelloop.store import review_leases
from labelloop.store.tables import flag, import_batch, item, item_label

IMPORTED = "imported"
"""The resolution of a label an import brought."""


def _open_on_imported(*columns: Any) -> Any:
    """``columns`` of the open label issues on imported labels, their flags joined to their
    labels: what waits for a second look, alike for the queue, its count and one item."""
    return (
        select(*columns)
        .join(item_label, item_label.c.item_id == flag.c.item_id)
        .where(
            flag.c.kind == "label_issue",
            flag.c.resolved_at.is_(None),
            item_label.c.resolution == IMPORTED,
        )
    )


def candidates(
    conn: Connection,
    *,
    project_id: int,
    reviewer_id: int,
    passed: Sequence[int] = (),
    at: datetime,
    limit: int,
) -> list[tuple[int, int]]:
    """(flag id, item id) of open label issues on imported labels, oldest flag first, on items
    no other reviewer has leased at ``at``; an item leased to the reviewer comes first.
    ``passed`` lists items to leave out."""
    mine = review_leases.leased_to(flag.c.item_id, reviewer_id, at)
    q = _open_on_imported(flag.c.id, flag.c.item_id).where(
        flag.c.project_id == project_id,
        ~review_leases.leased_to_others(flag.c.item_id, reviewer_id, at),
    )
    if passed:
        q = q.where(flag.c.item_id.not_in(list(passed)))
    q = q.order_by(case((mine, 0), else_=1), flag.c.id).limit(limit)
    return [(int(f), int(i)) for f, i in conn.execute(q)]


def count(conn: Connection, project_id: int) -> int:
    """How many imported labels wait for a second look."""
    found = _open_on_imported(flag.c.item_id).where(flag.c.project_id == project_id).subquery()
    q = select(func.count(func.distinct(found.c.item_id)))
    return int(conn.execute(q).scalar_one())


def _described(project_id: int) -> Any:
    """The open label issues on the project's imported labels, oldest flag first, each with its
    item, the label (``value``, ``label``), the model's guess (``suggestion``,
    ``suggestion_confidence``) and where the label came from (``batch_id``, ``filename``,
    ``decided_by``)."""
    return (
        _open_on_imported(
            flag.c.id,
            flag.c.item_id,
            item.c.external_id,
            flag.c.note,
            flag.c.score,
            flag.c.suggestion,
            flag.c.suggestion_confidence,
            flag.c.created_at,
            item_label.c.value,
            item_label.c.label,
            item_label.c.decided_by,
            item.c.import_batch_id.label("batch_id"),
            import_batch.c.filename,
        )
        .join(item, item.c.id == flag.c.item_id)
        .outerjoin(import_batch, import_batch.c.id == item.c.import_batch_id)
        .where(flag.c.project_id == project_id)
        .order_by(flag.c.id)
    )


def of_item(conn: Connection, *, project_id: int, item_id: int) -> dict[str, Any] | None:
    """The item's open label issue on its imported label, as :func:`listed` gives each; None
    when there is none."""
    q = _described(project_id).where(flag.c.item_id == item_id).limit(1)
    row = conn.execute(q).mappings().first()
    return dict(row) if row is not None else None


def listed(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every imported label of the project waiting for a second look, oldest flag first, once
    per item (its oldest open flag)."""
    seen: set[int] = set()
    out = []
    for row in conn.execute(_described(project_id)).mappings():
        if row["item_id"] not in seen:
            seen.add(row["item_id"])
            out.append(dict(row))
    return out
