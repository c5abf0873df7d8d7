"""``create_app(settings)``: the FastAPI application, its error handling and its learner."""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import Message, Receive, Scope, Send

from labelloop import __version__
from labelloop.config import Settings
from labelloop.errors import (
    AuthenticationFailed,
    DatabaseUnavailable,
    ImportFormatError,
    LabelloopError,
)
from labelloop.server.api import flags as flags_api
from labelloop.server.api import guidelines as guidelines_api
from labelloop.server.api import insight as insight_api
from labelloop.server.api import media as media_api
from labelloop.server.api import projects, tasks, users
from labelloop.server.api import quality as quality_api
from labelloop.server.api import review as review_api
from labelloop.server.api import search as search_api
from labelloop.server.api import simulations as simulations_api
from labelloop.server.api.deps import make_router
from labelloop.server.api.schemas import ErrorOut
from labelloop.server.auth import Sessions
from labelloop.server.import_progress import ImportProgress
from labelloop.server.throttle import ReportThrottle, SignInThrottle
from labelloop.server.web import pages
from labelloop.server.worker import LearnerProcess
from labelloop.store.db import UNREACHABLE, Database
from labelloop.store.migrate import upgrade
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.status import note_learner_starting
from labelloop.workflow.warming import Warmer

log = logging.getLogger("labelloop.server")
WEB = Path(__file__).parent / "web"

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob: http: https:; media-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""What a page may load and run: labelloop's own scripts and styles only (no inline script, style
attribute or handler, so markup that slipped into an item, a name or a guideline cannot run or
restyle the page), nothing from another site but the http(s) images an HTML item shows, and no
page may frame it. A response that sets its own policy (the simulation chart) keeps it."""

TOKEN_HELP = (
    "A token made with `labelloop tokens create NAME` or the projects page's API token box, sent "
    "as `Authorization: Bearer <token>`. A signed-in page's session cookie works too, with its "
    "CSRF token on writes, from labelloop's own pages only (another site's request is refused)."
)
ERRORS_HELP = (
    "Refused: 401 without a valid token, 403 where the caller's role does not allow it, 404 for "
    "a project they are no member of or a record it does not hold, 409 when the record's state "
    "forbids it now (the detail says why), 413 for a body over 16 MiB, 422 for a value the route "
    "does not take or a query parameter it does not list, 429 with Retry-After when asked too "
    "often. Nothing was changed."
)
APIDOCS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI's script and style, from the fastapi-offline package: the docs page loads nothing
from the network."""

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", PAGE_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


MAX_BODY_BYTES = 16 * 1024**2
"""The largest request body but an import's: far above any answer, guideline or settings change,
and low enough that no caller (signed in or not: a body is read before its token is checked)
can make the server hold gigabytes. An import takes its file (``projects.MAX_UPLOAD_BYTES``)
and this much more for its form fields; its file is spooled to disk, not held."""
_IMPORT = re.compile(r"/api/projects/[^/]+/imports")

Endpoint = Callable[[Request], Awaitable[Response]]
_HOT: tuple[tuple[re.Pattern[str], Endpoint], ...] = (
    (re.compile(r"/api/projects/(?P<slug>[^/]+)/tasks/next"), tasks.next_task),
    (
        re.compile(r"/api/projects/(?P<slug>[^/]+)/tasks/(?P<assignment_id>[^/]+)/submit"),
        tasks.submit,
    ),
)


class LabelloopApp(FastAPI):
    """FastAPI, with the annotators' two hot routes called before its middleware and router.

    Every annotation is one ``next`` and one ``submit``; the middleware stack and route matching
    cost them about a fifth of their CPU. The routes stay registered (OpenAPI, and any path this
    match misses, e.g. behind a root path, takes the ordinary way); errors go to the same
    exception handlers.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = _secured(send)
            receive = _capped(receive, scope)
        refused = _refused(scope) if scope["type"] == "http" else None
        if refused is not None:
            await refused(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            for pattern, endpoint in _HOT:
                found = pattern.fullmatch(scope["path"])
                if found is not None:
                    await self._hot(scope, receive, send, endpoint, found.groupdict())
                    return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI description, saying how a caller authenticates (a bearer token from
        ``labelloop tokens create`` or the projects page), so the docs' Authorize button works."""
        if self.openapi_schema is None:
            schema = super().openapi()
            schema.setdefault("components", {})["securitySchemes"] = {
                "token": {"type": "http", "scheme": "bearer", "description": TOKEN_HELP}
            }
            schema["security"] = [{"token": []}]
            for operation in schema["paths"].get("/api/health", {}).values():
                operation["security"] = []  # the one route anyone may call
            _document_errors(schema)
        return self.openapi_schema

    async def _hot(
        self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint, params: dict
    ) -> None:
        scope["app"] = self
        scope["path_params"] = params
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = next(
                (
                    self.exception_handlers[c]
                    for c in type(exc).__mro__
                    if c in self.exception_handlers
                ),
                None,
            )
            if handler is None:
                raise
            handled = handler(request, exc)
            response = await handled if inspect.isawaitable(handled) else handled
        await response(scope, receive, send)


def _secured(send: Send) -> Send:
    """``send`` with ``SECURITY_HEADERS`` added to the response's start, each unless the
    response set it itself."""

    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
            message = {**message, "headers": headers}
        await send(message)

    return secured


def _body_limit(scope: Scope) -> int:
    """The most bytes the request's body may hold (``MAX_BODY_BYTES``; an import's more)."""
    if scope["method"] == "POST" and _IMPORT.fullmatch(scope["path"]):
        return projects.MAX_UPLOAD_BYTES + MAX_BODY_BYTES
    return MAX_BODY_BYTES


def _declared_length(scope: Scope) -> int:
    """The body's length its Content-Length header declares (0 without one; the server
    refuses a malformed one itself)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _capped(receive: Receive, scope: Scope) -> Receive:
    """``receive``, refusing the request (413) as its route reads a body past its limit: one
    whose Content-Length is over it before a byte is read, one sent without (chunked) once the
    bytes that arrived pass it, so no body is ever held whole beyond the limit."""
    limit = _body_limit(scope)
    declared = _declared_length(scope)
    seen = 0

    def too_large() -> StarletteHTTPException:
        detail = f"the request body is larger than {limit:,} bytes, the most this route takes"
        return StarletteHTTPException(413, detail)

    async def capped() -> Message:
        nonlocal seen
        if declared > limit:
            raise too_large()
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large()
        return message

    return capped


EMBEDDED = (
    "the API answers a page's scripts, links and downloads, not an image, frame or style "
    "that embeds it (only an item's media and thumbnail are pictures)"
)
_MEDIA_PATH = re.compile(r"/api/projects/[^/]+/items/[0-9]+/(?:media|thumbnail)")
_MEDIA_DESTS = frozenset({b"image", b"audio", b"video", b"track"})


def _embedded_api_call(scope: Scope) -> bool:
    """Whether the browser says this API request loads an image, frame, style or the like
    (``Sec-Fetch-Dest``), other than an item's own media. An HTML item may show pictures from
    any http(s) address, this server's included: one pointing at the API (a model download,
    which trains and audits) would be fetched with the reviewer's cookie, so such loads are
    refused before any work. Scripts (``empty``) and navigations (``document``) are served."""
    if not scope["path"].startswith("/api/"):
        return False
    dest = next((v for k, v in scope.get("headers", ()) if k == b"sec-fetch-dest"), b"")
    if dest in (b"", b"empty", b"document"):
        return False
    return not (dest in _MEDIA_DESTS and _MEDIA_PATH.fullmatch(scope["path"]))


def _refused(scope: Scope) -> JSONResponse | None:
    """The answer to a request refused before any route sees it, or None."""
    if _holds_nul(scope):
        # No slug, name or search holds one, and PostgreSQL refuses it in a query (a 500).
        detail = "the request's path or query holds a NUL character (U+0000)"
        return JSONResponse({"error": "BadRequest", "detail": detail}, status_code=400)
    if _embedded_api_call(scope):
        return JSONResponse({"error": "Forbidden", "detail": EMBEDDED}, status_code=403)
    return None


def _holds_nul(scope: Scope) -> bool:
    """Whether the decoded path or the raw query string holds a NUL (``%00`` once decoded)."""
    query = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


def _is_page(request: Request) -> bool:
    """Whether an error answers a browser page (HTML) rather than the API (JSON): any path
    outside /api and /static, unless the client asks for JSON and not HTML."""
    path = request.url.path
    if path in ("/api", "/static") or path.startswith(("/api/", "/static/")):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/json" not in accept


def _field_path(loc: Sequence[int | str]) -> str:
    """Where a validation error is, e.g. ``summary`` or ``query.limit``: a body's fields are
    named without the leading "body" (and a field itself named ``body`` keeps its name); the
    body as a whole (not JSON, not an object) is ``body``."""
    parts = loc[1:] if len(loc) > 1 and loc[0] == "body" else loc
    return ".".join(str(p) for p in parts)


def _document_errors(schema: dict[str, Any]) -> None:
    """Describe errors as the exception handlers below answer them, one body for every status
    (FastAPI describes only a 422, shaped as its own handler would answer it)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for fastapis in ("HTTPValidationError", "ValidationError"):
        components.pop(fastapis, None)
    components["Error"] = ErrorOut.model_json_schema()
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses or path.startswith("/api/"):  # any query can hold a stray
                responses["422"] = {
                    "description": "A field of the request is not what the route takes, or "
                    "the query holds a parameter the route does not list: the detail names it",
                    "content": {"application/json": {"schema": error}},
                }
            if path != "/api/health":
                responses["4XX"] = {
                    "description": ERRORS_HELP,
                    "content": {"application/json": {"schema": error}},
                }


def _sign_in_first(request: Request) -> RedirectResponse:
    """To the login form, which sends the visitor back to the page they asked for, query and all.

    The form follows ``next`` only to a same-site path (``pages._safe_next``).
    """
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here)}", status_code=303)


def _no_telemetry() -> dict[str, object]:
    """Turn off FastAPI's built-in OpenTelemetry where the installed FastAPI has it.

    labelloop sends nothing anywhere (an environment variable could otherwise attach exporters),
    and the per-request spans and metrics cost CPU on the annotators' hot path.
    """
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    off = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    return {"telemetry": {**off, "auto_configure": False}}


@functools.cache
def _routes() -> tuple[BaseRoute, ...]:
    """Every route of the API and the pages, built once per process and shared by its apps, in
    the order they are matched: the annotators' hot routes first.

    The routes are taken as their routers built them: FastAPI builds an included router's
    routes again (each parameter's validator) on an app's first request, about 0.2 s of CPU for
    these ~100 routes. ``make_router`` gives each its query check."""
    own = make_router(tags=["health"])

    @own.get("/api/health")
    def health() -> dict[str, str]:
        """Whether the server answers, and its version; no token needed."""
        return {"status": "ok", "version": __version__}

    routers = (
        tasks.router,
        users.router,
        projects.router,
        guidelines_api.router,
        flags_api.router,
        review_api.router,
        search_api.router,
        simulations_api.router,
        media_api.router,
        quality_api.router,
        insight_api.router,
        pages.router,
        own,
    )
    return tuple(route for router in routers for route in router.routes)


def create_app(
    settings: Settings, *, db: Database | None = None, learner: bool | None = None
) -> FastAPI:
    """Build the app on ``settings``; migrations run here, the learner starts with the server."""
    database = db or Database(settings.db_url)
    if db is None:
        settings.ensure_home()
        upgrade(database)
    mode = settings.learner if learner is None else ("thread" if learner else "off")
    if mode not in ("process", "thread", "off"):
        raise LabelloopError(f"LABELLOOP_LEARNER must be process, thread or off, not '{mode}'")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bg = None
        child = None
        database.checkpoint_in_background()  # WAL checkpoints off the annotators' requests
        if mode == "thread":
            from labelloop.workflow.learning import Learner  # scikit-learn loads off the start path

            bg = Learner(database, poll_s=settings.learner_poll_s, cache=app.state.features)
            bg.start()
        elif mode == "process":
            note_learner_starting(database)
            child = LearnerProcess(settings)
        app.state.learner = bg
        app.state.warmer.ask_ahead()  # in the background: the server answers meanwhile
        yield
        if bg is not None:
            bg.stop()
        if child is not None:
            child.stop()
        database.stop_checkpoints()

    app = LabelloopApp(
        title="labelloop",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # pages.api_docs serves /docs from installed files; FastAPI's uses a CDN
        redoc_url=None,
        **_no_telemetry(),
    )
    app.state.db = database
    app.state.settings = settings
    app.state.features = FeatureCache(
        settings.features_dir, media_roots=settings.media_root_paths
    )  # shared by learner and search
    # "More like this" prepared after a start and an import, where a learner runs
    app.state.warmer = Warmer(database, app.state.features, ahead=mode != "off")
    app.state.sessions = Sessions(
        settings.secret(), max_age_s=settings.session_max_age_s, secure=settings.secure_cookies
    )
    app.state.sign_ins = SignInThrottle()
    app.state.reports = ReportThrottle()
    app.state.import_progress = ImportProgress()
    app.state.templates = Jinja2Templates(directory=str(WEB / "templates"))
    app.mount("/static/apidocs", StaticFiles(directory=str(APIDOCS)), name="apidocs")
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")
    app.router.routes.extend(_routes())

    @app.exception_handler(LabelloopError)
    async def labelloop_error(request: Request, exc: LabelloopError) -> Response:
        if isinstance(exc, AuthenticationFailed) and _is_page(request):
            return _sign_in_first(request)
        retry = getattr(exc, "retry_after_s", None)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        if _is_page(request):
            return pages.error_page(
                request, status_code=exc.status, detail=exc.message, headers=headers
            )
        body: dict[str, Any] = {"error": type(exc).__name__, "detail": exc.message}
        if isinstance(exc, ImportFormatError):  # where, for a script to point at the record
            body.update(
                line=exc.line,
                unit=exc.unit,
                field=exc.field,
                file=exc.file,
                reason=exc.reason,
                cites=exc.cites,
            )
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(pages.LoginRequired)
    async def login_required(request: Request, exc: pages.LoginRequired) -> Response:
        return _sign_in_first(request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{_field_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        detail = "; ".join(problems)[:2000]
        if _is_page(request):
            return pages.error_page(request, status_code=422, detail=detail)
        return JSONResponse({"error": "ValidationError", "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_page(request):
            detail = (
                f"there is no page at {request.url.path}"
                if exc.status_code == 404
                else str(exc.detail)
            )
            return pages.error_page(
                request, status_code=exc.status_code, detail=detail, headers=exc.headers
            )
        return JSONResponse(
            {"error": "HTTPError", "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,  # a 405's Allow
        )

    async def database_away(request: Request, exc: Exception) -> Response:
        """A restart or failover: say so, and that a retry will do."""
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, exc)
        away = DatabaseUnavailable(
            "the database cannot be reached right now; try again in a few seconds"
        )
        return await labelloop_error(request, away)

    # Handled as the errors they are, not under Exception: Starlette answers that handler's
    # response and then raises the error on to the server, which logs it with its traceback.
    for error in UNREACHABLE:
        app.add_exception_handler(error, database_away)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        detail = "an unexpected error happened; see the server log"
        if _is_page(request):
            return pages.error_page(request, status_code=500, detail=detail)
        return JSONResponse({"error": "InternalError", "detail": detail}, status_code=500)

    return app
