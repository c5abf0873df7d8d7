"""How much of the unlabeled pool the project's model could label now, and how often it is
right at that confidence on the held-out eval items (`labelloop coverage`, the project page)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from labelloop.govern.permissions import Permission
from labelloop.store import review as store_review
from labelloop.store.db import Database
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.projects import ProjectContext


def coverage(db: Database, ctx: ProjectContext, *, cache: FeatureCache) -> dict[str, Any]:
    """Train the project's classifier on every resolved label (as `model export` does, nothing
    stored), score the unlabeled pool and the labeled eval items, and tabulate per confidence
    threshold how many items the model is that sure of and how often it is right when it is.
    Reviewers and managers; a few seconds on a pool of tens of thousands of texts."""
    from labelloop.domain import MISSING
    from labelloop.insight.coverage import coverage_table
    from labelloop.learn.model import model_label, predict_proba_chunked
    from labelloop.workflow.modelfiles import train

    ctx.require(Permission.REVIEW)
    started = time.perf_counter()
    trained = train(
        db, ctx, cache=cache, why="the coverage is measured for a single-label classifier"
    )
    data, n_classes = trained.data, len(trained.classes)
    with db.read() as conn:  # gold checks have known answers: work for no one, model or person
        gold = store_review.gold_item_ids(conn, ctx.id)
    pool_ids = np.array([int(r["id"]) for r in data.rows[: data.n_pool]], dtype=np.int64)
    unlabeled = np.flatnonzero((data.y[: data.n_pool] == MISSING) & ~np.isin(pool_ids, list(gold)))
    pool_proba = (
        predict_proba_chunked(trained.estimator, trained.X[unlabeled], n_classes=n_classes)
        if unlabeled.size
        else np.empty((0, n_classes))
    )
    eval_y = np.asarray(data.eval_y)
    keep = np.flatnonzero(eval_y != MISSING) if eval_y.size else np.empty(0, dtype=np.intp)
    eval_proba = None
    if keep.size:
        eval_X = trained.X[data.n_pool :][keep]
        eval_proba = predict_proba_chunked(trained.estimator, eval_X, n_classes=n_classes)
    rows = coverage_table(
        pool_proba, eval_proba, eval_y[keep] if keep.size else None, trained.classes
    )
    return {
        "model": model_label(trained.estimator),
        "featurizer": trained.used,
        "n_train": int(trained.labeled.shape[0]),
        "n_unlabeled": int(unlabeled.size),
        "n_eval": int(keep.size),
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 2),
    }
