"""A request body is refused (413) past its route's limit before it is held in memory: every
body is read before its caller is known, so without a limit anyone who reaches the server could
make it hold gigabytes. An import's file may be far larger; it is spooled to disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from labelloop.server import app as app_module

LIMIT = 4096


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "MAX_BODY_BYTES", LIMIT)


def _too_large(response: Any) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == (
        f"the request body is larger than {LIMIT:,} bytes, the most this route takes"
    )


def _chunks(total: int) -> Iterator[bytes]:
    """A JSON body of ``total`` bytes, sent chunked (no Content-Length)."""
    yield b'{"name": "'
    left = total - len(b'{"name": "') - 2
    while left > 0:
        yield b"a" * min(left, 1000)
        left -= 1000
    yield b'"}'


def test_a_body_over_the_limit_is_refused_before_its_caller_is_known(
    sqlite_api: Any, small_limit: None
) -> None:
    client = sqlite_api.client
    body = json.dumps({"name": "a" * LIMIT}).encode()
    _too_large(
        client.post("/api/tokens", content=body, headers={"content-type": "application/json"})
    )
    _too_large(
        client.post(
            "/api/tokens", content=_chunks(3 * LIMIT), headers={"content-type": "application/json"}
        )
    )
    fits = json.dumps({"name": "laptop"})
    made = sqlite_api.post(
        "/api/tokens", "annotator", content=fits, headers={"content-type": "application/json"}
    )
    assert made.status_code == 201, made.text


def test_the_annotators_hot_routes_take_the_same_limit(sqlite_api: Any, small_limit: None) -> None:
    slug = f"/api/projects/{sqlite_api.slug}"
    held = {"held": [], "pad": "a" * LIMIT}
    _too_large(sqlite_api.post(f"{slug}/tasks/next", "annotator", json=held))
    answer = {"value": {"sentiment": "neutral"}, "pad": "a" * LIMIT}
    _too_large(sqlite_api.post(f"{slug}/tasks/1/submit", "annotator", json=answer))
    assert sqlite_api.post(f"{slug}/tasks/next", "annotator", json={}).status_code == 200


def test_an_import_takes_a_file_past_the_limit(sqlite_api: Any, small_limit: None) -> None:
    rows = "".join(json.dumps({"text": f"imported row {i} " + "x" * 80}) + "\n" for i in range(100))
    assert len(rows) > 2 * LIMIT
    files = {"file": ("more.jsonl", rows.encode(), "application/x-ndjson")}
    done = sqlite_api.post(f"/api/projects/{sqlite_api.slug}/imports", "manager", files=files)
    assert done.status_code == 201 and done.json()["items"] == 100, done.text


def test_an_import_past_the_upload_limit_is_refused_naming_the_limit(
    sqlite_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.server.api import projects

    monkeypatch.setattr(projects, "MAX_UPLOAD_BYTES", 3 * 1024)
    slug = f"/api/projects/{sqlite_api.slug}"
    before = sqlite_api.get(f"{slug}/status").json()["counts"]
    rows = "".join(json.dumps({"text": f"imported row {i} " + "x" * 80}) + "\n" for i in range(40))
    files = {"file": ("more.jsonl", rows.encode(), "application/x-ndjson")}
    refused = sqlite_api.post(f"{slug}/imports", "manager", files=files)
    assert refused.status_code == 400
    assert refused.json()["detail"] == "the file is larger than 3.0 KiB"
    assert sqlite_api.get(f"{slug}/status").json()["counts"] == before


def test_a_page_form_past_the_limit_is_an_error_page(sqlite_api: Any, small_limit: None) -> None:
    form = {"username": "annotator", "password": "p" * LIMIT, "csrf_token": "x"}
    page = sqlite_api.client.post("/login", data=form, headers={"accept": "text/html"})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
