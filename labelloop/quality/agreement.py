"""Inter-annotator agreement: how far the labels of several people can be trusted.

Every coefficient here reads a reliability matrix ``R`` of shape (n_raters, n_items), category
indices with ``np.nan`` where missing (see :mod:`labelloop.quality.reliability`). Spans and boxes
have their own pairwise scores (:mod:`labelloop.quality.regions`, re-exported here), and every
figure can carry a bootstrap interval (:mod:`labelloop.quality.bootstrap`, re-exported here).

A coefficient that is undefined for its input (no item rated twice, a single category in use so
chance agreement is total) raises :class:`UndefinedStatistic` with a reason a manager can read;
:func:`agreement_report` turns those into ``None`` plus the reason, so its output is JSON-safe.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.quality.bootstrap import (
    as_generator,
    bootstrap_ci,
    percentile_interval,
    resamples,
)
from labelloop.quality.regions import Box, Span, box_iou, box_iou_agreement, span_f1
from labelloop.quality.reliability import (
    Ratings,
    UndefinedStatistic,
    as_reliability,
    category_counts,
    counts_of,
    observed_counts,
    reliability_of,
)

__all__ = [
    "LEVELS",
    "Box",
    "Level",
    "Ratings",
    "Span",
    "UndefinedStatistic",
    "agreement_report",
    "agreement_with_others",
    "as_reliability",
    "bootstrap_ci",
    "box_iou",
    "box_iou_agreement",
    "category_counts",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "pairwise_kappa",
    "percent_agreement",
    "reliability_of",
    "span_f1",
]

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


# ---------------------------------------------------------------------------------------------
# Coefficients over a counts table, vectorised over item weights so that one matrix product
# evaluates every bootstrap replicate: w has shape (B, n_items); a resample is a row of counts.
# Each returns shape (B,), NaN where undefined for that replicate.
# ---------------------------------------------------------------------------------------------


def _paired(C: NDArray[np.int64]) -> NDArray[np.bool_]:
    return C.sum(axis=1) >= 2


def _reason(C: NDArray[np.int64], *, chance: bool) -> str | None:
    """Why a coefficient over ``C`` is undefined, or None; ``chance`` for chance-corrected ones."""
    if C.sum() == 0:
        return "no ratings yet"
    paired = _paired(C)
    if not paired.any():
        return "no item has been rated by two or more raters"
    if chance and np.count_nonzero(C[paired].sum(axis=0)) < 2:
        return (
            "every rating is the same category, so chance agreement is total and the "
            "coefficient is undefined (0/0)"
        )
    return None


def _percent_w(C: NDArray[np.int64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    m = C.sum(axis=1).astype(np.float64)
    paired = m >= 2
    agree = np.zeros(len(C))
    agree[paired] = (C[paired] * (C[paired] - 1)).sum(axis=1) / (m[paired] * (m[paired] - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ agree) / (w @ paired.astype(np.float64))


def _fleiss_w(C: NDArray[np.int64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    paired = _paired(C)
    C, w = C[paired].astype(np.float64), w[:, paired]
    n = C.sum(axis=1)[0]
    p_items = (C * (C - 1)).sum(axis=1) / (n * (n - 1))
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_cat = (w @ C) / (n * total)[:, None]
        p_bar = (w @ p_items) / total
        p_e = (p_cat**2).sum(axis=1)
        kappa = (p_bar - p_e) / (1 - p_e)
    kappa[np.count_nonzero(w @ C, axis=1) < 2] = np.nan
    return kappa


def _delta2(
    values: NDArray[np.float64], n_c: NDArray[np.float64], level: str
) -> NDArray[np.float64]:
    """Squared difference functions of Krippendorff (2011), shape (B, K, K)."""
    k = len(values)
    if level == "nominal":
        return (1.0 - np.eye(k))[None]
    if level == "interval":
        return ((values[:, None] - values[None, :]) ** 2)[None]
    if level == "ratio":
        total = values[:, None] + values[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            d = ((values[:, None] - values[None, :]) / total) ** 2
        return np.nan_to_num(d)[None]
    # ordinal: the distance is the number of pairable values ranked between c and k, from the
    # coincidence marginals n_c, so it moves with every bootstrap replicate.
    cum = np.cumsum(n_c, axis=1)
    lo = np.minimum.outer(np.arange(k), np.arange(k))
    hi = np.maximum.outer(np.arange(k), np.arange(k))
    between = cum[:, hi] - cum[:, lo] + n_c[:, lo]
    return (between - (n_c[:, lo] + n_c[:, hi]) / 2) ** 2


def _alpha_w(
    C: NDArray[np.int64], w: NDArray[np.float64], values: NDArray[np.float64], level: str
) -> NDArray[np.float64]:
    paired = _paired(C)
    F, w = C[paired].astype(np.float64), w[:, paired]
    k = F.shape[1]
    m = F.sum(axis=1)
    # Each unit adds its ordered pairs of values from different raters, weighted 1 / (m_u - 1),
    # to the coincidence matrix o (K, K).
    per_unit = (F[:, :, None] * (F[:, None, :] - np.eye(k)[None])).reshape(len(F), k * k)
    o = (w @ (per_unit / (m - 1)[:, None])).reshape(-1, k, k)
    n_c = o.sum(axis=2)
    n = n_c.sum(axis=1)
    delta2 = _delta2(values, n_c, level)
    d_o = (o * delta2).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        d_e = (n_c[:, :, None] * n_c[:, None, :] * delta2).sum(axis=(1, 2)) / (n - 1)
        alpha = 1.0 - d_o / d_e
    alpha[(np.count_nonzero(n_c, axis=1) < 2) | (d_e <= 0)] = np.nan
    return alpha


def _one(values: NDArray[np.float64]) -> float:
    return float(values[0])


def _raise_if(reason: str | None) -> None:
    if reason is not None:
        raise UndefinedStatistic(reason)


def _fleiss_reason(C: NDArray[np.int64]) -> str | None:
    reason = _reason(C, chance=True)
    if reason is None:
        m = C.sum(axis=1)[_paired(C)]
        if m.min() != m.max():
            return (
                f"items have between {m.min()} and {m.max()} ratings; Fleiss' κ needs the same "
                "number on every item (Krippendorff's α does not)"
            )
    return reason


# ---------------------------------------------------------------------------------------------
# The coefficients
# ---------------------------------------------------------------------------------------------


def percent_agreement(R: ArrayLike) -> float:
    """Share of agreeing rater pairs, averaged over items rated at least twice.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Categories (any numbers), NaN where missing.

    Returns
    -------
    float
        Mean over items with ``m_i >= 2`` ratings of ``sum_k n_ik (n_ik - 1) / (m_i (m_i - 1))``,
        the observed agreement ``P_bar`` of Fleiss (1971); not corrected for chance.

    Raises
    ------
    UndefinedStatistic
        When no item has two ratings.
    """
    _, C = observed_counts(R)
    _raise_if(_reason(C, chance=False))
    return _one(_percent_w(C, np.ones((1, len(C)))))


def agreement_with_others(R: ArrayLike) -> NDArray[np.float64]:
    """Each rater's share of agreeing pairs with the other raters, over the items they shared.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Categories (any numbers), NaN where missing.

    Returns
    -------
    ndarray of shape (n_raters,)
        For rater ``r``: the sum over the items ``r`` rated of how many other raters gave the
        same value, over the sum of how many other raters rated them; NaN for a rater who
        shared no item. A rater who agrees with the others far less than the rest do is the
        one to talk to first.
    """
    M = as_reliability(R)
    values, C = observed_counts(M)
    r_idx, i_idx = np.nonzero(~np.isnan(M))
    k = np.searchsorted(values, M[r_idx, i_idx])
    n = M.shape[0]
    agree = np.bincount(r_idx, weights=C[i_idx, k] - 1, minlength=n).astype(float)
    pairs = np.bincount(r_idx, weights=C.sum(axis=1)[i_idx] - 1, minlength=n).astype(float)
    return np.divide(agree, pairs, out=np.full(n, np.nan), where=pairs > 0)


def cohen_kappa(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's kappa between two raters over the items both rated (Cohen 1960).

    Parameters
    ----------
    a, b : array-like of shape (n_items,)
        Each rater's categories, NaN where that rater did not rate the item.

    Returns
    -------
    float
        ``(p_o - p_e) / (1 - p_e)``; equals ``sklearn.metrics.cohen_kappa_score`` on the shared
        items.

    Raises
    ------
    UndefinedStatistic
        When fewer than two items were rated by both, or both used one and the same category.
    """
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"the raters' label arrays differ in length ({len(x)} vs {len(y)})")
    both = ~np.isnan(x) & ~np.isnan(y)
    if both.sum() < 2:
        raise UndefinedStatistic("fewer than two items were rated by both raters")
    x, y = x[both], y[both]
    values = np.unique(np.concatenate([x, y]))
    k = len(values)
    if k < 2:
        raise UndefinedStatistic(
            "both raters used one and the same category, so chance agreement is total"
        )
    ix, iy = np.searchsorted(values, x), np.searchsorted(values, y)
    joint = np.bincount(ix * k + iy, minlength=k * k).reshape(k, k) / len(x)
    p_o = float(np.trace(joint))
    p_e = float(joint.sum(axis=1) @ joint.sum(axis=0))
    return (p_o - p_e) / (1.0 - p_e)


def _pairwise(M: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    rated = (~np.isnan(M)).astype(np.int64)
    shared = rated @ rated.T
    n = len(M)
    kappa = np.full((n, n), np.nan)
    np.fill_diagonal(kappa, 1.0)
    for r in range(n):
        for s in range(r + 1, n):
            with contextlib.suppress(UndefinedStatistic):  # stays NaN
                kappa[r, s] = kappa[s, r] = cohen_kappa(M[r], M[s])
    return kappa, shared


def pairwise_kappa(R: ArrayLike) -> NDArray[np.float64]:
    """Cohen's kappa of every pair of raters.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Categories, NaN where missing.

    Returns
    -------
    ndarray of shape (n_raters, n_raters)
        Symmetric, 1 on the diagonal, NaN where a pair shares fewer than two items or kappa is
        undefined for it (see :func:`cohen_kappa`).
    """
    return _pairwise(as_reliability(R))[0]


def fleiss_kappa(R: ArrayLike, n_categories: int | None = None) -> float:
    """Fleiss' kappa for many raters per item (Fleiss 1971).

    Items with fewer than two ratings carry no agreement and are left out. The remaining items
    must all have the same number of ratings, as Fleiss' formula assumes; otherwise this raises
    rather than silently dropping items. Use :func:`krippendorff_alpha` for unequal numbers.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Categories, NaN where missing. Which rater gave a rating does not matter.
    n_categories : int, optional
        When given, ratings must be indices in ``0..n_categories - 1`` (validated); the value
        does not change kappa, since unused categories contribute nothing.

    Returns
    -------
    float
        Equals ``statsmodels.stats.inter_rater.fleiss_kappa`` on the counts table.

    Raises
    ------
    UndefinedStatistic
        No item rated twice; items rated different numbers of times; one category only.
    """
    if n_categories is None:
        _, C = observed_counts(R)
    else:
        C = category_counts(R, n_categories)
    _raise_if(_fleiss_reason(C))
    return _one(_fleiss_w(C, np.ones((1, len(C)))))


def krippendorff_alpha(R: ArrayLike, level: Level = "nominal") -> float:
    """Krippendorff's alpha, allowing any number of raters and missing ratings.

    Computed from the coincidence matrix as in Krippendorff, "Computing Krippendorff's
    Alpha-Reliability" (2011): ``alpha = 1 - (n - 1) sum o_ck d2_ck / sum n_c n_k d2_ck``, over
    the items with at least two ratings.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Values, NaN where missing. Nominal: any category codes. Ordinal: codes whose order is
        the scale order. Interval and ratio: the numbers themselves.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement, which picks the difference function ``d2``.

    Returns
    -------
    float
        1 for perfect agreement, 0 for agreement at chance, negative below chance.

    Raises
    ------
    UndefinedStatistic
        When no item has two ratings or only one value occurs among paired ratings.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    values, C = observed_counts(R)
    _raise_if(_reason(C, chance=True))
    return _one(_alpha_w(C, np.ones((1, len(C))), values, level))


class _Compressed:
    """A counts table as its distinct rows: every statistic here is a weighted sum over rows,
    so a bootstrap replicate only needs how often each distinct row was drawn."""

    def __init__(self, C: NDArray[np.int64]) -> None:
        self.n_items = len(C)
        self.rows, inverse = np.unique(C, axis=0, return_inverse=True)
        self.inverse = inverse.ravel()
        self.n_rows = len(self.rows)

    def weights(self, idx: NDArray[np.intp]) -> NDArray[np.float64]:
        """Weights of shape (B, n_rows) for item indices of shape (B, n_items)."""
        b = len(idx)
        flat = np.repeat(np.arange(b), idx.shape[1]) * self.n_rows + self.inverse[idx].ravel()
        return np.bincount(flat, minlength=b * self.n_rows).reshape(b, self.n_rows).astype(float)


def _stat_entry(
    point: Callable[[NDArray[np.int64], NDArray[np.float64]], NDArray[np.float64]],
    reason: str | None,
    table: _Compressed,
    *,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """``{"value", "ci", "reason"}`` of a weighted statistic over ``table``; never NaN."""
    if reason is not None:
        return {"value": None, "ci": None, "reason": reason}
    everything = table.weights(np.arange(table.n_items)[None])
    value = _one(point(table.rows, everything))
    if n_boot <= 0:
        return {"value": value, "ci": None, "reason": None}
    # A copy per statistic: every figure of a report is resampled on the same item draws, the
    # ones bootstrap_ci(stat_fn, R, rng=rng) would make.
    draws = resamples(table.n_items, n_boot, copy.deepcopy(rng))
    reps = [point(table.rows, table.weights(c)) for c in draws]
    try:
        lo, hi = percentile_interval(np.concatenate(reps), n_boot, level)
    except UndefinedStatistic as exc:
        return {"value": value, "ci": None, "reason": exc.reason}
    return {"value": value, "ci": [lo, hi], "reason": None}


# ---------------------------------------------------------------------------------------------
# The report the quality page, the API and the CLI show
# ---------------------------------------------------------------------------------------------


def _block(
    C: NDArray[np.int64],
    values: NDArray[np.float64],
    level: str,
    *,
    n_boot: int,
    ci_level: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    table = _Compressed(C)
    opts: dict[str, Any] = {"n_boot": n_boot, "level": ci_level, "rng": rng}
    return {
        "n_items": len(C),
        "n_items_compared": int(_paired(C).sum()),
        "percent": _stat_entry(_percent_w, _reason(C, chance=False), table, **opts),
        "fleiss": _stat_entry(_fleiss_w, _fleiss_reason(C), table, **opts),
        "alpha": _stat_entry(
            lambda rows, w: _alpha_w(rows, w, values, level),
            _reason(C, chance=True),
            table,
            **opts,
        ),
    }


def _json_matrix(a: NDArray[np.floating]) -> list[list[float | None]]:
    return [[float(v) if np.isfinite(v) else None for v in row] for row in a]


def agreement_report(
    R: ArrayLike,
    *,
    labels: Sequence[str],
    raters: Sequence[str],
    cohorts: Mapping[str, ArrayLike] | None = None,
    rng: np.random.Generator | int | None = None,
    n_boot: int = 500,
    level: Level = "nominal",
    ci_level: float = 0.95,
    per_label: bool = True,
) -> dict[str, Any]:
    """Every agreement figure of a labeling project, JSON-safe (no NaN, plain floats and ints).

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Index into ``labels`` per rating, NaN where missing. For ``level`` other than nominal
        the index order is the scale order (interval: equally spaced).
    labels : sequence of str, length K
        Category names; ``R`` values must lie in ``0..K - 1``.
    raters : sequence of str, length n_raters
        Rater names, in row order.
    cohorts : mapping of str to bool array of shape (n_items,), optional
        Item masks (e.g. by metadata tag); each gets its own block of figures.
    rng : numpy.random.Generator or int or None
        Source of the bootstrap resamples (None: seed 0, so the same data give the same
        report). Every statistic is resampled on the same item draws, those
        ``bootstrap_ci(stat_fn, R, rng=rng)`` makes; ``rng`` itself is not advanced.
    n_boot : int
        Bootstrap replicates per interval; 0 skips intervals.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement for Krippendorff's alpha.
    ci_level : float
        Coverage of the intervals.
    per_label : bool
        Whether to give each label its one-vs-rest alpha; False leaves ``per_label`` empty
        (categories that are whole answers, such as an item's set of spans, have no use for
        one, and there may be as many as items).

    Returns
    -------
    dict
        ``overall`` and each of ``per_cohort[name]``: ``{"n_items", "n_items_compared",
        "percent", "fleiss", "alpha"}``, where each statistic is ``{"value": float | None, "ci":
        [lo, hi] | None, "reason": str | None}`` (``reason`` says why value or ci is None).
        ``per_label[label]``: ``{"n_ratings", "alpha"}``, one-vs-rest nominal alpha of that
        label against all others. ``pairwise``: ``{"raters", "kappa" (n_raters x n_raters,
        None where undefined), "n_items" (items shared by each pair)}``. Plus ``n_raters``,
        ``n_items``, ``n_ratings``, ``labels``, ``level``, ``ci_level``, ``n_boot``.
    """
    M = as_reliability(R)
    if len(raters) != M.shape[0]:
        raise ValueError(f"{len(raters)} rater names for {M.shape[0]} rows of R")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    gen = as_generator(rng)
    values = np.arange(len(labels), dtype=np.float64)
    C = counts_of(M, values)
    opts: dict[str, Any] = {"n_boot": n_boot, "ci_level": ci_level, "rng": gen}

    by_label: dict[str, Any] = {}
    total = C.sum(axis=1)
    for k, name in enumerate(labels if per_label else ()):
        binary = np.stack([total - C[:, k], C[:, k]], axis=1)
        by_label[str(name)] = {
            "n_ratings": int(C[:, k].sum()),
            "alpha": _stat_entry(
                lambda rows, w: _alpha_w(rows, w, np.arange(2.0), "nominal"),
                _reason(binary, chance=True),
                _Compressed(binary),
                n_boot=n_boot,
                level=ci_level,
                rng=gen,
            ),
        }

    per_cohort: dict[str, Any] = {}
    for name, mask in (cohorts or {}).items():
        keep = np.asarray(mask, dtype=bool)
        if keep.shape != (M.shape[1],):
            raise ValueError(f"cohort {name!r} mask has shape {keep.shape}, not ({M.shape[1]},)")
        per_cohort[str(name)] = _block(C[keep], values, level, **opts)

    kappa, shared = _pairwise(M)
    return {
        "n_raters": int(M.shape[0]),
        "n_items": int(M.shape[1]),
        "n_ratings": int(C.sum()),
        "labels": [str(x) for x in labels],
        "level": level,
        "ci_level": float(ci_level),
        "n_boot": int(n_boot),
        "overall": _block(C, values, level, **opts),
        "per_label": by_label,
        "pairwise": {
            "raters": [str(r) for r in raters],
            "kappa": _json_matrix(kappa),
            "n_items": [[int(v) for v in row] for row in shared],
        },
        "per_cohort": per_cohort,
    }
