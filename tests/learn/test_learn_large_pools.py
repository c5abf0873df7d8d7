"""Pools above the candidate cap: strategies score a shortlist, small pools select as before."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn import STRATEGIES, check_strategy, make_strategy
from labelloop.learn.space import shortlist

CLASSES = ("a", "b", "c")
CAPPED = ("badge", "coreset", "density_weighted", "qbc_kl", "qbc_vote_entropy", "typiclust")
"""Strategies with a ``max_candidates`` cap on the rows they score."""


def assert_valid(sel: Selection, pool: Pool, batch_size: int) -> None:
    picked = sel.indices.tolist()
    assert len(picked) == len(sel.scores) == len(sel.reasons) == batch_size
    assert len(set(picked)) == batch_size, "duplicate picks"
    assert all(pool.y[i] == MISSING for i in picked), "picked a labeled row"


def test_shortlist_keeps_the_most_uncertain_rows_and_a_uniform_share_of_the_rest() -> None:
    uncertainty = np.random.default_rng(0).permutation(1000).astype(float)
    kept = shortlist(uncertainty, 100, np.random.default_rng(1), random_share=0.2)
    assert kept.shape == (100,) and np.unique(kept).shape == (100,)
    assert np.all(np.diff(kept) > 0), "ascending positions"
    values = uncertainty[kept]
    assert np.sum(values >= 920) == 80  # the 80 most uncertain, all of them
    assert np.sum(values < 920) == 20  # and 20 drawn from the other 920
    other = shortlist(uncertainty, 100, np.random.default_rng(2), random_share=0.2)
    assert set(uncertainty[other][uncertainty[other] < 920]) != set(values[values < 920])


def test_shortlist_of_a_pool_within_the_cap_is_every_row_and_draws_nothing() -> None:
    rng = np.random.default_rng(3)
    assert shortlist(np.ones(50), 50, rng).tolist() == list(range(50))
    assert rng.random() == np.random.default_rng(3).random()


def two_kinds_pool(n: int = 600, n_unsure: int = 40) -> tuple[Pool, np.ndarray, np.ndarray]:
    """Unit rows in one orthant; the model is sure of every unlabeled row but ``n_unsure``.

    Returns the pool, ``proba`` and the rows the model is unsure of.
    """
    rng = np.random.default_rng(11)
    X = np.abs(rng.standard_normal((n, 8)))  # every row similar to the pool: density > 0
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.full(n, MISSING, dtype=np.int64)
    labeled = rng.choice(n, size=30, replace=False)
    y[labeled] = np.arange(30) % 3
    guess = rng.integers(0, 3, size=n)
    proba = np.full((n, 3), 0.01)
    proba[np.arange(n), guess] = 0.98
    unsure = rng.choice(np.flatnonzero(y == MISSING), size=n_unsure, replace=False)
    proba[unsure] = rng.dirichlet(np.full(3, 20.0), size=n_unsure)
    pool = Pool(np.arange(n, dtype=np.int64), X, y, CLASSES)
    return pool, proba, np.sort(unsure)


def agreeing_committee(proba: np.ndarray, unsure: np.ndarray) -> np.ndarray:
    """Five members that repeat ``proba`` except on ``unsure`` rows, where they disagree."""
    rng = np.random.default_rng(5)
    committee = np.repeat(proba[None], 5, axis=0)
    committee[:, unsure] = rng.dirichlet(np.full(3, 0.5), size=(5, unsure.shape[0]))
    return committee


@pytest.mark.parametrize("name", ["density_weighted", "qbc_kl", "qbc_vote_entropy"])
def test_above_the_cap_picks_come_from_the_rows_the_model_is_unsure_of(name: str) -> None:
    pool, proba, unsure = two_kinds_pool()
    pool = replace(pool, committee_proba=agreeing_committee(proba, unsure))
    strategy = STRATEGIES.make(name, max_candidates=60)  # 570 candidates: shortlisted
    sel = strategy.query(pool, proba, 20, np.random.default_rng(0))
    assert_valid(sel, pool, 20)
    assert set(sel.indices.tolist()) <= set(unsure.tolist())


@pytest.mark.parametrize("name", ["qbc_kl", "qbc_vote_entropy"])
def test_above_the_cap_the_committee_ranks_as_it_would_over_every_row(name: str) -> None:
    pool, proba, unsure = two_kinds_pool()
    pool = replace(pool, committee_proba=agreeing_committee(proba, unsure))
    capped = STRATEGIES.make(name, max_candidates=60).query(
        pool, proba, 20, np.random.default_rng(0)
    )
    whole = STRATEGIES.make(name, max_candidates=10_000).query(
        pool, proba, 20, np.random.default_rng(0)
    )
    assert capped.indices.tolist() == whole.indices.tolist()
    assert capped.reasons == whole.reasons


def test_qbc_without_proba_shortlists_by_the_committees_mean() -> None:
    pool, proba, unsure = two_kinds_pool()
    pool = replace(pool, committee_proba=agreeing_committee(proba, unsure))
    sel = STRATEGIES.make("qbc_kl", max_candidates=60).query(
        pool, None, 20, np.random.default_rng(0)
    )
    assert set(sel.indices.tolist()) <= set(unsure.tolist())


def test_qbc_trains_its_committee_on_the_labels_and_asks_it_about_the_shortlist() -> None:
    pool, proba, unsure = two_kinds_pool()
    sel = STRATEGIES.make("qbc_vote_entropy", max_candidates=60).query(
        pool, proba, 20, np.random.default_rng(0)
    )
    assert_valid(sel, pool, 20)
    assert all(
        r.startswith(("committee of 5 models", "all 5 committee models")) for r in sel.reasons
    )


def test_badge_above_the_cap_starts_from_the_longest_gradient_and_says_it_was_shortlisted() -> None:
    pool, proba, unsure = two_kinds_pool()
    sel = STRATEGIES.make("badge", max_candidates=60).query(
        pool, proba, 20, np.random.default_rng(0)
    )
    assert_valid(sel, pool, 20)
    # Unit rows: the gradient's length is |p - onehot(guess)|, largest on an unsure row.
    a = proba.copy()
    a[np.arange(a.shape[0]), a.argmax(axis=1)] -= 1.0
    length = np.where(pool.y == MISSING, np.linalg.norm(a, axis=1), -1.0)
    assert sel.indices[0] == np.argmax(length)
    assert sel.reasons[0].startswith("would change the model most of 60 shortlisted items (")
    whole = STRATEGIES.make("badge").query(pool, proba, 20, np.random.default_rng(0))
    assert whole.reasons[0].startswith("would change the model most (")


@pytest.mark.parametrize("name", CAPPED)
def test_a_small_cap_keeps_the_strategy_contract(name: str) -> None:
    # The conformance pool has 28 candidates, so a cap of 10 sends every query through the
    # shortlist or sample: still distinct unlabeled rows, reproducible, inputs untouched.
    check_strategy(lambda: STRATEGIES.make(name, max_candidates=10))


@pytest.mark.parametrize("name", CAPPED)
def test_above_the_cap_the_batch_is_distinct_unlabeled_rows(name: str) -> None:
    pool, proba, _ = two_kinds_pool()
    sel = STRATEGIES.make(name, max_candidates=60).query(pool, proba, 25, np.random.default_rng(4))
    assert_valid(sel, pool, 25)


def small_pool(*, sparse: bool) -> tuple[Pool, np.ndarray]:
    """300 rows around four centres, 40 labeled, random probabilities."""
    rng = np.random.default_rng(42)
    n, d, c = 300, 12, 4
    centres = rng.standard_normal((c, d)) * 2
    truth = rng.integers(0, c, size=n)
    X = centres[truth] + rng.standard_normal((n, d))
    if sparse:
        X = np.abs(X)
        X[X < 1.0] = 0.0
    y = np.full(n, MISSING, dtype=np.int64)
    labeled = rng.choice(n, size=40, replace=False)
    y[labeled] = truth[labeled]
    logits = rng.standard_normal((n, c)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    features = csr_matrix(X) if sparse else X
    return Pool(np.arange(n), features, y, tuple("abcd")), proba


BEFORE_SHORTLISTS = {
    ("auto", "dense"): [102, 49, 28, 52, 27, 85, 60, 272, 218, 146],
    ("auto", "sparse"): [102, 49, 28, 52, 85, 60, 272, 99, 65, 203],
    ("badge", "dense"): [226, 244, 252, 152, 77, 16, 102, 119, 20, 21],
    ("badge", "sparse"): [226, 244, 251, 157, 80, 16, 114, 125, 20, 21],
    ("cluster_margin", "dense"): [102, 49, 28, 52, 27, 85, 60, 272, 218, 146],
    ("cluster_margin", "sparse"): [102, 49, 28, 52, 85, 60, 272, 99, 65, 203],
    ("coreset", "dense"): [4, 25, 106, 211, 259, 196, 223, 175, 291, 125],
    ("coreset", "sparse"): [291, 25, 80, 62, 21, 19, 135, 287, 15, 109],
    ("density_weighted", "dense"): [212, 58, 243, 214, 225, 128, 85, 37, 251, 28],
    ("density_weighted", "sparse"): [202, 225, 212, 102, 214, 256, 21, 51, 16, 161],
    ("qbc_kl", "dense"): [76, 178, 168, 294, 63, 259, 62, 85, 106, 91],
    ("qbc_kl", "sparse"): [201, 8, 223, 204, 184, 50, 15, 33, 66, 76],
    ("qbc_vote_entropy", "dense"): [178, 90, 63, 85, 2, 164, 91, 185, 28, 287],
    ("qbc_vote_entropy", "sparse"): [60, 0, 254, 246, 184, 8, 73, 43, 78, 272],
    ("typiclust", "dense"): [19, 88, 4, 190, 79, 199, 13, 270, 262, 76],
    ("typiclust", "sparse"): [250, 166, 118, 152, 96, 274, 282, 109, 227, 107],
}
"""Selections of 10 from :func:`small_pool`, recorded before strategies had shortlists."""


@pytest.mark.parametrize(("name", "kind"), sorted(BEFORE_SHORTLISTS))
def test_a_pool_within_the_cap_selects_exactly_as_before_shortlists(name: str, kind: str) -> None:
    pool, proba = small_pool(sparse=kind == "sparse")
    sel = make_strategy(name).query(pool, proba, 10, np.random.default_rng(5))
    assert sel.indices.tolist() == BEFORE_SHORTLISTS[(name, kind)]
