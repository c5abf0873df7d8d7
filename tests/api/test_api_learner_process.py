"""`labelloop serve`'s learner child (LABELLOOP_LEARNER=process, the default): it runs while the
server runs, and comes back when it dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def _learners() -> list[int]:
    """The live `labelloop worker` children of this process."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            command = (entry / "cmdline").read_bytes().split(b"\0") if stat else []
        except OSError:  # gone meanwhile
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2] if stat else ("", "")
        if parent == str(os.getpid()) and state != "Z" and b"worker" in command:
            found.append(int(entry.name))
    return found


def _soon(found: Callable[[], list[int]], *, within_s: float = 30.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while not (seen := found()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return seen


def test_a_learner_child_that_died_is_started_again(
    tmp_path: Path, monkeypatch: Any, no_labelloop_env: None
) -> None:
    """Killed (the out-of-memory killer on a large round), the learner stayed dead while the
    server went on serving: nothing trained until the server restarted, and the labeling page
    kept saying the model was preparing more."""
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server import worker
    from labelloop.server.app import create_app

    monkeypatch.setattr(worker, "RESPAWN_FIRST_S", 0.2)
    app = create_app(get_settings(home=tmp_path, secret_key="test", learner="process"))
    with TestClient(app):
        # Said at once, before the child has loaded scikit-learn and said it runs itself: a page
        # opened meanwhile must not say that no learner runs.
        from labelloop.store import learning as store_learning

        with app.state.db.read() as conn:
            assert store_learning.last_beat(conn) is not None
        first = _soon(_learners)
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)
        again = _soon(lambda: [pid for pid in _learners() if pid != first[0]])
        assert len(again) == 1
    assert _learners() == []  # the server stops its learner as it stops
