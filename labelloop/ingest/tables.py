"""Table rows: CSV, JSON Lines and Parquet records in, payloads ``{"row": {column: value}}`` out.

A table project shows and learns from the fields of each row. ``columns`` (the schema's
``data.columns``) picks the fields that form the row, in order; the other fields (except the id
and the label) are kept as metadata. Without ``columns`` every other field is part of the row.
Cells are kept as they come (CSV cells stay text, so "007" keeps its zeros); an empty cell or a
NaN is ``None``. Errors name the line (CSV, JSONL) or the row number (Parquet) and the field.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO, ClassVar

from labelloop.domain import ItemIn
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest.columnar import batch_records, parquet_batches, text_columns
from labelloop.ingest.csv import (
    CsvImporter,
    columns_are,
    row_column_name,
    table_export_width,
)
from labelloop.ingest.jsonl import JsonlImporter
from labelloop.ingest.records import (
    MAX_TEXT_CHARS,
    NOT_SCALAR,
    RowsNamed,
    TextImporter,
    checked_metadata,
    fields_are,
    in_rows,
    json_scalar,
)
from labelloop.kinds import as_number, kind

_ABSENT = object()
NESTED_ROW_FIELDS = ("row", "text")
"""Fields that may hold a whole row as one object (labelloop's own exports write it as "text"),
so an export imports back into a table project."""
PARQUET_HINT = "pip install 'labelloop[tables]' (pyarrow)"


class _TableRecords(TextImporter):
    """What the three table readers share: their options and turning one record into a row."""

    def __init__(
        self,
        *,
        columns: Sequence[str] = (),
        id_field: str | None = None,
        label_field: str | None = None,
        prediction_field: str | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> None:
        super().__init__(
            text_field="",
            id_field=id_field,
            label_field=label_field,
            prediction_field=prediction_field,
            max_text_chars=max_text_chars,
        )
        self.text_field = None  # type: ignore[assignment]  # rows have no text field to check
        self.columns = tuple(columns)
        self._exported = False  # a table export's CSV: its row is nested under "row"
        self._numbers: Counter[str] = Counter()
        self._words: dict[str, tuple[int, int, str]] = {}  # column -> (count, first line, cell)

    def _item(self, line: int, record: Mapping[str, Any]) -> ItemIn:
        """One record as an ItemIn: id and label split off, the row picked, the rest metadata."""
        external_id, label, prediction = self._id_label_prediction(line, record)
        skip = {self.id_field, self.label_field, self.prediction_field}
        source, nested_in = self._source(record)
        if nested_in is not None:
            skip.add(nested_in)
        # A nested row is the row whole: its own "label" column is no label field.
        apart = () if nested_in is not None else skip
        names = self.columns or tuple(str(k) for k in source if k not in apart)
        row: dict[str, Any] = {}
        for name in names:
            value = source.get(name, _ABSENT)
            if value is _ABSENT:
                where = f" (in its {nested_in!r})" if nested_in is not None else ""
                raise ImportFormatError(
                    line=line, field=name, reason=f"missing{where}; {fields_are(source)}"
                )
            row[name] = self._cell(line, name, value)
            self._tally(line, name, row[name])
        if not row:
            raise ImportFormatError(
                line=line, reason="no fields besides the id and the label to show or learn from"
            )
        if all(v is None for v in row.values()):
            raise ImportFormatError(line=line, reason="every field of the row is empty")
        shown = skip if nested_in is not None else set(names) | skip
        metadata = checked_metadata(line, {k: v for k, v in record.items() if k not in shown})
        return ItemIn(
            line=line,
            payload={"row": row},
            external_id=external_id,
            label=label,
            metadata=metadata,
            prediction=prediction,
        )

    @staticmethod
    def _blank_label(label: Any) -> bool:
        return _blank(label)  # a NaN cell (Parquet, pandas) is as empty as a blank one

    def _source(self, record: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
        """Where the row's fields are: the record itself, or an object nested in ``row`` or
        ``text`` (a JSON object, or JSON text in a CSV cell) when the columns are not on top."""
        if self._exported:
            return record["row"], "row"
        if self.columns and all(c in record for c in self.columns):
            return record, None
        for key in NESTED_ROW_FIELDS:
            value = record.get(key)
            if isinstance(value, str) and value.lstrip().startswith("{"):
                try:
                    value = json.loads(value)
                except (RecursionError, ValueError):  # not JSON: a text like any other
                    continue
            if isinstance(value, Mapping):
                return value, key
        return record, None

    def _cell(self, line: int, name: str, value: Any) -> Any:
        """A cell as a JSON scalar: text, number, true/false or None (empty)."""
        scalar = json_scalar(value)
        if scalar is not NOT_SCALAR:
            return scalar
        if isinstance(value, str):
            if not value.strip():
                return None
            if len(value) > self.max_text_chars:
                raise ImportFormatError(
                    line=line,
                    field=name,
                    reason=f"{len(value):,} characters; the limit is {self.max_text_chars:,}",
                )
            return value
        raise ImportFormatError(
            line=line,
            field=name,
            reason=f"must be text, a number, true/false or empty; got {kind(value)}",
        )

    def _tally(self, line: int, name: str, cell: Any) -> None:
        """Count a filled cell as a number or not, for :meth:`notes`."""
        if cell is None:
            return
        if as_number(cell) is not None:
            self._numbers[name] += 1
        else:
            count, first, text = self._words.get(name, (0, line, str(cell)))
            self._words[name] = (count + 1, first, text)

    def notes(self) -> list[str]:
        """The columns of numbers holding a few cells that are not: the table featurizer reads
        such a column as categories, which loses what its numbers say."""
        said = []
        for name, (count, line, text) in self._words.items():
            if self._numbers[name] <= count:  # mostly words: a column of categories
                continue
            cells, them = (
                ("1 cell that is", "it") if count == 1 else (f"{count:,} cells that are", "them")
            )
            shown = text if len(text) <= 40 else text[:39] + "…"
            said.append(
                f"column '{name}' holds numbers but {cells} not ({self.unit} {line}: "
                f"'{shown}'), so the model reads it as categories, not as numbers: correct or "
                f"empty {them}, undo this import and import the file again"
            )
        return said

    def _check_names(self, line: int, names: Sequence[str], *, unit: str | None = "line") -> None:
        """The file's fields hold every asked-for column (or a nested row) and the label field
        (an error names ``line`` counting ``unit``; None: a file of no lines, Parquet)."""
        have = set(names)
        nested = any(field in have for field in NESTED_ROW_FIELDS)
        for name in (*(() if nested else self.columns), self.label_field):
            if name is not None and name not in have:
                raise ImportFormatError(
                    line=line, unit=unit, field=name, reason=f"no such column; {columns_are(names)}"
                )


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return True
    return isinstance(value, str) and not value.strip()


DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+")
"""A number written with a decimal comma ("3,5"), as a spreadsheet writes it where the comma is
the decimal mark, and then separates its cells by semicolons (pandas' ``decimal=","``)."""


class CsvTableImporter(_TableRecords, CsvImporter):
    """CSV with a header row; each data row becomes one table item.

    A table project's CSV export (its row columns, then labelloop's export columns) reads back
    as it was written: the leading columns are the row (a "row." put in front of a name taken
    off again), labelloop's columns are read as the fields of any other file. In a file
    separated by semicolons a cell such as "3,5" is the number 3.5, and the notes say so.
    """

    format: ClassVar[str] = "csv"

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per data row of ``source`` (see the class)."""
        self._commas: dict[str, tuple[int, int, str]] = {}  # column -> (count, first line, cell)
        return super().read(source)

    def _cell(self, line: int, name: str, value: Any) -> Any:
        if self.delimiter == ";" and isinstance(value, str):
            written = value.strip()
            if DECIMAL_COMMA.fullmatch(written):
                count, first, text = self._commas.get(name, (0, line, written))
                self._commas[name] = (count + 1, first, text)
                return float(written.replace(",", "."))
        return super()._cell(line, name, value)

    def notes(self) -> list[str]:
        """The columns whose decimal commas were read as numbers, and those of
        :meth:`_TableRecords.notes`."""
        said = []
        for name, (count, line, text) in getattr(self, "_commas", {}).items():
            commas = "1 decimal comma was" if count == 1 else f"{count:,} decimal commas were"
            said.append(
                f"column '{name}': {commas} read as numbers (line {line}: '{text[:40]}' as "
                f"{float(text.replace(',', '.')):g}), as the file is separated by semicolons"
            )
        return said + super().notes()

    def _header(self, reader: Any) -> list[str]:
        header = super()._header(reader)
        self._width = table_export_width(header)
        self._exported = self._width is not None
        if self._width is None:
            self._check_names(1, header)
            return header
        self._row_names = [row_column_name(name) for name in header[: self._width]]
        self._check_names(1, [*self._row_names, *header[self._width :]])
        return header

    def _record(self, header: list[str], cells: list[str]) -> dict[str, Any]:
        if self._width is None:
            return super()._record(header, cells)
        width = self._width
        record: dict[str, Any] = dict(zip(header[width:], cells[width:], strict=True))
        record["row"] = dict(zip(self._row_names, cells[:width], strict=True))
        return record


class JsonlTableImporter(_TableRecords, JsonlImporter):
    """JSON Lines; each object becomes one table item (nested values are refused)."""

    format: ClassVar[str] = "jsonl"


class ParquetTableImporter(RowsNamed, _TableRecords):
    """Parquet files (needs pyarrow); read in batches, errors name the 1-based row number."""

    format: ClassVar[str] = "parquet"

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per row of the Parquet file ``source``."""
        file = open_parquet(source)
        names = list(file.schema_arrow.names)
        self._check_names(1, names, unit=None)
        for field in (self.id_field,):
            if field is not None and field not in names:
                raise ImportFormatError(
                    line=1, unit=None, field=field, reason=f"no such column; {columns_are(names)}"
                )
        yield from in_rows(self._item(number, record) for number, record in parquet_records(file))


def open_parquet(source: BinaryIO) -> Any:
    """``source`` as pyarrow's ``ParquetFile``; a clear error without pyarrow, or when the bytes
    are no Parquet file."""
    if importlib.util.find_spec("pyarrow") is None:
        raise LabelloopError(f"reading Parquet needs pyarrow: {PARQUET_HINT}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(source)
        texts = text_columns(file.schema_arrow)
        return pq.ParquetFile(source, read_dictionary=texts) if texts else file
    except (pa.ArrowException, OSError) as exc:
        raise ImportFormatError(line=1, unit=None, reason=f"not a Parquet file: {exc}") from None


def parquet_records(file: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each row of the Parquet ``file`` as a dict with its 1-based number, a batch of rows at a
    time, so memory stays bounded (:mod:`labelloop.ingest.columnar`); a damaged page is an
    error naming the row it stopped at."""
    import pyarrow as pa

    number = 0
    try:
        for batch in parquet_batches(file):
            for record in batch_records(batch):
                number += 1
                yield number, record
    except (pa.ArrowException, OSError) as exc:  # a damaged page is an OSError
        raise ImportFormatError(line=number + 1, reason=f"unreadable Parquet: {exc}") from None


TABLE_IMPORTERS: dict[str, type[_TableRecords]] = {
    CsvTableImporter.format: CsvTableImporter,
    JsonlTableImporter.format: JsonlTableImporter,
    ParquetTableImporter.format: ParquetTableImporter,
}
"""Import format name -> reader of table rows."""


def make_table_importer(
    format: str,
    *,
    columns: Sequence[str] = (),
    id_field: str | None = None,
    label_field: str | None = None,
    prediction_field: str | None = None,
) -> Any:
    """A reader of table rows in ``format`` (csv, jsonl or parquet)."""
    try:
        cls = TABLE_IMPORTERS[format]
    except KeyError:
        known = ", ".join(sorted(TABLE_IMPORTERS))
        raise LabelloopError(
            f"table rows cannot be read from {format!r}; known formats: {known}"
        ) from None
    return cls(  # type: ignore[call-arg]
        columns=columns,
        id_field=id_field,
        label_field=label_field,
        prediction_field=prediction_field,
    )
