"""KappaAverage, eval plateau and the "how many labels more" estimates, fired at known rounds."""

import math
from dataclasses import replace

import numpy as np
import pytest

from labelloop.domain import RoundSummary
from labelloop.errors import SchemaError
from labelloop.learn import EvalPlateau, KappaAverage, StabilizingPredictions, make_stopping
from labelloop.learn.stopping import agreement, labels_for_gain, labels_to_change

BASE = np.random.default_rng(0).integers(0, 3, size=1000)


def flipped(predictions: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    out = predictions.copy()
    out[start : start + n] = (out[start : start + n] + 1) % 3
    return out


def kappa_history() -> list[RoundSummary]:
    """Kappas between successive rounds: ~0.70, ~0.985, 1.0, 1.0."""
    r1 = BASE
    r2 = flipped(r1, 200)
    r3 = flipped(r2, 10, start=500)
    r4 = r3.copy()
    r5 = r4.copy()
    return [RoundSummary(v, 100 * v, p) for v, p in enumerate([r1, r2, r3, r4, r5], start=1)]


def test_kappa_average_fires_where_stabilizing_predictions_still_waits() -> None:
    history = kappa_history()
    k = agreement(history[1].stop_predictions, history[2].stop_predictions)
    assert 0.98 < k < 0.99  # one round just under the threshold
    average = [KappaAverage().evaluate(history[:n]).stop for n in range(6)]
    strict = [StabilizingPredictions().evaluate(history[:n]).stop for n in range(6)]
    assert average == [False, False, False, False, False, True]
    assert strict == [False] * 6
    decision = KappaAverage().evaluate(history)
    assert decision.value == pytest.approx((k + 1 + 1) / 3)
    assert decision.reason.startswith(
        "predictions stable on average over the last 3 rounds (mean κ = 0.99"
    )


def test_kappa_average_reasons_before_it_fires_and_after_a_stop_set_change() -> None:
    history = kappa_history()
    assert KappaAverage().evaluate(history[:3]).reason == (
        "needs 3 comparisons of successive models, has 2"
    )
    four = KappaAverage().evaluate(history[:4])
    assert not four.stop and four.reason.startswith("predictions still changing (mean κ over 3")
    changed = [*history, RoundSummary(6, 600, BASE[:500]), RoundSummary(7, 700, BASE[:500])]
    after = KappaAverage().evaluate(changed)
    assert not after.stop and after.reason.endswith("has 1")


def plateau_history(metric: str = "accuracy") -> list[RoundSummary]:
    accuracy = [0.60, 0.70, 0.75, 0.78, 0.782, 0.783, 0.784]
    return [RoundSummary(v, 50 * v, BASE, {metric: a}) for v, a in enumerate(accuracy, start=1)]


def test_eval_plateau_fires_when_three_rounds_gain_under_half_a_point() -> None:
    history = plateau_history()
    stops = [EvalPlateau().evaluate(history[:n]).stop for n in range(8)]
    # Gains: round 4 +0.18, round 5 +0.082, round 6 +0.033, round 7 +0.004 (< 0.005).
    assert stops == [False] * 7 + [True]
    decision = EvalPlateau().evaluate(history)
    assert decision.value == pytest.approx(0.004)
    assert decision.reason.startswith(
        "eval accuracy 0.784, +0.004 over the last 3 rounds (< 0.005)"
    )
    six = EvalPlateau().evaluate(history[:6])
    assert six.reason.startswith(
        "eval accuracy 0.783, +0.033 over the last 3 rounds, still improving"
    )


def test_eval_plateau_without_eval_labels_never_fires() -> None:
    history = [RoundSummary(v, 10 * v, BASE) for v in range(1, 6)]
    decision = EvalPlateau().evaluate(history)
    assert (decision.stop, decision.value) == (False, None)
    assert decision.reason == "no eval accuracy yet: needs labeled eval items"
    assert EvalPlateau().evaluate(plateau_history()[:3]).reason == (
        "needs 4 evaluated rounds, has 3"
    )


def test_eval_plateau_watches_the_metric_it_is_given() -> None:
    assert EvalPlateau(metric="macro_f1").evaluate(plateau_history("macro_f1")).stop
    assert not EvalPlateau(metric="macro_f1").evaluate(plateau_history("accuracy")).stop


def test_labels_for_gain_solves_the_log_learning_curve() -> None:
    # accuracy = 0.5 + 0.05 ln(n): +0.01 needs n' = n e^0.2, i.e. 0.2214 n more labels.
    points = [(n, 0.5 + 0.05 * math.log(n)) for n in (100, 200, 300, 400, 500)]
    assert labels_for_gain(points) == math.ceil(500 * math.expm1(0.2))
    assert labels_for_gain(points[:2]) is None  # two points do not make a curve
    assert labels_for_gain([(n, 0.8) for n in (100, 200, 300)]) is None  # flat


def test_labels_to_change_extrapolates_the_rate_of_prediction_changes() -> None:
    # 50 labels per round change 10 of 1,000 predictions (1%): 1% more needs 50 labels.
    rounds = [BASE]
    for k in range(3):
        rounds.append(flipped(rounds[-1], 10, start=100 * k))
    history = [RoundSummary(v, 50 * v, p) for v, p in enumerate(rounds, start=1)]
    assert labels_to_change(history) == 50
    still = [RoundSummary(v, 50 * v, BASE) for v in range(1, 4)]
    assert labels_to_change(still) is None


def test_stop_decisions_carry_the_estimate() -> None:
    decision = EvalPlateau().evaluate(plateau_history())
    assert decision.more_labels is not None and decision.more_labels > 0
    assert decision.reason.endswith(f"; about {decision.more_labels:,} more labels for +0.01")
    history = kappa_history()
    history.append(RoundSummary(6, 600, flipped(history[-1].stop_predictions, 1, start=900)))
    stable = StabilizingPredictions().evaluate(history)
    # Last three comparisons: 1 of 1,000 predictions changed over 300 labels; 1% takes 3,000.
    assert stable.stop and stable.more_labels == 3000
    assert stable.reason.endswith("; about 3,000 more labels would change 1% of its predictions")


def test_an_estimate_beyond_the_items_left_says_labeling_them_all_would_not_do_it() -> None:
    """3,000 labels more would change 1% of the predictions, but 40 items are left."""
    history = kappa_history()
    last = flipped(history[-1].stop_predictions, 1, start=900)
    history.append(RoundSummary(6, 600, last, n_unlabeled=40))
    stable = StabilizingPredictions().evaluate(history)
    assert stable.stop and stable.more_labels is None
    assert stable.reason.endswith(
        "; labeling all 40 items left would change under 1% of its predictions"
    )
    history[-1] = replace(history[-1], n_unlabeled=0)
    done = StabilizingPredictions().evaluate(history)
    assert done.more_labels is None and done.reason.endswith("; every item is labeled")
    plateau = plateau_history()
    plateau[-1] = replace(plateau[-1], n_unlabeled=2)
    flat = EvalPlateau().evaluate(plateau)
    assert flat.more_labels is None
    assert flat.reason.endswith("; the 2 items left are not expected to add +0.01")


def test_criteria_are_built_by_name_with_parameters() -> None:
    assert make_stopping("eval_plateau", window=2, min_gain=0.01).evaluate(plateau_history()[:6])
    assert make_stopping("kappa_average", threshold=0.5, window=1).evaluate(kappa_history()).stop
    # A window of no rounds is refused as it is made (it failed on its first judgement).
    with pytest.raises(SchemaError, match="window of at least 1 round, got 0"):
        make_stopping("kappa_average", window=0)
