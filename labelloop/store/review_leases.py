"""Review leases: the item a reviewer (or the expert tier) is shown is theirs for a while, as an
item is an annotator's (``store.tasks``), so two reviewers are never shown the same answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, func, select, update

from labelloop.store.tables import annotation, review_lease, user


def live(at: Any) -> Any:
    """A review lease not run out at ``at`` (as ``store.tasks.live`` for an annotator's)."""
    return review_lease.c.lease_expires_at > at


def leased_to_others(item_id: Any, user_id: int, at: datetime) -> Any:
    """Whether the item named by ``item_id`` is leased, live, to another reviewer than
    ``user_id``: a review queue passes it by."""
    return exists().where(
        review_lease.c.item_id == item_id, review_lease.c.user_id != user_id, live(at)
    )


def leased_to(item_id: Any, user_id: int, at: datetime) -> Any:
    """Whether the item named by ``item_id`` is leased, live, to ``user_id``: their queue
    serves it first, as a page reloaded shows the item it showed."""
    return exists().where(
        review_lease.c.item_id == item_id, review_lease.c.user_id == user_id, live(at)
    )


def take(
    conn: Connection,
    *,
    project_id: int,
    item_id: int,
    user_id: int,
    tier: int,
    at: datetime,
    until: datetime,
) -> bool:
    """Lease an item to a reviewer at ``tier`` until ``until``, giving back their other leases
    at that tier in the project: a reviewer holds the one item their page shows. A live lease of
    theirs on it ends then too, or keeps a later end: served again (a reloaded page), its end
    moves, so a give-back naming the old end, from the page before, ends nothing. False, and
    nothing changed, when another reviewer holds it; a lease that ran out is anyone's."""
    row = conn.execute(select(review_lease).where(review_lease.c.item_id == item_id)).first()
    if row is not None and row.user_id != user_id and row.lease_expires_at > at:
        return False
    release_all(conn, user_id=user_id, project_id=project_id, tier=tier, keep=item_id)
    if row is not None and row.user_id == user_id and row.lease_expires_at > at:
        ends = max(until, row.lease_expires_at)
        conn.execute(
            update(review_lease)
            .where(review_lease.c.item_id == item_id)
            .values(tier=tier, lease_expires_at=ends)
        )
        return True
    if row is not None:
        conn.execute(delete(review_lease).where(review_lease.c.item_id == item_id))
    conn.execute(
        review_lease.insert().values(
            item_id=item_id,
            project_id=project_id,
            user_id=user_id,
            tier=tier,
            leased_at=at,
            lease_expires_at=until,
        )
    )
    return True


def _theirs(project_id: int, item_id: int, user_id: int) -> tuple[Any, ...]:
    return (
        review_lease.c.project_id == project_id,
        review_lease.c.item_id == item_id,
        review_lease.c.user_id == user_id,
    )


def expiry(conn: Connection, *, project_id: int, item_id: int, user_id: int) -> datetime | None:
    """When the reviewer's lease on an item ends (or ended); None: they hold none on it."""
    q = select(review_lease.c.lease_expires_at).where(*_theirs(project_id, item_id, user_id))
    return conn.execute(q).scalar_one_or_none()


def holder(conn: Connection, *, item_id: int, at: datetime) -> Any:
    """Who holds a live review lease on an item (``user_id``, ``username``) and at which
    ``tier``; None: nobody."""
    q = (
        select(review_lease.c.user_id, user.c.username, review_lease.c.tier)
        .join(user, user.c.id == review_lease.c.user_id)
        .where(review_lease.c.item_id == item_id, live(at))
    )
    return conn.execute(q).first()


def extend(
    conn: Connection, *, project_id: int, item_id: int, user_id: int, until: datetime
) -> None:
    """Keep a reviewer's lease on an item (live or run out) until ``until``."""
    where = _theirs(project_id, item_id, user_id)
    conn.execute(update(review_lease).where(*where).values(lease_expires_at=until))


def release(
    conn: Connection,
    *,
    project_id: int,
    item_id: int,
    user_id: int,
    ends: datetime | None = None,
) -> bool:
    """Give back a reviewer's lease on an item (with ``ends``, only while it ends then: the end
    the page giving it back was told); whether they held one so."""
    where = _theirs(project_id, item_id, user_id)
    if ends is not None:
        where = (*where, review_lease.c.lease_expires_at == ends)
    return bool(conn.execute(delete(review_lease).where(*where)).rowcount)


def release_all(
    conn: Connection,
    *,
    user_id: int,
    project_id: int | None = None,
    tier: int | None = None,
    keep: int | None = None,
    at: datetime | None = None,
) -> int:
    """Give back a reviewer's leases (in one project, at one tier, but the item ``keep``);
    how many of them were live at ``at`` (when given)."""
    where = [review_lease.c.user_id == user_id]
    if project_id is not None:
        where.append(review_lease.c.project_id == project_id)
    if tier is not None:
        where.append(review_lease.c.tier == tier)
    if keep is not None:
        where.append(review_lease.c.item_id != keep)
    n_live = 0
    if at is not None:
        q = select(func.count()).select_from(review_lease).where(*where, live(at))
        n_live = int(conn.execute(q).scalar_one())
    conn.execute(delete(review_lease).where(*where))
    return n_live


def n_leased_to_others(
    conn: Connection, *, project_id: int, user_id: int, status: str, at: datetime
) -> tuple[int, int]:
    """Answers in ``status`` (``in_review``, ``escalated``) and their items, on items leased
    to another reviewer than ``user_id`` right now."""
    q = select(func.count(), func.count(annotation.c.item_id.distinct())).where(
        annotation.c.project_id == project_id,
        annotation.c.status == status,
        leased_to_others(annotation.c.item_id, user_id, at),
    )
    answers, items = conn.execute(q).one()
    return int(answers), int(items)


def holders(conn: Connection, item_ids: Sequence[int], at: datetime) -> dict[int, dict[str, Any]]:
    """Who has each of ``item_ids`` on their review page at ``at`` (``user``: their name) and
    until when (``until``); items nobody has are left out."""
    if not item_ids:
        return {}
    q = (
        select(review_lease.c.item_id, user.c.username, review_lease.c.lease_expires_at)
        .join(user, user.c.id == review_lease.c.user_id)
        .where(review_lease.c.item_id.in_(list(item_ids)), live(at))
    )
    return {
        int(i): {"user": name, "until": until.isoformat()} for i, name, until in conn.execute(q)
    }
