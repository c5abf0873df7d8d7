"""Items and import batches: bulk inserts for imports, counts derived by queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from labelloop.store.db import new_id
from labelloop.store.tables import annotation, assignment, import_batch, item, item_label
from labelloop.store.users import now


def existing_hashes(conn: Connection, project_id: int) -> set[str]:
    q = select(item.c.content_hash).where(item.c.project_id == project_id)
    return set(conn.execute(q).scalars())


def insert_batch(conn: Connection, **values: Any) -> int:
    res = conn.execute(import_batch.insert().values(created_at=now(), **values))
    return new_id(res)


def insert_items(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many items at once and return their ids in the order given."""
    if not rows:
        return []
    res = conn.execute(item.insert().returning(item.c.id, sort_by_parameter_order=True), list(rows))
    return [int(r[0]) for r in res]


def insert_labels(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(item_label.insert(), list(rows))


def get_item(conn: Connection, *, project_id: int, item_id: int) -> RowMapping | None:
    q = select(item).where(item.c.id == item_id, item.c.project_id == project_id)
    return conn.execute(q).mappings().first()


def counts(conn: Connection, project_id: int) -> dict[str, int]:
    """Items per split, labeled pool items and annotations: the project's progress, derived."""
    per_split = (
        select(item.c.split, func.count())
        .where(item.c.project_id == project_id)
        .group_by(item.c.split)
    )
    by_split = {str(split): int(n) for split, n in conn.execute(per_split)}
    labeled = conn.execute(
        select(func.count())
        .select_from(item_label.join(item, item.c.id == item_label.c.item_id))
        .where(item_label.c.project_id == project_id, item.c.split == "pool")
    ).scalar_one()
    n_annotations = conn.execute(
        select(func.count()).where(annotation.c.project_id == project_id)
    ).scalar_one()
    leased = conn.execute(
        select(func.count()).where(
            assignment.c.project_id == project_id,
            assignment.c.state == "leased",
            assignment.c.lease_expires_at > now(),
        )
    ).scalar_one()
    pool = int(by_split.get("pool", 0))
    return {
        "pool": pool,
        "eval": int(by_split.get("eval", 0)),
        "labeled": int(labeled),
        "remaining": pool - int(labeled),
        "annotations": int(n_annotations),
        "leased": int(leased),
    }


def update_batch(conn: Connection, batch_id: int, **values: Any) -> None:
    conn.execute(import_batch.update().where(import_batch.c.id == batch_id).values(**values))
