"""A stop signal (SIGTERM to `labelloop worker`) cuts the learner's work where it stands, except
writes that only make sense together: those finish first, then it stops.
tests/cli/test_cli_worker.py stops a real worker in the middle of a round."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.store import learning as store_learning
from labelloop.workflow import learning
from labelloop.workflow.features import FeatureFiles
from labelloop.workflow.shutdown import LEAVING_S, stopped_as_interrupt
from tests.conftest import Lab, make_rows
from tests.processes import AT_ONCE_S, running


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


# `labelloop worker`'s way: a thread of its own takes the stop signals and ends the process.

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import ctypes, os, shlex, sys, threading, time
from pathlib import Path
from labelloop.workflow.shutdown import exit_on_signals, whole

here = Path(sys.argv[1])


def leaving():
    (here / "left").touch()
    time.sleep(float(os.environ.get("LEAVING_TAKES_S", "0")))


with exit_on_signals(leaving):
"""


def _started(
    tmp_path: Path,
    body: str,
    *,
    after: str = "",
    ignored: tuple[int, ...] = (),
    leaving_s: float = 0.0,
    before: str = "",
) -> tuple[subprocess.Popen[str], str]:
    """A Python process that runs ``body`` in ``exit_on_signals`` (its ``leaving`` touches
    ``left``, then takes ``leaving_s``), then ``after``; one of them prints a line once it is
    where a test stops it: with that line. Started with the signals ``ignored`` ignored, in a
    process group of its own; ``before`` runs first."""
    script = tmp_path / "stopped.py"
    inside = textwrap.indent(textwrap.dedent(body), "    ")
    script.write_text(textwrap.dedent(before) + SCRIPT + inside + "\n" + textwrap.dedent(after))

    def ignore() -> None:
        for sig in ignored:
            signal.signal(sig, signal.SIG_IGN)

    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "LEAVING_TAKES_S": str(leaving_s)},
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=ignore,
        process_group=0,
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def _ended(child: subprocess.Popen[str], *, within: float = 30.0) -> float:
    """Seconds until ``child`` ended (``within`` at most), then whatever is left of its group
    is killed."""
    started = time.monotonic()
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=within)
    took = time.monotonic() - started
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return took


def test_two_stop_signals_in_a_native_call_end_the_process_at_once(tmp_path: Path) -> None:
    """SIGTERM then SIGHUP at once, while the main thread is in a native call (glibc's
    ``system``, which waits again when a signal interrupts it, as a long BLAS call does not
    look at signals) and another thread waits: each time the process ends with code 0, after
    ``leaving``. Python handlers ran only once the call returned, or never when the kernel
    gave both signals to the other thread."""
    body = """
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    mark = here / f"in{os.getpid()}"
    print("started", flush=True)
    ctypes.CDLL(None).system(f"touch {shlex.quote(str(mark))} && exec sleep 30".encode())
    """
    for _ in range(5):
        for left in tmp_path.glob("left"):
            left.unlink()
        child, _ = _started(tmp_path, body)
        mark = tmp_path / f"in{child.pid}"
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert mark.exists(), "the process never got into its native call"
        child.send_signal(signal.SIGTERM)
        child.send_signal(signal.SIGHUP)
        took = _ended(child)
        assert took < AT_ONCE_S and child.returncode == 0, (took, child.returncode)
        assert (tmp_path / "left").exists()


def test_a_stop_waits_for_a_whole_block_of_any_thread(tmp_path: Path) -> None:
    """Writes that only make sense together, in a thread other than the main one (a feature
    file written by the simulation thread), finish before the process ends."""
    child, _ = _started(
        tmp_path,
        """
        def write():
            with whole():
                (here / "first").touch()
                print("writing", flush=True)
                time.sleep(1.0)
                (here / "second").touch()

        threading.Thread(target=write).start()
        time.sleep(60)
        """,
    )
    child.send_signal(signal.SIGTERM)
    took = _ended(child)
    # The block's second write shows the stop waited for it (a lower bound on ``took`` would
    # count from the signal, which a loaded machine can send most of the block's second late).
    assert child.returncode == 0 and took < 1.0 + AT_ONCE_S, (took, child.returncode)
    assert (tmp_path / "second").exists() and (tmp_path / "left").exists()


def test_what_is_done_on_leaving_does_not_hold_the_stop_for_long(tmp_path: Path) -> None:
    """Marking a simulation stopped is a database write: with the database away, the process
    still ends, LEAVING_S later."""
    child, _ = _started(tmp_path, 'print("started", flush=True)\ntime.sleep(60)\n', leaving_s=60)
    child.send_signal(signal.SIGTERM)
    took = _ended(child)
    assert child.returncode == 0 and took < LEAVING_S + AT_ONCE_S, (took, child.returncode)
    assert (tmp_path / "left").exists()


def test_where_no_thread_can_wait_for_signals_a_stop_still_ends_the_process(
    tmp_path: Path,
) -> None:
    """macOS has no sigtimedwait: the signal thread died there at once, the stop signals stayed
    blocked, and a SIGTERM never ended `labelloop worker` (its server killed it 15 s later)."""
    child, _ = _started(
        tmp_path,
        'print("started", flush=True)\ntime.sleep(60)\n',
        before="import signal\ndel signal.sigtimedwait\n",
    )
    child.send_signal(signal.SIGTERM)
    took = _ended(child)
    assert child.returncode == 0 and took < AT_ONCE_S, (took, child.returncode)
    assert (tmp_path / "left").exists()


def test_once_the_block_ends_a_stop_signal_is_the_process_s_own_again(tmp_path: Path) -> None:
    """`labelloop worker` run in-process (a test's CliRunner) whose database was away left the
    stop signals blocked in that process, and a thread that ended it with code 0 on Ctrl-C."""
    child, _ = _started(tmp_path, "pass", after='print("started", flush=True)\ntime.sleep(60)\n')
    child.send_signal(signal.SIGTERM)
    took = _ended(child)
    assert child.returncode == -signal.SIGTERM and took < AT_ONCE_S, (took, child.returncode)
    assert not (tmp_path / "left").exists()


def test_a_signal_ignored_at_start_stays_ignored_and_a_forked_child_takes_signals(
    tmp_path: Path,
) -> None:
    """`nohup`'s SIGHUP goes on being ignored; SIGTERM still ends the process. A child forked
    meanwhile does not inherit the blocked signals (nothing in it waits for them): SIGTERM
    ends it as it ends any process."""
    child, line = _started(
        tmp_path,
        """
        forked = os.fork()
        if forked == 0:
            time.sleep(60)
            os._exit(3)
        print(forked, flush=True)
        time.sleep(60)
        """,
        ignored=(signal.SIGHUP,),
    )
    forked = int(line)
    os.kill(forked, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while running(forked) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(forked), "the forked child kept SIGTERM blocked"
    child.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert child.poll() is None, f"SIGHUP ended it ({child.returncode})"
    child.send_signal(signal.SIGTERM)
    took = _ended(child)
    assert took < AT_ONCE_S and child.returncode == 0, (took, child.returncode)
