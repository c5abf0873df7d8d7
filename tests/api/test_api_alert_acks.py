"""Acknowledging an alert over HTTP and on the pages: a reviewer says "seen, we're on it", the
projects list stops counting it and says who did; annotators are refused, outsiders learn
nothing; the dashboard shows who acknowledged what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.responses import Response

from labelloop.store.tables import annotation, item_label
from labelloop.store.users import now
from tests.api.conftest import Page

IDLE = "/api/projects/sent/alerts/idle/acknowledge"
NOTE = "retraining on Monday"


def go_idle(lab: Any, slug: str = "sent") -> None:
    """Label three items four days ago and nothing since: the project is idle."""
    ctx = lab.ctx(slug, lab.admin)
    ids = [t["item"]["id"] for t in lab.label_next(ctx, n=3)]
    back = now() - timedelta(days=4)
    with lab.db.write() as conn:
        conn.execute(
            update(annotation).where(annotation.c.item_id.in_(ids)).values(created_at=back)
        )
        conn.execute(
            update(item_label).where(item_label.c.item_id.in_(ids)).values(decided_at=back)
        )


def _sent(api: Any, role: str) -> dict[str, Any]:
    (sent,) = [p for p in api.get("/api/projects", role).json() if p["slug"] == "sent"]
    return sent


def test_a_reviewer_acknowledges_and_the_projects_list_stops_counting_it(api: Any) -> None:
    from labelloop.workflow import insight

    go_idle(api.lab)
    insight.refresh_alerts(api.lab.db, api.lab.ctx("sent", api.lab.admin))
    assert _sent(api, "manager")["alerts"] == ["idle"]

    got = api.post(IDLE, "reviewer", json={"note": NOTE})
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["kind"], body["acknowledged_by"], body["acknowledged_note"]) == (
        "idle",
        "reviewer",
        NOTE,
    )
    sent = _sent(api, "manager")
    assert sent["alerts"] == []
    (acked,) = sent["acknowledged_alerts"]
    assert (acked["kind"], acked["acknowledged_by"], acked["acknowledged_note"]) == (
        "idle",
        "reviewer",
        NOTE,
    )
    (shown,) = api.get("/api/projects/sent/dashboard?days=7", "manager").json()["alerts"]
    assert shown["kind"] == "idle" and shown["acknowledged_by"] == "reviewer"

    again = api.post(IDLE, "manager", json={"note": "me too"})
    assert again.status_code == 409
    assert "was acknowledged already, by reviewer at " in again.json()["detail"]

    undone = api.client.delete(IDLE, headers=api.auth("manager"))
    assert undone.status_code == 200 and undone.json()["acknowledged_at"] is None
    assert _sent(api, "reviewer")["alerts"] == ["idle"]
    assert _sent(api, "reviewer")["acknowledged_alerts"] == []
    gone = api.client.delete(IDLE, headers=api.auth("manager"))
    assert gone.status_code == 409 and "is not acknowledged" in gone.json()["detail"]


def test_an_alert_the_learner_has_not_stored_is_acknowledged_from_what_is_shown(api: Any) -> None:
    go_idle(api.lab)  # the learner is off in these tests: nothing stored
    assert _sent(api, "manager")["alerts"] == []
    got = api.post(IDLE, "reviewer")  # no body: no note
    assert got.status_code == 200, got.text
    assert got.json()["acknowledged_note"] is None
    (acked,) = _sent(api, "manager")["acknowledged_alerts"]
    assert acked["kind"] == "idle" and acked["acknowledged_by"] == "reviewer"


@pytest.mark.parametrize(
    ("role", "status", "detail"),
    [
        (
            "annotator",
            403,
            "your role in project 'sent' (annotator) does not allow reviewing answers [review]: "
            "reviewers and managers may",
        ),
        ("outsider", 404, "no project 'sent' that you are a member of"),
    ],
)
def test_annotators_are_refused_and_outsiders_learn_nothing(
    api: Any, role: str, status: int, detail: str
) -> None:
    go_idle(api.lab)
    got = api.post(IDLE, role, json={"note": NOTE})
    assert (got.status_code, got.json()["detail"]) == (status, detail)
    assert api.post(IDLE, "reviewer").status_code == 200
    got = api.client.delete(IDLE, headers=api.auth(role))
    assert (got.status_code, got.json()["detail"]) == (status, detail)
    assert _sent(api, "manager")["acknowledged_alerts"][0]["acknowledged_by"] == "reviewer"
    # The outsider manages a project of their own, and sees no alert of this one there.
    assert [p["slug"] for p in api.get("/api/projects", "outsider").json()] == ["other"]


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        (IDLE, {"note": "x" * 201}, 422, "note: String should have at most 200 characters"),
        (IDLE, {"note": "on it\x1b[2J"}, 422, "control or formatting characters (found U+001B)"),
        (IDLE, {"note": "ok", "by": "bob"}, 422, "by: Extra inputs are not permitted"),
        ("/api/projects/sent/alerts/drift/acknowledge", {}, 404, "has no open drift alert"),
        ("/api/projects/sent/alerts/panic/acknowledge", {}, 404, "'panic' is no alert kind"),
    ],
)
def test_what_cannot_be_acknowledged_is_refused_with_a_reason(
    api: Any, path: str, body: dict[str, Any], status: int, detail: str
) -> None:
    go_idle(api.lab)
    got = api.post(path, "reviewer", json=body)
    assert got.status_code == status and detail in got.json()["detail"], got.text
    assert _sent(api, "manager")["acknowledged_alerts"] == []


def test_a_note_is_trimmed_before_its_length_is_judged(api: Any) -> None:
    go_idle(api.lab)
    note = " " * 20 + "y" * 200 + "\n"
    got = api.post(IDLE, "reviewer", json={"note": note})
    assert got.status_code == 200, got.text
    assert got.json()["acknowledged_note"] == "y" * 200


def _accept_one(lab: Any, reviewer: Any, *, days_ago: int) -> None:
    """A reviewer accepts one annotation, ``days_ago`` days ago."""
    from labelloop.workflow import review

    task = review.next_review(lab.db, reviewer)
    review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    with lab.db.write() as conn:
        conn.execute(
            update(item_label)
            .where(item_label.c.item_id == task["item"]["id"])
            .values(decided_at=now() - timedelta(days=days_ago))
        )


def _get(page: Page, path: str, *, user: Any = None) -> str:
    response = Response()
    page.app.state.sessions.issue(response, (user or page.lab.admin).id)
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    got = page.client.get(path, headers={"cookie": cookie})
    assert got.status_code == 200
    return " ".join(got.text.split())


def test_the_projects_list_and_the_dashboard_show_who_acknowledged(page: Page) -> None:
    from labelloop.workflow import acknowledgements, insight

    lab = page.lab
    ctx = lab.project("sent", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, lab.rows(30))
    lab.train(ctx)
    go_idle(lab)  # three labels, four days ago, all in review
    rita = lab.member("sent", "rita", "reviewer")
    _accept_one(lab, rita, days_ago=4)  # one resolved then, two still wait: backlog and idle
    assert sorted(insight.refresh_alerts(lab.db, ctx)["raised"]) == ["backlog", "idle"]
    acknowledgements.acknowledge_alert(lab.db, rita, "idle", note="<b>on leave</b> till Monday")

    html = _get(page, "/")
    assert (
        '<a href="/p/sent/dashboard" data-alerts="1"><span class="badge badge-alert">1</span>'
        "&nbsp;needs attention: backlog</a> · "
        '<a class="muted" href="/p/sent#attention-panel" data-acknowledged="1">'
        "1 acknowledged: idle</a>"
    ) in html
    assert "Nothing else needs attention" not in _get(page, "/p/sent/dashboard")
    acknowledgements.acknowledge_alert(lab.db, rita, "backlog")
    html = _get(page, "/")
    assert (
        "data-alerts=" not in html and 'data-acknowledged="2">2 acknowledged: backlog, idle' in html
    )

    dashboard = _get(page, "/p/sent/dashboard")
    assert "Nothing else needs attention: 2 acknowledged." in dashboard
    assert (
        '<li class="alert-item alert-idle alert-acknowledged" data-kind="idle" '
        'data-acknowledged="true"><p class="alert-text"><span class="badge badge-muted">idle'
    ) in dashboard
    assert "<b>on leave" not in dashboard
    assert "acknowledged by rita at <time datetime=" in dashboard
    assert "UTC</time>: &lt;b&gt;on leave&lt;/b&gt; till Monday</p>" in dashboard
    assert '<td class="wrap">rita, ' in dashboard  # the history's Acknowledged column
    assert '<script src="/static/alerts.js" defer></script>' in dashboard
