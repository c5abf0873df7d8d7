"""`labelloop init`, `users` and `tokens`: the data dir and who may sign in."""

from __future__ import annotations

import json
import secrets
import sys
from typing import Annotated

import typer

from labelloop.cli.common import _open, _run, out


def init() -> None:
    """Create the data dir and the database (LABELLOOP_HOME, LABELLOOP_DATABASE_URL)."""
    settings, db = _open()
    out.print(f"labelloop data in {settings.home} (database {db.engine.url!r})")


def users_add(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="Site admin: may do everything.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; without --password-stdin a random password is made and printed once."""
    from labelloop.workflow import accounts

    _, db = _open()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    user = _run(lambda: accounts.create_user(db, name, password, is_admin=admin))
    out.print(f"user {user.username} created" + (" (admin)" if admin else ""))
    if not password_stdin:
        out.print(f"password: {password}")


def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List users."""
    from labelloop.workflow import accounts

    _, db = _open()
    rows = accounts.list_users(db)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    for row in rows:
        out.print(f"{row['username']}" + (" (admin)" if row["is_admin"] else ""))


def tokens_create(
    name: str, label: Annotated[str, typer.Option(help="Token name")] = "cli"
) -> None:
    """Create a bearer token for user NAME and print it (it is stored hashed, shown once)."""
    from labelloop.workflow import accounts

    _, db = _open()
    typer.echo(_run(lambda: accounts.create_token(db, name, label)))
