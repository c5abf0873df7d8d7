"""What active learning bought a project, measured against its own random controls.

A project with ``random_share`` serves that share of its items picked uniformly at random and
records them as such. Those labels are what labeling without a model would have given; the
labels the policy picked are what active learning gave. Training the project's model on each,
with equal numbers of labels, and scoring both on the same labeled eval items answers the
question a team asks of its tool (the protocol of the benchmark, BENCH.md §1, on the project's
own data): how much better is the model for the same labels, and how many of the policy's labels
reach what the random labels reach.

Accuracy is the measure while the eval items' classes are near balance. When the largest class
has three times the items of the smallest (the benchmark's rule for an imbalanced set), macro-F1
is: on 90% "ham" a model that never says "spam" scores 0.90 accuracy, and a strategy that finds
the spam would show no gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from labelloop.learn.model import fit_model, predict_proba_chunked

MIN_CONTROLS = 10
"""Random-control labels (of two classes at least) needed before the gain is measured."""
REACH = 2.0
"""The policy's labels are tried up to this many times the controls' count."""
BOOT_LABELS = 100_000
"""Labels the interval's refits may fit on in all (draws × N/2 per side): fewer draws on large
projects, the same number for the same labels on any machine."""
MIN_BOOT = 30
"""Draws the interval takes at least, however many labels that fits."""
Z95 = 1.959964
"""Standard deviations either side of the difference its 95% interval spans."""
IMBALANCE = 3
"""Largest eval class over smallest at which the gain is measured by macro-F1."""
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1"}
INTERVAL_COVERS = "over other draws of both label sets and the eval items"
"""What the interval allows for, in the words the report's sentence and JSON use."""


@dataclass(frozen=True)
class Gain:
    """The comparison; scores are ``metric`` (``"accuracy"`` or ``"macro_f1"``) on the
    ``n_eval`` labeled eval items.

    ``same`` is the score of the model on the first ``n_control`` labels the policy picked
    (None when it picked fewer), ``difference`` ``same`` minus ``control`` with its 95%
    ``interval`` around it, whose spread comes from refits on half of each label set with the
    eval items drawn again, so it holds what the draw of labels varies, not only the scoring
    (see :func:`_spread`). ``labels_to_match`` is the
    fewest policy labels whose model reaches ``control`` on the curve made monotone (isotonic),
    given only when the interval lies above 0 (a strategy not clearly better has no saving
    to claim); ``saving`` is ``n_control`` divided by it.
    """

    n_control: int
    n_policy: int
    n_eval: int
    control: float
    same: float | None
    difference: float | None
    interval: tuple[float, float] | None
    labels_to_match: float | None
    saving: float | None
    curve: list[tuple[int, float]] = field(default_factory=list)
    metric: str = "accuracy"


def metric_for(y_eval: NDArray[np.int64]) -> str:
    """``"macro_f1"`` when the eval items' classes are imbalanced (the largest class has
    ``IMBALANCE`` times the items of the smallest one present), else ``"accuracy"``."""
    counts = np.unique(np.asarray(y_eval), return_counts=True)[1]
    if counts.shape[0] >= 2 and counts.max() >= IMBALANCE * counts.min():
        return "macro_f1"
    return "accuracy"


def score(y_true: NDArray[np.int64], predicted: NDArray[np.int64], metric: str) -> float:
    """``metric`` of ``predicted``; macro-F1 averages over the classes in ``y_true``."""
    if metric == "accuracy":
        return float(np.mean(predicted == y_true))
    from sklearn.metrics import f1_score

    present = np.unique(y_true)
    return float(f1_score(y_true, predicted, labels=present, average="macro", zero_division=0))


def active_learning_gain(
    X: NDArray[Any] | csr_matrix,
    y: NDArray[np.int64],
    is_control: NDArray[np.bool_],
    X_eval: NDArray[Any] | csr_matrix,
    y_eval: NDArray[np.int64],
    *,
    n_classes: int,
    model: Any,
    n_boot: int = 100,
    seed: int = 0,
    metric: str | None = None,
) -> Gain:
    """Compare models trained on the random controls and on the policy's picks.

    Parameters
    ----------
    X : matrix of shape (n_labeled, n_features)
        The labeled pool items; the policy's in the order it picked them.
    y : ndarray of shape (n_labeled,)
        Their class indices.
    is_control : ndarray of bool, shape (n_labeled,)
        True for a random-control label, False for one the policy picked (other labels, such
        as imported or searched ones, are left out by the caller).
    X_eval, y_eval
        The labeled eval items.
    n_classes : int
    model : scikit-learn classifier
        The project's, unfitted; cloned for every fit.
    n_boot : int
        Draws of the interval (two fits each, see :func:`_spread`).
    metric : str, optional
        ``"accuracy"`` or ``"macro_f1"``; by default ``metric_for(y_eval)``.

    Returns
    -------
    Gain
    """
    control_rows = np.flatnonzero(is_control)
    policy_rows = np.flatnonzero(~is_control)
    y_eval = np.asarray(y_eval)
    n = control_rows.shape[0]
    metric = metric or metric_for(y_eval)

    def measured(rows: NDArray[np.intp]) -> float:
        return score(y_eval, _predict(X[rows], y[rows], X_eval, n_classes, model), metric)

    control = measured(control_rows)
    top = min(policy_rows.shape[0], max(1, math.ceil(REACH * n)))
    curve = [
        (k, measured(policy_rows[:k]))
        for k in _grid(top, n)
        if np.unique(y[policy_rows[:k]]).shape[0] >= 2  # one class seen is no model
    ]
    same = dict(curve).get(n)  # None when the policy picked fewer than n, or one class
    difference = interval = match = None
    if same is not None:
        difference = same - control
        draws = max(MIN_BOOT, min(n_boot, BOOT_LABELS // max(n, 1)))
        half = Z95 * _spread(
            X,
            y,
            control_rows=control_rows,
            policy_rows=policy_rows[:n],
            X_eval=X_eval,
            y_eval=y_eval,
            n_classes=n_classes,
            model=model,
            n_boot=draws,
            seed=seed,
            metric=metric,
        )
        # A difference of two scores in [0, 1] lies in [-1, 1]; so does its interval.
        interval = (max(-1.0, difference - half), min(1.0, difference + half))
        if interval[0] > 0:
            match = _first_reaching(_monotone(curve), control)
    return Gain(
        n_control=n,
        n_policy=int(policy_rows.shape[0]),
        n_eval=int(y_eval.shape[0]),
        control=control,
        same=same,
        difference=difference,
        interval=interval,
        labels_to_match=match,
        saving=None if match is None else n / match,
        curve=curve,
        metric=metric,
    )


def _predict(
    X: Any, y: NDArray[np.int64], X_eval: Any, n_classes: int, model: Any
) -> NDArray[np.int64]:
    """The eval predictions of ``model`` fitted on (X, y); one class seen predicts it."""
    seen = np.unique(y)
    if seen.shape[0] < 2:
        return np.full(X_eval.shape[0], seen[0] if seen.shape[0] else 0, dtype=np.int64)
    fitted = fit_model(model, X, y)
    return predict_proba_chunked(fitted, X_eval, n_classes=n_classes).argmax(axis=1)


def _spread(
    X: Any,
    y: NDArray[np.int64],
    *,
    control_rows: NDArray[np.intp],
    policy_rows: NDArray[np.intp],
    X_eval: Any,
    y_eval: NDArray[np.int64],
    n_classes: int,
    model: Any,
    n_boot: int,
    seed: int,
    metric: str,
) -> float:
    """The standard deviation of the difference in ``metric`` between the two models: the
    interval is the difference the original labels give plus or minus ``Z95`` of it.

    Each of ``n_boot`` draws refits both models on half their labels, drawn without
    replacement, and scores them on the eval items drawn again with replacement, in pairs; the
    spread of those differences estimates the difference's (the delete-d jackknife with d = N/2,
    whose scale factor (N - d) / d is then 1: Shao & Wu, Ann. Statist. 1989; with the paired
    bootstrap over eval items, Efron & Tibshirani 1993), so it holds what the draw of labels
    varies, not only the scoring. Models on fewer labels vary more, so it errs wide.

    The percentiles of a bootstrap that refits on labels drawn with replacement would not do:
    such a draw holds about 63% of the distinct labels, so the draws measure models other than
    the two compared, and their centre drifts off the difference (a -2.0 points gain read
    "95% interval -6.1 to +6.2").
    """
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for b in range(n_boot):
        on = rng.integers(0, y_eval.shape[0], y_eval.shape[0])
        mine = rng.choice(policy_rows, -(-policy_rows.shape[0] // 2), replace=False)
        theirs = rng.choice(control_rows, -(-control_rows.shape[0] // 2), replace=False)
        truth = y_eval[on]
        ours = _predict(X[mine], y[mine], X_eval[on], n_classes, model)
        random = _predict(X[theirs], y[theirs], X_eval[on], n_classes, model)
        diffs[b] = score(truth, ours, metric) - score(truth, random, metric)
    return float(np.std(diffs, ddof=1))


def _monotone(curve: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """``curve`` fitted by isotonic regression: a noisy early point that happens to touch a
    level does not count as reaching it."""
    if len(curve) < 2:
        return curve
    from sklearn.isotonic import IsotonicRegression

    ks = np.array([k for k, _ in curve], dtype=np.float64)
    fitted = IsotonicRegression().fit_transform(ks, [a for _, a in curve])
    return [(k, float(a)) for (k, _), a in zip(curve, fitted, strict=True)]


def _grid(top: int, n_control: int) -> list[int]:
    """Label counts to fit the policy's model on: about 12 steps up to ``top``, with the
    controls' own count among them."""
    if top <= 0:
        return []
    steps = np.unique(np.geomspace(min(5, top), top, num=12).round().astype(int))
    return sorted({int(k) for k in steps} | ({n_control} if n_control <= top else set()))


def _first_reaching(curve: list[tuple[int, float]], target: float) -> float | None:
    """The label count where ``curve`` first reaches ``target``, linear between its points."""
    before: tuple[int, float] | None = None
    for k, value in curve:
        if value >= target:
            if before is None or value == before[1]:
                return float(k)
            k0, a0 = before
            return k0 + (target - a0) / (value - a0) * (k - k0)
        before = (k, value)
    return None
