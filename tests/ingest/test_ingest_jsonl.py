"""JSON Lines import: good records become items, every bad one names its line."""

from __future__ import annotations

import io
import json

import pytest

from labelloop.errors import ImportFormatError
from labelloop.ingest import JsonlImporter, jsonl
from labelloop.ingest.records import MAX_LINE_BYTES


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
        (b'{"txt": "a"}', "missing; the record has: txt", "text"),
        (b'{"text": 5}', "must be a string, got number", "text"),
        (b'{"text": "  \\n "}', "empty text", "text"),
        (b'{"text": "a", "x": NaN}', "not valid JSON: NaN is not allowed", None),
        (b'{"text": "a"}', "missing; the record has: text", "id"),
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
    assert exc.reason.startswith("not valid UTF-8 (byte 0xff at column 14): 'ÿ' in Latin-1")
    assert str(exc).startswith("line 3: not valid UTF-8 (byte 0xff at column 14)")


def test_text_over_the_limit_is_refused_with_its_size() -> None:
    exc = error(lines({"text": "ok"}, {"text": "x" * 100_001}))
    assert (exc.line, exc.field) == (2, "text")
    assert exc.reason == "text is 100,001 characters; the limit is 100,000"


def test_a_fifteen_megabyte_line_is_refused_before_it_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[int] = []
    real_loads = json.loads
    monkeypatch.setattr(
        jsonl.json, "loads", lambda text, **kw: parsed.append(len(text)) or real_loads(text, **kw)
    )
    big = lines({"text": "ok"}, {"text": "x" * 15_000_000}, {"text": "never read"})
    exc = error(big)
    assert str(exc) == "line 2: the line is longer than 2,097,152 bytes, the limit for one record"
    assert parsed == [len('{"text": "ok"}')]  # line 2 never reached the JSON parser


def test_a_line_at_the_limit_is_read() -> None:
    line = b'{"text": "ok"' + b" " * (MAX_LINE_BYTES - 14) + b"}"  # JSON may pad with spaces
    assert len(line) == MAX_LINE_BYTES
    for ending in (b"\n", b"\r\n", b""):
        assert [i.payload for i in read(line + ending)] == [{"text": "ok"}]
        assert error(b" " + line + ending).reason.startswith("the line is longer than")


def test_an_id_over_200_characters_is_refused_with_its_size() -> None:
    assert read(lines({"id": "a" * 200, "text": "ok"}), id_field="id")[0].external_id == "a" * 200
    exc = error(lines({"id": "ok", "text": "a"}, {"id": "b" * 500_000, "text": "b"}), id_field="id")
    assert str(exc) == "line 2, field 'id': id is 500,000 characters; the limit is 200"


def test_metadata_over_64_kib_is_refused_naming_its_largest_field() -> None:
    small = {"text": "a", "source": "web", "extra": "x" * 60_000}
    (item,) = read(lines(small))
    assert item.metadata["extra"] == "x" * 60_000
    exc = error(lines(small, {"text": "b", "source": "web", "extra": "x" * 70_000}))
    assert (exc.line, exc.field) == (2, "extra")
    assert exc.reason == (
        "the record's other fields (metadata) are 70,027 bytes as JSON; the limit is 65,536"
    )


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


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"7" * 4_301, "not valid JSON: a number is longer than 4,300 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON: nested too deeply"),
    ],
    ids=["long-number", "deep"],
)
def test_json_too_much_for_python_names_the_line(value: bytes, reason: str) -> None:
    exc = error(lines({"text": "one"}) + b'{"text": "two", "x": ' + value + b"}\n")
    assert (exc.line, exc.reason) == (2, reason)


def test_metadata_nested_over_100_levels_is_refused_naming_its_field() -> None:
    deep = b"[" * 100 + b"{}" + b"]" * 100  # 101 levels: the lists and the object in them
    (item,) = read(b'{"text": "a", "ok": ' + deep[1:-1] + b"}\n")  # 100 levels are kept
    assert set(item.metadata) == {"ok"}
    exc = error(lines({"text": "one"}) + b'{"text": "two", "x": ' + deep + b"}\n")
    assert (exc.line, exc.field) == (2, "x")
    assert exc.reason == "lists and objects nested more than 100 levels deep"


def test_another_tools_export_is_refused_naming_the_format_that_reads_it() -> None:
    prodigy = {
        "text": "hi",
        "_input_hash": 1,
        "_task_hash": 2,
        "accept": ["POS"],
        "answer": "accept",
    }
    found = error(b"\n" + lines(prodigy))
    assert (found.line, found.reason) == (
        2,
        "this is a Prodigy export (its _input_hash and _task_hash); import it with --format "
        "prodigy (the API and the project page: format prodigy) so its labels come in",
    )
    doccano = {"id": 3, "text": "Ada", "entities": [{"label": "PER", "start_offset": 0}]}
    assert error(lines(doccano)).reason.startswith("this is a doccano export (its entities")
    # A labelloop record that merely has a field of such a name is read as it is.
    (item,) = read(lines({"text": "hi", "entities": ["Ada"], "_input_hash": 1}))
    assert item.metadata == {"entities": ["Ada"], "_input_hash": 1}


def test_a_label_field_in_no_record_is_refused_naming_the_fields_there_are() -> None:
    # a misspelt --label-field brought every record in unlabeled, and said nothing
    data = lines({"text": "one", "lable": "pos"}, {"text": "two", "lable": "neg"})
    exc = error(data, label_field="label")
    assert (exc.line, exc.field) == (1, "label")
    assert exc.reason == (
        "the label field is in no record of the file (for a file without labels, leave it out); "
        "the first record has: text, lable"
    )
    # records not labeled yet may lack it, as long as one holds it
    first, second = read(
        lines({"text": "one"}, {"text": "two", "label": "neg"}), label_field="label"
    )
    assert (first.label, second.label) == (None, "neg")


def test_a_missing_text_field_lists_the_fields_of_the_record() -> None:
    exc = error(lines({"body": "x", "lbl": "positive"}))
    assert (exc.line, exc.field) == (1, "text")
    assert exc.reason == "missing; the record has: body, lbl"
    wide = {f"c{i}": i for i in range(40)}
    assert error(lines(wide)).reason.endswith("c29 and 10 more")
