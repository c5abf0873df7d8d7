""" "More like this": the pool rows nearest one row by cosine similarity of their features.

Cosine similarity over L2-normalised rows is the standard measure for both TF-IDF vectors
(Salton & Buckley, "Term-weighting approaches in automatic text retrieval", 1988) and sentence
embeddings (Reimers & Gurevych, EMNLP 2019). Rows are scored in chunks, so a large pool needs
only one chunk of extra memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, issparse
from sklearn.preprocessing import normalize


def similarities(
    X: NDArray[np.floating] | csr_matrix, row: int, *, chunk: int = 65_536
) -> NDArray[np.float64]:
    """Cosine similarity of every row of ``X`` to ``row`` (its own included), scored ``chunk``
    rows at a time.

    Returns
    -------
    ndarray of shape (n_rows,)
        In [-1, 1]; 0 for a row sharing no feature with ``row`` (a TF-IDF text without one
        of its words) or with no features at all.
    """
    n_rows = X.shape[0]
    if not 0 <= row < n_rows:
        raise IndexError(f"row {row} is outside the {n_rows} rows")
    query = _unit_rows(X[row : row + 1])
    scores = np.empty(n_rows, dtype=np.float64)
    for start in range(0, n_rows, max(1, int(chunk))):
        stop = min(start + chunk, n_rows)
        block: Any = _unit_rows(X[start:stop]) @ query.T
        scores[start:stop] = np.asarray(block.todense() if issparse(block) else block).ravel()
    return np.clip(scores, -1.0, 1.0)


def most_similar(
    X: NDArray[np.floating] | csr_matrix,
    row: int,
    k: int,
    *,
    candidates: NDArray[np.bool_] | None = None,
    chunk: int = 65_536,
    scores: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """The ``k`` rows most similar to ``row``, best first, never ``row`` itself.

    Parameters
    ----------
    X : ndarray or csr_matrix of shape (n_rows, n_features)
    row : int
        The query row.
    k : int
        How many rows to return at most.
    candidates : ndarray of bool, shape (n_rows,), optional
        Only rows marked True may be returned (all rows when omitted).
    chunk : int
        Rows scored at a time.
    scores : ndarray of shape (n_rows,), optional
        :func:`similarities` of ``row``, when the caller has them already.

    Returns
    -------
    indices : ndarray of shape (m,), m = min(k, number of eligible rows)
    scores : ndarray of shape (m,)
        Cosine similarities in [-1, 1], descending; ties keep the lower row first.
    """
    n_rows = X.shape[0]
    if not 0 <= row < n_rows:
        raise IndexError(f"row {row} is outside the {n_rows} rows")
    eligible = np.ones(n_rows, dtype=bool) if candidates is None else candidates.astype(bool)
    eligible = eligible.copy()
    eligible[row] = False
    k = max(0, min(int(k), int(eligible.sum())))
    if k == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
    ranked = (similarities(X, row, chunk=chunk) if scores is None else scores).copy()
    ranked[~eligible] = -np.inf
    top = np.argpartition(-ranked, k - 1)[:k] if k < n_rows else np.arange(n_rows)
    order = np.lexsort((top, -ranked[top]))
    picked = top[order][:k]
    return picked.astype(np.intp), ranked[picked]


def _unit_rows(X: NDArray[np.floating] | csr_matrix) -> NDArray[np.float64] | csr_matrix:
    if issparse(X):
        return normalize(csr_matrix(X, dtype=np.float64), norm="l2", copy=True)
    return normalize(np.asarray(X, dtype=np.float64), norm="l2", copy=True)
