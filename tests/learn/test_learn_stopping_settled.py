"""Settled predictions: the newest model against the one trained on a fifth fewer labels."""

import numpy as np

from labelloop.domain import RoundSummary
from labelloop.learn import SettledPredictions, StabilizingPredictions, make_stopping
from labelloop.learn.stopping import agreement

BASE = np.random.default_rng(0).integers(0, 3, size=1000)


def drifting(batch: int, *, per_label: float, until: int, start: int = 100) -> list[RoundSummary]:
    """Rounds every ``batch`` labels from ``start``; each label changes ``per_label`` of the
    1,000 stop-set predictions (a different item each time), as a slowly learning model does."""
    history, preds, changed = [], BASE.copy(), 0
    for version, n in enumerate(range(start, until + 1, batch), start=1):
        if version > 1:
            k = round(batch * per_label)
            preds = preds.copy()
            preds[changed : changed + k] = (preds[changed : changed + k] + 1) % 3
            changed += k
        history.append(RoundSummary(version, n, preds))
    return history


def test_it_compares_with_the_newest_round_a_fifth_fewer_labels_back() -> None:
    history = drifting(10, per_label=0.0, until=140)  # 100, 110, ..., 140
    rule = SettledPredictions()
    assert not rule.evaluate(history[:2]).stop  # 110: no round at <= 91.7 labels
    assert not rule.evaluate(history[:3]).stop  # 120: 100 is only 2 rounds back
    assert "needs the newest model to have 20% more labels" in rule.evaluate(history[:2]).reason
    assert "at 130 labels vs 100" in rule.evaluate(history[:4]).reason  # 130 / 1.2 = 108.3
    decision = rule.evaluate(history)
    assert "at 140 labels vs 110" in decision.reason  # 140 / 1.2 = 116.7
    assert decision.stop and decision.value == 1.0


def test_a_slow_drift_stops_stabilizing_predictions_at_batch_10_but_not_settled() -> None:
    # 0.6 changed predictions per label: successive rounds of 10 labels differ in 6 of 1,000
    # (kappa ~0.991 >= 0.99), but 20% more labels change 2.4% (more than 1.75%).
    small = drifting(10, per_label=0.6, until=200)
    assert agreement(small[-2].stop_predictions, small[-1].stop_predictions) >= 0.99
    assert StabilizingPredictions().evaluate(small).stop
    settled = SettledPredictions().evaluate(small)
    assert not settled.stop and "2.4% changed" in settled.reason
    assert "more than 1.75% changed, still changing" in settled.reason
    # The same model labelled in batches of 50: stabilizing predictions now waits (30 changes
    # a round); the settled rule reads the drift the same way at any batch.
    big = drifting(50, per_label=0.6, until=300)
    assert not StabilizingPredictions().evaluate(big).stop
    big_settled = SettledPredictions().evaluate(big)
    assert not big_settled.stop and "more than 1.75% changed" in big_settled.reason


def test_it_fires_once_the_drift_stops_and_says_so() -> None:
    history = drifting(10, per_label=0.6, start=200, until=300)  # 6 changes per round
    last = history[-1].stop_predictions
    history += [RoundSummary(len(history) + k + 1, 310 + 10 * k, last) for k in range(6)]
    labels = [r.n_labeled for r in history]
    fired = [SettledPredictions().evaluate(history[:n]).stop for n in range(1, len(history) + 1)]
    # 330 vs 270 (<= 275): 3 rounds of drift, 18 changes (1.8%); 340 vs 280: 12 changes
    # (1.2%, kappa ~0.982); from then on less.
    assert [n for n, f in zip(labels, fired, strict=True) if f] == [340, 350, 360]
    decision = SettledPredictions().evaluate(history)
    assert "at 360 labels vs 300" in decision.reason and decision.value == 1.0
    assert "20% more labels no longer change them" in decision.reason


def test_threshold_changed_share_and_lag_are_parameters_and_a_changed_stop_set_waits() -> None:
    history = drifting(10, per_label=0.6, until=200)  # 200 vs 160: 24 of 1,000 changed, κ ~0.964
    assert not SettledPredictions().evaluate(history).stop
    assert make_stopping("settled_predictions", changed=0.03).evaluate(history).stop
    strict = make_stopping("settled_predictions", changed=0.03, threshold=0.97)
    assert not strict.evaluate(history).stop
    # With a lag of 5% and no minimum of rounds, 200 compares with 190: 6 changes, kappa ~0.991.
    assert make_stopping("settled_predictions", lag=0.05, min_rounds=1).evaluate(history).stop
    assert not make_stopping("settled_predictions", lag=0.05).evaluate(history).stop  # vs 170
    changed = [*history, RoundSummary(99, 400, BASE[:500])]
    decision = SettledPredictions().evaluate(changed)
    assert not decision.stop and "stop set changed" in decision.reason


def two_models(older: np.ndarray, newer: np.ndarray) -> list[RoundSummary]:
    """Rounds at 100, 110, 120 labels predicting ``older`` and one at 130 predicting ``newer``."""
    rounds = [RoundSummary(v, 90 + 10 * v, older) for v in (1, 2, 3)]
    return [*rounds, RoundSummary(4, 130, newer)]


def test_on_an_imbalanced_set_a_small_share_changed_is_settled() -> None:
    # 1,000 stop-set items, 13% predicted spam; 20% more labels turn 10 more items to spam.
    # 1.0% changed; kappa = (0.99 - pe) / (1 - pe), pe = 0.13 * 0.14 + 0.87 * 0.86 = 0.7664,
    # so kappa = 0.957: settled, where kappa alone at 0.98 would call it still changing.
    older = np.zeros(1000, dtype=np.int64)
    older[:130] = 1
    newer = older.copy()
    newer[130:140] = 1
    decision = SettledPredictions().evaluate(two_models(older, newer))
    assert decision.stop and round(decision.value, 3) == 0.957
    assert "at 130 labels vs 100: 1.0% changed, κ = 0.957 ≥ 0.93" in decision.reason
    kappa_alone = make_stopping("settled_predictions", threshold=0.98, changed=1.0)
    assert not kappa_alone.evaluate(two_models(older, newer)).stop


def test_the_same_share_changed_within_a_rare_class_is_not_settled() -> None:
    # 1% predicted positive, and half of those positives move: also 1.0% changed, but
    # kappa = (0.99 - 0.9802) / (1 - 0.9802) = 0.495, the rare class is not learned yet.
    older = np.zeros(1000, dtype=np.int64)
    older[:10] = 1
    newer = np.zeros(1000, dtype=np.int64)
    newer[5:15] = 1
    decision = SettledPredictions().evaluate(two_models(older, newer))
    assert not decision.stop and round(decision.value, 3) == 0.495
    assert "1.0% changed, κ = 0.494 < 0.93: the changes fall on a rare class" in decision.reason


def test_a_model_that_predicts_one_class_everywhere_has_not_settled() -> None:
    ham = np.zeros(1000, dtype=np.int64)  # 20-60 labels of a rare-spam set: all "ham"
    history = [RoundSummary(v, 10 + 10 * v, ham.copy()) for v in range(1, 6)]
    decision = SettledPredictions().evaluate(history)
    assert not decision.stop and "one class" in decision.reason


def test_the_labels_more_estimate_is_there_before_the_rule_can_judge() -> None:
    # 110 labels: no model a fifth fewer labels back yet, but two rounds already tell how fast
    # the predictions move (6 of 1,000 per 10 labels: ~17 labels change 1%).
    early = drifting(10, per_label=0.6, until=110)
    decision = SettledPredictions().evaluate(early)
    assert not decision.stop and "needs the newest model to have 20% more labels" in decision.reason
    assert decision.more_labels == 17
    frozen = drifting(10, per_label=0.0, until=110)
    assert SettledPredictions().evaluate(frozen).more_labels is None  # nothing moved


def test_a_share_just_over_the_limit_never_reads_as_equal_to_it() -> None:
    # 15 of 998 changed is 1.503%: over 1.5%, and the reason must not print it as 1.5%.
    older = np.zeros(998, dtype=np.int64)
    older[:300] = 1
    newer = older.copy()
    newer[300:315] = 1
    decision = SettledPredictions(changed=0.015).evaluate(two_models(older, newer))
    assert not decision.stop
    assert "1.6% changed" in decision.reason and "more than 1.5% changed" in decision.reason


def test_a_limit_between_tenths_prints_as_set_and_a_share_within_it_reads_within() -> None:
    # 12 of 1,000 changed (1.2%) against a limit of 1.25%: settled, and neither number may be
    # rounded to the other side (the limit is not "1.3%", the share not "1.3%").
    older = np.zeros(1000, dtype=np.int64)
    older[:400] = 1
    newer = older.copy()
    newer[400:412] = 1
    rule = make_stopping("settled_predictions", changed=0.0125)
    assert rule.evaluate(two_models(older, newer)).stop
    newer[412:413] = 1  # 13 of 1,000: 1.3%, over 1.25%
    decision = rule.evaluate(two_models(older, newer))
    assert not decision.stop
    assert "1.3% changed" in decision.reason and "more than 1.25% changed" in decision.reason
    # exactly at the limit is within it, and reads 1.2%, not 1.3%
    older, newer = np.zeros(2000, dtype=np.int64), np.zeros(2000, dtype=np.int64)
    older[:800] = newer[:800] = 1
    newer[800:825] = 1  # 25 of 2,000 = 1.25%
    within = rule.evaluate(two_models(older, newer))
    assert within.stop and "1.2% changed" in within.reason


def test_by_default_up_to_one_and_three_quarter_percent_may_change() -> None:
    # Three balanced classes: 17 of 1,000 changed (1.7%, κ ~0.974) is settled; 18 (1.8%) is not.
    older = np.arange(1000, dtype=np.int64) % 3
    newer = older.copy()
    newer[:17] = (newer[:17] + 1) % 3
    assert SettledPredictions().evaluate(two_models(older, newer)).stop
    newer[17] = (newer[17] + 1) % 3
    decision = SettledPredictions().evaluate(two_models(older, newer))
    assert not decision.stop and "1.8% changed" in decision.reason
    assert "more than 1.75% changed" in decision.reason
