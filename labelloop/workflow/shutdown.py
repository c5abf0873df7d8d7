"""A process asked to stop (`kill`'s SIGTERM, a service manager's, a server stopping its learner,
a closed terminal, Ctrl+C) stops at once, wherever its work is, except inside writes that only
make sense together.

The learner's rounds read a snapshot and fit outside any transaction, and write their results at
the end: cut anywhere before that, a round leaves nothing behind (an open transaction rolls
back). A stop used to wait for the round to end, at the idle priority rounds run at: on a busy
machine the server waited 15 s for its learner and then killed it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["STOP_SIGNALS", "stopped_as_interrupt", "whole"]

STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, n)
)
"""Signals that stop a command or a worker as Ctrl-C does."""


class _Held:
    """How deep the main thread is in :func:`whole` blocks, and whether a stop came meanwhile."""

    depth = 0
    asked = False


_held = _Held()


def _interrupt() -> None:
    _held.asked = False
    raise KeyboardInterrupt


@contextmanager
def stopped_as_interrupt() -> Iterator[None]:
    """While the block runs, the signals of STOP_SIGNALS stop it as Ctrl-C does (a
    KeyboardInterrupt), at once or, inside :func:`whole`, as that ends; so the caller can
    say so in the store, or stop cleanly, rather than be killed where it stands."""

    def interrupt(signum: int, frame: Any) -> None:
        if _held.depth:
            _held.asked = True
        else:
            _interrupt()

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may take signals
        return
    before = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@contextmanager
def whole() -> Iterator[None]:
    """A block a stop does not cut: writes that only make sense together (a round's model version
    and the rest of its queue, a feature file and its ids). A stop that comes meanwhile takes
    effect as the block ends. Signals reach only the main thread: elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _held.depth += 1
    try:
        yield
    finally:
        _held.depth -= 1
        if not _held.depth and _held.asked:
            _interrupt()
