"""The learner as a child process of `labelloop serve`: training runs on its own core.

A learner thread in the server process would hold the interpreter lock for most of every round
(featurizing, fitting, scoring), so annotators' requests would wait behind it. A child process
runs the same `labelloop worker` loop that team mode runs, against the same database.
"""

from __future__ import annotations

import os
import subprocess
import sys

from labelloop.config import Settings


def _low_priority() -> None:
    """Lowest CPU priority for the learner: nice 19 and, on Linux, the idle scheduling class,
    so a waking request handler takes the core at once instead of after the learner's slice.
    Its writes run at normal priority (``Database`` raises it while holding the writer lock).
    """
    os.nice(19)
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def spawn_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """Start `labelloop worker` for this server's database, at a lower CPU priority."""
    env = dict(os.environ)
    env["LABELLOOP_HOME"] = str(settings.home)
    env["LABELLOOP_DATABASE_URL"] = settings.db_url
    env["LABELLOOP_MEDIA_ROOTS"] = os.pathsep.join(str(p) for p in settings.media_root_paths)
    return subprocess.Popen(
        [sys.executable, "-m", "labelloop", "worker", "--parent-pid", str(os.getpid())],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        preexec_fn=_low_priority,  # training takes only the CPU serving leaves idle
    )


def stop_worker(child: subprocess.Popen[bytes]) -> None:
    """Ask the worker to finish its round, then make sure it is gone."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
