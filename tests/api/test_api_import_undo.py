"""Undoing an import through the API and the Python client: managers only, refused (409)
while people worked on its items, nothing of another project reachable."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.client import ApiError, Client

URL = "http://testserver"
WRONG = b"".join(
    b'{"id": "w%d", "text": "wrong file line %d", "label": "neutral"}\n' % (i, i) for i in range(4)
)


def _delete(api: Any, path: str, role: str = "manager") -> Any:
    return api.client.delete(path, headers=api.auth(role))


def _upload(api: Any) -> int:
    sent = api.post(
        "/api/projects/sent/imports",
        role="manager",
        files={"file": ("wrong.jsonl", WRONG, "application/x-ndjson")},
        data={"id_field": "id", "label_field": "label"},
    )
    assert sent.status_code == 201, sent.text
    return int(sent.json()["batch_id"])


def test_a_manager_lists_and_undoes_an_import(api: Any) -> None:
    batch = _upload(api)
    listed = api.get("/api/projects/sent/imports", role="manager").json()
    assert [(b["filename"], b["split"], b["items"], b["labeled"]) for b in listed] == [
        ("wrong.jsonl", "pool", 4, 4),
        ("items.jsonl", "eval", 9, 9),
        ("items.jsonl", "pool", 30, 0),
    ]
    assert listed[0]["id"] == batch and listed[0]["by"] == "manager"
    assert (listed[0]["touched"], listed[0]["undoable"]) == (0, True)
    before = api.get("/api/projects/sent/status", role="manager").json()["counts"]

    undone = _delete(api, f"/api/projects/sent/imports/{batch}")
    assert undone.status_code == 200, undone.text
    assert undone.json() | {"batch_id": 0} == {
        "batch_id": 0,
        "filename": "wrong.jsonl",
        "split": "pool",
        "items": 4,
        "labels": 4,
        "predictions": 0,
        "leases": 0,
    }
    after = api.get("/api/projects/sent/status", role="manager").json()["counts"]
    assert (after["pool"], after["labeled"]) == (before["pool"] - 4, before["labeled"] - 4)
    assert len(api.get("/api/projects/sent/imports", role="manager").json()) == 2
    events = api.get("/api/projects/sent/audit", params={"action": "import.undo"}).json()
    assert [(e["subject"], e["payload"]["filename"]) for e in events] == [
        (f"import_batch:{batch}", "wrong.jsonl")
    ]
    gone = _delete(api, f"/api/projects/sent/imports/{batch}")
    assert gone.status_code == 404
    assert gone.json()["detail"] == f"project 'sent' has no import {batch}"


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_the_projects_managers_list_or_undo(api: Any, role: str, status: int) -> None:
    batch = _upload(api)
    assert api.get("/api/projects/sent/imports", role=role).status_code == status
    assert _delete(api, f"/api/projects/sent/imports/{batch}", role=role).status_code == status
    assert api.get("/api/projects/sent/imports", role="manager").json()[0]["items_now"] == 4


def test_an_import_with_answers_is_refused_and_kept(api: Any) -> None:
    first = api.get("/api/projects/sent/imports", role="manager").json()[-1]["id"]
    task = api.post("/api/projects/sent/tasks/next", role="annotator", json={}).json()["task"]
    done = api.post(
        f"/api/projects/sent/tasks/{task['assignment_id']}/submit",
        role="annotator",
        json={"value": {"sentiment": "neutral"}, "active_ms": 1200},
    )
    assert done.status_code == 200, done.text
    refused = _delete(api, f"/api/projects/sent/imports/{first}")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"import {first} ('items.jsonl') cannot be undone: 1 of its 30 items has answers or "
        "labels from people. Those records stay traceable; nothing was removed"
    )
    counts = api.get("/api/projects/sent/status", role="manager").json()["counts"]
    assert counts["pool"] == 30


def test_the_client_lists_and_undoes(api: Any) -> None:
    batch = _upload(api)
    project = Client(URL, api.tokens["manager"], http=api.client).project("sent")
    assert project.imports()[0]["filename"] == "wrong.jsonl"
    assert project.undo_import(batch)["items"] == 4
    with pytest.raises(ApiError) as refused:
        Client(URL, api.tokens["annotator"], http=api.client).project("sent").undo_import(1)
    assert refused.value.status == 403
