"""Agreement on spans and boxes, which are not one category per item: two annotators, one item."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

Span = tuple[int, int, str]
"""A half-open ``[start, end)`` range of characters or tokens and its label."""
Box = tuple[float, float, float, float, str]
"""``(x, y, w, h, label)`` with the origin at the top left."""


def _f1(matched: int, n_a: int, n_b: int) -> float:
    return 1.0 if n_a + n_b == 0 else 2.0 * matched / (n_a + n_b)


def span_f1(
    a_spans: Sequence[Span],
    b_spans: Sequence[Span],
    *,
    mode: Literal["exact", "overlap"] = "exact",
) -> float:
    """F1 between two annotators' spans on one item, treating either as the reference.

    Parameters
    ----------
    a_spans, b_spans : sequence of (start, end, label)
        Half-open offsets ``[start, end)``, in characters or tokens.
    mode : {"exact", "overlap"}
        ``"exact"``: a span matches only a span with the same start, end and label (the strict
        NER agreement of Hripcsak & Rothschild 2005). ``"overlap"``: every offset unit is a
        labeled position and F1 is taken over positions, so partly overlapping spans earn
        partial credit.

    Returns
    -------
    float
        ``2 |A ∩ B| / (|A| + |B|)``; 1.0 when neither annotator marked anything.
    """
    if mode == "exact":
        a, b = Counter(map(tuple, a_spans)), Counter(map(tuple, b_spans))
        return _f1(sum((a & b).values()), sum(a.values()), sum(b.values()))
    if mode == "overlap":
        pa = {(p, lab) for start, end, lab in a_spans for p in range(int(start), int(end))}
        pb = {(p, lab) for start, end, lab in b_spans for p in range(int(start), int(end))}
        return _f1(len(pa & pb), len(pa), len(pb))
    raise ValueError(f"unknown mode {mode!r}; use 'exact' or 'overlap'")


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h, ...) boxes; labels are ignored."""
    ax, ay, aw, ah = (float(v) for v in a[:4])
    bx, by, bw, bh = (float(v) for v in b[:4])
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def box_iou_agreement(
    a_boxes: Sequence[Box], b_boxes: Sequence[Box], threshold: float = 0.5
) -> float:
    """F1 between two annotators' boxes on one image after greedy IoU matching.

    Pairs of boxes with the same label are matched greedily by descending IoU (ties by position
    in the lists), as in the PASCAL VOC evaluation (Everingham et al. 2010); a pair counts when
    its IoU is at least ``threshold``.

    Parameters
    ----------
    a_boxes, b_boxes : sequence of (x, y, w, h, label)
    threshold : float
        Smallest IoU that counts as the same object.

    Returns
    -------
    float
        ``2 matched / (|A| + |B|)``; 1.0 when neither annotator drew a box.
    """
    pairs = [
        (box_iou(a, b), i, j)
        for i, a in enumerate(a_boxes)
        for j, b in enumerate(b_boxes)
        if a[4] == b[4]
    ]
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    used_a: set[int] = set()
    used_b: set[int] = set()
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return _f1(len(used_a), len(a_boxes), len(b_boxes))
