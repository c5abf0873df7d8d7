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
