"""CSV (comma-separated, header row, RFC 4180 quoting) in and out; in, also separated by
semicolons or tabs, as the header row shows."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from labelloop.domain import ANSWER_COLUMNS, EXPORT_COLUMNS, AnswerRecord, ExportRecord, ItemIn
from labelloop.errors import ControlsRefused, ImportFormatError
from labelloop.ingest.jsonl import ANSWERS_EXPORT_KEYS, answers_export_refused
from labelloop.ingest.records import (
    TextImporter,
    bounded_lines,
    decode_line,
    iso_utc,
    json_bytes,
    names_listed,
)
from labelloop.schema.project import STRUCTURED_TYPES

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema
    from labelloop.schema.project import Control

_FLUSH_ROWS = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make Excel / Sheets run a cell as a formula (OWASP CSV injection)."""
_GUARDED = re.compile("'*[" + re.escape("".join(FORMULA_STARTS)) + "]")
"""A cell the writer guards: a formula character, after any run of "'"."""
_DECISION_COLUMNS = ("decided_by", "decided_at", "annotated_value")
_SUGGESTED_COLUMNS = ("suggestion_value", "suggestion_source")
_CHANGED_COLUMNS = ("changed_at", "decided_guideline_version")
_BEHIND_COLUMNS = ("annotators", "guideline_versions")
EXPORT_HEADERS = frozenset(
    tuple(c for c in EXPORT_COLUMNS if c not in left_out)
    for left_out in (
        (),
        _BEHIND_COLUMNS,
        (*_CHANGED_COLUMNS[1:], *_BEHIND_COLUMNS),
        (*_CHANGED_COLUMNS, *_BEHIND_COLUMNS),
        (*_SUGGESTED_COLUMNS, *_CHANGED_COLUMNS, *_BEHIND_COLUMNS),
        (*_DECISION_COLUMNS, *_SUGGESTED_COLUMNS, *_CHANGED_COLUMNS, *_BEHIND_COLUMNS),
    )
)
"""Headers of labelloop CSV exports: today's, and those before ``annotators`` and
``guideline_versions``, ``decided_guideline_version``, ``changed_at``, the suggested values and
the decision columns were added, so an export written by an earlier version still reads back
unguarded."""
_TABLE_TAILS = tuple(tuple(c for c in header if c != "text") for header in EXPORT_HEADERS)
"""What follows a table export's row columns: the export columns but ``text``."""
ROW_PREFIX = "row."
"""Put in front of a row column's name in a table export where labelloop's own columns use the
name (or it starts with it already), so no column hides another and every name reads back."""
_SPOOL_BYTES = 16 * 1024**2
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
"""A cell that is a number as written ("-3.1", "+4", "1e-07"): a spreadsheet reads it as that
number, never as a formula, so a table export leaves it unguarded."""


def is_export_header(header: Sequence[str]) -> bool:
    """Whether ``header`` is a labelloop CSV export's: one of :data:`EXPORT_HEADERS`, or a
    table export's row columns followed by the other export columns."""
    return tuple(header) in EXPORT_HEADERS or table_export_width(header) is not None


def table_export_width(header: Sequence[str]) -> int | None:
    """How many row columns lead ``header`` when it is a table project's export, else None."""
    for tail in _TABLE_TAILS:
        width = len(header) - len(tail)
        if width >= 0 and tuple(header[width:]) == tail:
            return width
    return None


def row_column_header(name: str) -> str:
    """A row column's name in a table export's header (see :data:`ROW_PREFIX`)."""
    return ROW_PREFIX + name if name in EXPORT_COLUMNS or name.startswith(ROW_PREFIX) else name


def row_column_name(header: str) -> str:
    """The row column a table export's header ``header`` names (one :data:`ROW_PREFIX` off)."""
    return header[len(ROW_PREFIX) :] if header.startswith(ROW_PREFIX) else header


def guard_cell(text: str) -> str:
    """``text`` as a cell a spreadsheet shows as text: with one "'" more in front when it starts
    with a formula character after any "'"s, so :func:`unguard_cell` gives back every text."""
    return "'" + text if _GUARDED.match(text) else text


def unguard_cell(cell: str) -> str:
    """The text :func:`guard_cell` wrote as ``cell``: one "'" less in front of "'"s followed by
    a formula character; any other cell as it is."""
    return cell[1:] if cell[:1] == "'" and _GUARDED.match(cell) else cell


class CsvImporter(TextImporter):
    """Reads CSV with a header row; errors name the physical line where the record starts.

    A labelloop export (its header is one of :data:`EXPORT_HEADERS`) is read through
    :func:`unguard_cell`, so what the export guarded against formula injection comes back as it
    was exported; any other file is read as it is (a text of its own may start with "'").
    """

    format: ClassVar[str] = "csv"
    delimiter = ","
    """What separates the cells of the file read last (see :func:`delimiter_of`)."""
    spans_lines = False
    """Whether a record of the file read last spans lines (a quoted cell holding a line
    break): its records' numbers, the lines they start on, are then no row numbers."""

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per data row of ``source``; blank lines are skipped."""
        if csv.field_size_limit() <= self.max_text_chars:
            # Raise the process-wide limit only as far as needed, so a text just over our own limit
            # gets our clear message rather than the csv module's.
            csv.field_size_limit(self.max_text_chars + 1)
        lines = _decoded_lines(source)
        self.spans_lines = False
        first = next(lines, "")
        blank = [first]  # an empty file (nothing, a BOM, blank lines) holds no records, as an
        while not blank[-1].strip():  # empty JSONL file does; else line 1 is no header
            if (line := next(lines, None)) is None:
                return
            blank.append(line)
        self.delimiter = delimiter_of(first)
        reader = csv.reader(chain(blank, lines), delimiter=self.delimiter, strict=True)
        header = self._header(reader)
        width = len(header)
        exported = is_export_header(header)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFormatError(line=start, reason=_csv_reason(exc)) from None
            if not row or (len(row) == 1 and width > 1 and not row[0].strip()):
                continue
            self.spans_lines = self.spans_lines or reader.line_num > start
            if len(row) != width:
                raise ImportFormatError(line=start, reason=_width_reason(header, row))
            cells = [unguard_cell(cell) for cell in row] if exported else row
            yield self._item(start, self._record(header, cells))

    def _record(self, header: list[str], cells: list[str]) -> dict[str, Any]:
        """One data row as a record: field name -> cell."""
        return dict(zip(header, cells, strict=True))

    def _header(self, reader: Any) -> list[str]:
        """The header row, checked to hold the text column (and the id column when one is asked)."""
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise ImportFormatError(line=1, reason="empty file; expected a header row") from None
        except csv.Error as exc:
            raise ImportFormatError(line=1, reason=_csv_reason(exc)) from None
        if not any(header):
            raise ImportFormatError(line=1, reason="the first line must be a header row")
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise ImportFormatError(
                    line=1, reason=f"column {name!r} appears twice in the header"
                )
            seen.add(name)
        if seen >= ANSWERS_EXPORT_KEYS:
            raise answers_export_refused(1)
        text_column = self.text_field
        if text_column not in seen and self.fallback_field in seen:
            text_column = self.fallback_field  # a labelloop export: the content is "text"
        for field in (text_column, self.id_field, self.label_field, self.prediction_field):
            if field is not None and field not in seen:
                also = ""
                if field == text_column and self.fallback_field is not None:
                    also = f" (nor {self.fallback_field!r}, an export's column)"
                raise ImportFormatError(
                    line=1,
                    field=field,
                    reason=f"no such column{also}; {columns_are(header)}",
                )
        return header


DELIMITERS = (",", ";", "\t")
"""What separates a CSV file's cells: commas, or the semicolons a spreadsheet writes where the
decimal mark is a comma, or tabs (a .tsv file, a spreadsheet's "Text (tab delimited)")."""


def delimiter_of(header: str) -> str:
    """The delimiter of a file whose first line is ``header``: a comma, unless the header reads
    as one column by commas and as several by ';' or a tab (the most columns win)."""
    best, most = ",", 1
    for mark in DELIMITERS:
        try:
            width = len(next(csv.reader([header], delimiter=mark, strict=True), []))
        except csv.Error:  # a quoted name running on past the line: read as commas
            width = 0
        if width > most or (mark == "," and width > 1):
            best, most = mark, width
            if mark == ",":
                break  # comma-separated as it should be: nothing else is looked for
    return best


def columns_are(header: Sequence[str]) -> str:
    """The columns a header names, for an error about a column it lacks; a header of one column
    holding ';' or a tab is most likely a file separated by those, which is said."""
    said = f"columns are: {names_listed(header)}"
    if len(header) == 1:
        mark = next((m for m in (";", "\t") if m in header[0]), None)
        if mark is not None:
            shown = "a tab" if mark == "\t" else "';'"
            said += (
                f" (one column: the file looks separated by {shown}; labelloop reads CSV "
                'separated by commas: save it as such, a spreadsheet\'s "CSV (comma delimited)")'
            )
    return said


def _decoded_lines(source: BinaryIO) -> Iterator[str]:
    """Lines of ``source`` decoded one by one, so a bad byte is reported with its line number."""
    for line, raw in bounded_lines(source):
        yield decode_line(raw, line)


def _csv_reason(exc: csv.Error) -> str:
    """The csv module's complaint in words a user can act on."""
    message = str(exc)
    if "unexpected end of data" in message:
        return "not valid CSV: a quoted field starting here is never closed"
    if "field larger than field limit" in message:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"not valid CSV: {message}"


def refusal(control: Control) -> ControlsRefused:
    """CSV's refusal of a spans or boxes control, which does not fit a cell."""
    return ControlsRefused(f"CSV cannot hold the {control.type} of control '{control.name}'")


class CsvExporter:
    """Writes a header of the export columns and one row per record, safe to open in a spreadsheet.

    A multi_choice label is joined with "|", the annotators behind a label and their guideline
    versions are JSON arrays, metadata and the value of every control (and the
    annotator's own value, when a review changed it, and the suggested values with their
    sources, when any were offered; else empty cells) are JSON objects,
    timestamps are ISO 8601 UTC, and text cells starting with =, +, -, @, tab or CR (after any
    "'"s) get a leading "'" so spreadsheets do not run them as formulas; the importer takes it
    off again (:func:`guard_cell`). Spans and boxes do not fit a cell: a project with
    them is refused, naming the formats that hold them
    (:func:`labelloop.ingest.formats.make_exporter`).

    A table project's rows are written as columns, not as one ``text`` cell: the rows' columns
    in the order first seen (every column of every row; a row without one has an empty cell),
    then the export columns but ``text``. A row column named like one of those, or starting
    with "row.", is headed with "row." in front. Cells are written as they are held: numbers
    as numbers, true/false as ``true``/``false``, empty as empty, text guarded as above unless
    it is a number as written (``-3.1`` stays as it is).
    """

    format: ClassVar[str] = "csv"

    def __init__(self, *, schema: ProjectSchema | None = None) -> None:
        self.table = schema is not None and schema.data_type == "table"
        structured = [c for c in schema.controls if c.type in STRUCTURED_TYPES] if schema else []
        if structured:
            raise refusal(structured[0])

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as UTF-8 CSV, in buffered chunks."""
        self._write(records, sink, EXPORT_COLUMNS)

    def write_answers(self, records: Iterable[AnswerRecord], sink: BinaryIO) -> None:
        """Write one row per answer under the answer columns, cells as :meth:`write` writes
        them (``gold`` and ``agrees`` as ``true``/``false``, empty when not known)."""
        self._write(records, sink, ANSWER_COLUMNS)

    def _write(self, records: Iterable[Any], sink: BinaryIO, columns: Sequence[str]) -> None:
        if self.table:
            _write_rows(records, sink, columns)
            return
        columns = tuple(columns)
        values = attrgetter(*columns)
        converters = [_CONVERTERS.get(column, _cell) for column in columns]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for count, record in enumerate(records, 1):
            writer.writerow(
                [convert(value) for convert, value in zip(converters, values(record), strict=True)]
            )
            if count % _FLUSH_ROWS == 0:
                sink.write(buffer.getvalue().encode("utf-8"))
                buffer.seek(0)
                buffer.truncate()
        sink.write(buffer.getvalue().encode("utf-8"))


def _write_rows(records: Iterable[Any], sink: BinaryIO, own_columns: Sequence[str]) -> None:
    """A table project's export (see :class:`CsvExporter`) of records with ``own_columns``. The
    header needs every row's columns, so the rows are first written to a spool (in memory up to
    16 MiB, then a temporary file), each with the row columns known by then; rows written
    before a column was first seen get its empty cell when the spool is copied out."""
    tail = tuple(c for c in own_columns if c != "text")
    values = attrgetter(*tail)
    converters = [_CONVERTERS.get(column, _cell) for column in tail]
    columns: dict[str, int] = {}
    widths: list[tuple[int, int]] = []  # (first record, row columns it was written with)
    longest = 0
    with tempfile.SpooledTemporaryFile(_SPOOL_BYTES, mode="w+", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        for count, record in enumerate(records):
            row = record.text if isinstance(record.text, Mapping) else {}
            for name in row:
                columns.setdefault(name, len(columns))
            if not widths or widths[-1][1] != len(columns):
                widths.append((count, len(columns)))
            cells: list[Any] = [None] * len(columns)
            for name, value in row.items():
                cells[columns[name]] = cell = _row_cell(value)
                if type(cell) is str and len(cell) > longest:
                    longest = len(cell)
            own = [
                convert(value) for convert, value in zip(converters, values(record), strict=True)
            ]
            longest = max(longest, *(len(c) for c in own if type(c) is str), 0)
            writer.writerow(cells + own)
        header = [row_column_header(name) for name in columns] + list(tail)
        sink.write(_csv_line(header).encode("utf-8"))
        f.seek(0)
        if len(widths) <= 1:  # every row has every column: the spool is the body as it is
            while chunk := f.read(1024**2):
                sink.write(chunk.encode("utf-8"))
            return
        _copy_widened(f, sink, widths, len(columns), longest)


def _copy_widened(
    spool: Any, sink: BinaryIO, widths: list[tuple[int, int]], width: int, longest: int
) -> None:
    """The spooled rows with the empty cells of the columns first seen after them."""
    if csv.field_size_limit() <= longest:
        csv.field_size_limit(longest + 1)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    steps = iter([*widths[1:], (-1, width)])
    had, (until, then) = widths[0][1], next(steps)
    for count, cells in enumerate(csv.reader(spool, strict=True)):
        if count == until:
            had, (until, then) = then, next(steps, (-1, width))
        writer.writerow(cells[:had] + [""] * (width - had) + cells[had:])
        if count % _FLUSH_ROWS == 0:
            sink.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    sink.write(buffer.getvalue().encode("utf-8"))


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


def _row_cell(value: Any) -> Any:
    """A table row's cell as it was imported: a number, ``true``/``false``, empty, or text
    guarded against formula injection unless it is a number as written."""
    if value is None or type(value) in (int, float):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if _NUMBER.fullmatch(value) else guard_cell(value)
    return _json(value)


_PLAIN = frozenset({type(None), int, float, bool})  # written as they are, most cells of a row


def _cell(value: Any) -> Any:
    """One cell: strings guarded against formula injection, timestamps as ISO, the rest as is."""
    kind = type(value)
    if kind is str:
        return guard_cell(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, str):
        return _cell(str(value))  # str subclasses such as StrEnum members
    return value


def _label(value: Any) -> Any:
    """A label cell: a choice as its name, a multi_choice list joined with "|"."""
    if isinstance(value, list | tuple):
        value = "|".join(str(item) for item in value)
    return _cell(value)


def _json(value: Any) -> str:
    return json_bytes(value).decode("utf-8")


def _metadata(value: Any) -> str:
    """Metadata as one JSON object per cell (starts with "{", so no formula guard is needed)."""
    return _json(value or {})


def _optional_json(value: Any) -> str | None:
    """A JSON object cell, or an empty cell for None (so "no value" is not read as ``{}``)."""
    return None if value is None else _json(value)


def _content(value: Any) -> Any:
    """The item's content: a text or path as a guarded cell, a table row as a JSON object."""
    return _json(value) if isinstance(value, Mapping) else _cell(value)


def _truth(value: bool | None) -> str | None:
    """A yes/no cell as JSON writes it (``true``/``false``), empty when not known."""
    return None if value is None else ("true" if value else "false")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "label": _label,
    "answer": _label,
    "gold_label": _label,
    "fixed_value": _optional_json,
    "gold": _truth,
    "agrees": _truth,
    "text": _content,
    "metadata": _metadata,
    "value": _metadata,
    "annotated_value": _optional_json,
    "suggestion_value": _optional_json,
    "suggestion_source": _optional_json,
    "annotators": _json,
    "guideline_versions": _json,
}


def _width_reason(header: list[str], row: list[str]) -> str:
    """Why a row of another width than the header is refused; a short row names the header's
    fields it has no cells for (its last ones: a record cut short, or a missing separator)."""
    said = f"expected {len(header)} columns as in the header, got {len(row)}"
    if len(row) >= len(header):
        return said
    return f"{said}: no cell for {', '.join(repr(name) for name in header[len(row) :])}"
