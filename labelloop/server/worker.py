"""The learner as a child process of `labelloop serve`: training runs on its own core.

A learner thread in the server process would hold the interpreter lock for most of every round
(featurizing, fitting, scoring), so annotators' requests would wait behind it. A child process
runs the same `labelloop worker` loop that team mode runs, against the same database.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from labelloop.config import Settings
from labelloop.store.db import set_process_priority

log = logging.getLogger("labelloop.server")
WATCH_S = 1.0  # how often the server looks whether its learner is still there
RESPAWN_FIRST_S = 5.0  # the wait before starting a learner that died...
RESPAWN_MAX_S = 300.0  # ...twice as long each time it dies again within STEADY_S, up to this
STEADY_S = 60.0  # a learner that ran this long died of something new: the wait starts over
STOP_WAIT_S = 15.0  # a learner asked to stop is killed after this (it stops in a second or so)


def spawn_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """Start `labelloop worker` for this server's database. It starts at normal CPU priority
    (on a busy machine, loading Python and scikit-learn at the lowest took many seconds before
    any new project's first items) and lowers itself before work no one waits on
    (``--low-priority``): training takes only the CPU serving leaves idle."""
    env = dict(os.environ)
    env["LABELLOOP_HOME"] = str(settings.home)
    env["LABELLOOP_DATABASE_URL"] = settings.db_url
    env["LABELLOOP_MEDIA_ROOTS"] = os.pathsep.join(str(p) for p in settings.media_root_paths)
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "labelloop", "worker"),
            *("--parent-pid", str(os.getpid()), "--low-priority"),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def stop_worker(child: subprocess.Popen[bytes]) -> None:
    """Stop the worker (SIGTERM: it ends a round in progress at once, writing nothing of it),
    then make sure it is gone: killed if it is still there after STOP_WAIT_S."""
    if child.poll() is not None:
        return
    # At the lowest priority on a busy machine even its way out waits for a core (the round
    # it leaves, a simulation it tells to stop): normal again where the system allows it.
    set_process_priority(child.pid, lowest=False)
    child.terminate()
    try:
        child.wait(timeout=STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


class LearnerProcess:
    """The server's `labelloop worker` child, started again when it dies (exits other than as
    asked to stop).

    The learner can die while the server goes on (the kernel's out-of-memory killer on a large
    round, a crash in a native library); nothing trained again until the server restarted,
    while the labeling page told annotators the model was preparing more. A learner that keeps
    dying is started again less and less often.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.child = spawn_worker(settings)
        self._stop = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch, name="labelloop-learner-watch", daemon=True
        )
        self._watcher.start()

    def _watch(self) -> None:
        delay, started = RESPAWN_FIRST_S, time.monotonic()
        while not self._stop.wait(WATCH_S):
            code = self.child.poll()
            if code is None:
                continue
            if code == 0:  # asked to stop (Ctrl+C reaches the whole process group, SIGTERM)
                return
            if time.monotonic() - started >= STEADY_S:
                delay = RESPAWN_FIRST_S
            log.error(
                "the learner process exited (code %s); starting it again in %g s", code, delay
            )
            if self._stop.wait(delay):
                return
            self.child, started = spawn_worker(self.settings), time.monotonic()
            delay = min(2 * delay, RESPAWN_MAX_S)

    def stop(self) -> None:
        """Stop watching, then stop the learner (see :func:`stop_worker`)."""
        self._stop.set()
        self._watcher.join()
        stop_worker(self.child)
