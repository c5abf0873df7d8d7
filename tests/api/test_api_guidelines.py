"""/api/projects/SLUG/guidelines: managers publish versions; every member reads history, a
version as safe HTML and the diff between two; everyone else learns nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

GUIDELINES = "/api/projects/sent/guidelines"
V1 = "Label the author's attitude, not the topic."  # the test schema's guideline
V2 = "Label the author's attitude, not the topic.\n\nSarcasm counts as **negative**.\n"


def _publish(api: Any, role: str = "manager", **body: Any) -> Any:
    return api.post(GUIDELINES, role, json={"body": V2, "summary": "sarcasm", **body})


def test_a_manager_publishes_v2_and_an_annotator_reads_it_as_safe_html(api: Any) -> None:
    r = _publish(api, base_version=1)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "version": 2,
        "from_version": 1,
        "summary": "sarcasm",
        "added": 2,
        "removed": 0,
        "flags_resolved": 0,
        "sha256": hashlib.sha256(V2.encode()).hexdigest(),
    }
    shown = api.get(f"{GUIDELINES}/2", "annotator").json()
    assert (shown["body"], shown["author"], shown["summary"]) == (V2, "manager", "sarcasm")
    assert "<strong>negative</strong>" in shown["html"]
    detail = api.get("/api/projects/sent", "annotator").json()["guideline"]
    assert (detail["version"], detail["body"]) == (2, V2)
    (event,) = api.get(
        "/api/projects/sent/audit", "manager", params={"action": "guideline.edit"}
    ).json()
    assert (event["actor"], event["payload"]["version"], event["payload"]["summary"]) == (
        "manager",
        2,
        "sarcasm",
    )


def test_history_and_diff_for_every_member(api: Any) -> None:
    _publish(api)
    for role in ("annotator", "reviewer", "manager", "admin"):
        history = api.get(GUIDELINES, role).json()
        assert [(v["version"], v["summary"]) for v in history] == [
            (2, "sarcasm"),
            (1, "initial guideline"),
        ]
        assert history[0]["annotations"] == 0 and history[0]["author"] == "manager"
        assert [(v["sha256"], v["recorded_sha256"]) for v in history] == [
            (hashlib.sha256(text.encode()).hexdigest(),) * 2 for text in (V2, V1)
        ]
    found = api.get(f"{GUIDELINES}/diff", "annotator", params={"from": 1, "to": 2}).json()
    assert found["diff"].startswith("--- v1\n+++ v2\n")
    assert "+Sarcasm counts as **negative**.\n" in found["diff"]
    assert (found["from"], found["to"], found["added"], found["removed"]) == (1, 2, 2, 0)


def test_the_labeling_calls_say_which_guideline_version_is_current(api: Any) -> None:
    base = "/api/projects/sent/tasks"
    task = api.post(f"{base}/next", "annotator", json={"held": []}).json()["task"]
    assert task["guideline_version"] == 1
    _publish(api)
    done = api.post(
        f"{base}/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "neutral"}, "active_ms": 10},
    )
    assert done.status_code == 200, done.text
    assert done.json()["guideline_version"] == 2
    after = api.post(f"{base}/next", "annotator", json={"held": []}).json()["task"]
    assert after["guideline_version"] == 2
    exported = api.get("/api/projects/sent/export", "manager", params={"format": "jsonl"})
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert [r["guideline_version"] for r in rows] == [2]


def test_a_receipt_names_the_version_its_answer_was_recorded_under(api: Any) -> None:
    """An answer made under v1 and sent after v2 came out stays v1, and its receipt says so
    (with the newest version beside it, for a page to catch up with), as do a change's."""
    base = "/api/projects/sent/tasks"
    task = api.post(f"{base}/next", "annotator", json={"held": []}).json()["task"]
    _publish(api)
    done = api.post(
        f"{base}/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "neutral"}, "active_ms": 10, "guideline_version": 1},
    )
    assert done.status_code == 200, done.text
    receipt = done.json()
    assert (receipt["guideline_version"], receipt["current_guideline_version"]) == (1, 2)
    changed = api.put(
        f"/api/projects/sent/annotations/{receipt['annotation_id']}",
        "annotator",
        json={"value": {"sentiment": "positive"}, "guideline_version": 2},
    ).json()
    assert (changed["guideline_version"], changed["current_guideline_version"]) == (2, 2)
    exported = api.get("/api/projects/sent/export", "manager", params={"format": "jsonl"})
    assert [json.loads(line)["guideline_version"] for line in exported.text.splitlines()] == [2]


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_managers_publish_and_non_members_see_nothing(
    api: Any, role: str, status: int
) -> None:
    r = _publish(api, role)
    assert r.status_code == status, r.text
    assert r.json()["error"] in {"PermissionDenied", "NotFound"}
    assert [v["version"] for v in api.get(GUIDELINES, "admin").json()] == [1]
    if role == "outsider":  # a manager elsewhere reads nothing here, not even that it exists
        for path in ("", "/1", "/diff?from=1&to=1"):
            assert api.get(GUIDELINES + path, role).status_code == 404
    assert _publish(api, "admin").status_code == 201  # site admins may


REFUSED_EDITS = [
    ({"body": V1}, 422, "the guideline is unchanged"),
    ({"summary": ""}, 422, "say in a change summary what changed and why"),
    ({"summary": "s" * 501}, 422, "the change summary has 501 characters; at most 500"),
    ({"body": "x" * 100_001}, 422, "the guideline has 100,001 characters; at most 100,000"),
    ({"body": "a\u0000b"}, 422, "cannot contain the NUL character"),
    ({"body": 12}, 422, "body: Input should be a valid string"),
    ({"colour": "red"}, 422, "colour: Extra inputs are not permitted"),
    ({"base_version": 0}, 422, "base_version: Input should be greater than or equal to 1"),
    ({"base_version": 7}, 409, "the guideline of 'sent' is at v1 now, not v7"),
]


def test_a_refused_edit_is_a_json_error_and_nothing_is_published(api: Any) -> None:
    """Each edit in turn on one project (a refused one leaves it as it was)."""
    for body, status, detail in REFUSED_EDITS:
        r = _publish(api, **body)
        assert r.status_code == status, (body, r.text)
        assert detail in r.json()["detail"], body
        assert [v["version"] for v in api.get(GUIDELINES, "admin").json()] == [1], body


def test_unknown_versions_are_404s_naming_them(api: Any) -> None:
    r = api.get(f"{GUIDELINES}/9", "annotator")
    assert r.status_code == 404
    assert r.json()["detail"] == "project 'sent' has no guideline v9; its newest is v1"
    r = api.get(f"{GUIDELINES}/diff", "annotator", params={"from": 1, "to": 4})
    assert r.status_code == 404 and "no guideline v4" in r.json()["detail"]
    assert api.get(f"{GUIDELINES}/diff", "annotator", params={"from": 1}).status_code == 422
    assert api.get(f"{GUIDELINES}/two", "annotator").status_code == 422


def test_managers_preview_markdown_as_it_would_show_and_nothing_is_stored(api: Any) -> None:
    hostile = "<script>alert(1)</script> [click](javascript:alert(1)) **ok**"
    r = api.post(f"{GUIDELINES}/preview", "manager", json={"body": hostile})
    assert r.status_code == 200, r.text
    html = r.json()["html"]
    assert "<script>" not in html and "href=" not in html
    assert "&lt;script&gt;" in html and "<strong>ok</strong>" in html
    assert api.post(f"{GUIDELINES}/preview", "annotator", json={"body": "x"}).status_code == 403
    too_long = api.post(f"{GUIDELINES}/preview", "manager", json={"body": "x" * 100_001})
    assert too_long.status_code == 422
    assert [v["version"] for v in api.get(GUIDELINES, "admin").json()] == [1]


def test_the_status_the_labeling_page_polls_names_the_current_version(api: Any) -> None:
    assert api.get("/api/projects/sent/status", "annotator").json()["guideline_version"] == 1
    _publish(api)
    assert api.get("/api/projects/sent/status", "annotator").json()["guideline_version"] == 2


EXAMPLES = GUIDELINES + "/examples"


def test_a_manager_pins_an_example_every_member_reads_it_and_unpins_it(api: Any) -> None:
    pinned = api.post(
        EXAMPLES,
        "manager",
        json={"external_id": "doc-4", "value": {"sentiment": "positive"}, "note": "praise"},
    )
    assert pinned.status_code == 201, pinned.text
    assert (pinned.json()["version"], pinned.json()["label"]) == (2, "positive")
    for role in ("annotator", "reviewer"):
        (shown,) = api.get(EXAMPLES, role).json()["examples"]
        assert (shown["external_id"], shown["label"], shown["note"]) == (
            "doc-4",
            "positive",
            "praise",
        )
    assert api.get(f"{GUIDELINES}/2", "annotator").json()["examples"][0]["note"] == "praise"
    assert api.get(f"{GUIDELINES}/1", "annotator").json()["examples"] == []
    detail = api.get("/api/projects/sent", "annotator").json()["guideline"]
    assert (detail["version"], [e["external_id"] for e in detail["examples"]]) == (2, ["doc-4"])
    item_id = pinned.json()["item_id"]
    stale = api.client.delete(
        f"{EXAMPLES}/{item_id}", params={"base_version": 1}, headers=api.auth("manager")
    )
    assert stale.status_code == 409, stale.text
    gone = api.client.delete(f"{EXAMPLES}/{item_id}", headers=api.auth("manager"))
    assert gone.status_code == 200, gone.text
    assert gone.json()["version"] == 3
    assert api.get(EXAMPLES, "annotator").json() == {"version": 3, "examples": []}
    assert len(api.get(EXAMPLES, "annotator", params={"version": 2}).json()["examples"]) == 1
    changes = api.get(f"{GUIDELINES}/diff", "annotator", params={"from": 2, "to": 3}).json()
    assert [e["external_id"] for e in changes["examples_removed"]] == ["doc-4"]


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_managers_pin_and_non_members_read_no_examples(
    api: Any, role: str, status: int
) -> None:
    body = {"external_id": "doc-4", "value": {"sentiment": "positive"}}
    assert api.post(EXAMPLES, role, json=body).status_code == status
    item_id = api.post(EXAMPLES, "manager", json=body).json()["item_id"]
    assert api.client.delete(f"{EXAMPLES}/{item_id}", headers=api.auth(role)).status_code == status
    if role == "outsider":
        assert api.get(EXAMPLES, role).status_code == 404
    assert [e["external_id"] for e in api.get(EXAMPLES, "admin").json()["examples"]] == ["doc-4"]


REFUSED_PINS = [
    ({"external_id": "doc-4"}, 422, "item 'doc-4' has no label yet"),
    ({"external_id": "doc-4", "value": {"sentiment": "glad"}}, 422, "glad"),
    ({"external_id": "nope", "value": {"sentiment": "positive"}}, 404, "no item 'nope' here"),
    ({"value": {"sentiment": "positive"}}, 400, "name the item by item_id or external_id"),
    ({"item_id": 1, "external_id": "doc-4"}, 400, "by item_id or by external_id, not both"),
    ({"external_id": "ev-1000", "note": "a\u0000b"}, 422, "cannot contain the NUL"),
    ({"external_id": "ev-1000", "colour": "red"}, 422, "colour: Extra inputs"),
    ({"external_id": "ev-1000", "base_version": 3}, 409, "is at v1 now, not v3"),
]


def test_a_refused_pin_is_a_json_error_and_publishes_nothing(api: Any) -> None:
    """Each pin in turn on one project (a refused one leaves it as it was)."""
    for body, status, detail in REFUSED_PINS:
        r = api.post(EXAMPLES, "manager", json=body)
        assert r.status_code == status, (body, r.text)
        assert detail in r.json()["detail"], body
        assert [v["version"] for v in api.get(GUIDELINES, "admin").json()] == [1], body
