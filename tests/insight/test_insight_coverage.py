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
