"""The Python client against the real app in-process: what a script or a notebook does with it."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labelloop.client import ApiError, Client, Project
from labelloop.errors import LabelloopError
from tests.conftest import schema_with

URL = "http://testserver"

SCHEMA_YAML = """\
name: Tweet sentiment
data: {type: text, field: text}
controls:
  - name: sentiment
    type: choice
    labels: [negative, neutral, positive]
    target: true
guideline: Label the author's attitude, not the topic.
settings:
  strategy: margin
  queue_size: 12
"""


def client_for(api: Any, role: str) -> Client:
    """A client with ``role``'s token, sent through the test's in-process app."""
    return Client(URL, api.tokens[role], http=api.client)


def train(api: Any) -> int:
    """One pass of the background learner, as `labelloop serve` runs it; rounds that ran."""
    from labelloop.workflow.learning import Learner

    return Learner(api.lab.db, cache=api.client.app.state.features).run_once()


def label_all(project: Project, truth: Any, *, wait_s: float = 0) -> list[dict[str, Any]]:
    """Answer every task the queue serves with the true label; what was given."""
    given = []
    for task in project.tasks(wait_s=wait_s):
        label = truth(task.data["text"])
        done = task.submit(label, active_ms=1200)
        given.append({"task": task, "label": label, **done})
    return given


def test_a_script_creates_imports_labels_until_a_model_trains_and_exports(
    api: Any, tmp_path: Path
) -> None:
    schema = tmp_path / "tweets.yaml"
    schema.write_text(SCHEMA_YAML)
    admin = client_for(api, "admin")
    project = admin.create_project("tweets", schema)
    assert project.detail()["role"] == "manager"
    assert project.set_member("annotator", "annotator") == {
        "username": "annotator",
        "role": "annotator",
    }

    pool = project.import_records(
        ({"id": r["id"], "text": r["text"]} for r in api.lab.rows(40)), id_field="id"
    )
    assert (pool["items"], pool["labeled"], pool["split"]) == (40, 0, "pool")
    held_out = project.import_records(
        api.lab.rows(9, start=1000, prefix="ev", labeled=True),
        id_field="id",
        label_field="label",
        split="eval",
    )
    assert (held_out["items"], held_out["labeled"], held_out["split"]) == (9, 9, "eval")

    annotator = client_for(api, "annotator").project("tweets")
    assert annotator.next_task() is None  # nothing is ranked before the first round
    assert annotator.idle()["state"] == "open"
    given: list[dict[str, Any]] = []
    for _ in range(4):
        assert train(api) == 1
        if (project.status()["model"] or {}).get("n_train", 0) > 0:
            break
        given += label_all(annotator, api.lab.truth)
    model = project.status()["model"]
    assert model["n_train"] == len(given) == 12
    assert project.status()["counts"]["labeled"] == 12

    rows = {r["item_id"]: r for r in project.export_rows() if r["external_id"].startswith("doc")}
    assert len(rows) == 12
    for g in given:
        row = rows[g["item_id"]]
        assert row["label"] == g["label"]
        assert row["annotator"] == "annotator"
        assert row["resolution"] == "single"
        assert row["active_ms"] == 1200
        assert row["guideline_version"] == g["task"].guideline_version == 1
        assert (row["annotators"], row["guideline_versions"]) == (["annotator"], [1])
        assert row["model_version"] == g["task"].selection["model_version"]
        assert row["strategy"] == g["task"].selection["strategy"]

    out = project.export(tmp_path / "tweets.csv", format="csv")
    table = list(csv.DictReader(out.open(newline="")))
    assert {int(r["item_id"]): r["label"] for r in table if int(r["item_id"]) in rows} == {
        i: r["label"] for i, r in rows.items()
    }
    assert not (tmp_path / "tweets.csv.part").exists()

    from labelloop.workflow import modelfiles

    saved = project.download_model(tmp_path / "tweets-model.joblib")
    assert modelfiles.load(saved).predict(["great love excellent"]) == ["positive"]

    pinned_item = given[0]["item_id"]
    pinned = project.pin_example(item_id=pinned_item, note="the plain case")
    examples = project.examples()["examples"]
    assert [(e["item_id"], e["note"]) for e in examples] == [(pinned_item, "the plain case")]
    newest = project.guideline()
    assert newest["version"] == pinned["version"] == 2
    assert [e["item_id"] for e in newest["examples"]] == [pinned_item]
    project.unpin_example(pinned_item)
    assert project.examples()["examples"] == []
    assert [g["version"] for g in project.guidelines()] == [3, 2, 1]


def test_a_bot_labels_the_whole_pool_while_the_learner_retrains(sqlite_api: Any) -> None:
    """Right after an import nothing is ranked yet, and the first queue (12 items) runs dry;
    ``wait_s`` waits for the learner's rounds until every item is labeled."""
    from labelloop.workflow.learning import Learner

    admin = client_for(sqlite_api, "admin")
    project = admin.create_project("bot", schema_with(queue_size=12))
    project.import_records(sqlite_api.lab.rows(40, prefix="bot"), id_field="id")
    learner = Learner(sqlite_api.lab.db, poll_s=0.05, cache=sqlite_api.client.app.state.features)
    learner.start()
    try:
        assert project.next_task() is None
        given = label_all(project, sqlite_api.lab.truth, wait_s=60)
    finally:
        learner.stop()
    assert len(given) == 40
    assert project.idle()["state"] == "done"
    served_by = [g["task"].selection["model_version"] for g in given]
    # The cold start's queue (12 items) serves first; no round comes before 10 labels
    # (retrain_every), so the first 10 are its own. A newer model may take over from the 11th,
    # and must once its 12 are out: each later model learned from 10 or more of the bot's labels.
    assert served_by[:10] == [1] * 10 and 1 not in served_by[12:]
    assert served_by == sorted(served_by)
    trained_on = {m["version"]: m["n_train"] for m in project.models()}
    assert all(trained_on[v] >= 10 for v in set(served_by) - {1})
    assert {r["label"] for r in project.export_rows()} == set(sqlite_api.lab.classes)


def test_a_malformed_record_names_its_line_and_imports_nothing(api: Any) -> None:
    project = client_for(api, "manager").project(api.slug)
    before = project.status()["counts"]
    records = [{"id": "new-1", "text": "great news"}, {"id": "new-2", "text": "awful day"}]
    records.append({"id": "new-3", "body": "no text field here"})
    clash = [*records[:2], {"id": "new-1", "text": "other news"}]
    with pytest.raises(ApiError) as raised:
        project.import_records(iter(clash), id_field="id")
    assert (raised.value.line, raised.value.unit, raised.value.cites) == (3, "line", 1)
    with pytest.raises(ApiError) as raised:
        project.import_records(iter(records), id_field="id")
    error = raised.value
    assert error.status == 422
    assert error.kind == "ImportFormatError"
    assert (error.line, error.field) == (3, "text")  # the API says where, not only in words
    assert str(error).startswith("422 ImportFormatError: line 3, field 'text': missing")
    assert isinstance(error, LabelloopError)
    assert project.status()["counts"] == before


def test_guideline_versions_over_the_client(sqlite_api: Any) -> None:
    manager = client_for(sqlite_api, "manager").project(sqlite_api.slug)
    first = manager.guideline()
    assert first["version"] == 1 and "attitude" in first["body"]
    second = manager.publish_guideline(
        first["body"] + "\nSarcasm is negative.", "sarcasm", base_version=1
    )
    assert second["version"] == 2
    with pytest.raises(ApiError) as raised:
        manager.publish_guideline("Something else.", "late edit", base_version=1)
    assert (raised.value.status, raised.value.kind) == (409, "Conflict")
    diff = manager.guideline_diff(1, 2)
    assert "+Sarcasm is negative." in diff["diff"]
    assert manager.guideline(1)["body"] == first["body"]
    task = client_for(sqlite_api, "annotator").project(sqlite_api.slug).next_task()
    assert task is not None and task.guideline_version == 2


def test_a_reviewer_fixes_a_label_and_the_export_says_who(sqlite_api: Any) -> None:
    admin = client_for(sqlite_api, "admin")
    project = admin.create_project("reviewed", schema_with(review_policy="all", queue_size=4))
    project.set_member("annotator", "annotator")
    project.set_member("reviewer", "reviewer")
    project.import_records(sqlite_api.lab.rows(8), id_field="id")
    train(sqlite_api)
    labeling = client_for(sqlite_api, "annotator").project("reviewed")
    given = {g["item_id"]: g["label"] for g in label_all(labeling, sqlite_api.lab.truth)}
    assert len(given) == 4
    reviewing = client_for(sqlite_api, "reviewer").project("reviewed")
    # The answer served is leased to the reviewer: the admin is served another one.
    held = reviewing.next_review()
    assert held is not None
    assert reviewing.renew_review(held["item"]["id"])["lease_expires_at"]
    other = project.next_review()
    assert other is not None and other["item"]["id"] != held["item"]["id"]
    again = project.next_review()  # served again (another page): the lease's end moved
    assert again is not None and again["item"]["id"] == other["item"]["id"]
    told = other["lease_expires_at"]
    assert project.release_review(other["item"]["id"], lease_expires_at=told) is False
    assert project.release_review(other["item"]["id"]) is True
    assert project.release_review(other["item"]["id"]) is False
    verdicts = {}
    while (waiting := reviewing.next_review()) is not None:
        annotation = waiting["annotation"]
        item_id = waiting["item"]["id"]
        if not verdicts:  # the first is fixed to another label, the rest accepted
            fixed = next(c for c in sqlite_api.lab.classes if c != given[item_id])
            reviewing.review(annotation["id"], "fix", value=fixed, comment="read it again")
            verdicts[item_id] = fixed
        else:
            reviewing.review(annotation["id"], "accept")
            verdicts[item_id] = given[item_id]
    assert verdicts.keys() == given.keys()
    rows = {r["item_id"]: r for r in project.export_rows()}
    assert {i: r["label"] for i, r in rows.items()} == verdicts
    fixed_row = next(r for r in rows.values() if r["annotated_value"])
    assert fixed_row["decided_by"] == "reviewer" and fixed_row["annotator"] == "annotator"
    assert fixed_row["resolution"] == "reviewed"
    # The reviewer finds the fixed item among the items and reads its trace.
    fixed = verdicts[fixed_row["item_id"]]
    listed = reviewing.items(label=fixed, annotator="annotator")["items"]
    assert {r["id"] for r in listed} == {i for i, v in verdicts.items() if v == fixed}
    found = next(r for r in listed if r["id"] == fixed_row["item_id"])
    assert (found["label"], found["decided_by"]) == (fixed, "reviewer")
    assert reviewing.items(status="labeled", newest_first=True, limit=2)["total"] == 4
    (answer,) = reviewing.item_trace(found["id"])["annotations"]
    assert answer["user"] == "annotator" and answer["selection"]["reason"]
    picked_by = answer["selection"]["strategy"]  # the model's: nobody seeded, no controls
    assert {r["id"] for r in reviewing.items(picked_by=picked_by)["items"]} == set(given)
    assert reviewing.items(picked_by="search")["total"] == 0
    # The annotator's items are their own answers, each with the verdict on it.
    mine = labeling.items(newest_first=True)
    assert mine["mine"] is True
    assert {r["id"]: r["label"] for r in mine["items"]} == given
    (corrected,) = labeling.items(status="fixed")["items"]
    assert corrected["id"] == fixed_row["item_id"]
    (own,) = labeling.my_answer(corrected["id"])["answers"]
    assert own["corrected_value"] == {"sentiment": fixed}
    assert [(r["reviewer"], r["comment"]) for r in own["reviews"]] == [
        ("reviewer", "read it again")
    ]
    with pytest.raises(ApiError) as raised:
        labeling.change_answer(corrected["annotation_id"], given[corrected["id"]])
    assert (raised.value.status, raised.value.kind) == (409, "Conflict")
    assert raised.value.detail == corrected["refusal"]
    # The annotator reads the verdicts on their answers page by page, newest first.
    told = labeling.my_reviews(limit=3)
    assert [r["verdict"] for r in told] == ["accept"] * 3
    (first,) = labeling.my_reviews(limit=3, offset=3)
    assert (first["verdict"], first["comment"]) == ("fix", "read it again")
    assert first["item_id"] == corrected["id"]
    # A reviewer reads the flags the same way.
    project.import_records(sqlite_api.lab.rows(12)[8:], id_field="id")
    train(sqlite_api)
    task = labeling.next_task()
    assert task is not None
    task.flag("is this sarcasm?")
    (flag,) = reviewing.flags(kind="ambiguous")
    assert (flag["item_id"], flag["note"]) == (task.item_id, "is this sarcasm?")
    assert reviewing.flags(kind="ambiguous", offset=1) == []


def test_import_file_uploads_with_the_options_the_api_takes(api: Any, tmp_path: Path) -> None:
    path = tmp_path / "more.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["key", "body", "gold"])
        writer.writeheader()
        for r in api.lab.rows(6, start=500, prefix="more", labeled=True):
            writer.writerow({"key": r["id"], "body": r["text"], "gold": r["label"]})
    project = client_for(api, "manager").project(api.slug)
    report = project.import_file(path, text_field="body", id_field="key", label_field="gold")
    assert (report["items"], report["labeled"], report["duplicates"]) == (6, 6, 0)
    again = project.import_file(path, text_field="body", id_field="key")
    assert (again["items"], again["duplicates"]) == (0, 6)
    # a newer file: the labels flip, and update_labels brings them in
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["key", "body", "gold"])
        writer.writeheader()
        for r in api.lab.rows(6, start=500, prefix="more", labeled=True):
            flipped = "neutral" if r["label"] != "neutral" else "positive"
            writer.writerow({"key": r["id"], "body": r["text"], "gold": flipped})
    newer = project.import_file(
        path, text_field="body", id_field="key", label_field="gold", update_labels=True
    )
    assert (newer["items"], newer["updated"], newer["kept"], newer["kept_lines"]) == (0, 6, 0, [])
    exported = {row["external_id"]: row["label"] for row in project.export_rows()}
    assert exported["more-500"] == "neutral" and exported["more-501"] == "neutral"


def test_an_annotator_gets_403_for_a_managers_action(api: Any) -> None:
    project = client_for(api, "annotator").project(api.slug)
    assert project.next_task() is not None  # their own work is open to them
    refusals = [
        lambda: project.change_settings(strategy="entropy"),
        lambda: project.pin_example(external_id="doc-1", value="positive"),
        lambda: project.publish_guideline("New rules.", "stricter"),
        lambda: project.set_member("reviewer", "manager"),
    ]
    for refused in refusals:
        with pytest.raises(ApiError) as raised:
            refused()
        assert (raised.value.status, raised.value.kind) == (403, "PermissionDenied")
        assert str(raised.value).startswith("403 PermissionDenied: ")
    assert client_for(api, "manager").project(api.slug).detail()["settings"]["strategy"] == (
        "margin"
    )


def test_an_outsider_gets_404_for_another_project(api: Any) -> None:
    outsider = client_for(api, "outsider")
    assert [p["slug"] for p in outsider.projects()] == ["other"]
    with pytest.raises(ApiError) as raised:
        outsider.project(api.slug).status()
    assert (raised.value.status, raised.value.kind) == (404, "NotFound")
    assert raised.value.path == f"/api/projects/{api.slug}/status"


def test_a_script_acknowledges_an_alert_and_takes_it_back(sqlite_api: Any) -> None:
    from tests.api.test_api_alert_acks import go_idle

    go_idle(sqlite_api.lab)
    reviewer = client_for(sqlite_api, "reviewer")
    project = reviewer.project(sqlite_api.slug)
    done = project.acknowledge_alert("idle", "retraining on Monday")
    assert (done["acknowledged_by"], done["acknowledged_note"]) == (
        "reviewer",
        "retraining on Monday",
    )
    (sent,) = reviewer.projects()
    assert sent["alerts"] == [] and sent["acknowledged_alerts"][0]["kind"] == "idle"
    with pytest.raises(ApiError) as raised:
        client_for(sqlite_api, "manager").project(sqlite_api.slug).acknowledge_alert("idle")
    assert (raised.value.status, raised.value.kind) == (409, "Conflict")
    assert "acknowledged already, by reviewer" in raised.value.detail
    assert project.unacknowledge_alert("idle")["acknowledged_at"] is None
    assert reviewer.projects()[0]["alerts"] == ["idle"]
    with pytest.raises(ApiError) as raised:
        project.acknowledge_alert("drift")
    assert raised.value.status == 404 and "no open drift alert" in raised.value.detail


def test_a_bad_or_missing_token_gets_401(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ApiError) as raised:
        Client(URL, "ll_not-a-token", http=api.client).me()
    assert (raised.value.status, raised.value.kind) == (401, "AuthenticationFailed")
    assert "token" in raised.value.detail
    monkeypatch.delenv("LABELLOOP_TOKEN", raising=False)
    with pytest.raises(ApiError) as raised:
        Client(URL, http=api.client).projects()
    assert raised.value.status == 401
    monkeypatch.setenv("LABELLOOP_TOKEN", api.tokens["reviewer"])
    assert Client(URL, http=api.client).me()["username"] == "reviewer"


def test_the_task_loop_skips_what_it_was_not_given_an_answer_for(sqlite_api: Any) -> None:
    project = client_for(sqlite_api, "annotator").project(sqlite_api.slug)
    served: list[int] = []
    for task in project.tasks():
        served.append(task.item_id)
        assert len(served) <= 30, "an item was served twice"
        if len(served) % 2:
            continue  # no answer: the loop skips it
        task.submit({"sentiment": sqlite_api.lab.truth(task.data["text"])})
    assert len(served) == len(set(served)) == 30
    assert project.idle()["state"] == "waiting"  # the skipped half wait for someone else
    exported = client_for(sqlite_api, "manager").project(sqlite_api.slug).export_rows()
    labeled = {r["item_id"] for r in exported if r["external_id"].startswith("doc")}
    assert labeled == set(served[1::2])


def test_submit_skip_and_errors_of_the_queue(sqlite_api: Any) -> None:
    project = client_for(sqlite_api, "annotator").project(sqlite_api.slug)
    first = project.next_task()
    assert first is not None
    again = project.next_task()  # the lease they hold comes first
    assert again is not None and again.assignment_id == first.assignment_id
    second = project.next_task(held=[first.assignment_id])
    assert second is not None and second.item_id != first.item_id
    first.skip()
    with pytest.raises(ApiError) as raised:
        first.submit("neutral")
    assert (raised.value.status, raised.value.kind) == (409, "Conflict")
    with pytest.raises(ApiError) as raised:
        second.submit("delighted")
    assert raised.value.status == 422 and "delighted" in raised.value.detail
    assert second.flag("sarcasm?")["item_id"] == second.item_id
    done = second.submit({"sentiment": "neutral"})
    assert done["item_id"] == second.item_id and "resolution" not in done  # managers' to read


def test_reports_and_settings_over_the_client(sqlite_api: Any) -> None:
    manager = client_for(sqlite_api, "manager").project(sqlite_api.slug)
    assert manager.change_settings(strategy="entropy", batch_size=5)["strategy"] == "entropy"
    assert manager.status()["strategy"] == "entropy"
    added = manager.add_label("mixed", description="praise and complaint")
    assert (added["labels"][-1], added["schema_version"]) == ("mixed", 2)
    assert manager.detail()["schema"]["controls"][0]["labels"][-1] == "mixed"
    with pytest.raises(ApiError) as raised:
        client_for(sqlite_api, "annotator").project(sqlite_api.slug).add_label("other")
    assert raised.value.status == 403
    roles = {m["username"]: m["role"] for m in manager.members()}
    assert roles["annotator"] == "annotator" and roles["reviewer"] == "reviewer"
    assert manager.models()[0]["version"] == 1
    assert "state" in manager.gain()
    assert isinstance(manager.dashboard(days=7), dict)
    assert isinstance(manager.quality(n_boot=0), dict)
    found = manager.search("great")
    assert found["items"] and all("great" in i["text"] for i in found["items"])
    pick = found["items"][-1]["id"]
    assert manager.send_to_queue([pick], query="great")["reason"] == (
        "searched by manager for 'great'"
    )
    task = client_for(sqlite_api, "annotator").project(sqlite_api.slug).next_task()
    assert task is not None and task.item_id == pick
    assert task.selection["strategy"] == "search"


def test_a_client_closes_only_the_http_client_it_opened(sqlite_api: Any) -> None:
    with Client(URL, sqlite_api.tokens["annotator"], http=sqlite_api.client) as client:
        assert client.me()["username"] == "annotator"
    assert sqlite_api.client.get("/api/health").status_code == 200  # still open
    with Client("http://127.0.0.1:9") as own:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        own.health()


# --------------------------------------------------------------------------------------------
# Transport-level behaviour, against a fake server


def fake(handler: Any) -> Client:
    return Client("http://fake", "ll_x", http=httpx.Client(transport=httpx.MockTransport(handler)))


def test_records_are_streamed_not_built_into_one_upload() -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["headers"] = request.headers
        seen["body"] = request.read()
        report = {"batch_id": 1, "items": 3, "labeled": 0, "duplicates": 0}
        return httpx.Response(201, json={**report, "duplicate_lines": [], "split": "pool"})

    def records() -> Iterator[dict[str, Any]]:
        for i in range(3):
            yield {"id": i, "text": f"texte n°{i}"}

    report = fake(handler).project("p").import_records(records(), id_field="id")
    assert report["items"] == 3
    assert "content-length" not in seen["headers"]  # sent in chunks: its size was never known
    assert seen["headers"]["transfer-encoding"] == "chunked"
    body = seen["body"].decode()
    lines = [json.dumps({"id": i, "text": f"texte n°{i}"}, ensure_ascii=False) for i in range(3)]
    assert "\n".join(lines) + "\n" in body
    assert 'name="id_field"' in body and 'name="text_field"' not in body


def test_a_record_that_is_not_json_raises_before_anything_is_stored() -> None:
    client = fake(lambda request: httpx.Response(201, content=request.read()))
    with pytest.raises(ValueError, match="record 2 cannot be sent as JSON"):
        client.project("p").import_records([{"text": "fine"}, {"text": float("nan")}])


def test_an_error_without_the_apis_body_still_says_what_happened() -> None:
    client = fake(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(ApiError) as raised:
        client.project("p").status()
    assert (raised.value.status, raised.value.kind) == (502, "Bad Gateway")
    assert "Bad gateway" in raised.value.detail


def test_a_bare_value_answers_the_control_the_model_learns_when_none_is_marked(
    sqlite_api: Any,
) -> None:
    schema = {
        "name": "Two controls",
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "stars", "type": "rating", "max": 5},
            {"name": "topic", "type": "choice", "labels": ["billing", "delivery"]},
        ],
    }
    with client_for(sqlite_api, "admin") as client:
        project = client.create_project("two", schema)
        assert project.detail()["target"] == "topic"  # the learnable one, though unmarked
        project.import_records([{"text": "charged twice"}, {"text": "parcel lost"}])
        train(sqlite_api)
        task = project.next_task()
        assert task is not None
        task.submit("billing")
        (row,) = project.export_rows()
        assert row["value"] == {"topic": "billing"}


def test_a_script_pages_through_every_item_of_a_large_project(sqlite_api: Any) -> None:
    """Past the 10,000th item the Items listing answered 422 (``offset`` at most 10,000), so a
    script paging through a large pool, and the Items page's Next, stopped a third of the way
    into the demo's 37,000 tweets."""
    lab = sqlite_api.lab
    lab.import_rows(
        lab.ctx(sqlite_api.slug, lab.admin),
        ({"id": f"bulk-{i}", "text": f"bulk review {i}"} for i in range(10_300)),
    )
    project = client_for(sqlite_api, "reviewer").project(sqlite_api.slug)
    seen: list[int] = []
    while True:
        page = project.items(limit=200, offset=len(seen))
        seen += [row["id"] for row in page["items"]]
        if not page["items"]:
            break
    assert len(seen) == len(set(seen)) == page["total"] > 10_300
    mine = client_for(sqlite_api, "annotator").project(sqlite_api.slug).items(offset=20_000)
    assert (mine["total"], mine["items"]) == (0, [])  # My answers pages the same way


def test_a_script_reads_the_whole_audit_log_page_by_page(sqlite_api: Any) -> None:
    """The audit route answered the newest 1,000 events at most, with no way to the older
    ones; ``before`` (an event's id) pages back through the whole log."""
    manager = client_for(sqlite_api, "manager").project(sqlite_api.slug)
    for n in range(7):
        manager.change_settings(batch_size=5 + n)
    newest = manager.audit(limit=3)
    assert len(newest) == 3
    older = manager.audit(limit=3, before=newest[-1]["id"])
    assert [e["id"] for e in older] == sorted((e["id"] for e in older), reverse=True)
    assert older[0]["id"] < newest[-1]["id"]
    everything = list(manager.audit_events(page=4))
    ids = [e["id"] for e in everything]
    assert ids == sorted(set(ids), reverse=True) and ids[:6] == [e["id"] for e in newest + older]
    assert len(everything) == len(manager.audit(limit=1000)) > 8
    settings = list(manager.audit_events(action="project.settings", page=2))
    assert len(settings) == 7 and {e["action"] for e in settings} == {"project.settings"}
    with pytest.raises(ApiError) as raised:  # an id of no event of this project
        manager.audit(before=987_654_321)
    assert (raised.value.status, raised.value.detail) == (
        404,
        f"no audit event 987654321 in project '{sqlite_api.slug}'",
    )


def test_a_script_rotates_its_token(api: Any) -> None:
    """Tokens are listed and revoked from the client, as on the projects page, where only
    ``create_token`` was there and a script fell back to raw requests for the rest."""
    client = client_for(api, "reviewer")
    fresh = client.create_token("nightly export")
    listed = client.tokens()
    made = next(t for t in listed if t["name"] == "nightly export")
    assert made["revoked_at"] is None and "token" not in made
    rotated = Client(URL, fresh, http=api.client)
    assert rotated.me()["username"] == "reviewer"
    assert rotated.revoke_token(made["id"]) == {
        "id": made["id"],
        "name": "nightly export",
        "username": "reviewer",
    }
    with pytest.raises(ApiError) as raised:
        rotated.me()
    assert raised.value.status == 401
    assert next(t for t in client.tokens() if t["id"] == made["id"])["revoked_at"]
    assert client_for(api, "admin").tokens(username="reviewer") == client.tokens()
    with pytest.raises(ApiError) as raised:
        client.tokens(username="admin")
    assert raised.value.status == 403


def test_a_manager_simulates_strategies_and_exports_eval_answers_from_a_script(
    sqlite_api: Any,
) -> None:
    from labelloop.workflow import simulations
    from labelloop.workflow.features import FeatureCache

    lab = sqlite_api.lab
    rows = lab.rows(60, start=2000, prefix="lab", labeled=True)
    lab.import_rows(lab.ctx("sent", lab.admin), rows, labeled=True, filename="labeled.jsonl")
    manager = client_for(sqlite_api, "manager").project(sqlite_api.slug)
    asked = manager.simulate(strategies=["random", "margin"], seeds=2, budget=40, batch=10)
    assert asked["state"] == "queued" and asked["options"]["strategies"] == ["random", "margin"]
    assert [s["id"] for s in manager.simulations()] == [asked["id"]]
    assert simulations.run_next(lab.db, FeatureCache())  # the learner replays it
    done = manager.simulation(asked["id"])
    assert done["state"] == "done" and done["summary"]["best"]
    with pytest.raises(ApiError) as raised:
        manager.cancel_simulation(asked["id"])  # it ended
    assert raised.value.status == 409
    again = manager.simulate(seeds=1, budget=40)
    assert manager.cancel_simulation(again["id"])["state"] == "cancelled"

    held_out = list(manager.export_rows(split="eval"))
    assert len(held_out) == 9 and {r["external_id"][:2] for r in held_out} == {"ev"}
    task = client_for(sqlite_api, "annotator").project(sqlite_api.slug).next_task()
    assert task is not None
    task.submit(lab.truth(task.data["text"]))
    answers = list(manager.export_rows(annotations=True))
    assert [(a["item_id"], a["annotator"]) for a in answers] == [(task.item_id, "annotator")]


def test_a_script_renews_and_gives_back_its_leases(sqlite_api: Any) -> None:
    project = client_for(sqlite_api, "annotator").project(sqlite_api.slug)
    first = project.next_task()
    assert first is not None
    second = project.next_task(held=[first.assignment_id])
    assert second is not None
    told = first.lease_expires_at
    assert first.renew() > told and first.lease_expires_at > told
    # Named with the end it had before the renew (another copy of the script), it stays.
    assert project.release([dataclasses.replace(first, lease_expires_at=told)]) == []
    assert project.release([first, second]) == sorted([first.assignment_id, second.assignment_id])
    # Given back: another annotator is served one of them now ...
    other = client_for(sqlite_api, "reviewer").project(sqlite_api.slug).next_task()
    assert other is not None and other.item_id in {first.item_id, second.item_id}
    taken, free = (first, second) if other.item_id == first.item_id else (second, first)
    with pytest.raises(ApiError) as raised:
        taken.renew()
    assert raised.value.status == 409 and "another annotator" in raised.value.detail
    # ... and the other one this script takes again, while nobody else has it.
    assert free.renew() > told
    assert free.release() is True
    assert free.release() is False  # given back already
