"""The coverage table: how many unlabeled items the model is that sure of, and how often it is
right that sure on the eval items, on hand-checkable probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.insight.coverage import coverage_table

CLASSES = ("neg", "pos")


def test_each_threshold_counts_the_sure_items_and_their_precision_on_eval() -> None:
    pool = np.array([[0.99, 0.01], [0.05, 0.95], [0.6, 0.4], [0.15, 0.85]])
    # eval: right at 0.97 and 0.92, wrong at 0.91 (says pos, truth neg), right at 0.55
    eval_proba = np.array([[0.97, 0.03], [0.08, 0.92], [0.09, 0.91], [0.45, 0.55]])
    eval_y = np.array([0, 1, 0, 1])
    low, mid, high = coverage_table(pool, eval_proba, eval_y, CLASSES, thresholds=(0.95, 0.8, 0.9))
    assert [r["threshold"] for r in (low, mid, high)] == [0.8, 0.9, 0.95]  # lenient first
    assert (low["covered"], low["share"], low["by_label"]) == (3, 0.75, {"neg": 1, "pos": 2})
    assert (mid["covered"], mid["by_label"]) == (2, {"neg": 1, "pos": 1})
    assert (low["eval_n"], low["eval_correct"], low["precision"]) == (3, 2, pytest.approx(2 / 3))
    assert (high["eval_n"], high["eval_correct"], high["precision"]) == (1, 1, 1.0)
    lo, hi = high["interval"]
    assert 0.2 < lo < 0.21 and hi == 1.0  # one right answer proves little: Wilson says so


def test_without_eval_items_or_unlabeled_items_nothing_is_claimed() -> None:
    (row,) = coverage_table(np.array([[0.9, 0.1]]), None, None, CLASSES, thresholds=(0.8,))
    assert (row["covered"], row["precision"], row["interval"]) == (1, None, None)
    (empty,) = coverage_table(np.empty((0, 2)), None, None, CLASSES, thresholds=(0.8,))
    assert (empty["covered"], empty["share"], empty["by_label"]) == (0, 0.0, {})


def _eval(groups: list[tuple[float, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Eval items from (top probability, how many, how many of them wrong) groups."""
    proba, y = [], []
    for top, n, wrong in groups:
        for k in range(n):
            proba.append([top, 1 - top])  # the model says class 0
            y.append(1 if k < wrong else 0)
    return np.array(proba), np.array(y)


def test_the_lowest_vouched_confidence_stops_at_the_first_that_falls_short() -> None:
    from labelloop.insight.coverage import items_to_show, lowest_vouched

    assert [items_to_show(f) for f in (0.9, 0.95, 0.99)] == [139, 292, 1522]
    assert items_to_show(0.999999) > 10_000_000  # bisected: instant all the same
    # 200 right at 0.95, 200 right at 0.85, 200 at 0.75 half wrong, 2,000 right at 0.65
    proba, y = _eval([(0.95, 200, 0), (0.85, 200, 0), (0.75, 200, 100), (0.65, 2000, 0)])
    grid = (0.99, 0.9, 0.8, 0.7, 0.6)
    found = lowest_vouched(proba, y, floor=0.9, min_n=30, grid=grid)
    # 0.99: no eval item, skipped; 0.9: 200 of 200; 0.8: 400 of 400; 0.7: 500 of 600 (low
    # 80.1%) falls short and ends it, though 0.6 (2,500 of 2,600) would pass
    assert (found["confidence"], found["eval_n"], found["eval_correct"]) == (0.8, 400, 400)
    assert (found["tried"], found["need"]) == (3, 139)
    assert (found["short"]["confidence"], found["short"]["eval_n"]) == (0.7, 600)
    assert found["short"]["eval_correct"] == 500
    # at 95%, 292 are needed: 0.9 (200) is skipped
    firm = lowest_vouched(proba, y, floor=0.95, min_n=30, grid=grid)
    assert (firm["confidence"], firm["eval_n"], firm["tried"]) == (0.8, 400, 2)
    # at 99%, 1,522 are needed: only 0.6 has them, and 2,500 of 2,600 falls short
    strict = lowest_vouched(proba, y, floor=0.99, min_n=30, grid=grid)
    assert strict["confidence"] is None and strict["short"]["confidence"] == 0.6
    few = lowest_vouched(proba[:100], y[:100], floor=0.9, min_n=30, grid=grid)
    assert (few["confidence"], few["short"], few["tried"]) == (None, None, 0)
    assert lowest_vouched(proba, y, floor=1.0, min_n=30)["tried"] == 0
    assert lowest_vouched(None, None, floor=0.9, min_n=30)["confidence"] is None
