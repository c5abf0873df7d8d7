"""Team mode's first step: a PostgreSQL URL the command cannot reach ends as one line naming the
database (its password hidden) and why, as every user-facing error does, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app


def _run(tmp_path: Any, url: str, *args: str) -> Any:
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "LABELLOOP_DATABASE_URL": url}
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize("command", [("init",), ("status", "team"), ("worker",)])
def test_a_server_that_is_not_running_is_one_line(
    tmp_path: Any, no_labelloop_env: None, command: tuple[str, ...]
) -> None:
    done = _run(tmp_path, "postgresql+psycopg://labeler:s3cret@127.0.0.1:1/team", *command)
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit), done.exception
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        "error: cannot reach the database postgresql+psycopg://labeler:***@127.0.0.1:1/team: "
        'connection failed: connection to server at "127.0.0.1", port 1 failed: '
    ), line
    assert "s3cret" not in done.output


@pytest.mark.postgres
def test_a_database_not_made_yet_is_named(
    tmp_path: Any, no_labelloop_env: None, pg_cluster: Any
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{pg_cluster.port}/not_made_yet"
    done = _run(tmp_path, url, "init")
    assert done.exit_code == 1 and isinstance(done.exception, SystemExit), done.exception
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach the database {url}: connection failed: "), line
    assert line.endswith('FATAL: database "not_made_yet" does not exist'), line


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgres:/labeler:s3cret@db/team:x",
            "LABELLOOP_DATABASE_URL is not a database URL; write it as "
            "postgresql+psycopg://user@host/db, or unset for SQLite in LABELLOOP_HOME",
        ),
        (
            "mysql://labeler:s3cret@db/team",
            "cannot open the database mysql://labeler:***@db/team: labelloop keeps its data in "
            "SQLite or PostgreSQL (postgresql+psycopg://user@host/db, or unset for SQLite in "
            "LABELLOOP_HOME)",
        ),
        (
            "postgresql+pg8000://labeler:s3cret@db/team",
            "cannot open the database postgresql+pg8000://labeler:***@db/team: its driver "
            "'pg8000' is not installed (PostgreSQL: pip install 'labelloop[postgres]', and a "
            "postgresql+psycopg:// URL)",
        ),
    ],
)
def test_a_url_labelloop_cannot_open_is_one_line(
    tmp_path: Any, no_labelloop_env: None, url: str, said: str
) -> None:
    """Each ended in a traceback: SQLAlchemy's "Could not parse SQLAlchemy URL", or a
    ModuleNotFoundError for MySQLdb, or for psycopg where labelloop[postgres] was not installed."""
    for command in (("init",), ("status", "team")):
        done = _run(tmp_path, url, *command)
        assert done.exit_code == 1 and isinstance(done.exception, SystemExit), done.exception
        assert done.stderr.strip().splitlines() == [f"error: {said}"]
        assert "s3cret" not in done.output
