"""A stop signal (SIGTERM to `labelloop worker`) cuts the learner's work where it stands, except
writes that only make sense together: those finish first, then it stops.
tests/cli/test_cli_worker.py stops a real worker in the middle of a round."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.store import learning as store_learning
from labelloop.workflow import learning
from labelloop.workflow.features import FeatureFiles
from labelloop.workflow.shutdown import stopped_as_interrupt
from tests.conftest import Lab, make_rows


def _stop_on_first_call(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
    """SIGTERM to this process as ``owner.name`` is first called (the handler runs on return)."""
    real, calls = getattr(owner, name), []

    def then_stop(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, then_stop)


def test_a_stop_while_a_round_writes_comes_after_its_whole_queue(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut between its slices, a round left a queue of its first entries only, served as if it
    were the whole one."""
    monkeypatch.setattr(learning, "QUEUE_SLICE", 4)
    monkeypatch.setattr(learning, "APPEND_SLICE", 4)
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(30))
    _stop_on_first_call(monkeypatch, store_learning, "append_queue")
    with pytest.raises(KeyboardInterrupt), stopped_as_interrupt():
        learning.train(lab.db, ctx)
    from sqlalchemy import func, select

    from labelloop.store.tables import queue_entry

    with lab.db.read() as conn:
        latest = store_learning.latest(conn, ctx.id)
        assert latest is not None and latest["version"] == 1
        queued = conn.execute(
            select(func.count()).where(queue_entry.c.model_version_id == latest["id"])
        ).scalar_one()
    assert queued == 30


def test_a_stop_while_a_feature_part_is_written_comes_after_its_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut between its two files, a part left rows no ids file names: disk taken for good."""
    files = FeatureFiles(tmp_path / "f")
    _stop_on_first_call(monkeypatch, FeatureFiles, "_save")
    with pytest.raises(KeyboardInterrupt), stopped_as_interrupt():
        files.append(np.array([1, 2]), np.array([[1.0], [2.0]]))
    assert files.ids().tolist() == [1, 2]
    assert sorted(p.name.split(".", 1)[1] for p in (tmp_path / "f").iterdir()) == [
        "X.npy",
        "ids.npy",
    ]
