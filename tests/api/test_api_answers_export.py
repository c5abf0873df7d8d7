"""`GET /api/projects/SLUG/export?annotations=true`: a row per answer, for managers of the
project only."""

from __future__ import annotations

import csv
import io
import json
from typing import Any


def _answer(api: Any, role: str, n: int) -> list[tuple[str, str]]:
    """``role`` answers ``n`` served items through the API; (external id, answer) of each."""
    given = []
    for _ in range(n):
        task = api.post("/api/projects/sent/tasks/next", role, json={}).json()["task"]
        value = "neutral" if role == "annotator" else "positive"
        done = api.post(
            f"/api/projects/sent/tasks/{task['assignment_id']}/submit",
            role,
            json={"value": {"sentiment": value}, "active_ms": 1200},
        )
        assert done.status_code == 200, done.text
        given.append((task["item"]["external_id"], value))
    return given


def test_managers_download_every_answer_as_jsonl_and_csv(api: Any) -> None:
    given = sorted(_answer(api, "annotator", 2) + _answer(api, "reviewer", 1))
    got = api.get("/api/projects/sent/export", "manager", params={"annotations": "true"})
    assert got.status_code == 200, got.text
    assert 'filename="sent.answers.jsonl"' in got.headers["content-disposition"]
    rows = [json.loads(line) for line in got.text.splitlines()]
    assert sorted((r["external_id"], r["answer"]) for r in rows) == given
    assert {r["annotator"]: r["active_ms"] for r in rows} == {"annotator": 1200, "reviewer": 1200}
    assert all(r["agrees"] is True and r["resolution"] == "single" for r in rows)

    params = {"annotations": "true", "format": "csv"}
    got = api.get("/api/projects/sent/export", "admin", params=params)
    assert got.headers["content-type"].startswith("text/csv")
    assert 'filename="sent.answers.csv"' in got.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(got.text)))
    assert [r["answer_id"] for r in table] == [str(r["answer_id"]) for r in rows]


def test_only_managers_of_the_project_download_answers(api: Any) -> None:
    [(external_id, _)] = _answer(api, "annotator", 1)
    for role in ("reviewer", "annotator", "outsider"):
        got = api.get("/api/projects/sent/export", role, params={"annotations": "true"})
        assert got.status_code in (403, 404), (role, got.status_code)
        assert external_id not in got.text and "active_ms" not in got.text


def test_a_format_of_one_label_per_item_is_refused_with_a_json_error(api: Any) -> None:
    params = {"annotations": "true", "format": "doccano"}
    got = api.get("/api/projects/sent/export", "manager", params=params)
    assert got.status_code == 400
    assert (
        "export as csv, jsonl or label_studio; doccano holds one label per item"
        in (got.json()["detail"])
    )


def test_the_client_downloads_every_answer(api: Any, tmp_path: Any) -> None:
    from tests.api.test_client import client_for

    given = sorted(_answer(api, "annotator", 2))
    project = client_for(api, "manager").project("sent")
    out = project.export(tmp_path / "answers.csv", format="csv", annotations=True)
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted((r["external_id"], r["answer"]) for r in table) == given
    assert {r["annotator"] for r in table} == {"annotator"}
