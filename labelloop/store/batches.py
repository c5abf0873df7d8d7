"""Import batches: the list with what holds each one's items, and removing one (undo).

What holds an item is derived from the tables that reference it, never stored: answers and
labels from people (and so their reviews), gold answers, guideline examples, auto-label runs
(their labels and spot checks), seed picks and flags. Queue entries, leases nobody answered,
imported labels and pre-annotations (a column of the item) go with the item.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    union,
    update,
)

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
    uploaded zip's images were stored for it, under the first media root; ``undoing``: an
    undo began removing its items and has not finished, ``items_now`` of them are left;
    ``eval_now`` of its items are eval items, as a pool import of a dataset's val images makes)."""
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
        select(
            item.c.import_batch_id,
            func.count(),
            func.coalesce(func.sum(case((item.c.split == "eval", 1), else_=0)), 0),
        )
        .where(item.c.project_id == project_id)
        .group_by(item.c.import_batch_id)
    )
    counts = [(b, int(n), int(e)) for b, n, e in conn.execute(present) if b is not None]
    now_there = {int(b): n for b, n, _ in counts}
    # a YOLO or COCO dataset imported into the pool brings its val and test images as eval items
    held_out = {int(b): e for b, _, e in counts}
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
            "eval_now": held_out.get(int(r["id"]), 0),
            "touched": touched.get(int(r["id"]), 0),
            "held": held.get(int(r["id"]), 0),
            "leased": leased.get(int(r["id"]), 0),
            "upload_folder": r["upload_folder"],
            "undoing": r["undoing_at"] is not None,
        }
        for r in rows
    ]


def get(conn: Connection, project_id: int, batch_id: int) -> RowMapping | None:
    q = select(import_batch).where(
        import_batch.c.id == batch_id, import_batch.c.project_id == project_id
    )
    return conn.execute(q).mappings().first()


def unqueue(conn: Connection, batch_id: int) -> None:
    """Take the batch's items out of every queue (the first step of its undo).

    On PostgreSQL a ``next`` holding one of the entries (SKIP LOCKED) finishes its lease
    before this goes on; a lease that slips in anyway is refused on submit once the batch is
    withdrawn (:func:`withdraw`), and removed with its item."""
    conn.execute(delete(queue_entry).where(_of_batch(queue_entry.c.item_id, batch_id)))


def n_items(conn: Connection, batch_id: int) -> int:
    """How many items the batch has now."""
    return _count(conn, item, item.c.import_batch_id == batch_id)


def holds(conn: Connection, project_id: int, batch_id: int) -> dict[str, int]:
    """How many of the batch's items each kind of hold (:data:`HOLDS`) holds."""
    return _held(conn, project_id, lambda column: _of_batch(column, batch_id))


def withdrawn(item_id: Any) -> Any:
    """Whether the item ``item_id`` names is withdrawn: one of an import being undone (from
    :func:`withdraw` on), so it is neither served, answered, skipped, searched, learned from
    nor queued. ``item.c.id`` (the query reads the item table) is asked through that row's
    own import, with no second look-up of the item; any other column (an assignment's, a queue
    entry's, a bound parameter) through the item it names."""
    if item_id is item.c.id:
        of, named = item, ()
    else:  # an alias: the statement may read the item table too, for another row
        of = item.alias("w")
        named = (of.c.id == item_id,)
    return exists().where(
        *named, import_batch.c.id == of.c.import_batch_id, import_batch.c.undoing_at.is_not(None)
    )


def withdraw(conn: Connection, batch_id: int, *, at: datetime) -> int:
    """Mark the batch as being undone (since ``at``, unless it was already) and release its
    items' leases, so none of them is served or answered from the commit on; how many leases
    were released. Call after :func:`unqueue` and :func:`holds`, in the same transaction."""
    first = import_batch.c.id == batch_id, import_batch.c.undoing_at.is_(None)
    conn.execute(update(import_batch).where(*first).values(undoing_at=at))
    return _release(conn, _of_batch(assignment.c.item_id, batch_id), at=at)


def next_slice(conn: Connection, batch_id: int, *, after: int, size: int) -> list[int]:
    """The ids of the batch's next ``size`` items above ``after``, lowest first: the slice
    ``(after, last id]`` that :func:`held_among` and :func:`remove_slice` name."""
    q = (
        select(item.c.id)
        .where(item.c.import_batch_id == batch_id, item.c.id > after)
        .order_by(item.c.id)
        .limit(size)
    )
    return [int(i) for i in conn.execute(q).scalars()]


def _slice(batch_id: int, after: int, last: int) -> Select[Any]:
    """The ids of the batch's items in ``(after, last]``: a subquery, so a slice's statements
    carry three parameters, not a thousand."""
    return select(item.c.id).where(
        item.c.import_batch_id == batch_id, item.c.id > after, item.c.id <= last
    )


def held_among(
    conn: Connection, project_id: int, batch_id: int, *, after: int, last: int
) -> dict[str, int]:
    """How many of the batch's items in ``(after, last]`` each kind of hold holds (a slice of
    an import being undone)."""
    ids = _slice(batch_id, after, last)
    queries = [q for kind in _holding(project_id).values() for q in kind]
    any_held = union(*[q.where(q.selected_columns[0].in_(ids)) for q in queries]).exists()
    if not conn.execute(select(any_held)).scalar():  # the rule: one statement per slice
        return dict.fromkeys(HOLDS, 0)
    return _held(conn, project_id, lambda column: column.in_(ids))


def _of_batch(column: Any, batch_id: int) -> Any:
    """Whether the item ``column`` names is one of the batch's: asked of each row of the
    (project's) table it is a column of, never by listing the batch's items, which a large
    import has hundreds of thousands of."""
    return exists().where(item.c.id == column, item.c.import_batch_id == batch_id)


def _held(conn: Connection, project_id: int, among: Callable[[Any], Any]) -> dict[str, int]:
    """How many items ``among(item id column)`` accepts each kind of hold holds."""
    found = {}
    for kind, queries in _holding(project_id).items():
        held_by = [q.where(among(q.selected_columns[0])) for q in queries]
        held = union(*held_by) if len(held_by) > 1 else held_by[0]
        found[kind] = _count(conn, held.subquery())
    return found


def remove_slice(
    conn: Connection, batch_id: int, *, after: int, last: int, at: datetime
) -> dict[str, int]:
    """Delete the batch's items in ``(after, last]`` with what only they had (queue entries,
    assignments, imported labels, pre-annotations); a lease found on one is remembered, so a
    page still showing it is told it is no longer leased. Returns what went."""
    ids = _slice(batch_id, after, last)
    mine = item.c.import_batch_id == batch_id, item.c.id > after, item.c.id <= last
    of_items = assignment.c.item_id.in_(ids)
    n_items, n_predictions = conn.execute(
        select(func.count(), func.count(item.c.prediction)).where(*mine)
    ).one()
    counts = {
        "items": int(n_items),
        "predictions": int(n_predictions),
        "leases": _release(conn, of_items, at=at),
    }
    _retire(conn, assignment, of_items)
    highwater.retire(conn, item, last)
    conn.execute(delete(queue_entry).where(queue_entry.c.item_id.in_(ids)))
    conn.execute(delete(assignment).where(of_items))
    # counted as they go: reading the labels first cost more than deleting them
    labels = conn.execute(delete(item_label).where(item_label.c.item_id.in_(ids)))
    counts["labels"] = int(labels.rowcount)
    # the batch names the project; a project_id term here led SQLite to scan the project's
    # items through its index instead of the id range, for every slice
    conn.execute(delete(item).where(*mine))
    return counts


def drop(conn: Connection, project_id: int, batch_id: int) -> None:
    """Delete a batch whose items are gone (the end of its undo)."""
    highwater.retire(conn, import_batch, batch_id)
    conn.execute(
        delete(import_batch).where(
            import_batch.c.id == batch_id, import_batch.c.project_id == project_id
        )
    )


def _release(conn: Connection, of_items: Any, *, at: datetime) -> int:
    """Delete the leases of these items, remembering each (``removed_lease``); how many."""
    leased = select(assignment.c.id, assignment.c.project_id, assignment.c.user_id).where(
        of_items, assignment.c.state == "leased"
    )
    n = _count(conn, leased.subquery())
    if n:
        conn.execute(
            removed_lease.insert().from_select(
                ["assignment_id", "project_id", "user_id", "removed_at"],
                select(leased.subquery(), _at(at)),
            )
        )
        _retire(conn, assignment, of_items)
        conn.execute(delete(assignment).where(of_items, assignment.c.state == "leased"))
    return n


def _retire(conn: Connection, table: Any, where: Any) -> None:
    """Keep the highest id of the rows ``where`` selects from being given again (SQLite; see
    :func:`highwater.retire`), reading it only there."""
    if conn.dialect.name == "sqlite":
        top = conn.execute(select(func.max(table.c.id)).where(where)).scalar_one_or_none()
        highwater.retire(conn, table, top)


def _at(at: datetime) -> Any:
    return literal(at, removed_lease.c.removed_at.type).label("removed_at")


def _count(conn: Connection, table: Any, *where: Any) -> int:
    """The rows of ``table`` (a table or a subquery) where ``where`` holds."""
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
