"""`labelloop worker` asked to stop (SIGTERM: `labelloop serve` stopping its learner, systemd,
Docker, Kubernetes) stops at once, in the middle of a round too, leaving nothing of that round."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from labelloop.server.worker import stop_worker
from labelloop.store import learning as store_learning
from tests.conftest import Lab, make_rows
from tests.processes import AT_ONCE_S, in_group, running

ROOT = Path(__file__).resolve().parents[2]


def _worker(
    lab: Lab,
    home: Path,
    *,
    fit_s: float,
    mark: Path,
    ignored: tuple[int, ...] = (),
    native: bool = False,
) -> subprocess.Popen[bytes]:
    """`labelloop worker` on the test's database, each fit of its rounds ``fit_s`` long (in
    one native call with ``native``: see tests/slowfit.py), started with the signals
    ``ignored`` ignored (as `nohup` or a shell's `&` start it), in a process group of its
    own (:func:`_gone` ends what is left of it)."""

    def ignore() -> None:
        for sig in ignored:
            signal.signal(sig, signal.SIG_IGN)

    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env.update(
        LABELLOOP_HOME=str(home),
        LABELLOOP_DATABASE_URL=lab.db.url,
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        SLOWFIT_S=str(fit_s),
        SLOWFIT_MARK=str(mark),
        SLOWFIT_NATIVE="1" if native else "0",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "labelloop", "worker"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        preexec_fn=ignore if ignored else None,
        process_group=0,
    )


def _gone(child: subprocess.Popen[bytes]) -> None:
    """Kill the worker and whatever of its process group is left (a native fit's `sleep`)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _within(seconds: float, done: Any, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert child.poll() is None, f"the worker exited ({child.returncode})"
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.05)


def _stopped(child: subprocess.Popen[bytes]) -> float:
    """Stop the worker as the server does (SIGTERM, SIGKILL 15 s later); the seconds it took."""
    started = time.monotonic()
    stop_worker(child)
    return time.monotonic() - started


def _rounds(lab: Lab, project_id: int) -> tuple[list[tuple[int, int]], int, int, int]:
    """The project's model versions (version, labels trained on), its audit rows of rounds, its
    queue entries and its recorded round failures."""
    from sqlalchemy import func, select

    from labelloop.store.tables import audit_event, queue_entry, round_failure

    def count(table: Any, *where: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())

    with lab.db.read() as conn:
        versions = [(v["version"], v["n_train"]) for v in store_learning.history(conn, project_id)]
        return (
            versions,
            count(audit_event, audit_event.c.action == "model.train"),
            count(queue_entry),
            count(round_failure, round_failure.c.project_id == project_id),
        )


def test_sigterm_ends_a_round_at_once_and_leaves_nothing_of_it(
    lab: Lab, tmp_path: Path, no_labelloop_env: None
) -> None:
    """The stop used to wait for the round to end (at idle priority, behind a busy server's
    requests): the server gave up after 15 s and killed its learner, and a service manager's
    stop took as long. Now the round is cut where it stands, as if it had not started, and the
    next worker trains the project as usual. The fit here turns an interrupt into an error of
    its own, as libraries can: that must neither keep the worker going nor record a failure."""
    ctx = lab.project("slow", model="tests.slowfit.SlowFit")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(20, start=100), filename="more.jsonl")
    home, mark = tmp_path / "home", tmp_path / "fitting"

    child = _worker(lab, home, fit_s=60, mark=mark)
    try:
        _within(60, mark.exists, child)  # the round is fitting its model
        took = _stopped(child)
    finally:
        child.kill()
        child.wait()
    assert took < AT_ONCE_S and child.returncode == 0, (took, child.returncode)
    assert _rounds(lab, ctx.id) == ([], 0, 0, 0)  # no model version, audit row, queue, failure
    assert not any(p.name.endswith(".tmp") for p in home.rglob("*"))

    mark.unlink()
    child = _worker(lab, home, fit_s=0, mark=mark)
    try:
        _within(60, lambda: _rounds(lab, ctx.id)[0], child)
        took = _stopped(child)  # now waiting between rounds
    finally:
        child.kill()
        child.wait()
    assert took < AT_ONCE_S and child.returncode == 0, (took, child.returncode)
    assert _rounds(lab, ctx.id) == ([(1, 30)], 1, 20, 0)  # the 20 unlabeled items queued


def test_two_stop_signals_during_a_long_native_fit_end_the_worker_at_once(
    lab: Lab, tmp_path: Path, no_labelloop_env: None
) -> None:
    """A stop waited for a native call to return (a large scikit-learn or numpy fit, many
    seconds): Python runs its signal handlers between the main thread's bytecodes only, so the
    server killed its learner 15 s later. SIGTERM with SIGHUP right behind it (systemd with
    ``SendSIGHUP=yes``) did so even in a plain ``time.sleep``, most times: the kernel could hand
    both to another thread, which only noted them for the main thread, asleep meanwhile."""
    ctx = lab.project("slow", model="tests.slowfit.SlowFit")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    home, mark = tmp_path / "home", tmp_path / "fitting"
    child = _worker(lab, home, fit_s=40, mark=mark, native=True)
    try:
        _within(60, mark.exists, child)  # inside the native call (tests/slowfit.py)
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        child.send_signal(signal.SIGHUP)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=20)
        took = time.monotonic() - started
    finally:
        _gone(child)
    assert took < AT_ONCE_S and child.returncode == 0, (took, child.returncode)
    assert _rounds(lab, ctx.id) == ([], 0, 0, 0)


def test_a_worker_stopped_during_a_simulation_says_so_and_leaves_no_process_behind(
    sqlite_lab: Lab, tmp_path: Path, no_labelloop_env: None
) -> None:
    """A worker stopped while it replays a simulation ends at once with the simulation marked
    failed (it used to wait up to 5 s for the replay to notice; see
    tests/workflow/test_workflow_simulations.py). The replay's worker processes, started with
    the worker's stop signals blocked, end with it rather than run on."""
    from labelloop.workflow import simulations

    lab = sqlite_lab
    ctx = lab.project("slow", model="tests.slowfit.SlowFit")
    lab.import_rows(ctx, make_rows(60, labeled=True), labeled=True)
    asked = simulations.request(lab.db, ctx, strategies="random", seeds=2, budget=40, batch=10)
    home, mark = tmp_path / "home", tmp_path / "fitting"

    def replaying() -> bool:
        return str(simulations.get(lab.db, ctx, asked["id"])["phase"]).startswith("replaying")

    child = _worker(lab, home, fit_s=60, mark=mark)
    try:
        _within(90, replaying, child)
        group = [p for p in in_group(child.pid) if p != child.pid]
        assert group, "the replay runs in worker processes"
        took = _stopped(child)
        # A replay process still importing when the worker stops (seconds on a loaded
        # machine) sees it gone once it starts its watch; a fit of 60 s running on would not
        # end within this.
        deadline = time.monotonic() + 30
        while [p for p in group if running(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in group if running(p)]
    finally:
        _gone(child)
    assert took < AT_ONCE_S and child.returncode == 0, (took, child.returncode)
    view = simulations.get(lab.db, ctx, asked["id"])
    assert view["state"] == "failed" and view["error"] == simulations.LEARNER_STOPPED
    assert not left, "processes the worker started outlived it"


def test_a_worker_started_with_nohup_goes_on_when_its_terminal_closes(
    lab: Lab, tmp_path: Path, no_labelloop_env: None
) -> None:
    """`nohup labelloop serve &` (or `nohup labelloop worker &`) ignores SIGHUP, and so does
    the learner it starts: closing the terminal stopped the learner with code 0, as if the
    server had asked, so the server never started it again and learning stopped for good."""
    ctx = lab.project("slow", model="tests.slowfit.SlowFit")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    home, mark = tmp_path / "home", tmp_path / "fitting"
    child = _worker(lab, home, fit_s=60, mark=mark, ignored=(signal.SIGHUP, signal.SIGINT))
    try:
        _within(60, mark.exists, child)
        for sig in (signal.SIGHUP, signal.SIGINT):  # the terminal closes; a Ctrl+C there
            child.send_signal(sig)
            time.sleep(1.0)
            assert child.poll() is None, f"the worker exited ({child.returncode})"
        took = _stopped(child)  # SIGTERM still stops it at once
    finally:
        child.kill()
        child.wait()
    assert took < AT_ONCE_S and child.returncode == 0, (took, child.returncode)


def test_a_server_killed_hard_takes_its_learner_along_mid_round(
    sqlite_lab: Lab, tmp_path: Path, no_labelloop_env: None
) -> None:
    """A server killed hard (SIGKILL, the out-of-memory killer) sends its learner nothing: the
    learner, seeing its parent gone, stops as if the server had stopped it, mid-round too."""
    import signal

    lab = sqlite_lab
    ctx = lab.project("slow", model="tests.slowfit.SlowFit")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    mark = tmp_path / "fitting"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env.update(
        LABELLOOP_HOME=str(tmp_path / "home"),
        LABELLOOP_DATABASE_URL=lab.db.url,
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        SLOWFIT_S="60",
        SLOWFIT_MARK=str(mark),
    )
    server = subprocess.Popen(  # stands in for `labelloop serve`: starts a worker, then waits
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "cmd = [sys.executable, '-m', 'labelloop', 'worker', '--parent-pid']\n"
            "cmd.append(str(os.getpid()))\n"
            "print(subprocess.Popen(cmd).pid, flush=True)\n"
            "time.sleep(600)\n",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        learner = int(server.stdout.readline())
        _within(60, mark.exists, server)
        server.send_signal(signal.SIGKILL)
        server.wait()
        started = time.monotonic()
        while running(learner) and time.monotonic() - started < 30:
            time.sleep(0.05)
        took = time.monotonic() - started
    finally:
        server.kill()
        server.wait()
        if running(learner):
            os.kill(learner, signal.SIGKILL)
    assert took < 1.0 + AT_ONCE_S, took  # it looks for its server every second
    assert _rounds(lab, ctx.id) == ([], 0, 0, 0)
