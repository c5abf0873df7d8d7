"""`labelloop init`, `users` and `tokens`: the data dir and who may sign in."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from labelloop.cli.common import _open, _run, out, under_review


def init() -> None:
    """Create the data dir and the database (LABELLOOP_HOME, LABELLOOP_DATABASE_URL)."""
    settings, db = _open()
    # escape: a folder's name may hold rich markup ("[old]"), which would be styled or dropped
    out.print(escape(f"labelloop data in {settings.home} (database {db.engine.url!r})"))


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
    password = sys.stdin.readline().rstrip("\n") if password_stdin else accounts.made_password()
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
        notes = [
            n for n, on in (("admin", row["is_admin"]), ("deactivated", not row["is_active"])) if on
        ]
        out.print(f"{row['username']}" + (f" ({', '.join(notes)})" if notes else ""))


def users_deactivate(name: str) -> None:
    """Deactivate user NAME: no sign-in, sessions and tokens end now, leased items are released."""
    from labelloop.workflow import accounts

    _, db = _open()
    done = _run(lambda: accounts.deactivate_user(db, name))
    tokens, leases = done["tokens_revoked"], done["leases_released"]
    out.print(
        f"{escape(done['username'])} is deactivated: signed out everywhere, {tokens} API "
        f"{'token' if tokens == 1 else 'tokens'} revoked, {leases} leased "
        f"{'item' if leases == 1 else 'items'} back in the queue"
        f"{under_review(done)}; their labels stay theirs",
        highlight=False,
    )


def users_activate(name: str) -> None:
    """Let deactivated user NAME sign in again, with the roles they had."""
    from labelloop.workflow import accounts

    _, db = _open()
    done = _run(lambda: accounts.activate_user(db, name))
    out.print(
        f"{escape(done['username'])} can sign in again (old API tokens stay revoked)",
        highlight=False,
    )


def users_admin(
    name: str,
    off: Annotated[bool, typer.Option("--off", help="Take the rights back instead.")] = False,
) -> None:
    """Make user NAME a site admin, or with --off no longer one; audited."""
    from labelloop.workflow import accounts

    _, db = _open()
    done = _run(lambda: accounts.set_admin(db, name, not off))
    said = "is no longer a site admin" if off else "is a site admin"
    out.print(f"{escape(done['username'])} {said}", highlight=False)


def users_password(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Give user NAME a new password (printed once if not given); their sessions end."""
    from labelloop.workflow import accounts

    _, db = _open()
    given = sys.stdin.readline().rstrip("\n") if password_stdin else None
    done = _run(lambda: accounts.reset_password(db, name, given))
    out.print(
        f"{escape(done['username'])} has a new password; their sessions ended", highlight=False
    )
    if given is None:
        out.print(f"password: {done['password']}", highlight=False)


def tokens_create(
    user: Annotated[str, typer.Argument(metavar="NAME", help="The user the token speaks for.")],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="TEXT",
            help="The token's name in tokens list and the API's `name` (default cli).",
        ),
    ] = None,
    label: Annotated[str | None, typer.Option("--label", hidden=True)] = None,
) -> None:
    """Create a bearer token for user NAME and print it (it is stored hashed, shown once)."""
    from labelloop.errors import LabelloopError
    from labelloop.workflow import accounts

    def go() -> str:
        if name is not None and label is not None:  # --label: its older spelling, for scripts
            raise LabelloopError("give the token's name once, as --name")
        given = name if name is not None else label
        return accounts.create_token(db, user, "cli" if given is None else given)

    _, db = _open()
    typer.echo(_run(go))


def tokens_list(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List user NAME's tokens, newest first: id, name, when made, when revoked."""
    from labelloop.workflow import accounts

    _, db = _open()
    rows = _run(lambda: accounts.list_tokens(db, name))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        out.print(f"{escape(name)} has no tokens", highlight=False)
    for row in rows:
        when = str(row["created_at"])[:16].replace("T", " ")
        state = f"revoked {str(row['revoked_at'])[:10]}" if row["revoked_at"] else "valid"
        out.print(f"{row['id']}  {escape(str(row['name']))}  made {when}  {state}", highlight=False)


def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (tokens list).")],
) -> None:
    """Revoke a token by its id: the next request with it is refused."""
    from labelloop.errors import NotFound
    from labelloop.store.db import MAX_ID
    from labelloop.workflow import accounts

    _, db = _open()

    def go() -> dict[str, object]:
        if not 0 < token_id <= MAX_ID:
            raise NotFound(f"no token {token_id}")
        return accounts.revoke_token(db, token_id)

    done = _run(go)
    out.print(
        f"revoked token {done['id']} ('{escape(str(done['name']))}') "
        f"of {escape(str(done['username']))}",
        highlight=False,
    )
