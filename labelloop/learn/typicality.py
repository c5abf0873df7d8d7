"""TypiClust: in the low-budget regime, label the most typical item of each uncovered group.

Hacohen, Dekel & Weinshall, "Active Learning on a Budget: Opposite Strategies Suit High and Low
Budgets" (ICML 2022). The pool is clustered by k-means into ``|L| + B`` clusters (at most 500);
each pick comes from the largest cluster with the fewest labeled items, and within it is the
item of highest typicality: the smallest mean distance to its ``K = 20`` nearest neighbours
(the paper scores its inverse; :func:`typicality` scores ``exp(-d)``, the same order, bounded).
Clusters under 5 items are skipped while larger ones remain, so outliers are not queued. Needs
no model, so it is a cold-start strategy.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn.space import (
    MAX_CANDIDATES,
    SAMPLE_EPOCHS,
    kmeans,
    project,
    sample_rows,
    unit_rows,
)
from labelloop.learn.strategies import candidate_rows, empty_selection, register_strategy

MAX_NEIGHBOURHOOD = 2_000
"""Items of one cluster the typicality of its candidates is measured against at most."""


def typicality(
    Z: NDArray[np.float32], of: NDArray[np.intp], n_neighbors: int
) -> NDArray[np.float64]:
    """How typical the rows ``Z[of]`` are: ``exp(-d)`` of their mean Euclidean distance ``d`` to
    their nearest neighbours among ``Z``.

    TypiClust's inverse mean distance ranks the rows the same way, but a row among exact
    duplicates (retweets) scored 1 / 1e-6, shown as "Score 1000000.000"; this score lies in
    (0, 1], 1 for such a row.

    Parameters
    ----------
    Z : ndarray of shape (m, d)
        The neighbourhood, which contains the rows ``of``.
    of : ndarray of shape (n,)
        Rows of ``Z`` to score.
    n_neighbors : int
        ``K``; fewer when the neighbourhood is smaller.

    Returns
    -------
    ndarray of shape (n,)
        ``exp(-mean distance to the K nearest others)``; 0 for a lone item.
    """
    m = Z.shape[0]
    k = min(n_neighbors, m - 1)
    if k <= 0:
        return np.zeros(of.shape[0])
    z_sq = np.einsum("ij,ij->i", Z, Z)
    d_sq = z_sq[of, None] + z_sq[None, :] - 2.0 * (Z[of] @ Z.T)
    d = np.sqrt(np.maximum(d_sq, 0.0))
    d[np.arange(of.shape[0]), of] = np.inf  # not its own neighbour
    nearest = np.partition(d, k - 1, axis=1)[:, :k]
    return np.exp(-nearest.mean(axis=1).astype(np.float64))


@register_strategy
class TypiClust:
    """Most typical item of the largest uncovered k-means cluster (Hacohen et al., ICML 2022).

    Works on unit-length coordinates (cosine geometry) of at most ``max_candidates`` sampled
    candidates plus the labeled rows; sparse or wider-than-``dims`` features go through a
    truncated SVD first. On a sample of a larger pool, mini-batch k-means makes
    :data:`~labelloop.learn.space.SAMPLE_EPOCHS` passes instead of ten.

    Parameters
    ----------
    max_clusters : int
        The paper's cap on ``|L| + B``.
    n_neighbors : int
        ``K`` of the typicality.
    min_cluster_size : int
        Smaller clusters are used only when no larger one has candidates left.
    max_candidates : int
    dims : int
    """

    name: ClassVar[str] = "typiclust"
    cold_start: ClassVar[bool] = True

    def __init__(
        self,
        max_clusters: int = 500,
        n_neighbors: int = 20,
        min_cluster_size: int = 5,
        max_candidates: int = MAX_CANDIDATES,
        dims: int = 100,
    ) -> None:
        self.max_clusters = max_clusters
        self.n_neighbors = n_neighbors
        self.min_cluster_size = min_cluster_size
        self.max_candidates = max_candidates
        self.dims = dims

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Pick ``batch_size`` typical rows from the largest, least-labeled clusters.

        Parameters
        ----------
        pool : Pool
            ``pool.X`` of shape (n_pool, n_features), dense or sparse.
        proba : ndarray or None
            Unused.
        batch_size : int
        rng : numpy.random.Generator
            Draws the samples and seeds the SVD and k-means.

        Returns
        -------
        Selection
            ``scores`` are typicalities; reasons name the group's size and its labels.
        """
        rows = candidate_rows(pool)
        k = max(0, min(batch_size, rows.shape[0]))
        if k == 0:
            return empty_selection()
        all_labeled = np.flatnonzero(np.asarray(pool.y) != MISSING)
        cap = max(self.max_candidates, k)  # a batch larger than the cap needs as many rows
        cand = sample_rows(rows, cap, rng)
        labeled = sample_rows(all_labeled, self.max_candidates, rng)
        n_cand = cand.shape[0]
        Z = unit_rows(project(pool.X, np.concatenate([cand, labeled]), dims=self.dims, rng=rng))
        # |L| + B clusters, unless they would average under min_cluster_size rows (a queue as
        # long as a small pool): then half as many as would hold that, so items are not each a
        # cluster of their own (typicality 0) nor most clusters too small to be picked while a
        # few large ones are drained.
        n_clusters = labeled.shape[0] + k
        if n_clusters * self.min_cluster_size > Z.shape[0]:
            n_clusters = Z.shape[0] // (2 * self.min_cluster_size)
        n_clusters = max(1, min(n_clusters, self.max_clusters))
        sampled = rows.shape[0] > cap
        labels, centres = kmeans(Z, n_clusters, rng, epochs=SAMPLE_EPOCHS if sampled else 10)
        n_clusters = centres.shape[0]
        covered = np.bincount(labels[n_cand:], minlength=n_clusters)
        known = covered.copy()  # labels, for the reasons; ``covered`` also counts picks
        sizes = np.bincount(labels, minlength=n_clusters)
        scale = (rows.shape[0] + all_labeled.shape[0]) / Z.shape[0]
        remaining = np.bincount(labels[:n_cand], minlength=n_clusters)
        scored: dict[int, tuple[NDArray[np.intp], NDArray[np.float64]]] = {}
        taken = np.zeros(n_cand, dtype=bool)
        picks: list[int] = []
        scores: list[float] = []
        reasons: list[str] = []
        while len(picks) < k:
            open_ = remaining > 0
            big = open_ & (sizes >= self.min_cluster_size)
            eligible = np.flatnonzero(big if big.any() else open_)
            # Fewest labels first, then the largest cluster, then the lowest cluster id.
            c = int(eligible[np.lexsort((eligible, -sizes[eligible], covered[eligible]))[0]])
            if c not in scored:
                scored[c] = self._score_cluster(Z, labels, c, n_cand, rng)
            members, typ = scored[c]
            free = ~taken[members]
            if not free.any():  # only unscored candidates left in a sampled large cluster
                del scored[c]
                continue
            best = int(np.flatnonzero(free)[np.argmax(typ[free])])
            i = int(members[best])
            reasons.append(_reason(int(round(sizes[c] * scale)), int(known[c]), scale > 1.0))
            picks.append(i)
            scores.append(float(typ[best]))
            taken[i] = True
            remaining[c] -= 1
            covered[c] += 1
        return Selection(
            indices=cand[np.asarray(picks, dtype=np.intp)],
            scores=np.asarray(scores, dtype=np.float64),
            reasons=tuple(reasons),
        )

    def _score_cluster(
        self,
        Z: NDArray[np.float32],
        labels: NDArray[np.intp],
        cluster: int,
        n_cand: int,
        rng: np.random.Generator,
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Candidate positions in ``cluster`` and their typicality, each shape (n_members,)."""
        inside = np.flatnonzero(labels == cluster)
        cands = inside[inside < n_cand]
        if inside.shape[0] <= MAX_NEIGHBOURHOOD:
            position = np.searchsorted(inside, cands)
        else:
            # Score a sample of the candidates against a sample of the cluster.
            cands = sample_rows(cands, MAX_NEIGHBOURHOOD // 2, rng)
            others = sample_rows(np.setdiff1d(inside, cands), MAX_NEIGHBOURHOOD // 2, rng)
            inside = np.concatenate([cands, others])
            position = np.arange(cands.shape[0])
        return cands, typicality(Z[inside], position, self.n_neighbors)


def _reason(group: int, labeled: int, estimated: bool) -> str:
    about = "about " if estimated else ""
    if group <= 1:
        return "unlike any other item"
    if labeled == 0:
        return f"typical of a group of {about}{group:,} similar items, none labeled yet"
    return f"typical of a group of {about}{group:,} similar items, {labeled:,} labeled so far"
