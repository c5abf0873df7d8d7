"""CSV import: header checks, and errors that name the physical line of the record."""

from __future__ import annotations

import io

import pytest

from labelloop.errors import ImportFormatError
from labelloop.ingest import CsvImporter


def read(data: bytes, **options: object) -> list:
    return list(CsvImporter(**options).read(io.BytesIO(data)))  # type: ignore[arg-type]


def error(data: bytes, **options: object) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        read(data, **options)
    return info.value


def test_rows_become_items() -> None:
    data = b"id,text,label,lang\r\n1,hello,positive,en\r\n2,bye,,de\r\n"
    first, second = read(data, id_field="id", label_field="label")
    assert (first.line, first.external_id, first.payload, first.label) == (
        2,
        "1",
        {"text": "hello"},
        "positive",
    )
    assert first.metadata == {"lang": "en"}
    assert second.label is None  # an empty cell is "not labeled yet"


def test_a_file_of_ones_own_keeps_a_leading_quote() -> None:
    """Only a labelloop export's cells carry the formula guard; a user's own text is kept."""
    (item,) = read(b"id,text\n1,'@united thanks for nothing\n", id_field="id")
    assert item.payload == {"text": "'@united thanks for nothing"}


def test_line_is_the_physical_start_line_after_a_multiline_field() -> None:
    data = (
        b"id,text\n"
        b'1,"first line\nsecond line\nthird line"\n'  # lines 2-4
        b"2,plain\n"  # line 5
        b'3,"also\nmultiline"\n'  # lines 6-7
        b"4,a,extra\n"  # line 8: one column too many
    )
    exc = error(data, id_field="id")
    assert exc.line == 8
    assert exc.reason == "expected 2 columns as in the header, got 3"
    items = read(data[: data.index(b"4,a")], id_field="id")
    assert [i.line for i in items] == [2, 5, 6]
    assert items[0].payload["text"] == "first line\nsecond line\nthird line"


def test_a_short_row_names_the_fields_it_has_no_cells_for() -> None:
    exc = error(b"id,text,label\nf1,fine,a\nf2\n", id_field="id")
    assert exc.line == 3
    assert exc.reason == "expected 3 columns as in the header, got 1: no cell for 'text', 'label'"


def test_empty_text_after_multiline_field_names_its_line() -> None:
    data = b'text,n\n"a\nb",1\n" ",2\n'
    exc = error(data)
    assert (exc.line, exc.field, exc.reason) == (4, "text", "empty text")


def test_missing_text_column_lists_the_columns() -> None:
    exc = error(b"a,b,c\n1,2,3\n")
    assert (exc.line, exc.field) == (1, "text")
    assert exc.reason == "no such column; columns are: a, b, c"


def test_a_missing_id_label_or_prediction_column_is_named_with_the_columns_there_are() -> None:
    # a misspelt --label-field brought every row in unlabeled, and said nothing
    for option in ("id_field", "label_field", "prediction_field"):
        exc = error(b"text,lable\nx,positive\n", **{option: "label"})
        assert (exc.line, exc.field) == (1, "label")
        assert exc.reason == "no such column; columns are: text, lable"
    (item,) = read(b"text,label\nx,\n", label_field="label")  # an empty cell: not labeled yet
    assert item.label is None


def test_bad_utf8_byte_names_the_line() -> None:
    data = b"text\nfine\nbad \xe9 byte\nfine\n"
    exc = error(data)
    assert exc.line == 3
    assert exc.reason == (
        "not valid UTF-8 (byte 0xe9 at column 5): 'é' in Latin-1 or Windows-1252; labelloop "
        'reads UTF-8: save the file as UTF-8 (in a spreadsheet: "CSV UTF-8")'
    )


def test_a_utf16_file_is_told_to_be_saved_as_utf8() -> None:
    # a spreadsheet's "Unicode text" is UTF-16: its first byte was all the error said
    exc = error("text\nhello\n".encode("utf-16"))
    assert exc.line == 1
    assert exc.reason.startswith("not valid UTF-8 (byte 0xff at column 1): the file is UTF-16;")


def test_bad_utf8_inside_a_multiline_field_names_the_physical_line() -> None:
    data = b'text\n"one\ntwo \xff"\n'
    assert error(data).line == 3


def test_unclosed_quote_names_the_record_start() -> None:
    data = b'text,n\nfine,1\n"never closed,2\nmore\n'
    exc = error(data)
    assert exc.line == 3
    assert exc.reason == "not valid CSV: a quoted field starting here is never closed"


def test_empty_file_and_duplicate_header() -> None:
    for empty in (b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n  \r\n"):  # no records, no error
        assert list(CsvImporter().read(io.BytesIO(empty))) == []
    assert error(b"\n\ntext\nhello\n").reason == "the first line must be a header row"
    exc = error(b"text,text\na,b\n")
    assert (exc.line, exc.reason) == (1, "column 'text' appears twice in the header")


def test_bom_header_and_blank_lines() -> None:
    items = read(b"\xef\xbb\xbftext,n\r\n\r\nhello,1\r\n\r\n")
    assert [(i.line, i.payload["text"]) for i in items] == [(3, "hello")]


def test_ten_megabyte_line_names_its_line_and_the_limit() -> None:
    data = b"text\nshort\n" + b"y" * 10_485_760 + b"\n"
    exc = error(data)
    assert exc.line == 3
    assert exc.reason == "the line is longer than 2,097,152 bytes, the limit for one record"


def test_text_just_over_the_limit_gets_the_size_message() -> None:
    exc = error(b"text\n" + b"z" * 100_001 + b"\n")
    assert (exc.line, exc.reason) == (2, "text is 100,001 characters; the limit is 100,000")


def test_larger_text_limit_than_the_csv_module_default() -> None:
    (item,) = read(b"text\n" + b"z" * 200_000 + b"\n", max_text_chars=300_000)
    assert len(item.payload["text"]) == 200_000


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("7" * 4_301, "not valid JSON: a number is longer than 4,300 digits"),
        ("[" * 5_000 + "]" * 5_000, "not valid JSON: nested too deeply"),
    ],
    ids=["long-number", "deep"],
)
def test_a_prediction_cell_too_much_for_python_names_the_line(cell: str, reason: str) -> None:
    exc = error(f"text,pre\nfine,\nbad,{cell}\n".encode(), prediction_field="pre")
    assert (exc.line, exc.field, exc.reason) == (3, "pre", reason)
