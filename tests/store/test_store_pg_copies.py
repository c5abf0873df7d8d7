"""The suite's PostgreSQL stores are used copies of the migrated database emptied for the next
test (tests/conftest.py ``PgCluster.give_back``): what a test leaves in one must not reach the
next, which a new copy per test guaranteed by construction."""

from __future__ import annotations

import time
from typing import Any

import pytest

from labelloop.store.db import Database
from tests.conftest import Lab, PgCluster, _dbname

pytestmark = pytest.mark.postgres


def _state(cluster: PgCluster, url: str) -> dict[str, Any]:
    """What a test could see of a database beyond its schema: rows, sequences, large objects,
    its own settings, locks and the sessions connected to it."""
    with cluster._connect(_dbname(url)) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
            " AND c.relkind IN ('r', 'p', 'm') ORDER BY c.relname"
        ).fetchall()
        rows = {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for (name,) in tables
            if name != "alembic_version"
        }
        sequences = conn.execute(
            # last_value is NULL until the sequence's next nextval
            "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
        ).fetchall()
        return {
            "rows": rows,
            "sequences": sequences,
            "large objects": conn.execute(
                "SELECT count(*) FROM pg_largeobject_metadata"
            ).fetchone(),
            "settings": conn.execute(
                "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d"
                " ON d.oid = s.setdatabase WHERE d.datname = current_database()"
            ).fetchone(),
            "locks": conn.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                " WHERE d.datname = current_database() AND l.locktype = 'advisory'"
            ).fetchone(),
            "sessions": conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone(),
        }


def test_a_used_copy_comes_back_as_a_new_copy_would(
    pg_cluster: PgCluster, pg_migrated: str
) -> None:
    new = pg_cluster.create_database(template=pg_migrated)
    try:
        like_new = _state(pg_cluster, new)
    finally:
        pg_cluster.drop_database(new)
    url = pg_cluster.copy(pg_migrated)
    db = Database(url)
    lab = Lab(db)
    ctx = lab.project("sent")
    lab.member("sent", "ann", "annotator")
    lab.import_rows(ctx, lab.rows(12, labeled=True), labeled=True)
    lab.import_rows(ctx, lab.rows(20, start=12))
    lab.train(ctx)
    lab.label_next(lab.ctx("sent", lab.users["ann"]), n=2)
    db.dispose()
    # A process still connected as the test ends, holding an advisory lock, and a large object.
    held = pg_cluster._connect(_dbname(url))
    held.execute("SELECT pg_advisory_lock(42)")
    held.execute("SELECT lo_create(0)")
    used = _state(pg_cluster, url)
    deadline = time.monotonic() + 30
    while used["sessions"][0] > 1 and time.monotonic() < deadline:
        # The disposed pool's connections are closed; their server processes may still be
        # on their way out (seen on a loaded machine), and are not what this test is about.
        time.sleep(0.05)
        used = _state(pg_cluster, url)
    assert sum(used["rows"].values()) > 0 and used["locks"][0] == 1
    assert used["large objects"][0] == 1 and used["sessions"][0] == 1
    try:
        pg_cluster.give_back(url, pg_migrated)
    finally:
        held.close()

    again = pg_cluster.copy(pg_migrated)
    try:
        assert _dbname(again) == _dbname(url), "the used copy was not reused"
        assert _state(pg_cluster, again) == like_new
    finally:
        pg_cluster.give_back(again, pg_migrated)


def test_a_copy_given_a_setting_of_its_own_is_not_reused(
    pg_cluster: PgCluster, pg_migrated: str
) -> None:
    url = pg_cluster.copy(pg_migrated)
    with pg_cluster._connect() as conn:
        conn.execute(f"ALTER DATABASE \"{_dbname(url)}\" SET work_mem = '7MB'")
    pg_cluster.give_back(url, pg_migrated)
    again = pg_cluster.copy(pg_migrated)
    try:
        assert _state(pg_cluster, again)["settings"] == (0,)
    finally:
        pg_cluster.give_back(again, pg_migrated)
