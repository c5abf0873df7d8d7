"""How much of what is left the model could label now, and how often it is right when that sure.

PURE: numpy only. The pool's and the eval items' class probabilities come in; for each
confidence threshold out come how many unlabeled items the model is at least that sure of, and,
on the labeled eval items it is that sure of, how often its label is the true one (with a 95%
Wilson interval, so a handful of eval items is not read as certainty). It is the measure a team
needs before accepting the model's labels for the confident part of a pool, or stopping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.insight.cohorts import wilson_interval

THRESHOLDS = (0.8, 0.9, 0.95, 0.98, 0.99)
"""The confidences the table reads (the model's top class probability)."""


def coverage_table(
    pool_proba: NDArray[np.floating],
    eval_proba: NDArray[np.floating] | None,
    eval_y: NDArray[np.integer] | None,
    classes: Sequence[str],
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[dict[str, Any]]:
    """One row per threshold, most lenient first.

    Parameters
    ----------
    pool_proba : ndarray of shape (n_unlabeled, n_classes)
        Class probabilities of the unlabeled pool items.
    eval_proba : ndarray of shape (n_eval, n_classes), optional
        Class probabilities of the labeled eval items.
    eval_y : ndarray of shape (n_eval,), optional
        Their true class indices.
    classes : sequence of str
        Class names, in column order.
    thresholds : sequence of float

    Returns
    -------
    list of dict
        ``threshold``; ``covered`` unlabeled items whose top probability reaches it and their
        ``share`` of the unlabeled; ``by_label`` how many of them each class would get;
        ``eval_n`` eval items that sure, ``eval_correct`` of them right, ``precision``
        (None without such items) and its 95% ``interval``.
    """
    top = pool_proba.max(axis=1) if len(pool_proba) else np.empty(0)
    picked = pool_proba.argmax(axis=1) if len(pool_proba) else np.empty(0, dtype=np.intp)
    eval_top = eval_right = None
    if eval_proba is not None and eval_y is not None and len(eval_y) > 0:
        eval_top = eval_proba.max(axis=1)
        eval_right = eval_proba.argmax(axis=1) == eval_y
    rows = []
    for threshold in sorted(thresholds):
        sure = top >= threshold
        counts = np.bincount(picked[sure], minlength=len(classes))
        row: dict[str, Any] = {
            "threshold": float(threshold),
            "covered": int(sure.sum()),
            "share": float(sure.mean()) if len(top) else 0.0,
            "by_label": {str(c): int(n) for c, n in zip(classes, counts, strict=True) if n},
            "eval_n": 0,
            "eval_correct": 0,
            "precision": None,
            "interval": None,
        }
        if eval_top is not None and eval_right is not None:
            confident = eval_top >= threshold
            n = int(confident.sum())
            correct = int(eval_right[confident].sum())
            row.update(eval_n=n, eval_correct=correct)
            if n:
                low, high = wilson_interval(correct, n)
                row.update(precision=correct / n, interval=[round(low, 4), round(high, 4)])
        rows.append(row)
    return rows


def items_to_show(floor: float) -> int:
    """The fewest eval items at which a model wrong half as often as ``floor`` allows would
    show it: the 95% Wilson interval of an accuracy of ``(1 + floor) / 2`` has its low end at
    or above ``floor`` (139 for 90%, 292 for 95%, 753 for 98%)."""

    def shows(n: int) -> bool:
        return wilson_interval(n * (1 + floor) / 2, n)[0] >= floor

    high = 1
    while not shows(high):  # the low end rises with n: bracket, then bisect
        high *= 2
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if shows(mid) else (mid, high)
    return high


GRID = tuple(round(0.99 - 0.01 * k, 2) for k in range(50))
"""The confidences :func:`lowest_vouched` tries, surest first: 99% down to 50%."""


def lowest_vouched(
    eval_proba: NDArray[np.floating] | None,
    eval_y: NDArray[np.integer] | None,
    *,
    floor: float,
    min_n: int,
    grid: Sequence[float] = GRID,
) -> dict[str, Any]:
    """The lowest confidence at which the eval items vouch for the model: at least ``min_n`` of
    them that sure, and the low end of its accuracy's 95% Wilson interval on them at or above
    ``floor``.

    The confidences are tried surest first, skipping those with fewer than ``min_n`` eval
    items or than :func:`items_to_show` the floor (which ones are skipped depends on the
    probabilities only, not on the labels). The first to fall short ends the search: a
    fixed-sequence test, so choosing among many confidences does not make a lucky one pass more
    often than a single test would. Skipping the confidences with few items keeps that one
    test from being spent where only a perfect score could pass.

    Returns
    -------
    dict
        ``confidence`` (None when none passed) with its ``eval_n``, ``eval_correct``,
        ``precision`` and ``interval``; ``short``: the figures of the confidence that fell short
        (None when every one tried passed, or none had enough items); ``tried``; ``need``, the
        eval items a confidence needs to be tried (None for a floor of 1); ``n_eval``, the eval
        items, and ``n_sure``, those the model is at least the lowest confidence sure of.
    """
    need = max(min_n, items_to_show(floor)) if floor < 1.0 else None
    n_eval = 0 if eval_y is None else len(eval_y)
    top = eval_proba.max(axis=1) if eval_proba is not None and n_eval else np.empty(0)
    found: dict[str, Any] = {
        "confidence": None,
        "short": None,
        "tried": 0,
        "need": need,
        "n_eval": n_eval,
        "n_sure": int((top >= min(grid)).sum()),
    }
    if eval_proba is None or eval_y is None or n_eval == 0 or need is None:
        return found  # (no finite number of eval items proves a model never wrong)
    right = eval_proba.argmax(axis=1) == eval_y
    for threshold in sorted(grid, reverse=True):
        sure = top >= threshold
        n = int(sure.sum())
        if n < need:
            continue
        correct = int(right[sure].sum())
        low, high = wilson_interval(correct, n)
        figures = {
            "confidence": float(threshold),
            "eval_n": n,
            "eval_correct": correct,
            "precision": correct / n,
            "interval": [round(low, 4), round(high, 4)],
        }
        found["tried"] += 1
        if low < floor:
            found["short"] = figures
            break
        found.update(figures)
    return found
