"""Per-item feature files: whole parts only, first copy of an id wins, many parts merged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelloop.workflow import features
from labelloop.workflow.features import FeatureFiles


def test_parts_round_trip_and_half_written_parts_do_not_count(tmp_path: Path) -> None:
    files = FeatureFiles(tmp_path / "f")
    files.append(np.array([5, 3]), np.array([[5.0], [3.0]]))
    files.append(np.array([3, 9]), np.array([[33.0], [9.0]]))  # 3 again: the first copy wins
    np.save(tmp_path / "f" / "zzz.X.npy", np.array([[1.0]]))  # a crash before its ids file
    assert files.count() == 4 and files.ids().tolist() == [3, 5, 9]
    ids, X = files.load()
    assert ids.tolist() == [3, 5, 9] and X[:, 0].tolist() == [3.0, 5.0, 9.0]
    assert not list((tmp_path / "f").glob(".*.tmp"))


def test_many_parts_are_merged_into_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "MAX_PARTS", 2)
    files = FeatureFiles(tmp_path / "f")
    for i in range(3):
        files.append(np.array([i]), np.array([[float(i)]]))
    ids, X = files.load()
    assert ids.tolist() == [0, 1, 2]
    assert len(list((tmp_path / "f").glob("*.ids.npy"))) == 1
    assert files.load()[1][:, 0].tolist() == [0.0, 1.0, 2.0]


def test_memory_store_without_a_data_dir() -> None:
    files = FeatureFiles(None)
    assert files.count() == 0 and files.load()[1] is None
    files.append(np.array([1]), np.array([[1.0, 2.0]]))
    assert files.count() == 1 and files.load()[1].shape == (1, 2)
