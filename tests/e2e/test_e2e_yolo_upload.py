"""A YOLO dataset uploaded as a zip with its images on the project page, in real Chromium: its
val images become eval items, its train images the pool, and the stored images are served."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.e2e.conftest import USERNAME, page_fetch, serving
from tests.e2e.sessions import signed_in_page
from tests.e2e.stock import stocked

pytestmark = pytest.mark.browser

SLUG = "street"
SCHEMA = {
    "name": "Street <b>objects</b>",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path
) -> Iterator[tuple[str, Path]]:
    """A boxes project on a fresh data dir, served without a learner."""
    home = tmp_path_factory.mktemp("labelloop-yolo")
    with stocked(home, sqlite_migrated, first_rounds=False) as stock:
        stock.user(USERNAME, admin=True)
        stock.project(SLUG, SCHEMA)
    with serving(home, "serve", learner=False) as url:
        yield url, home


def _png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (shade, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def _dataset_zip(path: Path) -> Path:
    """Ultralytics' layout with its images: two train images, one val image, a Mac's clutter."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "data.yaml", "path: .\ntrain: images/train\nval: images/val\nnames: [car, person]\n"
        )
        for name, shade in (("train/a", 10), ("train/b", 70), ("val/<img src=x>", 140)):
            archive.writestr(f"images/{name}.png", _png(shade))
            archive.writestr(f"labels/{name}.txt", "0 0.5 0.5 0.5 0.5\n")
        archive.writestr("__MACOSX/images/train/._a.png", b"\x00\x05\x16\x07")
    return path


def _message(page: Any, box: str, containing: str) -> str:
    """The text of the message shown in ``box`` once it contains ``containing``."""
    page.wait_for_function(
        """([box, part]) => {
            const m = document.querySelector('#' + box + ' .message');
            return m !== null && m.textContent.includes(part);
        }""",
        arg=[box, containing],
        timeout=30000,
    )
    return page.inner_text(f"#{box} .message")


def test_a_yolo_zip_with_images_and_a_val_split_uploads_on_the_project_page(
    site: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    url, home = site
    page = signed_in_page(browser, url, f"/p/{SLUG}")
    assert "val" in page.inner_text("#import-yolo-hint")
    page.set_input_files("#import-file", str(_dataset_zip(tmp_path / "cars.zip")))
    page.click("#import-submit")
    said = _message(page, "import-result", "Imported")
    assert said.startswith("Imported 3 items, 3 with labels")
    assert "1 of the 3 items came in as eval items" in said and "2 came into the pool" in said
    page.wait_for_function("() => document.getElementById('stat-eval').textContent === '1'")
    assert page.inner_text("#stat-pool") == "2"
    assert page.evaluate("() => window.__xss") is None
    # the Imports table said split "pool" for it, beside the eval card's 1
    row = page.locator("#imports-table tbody tr", has_text="cars.zip")
    row.wait_for()
    assert row.locator("td").nth(2).inner_text() == "pool, 1 eval"

    (stamp,) = (home / "media" / "uploads" / SLUG).iterdir()
    assert (stamp / "images" / "val" / "<img src=x>.png").read_bytes() == _png(140)
    status, listed = page_fetch(page, "GET", f"/api/projects/{SLUG}/items?split=eval")
    (item,) = listed["items"]
    assert status == 200
    image = page.evaluate(
        """async (id) => {
            const r = await fetch(`/api/projects/street/items/${id}/media`);
            return [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength];
        }""",
        item["id"],
    )
    assert image == [200, "image/png", len(_png(140))]

    # The same zip again brings nothing new and stores nothing more.
    page.set_input_files("#import-file", str(tmp_path / "cars.zip"))
    page.click("#import-submit")
    said = _message(page, "import-result", "Nothing new")
    assert said.startswith("Nothing new: all 3 records were already in the project (images ")
    assert [p.name for p in (home / "media" / "uploads" / SLUG).iterdir()] == [stamp.name]
    page.close()


def test_undoing_an_uploaded_zip_on_the_project_page_says_its_images_were_deleted(
    site: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    url, home = site
    uploads = home / "media" / "uploads" / SLUG
    before = set(uploads.iterdir()) if uploads.exists() else set()
    zipped = tmp_path / "more.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("data.yaml", "train: images\nnames: [car, person]\n")
        for name, shade in (("d", 200), ("e", 220)):
            archive.writestr(f"images/{name}.png", _png(shade))
            archive.writestr(f"labels/{name}.txt", "1 0.5 0.5 0.5 0.5\n")
    page = signed_in_page(browser, url, f"/p/{SLUG}")
    page.set_input_files("#import-file", str(zipped))
    page.click("#import-submit")
    _message(page, "import-result", "Imported")
    (stored,) = set(uploads.iterdir()) - before
    assert sorted(p.name for p in stored.rglob("*.png")) == ["d.png", "e.png"]

    row = page.locator("#imports-table tbody tr", has_text="more.zip")
    row.wait_for()
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="Undo import").click()
    said = _message(page, "imports-result", "undone")
    assert said.endswith("(more.zip) undone: 2 items removed. 2 stored image files deleted.")
    assert "and the image files the upload stored" in asked[0]
    assert not stored.exists()
    assert set(uploads.iterdir()) == before if before else not uploads.exists()
    page.close()


def test_a_coco_export_zip_uploads_on_the_project_page(
    site: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    """CVAT's COCO export, zipped: annotations/instances_default.json and images/; a bad one
    is refused naming the zip member and the image, storing nothing."""
    url, home = site
    uploads = home / "media" / "uploads" / SLUG
    before = set(uploads.iterdir()) if uploads.exists() else set()
    doc = {
        "images": [
            {"id": 1, "file_name": "f.png", "width": 80, "height": 60},
            {
                "id": 2,
                "file_name": "<img src=x onerror=window.__xss=1>.png",
                "width": 80,
                "height": 60,
            },
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 2, "bbox": [4, 5, 20, 30]},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 30, 20]},
        ],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
    }
    good, bad = tmp_path / "cvat.zip", tmp_path / "broken.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("annotations/instances_default.json", json.dumps(doc))
        archive.writestr("images/f.png", _png(30))
        archive.writestr("images/<img src=x onerror=window.__xss=1>.png", _png(50))
    doc["annotations"][1]["bbox"] = [1, 2]
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("annotations/instances_default.json", json.dumps(doc))
        archive.writestr("images/f.png", _png(31))
        archive.writestr("images/<img src=x onerror=window.__xss=1>.png", _png(51))

    page = signed_in_page(browser, url, f"/p/{SLUG}")
    assert "CVAT" in page.inner_text("#import-coco-hint")
    page.set_input_files("#import-file", str(bad))
    page.click("#import-submit")
    said = _message(page, "import-result", "zip member")
    assert (
        "zip member 'annotations/instances_default.json', image 2, field "
        "'annotations[1].bbox': must be [x, y, w, h]" in said
    )
    assert (set(uploads.iterdir()) if uploads.exists() else set()) == before

    pool = int(page.inner_text("#stat-pool"))
    page.set_input_files("#import-file", str(good))
    page.click("#import-submit")
    said = _message(page, "import-result", "Imported")
    assert said.startswith("Imported 2 items, 2 with labels")
    page.wait_for_function(
        f"() => document.getElementById('stat-pool').textContent === '{pool + 2}'"
    )
    assert page.evaluate("() => window.__xss") is None
    (stored,) = set(uploads.iterdir()) - before
    assert sorted(p.name for p in stored.rglob("*.png")) == [
        "<img src=x onerror=window.__xss=1>.png",
        "f.png",
    ]

    # The same zip again: its duplicates are counted by image.
    page.set_input_files("#import-file", str(good))
    page.click("#import-submit")
    said = _message(page, "import-result", "Nothing new")
    assert said.startswith("Nothing new: all 2 records were already in the project (images 1, 2)")
    page.close()
