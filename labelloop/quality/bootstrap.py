"""Percentile bootstrap confidence intervals of agreement statistics, resampling items."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.quality.reliability import UndefinedStatistic, as_reliability

_CHUNK = 32


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """``rng`` itself, or a generator seeded with it (None: seed 0, so results are stable)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)


def resamples(n_items: int, n_boot: int, rng: np.random.Generator) -> Iterator[NDArray[np.intp]]:
    """Item indices of each bootstrap replicate, drawn in chunks of shape (chunk, n_items)."""
    for start in range(0, n_boot, _CHUNK):
        yield rng.integers(0, n_items, size=(min(_CHUNK, n_boot - start), n_items))


def percentile_interval(
    replicates: NDArray[np.float64], n_boot: int, level: float
) -> tuple[float, float]:
    """Central ``level`` interval of the finite replicates; refuses when most are undefined."""
    good = replicates[np.isfinite(replicates)]
    if len(good) < max(2, n_boot // 2):
        raise UndefinedStatistic(
            "the statistic is undefined on most resamples of these items, so no interval"
        )
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(good, [tail, 1.0 - tail])
    return float(lo), float(hi)


def bootstrap_ci(
    stat_fn: Callable[[NDArray[np.float64]], float],
    R: ArrayLike,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of an agreement statistic, resampling items (Efron 1979).

    Items (columns of ``R``) are drawn with replacement; raters stay fixed, as in Hayes &
    Krippendorff (2007). Replicates on which ``stat_fn`` raises :class:`UndefinedStatistic` or
    returns NaN are dropped.

    Parameters
    ----------
    stat_fn : callable
        Maps a reliability matrix of shape (n_raters, n_items) to a float, e.g.
        :func:`krippendorff_alpha`.
    R : array-like of shape (n_raters, n_items)
    n_boot : int
        Number of replicates.
    level : float
        Coverage of the interval, e.g. 0.95.
    rng : numpy.random.Generator or int or None
        Source of the resamples; an int seeds one; None means seed 0, so reports are stable.

    Returns
    -------
    (float, float)
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the replicates.

    Raises
    ------
    UndefinedStatistic
        When there are no items or fewer than half of the replicates are defined.
    """
    M = as_reliability(R)
    if M.shape[1] == 0:
        raise UndefinedStatistic("no items to resample")
    reps: list[float] = []
    for chunk in resamples(M.shape[1], n_boot, as_generator(rng)):
        for idx in chunk:
            try:
                reps.append(float(stat_fn(M[:, idx])))
            except UndefinedStatistic:
                reps.append(math.nan)
    return percentile_interval(np.asarray(reps), n_boot, level)
