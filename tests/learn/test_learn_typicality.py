"""TypiClust on points of the unit circle, where typical and outlying can be seen by eye."""

import numpy as np
import pytest

from labelloop.domain import MISSING, Pool
from labelloop.learn import make_strategy
from labelloop.learn.typicality import typicality


def on_circle(degrees: np.ndarray) -> np.ndarray:
    theta = np.deg2rad(np.asarray(degrees, dtype=float))
    return np.column_stack([np.cos(theta), np.sin(theta)])


def pool_of(X: np.ndarray, y: np.ndarray | None = None) -> Pool:
    n = X.shape[0]
    labels = np.full(n, MISSING, dtype=np.int64) if y is None else y
    return Pool(np.arange(n, dtype=np.int64), X, labels, ("a", "b"))


# 21 evenly spaced items around 45° (row 10 is the centre) and one outlier at 200°.
DENSE = 45 + np.arange(-10, 11)
OUTLIER = 21


def test_picks_the_centre_of_the_dense_cluster_not_the_outlier() -> None:
    X = on_circle(np.append(DENSE, 200))
    sel = make_strategy("typiclust").query(pool_of(X), None, 1, np.random.default_rng(0))
    assert sel.indices.tolist() == [10]
    # One cluster (|L| + B = 1) holds all 22 items; the outlier only lowers its neighbours' mean.
    assert sel.reasons == ("typical of a group of 22 similar items, none labeled yet",)


def test_two_clusters_give_both_centres_the_larger_first() -> None:
    small = 180 + np.arange(-5, 6)  # 11 items, centre at row 21 + 5
    X = on_circle(np.concatenate([DENSE, small]))
    sel = make_strategy("typiclust").query(pool_of(X), None, 2, np.random.default_rng(0))
    assert sel.indices.tolist() == [10, 26]
    assert sel.reasons[1] == "typical of a group of 11 similar items, none labeled yet"


def test_a_labeled_cluster_is_covered_so_the_smaller_uncovered_one_comes_first() -> None:
    small = 180 + np.arange(-5, 6)
    X = on_circle(np.concatenate([DENSE, small]))
    y = np.full(X.shape[0], MISSING, dtype=np.int64)
    y[3] = 0  # one label in the large cluster: |L| + B = 2 clusters, the large one covered
    sel = make_strategy("typiclust").query(pool_of(X, y), None, 1, np.random.default_rng(0))
    assert sel.indices.tolist() == [26]
    assert sel.reasons == ("typical of a group of 11 similar items, none labeled yet",)


def test_typicality_falls_with_the_mean_distance_to_the_k_nearest() -> None:
    Z = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    # Row 1: neighbours at 1 and 2 -> mean 1.5 with K=2; at 1 only with K=1.
    assert typicality(Z, np.array([1]), 2) == pytest.approx([np.exp(-1.5)], rel=1e-5)
    assert typicality(Z, np.array([0, 2]), 1) == pytest.approx([np.exp(-1), np.exp(-2)], rel=1e-5)
    copies = np.zeros((4, 2), dtype=np.float32)  # exact duplicates: the most typical, score 1
    assert typicality(copies, np.array([0]), 3).tolist() == [1.0]
    assert typicality(Z[:1], np.array([0]), 20).tolist() == [0.0]


def test_small_clusters_wait_until_the_large_ones_are_used() -> None:
    # Three far-apart pairs (clusters under 5 items) and one group of 21: with 4 clusters the
    # pairs are skipped while the large group still has candidates.
    X = on_circle(np.concatenate([DENSE, [150, 151, 250, 251, 330, 331]]))
    sel = make_strategy("typiclust").query(pool_of(X), None, 4, np.random.default_rng(0))
    assert all(i < 21 for i in sel.indices)


def test_a_queue_as_long_as_a_small_pool_still_finds_its_groups() -> None:
    """A served queue takes the whole pool of 33: it is ranked over groups of about twice
    min_cluster_size items (three here), centres first, not one cluster per item (score 0,
    "unlike any other item"); reasons count labels, not the queue's earlier picks."""
    X = on_circle(np.concatenate([centre + np.arange(-5, 6) for centre in (45, 165, 285)]))
    pool = Pool(np.arange(33, dtype=np.int64), X, np.full(33, MISSING), ("a", "b"))
    sel = make_strategy("typiclust").query(pool, None, 33, np.random.default_rng(0))
    assert sorted(sel.indices.tolist()) == list(range(33))  # the whole queue
    assert sorted(sel.indices[:3].tolist()) == [5, 16, 27]  # the three centres
    assert (sel.scores > 0).all()
    assert all(r == "typical of a group of 11 similar items, none labeled yet" for r in sel.reasons)
    assert sorted((sel.indices[:9] // 11).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # in turn


def test_a_pool_smaller_than_a_group_is_one_group() -> None:
    X = on_circle(45 + np.arange(-3, 4))  # 7 items, the centre at row 3
    pool = Pool(np.arange(7, dtype=np.int64), X, np.full(7, MISSING), ("a", "b"), batch_size=10)
    sel = make_strategy("typiclust").query(pool, None, 7, np.random.default_rng(0))
    assert sel.indices[0] == 3 and (sel.scores > 0).all()
    assert sel.reasons[0] == "typical of a group of 7 similar items, none labeled yet"


def test_a_long_queue_on_a_large_pool_keeps_one_cluster_per_pick() -> None:
    """60 items in 12 tight groups, a queue of 12: each group once, not a few groups twice."""
    X = on_circle(np.concatenate([c + np.arange(-2, 3) * 0.5 for c in range(0, 360, 30)]))
    pool = Pool(np.arange(60, dtype=np.int64), X, np.full(60, MISSING), ("a", "b"), batch_size=3)
    sel = make_strategy("typiclust").query(pool, None, 12, np.random.default_rng(0))
    assert sorted(set((sel.indices // 5).tolist())) == list(range(12))
