"""Exports: every column present, round-trips through the importers, safe in spreadsheets."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from labelloop.domain import EXPORT_COLUMNS, ExportRecord
from labelloop.ingest import CsvExporter, CsvImporter, JsonlExporter, JsonlImporter


def record(item_id: int, **changes: object) -> ExportRecord:
    fields: dict[str, object] = {
        "item_id": item_id,
        "external_id": f"ext-{item_id}",
        "text": f"text number {item_id}",
        "label": "positive",
        "resolution": "consensus",
        "annotator": "alice",
        "annotated_at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        "active_ms": 1500,
        "guideline_version": 2,
        "schema_version": 1,
        "model_version": 4,
        "suggestion": "positive",
        "suggestion_confidence": 0.9,
        "strategy": "margin",
        "score": 0.25,
        "rank": 3,
        "reason": "the model is torn between positive and neutral",
        "metadata": {"lang": "en", "tags": ["a"]},
    }
    fields.update(changes)
    return ExportRecord(**fields)  # type: ignore[arg-type]


RECORDS = [
    record(1),
    record(2, label=["sport", "tech"], text="line one\nline two, with comma"),
    record(3, external_id="ünïcode", text='quote " and émoji 🙂', annotated_at=None, metadata={}),
]


def export(exporter: object, records: list[ExportRecord]) -> bytes:
    sink = io.BytesIO()
    exporter.write(records, sink)  # type: ignore[attr-defined]
    return sink.getvalue()


def test_jsonl_has_every_column_and_iso_timestamps() -> None:
    rows = [json.loads(line) for line in export(JsonlExporter(), RECORDS).decode().splitlines()]
    assert len(rows) == 3
    assert all(list(row) == list(EXPORT_COLUMNS) for row in rows)
    assert rows[0]["annotated_at"] == "2024-05-01T12:30:00+00:00"
    assert rows[0]["metadata"] == {"lang": "en", "tags": ["a"]}
    assert rows[1]["label"] == ["sport", "tech"]
    assert rows[2]["annotated_at"] is None


def test_jsonl_timestamps_are_utc_with_offset() -> None:
    naive = record(1, annotated_at=datetime(2024, 5, 1, 12, 30))
    plus2 = record(
        2, annotated_at=datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    )
    rows = [json.loads(line) for line in export(JsonlExporter(), [naive, plus2]).splitlines()]
    assert {row["annotated_at"] for row in rows} == {"2024-05-01T12:30:00+00:00"}


def test_jsonl_never_writes_nan() -> None:
    (line,) = export(JsonlExporter(), [record(1, score=float("nan"))]).splitlines()
    assert json.loads(line)["score"] is None


def test_jsonl_writes_what_only_pythons_json_takes() -> None:
    """Metadata from a user's file can hold an integer beyond 64 bits, a NaN deep inside, or a
    mapping with number keys: each still exports as valid JSON, NaN as null, keys as strings."""
    odd = record(1, metadata={"big": 2**70, "deep": [{"x": float("inf")}]}, value={1: "a"})
    plain = record(2)
    lines = export(JsonlExporter(), [odd, plain]).splitlines()
    rows = [json.loads(line, parse_constant=lambda c: pytest.fail(f"wrote {c}")) for line in lines]
    assert rows[0]["metadata"] == {"big": 2**70, "deep": [{"x": None}]}
    assert rows[0]["value"] == {"1": "a"}
    assert rows[1]["item_id"] == 2 and rows[1]["annotated_at"] == "2024-05-01T12:30:00+00:00"
    cells = list(csv.reader(io.StringIO(export(CsvExporter(), [odd]).decode(), newline="")))[1]
    assert json.loads(dict(zip(EXPORT_COLUMNS, cells, strict=True))["metadata"]) == {
        "big": 2**70,
        "deep": [{"x": None}],
    }


def test_jsonl_round_trip_through_the_importer() -> None:
    data = export(JsonlExporter(), RECORDS)
    importer = JsonlImporter(text_field="text", id_field="external_id", label_field="label")
    items = list(importer.read(io.BytesIO(data)))
    assert [i.payload["text"] for i in items] == [r.text for r in RECORDS]
    assert [i.external_id for i in items] == [r.external_id for r in RECORDS]
    assert [i.label for i in items] == [r.label for r in RECORDS]


def test_csv_header_labels_and_metadata() -> None:
    rows = list(csv.reader(io.StringIO(export(CsvExporter(), RECORDS).decode(), newline="")))
    assert rows[0] == list(EXPORT_COLUMNS)
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [row["label"] for row in body] == ["positive", "sport|tech", "positive"]
    assert json.loads(body[0]["metadata"]) == {"lang": "en", "tags": ["a"]}
    assert body[2]["metadata"] == "{}"
    assert body[0]["annotated_at"] == "2024-05-01T12:30:00+00:00"
    assert body[2]["annotated_at"] == ""
    assert body[1]["text"] == "line one\nline two, with comma"


def test_csv_round_trip_through_the_importer() -> None:
    data = export(CsvExporter(), RECORDS)
    importer = CsvImporter(text_field="text", id_field="external_id", label_field="label")
    items = list(importer.read(io.BytesIO(data)))
    assert [i.payload["text"] for i in items] == [r.text for r in RECORDS]
    assert [i.external_id for i in items] == [r.external_id for r in RECORDS]
    assert [i.label for i in items] == ["positive", "sport|tech", "positive"]
    assert [i.line for i in items] == [2, 3, 5]


FORMULA = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("start", FORMULA)
def test_csv_guards_against_formula_injection(start: str) -> None:
    evil = record(1, text=f'{start}HYPERLINK("http://x")', external_id=f"{start}1", label=start)
    row = list(csv.reader(io.StringIO(export(CsvExporter(), [evil]).decode(), newline="")))[1]
    cells = dict(zip(EXPORT_COLUMNS, row, strict=True))
    assert cells["text"] == f'\'{start}HYPERLINK("http://x")'
    assert cells["external_id"] == f"'{start}1"
    assert cells["label"] == f"'{start}"
    # A text that already starts with "'" and a formula character gets one "'" more, so the
    # importer can tell it from a guarded one.
    quoted = record(1, text=f"'{start}x", external_id=f"''{start}")
    row = list(csv.reader(io.StringIO(export(CsvExporter(), [quoted]).decode(), newline="")))[1]
    cells = dict(zip(EXPORT_COLUMNS, row, strict=True))
    assert (cells["text"], cells["external_id"]) == (f"''{start}x", "'" * 3 + start)


TRICKY = ["=1+1", "'=x", "''@a", "@me", "-3", "+", "'", "plain text", "\tindented", "it's"]
TRICKY += ["'ok'", "\rcarriage", "@JetBlue Got flight", "'-", "'" * 3 + "=", "'\t", "x=1"]


def _csv_round_trip(texts: list[str]) -> tuple[list[list[str]], list[tuple[str, Any, Any]]]:
    """Export one record per text (as its text, id and label) and import the file back: the
    cells a spreadsheet shows, and the (text, id, label) of each imported record."""
    records = [record(i, text=t, external_id=t, label=t) for i, t in enumerate(texts)]
    data = export(CsvExporter(), records)
    cells = list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]
    importer = CsvImporter(text_field="text", id_field="external_id", label_field="label")
    items = list(importer.read(io.BytesIO(data)))
    return cells, [(i.payload["text"], i.external_id, i.label) for i in items]


@pytest.mark.parametrize("text", TRICKY)
def test_a_csv_export_imports_back_as_it_was(text: str) -> None:
    cells, back = _csv_round_trip([text])
    assert back == [(text, text, text)]
    assert not dict(zip(EXPORT_COLUMNS, cells[0], strict=True))["text"].startswith(FORMULA)


def test_every_short_string_of_quotes_and_formula_characters_survives_csv() -> None:
    """Every string of up to four characters over quotes, formula characters, a space and a
    letter comes back from an export unchanged, and no cell of the file starts with a formula
    character (exhaustively: a property checked on all its small cases)."""
    alphabet = "'=+-@\t\r a"
    texts = [
        "".join(chars)
        for n in range(1, 5)
        for chars in itertools.product(alphabet, repeat=n)
        if "".join(chars).strip()  # the importer refuses a blank text
    ]
    cells, back = _csv_round_trip(texts)
    assert back == [(t, t, t) for t in texts]
    assert [c for row in cells for c in row if c.startswith(FORMULA)] == []


def test_csv_leaves_numbers_and_jsonl_text_alone() -> None:
    negative = record(1, score=-0.5, text="-1 is fine in JSON")
    row = list(csv.reader(io.StringIO(export(CsvExporter(), [negative]).decode(), newline="")))[1]
    assert dict(zip(EXPORT_COLUMNS, row, strict=True))["score"] == "-0.5"
    (line,) = export(JsonlExporter(), [negative]).splitlines()
    assert json.loads(line)["text"] == "-1 is fine in JSON"


def test_exports_stream_many_records() -> None:
    many = (record(i) for i in range(5000))
    data = export(CsvExporter(), many)  # a generator: nothing is held in a list
    assert data.count(b"\n") == 5001
    assert export(JsonlExporter(), (record(i) for i in range(5000))).count(b"\n") == 5000


def test_empty_exports() -> None:
    assert export(JsonlExporter(), []) == b""
    assert export(CsvExporter(), []).decode().strip() == ",".join(EXPORT_COLUMNS)


def test_csv_decision_columns_come_last_with_an_empty_cell_for_no_other_answer() -> None:
    decided = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
    fixed = record(1, decided_by="=rita", decided_at=decided, annotated_value={"s": "neg"})
    rows = list(csv.reader(io.StringIO(export(CsvExporter(), [fixed, record(2)]).decode())))
    assert rows[0][-9:-6] == ["decided_by", "decided_at", "annotated_value"]
    cells, plain = (dict(zip(rows[0], row, strict=True)) for row in rows[1:])
    assert cells["decided_by"] == "'=rita"  # guarded like any text
    assert cells["decided_at"] == "2024-05-02T09:00:00+00:00"
    assert json.loads(cells["annotated_value"]) == {"s": "neg"}
    assert (plain["decided_by"], plain["decided_at"], plain["annotated_value"]) == ("", "", "")


def test_a_csv_export_from_before_the_decision_columns_still_reads_back_unguarded() -> None:
    """Exports written before decided_by, decided_at and annotated_value existed have a shorter
    header; they are still exports, so their formula guard still comes off."""
    data = export(CsvExporter(), [record(1, text="@JetBlue hi", label="-1")])
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    old = io.StringIO()
    csv.writer(old).writerows(row[:-9] for row in rows)
    importer = CsvImporter(text_field="text", id_field="external_id", label_field="label")
    (item,) = importer.read(io.BytesIO(old.getvalue().encode()))
    assert (item.payload["text"], item.label) == ("@JetBlue hi", "-1")
    assert "decided_by" not in item.metadata


def test_csv_suggested_values_come_last_and_an_export_from_before_them_reads_back() -> None:
    """The suggested values and their sources are JSON cells after the decision columns (empty
    when nothing was offered); an export written before they existed is still an export."""
    offered = record(
        1,
        text="@JetBlue hi",
        suggestion_value={"s": {"label": "=neg", "score": 0.7}},
        suggestion_source={"s": "import"},
    )
    data = export(CsvExporter(), [offered, record(2)])
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[0][-6:] == [
        "suggestion_value",
        "suggestion_source",
        "changed_at",
        "decided_guideline_version",
        "annotators",
        "guideline_versions",
    ]
    cells, plain = (dict(zip(rows[0], row, strict=True)) for row in rows[1:])
    assert json.loads(cells["suggestion_value"]) == {"s": {"label": "=neg", "score": 0.7}}
    assert json.loads(cells["suggestion_source"]) == {"s": "import"}
    assert (plain["suggestion_value"], plain["suggestion_source"]) == ("", "")
    importer = CsvImporter(text_field="text", id_field="external_id", label_field="label")
    # before the answers behind the label, the decider's guideline version, changed_at, suggestions
    for cut in (2, 3, 4, 6):
        old = io.StringIO()
        csv.writer(old).writerows(row[:-cut] for row in rows[:2])
        (item,) = importer.read(io.BytesIO(old.getvalue().encode()))
        assert item.payload["text"] == "@JetBlue hi"
