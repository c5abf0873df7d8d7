"""YOLO detection labels (Ultralytics, Darknet): boxes of an image project in and out.

A YOLO dataset holds images and, for each labeled image, one ``.txt`` label file where YOLO
tools look for it: the image's path with its last ``images`` folder turned ``labels`` and its
suffix ``.txt`` (beside the image when no folder is named ``images``). Each line is
``class cx cy w h``, the box's centre and size in fractions of the image, and a sixth number on
the lines ``yolo predict`` writes, its confidence. Class names come from ``data.yaml``
(``names``: a list, or index -> name), else ``classes.txt`` or ``obj.names`` (one a line).

In: a folder under a media root (every image under it comes in), or a zip. A zip that holds
images brings them: :func:`store_images` writes them under a media root before the import
reads them there (``stored_at``). A zip of label files has paths under a media root, and
its image lists (``data.yaml``'s ``train``/``val``/``test`` files, one image a line, as the
export writes) name the images; a zip without lists names them by its own image files. An
image with no label file comes in unlabeled; an empty label file is an answer with no boxes.
Lines with a confidence become pre-annotations, as COCO's scored annotations do. Each image
carries its split: the pool for a training image, eval for a labeled one only ``val`` or
``test`` names (as Ultralytics reads them, under ``data.yaml``'s ``path``) or that lies in a
``val``/``valid``/``test`` split folder. A line that cannot be read, a class that is not a
label of the project, a box under 0.01 pixel on its image, more than 1,000 boxes in a file, a
path out of the dataset (a list's line, ``data.yaml``'s ``path`` or split) or a label file no
image has aborts the import, naming the file and line; dot-files and ``__MACOSX/`` are not
read, and a text beside images that does not start as a label file (a README) is left alone.

Out: a zip of the label files at those places, ``data.yaml`` naming the classes in the schema's
order, ``images.txt`` listing the pool's images (``train``) and ``val.txt`` the eval items'
(``val``), and ``labelloop_ids.json`` each image's item id (read back in, so the items keep
their ids; a dataset without it keeps its path ids): unzipped into the media root, it is a
dataset YOLO tools train on, and it imports back (as a zip, or as a folder) with the same
splits.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import yaml

from labelloop.domain import BoxFrame, ExportRecord, ItemIn
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest.boxes import BoxesImporter, boxes_control, recorded_size
from labelloop.ingest.bundles import ImageFiles, bundled
from labelloop.ingest.images import check_utf8
from labelloop.ingest.imaging import image_size
from labelloop.ingest.media import open_media
from labelloop.ingest.yolo_files import (
    EVAL_LIST,
    IDS_FILE,
    IMAGE_LIST,
    MAX_LABEL_BYTES,
    DatasetFiles,
    FolderFiles,
    Layout,
    ZipFiles,
    class_names,
    dataset_layout,
    exported_ids,
    is_class_number,
    is_image,
    label_files,
    label_path,
    listed_images,
    open_zip,
    read_text,
    split_of,
    zip_images,
)
from labelloop.schema.values import BOX_DIGITS, MAX_REGIONS
from labelloop.sizes import size_text

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema

NORMALIZED = BoxFrame(1, 1, declared=False)
SPILL = 1e-6
"""How far past the image's edge a box may reach before its cut is counted in the notes."""
TINY = 0.01
"""A box at least this wide and tall, in fractions, is at least 0.01 pixel so on any image; only
a smaller one needs its image's size read to be checked."""


class YoloImporter(BoxesImporter):
    """Reads a YOLO dataset: a zip (``read``) or a folder (``read_folder``); record numbers
    count its images in path order (a zip's: in the order its lists name them).

    ``labels`` are the boxes control's labels: a class whose name is none of them is refused
    (a name matching one but for case is taken as that label). Without them (no schema) the
    class names are taken as they are. ``media_roots`` are where a zip's images lie (a
    folder's: its root): a box under 0.01 pixel wide or tall on its image, which the store
    cannot hold, is refused naming its line once the image's size is read from there.
    ``stored_at`` is the folder under a media root a zip's own images were stored in (see
    :func:`store_images`); without it a zip's paths are paths under a media root.

    Records carry the split the dataset puts them in: a training image the pool, one only
    ``val`` or ``test`` names (or in a ``val``/``valid``/``test`` split folder) eval, unless it
    has no label (an eval item measures the model with its label): it comes to the pool.
    """

    format: ClassVar[str] = "yolo"
    tool: ClassVar[str] = "YOLO"

    def __init__(
        self,
        *,
        control: str = "boxes",
        target: str | None = None,
        labels: Sequence[str] = (),
        media_roots: Sequence[Path] = (),
        stored_at: str | None = None,
    ) -> None:
        super().__init__(control=control, target=target)
        self.labels = tuple(labels)
        self.media_roots = tuple(media_roots)
        self.stored_at = stored_at
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
        self.suggested = self.cut = self.unlabeled_eval = self.last = 0
        dataset = ZipFiles(open_zip(source))
        with dataset.named():
            layout = dataset_layout(dataset)
            listed = listed_images(dataset, layout)
            images = zip_images(dataset, listed)
            self.members, self.zipped = images, self.stored_at is not None  # else: paths listed
            prefix = ""
            if self.stored_at is not None:
                held = set(dataset.files)
                missing = next((image for image in images if image not in held), None)
                if missing is not None:
                    raise ImportFormatError(
                        line=images.index(missing) + 1,
                        unit="image",
                        reason=f"'{missing[:200]}' is not in the zip, which holds images: a zip "
                        "with images holds every image its lists name",
                    )
                prefix = self.stored_at + "/"
            yield from self._items(
                dataset, images, layout=layout, listed=listed, prefix=prefix, roots=self.media_roots
            )

    def read_folder(self, folder: Path, *, root: Path) -> Iterator[ItemIn]:
        """Yield one ItemIn per image file under ``folder``, which lies under the media root
        ``root`` (payloads hold paths under it; ids are paths within the folder)."""
        self.suggested = self.cut = self.unlabeled_eval = self.last = 0
        dataset = FolderFiles(folder.resolve())
        inner = dataset.top.relative_to(root.resolve()).as_posix()
        layout = dataset_layout(dataset)
        images = [p for p in dataset.files if is_image(p)]
        prefix = "" if inner == "." else inner + "/"
        self.members, self.zipped = [prefix + image for image in images], False
        yield from self._items(
            dataset,
            images,
            layout=layout,
            listed=listed_images(dataset, layout),
            prefix=prefix,
            roots=(root,),
        )

    def _items(
        self,
        dataset: DatasetFiles,
        images: list[str],
        *,
        layout: Layout,
        listed: dict[str, set[str]],
        prefix: str,
        roots: tuple[Path, ...],
    ) -> Iterator[ItemIn]:
        names = class_names(dataset)
        ids = exported_ids(dataset)
        labels = label_files(dataset, images, layout.lists)
        splits = [split_of(image, layout, listed) for image in images]
        if any(splits):  # a dataset with splits: what none names is trained on
            splits = [split or "pool" for split in splits]
        for number, (image, split) in enumerate(zip(images, splits, strict=True), 1):
            if not image.isascii():
                check_utf8(number, prefix + image, unit="image")
            found = labels.get(image)
            boxes: list[dict[str, Any]] = []
            scored: list[dict[str, Any]] = []
            if found is not None:
                text = read_text(found, dataset.read(found, MAX_LABEL_BYTES))
                lines = list(self._boxes(text, names, file=found))
                # an uploaded zip's image is named as its member, not where it was stored
                shown = image if self.zipped else prefix + image
                _check_pixels(lines, prefix + image, roots=roots, file=found, shown=shown)
                for _, box in lines:
                    (scored if "score" in box else boxes).append(box)
            yield self._image(
                number,
                prefix + image,
                external_id=ids.get(image, image),
                boxes=boxes,
                scored=scored,
                labeled=found is not None and (bool(boxes) or not scored),
                frame=NORMALIZED,
                split=split,
            )

    def _boxes(
        self, text: str, names: dict[int, str], *, file: str
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """The boxes of a label file in fractions of the image, cut at its edges, each with
        its line."""
        count = 0
        for line, raw in enumerate(text.splitlines(), 1):
            parts = raw.split()
            if not parts:
                continue
            count += 1
            if count > MAX_REGIONS:
                raise ImportFormatError(
                    file=file,
                    line=line,
                    reason=f"more than {MAX_REGIONS:,} boxes in one label file; an image holds "
                    f"at most {MAX_REGIONS:,}",
                )
            if len(parts) not in (5, 6):
                raise ImportFormatError(
                    file=file,
                    line=line,
                    reason=f"holds {len(parts)} values; a box is 'class cx cy w h' (and a "
                    "confidence): segments and keypoints cannot be held",
                )
            label = self._label(parts[0], names, file=file, line=line)
            cx, cy, w, h, *score = (
                _fraction(value, what=what, file=file, line=line)
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
            yield line, box

    def _label(self, raw: str, names: dict[int, str], *, file: str, line: int) -> str:
        """The project's label a class number names."""
        if not is_class_number(raw):  # nor one of 4,300 digits, which int() refuses
            shown = raw if len(raw) <= 20 else raw[:20] + "…"
            raise ImportFormatError(
                file=file,
                line=line,
                reason=f"the class must be a number (0, 1, ...), got {shown!r}",
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


MAX_IMAGE_BYTES = 64 << 20
"""An image's size at most in a zip of a dataset with its images."""
MAX_STORED_BYTES = 8 << 30
"""The size at most of all the images of one zip (a zip bomb stops there)."""
MAX_STORED_IMAGES = 500_000
"""The images at most in one zip."""


@dataclass(frozen=True)
class ZipImages:
    """The images a YOLO zip holds and names, checked and ready to store (:func:`store_images`)."""

    dataset: ZipFiles
    paths: tuple[str, ...]
    declared: int
    """Their bytes as the zip's directory gives them (a zip may lie: writing counts them)."""


def zip_images_to_store(source: BinaryIO) -> ZipImages | None:
    """The images a YOLO zip holds and names (all it holds, without image lists), or None for a
    zip of label files (its paths under a media root). Nothing is written: a name twice in the
    zip, more images than :data:`MAX_STORED_IMAGES` or a zip that declares more than
    :data:`MAX_STORED_BYTES` of them is refused here, before a byte is stored."""
    dataset = ZipFiles(open_zip(source))
    held = [path for path in dataset.files if is_image(path)]
    if not held:
        return None
    first: dict[str, str] = {}  # each path as it is stored -> the name the zip first gave it
    for path in dataset.files:
        stored = PurePosixPath(path).as_posix()  # "a/./b.png" and "a//b.png" are "a/b.png"
        if stored not in first:
            first[stored] = path
            continue
        also = "" if first[stored] == path else f" (as '{first[stored][:200]}')"
        raise ImportFormatError(
            file=path, line=1, unit=None, in_zip=True, reason=f"is in the zip twice{also}"
        )
    with dataset.named():
        listed = listed_images(dataset, dataset_layout(dataset))
    present = set(held)
    wanted = [image for image in listed if image in present] if listed else held
    if len(wanted) > MAX_STORED_IMAGES:
        raise ImportFormatError(
            line=1, unit=None, reason=f"more than {MAX_STORED_IMAGES:,} images in one zip; split it"
        )
    declared = sum(dataset.archive.getinfo(path).file_size for path in wanted)
    if declared > MAX_STORED_BYTES:
        raise ImportFormatError(line=1, unit=None, reason=_too_large())
    return ZipImages(dataset=dataset, paths=tuple(wanted), declared=declared)


def _too_large() -> str:
    """Why a zip's images are refused for their size, naming the limit in effect."""
    return f"the zip's images come to more than {size_text(MAX_STORED_BYTES)}; split it"


def store_images(images: ZipImages, folder: int) -> int:
    """Write a zip's images (:func:`zip_images_to_store`) in the folder open as ``folder`` (a
    directory's file descriptor) at their paths in the zip, for an import with ``stored_at``
    to read them there; returns how many.

    Each image is read with a size limit, counting the bytes (not the zip's word), and all of
    them too; a link or a corrupt member is refused naming it. The folders on the way are made
    and opened from ``folder`` down and each file is created anew, none through a link: one
    planted in the folder while it is written (by someone who can write there) leads nowhere.
    Its files stay as written when this fails: its caller removes the folder.
    """
    total = 0
    opened: dict[tuple[str, ...], int] = {(): folder}
    try:
        for path in images.paths:
            *parts, name = PurePosixPath(path).parts
            try:
                here = _folder_in(opened, tuple(parts))
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise ImportFormatError(
                    file=path, line=1, unit=None, in_zip=True, reason=f"cannot be stored ({reason})"
                ) from None
            total += images.dataset.extract(path, name, dir_fd=here, limit=MAX_IMAGE_BYTES)
            if total > MAX_STORED_BYTES:
                raise ImportFormatError(
                    file=path, line=1, unit=None, in_zip=True, reason=_too_large()
                )
    finally:
        for parts, fd in opened.items():
            if parts:
                os.close(fd)
    return len(images.paths)


def _folder_in(opened: dict[tuple[str, ...], int], parts: tuple[str, ...]) -> int:
    """The folder ``parts`` under ``opened[()]``, made where missing and opened without
    following a link (a link there raises OSError); ``opened`` keeps the folders open."""
    if parts in opened:
        return opened[parts]
    parent = _folder_in(opened, parts[:-1])
    with contextlib.suppress(FileExistsError):
        os.mkdir(parts[-1], dir_fd=parent)
    opened[parts] = os.open(parts[-1], FOLDER_FLAGS, dir_fd=parent)
    return opened[parts]


FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
"""``os.open`` flags of a folder opened to write in, refusing a link."""


def _check_pixels(
    lines: list[tuple[int, dict[str, Any]]],
    image: str,
    *,
    roots: tuple[Path, ...],
    file: str,
    shown: str,
) -> None:
    """Refuse a box narrower or shorter than the 0.01 pixel the store holds a box to, on the
    size of ``image`` under ``roots`` (named ``shown``): the store would refuse it naming the
    image, not the label file's line. An image that cannot be read is left for the import to
    name."""
    tiny = [(line, box) for line, box in lines if min(box["w"], box["h"]) < TINY]
    if not tiny or not roots:
        return
    try:
        opened, found, _ = open_media(image, roots, kind="image")
        with opened:
            size = image_size(found, opened=opened)
    except LabelloopError:
        return
    width, height = size["width"], size["height"]
    for line, box in tiny:
        w, h = box["w"] * width, box["h"] * height  # the pixels the import scales it to
        if round(w, BOX_DIGITS) <= 0 or round(h, BOX_DIGITS) <= 0:
            raise ImportFormatError(
                file=file,
                line=line,
                reason=f"the box is {w:.2g}×{h:.2g} pixels on its {width}×{height} image "
                f"('{shown[:200]}'); a box must be at least 0.01 pixel wide and tall",
            )


VALUES = ("cx", "cy", "w", "h", "confidence")
"""The numbers of a label line after its class, as errors name them."""


def _fraction(raw: str, *, what: str, file: str, line: int) -> float:
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


class YoloExporter:
    """Writes the labeled images of a boxes project as a zip of YOLO label files, the pool's
    listed as ``train`` and the eval items' as ``val``."""

    format: ClassVar[str] = "yolo"
    holds_splits: ClassVar[bool] = True
    """A dataset of this format holds its splits: an export of the pool takes the labeled eval
    items too, as its validation images."""

    def __init__(self, *, schema: ProjectSchema | None = None) -> None:
        self.schema = schema
        self.control, self.labels = boxes_control(schema, "YOLO")

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as a zip: a label file per image, ``images.txt``
        listing the pool's images and ``val.txt`` the eval items' (when there are any), and
        ``data.yaml`` (the classes in the schema's order; without a schema, as met)."""
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            self._write_into(records, archive)

    def write_with_images(
        self, records: Iterable[ExportRecord], sink: BinaryIO, *, files: ImageFiles
    ) -> None:
        """Write ``records`` to ``sink`` as a zip with each item's image (see
        :mod:`~labelloop.ingest.bundles`): ``images/train/`` the pool's, ``images/val/`` the
        eval items', their label files in ``labels/train/`` and ``labels/val/``, the lists and
        ``data.yaml`` as :meth:`write` writes them."""
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            self._write_into(bundled(records, archive, files=files), archive)

    def _write_into(self, records: Iterable[ExportRecord], archive: zipfile.ZipFile) -> None:
        labels = list(self.labels)
        lists: dict[str, list[str]] = {"pool": [], "eval": []}
        ids: dict[str, str] = {}  # image -> its item's id
        taken: set[str] = set()  # an id given twice would refuse the import: the first has it
        written: dict[str, int] = {}  # label file -> the item it holds
        for record in records:
            image = str(record.text)
            path = label_path(image)
            if path in written or path in (IMAGE_LIST, EVAL_LIST):
                other = f"item {written[path]}" if path in written else "an image list"
                raise LabelloopError(
                    f"item {record.item_id} ('{image[:200]}') would write {path}, as "
                    f"{other} does: YOLO names a label file after its image"
                )
            written[path] = record.item_id
            boxes = record.value.get(self.control) or ()
            size = recorded_size(record, "YOLO", unit="fractions") if boxes else (1.0, 1.0)
            archive.writestr(path, "".join(_line_of(box, labels, size=size) for box in boxes))
            lists["eval" if record.split == "eval" else "pool"].append(f"./{image}\n")
            if record.external_id is not None and record.external_id not in taken:
                ids[image] = record.external_id
                taken.add(record.external_id)  # ids of two folders imported apart may repeat
        if lists["pool"]:
            archive.writestr(IMAGE_LIST, "".join(lists["pool"]))
        if lists["eval"]:
            archive.writestr(EVAL_LIST, "".join(lists["eval"]))
        archive.writestr(
            "data.yaml",
            _data_yaml_text(labels, pool=bool(lists["pool"]), val=bool(lists["eval"])),
        )
        if ids:
            archive.writestr(IDS_FILE, json.dumps(ids, ensure_ascii=False, indent=0))


def _line_of(box: dict[str, Any], labels: list[str], *, size: tuple[float, float]) -> str:
    """One box as a YOLO line, in fractions of the image's ``size`` (width, height), cut at
    the image's edges as the importer cuts it: a box may end up to half a pixel past them,
    and YOLO tools drop a label file holding a fraction above 1. A box wholly past an edge
    holds nothing of the image and is left out."""
    if box["label"] not in labels:
        labels.append(box["label"])  # only without a schema: labels as met
    width, height = size
    x0, y0 = max(box["x"], 0), max(box["y"], 0)
    x1, y1 = min(box["x"] + box["w"], width), min(box["y"] + box["h"], height)
    if x1 <= x0 or y1 <= y0:
        return ""
    numbers = ((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height)
    return f"{labels.index(box['label'])} " + " ".join(f"{n:.6f}" for n in numbers) + "\n"


def _data_yaml_text(labels: list[str], *, pool: bool, val: bool) -> str:
    """``data.yaml`` as Ultralytics reads it: names by class number, and the image lists:
    ``train`` the pool's (none: an export of the eval items, to measure with), ``val`` the
    eval items' (without any, the pool's, as Ultralytics needs a ``val``)."""
    train: str | list[str] = IMAGE_LIST if pool else []
    doc = {
        "names": dict(enumerate(labels)),
        "nc": len(labels),
        "train": train,
        "val": EVAL_LIST if val else train,
    }
    head = (
        "# labelloop export. Unzipped into the media root, each label file lies where YOLO\n"
        "# tools look for its image's labels; images.txt lists the pool's images (train),\n"
        "# val.txt the eval items' (held out to measure the model); labelloop_ids.json\n"
        "# names each image's item id, which labelloop imports it back with.\n"
    )
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
