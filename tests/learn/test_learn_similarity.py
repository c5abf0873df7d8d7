""" "More like this": cosine similarity over dense and sparse rows, chunked, the query excluded."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from labelloop.learn import most_similar

ROWS = np.array(
    [
        [1.0, 0.0, 0.0],  # 0 query
        [2.0, 0.1, 0.0],  # 1 nearly the same direction (cosine ~0.999)
        [0.0, 1.0, 0.0],  # 2 orthogonal (0)
        [1.0, 1.0, 0.0],  # 3 45 degrees (0.707)
        [-1.0, 0.0, 0.0],  # 4 opposite (-1)
        [0.0, 0.0, 0.0],  # 5 empty row (0)
    ]
)


@pytest.mark.parametrize("X", [ROWS, csr_matrix(ROWS)])
def test_ranks_by_cosine_best_first_without_the_query(X: object) -> None:
    idx, scores = most_similar(X, 0, 10, chunk=2)
    assert idx.tolist() == [1, 3, 2, 5, 4]
    assert np.allclose(scores, [2 / np.hypot(2, 0.1), 1 / np.sqrt(2), 0, 0, -1])


def test_only_candidates_and_at_most_k() -> None:
    mask = np.array([True, False, True, True, True, True])
    idx, _ = most_similar(ROWS, 0, 2, candidates=mask)
    assert idx.tolist() == [3, 2]
    idx, scores = most_similar(ROWS, 0, 0)
    assert idx.size == 0 and scores.size == 0


def test_out_of_range_query_row() -> None:
    with pytest.raises(IndexError):
        most_similar(ROWS, 6, 1)


def test_tied_rows_come_lowest_first_whatever_k_is() -> None:
    """Many rows as like the query as each other (texts that differ only in numbers the
    features drop): the first k are the lowest rows of the tie at every k, so a page of the
    search continues the one before without repeating or skipping any."""
    rng = np.random.default_rng(3)
    tied = np.tile([1.0, 1.0, 0.0], (40, 1))
    others = rng.random((40, 3)) * [0.2, 1.0, 1.0]  # all less like the query than the tie
    X = np.vstack([[[1.0, 1.0, 0.0]], others[:20], tied, others[20:]])
    full, _ = most_similar(X, 0, X.shape[0])
    assert full[:40].tolist() == list(range(21, 61))
    for k in (1, 2, 3, 7, 20, 39, 40, 41):
        idx, _ = most_similar(X, 0, k)
        assert idx.tolist() == full[:k].tolist(), k
