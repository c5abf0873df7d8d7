"""The database handle: one engine, one writer at a time on SQLite, row locks on PostgreSQL."""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    Connection,
    CursorResult,
    Engine,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.functions import FunctionElement

from labelloop.errors import LabelloopError
from labelloop.memo import Memo
from labelloop.store.words import holds, index_words

MAX_ID = 2**63 - 1
"""The largest id a store holds: SQLite's INTEGER and PostgreSQL's BIGINT are signed 64-bit."""
CHAIN_LOCKS = 1 << 40  # lock keys of audit chains: CHAIN_LOCKS + project id (0: the site)
CHECKPOINT_EVERY_S = 0.05  # background WAL checkpoints of a serving process (SQLite)


_LONG_NUMBER = re.compile(r"\d{19}")  # 19 digits: where orjson's integers end (below -2**63)
_LONG_NUMBER_BYTES = re.compile(rb"\d{19}")


def load_json(text: str | bytes) -> Any:
    """A stored JSON column's value, read with orjson (several times faster, so every payload,
    value and metadata read is cheaper) unless only the standard library reads it exactly:
    NaN and Infinity (which Python's json writes), and integers beyond 64 bits (orjson would
    return them as floats). Any run of 19 digits takes the standard way, to be safe."""
    long_number = _LONG_NUMBER if isinstance(text, str) else _LONG_NUMBER_BYTES
    if long_number.search(text) is not None:  # type: ignore[arg-type]
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class lower_text(FunctionElement[str]):  # noqa: N801 - used like func.lower
    """Text in lower case, every letter of it: SQLite's own ``lower()`` folds only ASCII, so
    there it is Python's ``str.lower`` (registered on each connection); PostgreSQL's folds
    what the database's LC_CTYPE knows (all of Unicode under a UTF-8 locale)."""

    type = String()
    inherit_cache = True
    name = "lower_text"


@compiles(lower_text)
def _lower_text(element: lower_text, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lower_text, "sqlite")
def _lower_text_sqlite(element: lower_text, compiler: Any, **kw: Any) -> str:
    return f"labelloop_lower({compiler.process(element.clauses, **kw)})"


def _python_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


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
        self._gates: dict[int, list[int]] = {}  # in-memory SQLite: key -> [sharers, alone]
        self._gate_turn = threading.Condition()
        self._writer_file: int | None = None
        self._depth = 0
        self._checkpoints: threading.Event | None = None  # set: the checkpoint thread stops
        self._niced = PER_THREAD_PRIORITY and (  # e.g. the learner child
            os.getpriority(os.PRIO_PROCESS, 0) > 0 or os.sched_getscheduler(0) == os.SCHED_IDLE
        )
        self._checkpointer: threading.Thread | None = None
        self._watcher: sqlite3.Connection | None = None  # see changes()
        self._watch_lock = threading.Lock()
        self.engine: Engine = self._make_engine(url)

    @property
    def _path(self) -> str | None:
        """The SQLite database file (None for PostgreSQL and in-memory databases)."""
        path = self.url.split("///", 1)[-1]
        return path if self.is_sqlite and path and path != ":memory:" else None

    def _make_engine(self, url: str) -> Engine:
        if not self.is_sqlite:
            engine = create_engine(
                url,
                pool_size=20,
                max_overflow=20,
                pool_pre_ping=True,
                json_deserializer=load_json,
            )
            event.listen(engine, "connect", _in_utc)
            return engine
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The most recently returned connection first: SQLite drops a connection's page cache
        # whenever another connection wrote since its last transaction, so rotating through the
        # pool (FIFO) re-read the serving path's pages on most requests.
        pooling: dict[str, Any] = (
            {"poolclass": NullPool} if path == ":memory:" else {"pool_use_lifo": True}
        )
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_deserializer=load_json,
            **pooling,
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
            dbapi_conn.create_function("labelloop_lower", 1, _python_lower, deterministic=True)
            dbapi_conn.create_function("labelloop_holds", 2, holds, deterministic=True)
            # The search index's triggers (migration 0017) call it on every item written.
            dbapi_conn.create_function("labelloop_index_words", -1, index_words, deterministic=True)

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
        restore = None
        try:
            if self._depth == 1:
                fcntl.flock(self._writer_file, fcntl.LOCK_EX)
                restore = self._normal_priority()
            yield
        finally:
            if self._depth == 1:
                fcntl.flock(self._writer_file, fcntl.LOCK_UN)
                if restore is not None:
                    _set_priority(*restore)
            self._depth -= 1

    def lower_priority(self) -> None:
        """Run this thread at the lowest CPU priority from now on (the learner's later rounds,
        embeddings, checks and simulations: they take only the CPU serving leaves idle); its
        writes are raised back where the system allows it (:meth:`_normal_priority`). For good:
        where raising is not allowed (any user but root, without RLIMIT_NICE), a thread lowered
        for a while stayed at the lowest, so work someone waits on runs on a thread never
        lowered."""
        if PER_THREAD_PRIORITY:
            with suppress(OSError):  # a sandbox refusing it: the thread runs as it was
                set_thread_priority(threading.get_native_id(), lowest=True)
                self._niced = True

    def _normal_priority(self) -> tuple[int, int, int] | None:
        """Run this thread at normal CPU priority while it holds the writer lock.

        The learner child's working threads run at the lowest priority (nice 19, idle
        scheduling class: :meth:`lower_priority`); on a busy machine one could be left without
        CPU while holding the lock, and every annotator's request would wait behind it
        (priority inversion). Where the system allows raising it back (root, or RLIMIT_NICE),
        the write runs at priority 0 in the normal class; returns (thread, old priority, old
        class) to restore, else None.
        """
        if not self._niced or not PER_THREAD_PRIORITY:
            return None
        tid = threading.get_native_id()
        old = os.getpriority(os.PRIO_PROCESS, tid)
        policy = os.sched_getscheduler(tid)
        if old <= 0 and policy != os.SCHED_IDLE:
            return None
        try:
            _set_priority(tid, 0, os.SCHED_OTHER)
        except PermissionError:
            self._niced = False  # not allowed here: stop trying
            return None
        return tid, old, policy

    @contextmanager
    def alone(self, key: int) -> Iterator[Connection]:
        """A connection no other process's holder of ``key`` works beside: each waits its turn.
        On SQLite it is the writer lock every writer takes; on PostgreSQL an advisory lock on
        ``key`` held until the connection's transaction ends. For migrations, whose DDL runs
        outside :meth:`write`."""
        if self.is_sqlite:
            with self._write_lock, self._across_processes(), self.engine.connect() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            self.lock_key(conn, key)  # begins the transaction the caller goes on in
            yield conn

    def analyze(self, *tables: str) -> None:
        """Refresh the query planner's statistics of ``tables`` now (PostgreSQL; SQLite plans
        without statistics). Autovacuum does it only once a tenth of a table changed and on its
        own schedule, so right after a large import the planner still believes the tables are
        small and picks nested loops: the dashboard's arrivals query took 3.7 s on a 36k-tweet
        import before, 0.07 s after."""
        if self.is_sqlite or not tables:
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE " + ", ".join(f'"{t}"' for t in tables))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (one transaction, so the reads agree with each other)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def lock_key(self, conn: Connection, key: int) -> None:
        """Serialize writers on ``key`` until the transaction ends (PostgreSQL only)."""
        if not self.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def try_lock_key(self, conn: Connection, key: int) -> bool:
        """Take ``key`` as :meth:`lock_key` does if nobody holds it; whether it was taken. Never
        waits, so a caller holding row locks cannot deadlock on it. SQLite: always taken."""
        if self.is_sqlite:
            return True
        return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())

    @contextmanager
    def exclusive(self, key: int) -> Iterator[bool]:
        """Try to become the only holder of ``key``, across processes: the gate ``key`` held
        alone (:meth:`gate`).

        Yields whether it was obtained; the learner uses it so two workers never train the same
        project at once, those of two servers on one SQLite file too. Held for the whole block,
        outside any write transaction.
        """
        with self.gate(key, alone=True) as got:
            yield got

    @contextmanager
    def gate(self, key: int, *, alone: bool, wait: bool = False) -> Iterator[bool]:
        """Pass the gate ``key`` beside its other holders, waiting while one holds it alone; or
        (``alone``) hold it alone if nobody holds it, never waiting unless ``wait`` (then for
        every other holder to leave). Yields whether it was taken (always, beside others or
        waiting). Across processes and servers: on SQLite a file lock beside the database
        (each holder locks through a file of its own, so threads of one process exclude each
        other too), on PostgreSQL a session advisory lock. Held outside any write transaction;
        see :mod:`labelloop.workflow.batches` for how imports and undos use gates.
        """
        path = self._path
        if not self.is_sqlite:
            with self.engine.connect() as conn:
                if alone and not wait:
                    q = "SELECT pg_try_advisory_lock(:k)"
                    got = bool(conn.execute(text(q), {"k": key}).scalar())
                else:
                    how = "" if alone else "_shared"
                    conn.execute(text(f"SELECT pg_advisory_lock{how}(:k)"), {"k": key})
                    got = True
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        how = "" if alone else "_shared"
                        conn.execute(text(f"SELECT pg_advisory_unlock{how}(:k)"), {"k": key})
                        conn.commit()
            return
        if path is None:  # in memory: this process is the only one
            with self._in_memory_gate(key, alone=alone, wait=wait) as got:
                yield got
            return
        fd = os.open(f"{path}-gate-{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            how = fcntl.LOCK_EX if alone else fcntl.LOCK_SH
            try:
                fcntl.flock(fd, how | fcntl.LOCK_NB if alone and not wait else how)
                got = True
            except BlockingIOError:
                got = False
            yield got
        finally:
            os.close(fd)  # lets the lock go

    @contextmanager
    def _in_memory_gate(self, key: int, *, alone: bool, wait: bool) -> Iterator[bool]:
        with self._gate_turn:
            held = self._gates.setdefault(key, [0, 0])
            if alone:
                if wait:
                    self._gate_turn.wait_for(lambda: held == [0, 0])
                got = held == [0, 0]
                if got:
                    held[1] = 1
            else:
                self._gate_turn.wait_for(lambda: not held[1])
                held[0] += 1
                got = True
        try:
            yield got
        finally:
            if got:
                with self._gate_turn:
                    held[int(alone)] -= 1
                    self._gate_turn.notify_all()

    def checkpoint_in_background(self, every_s: float = CHECKPOINT_EVERY_S) -> None:
        """Copy the WAL back into the database file from a thread of its own (SQLite files).

        SQLite checkpoints in the commit that fills the WAL past 1,000 pages, copying the pages
        and syncing both files while that writer holds the lock: at a few hundred annotations a
        second this is about once a second, and every request queued behind it waits 10-40 ms.
        A PASSIVE checkpoint every ``every_s`` beside the writers does that copying and syncing
        ahead of time, so the writer that fills the WAL finds little left to copy (it still
        finishes the checkpoint, which lets the WAL start over: its size stays bounded).
        """
        path = self._path
        if path is None or self._checkpointer is not None:
            return
        stop = threading.Event()
        self._checkpoints = stop

        def run() -> None:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                while not stop.wait(every_s):
                    try:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:  # busy with another checkpoint: the next one catches up
                        continue
            finally:
                conn.close()

        self._checkpointer = threading.Thread(target=run, name="labelloop-checkpoint", daemon=True)
        self._checkpointer.start()

    def stop_checkpoints(self) -> None:
        """Stop the checkpoint thread (SQLite's own checkpoints go on as before)."""
        if self._checkpoints is None:
            return
        self._checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=10)
        self._checkpoints = None
        self._checkpointer = None

    def changes(self) -> object | None:
        """A token that differs once a write was committed to the database, by any connection
        of any process, since it was last taken; None where that cannot be told (an in-memory
        database). The learner skips its per-project checks while it stays the same: polling
        every project twice a second cost an idle learner 6% of a core with two projects, and
        grew with each project.

        SQLite: ``PRAGMA data_version`` on a connection of its own that never writes (the value
        moves with every other connection's commit). PostgreSQL: the current snapshot, which
        moves as writing transactions start and end (read-only ones take no transaction id)."""
        if not self.is_sqlite:
            with self.engine.connect() as conn:
                return conn.exec_driver_sql("SELECT txid_current_snapshot()::text").scalar()
        if self._path is None:
            return None
        with self._watch_lock:
            if self._watcher is None:
                self._watcher = sqlite3.connect(self._path, check_same_thread=False)
            return self._watcher.execute("PRAGMA data_version").fetchone()[0]

    def dispose(self) -> None:
        self.stop_checkpoints()
        with self._watch_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
        self.engine.dispose()
        if self._writer_file is not None:
            os.close(self._writer_file)
            self._writer_file = None


class _Driver:
    """One statement compiled for SQLite once, run on the driver's own cursor.

    SQLAlchemy spends more CPU per statement (parameters, execution context, result wrapping)
    than SQLite spends running it; the serving path's few statements skip that. Types are
    converted by the same bind and result processors SQLAlchemy would use.
    """

    def __init__(self, conn: Connection, stmt: Any, keys: tuple[str, ...] | None) -> None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys) if keys else None)
        if "POSTCOMPILE" in compiled.string or compiled.positiontup is None:
            raise ValueError("statement needs SQLAlchemy (expanding or literal parameters)")
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)
        self.fixed = compiled.construct_params(_check=False)
        self.bind = dict(compiled._bind_processors)
        self.columns = tuple(e.keyname for e in compiled._result_columns)
        self.results = tuple(
            e.type._cached_result_processor(conn.dialect, None) for e in compiled._result_columns
        )

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        values = []
        for name in self.names:
            value = params[name] if name in params else self.fixed.get(name)
            process = self.bind.get(name)
            values.append(process(value) if process is not None else value)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(self.sql, values)
        return cursor

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = self.run(conn, params)
        found = cursor.fetchall()
        cursor.close()
        columns, results = self.columns, self.results
        return [
            {
                key: (fn(v) if fn is not None else v)
                for key, fn, v in zip(columns, results, row, strict=True)
            }
            for row in found
        ]


_DRIVER: dict[tuple[int, tuple[str, ...] | None], tuple[Any, _Driver | None]] = {}


def _driver(conn: Connection, stmt: Any, keys: tuple[str, ...] | None) -> _Driver | None:
    """``stmt`` ready for the SQLite driver, or None where SQLAlchemy must run it."""
    if conn.dialect.name != "sqlite":
        return None
    key = (id(stmt), keys)  # statements passed here are built once; the entry keeps them alive
    found = _DRIVER.get(key)
    if found is None or found[0] is not stmt:
        try:
            found = (stmt, _Driver(conn, stmt, keys))
        except ValueError:
            found = (stmt, None)
        _DRIVER[key] = found
    return found[1]


def fetch(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a SELECT built once (cached by the caller), as dicts; fast on SQLite."""
    found = _driver(conn, stmt, None)
    if found is None:
        return [dict(r) for r in conn.execute(stmt, params).mappings()]
    return found.rows(conn, params)


def run(conn: Connection, stmt: Any, params: dict[str, Any]) -> None:
    """Run an UPDATE or DELETE built once (cached by the caller); fast on SQLite."""
    found = _driver(conn, stmt, None)
    if found is None:
        conn.execute(stmt, params)
    else:
        found.run(conn, params).close()


def insert(conn: Connection, stmt: Any, values: dict[str, Any]) -> int:
    """Run an INSERT built once (cached by the caller) with ``values``; the new row's id."""
    found = _driver(conn, stmt, tuple(values))
    if found is None:
        return new_id(conn.execute(stmt, values))
    cursor = found.run(conn, values)
    row_id = int(cursor.lastrowid)
    cursor.close()
    return row_id


MANY_ROWS = 200
"""Rows :func:`insert_many` sends per statement on PostgreSQL: a column's array is one
parameter, and at the largest lines an import takes (2 MiB) 200 rows stay far below the 1 GB a
parameter or a message may hold."""


def insert_many(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, stmt: Any = None
) -> None:
    """INSERT ``rows`` (each with the same keys) into ``table``, in the order given.

    On PostgreSQL one statement takes :data:`MANY_ROWS` rows, an array per column that
    ``unnest`` turns back into rows: psycopg's executemany sent one INSERT per row (pipelined,
    so not a round trip each, but the server bound and ran 40,000 statements for 20,000 items
    and their labels), and SQLAlchemy's multi-row VALUES cost more client CPU than it saved
    (psycopg parses each page's thousands of placeholders anew). SQLite runs ``stmt`` (by
    default ``table.insert()``) as an executemany: its driver loops in C over one prepared
    statement.
    """
    if not rows:
        return
    keys = list(rows[0])
    python_defaults = any(c.default is not None for c in table.c if c.key not in keys)
    if conn.dialect.name != "postgresql" or python_defaults:
        conn.execute(table.insert() if stmt is None else stmt, list(rows))
        return
    unnest = _unnest_insert(table, tuple(keys))
    for start in range(0, len(rows), MANY_ROWS):
        part = rows[start : start + MANY_ROWS]
        conn.execute(unnest, {key: [r[key] for r in part] for key in keys})


@cache
def _unnest_insert(table: Table, keys: tuple[str, ...]) -> Any:
    """``INSERT INTO table (keys) SELECT * FROM unnest(:key[], ...)``, built once per table and
    columns (building it per statement cost more client CPU than the statement)."""
    # one dimension: else the depth is guessed from the first value, and a JSON list there
    # would make the whole column a 2-D array
    arrays = [bindparam(key, type_=ARRAY(table.c[key].type, dimensions=1)) for key in keys]
    unnested = func.unnest(*arrays).table_valued(*keys).render_derived()
    return table.insert().from_select(list(keys), select(*unnested.c))


def new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])


class Quiet:
    """When a poller looks again: at once after a write to the database (any connection, any
    process: :meth:`Database.changes`), else every ``every_s`` (what changes without a write, a
    lease running out, waits for that)."""

    def __init__(self, db: Database, every_s: float) -> None:
        self.db = db
        self.every_s = every_s
        self._seen: object | None = None  # the database's changes when it last looked
        self._at = 0.0  # when it looks again without a write

    def look(self, *, busy: bool = False) -> bool:
        """Whether to look now (always after work: ``busy``); noted as looked when so."""
        changed = self.db.changes()
        if busy or changed is None or changed != self._seen or time.monotonic() >= self._at:
            self._seen, self._at = changed, time.monotonic() + self.every_s
            return True
        return False


PER_THREAD_PRIORITY = hasattr(os, "sched_getscheduler") and os.path.isdir("/proc/self/task")
"""Whether a thread's CPU priority can be set on its own (Linux): where not, the learner stays
at its process's priority."""


def set_process_priority(pid: int, *, lowest: bool) -> None:
    """Every thread of process ``pid`` at the lowest CPU priority (nice 19 and, on Linux, the
    idle scheduling class, so a waking request handler takes the core at once instead of after
    the learner's slice) or back at normal (nice 0, the normal class; raising it needs root or
    RLIMIT_NICE). On Linux a priority is a thread's: each is set; one not allowed, or gone
    meanwhile, is left as it is."""
    try:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        threads = [pid]
    for tid in threads:
        try:
            set_thread_priority(tid, lowest=lowest)
        except OSError:
            continue


def set_thread_priority(tid: int, *, lowest: bool) -> None:
    """One thread at the lowest CPU priority or back at normal, as :func:`set_process_priority`
    sets each; raises OSError where it is not allowed, or the thread is gone."""
    idle = getattr(os, "SCHED_IDLE", None)
    if idle is not None:
        _set_priority(tid, 19 if lowest else 0, idle if lowest else os.SCHED_OTHER)
    else:
        os.setpriority(os.PRIO_PROCESS, tid, 19 if lowest else 0)


def _set_priority(tid: int, nice: int, policy: int) -> None:
    """Set one thread's scheduling class and nice value (Linux: a thread id names a task)."""
    if os.sched_getscheduler(tid) != policy:
        os.sched_setscheduler(tid, policy, os.sched_param(0))
    os.setpriority(os.PRIO_PROCESS, tid, nice)


def _in_utc(dbapi_connection: Any, _record: Any) -> None:
    """Set a new PostgreSQL connection's time zone to UTC: times and dates in SQL (a day's
    bucket, CURRENT_TIMESTAMP) are UTC's, as on SQLite, whatever time zone the database was set
    up with. A SET, not the connection's startup ``options``, which would replace those of the
    URL or PGOPTIONS (a team's ``search_path``), and which PgBouncer refuses."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET TIME ZONE 'UTC'")
    finally:
        cursor.close()
        dbapi_connection.autocommit = autocommit


UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
"""The errors that say the database cannot be reached (its server down or restarting, the
connection dropped), rather than that a statement is wrong."""


def open_database(url: str) -> Database:
    """The store at ``url``; a URL that is none, of a database other than SQLite or PostgreSQL,
    or whose driver is not installed is an error naming it (its password hidden), not a
    traceback."""
    form = "postgresql+psycopg://user@host/db, or unset for SQLite in LABELLOOP_HOME"
    try:
        parsed = make_url(url)
    except ArgumentError:  # not shown: what cannot be parsed cannot have its password hidden
        raise LabelloopError(
            f"LABELLOOP_DATABASE_URL is not a database URL; write it as {form}"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise LabelloopError(
            f"cannot open the database {shown}: labelloop keeps its data in SQLite or "
            f"PostgreSQL ({form})"
        )
    try:
        return Database(url)
    except ImportError as exc:
        raise LabelloopError(
            f"cannot open the database {shown}: its driver '{exc.name}' is not installed "
            "(PostgreSQL: pip install 'labelloop[postgres]', and a postgresql+psycopg:// URL)"
        ) from None


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` is one of :data:`UNREACHABLE`."""
    return isinstance(exc, UNREACHABLE)
