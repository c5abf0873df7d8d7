"""Searching the pool and the seed picks people send from it to the front of the queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    bindparam,
    exists,
    func,
    select,
)

from labelloop.store.batches import withdrawn
from labelloop.store.browse import holds_words
from labelloop.store.db import insert_many
from labelloop.store.tables import auto_label_check, item, item_label, model_version, seed_pick
from labelloop.store.tasks import first_open, first_servable, newest_version
from labelloop.store.users import now
from labelloop.store.words import Term


def _pending(project_id: int) -> Any:
    """Seed picks of the project whose item has no resolved label yet."""
    return exists().where(
        seed_pick.c.item_id == item.c.id,
        seed_pick.c.project_id == project_id,
        ~exists().where(item_label.c.item_id == seed_pick.c.item_id),
    )


def search(
    conn: Connection,
    *,
    project_id: int,
    data_type: str,
    terms: Sequence[Term],
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """Pool items whose content (a text, an image's or audio file's path) holds every term
    (:mod:`labelloop.store.words`), in id order, and how many; the items of an import being
    undone are no longer the pool's.

    Each row has id, external_id, text, labeled (a resolved label exists) and queued (a seed
    pick is waiting for it).
    """
    where = [
        item.c.project_id == project_id,
        item.c.split == "pool",
        *holds_words(conn, data_type, terms),
        ~withdrawn(item.c.id),
    ]
    total = int(conn.execute(select(func.count()).where(*where)).scalar_one())
    q = (
        select(
            item.c.id,
            item.c.external_id,
            item.c.payload,
            exists().where(item_label.c.item_id == item.c.id).label("labeled"),
            _pending(project_id).label("queued"),
        )
        .where(*where)
        .order_by(item.c.id)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(q).mappings()), total


def pool_items(conn: Connection, *, project_id: int, item_ids: Sequence[int]) -> list[RowMapping]:
    """The given items of the project's pool (others, and those of an import being undone, are
    left out), with labeled and queued."""
    if not item_ids:
        return []
    q = select(
        item.c.id,
        item.c.external_id,
        item.c.payload,
        exists().where(item_label.c.item_id == item.c.id).label("labeled"),
        _pending(project_id).label("queued"),
    ).where(
        item.c.project_id == project_id,
        item.c.split == "pool",
        item.c.id.in_(list(item_ids)),
        ~withdrawn(item.c.id),
    )
    return list(conn.execute(q).mappings())


def find_item(conn: Connection, *, project_id: int, item_id: int) -> RowMapping | None:
    q = select(item.c.id, item.c.external_id, item.c.split).where(
        item.c.id == item_id, item.c.project_id == project_id
    )
    return conn.execute(q).mappings().first()


def add_picks(
    conn: Connection, *, project_id: int, item_ids: Sequence[int], reason: str, user_id: int | None
) -> None:
    """Queue items ahead of the model's ranking, in the order given, each with the sentence saying
    who found it how (one :func:`insert_many`: an auto-label check sends up to 1,000)."""
    at = now()
    insert_many(
        conn,
        seed_pick,
        [
            {
                "project_id": project_id,
                "item_id": i,
                "reason": reason[:300],
                "created_by": user_id,
                "created_at": at,
            }
            for i in item_ids
        ],
    )


def n_pending(conn: Connection, project_id: int) -> int:
    """Seed picks still waiting for a label."""
    resolved = exists().where(item_label.c.item_id == seed_pick.c.item_id)
    q = select(func.count()).where(seed_pick.c.project_id == project_id, ~resolved)
    return int(conn.execute(q).scalar_one())


# The serving path: both statements are built once with bind parameters.


def _served_with() -> tuple[Any, ...]:
    """What a seed pick or a random control is served with, as a queue entry is: its item's
    content and the newest model version (whose queue it is served beside)."""
    return (
        item.c.external_id,
        item.c.payload,
        item.c.meta,
        item.c.prediction,
        newest_version(model_version.c.id).label("model_version_id"),
        newest_version(model_version.c.version).label("model_version"),
    )


@cache
def _seed_stmt(skip_locked: bool) -> Select[Any]:
    q = (
        select(
            seed_pick.c.item_id,
            seed_pick.c.reason,
            *_served_with(),
            exists().where(auto_label_check.c.item_id == seed_pick.c.item_id).label("spot_check"),
        )
        .join(item, item.c.id == seed_pick.c.item_id)
        .where(seed_pick.c.project_id == bindparam("project_id"))
    )
    return first_servable(
        q, seed_pick.c.item_id, order_by=seed_pick.c.id, lock=seed_pick, skip_locked=skip_locked
    )


def next_seed(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    overlap: int,
    at: datetime,
    skip_locked: bool,
    passed: Sequence[int] = (),
) -> RowMapping | dict[str, Any] | None:
    """The oldest seed pick this user has not seen whose item still needs labels."""
    params = {"project_id": project_id, "user_id": user_id, "overlap": overlap, "at": at}
    return first_open(conn, _seed_stmt(skip_locked), params, seed_pick.c.item_id, passed)


def id_range(conn: Connection, project_id: int) -> tuple[int, int] | None:
    """Smallest and largest pool item id of the project (None for an empty pool)."""
    q = select(func.min(item.c.id), func.max(item.c.id)).where(
        item.c.project_id == project_id, item.c.split == "pool"
    )
    low, high = conn.execute(q).one()
    return None if low is None else (int(low), int(high))


@cache
def _open_item_stmt(skip_locked: bool) -> Select[Any]:
    q = select(item.c.id.label("item_id"), *_served_with()).where(
        item.c.project_id == bindparam("project_id"),
        item.c.split == "pool",
        item.c.id >= bindparam("low"),
        item.c.id <= bindparam("high"),
    )
    return first_servable(q, item.c.id, order_by=item.c.id, lock=item, skip_locked=skip_locked)


def first_open_item(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    overlap: int,
    at: datetime,
    low: int,
    high: int,
    skip_locked: bool,
    passed: Sequence[int] = (),
) -> RowMapping | None:
    """The pool item with the smallest id in [low, high] that this user may label next."""
    params = {
        "project_id": project_id,
        "user_id": user_id,
        "overlap": overlap,
        "at": at,
        "low": low,
        "high": high,
    }
    return first_open(conn, _open_item_stmt(skip_locked), params, item.c.id, passed)
