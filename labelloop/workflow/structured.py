"""Training rounds for spans and boxes targets: a CRF tagger ranks texts by token uncertainty,
a detector's box scores rank images; both offer their predicted regions as suggestions."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from labelloop.domain import MISSING, Pool
from labelloop.learn import diverse_selection
from labelloop.learn.boxes import (
    BoxPool,
    confidence,
    make_detector,
    rank_by_confidence,
    suggested_boxes,
)
from labelloop.learn.round import COLD_START_STRATEGY
from labelloop.learn.spans import (
    CrfSpanModel,
    rank_by_uncertainty,
    span_f1,
    tag_indices,
)
from labelloop.store import learning as store_learning
from labelloop.store.db import Database
from labelloop.store.tables import COLD_START_MODEL
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.learning import (
    FALLBACK_FEATURIZER,
    RoundOutcome,
    queue_length,
    stop_set,
)
from labelloop.workflow.media import absolute_payloads
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.status import NO_FEATURES, SPAN_FEATURES, SPAN_MODEL, strategy_of

log = logging.getLogger("labelloop.learner")
MAX_REASON = 300
MAX_SCORED = 50_000
"""Unlabeled texts a spans round scores at most (about half a minute of CRF inference)."""

MAX_SIDE_SUGGESTIONS = 1_000
"""Queue entries (best first) that get spans suggested for a spans control beside the target."""

__all__ = ["side_span_suggestions", "structured_round"]


def structured_round(
    db: Database, ctx: ProjectContext, *, history: list[Any], cache: FeatureCache
) -> RoundOutcome:
    """One round for a spans or boxes target, ready for ``learning.train`` to save."""
    if ctx.schema.target.type == "spans":
        return spans_round(db, ctx, history=history, cache=cache)
    return boxes_round(db, ctx, history=history, cache=cache)


def _target_value(row: Mapping[Any, Any], control: str) -> Any:
    """The resolved value of ``control`` in an item row, or None when the item is unlabeled."""
    value = row["value"]
    if not isinstance(value, Mapping):
        return None
    return value.get(control)


def _text(row: Mapping[Any, Any]) -> str:
    payload = row["payload"] or {}
    text = payload.get("text")
    return text if isinstance(text, str) else ""


def spans_round(
    db: Database, ctx: ProjectContext, *, history: list[Any], cache: FeatureCache
) -> RoundOutcome:
    """Fit a CRF on the labeled texts, rank the rest by mean (or max) token entropy and
    suggest the predicted spans; before any labeled span, queue a diverse pick instead."""
    settings = ctx.settings
    target = ctx.schema.target
    with db.read() as conn:
        pool_rows = store_learning.values_of(conn, ctx.id, "pool")
        eval_rows = store_learning.values_of(conn, ctx.id, "eval")
    gold = [_target_value(r, target.name) for r in pool_rows]
    labeled = [k for k, g in enumerate(gold) if isinstance(g, list)]
    candidates = [k for k, g in enumerate(gold) if not isinstance(g, list)]
    n_train = len(labeled)
    item_ids = np.array([int(r["id"]) for r in pool_rows], dtype=np.int64)
    stop_ids = stop_set(history, item_ids, ctx.id)
    size = queue_length(settings.queue_size, history, n_labeled=n_train)
    if not any(gold[k] for k in labeled):
        return _spans_cold_start(
            ctx, pool_rows, candidates, cache=cache, history=history, size=size, stop_ids=stop_ids
        )

    model = CrfSpanModel(labels=target.labels)
    model.fit([_text(pool_rows[k]) for k in labeled], [gold[k] for k in labeled])
    if len(candidates) > MAX_SCORED:  # a fresh uniform sample each round covers a huge pool
        rng = np.random.default_rng(ctx.id * 1_000_003 + len(history))
        candidates = sorted(rng.choice(candidates, size=MAX_SCORED, replace=False).tolist())
    texts = [_text(pool_rows[k]) for k in candidates]
    rows, scores, tagged, reasons = rank_by_uncertainty(
        model, texts, size, how=settings.span_scoring
    )
    queue = []
    for rank, (row, score, reason) in enumerate(zip(rows.tolist(), scores, reasons, strict=True)):
        spans = tagged[rank].spans()
        queue.append(
            {
                "rank": rank,
                "item_id": int(pool_rows[candidates[row]]["id"]),
                "score": float(score),
                "reason": reason[:MAX_REASON],
                "suggestion": None,
                "suggestion_confidence": (
                    round(min(s["score"] for s in spans), 4) if spans else None
                ),
                "suggestion_value": {target.name: spans},
            }
        )

    row_of = {int(r["id"]): k for k, r in enumerate(pool_rows)}
    stop_texts = [_text(pool_rows[row_of[i]]) for i in stop_ids if i in row_of]
    stop_predictions = tag_indices(model.tag(stop_texts))

    metrics: dict[str, float] = {}
    evaluated = [(r, v) for r in eval_rows if isinstance(v := _target_value(r, target.name), list)]
    if evaluated:
        predicted = model.tag([_text(r) for r, _ in evaluated])
        metrics = span_f1([v for _, v in evaluated], [t.spans() for t in predicted])
        metrics["n_eval"] = float(len(evaluated))
    params = {k: v for k, v in model.get_params().items() if k != "labels"}
    return RoundOutcome(
        n_train=n_train,
        strategy=strategy_of(ctx),
        featurizer=SPAN_FEATURES,
        model=SPAN_MODEL,
        params=params,
        metrics=metrics,
        stop_predictions=stop_predictions,
        cold_start=False,
        stop_ids=stop_ids,
        queue=queue,
    )


def _spans_cold_start(
    ctx: ProjectContext,
    pool_rows: Sequence[Mapping[Any, Any]],
    candidates: list[int],
    *,
    cache: FeatureCache,
    history: list[Any],
    size: int,
    stop_ids: list[int],
) -> RoundOutcome:
    """Before the first labeled span: texts typical of the pool's groups (TF-IDF clusters)."""
    ids = np.array([int(r["id"]) for r in pool_rows], dtype=np.int64)
    queue: list[dict[str, Any]] = []
    if candidates:
        rows = [{"id": int(r["id"]), "payload": r["payload"]} for r in pool_rows]
        features = cache.get(ctx.id, FALLBACK_FEATURIZER, rows)
        assert features is not None  # TF-IDF is fitted in memory, never left pending
        y = np.zeros(len(pool_rows), dtype=np.int64)
        y[candidates] = MISSING
        pool = Pool(item_ids=ids, X=features.X, y=y, classes=tuple(ctx.schema.target.labels))
        rng = np.random.default_rng(ctx.id * 1_000_003 + len(history))
        picked = diverse_selection(pool, size, rng)
        queue = [
            {
                "rank": rank,
                "item_id": int(ids[row]),
                "score": float(picked.scores[rank]),
                "reason": picked.reasons[rank][:MAX_REASON],
                "suggestion": None,
                "suggestion_confidence": None,
            }
            for rank, row in enumerate(picked.indices.tolist())
        ]
    return RoundOutcome(
        n_train=len(pool_rows) - len(candidates),
        strategy=COLD_START_STRATEGY,
        featurizer=FALLBACK_FEATURIZER,
        model=COLD_START_MODEL,
        params={},
        metrics={},
        stop_predictions=np.empty(0, dtype=np.int64),
        cold_start=True,
        stop_ids=stop_ids,
        queue=queue,
    )


def boxes_round(
    db: Database, ctx: ProjectContext, *, history: list[Any], cache: FeatureCache
) -> RoundOutcome:
    """Rank the unlabeled images by the project's detector: least confident boxes first."""
    settings = ctx.settings
    target = ctx.schema.target
    detector = make_detector(settings.detector)
    with db.read() as conn:
        pool_rows = store_learning.values_of(conn, ctx.id, "pool")
    raw = {int(r["id"]): dict(r["payload"] or {}) for r in pool_rows}
    if getattr(detector, "reads_images", True):  # paths checked under the media roots
        for item_id, checked in absolute_payloads(raw, cache.media_roots, slug=ctx.slug).items():
            raw[item_id].update(checked)
    item_ids = np.array([int(r["id"]) for r in pool_rows], dtype=np.int64)
    labeled = [_target_value(r, target.name) for r in pool_rows]
    imported = [
        (r["prediction"] or {}).get(target.name) if isinstance(r["prediction"], Mapping) else None
        for r in pool_rows
    ]
    pool = BoxPool(
        item_ids=item_ids,
        payloads=[raw[int(i)] for i in item_ids],
        imported=[p if isinstance(p, list) else None for p in imported],
        labeled=[v if isinstance(v, list) else None for v in labeled],
        labels=tuple(target.labels),
    )
    predicted = detector.fit(pool).predict(pool)
    candidates = np.array([k for k, v in enumerate(pool.labeled) if v is None], dtype=np.intp)
    n_train = len(pool_rows) - len(candidates)
    size = queue_length(settings.queue_size, history, n_labeled=n_train)
    ranking = rank_by_confidence(predicted, size, candidates=candidates)
    queue = []
    for rank, (row, score, reason) in enumerate(
        zip(ranking.rows.tolist(), ranking.scores.tolist(), ranking.reasons, strict=True)
    ):
        boxes = predicted[row]
        entry: dict[str, Any] = {
            "rank": rank,
            "item_id": int(item_ids[row]),
            "score": float(score),
            "reason": reason[:MAX_REASON],
            "suggestion": None,
            "suggestion_confidence": confidence(boxes) if boxes else None,
            "suggestion_value": {target.name: suggested_boxes(boxes)} if boxes else None,
        }
        queue.append(entry)
    return RoundOutcome(
        n_train=n_train,
        strategy=strategy_of(ctx),
        featurizer=NO_FEATURES,
        model=f"detector {settings.detector}",
        params={},
        metrics={},
        stop_predictions=np.empty(0, dtype=np.int64),
        cold_start=False,
        stop_ids=[],
        queue=queue,
    )


def side_span_suggestions(db: Database, ctx: ProjectContext, queue: list[dict[str, Any]]) -> None:
    """Suggest spans for each spans control that is not the target (a choice project with
    entity spans): a CRF per control, fitted on the labels that control has, tags the first
    ``MAX_SIDE_SUGGESTIONS`` queue entries; their ``suggestion_value`` gets its spans."""
    target = ctx.schema.target.name
    controls = [c for c in ctx.schema.controls if c.type == "spans" and c.name != target]
    if not controls or not queue:
        return
    with db.read() as conn:
        rows = store_learning.values_of(conn, ctx.id, "pool")
    by_id = {int(r["id"]): r for r in rows}
    head = queue[:MAX_SIDE_SUGGESTIONS]
    found: dict[int, dict[str, Any]] = {}
    for control in controls:
        labeled = [(r, v) for r in rows if isinstance(v := _target_value(r, control.name), list)]
        if not any(v for _, v in labeled):
            continue  # no span of this control labeled yet: nothing to learn
        model = CrfSpanModel(labels=control.labels)
        model.fit([_text(r) for r, _ in labeled], [v for _, v in labeled])
        tagged = model.tag([_text(by_id[int(q["item_id"])]) for q in head])
        for k, one in enumerate(tagged):
            found.setdefault(k, {})[control.name] = one.spans()
    if not found:
        return
    for k, entry in enumerate(queue):  # every row the same keys: they are inserted in bulk
        entry["suggestion_value"] = found.get(k)
