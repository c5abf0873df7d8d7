"""Uploaded media: the images of a YOLO zip, stored under the first media root in a folder of
their own per upload (``uploads/SLUG/STAMP/``, the zip's paths under it) before the import's
transaction reads them, and gone again when the import fails or brings nothing new."""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from labelloop.errors import LabelloopError
from labelloop.ingest.yolo import store_images

UPLOADS = "uploads"
"""The folder under the first media root that uploads' images are stored in."""


def store_zip_images(source: BinaryIO, *, roots: Sequence[Path], slug: str) -> Path | None:
    """Store the images an uploaded YOLO zip holds in a new folder under the first media root
    and return it, or None for a zip of label files (nothing written). They are written to a
    dot-folder (which no folder import reads) and renamed into place only once all are; a
    failure leaves nothing behind."""
    if not roots:
        return None
    root = Path(roots[0]).resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    parent = root / UPLOADS / slug
    staging = parent / f".{stamp}.partial"
    try:
        n = store_images(source, staging)
        if not n:
            return None
        final = parent / stamp
        staging.rename(final)
    except OSError as exc:
        discard(staging)
        reason = exc.strerror or type(exc).__name__
        raise LabelloopError(f"the zip's images cannot be stored under {root}: {reason}") from None
    except BaseException:
        discard(staging)
        raise
    return final


def relative_to_root(folder: Path, roots: Sequence[Path]) -> str:
    """How items name the stored folder: its path under the first media root."""
    return folder.relative_to(Path(roots[0]).resolve()).as_posix()


def discard(folder: Path | None) -> None:
    """Remove a stored upload's folder (when its import failed or brought nothing new)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
