"""The geometry the diversity strategies share: bounded samples and shortlists, low-dimensional
coordinates, chunked distances and k-means.

Every function here keeps time and memory bounded on a 1,000,000-row pool: strategies look at
most at ``MAX_CANDIDATES`` rows (a uniform sample, or a :func:`shortlist` of the rows the model
is least sure of plus a uniform share of the rest), reduce sparse or wide features with a
truncated SVD (latent semantic analysis, Deerwester et al. 1990) fitted on at most
``MAX_FIT_ROWS`` rows, and compute distances ``CHUNK`` rows at a time in float32.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, issparse
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning

from labelloop.learn.threads import one_thread

MAX_CANDIDATES = 20_000
"""Rows a diversity strategy looks at at most; a uniform sample of that size covers the pool."""
MAX_FIT_ROWS = 5_000
"""Rows an SVD is fitted on at most; it is then applied to all rows asked for."""
CHUNK = 8_192
"""Rows per block of a distance computation, bounding temporary memory."""
LLOYD_MAX_ROWS = 5_000
"""Up to this many rows k-means runs full Lloyd iterations; above, mini-batch k-means."""
SAMPLE_EPOCHS = 5
"""Mini-batch k-means passes over a ``MAX_CANDIDATES`` sample of a larger pool: the sample is an
estimate of the pool already, and on bench/pool_scale.py's 1M pool five passes ended within
0.2 % of the inertia of ten at two thirds of the time."""
RANDOM_SHARE = 0.2
"""Share of a :func:`shortlist` drawn uniformly from the rows outside its most uncertain part."""


def sample_rows(rows: NDArray[np.intp], cap: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """At most ``cap`` of ``rows``, drawn uniformly without replacement, in ascending order.

    Parameters
    ----------
    rows : ndarray of shape (n,)
    cap : int
    rng : numpy.random.Generator
        Used only when ``n > cap``.

    Returns
    -------
    ndarray of shape (min(n, cap),)
    """
    rows = np.asarray(rows, dtype=np.intp)
    if rows.shape[0] <= cap:
        return rows
    return np.sort(rng.choice(rows, size=cap, replace=False))


def shortlist(
    uncertainty: NDArray[np.floating],
    cap: int,
    rng: np.random.Generator,
    *,
    random_share: float = RANDOM_SHARE,
) -> NDArray[np.intp]:
    """Positions of at most ``cap`` rows worth an expensive score, in ascending order.

    All rows when there are at most ``cap`` (``rng`` is then not used). Otherwise the
    ``cap - round(random_share * cap)`` rows of highest ``uncertainty`` (one partition, no sort)
    and a uniform sample of the other rows for the rest. Taking a batch from the most uncertain
    candidates only is how batch active learning scales (Citovsky et al., "Batch Active
    Learning at Scale", NeurIPS 2021); the random share keeps rows the model is wrongly sure
    of, and regions it has not seen, reachable.

    Parameters
    ----------
    uncertainty : ndarray of shape (n,)
        Higher means the current model is less sure, e.g. the margin utility.
    cap : int
    rng : numpy.random.Generator
    random_share : float
        In [0, 1].

    Returns
    -------
    ndarray of shape (min(n, cap),)
    """
    n = uncertainty.shape[0]
    if n <= cap:
        return np.arange(n, dtype=np.intp)
    n_random = min(cap, int(round(random_share * cap)))
    n_top = cap - n_random
    top = np.argpartition(-uncertainty, n_top - 1)[:n_top] if n_top else np.empty(0, np.intp)
    rest = np.ones(n, dtype=bool)
    rest[top] = False
    extra = rng.choice(np.flatnonzero(rest), size=n_random, replace=False)
    return np.sort(np.concatenate([top, extra])).astype(np.intp)


def project(
    X: NDArray[np.floating] | csr_matrix,
    rows: NDArray[np.intp],
    *,
    dims: int,
    rng: np.random.Generator,
) -> NDArray[np.float32]:
    """Dense float32 coordinates of ``X[rows]`` with at most ``dims`` columns.

    Dense features that are narrow enough are returned as they are. Sparse or wider features go
    through a truncated SVD fitted on at most ``MAX_FIT_ROWS`` of the rows (seeded by ``rng``):
    it keeps the directions that carry the most of the rows' inner products, which is what
    Euclidean and cosine distances are made of.

    Parameters
    ----------
    X : ndarray or csr_matrix of shape (n_pool, n_features)
    rows : ndarray of shape (n_rows,)
    dims : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_rows, min(dims, n_features)), float32
    """
    sub = X[rows]
    if not issparse(sub) and sub.shape[1] <= dims:
        return np.ascontiguousarray(sub, dtype=np.float32)
    n_rows = sub.shape[0]
    fit = sample_rows(np.arange(n_rows), MAX_FIT_ROWS, rng)
    if issparse(sub):
        sub = csr_matrix(sub)
        # Columns no fit row uses add nothing to the SVD but cost.
        sub = sub[:, np.unique(sub[fit].indices)]
    n_components = min(dims, sub.shape[1] - 1, fit.shape[0] - 1)
    if n_components < 1:
        dense = sub if isinstance(sub, np.ndarray) else sub.toarray()
        out = dense[:, :dims] if dense.shape[1] else np.zeros((n_rows, 1))
        return np.ascontiguousarray(out, dtype=np.float32)
    svd = TruncatedSVD(
        n_components=n_components, n_iter=3, random_state=int(rng.integers(2**31 - 1))
    )
    with one_thread():
        svd.fit(sub[fit])
        out = svd.transform(sub)
    return np.ascontiguousarray(out, dtype=np.float32)


def unit_rows(Z: NDArray[np.floating]) -> NDArray[np.float32]:
    """``Z`` with every non-zero row scaled to length 1; shape unchanged, float32."""
    Z = np.asarray(Z, dtype=np.float32)
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return (Z / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)


def nearest_sq_dist(Z: NDArray[np.float32], centers: NDArray[np.float32]) -> NDArray[np.float32]:
    """Squared Euclidean distance of each row of ``Z`` to its nearest row of ``centers``.

    Computed as ``|z|^2 + |c|^2 - 2 z.c`` in blocks of ``CHUNK`` rows of each, so memory stays
    at ``CHUNK**2`` floats whatever the sizes.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
    centers : ndarray of shape (m, d), m >= 1

    Returns
    -------
    ndarray of shape (n,), float32, clipped at 0
    """
    z_sq = np.einsum("ij,ij->i", Z, Z)
    c_sq = np.einsum("ij,ij->i", centers, centers)
    best = np.full(Z.shape[0], np.inf, dtype=np.float32)
    with one_thread():
        for start in range(0, Z.shape[0], CHUNK):
            stop = min(start + CHUNK, Z.shape[0])
            block = Z[start:stop]
            for c0 in range(0, centers.shape[0], CHUNK):
                c1 = min(c0 + CHUNK, centers.shape[0])
                # (|z|^2 + |c|^2) + (-2 z.c) in place: the same floats as the textbook
                # expression with two temporaries fewer, which were most of the time.
                dots = block @ centers[c0:c1].T
                dots *= -2.0
                d = z_sq[start:stop, None] + c_sq[None, c0:c1]
                d += dots
                np.minimum(best[start:stop], d.min(axis=1), out=best[start:stop])
    return np.maximum(best, 0.0)


def kmeans(
    Z: NDArray[np.float32],
    n_clusters: int,
    rng: np.random.Generator,
    *,
    epochs: int = 10,
) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
    """k-means cluster of each row and the centroids, seeded by ``rng``.

    Full Lloyd k-means with a few restarts up to ``LLOYD_MAX_ROWS`` rows, mini-batch k-means
    (Sculley, WWW 2010) above, both on one thread.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
    n_clusters : int, 1 <= n_clusters <= n
    rng : numpy.random.Generator
    epochs : int
        Passes of mini-batch k-means over ``Z``; besides the seeding, its cost is linear in
        them. :data:`SAMPLE_EPOCHS` for a sample of a larger pool.

    Returns
    -------
    labels : ndarray of shape (n,)
    centers : ndarray of shape (n_clusters, d)
    """
    if n_clusters <= 1:
        return np.zeros(Z.shape[0], dtype=np.intp), Z.mean(axis=0, keepdims=True)
    seed = int(rng.integers(2**31 - 1))
    model: KMeans | MiniBatchKMeans
    if Z.shape[0] <= LLOYD_MAX_ROWS:
        n_init = 3 if Z.shape[0] * n_clusters <= 1_000_000 else 1
        model = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=100, random_state=seed)
    else:
        # A small k-means++ initialisation sample and few epochs: the seeding dominates the
        # cost at hundreds of clusters, and typicality needs groups, not optimal centroids.
        model = MiniBatchKMeans(
            n_clusters=n_clusters,
            n_init=1,
            batch_size=4096,
            max_iter=epochs,
            init_size=min(Z.shape[0], max(3 * n_clusters, 2048)),
            random_state=seed,
        )
    with warnings.catch_warnings(), one_thread():
        # Duplicate rows give fewer distinct points than clusters; callers cope with empty ones.
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = model.fit_predict(Z).astype(np.intp)
    return labels, np.asarray(model.cluster_centers_, dtype=np.float32)
