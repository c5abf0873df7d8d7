"""Stopping criteria: when more labels stop buying a better model, say so with a reason.

Each criterion is a pure function of the persisted round history, so a restart changes nothing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import cohen_kappa_score

from labelloop.domain import RoundSummary, StopDecision
from labelloop.errors import SchemaError
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


def successive_kappas(history: Sequence[RoundSummary], *, last: int | None = None) -> list[float]:
    """Cohen's kappa of each trained round's stop-set predictions against the previous one's.

    Rounds without a model (empty ``stop_predictions``) are skipped; a pair whose stop sets
    differ in size is not comparable and gets NaN.

    Parameters
    ----------
    history : sequence of RoundSummary, oldest first
    last : int, optional
        Only the newest ``last`` pairs: a rule that reads no further back judges every round
        of a long history, and each kappa costs milliseconds.

    Returns
    -------
    list of float
        One per pair of successive trained rounds, oldest first.
    """
    trained = [r.stop_predictions for r in history if len(r.stop_predictions)]
    if last is not None:
        trained = trained[max(0, len(trained) - last - 1) :]
    trained = [np.asarray(predictions) for predictions in trained]
    return [
        agreement(prev, cur) if prev.shape == cur.shape else math.nan
        for prev, cur in zip(trained, trained[1:], strict=False)
    ]


def _window(window: int) -> int | None:
    """The kappas a rule of ``window`` comparisons reads: ``None`` (all) for a window below one,
    which reads them all."""
    return window if window >= 1 else None


def labels_to_change(
    history: Sequence[RoundSummary], *, share: float = 0.01, rounds: int = 3
) -> int | None:
    """Labels more after which about ``share`` of the stop-set predictions would change.

    The rate of change per label is measured over the last ``rounds`` comparable pairs of
    trained rounds (changed share of the stop set divided by labels added) and extrapolated
    linearly: a cheap reading of "how many labels more would change the model".

    Parameters
    ----------
    history : sequence of RoundSummary, oldest first
    share : float
        Share of the stop set that counts as a change of the model.
    rounds : int

    Returns
    -------
    int or None
        ``None`` when fewer than two comparable trained rounds exist, no labels were added, or
        no prediction changed at all.
    """
    trained = [r for r in history if len(r.stop_predictions)]
    changed, added = 0.0, 0
    pairs = 0
    for prev, cur in reversed(list(zip(trained, trained[1:], strict=False))):
        a, b = np.asarray(prev.stop_predictions), np.asarray(cur.stop_predictions)
        if a.shape != b.shape or pairs == rounds:
            break
        changed += float(np.mean(a != b))
        added += max(0, cur.n_labeled - prev.n_labeled)
        pairs += 1
    if pairs == 0 or added == 0 or changed == 0.0:
        return None
    return max(1, math.ceil(share * added / changed - 1e-9))  # 1e-9: float noise, not a label


def labels_for_gain(
    points: Sequence[tuple[int, float]], *, gain: float = 0.01, rounds: int = 5
) -> int | None:
    """Labels more the learning curve says are needed to raise a metric by ``gain``.

    Fits ``metric = a + b * ln(n_labels)`` (learning curves grow roughly logarithmically in the
    labels; Figueroa et al., "Predicting sample size required for classification performance",
    BMC Med. Inform. Decis. Mak. 2012, use the inverse power law of the same shape) to the last
    ``rounds`` points and solves ``b * ln(n' / n) = gain`` for ``n' - n``.

    Parameters
    ----------
    points : sequence of (n_labels, metric), oldest first
    gain : float
    rounds : int

    Returns
    -------
    int or None
        ``None`` with fewer than three distinct label counts, or when the curve is flat or
        falling (no labels are expected to buy the gain), or beyond a billion.
    """
    recent = [(n, m) for n, m in points if n > 0][-rounds:]
    n = np.array([p[0] for p in recent], dtype=np.float64)
    m = np.array([p[1] for p in recent], dtype=np.float64)
    if np.unique(n).shape[0] < 3:
        return None
    slope = float(np.polyfit(np.log(n), m, 1)[0])
    if not slope > 0:
        return None
    exponent = gain / slope
    if exponent > math.log(1e9):
        return None
    more = n[-1] * math.expm1(exponent)
    return max(1, math.ceil(more)) if more < 1e9 else None


def _within_pool(
    more: int | None, history: Sequence[RoundSummary], *, found: str, none: str, beyond: str
) -> tuple[int | None, str]:
    """An estimate of labels more as a decision carries it, and its sentence: ``found`` (with
    ``{more}``), ``none`` without an estimate, ``beyond`` (with ``{left}``) when it exceeds the
    pool items still unlabeled at the newest round, as the caller said (``n_unlabeled``). Such
    an estimate is no estimate, and neither is one for a pool all labeled."""
    left = history[-1].n_unlabeled if history else None
    if left == 0:
        return None, "; every item is labeled"
    if more is None:
        return None, none
    if left is not None and more > left:
        return None, beyond.format(left=left)
    return more, found.format(more=more)


def change_estimate(history: Sequence[RoundSummary]) -> tuple[int | None, str]:
    """:func:`labels_to_change` as a decision carries it, and its sentence."""
    return _within_pool(
        labels_to_change(history),
        history,
        found="; about {more:,} more labels would change 1% of its predictions",
        none="; no prediction changed lately",
        beyond="; labeling all {left:,} items left would change under 1% of its predictions",
    )


def _floor(value: float, digits: int = 3) -> str:
    # Round down so a kappa just under the threshold never prints as equal to it.
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:.{digits}f}"


def _percent(share: float, *, over: bool) -> str:
    # To 0.1%, rounded away from the limit it is judged against, as _floor rounds kappa down:
    # a share just over a limit never prints as equal to it ("1.5% changed; more than 1.5%
    # changed"), nor one within it as over it. 1e-9: float noise (0.015 * 1000).
    tenths = math.ceil(share * 1000 - 1e-9) if over else math.floor(share * 1000 + 1e-9)
    return f"{tenths / 10:.1f}%"


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

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        decision = self._evaluate(history)
        more, estimate = change_estimate(history)
        reason = decision.reason + (estimate if decision.stop else "")
        return replace(decision, reason=reason, more_labels=more)

    def _evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        # The newest window is all it reads: a longer run of stable rounds stops as well.
        kappas = successive_kappas(history, last=_window(self.window))
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
                f"predictions on {n_items:,} stop-set items stable for {self.window} rounds "
                f"(κ = {_floor(latest)} ≥ {t})"
            )
            return StopDecision(self.name, True, latest, reason)
        reason = (
            f"predictions stable for {run} of {self.window} rounds (κ = {_floor(latest)} ≥ {t})"
        )
        return StopDecision(self.name, False, latest, reason)


@register_stopping
class SettledPredictions:
    """Stop when the model predicts the stop set as a model with ``lag`` fewer labels did.

    Stabilizing predictions compares successive rounds, so what it measures depends on the
    batch: ten labels added to hundreds barely move any model, and on a slowly learning task
    (six-class questions with TF-IDF) successive kappas pass 0.99 while accuracy is still
    rising, which stopped labeling at ~93% of the full-data accuracy in ``bench/al_efficiency``.
    This rule compares the newest model with the newest earlier one trained on at most
    ``1 / (1 + lag)`` as many labels (with ``lag = 0.2``: 500 labels against <= 416): "another
    fifth more labels no longer changed the predictions". It is Bloodgood & Vijay-Shanker's
    stabilizing predictions (CoNLL 2009) with the gap measured in labels instead of rounds, so
    the same threshold means the same thing at any batch size and retrain interval.

    "No longer changed" is two conditions on the two models' stop-set predictions: at most
    ``changed`` of them differ (so accuracy can move by at most that much), and Cohen's kappa
    reaches ``threshold`` (so the few that differ are not most of a rare class's). Kappa alone,
    at 0.98, asks an imbalanced set for far less change than a balanced one: on a set that is
    87% one class, 0.98 allows 0.45% changed predictions where ten balanced classes allow 1.8%,
    and it stopped spam/ham at 2.0× the labels needed for 98% of the full-data accuracy
    (``bench/stop_sweep.py``, 10 seeds); these defaults stop it at 1.4×. The share is 1.75%:
    replayed past the old budgets (TREC to 3,000 labels, movie snippets to 6,000), 1.5% stopped
    TREC/TF-IDF at 1.52× and movies/TF-IDF at 1.56× (one seed of ten not by 6,000), 1.75% at
    1.46× and 1.45× on every seed, keeping 100.5% and 99.6% of the full-data accuracy, while
    digits went from 1.30× to 1.27× (98.5% kept, worst seed 97.0%); 2% stopped digits at 98.0%
    and one movies seed at 96.0%. A model that predicts one class for the whole stop set has
    not learned yet, however stable.

    The stop set is drawn from the pool, so labels land on its items, and a model taught an
    item's label predicts that label wherever it had the item wrong: on the uncertain items a
    queue serves, about half of them. On a small pool the stop set is a large share of it
    (1,000 of 2,250 tweets), and those items alone changed 3-4% of the stop-set predictions per
    fifth more labels for as long as labeling went on, while the predictions on the items not
    labeled yet had stopped changing (0.25% from 800 labels on 3,000 tweets), so the rule never
    fired. When the rounds say which stop-set items they were trained on
    (``RoundSummary.stop_labeled``), it also stops once at most ``unseen_changed`` of the
    predictions on the items still unlabeled changed (with κ ≥ ``threshold``) at every round
    over the last ``hold`` more labels: 3,000 tweets then stop at 1.41× the labels to 98% of
    the full-data accuracy, keeping 98.8% (worst seed 98.1%). The items still unlabeled are
    those the queue found least uncertain, so a single round of them reads "settled" early (at
    96% of the accuracy on those tweets); held over 40% more labels it does not, and alone it
    would stop digits at 1.7× where the changed share stops them at 1.27×.

    Parameters
    ----------
    threshold : float
        Cohen's kappa the two models' stop-set predictions must reach.
    lag : float
        How many more labels, as a share of the older model's, separate the two models.
    min_rounds : int
        Trained rounds at least between them: with few labels one round adds a large share,
        and two nearly constant models (a rare class not predicted yet) would read as settled.
    changed : float
        Share of the stop-set predictions that may differ between the two models.
    unseen_changed : float
        Share of the predictions on the stop-set items not labeled yet that may differ, at every
        round over the last ``hold`` more labels, when the rounds say which items are labeled.
    hold : float
        How many more labels, as a share of the older round's, the unseen items must have stayed
        settled over.
    """

    name: ClassVar[str] = "settled_predictions"

    def __init__(
        self,
        threshold: float = 0.93,
        lag: float = 0.2,
        min_rounds: int = 3,
        changed: float = 0.0175,
        unseen_changed: float = 0.01,
        hold: float = 0.4,
    ) -> None:
        self.threshold = threshold
        self.lag = lag
        self.min_rounds = min_rounds
        self.changed = changed
        self.unseen_changed = unseen_changed
        self.hold = hold

    def _older(self, trained: Sequence[RoundSummary], i: int) -> RoundSummary | None:
        """The newest round at least ``min_rounds`` before round ``i`` with a ``lag`` share
        fewer labels, or None."""
        n = trained[i].n_labeled
        back = trained[: max(0, i + 1 - self.min_rounds)]
        return next((r for r in reversed(back) if r.n_labeled * (1 + self.lag) <= n), None)

    def _unseen(self, trained: Sequence[RoundSummary], i: int) -> tuple[float, float, int] | None:
        """Changed share and κ of round ``i`` against its older round on the stop-set items round
        ``i`` was not trained on, and how many they are; None when that cannot be told or
        exceeds ``unseen_changed`` (κ is computed only then: it costs a millisecond)."""
        cur, then = trained[i], self._older(trained, i)
        if cur.stop_labeled is None or then is None:
            return None
        b, a = np.asarray(cur.stop_predictions), np.asarray(then.stop_predictions)
        unseen = ~np.asarray(cur.stop_labeled, dtype=bool)
        if a.shape != b.shape or unseen.shape != b.shape or not unseen.any():
            return None
        moved = float(np.mean(a[unseen] != b[unseen]))
        if moved > self.unseen_changed + 1e-12:
            return None
        return moved, agreement(a[unseen], b[unseen]), int(unseen.sum())

    def _unseen_settled(self, trained: Sequence[RoundSummary]) -> str | None:
        """Why the items not labeled yet have settled over the last ``hold`` more labels, or None.

        Every round since the newest one with ``1 / (1 + hold)`` of the newest's labels must
        pass, each against its own older round and on the items it was not trained on.
        """
        n = trained[-1].n_labeled
        start = next(
            (
                k
                for k in range(len(trained) - 1, -1, -1)
                if trained[k].n_labeled * (1 + self.hold) <= n
            ),
            None,
        )
        if start is None:
            return None
        found = []
        for k in range(len(trained) - 1, start - 1, -1):  # newest first: most fail there
            unseen = self._unseen(trained, k)
            if unseen is None or unseen[1] < self.threshold:
                return None
            found.append(unseen)
        moved, kappa, count = found[0]
        u = f"{self.unseen_changed * 100:g}%"
        return (
            f"; on the {count:,} stop-set items not labeled yet {_percent(moved, over=False)} "
            f"changed (κ = {_floor(kappa)}), at most {u} at every round since "
            f"{trained[start].n_labeled:,} labels: the rest changed where the model learned "
            "their labels, and its predictions on the items it has not seen are settled"
        )

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        trained = [r for r in history if len(r.stop_predictions)]
        if not trained:
            return StopDecision(self.name, False, None, "needs a trained round")
        # The estimate reads successive rounds, so it exists before this rule can judge.
        more, estimate = change_estimate(history)
        cur = trained[-1]
        then = self._older(trained, len(trained) - 1)
        share = f"{self.lag:.0%}"
        if then is None:
            reason = (
                f"needs the newest model to have {share} more labels than one "
                f"{self.min_rounds} or more rounds before it"
            )
            return StopDecision(self.name, False, None, reason, more)
        a, b = np.asarray(then.stop_predictions), np.asarray(cur.stop_predictions)
        if a.shape != b.shape:
            return StopDecision(
                self.name, False, None, "stop set changed; needs rounds on the new one", more
            )
        if np.unique(b).shape[0] < 2:
            reason = "the model still predicts one class for every stop-set item"
            return StopDecision(self.name, False, None, reason, more)
        kappa = agreement(a, b)
        moved = float(np.mean(a != b))
        over = moved > self.changed + 1e-12  # 1e-12: float noise, not a prediction
        t, c = f"{self.threshold:g}", f"{self.changed * 100:g}%"  # the limit exactly as set
        what = (
            f"predictions on {len(b):,} stop-set items at {cur.n_labeled:,} labels vs "
            f"{then.n_labeled:,}: {_percent(moved, over=over)} changed, κ = {_floor(kappa)}"
        )
        if over or kappa < self.threshold:
            unseen = self._unseen_settled(trained)
            if unseen is not None:
                return StopDecision(self.name, True, kappa, what + unseen + estimate, more)
        if over:
            return StopDecision(
                self.name, False, kappa, f"{what}; more than {c} changed, still changing", more
            )
        if kappa < self.threshold:
            reason = f"{what} < {t}: the changes fall on a rare class, still changing"
            return StopDecision(self.name, False, kappa, reason, more)
        reason = f"{what} ≥ {t}; {share} more labels no longer change them"
        return StopDecision(self.name, True, kappa, reason + estimate, more)


@register_stopping
class KappaAverage:
    """Stop when the mean kappa of the last ``window`` successive rounds reaches ``threshold``.

    small-text's ``KappaAverage`` (Schröder et al., "Small-Text: Active Learning for Text
    Classification in Python", EACL 2023 demo), a variant of Bloodgood & Vijay-Shanker (CoNLL
    2009): averaging tolerates one slightly unstable round that
    :class:`StabilizingPredictions`, which needs every kappa of the window above the threshold,
    would not. Only comparisons since the last change of stop set count.

    Parameters
    ----------
    threshold : float
    window : int
    """

    name: ClassVar[str] = "kappa_average"

    def __init__(self, threshold: float = 0.99, window: int = 3) -> None:
        if window < 1:  # a mean of no kappas says nothing
            raise SchemaError(f"kappa_average averages a window of at least 1 round, got {window}")
        self.threshold = threshold
        self.window = window

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        kappas = successive_kappas(history, last=self.window)  # none before counts
        since = next((i + 1 for i in range(len(kappas) - 1, -1, -1) if math.isnan(kappas[i])), 0)
        recent = kappas[since:][-self.window :]
        more, estimate = change_estimate(history)
        if len(recent) < self.window:
            return StopDecision(
                self.name,
                False,
                None,
                f"needs {self.window} comparisons of successive models, has {len(recent)}",
                more,
            )
        mean = float(np.mean(recent))
        t = f"{self.threshold:g}"
        if mean >= self.threshold:
            reason = (
                f"predictions stable on average over the last {self.window} rounds "
                f"(mean κ = {_floor(mean)} ≥ {t})" + estimate
            )
            return StopDecision(self.name, True, mean, reason, more)
        reason = (
            f"predictions still changing (mean κ over {self.window} rounds = {_floor(mean)} < {t})"
        )
        return StopDecision(self.name, False, mean, reason, more)


@register_stopping
class EvalPlateau:
    """Stop when the eval metric gained less than ``min_gain`` over the last ``window`` rounds.

    The plateau of the held-out learning curve (Laws & Schütze, "Stopping Criteria for Active
    Learning of Named Entity Recognition", COLING 2008, use the same idea on confidence): the
    gain is the best of the last ``window`` evaluated rounds minus the best before them, so a
    noisy dip does not read as progress. Needs an eval split: rounds without
    ``eval_metrics[metric]`` are skipped. ``more_labels`` is the learning-curve estimate of the
    labels needed for another ``+0.01`` (see :func:`labels_for_gain`).

    Parameters
    ----------
    metric : str
        Key of ``RoundSummary.eval_metrics``, e.g. ``"accuracy"`` or ``"macro_f1"``.
    window : int
    min_gain : float
    """

    name: ClassVar[str] = "eval_plateau"

    def __init__(self, metric: str = "accuracy", window: int = 3, min_gain: float = 0.005) -> None:
        self.metric = metric
        self.window = window
        self.min_gain = min_gain

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        points = [
            (r.n_labeled, float(r.eval_metrics[self.metric]))
            for r in history
            if self.metric in r.eval_metrics and math.isfinite(float(r.eval_metrics[self.metric]))
        ]
        if not points:
            return StopDecision(
                self.name, False, None, f"no eval {self.metric} yet: needs labeled eval items"
            )
        if len(points) <= self.window:
            return StopDecision(
                self.name,
                False,
                None,
                f"needs {self.window + 1} evaluated rounds, has {len(points)}",
            )
        metrics = [m for _, m in points]
        gain = max(metrics[-self.window :]) - max(metrics[: -self.window])
        more, estimate = _within_pool(
            labels_for_gain(points),
            history,
            found="; about {more:,} more labels for +0.01",
            none="; the learning curve is flat",
            beyond="; the {left:,} items left are not expected to add +0.01",
        )
        what = (
            f"eval {self.metric} {metrics[-1]:.3f}, {gain:+.3f} over the last {self.window} rounds"
        )
        if gain < self.min_gain:
            reason = f"{what} (< {self.min_gain:g}){estimate}"
            return StopDecision(self.name, True, gain, reason, more)
        return StopDecision(self.name, False, gain, f"{what}, still improving{estimate}", more)
