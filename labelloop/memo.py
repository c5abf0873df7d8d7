"""Small in-process memos: time-bounded for the lookups every request repeats (token, project
and role), and by recency for reports keyed by all their inputs; and one computation at a time
of a costly report, shared by everyone who asks for it meanwhile."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MISS = object()


class Memo:
    """Values kept for ``ttl_s`` seconds; ``forget`` drops them at once after a change here.

    Each request authenticates and checks its project role, which would otherwise be two extra
    database round trips on the hottest path. A change made through this process is forgotten
    at once; one made by another process (team mode) is seen within ``ttl_s``.
    """

    def __init__(self, ttl_s: float = 5.0, max_items: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._items.get(key, (0.0, MISS))
        if hit[1] is not MISS and hit[0] > now:
            return hit[1]
        value = compute()
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = (now + self.ttl_s, value)
        return value

    def forget(self, match: Callable[[Hashable], bool] | None = None) -> None:
        with self._lock:
            if match is None:
                self._items.clear()
            else:
                for key in [k for k in self._items if match(k)]:
                    del self._items[key]


class SingleFlight:
    """One computation per key at a time: who asks while it runs waits for it and gets its
    result (or its error) instead of starting another.

    A costly report (a model trained on every label, a bootstrap over every annotation) asked
    for by several people at once, or by a page reloaded while it computes, would otherwise
    run as many times in parallel, and a script asking in a loop could take every core.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            flight = self._running.get(key)
            leader = flight is None
            if flight is None:
                flight = self._running[key] = _Flight()
            elif flight.thread == threading.get_ident():  # it would wait on itself
                raise RuntimeError(f"{key!r} was asked for again while it computes")
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            flight.value = compute()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._running[key]
            flight.done.set()
        return flight.value


class _Flight:
    def __init__(self) -> None:
        self.thread = threading.get_ident()  # the leader's
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Recent:
    """The last ``size`` results by key, least recently used dropped first.

    For reports too costly to compute on every page view (a refit, a drift check) whose key
    names every input they read, so a hit is never stale and no time bound is needed.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._flights = SingleFlight()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        hit = self._hit(key)
        if hit is not MISS:
            return hit
        return self._flights.run(key, lambda: self._computed(key, compute))

    def _hit(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                return MISS
            self._items.move_to_end(key)
            return self._items[key]

    def _computed(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        hit = self._hit(key)  # a computation that ended while this one waited to start
        if hit is not MISS:
            return hit
        value = compute()  # outside the lock; readers of the same key wait for this one
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
