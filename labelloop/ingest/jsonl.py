"""JSON Lines: one JSON object per line in, one JSON object per exported record out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import Any, BinaryIO, ClassVar

from labelloop.domain import EXPORT_COLUMNS, ExportRecord, ItemIn
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
        """Yield one ItemIn per non-blank line of ``source``."""
        for line, record in json_objects(source):
            yield self._item(line, record)


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
        columns = tuple(EXPORT_COLUMNS)
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
