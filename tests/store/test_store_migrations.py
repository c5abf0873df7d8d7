"""Migrations build exactly the tables the code describes, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from labelloop.store.db import Database
from labelloop.store.migrate import upgrade
from labelloop.store.tables import metadata


def test_upgrade_creates_every_table(fresh_db: Database) -> None:
    names = set(inspect(fresh_db.engine).get_table_names())
    assert set(metadata.tables) <= names
    assert "alembic_version" in names


def test_migrated_database_matches_the_table_descriptions(fresh_db: Database) -> None:
    with fresh_db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        diff = compare_metadata(context, metadata)
    assert diff == [], f"migrations and tables.py disagree: {diff}"


def test_upgrade_twice_is_a_no_op(db: Database) -> None:
    from labelloop.workflow import accounts

    accounts.create_user(db, "kept", None)
    upgrade(db)
    with db.read() as conn:
        from labelloop.store import users

        assert users.by_name(conn, "kept") is not None
