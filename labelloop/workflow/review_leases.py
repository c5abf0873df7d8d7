"""Review leases: what a reviewer's page shows is theirs while they read it.

The review queue and the expert tier's queue lease the item they serve to its reviewer for the
project's ``lease_minutes``, as the labeling queue leases an item to an annotator: the next
reviewer is served another one. The review page renews the lease while it is open; a verdict, a
decision, passing the item, leaving the page or the lease running out gives it back. The
refusals of a verdict on an answer decided meanwhile stay as the safety net.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from labelloop.errors import Conflict, NotFound
from labelloop.govern.permissions import Permission
from labelloop.store import items as store_items
from labelloop.store import review_leases as store_leases
from labelloop.store import tasks as store_tasks
from labelloop.store.db import Database
from labelloop.store.users import now
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.values import item_name

REVIEW, EXPERT = 1, 2
"""The tiers a lease is taken at: a reviewer's page holds one item of each."""

What = TypeVar("What")
Candidate = Callable[[Any, datetime, Sequence[int]], tuple[What, int] | None]
"""Reads the best candidate at a time, leaving out the items passed: (what, item id) or None;
``what`` is the queue's own word for what it serves (the review queue's answer id, None for
an imported label), which :func:`lease_first` hands back with the lease."""


def lease_first(
    db: Database, ctx: ProjectContext, *, tier: int, candidate: Candidate[What]
) -> tuple[What, int, datetime] | None:
    """Lease the caller the first candidate no one else holds: (what, item id, when the lease
    ends), ``what`` as the candidate gave it; None, with the caller's leases at ``tier`` given
    back, when none is left.

    A live lease of the caller's ends a full lease from now, or later (see
    ``store.review_leases.take``). PostgreSQL: an item whose
    writers are at work is passed, not waited for, as the labeling queue passes it.
    """
    at = now()
    until = at + timedelta(minutes=ctx.settings.lease_minutes)
    passed: list[int] = []
    with db.write() as conn:  # leases take row locks only, never the audit chain
        while True:
            found = candidate(conn, at, passed)
            if found is None:
                store_leases.release_all(conn, user_id=ctx.user.id, project_id=ctx.id, tier=tier)
                return None
            what, item_id = found
            if store_tasks.try_lock_item(db, conn, item_id) and store_leases.take(
                conn,
                project_id=ctx.id,
                item_id=item_id,
                user_id=ctx.user.id,
                tier=tier,
                at=at,
                until=until,
            ):
                ends = store_leases.expiry(
                    conn, project_id=ctx.id, item_id=item_id, user_id=ctx.user.id
                )
                assert ends is not None  # taken in this transaction
                return what, item_id, ends
            passed.append(item_id)


def renew(db: Database, ctx: ProjectContext, item_id: int) -> dict[str, Any]:
    """Keep the caller's review lease on an item for another ``lease_minutes`` from now; the
    review page calls this while it shows the item. A lease that ran out is the caller's again
    while nobody else took the item; ``Conflict`` (409) when someone did, or when the caller
    gave it back (a verdict, a pass, the page left)."""
    ctx.require(Permission.REVIEW)
    at = now()
    with db.write() as conn:
        hold_item(db, conn, ctx, item_id)
        ends = store_leases.expiry(conn, project_id=ctx.id, item_id=item_id, user_id=ctx.user.id)
        if ends is None:
            refuse_if_taken(conn, ctx, item_id, at=at)
            raise Conflict(f"item {item_id} is not leased to you for review")
        until = max(ends, at + timedelta(minutes=ctx.settings.lease_minutes))
        store_leases.extend(
            conn, project_id=ctx.id, item_id=item_id, user_id=ctx.user.id, until=until
        )
    return {"item_id": item_id, "lease_expires_at": until.isoformat()}


def release(
    db: Database, ctx: ProjectContext, item_id: int, *, ends: datetime | None = None
) -> dict[str, Any]:
    """Give back the caller's review lease on an item (the page left it): the next reviewer's
    queue serves it. With ``ends`` (the end the page was last told), a lease served again since
    (the page reloaded) stays. ``released`` says whether the caller held one so."""
    ctx.require(Permission.REVIEW)
    with db.write() as conn:
        # after a serve of it under way (a reloaded page) moves its end: never between its
        # read of the lease and its move, which would find none left
        hold_item(db, conn, ctx, item_id)
        released = store_leases.release(
            conn, project_id=ctx.id, item_id=item_id, user_id=ctx.user.id, ends=ends
        )
    return {"item_id": item_id, "released": released}


def refuse_if_taken(
    conn: Any,
    ctx: ProjectContext,
    item_id: int,
    *,
    at: datetime,
    tier: int | None = None,
    then: str = "",
) -> None:
    """``Conflict`` (409) naming the other reviewer who has the item on their page now (at
    ``tier``, when given): the caller's lease on it ran out and it went to them, so a verdict
    or decision of the caller's would land on what the other is reading. ``then`` ends the
    sentence (what became of the caller's request)."""
    other = store_leases.holder(conn, item_id=item_id, at=at)
    if other is None or other.user_id == ctx.user.id or (tier is not None and other.tier != tier):
        return
    row = store_items.get_item(conn, project_id=ctx.id, item_id=item_id)
    name = item_name(row) if row is not None else f"#{item_id}"
    raise Conflict(
        f"{other.username} has item {name} on their review page now (your lease on it ran "
        f"out, or you had none){then}"
    )


def hold_item(db: Database, conn: Any, ctx: ProjectContext, item_id: int) -> None:
    """Wait for the item's other writers (PostgreSQL; SQLite has one writer) and refuse an item
    that is not in the caller's project: the start of every review write on one item."""
    store_tasks.lock_item(db, conn, item_id)
    if store_items.get_item(conn, project_id=ctx.id, item_id=item_id) is None:
        raise NotFound(f"no item {item_id} in project '{ctx.slug}'")


def give_back(conn: Any, ctx: ProjectContext, item_id: int) -> None:
    """Give back the caller's review lease on an item they decided, in the decision's
    transaction."""
    store_leases.release(conn, project_id=ctx.id, item_id=item_id, user_id=ctx.user.id)


def held_by_others(conn: Any, ctx: ProjectContext) -> dict[str, int]:
    """What waits but is leased to another reviewer right now: answers in review
    (``in_review``) and items at the expert tier (``escalated_items``)."""
    at = now()
    in_review, _ = store_leases.n_leased_to_others(
        conn, project_id=ctx.id, user_id=ctx.user.id, status="in_review", at=at
    )
    _, escalated = store_leases.n_leased_to_others(
        conn, project_id=ctx.id, user_id=ctx.user.id, status="escalated", at=at
    )
    return {"in_review": in_review, "escalated_items": escalated}
