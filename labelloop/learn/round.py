"""One training round as a pure function: fit on the labels, rank the pool, measure, explain."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.metrics import accuracy_score, f1_score

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn.coldstart import diverse_selection
from labelloop.learn.committee import bootstrap_committee
from labelloop.learn.model import (
    default_model,
    fit_model,
    json_safe_params,
    predict_proba_chunked,
)
from labelloop.learn.relabel import LabelCheck, check_labels
from labelloop.learn.strategies import QueryStrategy

COLD_START_STRATEGY = "diversity"
"""``RoundResult.strategy`` of a round that had no model yet (unless the strategy does cold
start itself, see ``QueryStrategy``)."""
RELABEL_MIN_LABELS = 30
"""Labeled rows a round needs before it looks for labels to re-check."""
RELABEL_FOLDS = 3
RELABEL_MAX_ITEMS = 50


@dataclass(frozen=True)
class RoundResult:
    """What one round produced, ready for the store to persist.

    Attributes
    ----------
    selection : Selection
        Ranked queue of pool rows, best first, at most ``queue_size`` long.
    strategy : str
        Name of the strategy that produced it (``"diversity"`` in cold start).
    suggestions : tuple
        Per selected row, ``(predicted label name, its probability)``; ``None`` in cold start.
    metrics : dict
        ``"accuracy"``, ``"macro_f1"``, ``"n_eval"`` on the eval split; empty without eval
        labels or without a model.
    stop_predictions : ndarray of shape (n_stop,)
        Class indices predicted for the stop set; empty without a model.
    n_train : int
        Labeled rows the model was fitted on (labeled rows present in cold start).
    model : estimator or None
        The fitted estimator, ``None`` in cold start.
    params : dict
        ``model.get_params()`` with JSON-safe values; empty in cold start.
    cold_start : bool
        Whether the round ran before there were two labeled classes.
    label_check : LabelCheck or None
        The round's cross-validated check of the labels
        (:func:`~labelloop.learn.relabel.check_labels`): its re-label suggestions (also
        ``relabel``) and, per labeled row it judged, the out-of-fold probability of the label
        and whether the model confidently contradicts it; ``None`` in cold start, below
        ``RELABEL_MIN_LABELS`` labels or when not asked for.
    eval_predictions : ndarray of shape (n_eval,)
        The class index the model predicts for each eval row, ``MISSING`` where the row has no
        label (not predicted); empty when ``metrics`` is, so per-cohort figures reuse the
        predictions ``metrics`` were computed from.
    """

    selection: Selection
    strategy: str
    suggestions: tuple[tuple[str, float] | None, ...]
    metrics: dict[str, float]
    stop_predictions: NDArray[np.int64]
    n_train: int
    model: object | None
    params: dict[str, Any]
    cold_start: bool
    label_check: LabelCheck | None = None
    eval_predictions: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def relabel(self) -> Selection | None:
        """Labeled rows whose label the model confidently contradicts, most suspicious first
        (:func:`~labelloop.learn.relabel.relabel_candidates`), or ``None`` as ``label_check``."""
        return None if self.label_check is None else self.label_check.suggestions


def choose_stop_set(
    n_candidates: int, rng: np.random.Generator, size: int = 1000
) -> NDArray[np.intp]:
    """Pick the fixed stop set of :class:`~labelloop.learn.stopping.StabilizingPredictions`.

    Parameters
    ----------
    n_candidates : int
        Number of rows to choose from (typically the unlabeled pool when the set is drawn).
    rng : numpy.random.Generator
    size : int
        Rows wanted; Bloodgood & Vijay-Shanker (2009) find a few thousand enough.

    Returns
    -------
    ndarray of shape (min(size, n_candidates),)
        Distinct positions in ``range(n_candidates)``, ascending.
    """
    k = max(0, min(size, n_candidates))
    return np.sort(rng.choice(n_candidates, size=k, replace=False)).astype(np.intp)


def run_round(
    pool: Pool,
    *,
    strategy: QueryStrategy,
    queue_size: int,
    rng: np.random.Generator,
    eval_X: NDArray[np.floating] | csr_matrix | None = None,
    eval_y: NDArray[np.int64] | None = None,
    stop_X: NDArray[np.floating] | csr_matrix | None = None,
    model: Any = None,
    relabel: bool = True,
) -> RoundResult:
    """Train on the labeled rows of ``pool`` and rank its unlabeled rows.

    With fewer than two distinct labeled classes there is nothing to train: the round is a cold
    start, and the strategy fills the queue without ``proba`` when it declares
    ``cold_start = True``, :func:`~labelloop.learn.coldstart.diverse_selection` otherwise. A
    strategy declaring ``needs_committee = True`` gets ``Pool.committee_proba`` from a bootstrap
    committee of the round's model.

    Parameters
    ----------
    pool : Pool
        ``X`` of shape (n_pool, n_features); ``y`` of shape (n_pool,) with class indices or
        ``MISSING``.
    strategy : QueryStrategy
        Ranks the unlabeled rows once a model exists.
    queue_size : int
        Length of the queue wanted.
    rng : numpy.random.Generator
    eval_X : ndarray or csr_matrix of shape (n_eval, n_features), optional
    eval_y : ndarray of shape (n_eval,), optional
        Class indices of the eval split; ``MISSING`` entries are ignored.
    stop_X : ndarray or csr_matrix of shape (n_stop, n_features), optional
        The fixed stop set, whose predictions feed the stabilizing-predictions criterion.
    model : scikit-learn classifier, optional
        Cloned before fitting; :func:`~labelloop.learn.model.default_model` when ``None``.
    relabel : bool
        Look for labels to re-check (``RoundResult.label_check``) once the pool has at least
        ``RELABEL_MIN_LABELS`` labels; costs ``RELABEL_FOLDS`` extra fits.

    Returns
    -------
    RoundResult
    """
    if queue_size < 0:
        raise ValueError(f"queue_size must be >= 0, got {queue_size}")
    y = np.asarray(pool.y)
    labeled = np.flatnonzero(y != MISSING)
    n_classes = len(pool.classes)
    if np.unique(y[labeled]).shape[0] < 2:
        own = bool(getattr(strategy, "cold_start", False))
        if own:
            selection = strategy.query(pool, None, queue_size, rng)
        else:
            selection = diverse_selection(pool, queue_size, rng)
        return RoundResult(
            selection=selection,
            strategy=strategy.name if own else COLD_START_STRATEGY,
            suggestions=(None,) * len(selection.indices),
            metrics={},
            stop_predictions=np.empty(0, dtype=np.int64),
            n_train=int(labeled.shape[0]),
            model=None,
            params={},
            cold_start=True,
        )

    template = default_model() if model is None else model
    estimator = fit_model(template, pool.X[labeled], y[labeled])
    # Scoring the whole pool costs the few labeled rows extra but keeps rows aligned without
    # copying the candidate rows of a large sparse matrix.
    proba = predict_proba_chunked(estimator, pool.X, n_classes=n_classes)
    if getattr(strategy, "needs_committee", False) and pool.committee_proba is None:
        committee = bootstrap_committee(template, pool.X, y, n_classes=n_classes, rng=rng)
        pool = replace(pool, committee_proba=committee)
    selection = strategy.query(pool, proba, queue_size, rng)
    best = proba[selection.indices].argmax(axis=1)
    suggestions = tuple(
        (pool.classes[c], float(proba[i, c])) for i, c in zip(selection.indices, best, strict=True)
    )
    stop_predictions = np.empty(0, dtype=np.int64)
    if stop_X is not None and stop_X.shape[0] > 0:
        stop_proba = predict_proba_chunked(estimator, stop_X, n_classes=n_classes)
        stop_predictions = stop_proba.argmax(axis=1).astype(np.int64)
    checked = None
    if relabel and labeled.shape[0] >= RELABEL_MIN_LABELS:
        checked = check_labels(
            pool.X,
            labeled,
            y[labeled],
            template,
            rng=rng,
            classes=pool.classes,
            cv=RELABEL_FOLDS,
            max_items=RELABEL_MAX_ITEMS,
        )
    eval_predictions = predict_eval(estimator, eval_X, eval_y=eval_y, n_classes=n_classes)
    return RoundResult(
        selection=selection,
        strategy=strategy.name,
        suggestions=suggestions,
        metrics=eval_metrics(eval_y, eval_predictions),
        stop_predictions=stop_predictions,
        n_train=int(labeled.shape[0]),
        model=estimator,
        params=json_safe_params(estimator),
        cold_start=False,
        label_check=checked,
        eval_predictions=eval_predictions,
    )


def predict_eval(
    estimator: Any,
    eval_X: NDArray[np.floating] | csr_matrix | None,
    *,
    eval_y: NDArray[np.int64] | None,
    n_classes: int,
) -> NDArray[np.int64]:
    """The predicted class of each labeled eval row.

    Parameters
    ----------
    estimator : fitted scikit-learn classifier
    eval_X : ndarray or csr_matrix of shape (n_eval, n_features), optional
    eval_y : ndarray of shape (n_eval,), optional
        Class indices; ``MISSING`` rows are not predicted.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_eval,)
        Class indices, ``MISSING`` where ``eval_y`` is; empty without an eval set or labels.
    """
    if eval_X is None or eval_y is None:
        return np.empty(0, dtype=np.int64)
    eval_y = np.asarray(eval_y)
    keep = np.flatnonzero(eval_y != MISSING)
    if keep.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    predicted = np.full(eval_y.shape[0], MISSING, dtype=np.int64)
    proba = predict_proba_chunked(estimator, eval_X[keep], n_classes=n_classes)
    predicted[keep] = proba.argmax(axis=1)
    return predicted


def eval_metrics(
    eval_y: NDArray[np.int64] | None, predicted: NDArray[np.int64]
) -> dict[str, float]:
    """Accuracy and macro-F1 (over classes in truth or prediction) of :func:`predict_eval`'s
    predictions on the labeled eval rows; empty when there are none."""
    if eval_y is None or predicted.shape[0] == 0:
        return {}
    keep = np.flatnonzero(np.asarray(eval_y) != MISSING)
    truth, guess = np.asarray(eval_y)[keep], predicted[keep]
    return {
        "accuracy": float(accuracy_score(truth, guess)),
        "macro_f1": float(f1_score(truth, guess, average="macro", zero_division=0)),
        "n_eval": float(keep.shape[0]),
    }


def evaluate(
    estimator: Any,
    eval_X: NDArray[np.floating] | csr_matrix | None,
    eval_y: NDArray[np.int64] | None,
    n_classes: int,
) -> dict[str, float]:
    """Accuracy and macro-F1 (over classes in truth or prediction) on the labeled eval rows."""
    return eval_metrics(eval_y, predict_eval(estimator, eval_X, eval_y=eval_y, n_classes=n_classes))
