"""POST /api/projects/SLUG/labels: a manager adds a label to a live project; the answers given
before keep the schema version they were made under, and the ones after record the new one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app

LABELS = "/api/projects/sent/labels"
TASKS = "/api/projects/sent/tasks"


def _answer(api: Any, label: str) -> dict[str, Any]:
    task = api.post(f"{TASKS}/next", "annotator", json={"held": []}).json()["task"]
    done = api.post(
        f"{TASKS}/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": label}, "active_ms": 10},
    )
    assert done.status_code == 200, done.text
    return {"item_id": task["item"]["id"], **done.json()}


def test_an_added_label_is_a_new_schema_version_and_older_answers_keep_theirs(api: Any) -> None:
    before = _answer(api, "negative")
    assert api.post(f"{TASKS}/next", "annotator", json={"held": []}).status_code == 200
    assert api.get("/api/projects/sent/status", "annotator").json()["schema_version"] == 1

    r = api.post(LABELS, "manager", json={"label": "refund", "description": "asks for money"})
    assert r.status_code == 201, r.text
    assert r.json() == {
        "control": "sentiment",
        "label": "refund",
        "hotkey": "4",
        "labels": ["negative", "neutral", "positive", "refund"],
        "schema_version": 2,
    }
    detail = api.get("/api/projects/sent", "annotator").json()
    (control,) = detail["schema"]["controls"]
    assert control["labels"][-1] == "refund" and control["hotkeys"] == ["1", "2", "3", "4"]
    assert control["descriptions"] == {"refund": "asks for money"}
    assert detail["schema_version"] == 2
    # The labeling page polls this, and reads each task's, to draw the new label's button.
    assert api.get("/api/projects/sent/status", "annotator").json()["schema_version"] == 2
    task = api.post(f"{TASKS}/next", "annotator", json={"held": []}).json()["task"]
    assert task["schema_version"] == 2
    # ...and so does the review page, with each item it shows.
    view = api.get(f"/api/projects/sent/items/{before['item_id']}/review", "manager").json()
    assert view["schema_version"] == 2

    # The task leased before the change takes the new label, and records the new version.
    after = _answer(api, "refund")
    rows = [
        json.loads(line)
        for line in api.get("/api/projects/sent/export", "manager", params={"format": "jsonl"})
        .text.strip()
        .splitlines()
    ]
    versions = {r["item_id"]: (r["label"], r["schema_version"]) for r in rows}
    assert versions[before["item_id"]] == ("negative", 1)
    assert versions[after["item_id"]] == ("refund", 2)

    (event,) = api.get(
        "/api/projects/sent/audit", "manager", params={"action": "schema.label.add"}
    ).json()
    assert event["actor"] == "manager" and event["payload"] == {
        "control": "sentiment",
        "label": "refund",
        "hotkey": "4",
        "schema_version": {"from": 1, "to": 2},
    }
    assert api.get("/api/projects/sent/audit/verify", "manager").json()["intact"] is True


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"label": "neutral"}, 422, "control 'sentiment' already has the label 'neutral'"),
        ({"label": " odd"}, 422, "new label ' odd': ' odd' starts or ends with whitespace"),
        ({"label": ""}, 422, "must be a non-empty string of at most 100 characters"),
        ({"label": "x", "control": "mood"}, 422, "'mood' is not a control; controls are"),
        ({"label": "x", "description": "two\nlines"}, 422, "must be one line"),
        ({"label": "x", "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ],
)
def test_a_refused_label_is_a_422_naming_it_and_nothing_changes(
    api: Any, body: dict[str, Any], status: int, detail: str
) -> None:
    r = api.post(LABELS, "manager", json=body)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    shown = api.get("/api/projects/sent", "admin").json()
    assert shown["schema_version"] == 1
    assert shown["schema"]["controls"][0]["labels"] == ["negative", "neutral", "positive"]


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_managers_add_labels(api: Any, role: str, status: int) -> None:
    assert api.post(LABELS, role, json={"label": "refund"}).status_code == status
    assert api.get("/api/projects/sent", "admin").json()["schema_version"] == 1
    assert api.post(LABELS, "admin", json={"label": "refund"}).status_code == 201


def _added_beside(api: Any, tmp_path: Any, label: str) -> None:
    """``labelloop projects add-label`` run beside the server: its own process's database
    handle, so the server's memo of the project is not told."""
    env = {"LABELLOOP_HOME": str(tmp_path / "cli"), "LABELLOOP_DATABASE_URL": api.lab.db.url}
    done = CliRunner().invoke(app, ["projects", "add-label", "sent", label], env=env)
    assert done.exit_code == 0, (done.output, done.exception)


def test_a_label_added_beside_the_server_is_taken_at_once(
    api: Any, tmp_path: Any, no_labelloop_env: None
) -> None:
    settings = {"review_policy": "all"}
    assert api.client.patch(
        "/api/projects/sent/settings", headers=api.auth("manager"), json=settings
    ).is_success
    given = _answer(api, "negative")  # waits for review; the reviewer has the project in mind
    assert api.get("/api/projects/sent/reviews/summary", "reviewer").json()["schema_version"] == 1
    task = api.post(f"{TASKS}/next", "annotator", json={"held": []}).json()["task"]
    assert task["schema_version"] == 1

    # A submit with the label added meanwhile is taken, under the new schema version, not
    # refused until the server's memo of the project runs out; the pages hear of it at once.
    _added_beside(api, tmp_path, "refund")
    value = {"value": {"sentiment": "refund"}, "active_ms": 10}
    done = api.post(f"{TASKS}/{task['assignment_id']}/submit", "annotator", json=value)
    assert done.status_code == 200, done.text
    assert api.get("/api/projects/sent/status", "annotator").json()["schema_version"] == 2
    # So is a reviewer's fix with a label added after that.
    assert api.get("/api/projects/sent/reviews/summary", "reviewer").json()["schema_version"] == 2
    _added_beside(api, tmp_path, "warranty")
    fix = {"verdict": "fix", "value": {"sentiment": "warranty"}}
    fixed = api.post(f"/api/projects/sent/reviews/{given['annotation_id']}", "reviewer", json=fix)
    assert fixed.status_code == 200, fixed.text
    params = {"format": "jsonl", "annotations": "true"}
    rows = api.get("/api/projects/sent/export", "manager", params=params).text.splitlines()
    answers = {r["answer_id"]: r for r in map(json.loads, rows)}
    taken = answers[done.json()["annotation_id"]]
    assert (taken["answer"], taken["schema_version"]) == ("refund", 2)
    assert answers[given["annotation_id"]]["label"] == "warranty"

    # A label the project does not have is refused still, naming the labels it has.
    task = api.post(f"{TASKS}/next", "annotator", json={"held": []}).json()["task"]
    value = {"value": {"sentiment": "gift"}, "active_ms": 10}
    refused = api.post(f"{TASKS}/{task['assignment_id']}/submit", "annotator", json=value)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "sentiment: 'gift' is not one of negative, neutral, positive, refund, warranty"
    )
