"""The whole labeling flow over HTTP, as a client or the page's JavaScript drives it."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from labelloop.store.tables import assignment
from labelloop.store.users import now

BASE = "/api/projects/sent"


def _label(api: Any, role: str, n: int) -> list[dict[str, Any]]:
    done = []
    for _ in range(n):
        task = api.post(f"{BASE}/tasks/next", role, json={"held": []}).json()["task"]
        value = {"sentiment": api.lab.truth(task["item"]["data"]["text"])}
        response = api.post(
            f"{BASE}/tasks/{task['assignment_id']}/submit",
            role,
            json={"value": value, "active_ms": 2500},
        )
        assert response.status_code == 200, response.text
        done.append({**task, "value": value, **response.json()})
    return done


def test_openapi_lists_the_task_routes(api: Any) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/projects/{slug}/tasks/next",
        "/api/projects/{slug}/tasks/{assignment_id}/submit",
        "/api/projects/{slug}/tasks/{assignment_id}/skip",
        "/api/projects/{slug}/tasks/{assignment_id}/renew",
        "/api/projects/{slug}/annotations/previous",
        "/api/projects/{slug}/annotations/{annotation_id}",
        "/api/projects/{slug}/status",
        "/api/projects/{slug}/export",
        "/api/projects/{slug}/imports",
    ):
        assert path in paths, path
    assert "/login" not in paths  # pages are not API


def test_submit_to_an_unknown_task_says_which_id_it_takes(api: Any) -> None:
    """A new user who submits to the item's id (or the README's example 42) is told that the
    task's id is the assignment_id that tasks/next answered."""
    task = api.post(f"{BASE}/tasks/next", "annotator", json={"held": []}).json()["task"]
    wrong = task["assignment_id"] + 10_000
    value = {"sentiment": api.lab.truth(task["item"]["data"]["text"])}
    response = api.post(f"{BASE}/tasks/{wrong}/submit", "annotator", json={"value": value})
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert f"no task {wrong} in project 'sent'" in detail
    assert "assignment_id" in detail and "tasks/next" in detail


def test_next_submit_status_export(api: Any) -> None:
    before = api.get(f"{BASE}/status", "annotator").json()
    assert before["counts"]["pool"] == 30
    assert before["counts"]["eval"] == 9
    assert before["model"]["version"] == 1
    done = _label(api, "annotator", 4) + _label(api, "reviewer", 2)
    status = api.get(f"{BASE}/status", "annotator").json()
    assert status["counts"]["labeled"] == 6
    assert status["counts"]["annotations"] == 6
    assert status["counts"]["remaining"] == 24
    assert status["counts"]["leased"] == 0

    exported = api.get(f"{BASE}/export?format=jsonl", "manager")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="sent.jsonl"' in exported.headers["content-disposition"]
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert len(rows) == 6
    by_item = {r["item_id"]: r for r in rows}
    for task in done:
        row = by_item[task["item"]["id"]]
        assert row["label"] == task["value"]["sentiment"]
        assert row["text"] == task["item"]["data"]["text"]
        assert row["active_ms"] == 2500
        assert row["model_version"] == 1
        assert row["strategy"] == "diversity"
        assert row["guideline_version"] == 1
    assert {r["annotator"] for r in rows} == {"annotator", "reviewer"}

    as_csv = api.get(f"{BASE}/export?format=csv", "manager")
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(int(r["item_id"]), r["label"]) for r in table] == [
        (r["item_id"], r["label"]) for r in rows
    ]


def test_previous_and_edit_over_http(api: Any) -> None:
    first, second = _label(api, "annotator", 2)
    latest = api.get(f"{BASE}/annotations/previous", "annotator").json()["annotation"]
    assert latest["item"]["id"] == second["item"]["id"]
    earlier = api.get(
        f"{BASE}/annotations/previous?before={latest['annotation_id']}", "annotator"
    ).json()["annotation"]
    assert earlier["item"]["id"] == first["item"]["id"]
    new = next(c for c in api.lab.classes if c != first["value"]["sentiment"])
    changed = api.put(
        f"{BASE}/annotations/{earlier['annotation_id']}",
        "annotator",
        json={"value": {"sentiment": new}},
    )
    assert changed.status_code == 200
    rows = [json.loads(x) for x in api.get(f"{BASE}/export", "manager").text.splitlines()]
    assert {r["item_id"]: r["label"] for r in rows}[first["item"]["id"]] == new
    refused = api.put(
        f"{BASE}/annotations/{earlier['annotation_id']}",
        "reviewer",
        json={"value": {"sentiment": new}},
    )
    assert refused.status_code == 404


def test_prefetch_and_skip_over_http(api: Any) -> None:
    first = api.post(f"{BASE}/tasks/next", "annotator", json={}).json()["task"]
    again = api.post(f"{BASE}/tasks/next", "annotator", json={}).json()["task"]
    assert again["assignment_id"] == first["assignment_id"]
    ahead = api.post(
        f"{BASE}/tasks/next", "annotator", json={"held": [first["assignment_id"]]}
    ).json()["task"]
    assert ahead["item"]["id"] != first["item"]["id"]
    skipped = api.post(f"{BASE}/tasks/{first['assignment_id']}/skip", "annotator")
    assert skipped.status_code == 200
    late = api.post(
        f"{BASE}/tasks/{first['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "neutral"}},
    )
    assert late.status_code == 409
    assert late.json()["error"] == "Conflict"


def test_someone_elses_task_is_409(api: Any) -> None:
    task = api.post(f"{BASE}/tasks/next", "annotator", json={}).json()["task"]
    response = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit",
        "reviewer",
        json={"value": {"sentiment": "neutral"}},
    )
    assert response.status_code == 409
    assert "another annotator" in response.json()["detail"]


def test_an_exhausted_queue_answers_null(sqlite_api: Any) -> None:
    _label(sqlite_api, "annotator", 30)
    response = sqlite_api.post(f"{BASE}/tasks/next", "reviewer", json={})
    assert response.status_code == 200
    assert response.json() == {"task": None}
    assert sqlite_api.get(f"{BASE}/status").json()["counts"]["remaining"] == 0


def test_health_answers_without_a_token(sqlite_api: Any) -> None:
    response = sqlite_api.client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_gold_checks_do_not_keep_a_finished_project_waiting(api: Any) -> None:
    """With gold items in the pool, labeling every other item reads "done"; an item no longer
    gold is work again and is served."""
    from labelloop.workflow import quality

    manager = api.lab.ctx("sent", api.lab.admin)
    texts = {r["id"]: r["text"] for r in api.lab.rows(30)}
    for name in ("doc-3", "doc-4"):
        answer = {"sentiment": api.lab.truth(texts[name])}
        quality.set_gold(api.lab.db, manager, answer, external_id=name)
    served = [task["item"]["external_id"] for task in _label_until_none(api, "annotator")]
    assert len(served) == 28 and not {"doc-3", "doc-4"} & set(served)
    idle = api.get(f"{BASE}/tasks/idle", "annotator").json()
    assert (idle["state"], idle["remaining"]) == ("done", 0)
    counts = api.get(f"{BASE}/status", "annotator").json()["counts"]
    assert (counts["labeled"], counts["remaining"]) == (28, 0)
    assert "gold" not in counts  # how many gold checks there are is no annotator's to read
    assert api.get(f"{BASE}/status", "manager").json()["counts"]["gold"] == 2
    item_id = next(g["item_id"] for g in quality.gold_items(api.lab.db, manager))
    removed = api.client.delete(f"{BASE}/gold/{item_id}", headers=api.auth("manager"))
    assert removed.status_code == 200
    assert (removed.json()["answers"], removed.json()["resolution"]) == (0, None)
    assert api.get(f"{BASE}/tasks/idle", "annotator").json()["remaining"] == 1
    again = _label_until_none(api, "annotator")
    assert [task["item"]["id"] for task in again] == [item_id]
    assert api.get(f"{BASE}/tasks/idle", "annotator").json()["state"] == "done"


def _label_until_none(api: Any, role: str) -> list[dict[str, Any]]:
    """Take and truthfully label every item served to ``role`` until none is left."""
    done = []
    while task := api.post(f"{BASE}/tasks/next", role, json={}).json()["task"]:
        value = {"sentiment": api.lab.truth(task["item"]["data"]["text"])}
        path = f"{BASE}/tasks/{task['assignment_id']}/submit"
        assert api.post(path, role, json={"value": value, "active_ms": 2500}).status_code == 200
        done.append(task)
    return done


def test_renew_keeps_the_lease_and_an_answer_after_it_ran_out_counts(api: Any) -> None:
    task = api.post(f"{BASE}/tasks/next", "annotator", json={}).json()["task"]
    path = f"{BASE}/tasks/{task['assignment_id']}"
    renewed = api.post(f"{path}/renew", "annotator")
    assert renewed.status_code == 200
    assert renewed.json()["lease_expires_at"] >= task["lease_expires_at"]
    assert api.post(f"{path}/renew", "reviewer").status_code == 409  # not theirs

    with api.lab.db.write() as conn:  # the page was left open past the lease
        conn.execute(
            update(assignment)
            .where(assignment.c.id == task["assignment_id"])
            .values(lease_expires_at=now() - timedelta(seconds=1))
        )
    late = api.post(f"{path}/submit", "annotator", json={"value": {"sentiment": "neutral"}})
    assert late.status_code == 200, late.text
    assert late.json()["item_id"] == task["item"]["id"]
