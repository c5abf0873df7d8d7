"""Export downloads and the project page: each project offers the formats its controls fit."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.responses import Response

from labelloop.workflow import imports, projects
from tests.conftest import Lab

BOXES = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}
SPANS = {
    "name": "Entities",
    "controls": [{"name": "ents", "type": "spans", "labels": ["PER", "LOC"]}],
}
CHOICE = {
    "name": "Mood",
    "controls": [{"name": "mood", "type": "choice", "labels": ["pos", "neg"]}],
}


@pytest.fixture
def site(sqlite_lab: Lab, tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow.accounts import create_token

    lab = sqlite_lab
    media = tmp_path / "media"
    media.mkdir()
    Image.new("RGB", (64, 48), "gray").save(media / "street.png")
    for slug, schema in (("street", BOXES), ("ents", SPANS), ("mood", CHOICE)):
        projects.create_project(lab.db, slug, schema, actor=lab.admin)
    row = {"image": "street.png", "label": [{"x": 4, "y": 4, "w": 20, "h": 10, "label": "car"}]}
    imports.import_items(
        lab.db,
        lab.ctx("street", lab.admin),
        io.BytesIO((json.dumps(row) + "\n").encode()),
        fmt="jsonl",
        filename="street.jsonl",
        text_field="image",
        label_field="label",
        media_roots=(media,),
    )
    token = create_token(lab.db, "admin")
    settings = get_settings(home=tmp_path, secret_key="test", media_roots=str(media))
    app = create_app(settings, db=lab.db, learner=False)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        response = Response()
        app.state.sessions.issue(response, lab.admin.id)
        cookie = response.headers["set-cookie"].split(";", 1)[0]

        def page(slug: str) -> str:
            got = client.get(f"/p/{slug}", headers={"cookie": cookie, "Authorization": ""})
            assert got.status_code == 200
            return got.text

        client.page = page
        yield client


def test_a_boxes_project_downloads_coco_with_the_image_size(site: Any) -> None:
    got = site.get("/api/projects/street/export", params={"format": "coco"})
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json")
    assert 'filename="street.coco.json"' in got.headers["content-disposition"]
    doc = json.loads(got.content)
    assert [(i["file_name"], i["width"], i["height"]) for i in doc["images"]] == [
        ("street.png", 64, 48)
    ]
    assert [a["bbox"] for a in doc["annotations"]] == [[4, 4, 20, 10]]
    jsonl = site.get("/api/projects/street/export", params={"format": "jsonl"})
    (row,) = [json.loads(line) for line in jsonl.text.splitlines()]
    assert row["value"] == {"objects": [{"x": 4, "y": 4, "w": 20, "h": 10, "label": "car"}]}


@pytest.mark.parametrize(
    ("slug", "fmt"), [("ents", "csv"), ("street", "csv"), ("mood", "coco"), ("mood", "yolo")]
)
def test_a_format_that_cannot_hold_the_controls_is_refused_with_json(
    site: Any, slug: str, fmt: str
) -> None:
    got = site.get(f"/api/projects/{slug}/export", params={"format": fmt})
    assert got.status_code == 400
    assert "jsonl" in got.json()["detail"]


def test_the_project_page_offers_the_formats_the_controls_fit(site: Any) -> None:
    street, ents, mood = (site.page(slug) for slug in ("street", "ents", "mood"))
    assert 'id="export-coco"' in street and 'id="export-csv"' not in street
    assert 'value="coco"' in street  # COCO import too
    assert 'id="export-yolo"' in street and 'value="yolo"' in street and ".zip" in street
    assert 'id="export-yolo"' not in mood and 'value="yolo"' not in mood
    assert 'id="export-coco"' not in ents and 'id="export-csv"' not in ents
    assert 'id="export-csv"' in mood and 'id="export-coco"' not in mood
    assert 'id="export-images"' in street  # YOLO and COCO with the images
    assert "an upload takes at most 500,000 images or 8.0 GiB in one zip: a larger one" in street
    assert 'id="export-images"' not in mood and 'id="export-images"' not in ents
    assert all('id="import-prediction-field"' in html for html in (street, ents, mood))
    for html in (street, ents, mood):  # every control fits Label Studio's JSON
        assert 'id="export-label-studio"' in html and 'value="label_studio"' in html
    # a spans project downloads what `labelloop export` writes for it: CoNLL, doccano and
    # Prodigy too, where the page offered JSONL and Label Studio JSON alone
    for fmt in ("conll", "doccano", "prodigy"):
        assert f'id="export-{fmt}"' in ents and f'id="export-{fmt}"' not in street
        link = f'href="/api/projects/ents/export?format={fmt}"'
        assert link in ents
        got = site.get("/api/projects/ents/export", params={"format": fmt})
        assert got.status_code == 200, got.text
    assert "Download CoNLL" in ents
    # the coverage button only where it can answer: a boxes or spans project says why not
    assert 'id="coverage-measure"' in mood
    for html, kind in ((street, "labels boxes"), (ents, "labels spans")):
        assert 'id="coverage-measure"' not in html
        assert "What the model could label now: measured for a single-label classifier" in html
        assert kind in html


def test_a_label_studio_download_uploads_back_into_a_fresh_project(site: Any) -> None:
    got = site.get("/api/projects/street/export", params={"format": "label_studio"})
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json")
    assert 'filename="street.label_studio.json"' in got.headers["content-disposition"]
    (task,) = json.loads(got.content)
    assert task["data"] == {"image": "/data/local-files/?d=street.png"}
    (result,) = task["annotations"][0]["result"]
    assert (result["original_width"], result["original_height"]) == (64, 48)
    # the box x=4, y=4, w=20, h=10 px of a 64x48 image in percent
    assert result["value"]["x"] == 6.25 and result["value"]["width"] == 31.25
    assert result["value"]["y"] == pytest.approx(100 / 12) and result["value"]["height"] == (
        pytest.approx(125 / 6)
    )
    assert site.post("/api/projects", json={"slug": "street2", "schema": BOXES}).status_code == 201
    upload = {"file": ("street.label_studio.json", got.content)}
    back = site.post("/api/projects/street2/imports", files=upload, data={"format": "label_studio"})
    assert back.status_code == 201, back.text
    assert (back.json()["items"], back.json()["labeled"]) == (1, 1)
    (row,) = site.get("/api/projects/street2/export", params={"format": "jsonl"}).text.splitlines()
    assert json.loads(row)["value"] == {
        "objects": [{"x": 4, "y": 4, "w": 20, "h": 10, "label": "car"}]
    }
    refused = site.post(
        "/api/projects/street2/imports", files={"file": ("again.json", got.content)}
    )
    assert refused.status_code == 400
    assert "give the format: coco or label_studio" in refused.json()["detail"]


def test_a_downloaded_csv_uploads_back_as_it_was(site: Any) -> None:
    """The CSV download guards '@...' and '=...' texts for spreadsheets; uploading it into a
    project gives the texts back as they were."""
    texts = ["@JetBlue Got flight", "=1+1", "'=x", "-3 degrees", "plain"]
    lines = [json.dumps({"id": f"m{i}", "text": t, "label": "pos"}) for i, t in enumerate(texts)]
    upload = {"file": ("m.jsonl", "\n".join(lines).encode())}
    form = {"id_field": "id", "label_field": "label"}
    assert site.post("/api/projects/mood/imports", files=upload, data=form).status_code == 201
    got = site.get("/api/projects/mood/export", params={"format": "csv"})
    assert got.status_code == 200 and "'@JetBlue Got flight" in got.text
    assert site.post("/api/projects", json={"slug": "mood2", "schema": CHOICE}).status_code == 201
    form = {"text_field": "text", "id_field": "external_id", "label_field": "value"}
    back = site.post(
        "/api/projects/mood2/imports", files={"file": ("mood.csv", got.content)}, data=form
    )
    assert back.status_code == 201, back.text
    rows = site.get("/api/projects/mood2/export", params={"format": "jsonl"}).text.splitlines()
    assert sorted(json.loads(r)["text"] for r in rows) == sorted(texts)


@pytest.mark.parametrize(
    ("fmt", "line", "field"),
    [
        ("prodigy", {"text": "Ann met Bob", "label": "pos", "answer": "accept"}, "label"),
        ("doccano", {"id": 5, "text": "Ann met Bob", "label": ["pos"]}, "label"),
    ],
)
def test_a_doccano_or_prodigy_file_uploads_and_downloads(
    site: Any, fmt: str, line: dict[str, Any], field: str
) -> None:
    upload = {"file": (f"mood.{fmt}.jsonl", json.dumps(line).encode())}
    back = site.post("/api/projects/mood/imports", files=upload, data={"format": fmt})
    assert back.status_code == 201, back.text
    assert (back.json()["items"], back.json()["labeled"]) == (1, 1)
    got = site.get("/api/projects/mood/export", params={"format": fmt})
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/x-ndjson")
    assert f'filename="mood.{fmt}.jsonl"' in got.headers["content-disposition"]
    (row,) = [json.loads(x) for x in got.text.splitlines()]
    assert row["text"] == "Ann met Bob"
    assert (row["accept"] if fmt == "prodigy" else row["label"]) == ["pos"]
    bad = {"file": ("bad.jsonl", json.dumps({**line, "text": "x", field: "meh"}).encode())}
    refused = site.post("/api/projects/mood/imports", files=bad, data={"format": fmt})
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(f"line 1, field '{field}': ")
    assert "'meh' is not one of pos, neg" in refused.json()["detail"]


def test_an_upload_says_what_did_not_come_in_as_labels(site: Any) -> None:
    tasks = [
        {"text": "A quiet day", "label": "pos", "answer": "reject"},
        {"text": "Rain again", "label": "neg", "answer": "ignore"},
        {"text": "Sun at last", "label": "pos", "answer": "accept"},
    ]
    data = "\n".join(json.dumps(t) for t in tasks).encode()
    upload = {"file": ("mood.prodigy.jsonl", data)}
    back = site.post("/api/projects/mood/imports", files=upload, data={"format": "prodigy"})
    assert back.status_code == 201, back.text
    assert (back.json()["items"], back.json()["labeled"]) == (3, 1)
    assert back.json()["notes"] == [
        "1 rejected answer and 1 ignored answer came in unlabeled (metadata prodigy_answer): a "
        "reject says only what an item is not"
    ]
    plain = {"file": ("more.jsonl", json.dumps({"text": "Snow"}).encode())}
    assert site.post("/api/projects/mood/imports", files=plain).json()["notes"] == []


def test_the_page_offers_doccano_and_prodigy_imports_for_text_projects(site: Any) -> None:
    street, ents, mood = (site.page(slug) for slug in ("street", "ents", "mood"))
    for html in (ents, mood):
        assert 'value="doccano"' in html and 'value="prodigy"' in html
    assert 'value="doccano"' not in street and 'value="prodigy"' not in street
    refused = site.get("/api/projects/street/export", params={"format": "prodigy"})
    assert refused.status_code == 400
    assert "holds text and HTML items" in refused.json()["detail"]


def test_the_eval_items_download_with_split_eval(site: Any) -> None:
    for split, texts in (("pool", ["sunny day"]), ("eval", ["rainy day", "grey day"])):
        lines = "\n".join(json.dumps({"text": t, "label": "pos"}) for t in texts).encode()
        form = {"label_field": "label", "split": split}
        upload = {"file": (f"{split}.jsonl", lines)}
        assert site.post("/api/projects/mood/imports", files=upload, data=form).status_code == 201

    def texts(**params: str) -> list[str]:
        got = site.get("/api/projects/mood/export", params={"format": "jsonl", **params})
        assert got.status_code == 200, got.text
        return sorted(json.loads(r)["text"] for r in got.text.splitlines())

    assert texts() == ["sunny day"]
    assert texts(split="eval") == ["grey day", "rainy day"]
    refused = site.get("/api/projects/mood/export", params={"split": "test"})
    assert refused.status_code == 400 and "is not one of pool, eval" in refused.json()["detail"]


def test_a_yolo_download_uploads_back_into_a_fresh_project(site: Any) -> None:
    got = site.get("/api/projects/street/export", params={"format": "yolo"})
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/zip"
    assert 'filename="street.yolo.zip"' in got.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        # the box x=4, y=4, w=20, h=10 px of a 64x48 image: centre and size in fractions
        assert archive.read("street.txt") == b"0 0.218750 0.187500 0.312500 0.208333\n"
        assert archive.read("images.txt") == b"./street.png\n"
    assert site.post("/api/projects", json={"slug": "street2", "schema": BOXES}).status_code == 201
    upload = {"file": ("street.yolo.zip", got.content)}
    back = site.post("/api/projects/street2/imports", files=upload)  # the format by its suffix
    assert back.status_code == 201, back.text
    assert (back.json()["items"], back.json()["labeled"]) == (1, 1)
    (row,) = site.get("/api/projects/street2/export", params={"format": "jsonl"}).text.splitlines()
    (box,) = json.loads(row)["value"]["objects"]
    assert box == {"x": 4, "y": 4, "w": 20, "h": pytest.approx(10, abs=0.01), "label": "car"}


def test_a_bad_yolo_upload_is_a_422_naming_the_file_and_line(site: Any) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("data.yaml", "names: [car, person]\ntrain: images.txt\n")
        archive.writestr("images.txt", "./street.png\n")
        archive.writestr("street.txt", "0 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.2 0.2\n")
    upload = {"file": ("bad.zip", out.getvalue())}
    refused = site.post("/api/projects/street/imports", files=upload, data={"format": "yolo"})
    assert refused.status_code == 422
    body = refused.json()
    assert (body["file"], body["line"]) == ("street.txt", 2)
    assert body["detail"] == (
        "zip member 'street.txt', line 2: class 3 has no name (the dataset names classes 0 to 1)"
    )
    assert len(site.get("/api/projects/street/imports").json()) == 1  # nothing half-written


def test_the_python_client_exports_a_yolo_zip_and_imports_it_back(
    site: Any, tmp_path: Path
) -> None:
    from labelloop.client import Client

    token = site.headers["Authorization"].removeprefix("Bearer ")
    client = Client("http://testserver", token, http=site)
    path = client.project("street").export(tmp_path / "street.yolo.zip", format="yolo")
    assert zipfile.ZipFile(path).read("images.txt") == b"./street.png\n"
    assert site.post("/api/projects", json={"slug": "street2", "schema": BOXES}).status_code == 201
    report = client.project("street2").import_file(path)
    assert (report["items"], report["labeled"], report["notes"]) == (1, 1, [])


def _png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (40, 20), shade).save(out, format="PNG")
    return out.getvalue()


def _yolo_zip(files: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


DATASET: dict[str, str | bytes] = {
    "data.yaml": "path: .\ntrain: images/train\nval: images/val\nnames: {0: car, 1: person}\n",
    "images/train/a.png": _png(10),
    "images/train/b.png": _png(20),
    "images/val/c.png": _png(30),
    "labels/train/a.txt": "0 0.5 0.5 0.5 0.5\n",
    "labels/train/b.txt": "1 0.25 0.25 0.5 0.5\n",
    "labels/val/c.txt": "1 0.5 0.5 0.25 0.5\n",
    "__MACOSX/images/train/._a.png": b"\x00\x05\x16\x07",
}


def _uploads(tmp_path: Path) -> list[str]:
    """The files stored under the media root's uploads folder."""
    top = tmp_path / "media" / "uploads"
    return sorted(p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file())


def test_a_yolo_zip_with_its_images_uploads_its_val_split_as_eval_items(
    site: Any, tmp_path: Path
) -> None:
    upload = {"file": ("cars.zip", _yolo_zip(DATASET))}
    done = site.post("/api/projects/street/imports", files=upload)
    assert done.status_code == 201, done.text
    body = done.json()
    assert (body["items"], body["labeled"], body["eval"], body["split"]) == (3, 3, 1, "pool")
    assert "1 of the 3 items came in as eval items" in " ".join(body["notes"])
    assert "2 came into the pool" in " ".join(body["notes"])
    stored = _uploads(tmp_path)
    assert [p.split("/", 2)[2] for p in stored] == [
        "images/train/a.png",
        "images/train/b.png",
        "images/val/c.png",
    ]
    assert {p.split("/")[0] for p in stored} == {"street"}
    counts = site.get("/api/projects/street/status").json()["counts"]
    assert (counts["pool"], counts["eval"], counts["eval_labeled"]) == (3, 1, 1)
    (c,) = site.get("/api/projects/street/items", params={"split": "eval"}).json()["items"]
    media = site.get(f"/api/projects/street/items/{c['id']}/media")
    assert media.status_code == 200 and media.content == DATASET["images/val/c.png"]

    got = site.get("/api/projects/street/export", params={"format": "yolo"})
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        val = archive.read("val.txt").decode()
        assert val.startswith("./uploads/street/") and val.endswith("/images/val/c.png\n")
        assert len(archive.read("images.txt").decode().splitlines()) == 3  # street.png too
    assert site.post("/api/projects", json={"slug": "street2", "schema": BOXES}).status_code == 201
    back = site.post("/api/projects/street2/imports", files={"file": ("s.yolo.zip", got.content)})
    assert back.status_code == 422  # the uploaded images are street's: street2 may not name them
    detail = back.json()["detail"]  # image 1 is street.png, the media root's own: it may
    assert detail.startswith("image 2 ('uploads/street/")  # the image, by the path it names
    said = back.json()
    assert (said["line"], said["unit"]) == (2, "image")
    assert said["file"].startswith("uploads/street/") and said["file"].endswith("/train/a.png")
    assert detail.endswith(
        "lies in another project's uploaded images (uploads/ under the media "
        "root), which only that project's items may name"
    )
    assert site.get("/api/projects/street2/status").json()["counts"]["pool"] == 0

    again = site.post("/api/projects/street/imports", files=upload)
    assert (again.json()["items"], again.json()["duplicates"]) == (0, 3)
    assert _uploads(tmp_path) == stored  # the same images are not stored twice


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            {"labels/val/c.txt": "7 0.5 0.5 0.2 0.2\n"},
            "zip member 'labels/val/c.txt', line 1: class 7 has no",
        ),
        (
            {"data.yaml": "path: ../../etc\nnames: [car, person]\n"},
            "zip member 'data.yaml', line 1: 'path' '../../etc' leads out of the zip",
        ),
        (
            {"data.yaml": "val: /etc\nnames: [car, person]\n"},
            "zip member 'data.yaml', line 1: 'val' '/etc' leads out of the zip",
        ),
        ({"../evil.png": _png(1)}, "zip member '../evil.png': '..' is refused"),
        (
            {"images/val/c.png": b"\x89PNG\r\n\x1a\nnot an image"},
            "zip member 'images/val/c.png', image 3: cannot be read as an image",
        ),
        (
            {"images/val/c.png": b"\x89PNG\r\n\x1a\n" + bytes(65 << 20)},
            "zip member 'images/val/c.png': larger than 64 MiB",
        ),
    ],
)
def test_a_bad_yolo_zip_of_images_stores_nothing_and_names_the_file(
    site: Any, tmp_path: Path, change: dict[str, str | bytes], detail: str
) -> None:
    upload = {"file": ("cars.zip", _yolo_zip(DATASET | change))}
    refused = site.post("/api/projects/street/imports", files=upload)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith(detail)
    assert _uploads(tmp_path) == []  # nothing half-written
    assert len(site.get("/api/projects/street/imports").json()) == 1


@pytest.mark.parametrize("fmt", ["yolo", "coco"])
def test_an_export_with_images_uploads_into_another_project_with_the_same_boxes(
    site: Any, tmp_path: Path, fmt: str
) -> None:
    done = site.post(
        "/api/projects/street/imports", files={"file": ("cars.zip", _yolo_zip(DATASET))}
    )
    assert done.status_code == 201, done.text
    got = site.get("/api/projects/street/export", params={"format": fmt, "images": "true"})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/zip"
    assert f'filename="street.{fmt}.zip"' in got.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        images = sorted(n for n in archive.namelist() if n.startswith("images/"))
        assert images == [f"images/train/{n}.png" for n in ("a", "b", "street")] + [
            "images/val/c.png"
        ]
        assert archive.read("images/val/c.png") == DATASET["images/val/c.png"]
    assert site.post("/api/projects", json={"slug": "street2", "schema": BOXES}).status_code == 201
    upload = {"file": (f"street.{fmt}.zip", got.content)}
    back = site.post("/api/projects/street2/imports", files=upload)
    assert back.status_code == 201, back.text
    assert (back.json()["items"], back.json()["labeled"], back.json()["eval"]) == (4, 4, 1)

    def labels(slug: str) -> list[tuple[str, bytes, Any]]:
        rows = []
        for split in ("pool", "eval"):
            out = site.get(f"/api/projects/{slug}/export", params={"split": split}).text
            for row in map(json.loads, out.splitlines()):
                image = (tmp_path / "media" / row["text"]).read_bytes()
                rows.append((split, image, row["value"]))
        return sorted(rows, key=repr)

    assert labels("street2") == labels("street")
    assert {p.split("/")[0] for p in _uploads(tmp_path)} == {"street", "street2"}


def test_an_export_with_images_names_the_items_whose_image_is_gone(
    site: Any, tmp_path: Path
) -> None:
    (tmp_path / "media" / "street.png").unlink()
    got = site.get("/api/projects/street/export", params={"format": "coco", "images": "true"})
    assert got.status_code == 422
    assert got.json()["detail"].startswith(
        "1 item of the export cannot bring its image, so no export with images was written: "
        "item 1: media path 'street.png': no such file under the media roots"
    )
    assert site.get("/api/projects/street/export", params={"format": "coco"}).status_code == 200


def test_the_client_downloads_an_export_with_its_images(site: Any, tmp_path: Path) -> None:
    from labelloop.client import Client

    token = site.headers["Authorization"].removeprefix("Bearer ")
    street = Client("http://testserver", token, http=site).project("street")
    out = street.export(tmp_path / "street.yolo.zip", format="yolo", images=True)
    with zipfile.ZipFile(out) as archive:
        assert (
            archive.read("images/train/street.png") == (tmp_path / "media/street.png").read_bytes()
        )
        assert archive.read("labels/train/street.txt")


def test_an_export_past_what_one_upload_takes_says_so_in_a_header(
    site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.client import Client
    from labelloop.ingest import yolo

    params = {"format": "yolo", "images": "true"}
    assert (
        "x-labelloop-warning" not in site.get("/api/projects/street/export", params=params).headers
    )
    monkeypatch.setattr(yolo, "MAX_STORED_BYTES", 100)  # street.png is larger
    got = site.get("/api/projects/street/export", params=params)
    assert got.status_code == 200
    said = got.headers["x-labelloop-warning"]
    assert said.startswith("the zip holds 1 image (")
    assert "(500,000 images, 100 bytes): uploaded to a project it is refused" in said
    assert site.post("/api/projects", json={"slug": "street2", "schema": BOXES}).status_code == 201
    back = site.post("/api/projects/street2/imports", files={"file": ("s.zip", got.content)})
    assert back.status_code == 422  # as the warning said, naming the limit in effect
    assert back.json()["reason"] == "the zip's images come to more than 100 bytes; split it"

    token = site.headers["Authorization"].removeprefix("Bearer ")
    street = Client("http://testserver", token, http=site).project("street")
    with pytest.warns(UserWarning, match="street.yolo.zip: the zip holds 1 image"):
        street.export(tmp_path / "street.yolo.zip", format="yolo", images=True)
