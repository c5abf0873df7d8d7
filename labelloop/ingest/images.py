"""Media folders: every image (or audio) file under a folder, labeled by its subfolder if asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

from labelloop.domain import ItemIn
from labelloop.errors import ImportFormatError
from labelloop.ingest.media import MEDIA_SUFFIXES, is_clutter


class ImageFolderImporter:
    """Walks ``folder`` recursively in name order; payloads hold the path relative to ``root``.

    ``root`` is the media root the folder lies under (see :func:`labelloop.ingest.media.root_of`);
    nothing is copied. With ``labels_from_folders`` a file's label is the name of the folder it
    sits in directly below ``folder`` (files at the top level come unlabeled). Record numbers
    (``ItemIn.line``) count image files in that order; the path is the item's external id.
    ``kind`` "audio" reads WAV/MP3/Ogg/FLAC files into ``{"audio": path}`` payloads instead.
    """

    format: ClassVar[str] = "folder"
    unit: ClassVar[str] = "file"
    """What its errors and the import's report number its records as: "file 3"."""

    def __init__(
        self, *, folder: Path, root: Path, labels_from_folders: bool = False, kind: str = "image"
    ) -> None:
        self.folder = folder
        self.root = root
        self.labels_from_folders = labels_from_folders
        self.kind = kind
        self.paths: list[str] = []  # the files read, in order: the path under the root of each

    def named(self, exc: ImportFormatError) -> ImportFormatError:
        """``exc``, the import's own check of a file it numbers as a line, said of the file as
        the report numbers it, with its path ("file 3 ('cats/a.png')"), and so is the file it
        cites (the earlier one of a clash). Any other error is returned as it is."""
        if exc.unit != "line" or exc.file is not None or not 0 < exc.line <= len(self.paths):
            return exc
        cites = exc.cites
        if isinstance(cites, int) and 0 < cites <= len(self.paths):
            cites = f"{self.unit} {cites} ('{self.paths[cites - 1][:200]}')"
        return exc.within(self.paths[exc.line - 1], unit=self.unit, in_zip=False, cites=cites)

    def read(self, source: BinaryIO | None = None) -> Iterator[ItemIn]:
        """Yield one ItemIn per image file; ``source`` is unused (the folder is the source)."""
        top = self.folder.resolve()
        suffixes = MEDIA_SUFFIXES[self.kind]
        files = sorted(
            p
            for p in top.rglob("*")
            if p.suffix.lower() in suffixes
            and not p.is_dir()
            and not is_clutter(p.relative_to(top).as_posix())  # macOS's ._a.png beside a.png
        )
        self.paths = []
        for number, path in enumerate(files, 1):
            relative = path.relative_to(self.root).as_posix()
            if not relative.isascii():
                check_utf8(number, relative, unit=self.unit)
            self.paths.append(relative)
            label = None
            inner = path.relative_to(top).parts
            if self.labels_from_folders and len(inner) >= 2:
                label = inner[0]
            yield ItemIn(
                line=number,
                payload={self.kind: relative},
                external_id=path.relative_to(top).as_posix(),
                label=label,
            )


def check_utf8(number: int, relative: str, *, unit: str) -> None:
    """Refuse a path whose name is not UTF-8 (Python holds its bad bytes as lone surrogates,
    which no store takes), naming the file, numbered in ``unit``, as well as it can be shown."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        shown = relative.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise ImportFormatError(
            line=number, unit=unit, reason=f"'{shown}': the name is not UTF-8 text; rename it"
        ) from None
