"""Stopping criteria: when more labels stop buying a better model, say so with a reason.

Each criterion is a pure function of the persisted round history, so a restart changes nothing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import cohen_kappa_score

from labelloop.domain import RoundSummary, StopDecision
from labelloop.learn.registry import Registry


@runtime_checkable
class StoppingCriterion(Protocol):
    """Judges the round history; ``name`` is the registry key."""

    name: ClassVar[str]

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        """Decide from ``history`` (oldest round first) whether labeling can stop."""
        ...


STOPPING: Registry[StoppingCriterion] = Registry("stopping rule", "rules")
"""Registry of stopping criterion classes by ``name``; built-ins register as plug-ins do."""

register_stopping = STOPPING.register
"""Class decorator that registers a criterion class under its ``name`` in :data:`STOPPING`."""


def make_stopping(name: str, **params: Any) -> StoppingCriterion:
    """Build the registered criterion called ``name`` with ``params`` (e.g. ``budget=500``).

    Raises
    ------
    SchemaError
        When no criterion of that name is registered; the message lists the known ones.
    """
    return STOPPING.make(name, **params)


def evaluate_all(
    criteria: Iterable[StoppingCriterion], history: Sequence[RoundSummary]
) -> list[StopDecision]:
    """Every criterion's decision on the same history, in the order given."""
    return [criterion.evaluate(history) for criterion in criteria]


@register_stopping
class LabelBudget:
    """Stop once the number of resolved labels reaches a budget.

    Parameters
    ----------
    budget : int
        Labels the project is willing to pay for.
    """

    name: ClassVar[str] = "budget"

    def __init__(self, budget: int = 500) -> None:
        self.budget = budget

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        used = history[-1].n_labeled if history else 0
        if used >= self.budget:
            reason = f"label budget of {self.budget:,} reached ({used:,} labels)"
        else:
            reason = f"{used:,} of {self.budget:,} budgeted labels used"
        return StopDecision(self.name, used >= self.budget, float(used), reason)


def agreement(a: NDArray[np.int64], b: NDArray[np.int64]) -> float:
    """Cohen's kappa between two prediction vectors of shape (n,) (Cohen 1960).

    Two identical constant vectors agree perfectly: kappa is 1.0 there, where the textbook
    formula divides zero by zero.
    """
    a, b = np.asarray(a), np.asarray(b)
    if np.array_equal(a, b):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = float(cohen_kappa_score(a, b))
    return kappa if math.isfinite(kappa) else 0.0


def _floor(value: float, digits: int = 3) -> str:
    # Round down so a kappa just under the threshold never prints as equal to it.
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:.{digits}f}"


@register_stopping
class StabilizingPredictions:
    """Stop when predictions on a fixed stop set stop changing between rounds.

    Bloodgood & Vijay-Shanker, "A Method for Stopping Active Learning Based on Stabilizing
    Predictions and the Need for User-Adjustable Stopping" (CoNLL 2009): Cohen's kappa between
    successive models' predictions on a fixed set of unlabeled items; stop when the last
    ``window`` kappas all reach ``threshold``. Rounds without a model (empty
    ``stop_predictions``) are skipped; a change of stop set breaks the run of stable rounds.

    Parameters
    ----------
    threshold : float
        Kappa each comparison must reach (the paper's 0.99).
    window : int
        Consecutive comparisons that must reach it (the paper's 3).
    """

    name: ClassVar[str] = "stabilizing_predictions"

    def __init__(self, threshold: float = 0.99, window: int = 3) -> None:
        self.threshold = threshold
        self.window = window

    def kappas(self, history: Sequence[RoundSummary]) -> list[float]:
        """Kappa of each trained round against the previous trained round, oldest first.

        A pair whose stop sets differ in size is not comparable and gets NaN.
        """
        trained = [np.asarray(r.stop_predictions) for r in history if len(r.stop_predictions)]
        return [
            agreement(prev, cur) if prev.shape == cur.shape else math.nan
            for prev, cur in zip(trained, trained[1:], strict=False)
        ]

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        kappas = self.kappas(history)
        if not kappas:
            return StopDecision(self.name, False, None, "needs two trained rounds")
        latest = kappas[-1]
        if math.isnan(latest):
            return StopDecision(
                self.name, False, None, "stop set changed; needs two rounds on the new one"
            )
        t = f"{self.threshold:g}"
        if latest < self.threshold:
            reason = f"predictions still changing (κ = {_floor(latest)} < {t})"
            return StopDecision(self.name, False, latest, reason)
        run = 0
        for kappa in reversed(kappas):
            if not kappa >= self.threshold:  # NaN breaks the run too
                break
            run += 1
        if run >= self.window:
            n_items = next(
                len(r.stop_predictions) for r in reversed(history) if len(r.stop_predictions)
            )
            reason = (
                f"predictions on {n_items:,} unlabeled items stable for {self.window} rounds "
                f"(κ = {_floor(latest)} ≥ {t})"
            )
            return StopDecision(self.name, True, latest, reason)
        reason = (
            f"predictions stable for {run} of {self.window} rounds (κ = {_floor(latest)} ≥ {t})"
        )
        return StopDecision(self.name, False, latest, reason)
