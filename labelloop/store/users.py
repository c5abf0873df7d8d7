"""Users, their API tokens and their project memberships."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

from labelloop.store.db import new_id
from labelloop.store.tables import api_token, assignment, membership, project, user

NEXT_GENERATION = user.c.session_generation + 1
"""Bumped by whatever ends a user's sessions: cookies issued before carry an older value."""


def now() -> datetime:
    return datetime.now(UTC)


def insert_user(
    conn: Connection, *, username: str, password_hash: str | None, is_admin: bool
) -> int:
    res = conn.execute(
        user.insert().values(
            username=username,
            password_hash=password_hash,
            is_admin=is_admin,
            is_active=True,
            created_at=now(),
        )
    )
    return new_id(res)


def set_password(conn: Connection, user_id: int, password_hash: str) -> None:
    """A new password hash; every session of the user ends with it."""
    conn.execute(
        user.update()
        .where(user.c.id == user_id)
        .values(password_hash=password_hash, session_generation=NEXT_GENERATION)
    )


def end_sessions(conn: Connection, user_id: int) -> None:
    """Refuse every session cookie issued to the user so far (they carry an older generation)."""
    conn.execute(
        user.update().where(user.c.id == user_id).values(session_generation=NEXT_GENERATION)
    )


def set_active(conn: Connection, user_id: int, active: bool) -> None:
    """(De)activate a user; either way their sessions end, so a reactivated user signs in anew."""
    conn.execute(
        user.update()
        .where(user.c.id == user_id)
        .values(is_active=active, session_generation=NEXT_GENERATION)
    )


def set_admin(conn: Connection, user_id: int, is_admin: bool) -> None:
    conn.execute(user.update().where(user.c.id == user_id).values(is_admin=is_admin))


def count_active_admins(conn: Connection) -> int:
    q = select(func.count()).select_from(user).where(user.c.is_admin, user.c.is_active)
    return int(conn.execute(q).scalar_one())


def revoke_tokens_of(conn: Connection, user_id: int) -> int:
    """Revoke every still-valid token of a user; how many were."""
    res = conn.execute(
        update(api_token)
        .where(api_token.c.user_id == user_id, api_token.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return int(res.rowcount)


def release_leases(conn: Connection, *, user_id: int, project_id: int | None = None) -> int:
    """Give back the user's live leases (in one project, or in all): their items return to the
    queue for others. How many were released."""
    q = update(assignment).where(
        assignment.c.user_id == user_id,
        assignment.c.state == "leased",
        assignment.c.lease_expires_at > now(),
    )
    if project_id is not None:
        q = q.where(assignment.c.project_id == project_id)
    return int(conn.execute(q.values(state="released")).rowcount)


def by_name(conn: Connection, username: str) -> RowMapping | None:
    """The user a person means by ``username``, typed in any case, as created (every lookup of
    a user by name: signing in, roles, admin rights, filters). Names are ASCII, so only ASCII
    folds: a look-alike such as the Kelvin sign, whose lower case is "k", names nobody.

    No two names differ only in case today, but older sites may hold such a pair: there the
    exact spelling names its own user, and a spelling that fits both names neither (None)."""
    exact = conn.execute(select(user).where(user.c.username == username)).mappings().first()
    if exact is not None or not username.isascii():
        return exact
    q = select(user).where(func.lower(user.c.username) == username.lower()).limit(2)
    alike = conn.execute(q).mappings().all()
    return alike[0] if len(alike) == 1 else None


def by_name_in_any_case(conn: Connection, username: str) -> RowMapping | None:
    """A user whose name is ``username`` but for case, even where several are (names are
    ASCII): what a new name must not be."""
    q = select(user).where(func.lower(user.c.username) == username.lower()).limit(1)
    return conn.execute(q).mappings().first()


def by_id(conn: Connection, user_id: int) -> RowMapping | None:
    return conn.execute(select(user).where(user.c.id == user_id)).mappings().first()


def by_token_hash(conn: Connection, token_hash: str) -> RowMapping | None:
    q = (
        select(user)
        .join(api_token, api_token.c.user_id == user.c.id)
        .where(api_token.c.token_hash == token_hash, api_token.c.revoked_at.is_(None))
    )
    return conn.execute(q).mappings().first()


def insert_token(conn: Connection, *, user_id: int, name: str, token_hash: str) -> int:
    res = conn.execute(
        api_token.insert().values(
            user_id=user_id, name=name, token_hash=token_hash, created_at=now()
        )
    )
    return new_id(res)


def tokens_of(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    """A user's tokens, newest first: id, name, when made and when revoked (never the hash)."""
    q = (
        select(api_token.c.id, api_token.c.name, api_token.c.created_at, api_token.c.revoked_at)
        .where(api_token.c.user_id == user_id)
        .order_by(api_token.c.id.desc())
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def token_owner(conn: Connection, token_id: int) -> RowMapping | None:
    """The token's row with its owner's user name (``username``)."""
    q = (
        select(api_token, user.c.username)
        .join(user, user.c.id == api_token.c.user_id)
        .where(api_token.c.id == token_id)
    )
    return conn.execute(q).mappings().first()


def revoke_token(conn: Connection, token_id: int) -> bool:
    """Revoke a token that is still valid; whether it was."""
    res = conn.execute(
        update(api_token)
        .where(api_token.c.id == token_id, api_token.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return bool(res.rowcount)


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(user)).scalar_one())


def list_users(conn: Connection) -> list[dict[str, Any]]:
    q = select(
        user.c.id, user.c.username, user.c.is_admin, user.c.is_active, user.c.created_at
    ).order_by(user.c.id)
    return [dict(r) for r in conn.execute(q).mappings()]


def role_in(conn: Connection, *, project_id: int, user_id: int) -> str | None:
    q = select(membership.c.role).where(
        membership.c.project_id == project_id, membership.c.user_id == user_id
    )
    return conn.execute(q).scalar()


def set_role(conn: Connection, *, project_id: int, user_id: int, role: str) -> None:
    remove_member(conn, project_id=project_id, user_id=user_id)
    conn.execute(
        membership.insert().values(
            project_id=project_id, user_id=user_id, role=role, created_at=now()
        )
    )


def remove_member(conn: Connection, *, project_id: int, user_id: int) -> None:
    conn.execute(
        membership.delete().where(
            membership.c.project_id == project_id, membership.c.user_id == user_id
        )
    )


def count_managers(conn: Connection, project_id: int) -> int:
    q = select(func.count()).where(
        membership.c.project_id == project_id, membership.c.role == "manager"
    )
    return int(conn.execute(q).scalar_one())


def members(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    q = (
        select(user.c.id, user.c.username, membership.c.role, user.c.is_active)
        .join(membership, membership.c.user_id == user.c.id)
        .where(membership.c.project_id == project_id)
        .order_by(user.c.username)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def still_working(conn: Connection, project_id: int, user_ids: Iterable[int]) -> set[int]:
    """Which of ``user_ids`` may still work on the project: its members and the site's admins,
    with active accounts. The others' work stays in the figures, said to be of people gone."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    member = select(membership.c.user_id).where(
        membership.c.project_id == project_id, membership.c.user_id == user.c.id
    )
    q = select(user.c.id).where(
        user.c.id.in_(ids), user.c.is_active.is_(True), user.c.is_admin.is_(True) | member.exists()
    )
    return {int(i) for i in conn.execute(q).scalars()}


def projects_of(conn: Connection, user_id: int, *, is_admin: bool) -> list[dict[str, Any]]:
    """Projects a user may see, with their role (admins see all; role None where not a member)."""
    q = select(project.c.id, project.c.slug, project.c.name, membership.c.role).outerjoin(
        membership, (membership.c.project_id == project.c.id) & (membership.c.user_id == user_id)
    )
    if not is_admin:
        q = q.where(membership.c.user_id == user_id)
    return [dict(r) for r in conn.execute(q.order_by(project.c.slug)).mappings()]
