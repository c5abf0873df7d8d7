"""Audio projects over the API: folder import, a served clip with its type, Range for seeking."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Lab
from tests.learn.test_learn_featurize_audio import write_tone

SLUG = "calls"
SCHEMA = {
    "name": "Calls",
    "data": {"type": "audio", "field": "audio"},
    "controls": [
        {"name": "sound", "type": "choice", "labels": ["low", "high"], "target": True},
        {"name": "transcript", "type": "text", "max_chars": 500},
    ],
}


@pytest.fixture
def audio_api(sqlite_lab: Lab, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str], Any]]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow import imports, learning, projects
    from labelloop.workflow.accounts import create_token
    from labelloop.workflow.features import FeatureCache

    lab = sqlite_lab
    media = tmp_path / "media"
    for i in range(3):
        write_tone(media / "clips" / "low" / f"l{i}.wav", hz=200 + 20 * i, seconds=2, volume=0.5)
        write_tone(media / "clips" / "high" / f"h{i}.wav", hz=2000 + 50 * i, seconds=2, volume=0.5)
    (media / "clips" / "notes.txt").write_text("not a clip")
    (media / "clips" / "fake.wav").write_text("not a wav either")
    projects.create_project(lab.db, SLUG, SCHEMA, actor=lab.admin)
    ctx = lab.ctx(SLUG, lab.admin)
    with pytest.raises(Exception, match="fake.wav"):  # a file that is not audio aborts it all
        imports.import_folder(lab.db, ctx, media / "clips", media_roots=(media,))
    (media / "clips" / "fake.wav").unlink()
    report = imports.import_folder(
        lab.db, ctx, media / "clips", media_roots=(media,), labels_from_folders=True
    )
    assert (report.n_items, report.n_labeled) == (6, 6)
    write_tone(media / "more" / "x.wav", hz=300, seconds=2, volume=0.5)
    imports.import_folder(lab.db, ctx, media / "more", media_roots=(media,))
    learning.train(lab.db, ctx, cache=FeatureCache(media_roots=(media,)))
    lab.member(SLUG, "annotator", "annotator")
    tokens = {n: create_token(lab.db, n) for n in ("admin", "annotator")}
    settings = get_settings(home=tmp_path, secret_key="test", media_roots=str(media))
    app = create_app(settings, db=lab.db, learner=False)
    with TestClient(app) as client:
        yield client, tokens, media  # type: ignore[misc]


def test_the_served_task_is_the_clip_and_its_file_comes_with_an_audio_type(
    audio_api: Any,
) -> None:
    client, tokens, media = audio_api
    auth = {"Authorization": f"Bearer {tokens['annotator']}"}
    task = client.post(f"/api/projects/{SLUG}/tasks/next", json={}, headers=auth).json()["task"]
    assert task["item"]["data"] == {"audio": "more/x.wav"}
    got = client.get(f"/api/projects/{SLUG}/items/{task['item']['id']}/media", headers=auth)
    assert got.status_code == 200
    assert got.headers["content-type"] == "audio/wav"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.content == (media / "more" / "x.wav").read_bytes()
    assert got.headers.get("accept-ranges") == "bytes"
    part = client.get(
        f"/api/projects/{SLUG}/items/{task['item']['id']}/media",
        headers={**auth, "Range": "bytes=1000-1999"},
    )
    assert part.status_code == 206
    assert part.content == (media / "more" / "x.wav").read_bytes()[1000:2000]
    assert part.headers["content-range"].startswith("bytes 1000-1999/")
    value = {"sound": "low", "transcript": "a hum"}
    done = client.post(
        f"/api/projects/{SLUG}/tasks/{task['assignment_id']}/submit",
        json={"value": value, "active_ms": 1200},
        headers=auth,
    )
    assert done.status_code == 200, done.text
    back = client.get(f"/api/projects/{SLUG}/annotations/previous", headers=auth).json()
    assert back["annotation"]["value"] == value
    assert json.dumps(back).count("a hum") >= 1


@pytest.mark.parametrize(
    ("asked", "status", "part"),
    [
        ("bytes=10-", 206, slice(10, None)),
        ("bytes=-5", 206, slice(-5, None)),
        ("bytes=0-0", 206, slice(0, 1)),
        ("bytes=5-2", 200, slice(None)),  # not a range: the whole file
        ("bytes=0-1,4-5", 200, slice(None)),  # several: the whole file
        ("items=0-9", 200, slice(None)),
    ],
)
def test_a_range_is_answered_with_its_bytes_and_anything_else_with_the_file(
    audio_api: Any, asked: str, status: int, part: slice
) -> None:
    client, tokens, media = audio_api
    auth = {"Authorization": f"Bearer {tokens['annotator']}"}
    task = client.post(f"/api/projects/{SLUG}/tasks/next", json={}, headers=auth).json()["task"]
    url = f"/api/projects/{SLUG}/items/{task['item']['id']}/media"
    whole = (media / "more" / "x.wav").read_bytes()
    got = client.get(url, headers={**auth, "Range": asked})
    assert (got.status_code, got.content) == (status, whole[part])
    assert got.headers["content-length"] == str(len(whole[part]))
    past = client.get(url, headers={**auth, "Range": f"bytes={len(whole)}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(whole)}"
    stale = client.get(url, headers={**auth, "Range": "bytes=10-", "If-Range": '"other"'})
    assert (stale.status_code, stale.content) == (200, whole)


@pytest.mark.parametrize(
    "asked",
    [b"bytes=\xb2-", b"bytes=1-" + b"9" * 5000, b"bytes=-"],
    ids=["superscript", "huge", "empty"],
)
def test_a_range_that_does_not_parse_gets_the_whole_file_not_a_server_error(
    audio_api: Any, asked: bytes
) -> None:
    client, tokens, media = audio_api
    auth = {"Authorization": f"Bearer {tokens['annotator']}"}
    task = client.post(f"/api/projects/{SLUG}/tasks/next", json={}, headers=auth).json()["task"]
    url = f"/api/projects/{SLUG}/items/{task['item']['id']}/media"
    got = client.get(url, headers={**auth, "Range": asked})
    assert (got.status_code, got.content) == (200, (media / "more" / "x.wav").read_bytes())


def test_if_range_with_the_files_date_gets_the_range_and_any_other_the_whole_file(
    audio_api: Any,
) -> None:
    """If-Range (RFC 9110 §13.1.5) names the file as the client last had it, by its ETag or
    its Last-Modified date: the range is served only while that is the file's (the date
    exactly, and only for a file last changed at least a second ago; a weak tag never);
    anything else gets the whole file, as a changed file would be."""
    client, tokens, media = audio_api
    auth = {"Authorization": f"Bearer {tokens['annotator']}"}
    task = client.post(f"/api/projects/{SLUG}/tasks/next", json={}, headers=auth).json()["task"]
    url = f"/api/projects/{SLUG}/items/{task['item']['id']}/media"
    clip = media / "more" / "x.wav"
    whole = clip.read_bytes()
    an_hour_ago = time.time() - 3600
    os.utime(clip, (an_hour_ago, an_hour_ago))
    first = client.get(url, headers=auth).headers
    assert first["last-modified"] == formatdate(an_hour_ago, usegmt=True)

    def ranged(if_range: str) -> tuple[int, bytes]:
        got = client.get(url, headers={**auth, "Range": "bytes=10-", "If-Range": if_range})
        return got.status_code, got.content

    assert ranged(first["last-modified"]) == (206, whole[10:])
    assert ranged(first["etag"]) == (206, whole[10:])
    for other in (
        formatdate(an_hour_ago - 1, usegmt=True),  # older
        formatdate(an_hour_ago + 1, usegmt=True),  # newer
        "W/" + first["etag"],
        "not a date",
        first["last-modified"][:-4],
    ):
        assert ranged(other) == (200, whole), other

    just_now = time.time() + 30  # changed within the second the answer is dated: a weak date
    os.utime(clip, (just_now, just_now))
    assert ranged(client.get(url, headers=auth).headers["last-modified"]) == (200, whole)
