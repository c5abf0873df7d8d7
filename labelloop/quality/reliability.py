"""The reliability matrix every agreement coefficient and resolver reads, and its counts.

``R`` has shape (n_raters, n_items): ``R[r, i]`` is rater ``r``'s category index for item ``i``,
``np.nan`` where ``r`` did not rate ``i`` (Krippendorff 2011's "reliability data"; the
``krippendorff`` package uses the same layout, statsmodels' ``aggregate_raters`` its transpose).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.errors import LabelloopError


class UndefinedStatistic(LabelloopError, ValueError):
    """A statistic has no value for this input; ``reason`` says why in one sentence."""

    status = 422

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# The reliability matrix and its per-item category counts
# ---------------------------------------------------------------------------------------------


def as_reliability(R: ArrayLike) -> NDArray[np.float64]:
    """``R`` as a float matrix of shape (n_raters, n_items); ``None`` becomes ``np.nan``."""
    M = np.asarray(R, dtype=np.float64)
    if M.ndim != 2:
        raise ValueError(f"a reliability matrix has shape (n_raters, n_items), not {M.shape}")
    if np.isinf(M).any():
        raise ValueError("a reliability matrix holds category values or NaN, not infinity")
    return M


class Ratings(NamedTuple):
    """A reliability matrix with the raters, items and categories its rows, columns and codes
    stand for: ``R[r, i]`` is ``categories.index(answer of raters[r] on items[i])``."""

    R: NDArray[np.float64]
    raters: list[Hashable]
    items: list[Hashable]
    categories: list[Hashable]


def reliability_of(
    answers: Iterable[tuple[Hashable, Hashable, Hashable]],
    categories: Sequence[Hashable] | None = None,
    *,
    min_raters: int = 1,
) -> Ratings:
    """The reliability matrix of ``(rater, item, answer)`` triples.

    A later triple of the same rater and item replaces the earlier one (a changed answer), so
    pass them oldest first. ``categories`` fixes the codes (answers outside it are left out);
    without it the codes are the distinct answers kept, sorted. Raters and items are sorted, and
    only items answered by at least ``min_raters`` raters are kept.
    """
    latest: dict[Hashable, dict[Hashable, Hashable]] = {}
    known = None if categories is None else set(categories)
    for rater, item, answer in answers:
        if known is None or answer in known:
            latest.setdefault(item, {})[rater] = answer
    items = sorted(i for i, given in latest.items() if len(given) >= min_raters)
    raters = sorted({r for i in items for r in latest[i]})
    if categories is None:
        categories = sorted({a for i in items for a in latest[i].values()})
    code = {c: k for k, c in enumerate(categories)}
    row = {r: k for k, r in enumerate(raters)}
    R = np.full((len(raters), len(items)), np.nan)
    for col, i in enumerate(items):
        for rater, answer in latest[i].items():
            R[row[rater], col] = code[answer]
    return Ratings(R, raters, items, list(categories))


def counts_of(M: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Counts table of shape (n_items, len(values)) of a float matrix over sorted ``values``."""
    n_items, k = M.shape[1], len(values)
    r_idx, i_idx = np.nonzero(~np.isnan(M))
    given = M[r_idx, i_idx]
    if len(given) and k == 0:
        raise ValueError("ratings given but no categories to count them in")
    cat = np.searchsorted(values, given)
    if len(given) and (cat.max() >= k or np.any(values[np.minimum(cat, k - 1)] != given)):
        bad = given[(cat >= k) | (values[np.minimum(cat, k - 1)] != given)][0]
        raise ValueError(f"rating {bad:g} is not a category index in 0..{k - 1}")
    flat = np.bincount(i_idx * k + cat, minlength=n_items * k)
    return flat.reshape(n_items, k)


def category_counts(R: ArrayLike, n_categories: int) -> NDArray[np.int64]:
    """How many raters gave each item each category.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Category indices in ``0..n_categories - 1``, NaN where missing.
    n_categories : int
        Number of categories K.

    Returns
    -------
    ndarray of shape (n_items, K)
        ``counts[i, k]`` raters who gave item ``i`` category ``k`` (the table statsmodels'
        ``aggregate_raters`` builds).
    """
    return counts_of(as_reliability(R), np.arange(n_categories, dtype=np.float64))


def observed_counts(R: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The distinct values given, shape (K,), and the counts table over them, (n_items, K)."""
    M = as_reliability(R)
    values = np.unique(M[~np.isnan(M)])
    return values, counts_of(M, values)
