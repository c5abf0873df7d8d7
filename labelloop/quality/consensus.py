"""Consensus: one label per item from several annotators' labels.

Resolvers read a reliability matrix ``R`` of shape (n_raters, n_items) (category indices, NaN
where missing; see :mod:`labelloop.quality.agreement`) and return a label and a confidence per
item. They are registered in :data:`RESOLVERS` by name, built-ins exactly as plug-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.domain import MISSING
from labelloop.errors import SchemaError
from labelloop.quality.reliability import as_reliability, category_counts


class Resolution(NamedTuple):
    """One resolved label per item and how sure the resolver is of it."""

    labels: NDArray[np.int64]
    """Shape (n_items,): category index, ``MISSING`` (-1) where the item has no rating."""
    confidence: NDArray[np.float64]
    """Shape (n_items,): in [0, 1]; 0 where the item has no rating."""


class Resolved(Protocol):
    @property
    def labels(self) -> NDArray[np.int64]: ...

    @property
    def confidence(self) -> NDArray[np.float64]: ...


class Resolver(Protocol):
    """Resolves a reliability matrix into one label per item."""

    def __call__(self, R: ArrayLike, /, *, n_categories: int) -> Resolved: ...


def majority_vote(
    R: ArrayLike, *, n_categories: int, rng: np.random.Generator | None = None
) -> Resolution:
    """The most frequent label of each item.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Category indices in ``0..n_categories - 1``, NaN where missing.
    n_categories : int
        Number of categories K.
    rng : numpy.random.Generator, optional
        Breaks ties uniformly at random among the tied categories. Without it ties go to the
        lowest category index, so the same votes always give the same label.

    Returns
    -------
    Resolution
        ``labels`` of shape (n_items,) (``MISSING`` where unrated) and ``confidence`` of shape
        (n_items,): the winning label's share of the item's votes (0 where unrated).
    """
    counts = category_counts(R, n_categories)
    m = counts.sum(axis=1)
    if rng is None:
        winner = counts.argmax(axis=1)
    else:
        tied = counts == counts.max(axis=1, keepdims=True)
        winner = np.where(tied, rng.random(counts.shape), -1.0).argmax(axis=1)
    rated = m > 0
    labels = np.where(rated, winner, MISSING).astype(np.int64)
    confidence = np.zeros(len(m))
    confidence[rated] = counts[rated, winner[rated]] / m[rated]
    return Resolution(labels, confidence)


@dataclass(frozen=True)
class DawidSkeneResult:
    """What :func:`dawid_skene` estimated."""

    labels: NDArray[np.int64]
    """Shape (n_items,): most probable true class, ``MISSING`` (-1) where unrated."""
    posteriors: NDArray[np.float64]
    """Shape (n_items, K): P(true class | ratings); the priors where the item is unrated."""
    confusion: NDArray[np.float64]
    """Shape (n_raters, K, K): ``confusion[r, j, l]`` = P(rater r says l | true class j)."""
    priors: NDArray[np.float64]
    """Shape (K,): estimated class frequencies."""
    n_iter: int
    """EM iterations run."""
    converged: bool
    """Whether the log-likelihood settled within ``tol`` before ``max_iter``."""
    log_likelihood: float
    """Marginal log-likelihood of the ratings at the returned parameters."""

    @property
    def confidence(self) -> NDArray[np.float64]:
        """Shape (n_items,): posterior of the chosen label, 0 where unrated."""
        rated = self.labels != MISSING
        out = np.zeros(len(self.labels))
        out[rated] = self.posteriors[rated].max(axis=1)
        return out


def dawid_skene(
    R: ArrayLike,
    *,
    n_categories: int,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> DawidSkeneResult:
    """Latent true labels and per-annotator confusion matrices by EM.

    Dawid & Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using the EM
    Algorithm" (Applied Statistics, 1979). Each rater has a K x K confusion matrix; the true
    class of each item is latent. EM starts from the soft majority vote (each item's vote
    shares), so it is deterministic and its classes keep their meaning. Missing ratings are
    simply absent from the likelihood. A rater whose labels systematically mean something
    else (e.g. always one class off) is learned as such and still informs the result, which is
    why this beats the majority when annotators differ in reliability.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Category indices in ``0..n_categories - 1``, NaN where missing.
    n_categories : int
        Number of categories K.
    max_iter : int
        Most EM iterations.
    tol : float
        Stop when the log-likelihood improves by less than ``tol`` (relative to its size).
    smoothing : float
        Pseudo-count added to every confusion cell and prior, so a class a rater never saw
        gets a uniform row instead of log(0).

    Returns
    -------
    DawidSkeneResult
    """
    M = as_reliability(R)
    k = n_categories
    counts = category_counts(M, k)
    rated = counts.sum(axis=1) > 0
    # Per rater: which items they rated and a one-hot of what they said.
    seen = [np.flatnonzero(~np.isnan(row)) for row in M]
    said = [row[idx].astype(np.intp) for row, idx in zip(M, seen, strict=True)]
    onehot = [np.eye(k)[s] for s in said]

    post = np.full((M.shape[1], k), 1.0 / k)
    post[rated] = counts[rated] / counts[rated].sum(axis=1, keepdims=True)
    confusion = np.empty((len(M), k, k))
    priors = np.full(k, 1.0 / k)
    prev = -np.inf
    ll = -np.inf
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        # M-step: class priors and each rater's confusion matrix from the current posteriors.
        priors = post[rated].sum(axis=0) + smoothing
        priors /= priors.sum()
        for r in range(len(M)):
            table = post[seen[r]].T @ onehot[r] + smoothing
            confusion[r] = table / table.sum(axis=1, keepdims=True)
        # E-step: posterior of each true class given the item's ratings.
        log_post = np.tile(np.log(priors), (M.shape[1], 1))
        log_conf = np.log(confusion)
        for r in range(len(M)):
            log_post[seen[r]] += log_conf[r][:, said[r]].T
        top = log_post.max(axis=1, keepdims=True)
        norm = top + np.log(np.exp(log_post - top).sum(axis=1, keepdims=True))
        post = np.exp(log_post - norm)
        ll = float(norm[rated].sum())
        if abs(ll - prev) <= tol * max(1.0, abs(ll)):
            converged = True
            break
        prev = ll
    post[~rated] = priors
    labels = np.where(rated, post.argmax(axis=1), MISSING).astype(np.int64)
    return DawidSkeneResult(labels, post, confusion, priors, n_iter, converged, ll)


class _Resolvers(Mapping[str, Resolver]):
    """Resolvers by name; reads like a dict, :meth:`register` adds one."""

    def __init__(self) -> None:
        self._fns: dict[str, Resolver] = {}

    def __getitem__(self, name: str) -> Resolver:
        return self._fns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fns)

    def __len__(self) -> int:
        return len(self._fns)

    def register(self, name: str) -> Callable[[Resolver], Resolver]:
        """Decorator that registers a resolver function under ``name``."""

        def decorate(fn: Resolver) -> Resolver:
            self._fns[name] = fn
            return fn

        return decorate


RESOLVERS = _Resolvers()
"""Registry of resolvers by name: ``"majority"`` and ``"dawid_skene"`` built in."""

register_resolver = RESOLVERS.register
"""Decorator that registers ``fn(R, *, n_categories) -> Resolved`` in :data:`RESOLVERS`."""

register_resolver("majority")(majority_vote)
register_resolver("dawid_skene")(dawid_skene)


def resolve(name: str, R: ArrayLike, *, n_categories: int) -> Resolution:
    """Resolve ``R`` with the resolver registered as ``name``.

    Raises
    ------
    SchemaError
        When no resolver of that name is registered; the message lists the known ones.
    """
    try:
        fn = RESOLVERS[name]
    except KeyError:
        known = ", ".join(sorted(RESOLVERS))
        raise SchemaError(f"unknown resolver '{name}'; known resolvers: {known}") from None
    out = fn(R, n_categories=n_categories)
    return Resolution(np.asarray(out.labels), np.asarray(out.confidence))
