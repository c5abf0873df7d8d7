"""A picture as a browser shows it, for the learner and the thumbnails to see what annotators
see. Pure: Pillow is imported by the function, and only the standard library at import time, so
the learner (``labelloop.learn``) and the server's image routes (``labelloop.ingest.imaging``)
share it without either loading the other's dependencies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NAMED = "named"
"""The payload key by which the learner's media payloads, which hold the file's full path, name
their item for messages users see: its id and its path under the media root."""

MEDIA_ROOT = "media_root"
"""The payload key by which the learner's media payloads hold the media root their file was
found under, for a featurizer to open the file there as serving does
(:func:`~labelloop.ingest.media.open_under`), not by its full path."""

MAX_PIXELS = 100_000_000
"""The most pixels an image labelloop reads may have (100 megapixels): more than a camera's photo
or a page's scan, and well under Pillow's own refusal (about 179 million), below which a PNG of a
few KiB that declares its size may still take over half a gigabyte to decode."""

DECODE_BYTES = 512 * 2**20
"""The decoded pixels one process's threads hold at once: a page of thumbnails of large images is
made a few at a time (two of 50 megapixels, one of 100), small ones alongside as they come."""

_WIDE_GREY = ("I", "I;16", "I;16B", "I;16L", "I;16N")
"""Pillow's modes of a 16-bit grey PNG, whose values run to 65,535."""


def as_shown(img: Any) -> Any:
    """``img`` as a browser shows it, for the learner and the thumbnails to see what annotators
    see: turned upright by its EXIF orientation, and a 16-bit grey PNG scaled to 8-bit grey
    (Pillow's ``convert()`` clips its values at 255 and turns it white)."""
    from PIL import ImageOps

    upright = ImageOps.exif_transpose(img)
    if upright.mode in _WIDE_GREY:
        return upright.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return upright


@contextmanager
def decoding(img: Any, *, draft: tuple[str, tuple[int, int]] | None = None) -> Iterator[None]:
    """While ``img`` (opened, not yet decoded) is decoded and worked on: refused with a
    ValueError saying its size when it has over :data:`MAX_PIXELS`, else holding its share of
    :data:`DECODE_BYTES` (4 bytes a pixel, as Pillow stores colour; after ``draft``, a JPEG's
    reduced scale), waiting for other threads' decodes to end when that share is taken."""
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"it is {width:,}×{height:,} pixels ({width * height / 1e6:,.0f} megapixels); "
            f"labelloop reads images of at most {MAX_PIXELS // 1_000_000} megapixels"
        )
    if draft is not None:
        img.draft(*draft)
    with _DECODES.held(4 * img.width * img.height):
        yield


class _Budget:
    """An amount shared by threads: each holds a part of it while it works, and waits while
    what the others hold leaves too little."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._held = 0
        self._changed = threading.Condition()

    @contextmanager
    def held(self, amount: int) -> Iterator[None]:
        amount = min(amount, self._total)  # one larger than all of it waits to be alone
        with self._changed:
            self._changed.wait_for(lambda: self._held + amount <= self._total)
            self._held += amount
        try:
            yield
        finally:
            with self._changed:
                self._held -= amount
                self._changed.notify_all()


_DECODES = _Budget(DECODE_BYTES)


def transparent(img: Any) -> bool:
    """Whether ``img`` has see-through pixels a page shows the background through: an alpha
    band (RGBA, LA, PA) or a value a PNG marks see-through (``transparency``: a palette entry,
    a grey or RGB value)."""
    return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info


def on_white(img: Any) -> Any:
    """``img`` as the labeling page shows it over its white background: a picture with
    see-through pixels (:func:`transparent`) laid on white, as RGB; an opaque one as it is.
    Without it the learner read see-through pixels as the black stored under them."""
    if not transparent(img):
        return img
    from PIL import Image

    rgba = img.convert("RGBA")  # applies a palette's or a grey/RGB value's transparency too
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def unreadable(
    exc: BaseException, path: Path, *, named: str | None = None, opened: object = None
) -> str:
    """Why Pillow could not read ``path``, for a message users see: its own words with the
    file named as ``named`` (by default its name) where it wrote the server's full path (a
    media root's place on disk is the server's business), or the file ``opened`` there by its
    repr (how Pillow names an open file), at most 200 characters."""
    shown = path.name if named is None else named
    reason = str(exc) or type(exc).__name__
    if opened is not None:
        reason = reason.replace(repr(opened), f"'{shown}'")
    return reason.replace(str(path), shown)[:200]
