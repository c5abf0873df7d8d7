"""Accounts: argon2 password hashes, hashed API tokens, and who may do what in a project."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from labelloop.errors import AuthenticationFailed, Conflict, LabelloopError, NotFound
from labelloop.store import audit
from labelloop.store import users as store_users
from labelloop.store.db import Database

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,100}$")
TOKEN_PREFIX = "ll_"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    is_admin: bool


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_token(token: str) -> str:
    """Tokens are long and random, so one SHA-256 is enough (and keeps every request fast)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: object) -> User:
    return User(id=int(row["id"]), username=row["username"], is_admin=bool(row["is_admin"]))  # type: ignore[index]


def create_user(
    db: Database,
    username: str,
    password: str | None,
    *,
    is_admin: bool = False,
    actor_id: int | None = None,
) -> User:
    if not USERNAME.match(username):
        raise LabelloopError(
            f"username '{username[:100]}' may use only letters, digits and _ . @ - (1-100 chars)"
        )
    if password is not None and len(password) < 8:
        raise LabelloopError("password must have at least 8 characters")
    pw_hash = _hasher().hash(password) if password is not None else None
    with db.write() as conn:
        if store_users.by_name(conn, username) is not None:
            raise Conflict(f"user '{username}' already exists")
        uid = store_users.insert_user(
            conn, username=username, password_hash=pw_hash, is_admin=is_admin
        )
        audit.record(
            db,
            conn,
            action="user.create",
            actor_id=actor_id,
            project_id=None,
            subject=f"user:{uid}",
            payload={"username": username, "is_admin": is_admin},
        )
    db.memo.forget()
    return User(id=uid, username=username, is_admin=is_admin)


def authenticate(db: Database, username: str, password: str) -> User:
    """The user with this password, or AuthenticationFailed (same message either way)."""
    failure = AuthenticationFailed("wrong username or password")
    if "\x00" in username:  # no name holds one, and PostgreSQL refuses it in a query
        _hasher().hash(password)
        raise failure
    with db.read() as conn:
        row = store_users.by_name(conn, username)
    if row is None or not row["is_active"] or not row["password_hash"]:
        _hasher().hash(password)  # same cost whether or not the user exists
        raise failure
    try:
        _hasher().verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        raise failure from None
    return _user(row)


def disguising_char(text: str) -> str | None:
    """The first control or formatting character in ``text`` (a line break, an escape sequence,
    a direction override: what could disguise a name or note in a list or the terminal)."""
    return next((c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)


def create_token(db: Database, username: str, name: str = "cli") -> str:
    """A new bearer token for a user; only its hash is stored, so it is shown once.

    The name is shown in lists, the terminal included: it must hold something besides spaces,
    and no control or formatting character (a line break, an escape sequence, a direction
    override) that could disguise it there."""
    name = name.strip()
    if not name:
        raise LabelloopError("give the token a name: what it is for")
    if disguising_char(name) is not None:
        raise LabelloopError("a token name cannot hold control or formatting characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.write() as conn:
        row = store_users.by_name(conn, username)
        if row is None:
            raise LabelloopError(f"no user named '{username}'")
        store_users.insert_token(conn, user_id=row["id"], name=name, token_hash=hash_token(token))
        audit.record(
            db,
            conn,
            action="token.create",
            actor_id=row["id"],
            project_id=None,
            subject=f"user:{row['id']}",
            payload={"name": name},
        )
    return token


def list_tokens(db: Database, username: str) -> list[dict[str, object]]:
    """A user's tokens, newest first: id, name, created_at, revoked_at (the token itself is
    never stored, so never listed)."""
    with db.read() as conn:
        row = store_users.by_name(conn, username)
        if row is None:
            raise NotFound(f"no user named '{username}'")
        return [
            {
                "id": int(t["id"]),
                "name": t["name"],
                "created_at": t["created_at"].isoformat(),
                "revoked_at": t["revoked_at"].isoformat() if t["revoked_at"] else None,
            }
            for t in store_users.tokens_of(conn, row["id"])
        ]


def revoke_token(db: Database, token_id: int, *, by: User | None = None) -> dict[str, object]:
    """Revoke a token: its next request is refused (another process's server sees it within
    its memo's few seconds). A user revokes their own; a site admin, or the local operator
    (``by`` None), anyone's. Audited."""
    with db.write() as conn:
        row = store_users.token_owner(conn, token_id)
        if row is None or (by is not None and not by.is_admin and row["user_id"] != by.id):
            raise NotFound(f"no token {token_id} of yours")  # another's is not even named
        if not store_users.revoke_token(conn, token_id):
            raise Conflict(f"token {token_id} ('{row['name']}') is revoked already")
        audit.record(
            db,
            conn,
            action="token.revoke",
            actor_id=by.id if by is not None else None,
            project_id=None,
            subject=f"user:{row['user_id']}",
            payload={"token_id": token_id, "name": row["name"]},
        )
    db.memo.forget()
    return {"id": token_id, "name": row["name"], "username": row["username"]}


def user_for_token(db: Database, token: str) -> User:
    digest = hash_token(token)

    def lookup() -> User | None:
        with db.read() as conn:
            row = store_users.by_token_hash(conn, digest)
        return _user(row) if row is not None and row["is_active"] else None

    user = db.memo.get(("token", digest), lookup)
    if user is None:
        raise AuthenticationFailed("the API token is not valid")
    return user


def user_by_id(db: Database, user_id: int) -> User | None:
    def lookup() -> User | None:
        with db.read() as conn:
            row = store_users.by_id(conn, user_id)
        return _user(row) if row is not None and row["is_active"] else None

    return db.memo.get(("user", user_id), lookup)


def user_by_name(db: Database, username: str) -> User | None:
    """The active user called ``username`` (None: nobody is)."""
    with db.read() as conn:
        row = store_users.by_name(conn, username)
    return _user(row) if row is not None and row["is_active"] else None


def list_users(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        return store_users.list_users(conn)
