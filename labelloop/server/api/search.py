"""Searching the pool and sending what was found to the front of the queue (seeding)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, WarmerDep, make_router
from labelloop.server.api.schemas import Id, SeedsIn
from labelloop.workflow import projects, seeding, warming

router = make_router(prefix="/api/projects/{slug}", tags=["search"])


@router.get("/search")
def search(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    warmer: WarmerDep,
    q: str | None = None,
    like: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=seeding.MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=seeding.MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Pool items containing every word of ``q``, or most like item ``like``; paginated.

    A longer ``q`` than ``seeding.MAX_QUERY_CHARS`` is searched by its beginning; the answer
    says so (``cut``, ``note``). A "like" search asked while the pool's features are being
    prepared (after a start or an import) answers ``preparing`` instead of waiting."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    if like is not None and not (q or "").strip():  # never waits long for the pool's features
        return warming.search_like(db, ctx, warmer, like=like, limit=limit, offset=offset)
    return seeding.search(db, ctx, q=q, like=like, limit=limit, offset=offset)


@router.post("/seeds", status_code=201)
def send_seeds(slug: str, body: SeedsIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Queue found items ahead of the model's ranking ("searched by ana for 'refund'")."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return seeding.send_to_queue(db, ctx, body.item_ids, query=body.query, like=body.like)
