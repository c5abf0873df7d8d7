"""What active learning bought a project, measured against its own random controls.

A project with ``random_share`` serves that share of its items picked uniformly at random and
records them as such. Those labels are what labeling without a model would have given; the
labels the policy picked are what active learning gave. Training the project's model on each,
with equal numbers of labels, and scoring both on the same labeled eval items answers the
question a team asks of its tool (the protocol of the benchmark, BENCH.md §1, on the project's
own data): how much better is the model for the same labels, and how many of the policy's labels
reach what the random labels reach.
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


@dataclass(frozen=True)
class Gain:
    """The comparison; accuracies are on the ``n_eval`` labeled eval items.

    ``same`` is the accuracy of the model on the first ``n_control`` labels the policy picked
    (None when it picked fewer), ``difference`` ``same`` minus ``control`` with its paired
    bootstrap 95% interval over the eval items, ``labels_to_match`` the fewest policy labels
    whose model reaches ``control`` (interpolated between the points of ``curve``; None when
    none within :data:`REACH` times ``n_control`` do), ``saving`` ``n_control`` divided by it.
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


def active_learning_gain(
    X: NDArray[Any] | csr_matrix,
    y: NDArray[np.int64],
    is_control: NDArray[np.bool_],
    X_eval: NDArray[Any] | csr_matrix,
    y_eval: NDArray[np.int64],
    *,
    n_classes: int,
    model: Any,
    n_boot: int = 1000,
    seed: int = 0,
) -> Gain:
    """Compare models trained on the random controls and on the policy's picks.

    Parameters
    ----------
    X : matrix of shape (n_labeled, n_features)
        The labeled pool items, in the order they were labeled.
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

    Returns
    -------
    Gain
    """
    control_rows = np.flatnonzero(is_control)
    policy_rows = np.flatnonzero(~is_control)
    y_eval = np.asarray(y_eval)

    def correct(rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        return _predict(X[rows], y[rows], X_eval, n_classes, model) == y_eval

    control_hits = correct(control_rows)
    control = float(control_hits.mean())
    top = min(policy_rows.shape[0], max(1, math.ceil(REACH * control_rows.shape[0])))
    points = _grid(top, control_rows.shape[0])
    hits = {k: correct(policy_rows[:k]) for k in points}
    curve = [(k, float(hits[k].mean())) for k in points]
    n = control_rows.shape[0]
    same_hits = hits.get(n)
    same = None if same_hits is None else float(same_hits.mean())
    difference = interval = None
    if same_hits is not None:
        difference = same - control  # type: ignore[operator]
        interval = _paired_interval(same_hits, control_hits, n_boot=n_boot, seed=seed)
    match = _first_reaching(curve, control)
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
    for k, accuracy in curve:
        if accuracy >= target:
            if before is None or accuracy == before[1]:
                return float(k)
            k0, a0 = before
            return k0 + (target - a0) / (accuracy - a0) * (k - k0)
        before = (k, accuracy)
    return None


def _paired_interval(
    a: NDArray[np.bool_], b: NDArray[np.bool_], *, n_boot: int, seed: int
) -> tuple[float, float]:
    """The 95% bootstrap interval of mean(a) - mean(b) over eval items resampled in pairs."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, diff.shape[0], size=(n_boot, diff.shape[0]))
    means = diff[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)
