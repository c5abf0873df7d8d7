"""Boxes: ranking images by their least confident predicted box, and detectors as plug-ins."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import pytest

from labelloop.errors import SchemaError
from labelloop.learn.boxes import (
    DETECTORS,
    BoxPool,
    Detector,
    ImportedScores,
    check_detector,
    confidence,
    make_detector,
    rank_by_confidence,
    register_detector,
)


def _box(score: float | None, label: str = "cat") -> dict[str, Any]:
    box: dict[str, Any] = {"x": 0, "y": 0, "w": 4, "h": 4, "label": label}
    if score is not None:
        box["score"] = score
    return box


PREDICTED: list[list[dict[str, Any]] | None] = [
    [_box(0.9), _box(0.8)],  # 0: weakest 0.80, mean 0.85
    [_box(0.95), _box(0.31, "dog"), _box(1.0)],  # 1: weakest 0.31, mean 0.75
    None,  # 2: no prediction
    [_box(0.6)],  # 3: 0.60
    [],  # 4: predicted nothing
    [_box(None)],  # 5: boxes without scores
    [_box(0.99)],  # 6: 0.99
]


def test_least_confident_first_then_unscored_then_unpredicted() -> None:
    ranking = rank_by_confidence(PREDICTED, 10)
    assert ranking.rows.tolist() == [1, 3, 0, 6, 4, 5, 2]
    assert ranking.scores[:4] == pytest.approx([0.69, 0.4, 0.2, 0.01])
    assert ranking.scores[4:].tolist() == [0.0, 0.0, 0.0]
    assert ranking.reasons[0] == "lowest box confidence 0.31 of 3 predicted boxes"
    assert ranking.reasons[1] == "lowest box confidence 0.60 of 1 predicted box"
    assert ranking.reasons[4:] == (
        "no boxes predicted",
        "1 predicted box without scores",
        "no prediction for this image yet",
    )


def test_mean_confidence_and_the_size_and_candidate_limits() -> None:
    ranking = rank_by_confidence(PREDICTED, 3, how="mean")
    assert ranking.rows.tolist() == [3, 1, 0]
    assert ranking.reasons[1] == "mean box confidence 0.75 of 3 predicted boxes"
    picked = rank_by_confidence(PREDICTED, 10, candidates=np.array([0, 2, 6], dtype=np.intp))
    assert picked.rows.tolist() == [0, 6, 2]
    assert confidence([_box(None)]) is None
    with pytest.raises(ValueError, match="unknown box aggregate"):
        confidence([_box(0.5)], "max")


def _pool(imported: list[Any]) -> BoxPool:
    n = len(imported)
    return BoxPool(
        item_ids=np.arange(n, dtype=np.int64),
        payloads=[{"image": f"/m/{i}.png"} for i in range(n)],
        imported=imported,
        labeled=[None] * n,
        labels=("cat", "dog"),
    )


def test_the_built_in_detector_returns_the_imported_boxes() -> None:
    detector = make_detector("imported_scores")
    assert isinstance(detector, ImportedScores)
    assert isinstance(detector, Detector)
    pool = _pool([[_box(0.5)], None])
    assert detector.fit(pool).predict(pool) == [[_box(0.5)], None]


def test_a_team_registers_its_own_detector_by_name() -> None:
    @register_detector
    class Corner:
        """Predicts one box in the corner, surer on larger images."""

        name: ClassVar[str] = "corner_test"

        def fit(self, pool: BoxPool) -> Self:
            return self

        def predict(self, pool: BoxPool) -> list[Any]:
            return [[_box(0.1 + 0.2 * i)] for i in range(len(pool.payloads))]

    try:
        detector = make_detector("corner_test")
        pool = _pool([None, None, None])
        ranking = rank_by_confidence(detector.fit(pool).predict(pool), 3)
        assert ranking.rows.tolist() == [0, 1, 2]
    finally:
        del DETECTORS._classes["corner_test"]
    with pytest.raises(SchemaError, match="unknown detector 'corner_test'; known detectors"):
        make_detector("corner_test")


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_registered_detector_passes_the_conformance_check(name: str) -> None:
    check_detector(make_detector(name))


def test_the_conformance_check_catches_a_broken_detector() -> None:
    class Sloppy:
        name: ClassVar[str] = "sloppy"

        def fit(self, pool: BoxPool) -> None:
            return None

        def predict(self, pool: BoxPool) -> list[Any]:
            return []

    with pytest.raises(AssertionError, match="sloppy: fit must return the detector itself"):
        check_detector(Sloppy())  # type: ignore[arg-type]

    class Wrong(Sloppy):
        def fit(self, pool: BoxPool) -> Any:
            return self

        def predict(self, pool: BoxPool) -> list[Any]:
            return [None, [{"x": 0, "y": 0, "w": 1, "h": 1, "label": "cat", "score": 3}], None]

    with pytest.raises(AssertionError, match="row 1 has a score 3 outside"):
        check_detector(Wrong())  # type: ignore[arg-type]
