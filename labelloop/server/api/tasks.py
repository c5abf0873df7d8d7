"""The labeling API: next task (and why there is none), submit, skip, and going back to change
an annotation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter, ValidationError

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import (
    CurrentUser,
    DbDep,
    current_user,
    make_router,
    refuse_undeclared_query,
)
from labelloop.server.api.schemas import Id, NextIn, ReleaseIn, SubmitIn
from labelloop.store.db import Database
from labelloop.workflow import projects, review, tasks

router = make_router(prefix="/api/projects/{slug}", tags=["tasks"])


T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
_ID = TypeAdapter(Id)  # the hot routes read their own path, with the bounds of every other route


async def _hot(db: Database, work: Callable[[], T]) -> T:
    """Run a serving-path call where it is fastest.

    On SQLite every write waits for the one writer anyway, so the call runs on the event loop
    and saves the thread hop. On PostgreSQL calls wait on the network and on row locks while
    others could proceed, so they go to the thread pool.
    """
    return work() if db.is_sqlite else await run_in_threadpool(work)


def _told(ctx: projects.ProjectContext, answered: dict[str, Any]) -> dict[str, Any]:
    """An answer's receipt as its annotator may read it. How the item came out
    (``resolution``) goes to the expert tier only: to anyone else it would tell a gold check
    (never labeled) from an ordinary item, and, on an item several people answer, whether the
    others said the same."""
    if review.is_expert(ctx):
        return answered
    return {k: v for k, v in answered.items() if k != "resolution"}


# The two calls every annotator makes for every item take the raw request: the caller is
# authenticated by the same function as every other route (``deps.current_user``), a query
# parameter is refused as every route refuses one it does not declare, the body is
# validated by pydantic straight from its bytes, and the answer is a ready JSONResponse (its
# values are JSON-safe already). This skips FastAPI's dependency solving, body parsing and
# re-encoding; OpenAPI still documents the path parameters and both bodies.


def _path_doc(*names: str) -> list[dict[str, Any]]:
    kinds = {"slug": {"type": "string"}, "assignment_id": _ID.json_schema()}
    return [{"name": n, "in": "path", "required": True, "schema": kinds[n]} for n in names]


def _doc(model: type[BaseModel], *path: str) -> dict[str, Any]:
    """OpenAPI for a route that reads its own path parameters and body."""
    content = {"application/json": {"schema": model.model_json_schema()}}
    return {"parameters": _path_doc(*path), "requestBody": {"content": content, "required": True}}


def _assignment_id(request: Request) -> int:
    try:
        return _ID.validate_strings(request.path_params["assignment_id"])
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError(
            [{**e, "loc": ("path", "assignment_id")} for e in errors]
        ) from None


async def _body(request: Request, model: type[M]) -> M:
    """The request body as ``model``; errors read like FastAPI's own (a 422 naming the field)."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


@router.post("/tasks/next", openapi_extra=_doc(NextIn, "slug"))
async def next_task(request: Request) -> JSONResponse:
    """Lease the next item for the caller; ``task`` is null when the queue has none right now."""
    refuse_undeclared_query(request, ())
    db: Database = request.app.state.db
    user = await current_user(request, db)
    body = await _body(request, NextIn)
    slug = request.path_params["slug"]

    def work() -> dict[str, Any]:
        ctx = projects.access(db, slug, user, Permission.ANNOTATE)
        return {"task": tasks.next_task(db, ctx, held=body.held)}

    return JSONResponse(await _hot(db, work))


@router.get("/tasks/idle")
def idle(slug: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Why ``tasks/next`` has no item for the caller: nothing imported yet, everything labeled,
    the rest leased to others, waiting for others or review, or open but not yet queued (the
    project's first items being chosen, when ``first``; ``blocked``: why no round can run)."""
    return tasks.idle(db, projects.access(db, slug, user, Permission.ANNOTATE))


@router.post("/tasks/{assignment_id}/submit", openapi_extra=_doc(SubmitIn, "slug", "assignment_id"))
async def submit(request: Request) -> JSONResponse:
    """Record the caller's answer for a leased item."""
    refuse_undeclared_query(request, ())
    db: Database = request.app.state.db
    user = await current_user(request, db)
    assignment_id = _assignment_id(request)
    body = await _body(request, SubmitIn)
    slug = request.path_params["slug"]

    def work() -> dict[str, Any]:
        ctx = projects.access(db, slug, user, Permission.ANNOTATE)
        answered = tasks.submit(
            db,
            ctx,
            assignment_id,
            body.value,
            active_ms=body.active_ms,
            guideline_version=body.guideline_version,
        )
        return _told(ctx, answered)

    return JSONResponse(await _hot(db, work))


@router.post("/tasks/release")
def release(slug: str, body: ReleaseIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Give back the caller's unanswered leases among ``leases`` (the labeling page, as it is
    left), each named with the ``lease_expires_at`` its holder was last told: their items go to
    the next annotator at once, not when the leases run out; the caller may still take one
    again while nobody else did. ``released``: the ids given back; anyone else's, answered
    ones and leases served again or renewed since (their end moved: a reloaded page shows the
    item) are left as they are. A rework lease stays the caller's, its item no longer being
    redone but waiting for them again on the dashboard."""
    leases = {lease.assignment_id: lease.lease_expires_at for lease in body.leases}
    return tasks.release(db, projects.access(db, slug, user, Permission.ANNOTATE), leases)


@router.post("/tasks/{assignment_id}/skip")
def skip(slug: str, assignment_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Give a leased task back: its item is not served to the caller again."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    tasks.skip(db, ctx, assignment_id)
    return {"skipped": assignment_id}


@router.post("/tasks/{assignment_id}/renew")
def renew(slug: str, assignment_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Keep the caller's lease for another ``lease_minutes`` (the labeling page's heartbeat
    while its annotator works); a lease that ran out is taken again while the item is free."""
    return tasks.renew(db, projects.access(db, slug, user, Permission.ANNOTATE), assignment_id)


@router.get("/annotations/previous")
def previous(slug: str, db: DbDep, user: CurrentUser, before: Id | None = None) -> dict[str, Any]:
    """The caller's annotation before ``before`` (or their latest); null when there is none.
    ``refusal`` says why a change to it would be refused (a reviewer's verdict), else null."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return {"annotation": tasks.previous(db, ctx, before=before)}


@router.get("/annotations/{annotation_id}")
def own_annotation(slug: str, annotation_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """One of the caller's own annotations, shaped as ``previous`` gives it (with ``refusal``:
    why a change would be refused, or null); anyone else's is a 404."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return {"annotation": tasks.own_annotation(db, ctx, annotation_id)}


@router.put("/annotations/{annotation_id}")
def edit(
    slug: str, annotation_id: Id, body: SubmitIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """Change one of the caller's annotations; a 409 says why when a reviewer's verdict keeps
    it as it is."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    answered = tasks.edit(
        db,
        ctx,
        annotation_id,
        body.value,
        active_ms=body.active_ms,
        guideline_version=body.guideline_version,
    )
    return _told(ctx, answered)
