"""Information density: uncertain items that also stand for many others.

Settles & Craven, "An Analysis of Active Learning Strategies for Sequence Labeling Tasks"
(EMNLP 2008), eq. 5: utility ``phi(x) * (mean_u sim(x, u)) ** beta`` with cosine similarity over
the unlabeled pool ``U``. With cosine similarity the mean is exact and linear,
``mean_u cos(x, u) = x_hat . mean_u u_hat`` (``hat`` = scaled to unit length), so it costs two
passes over the pool instead of ``|U|^2`` similarities, and no sampling is needed.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from labelloop.domain import Pool, Selection
from labelloop.learn.space import CHUNK
from labelloop.learn.strategies import (
    candidate_proba,
    candidate_rows,
    margin_reason,
    margin_utility,
    register_strategy,
    top_k,
)


def _row_norms(X: NDArray[np.floating] | csr_matrix) -> NDArray[np.float64]:
    if isinstance(X, np.ndarray):
        return np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    return np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())


def mean_cosine_similarity(
    X: NDArray[np.floating] | csr_matrix, rows: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Mean cosine similarity of each of ``X[rows]`` to all of ``X[rows]`` (itself included).

    Two chunked passes: the mean of the unit-length rows, then each row's dot product with it.

    Parameters
    ----------
    X : ndarray or csr_matrix of shape (n_pool, n_features)
    rows : ndarray of shape (n_rows,)

    Returns
    -------
    ndarray of shape (n_rows,)
        In [-1, 1]; 0 for all-zero rows.
    """
    n = rows.shape[0]
    if n == 0:
        return np.empty(0)
    norms = np.empty(n)
    centre = np.zeros(X.shape[1])
    for start in range(0, n, CHUNK):
        block = X[rows[start : start + CHUNK]]
        nb = _row_norms(block)
        norms[start : start + nb.shape[0]] = nb
        inv = np.where(nb > 0, 1.0 / np.where(nb > 0, nb, 1.0), 0.0)
        centre += np.asarray(block.T @ inv).ravel()
    centre /= n
    sims = np.empty(n)
    for start in range(0, n, CHUNK):
        block = X[rows[start : start + CHUNK]]
        dots = np.asarray(block @ centre).ravel()
        nb = norms[start : start + dots.shape[0]]
        sims[start : start + dots.shape[0]] = np.where(nb > 0, dots / np.where(nb > 0, nb, 1), 0)
    return sims


@register_strategy
class DensityWeighted:
    """Margin uncertainty times relative information density (Settles & Craven, EMNLP 2008).

    Utility ``u(x) * d(x) ** beta`` where ``u`` is the margin utility ``1 - (p_1 - p_2)`` and
    ``d`` is the mean cosine similarity to the unlabeled pool divided by the pool's largest, so
    it lies in [0, 1] (items pointing away from the pool on average get 0). ``beta`` weighs
    density against uncertainty (the paper's 1).

    Parameters
    ----------
    beta : float
    """

    name: ClassVar[str] = "density_weighted"

    def __init__(self, beta: float = 1.0) -> None:
        self.beta = beta

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Pick the rows with the largest ``uncertainty * density ** beta``, best first.

        Parameters
        ----------
        pool : Pool
            ``pool.X`` of shape (n_pool, n_features), dense or sparse.
        proba : ndarray of shape (n_pool, n_classes)
        batch_size : int
        rng : numpy.random.Generator
            Breaks ties.

        Returns
        -------
        Selection
            ``scores`` are the products; each reason shows both factors.
        """
        rows = candidate_rows(pool)
        p = candidate_proba(self.name, pool, proba, rows)
        uncertainty = margin_utility(p)
        sims = mean_cosine_similarity(pool.X, rows)
        top = sims.max() if sims.shape[0] else 0.0
        density = np.clip(sims / top, 0.0, 1.0) if top > 0 else np.ones_like(sims)
        utility = uncertainty * density**self.beta
        picked = top_k(utility, batch_size, rng)
        reasons = tuple(
            f"{margin_reason(p[i], pool.classes)}, in a "
            f"{'dense' if density[i] >= 0.5 else 'sparse'} part of the pool "
            f"(uncertainty {uncertainty[i]:.2f} × density {density[i]:.2f})"
            for i in picked
        )
        return Selection(indices=rows[picked], scores=utility[picked], reasons=reasons)
