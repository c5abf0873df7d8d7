"""The serving path: leases over the precomputed queue, annotations and resolved labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, exists, func, select, update

from labelloop.store.tables import (
    annotation,
    assignment,
    item,
    item_label,
    model_version,
    queue_entry,
)
from labelloop.store.users import now

ACTIVE = "leased"


def current_round(conn: Connection, project_id: int) -> RowMapping | None:
    """The newest model version of a project (its queue is the one served)."""
    q = (
        select(model_version.c.id, model_version.c.version, model_version.c.strategy)
        .where(model_version.c.project_id == project_id)
        .order_by(model_version.c.version.desc())
        .limit(1)
    )
    return conn.execute(q).mappings().first()


def held_lease(
    conn: Connection, *, project_id: int, user_id: int, exclude: Sequence[int], at: datetime
) -> RowMapping | None:
    """The user's oldest live lease that the client does not already hold."""
    q = select(assignment).where(
        assignment.c.project_id == project_id,
        assignment.c.user_id == user_id,
        assignment.c.state == ACTIVE,
        assignment.c.lease_expires_at > at,
    )
    if exclude:
        q = q.where(assignment.c.id.not_in(list(exclude)))
    return conn.execute(q.order_by(assignment.c.id).limit(1)).mappings().first()


def next_candidate(
    conn: Connection,
    *,
    model_version_id: int,
    user_id: int,
    overlap: int,
    at: datetime,
    skip_locked: bool,
) -> RowMapping | None:
    """The best-ranked queue entry this user has not seen and that still needs labels."""
    a = assignment.alias("a")
    mine = exists().where(
        a.c.item_id == queue_entry.c.item_id,
        a.c.user_id == user_id,
        a.c.state.in_(("submitted", "skipped"))
        | ((a.c.state == ACTIVE) & (a.c.lease_expires_at > at)),
    )
    b = assignment.alias("b")
    taken = (
        select(func.count())
        .where(
            b.c.item_id == queue_entry.c.item_id,
            (b.c.state == "submitted") | ((b.c.state == ACTIVE) & (b.c.lease_expires_at > at)),
        )
        .scalar_subquery()
    )
    resolved = exists().where(item_label.c.item_id == queue_entry.c.item_id)
    q = (
        select(queue_entry)
        .where(queue_entry.c.model_version_id == model_version_id, ~mine, ~resolved)
        .where(taken < overlap)
        .order_by(queue_entry.c.rank)
        .limit(1)
    )
    if skip_locked:
        q = q.with_for_update(skip_locked=True, of=queue_entry)
    return conn.execute(q).mappings().first()


def release_expired(conn: Connection, *, item_id: int, at: datetime) -> None:
    conn.execute(
        update(assignment)
        .where(
            assignment.c.item_id == item_id,
            assignment.c.state == ACTIVE,
            assignment.c.lease_expires_at <= at,
        )
        .values(state="released")
    )


def insert_lease(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    entry: RowMapping,
    model_version: int,
    strategy: str,
    lease: timedelta,
    at: datetime,
) -> int:
    res = conn.execute(
        assignment.insert().values(
            project_id=project_id,
            item_id=entry["item_id"],
            user_id=user_id,
            state=ACTIVE,
            leased_at=at,
            lease_expires_at=at + lease,
            model_version_id=entry["model_version_id"],
            model_version=model_version,
            strategy=strategy,
            score=entry["score"],
            rank=entry["rank"],
            reason=entry["reason"],
            suggestion=entry["suggestion"],
            suggestion_confidence=entry["suggestion_confidence"],
        )
    )
    return int(res.inserted_primary_key[0])


def get_assignment(conn: Connection, assignment_id: int) -> RowMapping | None:
    q = select(assignment).where(assignment.c.id == assignment_id)
    return conn.execute(q).mappings().first()


def task_view(conn: Connection, assignment_id: int) -> RowMapping | None:
    """An assignment joined with its item, as the labeling page shows it."""
    q = (
        select(
            assignment,
            item.c.external_id,
            item.c.payload,
            item.c.meta,
        )
        .join(item, item.c.id == assignment.c.item_id)
        .where(assignment.c.id == assignment_id)
    )
    return conn.execute(q).mappings().first()


def set_state(conn: Connection, assignment_id: int, state: str) -> None:
    conn.execute(update(assignment).where(assignment.c.id == assignment_id).values(state=state))


def insert_annotation(conn: Connection, **values: Any) -> int:
    at = now()
    res = conn.execute(annotation.insert().values(created_at=at, updated_at=at, **values))
    return int(res.inserted_primary_key[0])


def get_annotation(conn: Connection, annotation_id: int) -> RowMapping | None:
    q = select(annotation).where(annotation.c.id == annotation_id)
    return conn.execute(q).mappings().first()


def update_annotation(conn: Connection, annotation_id: int, **values: Any) -> None:
    conn.execute(
        update(annotation)
        .where(annotation.c.id == annotation_id)
        .values(updated_at=now(), **values)
    )


def item_annotations(conn: Connection, item_id: int) -> list[RowMapping]:
    q = select(annotation).where(annotation.c.item_id == item_id).order_by(annotation.c.id)
    return list(conn.execute(q).mappings())


def upsert_label(conn: Connection, *, item_id: int, project_id: int, **values: Any) -> None:
    """Set an item's resolved label, replacing the one it had."""
    conn.execute(delete(item_label).where(item_label.c.item_id == item_id))
    conn.execute(
        item_label.insert().values(
            item_id=item_id, project_id=project_id, decided_at=now(), **values
        )
    )


def leave_queue(conn: Connection, item_id: int) -> None:
    conn.execute(delete(queue_entry).where(queue_entry.c.item_id == item_id))


def last_annotations(
    conn: Connection, *, project_id: int, user_id: int, before_id: int | None, limit: int = 1
) -> list[RowMapping]:
    """The user's most recent annotations in a project, newest first (the page's Back key)."""
    q = (
        select(annotation, item.c.payload, item.c.external_id, item.c.meta)
        .join(item, item.c.id == annotation.c.item_id)
        .where(annotation.c.project_id == project_id, annotation.c.user_id == user_id)
    )
    if before_id is not None:
        q = q.where(annotation.c.id < before_id)
    return list(conn.execute(q.order_by(annotation.c.id.desc()).limit(limit)).mappings())


def queue_remaining(conn: Connection, model_version_id: int) -> int:
    resolved = exists().where(item_label.c.item_id == queue_entry.c.item_id)
    q = select(func.count()).where(
        and_(queue_entry.c.model_version_id == model_version_id, ~resolved)
    )
    return int(conn.execute(q).scalar_one())
