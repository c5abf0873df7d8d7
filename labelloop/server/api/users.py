"""Who am I, users (admins), and API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.errors import PermissionDenied
from labelloop.server.api.deps import AdminUser, CurrentUser, DbDep
from labelloop.server.api.schemas import Id, TokenIn, UserIn
from labelloop.workflow import accounts, auditing

router = APIRouter(prefix="/api", tags=["users"])


@router.get("/me")
def me(user: CurrentUser) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin}


@router.get("/users")
def list_users(db: DbDep, _admin: AdminUser) -> list[dict[str, Any]]:
    return accounts.list_users(db)


@router.post("/users", status_code=201)
def create_user(body: UserIn, db: DbDep, admin: AdminUser) -> dict[str, Any]:
    user = accounts.create_user(
        db, body.username, body.password, is_admin=body.is_admin, actor_id=admin.id
    )
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin}


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, db: DbDep, user: CurrentUser) -> dict[str, str]:
    """A new bearer token for the caller, shown once."""
    return {"token": accounts.create_token(db, user.username, body.name)}


@router.get("/tokens")
def list_tokens(
    db: DbDep,
    user: CurrentUser,
    username: Annotated[str | None, Query(max_length=100)] = None,
) -> list[dict[str, object]]:
    """The caller's tokens (a site admin may name another user): id, name, when made, when
    revoked. The tokens themselves are never stored."""
    if username is not None and username != user.username and not user.is_admin:
        raise PermissionDenied("only a site admin lists another user's tokens")
    return accounts.list_tokens(db, username or user.username)


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Id, db: DbDep, user: CurrentUser) -> dict[str, object]:
    """Revoke one of the caller's tokens (a site admin, anyone's); it stops working at once."""
    return accounts.revoke_token(db, token_id, by=user)


@router.get("/audit/verify")
def verify_site_audit(db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Whether the site's audit hash chain (users, tokens, projects made) is intact."""
    return auditing.verify_site(db, admin)
