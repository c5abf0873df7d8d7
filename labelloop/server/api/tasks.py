"""The labeling API: next task, submit, skip, and going back to change an annotation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep
from labelloop.server.api.schemas import NextIn, SubmitIn
from labelloop.store.db import Database
from labelloop.workflow import projects, tasks

router = APIRouter(prefix="/api/projects/{slug}", tags=["tasks"])


T = TypeVar("T")


async def _hot(db: Database, work: Callable[[], T]) -> T:
    """Run a serving-path call where it is fastest.

    On SQLite every write waits for the one writer anyway, so the call runs on the event loop
    and saves the thread hop. On PostgreSQL calls wait on the network and on row locks while
    others could proceed, so they go to the thread pool.
    """
    return work() if db.is_sqlite else await run_in_threadpool(work)


# The two calls every annotator makes for every item answer with a ready JSONResponse (their
# values are JSON-safe already), skipping FastAPI's re-encoding.


@router.post("/tasks/next")
async def next_task(slug: str, body: NextIn, db: DbDep, user: CurrentUser) -> JSONResponse:
    """Lease the next item for the caller; ``task`` is null when the queue has none right now."""

    def work() -> dict[str, Any]:
        ctx = projects.access(db, slug, user, Permission.ANNOTATE)
        return {"task": tasks.next_task(db, ctx, held=body.held)}

    return JSONResponse(await _hot(db, work))


@router.post("/tasks/{assignment_id}/submit")
async def submit(
    slug: str, assignment_id: int, body: SubmitIn, db: DbDep, user: CurrentUser
) -> JSONResponse:
    def work() -> dict[str, Any]:
        ctx = projects.access(db, slug, user, Permission.ANNOTATE)
        return tasks.submit(db, ctx, assignment_id, body.value, active_ms=body.active_ms)

    return JSONResponse(await _hot(db, work))


@router.post("/tasks/{assignment_id}/skip")
def skip(slug: str, assignment_id: int, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    tasks.skip(db, ctx, assignment_id)
    return {"skipped": assignment_id}


@router.get("/annotations/previous")
def previous(slug: str, db: DbDep, user: CurrentUser, before: int | None = None) -> dict[str, Any]:
    """The caller's annotation before ``before`` (or their latest); null when there is none."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return {"annotation": tasks.previous(db, ctx, before=before)}


@router.put("/annotations/{annotation_id}")
def edit(
    slug: str, annotation_id: int, body: SubmitIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return tasks.edit(db, ctx, annotation_id, body.value, active_ms=body.active_ms)
