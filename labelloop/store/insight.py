"""The reads the operations dashboard is computed from: when work arrived, waited and left.

Every figure is derived from the rows the loop writes anyway (annotations, reviews, resolved
labels, leases, import batches); nothing here is a stored counter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, select, union, update

from labelloop.store import review_leases
from labelloop.store.review import (
    ANSWER_STATES,
    LIVE_STATES,
    PENDING_STATES,
    REWORK,
    independent,
)
from labelloop.store.tables import (
    AUTO,
    alert,
    annotation,
    assignment,
    gold_answer,
    import_batch,
    item,
    item_label,
    review,
    review_lease,
    user,
)

NOT_PEOPLES = ("imported", AUTO)
"""Resolutions no person in the project made: labels imported with the items, the model's."""


def shared_annotations(conn: Connection, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """The answers since ``since`` (those sent back for rework included) of items two
    annotators or more answered in that time, with their values and whether the item is a gold
    check (``gold``): what agreement is computed from (decoding every annotation's value would
    cost a single-annotator project most of the dashboard's time)."""
    recent = and_(
        annotation.c.project_id == project_id,
        annotation.c.created_at >= since,
        annotation.c.status.in_(ANSWER_STATES),
        independent(),  # a reviewer's fix of an imported label is no annotator's answer
    )
    shared = (
        select(annotation.c.item_id)
        .where(recent)
        .group_by(annotation.c.item_id)
        .having(func.count(func.distinct(annotation.c.user_id)) >= 2)
    )
    q = (
        select(
            annotation.c.user_id,
            user.c.username,
            annotation.c.item_id,
            annotation.c.value,
            annotation.c.created_at,
            annotation.c.status,
            independent().label("independent"),
            gold_answer.c.item_id.is_not(None).label("gold"),
        )
        .select_from(
            annotation.join(user, user.c.id == annotation.c.user_id).outerjoin(
                gold_answer, gold_answer.c.item_id == annotation.c.item_id
            )
        )
        .where(recent, annotation.c.item_id.in_(shared))
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def first_annotation(conn: Connection, project_id: int) -> datetime | None:
    """When the project's first annotation was made (None before any)."""
    q = select(func.min(annotation.c.created_at)).where(annotation.c.project_id == project_id)
    return conn.execute(q).scalar_one()


def last_active(conn: Connection, project_id: int) -> dict[int, datetime]:
    """Each annotator's newest annotation, over the project's whole history."""
    q = (
        select(annotation.c.user_id, func.max(annotation.c.created_at))
        .where(annotation.c.project_id == project_id)
        .group_by(annotation.c.user_id)
    )
    return {int(u): at for u, at in conn.execute(q)}


def _not_gold(item_id: Any) -> Any:
    """Gold checks are served to test annotators, not as work: they wait in no stage."""
    return ~exists().where(gold_answer.c.item_id == item_id)


def waiting(conn: Connection, project_id: int, *, at: datetime) -> dict[str, dict[str, Any]]:
    """What waits where right now, each with the time the oldest one started waiting, and what
    is being worked on there now (``in_progress``: held by a live lease, so it does not wait,
    but is not done either; ``since`` is the oldest of those that wait).

    - ``label``: pool items (gold checks aside) with no resolved label, no live annotation and
      no live lease, waiting since their import; in progress: leased to an annotator;
    - ``overlap``: such items with a live annotation but no resolved label and nothing in review,
      waiting for another annotator since their first annotation; in progress: leased to one;
    - ``review``: annotations in review since they were submitted; in progress: those whose
      item a reviewer holds;
    - ``escalated``: items at the expert tier since they were escalated; in progress: those an
      expert holds;
    - ``rework``: items rejected in review and leased back to their annotator, since then; the
      item counts in no other stage. That lease lasts hours and a give-back leaves it theirs, so
      it is the wait, not the work: in progress are those their annotator has on their page
      (served or renewed within a lease's length and not given back since,
      ``store.review.take_up``).
    """
    # The items to label and those waiting for another annotator are both the pool's
    # unlabeled items: one pass over them counts both (a pass each, anti-joins of the whole
    # pool, were the dashboard's two costliest statements), the project's live annotations and
    # live leases read once each, grouped per item, beside it.
    per_item = (
        select(
            annotation.c.item_id,
            func.min(annotation.c.created_at).label("first"),
            func.count(case((annotation.c.status.in_(PENDING_STATES), 1))).label("pending"),
        )
        .where(annotation.c.project_id == project_id, annotation.c.status.in_(LIVE_STATES))
        .group_by(annotation.c.item_id)
        .subquery()
    )
    leases = (
        select(
            assignment.c.item_id,
            func.count(case((assignment.c.strategy == REWORK, 1))).label("rework"),
        )
        .where(
            assignment.c.project_id == project_id,
            assignment.c.state == "leased",
            assignment.c.lease_expires_at > at,
        )
        .group_by(assignment.c.item_id)
        .subquery()
    )
    annotated = per_item.c.item_id.is_not(None)
    free = leases.c.item_id.is_(None)
    # An item back with its annotator waits in rework, not here, whoever else holds it.
    held = and_(leases.c.item_id.is_not(None), leases.c.rework == 0)
    to_label = and_(~annotated, free)
    being_labeled = and_(~annotated, held)
    for_another = and_(annotated, per_item.c.pending == 0, free)
    another_at_work = and_(annotated, per_item.c.pending == 0, held)
    unlabeled = (
        select(
            func.count(case((to_label, 1))),
            func.min(case((to_label, import_batch.c.created_at))),
            func.count(case((being_labeled, 1))),
            func.count(case((for_another, 1))),
            func.min(case((for_another, per_item.c.first))),
            func.count(case((another_at_work, 1))),
        )
        .select_from(
            item.outerjoin(import_batch, import_batch.c.id == item.c.import_batch_id)
            .outerjoin(per_item, per_item.c.item_id == item.c.id)
            .outerjoin(leases, leases.c.item_id == item.c.id)
        )
        .where(
            item.c.project_id == project_id,
            item.c.split == "pool",
            _not_gold(item.c.id),
            ~exists().where(item_label.c.item_id == item.c.id),
        )
    )
    row = conn.execute(unlabeled).one()
    out = {
        "label": {"waiting": int(row[0]), "since": row[1], "in_progress": int(row[2])},
        "overlap": {"waiting": int(row[3]), "since": row[4], "in_progress": int(row[5])},
    }
    # An answer in review, an item at the expert tier: a reviewer at that tier holding the
    # item works on it now.
    for key, counted, stamp, state, tier in (
        ("review", annotation.c.id, annotation.c.created_at, "in_review", 1),
        ("escalated", annotation.c.item_id, annotation.c.updated_at, "escalated", 2),
    ):
        q = _held_or_waiting(counted, stamp, state, project_id=project_id, tier=tier, at=at)
        n, since, busy = conn.execute(q).one()
        out[key] = {"waiting": int(n), "since": since, "in_progress": int(busy)}
    out["rework"] = _rework(conn, project_id, at=at)
    return out


def _rework(conn: Connection, project_id: int, *, at: datetime) -> dict[str, Any]:
    """The items back with their annotators (see :func:`waiting`): an item is being redone
    when one of its live rework leases is taken up at ``at``; the others wait since their
    lease was made (its ``leased_at``), when the answer was rejected."""
    per_item = (
        select(
            func.count(case((assignment.c.taken_up_until > at, 1))).label("busy"),
            func.min(assignment.c.leased_at).label("sent"),
        )
        .where(
            assignment.c.project_id == project_id,
            assignment.c.strategy == REWORK,
            assignment.c.state == "leased",
            assignment.c.lease_expires_at > at,
        )
        .group_by(assignment.c.item_id)
        .subquery()
    )
    waits = per_item.c.busy == 0
    n, since, busy = conn.execute(
        select(
            func.count(case((waits, 1))),
            func.min(case((waits, per_item.c.sent))),
            func.count(case((~waits, 1))),
        )
    ).one()
    return {"waiting": int(n), "since": since, "in_progress": int(busy)}


def _held_or_waiting(
    counted: Any, stamp: Any, state: str, *, project_id: int, tier: int, at: datetime
) -> Any:
    """How many distinct ``counted`` of the project's annotations in ``state`` wait, the oldest
    ``stamp`` among those, and how many are on items a reviewer at ``tier`` holds now."""
    held = exists().where(
        review_lease.c.item_id == annotation.c.item_id,
        review_lease.c.tier == tier,
        review_leases.live(at),
    )
    return select(
        func.count(func.distinct(case((~held, counted)))),
        func.min(case((~held, stamp))),
        func.count(func.distinct(case((held, counted)))),
    ).where(annotation.c.project_id == project_id, annotation.c.status == state)


def arrivals(conn: Connection, project_id: int, since: datetime) -> dict[str, int]:
    """How many entered each waiting stage since ``since``: pool items imported without a
    label (and not labeled by the model since), items whose first annotation came and that
    wait or waited for another, annotations that went to review, items escalated to the
    expert tier, rejections."""
    imported = (
        select(func.count())
        .select_from(item.join(import_batch, import_batch.c.id == item.c.import_batch_id))
        .where(
            item.c.project_id == project_id,
            item.c.split == "pool",
            import_batch.c.created_at >= since,
            _not_gold(item.c.id),
            ~exists().where(
                item_label.c.item_id == item.c.id, item_label.c.resolution.in_(NOT_PEOPLES)
            ),
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
        per_item.c.first >= since,
        _not_gold(per_item.c.item_id),
        (per_item.c.n >= 2) | (unresolved & ~in_review),
    )
    reviewed = exists().where(review.c.annotation_id == annotation.c.id)
    to_review = select(func.count()).where(
        annotation.c.project_id == project_id,
        annotation.c.created_at >= since,
        (annotation.c.status == "in_review") | reviewed,
    )
    # An escalation is an escalate verdict or a disagreement sent up by the resolution rule;
    # both leave the annotation escalated (later adjudicated), stamped when its state changed.
    sent_up = select(annotation.c.item_id).where(
        annotation.c.project_id == project_id,
        annotation.c.status.in_(("escalated", "adjudicated")),
        annotation.c.updated_at >= since,
    )
    escalate_verdicts = (
        select(annotation.c.item_id)
        .select_from(review.join(annotation, annotation.c.id == review.c.annotation_id))
        .where(
            annotation.c.project_id == project_id,
            review.c.created_at >= since,
            review.c.verdict == "escalate",
        )
    )
    expert_verdicts = _expert_verdicts(project_id, since)
    escalations = select(func.count()).select_from(
        union(sent_up, escalate_verdicts, expert_verdicts).subquery()
    )
    return {
        "label": int(conn.execute(imported).scalar_one()),
        "overlap": int(conn.execute(second).scalar_one()),
        "review": int(conn.execute(to_review).scalar_one()),
        "escalated": int(conn.execute(escalations).scalar_one()),
        "rework": _verdicts(conn, project_id, since, verdict="reject"),
    }


def _verdicts(
    conn: Connection,
    project_id: int,
    since: datetime,
    *,
    verdict: str | None = None,
    tier: int | None = None,
) -> int:
    """Review verdicts given since ``since``, of one kind or tier."""
    q = (
        select(func.count())
        .select_from(review.join(annotation, annotation.c.id == review.c.annotation_id))
        .where(annotation.c.project_id == project_id, review.c.created_at >= since)
    )
    if verdict is not None:
        q = q.where(review.c.verdict == verdict)
    if tier is not None:
        q = q.where(review.c.tier == tier)
    return int(conn.execute(q).scalar_one())


def _expert_verdicts(project_id: int, since: datetime) -> Any:
    """The items the expert tier gave a verdict on since ``since``."""
    return (
        select(annotation.c.item_id)
        .select_from(review.join(annotation, annotation.c.id == review.c.annotation_id))
        .where(
            annotation.c.project_id == project_id,
            review.c.created_at >= since,
            review.c.tier == 2,
        )
    )


def departures(conn: Connection, project_id: int, since: datetime) -> dict[str, int]:
    """How many left each waiting stage since ``since``: items given their first annotation,
    items whose answers came (two or more, the newest since ``since``) and that wait for no
    other annotator now (resolved, or gone on to review or the expert tier), first-tier
    verdicts, items the expert tier decided, rejected items answered again."""
    first = (
        select(annotation.c.item_id, func.min(annotation.c.created_at).label("first"))
        .where(annotation.c.project_id == project_id)
        .group_by(annotation.c.item_id)
        .subquery()
    )
    started = select(func.count()).where(first.c.first >= since, _not_gold(first.c.item_id))
    answered = (
        select(
            annotation.c.item_id,
            func.count().label("n"),
            func.max(annotation.c.created_at).label("last"),
        )
        .where(annotation.c.project_id == project_id, annotation.c.status.in_(LIVE_STATES))
        .group_by(annotation.c.item_id)
        .subquery()
    )
    # An item leaves the wait for another annotator with the answer that completes it, whether
    # the answers then agree, go to review or go up to the expert tier (as :func:`waiting`).
    moved_on = exists().where(item_label.c.item_id == answered.c.item_id) | exists().where(
        annotation.c.item_id == answered.c.item_id, annotation.c.status.in_(PENDING_STATES)
    )
    completed = select(func.count()).where(
        answered.c.n >= 2,
        answered.c.last >= since,
        _not_gold(answered.c.item_id),
        moved_on,
    )
    expert_verdicts = _expert_verdicts(project_id, since)
    adjudicated = select(item_label.c.item_id).where(
        item_label.c.project_id == project_id,
        item_label.c.decided_at >= since,
        item_label.c.resolution == "adjudicated",
    )
    decided = select(func.count()).select_from(union(expert_verdicts, adjudicated).subquery())
    reworked = (
        select(func.count())
        .select_from(annotation.join(assignment, assignment.c.id == annotation.c.assignment_id))
        .where(
            annotation.c.project_id == project_id,
            annotation.c.created_at >= since,
            assignment.c.strategy == REWORK,
        )
    )
    return {
        "label": int(conn.execute(started).scalar_one()),
        "overlap": int(conn.execute(completed).scalar_one()),
        "review": _verdicts(conn, project_id, since, tier=1),
        "escalated": int(conn.execute(decided).scalar_one()),
        "rework": int(conn.execute(reworked).scalar_one()),
    }


def last_resolved(conn: Connection, project_id: int) -> datetime | None:
    """When a person last resolved a label of the project (imported and auto labels aside)."""
    q = select(func.max(item_label.c.decided_at)).where(
        item_label.c.project_id == project_id, item_label.c.resolution.not_in(NOT_PEOPLES)
    )
    return conn.execute(q).scalar_one()


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
    return [dict(r) for r in conn.execute(q).mappings() if r["n_items"] > 0]


def unlabeled_in_batch(conn: Connection, batch_id: int) -> int:
    """Items of one import with no resolved label yet."""
    q = select(func.count()).where(
        item.c.import_batch_id == batch_id, ~exists().where(item_label.c.item_id == item.c.id)
    )
    return int(conn.execute(q).scalar_one())


def batch_sample(conn: Connection, batch_id: int, *, limit: int) -> list[int]:
    """Up to ``limit`` item ids of one import batch, spread over it."""
    q = select(item.c.id).where(item.c.import_batch_id == batch_id).order_by(item.c.id)
    return spread([i for (i,) in conn.execute(q)], limit=limit)


def labeled_by_batch(
    conn: Connection, project_id: int, *, before_batch: int
) -> list[tuple[int, int]]:
    """Ids of labeled pool items imported before batch ``before_batch`` (what the model has
    learned from: auto labels left out), each with its import batch, in id order.

    The drift check compares each of the newest imports with the labeled items before it: one
    read here serves them all (each a statement that looked at every labeled item before).
    """
    q = (
        select(item.c.id, item.c.import_batch_id)
        .where(
            item.c.project_id == project_id,
            item.c.split == "pool",
            item.c.import_batch_id < before_batch,
            exists().where(item_label.c.item_id == item.c.id, item_label.c.resolution != AUTO),
        )
        .order_by(item.c.id)
    )
    return [(int(i), int(b)) for i, b in conn.execute(q)]


def spread(ids: Sequence[int], *, limit: int) -> list[int]:
    """``limit`` of ``ids`` spread evenly by rank over them (all of them when they are fewer)."""
    if len(ids) > limit:
        return [ids[k * len(ids) // limit] for k in range(limit)]
    return list(ids)


def payloads(conn: Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Ids and payloads of these items, in the order given."""
    found: dict[int, Any] = {}
    for start in range(0, len(ids), 900):
        q = select(item.c.id, item.c.payload).where(item.c.id.in_(list(ids[start : start + 900])))
        found.update((int(i), p) for i, p in conn.execute(q))
    return [{"id": i, "payload": found[i]} for i in ids if i in found]


def _acknowledger() -> Any:
    """The user table as the one who acknowledged an alert, for an outer join."""
    return user.alias("acknowledger")


def _alert_columns(who: Any) -> tuple[Any, ...]:
    return (
        alert.c.id,
        alert.c.project_id,
        alert.c.kind,
        alert.c.message,
        alert.c.created_at,
        alert.c.resolved_at,
        alert.c.acknowledged_by.label("acknowledged_by_id"),
        who.c.username.label("acknowledged_by"),
        alert.c.acknowledged_at,
        alert.c.acknowledged_note,
    )


def _with_acknowledger(who: Any) -> Any:
    return alert.outerjoin(who, who.c.id == alert.c.acknowledged_by)


def open_alerts(conn: Connection, project_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The alerts not yet resolved, per project, oldest first, with who acknowledged each."""
    if not project_ids:
        return {}
    who = _acknowledger()
    q = (
        select(*_alert_columns(who))
        .select_from(_with_acknowledger(who))
        .where(alert.c.project_id.in_(list(project_ids)), alert.c.resolved_at.is_(None))
        .order_by(alert.c.id)
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(q).mappings():
        out.setdefault(int(r["project_id"]), []).append(dict(r))
    return out


def open_alert(conn: Connection, project_id: int, kind: str) -> dict[str, Any] | None:
    """The project's open alert of one kind (there is at most one), or None."""
    who = _acknowledger()
    q = (
        select(*_alert_columns(who))
        .select_from(_with_acknowledger(who))
        .where(
            alert.c.project_id == project_id,
            alert.c.kind == kind,
            alert.c.resolved_at.is_(None),
        )
        .order_by(alert.c.id.desc())
        .limit(1)
    )
    found = conn.execute(q).mappings().first()
    return dict(found) if found is not None else None


def alert_history(conn: Connection, project_id: int, *, limit: int) -> list[dict[str, Any]]:
    """The project's newest alerts, open or resolved, newest first, with who acknowledged each."""
    who = _acknowledger()
    q = (
        select(*_alert_columns(who))
        .select_from(_with_acknowledger(who))
        .where(alert.c.project_id == project_id)
        .order_by(alert.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def acknowledge(
    conn: Connection, alert_id: int, *, by: int | None, at: datetime, note: str | None
) -> bool:
    """Mark an open alert acknowledged; False when it was acknowledged (or resolved) meanwhile."""
    done = conn.execute(
        update(alert)
        .where(
            alert.c.id == alert_id,
            alert.c.acknowledged_at.is_(None),
            alert.c.resolved_at.is_(None),
        )
        .values(acknowledged_by=by, acknowledged_at=at, acknowledged_note=note)
    )
    return done.rowcount == 1


def unacknowledge(conn: Connection, alert_id: int) -> bool:
    """Take an alert's acknowledgement back; False when it had none (taken back meanwhile)."""
    done = conn.execute(
        update(alert)
        .where(alert.c.id == alert_id, alert.c.acknowledged_at.is_not(None))
        .values(acknowledged_by=None, acknowledged_at=None, acknowledged_note=None)
    )
    return done.rowcount == 1


def sync_alerts(
    conn: Connection,
    project_id: int,
    current: Sequence[Mapping[str, str]],
    *,
    at: datetime,
    read_at: datetime | None = None,
) -> dict[str, list[str]]:
    """Make the open alerts the ``current`` ones (one per kind): new kinds are raised, kinds
    no longer current are resolved at ``at``. An open alert keeps the message it was raised
    with (the history says what was seen then; the dashboard shows today's figures).

    ``read_at`` is when ``current`` began to be read: an alert stored after it (acknowledged
    meanwhile) stays open, as what was read could not see its condition."""
    now_open = {
        r["kind"]: r
        for r in conn.execute(
            select(alert.c.id, alert.c.kind, alert.c.message, alert.c.created_at).where(
                alert.c.project_id == project_id, alert.c.resolved_at.is_(None)
            )
        ).mappings()
    }
    wanted = {a["kind"]: a["message"][:500] for a in current}
    raised = [k for k in wanted if k not in now_open]
    resolved = [
        k
        for k, r in now_open.items()
        if k not in wanted and (read_at is None or r["created_at"] <= read_at)
    ]
    for kind in raised:
        conn.execute(
            alert.insert().values(
                project_id=project_id, kind=kind[:40], message=wanted[kind], created_at=at
            )
        )
    for kind in resolved:
        conn.execute(update(alert).where(alert.c.id == now_open[kind]["id"]).values(resolved_at=at))
    return {"raised": raised, "resolved": resolved}
