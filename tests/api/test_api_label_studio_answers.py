"""A Label Studio export with overlap uploaded with ``annotations=true``: each annotator's answer
comes in as their member's, over HTTP and through the client; a file naming an annotator who
is no member is refused whole (422 naming the task and the annotation); another project's
members never match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labelloop.client import ApiError, Client
from tests.workflow.test_workflow_label_studio_answers import overlap_export

URL = "http://testserver"


def _members(api: Any) -> None:
    for name in ("ana", "ben", "cy@example.com"):
        api.lab.member("sent", name, "annotator")


def _upload(api: Any, tasks: list[Any], *, role: str = "manager", **form: str) -> Any:
    return api.post(
        "/api/projects/sent/imports",
        role=role,
        files={"file": ("project-3.json", json.dumps(tasks).encode(), "application/json")},
        data={"format": "label_studio", "annotations": "true", **form},
    )


def test_the_answers_come_in_as_their_members_and_quality_counts_them(api: Any) -> None:
    _members(api)
    sent = _upload(api, overlap_export())
    assert sent.status_code == 201, sent.text
    report = sent.json()
    assert (report["items"], report["labeled"]) == (3, 3)  # overlap 1: 103's two agree
    assert report["notes"][0].startswith("8 answers and 1 skip came in as their annotators'")
    found = api.get("/api/projects/sent/quality?n_boot=0", role="reviewer").json()
    counts = {a["username"]: a["labels"] for a in found["annotators"]}
    assert counts == {"ana": 3, "ben": 2, "cy@example.com": 3}
    assert found["agreement"]["overall"]["n_items"] == 3
    items = api.get("/api/projects/sent/items?q=planned", role="reviewer").json()["items"]
    trace = api.get(f"/api/projects/sent/items/{items[0]['id']}/review", role="reviewer").json()
    assert [(a["user"], a["created_at"][:16]) for a in trace["annotations"]] == [
        ("ana", "2024-05-02T09:00"),
        ("ben", "2024-05-02T09:01"),
        ("cy@example.com", "2024-05-02T09:02"),
    ]
    assert {a["selection"]["strategy"] for a in trace["annotations"]} == {"import"}
    assert trace["flags"][0]["kind"] == "disagreement"


def test_an_annotator_who_is_no_member_refuses_the_upload(api: Any) -> None:
    api.lab.member("sent", "ana", "annotator")
    api.lab.member("other", "ben", "annotator")  # a member of another project only
    sent = _upload(api, overlap_export())
    assert sent.status_code == 422
    body = sent.json()
    assert (body["line"], body["field"]) == (1, "annotations[1]")
    assert "the annotator 'ben@example.com' is no member of project 'sent'" in body["detail"]
    listed = api.get("/api/projects/sent/imports", role="manager").json()
    assert "project-3.json" not in {b["filename"] for b in listed}


def test_only_managers_import_answers(api: Any) -> None:
    _members(api)
    assert _upload(api, overlap_export(), role="annotator").status_code == 403
    assert _upload(api, overlap_export(), role="outsider").status_code == 404


def test_the_client_imports_each_annotators_answer(api: Any, tmp_path: Path) -> None:
    _members(api)
    path = tmp_path / "project-3.json"
    path.write_text(json.dumps(overlap_export()))
    project = Client(URL, api.tokens["manager"], http=api.client).project("sent")
    report = project.import_file(path, format="label_studio", annotations=True)
    assert report["labeled"] == 3
    again = project.import_file(path, format="label_studio", annotations=True)
    assert (again["items"], again["duplicates"]) == (0, 3)
    try:
        project.import_file(path, format="jsonl", annotations=True)
    except ApiError as exc:
        assert exc.status == 400 and "from a Label Studio file, not from jsonl" in exc.detail
    else:
        raise AssertionError("a JSONL file with annotations was accepted")


def test_a_repeated_tasks_answers_join_its_item(api: Any) -> None:
    """The same text in two tasks of the upload: one item, with every annotator's answer of
    both tasks (ana answered both: her newer one counts), resolved over all of them."""
    _members(api)
    tasks = overlap_export()
    first = tasks[0]
    tasks.append(
        {
            **first,
            "id": 104,
            "annotations": [
                {**first["annotations"][0], "id": 10, "updated_at": "2024-05-04T10:00:00Z"},
            ],
        }
    )
    first["annotations"][0] = {**first["annotations"][0], "result": []}  # skipped first
    first["annotations"][0]["was_cancelled"] = True
    sent = _upload(api, tasks)
    assert sent.status_code == 201, sent.text
    report = sent.json()
    assert (report["items"], report["duplicates"]) == (3, 1)
    assert report["notes"][0].startswith("8 answers and 1 skip came in")
    assert any(
        n.startswith("1 answer by annotators who answered two tasks") for n in report["notes"]
    )
    items = api.get("/api/projects/sent/items?q=phone", role="reviewer").json()["items"]
    (found,) = [i for i in items if i["external_id"] == "101"]
    trace = api.get(f"/api/projects/sent/items/{found['id']}/review", role="reviewer").json()
    assert sorted(a["user"] for a in trace["annotations"]) == ["ana", "ben", "cy@example.com"]
    assert "annotation 10" in next(
        a["selection"]["reason"] for a in trace["annotations"] if a["user"] == "ana"
    )
    assert trace["label"]["resolution"] == "consensus"
