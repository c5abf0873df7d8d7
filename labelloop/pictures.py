"""A picture as a browser shows it, for the learner and the thumbnails to see what annotators
see. Pure: Pillow is imported by the function, and only the standard library at import time, so
the learner (``labelloop.learn``) and the server's image routes (``labelloop.ingest.imaging``)
share it without either loading the other's dependencies.
"""

from __future__ import annotations

from typing import Any

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
