"""Import batches: the list with what holds each one's items, and removing one (undo).

What holds an item is derived from the tables that reference it, never stored: answers and
labels from people (and so their reviews), gold answers, guideline examples, auto-label runs
(their labels and spot checks), seed picks and flags. Queue entries, leases nobody answered,
imported labels and pre-annotations (a column of the item) go with the item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, delete, func, literal, select, union

from labelloop.store import highwater
from labelloop.store.tables import (
    AUTO,
    annotation,
    assignment,
    auto_label_check,
    auto_label_run,
    flag,
    gold_answer,
    guideline_example,
    import_batch,
    item,
    item_label,
    queue_entry,
    removed_lease,
    seed_pick,
    user,
)

HOLDS = ("answered", "gold", "example", "auto", "seeded", "flagged")
"""What may hold an import's items, in the order a refusal names them; all but ``auto`` are
people's doing (the list's ``touched``)."""
BY_PEOPLE = tuple(h for h in HOLDS if h != "auto")


def _holding(project_id: int) -> dict[str, list[Select[Any]]]:
    """Per kind of hold, queries of the ids of the project's items it holds."""
    mine = item_label.c.project_id == project_id
    return {
        "answered": [
            select(annotation.c.item_id).where(annotation.c.project_id == project_id),
            select(item_label.c.item_id).where(
                mine, item_label.c.resolution.not_in(("imported", AUTO))
            ),
        ],
        "gold": [select(gold_answer.c.item_id).where(gold_answer.c.project_id == project_id)],
        "example": [
            select(guideline_example.c.item_id).where(guideline_example.c.project_id == project_id)
        ],
        "auto": [
            select(item_label.c.item_id).where(mine, item_label.c.resolution == AUTO),
            select(auto_label_check.c.item_id)
            .join(auto_label_run, auto_label_run.c.id == auto_label_check.c.run_id)
            .where(auto_label_run.c.project_id == project_id),
        ],
        "seeded": [select(seed_pick.c.item_id).where(seed_pick.c.project_id == project_id)],
        "flagged": [select(flag.c.item_id).where(flag.c.project_id == project_id)],
    }


def _counted(
    conn: Connection, project_id: int, kinds: tuple[str, ...], batch_id: int | None
) -> dict[int, int]:
    """Items held by any of ``kinds``, per batch (one batch with ``batch_id``)."""
    holding = _holding(project_id)
    queries = [q for kind in kinds for q in holding[kind]]
    held = union(*queries) if len(queries) > 1 else queries[0]
    q = (
        select(item.c.import_batch_id, func.count())
        .where(item.c.project_id == project_id, item.c.id.in_(held))
        .group_by(item.c.import_batch_id)
    )
    if batch_id is not None:
        q = q.where(item.c.import_batch_id == batch_id)
    return {int(b): int(n) for b, n in conn.execute(q) if b is not None}


def listing(conn: Connection, project_id: int, *, at: datetime) -> list[dict[str, Any]]:
    """The project's imports, newest first: as imported (file, format, split, who, when,
    items, labeled, duplicates) and now (``touched``: items people answered, reviewed, made
    gold, pinned, picked or flagged; ``held``: those or auto-labeled; ``leased``: items
    served and not answered, whose leases an undo releases; ``upload_folder``: where an
    uploaded zip's images were stored for it, under the first media root)."""
    q = (
        select(import_batch, user.c.username)
        .outerjoin(user, user.c.id == import_batch.c.user_id)
        .where(import_batch.c.project_id == project_id)
        .order_by(import_batch.c.id.desc())
    )
    rows = list(conn.execute(q).mappings())
    touched = _counted(conn, project_id, BY_PEOPLE, None)
    held = _counted(conn, project_id, HOLDS, None)
    live = (
        select(item.c.import_batch_id, func.count(func.distinct(assignment.c.item_id)))
        .join(item, item.c.id == assignment.c.item_id)
        .where(
            assignment.c.project_id == project_id,
            assignment.c.state == "leased",
            assignment.c.lease_expires_at > at,
        )
        .group_by(item.c.import_batch_id)
    )
    leased = {int(b): int(n) for b, n in conn.execute(live) if b is not None}
    present = (
        select(item.c.import_batch_id, func.count())
        .where(item.c.project_id == project_id)
        .group_by(item.c.import_batch_id)
    )
    now_there = {int(b): int(n) for b, n in conn.execute(present) if b is not None}
    return [
        {
            "id": int(r["id"]),
            "filename": r["filename"],
            "format": r["format"],
            "split": r["split"],
            "by": r["username"],
            "at": r["created_at"].isoformat(),
            "items": int(r["n_items"]),
            "labeled": int(r["n_labeled"]),
            "duplicates": int(r["n_duplicates"]),
            "items_now": now_there.get(int(r["id"]), 0),
            "touched": touched.get(int(r["id"]), 0),
            "held": held.get(int(r["id"]), 0),
            "leased": leased.get(int(r["id"]), 0),
            "upload_folder": r["upload_folder"],
        }
        for r in rows
    ]


def get(conn: Connection, project_id: int, batch_id: int) -> RowMapping | None:
    q = select(import_batch).where(
        import_batch.c.id == batch_id, import_batch.c.project_id == project_id
    )
    return conn.execute(q).mappings().first()


def lock_items(conn: Connection, batch_id: int) -> list[int]:
    """Take the batch's items out of every queue and lock them; their ids.

    On PostgreSQL the queue entries go first: a ``next`` holding one (SKIP LOCKED) finishes
    its lease before this goes on, and no later one can pick the items, from the queue or at
    random (which skips locked items)."""
    ids = select(item.c.id).where(item.c.import_batch_id == batch_id)
    conn.execute(delete(queue_entry).where(queue_entry.c.item_id.in_(ids)))
    return [int(i) for i in conn.execute(ids.with_for_update()).scalars()]


def holds(conn: Connection, project_id: int, batch_id: int) -> dict[str, int]:
    """How many of the batch's items each kind of hold (:data:`HOLDS`) holds."""
    found = {kind: _counted(conn, project_id, (kind,), batch_id) for kind in HOLDS}
    return {kind: n.get(batch_id, 0) for kind, n in found.items()}


def remove(conn: Connection, project_id: int, batch_id: int, *, at: datetime) -> dict[str, int]:
    """Delete the batch's items with what only they had (queue entries, leases, imported
    labels, pre-annotations), then the batch. The leases nobody answered are remembered, so
    a page still showing one is told it is no longer leased. Returns what went."""
    ids = select(item.c.id).where(item.c.import_batch_id == batch_id)
    of_items = assignment.c.item_id.in_(ids)
    counts = {
        "items": _count(conn, item, item.c.import_batch_id == batch_id),
        "labels": _count(conn, item_label, item_label.c.item_id.in_(ids)),
        "predictions": _count(
            conn, item, item.c.import_batch_id == batch_id, item.c.prediction.is_not(None)
        ),
        "leases": _count(conn, assignment, of_items, assignment.c.state == "leased"),
    }
    leased = select(assignment.c.id, assignment.c.project_id, assignment.c.user_id).where(
        of_items, assignment.c.state == "leased"
    )
    conn.execute(
        removed_lease.insert().from_select(
            ["assignment_id", "project_id", "user_id", "removed_at"],
            select(leased.subquery(), _at(at)),
        )
    )
    for table, where in (
        (assignment, of_items),
        (item, item.c.import_batch_id == batch_id),
        (import_batch, import_batch.c.id == batch_id),
    ):
        top = conn.execute(select(func.max(table.c.id)).where(where)).scalar_one_or_none()
        highwater.retire(conn, table, top)
    conn.execute(delete(assignment).where(of_items))
    conn.execute(delete(item_label).where(item_label.c.item_id.in_(ids)))
    conn.execute(delete(item).where(item.c.import_batch_id == batch_id))
    conn.execute(
        delete(import_batch).where(
            import_batch.c.id == batch_id, import_batch.c.project_id == project_id
        )
    )
    return counts


def _at(at: datetime) -> Any:
    return literal(at, removed_lease.c.removed_at.type).label("removed_at")


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def removed_lease_of(
    conn: Connection, *, assignment_id: int, project_id: int, user_id: int
) -> bool:
    """Whether ``assignment_id`` was the user's lease in the project on an item an undone
    import removed."""
    q = select(removed_lease.c.assignment_id).where(
        removed_lease.c.assignment_id == assignment_id,
        removed_lease.c.project_id == project_id,
        removed_lease.c.user_id == user_id,
    )
    return conn.execute(q).first() is not None
