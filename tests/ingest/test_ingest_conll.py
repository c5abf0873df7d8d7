"""CoNLL/BIO import and export: token-per-line files become text items with spans and back."""

from __future__ import annotations

import io
from typing import Any

import pytest

from labelloop.domain import ExportRecord
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest import make_exporter, make_importer
from labelloop.ingest.formats import importer_for_path
from labelloop.schema import parse_schema
from labelloop.workflow import export, imports, projects
from tests.conftest import Lab

SCHEMA = {
    "name": "Entities",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "ents", "type": "spans", "labels": ["person", "geo-loc", "company"]}],
}
# As in the WNUT-16 file: a lone tab separates tweets, and an I- tag may open an entity.
WNUT = (
    "@paulwalk\tO\nEmpire\tB-geo-loc\nState\tI-geo-loc\nis\tO\nnice\tO\n\t\n"
    "Pxleyes\tI-company\nTop\tO\n50\tO\n\t\n"
    "Anna\tS-person\nand\tO\nBo\tB-person\nKo\tE-person\n"
)


def _read(body: str) -> list[Any]:
    return list(make_importer("conll").read(io.BytesIO(body.encode())))


def _words(item: Any) -> list[tuple[str, str]]:
    text = item.payload["text"]
    return [(text[s["start"] : s["end"]], s["label"]) for s in item.label]


def test_tokens_join_into_text_and_tags_become_spans() -> None:
    items = _read(WNUT)
    assert [i.payload["text"] for i in items] == [
        "@paulwalk Empire State is nice",
        "Pxleyes Top 50",
        "Anna and Bo Ko",
    ]
    assert [i.line for i in items] == [1, 7, 11]
    assert items[0].label == [{"start": 10, "end": 22, "label": "geo-loc"}]
    assert _words(items[1]) == [("Pxleyes", "company")]  # I- without B- starts an entity
    assert _words(items[2]) == [("Anna", "person"), ("Bo Ko", "person")]  # BIOES read as BIO


def test_ids_comments_docstart_and_untagged_items() -> None:
    body = (
        "-DOCSTART-\tO\n\n# id = tw-1\n# text = ignored\nHi\tO\nBo\tB-person\n\n"
        "# id = tw-2\nno\ntags\nhere\n"
    )
    first, second = _read(body)
    assert (first.external_id, _words(first)) == ("tw-1", [("Bo", "person")])
    assert (second.external_id, second.payload["text"], second.label) == (
        "tw-2",
        "no tags here",
        None,
    )
    spaced = _read("EU NNP B-NP B-company\nrejects VBZ B-VP O\n")  # CoNLL-2003 columns
    assert _words(spaced[0]) == [("EU", "company")]


@pytest.mark.parametrize(
    ("body", "line", "why"),
    [
        ("a\tO\nb\tX-person\n", 2, "is not O, B-<label> or I-<label>"),
        ("a\tO\n\nb\tO\nc\tB-\n", 4, "is not O"),
        ("a\tO\nb\n", 2, "some tokens of this item have a tag"),
        ("a\tO\n\xff\tO\n", 2, "UTF-8"),
    ],
)
def test_bad_lines_are_named(body: str, line: int, why: str) -> None:
    raw = body.encode("latin-1") if "\xff" in body else body.encode()
    with pytest.raises(ImportFormatError) as info:
        list(make_importer("conll").read(io.BytesIO(raw)))
    assert info.value.line == line
    assert why in info.value.message


def _record(text: str, spans: list[dict[str, Any]], **kw: Any) -> ExportRecord:
    fields: dict[str, Any] = {
        "item_id": 1,
        "external_id": None,
        "text": text,
        "label": spans,
        "resolution": "single",
        "annotator": None,
        "annotated_at": None,
        "active_ms": None,
        "guideline_version": None,
        "schema_version": None,
        "model_version": None,
        "suggestion": None,
        "suggestion_confidence": None,
        "strategy": None,
        "score": None,
        "rank": None,
        "reason": None,
    }
    return ExportRecord(**{**fields, **kw})


def test_export_snaps_spans_to_tokens_and_keeps_the_first_of_overlapping_ones() -> None:
    exporter = make_exporter("conll", schema=parse_schema(SCHEMA))
    sink = io.BytesIO()
    text = "Meet Anna Lee in Oslo, today"
    spans = [
        {"start": 6, "end": 12, "label": "person"},  # "nna Le": snaps to "Anna Lee"
        {"start": 10, "end": 21, "label": "geo-loc"},  # overlaps: only "in Oslo" left for it
    ]
    exporter.write([_record(text, spans, external_id="x 1", value={"ents": spans})], sink)
    assert sink.getvalue().decode() == (
        "# id = x 1\nMeet\tO\nAnna\tB-person\nLee\tI-person\nin\tB-geo-loc\nOslo\tI-geo-loc\n"
        ",\tO\ntoday\tO\n\n"
    )


def test_a_word_with_combining_marks_is_one_line_and_reads_back_as_it_was() -> None:
    # Hindi vowel signs and an accent written as its own character: one line per word, so the
    # text an import joins from the lines is the text exported (not "द ि ल ् ल ी").
    text = "Jose\u0301 Marti\u0301 flew to दिल्ली"
    city = text.index("दिल्ली")
    spans = [
        {"start": 0, "end": 12, "label": "person"},
        {"start": city, "end": city + 6, "label": "geo-loc"},
    ]
    sink = io.BytesIO()
    exporter = make_exporter("conll", schema=parse_schema(SCHEMA))
    exporter.write([_record(text, spans, value={"ents": spans})], sink)
    (item,) = _read(sink.getvalue().decode())
    assert (item.payload["text"], item.label) == (text, spans)


def test_export_refuses_a_project_without_spans() -> None:
    schema = parse_schema(
        {"name": "s", "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"]}]}
    )
    with pytest.raises(LabelloopError, match="needs a spans control"):
        make_exporter("conll", schema=schema)
    # a boxes project is told the formats that hold boxes; CSV refuses them
    boxes = parse_schema(
        {
            "name": "b",
            "data": {"type": "image", "field": "path"},
            "controls": [{"name": "o", "type": "boxes", "labels": ["car"]}],
        }
    )
    with pytest.raises(LabelloopError) as refused:
        make_exporter("conll", schema=boxes)
    assert str(refused.value).endswith("export jsonl, coco, label_studio or yolo instead")


def test_the_file_suffix_names_the_format() -> None:
    assert importer_for_path("data/train.conll") == "conll"


def test_export_then_import_reproduces_the_spans(lab: Lab) -> None:
    projects.create_project(lab.db, "a", SCHEMA, actor=lab.admin)
    projects.create_project(lab.db, "b", SCHEMA, actor=lab.admin)
    first, second = lab.ctx("a", lab.admin), lab.ctx("b", lab.admin)
    report = imports.import_items(
        lab.db, first, io.BytesIO(WNUT.encode()), fmt="conll", filename="wnut.conll"
    )
    assert (report.n_items, report.n_labeled) == (3, 3)
    out = io.BytesIO()
    assert export.export(lab.db, first, out, fmt="conll") == 3
    imports.import_items(
        lab.db, second, io.BytesIO(out.getvalue()), fmt="conll", filename="again.conll"
    )
    again = io.BytesIO()
    export.export(lab.db, second, again, fmt="conll")
    assert again.getvalue() == out.getvalue()
    spans_a = [_words(i) for i in _read(WNUT)]
    spans_b = [_words(i) for i in _read(again.getvalue().decode())]
    # The tweet's "@paulwalk" stays one token and the labels and covered words are the same.
    assert spans_b == spans_a


def test_a_label_outside_the_schema_names_the_items_first_line(lab: Lab) -> None:
    projects.create_project(lab.db, "a", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("a", lab.admin)
    body = "a\tO\n\nb\tO\nc\tB-movie\n"
    with pytest.raises(ImportFormatError) as info:
        imports.import_items(lab.db, ctx, io.BytesIO(body.encode()), fmt="conll", filename="x")
    assert info.value.line == 3
    assert "movie" in info.value.message


def test_the_api_downloads_a_conll_file(sqlite_lab: Lab, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow.accounts import create_token

    lab = sqlite_lab
    projects.create_project(lab.db, "a", SCHEMA, actor=lab.admin)
    imports.import_items(
        lab.db, lab.ctx("a", lab.admin), io.BytesIO(WNUT.encode()), fmt="conll", filename="w"
    )
    token = create_token(lab.db, "admin")
    app = create_app(get_settings(home=tmp_path, secret_key="test"), db=lab.db, learner=False)
    with TestClient(app) as client:
        got = client.get(
            "/api/projects/a/export",
            params={"format": "conll"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/plain")
    assert 'filename="a.conll"' in got.headers["content-disposition"]
    assert [_words(i) for i in _read(got.text)] == [_words(i) for i in _read(WNUT)]


def test_predictions_cannot_come_from_a_conll_file() -> None:
    with pytest.raises(LabelloopError, match="no predictions with scores"):
        make_importer("conll", prediction_field="pred")
