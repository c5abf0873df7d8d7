"""POST /api/projects/SLUG/labels: a manager adds a label to a live project; the answers given
before keep the schema version they were made under, and the ones after record the new one."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
