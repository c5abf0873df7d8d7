"""Exports: one row per labeled item with its label and provenance, or one row per answer with
its review and its item's label, streamed."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain, groupby
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, Generic, NamedTuple, TypeVar

from labelloop.domain import DECIDED, AnswerRecord, ExportRecord, LabelAnswer
from labelloop.errors import LabelloopError, Unprocessable
from labelloop.govern.guidelines import version_at
from labelloop.govern.permissions import Permission
from labelloop.ingest import EXPORTERS, make_exporter
from labelloop.ingest import yolo as uploaded  # the limits of one uploaded zip
from labelloop.ingest.protocols import AnswersExporter, ImagesExporter
from labelloop.ingest.records import json_bytes
from labelloop.sizes import size_text
from labelloop.store import audit
from labelloop.store import export as store_export
from labelloop.store import projects as store_projects
from labelloop.store.db import Database
from labelloop.store.tables import AUTO
from labelloop.workflow import media
from labelloop.workflow.imports import SPLITS
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.review import suggestion_sources
from labelloop.workflow.status import picked_by

CONTENT_KEYS = {"text": "text", "image": "image", "audio": "audio", "html": "html", "table": "row"}
"""Data type -> the payload key exported as ``text``: the text, the media path under its root,
the sanitized HTML, or the table row (an object)."""


def records(
    db: Database, ctx: ProjectContext, *, auto: bool = True, split: str = "pool"
) -> Iterator[ExportRecord]:
    """Labeled items of ``split`` (the pool, or the eval items) in id order: ``label`` is the
    target control's value, ``value`` every control's (spans with the text they cover, boxes
    in image pixels); ``annotator`` who annotated, ``decided_by`` who resolved the label,
    ``annotated_value`` the annotator's own answer when the label differs from it. An auto
    label (resolution ``auto``) carries the model's label as ``suggestion`` with its
    ``suggestion_confidence``, the ``model_version`` the run was applied at and a ``reason``
    naming the run and its confidence; ``auto=False`` leaves auto labels out. An annotated
    label carries what its annotation was offered: ``suggestion_value`` (control -> value, spans
    with their text) and ``suggestion_source`` (control -> ``model`` or ``import``), and
    ``changed_at`` when its annotator last changed it; ``annotators`` and
    ``guideline_versions`` name every answer behind the label, and ``answers`` holds each of
    them as its annotator gave it, with why the item was served to them."""
    shape = _Shape(ctx)
    target = shape.target
    for (row, behind), times in _rows(db, ctx, _labels_with_answers, auto=auto, split=split):
        payload = row["payload"]
        # A fix or adjudication replaces the annotator's answer; keep it beside the label.
        annotated = row["annotation_value"]
        if annotated is not None and annotated == row["value"]:
            annotated = None
        value, annotated, suggested = shape.spanned(
            payload, row["value"], annotated, row["suggestion_value"] or None
        )
        auto = _auto_fields(row, value.get(target)) if row["resolution"] == AUTO else {}
        yield ExportRecord(
            item_id=row["item_id"],
            external_id=row["external_id"],
            text=shape.content(payload),
            label=value.get(target),
            resolution=row["resolution"],
            annotator=row["username"],
            annotated_at=row["annotated_at"] or row["decided_at"],
            active_ms=row["active_ms"],
            guideline_version=row["guideline_version"],
            schema_version=row["schema_version"],
            model_version=auto.get("model_version", row["model_version"]),
            suggestion=auto.get("suggestion", row["suggestion"]),
            suggestion_confidence=auto.get("confidence", row["suggestion_confidence"]),
            strategy=row["strategy"],
            score=row["score"],
            rank=row["rank"],
            reason=auto.get("reason", why_picked(row)),
            metadata=row["meta"],
            value=value,
            decided_by=row["decided_by_name"],
            decided_at=row["decided_at"],
            annotated_value=annotated,
            suggestion_value=suggested,
            suggestion_source=suggestion_sources(row) or None,
            changed_at=times.changed.get(row["annotation_id"]),
            decided_guideline_version=(
                version_at(times.published, row["decided_at"])
                if row["resolution"] in DECIDED
                else None
            ),
            annotators=tuple(a["username"] for a in behind),
            guideline_versions=tuple(a["guideline_version"] for a in behind),
            payload=payload,
            split=split,
            answers=tuple(
                LabelAnswer(
                    annotator=a["username"],
                    value=shape.spanned(payload, a["value"])[0],
                    answered_at=a["answered_at"],
                    active_ms=a["active_ms"],
                    guideline_version=a["guideline_version"],
                    schema_version=a["schema_version"],
                    strategy=a["strategy"],
                    reason=why_picked(a),
                    answer_id=a["answer_id"],
                )
                for a in behind
            ),
        )


def _labels_with_answers(
    conn: Any, project_id: int, *, auto: bool, split: str
) -> Iterator[tuple[Any, list[Any]]]:
    """Each labeled row of ``split`` with the live answers behind its label, read alongside it
    (both in item order) rather than a query per item."""
    answers = groupby(
        store_export.label_answers(conn, project_id, split=split), key=itemgetter("item_id")
    )
    item_id, behind = next(answers, (None, iter(())))
    for row in store_export.labeled_rows(conn, project_id, auto=auto, split=split):
        while item_id is not None and item_id < row["item_id"]:
            item_id, behind = next(answers, (None, iter(())))
        yield row, list(behind) if item_id == row["item_id"] else []


def answer_records(
    db: Database, ctx: ProjectContext, *, auto: bool = True, split: str = "pool"
) -> Iterator[AnswerRecord]:
    """Every answer to the items of ``split`` (see :func:`store_export.answer_rows`) as the
    answers export writes it, item by item: spans carry the text they cover, ``agrees``
    says whether the annotator's own answer to the target control is the item's label, and
    ``reviewed_guideline_version`` is the guideline version in force at its latest review."""
    shape = _Shape(ctx)
    target = shape.target
    for row, times in _rows(db, ctx, store_export.answer_rows, auto=auto, split=split):
        payload = row["payload"]
        value, fixed, labeled, gold = shape.spanned(
            payload, row["value"], row["fixed_value"], row["label_value"], row["gold_value"]
        )
        answer = value.get(target)
        label = None if labeled is None else labeled.get(target)
        yield AnswerRecord(
            item_id=row["item_id"],
            external_id=row["external_id"],
            text=shape.content(payload),
            answer_id=row["annotation_id"],
            annotator=row["username"],
            answer=answer,
            value=value,
            status=row["status"],
            answered_at=row["answered_at"],
            changed_at=times.changed.get(row["annotation_id"]),
            active_ms=row["active_ms"],
            guideline_version=row["guideline_version"],
            schema_version=row["schema_version"],
            verdict=row["verdict"],
            reviewed_by=row["reviewed_by"],
            reviewed_at=row["reviewed_at"],
            review_tier=row["review_tier"],
            review_comment=row["review_comment"],
            fixed_value=fixed,
            gold=gold is not None,
            gold_label=None if gold is None else gold.get(target),
            label=label,
            resolution=row["resolution"],
            agrees=None if labeled is None else _same(answer, label),
            strategy=row["strategy"],
            model_version=row["model_version"],
            suggestion=row["suggestion"],
            suggestion_confidence=row["suggestion_confidence"],
            metadata=row["meta"],
            reason=why_picked(row),
            reviewed_guideline_version=(
                version_at(times.published, row["reviewed_at"])
                if row["reviewed_at"] is not None
                else None
            ),
            payload=payload,
            split=split,
        )


class _Shape:
    """What an export reads off the project's schema for each row: the target control, the
    payload key exported as ``text`` and the spans controls, whose spans carry their text."""

    def __init__(self, ctx: ProjectContext) -> None:
        self.target = ctx.schema.target.name
        self.key = CONTENT_KEYS.get(ctx.schema.data_type, "text")
        self.spans = [c.name for c in ctx.schema.controls if c.type == "spans"]

    def content(self, payload: Mapping[str, Any]) -> Any:
        return payload.get(self.key, "")

    def spanned(self, payload: Mapping[str, Any], *values: Any) -> list[Any]:
        """``values`` (answers, labels; None stays None) with each span's text filled in."""
        if not self.spans:
            return list(values)
        text = payload.get("text", "")
        return [None if v is None else with_span_text(v, self.spans, text) for v in values]


class _Times(NamedTuple):
    """When each answer was last changed (by annotation id) and each guideline version was
    published ((version, when), oldest first), read with the export's rows."""

    changed: dict[int, Any]
    published: list[tuple[int, Any]]


def _rows(
    db: Database, ctx: ProjectContext, rows_of: Callable[..., Iterator[Any]], **how: Any
) -> Iterator[tuple[Any, _Times]]:
    """The rows of an export query, each with when each answer was last changed and when each
    guideline version was published (a decision records no version: it was made under the
    one in force then)."""
    with db.read() as conn:
        times = _Times(  # one read each: few answers are changed, few versions published
            changed=audit.change_times(conn, ctx.id, None),
            published=store_projects.guideline_published(conn, ctx.id),
        )
        for row in rows_of(conn, ctx.id, **how):
            yield row, times


def _same(answer: Any, label: Any) -> bool:
    """Whether an answer is the label: lists (multi_choice labels, spans, boxes) in any order."""
    if isinstance(answer, list) and isinstance(label, list):
        return sorted(map(json_bytes, answer)) == sorted(map(json_bytes, label))
    return bool(answer == label)


def why_picked(row: Mapping[str, Any]) -> str | None:
    """An export row's ``reason``: the sentence the labeling page showed of why the item was
    picked, and, where the round that queued it trained no model (a cold start), which model
    picked it as the labeling page said it ("picked by model: none (v1 was a cold start)"):
    the ``model_version`` beside it names that round, not a model."""
    reason = row["reason"]
    if row["rank"] is None or not row["cold_start"]:
        return reason
    model = picked_by(row["model_version"], queued=True, cold_start=True, reason=reason)
    said = f"picked by model: {model}"
    return f"{reason}; {said}" if reason else said


def _auto_fields(row: Mapping[str, Any], label: Any) -> dict[str, Any]:
    """What an auto label exports about the model that gave it."""
    return {
        "model_version": row["run_model_version"],
        "suggestion": label,
        "confidence": row["confidence"],
        "reason": f"auto-label run {row['auto_run_id']}: the model was "
        f"{row['confidence']:.1%} sure (at least {row['threshold']:.0%} was needed)",
    }


def with_span_text(value: Mapping[str, Any], controls: list[str], text: str) -> dict[str, Any]:
    """``value`` with each span of the spans controls carrying the text it covers."""
    out = dict(value)
    for name in controls:
        if isinstance(out.get(name), list):
            out[name] = [{**s, "text": text[s["start"] : s["end"]]} for s in out[name]]
    return out


R = TypeVar("R")  # the records counted: ExportRecord or AnswerRecord

PROGRESS_EVERY = 5000  # rows between progress reports
IMAGES_PROGRESS_EVERY = 50  # images between progress reports: each is a file copied


def export(
    db: Database,
    ctx: ProjectContext,
    sink: BinaryIO,
    *,
    fmt: str,
    progress: Callable[[int], None] | None = None,
    auto: bool = True,
    split: str = "pool",
    annotations: bool = False,
    images: bool = False,
    media_roots: Sequence[Path] = (),
    warn: Callable[[str], None] | None = None,
) -> int:
    """Write the project's labeled items to ``sink``; returns the row count, audited.
    ``auto=False`` leaves the model's labels (auto-label runs) out; ``split="eval"`` writes
    the labeled eval items instead of the pool's (import them back with ``split="eval"``). A
    format that holds a dataset's splits (YOLO) takes the labeled eval items into a pool
    export too, as its validation images, which import back as eval items.

    ``annotations=True`` writes every answer instead (:func:`answer_records`), in the formats
    that hold them (:class:`AnswersExporter`: a row each in JSONL and CSV, a task per answered
    item with every answer in Label Studio's).

    ``images=True`` writes a zip holding each item's image too, read from under ``media_roots``
    as the item's own project may read it (:class:`ImageFiles`), in the formats that lay one
    out (:class:`ImagesExporter`: YOLO and COCO, see :mod:`~labelloop.ingest.bundles`); the
    eval items come with a pool export, as the dataset's validation images. An item whose
    image cannot be read (gone from the media root) refuses the export, naming it, as the
    zip would bring its label without its image.

    ``warn`` is told what the user should know of the file written: a zip with images past
    what one labelloop upload takes (:meth:`ImageFiles.notes`), which another project refuses
    as an upload, and how to import it all the same.

    ``progress`` is called with the rows read so far, every ``PROGRESS_EVERY`` rows
    (``IMAGES_PROGRESS_EVERY`` with images) and at the end.
    """
    ctx.require(Permission.EXPORT)
    if split not in SPLITS:
        raise LabelloopError(f"split '{split[:20]}' is not one of {', '.join(SPLITS)}")
    exporter = make_exporter(fmt, schema=ctx.schema)
    if annotations:
        if images:  # no format holds both: written without them, the images would be missed
            raise LabelloopError(
                "every annotator's answers (annotations) come without the images (images): "
                "export the answers, and the images with a yolo or coco export, apart"
            )
        if not isinstance(exporter, AnswersExporter):
            rows_of = sorted(f for f, c in EXPORTERS.items() if hasattr(c, "write_answers"))
            raise LabelloopError(
                f"every annotator's answers (annotations) export as {', '.join(rows_of[:-1])} "
                f"or {rows_of[-1]}; {fmt} holds one label per item"
            )
        given = answer_records(db, ctx, auto=auto, split=split)
        if getattr(exporter, "live_answers", False):  # a rejected answer would import as live
            given = (a for a in given if a.status != "rejected")
        answers = _Counter(given, progress)
        exporter.write_answers(answers, sink)
        n = answers.n
    else:
        if images and not isinstance(exporter, ImagesExporter):
            held = sorted(f for f, c in EXPORTERS.items() if hasattr(c, "write_with_images"))
            raise LabelloopError(
                f"an export with its images (images) is a {' or '.join(held)} zip; "
                f"{fmt} holds no images"
            )
        rows = records(db, ctx, auto=auto, split=split)
        if split == "pool" and holds_splits(fmt, images=images):  # eval: the dataset's val
            rows = chain(rows, records(db, ctx, auto=auto, split="eval"))
        counted = _Counter(rows, progress, every=IMAGES_PROGRESS_EVERY if images else None)
        if isinstance(exporter, ImagesExporter) and images:
            files = ImageFiles(ctx, media_roots)
            exporter.write_with_images(counted, sink, files=files)
            files.check()
            for note in files.notes(fmt) if warn is not None else ():
                warn(note)
        else:
            exporter.write(counted, sink)
        n = counted.n
    with db.write(project_id=ctx.id) as conn:
        audit.record(
            db,
            conn,
            action="export",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"project:{ctx.slug}",
            payload={
                "format": fmt,
                "rows": n,
                **({} if auto else {"auto": False}),
                **({} if split == "pool" else {"split": split}),
                **({"annotations": True} if annotations else {}),
                **({"images": True} if images else {}),
            },
        )
    return n


def holds_splits(fmt: str, *, images: bool = False) -> bool:
    """Whether an export in ``fmt`` (``images``: with its images) holds the eval items beside
    the pool's (see export)."""
    return images or bool(getattr(EXPORTERS.get(fmt), "holds_splits", False))


class ImageFiles:
    """Each exported item's image file, opened as the item's own project may read it: under a
    media root (no ``..``, no link out of it, none swapped in since the check: see
    :func:`~labelloop.ingest.media.open_media`), and in the uploaded images of no other project
    (the rules serving and imports keep). Counts the items whose image cannot be read and keeps
    why for the first ten; :meth:`check` then refuses the export naming them. Counts the
    images and bytes it gives too, for :meth:`notes`."""

    SHOWN = 10

    def __init__(self, ctx: ProjectContext, roots: Sequence[Path]) -> None:
        self.slug = ctx.slug
        self.roots = tuple(roots)
        self.n_unreadable = 0
        self.unreadable: list[str] = []
        self.n_images = 0
        self.n_bytes = 0

    def __call__(self, record: ExportRecord) -> BinaryIO | None:
        try:
            file, _, _ = media.open_project_media(str(record.text), self.roots, slug=self.slug)
        except LabelloopError as exc:
            return self._unreadable(record, exc)
        self.n_images += 1
        self.n_bytes += os.fstat(file.fileno()).st_size
        return file

    def _unreadable(self, record: ExportRecord, exc: LabelloopError) -> None:
        self.n_unreadable += 1
        if len(self.unreadable) < self.SHOWN:
            self.unreadable.append(f"item {record.item_id}: {exc.message}")

    def notes(self, fmt: str) -> list[str]:
        """What the user is told about a zip of ``fmt`` written with these images: one past
        what a labelloop upload takes in one zip (see :func:`zip_images_to_store`) is refused
        as an upload, and how to bring it in all the same."""
        most, most_bytes = uploaded.MAX_STORED_IMAGES, uploaded.MAX_STORED_BYTES
        if self.n_images <= most and self.n_bytes <= most_bytes:
            return []
        how = (
            "labelloop import SLUG FOLDER --format yolo"
            if fmt == "yolo"
            else "labelloop import SLUG FOLDER/annotations/instances_train.json --format coco, "
            "and instances_val.json with --split eval"
        )
        n, size = self.n_images, size_text
        return [
            f"the zip holds {n:,} image{'s' if n > 1 else ''} ({size(self.n_bytes)}), more than "
            f"a labelloop upload takes in one zip ({most:,} images, {size(most_bytes)}): "
            f"uploaded to a project it is refused. Unzip it under a media root and import it "
            f"from there ({how})"
        ]

    def check(self) -> None:
        """Refuse the export when an item's image could not be read, naming the items."""
        n = self.n_unreadable
        if not n:
            return
        more = " ..." if n > len(self.unreadable) else ""
        items, its = ("item", "its") if n == 1 else ("items", "their")
        raise Unprocessable(
            f"{n:,} {items} of the export cannot bring {its} "
            f"image, so no export with images was written: {'; '.join(self.unreadable)}{more}. "
            "Put the files back under the media root, or export without the images"
        )


class _Counter(Generic[R]):
    """Passes records through while counting them."""

    def __init__(
        self,
        source: Iterator[R],
        progress: Callable[[int], None] | None,
        *,
        every: int | None = None,
    ) -> None:
        self.source = source
        self.progress = progress
        self.every = every or PROGRESS_EVERY
        self.n = 0

    def __iter__(self) -> Iterator[R]:
        report = self.progress
        for record in self.source:
            self.n += 1
            if report is not None and self.n % self.every == 0:
                report(self.n)
            yield record
        if report is not None:
            report(self.n)
