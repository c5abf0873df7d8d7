"""Exports with their images: a YOLO or COCO zip that holds each labeled item's image file, laid
out as CVAT and Roboflow write a dataset "with images" and as labelloop's importers read an
uploaded zip: the pool's images in ``images/train/``, the eval items' in ``images/val/``.

An item's image is named in the zip by its base name, made safe and unique in its folder
(:class:`ImageNames`); the files are copied into the zip as they pass, a file at a time, so an
export never holds more than one image's bytes at once.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from itertools import chain, count
from pathlib import PurePosixPath
from typing import BinaryIO

from labelloop.domain import ExportRecord
from labelloop.errors import LabelloopError

IMAGE_FOLDERS = {"pool": "train", "eval": "val"}
"""labelloop's split -> the subset folder its images lie in (``images/<it>/``), as the
importers read it back: ``train`` to the pool, ``val`` as eval items."""

ImageFiles = Callable[[ExportRecord], BinaryIO | None]
"""A record's image file, opened and checked (what was opened is what was checked), or None
where it cannot be read (the caller, who checked it, keeps why); :func:`bundled` closes it."""

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
"""Characters no file name in the zip keeps: controls, and those Windows refuses."""


class ImageNames:
    """Names for items' images in a zip: ``images/<split folder>/<base name>``.

    The base name is made safe: no folder (so no ``..`` or absolute path), no control character
    or character Windows refuses (each becomes ``_``), no leading dot (importers skip
    dot-files). It is unique in its folder ignoring case and suffix, as a YOLO label file is
    named after its image's stem and unzipping on macOS or Windows folds case: a second
    ``a.png`` (another folder's, or ``A.jpg``) becomes ``a_<item id>.png``.
    """

    def __init__(self) -> None:
        self.taken: set[tuple[str, str]] = set()

    def name(self, path: str, *, item_id: int, split: str) -> str:
        """The zip's name for item ``item_id``'s image stored at ``path``."""
        folder = IMAGE_FOLDERS[split]
        base = PurePosixPath(path.replace("\\", "/")).name
        suffix = _UNSAFE.sub("_", PurePosixPath(base).suffix)
        stem = _UNSAFE.sub("_", base[: len(base) - len(suffix)]).lstrip(". ") or f"item_{item_id}"
        others = (f"{stem}_{item_id}" + (f"_{k}" if k > 1 else "") for k in count(1))
        for candidate in chain([stem], others):
            key = (folder, candidate.casefold())
            if key not in self.taken:
                self.taken.add(key)
                return f"images/{folder}/{candidate}{suffix}"
        raise AssertionError("unreachable: the candidates never end")


def bundled(
    records: Iterable[ExportRecord], archive: zipfile.ZipFile, *, files: ImageFiles
) -> Iterator[ExportRecord]:
    """``records`` with each item's image written into ``archive`` as it passes (stored as it
    is: images are compressed already) under its name there, which becomes the record's
    ``text``; each file ``files`` opens is closed once copied. A record whose image ``files``
    does not give is left out; the caller says why."""
    names = ImageNames()
    for record in records:
        found = files(record)
        if found is None:
            continue
        with found as image:  # closed however the record ends, refused or copied
            name = names.name(str(record.text), item_id=record.item_id, split=record.split)
            try:
                held = os.fstat(image.fileno())
                info = zipfile.ZipInfo(name, date_time=_zip_time(held.st_mtime))
                info.file_size = held.st_size  # a large one is then written as ZIP64
                info.external_attr = (held.st_mode & 0xFFFF) << 16
                info.compress_type = zipfile.ZIP_STORED  # images are compressed already
                with archive.open(info, "w") as member:
                    shutil.copyfileobj(image, member, 1 << 20)
            except OSError as exc:  # unreadable since it was opened
                raise LabelloopError(
                    f"item {record.item_id} ('{str(record.text)[:200]}'): its image cannot be "
                    f"read ({exc.strerror or exc})"
                ) from None
        yield replace(record, text=name)


def _zip_time(seconds: float) -> tuple[int, int, int, int, int, int]:
    """A file's time as a zip dates it: one before 1980 (a copy that kept no date) as 1980, one
    past 2107 as 2107, not refused."""
    when = time.localtime(seconds)[:6]
    if when[0] < 1980:
        return (1980, 1, 1, 0, 0, 0)
    if when[0] > 2107:
        return (2107, 12, 31, 23, 59, 59)
    return (when[0], when[1], when[2], when[3], when[4], when[5])
