"""`labelloop import SLUG FOLDER|ZIP --format yolo` and `labelloop export SLUG --format yolo`: a
YOLO dataset under a media root in, a zip of label files out and back, bad files refused whole
with one line naming the file and line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

SCHEMA = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}


def _project(cli: Any, tmp_path: Path, slug: str) -> None:
    path = tmp_path / f"{slug}.json"
    path.write_text(json.dumps(SCHEMA))
    cli("projects", "create", slug, "--schema", str(path))


def _dataset(top: Path) -> Path:
    """A YOLO folder in Ultralytics' layout: three 40x20 images, two with label files."""
    for k, name in enumerate(("a", "b", "c")):
        (top / "images" / "train").mkdir(parents=True, exist_ok=True)
        Image.new("L", (40, 20), 30 * k).save(top / "images" / "train" / f"{name}.png")
    (top / "labels" / "train").mkdir(parents=True)
    (top / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.5 0.5\n0 0.25 0.25 0.5 0.5\n")
    (top / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    (top / "data.yaml").write_text("path: .\ntrain: images/train\nnames: {0: car, 1: person}\n")
    return top


def _errors(result: Any) -> list[str]:
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_a_yolo_folder_imports_exports_and_imports_back(cli: Any, tmp_path: Path) -> None:
    cli("init")
    _project(cli, tmp_path, "street")
    top = _dataset(tmp_path / "home" / "media" / "cars")
    done = json.loads(cli("import", "street", str(top), "--json").stdout)  # told by its files
    assert done | {"batch_id": 0} == {
        "items": 3,
        "labeled": 1,
        "duplicates": 0,
        "split": "pool",
        "batch_id": 0,
    }
    (row,) = [json.loads(r) for r in cli("export", "street").stdout.splitlines()]
    assert row["text"] == "cars/images/train/a.png"
    assert row["value"]["objects"] == [
        {"x": 10.0, "y": 5.0, "w": 20.0, "h": 10.0, "label": "person"},
        {"x": 0.0, "y": 0.0, "w": 20.0, "h": 10.0, "label": "car"},
    ]
    listed = cli("items", "street", "--status", "labeled").output
    assert "2 boxes: person, car" in listed  # as the Items page says it, in drawing order
    out = tmp_path / "street.yolo.zip"
    said = cli("export", "street", "--format", "yolo", "-o", str(out)).output
    assert f"exported 1 labeled item to {out}" in said
    with zipfile.ZipFile(out) as archive:
        assert archive.read("cars/labels/train/a.txt").decode() == (
            "1 0.500000 0.500000 0.500000 0.500000\n0 0.250000 0.250000 0.500000 0.500000\n"
        )
        assert "names:\n  0: car\n  1: person\n" in archive.read("data.yaml").decode()
    _project(cli, tmp_path, "again")
    back = json.loads(cli("import", "again", str(out), "--json").stdout)  # .zip: yolo
    assert (back["items"], back["labeled"]) == (1, 1)
    twice = cli("import", "again", str(out), "--format", "yolo").output
    assert "duplicate image 1" in twice  # the numbers count images, as the zip holds them
    assert "nothing new: the 1 record was already in the project (again)" in twice


def test_a_bad_label_line_refuses_the_whole_folder_naming_file_and_line(
    cli: Any, tmp_path: Path
) -> None:
    cli("init")
    _project(cli, tmp_path, "street")
    top = _dataset(tmp_path / "home" / "media" / "cars")
    (top / "labels" / "train" / "c.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 1.2 0.2\n")
    refused = cli("import", "street", str(top), "--format", "yolo", code=1)
    assert _errors(refused) == [
        "error: labels/train/c.txt line 2: w 1.2 is outside 0..1: YOLO boxes are in fractions "
        "of the image"
    ]
    status = json.loads(cli("status", "street", "--json").stdout)
    assert status["counts"]["pool"] == 0  # a and b, read before it, were not kept either
    zipped = tmp_path / "cars.zip"  # the same dataset zipped: its file named as a zip member
    with zipfile.ZipFile(zipped, "w") as archive:
        for path in sorted(p for p in top.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(top).as_posix())
    assert _errors(cli("import", "street", str(zipped), "--format", "yolo", code=1)) == [
        "error: zip member 'labels/train/c.txt', line 2: w 1.2 is outside 0..1: YOLO boxes are "
        "in fractions of the image"
    ]
    (top / "labels" / "train" / "c.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (top / "labels" / "train" / "d.txt").write_text("")
    (line,) = _errors(cli("import", "street", str(top), code=1))
    assert line.startswith("error: labels/train/d.txt: a label file with no image")


def test_a_yolo_folder_must_lie_under_a_media_root_and_fit_the_project(
    cli: Any, tmp_path: Path
) -> None:
    cli("init")
    _project(cli, tmp_path, "street")
    outside = _dataset(tmp_path / "elsewhere")
    (line,) = _errors(cli("import", "street", str(outside), code=1))
    assert "is not under a media root" in line
    inside = _dataset(tmp_path / "home" / "media" / "cars")
    (line,) = _errors(
        cli("import", "street", str(inside), "--format", "yolo", "--labels-from-folders", code=1)
    )
    assert line == "error: a YOLO dataset's labels are in its label files, not its folders"
    text = tmp_path / "text.json"
    text.write_text(
        json.dumps(
            {
                "name": "T",
                "data": {"type": "image", "field": "image"},
                "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"]}],
            }
        )
    )
    cli("projects", "create", "pets", "--schema", str(text))
    (line,) = _errors(cli("import", "pets", str(inside), "--format", "yolo", code=1))
    assert line == (
        "error: a YOLO file can only be imported into an image project with a boxes control (a "
        "zip is read as a YOLO dataset: to bring images to label, put them in a folder under a "
        "media root and import the folder, with --labels-from-folders to label each by its "
        "subfolder)"
    )


def test_a_yolo_folder_is_read_as_images_where_its_boxes_have_no_place(
    cli: Any, tmp_path: Path
) -> None:
    """Told by its files, a YOLO folder is read as one only for a project with a boxes control
    and without --labels-from-folders: otherwise its images come in as any folder's."""
    cli("init")
    top = _dataset(tmp_path / "home" / "media" / "cars")
    schema = tmp_path / "pets.json"
    choice = {"name": "kind", "type": "choice", "labels": ["images", "other"], "target": True}
    schema.write_text(json.dumps({**SCHEMA, "name": "Pets", "controls": [choice]}))
    cli("projects", "create", "pets", "--schema", str(schema))
    done = json.loads(cli("import", "pets", str(top), "--json").stdout)
    assert (done["items"], done["labeled"]) == (3, 0)
    boxes = {"name": "objects", "type": "boxes", "labels": ["car", "person"]}
    schema.write_text(json.dumps({**SCHEMA, "name": "Both", "controls": [choice, boxes]}))
    cli("projects", "create", "both", "--schema", str(schema))
    by_folder = cli("import", "both", str(top), "--labels-from-folders", "--json").stdout
    assert (json.loads(by_folder)["items"], json.loads(by_folder)["labeled"]) == (3, 3)
    cli("projects", "create", "again", "--schema", str(schema))
    as_images = json.loads(cli("import", "again", str(top), "--format", "folder", "--json").stdout)
    assert (as_images["items"], as_images["labeled"]) == (3, 0)


def _with_val(top: Path) -> Path:
    """The dataset with a validation image, and data.yaml naming both splits."""
    _dataset(top)
    (top / "images" / "val").mkdir()
    Image.new("L", (40, 20), 200).save(top / "images" / "val" / "v.png")
    (top / "labels" / "val").mkdir()
    (top / "labels" / "val" / "v.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    (top / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames: {0: car, 1: person}\n"
    )
    return top


def test_a_yolo_folder_s_val_split_comes_in_as_eval_and_exports_back_as_val(
    cli: Any, tmp_path: Path
) -> None:
    cli("init")
    _project(cli, tmp_path, "street")
    top = _with_val(tmp_path / "home" / "media" / "cars")
    said = cli("import", "street", str(top)).stdout
    assert "imported 4 items into street (3 pool, 1 eval), 2 with labels" in said
    assert "1 of the 4 items came in as eval items, as the file holds them out" in said
    counts = json.loads(cli("status", "street", "--json").stdout)["counts"]
    assert (counts["pool"], counts["eval"], counts["eval_labeled"]) == (3, 1, 1)
    # the imports list said split "pool" for it, as if all 4 had come into the pool
    [listed] = json.loads(cli("imports", "list", "street", "--json").stdout)
    assert (listed["split"], listed["items"], listed["eval_now"]) == ("pool", 4, 1)
    assert "pool, 1 eval" in cli("imports", "list", "street").stdout
    out = tmp_path / "street.yolo.zip"
    done = cli("export", "street", "--format", "yolo", "-o", str(out))
    assert "exported 2 labeled items" in done.stdout
    assert "1 labeled eval item (held out to measure the model) is in it as its validation" in (
        " ".join(done.stderr.split())
    )
    with zipfile.ZipFile(out) as archive:
        assert archive.read("val.txt") == b"./cars/images/val/v.png\n"
        assert archive.read("images.txt") == b"./cars/images/train/a.png\n"
    _project(cli, tmp_path, "again")
    back = json.loads(cli("import", "again", str(out), "--json").stdout)
    assert (back["items"], back["labeled"], back["eval"]) == (2, 2, 1)


def test_a_yolo_zip_with_its_images_is_stored_under_the_media_root(
    cli: Any, tmp_path: Path
) -> None:
    cli("init")
    _project(cli, tmp_path, "street")
    top = _with_val(tmp_path / "dataset")  # not under a media root: the zip brings the images
    zipped = tmp_path / "cars.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for path in sorted(top.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(top).as_posix())
    done = json.loads(cli("import", "street", str(zipped), "--json").stdout)
    assert (done["items"], done["labeled"], done["eval"]) == (4, 2, 1)
    uploads = tmp_path / "home" / "media" / "uploads" / "street"
    (stamp,) = uploads.iterdir()
    stored = sorted(p.relative_to(stamp).as_posix() for p in stamp.rglob("*.png"))
    assert stored == [*(f"images/train/{n}.png" for n in "abc"), "images/val/v.png"]
    rows = [json.loads(r) for r in cli("export", "street", "--split", "eval").stdout.splitlines()]
    assert [r["text"] for r in rows] == [f"uploads/street/{stamp.name}/images/val/v.png"]


def test_a_data_yaml_path_out_of_the_dataset_refuses_the_import_naming_the_key(
    cli: Any, tmp_path: Path
) -> None:
    cli("init")
    _project(cli, tmp_path, "street")
    top = _with_val(tmp_path / "home" / "media" / "cars")
    (top / "data.yaml").write_text("path: /etc\ntrain: images/train\nnames: [car, person]\n")
    (line,) = _errors(cli("import", "street", str(top), code=1))
    assert line.startswith("error: data.yaml line 1: 'path' '/etc' leads out of the folder")
    (top / "data.yaml").write_text("names: [car, person]\nval: ../../../secret\n")
    (line,) = _errors(cli("import", "street", str(top), code=1))
    assert line.startswith("error: data.yaml line 2: 'val' '../../../secret' leads out of")
    zipped = tmp_path / "bad.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("data.yaml", "path: ..\nnames: [car, person]\n")
        archive.write(top / "images" / "val" / "v.png", "images/v.png")
    (line,) = _errors(cli("import", "street", str(zipped), code=1))
    assert line.startswith("error: zip member 'data.yaml', line 1: 'path' '..' leads out of the")
    assert not (tmp_path / "home" / "media" / "uploads" / "street").exists()
    assert json.loads(cli("status", "street", "--json").stdout)["counts"]["pool"] == 0


def test_undoing_an_uploaded_zip_deletes_the_images_it_stored(cli: Any, tmp_path: Path) -> None:
    from tests.workflow.test_workflow_uploads import yolo_zip

    cli("init")
    _project(cli, tmp_path, "street")
    media = tmp_path / "home" / "media"
    media.mkdir(exist_ok=True)
    Image.new("L", (40, 20), 250).save(media / "mine.png")
    first, more = tmp_path / "cars.zip", tmp_path / "more.zip"
    first.write_bytes(yolo_zip({"train/a": 10, "val/b": 20}).getvalue())
    more.write_bytes(yolo_zip({"train/a": 10, "train/c": 30}).getvalue())
    cli("import", "street", str(first))
    said = cli("import", "street", str(more)).stdout
    assert "the file of the 1 duplicate image was not kept: the project has it" in said
    uploads = media / "uploads" / "street"
    assert sum(1 for p in uploads.rglob("*.png")) == 3

    undone = cli("imports", "undo", "street", "1").stdout
    assert " ".join(undone.split()) == (
        "import 1 ('cars.zip') undone: 2 items removed, with 2 imported labels; "
        "2 stored image files deleted"
    )
    assert [p.name for p in uploads.rglob("*.png")] == ["c.png"]
    done = json.loads(cli("imports", "undo", "street", "2", "--json").stdout)
    assert done["files"] == 1
    assert not uploads.exists() and (media / "mine.png").is_file()


def test_a_zip_the_disk_cannot_hold_is_refused_with_a_clear_line(
    cli: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    import shutil

    from labelloop.workflow import uploads
    from tests.workflow.test_workflow_uploads import yolo_zip

    cli("init")
    _project(cli, tmp_path, "street")
    real = shutil.disk_usage
    monkeypatch.setattr(uploads.shutil, "disk_usage", lambda p: real(p)._replace(free=3 << 30))
    zipped = tmp_path / "cars.zip"
    zipped.write_bytes(yolo_zip({"train/a": 10}).getvalue())
    monkeypatch.setattr(uploads, "DISK_RESERVE", 3 << 30)
    (line,) = _errors(cli("import", "street", str(zipped), code=1))
    assert line.startswith("error: the zip's images need ")
    assert line.endswith(
        "bytes and the media root's disk has 3.0 GiB free (3.0 GiB of it is kept free); "
        "nothing was stored: free some space or split the zip"
    )
    assert not (tmp_path / "home" / "media" / "uploads").exists()
    assert json.loads(cli("imports", "list", "street", "--json").stdout) == []
