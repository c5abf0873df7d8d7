"""Media files under configured roots: the one place a stored path becomes a file on disk.

A stored path is relative to a media root. It is refused when it is absolute, climbs with
``..``, resolves (through symlinks) outside its root, or is not a file of the item's kind by both
its suffix and its first bytes (images: JPEG, PNG, WebP; audio: WAV, MP3, Ogg, FLAC). Nothing is
ever read from a path a client sent. Other files under a root (a YOLO folder's label files and
``data.yaml``) are opened the same way, as of no kind.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from labelloop.errors import LabelloopError, NotFound

IMAGE_SUFFIXES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
"""Image file suffixes served and imported, with the content type each should hold."""

AUDIO_SUFFIXES: dict[str, str] = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".flac": "audio/flac",
}
"""Audio file suffixes served and imported, with the content type each should hold."""

MEDIA_SUFFIXES: dict[str, dict[str, str]] = {"image": IMAGE_SUFFIXES, "audio": AUDIO_SUFFIXES}
"""Media data type -> its file suffixes; the payload key of a media item is its data type."""


def sniff_image(head: bytes) -> str | None:
    """The content type the first bytes of a file announce (JPEG, PNG, WebP), else ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_audio(head: bytes) -> str | None:
    """The content type the first bytes of a file announce (WAV, MP3, Ogg, FLAC), else ``None``."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    return None


_SNIFFERS = {"image": sniff_image, "audio": sniff_audio}
_KIND_NAMES = {"image": "a JPEG, PNG or WebP file", "audio": "a WAV, MP3, Ogg or FLAC file"}
ANY_CONTENT = "application/octet-stream"
"""The content type :func:`open_media` gives a file opened as of any kind: its bytes unread."""


def check_relative(path: str, *, kind: str | None = "image", listed: bool = False) -> PurePosixPath:
    """``path`` as a clean relative path, or a LabelloopError saying why it is refused; with
    ``kind`` None, a path of any file (not only of a media file). A backslash, a folder's
    separator where the path may have been written (Windows), is refused, but in a path
    ``listed`` from a folder on this disk, where it is a character of a name like any other."""
    if not isinstance(path, str) or not path.strip():
        raise LabelloopError("media path: must be a non-empty string")
    if "\x00" in path or ("\\" in path and not listed):
        raise LabelloopError(f"media path '{path[:200]}': contains a NUL or a backslash")
    pure = PurePosixPath(path)
    if pure.is_absolute() or PureWindowsPath(path).drive:
        raise LabelloopError(f"media path '{path[:200]}': absolute paths are refused")
    if ".." in pure.parts:
        raise LabelloopError(f"media path '{path[:200]}': '..' is refused")
    if kind is None:
        return pure
    suffixes = MEDIA_SUFFIXES[kind]
    if pure.suffix.lower() not in suffixes:
        known = ", ".join(suffixes)
        raise LabelloopError(f"media path '{path[:200]}': not an {kind} file ({known})")
    return pure


def resolve_media(path: str, roots: Sequence[Path], *, kind: str = "image") -> tuple[Path, str]:
    """The file a stored path names under the first root holding it, and its content type: the
    file opened and checked as :func:`open_media` opens it, then closed.

    Raises
    ------
    LabelloopError
        The path is refused (absolute, ``..``, out of its root by a symlink, not of ``kind``) or
        cannot be read (a name too long, a symlink loop, no permission).
    NotFound
        No root holds the file.
    """
    file, found, content_type = open_media(path, roots, kind=kind)
    file.close()
    return found, content_type


def _found(
    path: str, roots: Sequence[Path], *, kind: str | None, listed: bool = False
) -> tuple[Path, Path]:
    """The resolved file a stored path (or a ``listed`` one: :func:`check_relative`) names
    under the first root holding it, checked as :func:`resolve_media` says, not opened, and
    that root (resolved)."""
    relative = check_relative(path, kind=kind, listed=listed)
    for root in roots:
        base = Path(root).resolve()
        found, is_file = _resolved(base / relative, path=path)
        if not found.is_relative_to(base):
            raise LabelloopError(f"media path '{path[:200]}': resolves outside the media root")
        if is_file:
            return found, base
    raise NotFound(f"media path '{path[:200]}': no such file under the media roots")


def _resolved(target: Path, *, path: str) -> tuple[Path, bool]:
    """``target`` through its links and whether that is a regular file (neither opened: a
    pipe would hang), or an error naming it by ``path``."""
    try:
        found = target.resolve()
        return found, found.is_file()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a symlink loop"
        raise LabelloopError(f"media path '{path[:200]}': cannot be read ({reason})") from None


NO_LINK = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
"""``os.open`` flags of a media file or folder on the way to it: no link followed, and no wait
on a named pipe put in a file's place (it is then refused as no file)."""


_CHANGED = {errno.ELOOP, errno.ENOTDIR, errno.ENOENT, errno.ENXIO}
"""What ``os.open`` says of a link put in place of a folder or of the file, or of a file gone
since its check."""


def open_media(
    path: str, roots: Sequence[Path], *, kind: str | None = "image", listed: bool = False
) -> tuple[BinaryIO, Path, str]:
    """The file a stored path names under the first root holding it, opened, with its resolved
    path and the content type of the bytes opened; with ``kind`` None, a regular file of any
    kind (a YOLO folder's label file, its ``data.yaml``), its content type
    :data:`ANY_CONTENT`. A path ``listed`` from a folder may hold a backslash
    (:func:`check_relative`).

    The path is checked as :func:`resolve_media` checks it, then opened folder by folder from
    its root down along the path it resolved to, none through a link: a link put in place of a
    folder or of the file after the check (by someone who can write under the root) makes the
    open fail, so what is read is the file that was checked. A caller that checks the resolved
    path further (another project's uploads) checks what it reads.

    Raises
    ------
    LabelloopError, NotFound
        As :func:`resolve_media`; or the file changed between the check and the open.
    """
    found, base = _found(
        path, roots, kind=kind, listed=listed
    )  # not opened: a pipe put there would hang
    file, content_type = _opened(found.relative_to(base).parts, base, path=path, kind=kind)
    return file, found, content_type


def _opened(
    parts: Sequence[str], base: Path, *, path: str, kind: str | None
) -> tuple[BinaryIO, str]:
    """The file at ``parts`` under the root ``base``, opened folder by folder none through a
    link (see :func:`open_media`), a regular file of ``kind`` by its first bytes (of any kind:
    ``kind`` None), and its content type; errors name it by ``path``."""
    *folders, name = parts
    try:
        here = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in folders:
                inner = os.open(part, NO_LINK | os.O_DIRECTORY, dir_fd=here)
                os.close(here)
                here = inner
            fd = os.open(name, NO_LINK, dir_fd=here)
        finally:
            os.close(here)
    except OSError as exc:
        if exc.errno not in _CHANGED:  # no permission, too many open files: said as it is
            raise LabelloopError(
                f"media path '{path[:200]}': cannot be read ({exc.strerror or exc})"
            ) from None
        raise LabelloopError(
            f"media path '{path[:200]}': changed while it was read ({exc.strerror or exc}); refused"
        ) from None
    file = os.fdopen(fd, "rb")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LabelloopError(f"media path '{path[:200]}': changed while it was read; refused")
        os.set_blocking(fd, True)
        if kind is None:
            return file, ANY_CONTENT
        content_type = _SNIFFERS[kind](file.read(16))
        if content_type is None:
            raise LabelloopError(f"media path '{path[:200]}': not {_KIND_NAMES[kind]}")
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, content_type


def open_under(
    path: str | Path, root: str | Path | None, *, kind: str | None = "image"
) -> BinaryIO:
    """The file at ``path`` under the media root ``root``, opened as :func:`open_media` opens
    it: a relative path found as it finds one, an absolute one (where it found the file: the
    learner's payloads hold that, resolved) opened along it from the root, so a reader handed
    a path long after its check (the learner) reads what serving would: a link or a named pipe
    put there since is refused.

    Without a root (a file a library user names by its own path), the path is resolved where
    it lies now and opened along what it resolved to from the top of the disk, as
    :func:`open_media` opens a file: a link or a named pipe put in its place after is refused,
    and a pipe there already is no file (:class:`NotFound`), never waited on."""
    given = str(path)
    if root is None:
        found, is_file = _resolved(Path(given), path=given)
        if not is_file:
            raise NotFound(f"media path '{given[:200]}': no such file")
        return _opened(found.parts[1:], Path(found.anchor), path=given, kind=kind)[0]
    if not os.path.isabs(given):
        return open_media(given, [Path(root)], kind=kind)[0]
    top = os.path.join(root, "")
    if not given.startswith(top):  # the learner's root is resolved, as its path is
        top = os.path.join(Path(root).resolve(), "")
    if not given.startswith(top):
        raise LabelloopError(f"media path '{Path(given).name[:200]}': outside the media root")
    relative = given.removeprefix(top)
    parts = check_relative(relative, kind=kind).parts  # no '..': the walk only goes down
    return _opened(parts, Path(top), path=relative, kind=kind)[0]


def root_of(folder: Path, roots: Sequence[Path]) -> Path:
    """The media root ``folder`` lies under (resolved), or an error naming the roots."""
    target = folder.resolve()
    for root in roots:
        base = Path(root).resolve()
        if target.is_relative_to(base):
            return base
    shown = ", ".join(str(r) for r in roots) or "(none)"
    raise LabelloopError(
        f"'{folder}' is not under a media root; move it under one of: {shown} "
        "(or add its parent to LABELLOOP_MEDIA_ROOTS)"
    )


def file_hash(file: BinaryIO) -> str:
    """Hex sha256 of an open file's bytes (read from its start), so the same image imported
    twice is a duplicate."""
    file.seek(0)
    return hashlib.file_digest(file, "sha256").hexdigest()


def is_clutter(path: str) -> bool:
    """Whether ``path`` (relative to a dataset's top) is no file of the dataset but one an
    operating system or archiver leaves: a dot-file or one in a dot-folder (``.DS_Store``,
    macOS's ``._a.txt`` beside each file on a foreign disk) or under a macOS zip's
    ``__MACOSX/``."""
    parts = PurePosixPath(path).parts
    return parts[:1] == ("__MACOSX",) or any(part.startswith(".") for part in parts)
