"""How far each running upload's import has come, kept in the server process's memory for the
project page to poll while it waits for the upload's answer.

The page sends a random key with its upload; the import reports the records it has checked
and its stage under (user, project, key), and only that user reading that project with that
key is answered. Entries go ``keep_s`` seconds after their import ends, and at most ``limit``
are kept (the oldest go first), so the registry cannot grow without bound. A restart, or
another server process of a team deployment, knows nothing: the page then keeps its own text.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

KEEP_S = 300.0
"""Seconds an ended import's progress is still answered (the page reads it once more at most)."""
LIMIT = 1000
"""Imports remembered at most; past it the oldest is forgotten (its page keeps its own text)."""
KEY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
"""What a progress key looks like: the page sends 32 random hex digits."""

Key = tuple[int, int, str]  # (user id, project id, the page's key)


@dataclass
class _Entry:
    state: str = "running"  # running | done | failed
    records: int = 0
    stage: str = "checking records"
    ended_at: float | None = None


class ImportProgress:
    """Thread-safe registry of imports' progress: imports run in worker threads while the
    page's polls are answered in others."""

    def __init__(
        self,
        *,
        keep_s: float = KEEP_S,
        limit: int = LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_s = keep_s
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()

    @contextmanager
    def tracking(self, user_id: int, project_id: int, key: str) -> Iterator[Tracker]:
        """Record an import's progress under (user, project, key) while the block runs; its
        end (done, or failed when the block raises) is kept ``keep_s`` seconds."""
        entry = _Entry()
        with self._lock:
            self._forget_expired()
            self._entries.pop((user_id, project_id, key), None)
            self._entries[(user_id, project_id, key)] = entry
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)
        state = "failed"
        try:
            yield Tracker(self._lock, entry)
            state = "done"
        finally:
            with self._lock:
                entry.state = state
                entry.ended_at = self._clock()

    def read(self, user_id: int, project_id: int, key: str) -> dict[str, Any] | None:
        """The import's ``state``, ``records`` checked and ``stage``; None when this user has
        no import under ``key`` in this project (or it ended long enough ago)."""
        with self._lock:
            self._forget_expired()
            entry = self._entries.get((user_id, project_id, key))
            if entry is None:
                return None
            return {"state": entry.state, "records": entry.records, "stage": entry.stage}

    def _forget_expired(self) -> None:
        """Drop the entries whose import ended more than ``keep_s`` ago (lock held)."""
        at = self._clock()
        gone = [
            k
            for k, e in self._entries.items()
            if e.ended_at is not None and at - e.ended_at > self.keep_s
        ]
        for k in gone:
            del self._entries[k]


class Tracker:
    """One import's callbacks: ``records`` for ``import_items(progress=...)`` and ``stage`` for
    its ``stage=``."""

    def __init__(self, lock: threading.Lock, entry: _Entry) -> None:
        self._lock = lock
        self._entry = entry

    def records(self, n: int) -> None:
        with self._lock:
            self._entry.records = n

    def stage(self, name: str) -> None:
        with self._lock:
            self._entry.stage = name
