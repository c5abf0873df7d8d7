"""A learner killed hard (SIGKILL: the out-of-memory killer, `serve` after 15 s, a power cut) in
the middle of a feature part left its ``.tmp`` file or its rows without their ids file in the
data dir for good, up to ~1.5 GB each time; a learner now removes them as it starts, and never a
file another process is still writing."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from labelloop.store.db import Database
from labelloop.workflow import features
from labelloop.workflow.features import FeatureCache, FeatureFiles
from labelloop.workflow.learning import Learner

ROOT = Path(__file__).resolve().parents[2]
HELD_WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from labelloop.workflow.features import FeatureFiles

folder, hold_at, ready = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
real, calls = np.save, []

def held(out, array, **kwargs):
    real(out, array, **kwargs)
    calls.append(1)
    if len(calls) == hold_at:  # inside the part's write: its file written, not yet renamed
        out.flush()
        ready.touch()
        time.sleep(600)

if hold_at:
    np.save = held
    FeatureFiles(folder).append(np.arange(1000, 1003), np.ones((3, 384), dtype=np.float32))
else:  # a merge, held once its merged part is whole, before it deletes the parts it replaced
    from labelloop.workflow import features

    features.MAX_PARTS = 2
    files = FeatureFiles(folder)
    for i in range(3):
        files.append(np.array([i]), np.full((1, 384), float(i), dtype=np.float32))

    def unlink(path, missing_ok=False):
        ready.touch()
        time.sleep(600)

    Path.unlink = unlink
    files.load()
"""


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _held_writer(
    folder: Path, *, hold_at: int, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """A process appending a part to ``folder``, held inside the write after its
    ``hold_at``-th file (1: the rows' .tmp, 2: the ids' .tmp once the rows are renamed), or
    with ``hold_at=0`` merging three parts, held before it deletes them."""
    ready = folder.parent / f"ready-{len(started)}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", HELD_WRITER, str(folder), str(hold_at), str(ready)], env=env
    )
    started.append(proc)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the writer never got there"
        time.sleep(0.02)
    return proc


def _killed(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _age(folder: Path, seconds: float) -> None:
    """Make every file of ``folder`` last written ``seconds`` ago."""
    then = time.time() - seconds
    for path in folder.iterdir():
        os.utime(path, (then, then))


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_a_learner_starting_removes_what_writers_killed_mid_part_left_but_not_a_live_write(
    tmp_path: Path,
    sqlite_db: Database,
    writers: list[subprocess.Popen[bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "features" / "1" / "minilm-l6-v2-1"
    files = FeatureFiles(folder)
    files.append(np.array([1, 2]), np.zeros((2, 384), dtype=np.float32))  # a whole part
    whole = _names(folder)
    _killed(_held_writer(folder, hold_at=1, started=writers))  # in its rows' .tmp
    _killed(_held_writer(folder, hold_at=2, started=writers))  # rows renamed, ids not
    left = _names(folder) - whole
    assert sorted(n.split(".npy")[0].rsplit(".", 1)[1] for n in left) == ["X", "X", "ids"]
    live = _held_writer(folder, hold_at=1, started=writers)  # another worker, writing now
    writing = _names(folder) - whole - left
    assert len(writing) == 1 and writing.pop().endswith(".X.npy.tmp")
    _age(folder, 2 * 3600)  # a writer held up for hours, in a part whose leftovers stay too
    assert files.ids().tolist() == [1, 2]  # nothing reads the leftovers

    cache = FeatureCache(tmp_path / "features")
    learner = Learner(sqlite_db, poll_s=0.05, cache=cache)
    with caplog.at_level(logging.WARNING, logger="labelloop.learner"):
        learner.start()
        try:
            deadline = time.monotonic() + 30
            while _names(folder) & left and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            learner.stop()
    assert not _names(folder) & left, "a learner's start left what killed writers left"
    assert _names(folder) - whole == {n for n in _names(folder) if n.endswith(".tmp")}
    assert len(_names(folder) - whole) == 1, "the live writer's file went"
    assert files.ids().tolist() == [1, 2]
    assert "removed 3 feature file(s) a learner killed hard left in 1/minilm-l6-v2-1" in caplog.text
    assert "KiB freed" in caplog.text

    _killed(live)  # once its writer is gone, its file goes at the next look
    assert cache.tidy() > 3 * 384 * 4
    assert _names(folder) == whole and files.ids().tolist() == [1, 2]


def test_a_leftover_of_a_writer_gone_from_here_is_kept_while_fresh(tmp_path: Path) -> None:
    """A writer in a container sharing the data dir runs under a pid this machine does not
    know: its files are kept while they are written to, and go once left alone long enough."""
    folder = tmp_path / "features" / "1" / "v"
    files = FeatureFiles(folder)
    files.append(np.array([1]), np.zeros((1, 4), dtype=np.float32))
    rows = next(folder.glob("*.X.npy"))
    gone_pid = rows.name.replace(f"-{os.getpid()}-", "-999999999-")  # no such process here
    planted = [folder / gone_pid, folder / f".{gone_pid}.tmp", folder / "notours.X.npy"]
    for path in planted:
        path.write_bytes(b"x" * 1000)
    cache = FeatureCache(tmp_path / "features")
    assert cache.tidy() == 0 and all(p.exists() for p in planted)
    later = time.time() + features.FRESH_S + 1
    assert cache.tidy(now=later) == 2000
    assert [p.exists() for p in planted] == [False, False, True]  # not named as parts are
    assert files.ids().tolist() == [1]
    assert cache.tidy(now=time.time() + features.STALE_AFTER_S + 1) == 0  # whole parts stay


def test_a_merge_killed_before_it_deleted_the_parts_it_replaced_leaves_no_row_twice(
    tmp_path: Path, writers: list[subprocess.Popen[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "features" / "1" / "v"
    _killed(_held_writer(folder, hold_at=0, started=writers))
    files = FeatureFiles(folder)
    assert files.count() == 6 and len(list(folder.glob("*.ids.npy"))) == 4  # each row twice
    files.append(np.array([7]), np.zeros((1, 384), dtype=np.float32))  # a part since
    before = files.load()
    cache = FeatureCache(tmp_path / "features")
    assert cache.tidy() == 0  # a merge that may still be running deletes them itself
    with caplog.at_level(logging.WARNING, logger="labelloop.learner"):
        assert cache.tidy(now=time.time() + features.FRESH_S + 1) > 3 * 384 * 4
    assert files.count() == 4 and len(list(folder.glob("*.ids.npy"))) == 2
    after = files.load()
    assert after[0].tolist() == before[0].tolist() == [0, 1, 2, 7]
    assert np.array_equal(after[1], before[1])
    assert "removed 6 feature file(s) a learner killed hard left in 1/v" in caplog.text


def test_a_part_whose_write_fails_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk stops a part's write half-way: the learner that goes on running (and tries
    again each round) left each time a .tmp file, or rows without their ids, that its own
    clean-up keeps as a live writer's for a day."""
    folder = tmp_path / "features" / "1" / "minilm"
    files = FeatureFiles(folder)
    files.append(np.arange(3), np.zeros((3, 4), dtype=np.float32))
    before = sorted(p.name for p in folder.iterdir())
    real = np.save

    def full(out: object, array: np.ndarray, **kwargs: object) -> None:
        real(out, array[:1], **kwargs)  # some bytes written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(OSError, match="No space left"):
        files.append(np.arange(3, 6), np.ones((3, 4), dtype=np.float32))
    calls = []

    def ids_full(out: object, array: np.ndarray, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:  # the rows written whole, their ids not
            raise OSError(28, "No space left on device")
        real(out, array, **kwargs)

    monkeypatch.setattr(np, "save", ids_full)
    with pytest.raises(OSError, match="No space left"):
        files.append(np.arange(3, 6), np.ones((3, 4), dtype=np.float32))
    assert sorted(p.name for p in folder.iterdir()) == before
    assert files.count() == 3
