"""How much of the unlabeled pool the project's model could label now, and how often it is
right at that confidence on the held-out eval items (`labelloop coverage`, the project page)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.govern.permissions import Permission
from labelloop.memo import SingleFlight
from labelloop.store import review as store_review
from labelloop.store.db import Database
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.modelfiles import Trained
from labelloop.workflow.projects import ProjectContext

_flights = SingleFlight()
"""One measurement per project at a time: it trains a model on every label."""


@dataclass(frozen=True)
class Scored:
    """The project's classifier trained on every label (``trained``), with its class
    probabilities for the unlabeled pool items (``item_ids``, ``proba``: gold checks and items
    the model already labeled left out) and for the labeled eval items (``eval_proba`` and their
    true class indices ``eval_y``; None without any)."""

    trained: Trained
    item_ids: np.ndarray
    proba: np.ndarray
    eval_proba: np.ndarray | None
    eval_y: np.ndarray | None


def scored(db: Database, ctx: ProjectContext, *, cache: FeatureCache, why: str) -> Scored:
    """Train the project's classifier as `model export` does (nothing stored) and score the
    unlabeled pool and the labeled eval items with it; ``why`` a single-label classifier is
    needed goes into the error when the project has none."""
    from labelloop.domain import MISSING
    from labelloop.learn.model import predict_proba_chunked
    from labelloop.workflow.modelfiles import train

    trained = train(db, ctx, cache=cache, why=why)
    data, n_classes = trained.data, len(trained.classes)
    with db.read() as conn:  # gold checks have known answers: work for no one, model or person
        gold = store_review.gold_item_ids(conn, ctx.id)
    pool_ids = np.array([int(r["id"]) for r in data.rows[: data.n_pool]], dtype=np.int64)
    unlabeled = (data.y[: data.n_pool] == MISSING) & ~np.isin(pool_ids, list(gold))
    if data.auto.size:
        unlabeled &= ~data.auto
    rows = np.flatnonzero(unlabeled)
    proba = (
        predict_proba_chunked(trained.estimator, trained.X[rows], n_classes=n_classes)
        if rows.size
        else np.empty((0, n_classes))
    )
    eval_y = np.asarray(data.eval_y)
    keep = np.flatnonzero(eval_y != MISSING) if eval_y.size else np.empty(0, dtype=np.intp)
    eval_proba = None
    if keep.size:
        eval_X = trained.X[data.n_pool :][keep]
        eval_proba = predict_proba_chunked(trained.estimator, eval_X, n_classes=n_classes)
    return Scored(trained, pool_ids[rows], proba, eval_proba, eval_y[keep] if keep.size else None)


def coverage(db: Database, ctx: ProjectContext, *, cache: FeatureCache) -> dict[str, Any]:
    """Train the project's classifier on every resolved label (as `model export` does, nothing
    stored), score the unlabeled pool and the labeled eval items, and tabulate per confidence
    threshold how many items the model is that sure of and how often it is right when it is,
    and whether a run on the project's own auto-label settings would be refused (``autolabel``:
    :func:`labelloop.workflow.autolabel.outlook`). Reviewers and managers; a few seconds on a
    pool of tens of thousands of texts."""
    ctx.require(Permission.VIEW_INSIGHT)
    # asked again while it trains (a second reviewer, a reloaded page): the same training
    return _flights.run((str(db.engine.url), ctx.id), lambda: _coverage(db, ctx, cache=cache))


def _coverage(db: Database, ctx: ProjectContext, *, cache: FeatureCache) -> dict[str, Any]:
    from labelloop.insight.coverage import coverage_table
    from labelloop.learn.model import model_label
    from labelloop.workflow.autolabel import outlook

    started = time.perf_counter()
    found = scored(
        db, ctx, cache=cache, why="the coverage is measured for a single-label classifier"
    )
    trained = found.trained
    rows = coverage_table(found.proba, found.eval_proba, found.eval_y, trained.classes)
    return {
        "model": model_label(trained.estimator),
        "featurizer": trained.used,
        "n_train": int(trained.labeled.shape[0]),
        "n_unlabeled": int(found.item_ids.size),
        "n_eval": 0 if found.eval_y is None else int(found.eval_y.size),
        "rows": rows,
        "autolabel": outlook(ctx, found),
        "seconds": round(time.perf_counter() - started, 2),
    }
