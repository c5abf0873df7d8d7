"""Imports: every record validated, duplicates reported, and all of it written or none of it."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from labelloop.domain import ItemIn
from labelloop.errors import ImportFormatError, LabelloopError, SchemaError
from labelloop.govern.permissions import Permission
from labelloop.ingest import HfDatasetsImporter, make_importer
from labelloop.ingest.boxes import placed
from labelloop.ingest.coco import CocoImporter, check_zip, is_coco_zip, is_zip
from labelloop.ingest.formats import import_refusal, record_unit
from labelloop.ingest.images import ImageFolderImporter
from labelloop.ingest.imaging import image_size
from labelloop.ingest.media import MEDIA_SUFFIXES, file_hash, open_media, root_of
from labelloop.ingest.payloads import stored_payload
from labelloop.ingest.predictions import imported_value, prediction_value
from labelloop.ingest.records import check_storable, storable
from labelloop.ingest.tables import make_table_importer
from labelloop.ingest.yolo import YoloImporter
from labelloop.ingest.yolo_files import is_yolo_folder
from labelloop.schema.values import value_words
from labelloop.store import audit
from labelloop.store import autolabel as store_autolabel
from labelloop.store import batches as store_batches
from labelloop.store import items as store_items
from labelloop.store.db import Database, chain_key
from labelloop.store.tables import AUTO
from labelloop.store.users import now
from labelloop.workflow import batches, uploads
from labelloop.workflow.batches import IMPORT_LOCKS
from labelloop.workflow.projects import ProjectContext

SPLITS = ("pool", "eval")
SCHEMA_FORMATS = ("label_studio", "doccano", "prodigy")
"""Other labeling tools' files, whose importers read labels onto the schema's controls."""
BOXES_FORMATS = ("coco", "yolo")
"""Detection files, whose importers read the boxes of images onto the boxes control."""
CHUNK = 2000
ANALYZE_AFTER = 1000
"""Imports of at least this many new items refresh the planner's statistics of the tables they
wrote (see :meth:`Database.analyze`)."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did. With ``update_labels``: ``n_updated`` items already here took the
    file's label, ``n_kept`` kept the label people gave them here (``kept_lines``).
    ``batch_id`` is None when the import brought nothing new (see :attr:`nothing_new`): no
    empty import is listed to undo."""

    batch_id: int | None
    n_items: int
    n_labeled: int
    n_duplicates: int
    duplicate_lines: tuple[int, ...]
    split: str
    n_updated: int = 0
    n_kept: int = 0
    kept_lines: tuple[int, ...] = ()
    n_eval: int = 0
    """Items of an import into the pool that came in as eval items: held out by the
    project's ``eval_fraction``, or by the file itself (a YOLO dataset's validation images)."""
    notes: tuple[str, ...] = ()
    """What the file held that did not come in as labels, and what was held out, in sentences
    (the format's own: Prodigy's rejected answers, doccano's relations)."""
    unit: str = "line"
    """What the numbers of ``duplicate_lines`` and ``kept_lines`` count: "line", "row" (a CSV,
    a Parquet file, a dataset), "image" (the images of a COCO file or a YOLO zip, in their
    order), "file" (a folder's) or "task" (see ``ingest.formats.record_unit``)."""

    @property
    def nothing_new(self) -> str | None:
        """The sentence for an import that brought nothing, every record already being in the
        project; None for one that brought items, labels or answers."""
        if self.batch_id is not None:
            return None
        if self.n_duplicates == 1:
            return "nothing new: the 1 record was already in the project"
        return f"nothing new: all {self.n_duplicates:,} records were already in the project"


def import_items(
    db: Database,
    ctx: ProjectContext,
    source: BinaryIO,
    *,
    fmt: str,
    filename: str,
    text_field: str | None = None,
    id_field: str | None = None,
    label_field: str | None = None,
    prediction_field: str | None = None,
    split: str = "pool",
    progress: Callable[[int], None] | None = None,
    stage: Callable[[str], None] | None = None,
    media_roots: Sequence[Path] = (),
    update_labels: bool = False,
    answers: bool = False,
    near: Path | None = None,
) -> ImportReport:
    """Stream ``source`` into the project in one transaction; the first bad record aborts it.

    ``progress`` is called with the records checked so far, every ``CHUNK`` records and at the
    end; ``stage`` with what the import does from then on: ``storing images`` (an uploaded zip),
    ``checking records``, ``saving`` (after the last record, until the import is committed).

    ``text_field`` names the record field holding the content, by default the schema's data
    field; a JSONL or CSV record without it is read from ``text``, the column an export writes,
    so an export imports back. In an image project it holds each image's path under one of
    ``media_roots``. ``prediction_field`` names the field holding pre-annotations (control name
    -> predicted value), shown to annotators as editable suggestions.

    ``update_labels``: a labeled record whose item is already here (a newer export of the same
    data) gives that item its label when the item has none, an imported one or the model's; a
    label people gave here is kept and reported.

    ``answers`` (a Label Studio file): every annotator's answer comes in as theirs, matched to
    the project's members, and each item's label is resolved from them by the project's rules
    (see ``workflow.imported_answers``), instead of one answer coming in as the label.

    ``near``: the folder the file lies in; under a media root, a COCO file's images are
    looked for there too (see ``CocoImporter``).

    A zip (``yolo``, or ``coco``: a COCO file zipped with its images) has its images stored
    under the first media root before its records are read; a zip given as ``yolo`` that holds
    a ``.json`` and no YOLO class names is read as ``coco``. Errors on a zip's records name
    the zip member and the image (see ``BoxesImporter.named``).
    """
    ctx.require(Permission.IMPORT)
    if answers and fmt != "label_studio":
        raise LabelloopError(
            f"each annotator's answers are read from a Label Studio file, not from {fmt}"
        )
    if answers and update_labels:
        raise LabelloopError(
            "answers come in with new items only: import them without updating labels"
        )
    refused = import_refusal(fmt, ctx.schema) if label_field else None
    if refused is not None:  # CSV and spans: every labeled record would fail on its cell
        raise refused
    if fmt == YoloImporter.format and is_coco_zip(source):  # a .zip of a COCO file's export
        fmt = CocoImporter.format
    zipped = fmt in BOXES_FORMATS and is_zip(source)  # a zip whose images are stored first
    if zipped and fmt == CocoImporter.format:  # its JSON's sizes, before an image is stored
        check_zip(source, name=filename)
    if zipped and ctx.schema.data_type != "table":
        with batches.no_import_running(db, ctx.id) as alone:
            if alone:  # no other import may be naming a leftover's files meanwhile
                uploads.clear_leftovers(db, ctx.id, roots=media_roots, slug=ctx.slug)
    with batches.importing(db, ctx.id):  # an undo of the project waits, or is refused
        text_field = text_field or ctx.schema.data_field
        stored: Path | None = None  # where an uploaded zip's images were stored
        stored_at: str | None = None  # the same, as items name it
        fallback = None  # the page's form names the schema's field: the same fallback applies
        if fmt in ("jsonl", "csv") and text_field == ctx.schema.data_field != "text":
            fallback = "text"
        if ctx.schema.data_type == "table":  # rows, not texts: the schema's columns pick fields
            importer = make_table_importer(
                fmt,
                columns=ctx.schema.data_columns,
                id_field=id_field,
                label_field=label_field,
                prediction_field=prediction_field,
            )
        else:
            options = _importer_options(ctx, fmt, locals())
            if zipped:  # a zip of a dataset with its images: they are stored first
                if stage:
                    stage("storing images")
                stored = uploads.store_zip_images(source, roots=media_roots, slug=ctx.slug)
                if stored is not None:
                    stored_at = options["stored_at"] = uploads.relative_to_root(stored, media_roots)
            importer = make_importer(fmt, **options)
        if fmt == "label_studio":  # errors name the task's own fields
            text_field, id_field, label_field = "data", "id", "annotations"
            prediction_field = "predictions"
        elif fmt == "doccano":  # errors name the example's id field
            id_field = id_field or "id"
        try:
            report = _import_records(
                db,
                ctx,
                importer.read(source),
                fmt=fmt,
                filename=filename,
                path_field={"coco": "file_name", "yolo": None}.get(fmt, text_field),
                # COCO's, YOLO's and CoNLL's ids are their own: no field names them
                id_field=None if fmt in BOXES_FORMATS + ("conll",) else id_field,
                unique_ids=True,
                label_field=label_field,
                prediction_field=prediction_field,
                split=split,
                progress=progress,
                stage=stage,
                media_roots=media_roots,
                update_labels=update_labels,
                answers=answers,
                upload_folder=stored_at,
            )
        except ImportFormatError as exc:
            uploads.discard(stored_at, roots=media_roots, slug=ctx.slug)
            named = getattr(importer, "named", None)  # zip members and images, as the file has
            raise (named(exc) if callable(named) else exc) from None
        except BaseException:
            uploads.discard(
                stored_at, roots=media_roots, slug=ctx.slug
            )  # nothing half-written: the images go with the import
            raise
        if stored is not None:  # duplicates' images are here already: only the new items' stay
            n = uploads.remove_unnamed(
                db, ctx.id, roots=media_roots, slug=ctx.slug, folder=stored_at
            )
            if n and report.n_items:
                report = replace(report, notes=(*report.notes, _not_kept_note(n)))
        if report.unit == "row" and getattr(importer, "spans_lines", False):
            report = replace(report, unit="line")  # a CSV's cell over lines: numbers are lines
        return _with_notes(report, importer)


def _not_kept_note(n: int) -> str:
    if n == 1:
        return "the file of the 1 duplicate image was not kept: the project has it"
    return f"the files of the {n:,} duplicate images were not kept: the project has them"


def _with_notes(report: ImportReport, importer: object) -> ImportReport:
    """``report`` with the sentences of an importer that tells what did not come in as labels
    (none when nothing came in: they would speak of records not imported)."""
    notes = None if report.nothing_new else getattr(importer, "notes", None)
    return replace(report, notes=report.notes + tuple(notes())) if callable(notes) else report


def _importer_options(ctx: ProjectContext, fmt: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options ``fmt``'s importer takes: COCO and YOLO files name their boxes control, not
    fields; a Label Studio, doccano or Prodigy file's labels go to the schema's controls."""
    if fmt in BOXES_FORMATS:  # a YOLO zip's images are read to measure its tiny boxes
        roots = {"media_roots": tuple(given["media_roots"])}
        if fmt == "coco":  # a COCO file's images may lie beside it, as CVAT exports them
            roots["near"] = _under_root(given["near"], given["media_roots"])
            roots["filename"] = given["filename"]
        return _boxes_options(ctx, fmt) | roots
    options = {key: given[key] for key in ("text_field", "id_field", "label_field")}
    if given["fallback"] is not None:
        options["fallback_field"] = given["fallback"]
    if given["prediction_field"] is not None:  # only the formats that read pre-annotations take it
        options["prediction_field"] = given["prediction_field"]
    if fmt in SCHEMA_FORMATS:
        options["schema"] = ctx.schema
    if given["answers"]:
        options["answers"] = True
    return options


def _under_root(folder: Path | None, roots: Sequence[Path]) -> str | None:
    """``folder``'s path under the media root it lies in; None when it lies under none."""
    if folder is None:
        return None
    try:
        root = root_of(folder, roots)
    except LabelloopError:
        return None
    return folder.resolve().relative_to(root).as_posix()


def _boxes_options(ctx: ProjectContext, fmt: str) -> dict[str, Any]:
    """A COCO or YOLO importer's boxes control (the schema's first) and the project's target;
    a YOLO importer checks class names against the control's labels itself, naming the line."""
    boxes = [c for c in ctx.schema.controls if c.type == "boxes"]
    if ctx.schema.data_type != "image" or not boxes:
        hint = ""
        if ctx.schema.data_type == "image" and fmt == "yolo":  # a zip of pictures to classify
            hint = (
                " (a zip is read as a YOLO dataset: to bring images to label, put them in a "
                "folder under a media root and import the folder, with --labels-from-folders "
                "to label each by its subfolder)"
            )
        raise LabelloopError(
            f"a {fmt.upper()} file can only be imported into an image project with a boxes "
            f"control{hint}"
        )
    options: dict[str, Any] = {"control": boxes[0].name, "target": ctx.schema.target.name}
    return options | ({"labels": boxes[0].labels} if fmt == "yolo" else {})


def import_hf_dataset(
    db: Database,
    ctx: ProjectContext,
    folder: Path,
    *,
    hf_split: str | None = None,
    text_field: str | None = None,
    id_field: str | None = None,
    label_field: str | None = None,
    prediction_field: str | None = None,
    split: str = "pool",
    progress: Callable[[int], None] | None = None,
    total: Callable[[int], None] | None = None,
    update_labels: bool = False,
) -> ImportReport:
    """Import one split of a Hugging Face dataset saved with ``save_to_disk`` (a folder), row by
    row in one transaction, as ``import_items`` imports a file. ``total`` is told the split's
    row count before the first row is checked, so a progress bar can show the whole."""
    ctx.require(Permission.IMPORT)
    if ctx.schema.data_type not in ("text", "html"):
        raise LabelloopError(
            f"project '{ctx.slug}' holds {ctx.schema.data_type} items; a Hugging Face dataset "
            "can only be imported into a text or HTML project"
        )
    text_field = text_field or "text"  # a dataset's usual column, whatever the schema says
    importer = HfDatasetsImporter(
        text_field=text_field,
        id_field=id_field,
        label_field=label_field,
        prediction_field=prediction_field,
        split=hf_split,
    )
    name = folder.name or str(folder)
    with batches.importing(db, ctx.id):
        try:
            report = _import_records(
                db,
                ctx,
                importer.read_folder(folder, sized=total),
                fmt=importer.format,
                filename=f"{name}[{hf_split}]" if hf_split else name,
                path_field=text_field,
                id_field=id_field,
                unique_ids=True,
                label_field=label_field,
                prediction_field=prediction_field,
                split=split,
                progress=progress,
                media_roots=(),
                update_labels=update_labels,
            )
        except ImportFormatError as exc:  # the import's own checks of a row, said of its row
            raise importer.named(exc) from None
    return _with_notes(report, importer)


def import_folder(
    db: Database,
    ctx: ProjectContext,
    folder: Path,
    *,
    media_roots: Sequence[Path],
    labels_from_folders: bool = False,
    split: str = "pool",
    progress: Callable[[int], None] | None = None,
    update_labels: bool = False,
    fmt: str = ImageFolderImporter.format,
) -> ImportReport:
    """Import every image (audio project: audio file) under ``folder``, which must lie under a
    media root; nothing is copied. ``fmt`` "yolo" reads a YOLO dataset's label files too."""
    ctx.require(Permission.IMPORT)
    if ctx.schema.data_type not in MEDIA_SUFFIXES:
        raise LabelloopError(
            f"project '{ctx.slug}' holds {ctx.schema.data_type} items; "
            "a folder can only be imported into an image or audio project"
        )
    if fmt not in (ImageFolderImporter.format, YoloImporter.format):
        raise LabelloopError(f"a folder is read as images or as a YOLO dataset, not as {fmt}")
    if fmt == YoloImporter.format and labels_from_folders:
        raise LabelloopError("a YOLO dataset's labels are in its label files, not its folders")
    options = _boxes_options(ctx, fmt) if fmt == YoloImporter.format else {}
    if not folder.is_dir():
        raise LabelloopError(f"no folder at {folder}")
    root = root_of(folder, media_roots)
    importer: ImageFolderImporter | YoloImporter
    if options:
        importer = YoloImporter(**options)
        records = importer.read_folder(folder, root=root)
    else:
        importer = ImageFolderImporter(
            folder=folder,
            root=root,
            labels_from_folders=labels_from_folders,
            kind=ctx.schema.data_type,
        )
        records = importer.read()
    mine = uploads.WithoutOthers(  # other projects' uploaded images, if the folder holds them
        records, base=root, roots=media_roots, slug=ctx.slug, kind=ctx.schema.data_type
    )
    with batches.importing(db, ctx.id):
        try:
            report = _import_records(
                db,
                ctx,
                mine,
                fmt=importer.format,
                filename=folder.name or str(folder),
                path_field=None,  # the importer names the file (see its ``named``)
                id_field=None,
                unique_ids=False,  # its ids are paths within the folder: siblings share some
                label_field="folder" if labels_from_folders else None,
                prediction_field=None,
                split=split,
                progress=progress,
                media_roots=(root,),
                update_labels=update_labels,
                uploads_of=media_roots,
            )
        except ImportFormatError as exc:  # a file said as the report numbers it, by its path
            raise importer.named(exc) from None
    if mine.left_out:
        n = mine.left_out
        images, were = ("image", "was") if n == 1 else ("images", "were")
        note = f"{n:,} {images} in other projects' uploads ({uploads.UPLOADS}/) {were} left out"
        report = replace(report, notes=(*report.notes, note))
    return _with_notes(report, importer)


def folder_format(ctx: ProjectContext, folder: Path, *, labels_from_folders: bool) -> str:
    """How a folder given no format is read: a YOLO dataset as one, unless its labels are to
    come from its subfolders or the project has no boxes control to take its boxes (then, as
    any folder of images, so a YOLO dataset's images can go into a classification project)."""
    boxes = any(control.type == "boxes" for control in ctx.schema.controls)
    if boxes and not labels_from_folders and is_yolo_folder(folder):
        return YoloImporter.format
    return ImageFolderImporter.format


def _member(path: str, upload_folder: str | None) -> str | None:
    """The zip member an image stored at ``path`` was, for errors and notes to name it as the
    user sent it, not by the folder an uploaded zip's images were stored in (None for an
    image that was not in the zip)."""
    if not upload_folder or not path.startswith(upload_folder + "/"):
        return None
    return path.removeprefix(upload_folder + "/")


def _image_payload(
    record: ItemIn,
    *,
    path_field: str | None,
    roots: Sequence[Path],
    kind: str = "image",
    uploads_of: tuple[Sequence[Path], str] = ((), ""),
    upload_folder: str | None = None,
) -> tuple[dict[str, object], str]:
    """A media record's payload and the hash of its file's bytes, the path checked under roots
    and, ``uploads_of`` (the site's media roots, the project's slug), out of other projects'
    uploads. ``upload_folder``: where an uploaded zip's images were stored, for errors to
    name them as the zip does."""
    relative = str(record.payload.get(kind, record.payload.get("text")))
    named = f"media path '{relative[:200]}'"
    try:  # read as serving reads it: a link or a named pipe put in its place is refused
        file, found, _ = open_media(relative, roots, kind=kind)
        with file:
            relative = uploads.checked_path(
                found, relative, roots=uploads_of[0], slug=uploads_of[1]
            )
            # a file the learner, the thumbnails and the box checks could not read
            size = image_size(found, opened=file) if kind == "image" else {}
            try:
                digest = file_hash(file)
            except OSError as exc:  # the disk failed, a network share went away, mid-read
                raise LabelloopError(f"{named}: cannot be read ({exc.strerror or exc})") from None
    except LabelloopError as exc:
        said = exc.message.startswith("media path")  # open_media's errors name it
        reason = exc.message if said else f"{named}: {exc.message}"
        member = _member(relative, upload_folder)
        if member is not None:
            # the folder it was stored in goes with the failed import: the zip's name it is
            raise ImportFormatError(
                line=record.line,
                unit="image",
                field=path_field,
                file=member,
                in_zip=True,
                reason=reason.removeprefix(named + ": "),
            ) from None
        if path_field is None:  # the file is the record, which the importer names itself
            reason = reason.removeprefix(named + ": ")
        raise ImportFormatError(line=record.line, field=path_field, reason=reason) from None
    return {kind: relative, **size}, digest


def _import_records(
    db: Database,
    ctx: ProjectContext,
    records: Iterable[ItemIn],
    *,
    fmt: str,
    filename: str,
    path_field: str | None,
    id_field: str | None,
    unique_ids: bool,
    label_field: str | None,
    prediction_field: str | None,
    split: str,
    progress: Callable[[int], None] | None,
    media_roots: Sequence[Path],
    stage: Callable[[str], None] | None = None,
    update_labels: bool = False,
    answers: bool = False,
    uploads_of: Sequence[Path] | None = None,
    upload_folder: str | None = None,
) -> ImportReport:
    """Write validated records in one transaction; duplicates (by content) are skipped, or with
    ``update_labels`` give an item already here their label (see :func:`import_items`). With
    ``answers`` the records' answers come in as their annotators' with the new items.

    ``uploads_of`` are the site's media roots (by default ``media_roots``): a media file in
    another project's uploads there is refused. ``upload_folder`` is where an uploaded zip's
    images were stored, recorded on the import when it brings items.

    An id read from the file names one item: a record whose content is new but whose id an
    earlier line or an item of the project already has aborts the import, once the record's
    label and pre-annotation are checked (a malformed one is refused for what is wrong in it,
    which a new id would not mend). A record whose
    content is already there is skipped first, so importing a file again adds nothing. Without
    ``unique_ids`` (a folder import) ids are not checked.
    """
    if split not in SPLITS:
        raise LabelloopError(f"split '{split}' is not one of {', '.join(SPLITS)}")
    # An upload's name may hold a NUL, a file system's name bytes that are not UTF-8
    filename = storable(filename)[:500]
    data_type = ctx.schema.data_type
    images = data_type in MEDIA_SUFFIXES
    target = ctx.schema.target
    n_items = n_labeled = n_eval = n_own_eval = 0
    hold_out = ctx.settings.eval_fraction if split == "pool" else 0.0
    duplicates: list[int] = []
    labeled_duplicates = 0  # duplicates whose label was not read (no update_labels)
    resized: list[str] = []  # images whose file is not the size the import file gives
    relabel: dict[str, tuple[int, dict[str, Any]]] = {}  # content hash -> (line, label value)
    # new in this file: hash -> (line, its target label as a clash says it), not the label
    # itself: a boxes label is long, and a file holds every record's
    firsts: dict[str, tuple[int, _Said]] = {}
    own = (media_roots if uploads_of is None else uploads_of, ctx.slug)
    if stage:
        stage("checking records")
    with db.write() as conn:
        # Imports into a project take turns (each reads the hashes and ids stored before it),
        # but the project's audit-chain lock, which every answer takes, waits for the file's
        # end: annotators keep answering while a large file is read and its new items stored.
        db.lock_key(conn, IMPORT_LOCKS + ctx.id)
        seen = store_items.existing_hashes(conn, ctx.id)
        ids = _Ids(conn, ctx.id, id_field) if unique_ids else None
        batch_id = store_items.insert_batch(
            conn,
            project_id=ctx.id,
            user_id=ctx.actor_id,
            filename=filename,
            format=fmt,
            split=split,
            n_items=0,
            n_labeled=0,
            n_duplicates=0,
            **({"upload_folder": upload_folder} if upload_folder else {}),
        )
        rows: list[dict[str, object]] = []
        labels: list[dict[str, Any] | None] = []
        answered: list[Any] = []  # each row's answers, checked and matched to members
        people = None
        if answers:  # imported here: it resolves labels as workflow.review does
            from labelloop.workflow.imported_answers import AnswerImport

            people = AnswerImport(conn, ctx, batch_id=batch_id, filename=filename)

        def flush() -> None:
            item_ids = _insert_items(conn, rows)
            if people is not None:
                people.write(item_ids, answered)
                answered.clear()
            store_items.insert_labels(
                conn,
                [
                    {
                        "item_id": item_id,
                        "project_id": ctx.id,
                        "value": value,
                        "label": _label_text(value[target.name]),
                        "resolution": "imported",
                        "annotation_id": None,
                        "decided_by": ctx.actor_id,
                        "decided_at": now(),
                    }
                    for item_id, value in zip(item_ids, labels, strict=True)
                    if value is not None
                ],
            )
            rows.clear()
            labels.clear()

        for record in records:
            check_storable(record)
            note = None  # the report's sentence on an image whose boxes were scaled
            if images:
                payload, digest = _image_payload(
                    record,
                    path_field=path_field,
                    roots=media_roots,
                    kind=data_type,
                    uploads_of=own,
                    upload_folder=upload_folder,
                )
                member = _member(str(payload.get("image", "")), upload_folder)
                shown = None if member is None else f"zip member '{member[:200]}'"
                record, note = placed(record, payload, named=shown)
            else:
                payload, digest = stored_payload(
                    data_type, record.payload, line=record.line, field=path_field
                )
            if digest in seen:
                duplicates.append(record.line)
                if progress and len(duplicates) % CHUNK == 0:  # a file here already moves too
                    progress(n_items + len(duplicates))
                if people is not None and record.answers:  # they join the item's answers
                    people.repeat(record, payload, digest)
                # checked as a new record's is: a label not in the schema is a mistake in the
                # file whether or not the item is here, and refuses it naming the line
                found = None if record.label is None else _value(ctx, record, payload, label_field)
                if found is not None and update_labels:
                    _one_label(record, digest, found, relabel, firsts, label_field, target)
                    relabel[digest] = (record.line, found)
                elif found is not None and not (people is not None and record.answers):
                    labeled_duplicates += 1  # an answer joining the item's answers was read
                continue
            seen.add(digest)
            if note is not None:  # told only for an image that comes in
                resized.append(note)
            value = None
            if record.label is not None:
                value = _value(ctx, record, payload, label_field)
                n_labeled += int(value is not None)
            ready = people.prepare(record, payload) if people is not None else []
            if update_labels and value and value[target.name] is not None:
                firsts[digest] = (record.line, _said(target.type, value[target.name]))
            row: dict[str, object] = {
                "project_id": ctx.id,
                "external_id": record.external_id,
                "payload": payload,
                "meta": dict(record.metadata),
                "split": split,
                "content_hash": digest,
                "import_batch_id": batch_id,
            }
            if split == "pool" and record.split == "eval":  # the file holds it out itself
                row["split"] = "eval"
                n_own_eval += 1
            elif (
                (value is not None or any(r.value is not None for r in ready))
                and hold_out
                and record.split is None  # a file with splits of its own is held out by them
                and held_out(digest, hold_out)
            ):
                row["split"] = "eval"
                n_eval += 1
            if record.prediction is not None:
                try:
                    prediction = prediction_value(ctx.schema, record.prediction, payload)
                except SchemaError as exc:
                    raise ImportFormatError(
                        line=record.line, field=prediction_field, reason=exc.message
                    ) from None
                if prediction:
                    row["prediction"] = prediction
            if ids is not None:  # after the record's own checks: what is wrong in it comes first
                ids.check(record)
            rows.append(row)
            labels.append(value)
            if people is not None:
                answered.append(ready)
            n_items += 1
            if len(rows) >= CHUNK:
                flush()
                if progress:
                    progress(n_items + len(duplicates))
        flush()
        # From here on rows other writers lock are touched: the chain lock first, as theirs.
        db.lock_key(conn, chain_key(ctx.id))
        if progress:
            progress(n_items + len(duplicates))
        if stage:
            stage("saving")
        if people is not None:
            people.check()  # every annotator without a member named, before anything counts
            people.join()
            n_labeled += people.n_labeled
        if n_items == 0 and not duplicates:
            raise LabelloopError(f"'{filename}' is empty: it holds no records")
        updated, kept = _update_labels(conn, ctx, relabel, split) if relabel else (0, [])
        joined = people is not None and (people.counts["answers"] or people.counts["skips"])
        if n_items == 0 and not updated and not joined:  # nothing changed: no import to list
            store_batches.drop(conn, ctx.id, batch_id)
            kept_as = None
        else:
            kept_as = batch_id
            store_items.update_batch(
                conn,
                batch_id,
                n_items=n_items,
                n_labeled=n_labeled,
                n_duplicates=len(duplicates),
                **({"upload_folder": None} if upload_folder and not n_items else {}),  # none kept
            )
            audit.record(
                db,
                conn,
                action="import",
                actor_id=ctx.actor_id,
                project_id=ctx.id,
                subject=f"import_batch:{batch_id}",
                payload={
                    "filename": filename,
                    "format": fmt,
                    "split": split,
                    "items": n_items,
                    "labeled": n_labeled,
                    "duplicates": len(duplicates),
                    **({"eval": n_eval + n_own_eval} if n_eval + n_own_eval else {}),
                    **({"updated": updated, "kept": len(kept)} if update_labels else {}),
                    **(
                        {"answers": people.counts["answers"], "skips": people.counts["skips"]}
                        if people is not None
                        else {}
                    ),
                },
            )
    if n_items >= ANALYZE_AFTER:
        store_items.analyze_after_import(db)
    return ImportReport(
        batch_id=kept_as,
        n_items=n_items,
        n_labeled=n_labeled,
        n_duplicates=len(duplicates),
        duplicate_lines=tuple(duplicates[:1000]),
        split=split,
        n_updated=updated,
        n_kept=len(kept),
        kept_lines=tuple(kept[:1000]),
        n_eval=n_eval + n_own_eval,
        unit=record_unit(fmt),
        notes=(
            *(people.notes(n_items) if people is not None else ()),
            *_resized_notes(resized),
            *((_held_out_note(n_eval, n_labeled, hold_out),) if n_eval else ()),
            *((_own_eval_note(n_own_eval, n_items),) if n_own_eval else ()),
            *((_unread_labels_note(labeled_duplicates),) if labeled_duplicates else ()),
        ),
    )


def _unread_labels_note(n: int) -> str:
    """A duplicate's label, checked as any record's, is not used without ``update_labels``: a
    file imported again for its labels said only "0 with labels", as if it had none."""
    them = "1 duplicate carries a label" if n == 1 else f"{n:,} duplicates carry labels"
    return (
        f"{them} not used: the item a duplicate repeats (already here, or earlier in the file) "
        "keeps its own; to give items already here the file's labels, import it again with "
        '--update-labels (on the page: "Update labels of items already here")'
    )


def held_out(digest: str, fraction: float) -> bool:
    """Whether an item whose content hash is ``digest`` is held out at ``fraction``: decided by
    its content, so the same text is held out in every import and every project alike."""
    return int(digest[:12], 16) < fraction * 16**12


def _held_out_note(n_eval: int, n_labeled: int, fraction: float) -> str:
    return (
        f"{n_eval:,} of the {n_labeled:,} labeled items were held out as eval items "
        f"(eval_fraction {fraction:g}): they measure the model and are not served to label"
    )


def _own_eval_note(n_eval: int, n_items: int) -> str:
    pool = n_items - n_eval
    return (
        f"{n_eval:,} of the {n_items:,} items came in as eval items, as the file holds them out "
        f"(a YOLO dataset's val and test images): they measure the model and are not served to "
        f"label; {pool:,} came into the pool"
    )


RESIZED_SHOWN = 10
"""Images named in an import's report whose file is not the size the import file gives; the
rest are counted."""


def _resized_notes(notes: list[str]) -> list[str]:
    if len(notes) <= RESIZED_SHOWN:
        return notes
    more = len(notes) - RESIZED_SHOWN
    images, their = ("image", "its") if more == 1 else ("images", "their")
    return [
        *notes[:RESIZED_SHOWN],
        f"... and {more:,} more {images} whose file is not the size the import file gives; "
        f"{their} boxes were scaled to the image too",
    ]


def _value(
    ctx: ProjectContext, record: ItemIn, payload: Any, label_field: str | None
) -> dict[str, Any] | None:
    """A record's label as every control's value, checked against the schema."""
    try:
        return imported_value(ctx.schema, record.label, payload, target=ctx.schema.target)
    except SchemaError as exc:
        raise ImportFormatError(line=record.line, field=label_field, reason=exc.message) from None


def _one_label(
    record: ItemIn,
    digest: str,
    value: dict[str, Any],
    relabel: dict[str, tuple[int, dict[str, Any]]],
    firsts: dict[str, tuple[int, _Said]],
    label_field: str | None,
    target: Any,
) -> None:
    """Refuse a record labeling the same content as an earlier line of the file differently."""
    if digest in relabel:
        earlier, other = relabel[digest][0], relabel[digest][1][target.name]
        if other is None:
            return
        said = _said(target.type, other)
    elif digest in firsts:
        earlier, said = firsts[digest]
    else:
        return
    mine = _said(target.type, value[target.name])
    if said.text != mine.text:
        told = _labels_told(mine, said)
        raise ImportFormatError(
            line=record.line,
            field=label_field,
            cites=earlier,
            reason=lambda cited: (
                f"labels the same content as {cited} differently{told}; a file gives each item "
                "one label"
            ),
        )


LABEL_WORDS = 60
"""Characters of a label an error quotes: boxes and spans are said by their count and labels
("2 boxes: car, person"), which a file of many cuts short."""


class _Said(NamedTuple):
    """A target label as a clash compares and quotes it, made once per record."""

    text: str
    """What labels are compared by (:func:`_label_text`: a digest for boxes and spans, and
    for a long text)."""
    words: str
    """As a user knows it (not the digest), cut to :data:`LABEL_WORDS`."""
    whole: int
    """A hash of the uncut words: the same boxes placed otherwise are told from labels that
    differ only past the cut."""


def _said(control_type: str, value: Any) -> _Said:
    text, words = str(_label_text(value)), value_words(control_type, value)
    if len(text) > 64:
        text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:40]
    shown = words if len(words) <= LABEL_WORDS else words[: LABEL_WORDS - 1] + "…"
    # a file's labels repeat ("5 boxes: car, person, ..."): one string for them all
    return _Said(text, sys.intern(shown), hash(words))


def _labels_told(mine: _Said, other: _Said) -> str:
    """Two different labels of the same content as an error quotes them, as a user would know
    them (not the digest regions are compared by): the same boxes or spans placed otherwise
    are said so, and labels that differ only past what is quoted are left out."""
    if mine.whole == other.whole:  # the same labels, the regions elsewhere
        return f" ('{mine.words}' in both, placed otherwise)"
    return f" ('{mine.words}', not '{other.words}')" if mine.words != other.words else ""


def _update_labels(
    conn: Any, ctx: ProjectContext, relabel: dict[str, tuple[int, dict[str, Any]]], split: str
) -> tuple[int, list[int]]:
    """Give the items of ``split`` already here the labels a newer file has for them: those
    with no label, an imported one or the model's take it (and leave the queue). A label
    people gave here, a gold check's answer and an item people are at work on (leased,
    answered and waiting, sent to the queue) stay. Returns how many changed and the lines of
    those kept that the file labels otherwise."""
    target = ctx.schema.target.name
    found = store_items.labels_by_hash(conn, ctx.id, list(relabel))
    busy = store_autolabel.at_work(
        conn, [f["item_id"] for f in found.values() if f["split"] == split], at=now()
    )
    updated, kept, rows = 0, [], []
    for digest, (line, value) in relabel.items():
        current = found.get(digest)
        if current is None or current["split"] != split:
            continue
        settled = current["resolution"] not in (None, "imported", AUTO)
        if current["gold"] or settled or current["item_id"] in busy:
            theirs = current["value"] or {}
            if _label_text(theirs.get(target)) != _label_text(value[target]):
                kept.append(line)
            continue
        if current["resolution"] == "imported" and current["value"] == value:
            continue
        rows.append(
            {
                "item_id": current["item_id"],
                "project_id": ctx.id,
                "value": value,
                "label": _label_text(value[target]),
                "resolution": "imported",
                "annotation_id": None,
                "decided_by": ctx.actor_id,
                "decided_at": now(),
            }
        )
        updated += 1
    store_items.replace_labels(conn, rows)
    return updated, sorted(kept)


class _Ids:
    """The external ids of one import's new records, checked to name one item each."""

    def __init__(self, conn: Any, project_id: int, field: str | None) -> None:
        self.conn = conn
        self.project_id = project_id
        self.field = field
        self.lines: dict[str, int] = {}  # id -> the line of the file that gave it
        self.existing: dict[str, int] | None = None  # id -> item id, read at the first id

    def check(self, record: ItemIn) -> None:
        """Refuse a record with new content whose id an earlier line or an item already has."""
        external_id = record.external_id
        if external_id is None:
            return
        if self.existing is None:
            self.existing = store_items.existing_ids(self.conn, self.project_id)
        item_id = self.existing.get(external_id)
        if item_id is not None:
            raise self._error(record, f"already names item #{item_id} of this project")
        first = self.lines.setdefault(external_id, record.line)
        if first != record.line:
            raise self._error(record, "is also the id of", cites=first)

    def _error(self, record: ItemIn, where: str, *, cites: int | None = None) -> ImportFormatError:
        """The error of ``record``'s id, ``where`` it is already, followed by the record
        numbered ``cites`` when it is another of the file (named as the error names its own)."""
        said = f"id '{record.external_id}' {where}"
        rest = ", with other content; an id names one item"
        if cites is None:
            return ImportFormatError(line=record.line, field=self.field, reason=said + rest)
        return ImportFormatError(
            line=record.line,
            field=self.field,
            cites=cites,
            reason=lambda cited: f"{said} {cited}{rest}",
        )


def _insert_items(conn: Any, rows: list[dict[str, object]]) -> list[int]:
    """Insert rows in file order and return their ids; runs with pre-annotations go in their own
    statements, so items without one keep a SQL NULL rather than a JSON null."""
    ids: list[int] = []
    for _, run in groupby(rows, key=lambda r: "prediction" in r):
        ids += store_items.insert_items(conn, list(run))
    return ids


def _label_text(value: object) -> str | None:
    """The target label as one string for training and comparing answers (multi-label values
    join with '|'; spans and boxes become a digest of their JSON, so any number fits)."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if any(isinstance(v, Mapping) for v in value):
            canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
            return "regions:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]
        return "|".join(str(v) for v in value)
    return str(value)
