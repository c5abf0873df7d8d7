"""Boxes between frames: other tools measure them in a declared image size or in fractions of the
image, labelloop in the pixels of the image file as a browser shows it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from labelloop.domain import AnswerRecord, BoxFrame, ExportRecord, ItemIn
from labelloop.errors import ControlsRefused, ImportFormatError, LabelloopError
from labelloop.schema.values import is_number

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema


class BoxesImporter:
    """What the importers of detection files (COCO, YOLO) share: an image's boxes become its
    label of the boxes ``control``, scored boxes its pre-annotation; where ``target`` is another
    control (a choice per image with boxes beside it), boxes alone cannot label an item, so all
    of them come in as pre-annotations, for annotators to accept or fix, and :meth:`notes` says
    so."""

    format: ClassVar[str]
    tool: ClassVar[str]
    """The format's name as sentences say it."""

    def __init__(self, *, control: str = "boxes", target: str | None = None) -> None:
        self.control = control
        self.target = target or control
        self.suggested = 0  # images whose boxes came in as pre-annotations
        self.unlabeled_eval = 0  # val/test images without a label, come to the pool
        # The image file each record is, as the user has it: a member of an uploaded zip
        # (``zipped``: its images stored), else a path under the media root (a YOLO folder's
        # image, or one a zip of label files names).
        self.members: Sequence[str] = ()
        self.zipped = False
        self.documents: list[tuple[str, int]] = []  # a zip's COCO files: records before each
        self.last = 0  # the number of the record read last

    def named(self, exc: ImportFormatError) -> ImportFormatError:
        """``exc`` as this file counts its records, when it is the import's own check of the
        record read last (its image file, its label against the schema), which names it by
        its number as a line, or an image of the zip by its place among the records: said of
        the image, and of the file the image is (a YOLO zip's member, a YOLO folder's image)
        or is in (a zipped COCO file, its image numbered as the file numbers it). Any other
        error is returned as it is."""
        if exc.line != self.last:
            return exc
        found = self._document_of(exc.line)
        if exc.unit == "line" and exc.file is None:
            cites = self._cited(exc.cites, found)
            if exc.line <= len(self.members):
                member = self.members[exc.line - 1]
                return exc.within(member, unit="image", in_zip=self.zipped, cites=cites)
            if found is None:
                return exc.within(None, unit="image", in_zip=False)
            return exc.within(found[0], unit="image", line=found[1], cites=cites)
        own = {member for member, _ in self.documents}
        if found is not None and exc.unit == "image" and exc.in_zip and exc.file not in own:
            return ImportFormatError(  # an image of the zip a COCO file's image names
                line=found[1],
                unit="image",
                field=exc.field,
                file=found[0],
                in_zip=True,
                reason=f"zip member '{exc.file}': {exc.reason}",
            )
        return exc

    def _cited(self, cites: int | str | None, found: tuple[str, int] | None) -> int | str | None:
        """The earlier image an error cites (numbered ``cites`` among the records) as the error
        names its own (in ``found``, a zipped COCO file): with the file it is (a zip member),
        or numbered as its zipped COCO file numbers it, and with that file when it is
        another."""
        if not isinstance(cites, int):
            return cites
        if cites <= len(self.members):
            zipped = "zip member " if self.zipped else ""
            return f"image {cites} ({zipped}'{self.members[cites - 1][:200]}')"
        place = self._document_of(cites)
        if place is None:
            return cites
        member, number = place
        if found is not None and member == found[0]:
            return number
        return f"image {number} of zip member '{member[:200]}'"

    def _document_of(self, line: int) -> tuple[str, int] | None:
        """The zipped COCO file record ``line`` is an image of, and its number there."""
        for member, before in reversed(self.documents):
            if line > before:
                return member, line - before
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(control={self.control!r}, target={self.target!r})"

    def notes(self) -> list[str]:
        """What did not come in as labels, or into the split the file gives (after ``read``)."""
        found = []
        if self.suggested:
            images = "image's" if self.suggested == 1 else "images'"
            found.append(
                f"{self.suggested:,} {images} boxes came in as pre-annotations of "
                f"'{self.control}', for annotators to accept or fix: the project's target "
                f"'{self.target}' is what labels an item, and a {self.tool} file holds only boxes"
            )
        if self.unlabeled_eval:
            n = self.unlabeled_eval
            images, have = ("image", "has") if n == 1 else ("images", "have")
            found.append(
                f"{n:,} validation or test {images} {have} no label and came into the pool, to "
                "be labeled: an eval item measures the model by its label"
            )
        return found

    def _image(
        self,
        line: int,
        path: str,
        *,
        external_id: str,
        boxes: list[dict[str, Any]],
        scored: list[dict[str, Any]],
        labeled: bool,
        frame: BoxFrame | None,
        split: str | None = None,
    ) -> ItemIn:
        """One image with its boxes (``labeled``: an answer even when it holds none) and the
        split its file puts it in: eval only with a label (an eval item measures the model by
        it), else the pool, counted for :meth:`notes`."""
        if self.target != self.control:
            scored, boxes, labeled = boxes + scored, [], False
            self.suggested += bool(scored)
        if split == "eval" and not labeled:
            self.unlabeled_eval += 1
            split = "pool"
        self.last = line
        return ItemIn(
            line=line,
            payload={"image": path},
            external_id=external_id,
            label={self.control: boxes} if labeled else None,
            prediction={self.control: scored} if scored else None,
            frame=frame,
            split=split,
        )


def boxes_control(schema: ProjectSchema | None, tool: str) -> tuple[str, tuple[str, ...]]:
    """The name and labels of the boxes control a ``tool`` export writes ("boxes" and none
    without a schema: labels as met); an error for a project with none."""
    if schema is None:
        return "boxes", ()
    for control in schema.controls:
        if control.type == "boxes":
            return control.name, control.labels
    # make_exporter adds the formats that hold the project's controls
    raise ControlsRefused(f"{tool} export needs a boxes control; this project has none")


ASPECT = 0.01
"""How far (a fraction of a side, and at least a pixel) a file's shape may differ from the shape
its import file declares for its boxes to be scaled to it: a resized copy keeps its shape."""


def placed(
    record: ItemIn, size: Mapping[str, Any], *, named: str | None = None
) -> tuple[ItemIn, str | None]:
    """``record`` with the boxes of its label and pre-annotation scaled from its frame to the
    image's ``size`` (``{"width", "height"}`` of the real file), and a sentence for the import
    report when the file declared another size than the image has and boxes were scaled
    (else ``None``). The sentence and errors name the image ``named`` (by default, its path
    in quotes: an uploaded zip's image is named as its member, not where it was stored).

    A declared size of another shape than the image is refused when the record has boxes:
    scaled, they would be stretched (a photo declared 4000×3000 that shows 3000×4000, its EXIF
    rotation applied, would have its boxes squeezed across and drawn out down). Only numbers
    are scaled; anything else is left for the schema's checks to name.
    """
    frame = record.frame
    width, height = size.get("width"), size.get("height")
    if frame is None or not is_number(width) or not is_number(height) or not _has_boxes(record):
        return record, None
    if (frame.width, frame.height) == (width, height):
        return record, None
    named = named or f"'{str(record.payload.get('image', ''))[:200]}'"
    told = (
        f"{named}: the file gives its size as {_size(frame)} but the image is "
        f"{width}×{height} pixels"
    )
    if frame.declared and not _same_shape(frame, width, height):
        if _same_shape(BoxFrame(frame.height, frame.width), width, height):
            raise ImportFormatError(
                line=record.line,
                reason=f"{told}: it appears turned (an EXIF rotation, or a turned copy), and "
                "its boxes, measured on the image unturned, would land elsewhere; give the "
                "boxes and size of the image as it shows",
            )
        raise ImportFormatError(
            line=record.line,
            reason=f"{told}, of another shape: its boxes, scaled to it, would be stretched; "
            "give the image's own size",
        )
    factor = (width / frame.width, height / frame.height)
    scaled = replace(
        record,
        label=_scaled(record.label, factor),
        prediction=_scaled(record.prediction, factor),
        frame=None,
    )
    if not frame.declared:
        return scaled, None
    return scaled, f"{told}; its boxes were scaled to the image"


def _same_shape(frame: BoxFrame, width: float, height: float) -> bool:
    """Whether an image of ``width`` × ``height`` pixels is ``frame`` resized: a side the
    frame's shape gives the other within :data:`ASPECT` (or a pixel: sides are whole)."""
    across = frame.width * height / frame.height
    down = frame.height * width / frame.width
    return abs(across - width) <= max(1.0, ASPECT * width) or (
        abs(down - height) <= max(1.0, ASPECT * height)
    )


def _has_boxes(record: ItemIn) -> bool:
    """Whether a record's label or pre-annotation holds a region to scale."""
    return any(
        isinstance(value, Mapping) and any(isinstance(r, list) and r for r in value.values())
        for value in (record.label, record.prediction)
    )


def _size(frame: BoxFrame) -> str:
    return f"{frame.width:g}×{frame.height:g}"


def _scaled(value: Any, factor: tuple[float, float]) -> Any:
    """A label or pre-annotation (control name -> regions) with every box's numbers scaled by
    ``factor`` (across, down)."""
    if not isinstance(value, Mapping):
        return value
    return {name: _regions(regions, factor) for name, regions in value.items()}


def _regions(regions: Any, factor: tuple[float, float]) -> Any:
    if not isinstance(regions, list):
        return regions
    return [_box(box, factor) if isinstance(box, Mapping) else box for box in regions]


def _box(box: Mapping[str, Any], factor: tuple[float, float]) -> dict[str, Any]:
    out = dict(box)
    across, down = factor
    for key, by in (("x", across), ("w", across), ("y", down), ("h", down)):
        if is_number(out.get(key)):
            out[key] = float(out[key]) * by
    return out


def recorded_size(
    record: ExportRecord | AnswerRecord, tool: str, *, unit: str
) -> tuple[float, float]:
    """The image size an exported image item was imported with, which ``tool``'s boxes (in
    ``unit`` of the image: "fractions", "percent") need; an error naming the item when it has
    none."""
    width, height = record.payload.get("width"), record.payload.get("height")
    if not is_number(width) or not is_number(height) or width <= 0 or height <= 0:
        raise LabelloopError(
            f"item {record.item_id} has no image size, which {tool}'s boxes (in {unit} of it) "
            "need; import the image again to read it"
        )
    return width, height
