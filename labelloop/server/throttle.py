"""Sliding-window limits kept in the server process's memory: failed sign-ins, and the heavy
report requests of each user.

Failed sign-ins are counted per name (in any case, as sign-in reads names: "Alice" and "alice"
are one account) and client address, so that passwords cannot be guessed at speed: past
``limit`` failures within ``window_s`` the pair is refused, before any password is checked,
until its oldest failure leaves the window; past ``address_limit`` failures within the window
under any names, the address is refused alike. Counting per name *and* address keeps one
person's typos from locking anyone else out, and a name that exists is throttled exactly like
one that does not (the refusal tells nothing).

Heavy reports (``ReportThrottle``) are counted per user: each is computed once for everyone
asking at a time (``memo.SingleFlight``), but one user asking in a tight loop would still keep
a core busy. A restart forgets every count."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import TypeVar

from starlette.requests import Request

from labelloop.errors import AuthenticationFailed, PermissionDenied, TooManyAttempts

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

SIGN_IN_LIMIT = 10
"""Failed attempts a name may have from one address within ``SIGN_IN_WINDOW_S``."""
ADDRESS_LIMIT = 100
"""Failed attempts one address may have within the window, whatever the names: a guesser
trying many names (or filling the throttle's memory with them) is stopped, while the people
behind one shared address (an office's NAT) have room for their typos."""
SIGN_IN_WINDOW_S = 15 * 60.0
TRACKED_PAIRS = 10_000
"""Pairs (and addresses) remembered at most, for bounded memory; past it, a pair whose
failures all left the window goes first, then the least recently failed pair not refused, so
that failures under other names cannot free a pair that is being refused."""


class _Window:
    """Times of events per key within the last ``window_s`` seconds: what a limit counts."""

    def __init__(self, *, window_s: float, clock: Callable[[], float]) -> None:
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()  # thread-safe: sync routes run in a thread pool

    def _recent(self, times: deque[float] | None, at: float) -> deque[float] | None:
        """``times`` without the events that left the window (None when none is left)."""
        if times is None:
            return None
        while times and times[0] <= at - self.window_s:
            times.popleft()
        return times or None

    def _wait(self, times: deque[float] | None, limit: int, at: float) -> float:
        """Seconds until ``times`` holds fewer than ``limit`` events (0: now)."""
        return times[0] + self.window_s - at if times and len(times) >= limit else 0.0

    def _latest(
        self, kept: OrderedDict[K, deque[float]], key: K, *, limit: int, at: float
    ) -> deque[float]:
        """``key``'s recent times, moved to the end of ``kept`` (least recent first)."""
        times = self._recent(kept.pop(key, None), at) or deque(maxlen=limit)
        kept[key] = times
        return times


class SignInThrottle(_Window):
    """Failed attempts per (name, address) and per address."""

    def __init__(
        self,
        *,
        limit: int = SIGN_IN_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        window_s: float = SIGN_IN_WINDOW_S,
        max_pairs: int = TRACKED_PAIRS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(window_s=window_s, clock=clock)
        self.limit, self.address_limit, self.max_pairs = limit, address_limit, max_pairs
        # least recently failed first
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _key(name: str, address: str) -> tuple[str, str]:
        # casefold folds all that a name lookup folds (ASCII case) and more, so every spelling
        # that signs in as one user shares one count
        return name.strip().casefold(), address

    def wait_s(self, name: str, address: str) -> float:
        """Seconds until the pair may try again (0: now)."""
        key, at = self._key(name, address), self._clock()
        with self._lock:
            pair = self._recent(self._failures.get(key), at)
            if pair is None:
                self._failures.pop(key, None)
            near = self._recent(self._by_address.get(address), at)
            return max(self._wait(pair, self.limit, at), self._wait(near, self.address_limit, at))

    def begin(self, name: str, address: str) -> float:
        """Count an attempt of the pair as failed before its password is checked and answer 0,
        or answer the seconds it must wait (nothing counted). Counting first keeps attempts
        made at the same moment within the limit: each sees those begun before it, where a
        check before and a count after let every attempt in flight through."""
        key, at = self._key(name, address), self._clock()
        with self._lock:
            pair = self._latest(self._failures, key, limit=self.limit, at=at)
            near = self._latest(self._by_address, address, limit=self.address_limit, at=at)
            wait = max(self._wait(pair, self.limit, at), self._wait(near, self.address_limit, at))
            if wait > 0:
                return wait
            pair.append(at)
            near.append(at)
            if len(self._failures) > self.max_pairs:
                self._forget_pair(at)
            if len(self._by_address) > self.max_pairs:
                self._by_address.popitem(last=False)
            return 0.0

    def _forget_pair(self, at: float) -> None:
        """Forget a pair whose failures all left the window, else the least recently failed
        pair that is not refused, else the least recently failed."""
        oldest = next(iter(self._failures))
        if self._recent(self._failures[oldest], at) is None:
            del self._failures[oldest]  # the least recent has nothing left: none is older
            return
        for key, times in self._failures.items():
            if self._wait(self._recent(times, at), self.limit, at) == 0:
                del self._failures[key]
                return
        del self._failures[oldest]

    def withdraw(self, name: str, address: str) -> None:
        """Take back one attempt ``begin`` counted that ended neither right nor wrong (the
        check itself failed)."""
        with self._lock:
            for times in (
                self._failures.get(self._key(name, address)),
                self._by_address.get(address),
            ):
                if times:
                    times.pop()

    def succeeded(self, name: str, address: str) -> None:
        """The pair's count starts again; the address keeps its count (one person's right
        password says nothing of the other names tried from there)."""
        with self._lock:
            self._failures.pop(self._key(name, address), None)


REPORT_LIMIT = 60
"""Heavy report requests (dashboard, quality, coverage, gain, and the pages that compute them)
one user may make within ``REPORT_WINDOW_S``, over all projects: a person clicking through the
pages asks for one or two a page, a script polling them in a loop is held to one a second."""
REPORT_WINDOW_S = 60.0


class ReportThrottle(_Window):
    """Heavy report requests per user."""

    def __init__(
        self,
        *,
        limit: int = REPORT_LIMIT,
        window_s: float = REPORT_WINDOW_S,
        max_users: int = TRACKED_PAIRS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(window_s=window_s, clock=clock)
        self.limit, self.max_users = limit, max_users
        self._asked: OrderedDict[int, deque[float]] = OrderedDict()  # least recent first

    def begin(self, user_id: int) -> float:
        """Count a request of the user and answer 0, or answer the seconds they must wait
        (nothing counted: a refused request costs nothing, so waiting is enough)."""
        at = self._clock()
        with self._lock:
            times = self._latest(self._asked, user_id, limit=self.limit, at=at)
            wait = self._wait(times, self.limit, at)
            if wait > 0:
                return wait
            times.append(at)
            if len(self._asked) > self.max_users:
                self._asked.popitem(last=False)
            return 0.0


def count_report(throttle: ReportThrottle, user_id: int) -> None:
    """Count a heavy report request of the user; TooManyAttempts (429, Retry-After) past the
    limit, before any work."""
    wait = throttle.begin(user_id)
    if wait > 0:
        reason = f"too many reports asked for within a minute ({throttle.limit} at most)"
        raise _refusal(reason, wait, in_minutes=False)


def try_again_in(wait_s: float, *, in_minutes: bool) -> str:
    """When a refused caller may try again, in words: "try again in 10 minutes"."""
    n, unit = (
        (max(1, math.ceil(wait_s / 60)), "minute") if in_minutes else (math.ceil(wait_s), "second")
    )
    return f"try again in {n} {unit}{'s' if n > 1 else ''}"


def _refusal(reason: str, wait_s: float, *, in_minutes: bool) -> TooManyAttempts:
    """The 429 of a limit: ``reason``, and when to try again (``Retry-After``)."""
    return TooManyAttempts(
        f"{reason}; {try_again_in(wait_s, in_minutes=in_minutes)}", retry_after_s=math.ceil(wait_s)
    )


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
        raise _refusal("too many failed attempts", wait, in_minutes=True)
    try:
        result = attempt()
    except (AuthenticationFailed, PermissionDenied):
        raise  # counted by begin
    except BaseException:
        throttle.withdraw(name, address)
        raise
    throttle.succeeded(name, address)
    return result
