"""Alembic environment: runs migrations on the connection labelloop hands it."""

from __future__ import annotations

from typing import Any

from alembic import context

from labelloop.store.migrate import described
from labelloop.store.tables import metadata


def run_on(connection: Any) -> None:
    """Run the pending migrations on ``connection``, in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        include_name=described,
    )
    with context.begin_transaction():
        context.run_migrations()


config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` run by hand with sqlalchemy.url set
    from labelloop.store.db import Database

    # labelloop's engine: its SQLite connections have the functions migrations call (0017)
    with Database(config.get_main_option("sqlalchemy.url") or "").engine.connect() as own:
        run_on(own)
else:
    run_on(connection)
