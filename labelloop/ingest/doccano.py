"""doccano's JSONL in and out (doccano 1.x export and import), so a doccano team brings its
projects over and sends labels back (format: doccano.github.io/doccano/tutorial).

In: one example per line. ``text`` is the item, ``id`` (doccano's example id) its id, the
label the project's target control's value: a text classification ``label`` (a list of label
names; older exports say ``labels``), a sequence labeling ``label`` (``[start, end, label]``
triples) or a relation-mode export's ``entities`` (``start_offset`` / ``end_offset``), end
exclusive. doccano's editor counts offsets in UTF-16 code units, as JavaScript does (an emoji
counts two), labelloop in characters: they are converted both ways. An empty list is
unlabeled: doccano writes one for every example no one labeled. ``relations`` are dropped
(labelloop has no relations); every other field (``Comments``, the example's metadata) is the
item's metadata.

Out: one example per labeled item: ``id`` (its external id, else labelloop's item id), ``text``,
``label`` (label names for a choice or multi_choice target, triples for spans), the item's
metadata and the label's provenance (:func:`~labelloop.ingest.provenance.label_provenance`:
``annotator``, ``annotated_at``, ``guideline_version``, ``schema_version``, ``strategy``,
``reason``, and every annotator behind the label with their versions, ``annotators`` and
``guideline_versions``, and each one's answer with why it was served to them, ``answers``: a
doccano file has no field of its own for several annotators, whose labels doccano exports a file
per user) as further fields, which doccano keeps as the example's metadata; a metadata field
named like one of doccano's three goes under ``meta``, and provenance the item's metadata
already names goes under ``labelloop``. Read back, those fields are the item's metadata, as any
other field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from labelloop.domain import ExportRecord, ItemIn
from labelloop.errors import ImportFormatError
from labelloop.ingest.annotated import (
    AnnotatedExporter,
    AnnotatedImporter,
    label_name,
    region,
    spans_of,
    tool_id,
)
from labelloop.ingest.provenance import label_provenance, with_provenance
from labelloop.ingest.records import ABSENT
from labelloop.ingest.utf16 import from_utf16, to_utf16
from labelloop.kinds import kind

LABEL_KEYS = ("label", "labels", "entities")
"""Where a doccano example holds its label, by the kind of project that wrote it."""
_DROPPED = frozenset({"relations"})
_RESERVED = ("id", "text", "label")


class DoccanoImporter(AnnotatedImporter):
    """Reads doccano JSONL; with ``schema`` labels go to its target control and are checked
    there. The id is read from ``id`` unless ``id_field`` names another field."""

    format: ClassVar[str] = "doccano"
    tool: ClassVar[str] = "doccano"

    def _record(self, line: int, record: Mapping[str, Any]) -> ItemIn:
        field, text = self._content(line, record)
        id_key = self.id_field or "id"
        external_id = None
        if self.id_field is not None or record.get(id_key) is not None:  # doccano's is optional
            external_id = self._external_id(line, record.get(id_key, ABSENT), field=id_key)
        label_key = self.label_field or next((k for k in LABEL_KEYS if k in record), None)
        label = None
        if label_key is not None and record.get(label_key) is not None:
            label = self._label(line, label_key, record[label_key], text)
        if isinstance(record.get("relations"), list):
            self.counts["relations"] += len(record["relations"])
        skip = {field, id_key, label_key, *_DROPPED}
        metadata = {k: v for k, v in record.items() if k not in skip}
        return self._made(line, text, external_id, label, metadata)

    def notes(self) -> list[str]:
        n = self.counts["relations"]
        if not n:
            return []
        were = "relation was" if n == 1 else "relations were"
        return [f"{n:,} {were} left out: labelloop has no relations"]

    def _label(self, line: int, key: str, raw: Any, text: str) -> Any:
        """An example's label for the target: label names, or spans as triples or entities."""
        if isinstance(raw, str):
            raw = [raw]  # a single label written as text
        if not isinstance(raw, list):
            raise ImportFormatError(
                line=line, field=key, reason=f"must be a list of labels or spans, got {kind(raw)}"
            )
        if not raw:
            return None
        if all(isinstance(r, list | Mapping) for r in raw):
            spans = [
                _characters(line, f"{key}[{i}]", self._region(line, f"{key}[{i}]", r), text)
                for i, r in enumerate(raw)
            ]
            return self._spans(line, key, spans, text)
        names = [label_name(line, f"{key}[{i}]", r) for i, r in enumerate(raw)]
        return self._names(line, key, names)

    @staticmethod
    def _region(line: int, field: str, raw: Any) -> dict[str, Any]:
        if isinstance(raw, Mapping):
            return region(line, field, raw, ("start_offset", "end_offset", "label"))
        if len(raw) != 3:
            raise ImportFormatError(
                line=line, field=field, reason=f"must be [start, end, label], got {len(raw)} values"
            )
        return {"start": raw[0], "end": raw[1], "label": raw[2]}


def _characters(line: int, field: str, span: dict[str, Any], text: str) -> dict[str, Any]:
    """A span read from doccano with its offsets in characters (doccano's are UTF-16 units);
    an offset that is no whole number or lies past the text is left for the control's check
    to name."""
    out = dict(span)
    for key in ("start", "end"):
        offset = span[key]
        if not isinstance(offset, int) or isinstance(offset, bool):
            continue
        index = from_utf16(text, offset)
        if index is not None:
            out[key] = index
        elif 0 < offset < to_utf16(text, len(text)):
            raise ImportFormatError(
                line=line,
                field=field,
                reason=f"{key} {offset} falls inside a character (half of an emoji): doccano "
                "counts offsets in UTF-16 code units, where such a character counts two",
            )
    return out


class DoccanoExporter(AnnotatedExporter):
    """Writes labeled items as doccano JSONL, for doccano's import of a text classification
    or sequence labeling project."""

    format: ClassVar[str] = "doccano"
    tool: ClassVar[str] = "doccano"

    def _object(self, record: ExportRecord) -> dict[str, Any]:
        example: dict[str, Any] = {
            "id": tool_id(record),
            "text": record.text if isinstance(record.text, str) else "",
        }
        type, _ = self._target(record)
        if type == "choice":
            example["label"] = [record.label]
        elif type == "multi_choice":
            example["label"] = list(record.label or ())
        elif type == "spans":
            example["label"] = [
                [
                    to_utf16(example["text"], s["start"]),
                    to_utf16(example["text"], s["end"]),
                    s["label"],
                ]
                for s in spans_of(record.label)
            ]
        clashing = {k: v for k, v in record.metadata.items() if k in (*_RESERVED, "meta")}
        rest = {k: v for k, v in record.metadata.items() if k not in clashing}
        example |= with_provenance(rest, label_provenance(record))
        if clashing:
            example["meta"] = clashing
        return example
