"""Round trips: import labeled items, export, import the export into a fresh project, export
again, and every control's labels come back the same (JSONL and Label Studio JSON for every type,
CSV for the types a cell can hold, COCO and YOLO for boxes)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from labelloop.errors import LabelloopError
from labelloop.workflow import export, imports, projects, tasks
from tests.conftest import Lab

CHOICE = {"name": "c", "type": "choice", "labels": ["pos", "neg", "mixed"]}
TEXTS = ["Ann flew to Rome", "Bob stayed in Oslo", "A quiet day", "Rome = Eternal City"]

CASES: dict[str, dict[str, Any]] = {
    "choice": {
        "controls": [CHOICE],
        "labels": ["pos", "neg", "mixed", None],
    },
    "multi_choice": {
        "controls": [{"name": "topics", "type": "multi_choice", "labels": ["travel", "home"]}],
        "labels": [["travel"], "home|travel", [], None],
    },
    "rating": {
        "controls": [CHOICE, {"name": "stars", "type": "rating", "max": 4}],
        "labels": [{"c": "pos", "stars": 4}, {"c": "neg", "stars": "1"}, {"c": "pos"}, None],
    },
    "text": {
        "controls": [CHOICE, {"name": "note", "type": "text"}],
        "labels": [
            {"c": "pos", "note": 'says "hi", then\nleaves'},
            {"c": "neg", "note": "ünïcödé ✓"},
            {"c": "mixed", "note": ""},
            None,
        ],
    },
    "spans": {
        "controls": [
            {
                "name": "ents",
                "type": "spans",
                "labels": ["PER", "LOC"],
                "overlap": True,
                "target": True,
            },
            {"name": "c", "type": "choice", "labels": ["pos", "neg"]},
        ],
        "labels": [
            {"ents": [[12, 16, "LOC"], [0, 3, "PER"]], "c": "pos"},
            {"ents": [{"start": 0, "end": 3, "label": "PER"}, [0, 18, "LOC"]]},
            {"ents": []},
            None,
        ],
    },
}
BOXES = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}
BOX_LABELS = [
    [{"x": 1, "y": 2, "w": 10.25, "h": 5, "label": "car"}],
    [
        {"x": 0, "y": 0, "w": 40, "h": 30, "label": "person"},
        {"x": 3, "y": 3, "w": 1, "h": 1, "label": "car"},
    ],
    [],
    None,
]


def _schema(controls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "Round trip", "data": {"type": "text", "field": "text"}, "controls": controls}


def _export(lab: Lab, ctx: Any, fmt: str) -> bytes:
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt=fmt)
    return sink.getvalue()


def _values(data: bytes, fmt: str) -> dict[str, Any]:
    """external id -> every control's value, as an export says it."""
    if fmt == "jsonl":
        rows = [json.loads(line) for line in data.decode().splitlines()]
        return {r["external_id"]: r["value"] for r in rows}
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        return {r["external_id"]: json.loads(r["value"]) for r in rows}
    doc = json.loads(data)
    names = {c["id"]: c["name"] for c in doc["categories"]}
    out: dict[str, Any] = {i["external_id"]: {"objects": []} for i in doc["images"]}
    by_id = {i["id"]: i["external_id"] for i in doc["images"]}
    for a in doc["annotations"]:
        x, y, w, h = a["bbox"]
        box = {"x": x, "y": y, "w": w, "h": h, "label": names[a["category_id"]]}
        out[by_id[a["image_id"]]]["objects"].append(box)
    return out


def _import(lab: Lab, ctx: Any, data: bytes, fmt: str, **options: Any) -> Any:
    if fmt not in ("coco", "label_studio", "yolo"):
        options = {
            "text_field": "text",
            "id_field": "external_id",
            "label_field": "value",
            **options,
        }
    return imports.import_items(
        lab.db, ctx, io.BytesIO(data), fmt=fmt, filename=f"x.{fmt}", **options
    )


@pytest.mark.parametrize(
    ("case", "fmt"),
    [(case, "jsonl") for case in CASES]
    + [(case, "csv") for case in ("choice", "multi_choice", "rating", "text")],
)
def test_text_labels_survive_export_and_import(lab: Lab, case: str, fmt: str) -> None:
    schema = _schema(CASES[case]["controls"])
    projects.create_project(lab.db, "first", schema, actor=lab.admin)
    first = lab.ctx("first", lab.admin)
    rows = [
        {"id": f"t{i}", "text": text, "label": label}
        for i, (text, label) in enumerate(zip(TEXTS, CASES[case]["labels"], strict=True))
    ]
    report = imports.import_items(
        lab.db,
        first,
        lab.jsonl(rows),
        fmt="jsonl",
        filename="in.jsonl",
        id_field="id",
        label_field="label",
    )
    assert report.n_labeled == 3
    exported = _export(lab, first, fmt)
    before = _values(exported, fmt)
    assert set(before) == {"t0", "t1", "t2"}
    projects.create_project(lab.db, "second", schema, actor=lab.admin)
    second = lab.ctx("second", lab.admin)
    assert _import(lab, second, exported, fmt).n_labeled == 3
    after = _export(lab, second, fmt)
    assert _values(after, fmt) == before
    if case == "spans":
        assert before["t0"]["ents"] == [
            {"start": 0, "end": 3, "label": "PER", "text": "Ann"},
            {"start": 12, "end": 16, "label": "LOC", "text": "Rome"},
        ]
        assert before["t2"] == {"ents": []}  # "nothing here" is an answer, kept as one
    if case == "rating":
        assert before["t1"] == {"c": "neg", "stars": 1}


FORMULA_LIKE = ["=1+1", "'=x", "''@a", "@me", "-3", "+", "'", "plain text", "\tindented"]
FORMULA_LIKE += ["@JetBlue Got flight", "'-1 is a grade", "'''+", "it's fine"]


@pytest.mark.parametrize("label_field", ["value", "label"])
def test_texts_ids_and_labels_like_formulas_survive_a_csv_export(
    lab: Lab, label_field: str
) -> None:
    """A CSV export guards cells a spreadsheet would run as formulas with a leading "'";
    importing it takes exactly that off again, so texts, ids and labels come back as they were
    (even a text that itself starts with "'=")."""
    choice = {"name": "grade", "type": "choice", "labels": ["-1", "+1", "@other", "'=odd"]}
    schema = _schema([choice])
    projects.create_project(lab.db, "first", schema, actor=lab.admin)
    first = lab.ctx("first", lab.admin)
    labels = choice["labels"]
    rows = [
        {"id": text, "text": text, "label": labels[i % len(labels)]}
        for i, text in enumerate(FORMULA_LIKE)
    ]
    imports.import_items(
        lab.db,
        first,
        lab.jsonl(rows),
        fmt="jsonl",
        filename="in.jsonl",
        id_field="id",
        label_field="label",
    )
    exported = _export(lab, first, "csv")
    cells = list(csv.DictReader(io.StringIO(exported.decode(), newline="")))
    assert {c["text"] for c in cells if c["text"].startswith(("=", "+", "-", "@", "\t"))} == set()
    projects.create_project(lab.db, "second", schema, actor=lab.admin)
    second = lab.ctx("second", lab.admin)
    assert _import(lab, second, exported, "csv", label_field=label_field).n_items == len(rows)

    def seen(ctx: Any) -> list[tuple[str, str, str]]:
        got = [json.loads(line) for line in _export(lab, ctx, "jsonl").decode().splitlines()]
        return sorted((r["external_id"], r["text"], r["label"]) for r in got)

    assert seen(second) == seen(first) == sorted((r["id"], r["text"], r["label"]) for r in rows)


def test_an_annotated_value_of_every_control_is_exported(lab: Lab) -> None:
    controls = [*CASES["spans"]["controls"], {"name": "note", "type": "text"}]
    projects.create_project(lab.db, "ner", _schema(controls), actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    lab.import_rows(ctx, [{"id": "a", "text": TEXTS[0]}])
    lab.train(ctx)
    task = tasks.next_task(lab.db, ctx)
    assert task is not None
    value = {"ents": [{"start": 4, "end": 8, "label": "PER"}], "c": "neg", "note": "flew?"}
    tasks.submit(lab.db, ctx, task["assignment_id"], value, active_ms=5)
    (row,) = [json.loads(line) for line in _export(lab, ctx, "jsonl").decode().splitlines()]
    assert row["value"] == {**value, "ents": [{**value["ents"][0], "text": "flew"}]}
    assert row["label"] == [{**value["ents"][0], "text": "flew"}]
    assert (row["resolution"], row["annotator"]) == ("single", "admin")


def _media(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    (media / "street").mkdir(parents=True)
    for i in range(4):
        Image.new("L", (40, 30), 20 + 50 * i).save(media / "street" / f"{i}.png")
    return media


def _labeled_boxes(lab: Lab, tmp_path: Path) -> tuple[Any, Path]:
    """A boxes project "first" with the three labeled street images; its context and media root."""
    media = _media(tmp_path)
    projects.create_project(lab.db, "first", BOXES, actor=lab.admin)
    first = lab.ctx("first", lab.admin)
    rows = [
        {"id": f"b{i}", "image": f"street/{i}.png", "label": label}
        for i, label in enumerate(BOX_LABELS)
    ]
    imports.import_items(
        lab.db,
        first,
        lab.jsonl(rows),
        fmt="jsonl",
        filename="in.jsonl",
        text_field="image",
        id_field="id",
        label_field="label",
        media_roots=(media,),
    )
    return first, media


@pytest.mark.parametrize("fmt", ["jsonl", "coco"])
def test_boxes_survive_export_and_import(lab: Lab, tmp_path: Path, fmt: str) -> None:
    first, media = _labeled_boxes(lab, tmp_path)
    exported = _export(lab, first, fmt)
    before = _values(exported, fmt)
    assert before == {f"b{i}": {"objects": BOX_LABELS[i]} for i in range(3)}
    if fmt == "coco":
        doc = json.loads(exported)
        assert {(i["width"], i["height"]) for i in doc["images"]} == {(40, 30)}
        assert [a["area"] for a in doc["annotations"]] == [51.25, 1200, 1]
    projects.create_project(lab.db, "second", BOXES, actor=lab.admin)
    second = lab.ctx("second", lab.admin)
    assert _import(lab, second, exported, fmt, media_roots=(media,)).n_labeled == 3
    assert _values(_export(lab, second, fmt), fmt) == before


def _boxes_by_image(lab: Lab, ctx: Any) -> dict[str, Any]:
    """image path -> its boxes as a JSONL export says them (YOLO files hold no item ids)."""
    rows = [json.loads(line) for line in _export(lab, ctx, "jsonl").decode().splitlines()]
    return {r["text"]: r["value"]["objects"] for r in rows}


def test_boxes_survive_a_yolo_round_trip_as_a_zip_and_as_a_folder(lab: Lab, tmp_path: Path) -> None:
    first, media = _labeled_boxes(lab, tmp_path)
    exported = _export(lab, first, "yolo")
    before = _boxes_by_image(lab, first)
    assert len(before) == 3
    projects.create_project(lab.db, "second", BOXES, actor=lab.admin)
    second = lab.ctx("second", lab.admin)
    report = _import(lab, second, exported, "yolo", media_roots=(media,))
    assert (report.n_items, report.n_labeled, report.notes) == (3, 3, ())
    assert _boxes_by_image(lab, second) == before  # 6 decimals of a fraction: exact here
    # unzipped into the media root, the export is a YOLO dataset: the folder imports the same
    # boxes, and the image no export held comes in unlabeled
    with zipfile.ZipFile(io.BytesIO(exported)) as archive:
        archive.extractall(media)
    projects.create_project(lab.db, "third", BOXES, actor=lab.admin)
    third = lab.ctx("third", lab.admin)
    report = imports.import_folder(lab.db, third, media, media_roots=(media,), fmt="yolo")
    assert (report.n_items, report.n_labeled) == (4, 3)
    after = _boxes_by_image(lab, third)
    assert after.keys() == before.keys()
    for image, boxes in before.items():
        for got, want in zip(after[image], boxes, strict=True):
            assert got["label"] == want["label"]
            assert all(abs(got[k] - want[k]) <= 1 for k in "xywh")


def _jsonl_values(lab: Lab, ctx: Any) -> dict[str, Any]:
    return _values(_export(lab, ctx, "jsonl"), "jsonl")


@pytest.mark.parametrize("case", list(CASES))
def test_text_labels_survive_a_label_studio_round_trip(lab: Lab, case: str) -> None:
    schema = _schema(CASES[case]["controls"])
    projects.create_project(lab.db, "first", schema, actor=lab.admin)
    first = lab.ctx("first", lab.admin)
    rows = [
        {"id": f"t{i}", "text": text, "label": label}
        for i, (text, label) in enumerate(zip(TEXTS, CASES[case]["labels"], strict=True))
    ]
    lab.import_rows(first, rows, labeled=True)
    exported = _export(lab, first, "label_studio")
    assert len(json.loads(exported)) == 3
    projects.create_project(lab.db, "second", schema, actor=lab.admin)
    second = lab.ctx("second", lab.admin)
    assert _import(lab, second, exported, "label_studio").n_labeled == 3
    assert _jsonl_values(lab, second) == _jsonl_values(lab, first)


def test_boxes_survive_a_label_studio_round_trip(lab: Lab, tmp_path: Path) -> None:
    first, media = _labeled_boxes(lab, tmp_path)
    exported = _export(lab, first, "label_studio")
    tasks = json.loads(exported)
    assert tasks[0]["data"] == {"image": "/data/local-files/?d=street/0.png"}
    (box,) = tasks[0]["annotations"][0]["result"]
    assert (box["original_width"], box["original_height"]) == (40, 30)
    # x=1, w=10.25 px of a 40 px wide image: 2.5% and 25.625%
    assert box["value"]["x"] == 2.5 and box["value"]["width"] == pytest.approx(25.625)
    projects.create_project(lab.db, "second", BOXES, actor=lab.admin)
    second = lab.ctx("second", lab.admin)
    assert _import(lab, second, exported, "label_studio", media_roots=(media,)).n_labeled == 3
    assert _jsonl_values(lab, second) == _jsonl_values(lab, first)


def test_csv_export_and_import_of_spans_point_to_every_format_that_holds_them(lab: Lab) -> None:
    # They named jsonl and conll only; doccano, Prodigy and Label Studio files carry spans too.
    projects.create_project(lab.db, "ner", _schema(CASES["spans"]["controls"]), actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    with pytest.raises(LabelloopError) as refused:
        _export(lab, ctx, "csv")
    assert refused.value.message == (
        "CSV cannot hold the spans of control 'ents'; "
        "export jsonl, conll, label_studio, doccano or prodigy instead"
    )
    # An import said "line 2, field 'value': ents: must be a list; got string".
    labeled = b'external_id,text,value\nt1,Rome,"{""ents"": [[0, 4, ""LOC""]]}"\n'
    with pytest.raises(LabelloopError) as refused:
        _import(lab, ctx, labeled, "csv")
    assert refused.value.message == (
        "CSV cannot hold the spans of control 'ents'; "
        "import jsonl, conll, label_studio, doccano or prodigy instead"
    )
    assert _export(lab, ctx, "jsonl") == b""  # nothing half-written


def test_an_image_project_with_its_own_path_field_exports_the_path(
    lab: Lab, tmp_path: Path
) -> None:
    media = _media(tmp_path)
    projects.create_project(
        lab.db, "pets", {**BOXES, "data": {"type": "image", "field": "path"}}, actor=lab.admin
    )
    ctx = lab.ctx("pets", lab.admin)
    row = {"path": "street/1.png", "box": BOX_LABELS[0]}
    imports.import_items(
        lab.db,
        ctx,
        lab.jsonl([row]),
        fmt="jsonl",
        filename="p.jsonl",
        text_field="path",
        label_field="box",
        media_roots=(media,),
    )
    (exported,) = [json.loads(line) for line in _export(lab, ctx, "jsonl").decode().splitlines()]
    assert exported["text"] == "street/1.png"
    (image,) = json.loads(_export(lab, ctx, "coco"))["images"]
    assert (image["file_name"], image["width"], image["height"]) == ("street/1.png", 40, 30)


def test_a_table_row_is_exported_as_an_object(lab: Lab) -> None:
    schema = {
        "name": "Wines",
        "data": {"type": "table", "columns": ["alcohol", "hue"]},
        "controls": [CHOICE],
    }
    projects.create_project(lab.db, "wine", schema, actor=lab.admin)
    ctx = lab.ctx("wine", lab.admin)
    body = b"alcohol,hue,label\n13.2,=1.05,pos\n12.1,0.9,\n"
    imports.import_items(
        lab.db, ctx, io.BytesIO(body), fmt="csv", filename="w.csv", label_field="label"
    )
    (row,) = [json.loads(line) for line in _export(lab, ctx, "jsonl").decode().splitlines()]
    assert isinstance(row["text"], dict) and row["label"] == "pos"
    (cells,) = list(csv.DictReader(io.StringIO(_export(lab, ctx, "csv").decode())))
    assert (cells["alcohol"], cells["hue"], cells["label"]) == ("13.2", "'=1.05", "pos")
    assert "text" not in cells  # the row's columns are the CSV's own
