"""Review and quality over HTTP: every new route and page walks the role matrix (own and other
project), annotators never see others' work, and errors are JSON."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response

from labelloop.server.auth import SESSION_COOKIE
from labelloop.workflow import quality, tasks

SLUG = "sent"
MEMBERS = ("admin", "manager", "reviewer", "annotator")
EVERYONE = (*MEMBERS, "outsider")


class ReviewApi:
    """A TestClient on project 'sent' (review_policy: all) with a member of every role, and
    'outsider', a manager of project 'other' only."""

    def __init__(self, lab: Any, client: Any, tokens: dict[str, str], app: Any) -> None:
        self.lab = lab
        self.client = client
        self.tokens = tokens
        self.app = app
        self.annotator = lab.ctx(SLUG, lab.users["annotator"])

    def call(self, method: str, path: str, role: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        return self.client.request(method, path, headers=headers, **kw)

    def page(self, path: str, role: str) -> Any:
        response = Response()
        self.app.state.sessions.issue(response, self.lab.users[role].id)
        cookie = response.headers["set-cookie"].split(";", 1)[0]
        assert cookie.startswith(SESSION_COOKIE + "=")
        return self.client.get(path, headers={"cookie": cookie})

    def reject(self, annotation: dict[str, Any], comment: str) -> None:
        """The reviewer sends ``annotation`` back to its annotator with ``comment``."""
        verdict = {"verdict": "reject", "comment": comment}
        path = f"{_base()}/reviews/{annotation['annotation_id']}"
        response = self.call("POST", path, "reviewer", json=verdict)
        assert response.status_code == 200, response.text

    def in_review(self, answer: str = "neutral") -> dict[str, Any]:
        """A fresh annotation by the annotator, waiting for review."""
        task = tasks.next_task(self.lab.db, self.annotator)
        assert task is not None
        return tasks.submit(
            self.lab.db,
            self.annotator,
            task["assignment_id"],
            {"sentiment": answer},
            active_ms=3000,
        )


@pytest.fixture
def rapi(sqlite_lab: Any, tmp_path: Path) -> Iterator[ReviewApi]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow.accounts import create_token

    lab = sqlite_lab
    ctx = lab.project(SLUG, review_policy="all")
    lab.import_rows(ctx, [{**r, "cohort": r["id"][-1]} for r in lab.rows(40)])
    lab.train(ctx)
    for role in ("manager", "reviewer", "annotator"):
        lab.member(SLUG, role, role)
    other = lab.project("other", review_policy="all")
    lab.import_rows(other, lab.rows(5, prefix="o"))
    lab.train(other)
    lab.member("other", "outsider", "manager")
    tokens = {name: create_token(lab.db, name) for name in EVERYONE}
    app = create_app(get_settings(home=tmp_path, secret_key="test"), db=lab.db, learner=False)
    with TestClient(app, follow_redirects=False) as client:
        yield ReviewApi(lab, client, tokens, app)


def _base(slug: str = SLUG) -> str:
    return f"/api/projects/{slug}"


# Each route: (method, path builder, body builder, roles allowed, status when allowed). The
# builders get the fixture, so a write acts on a fresh annotation or item each time.
Route = tuple[str, Callable[[ReviewApi, str], str], Callable[[ReviewApi], Any], tuple, int]


def _verdict_path(api: ReviewApi, slug: str) -> str:
    if slug != SLUG:
        return f"{_base(slug)}/reviews/1"
    return f"{_base()}/reviews/{api.in_review()['annotation_id']}"


def _item_path(suffix: str) -> Callable[[ReviewApi, str], str]:
    return lambda api, slug: f"{_base(slug)}/items/1/{suffix}"


def _gold_delete_path(api: ReviewApi, slug: str) -> str:
    if slug == SLUG:
        quality.set_gold(
            api.lab.db, api.lab.ctx(SLUG, api.lab.admin), {"sentiment": "neutral"}, item_id=2
        )
    return f"{_base(slug)}/gold/2"


ROUTES: dict[str, Route] = {
    "summary": (
        "GET",
        lambda a, s: f"{_base(s)}/reviews/summary",
        lambda a: None,
        MEMBERS[:3],
        200,
    ),
    "next review": (
        "GET",
        lambda a, s: f"{_base(s)}/reviews/next",
        lambda a: None,
        MEMBERS[:3],
        200,
    ),
    "verdict": (
        "POST",
        _verdict_path,
        lambda a: {"verdict": "accept"},
        MEMBERS[:3],
        200,
    ),
    "my reviews": ("GET", lambda a, s: f"{_base(s)}/reviews/mine", lambda a: None, MEMBERS, 200),
    "next adjudication": (
        "GET",
        lambda a, s: f"{_base(s)}/adjudications/next",
        lambda a: None,
        MEMBERS[:2],
        200,
    ),
    "adjudicate": (
        "POST",
        _item_path("adjudicate"),
        lambda a: {"value": {"sentiment": "positive"}, "comment": "final"},
        MEMBERS[:2],
        200,
    ),
    "item detail": ("GET", _item_path("review"), lambda a: None, MEMBERS[:3], 200),
    "items": (  # to an annotator, My answers
        "GET",
        lambda a, s: f"{_base(s)}/items?q=a&order=newest",
        lambda a: None,
        MEMBERS,
        200,
    ),
    "flags": ("GET", lambda a, s: f"{_base(s)}/flags", lambda a: None, MEMBERS[:3], 200),
    "second looks": (
        "GET",
        lambda a, s: f"{_base(s)}/second-look",
        lambda a: None,
        MEMBERS[:3],
        200,
    ),
    "quality": (
        "GET",
        lambda a, s: f"{_base(s)}/quality?n_boot=0",
        lambda a: None,
        MEMBERS[:3],
        200,
    ),
    "scan": ("POST", lambda a, s: f"{_base(s)}/quality/scan", lambda a: None, MEMBERS[:2], 200),
    "gold list": ("GET", lambda a, s: f"{_base(s)}/gold", lambda a: None, MEMBERS[:2], 200),
    "gold set": (
        "PUT",
        lambda a, s: f"{_base(s)}/gold",
        lambda a: {"item_id": 3, "value": {"sentiment": "negative"}},
        MEMBERS[:2],
        200,
    ),
    "gold remove": ("DELETE", _gold_delete_path, lambda a: None, MEMBERS[:2], 200),
}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_every_route_walks_the_role_matrix(rapi: ReviewApi, name: str) -> None:
    method, path, body, allowed, ok = ROUTES[name]
    for role in EVERYONE:
        json_body = body(rapi)
        kwargs = {"json": json_body} if json_body is not None else {}
        response = rapi.call(method, path(rapi, SLUG), role, **kwargs)
        expected = ok if role in allowed else 404 if role == "outsider" else 403
        assert response.status_code == expected, (name, role, response.text)
        assert response.headers["content-type"].startswith("application/json")
        if expected >= 400:
            assert isinstance(response.json()["detail"], str)
    # A manager of 'sent' is no one in 'other': the project does not exist for them.
    json_body = body(rapi)
    kwargs = {"json": json_body} if json_body is not None else {}
    response = rapi.call(method, path(rapi, "other"), "manager", **kwargs)
    assert response.status_code == 404, (name, response.text)
    assert response.json()["error"] == "NotFound"


PAGES = {
    "items": MEMBERS,  # to an annotator, My answers
    "review": MEMBERS[:3],
    "adjudicate": MEMBERS[:2],
    "quality": MEMBERS[:3],
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_page_walks_the_role_matrix(rapi: ReviewApi, page: str) -> None:
    rapi.in_review()
    for role in EVERYONE:
        response = rapi.page(f"/p/{SLUG}/{page}", role)
        expected = 200 if role in PAGES[page] else 404 if role == "outsider" else 403
        assert response.status_code == expected, (page, role, response.text[:300])
        if expected == 200:
            assert response.headers["content-type"].startswith("text/html")
    assert rapi.page(f"/p/other/{page}", "manager").status_code == 404
    signed_out = rapi.client.get(f"/p/{SLUG}/{page}")
    assert signed_out.status_code == 303 and "/login" in signed_out.headers["location"]


def test_the_project_page_links_to_what_each_role_may_use(rapi: ReviewApi) -> None:
    links = {"review-link", "items-link", "adjudicate-link", "quality-link"}
    shown = {}
    for role in MEMBERS:
        html = rapi.page(f"/p/{SLUG}", role).text
        shown[role] = {link for link in links if f'id="{link}"' in html}
    assert shown["admin"] == shown["manager"] == links
    assert shown["reviewer"] == {"review-link", "items-link", "quality-link"}
    assert shown["annotator"] == set()


def test_the_review_page_offers_pinning_an_example_to_managers_only(rapi: ReviewApi) -> None:
    # Pinning changes the guideline, as publishing does: managers only, not reviewers.
    offered = {}
    for role in MEMBERS[:3]:
        html = rapi.page(f"/p/{SLUG}/review", role).text
        offered[role] = 'id="pin-btn"' in html and "<kbd>P</kbd></th>" in html
    assert offered == {"admin": True, "manager": True, "reviewer": False}
    assert 'id="pin-btn"' not in rapi.page(f"/p/{SLUG}/adjudicate", "manager").text


def test_annotators_see_only_their_own_feedback(rapi: ReviewApi) -> None:
    lab = rapi.lab
    other = lab.member(SLUG, "other-annotator", "annotator")
    mine = rapi.in_review("positive")
    task = tasks.next_task(lab.db, other)
    theirs = tasks.submit(
        lab.db, other, task["assignment_id"], {"sentiment": "negative"}, active_ms=3000
    )
    for annotation, comment in ((mine, "mine"), (theirs, "theirs")):
        rapi.reject(annotation, comment)
    seen = rapi.call("GET", f"{_base()}/reviews/mine", "annotator").json()["reviews"]
    assert [r["comment"] for r in seen] == ["mine"]
    # The rejected item comes back to its annotator with the comment.
    task = rapi.call("POST", f"{_base()}/tasks/next", "annotator", json={}).json()["task"]
    assert task["item"]["id"] == mine["item_id"]
    assert task["rework"]["comment"] == "mine"
    for path in (f"/items/{theirs['item_id']}/review", "/flags", "/quality", "/reviews/next"):
        assert rapi.call("GET", _base() + path, "annotator").status_code == 403


def test_bad_verdicts_are_clear_json_errors(rapi: ReviewApi) -> None:
    done = rapi.in_review()
    path = f"{_base()}/reviews/{done['annotation_id']}"
    cases = [
        ({"verdict": "maybe"}, 400, "verdict"),
        ({"verdict": "reject"}, 400, "comment"),
        ({"verdict": "fix"}, 400, "corrected value"),
        ({"verdict": "fix", "value": {"sentiment": "happy"}}, 422, "happy"),
        ({"verdict": "accept", "comment": "x" * 3000}, 422, "comment"),
    ]
    for body, status, words in cases:
        response = rapi.call("POST", path, "reviewer", json=body)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["detail"]
    assert (
        rapi.call(
            "POST", f"{_base()}/reviews/999999", "reviewer", json={"verdict": "accept"}
        ).status_code
        == 404
    )
    ok = rapi.call("POST", path, "reviewer", json={"verdict": "accept"})
    assert ok.json()["resolution"] == "reviewed"
    again = rapi.call("POST", path, "reviewer", json={"verdict": "accept"})
    assert again.status_code == 409 and again.json()["error"] == "Conflict"


def test_a_reviewers_comment_has_one_limit_in_the_api_and_on_both_pages(rapi: ReviewApi) -> None:
    """A verdict's, an adjudication's and a second look's comment stop at the same length: the
    API refuses one character more, keeps a comment of exactly that, and the comment field of
    the review and adjudication pages lets no more be typed."""
    from labelloop.domain import MAX_COMMENT_CHARS
    from labelloop.workflow import review

    longest, over = "x" * MAX_COMMENT_CHARS, "x" * (MAX_COMMENT_CHARS + 1)
    done = rapi.in_review()
    verdict = f"{_base()}/reviews/{done['annotation_id']}"
    for path, body in (
        (verdict, {"verdict": "accept"}),
        (f"{_base()}/items/1/adjudicate", {"value": {"sentiment": "positive"}}),
        (f"{_base()}/items/1/second-look", {"verdict": "keep"}),
    ):
        refused = rapi.call("POST", path, "manager", json={**body, "comment": over})
        assert refused.status_code == 422, (path, refused.text)
        assert f"at most {MAX_COMMENT_CHARS} characters" in refused.json()["detail"]
    kept = rapi.call("POST", verdict, "reviewer", json={"verdict": "accept", "comment": longest})
    assert kept.status_code == 200, kept.text
    ctx = rapi.lab.ctx(SLUG, rapi.lab.admin)
    (said,) = review.item_detail(rapi.lab.db, ctx, done["item_id"])["reviews"]
    assert said["comment"] == longest
    for page, role in (("review", "reviewer"), ("adjudicate", "manager")):
        html = rapi.page(f"/p/{SLUG}/{page}", role).text
        assert f'id="review-comment" rows="2" maxlength="{MAX_COMMENT_CHARS}"' in html, page


def test_quality_json_and_gold_over_http(rapi: ReviewApi) -> None:
    put = rapi.call(
        "PUT",
        f"{_base()}/gold",
        "manager",
        json={"external_id": "doc-5", "value": {"sentiment": "neutral"}},
    )
    assert put.status_code == 200, put.text
    assert put.json()["external_id"] == "doc-5"
    listed = rapi.call("GET", f"{_base()}/gold", "manager").json()["gold"]
    assert [(g["external_id"], g["value"]) for g in listed] == [("doc-5", {"sentiment": "neutral"})]
    missing = rapi.call(
        "PUT",
        f"{_base()}/gold",
        "manager",
        json={"external_id": "nope", "value": {"sentiment": "neutral"}},
    )
    assert missing.status_code == 404
    for _ in range(3):
        rapi.in_review()
    report = rapi.call("GET", f"{_base()}/quality?n_boot=0&cohort_field=cohort", "reviewer").json()
    assert report["review"]["in_review"] == 3
    assert report["gold"]["items"] == 1
    assert report["annotators"][0]["username"] == "annotator"
    assert report["annotators"][0]["labels"] == 3
    assert set(report["agreement"]) >= {"overall", "per_label", "pairwise", "per_cohort"}
    assert report["cohort_field"] == "cohort"
    page = rapi.page(f"/p/{SLUG}/quality", "reviewer")
    assert 'id="annotator-table"' in page.text and "gold-panel" not in page.text
    assert 'id="gold-panel"' in rapi.page(f"/p/{SLUG}/quality", "manager").text


def test_the_empty_review_page_says_when_review_is_off_and_who_turns_it_on(
    rapi: ReviewApi,
) -> None:
    from labelloop.workflow import projects

    assert 'id="review-off"' not in rapi.page(f"/p/{SLUG}/review", "manager").text
    manager = rapi.lab.ctx(SLUG, rapi.lab.users["manager"])
    projects.change_settings(rapi.lab.db, manager, {"review_policy": "none"})
    said = {}
    for role in ("manager", "reviewer"):
        html = rapi.page(f"/p/{SLUG}/review", role).text
        said[role] = " ".join(html.split('id="review-off">', 1)[1].split("</p>", 1)[0].split())
    assert said["manager"].startswith("This project's review policy is <strong>none</strong>")
    assert f'You can turn review on in the <a href="/p/{SLUG}#settings-panel">' in said["manager"]
    assert "A manager can turn review on" in said["reviewer"]


def test_the_items_list_filters_and_refuses_in_words(rapi: ReviewApi) -> None:
    waiting = rapi.in_review("positive")
    page = rapi.call("GET", f"{_base()}/items?status=in_review", "reviewer").json()
    assert page["total"] == 1
    (row,) = page["items"]
    assert (row["id"], row["answers"]) == (
        waiting["item_id"],
        [{"user": "annotator", "status": "in_review"}],
    )
    assert "gold" not in row
    assert "gold" in rapi.call("GET", f"{_base()}/items?limit=1", "manager").json()["items"][0]
    cases = {
        "status=done": "status must be one of all, unlabeled",
        "status=gold": "status must be one of all, unlabeled",  # a reviewer is no expert
        "split=train": "split must be one of pool, eval",
        "resolution=vote": "resolution must be one of imported",
        "picked_by=rework": "picked_by must be one of ",
    }
    for query, message in cases.items():
        response = rapi.call("GET", f"{_base()}/items?{query}", "reviewer")
        assert response.status_code == 400, (query, response.text)
        assert response.json()["detail"].startswith(message)
    for query in ("limit=0", "limit=201", "offset=-1", "order=oldest", "picked_by=" + "x" * 151):
        assert rapi.call("GET", f"{_base()}/items?{query}", "reviewer").status_code == 422


def test_the_annotator_table_shows_the_median_active_time(rapi: ReviewApi) -> None:
    """One answer left open an hour made an annotator's mean 1,202 s a label on the quality
    page and in `labelloop quality`, against a few seconds on the dashboard; the median is
    what the annotator takes."""
    for active_ms in (2000, 4000, 3_600_000):
        task = tasks.next_task(rapi.lab.db, rapi.annotator)
        assert task is not None
        tasks.submit(
            rapi.lab.db,
            rapi.annotator,
            task["assignment_id"],
            {"sentiment": "neutral"},
            active_ms=active_ms,
        )
    page = rapi.page(f"/p/{SLUG}/quality", "manager").text
    row = page.split('<tr data-user="annotator">', 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>", 1)[0] for c in row.split("<td>")[1:]]
    assert cells[:2] == ["3", "4.0"]
    assert "Median active s" in page


def test_leaving_the_labeling_page_keeps_an_item_sent_back_for_rework(rapi: ReviewApi) -> None:
    """The labeling page gives its leases back as it is left; an item a reviewer sent back is
    its annotator's to come back to, for the project's rework_hours, and stays theirs."""
    rapi.reject(rapi.in_review("positive"), "read it again")
    rework = rapi.call("POST", f"{_base()}/tasks/next", "annotator", json={}).json()["task"]
    assert rework["rework"]["comment"] == "read it again"
    fresh = rapi.call(
        "POST", f"{_base()}/tasks/next", "annotator", json={"held": [rework["assignment_id"]]}
    ).json()["task"]
    leases = [{k: t[k] for k in ("assignment_id", "lease_expires_at")} for t in (rework, fresh)]
    left = rapi.call("POST", f"{_base()}/tasks/release", "annotator", json={"leases": leases})
    assert left.json() == {"released": [fresh["assignment_id"]]}
    again = rapi.call("POST", f"{_base()}/tasks/next", "annotator", json={}).json()["task"]
    assert again["assignment_id"] == rework["assignment_id"]
    assert again["lease_expires_at"] == rework["lease_expires_at"]


def test_an_item_sent_back_and_skipped_by_its_annotator_goes_to_another(
    rapi: ReviewApi,
) -> None:
    """The annotator of a rejected answer who skips its rework ("I can't redo this") hands the
    item back to the pool: the rejection stays on record, the dashboard stops counting it as
    back with them at once, and the next annotator is served it, the skipper never again."""
    from labelloop.workflow.accounts import create_token

    rapi.lab.member(SLUG, "bea", "annotator")
    rapi.tokens["bea"] = create_token(rapi.lab.db, "bea")

    def back_with_annotator() -> tuple[int, int]:
        body = rapi.call("GET", f"{_base()}/dashboard", "manager").json()
        stage = {s["key"]: s for s in body["stages"]}["rework"]
        return stage["waiting"], stage["in_progress"]

    def next_task(role: str) -> dict[str, Any] | None:
        served = rapi.call("POST", f"{_base()}/tasks/next", role, json={})
        assert served.status_code == 200, served.text
        return served.json()["task"]

    rapi.reject(rapi.in_review("positive"), "read it again")
    rework = next_task("annotator")
    assert rework is not None and rework["selection"]["strategy"] == "rework"
    item_id = rework["item"]["id"]
    assert back_with_annotator() == (0, 1)

    skipped = rapi.call("POST", f"{_base()}/tasks/{rework['assignment_id']}/skip", "annotator")
    assert skipped.status_code == 200, skipped.text

    assert back_with_annotator() == (0, 0)
    # Their My answers row, and the labeling page opening it, say so: no longer "served again".
    (mine,) = rapi.call("GET", f"{_base()}/items", "annotator").json()["items"]
    path = f"{_base()}/annotations/{mine['annotation_id']}"
    opened = rapi.call("GET", path, "annotator").json()["annotation"]
    assert mine["state"] == "rejected"
    assert mine["refusal"] == opened["refusal"] == tasks.EDIT_REFUSALS["rework_skipped"]
    assert "you skipped redoing it: the item went back to the queue" in mine["refusal"]
    trace = rapi.call("GET", f"{_base()}/items/{item_id}/review", "reviewer").json()
    assert [(a["user"], a["status"]) for a in trace["annotations"]] == [("annotator", "rejected")]
    assert [(r["verdict"], r["comment"]) for r in trace["reviews"]] == [("reject", "read it again")]
    again = next_task("annotator")
    assert again is not None and again["item"]["id"] != item_id
    taken = next_task("bea")  # the queue's best open item, which the skipper was not served
    assert taken is not None and taken["item"]["id"] == item_id
    assert taken["selection"]["strategy"] != "rework" and "rework" not in taken
