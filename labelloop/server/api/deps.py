"""Request dependencies: the database and the signed-in user.

They are ``async`` on purpose: each is one short indexed read, cheaper to run on the event loop
than to hand to the thread pool, which the route itself already uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

from labelloop.errors import AuthenticationFailed, PermissionDenied
from labelloop.server.auth import Session, csrf_ok
from labelloop.server.throttle import count_report
from labelloop.store.db import Database
from labelloop.workflow import accounts
from labelloop.workflow.accounts import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def current_user(request: Request, db: Annotated[Database, Depends(get_db)]) -> User:
    """The caller, by bearer token or by session cookie (with its CSRF token on writes)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("use 'Authorization: Bearer <token>'")
        return accounts.user_for_token(db, token.strip())
    session = request.app.state.sessions.read(request)
    if session is None:
        raise AuthenticationFailed(
            "no API token and no signed-in session: send 'Authorization: Bearer <token>' "
            "(labelloop tokens create NAME, or the projects page's API token box), or sign in"
        )
    if request.headers.get("sec-fetch-site") == "cross-site":
        # A link or script on another site navigates with the cookie (SameSite=Lax lets a
        # top-level GET carry it), and some reads act: an export is audited, a review leased.
        raise PermissionDenied(
            "a request from another site reaches the API with a token only, not with a "
            "signed-in session; open it from labelloop's pages"
        )
    if request.method not in SAFE_METHODS and not csrf_ok(session, request):
        raise PermissionDenied("missing or wrong CSRF token; reload the page")
    user = accounts.user_for_session(db, session.user_id, session.generation)
    if user is None:
        raise AuthenticationFailed("this session has ended; sign in again")
    return user


def refuse_undeclared_query(request: Request, declared: Iterable[str]) -> None:
    """A 422 naming each query parameter of the request that is not ``declared``, and listing
    those that are: a misspelt ``stauts=labeled`` would otherwise be dropped without a word,
    and its caller read every item as if they had asked for no filter."""
    if not request.scope.get("query_string"):  # most calls: nothing to parse
        return
    takes = list(dict.fromkeys(declared))
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in takes]
    if not unknown:
        return
    names = ", ".join(f"'{name}'" for name in unknown)
    listed = f"this route takes: {', '.join(takes)}" if takes else "this route takes none"
    many = "s" if len(unknown) > 1 else ""
    msg = f"unknown query parameter{many} {names}; {listed}"
    raise RequestValidationError([{"type": "extra_forbidden", "loc": ("query",), "msg": msg}])


def _query_names(dependant: Dependant) -> Iterator[str]:
    """The query parameters a route declares, its dependencies' included, by the names a
    request sends (an alias: ``from``), in the order its OpenAPI description lists them."""
    yield from (param.alias for param in dependant.query_params)
    for dependency in dependant.dependencies:
        yield from _query_names(dependency)


async def declared_query_only(request: Request) -> None:
    """Refuse (422) a query parameter an /api route does not declare, for every such route at
    once (every router's first dependency, see :func:`make_router`). Pages keep taking what a
    bookmark or their script adds."""
    route = request.scope["route"]
    if route.path.startswith("/api/"):
        refuse_undeclared_query(request, _query_names(route.dependant))


def make_router(**options: Any) -> APIRouter:
    """A router of the app: each of its routes first refuses an undeclared query parameter
    (:func:`declared_query_only`), before its token is checked."""
    return APIRouter(dependencies=[Depends(declared_query_only)], **options)


def session_user(request: Request, db: Database) -> tuple[User, Session] | None:
    """The signed-in user of a browser page and their session, if the session still holds."""
    session = request.app.state.sessions.read(request)
    if session is None:
        return None
    user = accounts.user_for_session(db, session.user_id, session.generation)
    return (user, session) if user is not None else None


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise PermissionDenied("only a site admin may do this")
    return user


async def report_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """The caller of a heavy report, counted against their limit (429 past it, before any
    work): each report is computed once for everyone asking at a time, but one user asking in
    a loop would keep a core busy."""
    count_report(request.app.state.reports, user.id)
    return user


async def get_features(request: Request) -> Any:
    """The process's feature cache (a FeatureCache), shared with its learner."""
    return request.app.state.features


async def get_warmer(request: Request) -> Any:
    """The process's "More like this" warmer (a Warmer), over its feature cache."""
    return request.app.state.warmer


DbDep = Annotated[Database, Depends(get_db)]
FeaturesDep = Annotated[Any, Depends(get_features)]
WarmerDep = Annotated[Any, Depends(get_warmer)]
CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
ReportUser = Annotated[User, Depends(report_user)]
