"""Where the model is weak: its eval accuracy and macro-F1 per cohort of the eval items.

An overall eval accuracy of 0.85 can hide a cohort (an airline, a hospital, a source, a
language) where the model is right half the time. Items carry their cohort as a metadata tag
(``{"cohort": "airline"}``); the Quality page groups agreement by the same tag. Each cohort's
accuracy comes with a 95% Wilson score interval, so a cohort of 12 eval items is not read as
precisely as one of 400.

PURE: the standard library and numpy; never the store, the workflow or the server.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

COHORT_FIELD = "cohort"
"""The item metadata field that names an item's cohort (the Quality page's default too)."""
MIN_ITEMS = 10
"""Eval items a cohort needs before its figures are shown. With fewer, the 95% interval of its
accuracy spans about half the scale (7 of 9 right: 0.45-0.94), which says little."""
MAX_COHORTS = 20
"""Cohorts shown at most, the most frequent (the Quality page shows as many)."""
Z95 = 1.959963984540054
"""The standard normal quantile of 0.975: two-sided 95% intervals."""
DIGITS = 4


def cohort_tag(meta: Any, field: str = COHORT_FIELD) -> str | None:
    """An item's cohort: its metadata ``field`` as text (at most 100 characters), or None."""
    return tag_text(meta.get(field) if isinstance(meta, Mapping) else None)


def tag_text(value: Any) -> str | None:
    """A metadata value as a cohort name: text of at most 100 characters; None stays None."""
    return None if value is None else str(value)[:100]


def wilson_interval(correct: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``correct / n`` (Wilson, JASA 1927).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or ``n``
    correct, which small cohorts hit often; Brown, Cai & DasGupta (Statistical Science, 2001)
    recommend it for small ``n``.

    Parameters
    ----------
    correct : int
        Successes, ``0 <= correct <= n``.
    n : int
        Trials, ``n >= 1``.
    z : float
        Normal quantile of the confidence wanted (:data:`Z95` for 95%).

    Returns
    -------
    (float, float)
        Lower and upper bound.
    """
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    p = correct / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _scores(
    truth: NDArray[np.int64], predicted: NDArray[np.int64], *, n_classes: int
) -> dict[str, Any]:
    """Size, accuracy with its interval, and macro-F1 over the classes in truth or prediction
    (``sklearn.metrics.f1_score(average="macro")``, as the overall eval metrics are)."""
    n = int(truth.shape[0])
    correct = int((truth == predicted).sum())
    confusion = np.bincount(truth * n_classes + predicted, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes)
    hits = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1) + confusion.sum(axis=0)  # 2 TP + FN + FP per class
    present = support > 0
    f1 = 2 * hits[present] / support[present]
    low, high = wilson_interval(correct, n)
    return {
        "n": n,
        "accuracy": round(correct / n, DIGITS),
        "low": round(low, DIGITS),
        "high": round(high, DIGITS),
        "macro_f1": round(float(f1.mean()), DIGITS),
    }


def per_cohort(
    truth: ArrayLike,
    predicted: ArrayLike,
    groups: Sequence[str | None],
    *,
    n_classes: int,
    min_items: int = MIN_ITEMS,
    max_cohorts: int = MAX_COHORTS,
) -> dict[str, Any]:
    """Accuracy and macro-F1 of predictions per cohort, against those over every item.

    Parameters
    ----------
    truth : array-like of int of shape (n_items,)
        True class index of each eval item, in ``range(n_classes)``.
    predicted : array-like of int of shape (n_items,)
        The model's class index for each item.
    groups : sequence of str or None of length n_items
        Each item's cohort; None for an item without one (counted in ``untagged``).
    n_classes : int
        Number of classes of the target.
    min_items : int
        Items a cohort needs to get a row; smaller cohorts are counted in ``too_small``.
    max_cohorts : int
        Rows at most, the largest cohorts; the rest are counted in ``beyond_max``.

    Returns
    -------
    dict
        JSON-able, rounded to 4 decimals:

        - ``overall``: ``{"n", "accuracy", "low", "high", "macro_f1"}`` over every item, tagged
          or not (``low`` and ``high`` bound the accuracy's 95% Wilson interval);
        - ``cohorts``: one row per cohort with at least ``min_items`` items, largest first (ties
          by name): ``{"cohort", "n", "accuracy", "low", "high", "macro_f1", "vs_overall",
          "below_overall"}``, where ``vs_overall`` is its accuracy minus the overall one and
          ``below_overall`` says its whole interval lies under the overall accuracy;
        - ``too_small`` and ``beyond_max``: ``{"cohorts", "items"}`` left out for each reason;
        - ``untagged``: items without a cohort; ``min_items``: the threshold used.

    Raises
    ------
    ValueError
        When the lengths differ, there are no items, or a class index is out of range.
    """
    y = np.asarray(truth, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    tags = list(groups)
    if y.ndim != 1 or y.shape != p.shape or len(tags) != y.shape[0]:
        raise ValueError(
            f"truth, predicted and groups must have one length, got {y.shape}, {p.shape} and "
            f"{len(tags)}"
        )
    if y.shape[0] == 0:
        raise ValueError("no eval items to measure")
    if min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= n_classes:
        raise ValueError(f"class indices must lie in range({n_classes})")
    overall = _scores(y, p, n_classes=n_classes)
    sizes = Counter(t for t in tags if t is not None)
    big = sorted((t for t, n in sizes.items() if n >= min_items), key=lambda t: (-sizes[t], t))
    shown, rest = big[:max_cohorts], big[max_cohorts:]
    small = [t for t, n in sizes.items() if n < min_items]
    code: dict[str | None, int] = {tag: k for k, tag in enumerate(shown)}
    codes = np.array([code.get(t, -1) for t in tags], dtype=np.int64)
    rows = []
    for k, tag in enumerate(shown):
        mask = codes == k
        scores = _scores(y[mask], p[mask], n_classes=n_classes)
        rows.append(
            {
                "cohort": tag,
                **scores,
                "vs_overall": round(scores["accuracy"] - overall["accuracy"], DIGITS),
                "below_overall": scores["high"] < overall["accuracy"],
            }
        )
    return {
        "overall": overall,
        "cohorts": rows,
        "too_small": {"cohorts": len(small), "items": sum(sizes[t] for t in small)},
        "beyond_max": {"cohorts": len(rest), "items": sum(sizes[t] for t in rest)},
        "untagged": len(tags) - sum(sizes.values()),
        "min_items": min_items,
    }
