"""Image projects: folder and JSONL imports, duplicates by file bytes, and learning on pixels."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.workflow import imports, projects
from tests.conftest import Lab

SCHEMA = {
    "name": "Shapes",
    "data": {"type": "image", "field": "path"},
    "controls": [{"name": "shape", "type": "choice", "labels": ["dark", "light"], "target": True}],
}


def _png_bytes(shade: int, *, noise: int = 0) -> bytes:
    """An 8×8 grey PNG."""
    pixels = np.full((8, 8), shade, dtype=np.uint8)
    pixels[0, 0] = noise  # distinct bytes per file
    out = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(out, format="PNG")
    return out.getvalue()


def _png(path: Path, shade: int, *, noise: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png_bytes(shade, noise=noise))


@pytest.fixture
def shapes(sqlite_lab: Lab, tmp_path: Path) -> tuple[Lab, Any, Path]:
    media = tmp_path / "media"
    projects.create_project(sqlite_lab.db, "shapes", SCHEMA, actor=sqlite_lab.admin)
    return sqlite_lab, sqlite_lab.ctx("shapes", sqlite_lab.admin), media


def test_image_schema_defaults_to_the_pixels_featurizer(shapes: Any) -> None:
    _, ctx, _ = shapes
    assert ctx.schema.data_type == "image"
    assert ctx.settings.featurizer == "pixels"


def test_folder_import_labels_from_subfolders_and_reports_duplicates(shapes: Any) -> None:
    lab, ctx, media = shapes
    folder = media / "batch1"
    for i in range(3):
        _png(folder / "dark" / f"d{i}.png", 20, noise=i)
        _png(folder / "light" / f"l{i}.png", 230, noise=i)
    (folder / "light" / "copy.png").write_bytes((folder / "dark" / "d0.png").read_bytes())
    _png(folder / "loose.png", 128)
    report = imports.import_folder(
        lab.db, ctx, folder, media_roots=(media,), labels_from_folders=True
    )
    assert (report.n_items, report.n_labeled, report.n_duplicates) == (7, 6, 1)
    again = imports.import_folder(lab.db, ctx, folder, media_roots=(media,))
    assert (again.n_items, again.n_duplicates) == (0, 8)


def test_sibling_folders_with_the_same_file_names_both_import(shapes: Any) -> None:
    """A folder import's ids are paths within the folder, so they are not held to be unique."""
    lab, ctx, media = shapes
    for k, name in enumerate(("cam1", "cam2")):
        _png(media / name / "IMG_0001.png", 20, noise=k)
    for name in ("cam1", "cam2"):
        assert imports.import_folder(lab.db, ctx, media / name, media_roots=(media,)).n_items == 1


def test_a_folder_outside_the_media_roots_is_refused(shapes: Any, tmp_path: Path) -> None:
    lab, ctx, media = shapes
    _png(tmp_path / "elsewhere" / "a.png", 10)
    with pytest.raises(LabelloopError, match="not under a media root"):
        imports.import_folder(lab.db, ctx, tmp_path / "elsewhere", media_roots=(media,))


def test_a_subfolder_that_is_no_label_aborts_the_import_naming_the_file(shapes: Any) -> None:
    lab, ctx, media = shapes
    _png(media / "f" / "dark" / "a.png", 10)
    _png(media / "f" / "bird" / "b.png", 100)
    with pytest.raises(ImportFormatError) as caught:
        imports.import_folder(
            lab.db, ctx, media / "f", media_roots=(media,), labels_from_folders=True
        )
    assert caught.value.message == (
        "file 1 ('f/bird/b.png'), field 'folder': shape: 'bird' is not one of dark, light"
    )


def test_images_of_another_size_than_a_coco_file_gives_are_told_up_to_ten(shapes: Any) -> None:
    """Told are the images whose boxes were scaled: not one with no boxes, nor one skipped as
    a duplicate."""
    lab, _, media = shapes
    boxes = {**SCHEMA, "controls": [{"name": "b", "type": "boxes", "labels": ["dot"]}]}
    projects.create_project(lab.db, "dots", boxes, actor=lab.admin)
    ctx = lab.ctx("dots", lab.admin)
    doc: dict[str, Any] = {
        "images": [],
        "annotations": [],
        "categories": [{"id": 1, "name": "dot"}],
    }
    for i in range(13):  # 8x8 files given as 16x16; 11 has no boxes, 12 is 0's file again
        if i < 12:
            _png(media / "coco" / f"{i}.png", 10, noise=i)
        name = f"coco/{i % 12}.png"
        doc["images"].append({"id": i, "file_name": name, "width": 16, "height": 16})
        if i != 11:
            doc["annotations"].append({"image_id": i, "category_id": 1, "bbox": [2, 2, 4, 4]})
    report = imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(json.dumps(doc).encode()),
        fmt="coco",
        filename="c.json",
        media_roots=(media,),
    )
    assert (report.n_items, report.n_labeled, report.n_duplicates) == (12, 11, 1)
    assert report.notes[0] == (
        "'coco/0.png': the file gives its size as 16×16 but the image is 8×8 pixels; its boxes "
        "were scaled to the image"
    )
    assert len(report.notes) == 12
    assert report.notes[-2] == (
        "... and 1 more image whose file is not the size the import file gives; its boxes "
        "were scaled to the image too"
    )
    assert report.notes[-1].startswith("1 duplicate carries a label not used")  # image 12


def _cars(lab: Lab, top: Path, labels: dict[str, tuple[int, str]]) -> Any:
    """A project "cars" with a boxes control, and a YOLO dataset of it at ``top``: each image
    of ``labels`` (name: its shade, its label file's text) and the list naming them."""
    boxes = {**SCHEMA, "controls": [{"name": "objects", "type": "boxes", "labels": ["car"]}]}
    projects.create_project(lab.db, "cars", boxes, actor=lab.admin)
    (top / "labels").mkdir(parents=True)
    (top / "data.yaml").write_text("names: [car]\ntrain: images.txt\n")
    (top / "images.txt").write_text("".join(f"./images/{name}.png\n" for name in labels))
    for name, (shade, text) in labels.items():
        _png(top / "images" / f"{name}.png", shade)
        (top / "labels" / f"{name}.txt").write_text(text)
    return lab.ctx("cars", lab.admin)


def test_a_yolo_box_too_small_for_its_image_names_the_label_file_and_line(shapes: Any) -> None:
    lab, _, media = shapes
    top = media / "d"
    tiny = "0 0.5 0.5 0.2 0.2\n\n0 0.5 0.5 0.0001 0.2\n"
    ctx = _cars(lab, top, {"a": (10, "0 0.5 0.5 0.2 0.2\n"), "b": (200, tiny)})
    said = (
        "labels/b.txt line 3: the box is 0.0008×1.6 pixels on its 8×8 image ('d/images/b.png'); "
        "a box must be at least 0.01 pixel wide and tall"
    )
    with pytest.raises(ImportFormatError, match=f"^{re.escape(said)}"):
        imports.import_folder(lab.db, ctx, top, media_roots=(media,), fmt="yolo")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:  # paths under the media root, as exported
        archive.write(top / "data.yaml", "data.yaml")
        archive.writestr("images.txt", "./d/images/a.png\n./d/images/b.png\n")
        for name in ("a", "b"):
            archive.write(top / "labels" / f"{name}.txt", f"d/labels/{name}.txt")
    zipped.seek(0)
    in_zip = "zip member 'd/labels/b.txt', line 3" + said.removeprefix("labels/b.txt line 3")
    with pytest.raises(ImportFormatError, match=f"^{re.escape(in_zip)}"):
        imports.import_items(
            lab.db, ctx, zipped, fmt="yolo", filename="d.zip", media_roots=(media,)
        )


def _coco(images: list[tuple[str, str | None, int]]) -> bytes:
    """A COCO document of 8×8 images (file name, external id or None, the category of its
    one box: 1 or 2)."""
    return json.dumps(
        {
            "images": [
                {"id": k, "file_name": name, "width": 8, "height": 8}
                | ({"external_id": named} if named else {})
                for k, (name, named, _) in enumerate(images, 1)
            ],
            "annotations": [
                {"image_id": k, "category_id": category, "bbox": [1, 1, 2, 2]}
                for k, (_, _, category) in enumerate(images, 1)
            ],
            "categories": [{"id": 1, "name": "dot"}, {"id": 2, "name": "ring"}],
        }
    ).encode()


def _moved(document: bytes) -> bytes:
    """A COCO document with its last image's box moved."""
    doc = json.loads(document)
    doc["annotations"][-1]["bbox"] = [3, 3, 2, 2]
    return json.dumps(doc).encode()


def _zip(members: dict[str, bytes | int]) -> bytes:
    """A zip of ``members``, an 8×8 PNG of that shade for each given a number."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, _png_bytes(data) if isinstance(data, int) else data)
    return out.getvalue()


def test_an_error_citing_an_earlier_image_names_it_as_it_names_its_own(
    shapes: Any, subtests: pytest.Subtests
) -> None:
    """A COCO or YOLO image whose id an earlier image has, or which labels the same picture
    otherwise, names that image as the error names its own: by its number among the images
    (it was "line 1" where the error itself said "image 2"), counted in its COCO file when
    the zip holds several, and with the zip member it is."""
    lab, _, media = shapes
    boxes = {**SCHEMA, "controls": [{"name": "b", "type": "boxes", "labels": ["dot", "ring"]}]}
    projects.create_project(lab.db, "dots", boxes, actor=lab.admin)
    ctx = lab.ctx("dots", lab.admin)
    _png(media / "c" / "a.png", 10)
    _png(media / "c" / "b.png", 10)  # a's picture again
    _png(media / "c" / "d.png", 99)
    train, valid = "train/_annotations.coco.json", "valid/_annotations.coco.json"
    yaml = b"path: .\ntrain: images/train\nnames: {0: dot, 1: ring}\n"
    clash = "id 'x' is also the id of {}, with other content; an id names one item"
    relabel = (  # the label said as a user knows it: it was a digest ('regions:e90bf…')
        "labels the same content as {} differently ('1 box: ring', not '1 box: dot'); "
        "a file gives each item one label"
    )
    cases = [  # (name, format, file, update labels, its error begins)
        (
            "coco id",
            "coco",
            _coco([("c/a.png", "x", 1), ("c/d.png", "x", 1)]),
            False,
            "image 2: " + clash.format("image 1"),
        ),
        (
            "coco label",
            "coco",
            _coco([("c/a.png", None, 1), ("c/b.png", None, 2)]),
            True,
            "image 2: " + relabel.format("image 1"),
        ),
        (
            "coco label placed otherwise",
            "coco",
            _moved(_coco([("c/a.png", None, 1), ("c/b.png", None, 1)])),
            True,
            "image 2: labels the same content as image 1 differently ('1 box: dot' in both, "
            "placed otherwise); a file gives each item one label",
        ),
        (
            "coco zip id",
            "coco",
            _zip(
                {
                    "annotations/instances_default.json": _coco(
                        [("a.png", "x", 1), ("b.png", "x", 1)]
                    ),
                    "images/a.png": 10,
                    "images/b.png": 20,
                }
            ),
            False,
            "zip member 'annotations/instances_default.json', image 2: " + clash.format("image 1"),
        ),
        (
            "coco zip of splits id",
            "coco",
            _zip(
                {
                    train: _coco([("a.png", "x", 1)]),
                    "train/a.png": 10,
                    valid: _coco([("q.png", None, 1), ("b.png", "x", 1)]),
                    "valid/q.png": 30,
                    "valid/b.png": 20,
                }
            ),
            False,
            f"zip member '{valid}', image 2: " + clash.format(f"image 1 of zip member '{train}'"),
        ),
        (
            "coco zip of splits label",
            "coco",
            _zip(
                {
                    train: _coco([("a.png", None, 1)]),
                    "train/a.png": 10,
                    valid: _coco([("q.png", None, 1), ("b.png", None, 2)]),
                    "valid/q.png": 30,
                    "valid/b.png": 10,
                }
            ),
            True,
            f"zip member '{valid}', image 2: " + relabel.format(f"image 1 of zip member '{train}'"),
        ),
        (
            "yolo zip label",
            "yolo",
            _zip(
                {
                    "data.yaml": yaml,
                    "images/train/a.png": 10,
                    "labels/train/a.txt": b"0 0.5 0.5 0.5 0.5\n",
                    "images/train/b.png": 10,
                    "labels/train/b.txt": b"1 0.5 0.5 0.5 0.5\n",
                }
            ),
            True,
            "zip member 'images/train/b.png', image 2: "
            + relabel.format("image 1 (zip member 'images/train/a.png')"),
        ),
    ]
    for name, fmt, data, update_labels, said in cases:
        with subtests.test(case=name):
            zipped = data.startswith(b"PK")
            with pytest.raises(ImportFormatError) as caught:
                imports.import_items(
                    lab.db,
                    ctx,
                    io.BytesIO(data),
                    fmt=fmt,
                    filename="d.zip" if zipped else "d.json",
                    media_roots=(media,),
                    update_labels=update_labels,
                )
            assert caught.value.message.startswith(said)
    assert lab_items(lab, ctx) == []


def _sized(shade: int, width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), shade).save(out, format="PNG")
    return out.getvalue()


def test_an_image_of_a_zip_is_named_as_its_member_not_where_it_was_stored(
    shapes: Any, subtests: pytest.Subtests
) -> None:
    """A zip's images are stored under uploads/SLUG/STAMP/ before their records are read: an
    error or a note on one named that folder ('uploads/dots/20261207-…/train/a.png'), which the
    user never saw, rather than the zip member they sent ('train/a.png')."""
    lab, _, media = shapes
    boxes = {**SCHEMA, "controls": [{"name": "b", "type": "boxes", "labels": ["dot"]}]}
    projects.create_project(lab.db, "dots", boxes, actor=lab.admin)
    ctx = lab.ctx("dots", lab.admin)
    coco = "train/_annotations.coco.json"

    def sized(width: int, height: int) -> bytes:  # a COCO file of one image of that size
        return json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.png", "width": width, "height": height}],
                "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}],
                "categories": [{"id": 1, "name": "dot"}],
            }
        ).encode()

    yolo = {"data.yaml": b"names: [dot]\n", "images/a.png": 10}
    cases = [  # (name, format, zip, its error; None: it imports, its note said)
        (
            "coco zip turned image",
            "coco",
            {coco: sized(8, 16), "train/a.png": _sized(10, 16, 8)},
            f"zip member '{coco}', image 1: zip member 'train/a.png': the file gives its size "
            "as 8×16 but the image is 16×8 pixels: it appears turned",
        ),
        (
            "coco zip image of another shape",
            "coco",
            {coco: sized(8, 8), "train/a.png": _sized(10, 16, 8)},
            f"zip member '{coco}', image 1: zip member 'train/a.png': the file gives its size "
            "as 8×8 but the image is 16×8 pixels, of another shape",
        ),
        (
            "yolo zip box too small",
            "yolo",
            yolo | {"labels/a.txt": b"0 0.5 0.5 0.0001 0.2\n"},
            "zip member 'labels/a.txt', line 1: the box is 0.0008×1.6 pixels on its 8×8 image "
            "('images/a.png'); a box must be at least 0.01 pixel wide and tall",
        ),
        (
            "coco zip image resized",
            "coco",
            {coco: sized(8, 8), "train/a.png": _sized(10, 16, 16)},
            None,
        ),
    ]
    for name, fmt, members, said in cases:
        with subtests.test(case=name):
            source = io.BytesIO(_zip(members))
            options = {"fmt": fmt, "filename": "d.zip", "media_roots": (media,)}
            if said is None:
                report = imports.import_items(lab.db, ctx, source, **options)
                assert report.notes == (
                    "zip member 'train/a.png': the file gives its size as 8×8 but the image "
                    "is 16×16 pixels; its boxes were scaled to the image",
                )
                continue
            with pytest.raises(ImportFormatError) as caught:
                imports.import_items(lab.db, ctx, source, **options)
            assert caught.value.message.startswith(said), caught.value.message


def test_a_folder_s_file_is_named_as_the_summary_numbers_it_with_its_path(
    shapes: Any, subtests: pytest.Subtests
) -> None:
    """An error on a folder's file said "line 3" where the summary counts the folder's files
    (a YOLO folder's images): it names "file 3 ('f/c.png')" ("image 3" in a YOLO folder, or
    a zip of label files naming images under the media root), and the file a clash cites
    alike (it said only "line 1")."""
    lab, ctx, media = shapes
    boxes = {**SCHEMA, "controls": [{"name": "b", "type": "boxes", "labels": ["dot", "ring"]}]}
    projects.create_project(lab.db, "dots", boxes, actor=lab.admin)
    dots = lab.ctx("dots", lab.admin)
    _png(media / "f" / "dark" / "a.png", 10)
    _png(media / "f" / "light" / "a.png", 10)  # dark/a.png's picture again
    (media / "f" / "light" / "c.png").write_text("hello")
    _png(media / "y" / "images" / "a.png", 20)
    _png(media / "y" / "images" / "b.png", 20)  # a.png's picture again
    (media / "y" / "labels").mkdir()
    (media / "y" / "data.yaml").write_text("names: [dot, ring]\n")
    (media / "y" / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (media / "y" / "labels" / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    _png(media / "z" / "images" / "a.png", 30)
    (media / "z" / "images" / "b.png").write_text("hello")
    labels_only = _zip(
        {
            "data.yaml": b"names: [dot, ring]\ntrain: images.txt\n",
            "images.txt": b"./z/images/a.png\n./z/images/b.png\n",
            "z/labels/a.txt": b"0 0.5 0.5 0.2 0.2\n",
        }
    )
    relabel = "labels the same content as {} differently ({}); a file gives each item one label"
    cases = [  # (name, project, folder or zip, format, options, the error)
        (
            "folder image",
            ctx,
            "f",
            "folder",
            {},
            "file 3 ('f/light/c.png'): not a JPEG, PNG or WebP file",
        ),
        (
            "folder labels",
            ctx,
            "f",
            "folder",
            {"labels_from_folders": True, "update_labels": True},
            "file 2 ('f/light/a.png'), field 'folder': "
            + relabel.format("file 1 ('f/dark/a.png')", "'light', not 'dark'"),
        ),
        (
            "yolo folder labels",
            dots,
            "y",
            "yolo",
            {"update_labels": True},
            "image 2 ('y/images/b.png'): "
            + relabel.format("image 1 ('y/images/a.png')", "'1 box: ring', not '1 box: dot'"),
        ),
        (
            "yolo zip of label files",
            dots,
            labels_only,
            "yolo",
            {},
            "image 2 ('z/images/b.png'): not a JPEG, PNG or WebP file",
        ),
    ]
    for name, project, source, fmt, options, said in cases:
        with subtests.test(case=name):
            with pytest.raises(ImportFormatError) as caught:
                if isinstance(source, bytes):
                    imports.import_items(
                        lab.db,
                        project,
                        io.BytesIO(source),
                        fmt=fmt,
                        filename="d.zip",
                        media_roots=(media,),
                        **options,
                    )
                else:
                    imports.import_folder(
                        lab.db, project, media / source, media_roots=(media,), fmt=fmt, **options
                    )
            assert caught.value.message == said


def test_a_fake_image_in_a_folder_aborts_the_import_naming_the_file(shapes: Any) -> None:
    lab, ctx, media = shapes
    _png(media / "b" / "a.png", 10)
    (media / "b" / "b.png").write_text("hello")
    with pytest.raises(ImportFormatError, match="b/b.png") as caught:
        imports.import_folder(lab.db, ctx, media / "b", media_roots=(media,))
    assert caught.value.line == 2
    from labelloop.store import items as store_items

    with lab.db.read() as conn:
        assert store_items.counts(conn, ctx.id).get("pool", 0) == 0  # nothing half-written


def test_a_folder_copied_from_a_mac_imports_its_images_not_the_mac_files_beside_them(
    shapes: Any,
) -> None:
    # A Mac writing to a foreign disk leaves "._a.png" (AppleDouble metadata, no image) beside
    # each file; a zip from macOS holds them under __MACOSX/. They aborted the import.
    lab, ctx, media = shapes
    _png(media / "m" / "a.png", 10)
    _png(media / "m" / "sub" / "b.png", 200)
    (media / "m" / "._a.png").write_bytes(b"\x00\x05\x16\x07 Mac OS X metadata")
    (media / "m" / "__MACOSX" / "sub").mkdir(parents=True)
    (media / "m" / "__MACOSX" / "sub" / "._b.png").write_bytes(b"\x00\x05\x16\x07")
    (media / "m" / ".thumbs").mkdir()
    _png(media / "m" / ".thumbs" / "a.png", 10)
    report = imports.import_folder(lab.db, ctx, media / "m", media_roots=(media,))
    assert report.n_items == 2


def test_a_file_name_that_is_not_utf8_aborts_the_import_naming_the_file(shapes: Any) -> None:
    """Linux names are bytes; one written in Latin-1 (caf\\xe9.png) is no text to store."""
    lab, ctx, media = shapes
    _png(media / "c" / "a.png", 10)
    with open(os.path.join(os.fsencode(media / "c"), b"caf\xe9.png"), "wb") as out:
        out.write((media / "c" / "a.png").read_bytes() + b"more")
    with pytest.raises(ImportFormatError) as caught:
        imports.import_folder(lab.db, ctx, media / "c", media_roots=(media,))
    assert (  # its number counts the folder's files, as the summary's do
        caught.value.message == "file 2: 'c/caf\ufffd.png': the name is not UTF-8 text; rename it"
    )
    from labelloop.store import items as store_items

    with lab.db.read() as conn:
        assert store_items.counts(conn, ctx.id).get("pool", 0) == 0


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../secret.png", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a/missing.png", "no such file"),
        pytest.param("x" * 300 + ".png", "cannot be read", id="long-name"),
    ],
)
def test_jsonl_image_paths_are_checked_per_line(shapes: Any, path: str, why: str) -> None:
    lab, ctx, media = shapes
    _png(media / "a" / "ok.png", 10)
    body = json.dumps({"path": "a/ok.png"}) + "\n" + json.dumps({"path": path}) + "\n"
    with pytest.raises(ImportFormatError, match=why) as caught:
        imports.import_items(
            lab.db,
            ctx,
            io.BytesIO(body.encode()),
            fmt="jsonl",
            filename="x.jsonl",
            text_field="path",
            media_roots=(media,),
        )
    assert caught.value.line == 2
    assert caught.value.field == "path"


def test_digits_demo_first_model_beats_chance(sqlite_lab: Lab, tmp_path: Path) -> None:
    from labelloop.demo import DIGITS_SLUG, setup_digits_demo
    from labelloop.workflow import learning, tasks
    from labelloop.workflow.features import FeatureCache

    lab = sqlite_lab
    media = tmp_path / "media"
    info = setup_digits_demo(lab.db, media_root=media)
    assert (info.n_pool, info.n_eval) == (1497, 300)
    assert len(list((media / "sklearn-digits").glob("*.png"))) == 1797
    from sklearn.datasets import load_digits

    target = load_digits().target
    truth = {f"sklearn-digits/{i:04d}.png": str(int(t)) for i, t in enumerate(target)}
    ctx = projects.system_context(lab.db, DIGITS_SLUG)
    cache = FeatureCache(media_roots=(media,))
    learning.train(lab.db, ctx, cache=cache)  # cold start: a diverse first batch
    from labelloop.govern.permissions import Permission

    projects.set_member(lab.db, ctx, lab.user("ann").username, "annotator")
    labeler = projects.access(lab.db, DIGITS_SLUG, lab.users["ann"], Permission.ANNOTATE)
    for _ in range(60):
        task = tasks.next_task(lab.db, labeler)
        assert task is not None
        value = {"digit": truth[task["item"]["data"]["image"]]}
        tasks.submit(lab.db, labeler, task["assignment_id"], value, active_ms=500)
    learning.train(lab.db, ctx, cache=cache)
    from labelloop.store import learning as store_learning

    with lab.db.read() as conn:
        latest = store_learning.history(conn, ctx.id)[-1]
    assert latest["featurizer"] == "pixels"
    assert latest["metrics"]["accuracy"] > 0.5  # chance is 0.1


def test_more_like_this_finds_images_of_the_same_shape(shapes: Any) -> None:
    from labelloop.workflow import seeding
    from labelloop.workflow.features import FeatureCache

    lab, ctx, media = shapes
    for i in range(4):
        for side, columns in (("left", slice(0, 4)), ("right", slice(4, 8))):
            pixels = np.zeros((8, 8), dtype=np.uint8)
            pixels[:, columns] = 200 + i
            path = media / "s" / f"{side}{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels, mode="L").save(path, format="PNG")
    imports.import_folder(lab.db, ctx, media / "s", media_roots=(media,))
    found = seeding.search(lab.db, ctx, like=1, cache=FeatureCache(media_roots=(media,)))
    top = [hit["external_id"] for hit in found["items"][:3]]
    assert top and all(name.startswith("left") for name in top), top  # item 1 is s/left0.png


def test_the_served_order_of_images_follows_the_models_margin(
    sqlite_lab: Lab, tmp_path: Path
) -> None:
    """Active learning on images: after the first labels, the page serves digits in the order
    of the pixel model's margin uncertainty, recomputed here from the files alone."""
    from sklearn.datasets import load_digits

    from labelloop.learn import PixelFeaturizer, default_model
    from labelloop.learn.strategies import margin_utility
    from labelloop.store import learning as store_learning
    from labelloop.workflow import learning, tasks
    from labelloop.workflow.features import FeatureCache
    from labelloop.workflow.media import absolute_payloads

    lab = sqlite_lab
    media = tmp_path / "media"
    digits = load_digits()
    truth: dict[str, str] = {}
    for i in range(240):
        name = f"digits/{i:03d}.png"
        pixels = (digits.images[i] * 255 / 16).astype(np.uint8)
        (media / "digits").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, mode="L").save(media / name, format="PNG")
        truth[name] = str(int(digits.target[i]))
    schema = {
        "name": "Digits",
        "data": {"type": "image", "field": "path"},
        "controls": [{"name": "digit", "type": "choice", "labels": [str(d) for d in range(10)]}],
        "settings": {"strategy": "margin"},
    }
    projects.create_project(lab.db, "dig", schema, actor=lab.admin)
    ctx = lab.ctx("dig", lab.admin)
    imports.import_folder(lab.db, ctx, media / "digits", media_roots=(media,))
    cache = FeatureCache(media_roots=(media,))
    learning.train(lab.db, ctx, cache=cache)  # cold start
    ann = lab.member("dig", "ann", "annotator")
    labeled: dict[str, str] = {}
    while len(labeled) < 30:
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        name = task["item"]["data"]["image"]
        tasks.submit(lab.db, ann, task["assignment_id"], {"digit": truth[name]}, active_ms=300)
        labeled[name] = truth[name]
    learning.train(lab.db, ctx, cache=cache)

    served: list[dict[str, Any]] = []
    for _ in range(8):
        task = tasks.next_task(lab.db, ann, held=[t["assignment_id"] for t in served])
        assert task is not None and task["selection"]["strategy"] == "margin"
        served.append(task)

    with lab.db.read() as conn:
        pool = store_learning.items_of(conn, ctx.id, "pool")
    raw = {int(r["id"]): r["payload"] for r in pool}
    payloads = absolute_payloads(raw, (media,), slug=ctx.slug)
    X = PixelFeaturizer().fit_transform([payloads[int(r["id"])] for r in pool])
    names = [r["payload"]["image"] for r in pool]
    is_labeled = np.array([n in labeled for n in names])
    classes = [str(d) for d in range(10)]
    y = np.array([classes.index(labeled[n]) for n in names if n in labeled])
    model = default_model().fit(X[is_labeled], y)
    utility = margin_utility(model.predict_proba(X[~is_labeled]))
    rest = [n for n in names if n not in labeled]
    expected = [rest[i] for i in np.argsort(-utility, kind="stable")[:8]]
    assert [t["item"]["data"]["image"] for t in served] == expected
    scores = [t["selection"]["score"] for t in served]
    assert scores == sorted(scores, reverse=True)
    assert abs(scores[0] - float(np.max(utility))) < 1e-6


def test_the_label_scan_reads_the_images_and_flags_a_dark_one_labeled_light(shapes: Any) -> None:
    from labelloop.workflow import quality
    from labelloop.workflow.features import FeatureCache

    lab, ctx, media = shapes
    folder = media / "scan"
    for i in range(8):
        _png(folder / "dark" / f"d{i}.png", 20 + i, noise=i)
        _png(folder / "light" / f"l{i}.png", 230 - i, noise=i)
    _png(folder / "light" / "wrong.png", 25, noise=99)  # a dark square filed under light
    imports.import_folder(lab.db, ctx, folder, media_roots=(media,), labels_from_folders=True)
    found = quality.scan(lab.db, ctx, cache=FeatureCache(media_roots=(media,)))
    assert found["checked"] == 17
    with lab.db.read() as conn:
        from labelloop.store import seeds as store_seeds

        flagged = [
            store_seeds.find_item(conn, project_id=ctx.id, item_id=i) for i in found["items"]
        ]
    assert [row["external_id"] for row in flagged] == ["light/wrong.png"]


def test_the_digits_demo_takes_another_featurizer(sqlite_lab: Lab, tmp_path: Path) -> None:
    from labelloop.demo import DIGITS_SLUG, setup_digits_demo
    from labelloop.workflow import projects

    lab = sqlite_lab
    info = setup_digits_demo(lab.db, media_root=tmp_path / "media", settings={"featurizer": "hog"})
    assert info.featurizer == "hog" and info.password
    assert projects.system_context(lab.db, DIGITS_SLUG).settings.featurizer == "hog"
    later = setup_digits_demo(lab.db, media_root=tmp_path / "media")  # made before: kept
    assert later.featurizer == "hog" and later.password is None


def lab_items(lab: Lab, ctx: Any) -> list[dict[str, Any]]:
    """The project's items: id and payload."""
    from sqlalchemy import select

    from labelloop.store.tables import item

    with lab.db.read() as conn:
        q = select(item.c.id, item.c.payload).where(item.c.project_id == ctx.id)
        return [dict(r) for r in conn.execute(q).mappings()]


def test_a_round_that_fails_says_so_backs_off_and_clears_once_one_succeeds(
    shapes: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An image file cut short past its header (which an import reads) or overwritten since
    fails every round: the status and the project's alert say so, naming the file, instead of
    only the server's log; the learner tries again less often; a round that trains clears it."""
    from labelloop.store import learning as store_learning
    from labelloop.workflow import insight, learning, status
    from labelloop.workflow.features import FeatureCache

    lab, ctx, media = shapes
    for i in range(3):
        _png(media / "f" / f"d{i}.png", 20, noise=i)
        _png(media / "f" / f"l{i}.png", 230, noise=i)
    imports.import_folder(lab.db, ctx, media / "f", media_roots=(media,))
    gone = media / "f" / "l1.png"
    kept = gone.read_bytes()
    gone.write_bytes(kept[: len(kept) // 2])
    learner = learning.Learner(lab.db, cache=FeatureCache(media_roots=(media,)))

    with caplog.at_level(logging.WARNING, logger="labelloop"):
        assert learner.run_once() == 0
    # the server's log said "this round uses tfidf", which cannot read an image
    assert "uses tfidf" not in caplog.text
    failure = status.status(lab.db, ctx)["training"]["failure"]
    assert failure["failures"] == 1
    assert "cannot be read" in failure["error"] and "l1.png" in failure["error"]
    # Named by the item and its path under the media root, never by the server's folders
    (bad,) = [i["id"] for i in lab_items(lab, ctx) if i["payload"]["image"] == "f/l1.png"]
    assert f"item {bad} ('f/l1.png')" in failure["error"]
    assert str(media.parent) not in failure["error"]
    assert str(media.resolve().parent) not in failure["error"]
    assert failure["sentence"].startswith("Training rounds fail (once): featurizer 'pixels' failed")
    assert failure["sentence"].endswith("(every 10 minutes at most).")  # the learner's longest wait
    stored = insight.open_alerts(lab.db, lab.admin, [{"id": ctx.id, "role": "manager"}])
    assert [a["kind"] for a in stored[ctx.id]] == ["training"]

    assert learner.run_once() == 0  # not again at once: it waits before the next try
    assert status.status(lab.db, ctx)["training"]["failure"]["failures"] == 1
    learner._retry_at.clear()  # the wait is over
    assert learner.run_once() == 0
    again = status.status(lab.db, ctx)["training"]["failure"]
    assert again["failures"] == 2 and "2 times in a row since" in again["sentence"]

    gone.write_bytes(kept)
    learner._retry_at.clear()
    assert learner.run_once() >= 1
    assert status.status(lab.db, ctx)["training"]["failure"] is None
    with lab.db.read() as conn:
        assert store_learning.round_failure_of(conn, ctx.id) is None
    stored = insight.open_alerts(lab.db, lab.admin, [{"id": ctx.id, "role": "manager"}])
    assert stored.get(ctx.id, []) == []


def test_the_search_pages_words_find_images_by_their_file_names(
    sqlite_lab: Any, tmp_path: Path
) -> None:
    """The search page of an image project offered a words box that never found anything: it
    matched the words against a text images have not. They match each image's path, as the
    Items page's words do."""
    from PIL import Image

    from labelloop.workflow import imports, projects, seeding

    lab = sqlite_lab
    media = tmp_path / "media"
    for name, shade in (("cat_01.png", 10), ("cat_02.png", 60), ("dog_01.png", 200)):
        (media / "pets").mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), shade).save(media / "pets" / name)
    schema = {
        "name": "Pets",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "pet", "type": "choice", "labels": ["cat", "dog"], "target": True}],
    }
    projects.create_project(lab.db, "pets", schema, actor=lab.admin)
    ctx = lab.ctx("pets", lab.admin)
    imports.import_folder(lab.db, ctx, media / "pets", media_roots=(media,))
    found = seeding.search(lab.db, ctx, q="CAT")
    assert found["total"] == 2
    assert [h["text"] for h in found["items"]] == ["pets/cat_01.png", "pets/cat_02.png"]
    assert seeding.search(lab.db, ctx, q="dog 01")["total"] == 1
    # a name's "_" parts its words, in the name and in the query alike
    assert seeding.search(lab.db, ctx, q="cat_02")["total"] == 1
    assert seeding.search(lab.db, ctx, q='"pets cat"')["total"] == 2
    assert seeding.search(lab.db, ctx, q="ca")["total"] == 0  # whole words still


def test_a_failed_round_is_tried_again_at_once_when_the_pool_changes(shapes: Any) -> None:
    """The user who took the bad file's import back (or imported a fixed copy) still read
    'Training rounds fail' for up to 10 minutes, the learner waiting out its back-off: a round
    that failed is tried again at the next pass once the pool changed."""
    from labelloop.workflow import batches, learning, status
    from labelloop.workflow.features import FeatureCache

    lab, ctx, media = shapes
    for i in range(3):
        _png(media / "good" / f"d{i}.png", 20, noise=i)
        _png(media / "good" / f"l{i}.png", 230, noise=i)
    imports.import_folder(lab.db, ctx, media / "good", media_roots=(media,))
    _png(media / "bad" / "x.png", 90, noise=9)
    bad = imports.import_folder(lab.db, ctx, media / "bad", media_roots=(media,))
    whole = (media / "bad" / "x.png").read_bytes()
    (media / "bad" / "x.png").write_bytes(whole[: len(whole) // 2])  # cut short since
    learner = learning.Learner(lab.db, cache=FeatureCache(media_roots=(media,)))
    assert learner.run_once() == 0
    assert status.status(lab.db, ctx)["training"]["failure"]["failures"] == 1
    assert learner.run_once() == 0  # nothing changed: it waits before the next try
    assert status.status(lab.db, ctx)["training"]["failure"]["failures"] == 1

    batches.undo(lab.db, ctx, bad.batch_id)
    assert learner.run_once() >= 1  # the pool changed: at once
    assert status.status(lab.db, ctx)["training"]["failure"] is None


def _secret(tmp_path: Path) -> Path:
    """A 40×30 white PNG outside the media root."""
    secret = tmp_path / "secret.png"
    Image.new("L", (40, 30), 255).save(secret)
    return secret


@pytest.mark.parametrize("swapped", ["pipe", "link"])
def test_an_image_swapped_just_after_its_check_is_refused_by_the_import(
    shapes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str
) -> None:
    """A named pipe put in an image's place just after the import checked it hung the import
    for good (it opened the path again to read the size and hash, waiting for a writer that
    never comes); a link out of the media root put there was followed, and the item was stored
    with the size and bytes of a file outside the root. The import reads the file it checked,
    as serving does, and refuses it naming the file; nothing is written."""
    from labelloop.store import items as store_items
    from tests.media_swaps import outcome_of, swap_after_check

    lab, ctx, media = shapes
    _png(media / "p" / "a.png", 10)
    _png(media / "p" / "b.png", 20)
    target = media / "p" / "b.png"
    swap_after_check(monkeypatch, target, to=None if swapped == "pipe" else _secret(tmp_path))
    outcome = outcome_of(
        lambda: imports.import_folder(lab.db, ctx, media / "p", media_roots=(media,)), pipe=target
    )
    assert isinstance(outcome, ImportFormatError), outcome
    assert outcome.message.startswith("file 2 ('p/b.png'): changed while it was read")
    assert str(tmp_path) not in outcome.message
    with lab.db.read() as conn:
        assert store_items.counts(conn, ctx.id).get("pool", 0) == 0  # nothing half-written


def test_a_pipe_in_a_yolo_or_coco_image_s_place_does_not_hang_the_import(
    shapes: Any, monkeypatch: pytest.MonkeyPatch, subtests: pytest.Subtests
) -> None:
    """A YOLO import reads an image's size to check its tiny boxes, and a COCO file's import
    looks for each image beside the file: both opened the path again after its check, and a
    named pipe put there hung the import. The import is refused, naming the image."""
    from tests.media_swaps import outcome_of, swap_after_check

    lab, _, media = shapes
    top = media / "d"
    ctx = _cars(lab, top, {"a": (10, "0 0.5 0.5 0.0001 0.2\n")})  # its size is read
    _png(media / "c" / "images" / "a.png", 10)
    coco = _coco([("a.png", None, 1)])
    (media / "c" / "annotations").mkdir()
    cases = [
        (
            "yolo",
            top / "images" / "a.png",
            lambda: imports.import_folder(lab.db, ctx, top, media_roots=(media,), fmt="yolo"),
            "image 1 ('d/images/a.png'): ",
        ),
        (
            "coco",
            media / "c" / "images" / "a.png",
            lambda: imports.import_items(
                lab.db,
                ctx,
                io.BytesIO(coco),
                fmt="coco",
                filename="c.json",
                media_roots=(media,),
                near=media / "c" / "annotations",
            ),
            "image 1, field 'file_name': media path 'a.png': ",  # found nowhere else
        ),
    ]
    for name, target, run, said in cases:
        with subtests.test(case=name), monkeypatch.context() as patched:
            swap_after_check(patched, target, to=None)
            outcome = outcome_of(run, pipe=target)
            assert isinstance(outcome, ImportFormatError), outcome
            assert outcome.message.startswith(said), outcome.message


def test_a_yolo_folder_with_a_backslash_in_a_text_s_name_imports(shapes: Any) -> None:
    """A note beside a YOLO dataset's images whose name holds a backslash (legal in a file
    name here) stopped the whole import, as if the name were no name; it is read as any text
    beside images is, and left alone: it is no label file."""
    lab, _, media = shapes
    top = media / "d"
    ctx = _cars(lab, top, {"a": (10, "0 0.5 0.5 0.2 0.2\n")})
    (top / "images" / "notes\\2024.txt").write_text("taken on the ring road\n")
    report = imports.import_folder(lab.db, ctx, top, media_roots=(media,), fmt="yolo")
    assert (report.n_items, report.n_labeled) == (1, 1)


@pytest.mark.parametrize("swapped", ["pipe", "link"])
@pytest.mark.parametrize("name", ["labels/a.txt", "data.yaml"])
def test_a_yolo_folder_s_text_file_swapped_after_its_check_is_refused(
    shapes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str, name: str
) -> None:
    """A YOLO folder's label files and data.yaml were read by their path once checked: a named
    pipe put in one's place just after the check hung the import for good, and a link out of
    the media root put there was followed (its boxes, its class names came in). They are read
    as images are, and the import is refused naming the file; nothing is written."""
    from labelloop.store import items as store_items
    from tests.media_swaps import outcome_of, swap_once_resolved

    lab, ctx, media = shapes
    top = media / "d"
    ctx = _cars(lab, top, {"a": (10, "0 0.5 0.5 0.2 0.2\n")})
    secret = tmp_path / "secret.txt"  # what the file it replaces could hold
    secret.write_text("names: [car]\n" if name == "data.yaml" else "0 0.1 0.1 0.1 0.1\n")
    target = top / name
    swap_once_resolved(monkeypatch, target, to=None if swapped == "pipe" else secret)
    outcome = outcome_of(
        lambda: imports.import_folder(lab.db, ctx, top, media_roots=(media,), fmt="yolo"),
        pipe=target,
    )
    assert isinstance(outcome, ImportFormatError), outcome
    said = {
        "pipe": "changed while it was read; refused",
        "link": "a link to a file out of the folder is refused",
    }
    assert outcome.message == f"{name}: {said[swapped]}"
    with lab.db.read() as conn:
        assert store_items.counts(conn, ctx.id).get("pool", 0) == 0  # nothing half-written


@pytest.mark.parametrize("swapped", ["pipe", "link"])
def test_the_learner_reads_an_image_as_serving_does_not_what_was_put_in_its_place(
    shapes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str
) -> None:
    """The learner checked an image under its media root, then read it by its path: a link
    out of the root put in its place meanwhile was followed (the model learned a file outside
    the root), and a named pipe hung the round. It reads the file as serving does, and the
    round fails naming the item, not the server's folders."""
    from labelloop.learn import make_featurizer
    from labelloop.workflow.media import readable_payloads
    from tests.media_swaps import outcome_of, pipe_seen_as_file

    _, ctx, media = shapes
    _png(media / "p" / "a.png", 10)
    _png(media / "p" / "b.png", 20)
    payloads = readable_payloads(ctx, {1: {"image": "p/a.png"}, 2: {"image": "p/b.png"}}, (media,))
    target = media / "p" / "b.png"
    target.unlink()
    if swapped == "link":
        target.symlink_to(_secret(tmp_path))
    else:
        pipe_seen_as_file(monkeypatch, target)
    outcome = outcome_of(
        lambda: make_featurizer("pixels").fit_transform(list(payloads.values())), pipe=target
    )
    assert isinstance(outcome, LabelloopError), outcome
    said = "image file of item 2 ('p/b.png') is refused: media path 'p/b.png': "
    assert outcome.message.startswith(said), outcome.message
    assert str(tmp_path) not in outcome.message


def test_the_learner_hears_no_clip_put_in_anothers_place(shapes: Any, tmp_path: Path) -> None:
    """An audio clip swapped for a link out of the media root after the learner checked it was
    read all the same; it is a clip the learner cannot read, as a missing one."""
    from labelloop.learn import AudioFeaturizer
    from labelloop.workflow.media import absolute_payloads
    from tests.learn.test_learn_featurize_audio import write_tone

    _, _, media = shapes
    write_tone(media / "s" / "a.wav", hz=300, seconds=0.2, volume=0.1)
    write_tone(media / "s" / "b.wav", hz=300, seconds=0.2, volume=0.1)
    loud = write_tone(tmp_path / "loud.wav", hz=2000, seconds=0.5, volume=0.9)
    raw = {1: {"audio": "s/a.wav"}, 2: {"audio": "s/b.wav"}}
    payloads = absolute_payloads(raw, (media,), slug="clips")
    (media / "s" / "b.wav").unlink()
    (media / "s" / "b.wav").symlink_to(loud)
    X = AudioFeaturizer(n_bands=4, n_name_features=16).fit_transform(list(payloads.values()))
    heard = AudioFeaturizer(n_bands=4, n_name_features=16).fit_transform(
        [payloads[1], {**payloads[2], "audio": None}]
    )
    assert np.allclose(X[:, :8], heard[:, :8])  # b's sound part: as a clip not read


def test_the_learner_reads_no_image_of_another_project_s_uploads(
    shapes: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An item imported before imports refused another project's uploaded images may name
    one: serving refuses it, and the learner read its pixels all the same. The learner reads
    it as a missing image (a blank row), and the log names the item."""
    from labelloop.learn import make_featurizer
    from labelloop.workflow.media import readable_payloads

    _, ctx, media = shapes
    _png(media / "p" / "a.png", 10)
    _png(media / "uploads" / "other" / "b.png", 250)
    _png(media / "uploads" / ctx.slug / "c.png", 250)
    raw = {1: {"image": "p/a.png"}, 2: {"image": "uploads/other/b.png"}}
    raw[3] = {"image": f"uploads/{ctx.slug}/c.png"}
    with caplog.at_level(logging.WARNING, logger="labelloop"):
        payloads = readable_payloads(ctx, raw, (media,))
    assert "item 2: media path 'uploads/other/b.png': lies in another project's" in caplog.text
    X = make_featurizer("pixels").fit_transform([payloads[k] for k in (1, 2, 3)])
    assert X[1].max() == 0.0  # blank: nothing of the other project's picture
    assert X[2].mean() > 0.9  # the project's own upload is read
