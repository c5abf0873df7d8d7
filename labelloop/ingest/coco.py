"""COCO object-detection JSON: boxes of an image project in and out.

Out: ``images`` (labelloop item id, ``file_name`` under the media root, ``width``, ``height``),
``categories`` (the boxes control's labels, ids from 1) and ``annotations`` (``bbox`` as
``[x, y, w, h]`` in pixels, ``area``). In: every image becomes an item whose ``file_name`` must
lie under a media root; its annotations become its boxes label, and annotations with a ``score``
become pre-annotations instead. An image with no annotations comes in unlabeled, unless it says
``"labeled": true`` (as exported images do: an empty answer is an answer). Boxes are in the pixels
of the ``width`` and ``height`` an image declares: where the real file has another size of the
same shape, the import scales them to it and says so; of another shape (a photo that shows
turned), it refuses the image rather than stretch its boxes.

A COCO file may come zipped with its images, as CVAT, Label Studio and Roboflow export it (one
``.json`` and the images, beside it or in an ``images`` folder beside its folder; Roboflow's,
one per split folder, ``train/``, ``valid/``, ``test/``; CVAT's, one per subset,
``annotations/instances_<subset>.json`` with ``images/<subset>/``; validation and test images come
in as eval items): the import stores the zip's images under a media root first (``stored_at``)
and looks each ``file_name`` up among them as a file beside the JSON is looked up (see
:meth:`CocoImporter.where`). A zip whose COCO files declare more than
:data:`MAX_DOCUMENTS_BYTES` together, or pack suspiciously tight, is refused unread. Errors
name the zip member and the image as the file numbers it: ``zip member 'annotations.json',
image 3``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, ClassVar

from labelloop.domain import BoxFrame, ExportRecord, ItemIn
from labelloop.errors import ImportFormatError, LabelloopError, NotFound
from labelloop.ingest.boxes import BoxesImporter, boxes_control
from labelloop.ingest.bundles import IMAGE_FOLDERS, ImageFiles, bundled
from labelloop.ingest.media import check_relative, resolve_media
from labelloop.ingest.records import BOM, checked_id, json_trouble
from labelloop.ingest.yolo_files import (
    NAMES_FILES,
    SPLIT_FOLDERS,
    SPLIT_KEYS,
    YAML_FILES,
    ZipFiles,
    open_zip,
)
from labelloop.kinds import kind
from labelloop.schema import ProjectSchema
from labelloop.schema.values import is_number

MAX_DOCUMENT_BYTES = 512 << 20
"""A zipped COCO file's size at most (COCO's own train2017 boxes take some 450 MiB)."""
MAX_DOCUMENTS_BYTES = 640 << 20
"""A zip's COCO files together at most, uncompressed (one per split folder: COCO's own train
and val boxes fit); each is parsed whole, so more is refused before any is read."""
MAX_DOCUMENT_RATIO = 100
"""How many times its compressed size a zipped COCO file of over 1 MiB may declare: JSON packs
some 5 to 20 times; more is a zip bomb, refused before it is read."""


class CocoImporter(BoxesImporter):
    """Reads one COCO JSON document, or a zip of one with its images; record numbers count its
    images in file order.

    ``near`` is the folder under one of ``media_roots`` the file lies in, when it does: a
    ``file_name`` no media root holds is looked for beside the file, then in the ``images``
    folder beside its folder, as CVAT and Datumaro lay out a COCO export
    (``annotations/instances_default.json`` and ``images/``). ``stored_at`` is the folder under
    a media root a zip's images were stored in: the zip's folders lie there, and a
    ``file_name`` is looked for among them first. ``filename``: the file's own name, which says
    when it is a CVAT subset's (``instances_val.json``, whose images are in ``images/val/``)."""

    format: ClassVar[str] = "coco"
    tool: ClassVar[str] = "COCO"

    def __init__(
        self,
        *,
        control: str = "boxes",
        target: str | None = None,
        media_roots: Sequence[Path] = (),
        near: str | None = None,
        stored_at: str | None = None,
        filename: str | None = None,
    ) -> None:
        super().__init__(control=control, target=target)
        self.media_roots = tuple(media_roots)
        self.near = near
        self.stored_at = stored_at
        self.filename = filename
        self.found_near: dict[str, int] = {}  # folder -> images whose file_name was found there
        self.subset: str | None = None  # a CVAT subset's file: its images are in images/<it>/

    def notes(self) -> list[str]:
        """What did not come in as the file holds it (after reading)."""
        found = super().notes()
        for folder, n in self.found_near.items():
            images, them = ("image", "it") if n == 1 else ("images", "them")
            found.append(
                f"{n:,} {images} came in from '{folder}/' (beside the COCO file), as no media "
                f"root holds {them} at the file_name given"
            )
        return found

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per image of the document (of the zip's document, for a zip)."""
        self.suggested = self.unlabeled_eval = self.last = 0
        self.found_near = {}
        self.documents = []
        if not is_zip(source):
            self.subset = _subset_of(self.filename) if self.filename else None
            yield from self._records(source.read())
            return
        dataset = ZipFiles(open_zip(source))
        members = checked_documents(dataset, name="the zip")
        for member in members:
            raw = dataset.read(member, MAX_DOCUMENT_BYTES)
            self.documents.append((member, self.last))
            if self.stored_at is not None:
                self.near = PurePosixPath(self.stored_at, member).parent.as_posix()
            self.subset = _subset_of(member)
            split = _split_of(member) if len(members) > 1 else None
            try:
                yield from self._records(raw, before=self.last, split=split)
            except ImportFormatError as exc:
                raise (exc if exc.file else exc.within(member)) from None

    def _records(
        self, raw: bytes, *, before: int = 0, split: str | None = None
    ) -> Iterator[ItemIn]:
        """The images of one document, numbered from 1 in its errors and from ``before`` + 1
        in the records (a zip's documents are read one after another)."""
        doc = _document(raw)
        categories = _categories(doc.get("categories", []))
        by_image: dict[Any, list[tuple[int, Mapping[str, Any]]]] = {}
        annotations = doc.get("annotations", [])
        if not isinstance(annotations, list):
            raise ImportFormatError(line=1, unit=None, field="annotations", reason="must be a list")
        for k, ann in enumerate(annotations):
            if not isinstance(ann, Mapping):
                raise ImportFormatError(
                    line=1,
                    unit=None,
                    field=f"annotations[{k}]",
                    reason=f"must be an object, got {kind(ann)}",
                )
            image_id = _id(ann.get("image_id"), line=None, field=f"annotations[{k}].image_id")
            by_image.setdefault(image_id, []).append((k, ann))
        images = doc.get("images")
        if not isinstance(images, list):
            raise ImportFormatError(
                line=1, unit=None, field="images", reason="missing or not a list"
            )
        for number, image in enumerate(images, 1):
            found = by_image.get(_image_id(number, image), [])
            yield self._item(number, image, found, categories, line=before + number, split=split)

    def _item(
        self,
        number: int,
        image: Any,
        annotations: list[tuple[int, Mapping[str, Any]]],
        categories: Mapping[Any, str],
        *,
        line: int,
        split: str | None,
    ) -> ItemIn:
        file_name = image.get("file_name")
        if not isinstance(file_name, str) or not file_name.strip():
            raise ImportFormatError(
                line=number,
                unit="image",
                field="file_name",
                reason="must be a path under a media root",
            )
        boxes: list[dict[str, Any]] = []
        scored: list[dict[str, Any]] = []
        frame = _declared(image)
        for k, ann in annotations:
            box = _box(number, k, ann, categories)
            if frame is not None:
                _inside(number, k, box, frame)
            (scored if "score" in box else boxes).append(box)
        external_id = image.get("external_id")
        try:
            named = (
                checked_id(number, "external_id", str(external_id))
                if external_id is not None
                else checked_id(number, "file_name", file_name)
            )
        except ImportFormatError as exc:  # an id too long: said of the image, as it is one
            raise exc.within(None, unit="image", in_zip=False) from None
        return self._image(
            line,
            self.where(number, file_name),
            split=split,
            external_id=named,
            boxes=boxes,
            scored=scored,
            labeled=bool(boxes) or image.get("labeled") is True,
            frame=frame,
        )

    def where(self, number: int, file_name: str) -> str:
        """The path under a media root of the image ``file_name`` names: as it stands, or
        beside the file or in the ``images`` folder beside the file's folder (see the class);
        a zip's own images are looked for first, and one found nowhere is refused naming it.
        A ``file_name`` refused as it stands ('..', not an image) is left for the import to
        refuse."""
        if self.near is None or not self.media_roots:
            return file_name
        try:
            check_relative(file_name, kind="image")
        except LabelloopError:
            return file_name
        top = PurePosixPath(self.near)
        folders = [top, top.parent / "images"]
        if self.subset is not None:  # CVAT's images/<subset>/ beside annotations/
            folders.append(top.parent / "images" / self.subset)
        beside = [(folder, (folder / file_name).as_posix()) for folder in folders]
        zipped = self.stored_at is not None
        tried = [*beside, (None, file_name)] if zipped else [(None, file_name), *beside]
        for folder, path in tried:
            try:
                resolve_media(path, self.media_roots, kind="image")
            except NotFound:
                continue
            except LabelloopError:  # not an image, or unreadable: the import names it
                if folder is None or zipped:
                    return path
                continue
            if folder is not None and not zipped:
                shown = folder.as_posix()
                self.found_near[shown] = self.found_near.get(shown, 0) + 1
            return path
        if not zipped:
            return file_name  # the import names it as the file does
        inner = top.relative_to(self.stored_at).as_posix()
        images = (PurePosixPath(inner).parent / "images").as_posix().removeprefix("./")
        raise ImportFormatError(
            line=number,
            unit="image",
            field="file_name",
            reason=f"'{file_name[:200]}' is not in the zip (beside the COCO file, nor in "
            f"'{images}/') nor under a media root",
        )


def is_zip(source: BinaryIO) -> bool:
    """Whether ``source`` is a zip (its first bytes say so); it is read again from its start.
    A stream that cannot go back is read as it comes (a zip cannot be read so)."""
    seekable = getattr(source, "seekable", None)
    if callable(seekable) and not seekable():
        return False
    source.seek(0)
    head = source.read(4)
    source.seek(0)
    return head in (b"PK\x03\x04", b"PK\x05\x06")


def is_coco_zip(source: BinaryIO) -> bool:
    """Whether ``source`` is a zip of a COCO file (with its images): it holds a ``.json`` and
    none of the files a YOLO dataset names its classes in. Read again from its start."""
    if not is_zip(source):
        return False
    try:
        files = ZipFiles(open_zip(source)).files
    except ImportFormatError:
        return False  # refused when read as a dataset, naming why
    finally:
        source.seek(0)
    yolo = {*YAML_FILES, *NAMES_FILES}
    return any(_is_json(f) for f in files) and not any(PurePosixPath(f).name in yolo for f in files)


def check_zip(source: BinaryIO, *, name: str) -> None:
    """Refuse a COCO zip named ``name`` whose COCO files declare more than
    :data:`MAX_DOCUMENTS_BYTES` together, or more than :data:`MAX_DOCUMENT_RATIO` times their
    compressed size, before any is read or any image stored. Read again from its start."""
    try:
        checked_documents(ZipFiles(open_zip(source)), name=f"'{name[:200]}'")
    finally:
        source.seek(0)


def checked_documents(dataset: ZipFiles, *, name: str) -> list[str]:
    """The zip's COCO files (:func:`document_members`), their declared sizes checked (see
    :func:`check_zip`); ``name`` names the zip in the refusal."""
    members = document_members(dataset)
    infos = [dataset.archive.getinfo(member) for member in members]
    total = sum(info.file_size for info in infos)
    if total > MAX_DOCUMENTS_BYTES:
        raise ImportFormatError(
            line=1,
            unit=None,
            reason=f"{name} holds {_mib(total)} of COCO JSON uncompressed ({len(infos):,} "
            f"files); at most {_mib(MAX_DOCUMENTS_BYTES)} is read from one zip: split it",
        )
    for info in infos:
        packed = max(info.compress_size, 1)
        if info.file_size > 1 << 20 and info.file_size > MAX_DOCUMENT_RATIO * packed:
            raise ImportFormatError(
                file=info.filename,
                line=1,
                unit=None,
                in_zip=True,
                reason=f"declares {_mib(info.file_size)} of JSON packed into {packed:,} bytes "
                f"in {name}, over {MAX_DOCUMENT_RATIO} times its size: refused unread",
            )
    return members


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def document_members(dataset: ZipFiles) -> list[str]:
    """The zip's COCO files (``.json``), in its order: one, or one per split folder, as
    Roboflow exports them (``train/``, ``valid/``, ``test/``); an error when it holds none, or
    several of which one lies in no split folder."""
    found = [path for path in dataset.files if _is_json(path)]
    if not found:
        raise ImportFormatError(
            line=1, unit=None, reason="the zip holds no COCO file (.json) beside its images"
        )
    if len(found) == 1 or all(_split_of(path) for path in found):
        return found
    shown = ", ".join(f"'{path[:200]}'" for path in found[:5]) + (", ..." if found[5:] else "")
    raise ImportFormatError(
        line=1,
        unit=None,
        reason=f"the zip holds {len(found):,} JSON files ({shown}): a COCO zip holds one, or "
        "one in each split folder (train/, valid/, test/) or per CVAT subset "
        "(annotations/instances_train.json, ...), with its images",
    )


def _split_of(member: str) -> str | None:
    """The split a COCO file in a split folder (Roboflow's ``valid/_annotations.coco.json``) or
    of a CVAT subset (``annotations/instances_val.json``) puts its images in: the pool for
    training (CVAT's ``default`` subset too), eval for validation and test; else None."""
    key = SPLIT_FOLDERS.get(PurePosixPath(member).parent.name.lower())
    subset = (_subset_of(member) or "").lower()
    if key is None and subset:
        key = "train" if subset == "default" else SPLIT_FOLDERS.get(subset)
    return SPLIT_KEYS[key] if key else None


def _subset_of(member: str) -> str | None:
    """The CVAT subset a COCO file named ``instances_<subset>.json`` holds, whose images CVAT
    puts in ``images/<subset>/``, in its own case (CVAT offers ``Train``, ``Validation``,
    ``Test``); else None."""
    stem = PurePosixPath(member).stem
    found = stem.lower().startswith(CVAT_PREFIX)
    return stem[len(CVAT_PREFIX) :] if found else None


CVAT_PREFIX = "instances_"


def _is_json(path: str) -> bool:
    return path.lower().endswith(".json")


def _declared(image: Mapping[str, Any]) -> BoxFrame | None:
    """The size an image says it has, which its boxes are measured in (COCO tools read and
    write boxes in these pixels); ``None`` when it gives none that could be a size."""
    width, height = image.get("width"), image.get("height")
    if is_number(width) and is_number(height) and width > 0 and height > 0:
        return BoxFrame(width, height)
    return None


def _document(raw: bytes) -> Mapping[str, Any]:
    raw = raw.removeprefix(BOM)
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ImportFormatError(line=1, unit=None, reason="not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            line=exc.lineno, reason=f"not valid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except (RecursionError, ValueError) as exc:
        raise ImportFormatError(
            line=1, unit=None, reason=f"not valid JSON: {json_trouble(exc)}"
        ) from None
    if not isinstance(doc, dict):
        raise ImportFormatError(
            line=1, unit=None, reason=f"expected a COCO JSON object, got {kind(doc)}"
        )
    return doc


def _categories(raw: Any) -> dict[Any, str]:
    if not isinstance(raw, list):
        raise ImportFormatError(line=1, unit=None, field="categories", reason="must be a list")
    out = {}
    for k, category in enumerate(raw):
        if not isinstance(category, Mapping) or not isinstance(category.get("name"), str):
            raise ImportFormatError(
                line=1, unit=None, field=f"categories[{k}]", reason="must be an object with a name"
            )
        out[_id(category.get("id"), line=None, field=f"categories[{k}].id")] = category["name"]
    return out


def _id(value: Any, *, line: int | None, field: str) -> Any:
    """An id the file gives (COCO's are numbers; a text is taken too), refused when it is a
    list or an object, which cannot name anything; ``line`` is the image it is of (None: of
    the document's lists)."""
    if isinstance(value, list | Mapping):
        raise ImportFormatError(
            line=line or 1,
            unit="image" if line else None,
            field=field,
            reason=f"must be a number or a text, got {kind(value)}",
        )
    return value


def _image_id(number: int, image: Any) -> Any:
    if not isinstance(image, Mapping):
        raise ImportFormatError(
            line=number,
            unit="image",
            field="images",
            reason=f"an image must be an object, got {kind(image)}",
        )
    if "id" not in image:
        raise ImportFormatError(line=number, unit="image", field="id", reason="missing")
    return _id(image["id"], line=number, field="id")


def _box(
    number: int, k: int, ann: Mapping[str, Any], categories: Mapping[Any, str]
) -> dict[str, Any]:
    """One annotation as a labelloop box (its score kept when it has one)."""
    where = f"annotations[{k}]"
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ImportFormatError(
            line=number, unit="image", field=f"{where}.bbox", reason="must be [x, y, w, h]"
        )
    label = categories.get(_id(ann.get("category_id"), line=number, field=f"{where}.category_id"))
    if label is None:
        raise ImportFormatError(
            line=number,
            unit="image",
            field=f"{where}.category_id",
            reason=f"{ann.get('category_id')!r} is not one of the file's categories",
        )
    x, y, w, h = bbox
    box: dict[str, Any] = {"x": x, "y": y, "w": w, "h": h, "label": label}
    if ann.get("score") is not None:
        box["score"] = ann["score"]
    return box


def _inside(number: int, k: int, box: Mapping[str, Any], frame: BoxFrame) -> None:
    """Refuse a box that ends past the size its image declares, naming the annotation: checked
    later against the image file, it would be named by its place among the image's boxes
    (``objects[3]``), which a COCO file does not show (0.5 px allowed, as there)."""
    x, y, w, h = (box[key] for key in ("x", "y", "w", "h"))
    if not all(is_number(v) for v in (x, y, w, h)):
        return  # the schema's check names what is not a number
    for end, side, name in ((x + w, frame.width, "width"), (y + h, frame.height, "height")):
        if end > side + 0.5:
            raise ImportFormatError(
                line=number,
                unit="image",
                field=f"annotations[{k}].bbox",
                reason=f"box ends past the image {name} ({side:g})",
            )


class CocoExporter:
    """Writes the labeled images of a boxes project as one COCO JSON document."""

    format: ClassVar[str] = "coco"

    def __init__(self, *, schema: ProjectSchema | None = None) -> None:
        self.schema = schema
        self.control, self.labels = boxes_control(schema, "COCO")

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as one COCO document (annotation ids from 1)."""
        (doc,) = self._numbered([self._document(records, ids=set())])
        sink.write(json.dumps(doc, ensure_ascii=False).encode("utf-8"))

    def write_with_images(
        self, records: Iterable[ExportRecord], sink: BinaryIO, *, files: ImageFiles
    ) -> None:
        """Write ``records`` to ``sink`` as a zip with each item's image (see
        :mod:`~labelloop.ingest.bundles`), as CVAT's "COCO 1.0" lays out its subsets: the
        pool's images in ``images/train/`` with ``annotations/instances_train.json``, the eval
        items' in ``images/val/`` with ``annotations/instances_val.json``; a ``file_name`` is
        the image's name in its subset's folder. Both files number the categories alike."""
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            named = bundled(records, archive, files=files)
            groups = groupby(named, key=lambda record: record.split)
            ids: set[str] = set()
            # the images pass into the zip as each document is read off them
            docs = {
                split: self._document(
                    (replace(r, text=PurePosixPath(r.text).name) for r in group), ids=ids
                )
                for split, group in groups
            }
            # the pool's document even when empty: with two, the importer reads the subsets
            # as splits, so an export of eval items imports back as eval items
            docs.setdefault("pool", self._document((), ids=ids))
            for split, doc in zip(docs, self._numbered(list(docs.values())), strict=True):
                member = f"annotations/{CVAT_PREFIX}{IMAGE_FOLDERS[split]}.json"
                archive.writestr(member, json.dumps(doc, ensure_ascii=False))

    def _numbered(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``docs`` (of :meth:`_document`, each annotation's ``category_id`` its label) with
        their categories numbered from 1 alike in all of them: in the schema's order of the
        control's labels, or without a schema in name order, so a label keeps its id in every
        file of an export and in every export."""
        met = {a["category_id"] for doc in docs for a in doc["annotations"]}
        labels = [*self.labels, *sorted(met.difference(self.labels))]
        number = {label: n for n, label in enumerate(labels, 1)}
        categories = [
            {"id": number[name], "name": name, "supercategory": self.control} for name in labels
        ]
        for doc in docs:
            for annotation in doc["annotations"]:
                annotation["category_id"] = number[annotation["category_id"]]
            doc["categories"] = categories
        return docs

    def _document(self, records: Iterable[ExportRecord], *, ids: set[str]) -> dict[str, Any]:
        """``records`` as one COCO document (annotation ids from 1), each annotation's
        ``category_id`` its label until :meth:`_numbered` numbers them. An image's
        ``external_id`` is its item's id unless ``ids`` (those written so far) holds it: two
        folders imported apart may give two items one id, which would refuse the import."""
        images: list[dict[str, Any]] = []
        annotations: list[dict[str, Any]] = []
        for record in records:
            image: dict[str, Any] = {"id": record.item_id, "file_name": record.text}
            for key in ("width", "height"):
                if isinstance(record.payload.get(key), int):
                    image[key] = record.payload[key]
            if record.external_id not in ids:  # else the import reads the file name
                image["external_id"] = record.external_id
                if record.external_id is not None:
                    ids.add(record.external_id)
            image["labeled"] = True
            images.append(image)
            for box in record.value.get(self.control) or ():
                x, y, w, h = box["x"], box["y"], box["w"], box["h"]
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": record.item_id,
                        "category_id": box["label"],
                        "bbox": [x, y, w, h],
                        "area": round(w * h, 4),
                        "iscrowd": 0,
                    }
                )
        return {
            "info": {
                "description": "labelloop export",
                "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            "images": images,
            "annotations": annotations,
            "categories": [],
        }
