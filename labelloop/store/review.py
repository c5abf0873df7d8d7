"""Reviews, flags, gold answers and the reads the quality report is computed from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
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
    func,
    or_,
    select,
    update,
)

from labelloop.store import highwater, review_leases
from labelloop.store.db import fetch, insert, insert_many, new_id
from labelloop.store.tables import (
    AUTO,
    annotation,
    assignment,
    audit_event,
    flag,
    gold_answer,
    item,
    item_label,
    model_version,
    queue_entry,
    review,
    user,
)
from labelloop.store.tasks import REWORK as REWORK  # re-exported: the review room names it
from labelloop.store.tasks import cold_start, decider_id, holds, lease_stmt
from labelloop.store.users import now

LIVE_STATES = ("submitted", "in_review", "escalated", "accepted", "fixed", "adjudicated")
"""Annotation states that count towards an item's label (``rejected`` ones were sent back)."""
ANSWER_STATES = (*LIVE_STATES, "rejected")
"""Every answer an annotator gave, those a reviewer sent back included: what agreement between
annotators compares (each one's first answer to an item, before review had a say)."""


def independent() -> Any:
    """Whether an answer is its annotator's own judgement of the item, which agreement between
    annotators compares: every answer but a reviewer's fix of an imported label (a second
    look, :mod:`labelloop.workflow.imported_issues`), the one answer given on no assignment."""
    return annotation.c.assignment_id.is_not(None)


def given_independently(row: Mapping[str, Any]) -> bool:
    """:func:`independent` of an annotation read with its ``assignment_id``: resolving an item
    counts only such answers as votes."""
    return row["assignment_id"] is not None


PENDING_STATES = ("in_review", "escalated")
"""Live states still waiting for a reviewer or the expert tier."""
IMPORTED = "import"
"""The strategy recorded on the assignment of an answer an import brought: the item was given
to its annotator in the tool the file came from, not served here."""


# ------------------------------------------------------------------------------ serving


def taken(conn: Connection, item_id: int, at: datetime) -> int:
    """Submitted assignments plus live leases of an item: the labels it has or will soon have."""
    q = select(func.count()).where(assignment.c.item_id == item_id, holds(assignment.c, at))
    return int(conn.execute(q).scalar_one())


def n_assignments(conn: Connection, *, project_id: int, user_id: int) -> int:
    q = select(func.count()).where(
        assignment.c.project_id == project_id, assignment.c.user_id == user_id
    )
    return int(conn.execute(q).scalar_one())


def gold_for(conn: Connection, *, project_id: int, user_id: int) -> RowMapping | None:
    """A pool gold item this user was never given, with the newest round's entry for it if any."""
    seen = select(assignment.c.id).where(
        assignment.c.item_id == gold_answer.c.item_id, assignment.c.user_id == user_id
    )
    newest = (
        select(model_version.c.id, model_version.c.version, model_version.c.strategy)
        .where(model_version.c.project_id == project_id)
        .order_by(model_version.c.version.desc())
        .limit(1)
        .subquery()
    )
    q = (
        select(
            gold_answer.c.item_id,
            item.c.external_id,
            item.c.payload,
            item.c.meta,
            item.c.prediction,
            queue_entry.c.rank,
            queue_entry.c.score,
            queue_entry.c.reason,
            queue_entry.c.suggestion,
            queue_entry.c.suggestion_confidence,
            queue_entry.c.suggestion_value,
            newest.c.id.label("model_version_id"),
            newest.c.version.label("model_version"),
            newest.c.strategy,
        )
        .join(item, item.c.id == gold_answer.c.item_id)
        .outerjoin(newest, newest.c.id.is_not(None))
        .outerjoin(
            queue_entry,
            and_(
                queue_entry.c.item_id == gold_answer.c.item_id,
                queue_entry.c.model_version_id == newest.c.id,
            ),
        )
        .where(gold_answer.c.project_id == project_id, item.c.split == "pool", ~seen.exists())
        .order_by(gold_answer.c.created_at, gold_answer.c.item_id)
        .limit(1)
    )
    return conn.execute(q).mappings().first()


def insert_assignment(conn: Connection, **values: Any) -> int:
    """A lease written outside the ranked queue (a gold check, a rework, an imported answer's),
    with its selection; by one statement built once, as an import writes thousands."""
    return insert(conn, lease_stmt(conn.dialect.name == "sqlite"), values)


def take_up(conn: Connection, assignment_id: int, *, until: datetime) -> None:
    """Record that a rework lease's annotator has its item on their page until ``until`` (a
    lease's length from when they were served it or renewed it): the dashboard counts it as
    being redone till then (``store.insight``), or till their page gives it back
    (``store.tasks.end_leases``). The lease keeps its end (the item stays theirs for the hours a
    rework is given) and its ``leased_at``, the time it was sent back."""
    q = update(assignment).where(assignment.c.id == assignment_id).values(taken_up_until=until)
    conn.execute(q)


def rework_lease(conn: Connection, assignment_id: int) -> RowMapping | None:
    """The rejected annotation (and its latest review) a rework lease was made for."""
    q = (
        select(
            annotation.c.id.label("annotation_id"),
            annotation.c.value,
            review.c.comment,
            user.c.username.label("reviewer"),
        )
        .select_from(assignment)
        .join(
            annotation,
            and_(
                annotation.c.item_id == assignment.c.item_id,
                annotation.c.user_id == assignment.c.user_id,
                annotation.c.status == "rejected",
            ),
        )
        .join(review, review.c.annotation_id == annotation.c.id)
        .join(user, user.c.id == review.c.reviewer_id)
        .where(assignment.c.id == assignment_id, review.c.verdict == "reject")
        .order_by(review.c.id.desc())
        .limit(1)
    )
    return conn.execute(q).mappings().first()


# ------------------------------------------------------------------------------ gold


def gold_item_ids(conn: Connection, project_id: int) -> set[int]:
    """The project's gold checks."""
    q = select(gold_answer.c.item_id).where(gold_answer.c.project_id == project_id)
    return {int(i) for (i,) in conn.execute(q)}


def gold_of(conn: Connection, item_id: int) -> RowMapping | None:
    return (
        conn.execute(select(gold_answer).where(gold_answer.c.item_id == item_id)).mappings().first()
    )


def set_gold(
    conn: Connection, *, project_id: int, item_id: int, value: dict[str, Any], by: int | None
) -> None:
    conn.execute(delete(gold_answer).where(gold_answer.c.item_id == item_id))
    conn.execute(
        gold_answer.insert().values(
            item_id=item_id, project_id=project_id, value=value, created_by=by, created_at=now()
        )
    )


def remove_gold(conn: Connection, item_id: int) -> int:
    return int(conn.execute(delete(gold_answer).where(gold_answer.c.item_id == item_id)).rowcount)


def gold_list(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Gold items with their answer and how many annotators answered them."""
    answered = (
        select(func.count())
        .where(annotation.c.item_id == gold_answer.c.item_id)
        .scalar_subquery()
        .label("answered")
    )
    q = (
        select(
            gold_answer.c.item_id,
            item.c.external_id,
            item.c.payload,
            gold_answer.c.value,
            gold_answer.c.created_at,
            answered,
        )
        .join(item, item.c.id == gold_answer.c.item_id)
        .where(gold_answer.c.project_id == project_id)
        .order_by(gold_answer.c.item_id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def items_by_external(
    conn: Connection, *, project_id: int, external_id: str, limit: int = 5
) -> list[RowMapping]:
    """The project's items with this external id, lowest item id first (at most ``limit``)."""
    q = select(item).where(item.c.project_id == project_id, item.c.external_id == external_id)
    return list(conn.execute(q.order_by(item.c.id).limit(limit)).mappings())


# ------------------------------------------------------------------------------ flags


CONFIDENCE_DIGITS = 4
"""Decimals a flag keeps of the probability of the label the model suggests, whichever check
raised it (a submitted answer's, a round's or a label-error scan's)."""


def insert_flags(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write flags (``project_id``, ``item_id``, ``kind`` and the other columns); each row may
    leave out the model's ``suggestion`` and ``suggestion_confidence``, which one rounds here."""
    insert_many(conn, flag, [_flag_row(r) for r in rows])


def _flag_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A flag to insert: the columns a check may leave out filled in (rows written together
    need the same keys), the model's probability to :data:`CONFIDENCE_DIGITS` decimals."""
    full = {"created_at": now(), "note": "", "suggestion": None, **row}
    p = full.get("suggestion_confidence")
    full["suggestion_confidence"] = None if p is None else round(float(p), CONFIDENCE_DIGITS)
    return full


def raise_user_flag(conn: Connection, **row: Any) -> tuple[int, bool]:
    """A person's flag (``project_id``, ``item_id``, ``user_id``, ``kind``, ``note``, ...): their
    open one of that kind on the item gets the new note (and annotation), else a row is added;
    returns (id, added)."""
    q = select(flag.c.id).where(
        flag.c.item_id == row["item_id"],
        flag.c.user_id == row["user_id"],
        flag.c.kind == row["kind"],
        flag.c.resolved_at.is_(None),
    )
    found = conn.execute(q.order_by(flag.c.id).limit(1)).scalar()
    if found is not None:
        values = {"note": row["note"]}
        if row.get("annotation_id") is not None:  # flagged again from the annotation
            values["annotation_id"] = row["annotation_id"]
        conn.execute(update(flag).where(flag.c.id == found).values(**values))
        return int(found), False
    return new_id(conn.execute(flag.insert().values(created_at=now(), **row))), True


def flagged_items(
    conn: Connection, item_ids: Iterable[int], *, kind: str | None = None, open_only: bool = True
) -> set[int]:
    """Which of ``item_ids`` have a flag (of ``kind`` when given; only open ones if
    ``open_only``), in one statement."""
    ids = sorted(set(item_ids))
    if not ids:
        return set()
    q = select(flag.c.item_id).where(flag.c.item_id.in_(ids)).distinct()
    if open_only:
        q = q.where(flag.c.resolved_at.is_(None))
    if kind is not None:
        q = q.where(flag.c.kind == kind)
    return {int(i) for i in conn.execute(q).scalars()}


def label_issue_known(conn: Connection, item_ids: Iterable[int]) -> set[int]:
    """Which of ``item_ids`` have a ``label_issue`` flag that stops another, in one statement:
    an open one, or one a person resolved (a reviewer who kept the label is not asked again).
    One the model closed (``resolved_note``: it came to agree with the label) does not, so a
    later model that contradicts the label again flags it anew."""
    ids = sorted(set(item_ids))
    if not ids:
        return set()
    q = (
        select(flag.c.item_id)
        .where(
            flag.c.item_id.in_(ids),
            flag.c.kind == "label_issue",
            or_(flag.c.resolved_at.is_(None), flag.c.resolved_note.is_(None)),
        )
        .distinct()
    )
    return {int(i) for i in conn.execute(q).scalars()}


def add_label_issues(
    conn: Connection, project_id: int, found: Sequence[dict[str, Any]], *, to_review: bool
) -> list[int]:
    """Flag each of ``found`` (``item_id``, ``annotation_id``, ``user_id``, ``note``, ``score``,
    and the label the model says instead as ``suggestion`` with its ``suggestion_confidence``)
    as a likely label error unless :func:`label_issue_known` (a reviewer who kept the label is
    not asked again); ``to_review`` sends the flagged annotations back to review. Returns the
    items flagged. One statement reads the old flags, one writes the new: this runs inside the
    learner's write transactions, which every annotator's write waits for."""
    seen = label_issue_known(conn, (f["item_id"] for f in found))
    new = [
        {"project_id": project_id, "kind": "label_issue", **f}
        for f in found
        if f["item_id"] not in seen
    ]
    insert_flags(conn, new)
    if to_review:
        set_status(conn, [f["annotation_id"] for f in new if f["annotation_id"]], "in_review")
    return [int(f["item_id"]) for f in new]


def open_label_issues(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's open ``label_issue`` flags, each with what closing it would touch: its
    annotation's status, the strategy of the lease that served it (a rework's), that
    annotation's latest verdict and the item's label resolution. Open ones are few (each waits
    for a person), so this reads them all rather than look up thousands of checked items."""
    latest_verdict = (
        select(review.c.verdict)
        .where(review.c.annotation_id == flag.c.annotation_id)
        .order_by(review.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    q = (
        select(
            flag.c.id,
            flag.c.item_id,
            flag.c.annotation_id,
            annotation.c.user_id.label("annotator_id"),
            annotation.c.status,
            assignment.c.strategy.label("served_as"),
            latest_verdict.label("verdict"),
            item_label.c.resolution,
        )
        .outerjoin(annotation, annotation.c.id == flag.c.annotation_id)
        .outerjoin(assignment, assignment.c.id == annotation.c.assignment_id)
        .outerjoin(item_label, item_label.c.item_id == flag.c.item_id)
        .where(
            flag.c.project_id == project_id,
            flag.c.kind == "label_issue",
            flag.c.resolved_at.is_(None),
        )
        .order_by(flag.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def open_flags_on(conn: Connection, item_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The open flags of ``item_ids`` (id, item, annotation and its status, user, kind), in one
    statement."""
    ids = sorted(set(item_ids))
    if not ids:
        return []
    q = (
        select(
            flag.c.id,
            flag.c.item_id,
            flag.c.annotation_id,
            annotation.c.status,
            flag.c.user_id,
            flag.c.kind,
        )
        .outerjoin(annotation, annotation.c.id == flag.c.annotation_id)
        .where(flag.c.item_id.in_(ids), flag.c.resolved_at.is_(None))
    )
    return [dict(r) for r in conn.execute(q.order_by(flag.c.id)).mappings()]


def close_by_model(conn: Connection, notes: Mapping[int, str]) -> None:
    """Close open flags (id -> why) on the model's word: resolved by nobody, with the reason
    kept in ``resolved_note`` (:func:`label_issue_known` tells such a close from a person's)."""
    if notes:
        conn.execute(
            update(flag)
            .where(flag.c.id == bindparam("flag_id"), flag.c.resolved_at.is_(None))
            .values(resolved_at=now(), resolved_note=bindparam("why")),
            [{"flag_id": i, "why": why} for i, why in notes.items()],
        )


def resolve_flags(
    conn: Connection,
    *,
    by: int | None,
    item_id: int | None = None,
    project_id: int | None = None,
    kinds: Sequence[str] | None = None,
    annotation_id: int | None = None,
) -> int:
    """Resolve the open flags of an item, or of a whole project (of ``kinds`` only, and on
    ``annotation_id`` only, when given); how many were open."""
    if (item_id is None) == (project_id is None):
        raise ValueError("resolve the flags of an item or of a project")
    where = flag.c.item_id == item_id if item_id is not None else flag.c.project_id == project_id
    q = update(flag).where(where, flag.c.resolved_at.is_(None))
    if annotation_id is not None:
        q = q.where(flag.c.annotation_id == annotation_id)
    if kinds is not None:
        q = q.where(flag.c.kind.in_(list(kinds)))
    res = conn.execute(q.values(resolved_at=now(), resolved_by=by))
    return int(res.rowcount)


def resolve_annotation_flags(
    conn: Connection, annotation: Mapping[str, Any], *, by: int | None
) -> None:
    """Resolve the flags on a reviewed annotation: those raised on it, and those its annotator
    raised on the item while labeling it ("!" flags a task before its answer exists)."""
    on_task = and_(
        flag.c.annotation_id.is_(None),
        flag.c.item_id == annotation["item_id"],
        flag.c.user_id == annotation["user_id"],
    )
    conn.execute(
        update(flag)
        .where(or_(flag.c.annotation_id == annotation["id"], on_task), flag.c.resolved_at.is_(None))
        .values(resolved_at=now(), resolved_by=by)
    )


def flags_of(conn: Connection, item_id: int) -> list[dict[str, Any]]:
    q = _flags_select().where(flag.c.item_id == item_id).order_by(flag.c.id)
    return [dict(r) for r in conn.execute(q).mappings()]


def items_flags(conn: Connection, item_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """:func:`flags_of` many items in one statement, by item (none: no entry)."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not item_ids:
        return found
    q = _flags_select().where(flag.c.item_id.in_(sorted(set(item_ids)))).order_by(flag.c.id)
    for r in conn.execute(q).mappings():
        found.setdefault(int(r["item_id"]), []).append(dict(r))
    return found


def _flags_select() -> Select[Any]:
    return select(flag, user.c.username).outerjoin(user, user.c.id == flag.c.user_id)


def flag_list(
    conn: Connection,
    project_id: int,
    *,
    kind: str | None,
    open_only: bool,
    hidden: Sequence[str] = (),
    limit: int,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """A page of the project's flags, newest first, without the kinds ``hidden`` (left out
    before the page is cut, so a page is never short because of them)."""
    q = (
        select(flag, user.c.username, item.c.external_id)
        .join(item, item.c.id == flag.c.item_id)
        .outerjoin(user, user.c.id == flag.c.user_id)
        .where(flag.c.project_id == project_id)
    )
    if kind:
        q = q.where(flag.c.kind == kind)
    if open_only:
        q = q.where(flag.c.resolved_at.is_(None))
    if hidden:
        q = q.where(flag.c.kind.not_in(hidden))
    q = q.order_by(flag.c.id.desc()).limit(limit).offset(offset)
    return [dict(r) for r in conn.execute(q).mappings()]


def open_flag_counts(conn: Connection, project_id: int) -> dict[str, int]:
    q = (
        select(flag.c.kind, func.count())
        .where(flag.c.project_id == project_id, flag.c.resolved_at.is_(None))
        .group_by(flag.c.kind)
    )
    return {str(k): int(n) for k, n in conn.execute(q)}


def flag_rows(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = select(
        flag.c.kind,
        flag.c.user_id,
        flag.c.annotation_id,
        flag.c.item_id,
        flag.c.resolved_at,
        flag.c.resolved_note,
    ).where(flag.c.project_id == project_id)
    return [dict(r) for r in conn.execute(q).mappings()]


# ------------------------------------------------------------------------------ reviews


def corrected_value() -> Any:
    """The corrected value of an annotation's latest fix (NULL when it was never fixed)."""
    fix = review.alias("fix")  # an alias, so a query that joins a review too correlates only this
    return (
        select(fix.c.corrected_value)
        .where(fix.c.annotation_id == annotation.c.id, fix.c.verdict == "fix")
        .order_by(fix.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _annotations_select() -> Select[Any]:
    """Annotations with their annotator, latest correction and the selection that served them
    (``served_as``, ``picked_because``, ``picked_rank``: None off the queue, and whether the
    round that queued it was a ``cold_start``)."""
    return (
        select(
            annotation,
            user.c.username,
            corrected_value().label("corrected_value"),
            assignment.c.strategy.label("served_as"),
            assignment.c.reason.label("picked_because"),
            assignment.c.rank.label("picked_rank"),
            cold_start(),
        )
        .join(user, user.c.id == annotation.c.user_id)
        .outerjoin(assignment, assignment.c.id == annotation.c.assignment_id)
        .outerjoin(model_version, model_version.c.id == assignment.c.model_version_id)
    )


@cache
def _item_annotations_stmt() -> Any:
    return (
        _annotations_select()
        .where(annotation.c.item_id == bindparam("item_id"))
        .order_by(annotation.c.id)
    )


def item_annotations(conn: Connection, item_id: int) -> list[dict[str, Any]]:
    """Every annotation of an item, oldest first, with its annotator and latest correction."""
    return fetch(conn, _item_annotations_stmt(), {"item_id": item_id})


def items_annotations(conn: Connection, item_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """:func:`item_annotations` of many items in one statement, by item (none: no entry)."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not item_ids:
        return found
    q = _annotations_select().where(annotation.c.item_id.in_(sorted(set(item_ids))))
    for r in conn.execute(q.order_by(annotation.c.id)).mappings():
        found.setdefault(int(r["item_id"]), []).append(dict(r))
    return found


def insert_assignments(
    conn: Connection, rows: Sequence[dict[str, Any]]
) -> dict[tuple[int, int], int]:
    """Leases written outside the queue for items nobody had one of yet (the answers an import
    brings to its new items), in one :func:`insert_many`; their ids by (item, user), which the
    rows hold once each."""
    if not rows:
        return {}
    insert_many(conn, assignment, rows, stmt=highwater.insert_of(conn, assignment))
    q = (
        select(assignment.c.id, assignment.c.item_id, assignment.c.user_id)
        .where(assignment.c.item_id.in_(sorted({int(r["item_id"]) for r in rows})))
        .order_by(assignment.c.id)  # a lease of an item held before (run out): the new one
    )
    return {(int(i), int(u)): int(a) for a, i, u in conn.execute(q)}


def holders(
    conn: Connection, item_ids: Sequence[int], *, at: datetime
) -> dict[int, dict[int, dict[str, Any]]]:
    """Who has each of these items already, by item then user: an answer (whatever its
    status), a skip, or a lease held at ``at``. Each row gives the ``assignment_id``, the
    ``annotation_id`` (None: a skip or a lease) and when the answer was ``created_at`` and
    ``updated_at`` (a skip's or a lease's: when it was leased); of several, the newest."""
    found: dict[int, dict[int, dict[str, Any]]] = {}
    if not item_ids:
        return found
    q = (
        select(
            assignment.c.id.label("assignment_id"),
            assignment.c.item_id,
            assignment.c.user_id,
            annotation.c.id.label("annotation_id"),
            func.coalesce(annotation.c.created_at, assignment.c.leased_at).label("created_at"),
            func.coalesce(annotation.c.updated_at, assignment.c.leased_at).label("updated_at"),
        )
        .outerjoin(annotation, annotation.c.assignment_id == assignment.c.id)
        .where(assignment.c.item_id.in_(sorted(set(item_ids))))
        .where(
            holds(assignment.c, at)
            | (assignment.c.state == "skipped")
            | annotation.c.id.is_not(None)  # a rejected answer's lease was released
        )
        .order_by(assignment.c.id)
    )
    for r in conn.execute(q).mappings():
        found.setdefault(int(r["item_id"]), {})[int(r["user_id"])] = dict(r)
    return found


def delete_answers(conn: Connection, assignment_ids: Sequence[int]) -> None:
    """Delete answers (or skips) and their leases that this transaction wrote and nothing
    refers to any more (an import's answer a newer one by the same annotator replaces): no
    other transaction saw their ids, so none is retired."""
    if assignment_ids:
        ids = sorted(set(assignment_ids))
        answers = select(annotation.c.id).where(annotation.c.assignment_id.in_(ids))
        conn.execute(delete(flag).where(flag.c.annotation_id.in_(answers)))
        conn.execute(delete(annotation).where(annotation.c.assignment_id.in_(ids)))
        conn.execute(delete(assignment).where(assignment.c.id.in_(ids)))


def delete_flags(conn: Connection, item_ids: Sequence[int], *, kinds: Sequence[str]) -> None:
    """Delete the flags of these kinds of these items (an import's items resolving again
    from the start: what resolving them flagged before)."""
    if item_ids:
        conn.execute(
            delete(flag).where(flag.c.item_id.in_(sorted(set(item_ids))), flag.c.kind.in_(kinds))
        )


def resubmit(conn: Connection, item_ids: Sequence[int]) -> None:
    """Give every answer of these items the status ``submitted`` again (an import's items
    resolving again from the start: no reviewer saw them, and they keep their times)."""
    if item_ids:
        conn.execute(
            update(annotation)
            .where(
                annotation.c.item_id.in_(sorted(set(item_ids))),
                annotation.c.status != "submitted",
            )
            .values(status="submitted")
        )


def set_status(
    conn: Connection,
    annotation_ids: Iterable[int],
    status: str,
    *,
    was: str | None = None,
    touch: bool = True,
) -> None:
    """Give annotations ``status`` (only those still in status ``was``, when given), and
    ``updated_at`` now unless not to ``touch`` it."""
    ids = list(annotation_ids)
    if ids:
        q = update(annotation).where(annotation.c.id.in_(ids))
        if was is not None:
            q = q.where(annotation.c.status == was)
        conn.execute(q.values(status=status, **({"updated_at": now()} if touch else {})))


def release_assignment(conn: Connection, assignment_id: int | None) -> None:
    """Stop counting a rejected annotation's assignment as a label the item has."""
    if assignment_id is not None:
        conn.execute(
            update(assignment).where(assignment.c.id == assignment_id).values(state="released")
        )


def unlabel(conn: Connection, item_id: int) -> None:
    """Withdraw an item's resolved label (its source annotation was rejected)."""
    conn.execute(delete(item_label).where(item_label.c.item_id == item_id))


def insert_review(conn: Connection, **values: Any) -> int:
    """A verdict, made now unless ``created_at`` says when."""
    return new_id(conn.execute(review.insert().values({"created_at": now(), **values})))


def item_reviews(conn: Connection, item_id: int) -> list[dict[str, Any]]:
    q = (
        select(review, user.c.username.label("reviewer"), annotation.c.user_id)
        .join(annotation, annotation.c.id == review.c.annotation_id)
        .join(user, user.c.id == review.c.reviewer_id)
        .where(annotation.c.item_id == item_id)
        .order_by(review.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def verdict_counts(conn: Connection, *, project_id: int, user_id: int) -> dict[str, int]:
    """Tier-1 verdicts on one annotator's work (what qualification is measured on)."""
    q = (
        select(review.c.verdict, func.count())
        .join(annotation, annotation.c.id == review.c.annotation_id)
        .where(
            annotation.c.project_id == project_id,
            annotation.c.user_id == user_id,
            review.c.tier == 1,
        )
        .group_by(review.c.verdict)
    )
    return {str(v): int(n) for v, n in conn.execute(q)}


def _not_annotated_by(reviewer_id: int) -> Any:
    mine = annotation.alias("mine")
    own = select(mine.c.id).where(mine.c.item_id == item.c.id, mine.c.user_id == reviewer_id)
    return ~own.exists()


def review_candidates(
    conn: Connection,
    *,
    project_id: int,
    reviewer_id: int,
    status: str,
    skip: Sequence[int],
    passed: Sequence[int] = (),
    at: datetime,
    limit: int,
) -> list[tuple[int, int]]:
    """Annotations waiting in a review tier (with their items), oldest first, on items the
    reviewer never labeled and no other reviewer has leased at ``at``; an item leased to the
    reviewer comes first. ``skip`` lists annotations, ``passed`` items, to leave out."""
    mine = review_leases.leased_to(annotation.c.item_id, reviewer_id, at)
    q = (
        select(annotation.c.id, annotation.c.item_id)
        .join(item, item.c.id == annotation.c.item_id)
        .where(
            annotation.c.project_id == project_id,
            annotation.c.status == status,
            _not_annotated_by(reviewer_id),
            ~review_leases.leased_to_others(annotation.c.item_id, reviewer_id, at),
        )
    )
    if skip:
        q = q.where(annotation.c.id.not_in(list(skip)))
    if passed:
        q = q.where(annotation.c.item_id.not_in(list(passed)))
    q = q.order_by(case((mine, 0), else_=1), annotation.c.id).limit(limit)
    return [(int(a), int(i)) for a, i in conn.execute(q)]


def escalated_items(
    conn: Connection,
    *,
    project_id: int,
    manager_id: int,
    skip: Sequence[int],
    at: datetime,
    limit: int,
) -> list[int]:
    """Items waiting for adjudication, oldest escalation first, that the manager never labeled
    and no one else of the expert tier has leased at ``at``; an item leased to the manager comes
    first. ``skip`` lists items to leave out."""
    mine = review_leases.leased_to(item.c.id, manager_id, at)
    q = (
        select(item.c.id, func.min(annotation.c.id).label("first"))
        .join(annotation, annotation.c.item_id == item.c.id)
        .where(
            item.c.project_id == project_id,
            annotation.c.status == "escalated",
            _not_annotated_by(manager_id),
            ~review_leases.leased_to_others(item.c.id, manager_id, at),
        )
        .group_by(item.c.id)
    )
    if skip:
        q = q.where(item.c.id.not_in(list(skip)))
    q = q.order_by(case((mine, 0), else_=1), "first").limit(limit)
    return [int(r[0]) for r in conn.execute(q)]


def status_counts(conn: Connection, project_id: int) -> dict[str, int]:
    q = (
        select(annotation.c.status, func.count())
        .where(annotation.c.project_id == project_id)
        .group_by(annotation.c.status)
    )
    return {str(s): int(n) for s, n in conn.execute(q)}


def n_escalated_items(conn: Connection, project_id: int) -> int:
    q = select(func.count(func.distinct(annotation.c.item_id))).where(
        annotation.c.project_id == project_id, annotation.c.status == "escalated"
    )
    return int(conn.execute(q).scalar_one())


def own_reviews(
    conn: Connection, *, project_id: int, user_id: int, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """Verdicts on one annotator's work, newest first (their feedback; never others' work)."""
    q = (
        select(
            review.c.id,
            review.c.verdict,
            review.c.comment,
            review.c.corrected_value,
            review.c.tier,
            review.c.created_at,
            annotation.c.id.label("annotation_id"),
            annotation.c.item_id,
            annotation.c.value,
            annotation.c.status,
            item.c.external_id,
        )
        .join(annotation, annotation.c.id == review.c.annotation_id)
        .join(item, item.c.id == annotation.c.item_id)
        .where(
            annotation.c.project_id == project_id,
            annotation.c.user_id == user_id,
            review.c.verdict != "escalate",
        )
        .order_by(review.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def item_label_of(conn: Connection, item_id: int) -> dict[str, Any] | None:
    q = (
        select(item_label, user.c.username.label("decided_by_name"))
        .select_from(item_label)
        .outerjoin(user, user.c.id == decider_id())
        .where(item_label.c.item_id == item_id)
    )
    row = conn.execute(q).mappings().first()
    return dict(row) if row is not None else None


def prediction_for(conn: Connection, item_id: int) -> dict[str, Any] | None:
    """The model's latest word on an item: its newest queue suggestion, else the last one shown."""
    q = (
        select(
            queue_entry.c.suggestion,
            queue_entry.c.suggestion_confidence,
            model_version.c.version,
        )
        .join(model_version, model_version.c.id == queue_entry.c.model_version_id)
        .where(queue_entry.c.item_id == item_id, queue_entry.c.suggestion.is_not(None))
        .order_by(model_version.c.version.desc())
        .limit(1)
    )
    row = conn.execute(q).mappings().first()
    if row is None:
        q = (
            select(
                annotation.c.suggestion,
                annotation.c.suggestion_confidence,
                annotation.c.model_version.label("version"),
            )
            .where(annotation.c.item_id == item_id, annotation.c.suggestion.is_not(None))
            .order_by(annotation.c.model_version.desc(), annotation.c.id.desc())
            .limit(1)
        )
        row = conn.execute(q).mappings().first()
    if row is None:
        return None
    return {
        "label": row["suggestion"],
        "confidence": row["suggestion_confidence"],
        "model_version": row["version"],
    }


def item_history(
    conn: Connection, *, project_id: int, item_id: int, actor_id: int | None = None
) -> list[dict[str, Any]]:
    """The audit events about one item, oldest first; with ``actor_id``, that user's only."""
    q = (
        select(
            audit_event.c.at,
            audit_event.c.action,
            audit_event.c.payload,
            user.c.username.label("actor"),
        )
        .outerjoin(user, user.c.id == audit_event.c.actor_id)
        .where(
            audit_event.c.project_id == project_id,
            audit_event.c.subject == f"item:{item_id}",
        )
        .order_by(audit_event.c.id)
        .limit(500)
    )
    if actor_id is not None:
        q = q.where(audit_event.c.actor_id == actor_id)
    return [dict(r) for r in conn.execute(q).mappings()]


# ------------------------------------------------------------------------------ resolution


def live_votes(conn: Connection, project_id: int, *, limit_items: int) -> list[dict[str, Any]]:
    """(item, annotator, effective value) of live annotations on recently labeled multi-annotated
    items: the matrix Dawid–Skene estimates annotator reliability from (annotators' own
    answers only, :func:`independent`)."""
    votes = and_(annotation.c.status.in_(LIVE_STATES), independent())
    multi = (
        select(annotation.c.item_id)
        .where(annotation.c.project_id == project_id, votes)
        .group_by(annotation.c.item_id)
        .having(func.count() >= 2)
        .order_by(annotation.c.item_id.desc())
        .limit(limit_items)
        .subquery()
    )
    q = (
        select(
            annotation.c.item_id,
            annotation.c.user_id,
            annotation.c.value,
            corrected_value().label("corrected_value"),
        )
        .where(annotation.c.item_id.in_(select(multi.c.item_id)), votes)
        .order_by(annotation.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


# ------------------------------------------------------------------------------ quality reads


def annotation_rows(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every annotation with its annotator, item metadata, resolved label and gold answer."""
    q = (
        select(
            annotation.c.id,
            annotation.c.item_id,
            annotation.c.user_id,
            user.c.username,
            annotation.c.value,
            annotation.c.status,
            annotation.c.active_ms,
            annotation.c.created_at,
            annotation.c.guideline_version,
            independent().label("independent"),
            item.c.meta,
            item_label.c.label.label("resolved"),
            item_label.c.resolution,
            item_label.c.annotation_id.label("resolved_from"),
            gold_answer.c.value.label("gold"),
        )
        .join(user, user.c.id == annotation.c.user_id)
        .join(item, item.c.id == annotation.c.item_id)
        .outerjoin(item_label, item_label.c.item_id == annotation.c.item_id)
        .outerjoin(gold_answer, gold_answer.c.item_id == annotation.c.item_id)
        .where(annotation.c.project_id == project_id)
        .order_by(annotation.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def review_rows(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every verdict with the annotator it was about and the reviewer who gave it."""
    q = (
        select(
            review.c.verdict,
            review.c.tier,
            review.c.reviewer_id,
            annotation.c.user_id,
            annotation.c.id.label("annotation_id"),
        )
        .join(annotation, annotation.c.id == review.c.annotation_id)
        .where(annotation.c.project_id == project_id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def labeled_pool(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Resolved pool items with their payload and the annotation (and annotator) behind each;
    the model's own labels (auto-label runs) are left out."""
    q = (
        select(
            item.c.id,
            item.c.payload,
            item_label.c.label,
            item_label.c.annotation_id,
            annotation.c.user_id,
        )
        .join(item_label, item_label.c.item_id == item.c.id)
        .outerjoin(annotation, annotation.c.id == item_label.c.annotation_id)
        .outerjoin(gold_answer, gold_answer.c.item_id == item.c.id)
        .where(
            item.c.project_id == project_id,
            item.c.split == "pool",
            item_label.c.label.is_not(None),
            item_label.c.resolution != AUTO,
            gold_answer.c.item_id.is_(None),
        )
        .order_by(item.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def label_sources(conn: Connection, item_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The annotation (and annotator) behind each resolved label of ``item_ids``; gold items are
    left out (their label is the answer key, not something to re-check)."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    q = (
        select(item_label.c.item_id, item_label.c.annotation_id, annotation.c.user_id)
        .outerjoin(annotation, annotation.c.id == item_label.c.annotation_id)
        .outerjoin(gold_answer, gold_answer.c.item_id == item_label.c.item_id)
        .where(item_label.c.item_id.in_(ids), gold_answer.c.item_id.is_(None))
    )
    return {int(r["item_id"]): dict(r) for r in conn.execute(q).mappings()}


def usernames(conn: Connection, user_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    q = select(user.c.id, user.c.username).where(user.c.id.in_(ids))
    return {int(i): str(n) for i, n in conn.execute(q)}
