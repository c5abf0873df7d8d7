"""JSON Lines: one JSON object per line in, one JSON object per exported record out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import Any, BinaryIO, ClassVar

from labelloop.domain import ANSWER_COLUMNS, EXPORT_COLUMNS, AnswerRecord, ExportRecord, ItemIn
from labelloop.errors import ImportFormatError
from labelloop.ingest.records import (
    TextImporter,
    bounded_lines,
    decode_line,
    json_bytes,
    json_trouble,
    kind,
)

_FLUSH_LINES = 2000


class _ConstantError(ValueError):
    """NaN or Infinity in a record: valid for Python's json, not for JSON or for export."""


def _reject_constant(name: str) -> Any:
    """json.loads hook that refuses NaN, Infinity and -Infinity."""
    raise _ConstantError(name)


class JsonlImporter(TextImporter):
    """Reads JSON Lines (.jsonl / .ndjson); blank lines are skipped, errors name the line."""

    format: ClassVar[str] = "jsonl"

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per non-blank line of ``source``. A file another tool wrote in
        its own JSON Lines (a Prodigy or doccano export) is refused at its first record,
        naming the format that reads it: read as labelloop's own, its answers would be lost
        among the metadata and the import would seem to succeed."""
        first = True
        for line, record in json_objects(source):
            if first:
                _not_a_tools_own(line, record)
                first = False
            yield self._item(line, record)
        self.check_fields_found()


_TOOLS = {"prodigy": "Prodigy", "doccano": "doccano"}


ANSWERS_EXPORT_KEYS = frozenset({"answer_id", "answered_at", "agrees"})
"""Columns only an answers export (``labelloop export --annotations``) writes together."""


def answers_export_refused(line: int) -> ImportFormatError:
    """Why an answers export does not import: it holds each item once per answer, and which
    answer is the label is the project's rules' to say, not the file's first row's."""
    return ImportFormatError(
        line=line,
        reason="this is a labelloop answers export (export --annotations, one row per answer), "
        "which holds each item once per answer; import the labels export (export without "
        "--annotations), or a Label Studio export with --annotations to bring each "
        "annotator's answer",
    )


def _not_a_tools_own(line: int, record: Mapping[str, Any]) -> None:
    if record.keys() >= ANSWERS_EXPORT_KEYS:
        raise answers_export_refused(line)
    tool = None
    if "_input_hash" in record and "_task_hash" in record:
        tool, why = "prodigy", "its _input_hash and _task_hash"
    elif isinstance(entities := record.get("entities"), list) and any(
        isinstance(e, Mapping) and "start_offset" in e for e in entities
    ):
        tool, why = "doccano", "its entities with start_offset"
    if tool is not None:
        raise ImportFormatError(
            line=line,
            reason=f"this is a {_TOOLS[tool]} export ({why}); import it with --format {tool} "
            f"(the API and the project page: format {tool}) so its labels come in",
        )


def json_objects(source: BinaryIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line of ``source`` as a JSON object with its 1-based line number; every
    format written as JSON Lines (doccano, Prodigy) reads through here, so each refuses the
    same things naming the line: a line too long, bad UTF-8, bad JSON, NaN, nesting or numbers
    Python cannot read, and a line that is not an object."""
    for line, raw in bounded_lines(source):
        text = decode_line(raw, line).rstrip("\r\n")  # so error columns stay on this line
        if not text.strip():
            continue
        try:
            record = json.loads(text, parse_constant=_reject_constant)
        except _ConstantError as exc:
            raise ImportFormatError(
                line=line, reason=f"not valid JSON: {exc} is not allowed"
            ) from None
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                line=line, reason=f"not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        except (RecursionError, ValueError) as exc:
            raise ImportFormatError(
                line=line, reason=f"not valid JSON: {json_trouble(exc)}"
            ) from None
        if not isinstance(record, dict):
            raise ImportFormatError(
                line=line, reason=f"expected a JSON object, got {_python_kind(record)}"
            )
        yield line, record


def _python_kind(value: Any) -> str:
    """Type name for a non-object JSON line; lists are called lists, as users see them in Python."""
    return "list" if isinstance(value, list) else kind(value)


class JsonlExporter:
    """Writes one compact JSON object per record with every export column; metadata stays nested."""

    format: ClassVar[str] = "jsonl"

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as UTF-8 JSON Lines, in buffered chunks."""
        _write_columns(records, sink, EXPORT_COLUMNS)

    def write_answers(self, records: Iterable[AnswerRecord], sink: BinaryIO) -> None:
        """Write one line per answer, with every answer column, as :meth:`write` does."""
        _write_columns(records, sink, ANSWER_COLUMNS)


def _write_columns(records: Iterable[Any], sink: BinaryIO, columns: Sequence[str]) -> None:
    """Each record as one JSON object of its ``columns``, in their order."""
    values = attrgetter(*columns)
    write_json_lines((dict(zip(columns, values(r), strict=True)) for r in records), sink)


def write_json_lines(objects: Iterable[Any], sink: BinaryIO) -> None:
    """Write each of ``objects`` to ``sink`` as one line of compact UTF-8 JSON, in buffered
    chunks, pulling them one at a time (every JSON Lines exporter writes through here)."""
    buffer: list[bytes] = []
    for value in objects:
        buffer.append(json_bytes(value))
        if len(buffer) >= _FLUSH_LINES:
            sink.write(b"\n".join(buffer) + b"\n")
            buffer.clear()
    if buffer:
        sink.write(b"\n".join(buffer) + b"\n")
