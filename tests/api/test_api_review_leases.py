"""Review leases over HTTP: two reviewers on one project are served different answers, the
answer a reviewer was shown is theirs until they decide, pass, leave or the lease runs out, and
a reviewer who leaves the project gives back what their page showed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from labelloop.store.tables import review_lease
from labelloop.store.users import now
from labelloop.workflow import projects, tasks

SLUG = "sent"
BASE = f"/api/projects/{SLUG}"
PEOPLE = ("admin", "manager", "dana", "ana", "rita", "remy", "annotator")


class Team:
    """Project 'sent' (review_policy: all, resolution: adjudication) with two reviewers (rita,
    remy), two of the expert tier (the manager and dana) and two annotators (ana, annotator)."""

    def __init__(self, lab: Any, client: Any, tokens: dict[str, str]) -> None:
        self.lab = lab
        self.client = client
        self.tokens = tokens

    def call(self, method: str, path: str, who: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        got = self.client.request(method, BASE + path, headers=headers, **kw)
        return got

    def ok(self, method: str, path: str, who: str, **kw: Any) -> Any:
        got = self.call(method, path, who, **kw)
        assert got.status_code == 200, got.text
        return got.json()

    def answer(self, who: str, label: str = "neutral") -> dict[str, Any]:
        """``who`` answers their next item: the answer waits for review."""
        ctx = self.lab.ctx(SLUG, self.lab.users[who])
        task = tasks.next_task(self.lab.db, ctx)
        assert task is not None
        return tasks.submit(
            self.lab.db, ctx, task["assignment_id"], {"sentiment": label}, active_ms=3000
        )

    def next_review(self, who: str, skip: tuple[int, ...] = ()) -> dict[str, Any] | None:
        return self.ok("GET", "/reviews/next", who, params={"skip": list(skip)})["review"]

    def run_out(self, item_id: int) -> None:
        """The review lease on ``item_id`` ran out a second ago."""
        with self.lab.db.write() as conn:
            conn.execute(
                update(review_lease)
                .where(review_lease.c.item_id == item_id)
                .values(lease_expires_at=now() - timedelta(seconds=1))
            )


@pytest.fixture
def team(lab: Any, tmp_path: Path) -> Iterator[Team]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow.accounts import create_token

    ctx = lab.project(SLUG, review_policy="all", overlap=2, resolution="adjudication")
    lab.import_rows(ctx, lab.rows(20))
    lab.train(ctx)
    for name, role in (
        ("manager", "manager"),
        ("dana", "reviewer"),
        ("rita", "reviewer"),
        ("remy", "reviewer"),
        ("ana", "annotator"),
        ("annotator", "annotator"),
    ):
        lab.member(SLUG, name, role)
    projects.change_settings(lab.db, lab.ctx(SLUG, lab.admin), {"escalate_to": ["dana"]})
    tokens = {name: create_token(lab.db, name) for name in PEOPLE}
    app = create_app(get_settings(home=tmp_path, secret_key="test"), db=lab.db, learner=False)
    with TestClient(app, follow_redirects=False) as client:
        yield Team(lab, client, tokens)


def test_two_reviewers_are_served_different_answers_until_one_decides(team: Team) -> None:
    for _ in range(2):
        team.answer("ana")
    rita = team.next_review("rita")
    remy = team.next_review("remy")
    assert rita is not None and remy is not None
    assert rita["item"]["id"] != remy["item"]["id"]
    assert rita["lease_expires_at"] > now().isoformat()
    # Asked again (a reload), each is shown what they hold, its lease a full one from then.
    assert team.next_review("rita")["annotation"]["id"] == rita["annotation"]["id"]
    reloaded = team.next_review("remy")
    assert reloaded["annotation"]["id"] == remy["annotation"]["id"]
    assert reloaded["lease_expires_at"] > remy["lease_expires_at"]
    remy = reloaded
    # The items list and the item's view say who has each on their page.
    listed = team.ok("GET", "/items", "manager", params={"status": "in_review"})["items"]
    assert {r["id"]: r["reviewing"]["user"] for r in listed} == {
        rita["item"]["id"]: "rita",
        remy["item"]["id"]: "remy",
    }
    view = team.ok("GET", f"/items/{remy['item']['id']}/review", "rita")
    assert view["review_lease"] == {"user": "remy", "until": remy["lease_expires_at"]}
    # The count says what another reviewer has on their page.
    summary = team.ok("GET", "/reviews/summary", "rita")
    assert summary["in_review"] == 2
    assert summary["leased_to_others"] == {"in_review": 1, "escalated_items": 0}

    seen = rita["annotation"]["value"]
    decided = team.call(
        "POST",
        f"/reviews/{rita['annotation']['id']}",
        "rita",
        json={"verdict": "accept", "seen": seen},
    )
    assert decided.status_code == 200, decided.text
    # Rita's verdict gave her item back; remy's stays his: rita has nothing left to review.
    assert team.next_review("rita") is None
    assert team.ok("GET", "/reviews/summary", "rita")["leased_to_others"]["in_review"] == 1


def test_a_lease_that_ran_out_goes_to_the_next_reviewer(team: Team) -> None:
    team.answer("ana")
    rita = team.next_review("rita")
    assert rita is not None
    assert team.next_review("remy") is None  # the one answer waiting is on rita's page

    renewed = team.ok("POST", f"/reviews/leases/{rita['item']['id']}/renew", "rita")
    assert renewed["lease_expires_at"] >= rita["lease_expires_at"]
    team.run_out(rita["item"]["id"])

    remy = team.next_review("remy")
    assert remy is not None and remy["annotation"]["id"] == rita["annotation"]["id"]
    # Rita's page renews too late: remy has it now, and rita's queue passes it by.
    late = team.call("POST", f"/reviews/leases/{rita['item']['id']}/renew", "rita")
    assert late.status_code == 409
    item = rita["item"]["id"]
    name = repr(rita["item"]["external_id"])  # the item as the page names it
    assert late.json()["detail"] == (
        f"remy has item {name} on their review page now (your lease on it ran out, or you had none)"
    )
    assert team.next_review("rita") is None
    # Nor is rita's verdict recorded over remy's page: he is reading the answer now.
    seen = remy["annotation"]["value"]
    path = f"/reviews/{remy['annotation']['id']}"
    over = team.call(
        "POST", path, "rita", json={"verdict": "reject", "comment": "no", "seen": seen}
    )
    assert over.status_code == 409
    assert over.json()["detail"] == (
        f"remy has item {name} on their review page now (your lease on it ran out, or you had "
        "none); nothing was recorded"
    )
    assert team.ok("GET", f"/items/{item}/review", "manager")["reviews"] == []
    # The refusals stay the safety net: remy decides first, rita's verdict is refused.
    assert team.call("POST", path, "remy", json={"verdict": "accept", "seen": seen}).is_success
    refused = team.call("POST", path, "rita", json={"verdict": "accept", "seen": seen})
    assert refused.status_code == 409


def test_passing_or_leaving_gives_the_answer_back(team: Team) -> None:
    team.answer("ana")
    rita = team.next_review("rita")
    assert rita is not None
    # N: rita passes it over; it is remy's to take.
    assert team.next_review("rita", skip=(rita["annotation"]["id"],)) is None
    remy = team.next_review("remy")
    assert remy is not None and remy["item"]["id"] == rita["item"]["id"]
    # Remy leaves the page: the page gives the item back, rita is served it again.
    released = team.ok("POST", f"/reviews/leases/{remy['item']['id']}/release", "remy")
    assert released == {"item_id": remy["item"]["id"], "released": True}
    again = team.ok("POST", f"/reviews/leases/{remy['item']['id']}/release", "remy")
    assert again["released"] is False
    assert team.next_review("rita")["item"]["id"] == rita["item"]["id"]
    # Only reviewers hold review leases.
    assert (
        team.call("POST", f"/reviews/leases/{rita['item']['id']}/renew", "ana").status_code == 403
    )


def test_a_reviewer_removed_or_deactivated_gives_back_their_answer(team: Team) -> None:
    team.answer("ana")
    team.answer("ana")
    rita = team.next_review("rita")
    remy = team.next_review("remy")
    assert rita is not None and remy is not None
    assert team.next_review("dana") is None  # both answers are on someone's page

    removed = team.client.delete(
        f"{BASE}/members/rita", headers={"Authorization": f"Bearer {team.tokens['manager']}"}
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["review_leases_released"] == 1
    assert team.next_review("dana")["item"]["id"] == rita["item"]["id"]

    deactivated = team.client.post(
        "/api/users/remy/deactivate", headers={"Authorization": f"Bearer {team.tokens['admin']}"}
    )
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["review_leases_released"] == 1
    shown = team.next_review("manager")
    assert shown is not None and shown["item"]["id"] == remy["item"]["id"]


def test_the_expert_tier_is_served_different_items(team: Team) -> None:
    # Two items, each answered twice and in disagreement: both wait for the expert tier.
    for label in ("negative", "positive"):
        team.answer("ana", label)
        team.answer("annotator", "neutral" if label == "negative" else "negative")
    for _ in range(4):
        shown = team.next_review("rita")
        assert shown is not None
        seen = shown["annotation"]["value"]
        path = f"/reviews/{shown['annotation']['id']}"
        assert team.call("POST", path, "rita", json={"verdict": "accept", "seen": seen}).is_success
    waiting = team.ok("GET", "/reviews/summary", "manager")["escalated_items"]
    assert waiting == 2

    manager = team.ok("GET", "/adjudications/next", "manager")["item"]
    dana = team.ok("GET", "/adjudications/next", "dana")["item"]
    assert manager is not None and dana is not None
    assert manager["item"]["id"] != dana["item"]["id"]
    assert team.ok("GET", "/reviews/summary", "dana")["leased_to_others"]["escalated_items"] == 1
    # Dana cannot decide the item on the manager's page (hers ran out, or she never held it).
    held = manager["item"]["id"]
    over = team.call(
        "POST", f"/items/{held}/adjudicate", "dana", json={"value": {"sentiment": "neutral"}}
    )
    assert over.status_code == 409
    named = repr(manager["item"]["external_id"])
    assert over.json()["detail"].startswith(f"manager has item {named} on their review page now")
    assert team.ok("GET", f"/items/{held}/review", "manager")["label"] is None

    decided = team.call(
        "POST",
        f"/items/{dana['item']['id']}/adjudicate",
        "dana",
        json={"value": {"sentiment": "neutral"}},
    )
    assert decided.status_code == 200, decided.text
    assert team.ok("GET", "/adjudications/next", "dana")["item"] is None
    assert (
        team.ok("GET", "/adjudications/next", "manager")["item"]["item"]["id"]
        == (manager["item"]["id"])
    )


def test_a_reviewer_made_an_annotator_gives_back_their_answer(team: Team) -> None:
    team.answer("ana")
    rita = team.next_review("rita")
    assert rita is not None and team.next_review("remy") is None
    made = team.call("PUT", "/members", "manager", json={"username": "rita", "role": "annotator"})
    assert made.status_code == 200, made.text
    remy = team.next_review("remy")
    assert remy is not None and remy["item"]["id"] == rita["item"]["id"]


def test_a_reloaded_review_page_keeps_its_answer_when_the_old_page_gives_it_back_late(
    team: Team,
) -> None:
    team.answer("ana")
    shown = team.next_review("rita")
    assert shown is not None
    again = team.next_review("rita")  # the page reloaded: the same answer, served again
    assert again["annotation"]["id"] == shown["annotation"]["id"]
    assert again["lease_expires_at"] > shown["lease_expires_at"]
    # The old page's give-back reaches the server after the reload was served: it names the
    # lease as the old page knew it, which is no longer the lease.
    path = f"/reviews/leases/{shown['item']['id']}/release"
    stale = team.ok("POST", path, "rita", json={"lease_expires_at": shown["lease_expires_at"]})
    assert stale["released"] is False
    assert team.next_review("remy") is None  # the one answer waiting is on rita's page
    # The reloaded page, left in turn, gives it back.
    left = team.ok("POST", path, "rita", json={"lease_expires_at": again["lease_expires_at"]})
    assert left["released"] is True
    assert team.next_review("remy")["item"]["id"] == shown["item"]["id"]


def test_a_give_back_naming_an_end_past_the_calendar_is_refused_in_words(team: Team) -> None:
    """A give-back naming its lease's end as a time past year 9999 in UTC answered HTTP 500;
    it is refused as any malformed field is, and the lease stays."""
    team.answer("ana")
    shown = team.next_review("rita")
    assert shown is not None
    path = f"/reviews/leases/{shown['item']['id']}/release"
    late = {"lease_expires_at": "9999-12-31T23:59:59-14:00"}
    got = team.call("POST", path, "rita", json=late)
    assert got.status_code == 422, got.text
    assert "lease_expires_at" in got.text
    leases = [{"assignment_id": 1, "lease_expires_at": late["lease_expires_at"]}]
    got = team.call("POST", "/tasks/release", "ana", json={"leases": leases})
    assert got.status_code == 422, got.text
    assert team.next_review("remy") is None  # rita's page still holds it
