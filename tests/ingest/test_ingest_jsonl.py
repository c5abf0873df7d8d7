"""JSON Lines import: good records become items, every bad one names its line."""

from __future__ import annotations

import io
import json

import pytest

from labelloop.errors import ImportFormatError
from labelloop.ingest import JsonlImporter


def read(data: bytes, **options: object) -> list:
    return list(JsonlImporter(**options).read(io.BytesIO(data)))  # type: ignore[arg-type]


def error(data: bytes, **options: object) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        read(data, **options)
    return info.value


def lines(*records: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def test_records_become_items_with_line_numbers_and_metadata() -> None:
    data = (
        lines({"id": 7, "text": "good", "label": "positive", "lang": "en"})
        + b"\n"
        + lines({"id": "b", "text": "meh", "tags": ["x"], "extra": {"k": 1}})
    )
    first, second = read(data, id_field="id", label_field="label")
    assert first.line == 1
    assert first.payload == {"text": "good"}
    assert first.external_id == "7"
    assert first.label == "positive"
    assert first.metadata == {"lang": "en"}
    assert second.line == 3  # the blank line 2 is skipped but still counted
    assert second.label is None
    assert second.metadata == {"tags": ["x"], "extra": {"k": 1}}


def test_without_id_and_label_fields_everything_else_is_metadata() -> None:
    (item,) = read(lines({"body": "hi", "id": 1, "label": "x"}), text_field="body")
    assert item.payload == {"text": "hi"}
    assert item.external_id is None
    assert item.label is None
    assert item.metadata == {"id": 1, "label": "x"}


def test_bom_and_crlf_are_accepted() -> None:
    (item,) = read(b'\xef\xbb\xbf{"text": "caf\xc3\xa9"}\r\n')
    assert item.payload["text"] == "café"


def test_null_label_means_unlabeled() -> None:
    (item,) = read(lines({"text": "a", "label": None}), label_field="label")
    assert item.label is None


@pytest.mark.parametrize(
    ("line3", "reason", "field"),
    [
        (
            b'{"text": "a",',
            "not valid JSON: Expecting property name enclosed in double quotes (column 14)",
            None,
        ),
        (b"[1, 2]", "expected a JSON object, got list", None),
        (b'"text"', "expected a JSON object, got string", None),
        (b'{"txt": "a"}', "missing", "text"),
        (b'{"text": 5}', "must be a string, got number", "text"),
        (b'{"text": "  \\n "}', "empty text", "text"),
        (b'{"text": "a", "x": NaN}', "not valid JSON: NaN is not allowed", None),
        (b'{"text": "a"}', "missing", "id"),
        (b'{"text": "a", "id": 1.5}', "must be a string or integer, got number", "id"),
        (b'{"text": "a", "id": true}', "must be a string or integer, got boolean", "id"),
        (b'{"text": "a", "id": ""}', "empty id", "id"),
    ],
)
def test_bad_record_names_line_and_field(line3: bytes, reason: str, field: str | None) -> None:
    data = lines({"text": "one", "id": 1}, {"text": "two", "id": 2}) + line3 + b"\n"
    exc = error(data, id_field="id")
    assert (exc.line, exc.reason, exc.field) == (3, reason, field)


def test_bad_utf8_byte_names_line_and_column() -> None:
    data = b'{"text": "one"}\n{"text": "two"}\n{"text": "thr\xffee"}\n{"text": "four"}\n'
    exc = error(data)
    assert exc.line == 3
    assert exc.reason == "not valid UTF-8 (byte 0xff at column 14)"
    assert str(exc) == "line 3: not valid UTF-8 (byte 0xff at column 14)"


def test_ten_megabyte_text_is_refused_with_its_size() -> None:
    big = "x" * 10_485_760
    exc = error(lines({"text": "ok"}, {"text": big}))
    assert exc.line == 2
    assert exc.field == "text"
    assert exc.reason == "text is 10,485,760 characters; the limit is 100,000"


def test_text_limit_is_an_option() -> None:
    assert read(lines({"text": "abcde"}), max_text_chars=5)
    assert error(lines({"text": "abcdef"}), max_text_chars=5).reason == (
        "text is 6 characters; the limit is 5"
    )


def test_reading_is_streaming() -> None:
    data = lines({"text": "fine"}) + b"not json\n"
    items = JsonlImporter().read(io.BytesIO(data))
    assert next(items).payload == {"text": "fine"}  # the first record arrives before the bad one
    with pytest.raises(ImportFormatError):
        next(items)
