"""Over HTTP: once a round's model agrees with labels an early model doubted, the status count,
the dashboard alert, the review queue and the flag list drop them, and the item's trace says
the learner closed them and why."""

from __future__ import annotations

from typing import Any

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
