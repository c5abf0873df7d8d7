""" "More like this": the pool rows nearest one row by cosine similarity of their features.

Cosine similarity over L2-normalised rows is the standard measure for both TF-IDF vectors
(Salton & Buckley, "Term-weighting approaches in automatic text retrieval", 1988) and sentence
embeddings (Reimers & Gurevych, EMNLP 2019). Rows are scored in chunks, so a large pool needs
only one chunk of extra memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
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
    if k < n_rows:
        # Every row as like the query as the k-th best, not the k that argpartition happens to
        # keep of a tie: the lowest rows of a tie come first at every k (pages continue).
        kth = ranked[np.argpartition(-ranked, k - 1)[k - 1]]
        top = np.flatnonzero(ranked >= kth)
    else:
        top = np.arange(n_rows)
    order = np.lexsort((top, -ranked[top]))
    picked = top[order][:k]
    return picked.astype(np.intp), ranked[picked]


ALMOST_ONE = 0.9999
"""The highest score two different texts get: 1 means the same text."""
TIE = 1e-6
"""Rows within this of a score of 1 look the same as the query row to the features."""
_WORD = re.compile(r"\w+")


def is_blank(X: NDArray[np.floating] | csr_matrix, row: int) -> bool:
    """Whether ``row`` of ``X`` is all zeros (a TF-IDF text none of whose words the vocabulary
    keeps): nothing can be like it."""
    found = X[row]
    return bool((found.count_nonzero() if issparse(found) else np.count_nonzero(found)) == 0)


def same_text(a: str, b: str) -> bool:
    """The same text, but for spacing."""
    return a.split() == b.split()


def word_similarity(a: str, b: str) -> float:
    """Cosine similarity of the two texts' word counts, in any case, every word counted (a
    word of one character too)."""
    ca, cb = Counter(_WORD.findall(a.casefold())), Counter(_WORD.findall(b.casefold()))
    dot = sum(n * cb[w] for w, n in ca.items())
    norm = float(np.sqrt(sum(n * n for n in ca.values()) * sum(n * n for n in cb.values())))
    return dot / norm if norm else 0.0


def told_apart(
    scores: NDArray[np.float64], row: int, text_of: Callable[[int], str]
) -> NDArray[np.float64]:
    """``scores`` of :func:`similarities` where the texts, not only the features, agree.

    Features can make different texts one row: TF-IDF forgets words found in one item only,
    so 'refund zebraic' and 'refund platypus' are both the row of 'refund', and a cased
    encoder sees no case. Each row that scores within ``TIE`` of 1 and whose text (``text_of``
    a row index) is not the query row's keeps the lower of its score and its
    :func:`word_similarity`, and never more than ``ALMOST_ONE``; the same text keeps 1.

    Returns
    -------
    ndarray of shape (n_rows,)
    """
    told = scores.copy()
    origin = text_of(row)
    for i in np.flatnonzero(scores >= 1.0 - TIE):
        if i == row:
            continue
        text = text_of(int(i))
        if not same_text(origin, text):
            told[i] = min(float(scores[i]), word_similarity(origin, text), ALMOST_ONE)
    return told


def _unit_rows(X: NDArray[np.floating] | csr_matrix) -> NDArray[np.float64] | csr_matrix:
    if issparse(X):
        return normalize(csr_matrix(X, dtype=np.float64), norm="l2", copy=True)
    return normalize(np.asarray(X, dtype=np.float64), norm="l2", copy=True)
