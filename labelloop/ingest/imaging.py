"""Image files read with Pillow: their size as shown (EXIF orientation applied) and thumbnails."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from labelloop.errors import LabelloopError
from labelloop.pictures import as_shown, decoding, transparent, unreadable

MAX_THUMBNAIL = 512
"""The largest thumbnail side served; larger requests are refused."""

_TRANSPOSED = (5, 6, 7, 8)
"""EXIF orientations that turn the picture by 90 degrees, so width and height swap on screen."""


def image_size(path: Path, *, opened: BinaryIO) -> dict[str, int]:
    """``{"width", "height"}`` of an image as a browser shows it (EXIF orientation applied),
    read from ``opened``, the file at ``path`` opened there (by
    :func:`~labelloop.ingest.media.open_media`: what was checked is what is read, never the
    file found again by its path).

    Boxes are drawn and checked in these pixels, and the learner reads the same file, so a file
    Pillow cannot open or decode (not an image past its first bytes, a decompression bomb, or
    cut short after a whole header: a copy that stopped) raises a LabelloopError saying why, for
    the import to name it, as is one over :data:`~labelloop.pictures.MAX_PIXELS`. The pixels
    are decoded to find the cut; a JPEG at an eighth of its size, which reads every byte of it
    all the same.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(opened) as img:
            width, height = img.size
            eighth = (max(1, width // 8), max(1, height // 8))
            with decoding(img, draft=(img.mode, eighth)):  # a PNG's EXIF may follow its pixels
                if img.getexif().get(0x0112) in _TRANSPOSED:
                    width, height = height, width
                img.load()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        reason = unreadable(exc, path, opened=opened)
        raise LabelloopError(f"cannot be read as an image ({reason})") from None
    return {"width": int(width), "height": int(height)}


def thumbnail(file: BinaryIO, size: int) -> tuple[bytes, str]:
    """A thumbnail of at most ``size`` pixels a side, upright, and its content type, of the
    image in the open ``file`` (opened by :func:`~labelloop.ingest.media.open_media`).

    Pictures with transparency become PNG, the rest JPEG; a picture over
    :data:`~labelloop.pictures.MAX_PIXELS` raises a ValueError saying its size.
    """
    from PIL import Image

    if not 1 <= size <= MAX_THUMBNAIL:
        raise ValueError(f"thumbnail size must be from 1 to {MAX_THUMBNAIL}")
    # JPEG: decoded at a reduced scale, much faster
    with Image.open(file) as img, decoding(img, draft=("RGB", (size, size))):
        upright = as_shown(img)
        upright.thumbnail((size, size))
        out = io.BytesIO()
        if transparent(upright):
            if upright.mode == "PA":  # PNG has no palette-with-alpha mode
                upright = upright.convert("RGBA")
            upright.save(out, format="PNG", optimize=True)
            return out.getvalue(), "image/png"
        upright.convert("RGB").save(out, format="JPEG", quality=85)
        return out.getvalue(), "image/jpeg"
