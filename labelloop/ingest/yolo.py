"""YOLO detection labels (Ultralytics, Darknet): boxes of an image project in and out.

A YOLO dataset holds images and, for each labeled image, one ``.txt`` label file where YOLO
tools look for it: the image's path with its last ``images`` folder turned ``labels`` and its
suffix ``.txt`` (beside the image when no folder is named ``images``). Each line is
``class cx cy w h``, the box's centre and size in fractions of the image, and a sixth number on
the lines ``yolo predict`` writes, its confidence. Class names come from ``data.yaml``
(``names``: a list, or index -> name), else ``classes.txt`` or ``obj.names`` (one a line).

In: a folder under a media root (every image under it comes in), or a zip whose paths are paths
under a media root and whose image lists (``data.yaml``'s ``train``/``val``/``test`` files, one
image a line, as the export writes) name the images; a zip without lists names them by its own
image files. An image with no label file comes in unlabeled; an empty label file is an answer
with no boxes. Lines with a confidence become pre-annotations, as COCO's scored annotations do.
A line that cannot be read, a class that is not a label of the project, a path out of the
dataset or a label file no image has aborts the import, naming the file and line.

Out: a zip of the label files at those places, ``data.yaml`` naming the classes in the schema's
order and ``images.txt`` listing the images: unzipped into the media root, it is a dataset YOLO
tools train on, and it imports back (as a zip, or as a folder).
"""

from __future__ import annotations

import math
import stat
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import yaml

from labelloop.domain import BoxFrame, ExportRecord, ItemIn
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest.boxes import BoxesImporter, boxes_control, recorded_size
from labelloop.ingest.images import check_utf8
from labelloop.ingest.media import IMAGE_SUFFIXES, check_relative
from labelloop.ingest.records import BOM

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema

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
NORMALIZED = BoxFrame(1, 1, declared=False)
SPILL = 1e-6
"""How far past the image's edge a box may reach before its cut is counted in the notes."""


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


class YoloImporter(BoxesImporter):
    """Reads a YOLO dataset: a zip (``read``) or a folder (``read_folder``); record numbers
    count its images in path order (a zip's: in the order its lists name them).

    ``labels`` are the boxes control's labels: a class whose name is none of them is refused
    (a name matching one but for case is taken as that label). Without them (no schema) the
    class names are taken as they are.
    """

    format: ClassVar[str] = "yolo"
    tool: ClassVar[str] = "YOLO"

    def __init__(
        self, *, control: str = "boxes", target: str | None = None, labels: Sequence[str] = ()
    ) -> None:
        super().__init__(control=control, target=target)
        self.labels = tuple(labels)
        self.cut = 0  # boxes reaching past the image's edge, cut at it (see notes())

    def notes(self) -> list[str]:
        """What did not come in as the files hold it (after reading)."""
        found = super().notes()
        if self.cut:
            boxes = "box reached" if self.cut == 1 else "boxes reached"
            found.append(
                f"{self.cut:,} {boxes} past the image's edge and came in cut at it, "
                "as YOLO tools cut them"
            )
        return found

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per image a zip names."""
        self.suggested = self.cut = 0
        dataset = _Zip(_open_zip(source))
        lists = _image_lists(dataset)
        yield from self._items(dataset, _zip_images(dataset, lists), lists=lists, prefix="")

    def read_folder(self, folder: Path, *, root: Path) -> Iterator[ItemIn]:
        """Yield one ItemIn per image file under ``folder``, which lies under the media root
        ``root`` (payloads hold paths under it; ids are paths within the folder)."""
        self.suggested = self.cut = 0
        dataset = _Folder(folder.resolve())
        inner = dataset.top.relative_to(root.resolve()).as_posix()
        yield from self._items(
            dataset,
            [p for p in dataset.files if _is_image(p)],
            lists=_image_lists(dataset),
            prefix="" if inner == "." else inner + "/",
        )

    def _items(
        self, dataset: _Files, images: list[str], *, lists: list[str], prefix: str
    ) -> Iterator[ItemIn]:
        names = _class_names(dataset)
        labels = _label_files(dataset, images, lists)
        for number, image in enumerate(images, 1):
            if not image.isascii():
                check_utf8(number, prefix + image)
            found = labels.get(image)
            boxes: list[dict[str, Any]] = []
            scored: list[dict[str, Any]] = []
            if found is not None:
                text = _text(found, dataset.read(found, MAX_LABEL_BYTES))
                for box in self._boxes(found, text, names):
                    (scored if "score" in box else boxes).append(box)
            yield self._image(
                number,
                prefix + image,
                external_id=image,
                boxes=boxes,
                scored=scored,
                labeled=found is not None and (bool(boxes) or not scored),
                frame=NORMALIZED,
            )

    def _boxes(self, file: str, text: str, names: dict[int, str]) -> Iterator[dict[str, Any]]:
        """The boxes of a label file in fractions of the image, cut at its edges."""
        for line, raw in enumerate(text.splitlines(), 1):
            parts = raw.split()
            if not parts:
                continue
            if len(parts) not in (5, 6):
                raise ImportFormatError(
                    file=file,
                    line=line,
                    reason=f"holds {len(parts)} values; a box is 'class cx cy w h' (and a "
                    "confidence): segments and keypoints cannot be held",
                )
            label = self._label(file, line, parts[0], names)
            cx, cy, w, h, *score = (
                _fraction(file, line, what, value)
                for what, value in zip(VALUES, parts[1:], strict=False)
            )
            if w <= 0 or h <= 0:
                raise ImportFormatError(
                    file=file, line=line, reason="a box must be wider and taller than 0"
                )
            x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            if min(x0, y0) < -SPILL or max(x1, y1) > 1 + SPILL:
                self.cut += 1
            x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
            box: dict[str, Any] = {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0, "label": label}
            if score:
                box["score"] = score[0]
            yield box

    def _label(self, file: str, line: int, raw: str, names: dict[int, str]) -> str:
        """The project's label a class number names."""
        if not raw.isdigit() or not raw.isascii():
            raise ImportFormatError(
                file=file, line=line, reason=f"the class must be a number (0, 1, ...), got {raw!r}"
            )
        number = int(raw)
        if number not in names:
            known = f"0 to {max(names)}" if names else "none"
            raise ImportFormatError(
                file=file,
                line=line,
                reason=f"class {number} has no name (the dataset names classes {known})",
            )
        name = names[number]
        if not self.labels or name in self.labels:
            return name
        alike = [label for label in self.labels if label.casefold() == name.casefold()]
        if len(alike) == 1:
            return alike[0]
        raise ImportFormatError(
            file=file,
            line=line,
            reason=f"class {number} ('{name}') is not a label of '{self.control}' "
            f"({', '.join(self.labels)}); rename the class or add the label to the schema",
        )


VALUES = ("cx", "cy", "w", "h", "confidence")
"""The numbers of a label line after its class, as errors name them."""


def _fraction(file: str, line: int, what: str, raw: str) -> float:
    """One number of a label line, from 0 to 1."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ImportFormatError(
            file=file, line=line, reason=f"{what} must be a number, got {raw!r}"
        )
    if not 0 <= value <= 1:
        raise ImportFormatError(
            file=file,
            line=line,
            reason=f"{what} {raw} is outside 0..1: YOLO boxes are in fractions of the image",
        )
    return value


def _is_image(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES


class _Files:
    """The files of a dataset by their paths relative to its top, read with a size limit."""

    files: list[str]

    def read(self, path: str, limit: int) -> bytes:
        raise NotImplementedError


class _Folder(_Files):
    """A folder's files in path order; links that lead out of it are refused when read."""

    def __init__(self, top: Path) -> None:
        self.top = top
        found = (p for p in top.rglob("*") if p.is_file())
        self.files = sorted(p.relative_to(top).as_posix() for p in found)

    def read(self, path: str, limit: int) -> bytes:
        file = self.top / path
        try:
            if not file.resolve().is_relative_to(self.top):
                raise ImportFormatError(
                    file=path, line=1, reason="a link to a file out of the folder is refused"
                )
            with file.open("rb") as raw:
                data = raw.read(limit + 1)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "a link loop"
            raise ImportFormatError(
                file=path, line=1, reason=f"cannot be read ({reason})"
            ) from None
        return _limited(path, data, limit)


class _Zip(_Files):
    """A zip's files; a name that climbs out of it, or a link, is refused."""

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
            self.files.append(info.filename)

    def read(self, path: str, limit: int) -> bytes:
        info = self.archive.getinfo(path)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportFormatError(file=path, line=1, reason="a link is refused")
        try:
            with self.archive.open(info) as raw:
                data = raw.read(limit + 1)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
            raise ImportFormatError(
                file=path, line=1, reason=f"cannot be read from the zip ({exc})"
            ) from None
        return _limited(path, data, limit)


def _limited(path: str, data: bytes, limit: int) -> bytes:
    if len(data) > limit:
        raise ImportFormatError(
            file=path, line=1, reason=f"larger than {limit >> 20} MiB; refused"
        )
    return data


def _open_zip(source: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFormatError(
            line=1, reason=f"not a zip file ({exc}): a YOLO file is a zip of a dataset"
        ) from None


def _text(path: str, data: bytes) -> str:
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFormatError(file=path, line=line, reason="not valid UTF-8") from None


def _class_names(dataset: _Files) -> dict[int, str]:
    """Class number -> name, from the dataset's top."""
    present = set(dataset.files)
    for name in YAML_FILES:
        if name in present:
            return _yaml_names(name, _data_yaml(dataset, name))
    for name in NAMES_FILES:
        if name in present:
            return _listed_names(name, _text(name, dataset.read(name, MAX_TEXT_BYTES)))
    raise ImportFormatError(
        line=1,
        reason="no class names: a YOLO dataset names them in data.yaml ('names'), "
        "classes.txt or obj.names at its top",
    )


def _data_yaml(dataset: _Files, name: str) -> yaml.MappingNode:
    """The document of ``data.yaml``, composed but not built: its texts stay as written (a
    class named ``no`` is not YAML's false) and an error can name its line."""
    text = _text(name, dataset.read(name, MAX_TEXT_BYTES))
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
        if not isinstance(k, yaml.ScalarNode) or not k.value.isdigit() or not k.value.isascii():
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


def _zip_images(dataset: _Zip, lists: list[str]) -> list[str]:
    """The images a zip's lists name (each once, in their order), else its image files."""
    if not lists:
        found = [p for p in dataset.files if _is_image(p)]
        if not found:
            raise ImportFormatError(
                line=1,
                reason="the zip names no images: list them in a file that data.yaml's 'train' "
                "names (one image path under the media root a line), as the export writes",
            )
        return found
    images: dict[str, None] = {}
    for listed in lists:
        text = _text(listed, dataset.read(listed, MAX_TEXT_BYTES))
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


def _image_lists(dataset: _Files) -> list[str]:
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


def _label_files(dataset: _Files, images: list[str], lists: list[str]) -> dict[str, str]:
    """Image -> its label file, where it has one. A label file that two images would share, or
    that no image has, is refused: its boxes would go to the wrong image, or nowhere."""
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
        if "labels" in pure.parts[:-1] or str(pure.parent) in folders:
            raise ImportFormatError(
                file=path,
                line=1,
                reason="a label file with no image: YOLO names a label file after its image "
                "(images/a.jpg: labels/a.txt)",
            )
    return {image: path for path, image in claimed.items()}


class YoloExporter:
    """Writes the labeled images of a boxes project as a zip of YOLO label files."""

    format: ClassVar[str] = "yolo"

    def __init__(self, *, schema: ProjectSchema | None = None) -> None:
        self.schema = schema
        self.control, self.labels = boxes_control(schema, "YOLO")

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as a zip: a label file per image, ``images.txt`` and
        ``data.yaml`` (the classes in the schema's order; without a schema, as met)."""
        labels = list(self.labels)
        images: list[str] = []
        written: dict[str, int] = {}  # label file -> the item it holds
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for record in records:
                image = str(record.text)
                path = label_path(image)
                if path in written or path == IMAGE_LIST:
                    other = f"item {written[path]}" if path in written else "the image list"
                    raise LabelloopError(
                        f"item {record.item_id} ('{image[:200]}') would write {path}, as "
                        f"{other} does: YOLO names a label file after its image"
                    )
                written[path] = record.item_id
                boxes = record.value.get(self.control) or ()
                size = recorded_size(record, "YOLO") if boxes else (1.0, 1.0)
                archive.writestr(path, "".join(_line_of(box, labels, size) for box in boxes))
                images.append(f"./{image}\n")
            archive.writestr(IMAGE_LIST, "".join(images))
            archive.writestr("data.yaml", _data_yaml_text(labels))


def _line_of(box: dict[str, Any], labels: list[str], size: tuple[float, float]) -> str:
    """One box as a YOLO line, in fractions of the image's ``size`` (width, height)."""
    if box["label"] not in labels:
        labels.append(box["label"])  # only without a schema: labels as met
    width, height = size
    x, y, w, h = box["x"], box["y"], box["w"], box["h"]
    numbers = ((x + w / 2) / width, (y + h / 2) / height, w / width, h / height)
    return f"{labels.index(box['label'])} " + " ".join(f"{n:.6f}" for n in numbers) + "\n"


def _data_yaml_text(labels: list[str]) -> str:
    """``data.yaml`` as Ultralytics reads it: names by class number, and the image lists."""
    doc = {
        "names": dict(enumerate(labels)),
        "nc": len(labels),
        "train": IMAGE_LIST,
        "val": IMAGE_LIST,
    }
    head = (
        "# labelloop export. Unzipped into the media root, each label file lies where YOLO\n"
        "# tools look for its image's labels; images.txt lists the images. For val, name the\n"
        "# images.txt of an export with --split eval (the items held out to measure).\n"
    )
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
