"""Through the API and the client, an answer records the spans it was offered as the server
offered them: a page or script that says it was shown other spans is not taken at its word."""

from __future__ import annotations

import json
from typing import Any

from labelloop.client import Client

URL = "http://testserver"
TEXT = "Anna flew to Paris with Tomas"
ANNA = {"start": 0, "end": 4, "label": "person"}
PARIS = {"start": 13, "end": 18, "label": "city"}
TOMAS = {"start": 24, "end": 29, "label": "person"}
SCHEMA = {
    "name": "People and places",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "entities", "type": "spans", "labels": ["city", "person"]}],
}


def _project(api: Any) -> tuple[Client, Any]:
    """A spans project with one item whose spans were imported as scored predictions, queued."""
    from labelloop.workflow.learning import Learner

    admin = Client(URL, api.tokens["admin"], http=api.client)
    project = admin.create_project("ents", SCHEMA)
    project.import_records(
        [{"id": "t1", "text": TEXT, "pred": {"entities": [{**ANNA, "score": 0.9}, PARIS]}}],
        id_field="id",
        prediction_field="pred",
    )
    Learner(api.lab.db, cache=api.client.app.state.features).run_once()
    return admin, project


def test_a_client_answer_records_the_offered_spans_and_its_trace_says_so(api: Any) -> None:
    _, project = _project(api)
    task = project.next_task()
    assert task is not None and task.suggestion is not None
    assert task.suggestion["value"] == {"entities": [{**ANNA, "score": 0.9}, PARIS]}
    task.submit({"entities": [ANNA, PARIS]}, active_ms=800)

    answer = project.item_trace(task.item_id)["annotations"][0]
    assert answer["suggestion"]["sources"] == {"entities": "import"}
    assert answer["suggestion"]["outcome"]["entities"]["accepted"] is True
    assert answer["suggestion"]["sentence"] == (
        "suggested by the import: 2 spans: person, city · accepted"
    )
    (row,) = project.export_rows()
    assert row["suggestion_source"] == {"entities": "import"}
    assert [s["text"] for s in row["suggestion_value"]["entities"]] == ["Anna", "Paris"]


def test_a_claimed_suggestion_in_the_submit_body_is_not_recorded(api: Any) -> None:
    _, project = _project(api)
    slug = "ents"
    next_task = api.client.post(f"/api/projects/{slug}/tasks/next", headers=api.auth("admin"))
    task = next_task.json()["task"]
    claim = {"label": "person", "value": {"entities": [TOMAS]}, "sources": {"entities": "model"}}
    url = f"/api/projects/{slug}/tasks/{task['assignment_id']}/submit"
    answer = {"value": {"entities": [TOMAS]}, "active_ms": 500}
    claimed = api.client.post(url, headers=api.auth("admin"), json={**answer, "suggestion": claim})
    assert claimed.status_code == 422, claimed.text  # refused whole: a body takes no such field
    assert claimed.json()["detail"] == "suggestion: Extra inputs are not permitted"
    response = api.client.post(url, headers=api.auth("admin"), json=answer)
    assert response.status_code == 200, response.text
    trace = api.client.get(
        f"/api/projects/{slug}/items/{task['item']['id']}/review", headers=api.auth("admin")
    ).json()
    suggestion = trace["annotations"][0]["suggestion"]
    assert suggestion["label"] is None
    assert suggestion["value"] == {"entities": [{**ANNA, "score": 0.9}, PARIS]}
    assert suggestion["sources"] == {"entities": "import"}
    assert suggestion["outcome"]["entities"] == {
        "accepted": False,
        "suggested": 2,
        "kept": 0,
        "added": 1,
    }
    exported = api.client.get(
        f"/api/projects/{slug}/export?format=jsonl", headers=api.auth("admin")
    ).text
    (row,) = [json.loads(line) for line in exported.splitlines() if line]
    assert row["suggestion_source"] == {"entities": "import"}
