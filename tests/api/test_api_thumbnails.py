"""Thumbnails: small cached images for members; hostile stored paths and outsiders get 4xx."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.api.test_api_media import IMAGE_SCHEMA, SLUG, _plant
from tests.conftest import Lab
from tests.ingest.test_ingest_imaging import declared_png

HOSTILE = ["../../etc/passwd", "/etc/passwd", "../outside.png", "set/link.png", "set/renamed.png"]


def _image(size: tuple[int, int], *, mode: str = "RGB", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)).save(
        out, format=fmt
    )
    return out.getvalue()


@pytest.fixture
def thumbs(sqlite_lab: Lab, tmp_path: Path) -> Iterator[tuple[Any, dict[str, int], Any, Path]]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow import imports, projects
    from labelloop.workflow.accounts import create_token

    lab = sqlite_lab
    media = tmp_path / "media"
    (media / "set").mkdir(parents=True)
    (media / "set" / "wide.jpg").write_bytes(_image((800, 400), fmt="JPEG"))
    (media / "set" / "glass.png").write_bytes(_image((300, 600), mode="RGBA"))
    (media / "set" / "renamed.png").write_text("just text\n")
    (media / "set" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # no picture
    declared_png(media / "set" / "huge.png", 12_000, 10_000)  # 120 megapixels, a few bytes
    (tmp_path / "outside.png").write_bytes(_image((64, 64)))
    (media / "set" / "link.png").symlink_to(tmp_path / "outside.png")
    projects.create_project(lab.db, SLUG, IMAGE_SCHEMA, actor=lab.admin)
    ctx = lab.ctx(SLUG, lab.admin)
    names = ("wide.jpg", "glass.png")
    body = "".join(json.dumps({"id": name, "image": f"set/{name}"}) + "\n" for name in names)
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(body.encode()),
        fmt="jsonl",
        filename="pics.jsonl",
        text_field="image",
        id_field="id",
        media_roots=(media,),
    )
    bad = [*HOSTILE, "set/cut.png", "set/huge.png"]
    planted = _plant(lab, ctx.id, [{"image": h} for h in bad])
    ids = {"wide": 1, "glass": 2, **dict(zip([*HOSTILE, "cut", "huge"], planted, strict=True))}
    lab.member(SLUG, "annotator", "annotator")
    lab.user("outsider")
    tokens = {n: create_token(lab.db, n) for n in ("admin", "annotator", "outsider")}
    settings = get_settings(home=tmp_path / "home", secret_key="test", media_roots=str(media))
    app = create_app(settings, db=lab.db, learner=False)
    with TestClient(app) as client:

        def get(who: str, item_id: int, **params: Any) -> Any:
            return client.get(
                f"/api/projects/{SLUG}/items/{item_id}/thumbnail",
                params=params,
                headers={"Authorization": f"Bearer {tokens[who]}"},
            )

        yield client, ids, get, tmp_path / "home"


def test_a_member_gets_a_small_jpeg_that_keeps_the_aspect_ratio(thumbs: Any) -> None:
    _, ids, get, home = thumbs
    got = get("annotator", ids["wide"], size=128)
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["cache-control"].startswith("private")
    assert Image.open(io.BytesIO(got.content)).size == (128, 64)
    assert len(list((home / "thumbnails").rglob("*.jpg"))) == 1
    again = get("annotator", ids["wide"], size=128)
    assert again.content == got.content  # served from the cache
    assert len(list((home / "thumbnails").rglob("*.jpg"))) == 1
    assert Image.open(io.BytesIO(get("admin", ids["wide"]).content)).size == (128, 64)
    assert Image.open(io.BytesIO(get("admin", ids["wide"], size=512).content)).size == (512, 256)


def test_a_transparent_image_becomes_a_png(thumbs: Any) -> None:
    _, ids, get, _ = thumbs
    got = get("admin", ids["glass"], size=100)
    assert got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (50, 100)


def test_an_unchanged_thumbnail_answers_304(thumbs: Any) -> None:
    """A list row's thumbnail, asked again (the Items page paged back), costs no image: the
    browser may keep it a day for this user only, then asks with its tag and gets a 304."""
    client, ids, get, _ = thumbs
    first = get("admin", ids["wide"])
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, max-age=86400"
    second = client.get(
        f"/api/projects/{SLUG}/items/{ids['wide']}/thumbnail",
        headers={**first.request.headers, "If-None-Match": tag},
    )
    assert second.status_code == 304 and second.content == b""
    assert second.headers["etag"] == tag
    assert second.headers["cache-control"] == "private, max-age=86400"
    other_size = get("admin", ids["wide"], size=96)
    assert other_size.headers["etag"] != tag  # each size is its own picture


def test_a_known_tag_does_not_pass_the_membership_check(thumbs: Any) -> None:
    """Someone holding a member's tag learns nothing from it: no 304 before the check."""
    client, ids, get, _ = thumbs
    tag = get("admin", ids["wide"]).headers["etag"]
    headers = {"If-None-Match": tag}
    outsider = get("outsider", ids["wide"])
    asked = client.get(
        f"/api/projects/{SLUG}/items/{ids['wide']}/thumbnail",
        headers={**outsider.request.headers, **headers},
    )
    assert asked.status_code == 404
    anonymous = client.get(f"/api/projects/{SLUG}/items/{ids['wide']}/thumbnail", headers=headers)
    assert anonymous.status_code == 401


@pytest.mark.parametrize("size", [0, 8, 513, 10_000])
def test_sizes_out_of_range_are_refused(thumbs: Any, size: int) -> None:
    _, ids, get, _ = thumbs
    assert get("admin", ids["wide"], size=size).status_code == 422


def test_non_members_and_strangers_learn_nothing(thumbs: Any) -> None:
    client, ids, get, _ = thumbs
    got = get("outsider", ids["wide"])
    assert got.status_code == 404
    assert got.json()["error"] == "NotFound"
    assert get("admin", 999_999).status_code == 404
    assert client.get(f"/api/projects/{SLUG}/items/{ids['wide']}/thumbnail").status_code == 401


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_stored_paths_are_refused(thumbs: Any, hostile: str) -> None:
    _, ids, get, home = thumbs
    got = get("admin", ids[hostile])
    assert 400 <= got.status_code < 500
    assert got.headers["content-type"].startswith("application/json")
    assert b"root:" not in got.content
    assert not (home / "thumbnails").exists() or not list((home / "thumbnails").rglob("*.*"))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cut", "cannot identify image file 'cut.png'"),
        # a file that grew past the limit after its import, or stored before there was one:
        # its thumbnail took over half a gigabyte per request
        (
            "huge",
            "it is 12,000×10,000 pixels (120 megapixels); "
            "labelloop reads images of at most 100 megapixels",
        ),
    ],
)
def test_an_image_that_cannot_be_read_is_named_by_its_file(
    thumbs: Any, name: str, reason: str
) -> None:
    _, ids, get, home = thumbs
    got = get("annotator", ids[name])
    assert got.status_code == 400
    assert got.json()["detail"] == (
        f"item {ids[name]} ('{name}.png'): cannot read the image ({reason})"
    )
    assert not (home / "thumbnails").exists() or not list((home / "thumbnails").rglob("*.*"))


def test_a_text_project_has_no_thumbnails(sqlite_lab: Lab, thumbs: Any) -> None:
    from sqlalchemy import select

    from labelloop.store.tables import item
    from labelloop.workflow.accounts import create_token

    client, _, _, _ = thumbs
    ctx = sqlite_lab.project("words")
    sqlite_lab.import_rows(ctx, [{"id": "a", "text": "hello there"}])
    with sqlite_lab.db.read() as conn:
        item_id = conn.execute(select(item.c.id).where(item.c.project_id == ctx.id)).scalar_one()
    got = client.get(
        f"/api/projects/words/items/{item_id}/thumbnail",
        headers={"Authorization": f"Bearer {create_token(sqlite_lab.db, 'admin')}"},
    )
    assert got.status_code == 404
    assert "no image item" in got.json()["detail"]
