"""Preparing "More like this" in the background, so nobody waits for it.

"More like this" ranks by a matrix of every pool item's features, fitted whenever the pool
changed (TF-IDF over 37,000 tweets: 11-17 s). The server asks :class:`Warmer` to fit it after it
starts and after an import; a search that comes before the matrix is ready waits a moment
(``ANSWER_WITHIN_S``, enough for a small pool) and then answers ``preparing``, with how many
items are being measured and for how long, and the page asks again. A fit that failed is
said once, as an error with its reason, instead of ``preparing`` again at every ask.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from labelloop.errors import Unprocessable
from labelloop.store.db import Database
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.projects import ProjectContext

log = logging.getLogger("labelloop.learner")
ANSWER_WITHIN_S = 2.0
"""How long a search waits for the matrix being prepared before it answers ``preparing``."""

Job = tuple[int, int | None]
"""A project, and the item asked about (None: the project's pool and labeled eval items)."""


class Warmer:
    """Fits the "More like this" matrices of the projects asked for, one at a time, in one
    background thread (two fits at once would only share the cores they slow down)."""

    def __init__(self, db: Database, cache: FeatureCache, *, ahead: bool = True) -> None:
        self.db = db
        self.cache = cache
        self.ahead = ahead  # prepare after a start and an import; else only when asked
        self._pending: dict[Job, tuple[Callable[[], ProjectContext | None], threading.Event]] = {}
        self._started: dict[Job, float] = {}
        self._running: Job | None = None
        # asked again while it runs (an import meanwhile): run once more after, on its items
        self._again: dict[Job, tuple[Callable[[], ProjectContext | None], threading.Event]] = {}
        self._failed: dict[Job, str] = {}  # why the last fit of a job failed, until told
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ask(self, job: Job, context: Callable[[], ProjectContext | None]) -> threading.Event:
        """Prepare ``job``'s matrix (``context`` gives its project) unless it is asked for
        already (while it runs, it runs again after: the pool may have changed since it read
        it); the event is set once it is ready (or failed)."""
        with self._lock:
            if job == self._running:
                return self._again.setdefault(job, (context, threading.Event()))[1]
            if job in self._pending:
                return self._pending[job][1]
            done = threading.Event()
            self._pending[job] = (context, done)
            self._started[job] = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="labelloop-warmer", daemon=True
                )
                self._thread.start()
            return done

    def ask_ahead(self, project_ids: list[int] | None = None) -> None:
        """Prepare the matrices of ``project_ids`` (every project: after the server starts;
        one: after an import into it), unless the warmer only answers searches."""
        from labelloop.store import projects as store_projects

        if not self.ahead:
            return
        if project_ids is None:
            with self.db.read() as conn:
                project_ids = store_projects.all_ids(conn)
        for project_id in project_ids:
            self.ask((project_id, None), lambda p=project_id: self._with_pool(p))

    def _with_pool(self, project_id: int) -> ProjectContext | None:
        """The project to prepare ahead, or None when its pool holds no item (just created,
        or every import undone): nothing to measure, and no error to log at every start."""
        from labelloop.store import learning as store_learning
        from labelloop.workflow.learning import system_context_by_id

        with self.db.read() as conn:
            if not store_learning.ids_of(conn, project_id, "pool"):
                return None
        return system_context_by_id(self.db, project_id)

    def since_s(self, job: Job) -> float | None:
        """Seconds since ``job`` was asked for, while it is pending."""
        with self._lock:
            started = self._started.get(job)
        return None if started is None else time.monotonic() - started

    def failure(self, job: Job) -> str | None:
        """Why the last fit of ``job`` failed, once: the next ask fits it again."""
        with self._lock:
            return self._failed.pop(job, None)

    def _run(self) -> None:
        from labelloop.learn.threads import one_thread
        from labelloop.workflow.seeding import like_features

        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                job, (context, done) = next(iter(self._pending.items()))
                self._running = job
            failed = None
            try:
                ctx = context()
                if ctx is not None:
                    with one_thread():
                        like_features(self.db, ctx, self.cache, like=job[1])
            except Exception as exc:  # the search waiting for it says why, once
                log.exception("preparing 'More like this' for project %s failed", job[0])
                failed = str(exc) or type(exc).__name__
            finally:
                with self._lock:
                    if failed is None:
                        self._failed.pop(job, None)
                    else:
                        self._failed[job] = failed
                    self._running = None
                    del self._pending[job]
                    if job in self._again:
                        self._pending[job] = self._again.pop(job)
                        self._started[job] = time.monotonic()
                    else:
                        del self._started[job]
                done.set()


def search_like(
    db: Database,
    ctx: ProjectContext,
    warmer: Warmer,
    *,
    like: int,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """ "More like this" for a request: from the matrix in memory, else once the warmer fitted
    it within ``ANSWER_WITHIN_S``, else ``preparing`` (how many items and for how long).

    Raises Unprocessable with the reason when the fit asked for failed (said once: the next
    search fits again), so nobody is told "preparing" forever."""
    from labelloop.store import learning as store_learning
    from labelloop.workflow import seeding

    kwargs: dict[str, Any] = {"like": like, "limit": limit, "offset": offset}
    found = seeding.search(db, ctx, cache=warmer.cache, wait=False, **kwargs)
    if not found.get("preparing"):
        return found
    job = (ctx.id, like)  # once the first is fitted, the others of the project come at once
    _raise_failure(warmer, job)  # failed after the last answer said "preparing"
    if warmer.ask(job, lambda: ctx).wait(ANSWER_WITHIN_S):
        found = seeding.search(db, ctx, cache=warmer.cache, wait=False, **kwargs)
        if not found.get("preparing"):
            return found
        _raise_failure(warmer, job)
    since = warmer.since_s(job) or 0.0
    with db.read() as conn:
        n = len(store_learning.ids_of(conn, ctx.id, "pool"))
    return {
        **found,
        "measuring": n,
        "since_s": round(since, 1),
        "note": f"preparing “More like this”: measuring {n:,} pool items "
        f"(started {since:.0f} s ago); it answers at once when ready",
    }


def _raise_failure(warmer: Warmer, job: Job) -> None:
    """Unprocessable with the reason the last fit of ``job`` failed, if it did."""
    reason = warmer.failure(job)
    if reason is not None:
        raise Unprocessable(
            f"“More like this” could not be prepared: {reason.rstrip('.')}. "
            "Try again, or search by words."
        )
