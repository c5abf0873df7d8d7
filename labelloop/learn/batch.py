"""Batch-diverse strategies: a batch of picks that are informative and unlike each other.

- Cluster-margin: Citovsky et al., "Batch Active Learning at Scale" (NeurIPS 2021).
- BADGE: Ash et al., "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds"
  (ICLR 2020).
- Core-set (k-center greedy): Sener & Savarese, "Active Learning for Convolutional Neural
  Networks: A Core-Set Approach" (ICLR 2018).

Large pools are handled by bounded samples and shortlists (see :mod:`~labelloop.learn.space`),
so a batch of 100 from a 1,000,000 x 384 pool takes well under a second on one core.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix, issparse

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn.density import _row_norms
from labelloop.learn.space import (
    MAX_CANDIDATES,
    nearest_sq_dist,
    project,
    sample_rows,
    shortlist,
    unit_rows,
)
from labelloop.learn.strategies import (
    candidate_proba,
    candidate_rows,
    empty_selection,
    margin_reason,
    margin_utility,
    register_strategy,
    top_k,
)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@register_strategy
class ClusterMargin:
    """Most uncertain items, spread over clusters of similar items (Citovsky et al. 2021).

    The ``candidate_factor * batch_size`` (at most ``max_candidates``) rows of smallest margin
    are clustered once with agglomerative clustering (average linkage on cosine geometry) into
    ``batch_size`` clusters, and the queue takes one item per cluster in round-robin.

    Two deliberate differences from the paper, both for a queue that annotators consume from
    the top: the HAC runs over the margin candidates of this round, not once over the whole
    pool (which keeps no state between rounds and costs ``O(max_candidates^2)``); and clusters
    are visited in order of their most uncertain item, most uncertain item first inside each
    cluster, rather than smallest cluster first at random, so every prefix of the queue is
    itself a diverse, uncertain batch.

    Parameters
    ----------
    candidate_factor : int
        Candidates per pick (the paper's ``k_m / k_t = 10``).
    max_candidates : int
        Upper bound on the rows the HAC sees.
    dims : int
        Coordinates kept for clustering sparse or wide features.
    """

    name: ClassVar[str] = "cluster_margin"

    def __init__(
        self, candidate_factor: int = 10, max_candidates: int = 2_000, dims: int = 100
    ) -> None:
        self.candidate_factor = candidate_factor
        self.max_candidates = max_candidates
        self.dims = dims

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Pick ``batch_size`` uncertain rows from as many clusters as possible.

        Parameters
        ----------
        pool : Pool
            ``pool.X`` of shape (n_pool, n_features).
        proba : ndarray of shape (n_pool, n_classes)
        batch_size : int
        rng : numpy.random.Generator

        Returns
        -------
        Selection
            ``scores`` are margin utilities ``1 - (p_1 - p_2)``.
        """
        rows = candidate_rows(pool)
        p = candidate_proba(self.name, pool, proba, rows)
        k = max(0, min(batch_size, rows.shape[0]))
        if k == 0:
            return empty_selection()
        utility = margin_utility(p)
        n_cand = min(rows.shape[0], max(k, min(self.candidate_factor * k, self.max_candidates)))
        cand = top_k(utility, n_cand, rng)  # most uncertain first
        # One cluster per pick, but when the queue takes every candidate (a small pool) that
        # would be one per item: then one per item of the labeling batch, whose round-robin
        # makes the queue's first batch diverse.
        groups = k if n_cand > k else min(k, pool.batch_size or k)
        labels = self._clusters(pool.X, rows[cand], groups, rng)
        # Round-robin: the r-th most uncertain item of every cluster, clusters in the order of
        # their most uncertain item (where each label first appears in ``cand`` order).
        _, first, inverse, counts = np.unique(
            labels, return_index=True, return_inverse=True, return_counts=True
        )
        visit = np.argsort(np.argsort(first))[inverse]
        seen: dict[int, int] = {}
        depth = np.empty(n_cand, dtype=np.intp)
        for j, c in enumerate(inverse.tolist()):
            depth[j] = seen.get(c, 0)
            seen[c] = int(depth[j]) + 1
        order = np.lexsort((visit, depth))[:k]
        size_of = counts[inverse]
        picked = cand[order]
        reasons = tuple(
            f"{margin_reason(p[i], pool.classes)}; "
            + (
                f"{_ordinal(int(depth[j]) + 1)} pick of a group of {int(size_of[j])} similar "
                "uncertain items"
                if size_of[j] > 1
                else "unlike the other uncertain items"
            )
            for i, j in zip(picked, order, strict=True)
        )
        return Selection(indices=rows[picked], scores=utility[picked], reasons=reasons)

    def _clusters(
        self,
        X: NDArray[np.floating] | csr_matrix,
        rows: NDArray[np.intp],
        n_clusters: int,
        rng: np.random.Generator,
    ) -> NDArray[np.intp]:
        """Average-linkage HAC labels of ``X[rows]`` cut into ``n_clusters``; shape (n_rows,)."""
        if rows.shape[0] <= n_clusters or n_clusters <= 1:
            return (
                np.arange(rows.shape[0], dtype=np.intp)
                if n_clusters > 1
                else np.zeros(rows.shape[0], dtype=np.intp)
            )
        Z = unit_rows(project(X, rows, dims=self.dims, rng=rng)).astype(np.float64)
        tree = linkage(Z, method="average", metric="euclidean")
        return fcluster(tree, t=n_clusters, criterion="maxclust").astype(np.intp)


@register_strategy
class Badge:
    """Batch Active learning by Diverse Gradient Embeddings (Ash et al., ICLR 2020).

    Each candidate's embedding is the gradient of the cross-entropy loss of a linear softmax
    model with respect to its last layer, at the model's own guess ``y_hat``:
    ``g = (p - onehot(y_hat)) ⊗ x`` (shape ``n_classes * n_features``). k-means++ seeding
    (Arthur & Vassilvitskii, SODA 2007) over the ``g`` picks items that are uncertain (long
    gradients) and diverse (gradients pointing different ways).

    The gradients are never built: with ``a = p - onehot(y_hat)``,
    ``<g_i, g_j> = <a_i, a_j> <x_i, x_j>``, so each seeding step costs one pass over ``X`` and
    the inner products are exact even for 200,000-column sparse TF-IDF (no projection needed).
    Pools larger than ``max_candidates`` seed among a :func:`~labelloop.learn.space.shortlist`
    of that many: the candidates of largest ``|p - onehot(y_hat)|`` (longest gradient per unit
    of feature length, which k-means++ seeding favours) plus a uniform share of the rest.

    Parameters
    ----------
    max_candidates : int
    """

    name: ClassVar[str] = "badge"

    def __init__(self, max_candidates: int = MAX_CANDIDATES) -> None:
        self.max_candidates = max_candidates

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Seed ``batch_size`` k-means++ centres among the candidates' gradient embeddings.

        Parameters
        ----------
        pool : Pool
            ``pool.X`` of shape (n_pool, n_features), dense or sparse.
        proba : ndarray of shape (n_pool, n_classes)
        batch_size : int
        rng : numpy.random.Generator
            Draws each seed with probability proportional to its squared distance, and on
            large pools the shortlist's random share.

        Returns
        -------
        Selection
            ``scores``: gradient distance of each pick to the nearest earlier pick (the first
            pick: its gradient length).
        """
        rows = candidate_rows(pool)
        p = candidate_proba(self.name, pool, proba, rows)
        k = max(0, min(batch_size, rows.shape[0]))
        if k == 0:
            return empty_selection()
        guess = p.argmax(axis=1)
        a = p.copy()
        a[np.arange(a.shape[0]), guess] -= 1.0
        a_sq = np.einsum("ij,ij->i", a, a)
        cap = max(self.max_candidates, k)  # a batch larger than the cap needs as many rows
        shortlisted = rows.shape[0] > cap
        if shortlisted:
            # |a| is the gradient's length per unit of |x|, known without touching X.
            keep = shortlist(a_sq, cap, rng)
            rows, p, a, a_sq = rows[keep], p[keep], a[keep], a_sq[keep]
        X = pool.X[rows]
        # |g|^2 = |a|^2 |x|^2: the gradient's length without building it.
        g_sq = a_sq * _row_norms(X) ** 2
        # A shortlist's k passes over X run in float32, half the memory traffic of float64.
        dtype = np.float32 if shortlisted else np.float64
        X = csr_matrix(X) if issparse(X) else np.asarray(X, dtype=dtype)

        picks: list[int] = []
        scores: list[float] = []
        d_sq = np.full(rows.shape[0], np.inf)
        first = int(np.argmax(g_sq))
        centre = first
        for step in range(k):
            if step:
                weights = np.where(np.isfinite(d_sq), d_sq, 0.0)
                weights[picks] = 0.0
                total = weights.sum()
                if total > 0:
                    centre = int(rng.choice(weights.shape[0], p=weights / total))
                else:  # every candidate duplicates a pick: any unpicked one will do
                    free = np.setdiff1d(np.arange(rows.shape[0]), picks)
                    centre = int(rng.choice(free))
            scores.append(float(np.sqrt(max(g_sq[centre], 0.0) if not step else d_sq[centre])))
            picks.append(centre)
            x_dot = (X @ X[centre].T).toarray().ravel() if issparse(X) else X @ X[centre]
            dist = g_sq + g_sq[centre] - 2.0 * (a @ a[centre]) * x_dot
            d_sq = np.minimum(d_sq, np.maximum(dist, 0.0))

        picked = np.asarray(picks, dtype=np.intp)
        among = rows.shape[0] if shortlisted else None
        reasons = tuple(
            _badge_reason(p[i], pool.classes, s, first=(j == 0), among=among)
            for j, (i, s) in enumerate(zip(picked, scores, strict=True))
        )
        return Selection(indices=rows[picked], scores=np.asarray(scores), reasons=reasons)


def _badge_reason(
    p: NDArray[np.float64],
    classes: tuple[str, ...],
    score: float,
    *,
    first: bool,
    among: int | None = None,
) -> str:
    best = int(np.argmax(p))
    guess = f"best guess {classes[best]} is {p[best]:.2f} likely"
    if first:
        most = "most" if among is None else f"most of {among:,} shortlisted items"
        return f"would change the model {most} ({guess}; gradient length {score:.2f})"
    return f"would change the model unlike the other picks ({guess}; gradient distance {score:.2f})"


@register_strategy
class CoreSet:
    """k-center greedy core-set (Sener & Savarese, ICLR 2018): cover the pool's feature space.

    Repeatedly picks the candidate farthest from everything labeled or already picked, which
    greedily minimises the largest distance from any pool item to its nearest labeled item.
    Needs no model, so it also works in cold start (the pool's mean stands in for the missing
    labeled set). Pools larger than ``max_candidates`` use a uniform sample; at most
    ``max_centers`` labeled rows are used as centres; sparse or wider-than-``dims`` features are
    reduced by a truncated SVD first.

    Parameters
    ----------
    max_candidates : int
    max_centers : int
    dims : int
    """

    name: ClassVar[str] = "coreset"
    cold_start: ClassVar[bool] = True

    def __init__(
        self, max_candidates: int = MAX_CANDIDATES, max_centers: int = 2_000, dims: int = 128
    ) -> None:
        self.max_candidates = max_candidates
        self.max_centers = max_centers
        self.dims = dims

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Pick ``batch_size`` rows by farthest-first traversal.

        Parameters
        ----------
        pool : Pool
            ``pool.X`` of shape (n_pool, n_features), dense or sparse.
        proba : ndarray or None
            Unused.
        batch_size : int
        rng : numpy.random.Generator
            Draws the samples and seeds the SVD.

        Returns
        -------
        Selection
            ``scores``: distance of each pick to its nearest labeled or earlier-picked item.
        """
        rows = candidate_rows(pool)
        k = max(0, min(batch_size, rows.shape[0]))
        if k == 0:
            return empty_selection()
        cand = sample_rows(rows, max(self.max_candidates, k), rng)
        labeled = sample_rows(np.flatnonzero(np.asarray(pool.y) != MISSING), self.max_centers, rng)
        Z = project(pool.X, np.concatenate([cand, labeled]), dims=self.dims, rng=rng)
        Zc, Zl = Z[: cand.shape[0]], Z[cand.shape[0] :]
        if Zl.shape[0] == 0:
            Zl = Zc.mean(axis=0, keepdims=True)
        d_sq = nearest_sq_dist(Zc, Zl)
        z_sq = np.einsum("ij,ij->i", Zc, Zc)
        picks, scores = [], []
        for _ in range(k):
            i = int(np.argmax(d_sq))
            picks.append(i)
            scores.append(float(np.sqrt(max(d_sq[i], 0.0))))
            d_new = z_sq + z_sq[i] - 2.0 * (Zc @ Zc[i])
            np.minimum(d_sq, np.maximum(d_new, 0.0), out=d_sq)
            d_sq[picks] = -1.0
        picked = np.asarray(picks, dtype=np.intp)
        anchor = "everything labeled" if labeled.shape[0] else "the pool's centre"
        reasons = tuple(
            f"far from {anchor} and the other picks (distance {s:.2f} to the nearest)"
            for s in scores
        )
        return Selection(indices=cand[picked], scores=np.asarray(scores), reasons=reasons)
