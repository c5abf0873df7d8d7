"""The export queries: resolved labels joined with the annotation and selection they came from,
and with who decided them; and every answer with its review, its item's gold answer and label."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, RowMapping, case, func, select

from labelloop.store.review import LIVE_STATES, corrected_value
from labelloop.store.tables import (
    AUTO,
    annotation,
    assignment,
    auto_label_run,
    gold_answer,
    item,
    item_label,
    model_version,
    review,
    user,
)
from labelloop.store.tasks import cold_start, decider_id


def labeled_rows(
    conn: Connection, project_id: int, *, auto: bool = True, split: str = "pool"
) -> Iterator[RowMapping]:
    """Items of ``split`` with a resolved label, in id order; ``username`` is the annotator's,
    ``decided_by_name`` the user's who decided the label (a reviewer, adjudicator or importer,
    the one annotator of a ``single`` label, or who applied an auto-label run: then
    ``confidence``, ``auto_run_id``, the run's ``threshold`` and ``run_model_version`` say how
    sure which model was). ``auto=False`` leaves the model's labels out.

    A label the expert tier decided otherwise than every answer comes from none of them: its
    row has the item's first live answer (who answered what, when, under which guideline, and
    the selection that picked the item), as a label a reviewer fixed has the answer it fixed.
    ``cold_start`` says whether the round that queued the item trained no model."""
    decider = user.alias("decider")
    first = annotation.alias("first_answer")
    first_answer = (
        select(func.min(first.c.id))
        .where(first.c.item_id == item_label.c.item_id, first.c.status.in_(LIVE_STATES))
        .scalar_subquery()
    )
    # Only such a label looks for it (a CASE runs its subquery only where it is true).
    answer_id = func.coalesce(
        item_label.c.annotation_id,
        case((item_label.c.resolution == "adjudicated", first_answer)),
    )
    q = (
        select(
            item.c.id.label("item_id"),
            item.c.external_id,
            item.c.payload,
            item.c.meta,
            item_label.c.value,
            item_label.c.resolution,
            item_label.c.decided_at,
            decider.c.username.label("decided_by_name"),
            user.c.username,
            annotation.c.id.label("annotation_id"),
            annotation.c.value.label("annotation_value"),
            annotation.c.created_at.label("annotated_at"),
            annotation.c.active_ms,
            annotation.c.guideline_version,
            annotation.c.schema_version,
            annotation.c.model_version,
            annotation.c.suggestion,
            annotation.c.suggestion_confidence,
            annotation.c.suggestion_value,
            annotation.c.suggestion_source,
            assignment.c.strategy,
            assignment.c.score,
            assignment.c.rank,
            assignment.c.reason,
            cold_start(),
            item_label.c.confidence,
            item_label.c.auto_run_id,
            auto_label_run.c.confidence.label("threshold"),
            auto_label_run.c.model_version.label("run_model_version"),
        )
        .select_from(item_label)
        .join(item, item.c.id == item_label.c.item_id)
        .outerjoin(annotation, annotation.c.id == answer_id)
        .outerjoin(user, user.c.id == annotation.c.user_id)
        .outerjoin(assignment, assignment.c.id == annotation.c.assignment_id)
        .outerjoin(model_version, model_version.c.id == assignment.c.model_version_id)
        .outerjoin(decider, decider.c.id == decider_id())
        .outerjoin(auto_label_run, auto_label_run.c.id == item_label.c.auto_run_id)
        .where(item_label.c.project_id == project_id, item.c.split == split)
        .order_by(item.c.id)
    )
    if not auto:
        q = q.where(item_label.c.resolution != AUTO)
    yield from conn.execution_options(yield_per=2000).execute(q).mappings()


def label_answers(
    conn: Connection, project_id: int, *, split: str = "pool"
) -> Iterator[RowMapping]:
    """The live answers behind the labels of ``split`` (``item_id``, the answer's own id,
    ``answer_id``, the annotator's
    ``username``, the ``guideline_version`` and ``schema_version`` answered under, the
    answer's ``value``, when it was given, ``answered_at``, and its ``active_ms``), with the
    selection that served the item to each annotator (``strategy``, ``rank``, ``reason``,
    ``model_version``, ``cold_start``, as :func:`answer_rows` gives them), in the order of
    :func:`labeled_rows`' items, each item's oldest first."""
    q = (
        select(
            annotation.c.item_id,
            annotation.c.id.label("answer_id"),
            user.c.username,
            annotation.c.guideline_version,
            annotation.c.schema_version,
            annotation.c.value,
            annotation.c.created_at.label("answered_at"),
            annotation.c.active_ms,
            annotation.c.model_version,
            assignment.c.strategy,
            assignment.c.rank,
            assignment.c.reason,
            cold_start(),
        )
        .select_from(annotation)
        .join(item_label, item_label.c.item_id == annotation.c.item_id)
        .join(item, item.c.id == annotation.c.item_id)
        .join(user, user.c.id == annotation.c.user_id)
        .outerjoin(assignment, assignment.c.id == annotation.c.assignment_id)
        .outerjoin(model_version, model_version.c.id == assignment.c.model_version_id)
        .where(
            annotation.c.project_id == project_id,
            item.c.split == split,
            annotation.c.status.in_(LIVE_STATES),
        )
        .order_by(annotation.c.item_id, annotation.c.id)
    )
    yield from conn.execution_options(yield_per=2000).execute(q).mappings()


def n_answers(conn: Connection, project_id: int, *, split: str) -> int:
    """How many answers :func:`answer_rows` gives for ``split``: every answer to its items."""
    q = (
        select(func.count())
        .select_from(annotation)
        .join(item, item.c.id == annotation.c.item_id)
        .where(annotation.c.project_id == project_id, item.c.split == split)
    )
    return int(conn.execute(q).scalar_one())


def answer_rows(
    conn: Connection, project_id: int, *, auto: bool = True, split: str = "pool"
) -> Iterator[RowMapping]:
    """Every answer to the items of ``split``, by item id then answer id, whatever review made
    of it (a rejected one too; skips and leases are no answers): who gave it, its latest
    verdict (``verdict``, ``review_tier``, ``reviewed_by``, ``reviewed_at``,
    ``review_comment``), the value its latest fix set (``fixed_value``), how its item was
    served (``strategy``, ``rank``) and why it was picked (``reason``; ``cold_start``: by a
    round that trained no model), the item's gold answer
    (``gold_value``) and resolved label (``label_value``, ``resolution``; ``auto=False`` leaves
    an auto label out)."""
    reviewer = user.alias("reviewer")
    later = review.alias("later")
    latest = (
        select(func.max(later.c.id)).where(later.c.annotation_id == annotation.c.id)
    ).scalar_subquery()
    labeled = item_label.c.item_id == item.c.id
    if not auto:
        labeled = labeled & (item_label.c.resolution != AUTO)
    q = (
        select(
            item.c.id.label("item_id"),
            item.c.external_id,
            item.c.payload,
            item.c.meta,
            annotation.c.id.label("annotation_id"),
            user.c.username,
            annotation.c.value,
            annotation.c.status,
            annotation.c.created_at.label("answered_at"),
            annotation.c.active_ms,
            annotation.c.guideline_version,
            annotation.c.schema_version,
            annotation.c.model_version,
            annotation.c.suggestion,
            annotation.c.suggestion_confidence,
            assignment.c.strategy,
            assignment.c.rank,
            assignment.c.reason,
            cold_start(),
            review.c.verdict,
            review.c.tier.label("review_tier"),
            review.c.comment.label("review_comment"),
            review.c.created_at.label("reviewed_at"),
            reviewer.c.username.label("reviewed_by"),
            corrected_value().label("fixed_value"),
            gold_answer.c.value.label("gold_value"),
            item_label.c.value.label("label_value"),
            item_label.c.resolution,
        )
        .select_from(annotation)
        .join(item, item.c.id == annotation.c.item_id)
        .join(user, user.c.id == annotation.c.user_id)
        .outerjoin(assignment, assignment.c.id == annotation.c.assignment_id)
        .outerjoin(model_version, model_version.c.id == assignment.c.model_version_id)
        .outerjoin(review, review.c.id == latest)
        .outerjoin(reviewer, reviewer.c.id == review.c.reviewer_id)
        .outerjoin(gold_answer, gold_answer.c.item_id == item.c.id)
        .outerjoin(item_label, labeled)
        .where(annotation.c.project_id == project_id, item.c.split == split)
        .order_by(item.c.id, annotation.c.id)
    )
    yield from conn.execution_options(yield_per=2000).execute(q).mappings()
