"""Flag as ambiguous over HTTP: only the task's annotator may flag it, non-members learn nothing,
reviewers see the note in the flag list, and the task can still be submitted."""

from __future__ import annotations

from typing import Any

BASE = "/api/projects/sent"


def _lease(api: Any, role: str) -> dict[str, Any]:
    response = api.post(f"{BASE}/tasks/next", role, json={"held": []})
    assert response.status_code == 200, response.text
    task = response.json()["task"]
    assert task is not None
    return task


def test_annotator_flags_their_task_and_reviewers_see_the_note(sqlite_api: Any) -> None:
    api = sqlite_api
    task = _lease(api, "annotator")
    path = f"{BASE}/tasks/{task['assignment_id']}/flag"

    response = api.post(path, "annotator", json={"note": "is 'fine' neutral or positive?"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "ambiguous" and body["item_id"] == task["item"]["id"]
    listed = api.get(f"{BASE}/flags?kind=ambiguous", "reviewer").json()["flags"]
    assert [(f["item_id"], f["user"], f["note"]) for f in listed] == [
        (task["item"]["id"], "annotator", "is 'fine' neutral or positive?")
    ]
    detail = api.get(f"{BASE}/items/{task['item']['id']}/review", "reviewer").json()
    assert [f["kind"] for f in detail["flags"]] == ["ambiguous"]
    assert any(h["action"] == "flag.raise" for h in detail["history"])

    # Still the annotator's to finish.
    done = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "neutral"}, "active_ms": 4000},
    )
    assert done.status_code == 200, done.text


def test_others_and_non_members_cannot_flag(sqlite_api: Any) -> None:
    api = sqlite_api
    task = _lease(api, "annotator")
    path = f"{BASE}/tasks/{task['assignment_id']}/flag"

    outsider = api.post(path, "outsider", json={"note": "x"})
    assert outsider.status_code == 404
    assert outsider.json()["error"] == "NotFound"
    assert "member" in outsider.json()["detail"]
    someone_else = api.post(path, "reviewer", json={"note": "x"})
    assert someone_else.status_code == 404
    missing = api.post(f"{BASE}/tasks/999999/flag", "annotator", json={"note": "x"})
    assert missing.status_code == 404
    too_long = api.post(path, "annotator", json={"note": "x" * 2001})
    assert too_long.status_code == 422
    assert api.get(f"{BASE}/flags", "reviewer").json()["flags"] == []


def test_an_earlier_annotation_can_be_flagged_by_its_author(sqlite_api: Any) -> None:
    api = sqlite_api
    task = _lease(api, "annotator")
    done = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "neutral"}, "active_ms": 4000},
    ).json()
    path = f"{BASE}/annotations/{done['annotation_id']}/flag"

    assert api.post(path, "reviewer", json={"note": "x"}).status_code == 404
    response = api.post(path, "annotator", json={"note": "changed my mind: unclear"})

    assert response.status_code == 200, response.text
    [flag] = api.get(f"{BASE}/flags?kind=ambiguous", "reviewer").json()["flags"]
    assert flag["annotation_id"] == done["annotation_id"]
    assert flag["note"] == "changed my mind: unclear"


def test_the_flag_list_pages_with_offset_and_refuses_a_page_size_out_of_range(
    sqlite_api: Any,
) -> None:
    api = sqlite_api
    for n in range(3):
        task = _lease(api, "annotator")
        path = f"{BASE}/tasks/{task['assignment_id']}/flag"
        assert api.post(path, "annotator", json={"note": f"unclear {n}"}).status_code == 200
        done = api.post(
            f"{BASE}/tasks/{task['assignment_id']}/submit",
            "annotator",
            json={"value": {"sentiment": "neutral"}, "active_ms": 4000},
        )
        assert done.status_code == 200, done.text

    def page(query: str) -> list[str]:
        response = api.get(f"{BASE}/flags?{query}", "reviewer")
        assert response.status_code == 200, response.text
        return [f["note"] for f in response.json()["flags"]]

    assert page("limit=2") == ["unclear 2", "unclear 1"]
    assert page("limit=2&offset=2") == ["unclear 0"]
    for bad in ("limit=0", "limit=5001", "offset=-1"):
        refused = api.get(f"{BASE}/flags?{bad}", "reviewer")
        assert refused.status_code == 422, (bad, refused.text)
        assert bad.split("=")[0] in refused.text
    mine = api.get(f"{BASE}/reviews/mine?limit=0", "annotator")
    assert mine.status_code == 422
