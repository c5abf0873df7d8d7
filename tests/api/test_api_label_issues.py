"""Over HTTP: once a round's model agrees with labels an early model doubted, the status count,
the dashboard alert, the review queue and the flag list drop them, and the item's trace says
the learner closed them and why."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.store import review as store_review
from labelloop.workflow import projects

BASE = "/api/projects/sent"


def _label(api: Any, n: int) -> list[int]:
    """``n`` served items labeled truthfully by the annotator over HTTP; their item ids."""
    done = []
    for _ in range(n):
        task = api.post(f"{BASE}/tasks/next", "annotator", json={"held": []}).json()["task"]
        value = {"sentiment": api.lab.truth(task["item"]["data"]["text"])}
        sent = api.post(
            f"{BASE}/tasks/{task['assignment_id']}/submit",
            "annotator",
            json={"value": value, "active_ms": 4000},
        )
        assert sent.status_code == 200, sent.text
        done.append(task["item"]["id"])
    return done


def _flag_as_an_early_round(api: Any, item_ids: list[int]) -> None:
    lab = api.lab
    ctx = lab.ctx("sent", lab.admin)
    with lab.db.read() as conn:
        sources = store_review.label_sources(conn, item_ids)
    found = [
        {
            "item_id": i,
            "annotation_id": sources[i]["annotation_id"],
            "user_id": sources[i]["user_id"],
            "note": "labeled 'neutral' but the model is 0.55 sure it is 'positive'",
            "score": 0.3,
        }
        for i in item_ids
    ]
    with lab.db.write() as conn:
        store_review.add_label_issues(conn, ctx.id, found, to_review=True)


def test_a_round_that_agrees_with_doubted_labels_clears_them_everywhere(sqlite_api: Any) -> None:
    api, lab = sqlite_api, sqlite_api.lab
    ctx = lab.ctx("sent", lab.admin)
    projects.change_settings(
        lab.db, ctx, {"review_policy": "flagged", "contradiction_threshold": 1.0}
    )
    lab.import_rows(ctx, lab.rows(60, start=100))
    lab.train(ctx)
    labeled = _label(api, 36)
    doubted = labeled[3:5]
    _flag_as_an_early_round(api, doubted)
    assert api.get(f"{BASE}/status").json()["open_label_issues"] == 2
    assert api.get(f"{BASE}/reviews/summary", "reviewer").json()["in_review"] == 2
    assert "label_issues" in {a["kind"] for a in api.get(f"{BASE}/dashboard").json()["alerts"]}

    lab.train(lab.ctx("sent", lab.admin))

    assert api.get(f"{BASE}/status").json()["open_label_issues"] == 0
    summary = api.get(f"{BASE}/reviews/summary", "reviewer").json()
    assert summary["in_review"] == 0 and "label_issue" not in summary["open_flags"]
    assert "label_issues" not in {a["kind"] for a in api.get(f"{BASE}/dashboard").json()["alerts"]}
    assert api.get(f"{BASE}/flags?kind=label_issue", "reviewer").json()["flags"] == []
    listed = api.get(f"{BASE}/flags?kind=label_issue&open=false", "reviewer").json()["flags"]
    assert sorted(f["item_id"] for f in listed) == sorted(doubted)
    trace = api.get(f"{BASE}/items/{doubted[0]}/review", "reviewer").json()
    (flag,) = [f for f in trace["flags"] if f["kind"] == "label_issue"]
    assert flag["open"] is False
    assert flag["resolved_note"].startswith("closed by the learner (model v3): it now agrees with")
    assert [a["status"] for a in trace["annotations"]] == ["submitted"]


def _flag_flipped_imports(api: Any) -> None:
    """Under the review policy ``flagged``, 45 labels imported with tweets.jsonl, every seventh
    flipped, and a label-error scan that flags at least three."""
    from labelloop.workflow import quality

    lab = api.lab
    ctx = lab.ctx("sent", lab.admin)
    projects.change_settings(lab.db, ctx, {"review_policy": "flagged"})
    rows = lab.rows(45, start=100, labeled=True)
    classes = ("negative", "neutral", "positive")
    for k in range(3, 45, 7):
        rows[k]["label"] = classes[(classes.index(rows[k]["label"]) + 1) % 3]
    lab.import_rows(ctx, rows, labeled=True, filename="tweets.jsonl")
    assert quality.scan(lab.db, ctx)["flagged"] >= 3


def test_a_flagged_imported_label_is_served_for_review_and_kept_or_fixed_over_http(
    sqlite_api: Any,
) -> None:
    """Labels imported with a file, some flipped, a scan flags them: reviews/next serves one
    (no answer, the imported label with its file), second-look keeps or fixes it, the queue
    passes one by with skip_item, and an annotator cannot decide one."""
    api, lab = sqlite_api, sqlite_api.lab
    _flag_flipped_imports(api)

    summary = api.get(f"{BASE}/reviews/summary", "reviewer").json()
    assert summary["imported_labels"] >= 3
    served = api.get(f"{BASE}/reviews/next", "reviewer").json()["review"]
    assert served["annotation"] is None
    assert served["imported_label"]["filename"] == "tweets.jsonl"
    first = served["item"]["id"]
    passed = api.get(f"{BASE}/reviews/next?skip_item={first}", "reviewer").json()["review"]
    assert passed["item"]["id"] != first

    refused = api.post(f"{BASE}/items/{first}/second-look", "annotator", json={"verdict": "keep"})
    assert refused.status_code == 403
    truth = lab.truth(served["item"]["data"]["text"])
    fixed = api.post(
        f"{BASE}/items/{first}/second-look",
        "reviewer",
        json={"verdict": "fix", "value": {"sentiment": truth}},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["resolution"] == "reviewed"
    again = api.post(f"{BASE}/items/{first}/second-look", "reviewer", json={"verdict": "keep"})
    assert again.status_code == 409 and "nothing was recorded" in again.json()["detail"]
    kept = api.post(
        f"{BASE}/items/{passed['item']['id']}/second-look", "reviewer", json={"verdict": "keep"}
    )
    assert kept.status_code == 200, kept.text
    after = api.get(f"{BASE}/reviews/summary", "reviewer").json()["imported_labels"]
    assert after == summary["imported_labels"] - 2


def test_the_second_look_list_over_http_is_the_cli_s_and_the_client_s_for_reviewers_only(
    sqlite_api: Any, no_labelloop_env: None
) -> None:
    """``GET second-look`` answers what ``labelloop second-look SLUG --json`` prints, and the
    client's ``second_looks()`` the same; an annotator gets a 403, and a member of another
    project finds no project (404), as a reviewer of 'sent' asking for 'other' does."""
    import json

    from typer.testing import CliRunner

    from labelloop.cli import app
    from labelloop.client import ApiError, Client

    api, lab = sqlite_api, sqlite_api.lab
    _flag_flipped_imports(api)

    got = api.get(f"{BASE}/second-look", "reviewer")
    assert got.status_code == 200, got.text
    listed = got.json()
    assert listed["in_review_queue"] is True and len(listed["items"]) >= 3
    served = api.get(f"{BASE}/reviews/next", "reviewer").json()["review"]
    first = listed["items"][0]
    assert first["item_id"] == served["item"]["id"]  # the order the queue serves them in
    assert (first["filename"], first["suggestion"]) == (
        "tweets.jsonl",
        served["imported_label"]["suggestion"],
    )
    assert first["suggestion"] != first["label"] and first["confidence"] >= 0.5

    env = {"LABELLOOP_DATABASE_URL": lab.db.url}
    printed = CliRunner().invoke(
        app, ["second-look", "sent", "--json", "--as", "reviewer"], env=env
    )
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == listed
    project = Client("http://testserver", api.tokens["reviewer"], http=api.client).project("sent")
    assert project.second_looks() == listed

    refused = api.get(f"{BASE}/second-look", "annotator")
    assert refused.status_code == 403 and "does not allow reviewing" in refused.json()["detail"]
    annotator = Client("http://testserver", api.tokens["annotator"], http=api.client)
    with pytest.raises(ApiError) as raised:
        annotator.project("sent").second_looks()
    assert (raised.value.status, raised.value.kind) == (403, "PermissionDenied")
    assert api.get(f"{BASE}/second-look", "outsider").status_code == 404
    elsewhere = api.get("/api/projects/other/second-look", "reviewer")
    assert elsewhere.status_code == 404 and elsewhere.json()["error"] == "NotFound"
