"""Cold start: before the first model, queue items that cover the pool instead of its file order.

Representative sampling by clustering, as in Nguyen & Smeulders, "Active Learning Using
Pre-clustering" (ICML 2004) and Zhu et al., "Active Learning with Sampling by Uncertainty and
Density" (COLING 2008): reduce TF-IDF with latent semantic analysis (Deerwester et al. 1990),
cluster with k-means (mini-batch k-means, Sculley, WWW 2010, on large pools), and take the item
nearest each centroid.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, issparse
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import normalize

from labelloop.domain import Pool, Selection
from labelloop.learn.strategies import candidate_rows
from labelloop.learn.threads import one_thread

MAX_FIT_ROWS = 20_000
"""Candidates the clustering sees at most; a uniform sample of that size covers the pool."""
MAX_SVD_ROWS = 5_000
"""Rows the SVD is fitted on at most."""
MAX_COMPONENTS = 100
"""LSA dimensions at most (fewer for tiny data)."""
LLOYD_MAX_ROWS = 5_000
"""Samples up to this size are clustered with full k-means, larger ones with mini-batch."""
MAX_CLUSTERS = 256
"""Clusters at most; longer queues take several items per cluster in round-robin."""


def diverse_selection(pool: Pool, batch_size: int, rng: np.random.Generator) -> Selection:
    """Pick unlabeled rows that represent the pool's groups of similar items.

    Clusters (a sample of at most ``MAX_FIT_ROWS``) candidates, then takes the item closest to
    each centroid, larger clusters first; when the queue is longer than the number of
    clusters, the next-closest items follow in the same round-robin order.

    Parameters
    ----------
    pool : Pool
        ``pool.X`` has shape (n_pool, n_features); only rows with ``pool.y == MISSING`` are
        candidates.
    batch_size : int
        Items to return at most.
    rng : numpy.random.Generator
        Drives the sample and the clustering, so a seed reproduces the queue.

    Returns
    -------
    Selection
        ``min(batch_size, n_candidates)`` distinct rows. ``scores`` is the share of the pool the
        item's cluster holds, divided by the item's rank inside its cluster (1, 2, ...).
    """
    rows = candidate_rows(pool)
    n_candidates = rows.shape[0]
    k = max(0, min(batch_size, n_candidates))
    if k == 0:
        return Selection(np.empty(0, dtype=np.intp), np.empty(0), ())
    n_sample = min(n_candidates, max(MAX_FIT_ROWS, k))
    sample = np.sort(rng.choice(n_candidates, size=n_sample, replace=False))
    rows = rows[sample]
    Z = _embed(pool.X[rows], rng)
    n_clusters = min(k, max(1, n_sample // 2), MAX_CLUSTERS)
    labels, dist = _cluster(Z, n_clusters, rng)

    sizes = np.bincount(labels, minlength=n_clusters)
    # Rank of each item inside its cluster by distance to the centroid (0 = most typical).
    by_cluster = np.lexsort((dist, labels))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(n_sample, dtype=np.intp)
    rank[by_cluster] = np.arange(n_sample) - np.repeat(starts, sizes)
    # Round-robin: every cluster's most typical item first, larger clusters before smaller.
    item_size = sizes[labels]
    order = np.lexsort((labels, -item_size, rank))[:k]

    scale = n_candidates / n_sample
    scores = item_size[order] / n_sample / (rank[order] + 1)
    reasons = tuple(_reason(int(round(item_size[i] * scale)), scale != 1.0) for i in order)
    return Selection(indices=rows[order].astype(np.intp), scores=scores, reasons=reasons)


def _reason(group: int, estimated: bool) -> str:
    if group <= 1:
        return "unlike any other item (no model yet)"
    about = "about " if estimated else ""
    return f"typical of a group of {about}{group:,} similar items (no model yet)"


def _embed(X: NDArray[np.floating] | csr_matrix, rng: np.random.Generator) -> NDArray[np.float64]:
    """Unit-length LSA coordinates of the rows of ``X``; shape (n_rows, n_components).

    The SVD is fitted on at most ``MAX_SVD_ROWS`` of the rows and applied to all of them: the
    leading topics of a few thousand random items are those of the pool, at a fraction of the
    cost.
    """
    n_rows = X.shape[0]
    fit_rows = np.arange(n_rows)
    if n_rows > MAX_SVD_ROWS:
        fit_rows = np.sort(rng.choice(n_rows, size=MAX_SVD_ROWS, replace=False))
    if issparse(X):
        X = csr_matrix(X)
        # Columns the fit rows never use add nothing to the SVD but cost.
        used = np.unique(X[fit_rows].indices)
        X = X[:, used]
    else:
        X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    n_components = min(MAX_COMPONENTS, n_features - 1, fit_rows.shape[0] - 1)
    if n_components >= 2 and n_features > MAX_COMPONENTS // 2:
        svd = TruncatedSVD(
            n_components=n_components,
            n_iter=3,
            random_state=int(rng.integers(2**31 - 1)),
        )
        with one_thread():
            svd.fit(X[fit_rows])
            Z = svd.transform(X)
    else:
        Z = X if isinstance(X, np.ndarray) else X.toarray()
    if Z.shape[1] == 0:
        Z = np.zeros((n_rows, 1))
    return normalize(np.asarray(Z, dtype=np.float64))


def _cluster(
    Z: NDArray[np.float64], n_clusters: int, rng: np.random.Generator
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """k-means labels and distance to the own centroid, each shape (n_rows,).

    Up to ``LLOYD_MAX_ROWS`` rows run full Lloyd k-means with several restarts: cheap there, and
    mini-batch k-means picks its one run from the initialisations alone, which on small pools
    merges clear topics too often. Larger samples use mini-batch k-means (Sculley 2010).
    """
    if n_clusters == 1:
        centre = Z.mean(axis=0, keepdims=True)
        return np.zeros(Z.shape[0], dtype=np.intp), np.linalg.norm(Z - centre, axis=1)
    seed = int(rng.integers(2**31 - 1))
    kmeans: KMeans | MiniBatchKMeans
    if Z.shape[0] <= LLOYD_MAX_ROWS:
        # More restarts where they are nearly free: the first queue of a small project.
        n_init = 10 if Z.shape[0] * n_clusters <= 100_000 else 3
        kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=100, random_state=seed)
    else:
        kmeans = MiniBatchKMeans(
            n_clusters=n_clusters, n_init=3, batch_size=2048, max_iter=20, random_state=seed
        )
    with warnings.catch_warnings(), one_thread():
        # Identical texts give fewer distinct points than clusters; the round-robin copes.
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = kmeans.fit_predict(Z).astype(np.intp)
    # A cluster left empty simply gets no item: its size is 0 in the caller's bincount.
    return labels, np.linalg.norm(Z - kmeans.cluster_centers_[labels], axis=1)
