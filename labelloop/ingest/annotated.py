"""JSON Lines of labeled texts from other labeling tools (doccano, Prodigy): what their
importers and exporters share.

In: each line is one record, read by :func:`~labelloop.ingest.jsonl.json_objects` with all its
checks. Its content is the first of its content fields present; its label is the project's
target control's value and, with a schema, is checked against that control here, so an error
names the line and the record's own field (``label``, ``accept``, ``spans``).

Out: one JSON object per labeled item, holding the target control's value; without a schema
the value's shape says which kind of control it came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from labelloop.domain import ExportRecord, ItemIn
from labelloop.errors import ImportFormatError, LabelloopError, SchemaError
from labelloop.ingest.jsonl import json_objects, write_json_lines
from labelloop.ingest.records import (
    MAX_TEXT_CHARS,
    TextImporter,
    checked_metadata,
    fields_are,
    id_as_written,
)
from labelloop.kinds import kind
from labelloop.schema import label_value

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema
    from labelloop.schema.project import Control

DATA_TYPES = ("text", "html")
"""The data types doccano and Prodigy files hold."""


def refuse_data_type(tool: str, schema: ProjectSchema | None) -> None:
    """Refuse a project whose items a ``tool`` file cannot hold (images, audio, table rows)."""
    if schema is not None and schema.data_type not in DATA_TYPES:
        raise LabelloopError(
            f"a {tool} file holds text and HTML items; project items are {schema.data_type} "
            "(use jsonl or label_studio instead)"
        )


class AnnotatedImporter(TextImporter):
    """Base of the importers of other tools' JSON Lines; subclasses read one record's label."""

    format: ClassVar[str]
    tool: ClassVar[str]
    """The tool's name, as errors say it."""
    html_keys: ClassVar[tuple[str, ...]] = ()
    """Fields that hold an HTML item's markup, read before the text field in an HTML project."""
    labels_in: ClassVar[str | None] = None
    """Where the tool's records hold their labels, when no label field can name another."""

    def __init__(
        self,
        *,
        schema: ProjectSchema | None = None,
        text_field: str = "text",
        id_field: str | None = None,
        label_field: str | None = None,
        prediction_field: str | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> None:
        super().__init__(
            text_field=text_field,
            id_field=id_field,
            label_field=label_field,
            prediction_field=prediction_field,
            max_text_chars=max_text_chars,
        )
        self.schema = schema
        self.counts: Counter[str] = Counter()  # what notes() reports, counted as records go
        refuse_data_type(self.tool, schema)
        if prediction_field is not None:
            raise LabelloopError(
                f"a {self.tool} file holds no pre-annotations; leave out the predictions field"
            )
        if label_field is not None and self.labels_in is not None:
            raise LabelloopError(
                f"a {self.tool} file holds its labels in {self.labels_in}; "
                "leave out the label field"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(text_field={self.text_field!r}, id_field={self.id_field!r}, "
            f"label_field={self.label_field!r})"
        )

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per non-blank line of ``source``."""
        self.counts.clear()  # a read counts its own file
        for line, record in json_objects(source):
            yield self._record(line, record)

    def notes(self) -> list[str]:
        """Sentences on what the file held that did not become labels (after ``read``)."""
        return []

    def _record(self, line: int, record: Mapping[str, Any]) -> ItemIn:
        """One record as an item; its label in the target control's shape."""
        raise NotImplementedError

    @staticmethod
    def _made(
        line: int, text: str, external_id: str | None, label: Any, metadata: dict[str, Any]
    ) -> ItemIn:
        """The item a record makes, its metadata checked as every importer's is."""
        return ItemIn(
            line=line,
            payload={"text": text},
            external_id=external_id,
            label=label,
            metadata=checked_metadata(line, metadata),
        )

    def _content_keys(self) -> tuple[str, ...]:
        html = self.schema is not None and self.schema.data_type == "html"
        return tuple(dict.fromkeys((*(self.html_keys if html else ()), self.text_field, "text")))

    def _content(self, line: int, record: Mapping[str, Any]) -> tuple[str, str]:
        """The field holding the record's content and the content, checked."""
        keys = self._content_keys()
        for key in keys:
            if key in record:
                return key, self._checked_text(line, key, record[key])
        fields = " or ".join(repr(k) for k in keys)
        raise ImportFormatError(
            line=line,
            field=keys[0],
            reason=f"missing; a {self.tool} record holds its text in {fields}; "
            f"{fields_are(record)}",
        )

    @property
    def _target(self) -> Control | None:
        return self.schema.target if self.schema is not None else None

    def _names(self, line: int, field: str, names: Sequence[str], *, answered: bool = False) -> Any:
        """Label names for the target: a choice control takes exactly one, a multi_choice
        control all of them. None is unlabeled, unless ``answered`` says someone chose none
        (a multi_choice control then holds "none of these")."""
        target = self._target
        if not names and not (answered and target is not None and target.type == "multi_choice"):
            return None
        if target is not None and target.type not in ("choice", "multi_choice"):
            raise self._wrong_kind(line, field, "labels for the whole text", target)
        if target is None:  # unchecked: one name as a choice holds it, several as a list
            return names[0] if len(names) == 1 else list(names)
        if target.type == "multi_choice":
            return self._checked(line, field, list(names))
        if len(names) > 1:
            shown = ", ".join(repr(str(n)[:50]) for n in names[:5])
            raise ImportFormatError(
                line=line,
                field=field,
                reason=f"{len(names)} labels ({shown}) for '{target.name}', "
                "a choice control that takes one",
            )
        return self._checked(line, field, names[0])

    def _spans(self, line: int, field: str, spans: list[dict[str, Any]], text: str) -> Any:
        """Character-offset spans for the target, checked against the text when a schema
        says which labels there are (in range, not overlapping unless allowed)."""
        target = self._target
        if target is not None and target.type != "spans":
            raise self._wrong_kind(line, field, "spans", target)
        return self._checked(line, field, spans, {"text": text})

    def _checked(
        self, line: int, field: str, raw: Any, payload: Mapping[str, Any] | None = None
    ) -> Any:
        target = self._target
        if target is None:
            return raw
        try:
            return label_value(target, raw, payload)
        except SchemaError as exc:
            raise ImportFormatError(line=line, field=field, reason=exc.message) from None

    @staticmethod
    def _wrong_kind(line: int, field: str, what: str, target: Control) -> ImportFormatError:
        return ImportFormatError(
            line=line,
            field=field,
            reason=f"holds {what}, but the project's target '{target.name}' is a "
            f"{target.type} control",
        )


def region(line: int, field: str, raw: Any, keys: tuple[str, str, str]) -> dict[str, Any]:
    """One span given as an object with its start, end and label under ``keys``, as a
    labelloop span (checked later against the control)."""
    if not isinstance(raw, Mapping):
        raise ImportFormatError(
            line=line,
            field=field,
            reason=f"must be an object with {', '.join(keys)}, got {kind(raw)}",
        )
    return {"start": raw.get(keys[0]), "end": raw.get(keys[1]), "label": raw.get(keys[2])}


def label_name(line: int, field: str, raw: Any) -> str:
    """A label name as text; numbers are taken (files often name classes 0 and 1)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise ImportFormatError(line=line, field=field, reason=f"must be a label name, got {kind(raw)}")


class AnnotatedExporter:
    """Base of the exporters of other tools' JSON Lines: one object per labeled item."""

    format: ClassVar[str]
    tool: ClassVar[str]

    def __init__(self, *, schema: ProjectSchema | None = None) -> None:
        refuse_data_type(self.tool, schema)
        self.schema = schema

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as UTF-8 JSON Lines, one object per record."""
        write_json_lines((self._object(r) for r in records), sink)

    def _object(self, record: ExportRecord) -> dict[str, Any]:
        raise NotImplementedError

    def _target(self, record: ExportRecord) -> tuple[str | None, tuple[str, ...]]:
        """The target control's type and labels (without a schema: guessed from the value,
        and the labels it holds)."""
        if self.schema is not None:
            target = self.schema.target
            return target.type, target.labels
        value = record.label
        if isinstance(value, str):
            return "choice", (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "multi_choice", tuple(value)
        if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
            return "spans", ()
        return None, ()


def tool_id(record: ExportRecord) -> str | int:
    """An item's id as doccano and Prodigy users have ids: its external id, else labelloop's
    item id."""
    if record.external_id is None:
        return record.item_id
    return id_as_written(record.external_id)


def spans_of(value: Any) -> list[dict[str, Any]]:
    """A spans value's spans as start, end and label (an export's spans carry their text)."""
    return [{"start": s["start"], "end": s["end"], "label": s["label"]} for s in value or ()]
