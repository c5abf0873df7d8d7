"""Flag as ambiguous over HTTP: only the task's annotator may flag it, non-members learn nothing,
reviewers see the note in the flag list, and the task can still be submitted. An answer the model
contradicts is flagged with the label the model suggested and its probability as data."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.client import Client
from labelloop.workflow import projects

BASE = "/api/projects/sent"


def _lease(api: Any, role: str, held: list[int] | None = None) -> dict[str, Any]:
    response = api.post(f"{BASE}/tasks/next", role, json={"held": held or []})
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


def test_an_answer_the_model_contradicts_is_flagged_with_its_suggestion_as_data(api: Any) -> None:
    lab = api.lab
    ctx = lab.ctx("sent", lab.admin)
    projects.change_settings(lab.db, ctx, {"contradiction_threshold": 0.5})
    lab.label_next(ctx, n=18)
    lab.train(ctx)
    held: list[int] = []
    for _ in range(10):  # the queue serves the model's doubts first: lease on to a guess
        task = _lease(api, "annotator", held)
        held.append(task["assignment_id"])
        if task["suggestion"]["confidence"] >= 0.5:
            break
    else:
        pytest.fail("the model was not 0.5 sure of any item it served")
    shown = task["suggestion"]
    other = next(c for c in ("negative", "neutral", "positive") if c != shown["label"])
    done = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": other}, "active_ms": 4000},
    )
    assert done.status_code == 200, done.text
    asked = api.post(f"{BASE}/tasks/{held[0]}/flag", "annotator", json={"note": "sarcasm?"})
    assert asked.status_code == 200, asked.text

    listed = api.get(f"{BASE}/flags", "reviewer").json()["flags"]

    suggested = (shown["label"], round(shown["confidence"], 4))
    by_kind = {f["kind"]: f for f in listed}
    assert by_kind.keys() == {"model_contradicts", "ambiguous"}
    contradicted = by_kind["model_contradicts"]
    assert contradicted["item_id"] == task["item"]["id"]
    assert (contradicted["suggestion"], contradicted["confidence"]) == suggested
    # a person's flag holds no suggestion
    assert (by_kind["ambiguous"]["suggestion"], by_kind["ambiguous"]["confidence"]) == (None, None)
    trace = api.get(f"{BASE}/items/{task['item']['id']}/review", "reviewer").json()
    assert [(f["kind"], f["suggestion"], f["confidence"]) for f in trace["flags"]] == [
        ("model_contradicts", *suggested)
    ]
    reviewing = Client("http://testserver", api.tokens["reviewer"], http=api.client)
    (through,) = reviewing.project("sent").flags(kind="model_contradicts")
    assert (through["suggestion"], through["confidence"]) == suggested
