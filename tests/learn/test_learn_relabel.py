"""Re-label suggestions find planted label flips on an easy problem, and say what they think."""

import re
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid

from labelloop.learn import relabel_candidates
from labelloop.learn.relabel import beats_majority, check_labels, contradicted


def blobs(n: int = 200, flips: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, 5)) + np.where(truth[:, None] == 1, 3.0, -3.0)
    noisy = truth.copy()
    flipped = rng.choice(n, size=flips, replace=False)
    noisy[flipped] = 1 - noisy[flipped]
    return X, truth, noisy, flipped


def test_finds_the_planted_flips() -> None:
    X, _, noisy, flipped = blobs()
    sel = relabel_candidates(
        X,
        np.arange(200),
        noisy,
        LogisticRegression(),
        classes=("ham", "spam"),
        cv=5,
        rng=np.random.default_rng(0),
    )
    found = set(sel.indices.tolist())
    recall = len(found & set(flipped.tolist())) / len(flipped)
    precision = len(found & set(flipped.tolist())) / max(1, len(found))
    assert recall >= 0.8 and precision >= 0.8
    assert np.all(np.diff(sel.scores) <= 1e-12)  # most suspicious first
    pattern = r"labeled '(ham|spam)' but the model is (0\.\d\d|1\.00) sure it is '(ham|spam)'"
    for i, reason in zip(sel.indices, sel.reasons, strict=True):
        match = re.fullmatch(pattern, reason)
        assert match and match.group(1) != match.group(3)
        assert match.group(1) == ("ham", "spam")[noisy[i]]


def test_indices_are_pool_rows_and_unlabeled_rows_are_never_suggested() -> None:
    X, _, noisy, flipped = blobs()
    labeled = np.arange(0, 200, 2)  # only even rows carry a label
    sel = relabel_candidates(
        X, labeled, noisy[labeled], LogisticRegression(), rng=np.random.default_rng(0)
    )
    assert set(sel.indices.tolist()) <= set(labeled.tolist())
    assert set(sel.indices.tolist()) <= set(flipped.tolist())


def test_clean_labels_give_no_suggestions_and_tiny_sets_are_skipped() -> None:
    X, truth, _, _ = blobs(flips=0)
    clean = relabel_candidates(
        X, np.arange(200), truth, LogisticRegression(), rng=np.random.default_rng(0)
    )
    assert len(clean.indices) == 0
    one_each = relabel_candidates(
        X[:2],
        np.array([0, 1]),
        np.array([0, 1]),
        LogisticRegression(),
        rng=np.random.default_rng(0),
    )
    assert len(one_each.indices) == 0  # a class with one label cannot be cross-validated


def test_max_items_bounds_the_list() -> None:
    X, _, noisy, _ = blobs(flips=30)
    sel = relabel_candidates(
        X, np.arange(200), noisy, LogisticRegression(), rng=np.random.default_rng(0), max_items=5
    )
    assert len(sel.indices) == len(sel.reasons) == len(sel.scores) == 5


def test_a_weak_guess_is_no_evidence_against_a_label() -> None:
    """Three overlapping classes, every label right: confident learning's thresholds alone flag
    labels on guesses of 0.4; a suggestion needs the model to favour another class outright."""
    rng = np.random.default_rng(3)
    truth = np.repeat([0, 1, 2], 60)
    X = rng.normal(size=(180, 4)) + 0.6 * np.eye(4)[truth]  # classes barely apart
    kwargs = {"classes": ("a", "b", "c"), "rng": np.random.default_rng(0)}
    model = LogisticRegression()
    every = relabel_candidates(X, np.arange(180), truth, model, min_confidence=0.0, **kwargs)
    sure = relabel_candidates(X, np.arange(180), truth, model, **kwargs)

    def guesses(sel: Any) -> list[float]:
        return [float(r.split(" sure")[0].split()[-1]) for r in sel.reasons]

    assert min(guesses(every)) < 0.45  # a weak guess, flagged without the floor
    assert guesses(sure) and min(guesses(sure)) >= 0.5
    assert len(sure.indices) < len(every.indices)
    strict = relabel_candidates(X, np.arange(180), truth, model, min_confidence=0.8, **kwargs)
    assert len(strict.indices) <= 2 and min(guesses(strict), default=1.0) >= 0.8


def test_a_model_no_better_than_the_most_common_label_suggests_nothing() -> None:
    """What a demo showed at 51 labels: out-of-fold accuracy below always answering the largest
    class, and 14 right labels flagged as 'the model is 0.6 sure it is neutral'."""
    rng = np.random.default_rng(5)
    y = np.repeat([0, 1, 2], [30, 12, 12])
    X = rng.normal(size=(54, 6))  # features that say nothing about the labels
    sel = relabel_candidates(
        X, np.arange(54), y, LogisticRegression(C=0.01), rng=np.random.default_rng(0)
    )
    assert len(sel.indices) == 0
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    assert beats_majority(np.array([0, 1, 0, 0]), probs)  # 4 of 4 right, majority 3 of 4
    assert not beats_majority(np.array([0, 0, 0, 1]), probs)  # 2 of 4 right, majority 3


def test_the_check_tells_what_it_thought_of_every_row_it_judged() -> None:
    """From the same out-of-fold probabilities as the suggestions: which rows were judged, the
    probability of each one's label, and whether the model contradicts or agrees with it."""
    X, truth, noisy, flipped = blobs()
    labeled = np.arange(0, 200, 2)  # odd rows carry no label
    found = check_labels(
        X, labeled, noisy[labeled], LogisticRegression(), rng=np.random.default_rng(0)
    )
    assert found.rows.tolist() == labeled.tolist()
    assert found.p_given.shape == found.contradicted.shape == found.agrees.shape == (100,)
    suggested = np.searchsorted(found.rows, found.suggestions.indices)
    assert np.allclose(found.suggestions.scores, 1.0 - found.p_given[suggested])
    assert found.contradicted[suggested].all()
    assert not (found.contradicted & found.agrees).any()
    wrong = np.isin(found.rows, flipped)
    assert found.agrees[~wrong].mean() > 0.95  # honest labels: the model agrees
    assert not found.agrees[wrong].any() and (found.p_given[wrong] < 0.5).all()
    same = relabel_candidates(
        X, labeled, noisy[labeled], LogisticRegression(), rng=np.random.default_rng(0)
    )
    assert same.indices.tolist() == found.suggestions.indices.tolist()
    # each suggestion's guess as data: the other class (classes unnamed: its index), as its
    # reason says it
    assert len(found.guesses) == len(found.suggestions.indices) > 0
    for row, (label, p), reason in zip(
        found.suggestions.indices, found.guesses, found.suggestions.reasons, strict=True
    ):
        assert label == str(1 - noisy[row]) and p >= 0.5
        assert reason.endswith(f"the model is {p:.2f} sure it is '{label}'")


def test_rows_the_check_could_not_judge_are_left_out() -> None:
    X, truth, _, _ = blobs(flips=0)
    y = truth.copy()
    y[7] = 2  # the only label of its class: nothing to cross-validate it against
    found = check_labels(X, np.arange(200), y, LogisticRegression(), rng=np.random.default_rng(0))
    assert 7 not in found.rows.tolist() and found.rows.shape == (199,)
    sampled = check_labels(
        X, np.arange(200), truth, LogisticRegression(), rng=np.random.default_rng(0), max_rows=60
    )
    assert sampled.rows.shape == (60,)  # beyond max_rows, a sample is judged
    noise = np.random.default_rng(5).normal(size=(54, 6))
    blind = check_labels(
        noise,
        np.arange(54),
        np.repeat([0, 1, 2], [30, 12, 12]),
        LogisticRegression(C=0.01),
        rng=np.random.default_rng(0),
    )
    assert blind.rows.shape == (0,)  # no better than the most common label: judges nothing


def test_a_coin_flip_between_two_classes_contradicts_no_label() -> None:
    """With two classes 0.51 against 0.49 is a coin flip, not a confident contradiction: the
    guess must be twice as likely as the label (2/3) before the label counts as contradicted."""
    probs = np.array([[0.49, 0.51], [0.40, 0.60], [1 / 3, 2 / 3], [0.10, 0.90], [0.90, 0.10]])
    given = np.zeros(5, dtype=np.int64)  # every row labeled class 0
    assert contradicted(given, probs).tolist() == [False, False, True, True, False]
    assert contradicted(given, probs, min_odds=1.0).tolist() == [True, True, True, True, False]


def test_with_more_classes_the_guess_needs_half_the_mass_and_twice_the_label() -> None:
    probs = np.array(
        [
            [0.55, 0.40, 0.05],  # the label a close second: not contradicted
            [0.55, 0.25, 0.20],  # guessed at 0.55, the label 0.25 (2.2x): contradicted
            [0.45, 0.10, 0.45],  # the label unlikely, but no class is a confident guess
            [0.10, 0.80, 0.10],  # the model agrees with the label
            [0.05, 0.05, 0.90],  # a clear contradiction
        ]
    )
    given = np.ones(5, dtype=np.int64)  # every row labeled class 1
    assert contradicted(given, probs).tolist() == [False, True, False, False, True]


def test_two_class_suggestions_are_at_least_two_to_one() -> None:
    """Two overlapping classes, a few labels flipped: the check's reasons never read 'the model
    is 0.55 sure' any more; with the coin-flip rule (odds 1) they did."""
    rng = np.random.default_rng(4)
    truth = np.repeat([0, 1], 150)
    X = rng.normal(size=(300, 4)) + 0.9 * np.eye(4)[truth]  # classes barely apart
    noisy = truth.copy()
    flipped = rng.choice(300, size=30, replace=False)
    noisy[flipped] = 1 - noisy[flipped]
    kwargs = {"classes": ("ham", "spam"), "rng": np.random.default_rng(0), "max_items": 300}
    model = LogisticRegression()

    def guesses(sel: Any) -> list[float]:
        return [float(r.split(" sure")[0].split()[-1]) for r in sel.reasons]

    coin = relabel_candidates(X, np.arange(300), noisy, model, min_odds=1.0, **kwargs)
    sure = relabel_candidates(X, np.arange(300), noisy, model, **kwargs)
    assert min(guesses(coin)) < 0.6  # flagged on a near coin flip under the old rule
    assert guesses(sure) and min(guesses(sure)) >= 0.67  # 2/3, printed to two decimals
    assert set(sure.indices.tolist()) < set(coin.indices.tolist())


def _low_and_high() -> tuple[np.ndarray, np.ndarray]:
    """30 readings on one scale, 15 'low' at 0..140 and 15 'high' at 100..240, all right: the
    five of each in 100..140 are a coin flip to anyone, the rest plain."""
    x = np.r_[np.arange(0, 150, 10), np.arange(100, 250, 10)].astype(float)[:, None]
    return x, np.r_[np.zeros(15, dtype=np.int64), np.ones(15, dtype=np.int64)]


def test_a_model_whose_probabilities_are_not_calibrated_flags_no_right_label() -> None:
    """NearestCentroid's probabilities are a softmax of distances, 0.94 'low' at a reading of
    100 labeled 'high' where the two classes overlap: taken at its word, it flagged right
    labels in the overlap as likely errors. Calibrated within the fold, it flags none of the
    right labels, and still finds the two flipped at the far ends, and only them."""
    x, y = _low_and_high()
    rows = np.arange(30)
    for seed in range(3):
        found = check_labels(x, rows, y, NearestCentroid(), rng=np.random.default_rng(seed))
        assert found.suggestions.indices.tolist() == []
    flipped = y.copy()
    flipped[[0, 29]] = 1 - flipped[[0, 29]]  # a reading of 0 called 'high', 240 'low'
    for seed in range(3):
        found = check_labels(x, rows, flipped, NearestCentroid(), rng=np.random.default_rng(seed))
        assert sorted(found.suggestions.indices.tolist()) == [0, 29]
