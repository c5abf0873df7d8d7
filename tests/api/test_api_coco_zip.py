"""A COCO file uploaded zipped with its images, as CVAT, Label Studio and Roboflow export it:
its images are stored and its boxes come in; a bad zip or record is refused naming the zip
member (and the image), with nothing stored."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.workflow.test_workflow_uploads import BOXES, stored

CATEGORIES = [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}]


def png(shade: int, size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, shade).save(out, format="PNG")
    return out.getvalue()


def coco(file_names: list[str], **doc: Any) -> bytes:
    """A COCO document: one 40×20 image per file name, each with one car box."""
    images = [
        {"id": k, "file_name": name, "width": 40, "height": 20}
        for k, name in enumerate(file_names, 1)
    ]
    annotations = [
        {"id": k, "image_id": k, "category_id": 1, "bbox": [2, 3, 10, 5]}
        for k in range(1, len(file_names) + 1)
    ]
    base = {"images": images, "annotations": annotations, "categories": CATEGORIES}
    return json.dumps(base | doc).encode()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def street(sqlite_api: Any) -> tuple[Any, Path]:
    """A boxes project 'street'; the site's media root."""
    made = sqlite_api.post("/api/projects", json={"slug": "street", "schema": BOXES})
    assert made.status_code == 201, made.text
    return sqlite_api, Path(sqlite_api.client.app.state.settings.media_root_paths[0])


def upload(api: Any, data: bytes, name: str = "export.zip", **form: str) -> Any:
    files = {"file": (name, data, "application/zip")}
    return api.post("/api/projects/street/imports", files=files, data=form)


def boxes(api: Any) -> dict[str, list[list[float]]]:
    """The project's labeled images (by external id) and their boxes, from a COCO export."""
    doc = api.get("/api/projects/street/export", params={"format": "coco"}).json()
    found: dict[str, list[list[float]]] = {}
    for image in doc["images"]:
        found[image["external_id"]] = [
            a["bbox"] for a in doc["annotations"] if a["image_id"] == image["id"]
        ]
    return found


@pytest.mark.parametrize(
    ("members", "stored_as"),
    [
        (  # CVAT's and Datumaro's "COCO 1.0": the images in images/ beside annotations/
            {
                "annotations/instances_default.json": coco(["a.png", "b.png"]),
                "images/a.png": png(10),
                "images/b.png": png(20),
            },
            ["images/a.png", "images/b.png"],
        ),
        (  # Label Studio's: file_name relative to the JSON's folder
            {
                "result.json": coco(["images/a.png", "images/b.png"]),
                "images/a.png": png(10),
                "images/b.png": png(20),
            },
            ["images/a.png", "images/b.png"],
        ),
        (  # Roboflow's: the images beside the JSON
            {
                "train/_annotations.coco.json": coco(["a.png", "b.png"]),
                "train/a.png": png(10),
                "train/b.png": png(20),
                "__MACOSX/train/._a.png": b"\x00\x05\x16\x07",
            },
            ["train/a.png", "train/b.png"],
        ),
    ],
    ids=["cvat", "label-studio", "roboflow"],
)
def test_a_coco_zip_brings_its_images_and_boxes(
    street: Any, members: dict[str, bytes], stored_as: list[str]
) -> None:
    api, media = street
    sent = upload(api, zipped(members))
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert (body["items"], body["labeled"], body["duplicates"], body["notes"]) == (2, 2, 0, [])
    assert [p.split("/", 3)[3] for p in stored(media)] == stored_as
    named = [image["file_name"] for image in json.loads(next(iter(members.values())))["images"]]
    assert boxes(api) == {name: [[2, 3, 10, 5]] for name in named}
    (listed,) = api.get("/api/projects/street/imports").json()
    assert (listed["filename"], listed["format"]) == ("export.zip", "coco")
    items = api.get("/api/projects/street/items").json()["items"]
    served = api.get(f"/api/projects/street/items/{items[0]['id']}/media")
    assert (served.status_code, served.content) == (200, png(10))

    # The same zip again: duplicates counted by image, no file kept twice.
    again = upload(api, zipped(members)).json()
    assert (again["items"], again["duplicates"], again["duplicate_lines"], again["unit"]) == (
        0,
        2,
        [1, 2],
        "image",
    )
    assert [p.split("/", 3)[3] for p in stored(media)] == stored_as


def test_the_coco_format_chosen_reads_a_zip_too(street: Any) -> None:
    api, _ = street
    members = {"a.json": coco(["a.png"]), "a.png": png(10)}
    sent = upload(api, zipped(members), name="upload.bin", format="coco")
    assert sent.status_code == 201, sent.text
    assert sent.json()["labeled"] == 1


def test_a_coco_json_uploaded_alone_names_images_under_a_media_root(street: Any) -> None:
    api, media = street
    (media / "shots").mkdir(parents=True)
    (media / "shots" / "a.png").write_bytes(png(30))
    sent = upload(api, coco(["shots/a.png"]), name="cars.json", format="coco")
    assert sent.status_code == 201, sent.text
    refused = upload(api, coco(["a.png"]), name="cars.json", format="coco")
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "image 1, field 'file_name': media path 'a.png': no such file under the media roots"
    )
    assert (refused.json()["line"], refused.json()["unit"]) == (1, "image")


def _refused(api: Any, media: Path, data: bytes) -> dict[str, Any]:
    """The answer to a refused upload, after checking nothing of it was kept."""
    sent = upload(api, data)
    assert sent.status_code == 422, sent.text
    assert api.get("/api/projects/street/imports").json() == []
    assert not (media / "uploads" / "street").exists() or not stored(media)
    return dict(sent.json())


def test_a_member_climbing_out_of_the_zip_is_refused_by_name(street: Any) -> None:
    api, media = street
    members = {"a.json": coco(["a.png"]), "a.png": png(10), "../../evil.png": png(99)}
    body = _refused(api, media, zipped(members))
    assert body["detail"] == "zip member '../../evil.png': '..' is refused"
    assert (body["file"], body["unit"]) == ("../../evil.png", None)
    assert not (media.parent / "evil.png").exists()


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        (b'{"images": [\n{"id": 1,}]}', "zip member 'a.json', line 2: not valid JSON: "),
        (b"[1, 2]", "zip member 'a.json': expected a COCO JSON object, got list"),
        (b"\xff\xfe{}", "zip member 'a.json': not valid UTF-8"),
        (b"[" * 100_000, "zip member 'a.json': not valid JSON: "),
        (
            coco(["a.png"], categories=[{"id": 1}]),
            "zip member 'a.json', field 'categories[0]': must be an object with a name",
        ),
        (
            coco(["a.png", "b.png"], annotations=[{"image_id": 2, "category_id": 1, "bbox": [1]}]),
            "zip member 'a.json', image 2, field 'annotations[0].bbox': must be [x, y, w, h]",
        ),
        (
            coco(["a.png", "c.png"]),
            "zip member 'a.json', image 2, field 'file_name': 'c.png' is not in the zip (beside "
            "the COCO file, nor in 'images/') nor under a media root",
        ),
        (
            coco(
                ["a.png", "b.png"],
                annotations=[{"image_id": 2, "category_id": 1, "bbox": [30, 0, 20, 5]}],
            ),
            "zip member 'a.json', image 2, field 'annotations[0].bbox': box ends past the image "
            "width (40)",
        ),
    ],
    ids=["json", "not-object", "utf8", "deep", "category", "bbox", "missing", "outside"],
)
def test_a_bad_coco_file_in_a_zip_is_refused_naming_the_member_and_image(
    street: Any, document: bytes, detail: str
) -> None:
    api, media = street
    members = {"a.json": document, "a.png": png(10), "b.png": png(20)}
    body = _refused(api, media, zipped(members))
    assert body["detail"].startswith(detail), body["detail"]
    assert body["file"] == "a.json"


def test_an_image_of_the_zip_that_is_no_image_is_refused_naming_the_member(street: Any) -> None:
    api, media = street
    members = {
        "a.json": coco(["a.png", "b.png"]),
        "a.png": png(10),
        "b.png": b"\x89PNG\r\n\x1a\nxx",
    }
    body = _refused(api, media, zipped(members))
    assert body["detail"].startswith(
        "zip member 'a.json', image 2, field 'file_name': zip member 'b.png': "
    )
    assert (body["file"], body["line"], body["unit"]) == ("a.json", 2, "image")


def test_an_image_of_the_zip_of_another_shape_is_named_as_its_member(street: Any) -> None:
    """Not as where the zip's images were stored ('uploads/street/20261207-…/train/a.png'),
    which the user never saw."""
    api, media = street
    members = {
        "train/_annotations.coco.json": coco(["a.png"]),  # declared 40×20
        "train/a.png": png(10, (20, 40)),
    }
    body = _refused(api, media, zipped(members))
    assert body["detail"].startswith(
        "zip member 'train/_annotations.coco.json', image 1: zip member 'train/a.png': the file "
        "gives its size as 40×20 but the image is 20×40 pixels: it appears turned"
    ), body["detail"]
    assert (body["file"], body["line"], body["unit"]) == (
        "train/_annotations.coco.json",
        1,
        "image",
    )


def test_a_huge_coco_file_in_a_zip_is_refused_before_it_is_read(
    street: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.ingest import coco as coco_module

    monkeypatch.setattr(coco_module, "MAX_DOCUMENT_BYTES", 1 << 20)
    api, media = street
    huge = coco(["a.png"], info={"note": "x" * (2 << 20)})
    body = _refused(api, media, zipped({"a.json": huge, "a.png": png(10)}))
    assert body["detail"] == "zip member 'a.json': larger than 1 MiB; refused"


def test_coco_files_too_large_together_are_refused_naming_the_zip_and_sizes(
    street: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each split folder's COCO file was read up to 512 MiB: a zip of several made the server
    parse them all."""
    from labelloop.ingest import coco as coco_module

    monkeypatch.setattr(coco_module, "MAX_DOCUMENTS_BYTES", 1000)
    api, media = street
    doc = coco(["a.png"], info={"note": "x" * 600})
    members = {"train/_annotations.coco.json": doc, "valid/_annotations.coco.json": doc}
    body = _refused(api, media, zipped({**members, "train/a.png": png(10)}))
    assert body["detail"] == (
        f"'export.zip' holds {2 * len(doc):,} bytes of COCO JSON uncompressed (2 files); at "
        "most 1,000 bytes is read from one zip: split it"
    )


def test_a_coco_file_packed_like_a_zip_bomb_is_refused_unread(street: Any) -> None:
    api, media = street
    doc = coco(["a.png"], info={"note": " " * (4 << 20)})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.json", doc)
        archive.writestr("a.png", png(10))
    body = _refused(api, media, out.getvalue())
    assert body["detail"].startswith("zip member 'a.json': declares 4.0 MiB of JSON packed into ")
    assert body["detail"].endswith(
        " bytes in 'export.zip', over 100 times its size: refused unread"
    )


def test_cvat_s_coco_zip_of_subsets_brings_val_images_as_eval_items(street: Any) -> None:
    """CVAT exports one COCO file per subset, its images in images/<subset>/; it was refused
    for holding several JSON files."""
    api, media = street
    members = {
        "annotations/instances_default.json": coco(["a.png"]),
        "annotations/instances_train.json": coco(["b.png"]),
        "annotations/instances_val.json": coco(["c.png"]),
        "images/default/a.png": png(10),
        "images/train/b.png": png(20),
        "images/val/c.png": png(30),
    }
    sent = upload(api, zipped(members))
    assert sent.status_code == 201, sent.text
    assert (sent.json()["items"], sent.json()["labeled"], sent.json()["eval"]) == (3, 3, 1)
    evals = api.get("/api/projects/street/items", params={"split": "eval"}).json()["items"]
    assert [item["external_id"] for item in evals] == ["c.png"]
    assert [p.split("/", 3)[3] for p in stored(media)] == [
        "images/default/a.png",
        "images/train/b.png",
        "images/val/c.png",
    ]


def test_cvat_s_subsets_named_as_its_task_page_offers_them_bring_their_images(
    street: Any,
) -> None:
    """CVAT's task page offers the subsets Train, Validation and Test, and its export keeps
    their case (annotations/instances_Train.json, images/Train/); their images were looked
    for in images/train/ and not found."""
    api, media = street
    members = {
        "annotations/instances_Train.json": coco(["a.png"]),
        "annotations/instances_Validation.json": coco(["b.png"]),
        "images/Train/a.png": png(10),
        "images/Validation/b.png": png(20),
    }
    sent = upload(api, zipped(members))
    assert sent.status_code == 201, sent.text
    assert (sent.json()["items"], sent.json()["labeled"], sent.json()["eval"]) == (2, 2, 1)
    evals = api.get("/api/projects/street/items", params={"split": "eval"}).json()["items"]
    assert [item["external_id"] for item in evals] == ["b.png"]
    assert [p.split("/", 3)[3] for p in stored(media)] == [
        "images/Train/a.png",
        "images/Validation/b.png",
    ]


def test_roboflow_s_coco_zip_brings_its_valid_and_test_images_as_eval_items(street: Any) -> None:
    """Roboflow exports a COCO file per split folder, each beside its images."""
    api, media = street
    members = {
        "README.roboflow.txt": b"exported",
        "train/_annotations.coco.json": coco(["a.png", "b.png"]),
        "train/a.png": png(10),
        "train/b.png": png(20),
        "valid/_annotations.coco.json": coco(
            ["c.png", "u.png"],
            annotations=[{"id": 1, "image_id": 1, "category_id": 2, "bbox": [1, 1, 5, 5]}],
        ),
        "valid/c.png": png(30),
        "valid/u.png": png(40),
        "test/_annotations.coco.json": coco(["d.png"]),
        "test/d.png": png(50),
    }
    sent = upload(api, zipped(members))
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert (body["items"], body["labeled"], body["eval"]) == (5, 4, 2)
    assert (
        "1 validation or test image has no label and came into the pool, to be labeled: an "
        "eval item measures the model by its label"
    ) in body["notes"]
    evals = api.get("/api/projects/street/items", params={"split": "eval"}).json()["items"]
    assert sorted(item["external_id"] for item in evals) == ["c.png", "d.png"]
    assert len(stored(media)) == 5


def test_a_bad_image_of_a_later_coco_file_is_named_by_its_file_and_number(street: Any) -> None:
    api, media = street
    members = {
        "train/_annotations.coco.json": coco(["a.png", "b.png"]),
        "train/a.png": png(10),
        "train/b.png": png(20),
        "valid/_annotations.coco.json": coco(["c.png", "e.png"]),
        "valid/c.png": png(30),
        "valid/e.png": b"not a picture",
    }
    body = _refused(api, media, zipped(members))
    assert body["detail"] == (
        "zip member 'valid/_annotations.coco.json', image 2, field 'file_name': zip member "
        "'valid/e.png': not a JPEG, PNG or WebP file"
    )
    assert (body["file"], body["line"], body["unit"]) == (
        "valid/_annotations.coco.json",
        2,
        "image",
    )


def test_a_zip_of_several_coco_files_outside_split_folders_is_refused_naming_them(
    street: Any,
) -> None:
    api, media = street
    members = {
        "a.json": coco(["a.png"]),
        "b.json": coco(["b.png"]),
        "a.png": png(10),
        "b.png": png(20),
    }
    body = _refused(api, media, zipped(members))
    assert body["detail"] == (
        "the zip holds 2 JSON files ('a.json', 'b.json'): a COCO zip holds one, or one in each "
        "split folder (train/, valid/, test/) or per CVAT subset "
        "(annotations/instances_train.json, ...), with its images"
    )
