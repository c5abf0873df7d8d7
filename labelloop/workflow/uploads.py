"""Uploaded media: the images of a YOLO zip, stored under the first media root in a folder of
their own per upload (``uploads/SLUG/STAMP/``, the zip's paths under it) before the import's
transaction reads them, and gone again when nothing needs them.

A stored folder keeps only the files its project's items name: the whole folder goes when the
import fails or brings nothing new, a duplicate image's file once the import committed, and the
files of the items an undo removes (see :func:`keep_only`). What a crash left (a
``.STAMP.partial`` folder, a folder no import records) is cleared at a later upload to the
project once it is old enough that no import still running can be writing or reading it, and
only while no other import into the project runs (:func:`clear_leftovers`). A project's upload
folders are its own: no other project's items may name a file in them (:func:`checked_path`).
Nothing is stored in or deleted from them while ``uploads/``, ``uploads/SLUG`` or the stamp
folder is a symbolic link (:func:`real_folder`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from labelloop.domain import ItemIn
from labelloop.errors import InsufficientStorage, LabelloopError
from labelloop.ingest.yolo import FOLDER_FLAGS, store_images, zip_images_to_store
from labelloop.sizes import size_text
from labelloop.store import items as store_items
from labelloop.store.db import Database

log = logging.getLogger("labelloop.uploads")

UPLOADS = "uploads"
"""The folder under the first media root that uploads' images are stored in."""
STAMP = r"\d{8}-\d{6}-[0-9a-f]{6}"
"""An upload folder's name: when it was made (UTC) and a random part."""
_LEFTOVER = re.compile(rf"{STAMP}|\.{STAMP}\.partial")
STALE_AFTER_S = 24 * 3600
"""How old (its newest file or folder) a folder no import records must be before a later
upload clears it. Age, not a lock, tells a crashed upload from one running on another server
that shares the media root: an import reads its folder within minutes of writing it."""
DISK_RESERVE = 100 << 20
"""Bytes an upload leaves free on the media root's disk, for the database and the rest."""


def first_root(roots: Sequence[Path]) -> Path:
    return Path(roots[0]).resolve()


def real_folder(roots: Sequence[Path], parts: Sequence[str], *, doing: str) -> Path:
    """The folder ``parts`` (``uploads``, ``SLUG``, a stamp) under the first media root, when
    none of them is a symbolic link and it lies in the root; what ``doing`` (stored, removed)
    would be refused otherwise. A link there, an admin's or one planted by someone who could
    write in the media root, would send an upload's files, or an undo's deletions, wherever
    it leads."""
    root = first_root(roots)
    here = root
    for part in parts:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            raise _not_a_folder(root, here, doing=doing)
    if not here.resolve().is_relative_to(root):  # a name of '..' (slugs and stamps have none)
        raise LabelloopError(f"'{'/'.join(parts)}' lies outside the media root")
    return here


def _not_a_folder(root: Path, here: Path, *, doing: str) -> LabelloopError:
    shown = here.relative_to(root).as_posix()
    link = here.is_symlink()
    return LabelloopError(
        f"'{shown}' under the media root is {'a symbolic link' if link else 'not a folder'}: "
        "uploaded images are stored and removed only in real folders under the media root, so "
        f"nothing was {doing}; replace the {'link' if link else 'file'} with a folder"
    )


def _open_down(root: Path, parts: Sequence[str], *, make: bool, doing: str) -> list[int]:
    """The open descriptors of ``root`` and of each folder ``parts`` under it, each opened in
    the one before it without following a link (made first where missing when ``make``): what
    is done in the last stays there whatever is renamed or linked meanwhile. The caller closes
    them.

    Raises
    ------
    LabelloopError
        When one of ``parts`` is a link or a file (nothing was ``doing``, stored or removed).
    OSError
        When a folder cannot be made or opened (FileNotFoundError: one is missing).
    """
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY)]
    here = root
    try:
        for part in parts:
            here = here / part
            if make:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fds[-1])
            try:
                fds.append(os.open(part, FOLDER_FLAGS, dir_fd=fds[-1]))
            except FileNotFoundError:
                raise
            except OSError:
                if here.is_symlink() or not here.is_dir():  # O_NOFOLLOW: ELOOP or ENOTDIR
                    raise _not_a_folder(root, here, doing=doing) from None
                raise
    except BaseException:
        _close(fds)
        raise
    return fds


def _close(fds: Iterable[int]) -> None:
    for fd in fds:
        os.close(fd)


@contextlib.contextmanager
def _opened_folder(roots: Sequence[Path], parts: Sequence[str]) -> Iterator[tuple[Path, list[int]]]:
    """The folder ``parts`` under the first media root (made where missing) and the open file
    descriptors of the root and of each folder down to it, held while the upload's images are
    written in the last (:func:`_open_down`).

    Raises
    ------
    LabelloopError
        When one of ``parts`` is a link or a file (nothing was stored).
    """
    root = first_root(roots)
    try:
        root.mkdir(parents=True, exist_ok=True)  # the admin's root, made with the first upload
        fds = _open_down(root, parts, make=True, doing="stored")
    except OSError as exc:
        raise _cannot_store(root, exc) from None
    try:
        yield root.joinpath(*parts), fds
    finally:
        _close(fds)


@contextlib.contextmanager
def _held_folder(roots: Sequence[Path], parts: Sequence[str], *, doing: str) -> Iterator[list[int]]:
    """The descriptors of the first media root and of the folders ``parts`` under it
    (:func:`_open_down`), held while files are deleted in the last: empty when it is missing.

    Raises
    ------
    LabelloopError
        When one of ``parts`` is a link or a file (nothing was ``doing``).
    """
    try:
        fds = _open_down(first_root(roots), parts, make=False, doing=doing)
    except FileNotFoundError:
        fds = []
    try:
        yield fds
    finally:
        _close(fds)


def _remove_if_left_empty(fds: Sequence[int], parts: Sequence[str]) -> None:
    """Remove the held folder ``parts[-1]`` (``fds`` from :func:`_held_folder`) from the one
    it lies in when it is empty; rmdir follows no link."""
    if len(fds) >= 2:
        with contextlib.suppress(OSError):  # not empty (or gone already)
            os.rmdir(parts[-1], dir_fd=fds[-2])


def _cannot_store(root: Path, exc: OSError) -> LabelloopError:
    reason = exc.strerror or type(exc).__name__
    return LabelloopError(f"the zip's images cannot be stored under {root}: {reason}")


def _still_in_place(roots: Sequence[Path], parts: Sequence[str], folder: int) -> None:
    """Refuse, as :func:`real_folder` does, when the path ``parts`` under the first media root
    no longer leads to the folder open as ``folder`` without a link: it was moved away and
    something else put in its place while an upload was written in it."""
    root = first_root(roots)
    held = os.fstat(folder)
    here = root.joinpath(*parts)
    try:
        seen = os.lstat(here)
        moved = (seen.st_dev, seen.st_ino) != (held.st_dev, held.st_ino)
    except FileNotFoundError:
        moved = True
    if moved:
        for k in range(1, len(parts) + 1):  # name the first part that is not a folder
            if not stat.S_ISDIR(os.lstat(root.joinpath(*parts[:k])).st_mode):
                raise _not_a_folder(root, root.joinpath(*parts[:k]), doing="stored")
        raise LabelloopError(
            f"'{'/'.join(parts)}' under the media root was moved while the zip's images were "
            "stored in it; nothing was stored"
        )


def upload_parts(folder: str, slug: str) -> list[str] | None:
    """An import's recorded upload folder as its parts (``uploads``, ``SLUG``, a stamp), or
    None when it is no upload folder of this project (then it is never touched)."""
    parts = folder.split("/")
    if len(parts) != 3 or parts[:2] != [UPLOADS, slug] or not re.fullmatch(STAMP, parts[2]):
        return None
    return parts


def store_zip_images(source: BinaryIO, *, roots: Sequence[Path], slug: str) -> Path | None:
    """Store the images an uploaded YOLO zip holds in a new folder under the first media root
    and return it, or None for a zip of label files (nothing written). A zip whose images
    need more room than the disk has is refused before anything is written. They are written
    to a dot-folder (which no folder import reads) and renamed into place only once all are;
    a failure leaves nothing behind."""
    if not roots:
        return None
    root = first_root(roots)
    images = zip_images_to_store(source)
    if images is None:
        return None
    parts = (UPLOADS, slug)
    real_folder(roots, parts, doing="stored")  # refused before the disk is looked at
    _check_room(root, images.declared)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)
    staging = f".{stamp}.partial"
    for attempt in range(3):
        with _opened_folder(roots, parts) as (parent, fds):
            parent_fd = fds[-1]
            try:
                os.mkdir(staging, dir_fd=parent_fd)  # a new name: nobody else's folder
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) and attempt < 2:
                    continue  # its parent, left empty, was cleared meanwhile: made again
                raise _cannot_store(root, exc) from None
            try:
                folder = os.open(staging, FOLDER_FLAGS, dir_fd=parent_fd)
                try:
                    store_images(images, folder)
                finally:
                    os.close(folder)
                os.rename(staging, stamp, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
                staging = stamp
                _still_in_place(roots, parts, parent_fd)
            except OSError as exc:
                _discard_in(fds, parts, staging)
                raise _cannot_store(root, exc) from None
            except BaseException:
                _discard_in(fds, parts, staging)
                raise
            return parent / stamp
    raise AssertionError("unreachable")


def _discard_in(fds: Sequence[int], parts: Sequence[str], name: str) -> None:
    """Remove the folder ``name`` of the held folder ``parts[-1]`` (``fds`` from
    :func:`_opened_folder`): its files, not where a link in it leads, wherever that folder was
    moved meanwhile (:func:`keep_only`); then that folder when left empty."""
    keep_only(fds[-1], name, named_as=name, kept=set())
    _remove_if_left_empty(fds, parts)


def _check_room(root: Path, needed: int) -> None:
    """Refuse images whose declared size does not fit on the disk of ``root`` (kept
    :data:`DISK_RESERVE` free); writing still counts the bytes, as a zip may lie."""
    here = root
    while not here.exists() and here.parent != here:  # the root is made with the folder
        here = here.parent
    free = shutil.disk_usage(here).free
    if needed + DISK_RESERVE > free:
        raise InsufficientStorage(
            f"the zip's images need {size_text(needed)} and the media root's disk has "
            f"{size_text(free)} free ({size_text(DISK_RESERVE)} of it is kept free); "
            "nothing was stored: free some space or split the zip"
        )


def relative_to_root(folder: Path, roots: Sequence[Path]) -> str:
    """How items name the stored folder: its path under the first media root."""
    return folder.relative_to(first_root(roots)).as_posix()


def discard(folder: str | None, *, roots: Sequence[Path], slug: str) -> None:
    """Remove the files of a stored upload's ``folder`` (as items would name it: its import
    failed) and the folders left empty, its project's uploads folder too, walked from the
    media root down without following a link (:func:`keep_only`): a link swapped in for one
    of them since the upload gets nothing deleted where it leads."""
    parts = upload_parts(folder, slug) if folder is not None and roots else None
    if parts is None:
        return
    try:
        with _held_folder(roots, parts[:2], doing="removed") as fds:
            if fds:
                keep_only(fds[-1], parts[2], named_as=str(folder), kept=set())
                _remove_if_left_empty(fds, parts[:2])
    except (LabelloopError, OSError) as exc:
        shown = exc.message if isinstance(exc, LabelloopError) else exc.strerror
        log.warning("the uploaded images of the failed import in %s were kept: %s", folder, shown)


def checked_path(found: Path, relative: str, *, roots: Sequence[Path], slug: str) -> str:
    """How an item of project ``slug`` names the media file ``found`` (resolved) given as
    ``relative``: in the project's own upload folders, by its plain path under the first media
    root (what an undo and a clean-up compare); anywhere else under the roots, as given.

    Raises
    ------
    LabelloopError
        The file lies in the uploads folder but not in the project's own.
    """
    if not roots:
        return relative
    top = first_root(roots) / UPLOADS
    if not found.is_relative_to(top):
        return relative
    if found.is_relative_to(top / slug):
        return f"{UPLOADS}/{slug}/{found.relative_to(top / slug).as_posix()}"
    raise LabelloopError(
        f"media path '{relative[:200]}': lies in another project's uploaded images "
        f"({UPLOADS}/ under the media root), which only that project's items may name"
    )


class WithoutOthers:
    """A folder import's records (paths under ``base``) but those of files in another
    project's upload folders, which a folder holding the uploads folder walks into; counts
    them (``left_out``)."""

    def __init__(
        self,
        records: Iterable[ItemIn],
        *,
        base: Path,
        roots: Sequence[Path],
        slug: str,
        kind: str,
    ) -> None:
        self.records = records
        self.base = base
        self.top = first_root(roots) / UPLOADS if roots else None
        self.slug = slug
        self.kind = kind
        self.left_out = 0

    def __iter__(self) -> Iterator[ItemIn]:
        for record in self.records:
            if self.top is not None:
                found = (self.base / str(record.payload.get(self.kind))).resolve()
                if found.is_relative_to(self.top) and not found.is_relative_to(
                    self.top / self.slug
                ):
                    self.left_out += 1
                    continue
            yield record


def keep_only(parent: int, name: str, *, named_as: str, kept: set[str]) -> int:
    """Delete the files under the upload folder ``name`` of the folder open as ``parent``
    (items name it ``named_as``) that are not in ``kept`` (items' paths), then the folders
    left empty, ``name`` too. Only regular files are deleted (a link is left, and what it leads
    to). Returns how many.

    Each folder is walked and emptied through its open descriptor (``os.fwalk``), from
    ``name`` down: a folder swapped for a link meanwhile is not walked into, nor is
    anything deleted where it leads. Storing, an undo, a failed import and a clean-up of
    crashed uploads all delete through here."""
    removed = 0
    try:
        for where, dirs, files, here in os.fwalk(name, topdown=False, dir_fd=parent):
            removed += _remove_unkept(
                here, files, under=Path(where).relative_to(name), named_as=named_as, kept=kept
            )
            for folder in dirs:
                with contextlib.suppress(
                    OSError
                ):  # not empty, gone, or a link (rmdir follows none)
                    os.rmdir(folder, dir_fd=here)
    except FileNotFoundError:  # gone already
        return removed
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=parent)
    return removed


def _remove_unkept(
    here: int, files: list[str], *, under: Path, named_as: str, kept: set[str]
) -> int:
    """Delete the regular ``files`` of the folder open as ``here`` (``under`` the upload
    folder items name ``named_as``) that are not in ``kept``; how many went."""
    removed = 0
    for file in files:
        if f"{named_as}/{(under / file).as_posix()}" in kept:
            continue
        try:
            if not stat.S_ISREG(os.stat(file, dir_fd=here, follow_symlinks=False).st_mode):
                continue
            os.unlink(file, dir_fd=here)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove an uploaded image of %s: %s", named_as, exc.strerror)
            continue
        removed += 1
    return removed


def remove_unnamed(
    db: Database, project_id: int, *, roots: Sequence[Path], slug: str, folder: str | None
) -> int:
    """Delete the files of the project's upload ``folder`` (as an import records it) that no
    item of the project names, then the folders left empty; how many files went."""
    if not roots or folder is None:
        return 0
    parts = upload_parts(folder, slug)
    if parts is None:
        return 0  # not an upload folder of this project: never touched
    with db.read() as conn:
        named = store_items.images_under(conn, project_id, folder)
    try:
        with _held_folder(roots, parts[:2], doing="removed") as fds:
            if not fds:
                return 0
            removed = keep_only(fds[-1], parts[2], named_as=folder, kept=named)
            _remove_if_left_empty(fds, parts[:2])
    except LabelloopError as exc:  # made a link since the undo checked it
        log.warning("the uploaded images of %s were kept: %s", folder, exc.message)
        return 0
    return removed


def clear_leftovers(
    db: Database, project_id: int, *, roots: Sequence[Path], slug: str, now: float | None = None
) -> int:
    """Delete what crashed uploads to the project left: in a ``.STAMP.partial`` folder or a
    stamp folder no import records, whose newest file is older than :data:`STALE_AFTER_S`,
    the files no item of the project names; then the folders left empty (``uploads/SLUG``
    too). Returns how many files went. Refused, as storing is, while ``uploads/`` or
    ``uploads/SLUG`` is a symbolic link; ``uploads/SLUG`` is held open from the media root
    down while its folders are emptied (:func:`keep_only`), so a link swapped in meanwhile
    gets nothing deleted where it leads."""
    if not roots:
        return 0
    parts = (UPLOADS, slug)
    try:
        with _held_folder(roots, parts, doing="stored") as fds:
            if not fds:  # no uploads yet
                return 0
            parent = fds[-1]
            names = [n for n in os.listdir(parent) if _LEFTOVER.fullmatch(n)]
            with db.read() as conn:
                recorded = store_items.upload_folders(conn, project_id)
            before = (time.time() if now is None else now) - STALE_AFTER_S
            removed = 0
            for name in names:
                folder = f"{UPLOADS}/{slug}/{name}"
                if folder in recorded or _newest(parent, name) >= before:
                    continue  # an upload may be running: its import not committed
                with db.read() as conn:
                    named = store_items.images_under(conn, project_id, folder)
                removed += keep_only(parent, name, named_as=folder, kept=named)
            _remove_if_left_empty(fds, parts)
    except OSError as exc:  # the upload itself says why it cannot store there
        log.warning(
            "crashed uploads' leftovers in %s/%s were not cleared: %s", UPLOADS, slug, exc.strerror
        )
        return 0
    if removed:
        log.info("cleared %d files crashed uploads left in %s/%s", removed, UPLOADS, slug)
    return removed


def _newest(parent: int, name: str) -> float:
    """The newest change time (mtime) of the folder ``name`` of the folder open as
    ``parent`` and of anything under it; infinitely new (never cleared) when it is a link, a
    file or gone."""
    try:
        seen = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except OSError:
        return math.inf
    if not stat.S_ISDIR(seen.st_mode):
        return math.inf
    newest = seen.st_mtime
    for _, dirs, files, here in os.fwalk(name, dir_fd=parent):  # links are not walked
        for entry in (*dirs, *files):
            try:
                newest = max(newest, os.stat(entry, dir_fd=here, follow_symlinks=False).st_mtime)
            except OSError:
                continue
    return newest
