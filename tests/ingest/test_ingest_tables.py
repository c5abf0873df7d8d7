"""Table rows from CSV, JSON Lines and Parquet: the row payload, the column subset, and errors."""

from __future__ import annotations

import io

import pytest

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest.payloads import row_hash
from labelloop.ingest.tables import make_table_importer


def read(fmt: str, data: bytes, **options: object) -> list:
    return list(make_table_importer(fmt, **options).read(io.BytesIO(data)))  # type: ignore[arg-type]


def error(fmt: str, data: bytes, **options: object) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        read(fmt, data, **options)
    return info.value


CSV = b"id,alcohol,colour,grade,note\r\nw1,13.2,red,good,from the cellar\r\nw2,,white,,\r\n"


def test_csv_rows_become_row_payloads_with_id_and_label_split_off() -> None:
    first, second = read("csv", CSV, id_field="id", label_field="grade")
    assert (first.line, first.external_id, first.label) == (2, "w1", "good")
    assert first.payload == {"row": {"alcohol": "13.2", "colour": "red", "note": "from the cellar"}}
    assert second.label is None  # an empty label cell is "not labeled yet"
    assert second.payload["row"] == {"alcohol": None, "colour": "white", "note": None}


def test_columns_pick_and_order_the_row_and_the_rest_is_metadata() -> None:
    (first, _) = read("csv", CSV, columns=("colour", "alcohol"), id_field="id")
    assert list(first.payload["row"]) == ["colour", "alcohol"]
    assert first.metadata == {"grade": "good", "note": "from the cellar"}


def test_a_missing_column_or_label_column_is_named_on_the_header_line() -> None:
    exc = error("csv", CSV, columns=("colour", "acidity"))
    assert (exc.line, exc.field) == (1, "acidity")
    assert "alcohol" in exc.reason  # the message lists the columns there are
    exc = error("csv", CSV, label_field="quality")
    assert (exc.line, exc.field) == (1, "quality")


def test_csv_errors_name_the_line() -> None:
    exc = error("csv", CSV + b"w3,12,red\r\n")
    assert exc.line == 4 and "expected 5 columns" in exc.reason
    exc = error("csv", b"a,b\n1,2\n,\n", columns=("a", "b"))
    assert (exc.line, exc.reason) == (3, "every field of the row is empty")


def test_jsonl_rows_keep_numbers_and_refuse_nested_values() -> None:
    data = b'{"id": 1, "pH": 3.4, "organic": true, "grape": "merlot"}\n\n{"id": 2, "pH": 3.1}\n'
    first, second = read("jsonl", data, id_field="id")
    assert first.payload == {"row": {"pH": 3.4, "organic": True, "grape": "merlot"}}
    assert second.line == 3
    exc = error("jsonl", data + b'{"id": 3, "pH": [1, 2]}\n', id_field="id")
    assert (exc.line, exc.field) == (4, "pH")
    assert "got a list" in exc.reason or "list" in exc.reason
    exc = error("jsonl", b'{"a": 1}\n{"b": 2}\n', columns=("a",))
    assert (exc.line, exc.field, exc.reason) == (2, "a", "missing; the record has: b")


def test_parquet_rows_are_read_with_row_numbers() -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "alcohol": [13.2, float("nan"), 12.0],
            "colour": ["red", "rosé", None],
            "grade": ["good", None, "poor"],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    items = read("parquet", sink.getvalue(), id_field="id", label_field="grade")
    assert [i.line for i in items] == [1, 2, 3]
    assert items[0].payload == {"row": {"alcohol": 13.2, "colour": "red"}}
    assert items[1].payload == {"row": {"alcohol": None, "colour": "rosé"}}  # NaN is empty
    assert items[2].payload == {"row": {"alcohol": 12.0, "colour": None}}
    assert [i.label for i in items] == ["good", None, "poor"]
    exc = error("parquet", sink.getvalue(), columns=("acidity",))
    assert (exc.line, exc.field) == (1, "acidity")


def test_parquet_all_empty_row_names_its_row_number() -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1.0, None], "b": ["x", None]}), sink)
    exc = error("parquet", sink.getvalue())
    assert (exc.line, exc.reason) == (2, "every field of the row is empty")


def test_not_a_parquet_file_is_a_clear_error() -> None:
    pytest.importorskip("pyarrow")
    exc = error("parquet", b"id,text\n1,hello\n")
    assert exc.line == 1 and exc.reason.startswith("not a Parquet file")


def test_parquet_without_pyarrow_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(LabelloopError, match=r"labelloop\[tables\]"):
        read("parquet", b"PAR1")


def test_unknown_table_format_lists_the_known_ones() -> None:
    with pytest.raises(LabelloopError, match="csv, jsonl, parquet"):
        make_table_importer("xlsx")


def test_same_row_has_the_same_hash_whatever_the_key_order() -> None:
    assert row_hash({"a": 1, "b": "x"}) == row_hash({"b": "x", "a": 1})
    assert row_hash({"a": 1, "b": "x"}) != row_hash({"a": 1, "b": "X"})


def test_pre_annotations_come_from_their_own_column_as_json() -> None:
    data = b'id,alcohol,pred\nw1,13.2,"{""sure"": 2, ""note"": ""dry""}"\nw2,12.1,\n'
    first, second = read("csv", data, id_field="id", prediction_field="pred")
    assert first.prediction == {"sure": 2, "note": "dry"}
    assert first.payload == {"row": {"alcohol": "13.2"}} and "pred" not in first.metadata
    assert second.prediction is None
    exc = error("csv", data.replace(b'""dry""}', b"dry}"), prediction_field="pred")
    assert (exc.line, exc.field) == (2, "pred") and "not valid JSON" in exc.reason


def test_a_row_nested_under_text_or_row_is_read_when_the_columns_are_not_on_top() -> None:
    data = (
        b'{"external_id": "a", "text": {"colour": "red", "alcohol": 13}, "label": "good"}\n'
        b'{"external_id": "b", "row": {"colour": "white", "alcohol": 11}}\n'
    )
    first, second = read(
        "jsonl", data, columns=("alcohol", "colour"), id_field="external_id", label_field="label"
    )
    assert first.payload == {"row": {"alcohol": 13, "colour": "red"}}
    assert (first.external_id, first.label, first.metadata) == ("a", "good", {})
    assert second.payload == {"row": {"alcohol": 11, "colour": "white"}}
    csv_data = b'external_id,text,label\na,"{""colour"": ""red"", ""alcohol"": 13}",good\n'
    (only,) = read(
        "csv", csv_data, columns=("colour",), id_field="external_id", label_field="label"
    )
    assert only.payload == {"row": {"colour": "red"}}


@pytest.mark.parametrize(
    "inner", [b"7" * 4_301, b"[" * 5_000 + b"]" * 5_000], ids=["long-number", "deep"]
)
def test_a_text_cell_too_much_for_python_to_parse_is_a_text_not_a_row(inner: bytes) -> None:
    data = b'external_id,text\na,"{""colour"": ' + inner + b'}"\n'
    exc = error("csv", data, columns=("colour",), id_field="external_id")
    assert (exc.line, exc.field, exc.reason) == (
        2,
        "colour",
        "missing; the record has: external_id, text",
    )


def test_a_damaged_parquet_page_is_a_clear_error() -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": ["x", "y"]}), sink)
    damaged = sink.getvalue()[:4] + b"\xff" * 8 + sink.getvalue()[12:]  # the first page header
    exc = error("parquet", damaged)
    assert exc.line == 1 and exc.reason.startswith("unreadable Parquet")


def test_a_parquet_column_packed_a_thousandfold_is_refused_unread() -> None:
    """Text compresses a few times; a column of rows that declares a hundred MiB in a few KiB
    is refused naming the column and the row its rows start at, before any is read."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    rows = pa.array(["a" * (1 << 20)] * 100)
    table = pa.table({"id": [f"r{i}" for i in range(100)], "note": rows})
    pq.write_table(table, sink, compression="zstd", use_dictionary=False)
    assert len(sink.getvalue()) < 1 << 20
    exc = error("parquet", sink.getvalue(), id_field="id")
    assert (exc.line, exc.field) == (1, "note")
    assert exc.reason.startswith("the rows from here declare 100 MiB packed into")
    assert exc.reason.endswith("over 100 times their size: refused unread")


def test_a_file_separated_by_semicolons_or_tabs_is_read_as_such() -> None:
    """A spreadsheet saved as CSV where the decimal mark is a comma separates columns by ';',
    and a .tsv file by tabs: both were refused (one column, "wine_id;alcohol"), to be saved
    again by commas; the header row now shows what separates the cells."""
    from labelloop.ingest.csv import CsvImporter

    for mark in (b";", b"\t"):
        data = mark.join([b"wine_id", b"alcohol", b"colour"]) + b"\n"
        data += mark.join([b"w1", b"13,2", b'"red\nwine"']) + b"\n"
        (row,) = read("csv", data, id_field="wine_id")
        alcohol = 13.2 if mark == b";" else "13,2"  # a decimal comma, where ';' separates
        assert (row.external_id, row.payload) == (
            "w1",
            {"row": {"alcohol": alcohol, "colour": "red\nwine"}},
        )
        (text,) = CsvImporter(text_field="colour").read(io.BytesIO(data))
        assert (text.payload, text.metadata) == (
            {"text": "red\nwine"},
            {"wine_id": "w1", "alcohol": "13,2"},
        )
    # commas stay the delimiter of a header they separate, whatever its names hold
    (row,) = read("csv", b'"a;b",c\n1,2\n')
    assert row.payload == {"row": {"a;b": "1", "c": "2"}}


def test_a_missing_column_of_a_wide_parquet_file_lists_the_first_columns_only() -> None:
    # a file of 5,000 columns gave an error 5,000 names long
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from labelloop.ingest.parquet import ParquetImporter

    sink = io.BytesIO()
    pq.write_table(pa.table({f"c{i}": [i] for i in range(5000)}), sink)
    exc = error("parquet", sink.getvalue(), columns=("text",))
    assert (exc.line, exc.field) == (1, "text")
    assert exc.reason.endswith("c28, c29 and 4,970 more")
    with pytest.raises(ImportFormatError) as caught:
        list(ParquetImporter(text_field="text").read(io.BytesIO(sink.getvalue())))
    assert caught.value.reason.endswith("c29 and 4,970 more")


def test_a_semicolon_csv_reads_decimal_commas_as_numbers_and_says_so() -> None:
    """A spreadsheet where the decimal mark is a comma writes "3,5" in a file separated by
    semicolons: the column came in as text, which the model read as categories."""
    data = b"name;price;code\nkettle;3,5;007\nlamp;12,25;1,2\nfan;4;x\n"
    importer = make_table_importer("csv")
    rows = [r.payload["row"] for r in importer.read(io.BytesIO(data))]
    assert [r["price"] for r in rows] == [3.5, 12.25, "4"]
    assert [r["code"] for r in rows] == ["007", 1.2, "x"]
    assert (
        "column 'price': 2 decimal commas were read as numbers (line 2: '3,5' as 3.5), as the "
        "file is separated by semicolons"
    ) in importer.notes()
    # A comma-separated file has no decimal commas: a quoted "3,5" stays as it is.
    plain = make_table_importer("csv")
    rows = [r.payload["row"] for r in plain.read(io.BytesIO(b'name,price\nkettle,"3,5"\n'))]
    assert rows == [{"name": "kettle", "price": "3,5"}] and plain.notes() == []
