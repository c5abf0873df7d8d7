"""Label Studio's JSON export in, and Label Studio JSON tasks out, so a project moves either way
(format: labelstud.io/guide/export.html#JSON).

In: the array of tasks Label Studio's "JSON" export writes, read one task at a time. The task's
``data`` field holding the content (the ``text_field``, else the schema's data field, else the
one named after the data type) becomes the item, its other ``data`` fields and its ``meta`` the
item's metadata, its ``id`` the item's id. The newest annotation that was not cancelled becomes
the label: each result goes to a control of a type that holds it (``RESULT_CONTROLS``), the one
named like its ``from_name`` if there is one, else the project's only such control; who made it
is kept as the metadata ``label_studio_annotator``. With ``answers`` every annotation comes in
instead, as its annotator's answer (:class:`~labelloop.domain.AnswerIn`: who by email and
username, when, the ``lead_time``; a cancelled one as a skip), and no label is read: the
import resolves it from the answers by the project's rules. Boxes come in
percent of ``original_width`` / ``original_height`` and are stored in pixels. The newest
prediction becomes the pre-annotation, with its scores. An image path is read under a media root
as a COCO ``file_name`` is; ``/data/local-files/?d=PATH`` is PATH and ``/data/upload/...`` is
``upload/...`` (under Label Studio's media folder); URLs are refused, as nothing is fetched.
Record numbers count tasks in file order; errors name the task's number, its id and the field.

Out: a task per labeled item with ``data`` (the content under the schema's data field; a media
path as ``/data/local-files/?d=PATH``), ``meta`` (the item's metadata and the label's provenance,
:func:`~labelloop.ingest.provenance.label_provenance`) and one annotation per annotator behind
the label, each their own answer (with its ``id``), whose ``result`` holds every control's
value; where an answer is not the label, the label is starred as ground truth (an answer that
is it, else the decider's own annotation), which the importer reads back to the same values.
With every answer
(:meth:`LabelStudioExporter.write_answers`), a task per answered item holding each answer that
counts as its annotator's annotation, which the importer with ``answers`` reads back as theirs.
An annotator's annotation carries the guideline and schema version it was made under and why
its item was picked (``guideline_version``, ``schema_version``, ``strategy``, ``reason``) as
keys of its own, and a reviewer's or adjudicator's starred one the guideline version in force
when they decided. Label Studio's import keeps a task's ``meta`` but only its own keys of an
annotation (``result``, ``completed_by``, ``lead_time``, ...): the task's ``meta`` is where the
provenance lives on in Label Studio. A label's task holds its label's provenance there
(``decided_by``, ``decided_at`` and ``decided_guideline_version`` for a decided one), and both
a label's task and an answers task hold ``answers``: each annotator's answer's provenance in
the order of their annotations, named by its annotation's ``id`` and its ``annotator``, with
the guideline and schema version and why the item was served to them (``strategy``,
``reason``: :func:`~labelloop.ingest.provenance.answers_provenance`); under ``labelloop`` when
the item's own metadata has an ``answers``. labelloop's import keeps the whole ``meta`` as the
item's metadata and reads none of it back as answers or selections.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from itertools import groupby
from operator import attrgetter
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

from labelloop.domain import AnswerIn, AnswerRecord, ExportRecord, ItemIn, LabelAnswer
from labelloop.errors import ImportFormatError, LabelloopError, SchemaError
from labelloop.ingest.boxes import recorded_size
from labelloop.ingest.json_array import MAX_ELEMENT_CHARS, array_elements
from labelloop.ingest.label_studio_results import (
    REGION_KEYS,
    RESULT_CONTROLS,
    RESULT_TYPES,
    Target,
    Task,
    add_value,
    answer_of,
    boxes_of,
    cancelled,
    is_box,
    newest,
    regions_of,
    score_of,
    spans_of,
    unread_type,
    with_score,
)
from labelloop.ingest.media import MEDIA_SUFFIXES
from labelloop.ingest.predictions import prediction_value
from labelloop.ingest.provenance import (
    answer_versions,
    answers_provenance,
    label_provenance,
    with_provenance,
)
from labelloop.ingest.records import (
    MAX_TEXT_CHARS,
    checked_id,
    checked_metadata,
    id_as_written,
    iso_utc,
    json_bytes,
)
from labelloop.kinds import kind
from labelloop.schema import label_value
from labelloop.schema.values import is_number

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema

LOCAL_FILES = "/data/local-files/"
"""Label Studio's URL of a file under its local-files document root (``?d=PATH``)."""
UPLOADS = "/data/upload/"
"""Label Studio's URL of an uploaded file, under its media folder's ``upload/``."""
_URL_SCHEMES = frozenset({"http", "https", "ftp", "s3", "gs", "azure-blob", "file", "data"})
_MIN_KEYS = frozenset({"annotator", "annotation_id", "lead_time"})
_FLUSH_TASKS = 500
MAX_LEAD_MS = 24 * 3600 * 1000
"""The longest ``lead_time`` an answer keeps (a day, the most a labelloop answer records):
Label Studio counts the time a task stayed open, a tab left open overnight included."""


class LabelStudioImporter:
    """Reads a Label Studio JSON export, streaming; with ``schema`` results are matched to its
    controls and checked, without it they keep their ``from_name`` and come in unchecked.
    With ``answers`` each task's annotations come in as its annotators' answers, not a label."""

    format: ClassVar[str] = "label_studio"

    def __init__(
        self,
        *,
        schema: ProjectSchema | None = None,
        text_field: str = "text",
        id_field: str | None = None,
        label_field: str | None = None,
        prediction_field: str | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
        max_task_chars: int = MAX_ELEMENT_CHARS,
        answers: bool = False,
    ) -> None:
        if (id_field, label_field, prediction_field) != (None, None, None):
            raise LabelloopError(
                "a Label Studio file holds its own ids, labels and pre-annotations (each task's "
                "id, annotations and predictions); leave out the id, label and predictions fields"
            )
        self.schema = schema
        self.text_field = text_field
        self.max_text_chars = max_text_chars
        self.max_task_chars = max_task_chars
        self.answers = answers
        self.counts: Counter[str] = Counter()  # what notes() reports, counted as tasks go

    def __repr__(self) -> str:
        return f"LabelStudioImporter(text_field={self.text_field!r})"

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per task of ``source``, in file order."""
        self.counts.clear()  # a read counts its own file
        for number, raw in enumerate(
            array_elements(source, what="task", max_chars=self.max_task_chars), 1
        ):
            yield self._item(number, raw)

    def notes(self) -> list[str]:
        """Sentences on answers the file held that did not become labels (after ``read``)."""
        out = []
        if starred := self.counts["starred"]:
            out.append(
                f"{starred:,} {_tasks(starred)} held a starred (ground truth) answer: it came in "
                "as its annotator's answer like the others, and the label is resolved from all "
                "of them by the project's rules"
            )
        if unnamed := self.counts["unnamed"]:
            out.append(
                f"{unnamed:,} skipped (cancelled) {_answers(unnamed)} named no annotator and "
                f"{'was' if unnamed == 1 else 'were'} left out"
            )
        if several := self.counts["several"]:
            out.append(
                f"{several:,} {_tasks(several)} held answers from more than one annotator: each "
                "came in with its starred (ground truth) answer, or else its newest; the other "
                "answers were left out"
            )
        if cancelled := self.counts["cancelled"]:
            out.append(
                f"{cancelled:,} {_tasks(cancelled)} held only skipped (cancelled) answers and "
                "came in unlabeled"
            )
        return out

    def _item(self, number: int, raw: Any) -> ItemIn:
        if not isinstance(raw, Mapping):
            raise ImportFormatError(
                line=number, reason=f"task {number}: must be an object, got {kind(raw)}"
            )
        task = Task(number, raw.get("id"))
        data = raw.get("data")
        if not isinstance(data, Mapping):
            raise task.error("data", _data_problem(raw, data))
        key = self._content_key(task, data)
        payload = self._payload(task, key, data[key])
        metadata = {k: v for k, v in data.items() if k != key}
        meta = raw.get("meta")
        if isinstance(meta, Mapping):
            metadata.update(meta)
        elif meta is not None:
            metadata["meta"] = meta
        answers: tuple[AnswerIn, ...] = ()
        if self.answers:
            label, annotator = None, None
            answers = self._answers(task, raw, payload)
        else:
            label, annotator = self._label(task, raw, payload)
        if annotator is not None:  # who made the label: labelloop's users are not Label Studio's
            metadata.setdefault(ANNOTATOR_KEY, annotator)
        try:
            metadata = checked_metadata(number, metadata)
        except ImportFormatError as exc:
            raise task.error(exc.field, exc.reason) from None
        return ItemIn(
            line=number,
            payload=payload,
            external_id=_external_id(task),
            label=label,
            metadata=metadata,
            prediction=self._prediction(task, raw, payload),
            answers=answers,
        )

    @property
    def _data_type(self) -> str:
        return self.schema.data_type if self.schema is not None else "text"

    def _content_key(self, task: Task, data: Mapping[str, Any]) -> str:
        """The ``data`` field holding the item's content."""
        schema_field = self.schema.data_field if self.schema is not None else self.text_field
        keys = list(dict.fromkeys((self.text_field, schema_field, self._data_type)))
        for key in keys:
            if key in data:
                return key
        named = " or ".join(repr(k) for k in keys)
        fields = ", ".join(str(k) for k in data) or "none"
        raise task.error(
            "data",
            f"has no {named} field (its fields: {fields}); "
            f"name the one holding the {self._data_type} as the text field",
        )

    def _payload(self, task: Task, key: str, value: Any) -> dict[str, Any]:
        field = f"data.{key}"
        data_type = self._data_type
        if data_type in MEDIA_SUFFIXES:
            if not isinstance(value, str) or not value.strip():
                raise task.error(
                    field, f"must be the path of an {data_type} file, got {kind(value)}"
                )
            return {data_type: _media_path(task, field, value)}
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # Label Studio shows a number as a text
        if not isinstance(value, str):
            raise task.error(field, f"must be a string, got {kind(value)}")
        if not value.strip():
            raise task.error(field, "empty text")
        if len(value) > self.max_text_chars:
            raise task.error(
                field,
                f"text is {len(value):,} characters; the limit is {self.max_text_chars:,}",
            )
        return {"text": value}

    def _label(
        self, task: Task, raw: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> tuple[Any, str | None]:
        """The newest annotation not cancelled (nor skipped) as control name -> value, and who
        made it as Label Studio names them (:func:`_annotator`)."""
        field = _annotations_field(raw)
        entries = raw.get(field)
        chosen = newest(task, field, entries, skip_cancelled=True)
        if chosen is None:
            if entries:
                self.counts["cancelled"] += 1
            return None, None
        if sum(not cancelled(e) for e in entries) > 1:
            self.counts["several"] += 1
        k, annotation = chosen
        values = self._values(task, f"{field}[{k}]", annotation, payload, scored=False)
        if self.schema is not None:
            target = self.schema.target
            if target.type in ("spans", "boxes") and target.name not in values:
                values[target.name] = []  # a submitted annotation with no region: "none here"
        return values or None, _annotator(annotation)

    def _answers(
        self, task: Task, raw: Mapping[str, Any], payload: Mapping[str, Any]
    ) -> tuple[AnswerIn, ...]:
        """Every annotation of the task as its annotator's answer, in file order; a cancelled
        (skipped) one as a skip, whose value is None."""
        field = _annotations_field(raw)
        entries = raw.get(field)
        if entries is None:
            return ()
        if not isinstance(entries, list):
            raise task.error(field, f"must be a list, got {kind(entries)}")
        out = []
        starred = False
        for k, entry in enumerate(entries):
            where = f"{field}[{k}]"
            if not isinstance(entry, Mapping):
                raise task.error(where, f"must be an object, got {kind(entry)}")
            names = annotator_names(entry)
            value: dict[str, Any] | None = None
            if not cancelled(entry):
                value = self._values(task, where, entry, payload, scored=False)
                if self.schema is not None:
                    target = self.schema.target
                    if target.type in ("spans", "boxes") and target.name not in value:
                        value[target.name] = []  # submitted with no region: "none here"
            if not names:
                if value is None:  # a skip by nobody known: nothing to keep
                    self.counts["unnamed"] += 1
                    continue
                by = entry.get("completed_by")
                said = f" only by Label Studio's user id {by}" if _is_int(by) else " nobody"
                raise task.error(
                    f"{where}.completed_by",
                    f"names{said}: an answer comes in as its annotator's, known by their email "
                    "(completed_by.email or created_username, as Label Studio's JSON export "
                    "writes them)",
                )
            starred = starred or (value is not None and entry.get("ground_truth") is True)
            out.append(
                AnswerIn(
                    field=where,
                    annotator=names,
                    shown=names[0],
                    value=value,
                    created_at=_time(task, f"{where}.created_at", entry.get("created_at")),
                    updated_at=_time(task, f"{where}.updated_at", entry.get("updated_at")),
                    active_ms=_lead_ms(task, f"{where}.lead_time", entry.get("lead_time")),
                    source_id=_source_id(entry.get("id")),
                )
            )
        if starred:
            self.counts["starred"] += 1
        return tuple(out)

    def _prediction(self, task: Task, raw: Mapping[str, Any], payload: Mapping[str, Any]) -> Any:
        """The newest prediction as control name -> predicted value, scores kept."""
        chosen = newest(task, "predictions", raw.get("predictions"), skip_cancelled=False)
        if chosen is None:
            return None
        k, prediction = chosen
        values = self._values(task, f"predictions[{k}]", prediction, payload, scored=True)
        if self.schema is not None:
            try:
                return prediction_value(self.schema, values, payload)
            except SchemaError as exc:
                raise task.error(f"predictions[{k}].result", exc.message) from None
        return values or None

    def _values(
        self,
        task: Task,
        where: str,
        entry: Mapping[str, Any],
        payload: Mapping[str, Any],
        *,
        scored: bool,
    ) -> dict[str, Any]:
        """One annotation's (or prediction's) results as control name -> value."""
        results = entry.get("result")
        if not isinstance(results, list):
            raise task.error(f"{where}.result", f"must be a list of results, got {kind(results)}")
        labeled = {
            _region_id(r)
            for r in results
            if isinstance(r, Mapping) and r.get("type") == "labels" and is_box(r.get("value"))
        }
        values: dict[str, Any] = {}
        targets: dict[str, Target] = {}
        for j, result in enumerate(results):
            at = f"{where}.result[{j}]"
            if not isinstance(result, Mapping):
                raise task.error(at, f"must be an object, got {kind(result)}")
            rtype = result.get("type")
            if rtype == "rectangle" and _region_id(result) in labeled - {None}:
                continue  # its box comes with the labels result of the same region
            if not isinstance(rtype, str) or rtype not in RESULT_CONTROLS:
                raise task.error(f"{at}.type", unread_type(rtype))
            value = result.get("value")
            if not isinstance(value, Mapping):
                raise task.error(f"{at}.value", f"must be an object, got {kind(value)}")
            target = self._target(task, at, rtype, result.get("from_name"), value)
            raw = self._converted(task, at, target, result, value, payload)
            if raw is None:
                continue  # a blank choice or text: no answer
            if scored:
                raw = with_score(target.type, raw, score_of(result, entry))
            add_value(task, at, values, target, raw)
            targets[target.name] = target
        for name, target in targets.items():
            if target.control is not None and target.type in ("spans", "boxes"):
                try:  # the regions of every result together: no duplicates or overlaps
                    checked = label_value(target.control, values[name], payload)
                except SchemaError as exc:
                    raise task.error(f"{where}.result", exc.message) from None
                if not scored:  # a prediction's regions keep their scores, checked later
                    values[name] = checked
        return values

    def _target(
        self, task: Task, at: str, rtype: str, from_name: Any, value: Mapping[str, Any]
    ) -> Target:
        """The control a result goes to: named like ``from_name``, else the only one that fits."""
        holds = ("boxes",) if rtype == "labels" and is_box(value) else RESULT_CONTROLS[rtype]
        if self.schema is None:
            if not isinstance(from_name, str) or not from_name.strip():
                raise task.error(f"{at}.from_name", "must name the control")
            multi = holds[0] == "choice" and len(value.get("choices") or ()) != 1
            return Target(from_name, "multi_choice" if multi else holds[0], None)
        fitting = [c for c in self.schema.controls if c.type in holds]
        named = [c for c in fitting if c.name == from_name]
        if named or len(fitting) == 1:
            control = (named or fitting)[0]
            return Target(control.name, control.type, control)
        kinds = " or ".join(holds)
        if not fitting:
            controls = ", ".join(f"{c.name} ({c.type})" for c in self.schema.controls)
            raise task.error(
                f"{at}.type",
                f"{rtype} results need a {kinds} control; this project has none "
                f"(its controls: {controls})",
            )
        raise task.error(
            f"{at}.from_name",
            f"{str(from_name)[:100]!r} is none of this project's {kinds} controls "
            f"({', '.join(c.name for c in fitting)}); give the result the control's name",
        )

    def _converted(
        self,
        task: Task,
        at: str,
        target: Target,
        result: Mapping[str, Any],
        value: Mapping[str, Any],
        payload: Mapping[str, Any],
    ) -> Any:
        """One result's value in the shape labelloop holds, checked against the control."""
        check: Mapping[str, Any] | None = payload
        if target.type in ("spans", "boxes"):
            if target.type == "spans":
                raw: Any = spans_of(task, at, value, str(payload.get("text") or ""))
            else:
                raw = boxes_of(task, at, result, value)
                width, height = result["original_width"], result["original_height"]
                check = {"width": round(width), "height": round(height)}
        else:
            if any(key in value for key in REGION_KEYS):
                raise task.error(
                    at,
                    f"a per-region answer cannot be held: labelloop's {target.type} controls "
                    "answer for the whole item",
                )
            raw = answer_of(task, at, target.type, value)
        control = target.control
        if control is None:
            return raw
        if control.type == "text" and len(raw) > (control.max_chars or 0):
            raise task.error(
                f"{at}.value.text",
                f"{len(raw):,} characters; the limit of '{control.name}' is {control.max_chars:,}",
            )
        try:
            return label_value(control, raw, check)
        except SchemaError as exc:
            raise task.error(f"{at}.value", exc.message) from None


ANNOTATOR_KEY = "label_studio_annotator"
"""The metadata key an import keeps the label's annotator under (unless the task's own data or
meta uses it)."""


def _tasks(n: int) -> str:
    return "task" if n == 1 else "tasks"


def _answers(n: int) -> str:
    return "answer" if n == 1 else "answers"


def _annotations_field(raw: Mapping[str, Any]) -> str:
    """Where a task holds its annotations: ``annotations``, or ``completions`` in exports of
    Label Studio before 1.0."""
    return "completions" if "annotations" not in raw and "completions" in raw else "annotations"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def annotator_names(annotation: Mapping[str, Any]) -> tuple[str, ...]:
    """The names a Label Studio annotation knows its annotator by, best first: the
    ``completed_by`` user's email and username (when the export expands the user), the email of
    ``created_username`` ("email, id" as Label Studio writes it; a labelloop export writes the
    username), then each email's name before the @. Empty when it names nobody but by
    Label Studio's user id, which tells labelloop nothing."""
    names: list[str] = []
    by = annotation.get("completed_by")
    if isinstance(by, Mapping):
        names += [by[key] for key in ("email", "username") if isinstance(by.get(key), str)]
    created = annotation.get("created_username")
    if isinstance(created, str):
        head, comma, tail = created.strip().rpartition(",")
        names.append(head if comma and tail.strip().isdigit() else created)
    names = [n.strip()[:200] for n in names if n.strip()]
    names += [n.split("@", 1)[0] for n in names if "@" in n and not n.startswith("@")]
    return tuple(dict.fromkeys(names))


def _time(task: Task, field: str, raw: Any) -> datetime | None:
    """An annotation's ``created_at`` or ``updated_at`` (ISO 8601; without an offset, UTC)."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise task.error(field, f"must be a date and time (ISO 8601), got {kind(raw)}")
    try:
        found = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise task.error(
            field, f"{raw[:50]!r} is not a date and time (ISO 8601, as 2024-05-01T10:00:00Z)"
        ) from None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def _lead_ms(task: Task, field: str, raw: Any) -> int | None:
    """An annotation's ``lead_time`` (seconds) in milliseconds, at most :data:`MAX_LEAD_MS`."""
    if raw is None:
        return None
    if not is_number(raw) or raw < 0:
        raise task.error(field, f"must be a number of seconds, 0 or more, got {str(raw)[:50]}")
    return min(MAX_LEAD_MS, round(raw * 1000))


def _source_id(raw: Any) -> str | None:
    """Label Studio's id of an annotation, as text, when it has one."""
    return str(raw)[:50] if _is_int(raw) or isinstance(raw, str) else None


def _data_problem(raw: Mapping[str, Any], data: Any) -> str:
    if data is not None:
        return f"must be an object of the task's fields, got {kind(data)}"
    if _MIN_KEYS & raw.keys():
        return (
            "missing; this looks like Label Studio's JSON-MIN export, which drops each "
            "result's type: export JSON instead"
        )
    return "missing; a Label Studio task holds its content in data"


def _annotator(annotation: Mapping[str, Any]) -> str | None:
    """Who made a Label Studio annotation: its ``created_username`` (Label Studio writes
    "email, id"; labelloop's export the user's name), else the ``completed_by`` user's email or
    id; None when it says nothing."""
    name = annotation.get("created_username")
    if isinstance(name, str) and name.strip():
        return name.strip()[:200]
    by = annotation.get("completed_by")
    if isinstance(by, Mapping):
        by = by.get("email") or by.get("id")
    if isinstance(by, str) and by.strip():
        return by.strip()[:200]
    if isinstance(by, int) and not isinstance(by, bool):
        return str(by)
    return None


def _region_id(result: Mapping[str, Any]) -> str | int | None:
    """The id of the region a result marks (its box and its labels share one), if it has one;
    a list or an object names no region."""
    found = result.get("id")
    return found if isinstance(found, str | int) else None


def _external_id(task: Task) -> str | None:
    ls_id = task.ls_id
    if ls_id is None:
        return None
    if isinstance(ls_id, bool) or not isinstance(ls_id, str | int):
        raise task.error("id", f"must be a string or integer, got {kind(ls_id)}")
    try:
        return checked_id(task.number, "id", str(ls_id))
    except ImportFormatError as exc:
        raise task.error("id", exc.reason) from None


def _media_path(task: Task, field: str, raw: str) -> str:
    """The path under a media root that a Label Studio image or audio URL names."""
    if raw.startswith(LOCAL_FILES):
        found = parse_qs(urlsplit(raw).query).get("d")
        if not found or not found[0].strip():
            raise task.error(field, f"{raw[:200]!r} is a local-files URL without its ?d= path")
        return found[0]
    if raw.startswith(UPLOADS):
        return unquote(raw[len("/data/") :])
    try:
        parts = urlsplit(raw)
    except ValueError:
        parts = None
    if parts is None or parts.netloc or parts.scheme.lower() in _URL_SCHEMES:
        raise task.error(
            field,
            f"{raw[:200]!r} is a URL; labelloop never fetches files: copy them under a media "
            "root and give their paths there",
        )
    return raw


class LabelStudioExporter:
    """Writes labeled items as a Label Studio JSON file to import into a Label Studio project
    whose labeling config names its controls and its object tag as the schema does."""

    format: ClassVar[str] = "label_studio"
    live_answers: ClassVar[bool] = True
    """Its answers export holds no rejected answer: the file has no place for one sent back, and
    an import would count it as a live answer."""

    def __init__(self, *, schema: ProjectSchema | None = None) -> None:
        if schema is not None and schema.data_type == "table":
            raise LabelloopError(
                "Label Studio export holds text, HTML, image and audio items; "
                "export jsonl or csv for a table project"
            )
        self.schema = schema
        self.data_key = schema.data_field if schema is not None else "text"
        self.media = schema is not None and schema.data_type in MEDIA_SUFFIXES

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as one JSON array, a task per line."""
        _write_tasks(map(self._task, records), sink)

    def write_answers(self, records: Iterable[AnswerRecord], sink: BinaryIO) -> None:
        """Write a task per answered item (``records`` come item by item) holding each of its
        answers as its annotator's annotation: the answer as they gave it (or last changed it),
        ``created_at``, ``updated_at`` when they changed it, ``lead_time``, and the answer's
        ``id``. The caller leaves rejected answers out (:attr:`live_answers`)."""
        groups = groupby(records, key=attrgetter("item_id"))
        _write_tasks((self._answers_task(list(answers)) for _, answers in groups), sink)

    def _answers_task(self, answers: list[AnswerRecord]) -> dict[str, Any]:
        task = self._item_task(answers[0])
        # Label Studio keeps a task's meta whole but drops an annotation's keys of ours.
        ours = {"answers": answers_provenance(answers)}
        task["meta"] = with_provenance(answers[0].metadata, ours)
        task["annotations"] = []
        for answer in answers:
            annotation = self._answered(answer, answer)
            if answer.changed_at is not None:
                annotation["updated_at"] = iso_utc(answer.changed_at)
            task["annotations"].append(annotation)
        return task

    def _item_task(self, record: ExportRecord | AnswerRecord) -> dict[str, Any]:
        """A task of the record's item: its ``id``, ``data`` and ``meta``."""
        content = record.text
        if self.media and isinstance(content, str):
            content = LOCAL_FILES + "?d=" + quote(content, safe="/")
        task: dict[str, Any] = {}
        if record.external_id is not None:
            task["id"] = id_as_written(record.external_id)
        task["data"] = {self.data_key: content}
        if record.metadata:
            task["meta"] = dict(record.metadata)
        return task

    def _task(self, record: ExportRecord) -> dict[str, Any]:
        task = self._item_task(record)
        ours = label_provenance(record)  # with each annotation's keys, which Label Studio drops
        if ours:  # the one place of a task a Label Studio import keeps beside its data
            task["meta"] = with_provenance(record.metadata, ours)
        if record.resolution == "auto":  # the model's label: a prediction, not an annotation
            prediction: dict[str, Any] = {"result": self._results(record)}
            if record.suggestion_confidence is not None:
                prediction["score"] = record.suggestion_confidence
            if record.model_version is not None:
                prediction["model_version"] = f"labelloop-v{record.model_version}"
            task["predictions"] = [prediction]
            return task
        answers = record.answers or _row_answer(record)
        if answers:
            task["annotations"] = self._answers_behind(record, answers)
        elif record.resolution == "adjudicated":  # decided with no answer behind it
            task["annotations"] = [self._decided(record)]
        else:  # no one answered it here (an imported label)
            task["annotations"] = [
                self._annotation(
                    record, None, by=None, at=record.annotated_at, active_ms=record.active_ms
                )
            ]
        suggested = self._suggested(record)
        if suggested is not None:
            task["predictions"] = [suggested]
        return task

    def _answers_behind(
        self, record: ExportRecord, answers: tuple[LabelAnswer, ...]
    ) -> list[dict[str, Any]]:
        """One annotation per annotator behind the label (``answers``), each their own answer
        (value, time, lead time, versions, and the selection that served the item to them), as
        Label Studio holds an item several annotators answered. Where an answer
        is not the label, the label is starred as ground truth (what a Label Studio import
        reads back): the first answer that is the label, else, when a reviewer's fix or the
        expert tier's decision made it, the decider's own annotation (the annotators' answers
        stay theirs)."""
        annotations = [self._answered(record, answer) for answer in answers]
        same = [k for k, a in enumerate(answers) if a.value == record.value]
        if record.annotated_value is not None or not same:
            annotations.append(self._decided(record))
        elif len(same) < len(annotations):
            annotations[same[0]]["ground_truth"] = True
        return annotations

    def _answered(
        self, record: ExportRecord | AnswerRecord, answer: AnswerRecord | LabelAnswer
    ) -> dict[str, Any]:
        """``answer`` to ``record``'s item as its annotator's annotation (see
        :meth:`_annotation`), with the answer's ``id`` when it has one."""
        annotation = self._annotation(
            record,
            answer.value,
            by=answer.annotator,
            at=answer.answered_at,
            active_ms=answer.active_ms,
            versions=answer_versions(answer),
        )
        if answer.answer_id is not None:
            annotation["id"] = answer.answer_id
        return annotation

    def _decided(self, record: ExportRecord) -> dict[str, Any]:
        """The label as its reviewer or adjudicator decided it, starred as ground truth, with
        the guideline version in force when they did."""
        version = record.decided_guideline_version
        return self._annotation(
            record,
            None,
            by=record.decided_by,
            at=record.decided_at,
            ground_truth=True,
            versions={"guideline_version": version} if version is not None else None,
        )

    def _annotation(
        self,
        record: ExportRecord | AnswerRecord,
        values: Mapping[str, Any] | None,
        *,
        by: str | None,
        at: Any,
        active_ms: int | None = None,
        ground_truth: bool = False,
        versions: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One annotation of ``values`` (else the record's label) made by ``by`` at ``at``;
        ``versions`` (:func:`~labelloop.ingest.provenance.answer_versions`) go beside its own
        keys: Label Studio's import leaves keys it does not know alone, and so does labelloop's."""
        annotation: dict[str, Any] = {
            "result": self._results(record, values),
            "was_cancelled": False,
            "ground_truth": ground_truth,
        }
        if at is not None:
            annotation["created_at"] = iso_utc(at)
        if active_ms is not None:
            annotation["lead_time"] = active_ms / 1000
        if by:
            # Label Studio refuses a completed_by that is not one of its users' ids or emails,
            # so the name goes where its own exports show it and its imports ignore it.
            annotation["created_username"] = by
        return annotation | dict(versions or {})

    def _suggested(self, record: ExportRecord) -> dict[str, Any] | None:
        """What the annotator was offered, as the prediction Label Studio shows beside the
        annotation: the model's label and the suggested values, each region with its score;
        ``model_version`` names the model (``labelloop-vN``) or, with nothing of it, ``import``."""
        value = {
            name: v.get("label") if isinstance(v, Mapping) else v
            for name, v in (record.suggestion_value or {}).items()
        }
        if record.suggestion is not None and self.schema is not None:
            value[self.schema.target.name] = record.suggestion
        if not value:
            return None
        scores = {
            name: [r.get("score") if isinstance(r, Mapping) else None for r in v]
            for name, v in (record.suggestion_value or {}).items()
            if isinstance(v, list)
        }
        results = self._results(record, value, scores=scores)
        if not results:
            return None
        prediction: dict[str, Any] = {"result": results}
        if record.suggestion_confidence is not None:
            prediction["score"] = record.suggestion_confidence
        sources = (record.suggestion_source or {}).values()
        modelled = record.suggestion is not None or "model" in sources
        if modelled and record.model_version is not None:
            prediction["model_version"] = f"labelloop-v{record.model_version}"
        elif not modelled:
            prediction["model_version"] = "import"
        return prediction

    def _results(
        self,
        record: ExportRecord | AnswerRecord,
        values: Mapping[str, Any] | None = None,
        *,
        scores: Mapping[str, list[Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Every control's value (of ``values``, else the record's) as Label Studio results,
        region by region; ``scores`` gives a region's score by control and position."""
        values = record.value if values is None else values
        if self.schema is None:
            controls = [(name, _guessed_type(v)) for name, v in values.items()]
        else:
            controls = [(c.name, c.type) for c in self.schema.controls]
        text = record.text if isinstance(record.text, str) else ""
        out: list[dict[str, Any]] = []
        for name, type in controls:
            value = values.get(name)
            if value is None or type is None:
                continue
            size = (
                recorded_size(record, "Label Studio", unit="percent") if type == "boxes" else None
            )
            scored = (scores or {}).get(name, [])
            for k, region in enumerate(regions_of(type, value, text=text, size=size)):
                result: dict[str, Any] = {
                    "id": f"{record.item_id}_{len(out)}",
                    "from_name": name,
                    "to_name": self.data_key,
                    "type": RESULT_TYPES[type],
                }
                if size is not None:
                    result |= {"original_width": size[0], "original_height": size[1]}
                    result["image_rotation"] = 0
                if k < len(scored) and scored[k] is not None:
                    result["score"] = scored[k]
                out.append({**result, "value": region})
        return out


def _row_answer(record: ExportRecord) -> tuple[LabelAnswer, ...]:
    """The label's own answer, for a record that names its annotator but not the answers
    behind the label (one a plug-in built): as they gave it, else the label; none without an
    annotator."""
    if not record.annotator:
        return ()
    given = record.annotated_value if record.annotated_value is not None else record.value
    return (
        LabelAnswer(
            annotator=record.annotator,
            value=given,
            answered_at=record.annotated_at,
            active_ms=record.active_ms,
            guideline_version=record.guideline_version,
            schema_version=record.schema_version,
            strategy=record.strategy,
            reason=record.reason,
        ),
    )


def _write_tasks(tasks: Iterable[dict[str, Any]], sink: BinaryIO) -> None:
    """Write ``tasks`` to ``sink`` as one JSON array, a task per line, in buffered chunks."""
    sink.write(b"[")
    buffer: list[bytes] = []
    first = True
    for task in tasks:
        buffer.append(json_bytes(task))
        if len(buffer) >= _FLUSH_TASKS:
            sink.write((b"\n" if first else b",\n") + b",\n".join(buffer))
            buffer.clear()
            first = False
    if buffer:
        sink.write((b"\n" if first else b",\n") + b",\n".join(buffer))
    sink.write(b"\n]\n")


def _guessed_type(value: Any) -> str | None:
    """A control type for a value without a schema: labels as choices, numbers as a rating."""
    if isinstance(value, str):
        return "choice"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "multi_choice"
    if isinstance(value, int) and not isinstance(value, bool):
        return "rating"
    return None
