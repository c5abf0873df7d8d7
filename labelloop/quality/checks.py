"""Automated checks that flag items for review: each returns one boolean per item.

These are candidates, not verdicts: the workflow turns a True into a flag a reviewer looks at.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from labelloop.domain import MISSING
from labelloop.quality.reliability import UndefinedStatistic, as_reliability

MS_PER_CHAR = 15.0
"""Default reading floor: 15 ms per character is ~4,000 characters (~800 words) a minute, about
three times ordinary reading speed (Rayner et al. 2016 put skimming near 600-700 wpm)."""

FLOOR_MS = 400.0
"""Default absolute floor: under 0.4 s there is no time to read even a word and press a key."""

CAP_MS = 30_000.0
"""Default ceiling of the threshold: a long document can be judged from its start, so no item
needs more than 30 s to count as plausibly read."""


def too_fast(
    active_ms: ArrayLike,
    text_lengths: ArrayLike,
    *,
    ms_per_char: float = MS_PER_CHAR,
    floor_ms: float = FLOOR_MS,
    cap_ms: float = CAP_MS,
) -> NDArray[np.bool_]:
    """Annotations made implausibly fast for the length of what was annotated.

    Parameters
    ----------
    active_ms : array-like of shape (n,)
        Active time spent on each annotation in milliseconds; NaN where unknown (never flagged).
    text_lengths : array-like of shape (n,)
        Characters in each item's text (0 for images: only the floor applies).
    ms_per_char, floor_ms, cap_ms : float
        The threshold is ``min(cap_ms, max(floor_ms, ms_per_char * length))``; see
        :data:`MS_PER_CHAR`, :data:`FLOOR_MS`, :data:`CAP_MS`.

    Returns
    -------
    ndarray of bool, shape (n,)
        True where ``active_ms`` is below the threshold.
    """
    ms = np.asarray(active_ms, dtype=np.float64)
    length = np.asarray(text_lengths, dtype=np.float64)
    if ms.shape != length.shape:
        raise ValueError(f"{ms.shape} active times for {length.shape} text lengths")
    threshold = np.minimum(cap_ms, np.maximum(floor_ms, ms_per_char * length))
    with np.errstate(invalid="ignore"):
        return ms < threshold


def too_fast_one(active_ms: float, text_length: int) -> bool:
    """:func:`too_fast` of one annotation with a known time, at the default thresholds,
    without arrays (an import judges each of its answers as it reads them)."""
    return active_ms < min(CAP_MS, max(FLOOR_MS, MS_PER_CHAR * text_length))


def model_contradicts(
    labels: ArrayLike, proba: ArrayLike, *, threshold: float = 0.9
) -> NDArray[np.bool_]:
    """Items whose human label the model confidently contradicts.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Human label index per item; ``MISSING`` (-1) is never flagged.
    proba : array-like of shape (n, K)
        Model class probabilities, columns in label-index order.
    threshold : float
        Probability the model must give one other class.

    Returns
    -------
    ndarray of bool, shape (n,)
        True where some class other than the label has probability >= ``threshold``.
    """
    y = np.asarray(labels, dtype=np.int64)
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or len(P) != len(y):
        raise ValueError(f"proba has shape {P.shape}; expected ({len(y)}, n_classes)")
    has = y != MISSING
    other = P.copy()
    other[np.flatnonzero(has), y[has]] = -np.inf
    return has & (other.max(axis=1, initial=-np.inf) >= threshold)


def annotators_disagree(R: ArrayLike) -> NDArray[np.bool_]:
    """Items whose ratings are not unanimous.

    Parameters
    ----------
    R : array-like of shape (n_raters, n_items)
        Categories, NaN where missing.

    Returns
    -------
    ndarray of bool, shape (n_items,)
        True where at least two different categories were given.
    """
    M = as_reliability(R)
    with np.errstate(invalid="ignore"):
        return (
            np.fmax.reduce(M, axis=0, initial=-np.inf) > np.fmin.reduce(M, axis=0, initial=np.inf)
        ) & ((~np.isnan(M)).sum(axis=0) >= 2)


def _confident_learning(y: NDArray[np.int64], P: NDArray[np.float64]) -> NDArray[np.bool_]:
    # Per-class thresholds t_k: the mean probability of class k over items labeled k (classes
    # never given can never be confident). An item is confidently of class j when p_j >= t_j
    # (the argmax among several such classes); it is an issue when that class is not its label
    # and the label is not itself the argmax. The constants mirror cleanlab so both agree.
    k = P.shape[1]
    thresholds = np.array([P[y == c, c].mean() if np.any(y == c) else 2.0 for c in range(k)])
    thresholds = np.maximum(thresholds, 2e-6)
    confident = thresholds - 1e-6 <= P
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, P.argmax(axis=1), confident.argmax(axis=1))
    issue = (n_confident > 0) & (guess != y)
    bonus = P.copy()
    bonus[np.arange(len(y)), y] += 1e-6
    return issue & (bonus.argmax(axis=1) != y)


def label_issues(
    labels: ArrayLike, pred_proba: ArrayLike, *, use_cleanlab: bool | None = None
) -> NDArray[np.bool_]:
    """Likely label errors by confident learning (Northcutt, Jiang & Chuang, JAIR 2021).

    The off-diagonal entries of the confident joint: items whose out-of-sample predicted
    probability clears another class's per-class threshold while the model does not favour the
    given label. With cleanlab installed this calls ``cleanlab.filter.find_label_issues(...,
    filter_by="confident_learning")``; without it, the same rule implemented here, which gives
    the same flags, so results do not depend on an optional package.

    Parameters
    ----------
    labels : array-like of int, shape (n,)
        Given label index per item; ``MISSING`` (-1) items are skipped and never flagged.
    pred_proba : array-like of shape (n, K)
        Out-of-sample (cross-validated) class probabilities; in-sample ones flag almost nothing.
    use_cleanlab : bool, optional
        None: cleanlab when importable. True: require it. False: the built-in rule.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    y_all = np.asarray(labels, dtype=np.int64)
    P_all = np.asarray(pred_proba, dtype=np.float64)
    if P_all.ndim != 2 or len(P_all) != len(y_all):
        raise ValueError(f"pred_proba has shape {P_all.shape}; expected ({len(y_all)}, K)")
    has = y_all != MISSING
    if np.any(y_all[has] >= P_all.shape[1]) or np.any(y_all[has] < 0):
        raise ValueError(f"labels must be indices in 0..{P_all.shape[1] - 1} or MISSING")
    out = np.zeros(len(y_all), dtype=bool)
    y, P = y_all[has], P_all[has]
    if len(np.unique(y)) < 2:
        return out  # one given class: no other class has a threshold, so nothing is confident
    if use_cleanlab is not False:
        try:
            from cleanlab.filter import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                find_label_issues,
            )
        except ImportError:
            if use_cleanlab:
                raise
        else:
            flags = find_label_issues(y, P, filter_by="confident_learning", n_jobs=1)
            out[has] = np.asarray(flags, dtype=bool)
            return out
    out[has] = _confident_learning(y, P)
    return out


def gold_accuracy(answers: ArrayLike, gold: ArrayLike) -> float:
    """Share of gold items answered correctly.

    Parameters
    ----------
    answers : array-like of shape (n,)
        An annotator's label index per gold item; ``MISSING`` (-1) or NaN where not answered.
    gold : array-like of shape (n,)
        The known answers; ``MISSING`` or NaN where there is none.

    Returns
    -------
    float
        Correct answers over items with both an answer and a known answer.

    Raises
    ------
    UndefinedStatistic
        When no item has both.
    """
    a = np.asarray(answers, dtype=np.float64)
    g = np.asarray(gold, dtype=np.float64)
    if a.shape != g.shape:
        raise ValueError(f"{a.shape} answers for {g.shape} gold labels")
    scored = ~np.isnan(a) & ~np.isnan(g) & (a != MISSING) & (g != MISSING)
    if not scored.any():
        raise UndefinedStatistic("no gold item has been answered yet")
    return float(np.mean(a[scored] == g[scored]))
