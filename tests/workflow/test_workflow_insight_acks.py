"""Acknowledging an alert: "seen, we're on it" takes it off the list of what needs attention
while it holds, says who and why, never silences the next time it comes, and can be taken back.
"""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import Conflict, NotFound, PermissionDenied, Unprocessable
from labelloop.govern.permissions import Permission
from labelloop.workflow import acknowledgements, auditing, insight, projects, review
from tests.conftest import Lab, make_rows

NOTE = "retraining on Monday"


def _backlog(lab: Lab, slug: str = "ack", *, stored: bool = True) -> Any:
    """A project whose review falls behind (a backlog alert), stored as the learner would."""
    ctx = lab.project(slug, review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    lab.label_next(ctx, n=6)
    if stored:
        assert insight.refresh_alerts(lab.db, ctx)["raised"] == ["backlog"]
    return ctx


def _listed(lab: Lab, ctx: Any) -> list[dict[str, Any]]:
    """The project's stored open alerts as the projects list reads them (for its admin)."""
    return insight.open_alerts(lab.db, lab.admin, [{"id": ctx.id, "role": None}]).get(ctx.id, [])


def _shown(lab: Lab, ctx: Any, kind: str = "backlog") -> dict[str, Any]:
    """The alert of ``kind`` as the dashboard shows it now."""
    (found,) = [a for a in insight.report(lab.db, ctx, days=7)["alerts"] if a["kind"] == kind]
    return found


def _accept_all(lab: Lab, reviewer: Any) -> None:
    while (task := review.next_review(lab.db, reviewer)) is not None:
        review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")


def test_an_acknowledged_alert_needs_no_attention_until_it_comes_back(lab: Lab) -> None:
    ctx = _backlog(lab)
    rita = lab.member(ctx.slug, "rita", "reviewer")
    (listed,) = _listed(lab, ctx)
    assert listed["kind"] == "backlog" and listed["acknowledged_at"] is None

    done = acknowledgements.acknowledge_alert(lab.db, rita, "backlog", note=f"  {NOTE} ")
    assert (done["kind"], done["acknowledged_by"], done["acknowledged_note"]) == (
        "backlog",
        "rita",
        NOTE,
    )
    # Still open (review still lags), but acknowledged wherever it is listed.
    (listed,) = _listed(lab, ctx)
    assert (listed["acknowledged_by"], listed["acknowledged_note"]) == ("rita", NOTE)
    assert listed["acknowledged_at"] == done["acknowledged_at"]
    shown = _shown(lab, ctx)
    assert (shown["acknowledged_by"], shown["acknowledged_note"]) == ("rita", NOTE)
    (history,) = insight.report(lab.db, ctx)["alert_history"]
    assert history["resolved_at"] is None and history["acknowledged_by"] == "rita"
    (event,) = [e for e in auditing.events(lab.db, ctx) if e["action"] == "alert.acknowledge"]
    assert event["actor"] == "rita" and event["payload"] == {"kind": "backlog", "note": NOTE}

    # Review catches up: the alert resolves as any other, its acknowledgement kept in history.
    _accept_all(lab, rita)
    assert insight.refresh_alerts(lab.db, ctx)["resolved"] == ["backlog"]
    assert _listed(lab, ctx) == []
    (history,) = insight.report(lab.db, ctx)["alert_history"]
    assert history["resolved_at"] is not None and history["acknowledged_by"] == "rita"

    # It comes back later: a new alert, which needs attention again.
    lab.label_next(ctx, n=6)
    assert insight.refresh_alerts(lab.db, ctx)["raised"] == ["backlog"]
    (listed,) = _listed(lab, ctx)
    assert listed["acknowledged_at"] is None and listed["acknowledged_by"] is None
    assert _shown(lab, ctx)["acknowledged_at"] is None
    new, old = insight.report(lab.db, ctx)["alert_history"]
    assert (new["acknowledged_by"], old["acknowledged_by"]) == (None, "rita")


def test_acknowledging_twice_says_who_did_and_taking_it_back_is_theirs_or_a_managers(
    lab: Lab,
) -> None:
    ctx = _backlog(lab)
    rita = lab.member(ctx.slug, "rita", "reviewer")
    rob = lab.member(ctx.slug, "rob", "reviewer")
    mona = lab.member(ctx.slug, "mona", "manager")
    acknowledgements.acknowledge_alert(lab.db, rita, "backlog", note=NOTE)
    with pytest.raises(Conflict, match=f"acknowledged already, by rita at .* UTC \\(note: {NOTE}"):
        acknowledgements.acknowledge_alert(lab.db, rob, "backlog", note="me too")
    with pytest.raises(PermissionDenied, match="only they or a manager"):
        acknowledgements.unacknowledge_alert(lab.db, rob, "backlog")
    assert _listed(lab, ctx)[0]["acknowledged_by"] == "rita"

    undone = acknowledgements.unacknowledge_alert(lab.db, mona, "backlog")  # a manager may
    assert undone["acknowledged_at"] is None and _listed(lab, ctx)[0]["acknowledged_at"] is None
    assert _shown(lab, ctx)["acknowledged_by"] is None
    with pytest.raises(Conflict, match="the backlog alert of project 'ack' is not acknowledged"):
        acknowledgements.unacknowledge_alert(lab.db, rita, "backlog")

    acknowledgements.acknowledge_alert(lab.db, rob, "backlog")  # no note
    assert _listed(lab, ctx)[0]["acknowledged_note"] is None
    acknowledgements.unacknowledge_alert(lab.db, rob, "backlog")  # their own
    assert _listed(lab, ctx)[0]["acknowledged_at"] is None
    taken_back = [e for e in auditing.events(lab.db, ctx) if e["action"] == "alert.unacknowledge"]
    assert [(e["actor"], e["payload"]["acknowledged_by"]) for e in taken_back] == [
        ("rob", "rob"),
        ("mona", "rita"),
    ]


def test_annotators_cannot_and_other_projects_do_not_reach_the_alert(lab: Lab) -> None:
    ctx = _backlog(lab)
    ann = lab.member(ctx.slug, "ann", "annotator")
    with pytest.raises(PermissionDenied, match=r"\[review\]: reviewers and managers may"):
        acknowledgements.acknowledge_alert(lab.db, ann, "backlog")
    with pytest.raises(PermissionDenied, match=r"\[review\]: reviewers and managers may"):
        acknowledgements.unacknowledge_alert(lab.db, ann, "backlog")
    # A manager of another project: this one is not theirs to open, and their own has no
    # backlog to acknowledge; this project's alert still needs attention.
    lab.project("elsewhere")
    olga = lab.member("elsewhere", "olga", "manager")
    with pytest.raises(NotFound, match="no project 'ack' that you are a member of"):
        projects.access(lab.db, ctx.slug, olga.user, Permission.REVIEW)
    with pytest.raises(NotFound, match="project 'elsewhere' has no open backlog alert"):
        acknowledgements.acknowledge_alert(lab.db, olga, "backlog")
    assert _listed(lab, ctx)[0]["acknowledged_at"] is None


@pytest.mark.parametrize(
    ("note", "why"),
    [
        (
            "x" * (acknowledgements.MAX_ACK_NOTE_CHARS + 1),
            "the note has 201 characters; at most 200",
        ),
        ("on it\nreally", "control or formatting characters \\(found U\\+000A\\)"),
        ("on it \u202egnp.exe", "control or formatting characters \\(found U\\+202E\\)"),
    ],
)
def test_a_note_is_one_short_line(lab: Lab, note: str, why: str) -> None:
    ctx = _backlog(lab)
    with pytest.raises(Unprocessable, match=why):
        acknowledgements.acknowledge_alert(lab.db, ctx, "backlog", note=note)
    assert _listed(lab, ctx)[0]["acknowledged_at"] is None


def test_an_alert_shown_but_not_stored_yet_is_stored_and_acknowledged(lab: Lab) -> None:
    ctx = _backlog(lab, stored=False)  # the learner is off: nothing stored
    assert _listed(lab, ctx) == []
    assert _shown(lab, ctx)["acknowledged_at"] is None
    with pytest.raises(NotFound, match="project 'ack' has no open drift alert"):
        acknowledgements.acknowledge_alert(lab.db, ctx, "drift")
    with pytest.raises(NotFound, match="'nonsense' is no alert kind; the kinds are training,"):
        acknowledgements.acknowledge_alert(lab.db, ctx, "nonsense")
    operator = projects.system_context(lab.db, ctx.slug)  # the command line's
    done = acknowledgements.acknowledge_alert(lab.db, operator, "backlog", note=NOTE)
    # The local operator acknowledged it: no user name, a time.
    assert done["acknowledged_by"] is None and done["acknowledged_at"] is not None
    (listed,) = _listed(lab, ctx)
    assert listed["kind"] == "backlog" and listed["acknowledged_note"] == NOTE
    assert _shown(lab, ctx)["acknowledged_note"] == NOTE
    # The learner's next check finds it stored already and keeps it acknowledged.
    assert insight.refresh_alerts(lab.db, ctx) == {"raised": [], "resolved": []}
    assert _listed(lab, ctx)[0]["acknowledged_note"] == NOTE


def test_a_check_that_read_before_an_alert_was_acknowledged_does_not_resolve_it(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The learner reads what needs attention, then writes it. An alert a reviewer acknowledged
    in between (stored as it was acknowledged) was not in what the learner read: it stays open
    and acknowledged, rather than being resolved and coming back as a new one that needs
    attention again."""
    ctx = lab.project("ack", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    rita = lab.member(ctx.slug, "rita", "reviewer")
    read = insight.report

    def read_then_acknowledged(*args: Any, **kwargs: Any) -> dict[str, Any]:
        found = read(*args, **kwargs)  # nothing is behind yet
        monkeypatch.setattr(insight, "report", read)
        lab.label_next(ctx, n=6)  # meanwhile review falls behind, and rita is on it
        acknowledgements.acknowledge_alert(lab.db, rita, "backlog", note=NOTE)
        return found

    monkeypatch.setattr(insight, "report", read_then_acknowledged)
    assert insight.refresh_alerts(lab.db, ctx) == {"raised": [], "resolved": []}
    (listed,) = _listed(lab, ctx)
    assert (listed["acknowledged_by"], listed["acknowledged_note"]) == ("rita", NOTE)
    # The learner's next check reads it and keeps it acknowledged.
    assert insight.refresh_alerts(lab.db, ctx) == {"raised": [], "resolved": []}
    assert _listed(lab, ctx)[0]["acknowledged_by"] == "rita"
