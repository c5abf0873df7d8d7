"""Image boxes: detectors as plug-ins, and ranking items by how unsure the predicted boxes are.

labelloop ships no object detector. The built-in ``imported_scores`` detector hands back the
boxes a team imported as pre-annotations (with their ``score``), and the queue puts the items
whose boxes the detector was least sure of first: least-confidence sampling (Lewis & Gale,
SIGIR 1994) applied to an item's weakest box, as in Brust et al., "Active Learning for Deep
Object Detection" (VISAPP 2019). A team with a detector registers it under a name and picks it
with the project setting ``detector``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from labelloop.domain import NO_PREDICTION
from labelloop.learn.registry import Registry

AGGREGATES = ("min", "mean")
"""How the box scores of one item make its confidence: the weakest box, or their mean."""
DEFAULT_DETECTOR = "imported_scores"

Boxes = list[dict[str, Any]]
"""Boxes as ``{"x", "y", "w", "h", "label"}`` dicts in pixels, with ``"score"`` when predicted."""


@dataclass(frozen=True)
class BoxPool:
    """The items of a boxes project one round sees; row ``i`` of every field is item ``i``.

    ``payloads`` hold each image's absolute ``"image"`` path (and ``width``/``height`` when
    known) and the media root it was found under (``"media_root"``): open it with
    :func:`~labelloop.ingest.media.open_under` (as serving does, refusing a link or a named
    pipe put in its place since), not by its path; ``imported`` the pre-annotated boxes of
    the target control (``None``: none imported); ``labeled`` the resolved boxes (``None``:
    not labeled yet).
    """

    item_ids: NDArray[np.int64]
    payloads: Sequence[Mapping[str, Any]]
    imported: Sequence[Boxes | None]
    labeled: Sequence[Boxes | None]
    labels: tuple[str, ...]


@runtime_checkable
class Detector(Protocol):
    """Predicts boxes with scores; ``name`` is the registry key (the ``detector`` setting).

    A detector that never opens the images may set the class attribute ``reads_images =
    False``; the round then skips checking every image path under the media roots.
    """

    name: ClassVar[str]

    def fit(self, pool: BoxPool) -> Self:
        """Learn from the labeled rows of ``pool``; returns ``self``."""
        ...

    def predict(self, pool: BoxPool) -> list[Boxes | None]:
        """Boxes with a ``score`` in [0, 1] per row of ``pool``; ``None``: no prediction."""
        ...


DETECTORS: Registry[Detector] = Registry("detector", "detectors")
"""Registry of detector classes by ``name``; the built-in registers as a plug-in does."""

register_detector = DETECTORS.register
"""Class decorator that registers a detector class under its ``name`` in :data:`DETECTORS`."""


def make_detector(name: str, **params: Any) -> Detector:
    """Build the registered detector called ``name``; an unknown name lists the known ones."""
    return DETECTORS.make(name, **params)


@register_detector
class ImportedScores:
    """The boxes imported as pre-annotations, as they are: no training, no image reading."""

    name: ClassVar[str] = "imported_scores"
    reads_images: ClassVar[bool] = False  # so the round resolves no image paths for it

    def fit(self, pool: BoxPool) -> Self:
        return self

    def predict(self, pool: BoxPool) -> list[Boxes | None]:
        return [None if boxes is None else [dict(b) for b in boxes] for boxes in pool.imported]


@dataclass(frozen=True)
class BoxRanking:
    """Rows of a box pool best first, each with its utility and a sentence for the annotator."""

    rows: NDArray[np.intp]
    scores: NDArray[np.float64]
    reasons: tuple[str, ...]


def confidence(boxes: Boxes, how: str = "min") -> float | None:
    """An item's confidence: its weakest (or mean) box score; ``None`` when no box has one."""
    if how not in AGGREGATES:
        raise ValueError(f"unknown box aggregate {how!r}; use one of {', '.join(AGGREGATES)}")
    scores = [float(b["score"]) for b in boxes if isinstance(b.get("score"), int | float)]
    if not scores:
        return None
    return min(scores) if how == "min" else float(np.mean(scores))


def rank_by_confidence(
    predicted: Sequence[Boxes | None],
    size: int,
    *,
    candidates: NDArray[np.intp] | None = None,
    how: str = "min",
) -> BoxRanking:
    """Rank items by the confidence of their predicted boxes, least confident first.

    Items with scored boxes come first (utility ``1 - confidence``), then items whose
    prediction has boxes without scores or no boxes at all (utility 0), then items without a
    prediction (utility 0), each group in pool order.

    Parameters
    ----------
    predicted : sequence of (list of dict or None), length n
        A detector's boxes per pool row.
    size : int
        Rows wanted at most.
    candidates : ndarray of shape (m,), optional
        Rows that may be picked (the unlabeled ones); all rows by default.
    how : {"min", "mean"}

    Returns
    -------
    BoxRanking
    """
    rows = np.arange(len(predicted), dtype=np.intp) if candidates is None else candidates
    scored: list[tuple[float, int]] = []
    unscored: list[int] = []
    missing: list[int] = []
    for r in rows.tolist():
        boxes = predicted[r]
        if boxes is None:
            missing.append(r)
            continue
        c = confidence(boxes, how)
        if c is None:
            unscored.append(r)
        else:
            scored.append((c, r))
    scored.sort()
    order = [r for _, r in scored] + unscored + missing
    order = order[: max(0, size)]
    utility, reasons = [], []
    by_row = {r: c for c, r in scored}
    for r in order:
        boxes = predicted[r]
        if r in by_row:
            c = by_row[r]
            n = len(boxes or [])
            what = "lowest" if how == "min" else "mean"
            utility.append(1.0 - c)
            reasons.append(
                f"{what} box confidence {c:.2f} of {n} predicted box{'es' if n != 1 else ''}"
            )
        elif boxes is not None:
            utility.append(0.0)
            n = len(boxes)
            plural = "es" if n != 1 else ""
            reasons.append(
                f"{n} predicted box{plural} without scores" if n else "no boxes predicted"
            )
        else:
            utility.append(0.0)
            reasons.append(NO_PREDICTION)
    return BoxRanking(
        rows=np.asarray(order, dtype=np.intp),
        scores=np.asarray(utility, dtype=np.float64),
        reasons=tuple(reasons),
    )


def suggested_boxes(boxes: Boxes) -> Boxes:
    """Predicted boxes in the value shape, keeping ``score`` for the page to show."""
    keys = ("x", "y", "w", "h", "label", "score")
    return [{k: b[k] for k in keys if k in b} for b in boxes]


def check_detector(detector: Detector) -> None:
    """The detector contract as code, like scikit-learn's ``check_estimator``.

    ``fit`` returns the detector; ``predict`` gives one entry per row, ``None`` or a list of
    boxes in the value shape with a ``score`` in [0, 1] when present and labels of the pool.

    Raises
    ------
    AssertionError
        Naming the first rule broken.
    """
    labels = ("cat", "dog")
    box = {"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0, "label": "cat"}
    pool = BoxPool(
        item_ids=np.arange(3, dtype=np.int64),
        payloads=[{"image": None}, {"image": None, "width": 8, "height": 8}, {"image": None}],
        imported=[[{**box, "score": 0.4}], None, []],
        labeled=[None, [dict(box)], None],
        labels=labels,
    )
    name = getattr(type(detector), "name", None)
    if not isinstance(name, str) or not name:
        raise AssertionError(f"{type(detector).__qualname__} needs a class attribute 'name'")
    if detector.fit(pool) is not detector:
        raise AssertionError(f"{name}: fit must return the detector itself")
    predicted = detector.predict(pool)
    if len(predicted) != len(pool.item_ids):
        raise AssertionError(f"{name}: predict gave {len(predicted)} entries for 3 rows")
    for i, boxes in enumerate(predicted):
        if boxes is None:
            continue
        if not isinstance(boxes, list):
            raise AssertionError(f"{name}: row {i} is {type(boxes).__name__}, not a list or None")
        for b in boxes:
            missing = [k for k in ("x", "y", "w", "h", "label") if k not in b]
            if missing:
                raise AssertionError(f"{name}: row {i} has a box without {', '.join(missing)}")
            if b["label"] not in labels:
                raise AssertionError(f"{name}: row {i} has a box labeled {b['label']!r}")
            score = b.get("score")
            if score is not None and not (isinstance(score, int | float) and 0 <= score <= 1):
                raise AssertionError(f"{name}: row {i} has a score {score!r} outside [0, 1]")
