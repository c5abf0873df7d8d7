"""The reads the operations dashboard is computed from: when work arrived, waited and left.

Every figure is derived from the rows the loop writes anyway (annotations, reviews, resolved
labels, leases, import batches); nothing here is a stored counter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select

from labelloop.store.review import LIVE_STATES
from labelloop.store.tables import (
    annotation,
    assignment,
    import_batch,
    item,
    item_label,
    review,
    user,
)

PENDING_STATES = ("in_review", "escalated")


def annotations_since(conn: Connection, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """Annotations made since ``since``: who, when, how long they took, and where they are now."""
    q = (
        select(
            annotation.c.user_id,
            user.c.username,
            annotation.c.item_id,
            annotation.c.value,
            annotation.c.created_at,
            annotation.c.active_ms,
            annotation.c.status,
        )
        .select_from(annotation.join(user, user.c.id == annotation.c.user_id))
        .where(annotation.c.project_id == project_id, annotation.c.created_at >= since)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def last_active(conn: Connection, project_id: int) -> dict[int, datetime]:
    """Each annotator's newest annotation, over the project's whole history."""
    q = (
        select(annotation.c.user_id, func.max(annotation.c.created_at))
        .where(annotation.c.project_id == project_id)
        .group_by(annotation.c.user_id)
    )
    return {int(u): at for u, at in conn.execute(q)}


def resolved_since(conn: Connection, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """Labels resolved by people since ``since`` (imported labels left out), with the first time
    their item was served, for the end-to-end time to label."""
    first_served = (
        select(func.min(assignment.c.leased_at))
        .where(assignment.c.item_id == item_label.c.item_id)
        .scalar_subquery()
    )
    q = select(
        item_label.c.decided_at,
        item_label.c.resolution,
        item_label.c.label,
        first_served.label("first_served"),
    ).where(
        item_label.c.project_id == project_id,
        item_label.c.resolution != "imported",
        item_label.c.decided_at >= since,
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def reviews_since(conn: Connection, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """Verdicts given since ``since``, with their tier."""
    q = (
        select(review.c.created_at, review.c.verdict, review.c.tier)
        .select_from(review.join(annotation, annotation.c.id == review.c.annotation_id))
        .where(annotation.c.project_id == project_id, review.c.created_at >= since)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def waiting(conn: Connection, project_id: int, *, at: datetime) -> dict[str, dict[str, Any]]:
    """What waits where right now, each with the time the oldest one started waiting.

    - ``label``: pool items with no resolved label, no live annotation and no live lease,
      waiting since their import;
    - ``overlap``: items with a live annotation but no resolved label and nothing in review,
      waiting for another annotator since their first annotation;
    - ``review``: annotations in review since they were submitted;
    - ``escalated``: items escalated to the expert tier since their annotation was submitted.
    """
    labeled = exists().where(item_label.c.item_id == item.c.id)
    annotated = exists().where(
        annotation.c.item_id == item.c.id, annotation.c.status.in_(LIVE_STATES)
    )
    leased = exists().where(
        assignment.c.item_id == item.c.id,
        assignment.c.state == "leased",
        assignment.c.lease_expires_at > at,
    )
    to_label = (
        select(func.count(), func.min(import_batch.c.created_at))
        .select_from(item.outerjoin(import_batch, import_batch.c.id == item.c.import_batch_id))
        .where(item.c.project_id == project_id, item.c.split == "pool")
        .where(~labeled, ~annotated, ~leased)
    )
    pending = exists().where(
        annotation.c.item_id == item.c.id, annotation.c.status.in_(PENDING_STATES)
    )
    first_annotation = (
        select(func.min(annotation.c.created_at))
        .where(annotation.c.item_id == item.c.id, annotation.c.status.in_(LIVE_STATES))
        .scalar_subquery()
    )
    overlap_items = (
        select(first_annotation.label("since"))
        .where(item.c.project_id == project_id, item.c.split == "pool")
        .where(~labeled, annotated, ~pending)
        .subquery()
    )
    overlap = select(func.count(), func.min(overlap_items.c.since))
    in_review = select(func.count(), func.min(annotation.c.created_at)).where(
        annotation.c.project_id == project_id, annotation.c.status == "in_review"
    )
    escalated = select(
        func.count(func.distinct(annotation.c.item_id)), func.min(annotation.c.created_at)
    ).where(annotation.c.project_id == project_id, annotation.c.status == "escalated")
    out = {}
    for key, q in (
        ("label", to_label),
        ("overlap", overlap),
        ("review", in_review),
        ("escalated", escalated),
    ):
        n, since = conn.execute(q).one()
        out[key] = {"waiting": int(n), "since": since}
    return out


def arrivals(conn: Connection, project_id: int, since: datetime) -> dict[str, int]:
    """How many entered each waiting stage since ``since``: pool items imported, items whose
    first annotation came and that wait or waited for another, annotations that went to
    review, escalations."""
    imported = (
        select(func.count())
        .select_from(item.join(import_batch, import_batch.c.id == item.c.import_batch_id))
        .where(
            item.c.project_id == project_id,
            item.c.split == "pool",
            import_batch.c.created_at >= since,
        )
    )
    per_item = (
        select(
            annotation.c.item_id,
            func.min(annotation.c.created_at).label("first"),
            func.count().label("n"),
        )
        .where(annotation.c.project_id == project_id, annotation.c.status.in_(LIVE_STATES))
        .group_by(annotation.c.item_id)
        .subquery()
    )
    unresolved = ~exists().where(item_label.c.item_id == per_item.c.item_id)
    in_review = exists().where(
        annotation.c.item_id == per_item.c.item_id, annotation.c.status.in_(PENDING_STATES)
    )
    second = select(func.count()).where(
        per_item.c.first >= since, (per_item.c.n >= 2) | (unresolved & ~in_review)
    )
    reviewed = exists().where(review.c.annotation_id == annotation.c.id)
    to_review = select(func.count()).where(
        annotation.c.project_id == project_id,
        annotation.c.created_at >= since,
        (annotation.c.status == "in_review") | reviewed,
    )
    escalations = (
        select(func.count())
        .select_from(review.join(annotation, annotation.c.id == review.c.annotation_id))
        .where(
            annotation.c.project_id == project_id,
            review.c.created_at >= since,
            review.c.verdict == "escalate",
        )
    )
    return {
        "label": int(conn.execute(imported).scalar_one()),
        "overlap": int(conn.execute(second).scalar_one()),
        "review": int(conn.execute(to_review).scalar_one()),
        "escalated": int(conn.execute(escalations).scalar_one()),
    }


def departures(conn: Connection, project_id: int, since: datetime) -> dict[str, int]:
    """How many left each waiting stage since ``since``: items given their first annotation,
    items resolved from two annotations or more, first-tier verdicts, expert decisions."""
    first = (
        select(func.min(annotation.c.created_at).label("first"))
        .where(annotation.c.project_id == project_id)
        .group_by(annotation.c.item_id)
        .subquery()
    )
    started = select(func.count()).where(first.c.first >= since)
    n_live = (
        select(func.count())
        .where(annotation.c.item_id == item_label.c.item_id, annotation.c.status.in_(LIVE_STATES))
        .scalar_subquery()
    )
    agreed = select(func.count()).where(
        item_label.c.project_id == project_id,
        item_label.c.decided_at >= since,
        item_label.c.resolution != "imported",
        n_live >= 2,
    )
    verdicts = (
        select(review.c.tier, func.count())
        .select_from(review.join(annotation, annotation.c.id == review.c.annotation_id))
        .where(and_(annotation.c.project_id == project_id, review.c.created_at >= since))
        .group_by(review.c.tier)
    )
    by_tier = {int(t): int(n) for t, n in conn.execute(verdicts)}
    adjudicated = select(func.count()).where(
        item_label.c.project_id == project_id,
        item_label.c.decided_at >= since,
        item_label.c.resolution == "adjudicated",
    )
    return {
        "label": int(conn.execute(started).scalar_one()),
        "overlap": int(conn.execute(agreed).scalar_one()),
        "review": by_tier.get(1, 0),
        "escalated": by_tier.get(2, 0) + int(conn.execute(adjudicated).scalar_one()),
    }


def batches(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's pool imports, oldest first."""
    q = (
        select(
            import_batch.c.id,
            import_batch.c.filename,
            import_batch.c.n_items,
            import_batch.c.created_at,
        )
        .where(import_batch.c.project_id == project_id, import_batch.c.split == "pool")
        .order_by(import_batch.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def batch_payloads(conn: Connection, batch_id: int, *, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` payloads of one import batch, spread over it (every k-th id)."""
    n = conn.execute(select(func.count()).where(item.c.import_batch_id == batch_id)).scalar_one()
    return _spread(conn, item.c.import_batch_id == batch_id, n=int(n), limit=limit)


def labeled_payloads(
    conn: Connection, project_id: int, *, before_batch: int, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` payloads of labeled pool items imported before batch ``before_batch``
    (what the model has learned from), spread over them."""
    where = and_(
        item.c.project_id == project_id,
        item.c.split == "pool",
        item.c.import_batch_id < before_batch,
        exists().where(item_label.c.item_id == item.c.id),
    )
    n = conn.execute(select(func.count()).where(where)).scalar_one()
    return _spread(conn, where, n=int(n), limit=limit)


def _spread(conn: Connection, where: Any, *, n: int, limit: int) -> list[dict[str, Any]]:
    """Ids and payloads of every k-th item id under ``where``, so a sample of a million rows reads
    about ``limit`` of them, not all."""
    step = max(1, -(-n // limit))
    q = select(item.c.id, item.c.payload).where(where)
    if step > 1:
        q = q.where(item.c.id % step == 0)
    return [dict(r) for r in conn.execute(q.order_by(item.c.id).limit(limit)).mappings()]
