"""Query strategies: hand-made probabilities whose right answer can be checked by eye."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from labelloop.domain import MISSING, Pool
from labelloop.errors import SchemaError
from labelloop.learn import STRATEGIES, make_strategy
from labelloop.learn.strategies import margin_reason, top_k

CLASSES = ("negative", "neutral", "positive", "mixed")

# Row A has the smallest top-2 gap (margin's pick), row B the lowest top probability (least
# confidence's pick), row C the most spread-out distribution (entropy's pick), D is confident.
PROBA = np.array(
    [
        [0.50, 0.49, 0.01, 0.00],  # A
        [0.40, 0.30, 0.30, 0.00],  # B
        [0.42, 0.20, 0.19, 0.19],  # C
        [0.97, 0.01, 0.01, 0.01],  # D
    ]
)
A, B, C, D = range(4)


def make_pool(y: list[int] | None = None, n: int = 4) -> Pool:
    labels = np.full(n, MISSING, dtype=np.int64) if y is None else np.array(y, dtype=np.int64)
    return Pool(np.arange(n, dtype=np.int64), csr_matrix((n, 3)), labels, CLASSES)


def query(name: str, pool: Pool, proba: np.ndarray | None, k: int, seed: int = 0):
    return make_strategy(name).query(pool, proba, k, np.random.default_rng(seed))


@pytest.mark.parametrize(
    ("name", "order"),
    [
        ("margin", [A, B, C, D]),
        ("least_confidence", [B, C, A, D]),
        ("entropy", [C, B, A, D]),
    ],
)
def test_uncertainty_strategies_rank_rows_as_computed_by_hand(name: str, order: list[int]) -> None:
    sel = query(name, make_pool(), PROBA, 4)
    assert sel.indices.tolist() == order


def test_margin_scores_are_one_minus_the_top_two_gap() -> None:
    sel = query("margin", make_pool(), PROBA, 2)
    assert sel.scores == pytest.approx([1 - 0.01, 1 - 0.10])


def test_least_confidence_and_entropy_scores() -> None:
    assert query("least_confidence", make_pool(), PROBA, 1).scores == pytest.approx([0.60])
    c = PROBA[C]
    expected = -(c * np.log(c)).sum() / np.log(4)
    assert query("entropy", make_pool(), PROBA, 1).scores == pytest.approx([expected])


def test_reasons_name_the_labels_and_their_probabilities() -> None:
    assert query("margin", make_pool(), PROBA, 1).reasons == (
        "model unsure between negative (0.50) and neutral (0.49)",
    )
    assert query("least_confidence", make_pool(), PROBA, 1).reasons == (
        "model's best guess negative is only 0.40 likely",
    )
    assert query("entropy", make_pool(), PROBA, 1).reasons == (
        "model spread over negative (0.42), neutral (0.20), positive (0.19) and 1 more",
    )
    assert query("random", make_pool(), None, 1).reasons == ("picked at random",)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ([0.50, 0.45, 0.05, 0.00], "model unsure between negative (0.50) and neutral (0.45)"),
        ([0.60, 0.30, 0.10, 0.00], "model leans to negative (0.60) over neutral (0.30)"),
        ([0.89, 0.07, 0.04, 0.00], "model favours negative (0.89) over neutral (0.07)"),
        ([0.07, 0.03, 0.89, 0.01], "model favours positive (0.89) over negative (0.07)"),
    ],
)
def test_margin_reason_says_unsure_only_when_the_top_two_are_close(
    row: list[float], reason: str
) -> None:
    assert margin_reason(np.array(row), CLASSES) == reason


def test_a_clear_cut_margin_pick_is_explained_as_the_closest_call_left() -> None:
    # What the labeling page showed after ~200 labels: "model unsure between negative (0.89)
    # and neutral (0.07)" beside "Model suggests negative (0.89)".
    proba = np.array([[0.89, 0.07, 0.04, 0.00], [0.60, 0.30, 0.10, 0.00]] + [[0.25] * 4] * 2)
    sel = query("margin", make_pool(y=[MISSING, MISSING, 0, 1]), proba, 2)
    assert sel.reasons == (
        "closest call left: model leans to negative (0.60) over neutral (0.30)",
        "closest call left: model favours negative (0.89) over neutral (0.07)",
    )


def test_a_fairly_sure_least_confidence_pick_is_the_least_sure_guess_left() -> None:
    proba = np.array([[0.89, 0.07, 0.04, 0.00], [0.45, 0.30, 0.25, 0.00]] + [[0.25] * 4] * 2)
    sel = query("least_confidence", make_pool(y=[MISSING, MISSING, 0, 1]), proba, 2)
    assert sel.reasons == (
        "model's best guess negative is only 0.45 likely",
        "least sure guess left: model says negative (0.89)",
    )


def test_entropy_reason_lists_all_classes_when_there_are_three() -> None:
    pool = Pool(np.arange(1), csr_matrix((1, 1)), np.array([MISSING]), CLASSES[:3])
    sel = query("entropy", pool, np.array([[0.35, 0.25, 0.40]]), 1)
    assert sel.reasons == ("model spread over positive (0.40), negative (0.35), neutral (0.25)",)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_labeled_rows_are_never_picked(name: str) -> None:
    pool = make_pool(y=[0, MISSING, 2, MISSING])
    sel = query(name, pool, PROBA, 4)
    assert sorted(sel.indices.tolist()) == [B, D]


def test_margin_skips_a_labeled_favourite_for_the_next_best() -> None:
    sel = query("margin", make_pool(y=[1, MISSING, MISSING, MISSING]), PROBA, 1)
    assert sel.indices.tolist() == [B]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_batch_larger_than_candidates_returns_all_candidates(name: str) -> None:
    pool = make_pool(y=[MISSING, 0, MISSING, MISSING])
    sel = query(name, pool, PROBA, 50)
    assert sorted(sel.indices.tolist()) == [A, C, D]


@pytest.mark.parametrize("name", ["margin", "least_confidence", "entropy"])
def test_uncertainty_scores_never_increase_down_the_queue(name: str) -> None:
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(3), size=500)
    pool = Pool(np.arange(500), csr_matrix((500, 2)), np.full(500, MISSING), CLASSES[:3])
    scores = query(name, pool, proba, 100).scores
    assert np.all(np.diff(scores) <= 0)


@pytest.mark.parametrize("name", ["margin", "least_confidence", "entropy"])
def test_uncertainty_strategies_need_proba(name: str) -> None:
    with pytest.raises(ValueError, match="proba"):
        query(name, make_pool(), None, 2)
    with pytest.raises(ValueError, match="shape"):
        query(name, make_pool(), PROBA[:, :3], 2)


def test_ties_are_broken_by_the_rng_and_reproducibly() -> None:
    n = 200
    pool = Pool(np.arange(n), csr_matrix((n, 1)), np.full(n, MISSING), CLASSES[:2])
    uniform = np.full((n, 2), 0.5)
    first = query("margin", pool, uniform, 10, seed=1).indices
    assert np.array_equal(first, query("margin", pool, uniform, 10, seed=1).indices)
    assert not np.array_equal(first, query("margin", pool, uniform, 10, seed=2).indices)
    assert not np.array_equal(first, np.arange(10))  # not file order


def test_top_k_matches_a_full_sort() -> None:
    rng = np.random.default_rng(4)
    utility = rng.integers(0, 50, size=10_000).astype(float)  # many ties
    picked = top_k(utility, 300, rng)
    assert len(set(picked.tolist())) == 300
    assert np.array_equal(utility[picked], np.sort(utility)[::-1][:300])


def test_random_is_reproducible_and_spreads_over_the_pool() -> None:
    n = 1000
    pool = Pool(np.arange(n), csr_matrix((n, 1)), np.full(n, MISSING), CLASSES[:2])
    a = query("random", pool, None, 20, seed=5)
    assert np.array_equal(a.indices, query("random", pool, None, 20, seed=5).indices)
    assert a.indices.max() > 100


def test_unknown_strategy_names_the_known_ones() -> None:
    known = (
        "auto, badge, cluster_margin, coreset, density_weighted, entropy, least_confidence, "
        "margin, qbc_kl, qbc_vote_entropy, random, typiclust"
    )
    with pytest.raises(SchemaError, match=known):
        make_strategy("smartest")
