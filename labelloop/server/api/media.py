"""Item media: an image or audio item's file, for members only, never by a path the client sends."""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Annotated, BinaryIO

from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse

from labelloop.govern.permissions import Permission
from labelloop.ingest.imaging import MAX_THUMBNAIL
from labelloop.server.api.deps import CurrentUser, DbDep, make_router
from labelloop.server.api.schemas import Id
from labelloop.workflow import media, projects, thumbnails

router = make_router(prefix="/api/projects/{slug}", tags=["media"])


@router.get("/items/{item_id}/media")
def item_media(slug: str, item_id: Id, request: Request, db: DbDep, user: CurrentUser) -> Response:
    """The item's image or audio file from its media root, with its sniffed content type.

    The file sent is the one opened and checked (:func:`media.item_media`), never the path
    opened again. A range request (``Range: bytes=A-B``, one range) is answered with 206 and
    the asked bytes, so an audio player can seek; any other gets the whole file.
    """
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    roots = request.app.state.settings.media_root_paths
    file, _, content_type = media.item_media(db, ctx, item_id, roots=roots)
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    try:
        held = os.fstat(file.fileno())
        headers |= {
            "Accept-Ranges": "bytes",
            "ETag": f'"{held.st_mtime_ns:x}-{held.st_size:x}"',
            "Last-Modified": formatdate(held.st_mtime, usegmt=True),
        }
        asked = request.headers.get("range")
        fresh = _if_range_holds(request.headers.get("if-range"), headers, held.st_mtime)
        span = _range(asked, held.st_size) if fresh else None
        if span == "unsatisfiable":
            file.close()
            headers["Content-Range"] = f"bytes */{held.st_size}"
            return Response(status_code=416, headers=headers)
        start, end = span if isinstance(span, tuple) else (0, held.st_size)
        if isinstance(span, tuple):
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{held.st_size}"
        headers["Content-Length"] = str(end - start)
    except BaseException:
        file.close()
        raise
    return StreamingResponse(
        _bytes(file, start, end),
        status_code=206 if isinstance(span, tuple) else 200,
        media_type=content_type,
        headers=headers,
    )


def _if_range_holds(if_range: str | None, headers: dict[str, str], mtime: float) -> bool:
    """Whether a range may be served under ``If-Range`` (RFC 9110 §13.1.5): none sent, the
    file's ETag (a weak tag never matches), or its Last-Modified date exactly, once the file
    last changed at least a second before now (only then is a date a strong validator: a file
    changed within its second may change again in it). Anything else gets the whole file."""
    if if_range is None:
        return True
    if if_range == headers["Last-Modified"]:
        return math.floor(time.time()) - mtime >= 1
    return if_range == headers["ETag"]


def _range(asked: str | None, size: int) -> tuple[int, int] | str | None:
    """The bytes [start, end) one ``Range: bytes=…`` header asks of a file of ``size`` bytes;
    None to send it whole (no range, several, or one that does not parse: a server may ignore
    them), "unsatisfiable" for one that starts past its end."""
    # ASCII digits only: str.isdigit() passes '²', which int() refuses, and a 5,000-digit
    # number, which int() refuses too; either would end the request in a 500.
    one = re.fullmatch(r"bytes=[ \t]*([0-9]{0,18})-([0-9]{0,18})[ \t]*", asked or "")
    if one is None or not any(one.groups()):
        return None
    first, last = one.groups()
    if not first:  # the last N bytes
        start, end = max(size - int(last), 0), size
    else:
        start, end = int(first), size
        if last:
            if int(last) < start:
                return None
            end = min(int(last) + 1, size)
    if start >= size:
        return "unsatisfiable"
    return start, end


def _bytes(file: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` of an open file, which is closed after."""
    with file:
        file.seek(start)
        left = end - start
        while left > 0 and (block := file.read(min(1 << 16, left))):
            left -= len(block)
            yield block


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
