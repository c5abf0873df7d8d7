"""Failed sign-ins, counted per name and client address, so that passwords cannot be guessed at
speed: past ``limit`` failures within ``window_s`` the pair is refused, before any password is
checked, until its oldest failure leaves the window.

Counting per name *and* address keeps one person's typos from locking anyone else out, and a
name that exists is throttled exactly like one that does not (the refusal tells nothing). The
counts live in the server process's memory: a restart forgets them."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request

from labelloop.errors import AuthenticationFailed, PermissionDenied, TooManyAttempts

T = TypeVar("T")

SIGN_IN_LIMIT = 10
"""Failed attempts a name may have from one address within ``SIGN_IN_WINDOW_S``."""
SIGN_IN_WINDOW_S = 15 * 60.0
TRACKED_PAIRS = 10_000
"""Pairs remembered at most (bounded memory under a spray of names); past it, the least
recently failed pair not yet refused is forgotten first, so that a spray of other names cannot
free a pair that is being refused."""


class SignInThrottle:
    """Failed attempts per (name, address); thread-safe (sync routes run in a thread pool)."""

    def __init__(
        self,
        *,
        limit: int = SIGN_IN_LIMIT,
        window_s: float = SIGN_IN_WINDOW_S,
        max_pairs: int = TRACKED_PAIRS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s, self.max_pairs = limit, window_s, max_pairs
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(name: str, address: str) -> tuple[str, str]:
        return name.strip().casefold(), address

    def wait_s(self, name: str, address: str) -> float:
        """Seconds until the pair may try again (0: now)."""
        key, at = self._key(name, address), self._clock()
        with self._lock:
            times = self._failures.get(key)
            if times is None:
                return 0.0
            while times and times[0] <= at - self.window_s:
                times.popleft()
            if not times:
                del self._failures[key]
                return 0.0
            return times[0] + self.window_s - at if len(times) >= self.limit else 0.0

    def begin(self, name: str, address: str) -> float:
        """Count an attempt of the pair as failed before its password is checked and answer 0,
        or answer the seconds it must wait (nothing counted). Counting first keeps attempts
        made at the same moment within the limit: each sees those begun before it, where a
        check before and a count after let every attempt in flight through."""
        key, at = self._key(name, address), self._clock()
        with self._lock:
            times = self._failures.pop(key, None) or deque(maxlen=self.limit)
            while times and times[0] <= at - self.window_s:
                times.popleft()
            self._failures[key] = times  # now the most recent
            if len(times) >= self.limit:
                return times[0] + self.window_s - at
            times.append(at)
            if len(self._failures) > self.max_pairs:
                self._forget_one()
            return 0.0

    def _forget_one(self) -> None:
        """Forget the least recently failed pair that is not refused, else the least recent."""
        for key, times in self._failures.items():  # least recent first
            if len(times) < self.limit:
                del self._failures[key]
                return
        self._failures.popitem(last=False)

    def withdraw(self, name: str, address: str) -> None:
        """Take back one attempt ``begin`` counted that ended neither right nor wrong (the
        check itself failed)."""
        with self._lock:
            times = self._failures.get(self._key(name, address))
            if times:
                times.pop()

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop(self._key(name, address), None)


def client_address(request: Request) -> str:
    """The address a request came from, as the server sees it (behind a reverse proxy, the
    proxy's, unless the server is told to trust its forwarding headers)."""
    return request.client.host if request.client is not None else ""


def guarded(throttle: SignInThrottle, name: str, address: str, attempt: Callable[[], T]) -> T:
    """``attempt()`` (a password check for ``name``) unless the pair is throttled; a refusal
    (AuthenticationFailed, PermissionDenied) counts as a failure, a success clears the count.
    The attempt is counted before it runs, so simultaneous attempts cannot pass the limit."""
    wait = throttle.begin(name, address)
    if wait > 0:
        n = max(1, math.ceil(wait / 60))
        raise TooManyAttempts(
            f"too many failed attempts; try again in {n} minute{'s' if n > 1 else ''}",
            retry_after_s=math.ceil(wait),
        )
    try:
        result = attempt()
    except (AuthenticationFailed, PermissionDenied):
        raise  # counted by begin
    except BaseException:
        throttle.withdraw(name, address)
        raise
    throttle.succeeded(name, address)
    return result
