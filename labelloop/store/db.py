"""The database handle: one engine, one writer at a time on SQLite, row locks on PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

from labelloop.memo import Memo

CHAIN_LOCKS = 1 << 40  # lock keys of audit chains: CHAIN_LOCKS + project id (0: the site)


def chain_key(project_id: int | None) -> int:
    """The advisory-lock key that serializes one audit chain's writers."""
    return CHAIN_LOCKS + (project_id or 0)


class Database:
    """Wraps the engine; ``write()`` is the only way to change state.

    On SQLite every write transaction is serialized by a process-wide lock, and across processes
    (the server, its learner, a CLI import) by an exclusive lock on a file beside the database,
    then begins IMMEDIATE: "database is locked" cannot happen, a waiting writer is woken the
    moment the lock is free (SQLite's own busy wait polls, sleeping up to 100 ms at a time), and
    readers never block (WAL). On PostgreSQL concurrent writers coordinate with row locks
    (``FOR UPDATE SKIP LOCKED``) and advisory locks.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.RLock()
        self.memo = Memo()  # request-path lookups (tokens, roles); see labelloop.memo
        self._named: dict[int, threading.Lock] = {}
        self._writer_file: int | None = None
        self._depth = 0
        self.engine: Engine = self._make_engine(url)

    def _make_engine(self, url: str) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=NullPool if path == ":memory:" else None,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine

    @contextmanager
    def write(self, *, project_id: int | None = None) -> Iterator[Connection]:
        """One short write transaction; commits on success, rolls back on any error.

        ``project_id`` names the project whose audit chain the transaction will extend. On
        PostgreSQL its lock is taken first, before any row lock, so writers of one project
        always lock in the same order and cannot deadlock.
        """
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                if project_id is not None:
                    self.lock_key(conn, chain_key(project_id))
                yield conn
            return
        with self._write_lock, self._across_processes(), self.engine.connect() as conn:
            conn.info["write"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info["write"] = False

    @contextmanager
    def _across_processes(self) -> Iterator[None]:
        """Hold the database's writer file lock (a no-op for in-memory databases)."""
        path = self.url.split("///", 1)[-1]
        if not path or path == ":memory:":
            yield
            return
        if self._writer_file is None:
            self._writer_file = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._depth += 1  # under the thread lock: only the outermost write takes the file lock
        try:
            if self._depth == 1:
                fcntl.flock(self._writer_file, fcntl.LOCK_EX)
            yield
        finally:
            if self._depth == 1:
                fcntl.flock(self._writer_file, fcntl.LOCK_UN)
            self._depth -= 1

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (one transaction, so the reads agree with each other)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def lock_key(self, conn: Connection, key: int) -> None:
        """Serialize writers on ``key`` until the transaction ends (PostgreSQL only)."""
        if not self.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    @contextmanager
    def exclusive(self, key: int) -> Iterator[bool]:
        """Try to become the only holder of ``key`` (across processes on PostgreSQL).

        Yields whether it was obtained; the learner uses it so two workers never train the same
        project at once. Held for the whole block, outside any write transaction.
        """
        if self.is_sqlite:
            lock = self._named.setdefault(key, threading.Lock())
            got = lock.acquire(blocking=False)
            try:
                yield got
            finally:
                if got:
                    lock.release()
            return
        with self.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writer_file is not None:
            os.close(self._writer_file)
            self._writer_file = None


def new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])
