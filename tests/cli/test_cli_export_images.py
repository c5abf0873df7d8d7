"""`labelloop export SLUG --format yolo|coco --images`: a project built from an uploaded zip
moves to another project as a zip holding its images, which that project stores as its own."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

SCHEMA = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}


def _png(shade: int, size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, shade).save(out, format="PNG")
    return out.getvalue()


DATASET: dict[str, str | bytes] = {
    "data.yaml": "path: .\ntrain: images/train\nval: images/val\nnames: {0: car, 1: person}\n",
    "images/train/a.png": _png(10),
    "images/train/north/a.png": _png(20, (50, 30)),  # the same base name in another folder
    "images/train/b.png": _png(40),  # no label file: unlabeled, not exported
    "images/val/c.png": _png(30),
    "labels/train/a.txt": "0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.2 0.3\n",
    "labels/train/north/a.txt": "1 0.5 0.5 0.4 0.4\n",
    "labels/val/c.txt": "1 0.5 0.5 0.25 0.5\n",
}


def _project(cli: Any, tmp_path: Path, slug: str) -> None:
    path = tmp_path / f"{slug}.json"
    path.write_text(json.dumps(SCHEMA))
    cli("projects", "create", slug, "--schema", str(path))


def _uploaded(cli: Any, tmp_path: Path, slug: str = "a") -> None:
    """Project ``slug`` built from an uploaded YOLO zip with its images."""
    cli("init")
    _project(cli, tmp_path, slug)
    zipped = tmp_path / "cars.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for name, data in DATASET.items():
            archive.writestr(name, data)
    done = json.loads(cli("import", slug, str(zipped), "--json").stdout)
    assert (done["items"], done["labeled"], done["eval"]) == (4, 3, 1)


def _labels(cli: Any, slug: str, media: Path) -> list[tuple[str, bytes, Any]]:
    """A project's exported labels, each with its split and its image's bytes (the paths
    differ between projects: each holds its own copy)."""
    rows = []
    for split in ("pool", "eval"):
        out = cli("export", slug, "--split", split).stdout
        for row in map(json.loads, out.splitlines()):
            assert row["text"].startswith(f"uploads/{slug}/")
            rows.append((split, (media / row["text"]).read_bytes(), row["value"]))
    return sorted(rows, key=repr)


@pytest.mark.parametrize("fmt", ["yolo", "coco"])
def test_an_export_with_images_imports_into_another_project_with_the_same_boxes(
    cli: Any, tmp_path: Path, fmt: str
) -> None:
    _uploaded(cli, tmp_path)
    media = tmp_path / "home" / "media"
    out = tmp_path / f"a.{fmt}.zip"
    said = cli("export", "a", "--format", fmt, "--images", "-o", str(out))
    assert f"exported 3 labeled items to {out}" in said.stdout
    assert "in it as its validation images" in said.stderr
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        images = sorted(n for n in names if n.endswith(".png"))
        assert images[2] == "images/val/c.png"
        assert images[0] == "images/train/a.png" and images[1].startswith("images/train/a_")
        assert {archive.read(n) for n in images} == {
            DATASET[f"images/{p}"] for p in ("train/a.png", "train/north/a.png", "val/c.png")
        }
        assert all(not n.startswith(("/", "..")) and "/../" not in n for n in names)
        if fmt == "coco":
            assert "annotations/instances_train.json" in names
            assert "annotations/instances_val.json" in names
        else:
            assert {"data.yaml", "images.txt", "val.txt", "labels/val/c.txt"} <= set(names)

    _project(cli, tmp_path, "b")
    back = json.loads(cli("import", "b", str(out), "--format", fmt, "--json").stdout)
    assert (back["items"], back["labeled"], back["eval"]) == (3, 3, 1)
    assert _labels(cli, "b", media) == _labels(cli, "a", media)
    stored = {p.name for p in (media / "uploads" / "b").rglob("*.png")}
    assert len(stored) == 3  # b's own copy, under its own uploads folder


def test_an_export_with_images_of_the_eval_items_imports_back_as_eval_items(
    cli: Any, tmp_path: Path
) -> None:
    _uploaded(cli, tmp_path)
    out = tmp_path / "a.coco.zip"
    cli("export", "a", "--format", "coco", "--images", "--split", "eval", "-o", str(out))
    _project(cli, tmp_path, "b")
    back = json.loads(cli("import", "b", str(out), "--json").stdout)
    assert (back["items"], back["labeled"], back["eval"]) == (1, 1, 1)


def test_an_item_whose_image_is_gone_refuses_the_export_naming_it(cli: Any, tmp_path: Path) -> None:
    _uploaded(cli, tmp_path)
    media = tmp_path / "home" / "media"
    gone = next((media / "uploads" / "a").rglob("c.png"))
    gone.unlink()
    out = tmp_path / "a.yolo.zip"
    refused = cli("export", "a", "--format", "yolo", "--images", "-o", str(out), code=1)
    assert "Traceback" not in refused.output
    said = " ".join(refused.stderr.split())
    shown = gone.relative_to(media).as_posix()
    assert "1 item of the export cannot bring its image, so no export with images was " in said
    assert f"media path '{shown}': no such file under the media roots" in said
    assert not out.exists() and not list(tmp_path.glob(".a.yolo.zip.*"))  # nothing half-written
    plain = cli("export", "a", "--format", "yolo", "-o", str(out))  # the labels still export
    assert "exported 3 labeled items" in plain.stdout


def test_an_export_with_images_reads_no_other_project_s_uploaded_images(
    cli: Any, tmp_path: Path
) -> None:
    """An item whose file became a link into another project's uploads (after its import)
    refuses the export: a project's export brings only its own images."""
    _uploaded(cli, tmp_path)
    media = tmp_path / "home" / "media"
    (media / "own.png").write_bytes(_png(90))
    link = media / "link.png"
    link.symlink_to(media / "own.png")
    _project(cli, tmp_path, "b")
    row = {"image": "link.png", "label": [{"x": 1, "y": 1, "w": 5, "h": 5, "label": "car"}]}
    data = tmp_path / "b.jsonl"
    data.write_text(json.dumps(row) + "\n")
    cli("import", "b", str(data), "--label-field", "label")
    link.unlink()
    link.symlink_to(next((media / "uploads" / "a").rglob("c.png")))
    out = tmp_path / "b.coco.zip"
    refused = cli("export", "b", "--format", "coco", "--images", "-o", str(out), code=1)
    said = " ".join(refused.stderr.split())
    assert "media path 'link.png': lies in another project's uploaded images" in said
    assert not out.exists()


def test_images_go_only_with_yolo_and_coco(cli: Any, tmp_path: Path) -> None:
    _uploaded(cli, tmp_path)
    refused = cli("export", "a", "--format", "jsonl", "--images", code=1)
    said = " ".join(refused.stderr.split())
    assert "an export with its images (images) is a coco or yolo zip; jsonl holds no images" in said


def test_every_answer_does_not_come_with_the_images(cli: Any, tmp_path: Path) -> None:
    """--annotations writes every answer, in formats that hold no images: with --images too
    the export is refused, rather than written without the images it was asked for."""
    _uploaded(cli, tmp_path)
    out = tmp_path / "a.zip"
    refused = cli("export", "a", "--annotations", "--images", "-o", str(out), code=1)
    said = " ".join(refused.stderr.split())
    assert "every annotator's answers (annotations) come without the images" in said
    assert not out.exists()


@pytest.mark.parametrize("fmt", ["yolo", "coco"])
def test_an_export_past_what_one_upload_takes_says_so_and_how_to_import_it(
    cli: Any, tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip with more images than one upload takes (the limits shrunk here, to 2 images) is
    written with a warning saying another project refuses it as an upload, and the way the
    warning gives (unzipped under a media root, imported from there) brings it in whole."""
    from labelloop.ingest import yolo

    _uploaded(cli, tmp_path)
    monkeypatch.setattr(yolo, "MAX_STORED_IMAGES", 2)
    media = tmp_path / "home" / "media"
    out = tmp_path / f"a.{fmt}.zip"
    said = cli("export", "a", "--format", fmt, "--images", "-o", str(out))
    warned = " ".join(said.stderr.split())
    assert "warning: the zip holds 3 images (" in warned
    assert "more than a labelloop upload takes in one zip (2 images, 8.0 GiB)" in warned
    assert "uploaded to a project it is refused. Unzip it under a media root" in warned
    _project(cli, tmp_path, "b")
    refused = cli("import", "b", str(out), code=1)
    assert "more than 2 images in one zip" in " ".join(refused.stderr.split())

    with zipfile.ZipFile(out) as archive:
        archive.extractall(media / "moved")
    if fmt == "yolo":
        assert "labelloop import SLUG FOLDER --format yolo" in warned
        cli("import", "b", str(media / "moved"), "--format", "yolo")
    else:
        assert "instances_train.json --format coco, and instances_val.json with --split" in warned
        found = media / "moved" / "annotations"
        cli("import", "b", str(found / "instances_train.json"), "--format", "coco")
        cli("import", "b", str(found / "instances_val.json"), "--format", "coco", "--split", "eval")
    rows = []
    for slug in ("a", "b"):
        for split in ("pool", "eval"):
            for row in map(json.loads, cli("export", slug, "--split", split).stdout.splitlines()):
                rows.append((slug, split, (media / row["text"]).read_bytes(), row["value"]))
    mine = sorted((r[1:] for r in rows if r[0] == "a"), key=repr)
    assert sorted((r[1:] for r in rows if r[0] == "b"), key=repr) == mine


def test_an_export_within_what_one_upload_takes_warns_of_nothing(cli: Any, tmp_path: Path) -> None:
    _uploaded(cli, tmp_path)
    said = cli("export", "a", "--format", "yolo", "--images", "-o", str(tmp_path / "a.zip"))
    assert "warning" not in said.stderr


def _ids(cli: Any, slug: str) -> list[tuple[str, Any]]:
    """Each labeled item's id with its boxes, pool and eval."""
    rows = []
    for split in ("pool", "eval"):
        for row in map(json.loads, cli("export", slug, "--split", split).stdout.splitlines()):
            rows.append((row["external_id"], row["value"]))
    return sorted(rows, key=repr)


def test_a_yolo_export_with_images_imports_back_with_the_items_ids(
    cli: Any, tmp_path: Path
) -> None:
    """Two images named alike are renamed apart in the zip; each item comes back with its id
    all the same, uploaded as a zip or imported unzipped as a folder."""
    _uploaded(cli, tmp_path)
    out = tmp_path / "a.yolo.zip"
    cli("export", "a", "--format", "yolo", "--images", "-o", str(out))
    _project(cli, tmp_path, "b")
    cli("import", "b", str(out))
    assert {i for i, _ in _ids(cli, "a")} == {
        "images/train/a.png",
        "images/train/north/a.png",
        "images/val/c.png",
    }
    assert _ids(cli, "b") == _ids(cli, "a")
    media = tmp_path / "home" / "media"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(media / "moved")
    _project(cli, tmp_path, "c")
    cli("import", "c", str(media / "moved"), "--format", "yolo")
    assert _ids(cli, "c") == _ids(cli, "a")


def test_a_yolo_export_of_labels_imports_back_with_the_items_ids(cli: Any, tmp_path: Path) -> None:
    cli("init")
    _project(cli, tmp_path, "a")
    media = tmp_path / "home" / "media"
    (media / "ydata" / "images").mkdir(parents=True)
    rows = []
    for n in (1, 2):
        (media / "ydata" / "images" / f"{n}.png").write_bytes(_png(10 * n))
        box = {"x": 1, "y": 1, "w": 5 * n, "h": 5, "label": "car"}
        rows.append({"id": f"car-{n}", "image": f"ydata/images/{n}.png", "label": [box]})
    data = tmp_path / "a.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    cli("import", "a", str(data), "--id-field", "id", "--label-field", "label")
    out = tmp_path / "a.yolo.zip"
    cli("export", "a", "--format", "yolo", "-o", str(out))
    _project(cli, tmp_path, "b")
    cli("import", "b", str(out))
    assert [i for i, _ in _ids(cli, "b")] == ["car-1", "car-2"]
    assert _ids(cli, "b") == _ids(cli, "a")
