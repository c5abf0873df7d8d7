"""Who am I, users (admins), and API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from labelloop.server.api.deps import AdminUser, CurrentUser, DbDep, make_router
from labelloop.server.api.schemas import (
    AdminIn,
    Id,
    PasswordChangeIn,
    PasswordResetIn,
    TokenIn,
    UserIn,
)
from labelloop.server.throttle import client_address, guarded
from labelloop.workflow import accounts, auditing

router = make_router(prefix="/api", tags=["users"])


@router.get("/me")
def me(user: CurrentUser) -> dict[str, Any]:
    """The caller: id, username and whether they are a site admin."""
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin}


@router.put("/me/password")
def change_password(
    body: PasswordChangeIn, request: Request, response: Response, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """Change the caller's password, given the current one. Every other session of theirs ends
    (other browsers, copied cookies); this browser's is renewed. API tokens keep working.
    Wrong current passwords count against the caller like failed sign-ins (429 past the
    limit), so a stolen session cannot guess the password at speed."""
    fresh = guarded(
        request.app.state.sign_ins,
        user.username,
        client_address(request),
        lambda: accounts.change_own_password(db, user, body.current_password, body.new_password),
    )
    _renew_session(request, response, fresh)
    return {"username": fresh.username, "sessions_ended": True}


def _renew_session(request: Request, response: Response, user: accounts.User) -> None:
    """Keep the calling browser signed in after its user's sessions ended (same CSRF token)."""
    sessions = request.app.state.sessions
    session = None if request.headers.get("authorization") else sessions.read(request)
    if session is not None and session.user_id == user.id:
        sessions.issue(response, user.id, generation=user.session_generation, csrf=session.csrf)


@router.get("/users")
def list_users(db: DbDep, _admin: AdminUser) -> list[dict[str, Any]]:
    """Every user, active or deactivated (site admins)."""
    return accounts.list_users(db)


@router.post("/users", status_code=201)
def create_user(body: UserIn, db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Add a user, a site admin with ``is_admin`` (site admins; audited), with the password
    sent or, without one, a made one answered here once."""
    password = body.password if body.password is not None else accounts.made_password()
    user = accounts.create_user(
        db, body.username, password, is_admin=body.is_admin, actor_id=admin.id
    )
    made = {"password": password} if body.password is None else {}
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin, **made}


@router.post("/users/{username}/deactivate")
def deactivate_user(username: str, db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Deactivate a user: no more sign-ins; sessions and API tokens stop at once, leases are
    released; their labels stay attributed. Not yourself, nor the last active site admin."""
    return accounts.deactivate_user(db, username, by=admin)


@router.post("/users/{username}/activate")
def activate_user(username: str, db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Let a deactivated user sign in again (their roles are as they were; tokens stay revoked)."""
    return accounts.activate_user(db, username, by=admin)


@router.put("/users/{username}/admin")
def set_admin(username: str, body: AdminIn, db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Grant or take back a user's site admin rights (not one's own, nor the last active site
    admin's); audited."""
    return accounts.set_admin(db, username, body.is_admin, by=admin)


@router.put("/users/{username}/password")
def reset_password(
    username: str,
    body: PasswordResetIn,
    request: Request,
    response: Response,
    db: DbDep,
    admin: AdminUser,
) -> dict[str, Any]:
    """Give a user a new password (the one sent, or a made one answered here once); every
    session of theirs ends. Their API tokens keep working."""
    done = accounts.reset_password(db, username, body.password, by=admin)
    if done["id"] == admin.id:
        _renew_session(request, response, accounts.user_by_id(db, admin.id) or admin)
    made = {"password": done["password"]} if body.password is None else {}
    return {"username": done["username"], "sessions_ended": True, **made}


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
    return accounts.list_tokens(db, username or user.username, by=user)


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Id, db: DbDep, user: CurrentUser) -> dict[str, object]:
    """Revoke one of the caller's tokens (a site admin, anyone's); it stops working at once."""
    return accounts.revoke_token(db, token_id, by=user)


@router.get("/audit")
def site_audit_events(
    db: DbDep,
    admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=auditing.MAX_EVENTS)] = 50,
    action: Annotated[str | None, Query(max_length=50)] = None,
) -> list[dict[str, Any]]:
    """The site's newest audit events, newest first (site admins): who made, deactivated,
    reactivated or reset whose account (``whom``), tokens, projects made; ``action`` filters,
    e.g. ``user.deactivate``."""
    return auditing.site_events(db, admin, limit=limit, action=action)


@router.get("/audit/verify")
def verify_site_audit(db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Whether the site's audit hash chain (users, tokens, projects made) is intact, and every
    project's guideline texts are the ones their audit events recorded (``guidelines``)."""
    return auditing.verify_site(db, admin)
