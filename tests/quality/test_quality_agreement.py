"""Agreement coefficients against textbook examples and the reference libraries."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from labelloop.quality import (
    UndefinedStatistic,
    agreement_with_others,
    bootstrap_ci,
    box_iou_agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_kappa,
    percent_agreement,
    reliability_of,
    span_f1,
)

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 coders,
# 12 units, values 1..5, with missing data.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def table_to_matrix(table: np.ndarray) -> np.ndarray:
    """A reliability matrix (raters x items) with the given per-item category counts."""
    cols = [np.repeat(np.arange(table.shape[1]), row) for row in table]
    return np.array(cols, dtype=float).T


def random_matrix(seed: int, *, raters: int, items: int, k: int, missing: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, items)
    noisy = rng.integers(0, k, (raters, items))
    R = np.where(rng.random((raters, items)) < 0.6, truth, noisy).astype(float)
    R[rng.random(R.shape) < missing] = nan
    return R


@pytest.fixture
def kd() -> ModuleType:
    return pytest.importorskip("krippendorff")


@pytest.fixture
def sm_inter_rater() -> ModuleType:
    return pytest.importorskip("statsmodels.stats.inter_rater")


# --- Krippendorff's alpha -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_reproduces_krippendorffs_worked_example(level: str, expected: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize("seed", range(6))
def test_alpha_matches_the_krippendorff_package(kd: ModuleType, level: str, seed: int) -> None:
    R = random_matrix(seed, raters=2 + seed % 4, items=30 + 17 * seed, k=2 + seed % 5, missing=0.3)
    R = R + 1  # ratio needs positive values
    expected = kd.alpha(reliability_data=R, level_of_measurement=level)
    assert krippendorff_alpha(R, level) == pytest.approx(expected, abs=1e-10)


def test_alpha_matches_the_package_on_the_worked_example(kd: ModuleType) -> None:
    for level in ("nominal", "ordinal", "interval", "ratio"):
        expected = kd.alpha(reliability_data=KRIPPENDORFF_2011, level_of_measurement=level)
        assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(expected, abs=1e-12)


def test_alpha_is_one_for_perfect_agreement_and_undefined_without_variation() -> None:
    assert krippendorff_alpha([[0, 1, 2, nan], [0, 1, 2, 1]]) == pytest.approx(1.0)
    with pytest.raises(UndefinedStatistic, match="same category"):
        krippendorff_alpha([[1, 1, 1], [1, 1, nan]])
    with pytest.raises(UndefinedStatistic, match="two or more"):
        krippendorff_alpha([[0, nan], [nan, 1]])
    with pytest.raises(ValueError, match="unknown level"):
        krippendorff_alpha(KRIPPENDORFF_2011, "cardinal")  # type: ignore[arg-type]


# --- Cohen's and Fleiss' kappa ----------------------------------------------------------------


def test_cohen_reproduces_the_textbook_two_by_two() -> None:
    # 50 proposals, two readers: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o 0.7, p_e 0.5.
    a = np.array([1] * 25 + [0] * 25, dtype=float)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15, dtype=float)
    assert cohen_kappa(a, b) == pytest.approx(0.4)


@pytest.mark.parametrize("seed", range(8))
def test_cohen_matches_sklearn_on_the_items_both_rated(seed: int) -> None:
    from sklearn.metrics import cohen_kappa_score

    R = random_matrix(seed, raters=2, items=40 + 10 * seed, k=2 + seed % 4, missing=0.25)
    both = ~np.isnan(R).any(axis=0)
    expected = cohen_kappa_score(R[0, both].astype(int), R[1, both].astype(int))
    assert cohen_kappa(R[0], R[1]) == pytest.approx(expected, abs=1e-12)


def test_cohen_is_undefined_with_too_little_overlap_or_one_shared_category() -> None:
    with pytest.raises(UndefinedStatistic, match="fewer than two"):
        cohen_kappa([0, nan, 1], [0, 1, nan])
    with pytest.raises(UndefinedStatistic, match="one and the same"):
        cohen_kappa([2, 2, 2], [2, 2, 2])


def test_pairwise_kappa_is_symmetric_with_unit_diagonal_and_nan_without_overlap() -> None:
    from sklearn.metrics import cohen_kappa_score

    R = random_matrix(3, raters=4, items=60, k=3, missing=0.2)
    R[3, :] = nan
    R[3, :2] = [0, 1]  # rater 3 shares at most two items with anyone
    R[3, 1] = nan
    K = pairwise_kappa(R)
    assert K.shape == (4, 4)
    assert np.allclose(np.diag(K), 1.0)
    assert np.allclose(K[:3, :3], K[:3, :3].T)
    assert np.isnan(K[3, :3]).all() and np.isnan(K[:3, 3]).all()
    both = ~np.isnan(R[[0, 2]]).any(axis=0)
    assert K[0, 2] == pytest.approx(cohen_kappa_score(R[0, both], R[2, both]))


def test_fleiss_reproduces_the_worked_example(sm_inter_rater: ModuleType) -> None:
    R = table_to_matrix(FLEISS_TABLE)
    assert R.shape == (14, 10)
    assert fleiss_kappa(R) == pytest.approx(0.20993, abs=5e-5)
    assert fleiss_kappa(R, n_categories=5) == pytest.approx(
        sm_inter_rater.fleiss_kappa(FLEISS_TABLE, method="fleiss")
    )


@pytest.mark.parametrize("seed", range(8))
def test_fleiss_matches_statsmodels(sm_inter_rater: ModuleType, seed: int) -> None:
    R = random_matrix(seed, raters=3 + seed % 4, items=25 + 11 * seed, k=2 + seed % 4, missing=0)
    table, _ = sm_inter_rater.aggregate_raters(R.T.astype(int))
    expected = sm_inter_rater.fleiss_kappa(table, method="fleiss")
    assert fleiss_kappa(R) == pytest.approx(expected, abs=1e-12)


def test_fleiss_leaves_out_single_ratings_and_refuses_unequal_counts(
    sm_inter_rater: ModuleType,
) -> None:
    R = random_matrix(11, raters=3, items=40, k=3, missing=0)
    full = fleiss_kappa(R)
    R1 = np.column_stack([R, [[2], [nan], [nan]]])  # one extra item rated once
    assert fleiss_kappa(R1) == pytest.approx(full)
    R[0, 5] = nan  # now one item has two ratings, the others three
    with pytest.raises(UndefinedStatistic, match="between 2 and 3 ratings") as err:
        fleiss_kappa(R)
    assert isinstance(err.value, ValueError)
    with pytest.raises(ValueError, match="not a category index"):
        fleiss_kappa([[0, 3], [1, 1]], n_categories=3)


# --- Percent agreement ----------------------------------------------------------------------


def test_percent_agreement_averages_pairwise_agreement_over_items_rated_twice() -> None:
    R = [[0, 0, 0, 1], [0, 0, 1, nan], [0, 1, nan, nan]]
    # item 0: 3 of 3 pairs agree; item 1: 1 of 3; item 2: 0 of 1; item 3 has one rating.
    assert percent_agreement(R) == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_percent_agreement_equals_fleiss_observed_agreement() -> None:
    R = table_to_matrix(FLEISS_TABLE)
    counts = FLEISS_TABLE
    p_bar = ((counts * (counts - 1)).sum(axis=1) / (14 * 13)).mean()
    assert percent_agreement(R) == pytest.approx(p_bar)  # 0.378 on Wikipedia
    assert percent_agreement(R) == pytest.approx(0.378, abs=5e-4)


# --- Spans and boxes ------------------------------------------------------------------------


def test_span_f1_exact_and_overlap_on_hand_checkable_spans() -> None:
    a = [(0, 5, "PER"), (10, 15, "LOC")]
    b = [(0, 5, "PER"), (10, 16, "LOC")]
    assert span_f1(a, b) == pytest.approx(0.5)  # one of two spans each matches exactly
    assert span_f1(a, b, mode="overlap") == pytest.approx(20 / 21)  # 10 shared of 10 + 11
    assert span_f1(a, a) == 1.0
    assert span_f1([(0, 5, "PER")], [(0, 5, "ORG")]) == 0.0
    assert span_f1([(0, 5, "PER")], [(0, 5, "ORG")], mode="overlap") == 0.0
    assert span_f1([], []) == 1.0
    assert span_f1(a, []) == 0.0
    assert span_f1(b, a) == span_f1(a, b)


def test_box_agreement_matches_greedily_by_iou() -> None:
    car = (0, 0, 10, 10, "car")
    assert box_iou_agreement([car], [car]) == 1.0
    shifted = (5, 0, 10, 10, "car")  # IoU 50 / 150 = 1/3
    assert box_iou_agreement([car], [shifted]) == 0.0
    assert box_iou_agreement([car], [shifted], threshold=0.3) == 1.0
    assert box_iou_agreement([car], [(0, 0, 10, 10, "bus")]) == 0.0
    # B overlaps A1 (IoU 70/130) and A2 (IoU 80/120): greedy gives B to A2; one match of 2 + 1.
    a = [(0, 0, 10, 10, "car"), (5, 0, 10, 10, "car")]
    b = [(3, 0, 10, 10, "car")]
    assert box_iou_agreement(a, b) == pytest.approx(2 / 3)
    assert box_iou_agreement([], []) == 1.0
    assert box_iou_agreement([car], []) == 0.0


# --- Bootstrap ------------------------------------------------------------------------------


@pytest.mark.parametrize("stat", [percent_agreement, krippendorff_alpha, fleiss_kappa])
def test_bootstrap_interval_contains_the_estimate_and_is_reproducible(stat) -> None:  # noqa: ANN001
    R = random_matrix(5, raters=3, items=120, k=3, missing=0)
    lo, hi = bootstrap_ci(stat, R, n_boot=300, rng=np.random.default_rng(7))
    assert lo < stat(R) < hi
    assert (lo, hi) == bootstrap_ci(stat, R, n_boot=300, rng=np.random.default_rng(7))
    assert (lo, hi) != bootstrap_ci(stat, R, n_boot=300, rng=np.random.default_rng(8))


def test_bootstrap_interval_narrows_with_more_items() -> None:
    small = random_matrix(1, raters=3, items=40, k=3, missing=0.1)
    large = random_matrix(1, raters=3, items=640, k=3, missing=0.1)
    lo_s, hi_s = bootstrap_ci(krippendorff_alpha, small, n_boot=300, rng=0)
    lo_l, hi_l = bootstrap_ci(krippendorff_alpha, large, n_boot=300, rng=0)
    assert hi_l - lo_l < (hi_s - lo_s) / 2  # ~1/4 expected from sqrt(640 / 40)


def test_bootstrap_drops_undefined_replicates_and_refuses_when_most_are() -> None:
    # Items 0..29 agree on 0; only items 30 and 31 use another value. A resample that misses
    # both has a single value (alpha undefined): (30/32)^32 = 13% of them, dropped.
    R = np.zeros((2, 32))
    R[:, 30:] = 1
    lo, hi = bootstrap_ci(krippendorff_alpha, R, n_boot=200, rng=0)
    assert lo == hi == pytest.approx(1.0)

    def undefined_half_the_time(M: np.ndarray) -> float:
        if M[0, 0] == 0:
            raise UndefinedStatistic("no")
        return float("nan")

    with pytest.raises(UndefinedStatistic, match="most resamples"):
        bootstrap_ci(undefined_half_the_time, R, n_boot=200, rng=0)
    with pytest.raises(UndefinedStatistic, match="no items"):
        bootstrap_ci(krippendorff_alpha, np.empty((2, 0)), rng=0)


def test_reliability_of_keeps_each_raters_latest_answer_and_the_items_enough_raters_shared() -> (
    None
):
    answers = [
        ("bo", 7, "pos"),
        ("al", 7, "neg"),
        ("al", 7, "pos"),  # al changed their mind: the later answer counts
        ("al", 3, "neg"),  # only al answered item 3
        ("cy", 5, "neg"),
        ("bo", 5, "neu"),
    ]
    shared = reliability_of(answers, min_raters=2)
    assert shared.items == [5, 7]
    assert shared.raters == ["al", "bo", "cy"]
    assert shared.categories == ["neg", "neu", "pos"]  # the answers kept, sorted
    np.testing.assert_array_equal(shared.R, [[nan, 2], [1, 2], [0, nan]])

    fixed = reliability_of(answers, ["pos", "neg"])  # 'neu' is not a category: left out
    assert fixed.items == [3, 5, 7]
    assert fixed.raters == ["al", "bo", "cy"]
    np.testing.assert_array_equal(fixed.R, [[1, nan, 0], [nan, nan, 0], [nan, 1, nan]])
    assert reliability_of([], min_raters=2).R.shape == (0, 0)


def test_agreement_with_others_counts_each_raters_matching_pairs() -> None:
    # Item 1: all three say 0. Item 2: a and b say 1, c says 0. Item 3: a and c only, they differ.
    R = np.array([[0, 1, 0, nan], [0, 1, nan, nan], [0, 0, 1, nan], [nan, nan, nan, 2]])
    share = agreement_with_others(R)
    # a: item 1 2 of 2, item 2 1 of 2, item 3 0 of 1 -> 3/5. b: 2/2 + 1/2 -> 3/4.
    # c: 2/2 + 0/2 + 0/1 -> 2/5. d shared nothing.
    np.testing.assert_allclose(share[:3], [3 / 5, 3 / 4, 2 / 5])
    assert np.isnan(share[3])
