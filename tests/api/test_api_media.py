"""Image serving: members get a file from a media root; hostile paths and outsiders get 4xx."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Lab

SLUG = "pics"
IMAGE_SCHEMA = {
    "name": "Pictures",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "kind", "type": "choice", "labels": ["cat", "dog"], "target": True}],
}


def _png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (4, 4), shade).save(out, format="PNG")
    return out.getvalue()


def _plant(lab: Lab, project_id: int, payloads: list[dict[str, Any]]) -> list[int]:
    """Items written straight to the store, past the import checks (a hostile or stale row)."""
    from labelloop.store import items as store_items

    with lab.db.write(project_id=project_id) as conn:
        batch = store_items.insert_batch(
            conn,
            project_id=project_id,
            user_id=None,
            filename="planted",
            format="jsonl",
            split="pool",
            n_items=0,
            n_labeled=0,
            n_duplicates=0,
        )
        rows = [
            {
                "project_id": project_id,
                "external_id": f"p{i}",
                "payload": p,
                "meta": {},
                "split": "pool",
                "content_hash": f"planted-{i}",
                "import_batch_id": batch,
            }
            for i, p in enumerate(payloads)
        ]
        return store_items.insert_items(conn, rows)


@pytest.fixture
def media_api(sqlite_lab: Lab, tmp_path: Path) -> Iterator[tuple[Any, dict[str, int], Path]]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow import imports, projects
    from labelloop.workflow.accounts import create_token

    lab = sqlite_lab
    media = tmp_path / "media"
    (media / "set").mkdir(parents=True)
    (media / "set" / "cat.png").write_bytes(_png(10))
    (media / "set" / "renamed.png").write_text("just text\n")
    (tmp_path / "outside.png").write_bytes(_png(200))
    (media / "set" / "link.png").symlink_to(tmp_path / "outside.png")
    projects.create_project(lab.db, SLUG, IMAGE_SCHEMA, actor=lab.admin)
    ctx = lab.ctx(SLUG, lab.admin)
    body = json.dumps({"id": "c1", "image": "set/cat.png"}) + "\n"
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
    hostile = ["../../etc/passwd", "/etc/passwd", "set/link.png", "set/renamed.png"]
    planted = _plant(lab, ctx.id, [{"image": h} for h in hostile])
    ids = {"cat": 1, **dict(zip(hostile, planted, strict=True))}
    lab.member(SLUG, "annotator", "annotator")
    lab.user("outsider")
    tokens = {n: create_token(lab.db, n) for n in ("admin", "annotator", "outsider")}
    settings = get_settings(home=tmp_path, secret_key="test", media_roots=str(media))
    app = create_app(settings, db=lab.db, learner=False)
    with TestClient(app) as client:
        yield client, ids, tokens  # type: ignore[misc]


def _get(client: Any, tokens: Any, who: str, item_id: int) -> Any:
    return client.get(
        f"/api/projects/{SLUG}/items/{item_id}/media",
        headers={"Authorization": f"Bearer {tokens[who]}"},
    )


def test_a_member_gets_the_image_with_its_type(media_api: Any) -> None:
    client, ids, tokens = media_api
    got = _get(client, tokens, "annotator", ids["cat"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert got.headers["cache-control"].startswith("private")
    assert got.content == _png(10)


def test_a_non_member_learns_nothing(media_api: Any) -> None:
    client, ids, tokens = media_api
    got = _get(client, tokens, "outsider", ids["cat"])
    assert got.status_code == 404
    assert got.json()["error"] == "NotFound"
    assert client.get(f"/api/projects/{SLUG}/items/{ids['cat']}/media").status_code == 401


@pytest.mark.parametrize(
    "hostile", ["../../etc/passwd", "/etc/passwd", "set/link.png", "set/renamed.png"]
)
def test_hostile_stored_paths_are_refused_with_json(media_api: Any, hostile: str) -> None:
    client, ids, tokens = media_api
    got = _get(client, tokens, "admin", ids[hostile])
    assert 400 <= got.status_code < 500
    assert got.headers["content-type"].startswith("application/json")
    assert "detail" in got.json()
    assert b"root:" not in got.content


def test_a_link_swapped_in_after_the_check_serves_nothing_from_elsewhere(
    media_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the check and the read, someone who can write under the media root puts a
    link out of it in the image's place: the image and its thumbnail send nothing of it."""
    from labelloop.ingest import media

    client, ids, tokens = media_api
    checked = media._found  # where open_media finds the file it then opens itself
    cat = tmp_path / "media" / "set" / "cat.png"

    def then_swapped(path: str, roots: Any, **options: Any) -> Any:
        found = checked(path, roots, **options)
        if not cat.is_symlink():
            cat.rename(cat.with_name("was.png"))
            cat.symlink_to(tmp_path / "outside.png")
        return found

    monkeypatch.setattr(media, "_found", then_swapped)
    for url in ("media", "thumbnail"):
        if cat.is_symlink():  # the file back in place, to be swapped again
            cat.unlink()
            cat.with_name("was.png").rename(cat)
        got = client.get(
            f"/api/projects/{SLUG}/items/{ids['cat']}/{url}",
            headers={"Authorization": f"Bearer {tokens['annotator']}"},
        )
        assert got.status_code == 400, url
        assert "media path 'set/cat.png': changed while it was read" in got.json()["detail"]


def test_an_unknown_item_is_not_found(media_api: Any) -> None:
    client, _, tokens = media_api
    assert _get(client, tokens, "admin", 999_999).status_code == 404


def test_an_uploaded_jsonl_of_image_paths_is_checked_under_the_roots(media_api: Any) -> None:
    client, _, tokens = media_api
    body = json.dumps({"image": "set/cat.png"}) + "\n" + json.dumps({"image": "../x.png"})
    got = client.post(
        f"/api/projects/{SLUG}/imports",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        files={"file": ("more.jsonl", (body + "\n").encode(), "application/x-ndjson")},
        data={"text_field": "image"},
    )
    assert got.status_code == 422
    assert got.json()["detail"].startswith("line 2, field 'image'")


def test_an_image_that_points_at_the_api_is_refused_but_item_media_are_pictures(
    media_api: Any,
) -> None:
    """An HTML item may show any http(s) picture, this server's API too: the browser says such
    a load is an image (Sec-Fetch-Dest), and only an item's media and thumbnail answer it, so
    an item cannot make a reviewer's browser download the model (which trains and audits)."""
    from labelloop.store.tables import audit_event

    client, ids, tokens = media_api
    auth = {"Authorization": f"Bearer {tokens['admin']}"}

    def audited() -> int:
        from sqlalchemy import func, select

        with client.app.state.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_event)).scalar_one())

    before = audited()
    for dest in ("image", "iframe", "style", "script"):
        got = client.get(f"/api/projects/{SLUG}/model", headers={**auth, "Sec-Fetch-Dest": dest})
        assert got.status_code == 403, dest
        assert got.json()["error"] == "Forbidden"
    assert audited() == before  # refused before any work
    base = f"/api/projects/{SLUG}/items/{ids['cat']}"
    picture = client.get(f"{base}/media", headers={**auth, "Sec-Fetch-Dest": "image"})
    assert picture.status_code == 200 and picture.content == _png(10)
    thumb = client.get(f"{base}/thumbnail?size=64", headers={**auth, "Sec-Fetch-Dest": "image"})
    assert thumb.status_code == 200
    assert (
        client.get(f"{base}/media", headers={**auth, "Sec-Fetch-Dest": "iframe"}).status_code == 403
    )
    status = client.get(f"/api/projects/{SLUG}/status", headers={**auth, "Sec-Fetch-Dest": "empty"})
    assert status.status_code == 200  # a page's own fetch
