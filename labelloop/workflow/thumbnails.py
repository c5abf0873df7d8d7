"""Thumbnails of image items: made once per file version and size, cached on disk."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from labelloop.errors import LabelloopError, NotFound
from labelloop.ingest.imaging import MAX_THUMBNAIL, thumbnail, unreadable
from labelloop.store.db import Database
from labelloop.workflow import media
from labelloop.workflow.projects import ProjectContext

_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}


def item_thumbnail(
    db: Database,
    ctx: ProjectContext,
    item_id: int,
    *,
    roots: Sequence[Path],
    size: int,
    cache_dir: Path,
) -> tuple[bytes, str, str]:
    """The thumbnail bytes, content type and a tag of an image item, at most ``size`` a side.

    The file is found exactly as ``/media`` finds it (members only, refused paths stay
    refused); the cache key holds the file's path, size and change time, so an edited image
    gets a new thumbnail.
    """
    from PIL import Image

    if not 1 <= size <= MAX_THUMBNAIL:
        raise LabelloopError(f"size must be from 1 to {MAX_THUMBNAIL}")
    if ctx.schema.data_type != "image":
        raise NotFound(f"no image item {item_id} in project '{ctx.slug}'")
    file, path, _ = media.item_media(db, ctx, item_id, roots=roots)
    with file:
        stat = os.fstat(file.fileno())  # of the file opened, which was checked
        key = f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\0{size}"
        key = hashlib.sha256(key.encode()).hexdigest()
        folder = cache_dir / key[:2]
        for suffix, content_type in _TYPES.items():
            cached = folder / (key + suffix)
            if cached.is_file():
                return cached.read_bytes(), content_type, key
        try:
            data, content_type = thumbnail(file, size)
        except (
            OSError,
            ValueError,
            Image.DecompressionBombError,
        ) as exc:  # cut short, a bomb, too large
            reason = unreadable(exc, path, opened=file)
            raise LabelloopError(
                f"item {item_id} ('{path.name}'): cannot read the image ({reason})"
            ) from None
    suffix = next(s for s, t in _TYPES.items() if t == content_type)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, folder / (key + suffix))  # readers never see half a file
    return data, content_type, key
