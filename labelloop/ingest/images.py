"""Media folders: every image (or audio) file under a folder, labeled by its subfolder if asked."""

from __future__ import annotations

import os
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
        self.n_read = 0  # the files read so far; their paths are walked again for an error

    def named(self, exc: ImportFormatError) -> ImportFormatError:
        """``exc``, the import's own check of a file it numbers as a line, said of the file as
        the report numbers it, with its path ("file 3 ('cats/a.png')"), and so is the file it
        cites (the earlier one of a clash). Any other error is returned as it is. The paths
        are found by walking the folder again: an import keeps none of them in memory."""
        if exc.unit != "line" or exc.file is not None or not 0 < exc.line <= self.n_read:
            return exc
        cites = exc.cites
        wanted = {exc.line, *([cites] if isinstance(cites, int) else [])}
        paths = self._relative_paths(wanted)
        if isinstance(cites, int) and cites in paths:
            cites = f"{self.unit} {cites} ('{paths[cites][:200]}')"
        return exc.within(paths[exc.line], unit=self.unit, in_zip=False, cites=cites)

    def _relative_paths(self, numbers: set[int]) -> dict[int, str]:
        """The paths under the root of the files numbered ``numbers`` (as :meth:`read` numbers
        them)."""
        found: dict[int, str] = {}
        for number, path in enumerate(self._files(self.folder.resolve()), 1):
            if number in numbers:
                found[number] = path.relative_to(self.root).as_posix()
                if len(found) == len(numbers):
                    break
        return found

    def _files(self, top: Path) -> Iterator[Path]:
        """The media files under ``top`` in path order (as ``sorted(top.rglob("*"))`` orders
        them: by name within each folder, a folder's files at its name), a folder's names
        held at a time rather than every path; links to folders are not walked into, what
        operating systems leave (macOS's ``._a.png`` beside ``a.png``) is left out."""
        suffixes = MEDIA_SUFFIXES[self.kind]
        folders = [_entries(top)]
        while folders:
            entry = next(folders[-1], None)
            if entry is None:
                folders.pop()
                continue
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                folders.append(_entries(path))
            elif (
                path.suffix.lower() in suffixes
                and not path.is_dir()  # a link to a folder (False for a link loop)
                and not is_clutter(path.relative_to(top).as_posix())
            ):
                yield path

    def read(self, source: BinaryIO | None = None) -> Iterator[ItemIn]:
        """Yield one ItemIn per image file; ``source`` is unused (the folder is the source)."""
        top = self.folder.resolve()
        self.n_read = 0
        for number, path in enumerate(self._files(top), 1):
            relative = path.relative_to(self.root).as_posix()
            if not relative.isascii():
                check_utf8(number, relative, unit=self.unit)
            self.n_read = number
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


def _entries(folder: Path) -> Iterator[os.DirEntry[str]]:
    """The entries of ``folder`` by name; none of one that cannot be read (as ``rglob`` leaves
    it out)."""
    try:
        with os.scandir(folder) as found:
            entries = sorted(found, key=lambda entry: entry.name)
    except PermissionError:
        entries = []
    return iter(entries)


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
