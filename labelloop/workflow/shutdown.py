"""A process asked to stop (`kill`'s SIGTERM, a service manager's, a server stopping its learner,
a closed terminal, Ctrl+C) stops at once, wherever its work is, except inside writes that only
make sense together (:func:`whole`).

The learner's rounds read a snapshot and fit outside any transaction, and write their results at
the end: cut anywhere before that, a round leaves nothing behind (an open transaction rolls
back, on SQLite as on PostgreSQL, when the process ends). A stop used to wait for the round to
end, at the idle priority rounds run at: on a busy machine the server waited 15 s for its
learner and then killed it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

__all__ = ["STOP_SIGNALS", "stopped_as_interrupt", "stopped_by_signals", "whole"]

STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, n)
)
"""Signals that stop a command or a worker as Ctrl-C does."""


class _Held:
    """How deep the main thread is in :func:`whole` blocks, and the stop that waits for them."""

    depth = 0
    stop: Callable[[], None] | None = None


_held = _Held()


@contextmanager
def stopped_by_signals(stop: Callable[[], None]) -> Iterator[None]:
    """While the block runs, the signals of STOP_SIGNALS call ``stop`` in the main thread,
    wherever it is: at once or, inside :func:`whole`, as that ends. ``stop`` raises or ends
    the process. A signal the process was started ignoring stays ignored: `nohup` (SIGHUP),
    a shell's ``&`` (SIGINT), a server under it whose learner inherits that."""

    def handle(signum: int, frame: Any) -> None:
        if _held.depth:
            _held.stop = stop
        else:
            stop()

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
        if not _held.depth and (stop := _held.stop) is not None:
            _held.stop = None
            stop()
