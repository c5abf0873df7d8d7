"""Stopping criteria: budget arithmetic and Bloodgood & Vijay-Shanker's stabilizing predictions."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from labelloop.domain import RoundSummary
from labelloop.errors import SchemaError
from labelloop.learn import (
    LabelBudget,
    StabilizingPredictions,
    evaluate_all,
    make_stopping,
)
from labelloop.learn.stopping import agreement

BASE = np.random.default_rng(0).integers(0, 3, size=1000)


def flipped(predictions: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    out = predictions.copy()
    out[start : start + n] = (out[start : start + n] + 1) % 3
    return out


def stabilizing_history() -> list[RoundSummary]:
    """Kappas between successive rounds: ~0.7, ~0.997, 1.0, ~0.998."""
    r1 = BASE
    r2 = flipped(r1, 200)
    r3 = flipped(r2, 2, start=500)
    r4 = r3.copy()
    r5 = flipped(r4, 1, start=900)
    return [RoundSummary(v, 100 * v, p) for v, p in enumerate([r1, r2, r3, r4, r5], start=1)]


def test_budget_not_reached() -> None:
    decision = LabelBudget(budget=500).evaluate([RoundSummary(1, 388, BASE)])
    assert (decision.stop, decision.value) == (False, 388.0)
    assert decision.reason == "388 of 500 budgeted labels used"


def test_budget_reached() -> None:
    decision = LabelBudget(budget=500).evaluate([RoundSummary(1, 512, BASE)])
    assert decision.stop
    assert decision.reason == "label budget of 500 reached (512 labels)"
    assert decision.criterion == "budget"


def test_budget_uses_the_latest_round_and_an_empty_history_uses_nothing() -> None:
    history = [RoundSummary(1, 600, BASE), RoundSummary(2, 20, BASE)]
    assert not LabelBudget(budget=500).evaluate(history).stop
    assert LabelBudget(budget=500).evaluate([]).reason == "0 of 500 budgeted labels used"


def test_stabilizing_predictions_fires_exactly_after_three_stable_rounds() -> None:
    history = stabilizing_history()
    criterion = StabilizingPredictions()
    stops = [criterion.evaluate(history[:n]).stop for n in range(len(history) + 1)]
    assert stops == [False, False, False, False, False, True]
    decision = criterion.evaluate(history)
    assert decision.value == pytest.approx(
        cohen_kappa_score(history[3].stop_predictions, history[4].stop_predictions)
    )
    assert decision.reason.startswith("predictions on 1,000 stop-set items stable for 3 rounds")
    assert "≥ 0.99" in decision.reason


def test_stabilizing_predictions_reasons_before_it_fires() -> None:
    history = stabilizing_history()
    criterion = StabilizingPredictions()
    one = criterion.evaluate(history[:1])
    assert (one.stop, one.value, one.reason) == (False, None, "needs two trained rounds")
    two = criterion.evaluate(history[:2])
    assert two.value is not None and two.value < 0.9
    assert two.reason.startswith("predictions still changing (κ = 0.")
    assert two.reason.endswith("< 0.99)")
    four = criterion.evaluate(history[:4])
    assert four.reason == "predictions stable for 2 of 3 rounds (κ = 1.000 ≥ 0.99)"


def test_a_change_breaks_the_run_of_stable_rounds() -> None:
    history = stabilizing_history()
    history.append(RoundSummary(6, 600, flipped(history[-1].stop_predictions, 300)))
    assert not StabilizingPredictions().evaluate(history).stop


def test_rounds_without_a_model_are_skipped() -> None:
    empty = np.empty(0, dtype=np.int64)
    history = [RoundSummary(0, 5, empty), *stabilizing_history()]
    assert StabilizingPredictions().evaluate(history).stop
    only_cold = [RoundSummary(0, 5, empty), RoundSummary(1, 9, empty)]
    assert StabilizingPredictions().evaluate(only_cold).reason == "needs two trained rounds"


def test_window_and_threshold_are_parameters() -> None:
    history = stabilizing_history()
    assert StabilizingPredictions(window=2).evaluate(history[:4]).stop
    assert StabilizingPredictions(threshold=0.5, window=1).evaluate(history[:2]).stop


def test_kappa_of_equal_constant_predictions_is_one_not_nan() -> None:
    zeros = np.zeros(50, dtype=np.int64)
    assert agreement(zeros, zeros) == 1.0
    history = [RoundSummary(v, 10 * v, zeros) for v in range(1, 5)]
    decision = StabilizingPredictions().evaluate(history)
    assert decision.stop and decision.value == 1.0


def test_kappa_matches_scikit_learn_in_the_ordinary_case() -> None:
    other = flipped(BASE, 100)
    assert agreement(BASE, other) == pytest.approx(cohen_kappa_score(BASE, other))


def test_evaluate_all_keeps_the_order_of_the_criteria() -> None:
    history = stabilizing_history()
    decisions = evaluate_all([LabelBudget(budget=100), StabilizingPredictions()], history)
    assert [d.criterion for d in decisions] == ["budget", "stabilizing_predictions"]
    assert all(d.stop for d in decisions)


def test_make_stopping_builds_with_parameters_and_rejects_unknown_names() -> None:
    assert make_stopping("budget", budget=10).evaluate([RoundSummary(1, 10, BASE)]).stop
    with pytest.raises(
        SchemaError,
        match="budget, eval_plateau, kappa_average, settled_predictions, stabilizing_predictions",
    ):
        make_stopping("patience")


def test_the_kappa_rules_decide_on_their_window_as_on_the_whole_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """They compute only the newest ``window`` kappas: each decision is the one every kappa
    of the history gives (stop-set changes and untrained rounds anywhere)."""
    from labelloop.learn import stopping

    rng = np.random.default_rng(7)
    histories = []
    for _ in range(150):
        rounds, predictions = [], BASE[:40]
        for version in range(1, int(rng.integers(1, 10))):
            kind = rng.random()
            if kind < 0.15:
                shown = np.array([], dtype=np.int64)  # no model this round
            else:
                if kind < 0.25:  # a new stop set
                    predictions = BASE[: int(rng.integers(30, 50))]
                predictions = flipped(predictions, int(rng.integers(0, 2)), int(rng.integers(40)))
                shown = predictions
            rounds.append(RoundSummary(version, 10 * version, shown))
        histories.append(rounds)
    rules = [
        rule(threshold=threshold, window=window)
        for rule, windows in (
            (StabilizingPredictions, range(5)),
            (stopping.KappaAverage, (1, 2, 4)),
        )
        for threshold in (0.9, 0.99)
        for window in windows
    ]
    windowed = [[rule.evaluate(h) for rule in rules] for h in histories]
    every = stopping.successive_kappas
    monkeypatch.setattr(stopping, "successive_kappas", lambda history, last=None: every(history))
    for history, decisions in zip(histories, windowed, strict=True):
        assert decisions == [rule.evaluate(history) for rule in rules], history
