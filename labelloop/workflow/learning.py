"""Training rounds: read a snapshot, fit outside any transaction, swap in the new queue at once."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labelloop.domain import MISSING, Pool, RoundSummary
from labelloop.errors import LabelloopError, SchemaError
from labelloop.insight.cohorts import COHORT_FIELD, per_cohort, tag_text
from labelloop.learn import (
    choose_stop_set,
    make_model,
    make_stopping,
    make_strategy,
    run_round,
)
from labelloop.learn.featurize import (
    caches_per_item,
    leading_rows,
    missing_requirement,
    per_item_part,
)
from labelloop.learn.model import ModelFitError, model_label
from labelloop.learn.relabel import LabelCheck
from labelloop.learn.threads import one_thread
from labelloop.schema.project import STRUCTURED_TYPES
from labelloop.schema.settings import registry_problem
from labelloop.store import audit
from labelloop.store import learning as store_learning
from labelloop.store import projects as store_projects
from labelloop.store import review as store_review
from labelloop.store import tasks as store_tasks
from labelloop.store.db import Database, Quiet
from labelloop.store.tables import COLD_START_MODEL
from labelloop.store.users import now
from labelloop.workflow import label_issues
from labelloop.workflow.features import FALLBACK_FEATURIZER, TIDY_EVERY_S, FeatureCache
from labelloop.workflow.media import readable_payloads
from labelloop.workflow.projects import ProjectContext, system_context
from labelloop.workflow.shutdown import whole
from labelloop.workflow.status import STRATEGY_SETTING, note_learner, settings_problem

log = logging.getLogger("labelloop.learner")
STOP_SET_SIZE = 1000
MIN_ROUND_GAP_S = 1.0
ROUND_RETRY_FIRST_S = 5.0
"""After a failed round the learner waits this long before the project's next try, twice as
long after each further failure in a row..."""
ROUND_RETRY_MAX_S = 600.0
"""...up to this (every ten minutes)."""
SCAN_EVERY = 10  # rounds between scans of the labeled set for likely label errors
TRAINING_LOCKS = 3 << 40  # one lock per project: a single learner trains it at a time
FEATURE_SLICE_S = 10.0  # embeddings computed per learner pass, so other projects get their turn
QUEUE_SLICE = 200  # entries the new queue starts with (committed with its model version)
APPEND_SLICE = 200  # entries added per transaction after that (about a millisecond of lock)
PRUNE_SLICE = 500  # old entries deleted per transaction (deleting is cheaper than inserting)
WRITE_PAUSE_S = 0.005  # between slices, so waiting annotators' writes get the lock first
PASS_RETRY_S = 5.0  # after a learner pass fails outside any project (the database away)
QUIET_PASS_S = 2.0
"""While nothing was written to the database, the learner looks at every project this often
rather than at every poll: what changes meanwhile without a write (a lease running out, a
round's rest ending) waits for it."""
ALL, FIRST, LATER = "all", "first", "later"
"""What a learner pass runs (:meth:`Learner.run_once`): everything, or the share of one of the
two threads of a learner started at the lowest priority."""
__all__ = [
    "FeatureCache",
    "Learner",
    "RoundOutcome",
    "due",
    "prepare_features",
    "queue_length",
    "round_coming",
    "settings_problem",
    "stop_set",
    "train",
]


def classifier_problem(ctx: ProjectContext, needs: str) -> str | None:
    """Why work that trains the project's classifier outside a round (a simulation, a model
    file) cannot, or ``None``: it ``needs`` a single-label target, and usable settings."""
    target = ctx.schema.target
    if target.type != "choice":
        return f"{needs}; project '{ctx.slug}' labels {target.type} ('{target.name}')"
    return settings_problem(ctx)


def due(
    db: Database, project_id: int, *, cache: FeatureCache | None = None, ahead: bool = False
) -> bool:
    """Whether a project needs a round: no queue yet, enough new labels, items imported since
    the queue was built, a queue with nothing left for someone, or the project's embeddings just
    finished while the last round had to use TF-IDF.

    With ``ahead``, a round that only waits for the last one to rest counts as due too: the
    labeling page says "the model is preparing more" only when one is coming.
    """
    ctx = system_context_by_id(db, project_id)
    if ctx is None:
        return False
    with db.read() as conn:
        latest = store_learning.latest(conn, project_id)
        n_pool = store_learning.n_items(conn, project_id)
        if n_pool == 0:
            return False
        labeled, n_auto = store_learning.pool_labels(conn, project_id)
        if latest is None:
            return True
        chosen = (latest["params"] or {}).get(STRATEGY_SETTING)
        if (
            ctx.schema.target.type not in STRUCTURED_TYPES
            and chosen is not None
            and chosen != ctx.settings.strategy
            and registry_problem("strategy", ctx.settings.strategy) is None
        ):
            return True  # a manager chose another strategy: the queue follows it now
        # A queue that ran dry, or a pool now all labeled, needs a round when it brings
        # something new: labels (the last ones, short of retrain_every, too) or items. Items that
        # cannot be served (gold, waiting in review) would otherwise re-queue in a loop.
        # An auto-label run or its undoing changes which items are anyone's work (n_auto).
        # An import undone changes the pool's size; one undone and another of the same size
        # change only the newest import (ids are never given twice).
        last = latest["stopping"].get("last_import", "unknown")  # rounds before it was kept
        imported = latest["stopping"].get("n_pool") != n_pool or (
            last != "unknown" and last != store_learning.last_import(conn, project_id)
        )
        fresh = (
            labeled != latest["n_train"]
            or imported
            or latest["stopping"].get("n_auto", 0) != n_auto
        )
        if fresh and (
            labeled >= n_pool
            or store_tasks.queue_remaining(
                conn, latest["id"], overlap=ctx.settings.overlap, at=now()
            )
            == 0
        ):
            return True
        # Under a burst of labels (or of small imports) a new round every few labels would only
        # chase its own tail: rounds are spaced by at least twice the last one's training time.
        rested = ahead or (now() - latest["created_at"]).total_seconds() >= max(
            MIN_ROUND_GAP_S, 2 * latest["train_seconds"]
        )
        # Imported items reach no one until a round ranks them, whatever the old queue still
        # holds (a solo annotator may have skipped all of it, and labels then never come).
        if rested and (imported or labeled - latest["n_train"] >= ctx.settings.retrain_every):
            return True
        n_items = n_pool + store_learning.n_items(conn, project_id, "eval")
    wanted = ctx.settings.featurizer
    if registry_problem("featurizer", wanted) is not None:
        return False  # no round can run; settings_problem says why
    return (
        cache is not None
        and latest["featurizer"] != wanted
        and caches_per_item(wanted)
        and missing_requirement(wanted) is None
        and cache.computed(project_id, wanted) >= n_items
    )


def round_coming(db: Database, ctx: ProjectContext) -> bool:
    """Whether the learner will run a round of the project soon without anyone's labels: one
    is due (or waits only for the last to rest) and its settings let it run."""
    return settings_problem(ctx) is None and due(db, ctx.id, ahead=True)


def queue_serves(db: Database, ctx: ProjectContext) -> bool:
    """Whether the newest queue holds an item someone could take now: a round that swapped
    one in between a caller's empty ``next`` and their question why has already served them."""
    with db.read() as conn:
        latest = store_learning.latest(conn, ctx.id)
        return latest is not None and (
            store_tasks.queue_remaining(conn, latest["id"], overlap=ctx.settings.overlap, at=now())
            > 0
        )


def prepare_features(
    db: Database,
    ctx: ProjectContext,
    cache: FeatureCache,
    *,
    budget_s: float,
) -> bool:
    """Compute a project's missing per-item features for about ``budget_s`` seconds (one chunk
    at least).

    Returns whether there was work to do, so the learner comes straight back for the next slice
    instead of sleeping. Rounds meanwhile train on TF-IDF; annotators are never kept waiting.
    """
    name = ctx.settings.featurizer
    if settings_problem(ctx) is not None:
        return False
    if per_item_part(name) is None or missing_requirement(name) is not None:
        return False
    with db.read() as conn:
        total = store_learning.n_items(conn, ctx.id) + store_learning.n_items(conn, ctx.id, "eval")
        noted = store_learning.noted_features(conn, ctx.id, name)
    computed = cache.computed(ctx.id, name)
    if computed >= total:
        if noted != computed:  # computed by a round that waited, or by a learner before
            _note_features(db, ctx, name, computed)
        return False
    with db.read() as conn:
        rows = store_learning.items_of(conn, ctx.id, "pool")
        rows += store_learning.items_of(conn, ctx.id, "eval")
    cache.prepare(ctx.id, name, rows, budget_s=budget_s)  # at least one chunk
    _note_features(db, ctx, name, cache.computed(ctx.id, name))
    return True


def _note_features(db: Database, ctx: ProjectContext, name: str, computed: int) -> None:
    """Note the count in the database: the embeddings are on this learner's disk, and the
    project page of a serve process on another machine counts them from there."""
    with db.write() as conn:
        store_learning.note_features(conn, ctx.id, name, computed)


def _features(
    ctx: ProjectContext, cache: FeatureCache, rows: list[Any], *, wait: bool
) -> tuple[Any, str, str | None]:
    """The round's features, the featurizer that made them, and why it is not the wanted one."""
    wanted = ctx.settings.featurizer
    problem = missing_requirement(wanted)
    if problem is None:
        try:
            found = cache.get(ctx.id, wanted, rows, budget_s=None if wait else 0)
        except (LabelloopError, ValueError) as exc:
            problem = f"featurizer '{wanted}' failed: {getattr(exc, 'message', exc)}"
        else:
            if found is not None:
                return found, wanted, None
            problem = f"featurizer '{wanted}' is still computing features"
    if problem and ctx.schema.data_type not in ("text", "html"):
        raise LabelloopError(problem)  # tfidf reads text: it cannot stand in for rows or media
    if problem:
        log.warning("project %s: %s; this round uses tfidf", ctx.slug, problem)
    try:
        return cache.get(ctx.id, FALLBACK_FEATURIZER, rows), FALLBACK_FEATURIZER, problem
    except (LabelloopError, ValueError) as exc:
        if problem is None:
            raise
        # tfidf could not stand in either: the wanted featurizer's failure is the cause to report
        raise LabelloopError(problem) from exc


def scan_label_issues(db: Database, ctx: ProjectContext, cache: FeatureCache) -> None:
    """Flag likely label errors among the resolved labels (periodic confident learning), and
    close the open ones whose labels the scan's model now agrees with."""
    from labelloop.workflow.quality import scan  # review/quality builds on learning, not back

    found = scan(db, ctx, cache=cache)
    if found.get("flagged") or found.get("closed"):
        log.info(
            "project %s: %s likely label errors flagged, %s the model now agrees with closed",
            ctx.slug,
            found["flagged"],
            found["closed"],
        )


def _relabel_rows(found: LabelCheck | None, item_ids: np.ndarray) -> list[dict[str, Any]]:
    """A round's re-label suggestions as JSON: item, sentence, suspicion (1 - p(label)) and the
    label the model says instead with its probability."""
    if found is None:
        return []
    picked = found.suggestions
    return [
        {
            "item_id": int(item_ids[row]),
            "reason": reason,
            "score": round(float(score), 4),
            "suggestion": label,
            "suggestion_confidence": round(p, 4),
        }
        for row, score, reason, (label, p) in zip(
            picked.indices.tolist(),
            picked.scores.tolist(),
            picked.reasons,
            found.guesses,
            strict=True,
        )
    ]


def _judged(found: LabelCheck | None, pool: Pool) -> dict[int, tuple[str, float]]:
    """The labeled items a round's check judged and whose label its model now guesses too:
    item id -> (the label, its out-of-fold probability). Their open label issues are stale;
    a label the model doubts without contradicting it confidently keeps its flag."""
    if found is None:
        return {}
    keep = np.flatnonzero(found.agrees)
    rows, p_given = found.rows[keep], found.p_given[keep]
    return {
        int(pool.item_ids[row]): (pool.classes[int(pool.y[row])], round(float(p), 4))
        for row, p in zip(rows.tolist(), p_given.tolist(), strict=True)
    }


def _label_issues(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A round's re-label suggestions as ``label_issue`` flags to raise: each suggested item
    with a resolved label and no flag that stops another (a reviewer who kept the label is not
    asked again every round; one the model closed does not count). Read before the round's
    write transaction, so that holds the writer lock only to re-check and insert the few new
    ones."""
    with db.read() as conn:
        sources = store_review.label_sources(conn, [r["item_id"] for r in rows])
        seen = store_review.label_issue_known(conn, sources)
    return [
        {
            "item_id": r["item_id"],
            "annotation_id": src["annotation_id"],
            "user_id": src["user_id"],
            "note": r["reason"],
            "score": 1.0 - r["score"],  # like the scan's flags: p(given label)
            "suggestion": r["suggestion"],
            "suggestion_confidence": r["suggestion_confidence"],
        }
        for r in rows
        if (src := sources.get(r["item_id"])) is not None and r["item_id"] not in seen
    ]


def system_context_by_id(db: Database, project_id: int) -> ProjectContext | None:
    with db.read() as conn:
        row = store_projects.by_id(conn, project_id)
    return system_context(db, row["slug"]) if row is not None else None


@dataclass(frozen=True)
class RoundOutcome:
    """What a round of any target type (choice, spans, boxes) hands over to be saved at once.

    ``queue`` holds the ranked queue rows (``rank``, ``item_id``, ``score``, ``reason`` and the
    suggestion columns); ``stop_predictions`` the stop set's predicted classes or token tags
    (empty without a model); ``relabel`` the re-label suggestions as JSON rows; ``judged``
    the labels the re-label check judged and does not contradict (:func:`_judged`);
    ``cohort_metrics`` the eval figures per cohort (:func:`cohort_metrics`), or None.
    """

    n_train: int
    strategy: str
    featurizer: str
    model: str
    params: dict[str, Any]
    metrics: dict[str, float]
    stop_predictions: np.ndarray
    cold_start: bool
    stop_ids: list[int]
    queue: list[dict[str, Any]]
    relabel: list[dict[str, Any]] = field(default_factory=list)
    judged: dict[int, tuple[str, float]] = field(default_factory=dict)
    feature_problem: str | None = None
    n_unlabeled: int | None = None
    cohort_metrics: dict[str, Any] | None = None
    n_auto: int = 0  # pool items the model labeled in auto-label runs
    stop_labeled: list[int] | None = None  # stop-set positions the model was trained on


def train(
    db: Database,
    ctx: ProjectContext,
    *,
    cache: FeatureCache | None = None,
    wait_for_features: bool = True,
) -> int:
    """Run one training round for a project and return the new model version number.

    The project's featurizer and model settings are used. Per-item features not computed yet are
    computed first, unless ``wait_for_features`` is False (the background learner): then the
    round trains on TF-IDF and the features are finished by :func:`prepare_features`. A spans
    or boxes target runs the structured round of :mod:`labelloop.workflow.structured`.
    """
    problem = settings_problem(ctx)
    if problem is not None:  # before reading or featurizing anything
        raise SchemaError(problem)
    started = time.perf_counter()
    cache = cache or FeatureCache()
    with db.read() as conn:
        history = store_learning.history(conn, ctx.id)
        n_pool = store_learning.n_items(conn, ctx.id)  # items imported after this get a round
        last_import = store_learning.last_import(conn, ctx.id)
    if ctx.schema.target.type in STRUCTURED_TYPES:
        from labelloop.workflow.structured import structured_round  # it builds on this module

        outcome = structured_round(db, ctx, history=history, cache=cache)
    else:
        outcome = _choice_round(db, ctx, history=history, cache=cache, wait=wait_for_features)
    return _save(
        db,
        ctx,
        outcome,
        history=history,
        started=started,
        n_pool=n_pool,
        last_import=last_import,
    )


@dataclass(frozen=True)
class RoundRows:
    """What a choice round reads: every pool item, then the labeled eval items (``rows``, with
    payloads a featurizer reads), their target labels as class indices (``y`` for the pool,
    ``eval_y``; MISSING where unlabeled), each eval item's cohort tag (None without one), and
    which pool rows the model labeled in an auto-label run (``auto``: MISSING in ``y``, since
    nothing is learned from them, and no work for anyone)."""

    rows: list[Any]
    y: np.ndarray
    eval_y: np.ndarray
    eval_cohorts: tuple[str | None, ...] = ()
    auto: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def n_pool(self) -> int:
        return int(self.y.shape[0])


def feature_rows(
    db: Database, ctx: ProjectContext, cache: FeatureCache, ids: list[int]
) -> list[dict[str, Any]]:
    """Rows ``{"id", "payload"}`` of the items ``ids`` as a featurizer reads them (media
    through :func:`readable_payloads`); every payload is read and decoded again only when the
    ids changed (:meth:`FeatureCache.with_payloads`). Rounds and "More like this" read them
    here, so they share one matrix. Items removed since their ids were read (an import undone
    meanwhile) are left out, in the order of the rest."""

    def load() -> Mapping[int, Any]:
        with db.read() as conn:
            payloads = store_learning.payloads_of(conn, ctx.id)
        return readable_payloads(ctx, payloads, cache.media_roots)

    return cache.with_payloads(ctx.id, ids, load)


def round_rows(db: Database, ctx: ProjectContext, cache: FeatureCache) -> RoundRows:
    """The rows and labels of a choice round: what the learner trains on, and what a model file
    is trained on the same way."""
    index = {name: i for i, name in enumerate(ctx.schema.target.labels)}
    with db.read() as conn:
        pool_rows = store_learning.items_of(conn, ctx.id, "pool", payloads=False)
        eval_rows = [  # with their cohort tags (the pool's metadata stays unread)
            r
            for r in store_learning.items_of(conn, ctx.id, "eval", payloads=False, tag=COHORT_FIELD)
            if r["label"]
        ]

    def classes_of(rows: list[Any]) -> np.ndarray:
        return np.array(
            [index.get(r["label"], MISSING) if r["label"] else MISSING for r in rows],
            dtype=np.int64,
        )

    rows = feature_rows(db, ctx, cache, [int(r["id"]) for r in pool_rows + eval_rows])
    if len(rows) < len(pool_rows) + len(eval_rows):  # an undo removed some meanwhile
        present = {r["id"] for r in rows}
        pool_rows = [r for r in pool_rows if int(r["id"]) in present]
        eval_rows = [r for r in eval_rows if int(r["id"]) in present]
    return RoundRows(
        rows=rows,
        y=classes_of(pool_rows),
        eval_y=classes_of(eval_rows),
        eval_cohorts=tuple(tag_text(r["tag"]) for r in eval_rows),
        auto=np.array([bool(r["auto"]) for r in pool_rows], dtype=bool),
    )


def cohort_metrics(
    eval_y: np.ndarray,
    predicted: np.ndarray,
    cohorts: tuple[str | None, ...],
    *,
    n_classes: int,
) -> dict[str, Any] | None:
    """The eval figures per cohort (:func:`labelloop.insight.cohorts.per_cohort`) of a round's
    eval predictions, or None: no model measured, or no labeled eval item carries a tag."""
    if predicted.shape[0] == 0:
        return None
    keep = np.flatnonzero((eval_y != MISSING) & (predicted != MISSING))
    groups = [cohorts[i] for i in keep.tolist()]
    if all(g is None for g in groups):
        return None
    found = per_cohort(eval_y[keep], predicted[keep], groups, n_classes=n_classes)
    return {"field": COHORT_FIELD, **found}


def _choice_round(
    db: Database, ctx: ProjectContext, *, history: list[Any], cache: FeatureCache, wait: bool
) -> RoundOutcome:
    """Fit the classifier on the resolved labels and rank the pool with the project's strategy."""
    settings = ctx.settings
    target = ctx.schema.target
    classes = tuple(target.labels)
    data = round_rows(db, ctx, cache)
    features, featurizer, feature_problem = _features(ctx, cache, data.rows, wait=wait)
    n_pool = data.n_pool
    X_pool = leading_rows(features.X, n_pool)
    y = data.y
    if target.type != "choice":  # multi-label learning comes later: keep the diverse order
        y = np.full(n_pool, MISSING, dtype=np.int64)
    all_ids = features.ids[:n_pool]
    # Items the model labeled in an auto-label run are no one's work: the strategy never sees
    # them, or a strategy that does not favour the unsure could fill the queue with them.
    keep = np.flatnonzero(~data.auto) if data.auto.any() else None
    pool = Pool(
        item_ids=all_ids if keep is None else all_ids[keep],
        X=X_pool if keep is None else X_pool[keep],
        y=y if keep is None else y[keep],
        classes=classes,
        batch_size=max(settings.batch_size, settings.retrain_every),
    )
    eval_X = features.X[n_pool:] if data.eval_y.size else None
    eval_y = data.eval_y
    rng = np.random.default_rng(ctx.id * 1_000_003 + len(history))

    stop_ids = stop_set(history, all_ids, ctx.id)  # over the whole pool, as it was drawn
    row_of = {int(i): k for k, i in enumerate(all_ids)}
    stop_rows = np.array([row_of[i] for i in stop_ids if i in row_of], dtype=np.intp)
    n_train = int((y != MISSING).sum())
    try:
        result = run_round(
            pool,
            strategy=make_strategy(settings.strategy),
            queue_size=queue_length(settings.queue_size, history, n_labeled=n_train),
            rng=rng,
            eval_X=eval_X,
            eval_y=eval_y if eval_X is not None else None,
            stop_X=X_pool[stop_rows] if stop_rows.size else None,
            model=make_model(settings.model),
        )
    except ModelFitError as exc:  # the project keeps its model: say which setting and what to do
        raise SchemaError(
            f"settings.model: '{settings.model}' cannot learn from the project's {featurizer} "
            f"features ({exc.reason}); a project keeps the model and featurizer it was created "
            "with, so create one with another model or featurizer"
        ) from exc
    queue = [
        {
            "rank": rank,
            "item_id": int(pool.item_ids[row]),
            "score": float(result.selection.scores[rank]),
            "reason": result.selection.reasons[rank][:300],
            "suggestion": sug[0] if (sug := result.suggestions[rank]) else None,
            "suggestion_confidence": float(sug[1]) if sug else None,
        }
        for rank, row in enumerate(result.selection.indices.tolist())
    ]
    if any(c.type == "spans" for c in ctx.schema.controls):
        from labelloop.workflow.structured import side_span_suggestions

        side_span_suggestions(db, ctx, queue)
    return RoundOutcome(
        n_train=n_train,
        strategy=result.strategy,
        featurizer=featurizer,
        model=COLD_START_MODEL if result.model is None else model_label(result.model),
        params={**result.params, STRATEGY_SETTING: settings.strategy},
        metrics=result.metrics,
        stop_predictions=result.stop_predictions,
        cold_start=result.cold_start,
        stop_ids=stop_ids,
        queue=queue,
        relabel=_relabel_rows(result.label_check, pool.item_ids),
        judged=_judged(result.label_check, pool),
        feature_problem=feature_problem,
        n_unlabeled=n_pool - n_train - int(data.auto.sum()),
        n_auto=int(data.auto.sum()),
        stop_labeled=np.flatnonzero(y[stop_rows] != MISSING).tolist(),
        cohort_metrics=cohort_metrics(
            eval_y, result.eval_predictions, data.eval_cohorts, n_classes=len(classes)
        ),
    )


def _save(
    db: Database,
    ctx: ProjectContext,
    outcome: RoundOutcome,
    *,
    history: list[Any],
    started: float,
    n_pool: int,
    last_import: int | None = None,
) -> int:
    """Judge stopping over the history, then store the model version, its queue and the audit
    row in one transaction; the rest of a long queue follows in slices. ``n_pool`` and
    ``last_import``: the pool items there were and the newest import when the round began
    (:func:`due` compares them)."""
    settings = ctx.settings
    version = (history[-1]["version"] + 1) if history else 1
    summaries = [
        RoundSummary(
            model_version=h["version"],
            n_labeled=h["n_train"],
            stop_predictions=np.asarray(h["stop_predictions"], dtype=np.int64),
            eval_metrics=h["metrics"],
            stop_labeled=_stop_mask(h["stopping"].get("stop_labeled"), len(h["stop_predictions"])),
        )
        for h in history
        # rounds on other features (tfidf standing in while embeddings were computed) are
        # another model: their predictions changing says nothing of this one settling
        if not h["stopping"].get("cold_start") and h["featurizer"] == outcome.featurizer
    ]
    if not outcome.cold_start:
        summaries.append(
            RoundSummary(
                model_version=version,
                n_labeled=outcome.n_train,
                stop_predictions=outcome.stop_predictions,
                eval_metrics=outcome.metrics,
                n_unlabeled=outcome.n_unlabeled,
                stop_labeled=_stop_mask(outcome.stop_labeled, len(outcome.stop_predictions)),
            )
        )
    decisions = [criterion.evaluate(summaries) for criterion in _criteria(settings) if summaries]
    queue = outcome.queue
    relabel = outcome.relabel
    issues = _label_issues(db, relabel)
    stale = label_issues.stale(db, ctx.id, outcome.judged, closer=f"the learner (model v{version})")
    stopping = {
        "cold_start": outcome.cold_start,
        "n_pool": n_pool,
        "last_import": last_import,
        "n_auto": outcome.n_auto,
        "stop_set": [int(i) for i in outcome.stop_ids],
        "stop_labeled": outcome.stop_labeled,
        "decisions": [
            {
                "criterion": d.criterion,
                "stop": d.stop,
                "value": d.value,
                "reason": d.reason,
                "more_labels": d.more_labels,
            }
            for d in decisions
        ],
        "stop_recommended": any(d.stop for d in decisions),
        "features": {
            "wanted": settings.featurizer,
            "used": outcome.featurizer,
            "problem": outcome.feature_problem,
        },
        "relabel": relabel,
    }
    with db.read() as conn:  # outside the project's lock: it reads every lease of the project
        queue = started_first(conn, ctx, queue)
    # The model version with the first queue slice, the rest of the queue, then the old queues
    # pruned: a stop signal (SIGTERM to `labelloop worker`) that comes meanwhile takes effect
    # once they are all written, so a stopped worker never leaves a queue cut short.
    with whole():
        with db.write(project_id=ctx.id) as conn:
            mv_id = store_learning.save_round(
                conn,
                project_id=ctx.id,
                version={
                    "version": version,
                    "n_train": outcome.n_train,
                    "strategy": outcome.strategy,
                    "featurizer": outcome.featurizer,
                    "model": outcome.model,
                    "params": outcome.params,
                    "metrics": outcome.metrics,
                    "cohort_metrics": outcome.cohort_metrics,
                    "stop_predictions": [int(v) for v in outcome.stop_predictions.tolist()],
                    "stopping": stopping,
                    "train_seconds": time.perf_counter() - started,
                },
                queue=queue[:QUEUE_SLICE],
            )
            store_learning.clear_round_failure(conn, ctx.id)  # failing rounds, if any, are over
            relabel_flagged = store_review.add_label_issues(  # under "flagged", back to review
                conn, ctx.id, issues, to_review=ctx.settings.review_policy == "flagged"
            )
            cleared = label_issues.close(conn, stale)  # and out of review again when stale
            audit.record(
                db,
                conn,
                action="model.train",
                actor_id=None,
                project_id=ctx.id,
                subject=f"model_version:{version}",
                payload={
                    "n_train": outcome.n_train,
                    "strategy": outcome.strategy,
                    "metrics": outcome.metrics,
                    "relabel_flagged": relabel_flagged,
                    "relabel_closed": cleared["closed"],
                    "relabel_returned": cleared["returned"],
                },
            )
        _finish_queues(db, ctx.id, mv_id, queue[QUEUE_SLICE:])
        log.info("project %s: model version %s (%s labels)", ctx.slug, version, outcome.n_train)
    return version


def _finish_queues(db: Database, project_id: int, mv_id: int, rest: list[Any]) -> None:
    """Append the rest of the new queue, then drop the old queues, a slice per transaction.

    Serving waits for every write (on SQLite, on the event loop): writing or deleting a
    20,000-entry queue at once held the writer lock for ~300 ms and stalled every annotator's
    request for that long, and at ~300 annotations/s each millisecond of lock costs the
    requests queued behind it several more. Serving switched to the new queue with its best
    entries already; the lower ranks arrive well before anyone reaches them.
    """
    for start in range(0, len(rest), APPEND_SLICE):
        with db.write() as conn:
            store_learning.append_queue(
                conn,
                project_id=project_id,
                model_version_id=mv_id,
                rows=rest[start : start + APPEND_SLICE],
            )
        time.sleep(WRITE_PAUSE_S)
    with db.read() as conn:
        old = store_learning.old_queues(conn, project_id=project_id, keep=mv_id)
    for old_id, top in old:
        for start in range(0, top + 1, PRUNE_SLICE):
            with db.write() as conn:
                store_learning.prune_queue(conn, old_id, ranks=(start, start + PRUNE_SLICE))
            time.sleep(WRITE_PAUSE_S)


def started_first(conn: Any, ctx: ProjectContext, queue: list[Any]) -> list[Any]:
    """A round's ``queue`` with the items that wait for another annotator first, oldest first.

    Under overlap an item one annotator answered (or holds) is served to the next from the queue
    it came from; a round that no longer ranked it among its picks left it waiting for good, at
    one answer, while the team labeled new items. Read as the round is stored, so an answer
    given while the model was fitting is not missed (an item leased from the old queue in the
    moment the new one is written waits for the next round). An item the round ranked keeps its
    fresh record; another keeps the selection record (score, reason, suggestion) it was first
    served with.
    """
    from labelloop.workflow import review  # review builds on more than learning needs

    waiting = [
        row
        for row in store_tasks.started(
            conn, project_id=ctx.id, overlap=review.max_overlap(ctx.settings), at=now()
        )
        if row["taken"] < review.needed_labels(ctx.settings, row["item_id"])
    ]
    if not waiting:
        return queue
    ranked = {row["item_id"]: row for row in queue}
    first = [ranked.get(row["item_id"]) or _first_served(row) for row in waiting]
    moved = {row["item_id"] for row in waiting}
    rows = first + [row for row in queue if row["item_id"] not in moved]
    keys = {key for row in rows for key in row}  # every row the same keys: inserted in bulk
    return [{**dict.fromkeys(keys), **row, "rank": rank} for rank, row in enumerate(rows)]


def _first_served(row: Mapping[str, Any]) -> dict[str, Any]:
    """A queue row for a waiting item the round did not rank: the record it was first served
    with."""
    entry = {
        "item_id": row["item_id"],
        "score": row["score"] if row["score"] is not None else 0.0,
        "reason": (row["reason"] or "waits for another annotator's answer")[:300],
        "suggestion": row["suggestion"],
        "suggestion_confidence": row["suggestion_confidence"],
    }
    if row["suggestion_value"] is not None:
        entry["suggestion_value"] = row["suggestion_value"]
    return entry


def queue_length(setting: int, history: list[Any], *, n_labeled: int) -> int:
    """The queue's length: the setting, or more when the team labels faster than rounds run.

    A round lasts a while; until the next one, annotators are served from this queue. Five
    times the labels that arrived since the last round keeps a fast team from running it dry.
    """
    gained = n_labeled - history[-1]["n_train"] if history else 0
    return max(setting, 5 * gained)


def stop_set(history: list[Any], item_ids: np.ndarray, project_id: int) -> list[int]:
    """The fixed unlabeled sample stabilizing predictions are measured on, chosen once."""
    for h in reversed(history):
        if h["stopping"].get("stop_set"):
            return list(h["stopping"]["stop_set"])
    if not len(item_ids):
        return []
    rows = choose_stop_set(len(item_ids), np.random.default_rng(project_id), size=STOP_SET_SIZE)
    return [int(item_ids[r]) for r in rows]


def _stop_mask(positions: list[int] | None, size: int) -> np.ndarray | None:
    """The stop-set items a round trained on, as stored (their positions), as a mask of ``size``;
    None for rounds saved before rounds kept them, or whose positions do not fit the set."""
    if positions is None:
        return None
    mask = np.zeros(size, dtype=bool)
    index = np.asarray(positions, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= size):
        return None
    mask[index] = True
    return mask


def _criteria(settings: Any) -> list[Any]:
    """The project's stopping rule, with its settings, and its label budget when it has one."""
    rule = settings.stop_rule
    params: dict[str, Any] = {}
    if rule == "settled_predictions":
        params["lag"] = settings.stop_lag
        params["changed"] = settings.stop_changed
    else:
        params["window"] = settings.stop_window
    if settings.stop_kappa is not None and rule != "eval_plateau":
        params["threshold"] = settings.stop_kappa
    found = [make_stopping(rule, **params)]
    if settings.budget:
        found.append(make_stopping("budget", budget=settings.budget))
    return found


class Learner:
    """The background learner of `labelloop serve`: retrains every project when a round is due."""

    def __init__(
        self,
        db: Database,
        *,
        poll_s: float = 0.5,
        cache: FeatureCache | None = None,
        low_priority: bool = False,
    ) -> None:
        self.db = db
        self.poll_s = poll_s
        # Work no one waits on (later rounds, embeddings, checks, simulations) runs at the
        # lowest priority (the server's child) on threads lowered once; new projects' first
        # rounds on a thread of their own at normal priority: on a busy machine a new
        # project's annotators are not left with nothing to label while it waits for a core.
        self._lower = low_priority
        self.cache = cache or FeatureCache()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._firsts: threading.Thread | None = None
        self._reported: dict[int, str] = {}  # project id -> the settings problem logged
        self._alerted: dict[int, float] = {}  # project id -> when its alerts were last stored
        # project id -> no round before (after failures), unless the items differ from then
        self._retry_at: dict[int, tuple[float, tuple[Any, ...]]] = {}
        from labelloop.workflow.simulations import SimulationRunner  # it builds on this module

        self.simulations = SimulationRunner(
            db, self.cache, poll_s=max(poll_s, 1.0), low_priority=low_priority
        )

    def run_once(self, *, rounds: str = ALL) -> int:
        """One pass over the projects; returns how many rounds ran. Projects without a queue
        go first: a project made while others train has its first items chosen at the next
        pass, not after every other project's round and slice of embeddings.

        ``rounds`` shares the work between the two threads of a learner at the lowest
        priority: FIRST runs only the first rounds of projects without a queue, LATER the
        rest, leaving such a project to FIRST until its first round failed or cannot run
        (it then gets its embeddings and alerts): holding its lock at the lowest priority on
        a busy machine would keep its first round waiting."""
        with self.db.read() as conn:
            projects = store_learning.projects_untrained_first(conn)
        ran = 0
        for project_id, has_queue in projects:
            if self._stop.is_set():
                break
            waiting = project_id in self._retry_at or project_id in self._reported
            if (rounds == FIRST and has_queue) or (
                rounds == LATER and not has_queue and not waiting
            ):
                continue
            try:
                with self.db.exclusive(TRAINING_LOCKS + project_id) as mine:
                    if not mine:
                        continue
                    trained = 0 if rounds == LATER and not has_queue else self._round(project_id)
                    ran += trained
                    if rounds != FIRST:
                        ran += self._features(project_id)
                        self._alerts(project_id, trained=bool(trained))
            except Exception:  # a broken project must not stop learning for the others
                log.exception("learning for project %s failed", project_id)
        return ran

    def first_round(self, project_id: int) -> bool:
        """Run the project's round now when one is due and no other learner holds it (the
        demo's first queue, made before its server starts); whether one ran. Its features and
        alerts are left to the learner that serves the project, which finds no round due."""
        with self.db.exclusive(TRAINING_LOCKS + project_id) as mine:
            return bool(mine and self._round(project_id))

    def _round(self, project_id: int) -> int:
        """Train the project when a round is due; 1 when one ran."""
        waiting = self._retry_at.get(project_id)
        # An import (or its undoing) may have brought or taken the failing item: try at once.
        if (
            waiting is not None
            and time.monotonic() < waiting[0]
            and self._items_now(project_id) == waiting[1]
        ):
            return 0
        try:
            if not due(self.db, project_id, cache=self.cache):
                return 0
            ctx = system_context_by_id(self.db, project_id)
            if ctx is None or self._cannot_train(ctx):
                return 0
            with one_thread():  # small fits are ~10x slower threaded
                version = train(self.db, ctx, cache=self.cache, wait_for_features=False)
        except Exception as exc:  # the embeddings below still get their slice
            self._failed(project_id, exc)
            return 0
        self._retry_at.pop(project_id, None)
        if version % SCAN_EVERY == 0:
            try:
                with one_thread():
                    scan_label_issues(self.db, ctx, self.cache)
            except Exception:  # the round is saved; only the scan is lost
                log.exception("label-issue scan for project %s failed", project_id)
        return 1

    def _failed(self, project_id: int, exc: Exception) -> None:
        """Record a failed round where the status, the project page and the alerts read it,
        and wait longer before each next try (a file that cannot be read fails every time):
        the log gets the traceback once per new error, a line for each repeat."""
        error = exc.message if isinstance(exc, LabelloopError) else f"{type(exc).__name__}: {exc}"
        error = " ".join(error.split())
        try:
            with self.db.write(project_id=project_id) as conn:
                failures, new = store_learning.record_round_failure(conn, project_id, error)
        except Exception:  # the database itself failing: the log is all there is
            log.exception("training round for project %s failed", project_id)
            return
        wait = min(ROUND_RETRY_MAX_S, ROUND_RETRY_FIRST_S * 2 ** min(failures - 1, 16))
        self._retry_at[project_id] = (time.monotonic() + wait, self._items_now(project_id))
        if new:
            log.error(
                "training round for project %s failed; next try in %d s",
                project_id,
                wait,
                exc_info=exc,
            )
        else:
            log.warning(
                "training round for project %s failed again (%d in a row; next try in %d s): %s",
                project_id,
                failures,
                wait,
                error,
            )

    def _items_now(self, project_id: int) -> tuple[Any, ...]:
        """What an import or its undoing changes: the pool's and eval split's sizes and the
        newest import (ids are never given twice), as :func:`due` tells them."""
        with self.db.read() as conn:
            return (
                store_learning.n_items(conn, project_id),
                store_learning.n_items(conn, project_id, "eval"),
                store_learning.last_import(conn, project_id),
            )

    def _alerts(self, project_id: int, *, trained: bool) -> None:
        """Store what needs attention after a round, and every few minutes without one (a
        backlog or an idle project raises no round)."""
        from labelloop.workflow.insight import ALERTS_EVERY_S, refresh_alerts

        now = time.monotonic()
        last = self._alerted.get(project_id)
        if not trained and last is not None and now - last < ALERTS_EVERY_S:
            return
        self._alerted[project_id] = now
        ctx = system_context_by_id(self.db, project_id)
        if ctx is None:
            return
        try:
            with one_thread():
                refresh_alerts(self.db, ctx, cache=self.cache)
        except Exception:  # the round is saved; only this check is lost
            log.exception("alert check for project %s failed", project_id)

    def _cannot_train(self, ctx: ProjectContext) -> bool:
        """Whether the project's settings keep its rounds from running (said once per problem
        in the log; `labelloop status` keeps showing it), so the learner does not retry and
        fail on every poll."""
        problem = settings_problem(ctx)
        if problem is None:
            self._reported.pop(ctx.id, None)
            return False
        if self._reported.get(ctx.id) != problem:
            self._reported[ctx.id] = problem
            log.error("project %s cannot train: %s", ctx.slug, problem)
        return True

    def _features(self, project_id: int) -> int:
        """One slice of the project's missing per-item features; 1 when there was work."""
        ctx = system_context_by_id(self.db, project_id)
        if ctx is None:
            return 0
        # no one waits on embeddings: rounds use TF-IDF meanwhile
        return int(prepare_features(self.db, ctx, self.cache, budget_s=FEATURE_SLICE_S))

    def run_forever(self) -> None:
        """Poll and train until ``stop()``; `labelloop worker` runs this in the foreground.
        Simulations that managers asked for run meanwhile in a thread of their own.

        A pass that fails outside any project (the database away a moment: a restart, a
        failover) is tried again after PASS_RETRY_S: the worker used to exit on it, and
        learning stopped for good while the servers came back by themselves.

        It first removes the feature files a learner killed hard left, and looks again every
        TIDY_EVERY_S (:meth:`FeatureCache.tidy`).

        A pass comes at each poll after work or a write to the database (a label, an import, a
        new project: :meth:`Database.changes`), else every QUIET_PASS_S.

        Started at the lowest priority (``low_priority``), this thread lowers itself for good
        and runs everything but new projects' first rounds, which a thread of their own runs
        at normal priority: their annotators have nothing to label until one ends. (The
        learner used to lower a thread for its work and raise it back after; where raising
        is not allowed, as for any user but root, the thread then stayed at the lowest, and
        on a busy machine a project made later waited minutes for its first items.)

        `labelloop worker` stops it at once on SIGTERM, in a round too (see
        :mod:`labelloop.workflow.shutdown`); ``stop()`` ends it after the round."""
        self.simulations.start()
        threading.Thread(target=self._beating, name="labelloop-learner-beat", daemon=True).start()
        if not self._lower:
            self._passes(ALL)
            return
        self._firsts = threading.Thread(
            target=self._passes, args=(FIRST,), name="labelloop-learner-first", daemon=True
        )
        self._firsts.start()
        self.db.lower_priority()
        self._passes(LATER)

    def _passes(self, rounds: str) -> None:
        """Passes of ``rounds`` (:meth:`run_once`) until ``stop()``, tidying the feature files
        unless only first rounds are run."""
        tidy_at = math.inf if rounds == FIRST else 0.0
        ran, quiet = 0, Quiet(self.db, QUIET_PASS_S)
        while not self._stop.is_set():
            try:
                if time.monotonic() >= tidy_at:  # what a learner killed hard left on disk
                    tidy_at = time.monotonic() + TIDY_EVERY_S
                    self.cache.tidy()
                if quiet.look(busy=bool(ran)):
                    ran = self.run_once(rounds=rounds)
            except Exception:
                log.exception("learner pass failed; next try in %g s", PASS_RETRY_S)
                self._stop.wait(PASS_RETRY_S)
                continue
            if ran == 0:
                self._stop.wait(self.poll_s)

    def _beating(self) -> None:
        """Note every BEAT_EVERY_S that this learner runs, from a thread of its own (a round
        of minutes must not make it look stopped), until ``stop()``: the project page, the
        status and the labeling page tell a database no learner runs on."""
        started = now()
        while not self._stop.is_set():
            try:
                note_learner(self.db, f"{id(self):x}", started_at=started)
            except Exception:  # the database away a moment: the next beat tries again
                log.warning("learner could not note that it runs", exc_info=True)
            self._stop.wait(store_learning.BEAT_EVERY_S)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run_forever, name="labelloop-learner", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.simulations.stop()
        for thread in (self._thread, self._firsts):
            if thread is not None:
                thread.join(timeout=30)
