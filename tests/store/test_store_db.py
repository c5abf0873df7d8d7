"""The database handle on SQLite: a serving process copies the WAL back beside its writers."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from labelloop.store.db import Database, insert_many


def _wal_progress(path: Path) -> tuple[int, int]:
    """(frames in the WAL, frames already copied into the database file), read from the
    wal-index (SQLite file format, section 4.5: ``mxFrame`` at byte 16, ``nBackfill`` at 96)."""
    shm = Path(f"{path}-shm").read_bytes()[:100]
    (mx_frame,) = struct.unpack_from("=I", shm, 16)
    (n_backfill,) = struct.unpack_from("=I", shm, 96)
    return mx_frame, n_backfill


def _write(db: Database, n: int) -> None:
    with db.write() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS blob_t (id INTEGER PRIMARY KEY, b BLOB)"))
    for _ in range(n):
        with db.write() as conn:
            conn.execute(text("INSERT INTO blob_t (b) VALUES (randomblob(3000))"))


def _until(check: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_a_serving_process_copies_the_wal_back_without_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "serve.db"
    db = Database(f"sqlite:///{path}")
    try:
        _write(db, 50)  # well below SQLite's own 1,000-page checkpoint
        frames, copied = _wal_progress(path)
        assert frames > 50 and copied == 0  # without the thread nothing copies them
        db.checkpoint_in_background(every_s=0.01)
        assert _until(lambda: _wal_progress(path)[1] == _wal_progress(path)[0])
        _write(db, 30)  # later commits are copied too (the WAL may have started over)
        assert _until(lambda: _wal_progress(path)[1] == _wal_progress(path)[0] > 0)
        db.stop_checkpoints()
        _write(db, 30)
        time.sleep(0.05)
        frames_now, copied_now = _wal_progress(path)
        assert copied_now < frames_now  # stopped: the new commits stay in the WAL
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM blob_t")).scalar_one() == 110
    finally:
        db.dispose()


def test_the_wal_stays_bounded_under_steady_writes(tmp_path: Path) -> None:
    path = tmp_path / "steady.db"
    db = Database(f"sqlite:///{path}")
    db.checkpoint_in_background(every_s=0.01)
    try:
        # ~2 pages a write: 3,000 pages if the WAL never started over. Steady, as a server's
        # writes are: a pause every 50 lets the checkpointer run even when the test shares
        # its cores with another test worker (back to back, it once reached 1,542 pages).
        for _ in range(30):
            _write(db, 50)
            time.sleep(0.02)
        pages = Path(f"{path}-wal").stat().st_size // 4096
        assert pages < 1300, f"the WAL grew to {pages} pages"
    finally:
        db.dispose()
    assert db._checkpointer is None  # dispose stops the thread


def test_one_request_after_another_runs_on_the_same_warm_connection(tmp_path: Path) -> None:
    """SQLite drops a connection's page cache when another connection wrote since its last
    transaction; the serving path must keep reusing the connection it just returned."""
    db = Database(f"sqlite:///{tmp_path / 'warm.db'}")
    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with db.read() as a, db.read() as b:  # the pool now holds two connections
            first = {id(a.connection.driver_connection), id(b.connection.driver_connection)}
            assert len(first) == 2
        used = []
        for i in range(6):
            with db.write() as conn:
                conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})
                used.append(id(conn.connection.driver_connection))
        assert len(set(used)) == 1, "writes rotated through the pool's connections"
    finally:
        db.dispose()


def test_in_memory_databases_have_nothing_to_checkpoint() -> None:
    memory = Database("sqlite:///:memory:")
    memory.checkpoint_in_background()
    assert memory._checkpointer is None
    memory.dispose()


_NICED_WRITER = """
import os, sys, threading
from labelloop.store.db import Database, insert_many
db = Database(f"sqlite:///{sys.argv[1]}")
tid = threading.get_native_id()
idle = {os.SCHED_IDLE: "idle", os.SCHED_OTHER: "normal"}
def now():
    return f"{os.getpriority(os.PRIO_PROCESS, tid)}:{idle[os.sched_getscheduler(tid)]}"
db.lower_priority()  # the learner's working threads, from their start
with db.write() as conn:
    inside = now()
print(inside, now())
db.dispose()
"""


def test_a_low_priority_process_holds_the_writer_lock_at_normal_priority(tmp_path: Path) -> None:
    """The learner's work no one waits on runs at nice 19 in the idle class, but must not keep
    annotators waiting for the lock while the machine is busy: where allowed, its writes run at
    normal priority."""
    if os.geteuid() != 0:
        pytest.skip("raising a thread's priority back needs root (or RLIMIT_NICE)")

    out = subprocess.run(
        [sys.executable, "-c", _NICED_WRITER, str(tmp_path / "nice.db")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    assert out == ["0:normal", "19:idle"]  # the write at normal, the thread at the lowest after


def test_the_driver_fast_path_stores_and_reads_what_sqlalchemy_does(sqlite_lab: Any) -> None:
    """Serving statements run on the SQLite driver directly; rows written and read that way
    hold exactly what SQLAlchemy writes and returns (timestamps, JSON, NULLs)."""
    from datetime import UTC, datetime

    from labelloop.store import tasks as store_tasks
    from labelloop.store.db import fetch, insert
    from labelloop.store.tables import audit_event
    from labelloop.workflow import tasks

    lab = sqlite_lab
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    task = tasks.next_task(lab.db, ctx)
    row = {
        "at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "actor_id": None,
        "project_id": None,
        "action": "check",
        "subject": "fast",
        "payload": {"a": [1, 2.5, None], "b": "é"},
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
    }
    stmt = audit_event.insert()
    with lab.db.write() as conn:
        fast_id = insert(conn, stmt, row)
        slow_id = int(conn.execute(stmt, row).inserted_primary_key[0])
        raw = conn.exec_driver_sql(
            "SELECT at, actor_id, payload FROM audit_event WHERE id IN (?, ?) ORDER BY id",
            (fast_id, slow_id),
        ).all()
        facts = store_tasks._submit_facts_stmt()
        params = {"assignment_id": task["assignment_id"]}
        fast = fetch(conn, facts, params)
        slow = [dict(r) for r in conn.execute(facts, params).mappings()]
    assert slow_id == fast_id + 1
    assert raw[0] == raw[1]
    assert fast == slow and len(fast) == 1
    assert fast[0]["leased_at"].tzinfo is not None and fast[0]["gold_value"] is None


def test_json_columns_read_back_what_pythons_json_wrote(db: Database) -> None:
    """JSON columns are read with orjson; values only Python's json writes and reads (an integer
    beyond 64 bits; on SQLite, which stores JSON as text, NaN too) come back as stored."""
    import math
    from datetime import UTC, datetime

    from labelloop.store.tables import audit_event

    payload: dict[str, object] = {
        "big": 2**70 + 1,
        "neg": -(10**25) - 7,
        "edge": -(10**19) + 1,
        "text": "é",
    }
    if db.is_sqlite:  # PostgreSQL's json type refuses NaN on the way in
        payload["nan"] = float("nan")
    row = {"at": datetime.now(UTC), "action": "check", "subject": "json", "payload": payload}
    with db.write() as conn:
        stmt = audit_event.insert().values(prev_hash="0" * 64, hash="1" * 64, **row)
        new = conn.execute(stmt).inserted_primary_key[0]
    with db.read() as conn:
        found = conn.execute(audit_event.select().where(audit_event.c.id == new)).mappings()
        back = found.one()["payload"]
    assert back["big"] == 2**70 + 1 and back["neg"] == -(10**25) - 7 and back["text"] == "é"
    assert isinstance(back["big"], int) and back["edge"] == -(10**19) + 1
    assert math.isnan(back["nan"]) if db.is_sqlite else "nan" not in back


def test_rows_of_json_values_of_any_shape_go_in_as_given(db: Database) -> None:
    """Many rows at once (an array per column on PostgreSQL): a JSON value that is a list, a
    dict, a string or null lands in its own row as given, whatever the first row holds."""
    from sqlalchemy import JSON, Column, Integer, MetaData, Table, select

    table = Table("shapes", MetaData(), Column("id", Integer, primary_key=True), Column("v", JSON))
    rows: list[dict[str, Any]] = [
        {"id": 1, "v": ["a", "b"]},
        {"id": 2, "v": {"x": 1}},
        {"id": 3, "v": ["c", "d"]},
        {"id": 4, "v": "plain"},
        {"id": 5, "v": [[1, 2], [3]]},
    ]
    with db.write() as conn:
        table.create(conn)
        insert_many(conn, table, rows)
    with db.read() as conn:
        stored = [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]
    assert stored == rows


def test_times_read_back_in_utc_whatever_time_zone_the_database_has(lab: Any) -> None:
    # A PostgreSQL database whose time zone is not UTC (a server set up in Kiritimati, +14:00)
    # read every timestamp back in that zone: `labelloop audit --last` printed 14:07 for an
    # event at 00:07 UTC, and the API's times ended +14:00 where the exports said +00:00.
    db = lab.db
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            name = conn.exec_driver_sql("SELECT current_database()").scalar_one()
            conn.exec_driver_sql(f"ALTER DATABASE \"{name}\" SET timezone TO 'Pacific/Kiritimati'")
            conn.commit()
        db.engine.dispose()  # new connections take the database's setting
    from labelloop.store.users import now
    from labelloop.workflow import auditing

    before = now()
    ctx = lab.project()
    [event] = auditing.events(db, ctx, limit=1)
    assert event["at"].endswith("+00:00")
    assert before <= datetime.fromisoformat(event["at"]) <= now()
    if not db.is_sqlite:  # and SQL's own idea of the hour is UTC's
        with db.read() as conn:
            hour = conn.execute(text("SELECT EXTRACT(HOUR FROM CURRENT_TIMESTAMP)")).scalar_one()
        assert int(hour) == now().hour


@pytest.mark.postgres
def test_connection_options_in_the_url_and_pgoptions_are_kept(
    pg_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A team that keeps labelloop's tables in a schema of their own names it in the URL
    # (?options=-csearch_path=...) or in PGOPTIONS: the connections' UTC time zone replaced
    # those options, so labelloop read and wrote another schema's tables (or none).
    url = pg_cluster.create_database()
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=1234")
    from_env = Database(url)
    in_url = Database(url + "?options=-c%20statement_timeout%3D4321")
    try:
        for db, setting, value in (
            (from_env, "lock_timeout", "1234ms"),
            (in_url, "statement_timeout", "4321ms"),
        ):
            with db.read() as conn:
                assert conn.exec_driver_sql(f"SHOW {setting}").scalar_one() == value
                assert conn.exec_driver_sql("SHOW timezone").scalar_one() == "UTC"
    finally:
        from_env.dispose()
        in_url.dispose()
        pg_cluster.drop_database(url)


def test_a_key_held_exclusive_is_refused_to_a_second_holder_until_let_go(db: Database) -> None:
    """Two workers never train one project at once: while one holds its key the other is told
    no, a key of another project is free, and once let go the key is anyone's again."""
    with db.exclusive(77) as first:
        with db.exclusive(77) as second:
            assert (first, second) == (True, False)
        with db.exclusive(78) as other:
            assert other
    with db.exclusive(77) as again:
        assert again


_TRY_KEY = """
import sys
from labelloop.store.db import Database
db = Database(sys.argv[1])
with db.exclusive(77) as got:
    print(got)
db.dispose()
"""


def test_a_key_held_exclusive_is_refused_to_another_process(db: Database) -> None:
    """On SQLite the key was a lock of the process only, so the learners of two servers on one
    data dir (two demos, a demo beside `labelloop serve`) trained one project at once and the
    second failed its round on the model version the first had saved (an IntegrityError the
    project page and `labelloop status` then showed)."""

    def other_process() -> str:
        url = db.engine.url.render_as_string(hide_password=False)
        return subprocess.run(
            [sys.executable, "-c", _TRY_KEY, url],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        ).stdout.strip()

    with db.exclusive(77) as mine:
        assert mine and other_process() == "False"
    assert other_process() == "True"


def test_the_changes_token_moves_with_each_write_from_any_connection_and_only_then(
    db: Database,
) -> None:
    """The learner looks at every project again only once something was written (or every few
    seconds): an idle learner polling each project twice a second cost 6% of a core with two
    projects. Its token must move with any write, its own or another process's, and not with
    reads, else a new project or a label would wait for the quiet pass."""
    from labelloop.store import users as store_users

    other = Database(db.url)  # another process's connections
    try:
        before = db.changes()
        with db.read() as conn:
            store_users.count_users(conn)
        with other.read() as conn:
            store_users.count_users(conn)
        assert db.changes() == before  # reads move nothing
        with other.write() as conn:
            store_users.insert_user(conn, username="ana", password_hash=None, is_admin=False)
        after_other = db.changes()
        assert after_other != before
        assert db.changes() == after_other  # taken twice with nothing between: the same
        with db.write() as conn:
            store_users.insert_user(conn, username="ben", password_hash=None, is_admin=False)
        assert db.changes() != after_other
    finally:
        other.dispose()
