"""Checks that flag items for review: too fast, model contradicts, likely mislabels, gold."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.domain import MISSING
from labelloop.quality import (
    UndefinedStatistic,
    annotators_disagree,
    gold_accuracy,
    label_issues,
    model_contradicts,
    too_fast,
)
from labelloop.quality.checks import too_fast_one

nan = np.nan


def test_too_fast_scales_with_length_between_floor_and_cap() -> None:
    ms = [300, 500, 1_400, 1_600, 29_000, 31_000, nan, 100]
    length = [0, 10, 100, 100, 10_000, 10_000, 50, 0]
    # thresholds: 400 (floor), 400 (floor > 150), 1500, 1500, 30000 (cap), 30000, -, 400
    assert too_fast(ms, length).tolist() == [True, False, True, False, True, False, False, True]
    assert too_fast([1_000], [100], ms_per_char=5, floor_ms=0).tolist() == [False]
    with pytest.raises(ValueError):
        too_fast([1, 2], [3])


def test_one_answer_is_judged_too_fast_as_an_array_of_them_is() -> None:
    ms = [300, 399, 400, 500, 1_499, 1_500, 29_999, 30_000, 31_000]
    for length in (0, 10, 26, 27, 100, 1_999, 2_000, 10_000):
        want = too_fast(ms, [length] * len(ms)).tolist()
        assert [too_fast_one(m, length) for m in ms] == want


def test_model_contradicts_only_confident_other_classes() -> None:
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.6, 0.4], [0.05, 0.95], [0.9, 0.1]])
    labels = [1, 0, 1, MISSING, 1]
    assert model_contradicts(labels, proba).tolist() == [True, False, False, False, True]
    assert model_contradicts(labels, proba, threshold=0.96).tolist() == [False] * 5


def test_annotators_disagree_needs_two_different_ratings() -> None:
    R = [[0, 0, 1, nan, 2], [0, 1, nan, nan, nan], [nan, 0, 1, 2, 2]]
    assert annotators_disagree(R).tolist() == [False, True, False, False, False]


def noisy_dataset(seed: int):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    X, y = make_classification(
        n_samples=600, n_features=8, n_informative=6, n_classes=3, class_sep=2.0, random_state=seed
    )
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(y)) < 0.08
    noisy = np.where(flipped, (y + rng.integers(1, 3, len(y))) % 3, y)
    proba = cross_val_predict(
        LogisticRegression(max_iter=500), X, noisy, cv=5, method="predict_proba"
    )
    return noisy, proba, flipped


def test_label_issues_find_planted_label_flips() -> None:
    labels, proba, flipped = noisy_dataset(0)
    flags = label_issues(labels, proba, use_cleanlab=False)
    recall = flags[flipped].mean()
    precision = flipped[flags].mean()
    assert recall > 0.6 and precision > 0.6


@pytest.mark.parametrize("seed", range(4))
def test_builtin_confident_learning_gives_cleanlabs_flags(seed: int) -> None:
    pytest.importorskip("cleanlab")
    labels, proba, _ = noisy_dataset(seed)
    assert np.array_equal(
        label_issues(labels, proba, use_cleanlab=True),
        label_issues(labels, proba, use_cleanlab=False),
    )
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(4, 0.7), 300)
    y = np.where(rng.random(300) < 0.7, P.argmax(axis=1), rng.integers(0, 4, 300))
    assert np.array_equal(
        label_issues(y, P, use_cleanlab=True), label_issues(y, P, use_cleanlab=False)
    )


def test_label_issues_skip_missing_labels_and_trivial_sets() -> None:
    labels, proba, _ = noisy_dataset(1)
    with_missing = labels.copy()
    with_missing[:50] = MISSING
    flags = label_issues(with_missing, proba, use_cleanlab=False)
    assert not flags[:50].any() and flags.shape == labels.shape
    assert not label_issues([0, 0, 0], np.array([[0.1, 0.9]] * 3)).any()
    with pytest.raises(ValueError, match="indices"):
        label_issues([0, 3], np.array([[0.5, 0.5]] * 2))


def test_gold_accuracy_scores_only_answered_gold_items() -> None:
    assert gold_accuracy([0, 1, 2, MISSING, 1], [0, 1, 1, 2, MISSING]) == pytest.approx(2 / 3)
    assert gold_accuracy([1.0, nan], [1.0, 0.0]) == 1.0
    with pytest.raises(UndefinedStatistic, match="no gold item"):
        gold_accuracy([MISSING, 1], [0, MISSING])
