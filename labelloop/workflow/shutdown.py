"""A process asked to stop (`kill`'s SIGTERM, a service manager's, a server stopping its learner,
a closed terminal, Ctrl+C) stops at once, wherever its work is, except inside writes that only
make sense together (:func:`whole`).

The learner's rounds read a snapshot and fit outside any transaction, and write their results at
the end: cut anywhere before that, a round leaves nothing behind (an open transaction rolls
back, on SQLite as on PostgreSQL, when the process ends). A stop used to wait for the round to
end, at the idle priority rounds run at: on a busy machine the server waited 15 s for its
learner and then killed it.

`labelloop worker` takes its stop signals in a thread of their own (:func:`exit_on_signals`): a
Python signal handler runs only between the main thread's bytecodes, so it waited out a long
native call (a large scikit-learn or numpy fit), and two signals back to back could leave no
handler run at all. Commands stopped as by Ctrl-C (:func:`stopped_as_interrupt`) keep handlers:
their KeyboardInterrupt can only be raised in the main thread, between bytecodes anyway.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

__all__ = [
    "LEAVING_S",
    "STOP_SIGNALS",
    "exit_on_signals",
    "stopped_as_interrupt",
    "stopped_by_signals",
    "whole",
]

STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, n)
)
"""Signals that stop a command or a worker as Ctrl-C does."""
LEAVING_S = 2.0
"""How long :func:`exit_on_signals` gives ``leaving`` (a database away, a stream that blocks)."""
WAKE_S = 0.25
"""How often its signal thread looks whether the block ended (it waits for signals meanwhile)."""


class _Held:
    """How many :func:`whole` blocks are open, and the stop that waits for them to end.

    The main thread's blocks only, as signal handlers run there; every thread's once a thread
    takes the signals (``every_thread``). The lock makes a block that ends and a signal that
    comes meanwhile see each other: the stop is then either held or run, never missed. It is
    reentrant because a handler runs in the main thread, maybe inside the lock already.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0
        self.stop: Callable[[], None] | None = None
        self.every_thread = False


_held = _Held()


def _arrive(stop: Callable[[], None]) -> None:
    """A stop signal came: ``stop()`` now, or as the last open :func:`whole` block ends."""
    with _held.lock:
        if _held.depth:
            _held.stop = stop
        else:
            stop()


@contextmanager
def stopped_by_signals(stop: Callable[[], None]) -> Iterator[None]:
    """While the block runs, the signals of STOP_SIGNALS call ``stop`` in the main thread,
    wherever it is: at once or, inside :func:`whole`, as that ends. ``stop`` raises or ends
    the process. A signal the process was started ignoring stays ignored: `nohup` (SIGHUP),
    a shell's ``&`` (SIGINT), a server under it whose learner inherits that."""

    def handle(signum: int, frame: Any) -> None:
        _arrive(stop)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may take signals
        return
    taken = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
    before = {sig: signal.signal(sig, handle) for sig in taken}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _interrupt() -> None:
    raise KeyboardInterrupt


def stopped_as_interrupt() -> AbstractContextManager[None]:
    """:func:`stopped_by_signals` raising a KeyboardInterrupt, as Ctrl-C does: the caller can
    say so in the store rather than leave a row running nobody runs."""
    return stopped_by_signals(_interrupt)


@contextmanager
def exit_on_signals(leaving: Callable[[], None]) -> Iterator[None]:
    """While the block runs, a signal of STOP_SIGNALS ends the process with code 0 at once,
    wherever its threads are (inside a long native call too), after ``leaving()`` (LEAVING_S at
    most); while :func:`whole` blocks are open (in any thread), as the last one ends. A signal
    the process was started ignoring stays ignored (`nohup`'s SIGHUP, a shell's ``&``'s SIGINT).

    Enter it in the main thread before any other thread starts: the signals are blocked here,
    threads take the blocked set of the thread that starts them, and one thread of its own
    waits for them. A signal that reached any other thread would wait for its handler there,
    or for the main thread. A child process inherits the blocked set too: a forked one gets
    the signals back as it starts; one started from a program (exec) keeps them blocked until
    it unblocks them itself, as the simulation's worker processes do. As the block ends (a
    command that failed, run in-process by a test) the signals are the main thread's again.
    Where no thread can wait for signals (macOS has no ``sigtimedwait``), handlers in the
    main thread take them, as :func:`stopped_by_signals` does: the stop then waits out a
    native call.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("exit_on_signals must be entered in the main thread")
    taken = {sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN}
    if not taken:
        yield
        return

    def leave() -> None:
        going = threading.Thread(target=leaving, name="labelloop-leaving", daemon=True)
        going.start()
        going.join(LEAVING_S)
        os._exit(0)

    if not hasattr(signal, "sigtimedwait"):  # macOS: no thread can wait for signals there
        with stopped_by_signals(leave):  # handlers, in the main thread, between its bytecodes
            yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, taken)
    held, ended = _held, threading.Event()
    held.every_thread = True

    def forked() -> None:  # a forked child has no signal thread: it takes signals as before
        global _held
        if _held is held and not ended.is_set():
            _held = _Held()
            signal.pthread_sigmask(signal.SIG_SETMASK, before)

    os.register_at_fork(after_in_child=forked)

    def wait() -> None:
        while not ended.is_set():
            if signal.sigtimedwait(taken, WAKE_S) is not None:
                _arrive(leave)

    waiter = threading.Thread(target=wait, name="labelloop-stop-signals", daemon=True)
    waiter.start()
    try:
        yield
    finally:
        ended.set()
        waiter.join()
        held.every_thread = False
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


@contextmanager
def whole() -> Iterator[None]:
    """A block a stop does not cut: writes that only make sense together (a round's model version
    and the rest of its queue, a feature file and its ids). A stop that comes meanwhile takes
    effect as the block ends. Where handlers take the signals, that is the main thread's
    blocks only (elsewhere it does nothing); under :func:`exit_on_signals`, every thread's."""
    if not _held.every_thread and threading.current_thread() is not threading.main_thread():
        yield
        return
    with _held.lock:
        _held.depth += 1
    try:
        yield
    finally:
        with _held.lock:
            _held.depth -= 1
            if not _held.depth and (stop := _held.stop) is not None:
                _held.stop = None
                stop()
