"""The serving path: leases over the precomputed queue, annotations and resolved labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    select,
    update,
)

from labelloop.store import highwater
from labelloop.store.batches import withdrawn
from labelloop.store.db import Database, fetch, insert, insert_many, run
from labelloop.store.tables import (
    COLD_START_MODEL,
    annotation,
    assignment,
    audit_event,
    gold_answer,
    guideline,
    item,
    item_label,
    model_version,
    queue_entry,
    review,
)
from labelloop.store.users import now

ACTIVE = "leased"
REWORK = "rework"
"""The strategy recorded on a lease that gives a rejected item back to its annotator."""
ITEM_LOCKS = 2 << 40  # lock keys of items (audit chains use 1 << 40 + project id)


def current_round(conn: Connection, project_id: int) -> RowMapping | None:
    """The newest model version of a project (its queue is the one served)."""
    q = (
        select(model_version.c.id, model_version.c.version, model_version.c.strategy)
        .where(model_version.c.project_id == project_id)
        .order_by(model_version.c.version.desc())
        .limit(1)
    )
    return conn.execute(q).mappings().first()


def cold_start(versions: Any = model_version) -> Any:
    """Whether the model version (``versions``: the table or an alias of it, outer-joined: None
    where there is none) was a cold start, whose queue no model ranked."""
    return (versions.c.model == COLD_START_MODEL).label("cold_start")


def decider_id(labels: Any = item_label) -> Any:
    """Who decided a label (``labels``: the table or an alias of it): the user it records,
    else, for a ``single`` label decided before the one annotator was recorded as its decider,
    that annotator (read from the label's answer only for such rows)."""
    answer = annotation.alias("deciding_answer")  # the outer query may join annotation too
    answerer = (
        select(answer.c.user_id).where(answer.c.id == labels.c.annotation_id).scalar_subquery()
    )
    return func.coalesce(
        labels.c.decided_by,
        case((labels.c.resolution == "single", answerer)),
    )


# The serving path runs these on every request: each statement is built once, with bind
# parameters, so SQLAlchemy's compiled cache is hit without rebuilding the expression.


@cache
def _held_lease_stmt(n_exclude: int) -> Select[Any]:
    q = (
        select(
            assignment,
            item.c.external_id,
            item.c.payload,
            item.c.meta,
            item.c.prediction,
            cold_start(),
        )
        .join(item, item.c.id == assignment.c.item_id)
        .outerjoin(model_version, model_version.c.id == assignment.c.model_version_id)
        .where(
            assignment.c.project_id == bindparam("project_id"),
            assignment.c.user_id == bindparam("user_id"),
            assignment.c.state == ACTIVE,
            assignment.c.lease_expires_at > bindparam("at"),
            ~withdrawn(assignment.c.item_id),  # refused on submit: not shown again
        )
    )
    if n_exclude:
        q = q.where(assignment.c.id.not_in(bindparam("exclude", expanding=True)))
    return q.order_by(assignment.c.id).limit(1)


def held_lease(
    conn: Connection, *, project_id: int, user_id: int, exclude: Sequence[int], at: datetime
) -> dict[str, Any] | None:
    """The user's oldest live lease (with its item) that the client does not already hold."""
    params: dict[str, Any] = {"project_id": project_id, "user_id": user_id, "at": at}
    if exclude:
        params["exclude"] = list(exclude)
    found = fetch(conn, _held_lease_stmt(len(exclude) > 0), params)
    return found[0] if found else None


def live(c: Any, at: Any) -> Any:
    """An assignment (columns ``c``) leased and not run out at ``at``."""
    return (c.state == ACTIVE) & (c.lease_expires_at > at)


def holds(c: Any, at: Any) -> Any:
    """An assignment (columns ``c``) that holds its item at ``at``: answered, or leased live.
    How many hold an item, against the overlap, says whether it is still open to someone."""
    return (c.state == "submitted") | live(c, at)


def open_conditions(item_id: Any) -> tuple[Any, Any, Any]:
    """The conditions that keep an item from a user, for the item named by ``item_id``.

    ``(mine, taken, resolved)``: the user already has it (submitted, skipped or leased live),
    how many annotations and live leases it has (compared with the overlap), and whether it is
    no work to serve: its label is resolved, it is a gold item (a check, served only in place
    of work at the project's ``gold_rate``), or its import is being undone. Every serving
    query (queue, seed picks, random controls, the PostgreSQL re-check) uses these, so "what
    may be served" is decided in one place.
    """
    at: Any = bindparam("at")
    a = assignment.alias("a")
    mine = exists().where(
        a.c.item_id == item_id,
        a.c.user_id == bindparam("user_id"),
        holds(a.c, at) | (a.c.state == "skipped"),  # no IN: no postcompile
    )
    b = assignment.alias("b")
    taken = select(func.count()).where(b.c.item_id == item_id, holds(b.c, at)).scalar_subquery()
    resolved = (
        exists().where(item_label.c.item_id == item_id)
        | exists().where(gold_answer.c.item_id == item_id)
        | withdrawn(item_id)
    )
    return mine, taken, resolved


def first_servable(
    q: Select[Any], item_id: Any, *, order_by: Any, lock: Any, skip_locked: bool
) -> Select[Any]:
    """The first row of ``q`` by ``order_by`` whose item (named by ``item_id``) the user may be
    served (:func:`open_conditions`, against the ``overlap``). With ``skip_locked``
    (PostgreSQL) it locks its row of ``lock`` and passes rows another request has locked."""
    mine, taken, resolved = open_conditions(item_id)
    q = q.where(~mine, ~resolved, taken < bindparam("overlap")).order_by(order_by).limit(1)
    return q.with_for_update(skip_locked=True, of=lock) if skip_locked else q


def started(conn: Connection, *, project_id: int, overlap: int, at: datetime) -> list[RowMapping]:
    """The items some annotator holds (answered, or leased live) that are still open to another
    under ``overlap``, oldest first: each with ``taken`` (how many hold it) and the selection
    record of its first lease (``score``, ``reason``, ``model_version`` and the suggestion it
    offered), which a new queue carries them with."""
    if overlap <= 1:
        return []
    held = (
        select(
            assignment.c.item_id,
            func.min(assignment.c.id).label("first"),
            func.count().label("taken"),
        )
        .where(assignment.c.project_id == project_id, holds(assignment.c, at))
        .group_by(assignment.c.item_id)
        .having(func.count() < overlap)
        .subquery()
    )
    _, _, resolved = open_conditions(held.c.item_id)
    q = (
        select(
            held.c.item_id,
            held.c.taken,
            assignment.c.score,
            assignment.c.reason,
            assignment.c.model_version,
            assignment.c.suggestion,
            assignment.c.suggestion_confidence,
            assignment.c.suggestion_value,
        )
        .join(assignment, assignment.c.id == held.c.first)
        .where(~resolved)
        .order_by(held.c.first)
    )
    return list(conn.execute(q).mappings())


def newest_version(column: Any) -> Any:
    """``column`` of the project's newest model version (the one whose queue is served)."""
    return (
        select(column)
        .where(model_version.c.project_id == bindparam("project_id"))
        .order_by(model_version.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )


@cache
def _candidate_stmt(skip_locked: bool) -> Select[Any]:
    q = (
        select(
            queue_entry,
            model_version.c.version.label("model_version"),
            model_version.c.strategy,
            cold_start(),
            item.c.external_id,
            item.c.payload,
            item.c.meta,
            item.c.prediction,
        )
        .join(model_version, model_version.c.id == queue_entry.c.model_version_id)
        .join(item, item.c.id == queue_entry.c.item_id)
        .where(queue_entry.c.model_version_id == newest_version(model_version.c.id))
    )
    return first_servable(
        q,
        queue_entry.c.item_id,
        order_by=queue_entry.c.rank,
        lock=queue_entry,
        skip_locked=skip_locked,
    )


def next_candidate(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    overlap: int,
    at: datetime,
    skip_locked: bool,
    passed: Sequence[int] = (),
) -> RowMapping | dict[str, Any] | None:
    """The best-ranked entry of the newest queue that this user has not seen and that still
    needs labels (and is not in ``passed``), with its model version and item."""
    params: dict[str, Any] = {
        "project_id": project_id,
        "user_id": user_id,
        "overlap": overlap,
        "at": at,
    }
    return first_open(conn, _candidate_stmt(skip_locked), params, queue_entry.c.item_id, passed)


def first_open(
    conn: Connection, q: Select[Any], params: dict[str, Any], item_id: Any, passed: Sequence[int]
) -> RowMapping | dict[str, Any] | None:
    """The first row of a serving candidate query, leaving out the items in ``passed``.

    Without ``passed`` (the usual case, asked on every next) the statement built once runs
    straight on the SQLite driver; with it, SQLAlchemy runs the extended statement.
    """
    if passed:
        return conn.execute(q.where(item_id.not_in(list(passed))), params).mappings().first()
    found = fetch(conn, q, params)
    return found[0] if found else None


@cache
def _open_stmt() -> Select[Any]:
    return select(*open_conditions(bindparam("item_id")))


def still_open(conn: Connection, *, item_id: int, user_id: int, overlap: int, at: datetime) -> bool:
    """Re-check a locked candidate in a new statement (PostgreSQL, READ COMMITTED).

    The candidate query's snapshot is taken before its row lock: a lease committed in between
    (by the transaction that held the lock) is only visible to a later statement.
    """
    params = {"item_id": item_id, "user_id": user_id, "at": at}
    mine, taken, resolved = conn.execute(_open_stmt(), params).one()
    return not mine and not resolved and taken < overlap


def leased_to_others(conn: Connection, *, project_id: int, user_id: int, at: datetime) -> int:
    """Pool items to label (unlabeled, not gold checks) with a live lease held by someone other
    than ``user_id``."""
    resolved = exists().where(item_label.c.item_id == assignment.c.item_id)
    gold = exists().where(gold_answer.c.item_id == assignment.c.item_id)
    q = (
        select(func.count(assignment.c.item_id.distinct()))
        .join(item, item.c.id == assignment.c.item_id)
        .where(
            assignment.c.project_id == project_id,
            assignment.c.user_id != user_id,
            assignment.c.state == ACTIVE,
            assignment.c.lease_expires_at > at,
            item.c.split == "pool",
            ~resolved,
            ~gold,
        )
    )
    return int(conn.execute(q).scalar_one())


@cache
def _insert_stmt(table: Any) -> Any:
    """One INSERT object per table, so its compiled form is found without rebuilding it."""
    return table.insert()


@cache
def lease_stmt(sqlite: bool) -> Any:
    """The lease INSERT; on SQLite its id starts above any removed one (``store.highwater``)."""
    stmt = assignment.insert()
    return stmt.values(id=highwater.next_id(assignment)) if sqlite else stmt


def insert_lease(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    entry: RowMapping,
    lease: timedelta,
    at: datetime,
) -> tuple[int, datetime]:
    """Lease a queue entry to a user; returns the assignment id and when the lease ends."""
    expires = at + lease
    assignment_id = insert(
        conn,
        lease_stmt(conn.dialect.name == "sqlite"),
        {
            "project_id": project_id,
            "item_id": entry["item_id"],
            "user_id": user_id,
            "state": ACTIVE,
            "leased_at": at,
            "lease_expires_at": expires,
            "model_version_id": entry["model_version_id"],
            "model_version": entry["model_version"],
            "strategy": entry["strategy"],
            "score": entry["score"],
            "rank": entry["rank"],
            "reason": entry["reason"],
            "suggestion": entry["suggestion"],
            "suggestion_confidence": entry["suggestion_confidence"],
            "suggestion_value": entry.get("suggestion_value"),
        },
    )
    return assignment_id, expires


def item_payload(conn: Connection, item_id: int) -> Any:
    """One item's stored payload (text, image reference with its size, row)."""
    return conn.execute(select(item.c.payload).where(item.c.id == item_id)).scalar_one()


def lock_item(db: Database, conn: Connection, item_id: int) -> None:
    """Serialize the writers of one item's annotations, so resolving it counts them all."""
    db.lock_key(conn, ITEM_LOCKS + item_id)


def try_lock_item(db: Database, conn: Connection, item_id: int) -> bool:
    """Join the item's writers (:func:`lock_item`) only if none is at work now; whether it did."""
    return db.try_lock_key(conn, ITEM_LOCKS + item_id)


@cache
def _assignment_stmt() -> Any:
    return select(assignment, withdrawn(assignment.c.item_id).label("withdrawn")).where(
        assignment.c.id == bindparam("assignment_id")
    )


def get_assignment(conn: Connection, assignment_id: int) -> dict[str, Any] | None:
    found = fetch(conn, _assignment_stmt(), {"assignment_id": assignment_id})
    return found[0] if found else None


@cache
def _claims_stmt() -> Any:
    others = (
        select(func.count())
        .where(
            assignment.c.item_id == bindparam("item_id"),
            assignment.c.user_id != bindparam("user_id"),
            holds(assignment.c, bindparam("at")),
        )
        .scalar_subquery()
    )
    answered = exists().where(
        assignment.c.item_id == bindparam("item_id"),
        assignment.c.user_id == bindparam("user_id"),
        assignment.c.state == "submitted",
    )
    return select(others, answered)


def claims(conn: Connection, *, item_id: int, user_id: int, at: datetime) -> tuple[int, bool]:
    """Who else has an item: answers and live leases of others than ``user_id``, and whether
    ``user_id`` answered it already (an expired lease is taken again only if it is still free)."""
    params = {"item_id": item_id, "user_id": user_id, "at": at}
    others, answered = conn.execute(_claims_stmt(), params).one()
    return int(others), bool(answered)


def extend_lease(conn: Connection, assignment_id: int, *, until: datetime) -> None:
    """Keep a lease (live or run out) until ``until``."""
    conn.execute(
        update(assignment).where(assignment.c.id == assignment_id).values(lease_expires_at=until)
    )


def serve_again(conn: Connection, lease: Mapping[str, Any], *, until: datetime) -> datetime | None:
    """Serve a user's live ``lease`` (a row read in this transaction) to them again until
    ``until``, later than it ended: a give-back naming it as an earlier page knew it
    (:func:`end_leases`) matches nothing. One that ends later already keeps its end (a rework
    lease lasts hours, and no give-back ends it). The new end; None when the lease changed
    meanwhile (given back, renewed, submitted): ask again."""
    ends = max(until, lease["lease_expires_at"])
    done = conn.execute(
        update(assignment)
        .where(
            assignment.c.id == lease["id"],
            assignment.c.state == ACTIVE,
            assignment.c.lease_expires_at == lease["lease_expires_at"],
        )
        .values(lease_expires_at=ends)
    )
    return ends if done.rowcount == 1 else None


def end_leases(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    leases: Mapping[int, datetime],
    spare: str,
    at: datetime,
) -> list[int]:
    """Make those of ``leases`` (assignment id -> when the caller knew it to end) that are the
    user's live leases in the project, and still end then, run out at ``at``; the ids ended. A
    lease served again since (a reloaded page, :func:`serve_again`) or renewed ends later than
    its sender knew: it stays. A lease ended so is one that ran out: its item is open to others
    at once, and its user's submit or renew takes it again while nobody else did.

    A lease served as ``spare`` (a rework, the annotator's own to come back to) stays theirs,
    but is no longer taken up from ``at`` (``store.review.take_up``): its item waits for them
    again rather than being redone."""
    if not leases:
        return []
    mine = (
        select(assignment.c.id, assignment.c.lease_expires_at, assignment.c.strategy)
        .where(
            assignment.c.id.in_(list(leases)),
            assignment.c.project_id == project_id,
            assignment.c.user_id == user_id,
            live(assignment.c, at),
        )
        .with_for_update()  # PostgreSQL: a submit or a serve of one of them finishes first
    )
    named = [(i, strategy) for i, ends, strategy in conn.execute(mine) if ends == leases[i]]
    ended = sorted(i for i, strategy in named if strategy != spare)
    if ended:
        conn.execute(
            update(assignment).where(assignment.c.id.in_(ended)).values(lease_expires_at=at)
        )
    put_down = [i for i, strategy in named if strategy == spare]
    if put_down:
        conn.execute(
            update(assignment)
            .where(assignment.c.id.in_(put_down), assignment.c.taken_up_until > at)
            .values(taken_up_until=at)
        )
    return ended


def release_other_leases(conn: Connection, *, item_id: int, user_id: int, keep: int) -> None:
    """End a user's leases of an item but ``keep``: a page that asked for work while its lease
    had run out may have been served the same item again."""
    conn.execute(
        update(assignment)
        .where(
            assignment.c.item_id == item_id,
            assignment.c.user_id == user_id,
            assignment.c.state == ACTIVE,
            assignment.c.id != keep,
        )
        .values(state="released")
    )


@cache
def _submit_facts_stmt() -> Any:
    item_id = assignment.c.item_id
    project_id = assignment.c.project_id

    def newest(column: Any, table: Any, order: Any) -> Any:
        chain = table.c.project_id == project_id
        return select(column).where(chain).order_by(order.desc()).limit(1).scalar_subquery()

    return (
        select(
            assignment,
            item.c.payload,
            item.c.prediction,
            newest(guideline.c.version, guideline, guideline.c.version).label("guideline_version"),
            select(gold_answer.c.value)
            .where(gold_answer.c.item_id == item_id)
            .scalar_subquery()
            .label("gold_value"),
            select(item_label.c.resolution)
            .where(item_label.c.item_id == item_id)
            .scalar_subquery()
            .label("label_resolution"),
            newest(audit_event.c.hash, audit_event, audit_event.c.id).label("audit_head"),
            withdrawn(item_id).label("withdrawn"),
        )
        .join(item, item.c.id == item_id)
        .where(assignment.c.id == bindparam("assignment_id"))
    )


def submit_facts(conn: Connection, assignment_id: int) -> dict[str, Any] | None:
    """An assignment with everything its submit reads, in one statement.

    Besides the assignment's columns: the item's ``payload`` and imported ``prediction``
    (what the lease offered with the model's suggestion), the project's newest
    ``guideline_version``, the item's gold answer (``gold_value``, None when it is not gold), its
    resolved label's ``label_resolution`` (None when unresolved) and ``audit_head``, the newest
    hash of the project's audit chain. Read inside the submit's write transaction, they cannot
    change under it (SQLite's single writer; the chain lock on PostgreSQL).
    """
    params = {"assignment_id": assignment_id}
    found = fetch(conn, _submit_facts_stmt(), params)
    return found[0] if found else None


@cache
def _set_state_stmt() -> Any:
    return (
        update(assignment)
        .where(assignment.c.id == bindparam("assignment_id"))
        .values(state=bindparam("state"))
    )


def set_state(conn: Connection, assignment_id: int, state: str) -> None:
    run(conn, _set_state_stmt(), {"assignment_id": assignment_id, "state": state})


def insert_annotation(conn: Connection, **values: Any) -> int:
    at = now()
    return insert(conn, _insert_stmt(annotation), {"created_at": at, "updated_at": at, **values})


def get_annotation(conn: Connection, annotation_id: int) -> RowMapping | None:
    q = select(annotation).where(annotation.c.id == annotation_id)
    return conn.execute(q).mappings().first()


def update_annotation(conn: Connection, annotation_id: int, **values: Any) -> None:
    conn.execute(
        update(annotation)
        .where(annotation.c.id == annotation_id)
        .values(updated_at=now(), **values)
    )


def add_active_ms(conn: Connection, annotation_id: int, active_ms: int, *, most: int) -> None:
    """Add ``active_ms`` to an answer's active time (at most ``most`` in all), leaving its
    ``updated_at`` as it was: time spent on an answer kept as it was is no change of it."""
    total = annotation.c.active_ms + active_ms
    conn.execute(
        update(annotation)
        .where(annotation.c.id == annotation_id)
        .values(active_ms=case((total > most, most), else_=total))
    )


def item_annotations(conn: Connection, item_id: int) -> list[RowMapping]:
    q = select(annotation).where(annotation.c.item_id == item_id).order_by(annotation.c.id)
    return list(conn.execute(q).mappings())


@cache
def _unlabel_stmt() -> Any:
    return delete(item_label).where(item_label.c.item_id == bindparam("item_id"))


@cache
def _leave_queue_stmt() -> Any:
    return delete(queue_entry).where(queue_entry.c.item_id == bindparam("item_id"))


def upsert_label(
    conn: Connection, *, item_id: int, project_id: int, replace: bool = True, **values: Any
) -> None:
    """Set an item's resolved label, replacing the one it had (``replace=False``: it had none)."""
    if replace:
        unlabel(conn, item_id)
    insert(
        conn,
        _insert_stmt(item_label),
        {"item_id": item_id, "project_id": project_id, "decided_at": now(), **values},
    )


def insert_annotations(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Many annotations in one :func:`insert_many` (answers an import brings, with their own
    times)."""
    insert_many(conn, annotation, rows)


def annotation_ids(conn: Connection, assignment_ids: Sequence[int]) -> dict[int, int]:
    """The ids of the answers given on these assignments, by assignment."""
    if not assignment_ids:
        return {}
    q = select(annotation.c.assignment_id, annotation.c.id).where(
        annotation.c.assignment_id.in_(sorted(set(assignment_ids)))
    )
    return {int(a): int(i) for a, i in conn.execute(q)}


def insert_labels(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Many items' resolved labels (items that had none), in one :func:`insert_many`."""
    insert_many(conn, item_label, [{"decided_at": now(), **r} for r in rows])


def set_label_times(conn: Connection, times: Mapping[int, datetime]) -> None:
    """Date items' resolved labels (labels resolved from imported answers: when the last of
    them was given), item id -> time, in one executemany."""
    if times:
        q = (
            update(item_label)
            .where(item_label.c.item_id == bindparam("label_item_id"))
            .values(decided_at=bindparam("at"))
        )
        conn.execute(q, [{"label_item_id": i, "at": at} for i, at in times.items()])


def unlabel_items(conn: Connection, item_ids: Sequence[int]) -> None:
    """Take many items' resolved labels away in one statement."""
    if item_ids:
        conn.execute(delete(item_label).where(item_label.c.item_id.in_(sorted(set(item_ids)))))


def leave_queues(conn: Connection, item_ids: Sequence[int]) -> None:
    """Take many resolved items out of every queue of their project in one statement."""
    if item_ids:
        conn.execute(delete(queue_entry).where(queue_entry.c.item_id.in_(sorted(set(item_ids)))))


def unlabel(conn: Connection, item_id: int) -> None:
    """Take an item's resolved label away (it is unresolved again)."""
    run(conn, _unlabel_stmt(), {"item_id": item_id})


def leave_queue(conn: Connection, item_id: int) -> None:
    """Take a resolved item out of every queue of its project."""
    run(conn, _leave_queue_stmt(), {"item_id": item_id})


AFTER_VERDICT = {"accept": "accepted", "fix": "fixed", "reject": "rejected"}
"""The status each verdict on an answer leaves it in (an escalation hands it on)."""


def verdict_status() -> Any:
    """An annotation's status as far as its reviewers' verdicts go, as its annotator is told
    it: at the expert tier (``escalated``, ``adjudicated``) an answer a reviewer accepted or
    fixed before the item went there stays in the state that verdict left it; any other status
    is itself."""
    latest = (
        select(review.c.verdict)
        .where(review.c.annotation_id == annotation.c.id, review.c.verdict.in_(AFTER_VERDICT))
        .order_by(review.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    given = case(*((latest == v, s) for v, s in AFTER_VERDICT.items()), else_=annotation.c.status)
    return case(
        (annotation.c.status.in_(("escalated", "adjudicated")), given), else_=annotation.c.status
    )


def answer_fate(at: datetime) -> Any:
    """What became of an annotation, as far as its annotator may change it, at ``at``: its
    :func:`verdict_status`, but a rejected one's rework told apart: ``rejected`` while its
    rework lease is live (the item is back with them), ``reworked`` once they answered the item
    again, ``rework_skipped`` when they skipped the rework, ``rework_ran_out`` when its lease
    ran out or was ended (either way the item went back to the queue for others)."""
    later = annotation.alias("later")
    again = exists().where(
        later.c.item_id == annotation.c.item_id,
        later.c.user_id == annotation.c.user_id,
        later.c.id > annotation.c.id,
    )
    rework = (
        (assignment.c.item_id == annotation.c.item_id)
        & (assignment.c.user_id == annotation.c.user_id)
        & (assignment.c.strategy == REWORK)
    )
    newest = (
        select(assignment.c.state)
        .where(rework)
        .order_by(assignment.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return case(
        (annotation.c.status != "rejected", verdict_status()),
        (again, "reworked"),
        (exists().where(rework, live(assignment.c, at)), "rejected"),
        (newest == "skipped", "rework_skipped"),
        (newest.is_not(None), "rework_ran_out"),
        else_="rejected",
    )


def verdict_statuses(conn: Connection, annotation_ids: Sequence[int]) -> dict[int, str]:
    """:func:`verdict_status` of each of ``annotation_ids``."""
    return _each(conn, verdict_status(), annotation_ids)


def answer_fates(conn: Connection, annotation_ids: Sequence[int]) -> dict[int, str]:
    """:func:`answer_fate` of each of ``annotation_ids``, now."""
    return _each(conn, answer_fate(now()), annotation_ids)


def _each(conn: Connection, column: Any, annotation_ids: Sequence[int]) -> dict[int, str]:
    q = select(annotation.c.id, column).where(annotation.c.id.in_(list(annotation_ids)))
    return {int(i): str(s) for i, s in conn.execute(q)}


def _own_annotations(project_id: int, user_id: int) -> Select[Any]:
    """A user's annotations in a project with the item each is on, as the labeling page shows
    an earlier answer (``verdict_status``: :func:`verdict_status`; ``fate``:
    :func:`answer_fate`)."""
    return (
        select(
            annotation,
            verdict_status().label("verdict_status"),
            answer_fate(now()).label("fate"),
            item.c.payload,
            item.c.external_id,
            item.c.meta,
            item.c.prediction,
        )
        .join(item, item.c.id == annotation.c.item_id)
        .where(annotation.c.project_id == project_id, annotation.c.user_id == user_id)
    )


def last_annotations(
    conn: Connection, *, project_id: int, user_id: int, before_id: int | None, limit: int = 1
) -> list[RowMapping]:
    """The user's most recent annotations in a project, newest first (the page's Back key)."""
    q = _own_annotations(project_id, user_id)
    if before_id is not None:
        q = q.where(annotation.c.id < before_id)
    return list(conn.execute(q.order_by(annotation.c.id.desc()).limit(limit)).mappings())


def own_annotation(
    conn: Connection, *, project_id: int, user_id: int, annotation_id: int
) -> RowMapping | None:
    """One of the user's annotations in a project (None: no such annotation of theirs)."""
    q = _own_annotations(project_id, user_id).where(annotation.c.id == annotation_id)
    return conn.execute(q).mappings().first()


def queue_remaining(conn: Connection, model_version_id: int, *, overlap: int, at: datetime) -> int:
    """Entries of a queue open to anyone who may label: unresolved, not gold, short of
    annotations and live leases, and skipped by nobody.

    Items waiting in review have their annotations already; an item held by others is not
    free, and one its annotator skipped is never served to them again. None of these count: a
    queue holding only those has nothing for someone (a solo annotator who skipped the rest).
    """
    _, taken, resolved = open_conditions(queue_entry.c.item_id)  # labeled, gold or withdrawn
    skipped = exists().where(
        assignment.c.item_id == queue_entry.c.item_id, assignment.c.state == "skipped"
    )
    q = select(func.count()).where(
        and_(queue_entry.c.model_version_id == model_version_id, ~resolved, ~skipped),
        taken < overlap,
    )
    return int(conn.execute(q, {"at": at}).scalar_one())


def any_served(conn: Connection, project_id: int) -> bool:
    """Whether the project ever leased an item to anyone (its first queue has been served)."""
    q = select(exists().where(assignment.c.project_id == project_id))
    return bool(conn.execute(q).scalar_one())
