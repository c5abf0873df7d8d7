"""The files of a YOLO dataset, a folder or a zip: where each lies, the class names, the image
lists and splits, and which label file is whose; every file read with a size limit, and no path
or link leading out of the dataset."""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import posixpath
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

import yaml

from labelloop.errors import ImportFormatError, LabelloopError, NotFound
from labelloop.ingest.media import IMAGE_SUFFIXES, check_relative, is_clutter, open_media
from labelloop.ingest.records import BOM, MAX_ID_CHARS

YAML_FILES = ("data.yaml", "data.yml")
NAMES_FILES = ("classes.txt", "obj.names")
"""Where a dataset's top names its classes: Ultralytics' YAML first, then Darknet's lists."""
SPLIT_KEYS = {"train": "pool", "val": "eval", "test": "eval"}
"""The keys of ``data.yaml`` that name a split's images (folders or image lists), and the split
of labelloop they come into: the images held out to validate and test measure the model."""
DARKNET_LISTS = {"train.txt": "train", "valid.txt": "val", "val.txt": "val", "test.txt": "test"}
"""Darknet's image lists, read at the top of a dataset without ``data.yaml``, and their keys."""
DARKNET_DATA = "data/"
"""Where Darknet's lists find a dataset, as CVAT and Datumaro write them: darknet's own
``data/`` folder, which the dataset's top is."""
SPLIT_FOLDERS = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
"""Split folders by name, beside an ``images`` folder (``images/val``, Roboflow's
``valid/images``): a dataset's splits where ``data.yaml`` names none of an image's."""
IMAGE_LIST = "images.txt"
"""The image list of the pool's items an export writes and its ``data.yaml`` names."""
EVAL_LIST = "val.txt"
"""The image list of the eval items an export writes, named by its ``data.yaml``'s ``val``."""
IDS_FILE = "labelloop_ids.json"
"""The file at the top of a labelloop export naming each image's item id where it came from
(an object: image, as the dataset names it -> id), so it imports back with the same ids."""
MAX_LABEL_BYTES = 1 << 20
"""A label file's size at most (1,000 boxes take some 40 KB)."""
MAX_TEXT_BYTES = 64 << 20
"""The size at most of ``data.yaml``, a names file or an image list."""
HEAD_BYTES = 4096
"""How much of a text file beside images is read to tell a label file from a note."""


MAX_DIGITS = 9
"""The digits of a class number at most: no dataset has a billion classes."""


def is_class_number(text: str) -> bool:
    """Whether ``text`` is a class number as YOLO files write them: 0, 1, ..."""
    return text.isdigit() and text.isascii() and len(text) <= MAX_DIGITS


def label_path(image: str) -> str:
    """Where YOLO tools look for the labels of ``image`` (a path relative to the dataset's top):
    its last ``images`` folder turned ``labels`` and its suffix ``.txt`` (Ultralytics'
    ``img2label_paths``)."""
    path = "/" + image
    if "/images/" in path:
        head, tail = path.rsplit("/images/", 1)
        path = f"{head}/labels/{tail}"
    return str(PurePosixPath(path[1:]).with_suffix(".txt"))


def is_yolo_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a YOLO dataset: class names at its top, and a ``labels`` folder
    there or in a folder there (Roboflow's ``train/labels``), or Darknet's image lists at its
    top (CVAT's "YOLO 1.1", its label files beside its images)."""
    if not any((folder / name).is_file() for name in (*YAML_FILES, *NAMES_FILES)):
        return False
    if any((folder / name).is_file() for name in DARKNET_LISTS):
        return True
    tops = [folder, *(p for p in folder.iterdir() if p.is_dir())]
    return any((top / "labels").is_dir() for top in tops)


def is_image(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES


class DatasetFiles:
    """The files of a dataset by their paths relative to its top (clutter left out), read with
    a size limit."""

    files: list[str]
    what: str
    """The dataset as errors name it."""
    in_zip: bool = False
    """Whether its files are a zip's members, as errors name them."""

    def read(self, path: str, limit: int) -> bytes:
        """The file at ``path``; one larger than ``limit`` bytes is refused."""
        data = self.head(path, limit + 1)
        if len(data) > limit:
            raise ImportFormatError(
                file=path,
                line=1,
                unit=None,
                in_zip=self.in_zip,
                reason=f"larger than {limit >> 20} MiB; refused",
            )
        return data

    def head(self, path: str, size: int) -> bytes:
        """The first ``size`` bytes of the file at ``path`` (all of a shorter one)."""
        raise NotImplementedError

    def inside(self, base: str, raw: str) -> str | None:
        """The path ``raw`` names from the folder ``base`` (both relative to the top; ``raw``
        may be absolute), relative to the top ("" the top itself); None when it leads out."""
        raise NotImplementedError

    def is_folder(self, path: str) -> bool:
        """Whether ``path`` (relative to the top, "" the top) holds files of the dataset."""
        return not path or any(f.startswith(path + "/") for f in self.files)

    @contextlib.contextmanager
    def named(self) -> Iterator[None]:
        """Errors met reading the dataset that name one of its files (a label file's line,
        data.yaml's) name it as the zip's member, as the zip's own errors do; a folder's
        file is named by its path."""
        try:
            yield
        except ImportFormatError as exc:
            if not self.in_zip or exc.file is None or exc.in_zip:
                raise
            raise exc.within(exc.file) from None


class FolderFiles(DatasetFiles):
    """A folder's files in path order; links that lead out of it are refused when read."""

    what = "the folder imported"

    def __init__(self, top: Path) -> None:
        self.top = top
        found = (p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file())
        self.files = sorted(path for path in found if not is_clutter(path))

    def head(self, path: str, size: int) -> bytes:
        """Read as an image is (:func:`open_media`, the folder its root): a named pipe or a
        link put in the file's place (or a folder's) since the folder was listed is refused,
        not waited on nor followed, and only what was opened is read. Every path read is one
        the folder listed, whose names may hold a backslash (a label file matched to its
        image by name, a note beside images)."""
        try:
            with open_media(path, [self.top], kind=None, listed=True)[0] as raw:
                return raw.read(size)
        except NotFound:  # listed as a file, and none there now (a pipe, a folder, gone)
            reason = "changed while it was read; refused"
        except LabelloopError as exc:
            reason = exc.message.removeprefix(f"media path '{path[:200]}': ")
            if self.inside("", path) is None:  # said as the folder's other paths out of it are
                reason = "a link to a file out of the folder is refused"
        except OSError as exc:
            reason = f"cannot be read ({exc.strerror or exc})"
        raise ImportFormatError(file=path, line=1, unit=None, reason=reason)

    def inside(self, base: str, raw: str) -> str | None:
        """Resolved on disk: a link out of the folder leads out of it."""
        try:
            found = (self.top / base / raw).resolve()
        except (OSError, RuntimeError, ValueError):  # a link loop, a NUL
            return None
        if not found.is_relative_to(self.top):
            return None
        inner = found.relative_to(self.top).as_posix()
        return "" if inner == "." else inner


ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,  # a member cut short
    OSError,  # bz2's corrupt stream
    NotImplementedError,  # a compression zipfile does not know
    RuntimeError,  # an encrypted member
)
"""What reading a corrupt or unreadable zip member raises, by its compression."""


class ZipFiles(DatasetFiles):
    """A zip's files in its order; a name that climbs out of it, or a link, is refused."""

    what = "the zip"
    in_zip = True

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.files = []
        for info in archive.infolist():
            if info.is_dir():
                continue
            try:
                check_relative(info.filename, kind=None)
            except LabelloopError as exc:
                said = f"media path '{info.filename[:200]}': "
                raise ImportFormatError(
                    file=info.filename,
                    line=1,
                    unit=None,
                    in_zip=True,
                    reason=exc.message.removeprefix(said),
                ) from None
            if not is_clutter(info.filename):
                self.files.append(info.filename)

    def head(self, path: str, size: int) -> bytes:
        info = self.archive.getinfo(path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportFormatError(
                file=path, line=1, unit=None, in_zip=True, reason="a link is refused"
            )
        try:
            with self.archive.open(info) as raw:
                return raw.read(size)
        except ZIP_ERRORS as exc:
            detail = str(exc) or "it is cut short"  # EOFError says nothing
            raise ImportFormatError(
                file=path,
                line=1,
                unit=None,
                in_zip=True,
                reason=f"cannot be read from the zip ({detail[:200]})",
            ) from None

    def inside(self, base: str, raw: str) -> str | None:
        """Resolved by its names alone (a zip's links are refused): an absolute path, or one
        that climbs above the top, leads out."""
        if raw.startswith("/") or "\\" in raw or "\x00" in raw or PureWindowsPath(raw).drive:
            return None
        found = posixpath.normpath(posixpath.join(base, raw))
        if found == ".." or found.startswith("../"):
            return None
        return "" if found == "." else found

    def extract(self, path: str, name: str, *, dir_fd: int, limit: int) -> int:
        """Write the file at ``path`` to a new file ``name`` in the folder open as ``dir_fd``, in
        chunks, counting the bytes read rather than trusting the zip's directory; one larger
        than ``limit`` bytes is refused. Returns its size. The file is created, never opened
        (nor a link followed) where something has that name already."""
        info = self.archive.getinfo(path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportFormatError(
                file=path, line=1, unit=None, in_zip=True, reason="a link is refused"
            )
        written = 0
        try:
            with self.archive.open(info) as raw, open(name, "xb", opener=_in(dir_fd)) as out:
                while chunk := raw.read(1 << 20):
                    written += len(chunk)
                    if written > limit:
                        raise ImportFormatError(
                            file=path,
                            line=1,
                            unit=None,
                            in_zip=True,
                            reason=f"larger than {limit >> 20} MiB; refused",
                        )
                    out.write(chunk)
        except ZIP_ERRORS as exc:
            if isinstance(exc, OSError) and exc.filename is not None:  # writing it
                reason = exc.strerror or "it cannot be written"
                raise ImportFormatError(
                    file=path, line=1, unit=None, in_zip=True, reason=f"cannot be stored ({reason})"
                ) from None
            detail = str(exc) or "it is cut short"
            raise ImportFormatError(
                file=path,
                line=1,
                unit=None,
                in_zip=True,
                reason=f"cannot be read from the zip ({detail[:200]})",
            ) from None
        return written


def _in(dir_fd: int) -> Callable[[str, int], int]:
    """An ``open`` opener of names in the folder open as ``dir_fd`` that follows no link."""

    def opener(name: str, flags: int) -> int:
        return os.open(name, flags | os.O_NOFOLLOW, 0o666, dir_fd=dir_fd)

    return opener


def open_zip(source: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFormatError(
            line=1, unit=None, reason=f"not a zip file ({exc}): a YOLO file is a zip of a dataset"
        ) from None


def read_text(path: str, data: bytes) -> str:
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFormatError(file=path, line=line, reason="not valid UTF-8") from None


def class_names(dataset: DatasetFiles) -> dict[int, str]:
    """Class number -> name, from the dataset's top."""
    present = set(dataset.files)
    for name in YAML_FILES:
        if name in present:
            return _yaml_names(name, _data_yaml(dataset, name))
    for name in NAMES_FILES:
        if name in present:
            return _listed_names(name, read_text(name, dataset.read(name, MAX_TEXT_BYTES)))
    raise ImportFormatError(
        line=1,
        unit=None,
        reason="no class names: a YOLO dataset names them in data.yaml ('names'), "
        "classes.txt or obj.names at its top",
    )


def _data_yaml(dataset: DatasetFiles, name: str) -> yaml.MappingNode:
    """The document of ``data.yaml``, composed but not built: its texts stay as written (a
    class named ``no`` is not YAML's false) and an error can name its line."""
    text = read_text(name, dataset.read(name, MAX_TEXT_BYTES))
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "syntax error"
        raise ImportFormatError(file=name, line=line, reason=f"not valid YAML: {problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise ImportFormatError(file=name, line=1, reason=f"not valid YAML: {reason}") from None
    if not isinstance(node, yaml.MappingNode):
        raise ImportFormatError(file=name, line=1, reason="must be a mapping (names: ...)")
    return node


def _key(document: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in document.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _yaml_names(file: str, document: yaml.MappingNode) -> dict[int, str]:
    """``names`` as a list of names or a mapping of class number -> name."""
    node = _key(document, "names")
    if node is None:
        raise ImportFormatError(file=file, line=1, reason="no 'names': the class names")
    if isinstance(node, yaml.SequenceNode):
        return {k: _scalar_name(file, v) for k, v in enumerate(node.value)}
    if not isinstance(node, yaml.MappingNode):
        raise ImportFormatError(
            file=file, line=_line(node), reason="'names' must be a list or class number -> name"
        )
    names: dict[int, str] = {}
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode) or not is_class_number(k.value):
            raise ImportFormatError(
                file=file, line=_line(k), reason="a class of 'names' must be a number (0, 1, ...)"
            )
        names[int(k.value)] = _scalar_name(file, v)
    return names


def _scalar_name(file: str, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
        raise ImportFormatError(file=file, line=_line(node), reason="a class name must be a text")
    return node.value.strip()


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 1


def _listed_names(file: str, text: str) -> dict[int, str]:
    """One class name a line, the first numbered 0; blank lines may only end the file."""
    lines = text.rstrip().splitlines()
    for line, name in enumerate(lines, 1):
        if not name.strip():
            raise ImportFormatError(
                file=file, line=line, reason="a blank line: each line names the next class"
            )
    return {k: name.strip() for k, name in enumerate(lines)}


@dataclass
class Layout:
    """Where a dataset keeps its splits: the folders and image lists ``data.yaml``'s
    ``train``, ``val`` and ``test`` name (or Darknet's lists), relative to the dataset's top,
    each with the keys that name it."""

    folders: dict[str, set[str]] = field(default_factory=dict)
    lists: dict[str, set[str]] = field(default_factory=dict)


def dataset_layout(dataset: DatasetFiles) -> Layout:
    """The splits ``data.yaml`` names, from its ``path`` (relative to its folder, or absolute)
    as Ultralytics reads them; a ``path`` or split that leads out of the dataset is refused
    naming the key. A split naming nothing here is left out (a ``test`` not shipped)."""
    present = set(dataset.files)
    layout = Layout()
    for name in YAML_FILES:
        if name not in present:
            continue
        document = _data_yaml(dataset, name)
        top = _dataset_path(dataset, name, document)
        for key in SPLIT_KEYS:
            node = _key(document, key)
            entries = node.value if isinstance(node, yaml.SequenceNode) else [node]
            for entry in entries:
                if isinstance(entry, yaml.ScalarNode) and entry.value.strip():
                    where = _split_entry(dataset, name, key, top, entry)
                    if where in present and where.endswith(".txt"):
                        layout.lists.setdefault(where, set()).add(key)
                    elif where is not None and dataset.is_folder(where):
                        layout.folders.setdefault(where, set()).add(key)
        return layout
    for name, key in DARKNET_LISTS.items():
        if name in present:
            layout.lists.setdefault(name, set()).add(key)
    return layout


def _dataset_path(dataset: DatasetFiles, file: str, document: yaml.MappingNode) -> str:
    """The folder ``data.yaml``'s ``path`` names, relative to the dataset's top ("" without)."""
    node = _key(document, "path")
    if node is None or (isinstance(node, yaml.ScalarNode) and not node.value.strip()):
        return ""
    if not isinstance(node, yaml.ScalarNode):
        raise ImportFormatError(file=file, line=_line(node), reason="'path' must be a folder")
    raw = node.value.strip()
    found = dataset.inside("", raw)
    if found is None:
        raise ImportFormatError(
            file=file,
            line=_line(node),
            reason=f"'path' {_shown(raw)} leads out of {dataset.what}; give the dataset's folder "
            "relative to data.yaml's, or leave 'path' out",
        )
    if not dataset.is_folder(found):
        raise ImportFormatError(
            file=file,
            line=_line(node),
            reason=f"'path' {_shown(raw)} names no folder of {dataset.what}; give the dataset's "
            "folder relative to data.yaml's, or leave 'path' out",
        )
    return found


def _split_entry(
    dataset: DatasetFiles, file: str, key: str, top: str, node: yaml.ScalarNode
) -> str | None:
    """Where one entry of a split lies (None: nowhere here). A ``../`` that leads nowhere is
    read from ``path`` itself, as Ultralytics reads Roboflow's ``../train/images``."""
    raw = node.value.strip()
    found = dataset.inside(top, raw)
    if found is not None and (found in dataset.files or dataset.is_folder(found)):
        return found
    if raw.startswith("../"):
        fallback = dataset.inside(top, raw[3:])
        if fallback is not None:
            return fallback
    if found is None:
        raise ImportFormatError(
            file=file,
            line=_line(node),
            reason=f"'{key}' {_shown(raw)} leads out of {dataset.what}; name its folder or "
            "image list relative to 'path' (data.yaml's folder)",
        )
    return None


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 200 else raw[:200] + "…")


def listed_images(dataset: DatasetFiles, layout: Layout) -> dict[str, set[str]]:
    """The images the dataset's lists name (each once, in their order), with the keys of the
    lists that name each."""
    images: dict[str, set[str]] = {}
    present = set(dataset.files)
    for listed, keys in layout.lists.items():
        text = read_text(listed, dataset.read(listed, MAX_TEXT_BYTES))
        folder = PurePosixPath(listed).parent
        for line, raw in enumerate(text.splitlines(), 1):
            entry = raw.strip()
            if not entry:
                continue
            path = entry if entry[0] == "/" else (folder / entry.removeprefix("./")).as_posix()
            if path not in present and entry.startswith(DARKNET_DATA):
                # Darknet's lists (CVAT's and Datumaro's "YOLO 1.1") name the images from
                # darknet's folder, the dataset being its data/: read from the list's own
                bare = (folder / entry.removeprefix(DARKNET_DATA)).as_posix()
                path = bare if bare in present else path
            if entry[0] == "/" and isinstance(dataset, FolderFiles):
                path = dataset.inside("", entry) or path  # an absolute path into the folder
            try:
                check_relative(path, kind="image")
            except LabelloopError as exc:
                raise ImportFormatError(file=listed, line=line, reason=exc.message) from None
            images.setdefault(path, set()).update(keys)
    return images


def zip_images(dataset: ZipFiles, listed: dict[str, set[str]]) -> list[str]:
    """The images a zip's lists name, else its image files."""
    if listed:
        return list(listed)
    found = [p for p in dataset.files if is_image(p)]
    if not found:
        raise ImportFormatError(
            line=1,
            unit=None,
            reason="the zip names no images: list them in a file that data.yaml's 'train' "
            "names (one image path under the media root a line), as the export writes",
        )
    return found


def split_of(image: str, layout: Layout, listed: dict[str, set[str]]) -> str | None:
    """The split of labelloop ``image`` comes into by the dataset's own: "pool" for a
    training image, "eval" for one only ``val`` or ``test`` names (one ``train`` names too is
    trained on, as Ultralytics would); by its split folder where no key names it; None where
    the dataset says nothing of it."""
    keys = set(listed.get(image, ()))
    for folder, named in layout.folders.items():
        if not folder or image.startswith(folder + "/"):
            keys |= named
    if not keys:
        parts = PurePosixPath(image).parts[:-1]
        for k, part in enumerate(parts):
            beside = parts[k - 1 : k] + parts[k + 1 : k + 2]
            if part.lower() in SPLIT_FOLDERS and "images" in beside:
                keys.add(SPLIT_FOLDERS[part.lower()])
                break
    if not keys:
        return None
    return "pool" if "train" in keys else SPLIT_KEYS[min(keys)]


def label_files(dataset: DatasetFiles, images: list[str], lists: Iterable[str]) -> dict[str, str]:
    """Image -> its label file, where it has one. A label file that two images would share, or
    that no image has, is refused: its boxes would go to the wrong image, or nowhere. Outside a
    ``labels`` folder, a text beside images is taken for a label file only when it starts as
    one (a README is left alone)."""
    present = set(dataset.files)
    claimed: dict[str, str] = {}
    for image in images:
        path = label_path(image)
        if path in present and claimed.setdefault(path, image) != image:
            raise ImportFormatError(
                file=path,
                line=1,
                unit=None,
                in_zip=dataset.in_zip,
                reason=f"both '{claimed[path]}' and '{image}' would take these labels: name "
                "images apart by more than their suffix",
            )
    reserved = {*NAMES_FILES, *lists}
    folders = {str(PurePosixPath(image).parent) for image in images}
    for path in dataset.files:
        pure = PurePosixPath(path)
        if pure.suffix != ".txt" or path in claimed or path in reserved:
            continue
        if "labels" in pure.parts[:-1] or (
            str(pure.parent) in folders and _starts_as_labels(dataset.head(path, HEAD_BYTES))
        ):
            raise ImportFormatError(
                file=path,
                line=1,
                unit=None,
                in_zip=dataset.in_zip,
                reason="a label file with no image: YOLO names a label file after its image "
                "(images/a.jpg: labels/a.txt)",
            )
    return {image: path for path, image in claimed.items()}


def _starts_as_labels(head: bytes) -> bool:
    """Whether the first line that is not blank reads as a YOLO label line (``class cx cy w
    h``): a text beside images that does not (a README) is no label file."""
    for raw in head.removeprefix(BOM).decode("utf-8", "replace").splitlines():
        parts = raw.split()
        if parts:
            return len(parts) in (5, 6) and is_class_number(parts[0]) and all(map(_real, parts[1:]))
    return False


def _real(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def exported_ids(dataset: DatasetFiles) -> dict[str, str]:
    """Image -> its item's id, as a labelloop export's :data:`IDS_FILE` names them (none
    without it: a dataset from elsewhere keeps its path ids). One that is not an object of
    texts, or an id blank or too long, is refused naming the file and the image."""
    if IDS_FILE not in dataset.files:
        return {}

    def refused(reason: str) -> ImportFormatError:
        return ImportFormatError(
            file=IDS_FILE, line=1, unit=None, in_zip=dataset.in_zip, reason=reason
        )

    try:
        found = json.loads(read_text(IDS_FILE, dataset.read(IDS_FILE, MAX_TEXT_BYTES)))
    except json.JSONDecodeError as exc:
        raise refused(f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(found, dict):
        raise refused("must be an object: each image -> its item's id")
    for image, item_id in found.items():
        if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > MAX_ID_CHARS:
            raise refused(
                f"the id of '{image[:200]}' must be a text of 1 to {MAX_ID_CHARS:,} characters"
            )
    return found
