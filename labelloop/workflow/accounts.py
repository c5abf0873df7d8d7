"""Accounts: argon2 password hashes, hashed API tokens, and who may do what in a project."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from labelloop.errors import (
    AuthenticationFailed,
    Conflict,
    LabelloopError,
    NotFound,
    PermissionDenied,
)
from labelloop.schema.names import disguising_at
from labelloop.store import audit
from labelloop.store import review_leases as store_leases
from labelloop.store import users as store_users
from labelloop.store.db import Database

USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,100}")
TOKEN_PREFIX = "ll_"
LOGIN_REFUSED = (
    "wrong username or password, or the account is deactivated (a site admin can reactivate it)"
)


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    is_admin: bool
    session_generation: int = 0
    """The generation a session cookie must carry to be honoured (see ``user_for_session``)."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_token(token: str) -> str:
    """Tokens are long and random, so one SHA-256 is enough (and keeps every request fast)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: Any) -> User:
    return User(
        id=int(row["id"]),
        username=row["username"],
        is_admin=bool(row["is_admin"]),
        session_generation=int(row["session_generation"]),
    )


def made_password() -> str:
    """A random password for a site admin to hand over (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def _password_hash(password: str) -> str:
    if len(password) < 8:
        raise LabelloopError("password must have at least 8 characters")
    return _hasher().hash(password)


def create_user(
    db: Database,
    username: str,
    password: str | None,
    *,
    is_admin: bool = False,
    actor_id: int | None = None,
) -> User:
    # fullmatch, not match with ``$``, which would let a trailing line break through
    if not USERNAME.fullmatch(username):
        raise LabelloopError(
            f"username '{username[:100]}' may use only letters, digits and _ . @ - (1-100 chars)"
        )
    if not username.strip("."):  # an address would read it as "this folder" or "the one above"
        raise LabelloopError(
            f"username '{username}' cannot be dots only: its page and API addresses would not "
            "reach it"
        )
    pw_hash = _password_hash(password) if password is not None else None
    with db.write() as conn:
        alike = store_users.by_name(conn, username) or store_users.by_name_in_any_case(
            conn, username
        )
        if alike is not None and alike["username"] == username:
            raise Conflict(f"user '{username}' already exists")
        if alike is not None:
            raise Conflict(
                f"username '{username}' differs only in case from '{alike['username']}', who "
                "exists already: one would pass for the other in lists and the audit log"
            )
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


def user_row(conn: Any, username: str) -> Any:
    """The user called ``username`` (in any case), deactivated or not, or NotFound."""
    row = store_users.by_name(conn, username)
    if row is None:
        raise NotFound(f"no user named '{username[:100]}'")
    return row


def authenticate(db: Database, username: str, password: str) -> User:
    """The user with this password, or AuthenticationFailed. The message is the same whether
    the name, the password or the account's state was the trouble, so a sign-in form tells no
    one which names exist, nor whether a deactivated account's password was right."""
    failure = AuthenticationFailed(LOGIN_REFUSED)
    if "\x00" in username:  # no name holds one, and PostgreSQL refuses it in a query
        _hasher().hash(password)
        raise failure
    with db.read() as conn:
        row = store_users.by_name(conn, username)
    if row is None or not row["is_active"] or not row["password_hash"]:
        _hasher().hash(password)  # same cost whether or not the user exists
        raise failure
    if not _password_matches(row["password_hash"], password):
        raise failure
    return _user(row)


def create_token(db: Database, username: str, name: str = "cli") -> str:
    """A new bearer token for a user; only its hash is stored, so it is shown once.

    The name is shown in lists, the terminal included: it must hold something besides spaces,
    and no control or formatting character (a line break, an escape sequence, a direction
    override) that could disguise it there."""
    name = name.strip()
    if not name:
        raise LabelloopError("give the token a name: what it is for")
    if disguising_at(name) is not None:
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


def list_tokens(db: Database, username: str, *, by: User | None = None) -> list[dict[str, object]]:
    """A user's tokens, newest first: id, name, created_at, revoked_at (the token itself is
    never stored, so never listed). A user lists their own; a site admin, or the local
    operator (``by`` None), anyone's."""
    own = by is None or by.is_admin or username.lower() == by.username.lower()
    if not own:  # refused before the lookup, so the answer tells nothing of the name
        raise PermissionDenied("only a site admin lists another user's tokens")
    with db.read() as conn:
        row = store_users.by_name(conn, username)
        if row is None or (by is not None and not by.is_admin and row["id"] != by.id):
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
        own_only = by is not None and not by.is_admin
        if row is None or (own_only and row["user_id"] != by.id):
            # another's is not even named; a site admin or the CLI may revoke anyone's
            raise NotFound(f"no token {token_id}{' of yours' if own_only else ''}")
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


def user_for_session(db: Database, user_id: int, generation: int) -> User | None:
    """The active user a session cookie names, if the cookie is of their current generation:
    signing out, a new password and deactivation end the sessions issued before them.

    It reads the row every request reads anyway (memoized), so ending sessions costs the
    serving path no query. A cookie newer than the memo (issued by another process just now)
    re-reads the row once rather than being refused.
    """
    user = user_by_id(db, user_id)
    if user is not None and generation > user.session_generation:
        db.memo.forget(lambda key: key == ("user", user_id))
        user = user_by_id(db, user_id)
    if user is None or user.session_generation != generation:
        return None
    return user


def sign_out(db: Database, user: User) -> None:
    """End every session of ``user`` (all their browsers: a session is not told from another),
    audited."""
    with db.write() as conn:
        store_users.end_sessions(conn, user.id)
        _audit_user(db, conn, "user.sign_out", user_id=user.id, actor_id=user.id)
    db.memo.forget(lambda key: key == ("user", user.id))


def _audit_user(
    db: Database,
    conn: Any,
    action: str,
    *,
    user_id: int,
    actor_id: int | None,
    payload: dict[str, Any] | None = None,
) -> None:
    """One site audit event about a user's account."""
    audit.record(
        db,
        conn,
        action=action,
        actor_id=actor_id,
        project_id=None,
        subject=f"user:{user_id}",
        payload=payload,
    )


def deactivate_user(db: Database, username: str, *, by: User | None = None) -> dict[str, Any]:
    """Deactivate a user (a site admin's act, or the local operator's when ``by`` is None).

    They can no longer sign in; their sessions end and their API tokens are revoked at once
    (another process's server sees it within its memo's few seconds); their live leases are
    released so the items go back to the queue, and so are the items they had on their review
    pages (``review_leases_released``). Their answers, reviews and memberships stay,
    attributed to them. Nobody deactivates themselves or the last active site admin.
    """
    with db.write() as conn:
        row = user_row(conn, username)
        if not row["is_active"]:
            raise Conflict(f"{row['username']} is deactivated already")
        _keep_an_admin(conn, row, by, own="you cannot deactivate yourself")
        store_users.set_active(conn, row["id"], False)
        done = {
            "username": row["username"],
            "is_active": False,
            "tokens_revoked": store_users.revoke_tokens_of(conn, row["id"]),
            "leases_released": store_users.release_leases(conn, user_id=row["id"]),
            "review_leases_released": store_leases.release_all(
                conn, user_id=row["id"], at=store_users.now()
            ),
        }
        _audit_user(
            db, conn, "user.deactivate", user_id=row["id"], actor_id=_actor(by), payload=done
        )
    db.memo.forget()
    return done


def activate_user(db: Database, username: str, *, by: User | None = None) -> dict[str, Any]:
    """Let a deactivated user sign in again, with their roles as they were (their old tokens
    stay revoked: they make new ones)."""
    with db.write() as conn:
        row = user_row(conn, username)
        if row["is_active"]:
            raise Conflict(f"{row['username']} is active already")
        store_users.set_active(conn, row["id"], True)
        done = {"username": row["username"], "is_active": True}
        _audit_user(db, conn, "user.activate", user_id=row["id"], actor_id=_actor(by), payload=done)
    db.memo.forget()
    return done


def set_admin(
    db: Database, username: str, is_admin: bool, *, by: User | None = None
) -> dict[str, Any]:
    """Grant or take back site admin rights (a site admin's act, or the local operator's),
    audited. Nobody takes back their own (they ask another site admin), nor the last active
    site admin's; the user's next request has the rights as they are now."""
    with db.write() as conn:
        row = user_row(conn, username)
        if bool(row["is_admin"]) == is_admin:
            raise Conflict(
                f"{row['username']} is a site admin already"
                if is_admin
                else f"{row['username']} is no site admin"
            )
        if not is_admin:
            _keep_an_admin(conn, row, by, own="you cannot take back your own site admin rights")
        store_users.set_admin(conn, row["id"], is_admin)
        done = {"username": row["username"], "is_admin": is_admin}
        _audit_user(db, conn, "user.admin", user_id=row["id"], actor_id=_actor(by), payload=done)
    db.memo.forget()
    return done


def _keep_an_admin(conn: Any, row: Any, by: User | None, *, own: str) -> None:
    """Refuse an act that would take the user ``row`` out of the site admins: one's own (``own``
    says what), or the last active site admin's, so the site always keeps one."""
    if by is not None and by.id == row["id"]:
        raise Conflict(f"{own}; ask another site admin")
    if row["is_admin"] and row["is_active"] and store_users.count_active_admins(conn) <= 1:
        raise Conflict(f"{row['username']} is the last active site admin; make another admin first")


def _actor(by: User | None) -> int | None:
    return by.id if by is not None else None


def reset_password(
    db: Database, username: str, password: str | None = None, *, by: User | None = None
) -> dict[str, Any]:
    """Give a user a new password (a site admin's act, or the local operator's); without one, a
    random one is made. Every session of theirs ends; their API tokens keep working. Answers
    the user's ``id`` and ``username`` and the ``password``, to be shown once."""
    password = password if password is not None else made_password()
    digest = _password_hash(password)
    with db.write() as conn:
        row = user_row(conn, username)
        store_users.set_password(conn, row["id"], digest)
        _audit_user(db, conn, "user.password_reset", user_id=row["id"], actor_id=_actor(by))
    db.memo.forget(lambda key: key == ("user", row["id"]))
    return {"id": int(row["id"]), "username": row["username"], "password": password}


def change_own_password(db: Database, user: User, current: str, new: str) -> User:
    """A user's new password, given their current one. Every session of theirs ends, the one
    asking included: the caller issues it anew from the returned user (of the new generation)."""
    digest = _password_hash(new)
    with db.write() as conn:
        row = store_users.by_id(conn, user.id)
        if row is None or not _password_matches(row["password_hash"], current):
            raise PermissionDenied("the current password is not right")
        store_users.set_password(conn, user.id, digest)
        _audit_user(db, conn, "user.password_change", user_id=user.id, actor_id=user.id)
        fresh = _user(store_users.by_id(conn, user.id))
    db.memo.forget(lambda key: key == ("user", user.id))
    return fresh


def _password_matches(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return bool(_hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def user_by_name(db: Database, username: str) -> User | None:
    """The active user called ``username`` (None: nobody is)."""
    with db.read() as conn:
        row = store_users.by_name(conn, username)
    return _user(row) if row is not None and row["is_active"] else None


def list_users(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        return store_users.list_users(conn)
