"""Item media: an image or audio item's file, for members only, never by a path the client sends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from labelloop.govern.permissions import Permission
from labelloop.ingest.imaging import MAX_THUMBNAIL
from labelloop.server.api.deps import CurrentUser, DbDep
from labelloop.server.api.schemas import Id
from labelloop.workflow import media, projects, thumbnails

router = APIRouter(prefix="/api/projects/{slug}", tags=["media"])


@router.get("/items/{item_id}/media")
def item_media(
    slug: str, item_id: Id, request: Request, db: DbDep, user: CurrentUser
) -> FileResponse:
    """The item's image or audio file from its media root, with its sniffed content type.

    Range requests are answered with 206 and the asked bytes, so an audio player can seek.
    """
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    roots = request.app.state.settings.media_root_paths
    path, content_type = media.item_media(db, ctx, item_id, roots=roots)
    return FileResponse(
        path,
        media_type=content_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/items/{item_id}/thumbnail")
def item_thumbnail(
    slug: str,
    item_id: Id,
    request: Request,
    db: DbDep,
    user: CurrentUser,
    size: Annotated[int, Query(ge=16, le=MAX_THUMBNAIL)] = 128,
) -> Response:
    """A small JPEG (PNG when transparent) of the item's image, made once and cached."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    settings = request.app.state.settings
    data, content_type, tag = thumbnails.item_thumbnail(
        db,
        ctx,
        item_id,
        roots=settings.media_root_paths,
        size=size,
        cache_dir=settings.home / "thumbnails",
    )
    headers = {
        "Cache-Control": "private, max-age=86400",
        "ETag": f'"{tag[:32]}"',
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=content_type, headers=headers)
