"""COCO JSON: boxes in and out, through the format classes and the command line."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.domain import ExportRecord
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest import CocoExporter, CocoImporter, make_exporter
from labelloop.schema import parse_schema
from labelloop.store.db import Database
from labelloop.store.tables import item

SCHEMA = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [
        {"name": "scene", "type": "choice", "labels": ["day", "night"]},
        {"name": "objects", "type": "boxes", "labels": ["car", "person"]},
    ],
}
CATEGORIES = [{"id": 7, "name": "car"}, {"id": 9, "name": "person"}]


def _doc(**changes: Any) -> dict[str, Any]:
    doc = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
            {"id": 2, "file_name": "b.png"},
            {"id": 3, "file_name": "c.png"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 5]},
            {"id": 2, "image_id": 1, "category_id": 9, "bbox": [20, 0, 5, 25.5]},
            {"id": 3, "image_id": 3, "category_id": 9, "bbox": [0, 0, 4, 4], "score": 0.25},
        ],
        "categories": CATEGORIES,
    }
    return {**doc, **changes}


def _read(doc: Any) -> list[Any]:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return list(CocoImporter(control="objects").read(io.BytesIO(raw)))


def test_annotations_become_box_labels_and_scored_ones_pre_annotations() -> None:
    a, b, c = _read(_doc())
    assert (a.line, a.payload, a.external_id) == (1, {"image": "a.png"}, "a.png")
    assert a.label == {
        "objects": [
            {"x": 1, "y": 2, "w": 10, "h": 5, "label": "car"},
            {"x": 20, "y": 0, "w": 5, "h": 25.5, "label": "person"},
        ]
    }
    assert a.prediction is None
    assert b.label is None and b.prediction is None  # no annotations: not labeled yet
    assert c.label is None
    assert c.prediction == {
        "objects": [{"x": 0, "y": 0, "w": 4, "h": 4, "label": "person", "score": 0.25}]
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"{not json", "line 1: not valid JSON"),
        (b"[]", "expected a COCO JSON object, got list"),
        (_doc(images=None), "field 'images': missing or not a list"),
        (
            _doc(annotations=[{"image_id": 2, "category_id": 8, "bbox": [0, 0, 1, 1]}]),
            "image 2, field 'annotations[0].category_id': 8 is not one of the file's categories",
        ),
        (
            _doc(annotations=[{"image_id": 3, "category_id": 7, "bbox": [0, 0, 1]}]),
            "image 3, field 'annotations[0].bbox': must be [x, y, w, h]",
        ),
        (
            # named by its box's place among the image's boxes before ('objects[1]')
            _doc(annotations=[{"image_id": 1, "category_id": 7, "bbox": [35, 0, 10, 5]}]),
            "image 1, field 'annotations[0].bbox': box ends past the image width (40)",
        ),
        (
            _doc(
                annotations=[
                    {"image_id": 1, "category_id": 7, "bbox": [1, 2, 10, 5]},
                    {"image_id": 1, "category_id": 9, "bbox": [0, 20, 5, 10.6]},
                ]
            ),
            "image 1, field 'annotations[1].bbox': box ends past the image height (30)",
        ),
        (_doc(images=[{"id": 1, "file_name": ""}]), "image 1, field 'file_name'"),
        (_doc(images=[{"file_name": "a.png"}]), "image 1, field 'id': missing"),
        (
            _doc(images=[{"id": 1, "file_name": "a.png"}, {"id": [2], "file_name": "b.png"}]),
            "image 2, field 'id': must be a number or a text, got list",
        ),
        (
            _doc(annotations=[{"image_id": {"id": 1}, "category_id": 7, "bbox": [0, 0, 1, 1]}]),
            "field 'annotations[0].image_id': must be a number or a text, got object",
        ),
        (
            _doc(categories=[*CATEGORIES, {"id": [3], "name": "bus"}]),
            "field 'categories[2].id': must be a number or a text, got list",
        ),
        (
            _doc(annotations=[{"image_id": 3, "category_id": [7], "bbox": [0, 0, 1, 1]}]),
            "image 3, field 'annotations[0].category_id': must be a number or a text, got list",
        ),
    ],
)
def test_bad_documents_name_the_image_and_field(doc: Any, message: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        _read(doc)
    assert info.value.message.startswith(message)


def _record(item_id: int, boxes: list[dict[str, Any]], **payload: Any) -> ExportRecord:
    return ExportRecord(
        item_id=item_id,
        external_id=f"e{item_id}",
        text=f"img/{item_id}.png",
        label="day",
        resolution="single",
        annotator="ann",
        annotated_at=None,
        active_ms=None,
        guideline_version=None,
        schema_version=None,
        model_version=None,
        suggestion=None,
        suggestion_confidence=None,
        strategy=None,
        score=None,
        rank=None,
        reason=None,
        value={"scene": "day", "objects": boxes},
        payload={"image": f"img/{item_id}.png", **payload},
    )


def test_the_exporter_writes_images_categories_and_boxes_with_area() -> None:
    exporter = make_exporter("coco", schema=parse_schema(SCHEMA))
    sink = io.BytesIO()
    boxes = [{"x": 1.5, "y": 2, "w": 10, "h": 4, "label": "person"}]
    exporter.write([_record(5, boxes, width=64, height=48), _record(6, [])], sink)
    doc = json.loads(sink.getvalue())
    assert doc["categories"] == [
        {"id": 1, "name": "car", "supercategory": "objects"},
        {"id": 2, "name": "person", "supercategory": "objects"},
    ]
    assert [(i["id"], i["file_name"], i.get("width"), i.get("height")) for i in doc["images"]] == [
        (5, "img/5.png", 64, 48),
        (6, "img/6.png", None, None),
    ]
    assert doc["annotations"] == [
        {
            "id": 1,
            "image_id": 5,
            "category_id": 2,
            "bbox": [1.5, 2, 10, 4],
            "area": 40,
            "iscrowd": 0,
        }
    ]
    again = list(CocoImporter(control="objects").read(io.BytesIO(sink.getvalue())))
    assert [r.label for r in again] == [
        {"objects": boxes},
        {"objects": []},
    ]  # empty stays an answer


def test_coco_export_needs_a_boxes_control() -> None:
    text = {"name": "t", "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"]}]}
    with pytest.raises(LabelloopError, match="COCO export needs a boxes control"):
        make_exporter("coco", schema=parse_schema(text))
    # the way out names every format that holds the project's controls, and none that refuses it
    spans = {"name": "s", "controls": [{"name": "e", "type": "spans", "labels": ["a"]}]}
    with pytest.raises(LabelloopError) as refused:
        make_exporter("coco", schema=parse_schema(spans))
    assert str(refused.value).endswith(
        "export jsonl, conll, label_studio, doccano or prodigy instead"
    )
    assert isinstance(make_exporter("coco"), CocoExporter)


@pytest.fixture
def cli(tmp_path: Path, no_labelloop_env: None) -> Any:
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "COLUMNS": "200"}

    def run(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    schema = tmp_path / "street.json"
    schema.write_text(json.dumps(SCHEMA))
    run("init")
    run("projects", "create", "street", "--schema", str(schema))
    media = tmp_path / "home" / "media" / "set"
    media.mkdir(parents=True)
    for name, shade in (("a.png", 10), ("b.png", 90), ("c.png", 200)):
        Image.new("L", (40, 30), shade).save(media / name)
    return run


def _write(tmp_path: Path, doc: dict[str, Any]) -> str:
    for image in doc["images"]:
        image["file_name"] = "set/" + image["file_name"]
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_cli_imports_coco_checks_boxes_against_the_image_and_exports_it_back(
    cli: Any, tmp_path: Path
) -> None:
    too_wide = _doc(annotations=[{"image_id": 2, "category_id": 7, "bbox": [35, 0, 10, 5]}])
    refused = cli("import", "street", _write(tmp_path, too_wide), "--format", "coco", code=1)
    assert "image 2: " in refused.output and "past the image width (40)" in refused.output
    done = json.loads(
        cli("import", "street", _write(tmp_path, _doc()), "--format", "coco", "--json").output
    )
    assert done["items"] == 3
    # the target is the choice control, so boxes alone do not make an item labeled: they come
    # in as pre-annotations, and the summary says so
    assert done["labeled"] == 0
    assert done["notes"] == [
        "2 images' boxes came in as pre-annotations of 'objects', for annotators to accept or "
        "fix: the project's target 'scene' is what labels an item, and a COCO file holds only "
        "boxes"
    ]
    with Database(f"sqlite:///{tmp_path / 'home' / 'labelloop.db'}").read() as conn:
        stored = dict(conn.execute(select(item.c.external_id, item.c.prediction)).all())
    assert [b["label"] for b in stored["set/a.png"]["objects"]] == ["car", "person"]
    assert stored["set/b.png"] is None and len(stored["set/c.png"]["objects"]) == 1
    out = tmp_path / "out.json"
    cli("export", "street", "--format", "coco", "-o", str(out))
    assert json.loads(out.read_text())["images"] == []
    csv = cli("export", "street", "--format", "csv", code=1)
    assert "CSV cannot hold the boxes of control 'objects'" in csv.output
    assert "export jsonl, coco, label_studio or yolo instead" in csv.output


def test_cli_scales_the_boxes_of_an_image_declared_at_another_size_and_says_so(
    cli: Any, tmp_path: Path
) -> None:
    """COCO boxes are in the pixels of the size an image declares: a file of 40x30 pixels
    declared as 80x60 (a downscaled copy) takes its boxes at half their numbers."""
    doc = _doc(
        images=[
            {"id": 1, "file_name": "a.png", "width": 80, "height": 60},
            {"id": 2, "file_name": "b.png", "width": 40, "height": 30},
        ],
        annotations=[
            {"image_id": 1, "category_id": 7, "bbox": [60, 40, 20, 20]},  # past 40x30 as given
            {"image_id": 2, "category_id": 9, "bbox": [1, 2, 3, 4]},
        ],
    )
    path = _write(tmp_path, doc)
    done = json.loads(cli("import", "street", path, "--format", "coco", "--json").output)
    assert done["items"] == 2
    assert done["notes"][0] == (
        "'set/a.png': the file gives its size as 80×60 but the image is 40×30 pixels; "
        "its boxes were scaled to the image"
    )
    assert len(done["notes"]) == 2  # the other is the pre-annotations note: b.png's size is right
    with Database(f"sqlite:///{tmp_path / 'home' / 'labelloop.db'}").read() as conn:
        stored = dict(conn.execute(select(item.c.external_id, item.c.prediction)).all())
    assert stored["set/a.png"]["objects"] == [
        {"x": 30.0, "y": 20.0, "w": 10.0, "h": 10.0, "label": "car"}
    ]
    assert stored["set/b.png"]["objects"] == [
        {"x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0, "label": "person"}
    ]
    shown = cli("import", "street", path, "--format", "coco").output
    assert "nothing new: all 2 records were already in the project (street)" in shown
    assert "came in as pre-annotations" not in shown  # nothing came in
    assert "80×60" not in shown  # skipped, a.png had nothing scaled


def test_cli_refuses_an_image_that_shows_turned_rather_than_stretch_its_boxes(
    cli: Any, tmp_path: Path
) -> None:
    """A photo whose COCO file gives the size its sensor wrote (30x40) but shows 40x30, its EXIF
    rotation applied: scaled per side, its boxes would be squeezed one way and drawn out the
    other, so the import stops naming the image and both sizes."""
    doc = _doc(
        images=[{"id": 1, "file_name": "a.png", "width": 30, "height": 40}],
        annotations=[{"image_id": 1, "category_id": 7, "bbox": [0, 30, 20, 10]}],
    )
    refused = cli("import", "street", _write(tmp_path, doc), "--format", "coco", code=1)
    assert "Traceback" not in refused.output
    assert (
        "image 1: 'set/a.png': the file gives its size as 30×40 but the image is 40×30 pixels: "
        "it appears turned" in " ".join(refused.output.split())
    )
    assert "imported" not in refused.output


@pytest.mark.parametrize("hostile", ["../outside.png", "/etc/passwd", "set/missing.png"])
def test_cli_refuses_coco_file_names_outside_the_media_root(
    cli: Any, tmp_path: Path, hostile: str
) -> None:
    (tmp_path / "home" / "outside.png").write_bytes(
        (tmp_path / "home" / "media" / "set" / "a.png").read_bytes()
    )
    doc = _doc(images=[{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": hostile}])
    path = _write(tmp_path, doc)
    raw = json.loads(Path(path).read_text())
    raw["images"][1]["file_name"] = hostile
    Path(path).write_text(json.dumps(raw))
    refused = cli("import", "street", path, "--format", "coco", code=1)
    assert "image 2, field 'file_name'" in refused.output
    assert "imported" not in refused.output


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"7" * 4_301, "not valid JSON: a number is longer than 4,300 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON: nested too deeply"),
    ],
    ids=["long-number", "deep"],
)
def test_json_too_much_for_python_is_refused(value: bytes, reason: str) -> None:
    with pytest.raises(ImportFormatError) as info:
        _read(b'{"images": [], "info": ' + value + b"}")
    assert (info.value.line, info.value.reason) == (1, reason)


@pytest.mark.parametrize(
    ("json_in", "images_in", "name"),
    [
        ("set/annotations", "set/images", "instances_default.json"),
        ("set", "set", "instances_default.json"),
        ("set/annotations", "set/images/Train", "instances_Train.json"),
    ],
    ids=["cvat", "beside", "cvat-subset"],
)
def test_cli_finds_a_coco_file_s_images_where_cvat_exports_them(
    cli: Any, tmp_path: Path, json_in: str, images_in: str, name: str
) -> None:
    """CVAT's "COCO 1.0" export names each image by its name alone ("frame_0.png"), in an
    images/ folder beside annotations/instances_default.json: unzipped under the media root,
    its import was refused ("media path 'frame_0.png': no such file under the media roots").
    An export of several subsets puts each one's images in images/<subset>/, which a subset's
    file imported alone (instances_Train.json) was not read from."""
    media = tmp_path / "home" / "media"
    (media / images_in).mkdir(parents=True, exist_ok=True)
    (media / "set" / "a.png").rename(media / images_in / "frame_0.png")
    doc = _doc(
        images=[{"id": 1, "file_name": "frame_0.png", "width": 40, "height": 30}],
        annotations=[{"image_id": 1, "category_id": 7, "bbox": [5, 6, 10, 12]}],
    )
    path = media / json_in / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    done = json.loads(cli("import", "street", str(path), "--format", "coco", "--json").output)
    assert done["items"] == 1
    assert (
        f"1 image came in from '{images_in}/' (beside the COCO file), as no media root holds "
        "it at the file_name given"
    ) in done["notes"]
    with Database(f"sqlite:///{tmp_path / 'home' / 'labelloop.db'}").read() as conn:
        (stored,) = conn.execute(select(item.c.payload, item.c.prediction)).all()
    assert stored.payload["image"] == f"{images_in}/frame_0.png"
    assert stored.prediction["objects"] == [
        {"x": 5.0, "y": 6.0, "w": 10.0, "h": 12.0, "label": "car"}
    ]


def test_cli_imports_a_coco_zip_as_the_page_does(cli: Any, tmp_path: Path) -> None:
    """A .zip of CVAT's COCO export (its JSON and images/) given to the CLI is read as COCO, its
    images stored under the media root, as the page's upload reads it."""
    media = tmp_path / "home" / "media"
    doc = _doc(
        images=[{"id": 1, "file_name": "frame_0.png", "width": 40, "height": 30}],
        annotations=[{"image_id": 1, "category_id": 7, "bbox": [5, 6, 10, 12]}],
    )
    zipped = tmp_path / "cvat.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("annotations/instances_default.json", json.dumps(doc))
        archive.writestr("images/frame_0.png", (media / "set" / "a.png").read_bytes())
    done = json.loads(cli("import", "street", str(zipped), "--json").output)
    assert done["items"] == 1
    assert not any("beside the COCO file" in note for note in done.get("notes", []))
    (kept,) = (media / "uploads" / "street").rglob("*.png")
    assert kept.relative_to(media).parts[-2:] == ("images", "frame_0.png")


def test_without_a_schema_categories_are_numbered_by_name_in_every_file() -> None:
    """Without a project's labels to number them by, categories are numbered in name order:
    the same label has the same id in an export's two files, and in every export."""
    from dataclasses import replace

    def record(item_id: int, labels: list[str], split: str) -> ExportRecord:
        boxes = [{"x": 1, "y": 1, "w": 2, "h": 2, "label": label} for label in labels]
        return replace(_record(item_id, []), value={"boxes": boxes}, split=split)

    records = [record(1, ["person"], "pool"), record(2, ["truck", "car"], "eval")]
    with TemporaryDirectory() as folder:
        for r in records:
            Path(folder, f"{r.item_id}.png").write_bytes(b"png")
        sink = io.BytesIO()
        CocoExporter().write_with_images(
            records,
            sink,
            files=lambda r: Path(folder, f"{r.item_id}.png").open("rb"),  # noqa: SIM115 (bundled closes it)
        )
    with zipfile.ZipFile(sink) as archive:
        docs = [
            json.loads(archive.read(f"annotations/instances_{s}.json")) for s in ("train", "val")
        ]
    for doc in docs:
        assert [(c["id"], c["name"]) for c in doc["categories"]] == [
            (1, "car"),
            (2, "person"),
            (3, "truck"),
        ]
    named = {c["id"]: c["name"] for c in docs[0]["categories"]}
    assert [named[a["category_id"]] for d in docs for a in d["annotations"]] == [
        "person",
        "truck",
        "car",
    ]
    one = io.BytesIO()
    CocoExporter().write(records[::-1], one)
    assert json.loads(one.getvalue())["categories"] == docs[0]["categories"]


def test_an_id_two_items_share_is_written_for_the_first_only() -> None:
    """Two folders imported apart may give two items one id: the second image is left to be
    named by its file, rather than refusing the import for an id given twice."""
    from dataclasses import replace

    records = [replace(_record(n, []), external_id="a.png") for n in (1, 2)]
    sink = io.BytesIO()
    CocoExporter().write(records, sink)
    images = json.loads(sink.getvalue())["images"]
    assert [i.get("external_id") for i in images] == ["a.png", None]
    assert "external_id" not in images[1]
    back = list(CocoImporter(control="boxes").read(io.BytesIO(sink.getvalue())))
    assert [r.external_id for r in back] == ["a.png", "img/2.png"]
