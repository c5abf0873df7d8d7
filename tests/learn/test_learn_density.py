"""Information density: an uncertain item inside a crowd beats an equally uncertain loner."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from labelloop.domain import MISSING, Pool
from labelloop.learn import make_strategy
from labelloop.learn.density import mean_cosine_similarity


def on_circle(degrees) -> np.ndarray:
    theta = np.deg2rad(np.asarray(degrees, dtype=float))
    return np.column_stack([np.cos(theta), np.sin(theta)])


def crowd_and_loner() -> tuple[Pool, np.ndarray]:
    """Rows 0-19 a confident crowd near 0°, row 20 uncertain inside it, row 21 uncertain at 90°."""
    X = on_circle(np.concatenate([np.linspace(-5, 5, 20), [2.0, 90.0]]))
    proba = np.tile([0.95, 0.05], (22, 1))
    proba[20] = proba[21] = [0.5, 0.5]
    return Pool(np.arange(22), X, np.full(22, MISSING), ("ham", "spam")), proba


def test_prefers_the_uncertain_item_in_the_dense_region() -> None:
    pool, proba = crowd_and_loner()
    for seed in range(5):  # margin alone ties the two; density never does
        sel = make_strategy("density_weighted").query(pool, proba, 1, np.random.default_rng(seed))
        assert sel.indices.tolist() == [20]


def test_density_outweighs_a_slightly_higher_uncertainty_of_the_loner() -> None:
    pool, proba = crowd_and_loner()
    proba[20] = [0.55, 0.45]
    assert make_strategy("margin").query(pool, proba, 1, np.random.default_rng(0)).indices[0] == 21
    sel = make_strategy("density_weighted").query(pool, proba, 1, np.random.default_rng(0))
    assert sel.indices.tolist() == [20]


def test_scores_and_reason_show_both_factors() -> None:
    pool, proba = crowd_and_loner()
    sel = make_strategy("density_weighted").query(pool, proba, 22, np.random.default_rng(0))
    sims = mean_cosine_similarity(pool.X, np.arange(22))
    density = sims / sims.max()
    uncertainty = 1 - np.abs(proba[:, 0] - proba[:, 1])
    assert sel.scores == pytest.approx((uncertainty * density)[sel.indices])
    first = sel.reasons[0]
    assert first.startswith("model unsure between ham (0.50) and spam (0.50), in a dense part")
    assert f"(uncertainty 1.00 × density {density[20]:.2f})" in first
    loner = sel.reasons[sel.indices.tolist().index(21)]
    assert "in a sparse part of the pool" in loner


def test_mean_cosine_similarity_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((50, 7))
    X[3] = 0.0  # an empty row has similarity 0 to everything
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
    expected = (unit @ unit.T).mean(axis=1)
    rows = np.arange(50)
    assert mean_cosine_similarity(X, rows) == pytest.approx(expected)
    assert mean_cosine_similarity(csr_matrix(X), rows) == pytest.approx(expected)
