"""YOLO detection labels: a dataset folder or zip in, a zip of label files out, and every bad
file refused naming the file and line."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from labelloop.domain import BoxFrame, ExportRecord
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest import YoloExporter, YoloImporter, importer_for_folder, make_exporter
from labelloop.ingest.conformance import sample_record
from labelloop.ingest.yolo import store_images, zip_images_to_store
from labelloop.ingest.yolo_files import MAX_LABEL_BYTES, label_path
from labelloop.schema import parse_schema
from labelloop.schema.values import MAX_REGIONS

LABELS = ("car", "person")
NAMES = "names:\n  0: car\n  1: person\n"


def _png(path: Path, size: tuple[int, int] = (40, 20), shade: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, shade).save(path, format="PNG")


def _dataset(top: Path, files: dict[str, str]) -> Path:
    """A YOLO folder: the given text files, and a tiny PNG for every image path among them."""
    for name, text in files.items():
        path = top / name
        if path.suffix == ".png":
            _png(path, shade=len(name))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return top


def _folder(top: Path, **options: Any) -> list[Any]:
    importer = YoloImporter(control="objects", labels=LABELS, **options)
    return list(importer.read_folder(top, root=top.parent))


def _zip(files: dict[str, str | bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    out.seek(0)
    return out


def _read_zip(files: dict[str, str | bytes], **options: Any) -> list[Any]:
    return list(YoloImporter(control="objects", labels=LABELS, **options).read(_zip(files)))


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("images/a.jpg", "labels/a.txt"),
        ("images/train/b.PNG", "labels/train/b.txt"),
        ("set/images/x/images/c.webp", "set/images/x/labels/c.txt"),
        ("street/0.png", "street/0.txt"),
        ("my.images/d.jpeg", "my.images/d.txt"),
    ],
)
def test_a_label_file_lies_where_yolo_tools_look_for_it(image: str, label: str) -> None:
    assert label_path(image) == label


def test_a_folder_imports_boxes_as_fractions_with_scores_as_pre_annotations(
    tmp_path: Path,
) -> None:
    top = _dataset(
        tmp_path / "cars",
        {
            "data.yaml": NAMES,
            "images/a.png": "",
            "images/b.png": "",
            "images/c.png": "",
            "images/d.png": "",
            "labels/a.txt": "0 0.5 0.5 0.5 0.25\n\n1 0.25 0.25 0.5 0.5 \n",
            "labels/b.txt": "",
            "labels/c.txt": "1 0.5 0.5 0.2 0.2 0.75\n",
        },
    )
    a, b, c, d = _folder(top)
    assert (a.line, a.payload, a.external_id) == (1, {"image": "cars/images/a.png"}, "images/a.png")
    assert a.frame == BoxFrame(1, 1, declared=False)
    assert a.label == {
        "objects": [
            {"x": 0.25, "y": 0.375, "w": 0.5, "h": 0.25, "label": "car"},
            {"x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5, "label": "person"},
        ]
    }
    assert a.prediction is None
    assert (b.label, b.prediction) == ({"objects": []}, None)  # an empty file: no boxes here
    assert c.label is None  # only a prediction: unlabeled, as a COCO file's scored boxes
    assert c.prediction["objects"][0]["score"] == 0.75
    assert c.prediction["objects"][0]["x"] == pytest.approx(0.4)
    assert (d.label, d.prediction) == (None, None)  # no label file: to be labeled here


@pytest.mark.parametrize(
    "names",
    [
        "names: [car, person]\n",
        "names:\n  - car\n  - person\n",
        NAMES,
        "path: .\nnames: {0: CAR, 1: Person}\nnc: 2\n",
    ],
)
def test_class_names_come_from_data_yaml_as_a_list_or_a_mapping(tmp_path: Path, names: str) -> None:
    top = _dataset(
        tmp_path / "d",
        {"data.yaml": names, "images/a.png": "", "labels/a.txt": "1 0.5 0.5 1 1\n"},
    )
    (a,) = _folder(top)
    assert a.label["objects"][0]["label"] == "person"


@pytest.mark.parametrize("names_file", ["classes.txt", "obj.names"])
def test_darknet_names_files_and_flat_folders(tmp_path: Path, names_file: str) -> None:
    top = _dataset(
        tmp_path / "d",
        {names_file: "car\nperson\n\n", "a.png": "", "a.txt": "0 0.5 0.5 1 1\n"},
    )
    (a,) = _folder(top)
    assert (a.payload, a.label["objects"][0]["label"]) == ({"image": "d/a.png"}, "car")


def test_a_class_named_as_yaml_would_read_a_boolean_keeps_its_name(tmp_path: Path) -> None:
    top = _dataset(
        tmp_path / "d",
        {"data.yaml": "names: [no, 'yes']\n", "images/a.png": "", "labels/a.txt": "0 .5 .5 1 1"},
    )
    (a,) = YoloImporter(control="objects").read_folder(top, root=tmp_path)
    assert a.label["objects"][0]["label"] == "no"


def test_a_box_past_the_edge_is_cut_and_counted(tmp_path: Path) -> None:
    top = _dataset(
        tmp_path / "d",
        {"data.yaml": NAMES, "images/a.png": "", "labels/a.txt": "0 0.9 0.5 0.4 0.2\n"},
    )
    importer = YoloImporter(control="objects", labels=LABELS)
    (a,) = importer.read_folder(top, root=tmp_path)
    assert a.label["objects"][0]["x"] == pytest.approx(0.7)
    assert a.label["objects"][0]["w"] == pytest.approx(0.3)
    assert importer.notes() == [
        "1 box reached past the image's edge and came in cut at it, as YOLO tools cut them"
    ]


def test_boxes_beside_a_target_of_another_control_are_pre_annotations(tmp_path: Path) -> None:
    top = _dataset(
        tmp_path / "d",
        {"data.yaml": NAMES, "images/a.png": "", "labels/a.txt": "0 0.5 0.5 1 1\n"},
    )
    importer = YoloImporter(control="objects", target="scene", labels=LABELS)
    (a,) = importer.read_folder(top, root=tmp_path)
    assert a.label is None and len(a.prediction["objects"]) == 1
    assert "a YOLO file holds only boxes" in importer.notes()[0]


@pytest.mark.parametrize(
    ("label", "file", "line", "reason"),
    [
        ("0 0.5 0.5 0.2\n", "labels/a.txt", 1, "holds 4 values; a box is 'class cx cy w h'"),
        ("0 .5 .5 .2 .2\n0 1 2 3 4 5 6\n", "labels/a.txt", 2, "holds 7 values"),
        ("x 0.5 0.5 0.2 0.2\n", "labels/a.txt", 1, "the class must be a number (0, 1, ...)"),
        ("-1 0.5 0.5 0.2 0.2\n", "labels/a.txt", 1, "the class must be a number"),
        ("\n7 0.5 0.5 0.2 0.2\n", "labels/a.txt", 2, "class 7 has no name (the dataset names "),
        ("0 0.5 1.5 0.2 0.2\n", "labels/a.txt", 1, "cy 1.5 is outside 0..1"),
        ("0 0.5 0.5 -0.2 0.2\n", "labels/a.txt", 1, "w -0.2 is outside 0..1"),
        ("0 0.5 0.5 nan 0.2\n", "labels/a.txt", 1, "w must be a number, got 'nan'"),
        ("0 0.5 0.5 0.2 0\n", "labels/a.txt", 1, "a box must be wider and taller than 0"),
        ("0 0.5 0.5 0.2 0.2 2\n", "labels/a.txt", 1, "confidence 2 is outside 0..1"),
        ("2 0.5 0.5 0.2 0.2\n", "labels/a.txt", 1, "class 2 ('dog') is not a label of 'objects'"),
        (
            "9" * 5000 + " .5 .5 .2 .2\n",
            "labels/a.txt",
            1,
            f"a number (0, 1, ...), got '{'9' * 20}…'",
        ),
        ("0 " + "1" * 5000 + " .5 .2 .2\n", "labels/a.txt", 1, "cx must be a number, got"),
        (b"0 0.5 0.5 0.2 0.2\n\xff\n", "labels/a.txt", 2, "not valid UTF-8"),
    ],
)
@pytest.mark.parametrize("zipped", [False, True], ids=["folder", "zip"])
def test_a_bad_label_line_names_the_file_and_line(
    tmp_path: Path, label: str | bytes, file: str, line: int, reason: str, zipped: bool
) -> None:
    files: dict[str, str | bytes] = {
        "data.yaml": "names: [car, person, dog]\n",
        "labels/a.txt": label,
    }
    with pytest.raises(ImportFormatError) as caught:
        if zipped:  # a zip of label files: its images are paths under a media root
            _read_zip({**files, "images/a.png": b""})
        else:
            top = _dataset(tmp_path / "d", {"images/a.png": ""})
            for name, data in files.items():
                (top / name).parent.mkdir(exist_ok=True)
                (top / name).write_bytes(data if isinstance(data, bytes) else data.encode())
            _folder(top)
    assert (caught.value.file, caught.value.line) == (file, line)
    assert reason in caught.value.reason
    # a zip's label file is named as its other files are: as its member
    where = f"zip member '{file}', line {line}" if zipped else f"{file} line {line}"
    assert caught.value.message.startswith(f"{where}: ")


def test_a_box_too_small_for_its_image_names_the_label_line(tmp_path: Path) -> None:
    # 0.0001 of a 40 px wide image is 0.004 px: the store, holding boxes to 0.01 px, would
    # refuse it naming the image's record, not the label file's line
    label = "0 0.5 0.5 0.2 0.2\n\n0 0.5 0.5 0.0001 0.2\n"
    top = _dataset(tmp_path / "d", {"data.yaml": NAMES, "images/b.png": "", "labels/b.txt": label})
    with pytest.raises(ImportFormatError) as caught:
        _folder(top)
    assert caught.value.file == "labels/b.txt"
    assert caught.value.message == (
        "labels/b.txt line 3: the box is 0.004×4 pixels on its 40×20 image ('d/images/b.png'); "
        "a box must be at least 0.01 pixel wide and tall"
    )
    (top / "labels" / "b.txt").write_text("0 0.5 0.5 0.0005 0.2\n")  # 0.02 px: held
    (b,) = _folder(top)
    assert b.label["objects"][0]["w"] == pytest.approx(0.0005)


def test_a_zip_box_too_small_for_its_image_names_the_label_line(tmp_path: Path) -> None:
    _png(tmp_path / "street" / "images" / "a.png")
    files = {
        "data.yaml": NAMES,
        "street/images/a.png": b"",
        "street/labels/a.txt": "1 .5 .5 .5 1e-9",
    }
    with pytest.raises(
        ImportFormatError, match=r"^zip member 'street/labels/a.txt', line 1: the box is 20×2e-08"
    ):
        _read_zip(files, media_roots=(tmp_path,))
    assert len(_read_zip(files)) == 1  # with no media root, it is left to the import to measure


def test_a_label_file_of_more_boxes_than_an_image_holds_names_its_line(tmp_path: Path) -> None:
    label = "0 0.5 0.5 0.2 0.2\n" * MAX_REGIONS
    top = _dataset(tmp_path / "d", {"data.yaml": NAMES, "images/a.png": "", "labels/a.txt": label})
    assert len(_folder(top)[0].label["objects"]) == MAX_REGIONS
    (top / "labels" / "a.txt").write_text(label + "\n1 0.5 0.5 0.2 0.2 0.5\n")
    with pytest.raises(ImportFormatError) as caught:
        _folder(top)
    assert caught.value.message == (
        f"labels/a.txt line {MAX_REGIONS + 2}: more than 1,000 boxes in one label file; "
        "an image holds at most 1,000"
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"images/a.png": ""}, "no class names: a YOLO dataset names them in data.yaml"),
        ({"data.yaml": "names: [car\n"}, "data.yaml line 2: not valid YAML: expected ',' or ']'"),
        ({"data.yaml": "- car\n"}, "data.yaml line 1: must be a mapping (names: ...)"),
        ({"data.yaml": "nc: 2\n"}, "data.yaml line 1: no 'names': the class names"),
        ({"data.yaml": "names: car\n"}, "data.yaml line 1: 'names' must be a list or class"),
        ({"data.yaml": "names:\n  a: car\n"}, "data.yaml line 2: a class of 'names' must be"),
        ({"data.yaml": f"names:\n  ? {'9' * 5000}\n  : car\n"}, "data.yaml line 2: a class of"),
        ({"data.yaml": "names:\n- car\n- [x]\n"}, "data.yaml line 3: a class name must be a text"),
        ({"data.yaml": "names:\n- car\n- ''\n"}, "data.yaml line 3: a class name must be a text"),
        ({"data.yaml": "[" * 5000}, "data.yaml line 1: not valid YAML: nested too deeply"),
        ({"classes.txt": "car\n\nperson\n"}, "classes.txt line 2: a blank line: each line"),
        (
            {"data.yaml": NAMES, "labels/z.txt": "0 .5 .5 .1 .1\n"},
            "labels/z.txt: a label file with no image: YOLO names a label file after its",
        ),
        (
            {"data.yaml": NAMES, "images/b.png": "", "images/b.jpg": "", "labels/b.txt": ""},
            "labels/b.txt: both 'images/b.jpg' and 'images/b.png' would take these labels",
        ),
    ],
)
def test_a_bad_dataset_names_the_file_and_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    top = _dataset(tmp_path / "d", {"images/a.png": "", **files})
    with pytest.raises(ImportFormatError) as caught:
        _folder(top)
    assert caught.value.message.startswith(message), caught.value.message


def test_files_beside_the_dataset_that_are_no_labels_are_left_alone(tmp_path: Path) -> None:
    top = _dataset(
        tmp_path / "d",
        {
            "data.yaml": NAMES + "train: train.txt\n",
            "train.txt": "./images/a.png\n",
            "README.roboflow.txt": "exported",
            "classes.txt": "car\n",
            "labels/train.cache": "binary",
            "images/a.png": "",
        },
    )
    assert [r.external_id for r in _folder(top)] == ["images/a.png"]


def test_a_text_beside_flat_images_is_a_label_file_only_when_it_starts_as_one(
    tmp_path: Path,
) -> None:
    top = _dataset(
        tmp_path / "d",
        {
            "obj.names": "car\n",
            "a.png": "",
            "a.txt": "0 0.5 0.5 0.2 0.2\n",
            "README.txt": "Darknet dataset, exported 2024\n0 1 2 3 4\n",
            "notes.txt": "\n\n",
            "train.txt": "a.png\n",
            "valid.txt": "a.png\n",
            "test.txt": "a.png\n",
            "labels.txt": "car\n",  # another tool's class names
        },
    )
    assert [(r.external_id, len(r.label["objects"])) for r in _folder(top)] == [("a.png", 1)]
    (top / "b.txt").write_bytes(b"\xef\xbb\xbf\n 1 0.5 0.5 0.2 0.2\n")  # its image is gone
    with pytest.raises(ImportFormatError, match="^b.txt: a label file with no image"):
        _folder(top)


def test_a_label_file_whose_name_holds_a_backslash_is_read_as_any_other(tmp_path: Path) -> None:
    """A backslash is a character of a file name here, not a folder's separator: a label file
    named with one stopped the import of the whole folder ("contains a NUL or a backslash"),
    even a note beside the images that is no label file. It is matched to its image by name
    as any label file is, a note is left alone, and one no image has is refused as any is."""
    top = _dataset(
        tmp_path / "d",
        {
            "obj.names": "car\nperson\n",
            "a.png": "",
            "a.txt": "0 0.5 0.5 0.2 0.2\n",
            "b\\c.png": "",
            "b\\c.txt": "1 0.5 0.5 0.2 0.2\n",
            "notes\\2024.txt": "exported from the camera\n",
        },
    )
    found = [(r.external_id, r.label["objects"][0]["label"]) for r in _folder(top)]
    assert found == [("a.png", "car"), ("b\\c.png", "person")]
    (top / "d\\e.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # its image is gone
    with pytest.raises(ImportFormatError) as caught:
        _folder(top)
    assert caught.value.message.startswith("d\\e.txt: a label file with no image")


def test_what_macos_leaves_in_a_folder_is_left_alone(tmp_path: Path) -> None:
    top = _dataset(
        tmp_path / "d",
        {
            "data.yaml": NAMES,
            "images/a.png": "",
            "labels/a.txt": "0 0.5 0.5 0.2 0.2\n",
            ".DS_Store": "\x00\x00\x00\x01Bud1",
            "labels/._a.txt": "\x00\x05\x16\x07 AppleDouble",
            "labels/._b.txt": "\x00\x05\x16\x07 AppleDouble",
            ".thumbnails/x.txt": "0 0.5 0.5 0.2 0.2\n",
        },
    )
    (top / "images" / "._a.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    assert [r.external_id for r in _folder(top)] == ["images/a.png"]


def test_a_label_file_linked_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("0 .5 .5 .1 .1\n")
    top = _dataset(tmp_path / "media" / "d", {"data.yaml": NAMES, "images/a.png": ""})
    (top / "labels").mkdir()
    os.symlink(secret, top / "labels" / "a.txt")
    with pytest.raises(ImportFormatError) as caught:
        list(YoloImporter(control="objects").read_folder(top, root=tmp_path / "media"))
    assert caught.value.message == ("labels/a.txt: a link to a file out of the folder is refused")


def test_a_huge_label_file_is_refused_unread(tmp_path: Path) -> None:
    top = _dataset(tmp_path / "d", {"data.yaml": NAMES, "images/a.png": ""})
    (top / "labels").mkdir()
    with (top / "labels" / "a.txt").open("wb") as out:
        out.truncate(MAX_LABEL_BYTES + 1)
    with pytest.raises(ImportFormatError, match=r"^labels/a.txt: larger than 1 MiB"):
        _folder(top)


def test_a_zip_names_its_images_in_lists_under_the_media_root() -> None:
    records = _read_zip(
        {
            "data.yaml": NAMES + "train: street/train.txt\nval: [images.txt, images/val]\n",
            "street/train.txt": "./images/a.png\n",  # the list's own folder
            "images.txt": "./street/images/a.png\nstreet/b.jpg\n\n",
            "street/labels/a.txt": "0 0.5 0.5 0.5 0.5\n",
            "street/b.txt": "",
        }
    )
    assert [r.payload["image"] for r in records] == ["street/images/a.png", "street/b.jpg"]
    assert records[0].label["objects"][0]["w"] == 0.5


def test_a_list_line_climbing_out_of_the_zip_names_the_list_and_line() -> None:
    with pytest.raises(ImportFormatError) as caught:
        _read_zip({"data.yaml": NAMES + "train: images.txt\n", "images.txt": "a.png\n../b.png"})
    assert caught.value.message == (
        "zip member 'images.txt', line 2: media path '../b.png': '..' is refused"
    )
    with pytest.raises(
        ImportFormatError, match="^zip member 'images.txt', line 1: .*absolute paths"
    ):
        _read_zip({"data.yaml": NAMES + "train: images.txt\n", "images.txt": "/etc/a.png"})


def test_a_zip_without_lists_names_its_images_by_its_image_files() -> None:
    records = _read_zip(
        {"classes.txt": "car\n", "set/images/a.png": b"png", "set/labels/a.txt": "0 .5 .5 1 1"}
    )
    assert [(r.payload["image"], bool(r.label)) for r in records] == [("set/images/a.png", True)]
    with pytest.raises(ImportFormatError, match="^the zip names no images"):
        _read_zip({"classes.txt": "car\n", "labels/a.txt": ""})


def test_what_macos_leaves_in_a_zip_is_left_alone() -> None:
    files = {
        "data.yaml": NAMES + "train: images.txt\n",
        "images.txt": "./images/a.png\n",
        "labels/a.txt": "0 0.5 0.5 0.2 0.2\n",
        "__MACOSX/labels/._a.txt": b"\x00\x05\x16\x07",
        "__MACOSX/._images.txt": b"\x00\x05\x16\x07",
        "labels/.DS_Store": b"\x00\x00\x00\x01Bud1",
    }
    (a,) = _read_zip(files)
    assert (a.payload["image"], len(a.label["objects"])) == ("images/a.png", 1)
    del files["data.yaml"], files["images.txt"]
    files["classes.txt"] = "car\n"
    files["images/a.png"] = b"png"
    files["__MACOSX/images/._a.png"] = b"\x00\x05\x16\x07"  # no image: the zip names its own
    assert [r.payload["image"] for r in _read_zip(files)] == ["images/a.png"]


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a\\..\\evil.txt"])
def test_a_zip_member_out_of_the_zip_is_refused(name: str) -> None:
    with pytest.raises(ImportFormatError, match="^zip member ") as refused:
        _read_zip({"classes.txt": "car\n", name: "x"})
    assert (refused.value.file, refused.value.unit, refused.value.in_zip) == (name, None, True)


def test_a_zip_link_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("classes.txt", "car\n")
        archive.writestr("train.txt", "a.png\n")  # Darknet's list
        link = zipfile.ZipInfo("a.txt")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    out.seek(0)
    with pytest.raises(ImportFormatError, match="^zip member 'a.txt': a link is refused"):
        list(YoloImporter().read(out))


def test_a_zip_bomb_is_refused_at_the_limit() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("classes.txt", "car\n")
        archive.writestr("train.txt", "b.png\n")
        archive.writestr("b.txt", b"0" * (MAX_LABEL_BYTES * 50))  # 50 MiB of zeros
    assert len(out.getvalue()) < 200_000
    out.seek(0)
    with pytest.raises(ImportFormatError, match="^zip member 'b.txt': larger than 1 MiB"):
        list(YoloImporter().read(out))


def _corrupt_zip(compression: int, *, cut: bool) -> io.BytesIO:
    """A zip whose label file ``a.txt`` is corrupt: its data scrambled, or (``cut``) its size
    in the zip's directory larger than the data, so reading it runs off its end."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        archive.writestr("classes.txt", "car\n")
        archive.writestr("train.txt", "a.png\n")
        archive.writestr("a.txt", "0 0.5 0.5 0.1 0.1\n" * 200)
    data = bytearray(out.getvalue())
    entry = data.rindex(b"PK\x01\x02")  # a.txt's entry in the directory, the last one
    if cut:
        data[entry + 20 : entry + 28] = (10**5).to_bytes(4, "little") * 2
    else:
        start = data.index(b"a.txt") + len("a.txt")  # its local header's name, then its data
        data[start + 8 : start + 40] = bytes(b ^ 0x5A for b in data[start + 8 : start + 40])
    return io.BytesIO(bytes(data))


@pytest.mark.parametrize(
    ("compression", "cut", "detail"),
    [
        (zipfile.ZIP_STORED, True, "it is cut short"),
        (zipfile.ZIP_STORED, False, "Bad CRC-32"),
        (zipfile.ZIP_DEFLATED, False, "Error -3 while decompressing"),
        (zipfile.ZIP_BZIP2, False, "Invalid data stream"),
        (zipfile.ZIP_LZMA, False, "Corrupt input data"),
    ],
)
def test_a_corrupt_zip_member_is_refused_naming_it(
    compression: int, detail: str, *, cut: bool
) -> None:
    with pytest.raises(ImportFormatError) as caught:
        list(YoloImporter().read(_corrupt_zip(compression, cut=cut)))
    assert caught.value.message.startswith(
        f"zip member 'a.txt': cannot be read from the zip ({detail}"
    )


def test_what_is_no_zip_is_refused_as_a_whole() -> None:
    with pytest.raises(ImportFormatError, match="^not a zip file"):
        list(YoloImporter().read(io.BytesIO(b"0 0.5 0.5 1 1\n")))


def test_a_yolo_folder_is_told_by_its_names_and_labels(tmp_path: Path) -> None:
    top = _dataset(tmp_path / "d", {"data.yaml": NAMES, "labels/a.txt": "", "images/a.png": ""})
    assert importer_for_folder(top) == "yolo"
    (top / "labels").rename(top / "images" / "labels")  # Roboflow's train/labels
    assert importer_for_folder(top) == "yolo"
    (top / "images" / "labels" / "a.txt").unlink()
    (top / "images" / "labels").rmdir()
    assert importer_for_folder(top) is None
    # CVAT's "YOLO 1.1", unzipped: obj.names, Darknet's train.txt, label files beside images
    cvat = {
        "obj.names": "car\nperson\n",
        "train.txt": "data/obj_train_data/a.png\n",
        "obj_train_data/a.png": "",
        "obj_train_data/a.txt": "0 0.5 0.5 0.5 0.5\n",
    }
    darknet = _dataset(tmp_path / "cvat", cvat)
    assert importer_for_folder(darknet) == "yolo"
    (a,) = _folder(darknet)
    assert (a.payload, a.label["objects"][0]["label"]) == (
        {"image": "cvat/obj_train_data/a.png"},
        "car",
    )


def test_an_image_name_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    top = _dataset(tmp_path / "d", {"classes.txt": "car\n", "images/a.png": ""})
    with open(os.path.join(os.fsencode(top / "images"), b"caf\xe9.png"), "wb") as out:
        out.write((top / "images" / "a.png").read_bytes())
    with pytest.raises(ImportFormatError) as caught:
        _folder(top)
    assert caught.value.message == (
        "image 2: 'd/images/caf\ufffd.png': the name is not UTF-8 text; rename it"
    )


SCHEMA = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["person", "car"]}],
}


def _record(item_id: int, path: str, boxes: list[dict[str, Any]], **payload: Any) -> ExportRecord:
    record = sample_record(item_id, path)
    return replace(record, label=boxes, value={"objects": boxes}, payload=payload)


def test_the_exporter_writes_label_files_an_image_list_and_names_in_schema_order() -> None:
    exporter = make_exporter("yolo", schema=parse_schema(SCHEMA))
    assert isinstance(exporter, YoloExporter)
    sink = io.BytesIO()
    box = {"x": 10, "y": 5, "w": 20, "h": 10, "label": "car"}
    exporter.write(
        [
            _record(1, "street/images/a.png", [box], image="x", width=40, height=20),
            _record(2, "street/b.png", []),
        ],
        sink,
    )
    archive = zipfile.ZipFile(sink)
    assert archive.namelist() == [
        "street/labels/a.txt",
        "street/b.txt",
        "images.txt",
        "data.yaml",
        "labelloop_ids.json",
    ]
    assert json.loads(archive.read("labelloop_ids.json")) == {
        "street/images/a.png": "doc-1",
        "street/b.png": "doc-2",
    }
    assert archive.read("street/labels/a.txt") == b"1 0.500000 0.500000 0.500000 0.500000\n"
    assert archive.read("street/b.txt") == b""
    assert archive.read("images.txt") == b"./street/images/a.png\n./street/b.png\n"
    data = yaml.safe_load(archive.read("data.yaml"))
    assert data == {
        "names": {0: "person", 1: "car"},
        "nc": 2,
        "train": "images.txt",
        "val": "images.txt",
    }


def test_two_images_that_would_share_a_label_file_are_refused() -> None:
    with pytest.raises(
        LabelloopError, match=r"item 2 \('a/x.jpg'\) would write a/x.txt, as item 1"
    ):
        YoloExporter().write([_record(1, "a/x.png", []), _record(2, "a/x.jpg", [])], io.BytesIO())


def test_yolo_export_needs_a_boxes_control_and_the_image_size() -> None:
    choice = {**SCHEMA, "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"]}]}
    with pytest.raises(LabelloopError, match="YOLO export needs a boxes control"):
        make_exporter("yolo", schema=parse_schema(choice))
    box = {"x": 1, "y": 1, "w": 2, "h": 2, "label": "car"}
    with pytest.raises(LabelloopError, match="item 3 has no image size"):
        YoloExporter(schema=parse_schema(SCHEMA)).write([_record(3, "a.png", [box])], io.BytesIO())


def test_a_box_reaching_past_the_edge_is_exported_cut_at_it_and_imports_back() -> None:
    # the schema lets a box end half a pixel past the image: YOLO tools drop a label file
    # holding a fraction above 1, so the export cuts it as the importer does
    schema = parse_schema(SCHEMA)
    past = {"x": 0, "y": 0, "w": 40.4, "h": 30.4, "label": "car"}
    beyond = {"x": 40.2, "y": 1, "w": 0.2, "h": 2, "label": "car"}  # holds none of the image
    sink = io.BytesIO()
    record = _record(1, "a.png", [past, beyond], image="a.png", width=40, height=30)
    YoloExporter(schema=schema).write([record], sink)
    assert zipfile.ZipFile(sink).read("a.txt") == b"1 0.500000 0.500000 1.000000 1.000000\n"
    sink.seek(0)
    (back,) = YoloImporter(control="objects", labels=("person", "car")).read(sink)
    assert back.label["objects"] == [{"x": 0, "y": 0, "w": 1, "h": 1, "label": "car"}]


def test_val_and_test_images_come_in_as_eval_items_and_train_images_to_the_pool(
    tmp_path: Path,
) -> None:
    top = _dataset(
        tmp_path / "d",
        {
            "data.yaml": NAMES + "train: images/train\nval: images/val\ntest: [images/test]\n",
            "images/train/a.png": "",
            "images/val/b.png": "",
            "images/val/c.png": "",  # no label file: to be labeled, in the pool
            "images/test/d.png": "",
            "images/other/e.png": "",  # no split names it: trained on
            "labels/train/a.txt": "0 0.5 0.5 0.5 0.5\n",
            "labels/val/b.txt": "1 0.5 0.5 0.5 0.5\n",
            "labels/test/d.txt": "",
        },
    )
    importer = YoloImporter(control="objects", labels=LABELS)
    records = list(importer.read_folder(top, root=tmp_path))
    assert {r.external_id: r.split for r in records} == {
        "images/other/e.png": "pool",
        "images/test/d.png": "eval",
        "images/train/a.png": "pool",
        "images/val/b.png": "eval",
        "images/val/c.png": "pool",
    }
    assert importer.notes() == [
        "1 validation or test image has no label and came into the pool, to be labeled: an "
        "eval item measures the model by its label"
    ]


@pytest.mark.parametrize(
    "layout",
    [
        # Roboflow: split folders above images/, data.yaml's ../ read from its own folder
        {
            "train/images/a.png": "",
            "valid/images/b.png": "",
            "data.yaml": NAMES
            + "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n",
        },
        # split folders without data.yaml's keys
        {"images/train/a.png": "", "images/valid/b.png": "", "classes.txt": "car\nperson\n"},
        # Darknet's lists
        {
            "a.png": "",
            "b.png": "",
            "classes.txt": "car\nperson\n",
            "train.txt": "a.png\n",
            "valid.txt": "./b.png\n",
        },
        # data.yaml's path, and a list the export writes
        {
            "set/x/a.png": "",
            "set/x/b.png": "",
            "data.yaml": NAMES + "path: set\ntrain: train.txt\nval: val.txt\n",
            "set/train.txt": "x/a.png\n",
            "set/val.txt": "x/b.png\n",
        },
    ],
)
def test_a_dataset_s_own_splits_are_read_from_its_layout(
    tmp_path: Path, layout: dict[str, str]
) -> None:
    labeled = {label_path(p): "0 0.5 0.5 0.5 0.5\n" for p in layout if p.endswith(".png")}
    records = _folder(_dataset(tmp_path / "d", layout | labeled))
    assert {r.external_id.rsplit("/", 1)[-1]: r.split for r in records} == {
        "a.png": "pool",
        "b.png": "eval",
    }


def test_an_image_train_names_too_is_trained_on_and_a_dataset_without_splits_says_none(
    tmp_path: Path,
) -> None:
    files = {
        "data.yaml": NAMES + "train: images.txt\nval: images.txt\n",  # an older export's
        "images.txt": "./images/a.png\n",
        "images/a.png": "",
        "labels/a.txt": "0 0.5 0.5 0.5 0.5\n",
    }
    (a,) = _folder(_dataset(tmp_path / "d", files))
    assert a.split == "pool"
    (a,) = _folder(_dataset(tmp_path / "e", {**files, "data.yaml": NAMES}))
    assert a.split is None  # the project's eval_fraction may hold it out


@pytest.mark.parametrize(
    ("yaml_text", "reason"),
    [
        ("path: ../elsewhere\n", "'path' '../elsewhere' leads out of the folder imported"),
        ("path: /etc\n", "'path' '/etc' leads out of the folder imported"),
        ("path: nowhere\n", "'path' 'nowhere' names no folder of the folder imported"),
        ("path: [a]\n", "'path' must be a folder"),
        ("val: ../../secret/images\n", "'val' '../../secret/images' leads out of the folder"),
        ("test: /etc\n", "'test' '/etc' leads out of the folder imported"),
        ("train: [images, link]\n", "'train' 'link' leads out of the folder imported"),
    ],
)
def test_a_data_yaml_path_out_of_the_dataset_is_refused_naming_the_key(
    tmp_path: Path, yaml_text: str, reason: str
) -> None:
    (tmp_path / "elsewhere").mkdir()
    top = _dataset(
        tmp_path / "d", {"data.yaml": NAMES + yaml_text, "images/a.png": "", "labels/a.txt": ""}
    )
    (top / "link").symlink_to(tmp_path / "elsewhere")  # a link out of the folder
    with pytest.raises(ImportFormatError) as caught:
        _folder(top)
    assert caught.value.message.startswith(f"data.yaml line {NAMES.count(chr(10)) + 1}: {reason}")


@pytest.mark.parametrize(
    ("yaml_text", "reason"),
    [
        ("path: ..\n", "'path' '..' leads out of the zip"),
        ("path: /data/cars\n", "'path' '/data/cars' leads out of the zip"),
        ("path: set\nval: ../../../x\n", "'val' '../../../x' leads out of the zip"),
    ],
)
def test_a_zip_data_yaml_path_out_of_the_zip_is_refused(yaml_text: str, reason: str) -> None:
    files = {"data.yaml": NAMES + yaml_text, "set/images/a.png": b"png", "set/labels/a.txt": ""}
    with pytest.raises(ImportFormatError) as caught:
        _read_zip(files)
    line = (NAMES + yaml_text).count("\n")  # the key is on the last line
    assert caught.value.message.startswith(f"zip member 'data.yaml', line {line}: {reason}")


def _png_bytes(size: tuple[int, int] = (40, 20), shade: int = 10) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, shade).save(out, format="PNG")
    return out.getvalue()


def _store(source: io.BytesIO, dest: Path) -> int:
    """Store a zip's images under ``dest`` as an upload does; how many (0: none in it)."""
    images = zip_images_to_store(source)
    if images is None:
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    folder = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return store_images(images, folder)
    finally:
        os.close(folder)


def test_a_zip_s_own_images_are_stored_and_read_from_where_they_were(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "data.yaml": NAMES + "train: images/train\nval: images/val\n",
        "images/train/a.png": _png_bytes(shade=1),
        "images/val/b.png": _png_bytes(shade=2),
        "images/unlisted.png": _png_bytes(shade=3),
        "labels/train/a.txt": "0 0.5 0.5 0.5 0.5\n",
        "labels/val/b.txt": "1 0.5 0.5 0.5 0.5\n",
        "__MACOSX/images/train/._a.png": b"\x00\x05\x16\x07",
    }
    dest = tmp_path / "media" / "uploads" / "x"
    assert _store(_zip(files), dest) == 3
    stored = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert stored == ["images/train/a.png", "images/unlisted.png", "images/val/b.png"]
    records = _read_zip(files, stored_at="uploads/x", media_roots=(tmp_path / "media",))
    assert [(r.payload["image"], r.split) for r in records] == [
        ("uploads/x/images/train/a.png", "pool"),
        ("uploads/x/images/val/b.png", "eval"),
        ("uploads/x/images/unlisted.png", "pool"),
    ]


def test_cvat_s_yolo_zip_with_its_images_reads_darknet_s_data_folder(tmp_path: Path) -> None:
    """CVAT's (and Datumaro's) "YOLO 1.1" zip lists its images as Darknet finds them, the
    dataset unpacked as darknet's data/ folder ("data/obj_train_data/a.png"): the upload was
    refused, "line 1: 'data/obj_train_data/a.png' is not in the zip"."""
    files: dict[str, str | bytes] = {
        "obj.data": "classes = 2\ntrain = data/train.txt\nnames = data/obj.names\n",
        "obj.names": "car\nperson\n",
        "train.txt": "data/obj_train_data/a.png\ndata/obj_train_data/frame 1.png\n",
        "obj_train_data/a.png": _png_bytes(shade=1),
        "obj_train_data/a.txt": "1 0.500000 0.500000 0.250000 0.500000\n",
        "obj_train_data/frame 1.png": _png_bytes(shade=2),
        "obj_train_data/frame 1.txt": "",
    }
    dest = tmp_path / "media" / "uploads" / "x"
    assert _store(_zip(files), dest) == 2
    records = _read_zip(files, stored_at="uploads/x", media_roots=(tmp_path / "media",))
    assert [(r.payload["image"], r.label) for r in records] == [
        (
            "uploads/x/obj_train_data/a.png",
            {"objects": [{"x": 0.375, "y": 0.25, "w": 0.25, "h": 0.5, "label": "person"}]},
        ),
        ("uploads/x/obj_train_data/frame 1.png", {"objects": []}),
    ]


def test_a_zip_of_label_files_stores_nothing() -> None:
    files = {"data.yaml": NAMES + "train: images.txt\n", "images.txt": "a.png\n", "a.txt": ""}
    dest = Path("/nonexistent/never/made")
    assert _store(_zip(files), dest) == 0
    assert not dest.exists()


def test_a_zip_with_images_must_hold_every_image_its_lists_name(tmp_path: Path) -> None:
    files = {
        "data.yaml": NAMES + "train: train.txt\n",
        "train.txt": "images/a.png\nimages/b.png\n",
        "images/a.png": _png_bytes(),
    }
    assert _store(_zip(files), tmp_path / "u") == 1
    with pytest.raises(ImportFormatError) as caught:
        _read_zip(files, stored_at="u")
    assert caught.value.message.startswith("image 2: 'images/b.png' is not in the zip")


def test_a_hostile_zip_of_images_is_refused_naming_the_member(tmp_path: Path) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("classes.txt", "car\n")
        archive.writestr("images/a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (65 << 20))
    assert len(bomb.getvalue()) < 1 << 20
    bomb.seek(0)
    with pytest.raises(ImportFormatError, match=r"^zip member 'images/a.png': larger than 64 MiB"):
        _store(bomb, tmp_path / "bomb")
    twice = io.BytesIO()
    with zipfile.ZipFile(twice, "w") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("classes.txt", "car\n")
        archive.writestr("a.png", _png_bytes())
        archive.writestr("a.png", _png_bytes(shade=99))
    twice.seek(0)
    with pytest.raises(ImportFormatError, match=r"^zip member 'a.png': is in the zip twice"):
        _store(twice, tmp_path / "twice")
    # Two names of one path (a "." or a doubled "/" in one of them) are the same file too.
    for other in ("images/./a.png", "images//a.png"):
        files = {"classes.txt": "car\n", "images/a.png": _png_bytes(), other: _png_bytes()}
        said = rf"^zip member '{re.escape(other)}': is in the zip twice \(as 'images/a.png'\)"
        with pytest.raises(ImportFormatError, match=said):
            _store(_zip(files), tmp_path / "same")
        assert not (tmp_path / "same").exists()
    link = io.BytesIO()
    with zipfile.ZipFile(link, "w") as archive:
        archive.writestr("classes.txt", "car\n")
        info = zipfile.ZipInfo("a.png")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    link.seek(0)
    with pytest.raises(ImportFormatError, match=r"^zip member 'a.png': a link is refused"):
        _store(link, tmp_path / "link")
    with pytest.raises(ImportFormatError, match=r"^zip member '\.\./a.png': '\.\.' is refused$"):
        _store(_zip({"classes.txt": "car\n", "../a.png": _png_bytes()}), tmp_path / "up")
    assert not (tmp_path / "a.png").exists()
    corrupt = _corrupt_zip(zipfile.ZIP_DEFLATED, cut=False)
    data = corrupt.getvalue().replace(b"a.txt", b"a.png").replace(b"train.txt", b"train.tx_")
    with pytest.raises(
        ImportFormatError, match=r"^zip member 'a.png': cannot be read from the zip"
    ):
        _store(io.BytesIO(data), tmp_path / "corrupt")


def test_the_exporter_lists_eval_items_as_val_and_they_import_back_as_eval() -> None:
    exporter = make_exporter("yolo", schema=parse_schema(SCHEMA))
    box = {"x": 0.0, "y": 0.0, "w": 4.0, "h": 2.0, "label": "car"}
    out = io.BytesIO()
    exporter.write(
        [
            _record(1, "images/train/a.png", [box], width=8, height=4),
            replace(_record(2, "images/val/b.png", [box], width=8, height=4), split="eval"),
        ],
        out,
    )
    with zipfile.ZipFile(out) as archive:
        assert archive.read("images.txt") == b"./images/train/a.png\n"
        assert archive.read("val.txt") == b"./images/val/b.png\n"
        doc = yaml.safe_load(archive.read("data.yaml"))
    assert (doc["train"], doc["val"]) == ("images.txt", "val.txt")
    out.seek(0)
    back = list(YoloImporter(control="objects", labels=LABELS).read(out))
    assert [(r.payload["image"], r.split) for r in back] == [
        ("images/train/a.png", "pool"),
        ("images/val/b.png", "eval"),
    ]
    only_eval = io.BytesIO()
    exporter.write(
        [replace(_record(2, "images/val/b.png", [box], width=8, height=4), split="eval")],
        only_eval,
    )
    with zipfile.ZipFile(only_eval) as archive:
        doc = yaml.safe_load(archive.read("data.yaml"))
        assert "images.txt" not in archive.namelist()
    assert (doc["train"], doc["val"]) == ([], "val.txt")
    only_eval.seek(0)
    (b,) = YoloImporter(control="objects", labels=LABELS).read(only_eval)
    assert b.split == "eval"


@pytest.mark.parametrize(
    "name",
    [
        "../evil.png",
        "/abs/evil.png",
        "images/../../evil.png",
        "C:/evil.png",
        "images\\..\\..\\evil.png",
    ],
)
def test_an_image_name_out_of_the_zip_is_refused_before_anything_is_stored(
    tmp_path: Path, name: str
) -> None:
    dest = tmp_path / "media" / "uploads" / "p" / "stamp"
    files = {"classes.txt": "car\n", "images/ok.png": _png_bytes(), name: _png_bytes()}
    with pytest.raises(ImportFormatError, match="^zip member ") as refused:
        _store(_zip(files), dest)
    assert (refused.value.file, refused.value.unit) == (name, None)
    assert [p for p in tmp_path.rglob("*")] == []


def test_labelloop_s_ids_file_gives_the_images_their_items_ids() -> None:
    files: dict[str, str | bytes] = {
        "data.yaml": NAMES + "train: images.txt\n",
        "images.txt": "./images/a.png\n./images/b.png\n",
        "labels/a.txt": "0 0.5 0.5 0.2 0.2\n",
        "labels/b.txt": "",
    }
    assert [r.external_id for r in _read_zip(files)] == ["images/a.png", "images/b.png"]
    named = {**files, "labelloop_ids.json": '{"images/a.png": "car-1", "gone.png": "x"}'}
    assert [r.external_id for r in _read_zip(named)] == ["car-1", "images/b.png"]


@pytest.mark.parametrize(
    ("ids", "reason"),
    [
        ("[1, 2]", "must be an object: each image -> its item's id"),
        ('{"images/a.png": 7}', "the id of 'images/a.png' must be a text of 1 to 200 characters"),
        ('{"images/a.png": " "}', "the id of 'images/a.png' must be a text"),
        ('{"images/a.png": "x"', "not valid JSON"),
    ],
)
def test_a_bad_ids_file_is_refused_naming_it(ids: str, reason: str) -> None:
    files: dict[str, str | bytes] = {
        "data.yaml": NAMES + "train: images.txt\n",
        "images.txt": "./images/a.png\n",
        "labels/a.txt": "",
        "labelloop_ids.json": ids,
    }
    with pytest.raises(ImportFormatError) as caught:
        _read_zip(files)
    assert str(caught.value).startswith("zip member 'labelloop_ids.json'")
    assert reason in str(caught.value)


def test_an_id_two_items_share_is_written_for_the_first_only() -> None:
    """Two folders imported apart may give two items one id ("a.png"): the ids file names it
    for the first, and the second comes back with its path, rather than refusing the import."""
    records = [
        replace(_record(n, f"{folder}/a.png", []), external_id="a.png")
        for n, folder in ((1, "cats"), (2, "dogs"))
    ]
    sink = io.BytesIO()
    YoloExporter().write(records, sink)
    with zipfile.ZipFile(sink) as archive:
        assert json.loads(archive.read("labelloop_ids.json")) == {"cats/a.png": "a.png"}
    back = list(YoloImporter(control="boxes").read(io.BytesIO(sink.getvalue())))
    assert [r.external_id for r in back] == ["a.png", "dogs/a.png"]
