"""Batch-diverse strategies on small 2-D pools whose right picks can be read off a sketch."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from labelloop.domain import MISSING, Pool
from labelloop.learn import make_strategy

CLASSES = ("ham", "spam")


def pool_of(X: np.ndarray, y: list[int] | None = None) -> Pool:
    n = X.shape[0]
    labels = np.full(n, MISSING, dtype=np.int64) if y is None else np.asarray(y, dtype=np.int64)
    return Pool(np.arange(n, dtype=np.int64), X, labels, CLASSES)


def around(centre: tuple[float, float], n: int, rng: np.random.Generator, sd: float = 0.05):
    return np.asarray(centre) + rng.normal(scale=sd, size=(n, 2))


def at_angle(degrees: float, n: int, rng: np.random.Generator, sd: float = 2.0) -> np.ndarray:
    theta = np.deg2rad(degrees + rng.normal(scale=sd, size=n))
    return np.column_stack([np.cos(theta), np.sin(theta)])


# --- core-set ---------------------------------------------------------------------------------


def test_coreset_is_farthest_first_from_the_labeled_items() -> None:
    # Labeled at the origin; candidates at distance 1, 2 and 5 from it and from each other
    # as sketched: the traversal goes 5, then 2 (2.0 from the origin, 5.4 from the first
    # pick), then 1.
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [5.0, 0.0]])
    sel = make_strategy("coreset").query(
        pool_of(X, [0, MISSING, MISSING, MISSING]), None, 3, np.random.default_rng(0)
    )
    assert sel.indices.tolist() == [3, 2, 1]
    assert sel.scores == pytest.approx([5.0, 2.0, 1.0], abs=1e-5)
    assert sel.reasons[0] == (
        "far from everything labeled and the other picks (distance 5.00 to the nearest)"
    )


def test_coreset_picks_the_far_outlier_first_then_covers_the_other_cluster() -> None:
    rng = np.random.default_rng(1)
    X = np.vstack([around((0, 0), 30, rng), around((3, 0), 30, rng), [[20.0, 20.0]]])
    y = [0] * 5 + [MISSING] * 56  # only the first cluster has labels
    sel = make_strategy("coreset").query(pool_of(X, y), None, 2, np.random.default_rng(0))
    assert sel.indices[0] == 60  # the outlier
    assert 30 <= sel.indices[1] < 60  # then the unlabeled cluster, not more of the labeled one


def test_coreset_without_labels_starts_from_the_pool_centre() -> None:
    rng = np.random.default_rng(2)
    X = np.vstack([around((0, 0), 20, rng), [[8.0, 0.0]]])
    sel = make_strategy("coreset").query(pool_of(X), None, 1, np.random.default_rng(0))
    assert sel.indices.tolist() == [20]
    assert "the pool's centre" in sel.reasons[0]


def test_coreset_handles_sparse_features() -> None:
    rng = np.random.default_rng(3)
    X = csr_matrix(np.vstack([around((1, 1), 20, rng), [[30.0, 0.0]]]))
    sel = make_strategy("coreset").query(pool_of(X), None, 1, np.random.default_rng(0))
    assert sel.indices.tolist() == [20]


# --- BADGE ------------------------------------------------------------------------------------


def badge_pool() -> tuple[Pool, np.ndarray]:
    """Two uncertain clusters far apart; cluster A (rows 0-9) a little more uncertain than B."""
    rng = np.random.default_rng(4)
    X = np.vstack([around((5, 0), 10, rng), around((0, 5), 10, rng)])
    proba = np.vstack([np.tile([0.50, 0.50], (10, 1)), np.tile([0.55, 0.45], (10, 1))])
    proba[:10, 0] += rng.uniform(0, 0.001, 10)  # break exact ties inside A
    proba[:10, 1] = 1 - proba[:10, 0]
    return pool_of(X), proba


def test_badge_covers_both_uncertain_clusters_where_margin_takes_two_of_one() -> None:
    pool, proba = badge_pool()
    margin = make_strategy("margin").query(pool, proba, 2, np.random.default_rng(0))
    assert all(i < 10 for i in margin.indices)  # both from cluster A
    for seed in range(20):
        sel = make_strategy("badge").query(pool, proba, 2, np.random.default_rng(seed))
        assert sorted(int(i) // 10 for i in sel.indices) == [0, 1], f"seed {seed}"


def test_badge_starts_with_the_longest_gradient_and_scores_are_gradient_distances() -> None:
    pool, proba = badge_pool()
    sel = make_strategy("badge").query(pool, proba, 2, np.random.default_rng(0))
    first = int(sel.indices[0])
    # |g| = |p - onehot(guess)| * |x| = sqrt(0.5) * 5 for cluster A (the longest).
    x_norm = float(np.linalg.norm(pool.X[first]))
    p = proba[first]
    assert first < 10
    assert sel.scores[0] == pytest.approx(np.sqrt(2 * (1 - p.max()) ** 2) * x_norm, rel=1e-6)
    # Gradients of A and B are orthogonal: the distance is sqrt(|g_A|^2 + |g_B|^2) ~ 7.1.
    assert sel.scores[1] == pytest.approx(np.sqrt(0.5 * 25 + 2 * 0.45**2 * 25), rel=0.05)
    assert sel.reasons[0].startswith("would change the model most (best guess")


def test_badge_never_starts_with_a_confident_item() -> None:
    pool, proba = badge_pool()
    rng = np.random.default_rng(5)
    X = np.vstack([pool.X, around((3, 3), 10, rng)])
    proba = np.vstack([proba, np.tile([0.99, 0.01], (10, 1))])
    sel = make_strategy("badge").query(pool_of(X), proba, 1, np.random.default_rng(0))
    assert sel.indices[0] < 20


def test_badge_on_sparse_features_matches_dense() -> None:
    pool, proba = badge_pool()
    sparse = pool_of(csr_matrix(pool.X))
    a = make_strategy("badge").query(pool, proba, 5, np.random.default_rng(1))
    b = make_strategy("badge").query(sparse, proba, 5, np.random.default_rng(1))
    assert a.indices.tolist() == b.indices.tolist()
    assert a.scores == pytest.approx(b.scores)


# --- cluster-margin ---------------------------------------------------------------------------


def cluster_margin_pool() -> tuple[Pool, np.ndarray, np.ndarray]:
    """Three uncertain groups (A most uncertain, then B, then C) and 30 confident items."""
    rng = np.random.default_rng(6)
    X = np.vstack(
        [
            at_angle(0, 10, rng),
            at_angle(120, 10, rng),
            at_angle(240, 10, rng),
            at_angle(60, 30, rng),
        ]
    )
    group = np.repeat([0, 1, 2, 3], [10, 10, 10, 30])
    top = np.array([0.51, 0.52, 0.53, 0.98])[group] + rng.uniform(0, 0.001, 60)
    proba = np.column_stack([top, 1 - top])
    return pool_of(X), proba, group


def test_cluster_margin_spreads_picks_over_groups_margin_does_not() -> None:
    pool, proba, group = cluster_margin_pool()
    margin = make_strategy("margin").query(pool, proba, 3, np.random.default_rng(0))
    assert group[margin.indices].tolist() == [0, 0, 0]
    sel = make_strategy("cluster_margin").query(pool, proba, 3, np.random.default_rng(0))
    assert group[sel.indices].tolist() == [0, 1, 2]
    # Each is the most uncertain item of its group.
    for i, g in zip(sel.indices, group[sel.indices], strict=True):
        members = np.flatnonzero(group == g)
        assert proba[i, 0] == proba[members, 0].min()
    assert sel.reasons[0].startswith("model unsure between ham (0.51) and spam (0.49); 1st pick")
    assert "group of 10 similar uncertain items" in sel.reasons[0]


def larger_cluster_margin_pool() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three uncertain groups of 20 and 40 confident items: X, proba and each row's group."""
    rng = np.random.default_rng(7)
    X = np.vstack([at_angle(a, 20, rng) for a in (0, 120, 240)] + [at_angle(60, 40, rng)])
    group = np.repeat([0, 1, 2, 3], [20, 20, 20, 40])
    top = np.array([0.51, 0.52, 0.53, 0.98])[group] + rng.uniform(0, 0.005, 100)
    return X, np.column_stack([top, 1 - top]), group


def test_cluster_margin_takes_several_per_group_only_once_every_group_has_one() -> None:
    X, proba, group = larger_cluster_margin_pool()
    sel = make_strategy("cluster_margin").query(pool_of(X), proba, 6, np.random.default_rng(0))
    picked = group[sel.indices].tolist()
    assert len(set(sel.indices.tolist())) == 6
    assert set(picked) == {0, 1, 2}  # the 60 candidates are the uncertain items
    assert max(picked.count(g) for g in (0, 1, 2)) <= 3
    margin = make_strategy("margin").query(pool_of(X), proba, 6, np.random.default_rng(0))
    assert group[margin.indices].tolist() == [0] * 6


def test_cluster_margin_ranks_a_long_queue_for_its_labeling_batch() -> None:
    """A served queue of the whole pool, for a labeling batch of 3: the first three come from
    the three uncertain groups (as with a batch of 3 alone), not from one group of near-equals."""
    from dataclasses import replace

    pool, proba, group = cluster_margin_pool()
    served = replace(pool, batch_size=3)
    sel = make_strategy("cluster_margin").query(served, proba, 60, np.random.default_rng(0))
    assert len(set(sel.indices.tolist())) == 60
    assert sorted(group[sel.indices[:3]].tolist()) == [0, 1, 2]
    assert not any("unlike the other uncertain items" in r for r in sel.reasons)


def test_cluster_margin_on_a_pool_larger_than_the_queue_ignores_the_batch() -> None:
    """Candidates to spare: one cluster per pick as ever, so picks after the first batch do
    not come back to the first batch's groups."""
    from dataclasses import replace

    X, proba, _ = larger_cluster_margin_pool()
    plain = make_strategy("cluster_margin").query(pool_of(X), proba, 6, np.random.default_rng(0))
    served = replace(pool_of(X), batch_size=2)
    sel = make_strategy("cluster_margin").query(served, proba, 6, np.random.default_rng(0))
    assert sel.indices.tolist() == plain.indices.tolist()
