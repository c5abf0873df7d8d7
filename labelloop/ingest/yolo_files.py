"""The files of a YOLO dataset, a folder or a zip: where each lies, the class names, the image
lists, and which label file is whose; every file read with a size limit, and no path or link
leading out of the dataset."""

from __future__ import annotations

import lzma
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import yaml

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest.media import IMAGE_SUFFIXES, check_relative, is_clutter
from labelloop.ingest.records import BOM

YAML_FILES = ("data.yaml", "data.yml")
NAMES_FILES = ("classes.txt", "obj.names")
"""Where a dataset's top names its classes: Ultralytics' YAML first, then Darknet's lists."""
LIST_KEYS = ("train", "val", "test")
"""The keys of ``data.yaml`` that name image lists."""
DARKNET_LISTS = ("train.txt", "valid.txt", "val.txt", "test.txt")
"""Darknet's image lists, read at the top of a dataset without ``data.yaml``."""
IMAGE_LIST = "images.txt"
"""The image list an export writes and its ``data.yaml`` names."""
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
    there or in a folder there (Roboflow's ``train/labels``)."""
    if not any((folder / name).is_file() for name in (*YAML_FILES, *NAMES_FILES)):
        return False
    tops = [folder, *(p for p in folder.iterdir() if p.is_dir())]
    return any((top / "labels").is_dir() for top in tops)


def is_image(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES


class DatasetFiles:
    """The files of a dataset by their paths relative to its top (clutter left out), read with
    a size limit."""

    files: list[str]

    def read(self, path: str, limit: int) -> bytes:
        """The file at ``path``; one larger than ``limit`` bytes is refused."""
        data = self.head(path, limit + 1)
        if len(data) > limit:
            raise ImportFormatError(
                file=path, line=1, reason=f"larger than {limit >> 20} MiB; refused"
            )
        return data

    def head(self, path: str, size: int) -> bytes:
        """The first ``size`` bytes of the file at ``path`` (all of a shorter one)."""
        raise NotImplementedError


class FolderFiles(DatasetFiles):
    """A folder's files in path order; links that lead out of it are refused when read."""

    def __init__(self, top: Path) -> None:
        self.top = top
        found = (p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file())
        self.files = sorted(path for path in found if not is_clutter(path))

    def head(self, path: str, size: int) -> bytes:
        file = self.top / path
        try:
            if not file.resolve().is_relative_to(self.top):
                raise ImportFormatError(
                    file=path, line=1, reason="a link to a file out of the folder is refused"
                )
            with file.open("rb") as raw:
                return raw.read(size)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a link loop"
            raise ImportFormatError(
                file=path, line=1, reason=f"cannot be read ({reason})"
            ) from None


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

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.files = []
        for info in archive.infolist():
            if info.is_dir():
                continue
            try:
                check_relative(info.filename, kind=None)
            except LabelloopError as exc:
                shown = exc.message.removeprefix("media path ")
                raise ImportFormatError(line=1, reason=f"zip member {shown}") from None
            if not is_clutter(info.filename):
                self.files.append(info.filename)

    def head(self, path: str, size: int) -> bytes:
        info = self.archive.getinfo(path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportFormatError(file=path, line=1, reason="a link is refused")
        try:
            with self.archive.open(info) as raw:
                return raw.read(size)
        except ZIP_ERRORS as exc:
            detail = str(exc) or "it is cut short"  # EOFError says nothing
            raise ImportFormatError(
                file=path, line=1, reason=f"cannot be read from the zip ({detail[:200]})"
            ) from None


def open_zip(source: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFormatError(
            line=1, reason=f"not a zip file ({exc}): a YOLO file is a zip of a dataset"
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


def zip_images(dataset: ZipFiles, lists: list[str]) -> list[str]:
    """The images a zip's lists name (each once, in their order), else its image files."""
    if not lists:
        found = [p for p in dataset.files if is_image(p)]
        if not found:
            raise ImportFormatError(
                line=1,
                reason="the zip names no images: list them in a file that data.yaml's 'train' "
                "names (one image path under the media root a line), as the export writes",
            )
        return found
    images: dict[str, None] = {}
    for listed in lists:
        text = read_text(listed, dataset.read(listed, MAX_TEXT_BYTES))
        folder = PurePosixPath(listed).parent
        for line, raw in enumerate(text.splitlines(), 1):
            entry = raw.strip()
            if not entry:
                continue
            path = entry if entry[0] == "/" else (folder / entry.removeprefix("./")).as_posix()
            try:
                check_relative(path, kind="image")
            except LabelloopError as exc:
                raise ImportFormatError(file=listed, line=line, reason=exc.message) from None
            images.setdefault(path, None)
    return list(images)


def image_lists(dataset: DatasetFiles) -> list[str]:
    """The image lists at a dataset's top: the ``.txt`` files ``data.yaml``'s ``train``,
    ``val`` and ``test`` name (a folder they name is for a dataset that holds its images), or
    without ``data.yaml``, Darknet's."""
    present = set(dataset.files)
    for name in YAML_FILES:
        if name in present:
            document = _data_yaml(dataset, name)
            entries: list[str] = []
            for key in LIST_KEYS:
                node = _key(document, key)
                if isinstance(node, yaml.ScalarNode):
                    entries.append(node.value)
                elif isinstance(node, yaml.SequenceNode):
                    entries += [n.value for n in node.value if isinstance(n, yaml.ScalarNode)]
            lists = (e.strip().removeprefix("./") for e in entries)
            return list(dict.fromkeys(e for e in lists if e in present and e.endswith(".txt")))
    return [name for name in DARKNET_LISTS if name in present]


def label_files(dataset: DatasetFiles, images: list[str], lists: list[str]) -> dict[str, str]:
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
