"""My answers over HTTP: every role reaches its own answers and only those an annotator may
see; two annotators of one item never see each other's answer; a reviewed answer is refused a
change with the sentence its row shows; the pages link to My answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from labelloop.workflow import review, tasks
from tests.api.test_api_review import ReviewApi
from tests.pagetext import mentions

SLUG = "sent"
BASE = f"/api/projects/{SLUG}"
MEMBERS = ("admin", "manager", "reviewer", "annotator")
NOWHERE = 987_654_321


class Http(ReviewApi):
    """A TestClient on 'sent' (overlap 2, every answer reviewed) with a member of every role and
    'bob', a second annotator; 'outsider' manages another project only."""

    def answer(self, who: str, label: str | None = None) -> dict[str, Any]:
        """``who`` answers the item they are served: truthfully, or ``label``."""
        ctx = self.lab.ctx(SLUG, self.lab.users[who])
        task = tasks.next_task(self.lab.db, ctx)
        assert task is not None, "the queue ran dry"
        value = {"sentiment": label or self.lab.truth(task["item"]["data"]["text"])}
        done = tasks.submit(self.lab.db, ctx, task["assignment_id"], value, active_ms=2000)
        return {**done, "value": value}


@pytest.fixture
def http(lab: Any, tmp_path: Path) -> Iterator[Http]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow.accounts import create_token

    ctx = lab.project(SLUG, overlap=2, review_policy="all")
    lab.import_rows(ctx, lab.rows(20))
    lab.train(ctx)
    for role in ("manager", "reviewer", "annotator"):
        lab.member(SLUG, role, role)
    lab.member(SLUG, "bob", "annotator")
    lab.project("other")
    lab.member("other", "outsider", "manager")
    names = (*MEMBERS, "bob", "outsider")
    tokens = {name: create_token(lab.db, name) for name in names}
    app = create_app(get_settings(home=tmp_path, secret_key="test"), db=lab.db, learner=False)
    with TestClient(app, follow_redirects=False) as client:
        yield Http(lab, client, tokens, app)


def _same(got: Any, unknown: Any, said: int) -> bool:
    """Two refusals alike once each names its own id."""
    detail = got.json()["detail"].replace(str(said), "<>")
    return (got.status_code, detail) == (
        unknown.status_code,
        unknown.json()["detail"].replace(str(NOWHERE), "<>"),
    )


def test_the_routes_walk_the_role_matrix(http: Http) -> None:
    done = {who: http.answer(who) for who in MEMBERS}
    for who in MEMBERS:
        mine = done[who]
        listed = http.call("GET", f"{BASE}/items", who)
        assert listed.status_code == 200, (who, listed.text)
        assert listed.json().get("mine", False) is (who == "annotator")
        trace = http.call("GET", f"{BASE}/items/{mine['item_id']}/mine", who)
        assert trace.status_code == 200, (who, trace.text)
        assert trace.json()["answers"][0]["annotation_id"] == mine["annotation_id"]
        opened = http.call("GET", f"{BASE}/annotations/{mine['annotation_id']}", who)
        assert opened.status_code == 200 and opened.json()["annotation"]["value"] == mine["value"]
        assert http.page(f"/p/{SLUG}/items", who).status_code == 200
    assert (
        http.call(
            "GET", f"{BASE}/items/{done['annotator']['item_id']}/review", "annotator"
        ).status_code
        == 403
    )
    for path in (
        f"{BASE}/items",
        f"{BASE}/items/{done['annotator']['item_id']}/mine",
        f"{BASE}/annotations/{done['annotator']['annotation_id']}",
    ):
        refused = http.call("GET", path, "outsider")
        assert (refused.status_code, refused.json()["error"]) == (404, "NotFound")


def test_two_annotators_of_one_item_never_see_each_others_answer(http: Http) -> None:
    ours = http.answer("annotator", "positive")
    theirs = http.answer("bob", "negative")
    assert theirs["item_id"] == ours["item_id"], "overlap 2: bob is served the same item"
    only_bobs = http.answer("bob", "negative")
    assert only_bobs["item_id"] != ours["item_id"]
    reads = [
        http.call("GET", f"{BASE}/items?order=newest", "annotator"),
        http.call("GET", f"{BASE}/items?annotator=annotator&label=positive", "annotator"),
        http.call("GET", f"{BASE}/items/{ours['item_id']}/mine", "annotator"),
        http.call("GET", f"{BASE}/annotations/previous", "annotator"),
        http.call("GET", f"{BASE}/annotations/{ours['annotation_id']}", "annotator"),
    ]
    for got in reads:  # neither bob nor his answer
        assert got.status_code == 200 and not mentions(got.text, "bob"), got.text
        assert "negative" not in got.text, got.text
    for path in (f"/p/{SLUG}/items", f"/p/{SLUG}/label"):  # the pages name the labels
        page = http.page(path, "annotator")
        assert page.status_code == 200 and not mentions(page.text, "bob")
    (row,) = reads[0].json()["items"]
    assert (row["id"], row["value"]) == (ours["item_id"], {"sentiment": "positive"})
    asked = http.call("GET", f"{BASE}/items?annotator=bob", "annotator")
    assert (asked.status_code, asked.json()["error"]) == (403, "PermissionDenied")
    nobody = {
        "trace": http.call("GET", f"{BASE}/items/{NOWHERE}/mine", "annotator"),
        "open": http.call("GET", f"{BASE}/annotations/{NOWHERE}", "annotator"),
        "change": http.call(
            "PUT",
            f"{BASE}/annotations/{NOWHERE}",
            "annotator",
            json={"value": {"sentiment": "neutral"}},
        ),
    }
    bobs = {
        "trace": (
            only_bobs["item_id"],
            http.call("GET", f"{BASE}/items/{only_bobs['item_id']}/mine", "annotator"),
        ),
        "open": (
            theirs["annotation_id"],
            http.call("GET", f"{BASE}/annotations/{theirs['annotation_id']}", "annotator"),
        ),
        "change": (
            theirs["annotation_id"],
            http.call(
                "PUT",
                f"{BASE}/annotations/{theirs['annotation_id']}",
                "annotator",
                json={"value": {"sentiment": "neutral"}},
            ),
        ),
    }
    for name, (said, got) in bobs.items():
        assert got.status_code == 404 and _same(got, nobody[name], said), (name, got.text)
    assert http.call("GET", f"{BASE}/annotations/{theirs['annotation_id']}", "bob").json()[
        "annotation"
    ]["value"] == {"sentiment": "negative"}


def test_a_reviewed_answer_is_refused_a_change_with_the_sentence_its_row_shows(http: Http) -> None:
    accepted = http.answer("annotator")
    waiting = http.answer("annotator")
    rev = http.lab.ctx(SLUG, http.lab.users["reviewer"])
    review.review_annotation(http.lab.db, rev, accepted["annotation_id"], verdict="accept")
    rows = {r["id"]: r for r in http.call("GET", f"{BASE}/items", "annotator").json()["items"]}
    assert (rows[accepted["item_id"]]["state"], rows[waiting["item_id"]]["state"]) == (
        "accepted",
        "no_verdict",
    )
    refusal = rows[accepted["item_id"]]["refusal"]
    assert refusal == tasks.EDIT_REFUSALS["accepted"]
    opened = http.call("GET", f"{BASE}/annotations/{accepted['annotation_id']}", "annotator")
    assert opened.json()["annotation"]["refusal"] == refusal
    other = {"sentiment": "neutral" if accepted["value"]["sentiment"] != "neutral" else "positive"}
    changed = http.call(
        "PUT", f"{BASE}/annotations/{accepted['annotation_id']}", "annotator", json={"value": other}
    )
    assert (changed.status_code, changed.json()["detail"]) == (409, refusal)
    other = {"sentiment": "neutral" if waiting["value"]["sentiment"] != "neutral" else "positive"}
    changed = http.call(
        "PUT", f"{BASE}/annotations/{waiting['annotation_id']}", "annotator", json={"value": other}
    )
    assert changed.status_code == 200, changed.text
    rows = {r["id"]: r for r in http.call("GET", f"{BASE}/items", "annotator").json()["items"]}
    assert rows[waiting["item_id"]]["value"] == other
    assert rows[accepted["item_id"]]["value"] == accepted["value"]


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        (
            "status=unlabeled",
            400,
            "status must be one of all, no_verdict, accepted, fixed, rejected",
        ),
        ("split=eval", 400, "your answers are filtered by status, label and words"),
        ("resolution=single", 400, "your answers are filtered by status, label and words"),
        ("annotator=reviewer", 403, "you see your own answers only"),
    ],
)
def test_what_an_annotator_may_not_ask_is_refused_in_words(
    http: Http, query: str, status: int, says: str
) -> None:
    got = http.call("GET", f"{BASE}/items?{query}", "annotator")
    assert got.status_code == status and got.json()["detail"].startswith(says), got.text


def test_the_pages_link_to_my_answers(http: Http) -> None:
    def link(path: str, who: str) -> str | None:
        found = re.search(r'id="my-answers-link" href="([^"]*)"', http.page(path, who).text)
        return found.group(1).replace("&amp;", "&") if found else None

    assert link(f"/p/{SLUG}", "annotator") == f"/p/{SLUG}/items?order=newest"
    assert link(f"/p/{SLUG}", "reviewer") is None  # a reviewer has the Items page
    assert link(f"/p/{SLUG}/label", "annotator") == f"/p/{SLUG}/items?order=newest"
    assert (
        link(f"/p/{SLUG}/label", "reviewer") == f"/p/{SLUG}/items?annotator=reviewer&order=newest"
    )
    page = http.page(f"/p/{SLUG}/items", "annotator").text
    assert "<h1>My answers</h1>" in page and 'id="f-annotator"' not in page
    assert 'id="f-annotator"' in http.page(f"/p/{SLUG}/items", "reviewer").text


def test_items_and_my_answers_read_words_as_the_pool_search_does(http: Http) -> None:
    """``q`` on /items found "numb" inside "number", where /search finds whole words only; a
    lone ``*`` is the search's clear 400 on both."""
    for _ in range(2):
        http.answer("annotator", "neutral")
    for q, total in (("numb", 0), ("numb*", 2), ('"doc number"', 2), ("NUMBER", 2)):
        searched = http.call("GET", f"{BASE}/search?q={quote(q)}", "annotator").json()
        mine = http.call("GET", f"{BASE}/items?q={quote(q)}", "annotator").json()
        assert mine["mine"] and mine["total"] == total, q
        assert searched["total"] == (20 if total else 0), q  # the pool's 20 items, or none
        listed = http.call("GET", f"{BASE}/items?q={quote(q)}", "reviewer").json()
        assert listed["total"] == searched["total"], q
    for who in ("annotator", "reviewer"):
        for path in ("items", "search"):
            got = http.call("GET", f"{BASE}/{path}?q=*", who)
            assert got.status_code == 400, (who, path, got.text)
            assert got.json()["detail"].startswith("a * ends a word: refund* finds refund")
        page = http.page(f"/p/{SLUG}/items", who).text  # the page says the language it reads
        hint = page.split('id="items-syntax"', 1)[1].split("</p>", 1)[0]
        assert "<code>refund*</code> words starting with refund" in hint
