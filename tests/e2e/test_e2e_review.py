"""Teams against a real `labelloop serve`: three annotators and a reviewer as concurrent HTTP
clients through overlap, review, rejection-and-rework and adjudication; and the review and
adjudication pages driven by the keyboard alone in real Chromium."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from tests.e2e.conftest import api_token, first_rounds, left_while_held, login, run_cli, serving

LABELS = ("negative", "neutral", "positive")
WORDS = {
    "negative": ["awful", "broken", "refund", "worst"],
    "neutral": ["arrived", "measures", "contains", "shipped"],
    "positive": ["love", "excellent", "superb", "delighted"],
}
PASSWORD = "review-password-123"
PEOPLE = ("a1", "a2", "a3", "rev", "mgr")


def _rows(prefix: str, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        label = LABELS[i % 3]
        words = WORDS[label]
        text = f"{words[i % 4]} and {words[(i + 1) % 4]}: {prefix} review number {i}"
        rows.append({"id": f"{prefix}-{i}", "text": text, "label": label})
    return rows


ADMIN = "alice"
COMMENT = (
    "Please read the <b>whole</b> review <script>window.hostile = 1</script>: "
    + "the last sentence turns the opinion around, and the guideline asks for the author's "
    "attitude at the end, not at the start. "
    * 3
    + '<img src=x onerror="window.hostile = 2"> Label it again.'
)
"""A reviewer's rejection comment longer than the 300 characters a lease's reason keeps, with
markup that must stay text wherever it is shown."""


@dataclass
class LiveServer:
    """A `labelloop serve` of this module's own: one admin, no projects (the team makes them)."""

    url: str
    home: Path
    username: str = ADMIN
    password: str = PASSWORD

    def cli(self, *args: str, stdin: str | None = None) -> str:
        return run_cli(self.home, *args, stdin=stdin)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Overrides the e2e server: this module needs no pre-made projects, only a fresh site, and
    no learner: its projects retrain every 100 labels, so no round comes after the first, which
    :func:`_first_queue` makes."""
    home = tmp_path_factory.mktemp("review-home")
    live = LiveServer(url="", home=home)
    live.cli("users", "add", ADMIN, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    with serving(home, "serve", learner=False) as url:
        live.url = url
        yield live


@dataclass
class Team:
    server: Any
    tokens: dict[str, str]
    truth: dict[str, str] = field(default_factory=dict)  # external id -> label

    def client(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)


def _schema(name: str, **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": list(LABELS), "target": True}
        ],
        "settings": {"retrain_every": 100, **settings},
    }


@pytest.fixture(scope="module")
def team(server: Any) -> Team:
    """Users, tokens and two projects made through the API (the admin's) and the CLI."""
    alice = api_token(server.url, server.username, server.password)
    admin = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {alice}"}, timeout=30
    )
    for who in PEOPLE:
        made = admin.post("/api/users", json={"username": who, "password": PASSWORD})
        assert made.status_code == 201, made.text
    # Their API tokens from the CLI (a sign-in each through the form, as alice's above, would
    # only check each password once more).
    tokens = {who: server.cli("tokens", "create", who).strip().splitlines()[-1] for who in PEOPLE}
    out = Team(server=server, tokens=tokens)
    projects = {
        "team": _schema("Team <review>", overlap=3, review_policy="all", resolution="adjudication"),
        "ui": _schema("Review UI", review_policy="all"),
    }
    for slug, schema in projects.items():
        made = admin.post("/api/projects", json={"slug": slug, "schema": schema})
        assert made.status_code == 201, made.text
        roles = {"a1": "annotator", "a2": "annotator", "a3": "annotator"}
        roles.update({"rev": "reviewer", "mgr": "manager"})
        _stock(admin, out, slug, roles=roles, n=12 if slug == "team" else 9)
    _first_queue(admin, server, *projects)
    admin.close()
    return out


def _stock(admin: httpx.Client, team: Team, slug: str, *, roles: dict[str, str], n: int) -> None:
    """Give ``roles`` in project ``slug`` and import ``n`` rows into it, their truth noted."""
    for who, role in roles.items():
        set_role = admin.put(f"/api/projects/{slug}/members", json={"username": who, "role": role})
        assert set_role.status_code == 200, set_role.text
    rows = _rows(slug, n)
    body = "".join(json.dumps({k: r[k] for k in ("id", "text")}) + "\n" for r in rows)
    imported = admin.post(
        f"/api/projects/{slug}/imports",
        files={"file": (f"{slug}.jsonl", body.encode(), "application/x-ndjson")},
        data={"id_field": "id"},
    )
    assert imported.status_code == 201, imported.text
    team.truth.update({r["id"]: r["label"] for r in rows})


def _first_queue(admin: httpx.Client, server: Any, *slugs: str) -> None:
    """Each project's first queue, made by one pass of the learner in the test process as the
    server's learner would make it (``first_rounds``); the status names its round."""
    first_rounds(server.home)
    for slug in slugs:
        assert admin.get(f"/api/projects/{slug}/status").json()["model"] is not None, slug


# ------------------------------------------------------------------------------ concurrent clients


def _annotator(team: Team, who: str, done: threading.Event, log: list, errors: list) -> None:
    """Labels truthfully, except a3's first answer on every third item."""
    with team.client(who) as http:
        while not done.is_set():
            try:
                r = http.post("/api/projects/team/tasks/next", json={})
                task = r.json()["task"]
                if task is None:
                    time.sleep(0.05)
                    continue
                ext = task["item"]["external_id"]
                truth = team.truth[ext]
                rework = task["selection"]["strategy"] == "rework"
                answer = truth
                if who == "a3" and not rework and int(ext.rsplit("-", 1)[1]) % 3 == 0:
                    answer = LABELS[(LABELS.index(truth) + 1) % 3]
                sent = http.post(
                    f"/api/projects/team/tasks/{task['assignment_id']}/submit",
                    json={"value": {"sentiment": answer}, "active_ms": 2500},
                )
                assert sent.status_code == 200, sent.text
                log.append((who, task["item"]["id"], ext, rework, answer, task.get("rework")))
            except Exception as exc:  # surfaced by the test
                errors.append(f"{who}: {exc!r}")
                return


def _reviewer(team: Team, done: threading.Event, verdicts: list, errors: list) -> None:
    """Rejects a3's wrong answers on even items, accepts everything else."""
    with team.client("rev") as http:
        while not done.is_set():
            try:
                view = http.get("/api/projects/team/reviews/next").json()["review"]
                if view is None:
                    time.sleep(0.05)
                    continue
                a = view["annotation"]
                ext = view["item"]["external_id"]
                wrong = a["value"]["sentiment"] != team.truth[ext]
                body: dict[str, Any] = {"verdict": "accept"}
                if a["user"] == "a3" and wrong and int(ext.rsplit("-", 1)[1]) % 2 == 0:
                    body = {"verdict": "reject", "comment": f"look again at {ext}"}
                r = http.post(f"/api/projects/team/reviews/{a['id']}", json=body)
                assert r.status_code == 200, r.text
                verdicts.append((a["user"], ext, body["verdict"]))
            except Exception as exc:
                errors.append(f"rev: {exc!r}")
                return


def _adjudicator(team: Team, done: threading.Event, decided: list, errors: list) -> None:
    with team.client("mgr") as http:
        while not done.is_set():
            try:
                view = http.get("/api/projects/team/adjudications/next").json()["item"]
                if view is None:
                    time.sleep(0.05)
                    continue
                ext = view["item"]["external_id"]
                assert {a["user"] for a in view["annotations"]} == {"a1", "a2", "a3"}
                assert {f["kind"] for f in view["flags"]} >= {"disagreement"}
                r = http.post(
                    f"/api/projects/team/items/{view['item']['id']}/adjudicate",
                    json={"value": {"sentiment": team.truth[ext]}, "comment": "checked"},
                )
                assert r.status_code == 200, r.text
                decided.append(ext)
            except Exception as exc:
                errors.append(f"mgr: {exc!r}")
                return


def test_three_annotators_and_a_reviewer_through_overlap_review_rework_adjudication(
    team: Team,
) -> None:
    done = threading.Event()
    log: list = []
    verdicts: list = []
    decided: list = []
    errors: list = []
    threads = [
        threading.Thread(target=_annotator, args=(team, who, done, log, errors))
        for who in ("a1", "a2", "a3")
    ]
    threads.append(threading.Thread(target=_reviewer, args=(team, done, verdicts, errors)))
    threads.append(threading.Thread(target=_adjudicator, args=(team, done, decided, errors)))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    with team.client("mgr") as http:
        try:
            while http.get("/api/projects/team/status").json()["counts"]["labeled"] < 12:
                assert not errors, errors
                assert time.monotonic() < deadline, "the team did not finish in time"
                time.sleep(0.1)
        finally:
            done.set()
            for t in threads:
                t.join(timeout=30)
        assert not errors, errors

        # No item went twice to one person: each served every item once, plus the reworks of
        # exactly their rejected answers.
        rejected = {(u, ext) for u, ext, v in verdicts if v == "reject"}
        assert rejected == {("a3", "team-0"), ("a3", "team-6")}
        for who in ("a1", "a2", "a3"):
            served = [ext for w, _, ext, rework, _, _ in log if w == who and not rework]
            assert sorted(served) == sorted(e for e in team.truth if e.startswith("team-")), who
            reworks = {(w, ext) for w, _, ext, rework, _, _ in log if w == who and rework}
            assert reworks == {r for r in rejected if r[0] == who}
        comments = {ext: info["comment"] for w, _, ext, rework, _, info in log if rework}
        assert comments == {"team-0": "look again at team-0", "team-6": "look again at team-6"}

        # The resolved labels: all true; the two accepted disagreements were adjudicated.
        assert sorted(decided) == ["team-3", "team-9"]
        item_ids = {ext: item_id for _, item_id, ext, _, _, _ in log}
        for ext, item_id in item_ids.items():
            detail = http.get(f"/api/projects/team/items/{item_id}/review").json()
            label = detail["label"]
            assert label["label"] == team.truth[ext], ext
            expected = "adjudicated" if ext in ("team-3", "team-9") else "consensus"
            assert label["resolution"] == expected, ext
            if expected == "adjudicated":
                assert label["decided_by"] == "mgr"
            live = [a["user"] for a in detail["annotations"] if a["status"] != "rejected"]
            assert sorted(live) == ["a1", "a2", "a3"], ext

        # The agreement figures against the reference implementations.
        # Each annotator's first answer counts, as given before review: a rework does not
        # replace it (agreement is of the annotators' independent judgements).
        first: dict[tuple[str, str], str] = {}
        for w, _, ext, _, answer, _ in log:
            first.setdefault((w, ext), answer)
        assert any(first[(w, ext)] != answer for w, _, ext, rework, answer, _ in log if rework)
        exts = sorted(item_ids)
        R = np.array(
            [[LABELS.index(first[(w, ext)]) for ext in exts] for w in ("a1", "a2", "a3")],
            dtype=float,
        )
        report = http.get("/api/projects/team/quality").json()
        a = report["agreement"]
        assert a["pairwise"]["raters"] == ["a1", "a2", "a3"]
        for i in range(3):
            for j in range(3):
                if i != j:
                    expected_k = cohen_kappa_score(R[i], R[j])
                    assert a["pairwise"]["kappa"][i][j] == pytest.approx(expected_k, abs=1e-9)
        counts = aggregate_raters(R.T.astype(int), n_cat=3)[0]
        assert a["overall"]["fleiss"]["value"] == pytest.approx(fleiss_kappa(counts), abs=1e-9)
        alpha = krippendorff.alpha(reliability_data=R, level_of_measurement="nominal")
        assert a["overall"]["alpha"]["value"] == pytest.approx(alpha, abs=1e-9)
        people = {u["username"]: u for u in report["annotators"]}
        assert people["a3"]["rejected"] == 2 and people["a3"]["reviewed"] == 14
        assert people["a3"]["rejection_rate"] == pytest.approx(2 / 14, abs=1e-4)
        assert people["a1"]["rejection_rate"] == 0
        assert people["a1"]["agreement_with_resolved"] == 1.0
        assert people["a3"]["agreement_with_resolved"] == pytest.approx(10 / 12, abs=1e-4)

    # The CLI reports the same numbers.
    cli = json.loads(team.server.cli("quality", "team", "--json"))
    assert cli["agreement"]["pairwise"] == a["pairwise"]
    assert cli["agreement"]["overall"]["fleiss"]["value"] == a["overall"]["fleiss"]["value"]
    assert cli["annotators"] == report["annotators"]


# ------------------------------------------------------------------------------ the pages


def _sign_in(page: Any, team: Team, path: str, who: str, password: str) -> None:
    """Open ``path`` signed out and sign in with the keyboard alone."""
    page.goto(team.server.url + path)
    assert "/login" in page.url
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'username'"
    )
    page.keyboard.type(who)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(team.server.url + path)


def _wait_state(
    page: Any, state: str, *, other_than: str | None = None, key: str = "annotationId"
) -> str:
    page.wait_for_function(
        """([state, prev, key]) => {
            const app = document.getElementById('review-app');
            return app.dataset.state === state && (prev === null || app.dataset[key] !== prev);
        }""",
        arg=[state, other_than, key],
        timeout=15000,
    )
    return page.evaluate(f"document.getElementById('review-app').dataset.{key} || ''")


def _submit_as(team: Team, who: str, slug: str, n: int) -> list[dict[str, Any]]:
    out = []
    with team.client(who) as http:
        for _ in range(n):
            task = http.post(f"/api/projects/{slug}/tasks/next", json={}).json()["task"]
            ext = task["item"]["external_id"]
            value = {"sentiment": team.truth[ext]}
            r = http.post(
                f"/api/projects/{slug}/tasks/{task['assignment_id']}/submit",
                json={"value": value, "active_ms": 3000},
            )
            assert r.status_code == 200, r.text
            out.append({**r.json(), "external_id": ext, "value": value})
    return out


def _small_project(
    team: Team,
    slug: str,
    schema: dict[str, Any],
    *,
    roles: dict[str, str] | None = None,
    n: int = 6,
) -> None:
    """A project of ``n`` items made by the admin, with ``roles`` (by default a1 to label, rev
    to review and mgr to manage), with its first queue."""
    admin_token = api_token(team.server.url, ADMIN, PASSWORD)
    with httpx.Client(
        base_url=team.server.url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30
    ) as admin:
        made = admin.post("/api/projects", json={"slug": slug, "schema": schema})
        assert made.status_code == 201, made.text
        roles = roles or {"a1": "annotator", "rev": "reviewer", "mgr": "manager"}
        _stock(admin, team, slug, roles=roles, n=n)
        _first_queue(admin, team.server, slug)


@pytest.mark.browser
def test_review_page_by_keyboard(team: Team, browser: Any, screenshots: Path) -> None:
    submitted = _submit_as(team, "a1", "ui", 5)
    by_id = {str(s["annotation_id"]): s for s in submitted}
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, team, "/p/ui/review", "rev", PASSWORD)

    first = _wait_state(page, "review")
    assert page.text_content("#review-annotator") == "a1"
    # The counts arrive on a request of their own, beside the answer's (ci29 read "–" first).
    page.wait_for_function("() => document.getElementById('waiting-count').textContent === '5'")
    assert page.text_content("#waiting-noun") == "answers"
    page.screenshot(path=str(screenshots / "review.png"))
    page.keyboard.press("?")
    assert page.is_visible("#shortcuts")
    page.keyboard.press("Escape")
    assert not page.is_visible("#shortcuts")

    # a1 changes the answer on screen: the verdict is not on what the reviewer saw, so the page
    # says so and shows the answer again, changed; Accept then takes the new value.
    shown = by_id[first]["external_id"]
    changed = next(label for label in LABELS if label != team.truth[shown])
    with team.client("a1") as http:
        edit = http.put(
            f"/api/projects/ui/annotations/{first}", json={"value": {"sentiment": changed}}
        )
        assert edit.status_code == 200, edit.text
    page.keyboard.press("a")
    page.wait_for_function(
        "() => document.getElementById('messages').textContent.includes("
        "'changed this answer since you opened it')"
    )
    assert _wait_state(page, "review") == first
    page.wait_for_function(
        f"() => document.getElementById('review-label').textContent.includes({changed!r})"
    )
    page.keyboard.press("a")  # accept
    second = _wait_state(page, "review", other_than=first)
    page.keyboard.press("r")  # reject: the comment box takes the keys
    page.wait_for_function("() => document.activeElement.id === 'review-comment'")
    page.keyboard.insert_text(COMMENT)
    page.keyboard.press("Enter")
    third = _wait_state(page, "review", other_than=second)
    page.keyboard.press("f")  # fix: a number picks the corrected label, Enter saves
    assert page.is_visible("#fix-panel")
    # Enter before anything changed is no fix: the page says so and waits for the change.
    page.keyboard.press("Enter")
    page.locator("#messages", has_text="The fix changes nothing yet").wait_for()
    assert page.get_attribute("#review-app", "data-annotation-id") == third
    assert page.is_visible("#fix-panel")
    # The answer's own label's key keeps it (as on the labeling page), it does not clear it.
    saved = by_id[third]["value"]["sentiment"]
    page.keyboard.press(str(LABELS.index(saved) + 1))
    assert page.get_attribute(f'.label-btn[data-label="{saved}"]', "aria-pressed") == "true"
    fixed_to = next(x for x in LABELS if x != saved)
    page.keyboard.press(str(LABELS.index(fixed_to) + 1))
    assert page.get_attribute(f'.label-btn[data-label="{fixed_to}"]', "aria-pressed") == "true"
    page.keyboard.press("Enter")
    fourth = _wait_state(page, "review", other_than=third)
    page.keyboard.press("e")  # escalate
    fifth = _wait_state(page, "review", other_than=fourth)
    page.keyboard.press("n")  # pass: nothing else waits
    _wait_state(page, "empty")
    assert not errors, errors
    context.close()

    with team.client("mgr") as http:

        def status_of(annotation_id: str) -> tuple[str, Any]:
            item_id = by_id[annotation_id]["item_id"]
            detail = http.get(f"/api/projects/ui/items/{item_id}/review").json()
            a = next(x for x in detail["annotations"] if str(x["id"]) == annotation_id)
            return a["status"], detail

        state, detail = status_of(first)
        assert state == "accepted" and detail["label"]["value"] == {"sentiment": changed}
        state, detail = status_of(second)
        assert state == "rejected"
        assert detail["reviews"][-1]["comment"] == COMMENT
        state, detail = status_of(third)
        assert state == "fixed" and detail["label"]["value"] == {"sentiment": fixed_to}
        assert status_of(fourth)[0] == "escalated"
        assert status_of(fifth)[0] == "in_review"
    with team.client("a1") as http:
        task = http.post("/api/projects/ui/tasks/next", json={}).json()["task"]
        assert task["item"]["id"] == by_id[second]["item_id"]
        assert task["rework"]["comment"] == COMMENT

    # The annotator's labeling page shows the reviewer, the whole comment (past the 300
    # characters of the item's reason) and their rejected answer, as text.
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, team.server.url, "/p/ui/label", username="a1", password=PASSWORD)
    page.wait_for_selector("#rework-banner:not([hidden])", timeout=15000)
    assert page.get_attribute("#label-app", "data-assignment-id") == str(task["assignment_id"])
    assert page.text_content("#rework-reviewer") == "rev"
    assert page.text_content("#rework-comment") == COMMENT
    assert page.text_content("#rework-previous") == by_id[second]["value"]["sentiment"]
    # the banner's own 7 elements: the comment and answer came in as text, not markup
    assert page.eval_on_selector("#rework-banner", "b => b.querySelectorAll('*').length") == 7
    assert page.is_hidden("#rework-drawn")  # a choice is made afresh, nothing is drawn
    assert page.evaluate("() => window.hostile === undefined")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('rework-banner').hidden"
        " && document.getElementById('label-app').dataset.state !== 'loading'"
    )
    assert not errors, errors
    context.close()


@pytest.mark.browser
def test_adjudication_page_by_keyboard(team: Team, browser: Any, screenshots: Path) -> None:
    (done,) = _submit_as(team, "a2", "ui", 1)
    with team.client("rev") as http:
        r = http.post(
            f"/api/projects/ui/reviews/{done['annotation_id']}",
            json={"verdict": "escalate", "comment": "unsure <i>sarcasm?</i>"},
        )
        assert r.status_code == 200, r.text
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, team.server.url, "/p/ui/adjudicate", username="mgr", password=PASSWORD)
    # The review test may have escalated one earlier; decide every waiting item.
    decided = []
    while True:
        page.wait_for_function(
            "() => ['item', 'empty'].includes(document.getElementById('review-app').dataset.state)",
            timeout=15000,
        )
        if page.get_attribute("#review-app", "data-state") == "empty":
            break
        item_id = page.get_attribute("#review-app", "data-item-id")
        if item_id == str(done["item_id"]):
            assert "unsure <i>sarcasm?</i>" in page.text_content("#history")
            assert page.locator("#others li").count() == 1
            page.screenshot(path=str(screenshots / "adjudicate.png"))
        page.keyboard.press("3")  # positive
        assert page.get_attribute('.label-btn[data-label="positive"]', "aria-pressed") == "true"
        name = page.text_content("#item-id")
        page.keyboard.press("Enter")
        decided.append(item_id)
        page.wait_for_function(
            "(prev) => document.getElementById('review-app').dataset.itemId !== prev",
            arg=item_id,
            timeout=15000,
        )
        # The next item is on screen already: the confirmation names the one decided.
        page.locator("#messages", has_text=f"Decided item {name}: positive.").wait_for()
    assert str(done["item_id"]) in decided
    assert not errors, errors

    page.goto(team.server.url + "/p/team/quality")
    page.wait_for_selector("#kappa-heatmap")
    assert page.locator("#kappa-heatmap .hm-cell").count() == 9
    assert page.locator("#annotator-table tbody tr").count() == 3
    # answers, the ones sent back among them: not "labels" beside the per-label table's
    assert page.inner_text("#annotator-table thead th >> nth=1") == "Answers"
    page.screenshot(path=str(screenshots / "quality.png"), full_page=True)
    context.close()
    with team.client("mgr") as http:
        label = http.get(f"/api/projects/ui/items/{done['item_id']}/review").json()["label"]
    assert (label["label"], label["resolution"], label["decided_by"]) == (
        "positive",
        "adjudicated",
        "mgr",
    )


@pytest.mark.browser
def test_two_reviewer_pages_show_different_answers(team: Team, browser: Any) -> None:
    """Two reviewers with the review page open are shown different answers; one that leaves
    gives theirs back, and the other's page shows it."""
    _small_project(team, "pair", _schema("Pair", review_policy="all"))
    _submit_as(team, "a1", "pair", 3)

    errors: list[str] = []
    pages = {}
    for who in ("rev", "mgr"):
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, team.server.url, "/p/pair/review", username=who, password=PASSWORD)
        pages[who] = page
    rev, mgr = pages["rev"], pages["mgr"]
    rev_item = _wait_state(rev, "review", key="itemId")
    mgr_item = _wait_state(mgr, "review", key="itemId")
    assert rev_item != mgr_item
    # The second page counts the answer on the first one's among the 3 waiting.
    mgr.wait_for_function(
        "() => !document.getElementById('held-count').hidden"
        " && document.getElementById('waiting-count').textContent === '3'"
    )
    assert mgr.text_content("#held-count") == "1 on another reviewer's page"

    mgr.keyboard.press("a")  # accept: the manager's next answer is not the one rev reads
    third = _wait_state(mgr, "review", other_than=mgr_item, key="itemId")
    assert third not in (rev_item, mgr_item)
    mgr.keyboard.press("a")
    _wait_state(mgr, "empty")
    mgr.wait_for_function(
        "() => document.getElementById('empty-own').textContent === 'Another reviewer has the 1"
        " waiting answer on their page right now; this page shows it if it is passed or left.'"
    )
    assert rev.get_attribute("#review-app", "data-item-id") == rev_item

    # The Items page tells the manager who has the answer on their page.
    items = mgr.context.new_page()
    items.goto(team.server.url + "/p/pair/items")
    row = items.locator(f'.items-row[data-item-id="{rev_item}"]')
    row.locator(".badge", has_text="on rev's review page").wait_for(timeout=15000)
    # Opened by its id to adjudicate (not from the queue), the page says who reads it now.
    items.goto(team.server.url + f"/p/pair/adjudicate?item={rev_item}")
    items.locator(
        "#messages", has_text="rev has this item on their review page right now."
    ).wait_for(timeout=15000)
    items.close()

    rev.goto(team.server.url + "/p/pair")  # rev leaves the review page: the answer goes back
    assert _wait_state(mgr, "review", key="itemId") == rev_item
    assert not errors, errors
    for page in (rev, mgr):
        page.context.close()


def _run_out(team: Team, item_id: str) -> None:
    """The review lease on ``item_id`` ran out a second ago (its reviewer was away)."""
    from sqlalchemy import update

    from labelloop.store.db import Database
    from labelloop.store.tables import review_lease
    from labelloop.store.users import now

    db = Database(f"sqlite:///{team.server.home / 'labelloop.db'}")
    try:
        with db.write() as conn:
            conn.execute(
                update(review_lease)
                .where(review_lease.c.item_id == int(item_id))
                .values(lease_expires_at=now() - timedelta(seconds=1))
            )
    finally:
        db.dispose()


@pytest.mark.browser
def test_a_reviewer_whose_lease_ran_out_is_told_another_took_the_answer(
    team: Team, browser: Any
) -> None:
    """A reviewer back at a page whose lease ran out while another reviewer took its answer:
    their verdict is not recorded over the other's page, and the page says so and moves on;
    a page renewing its lease too late says so too."""
    _small_project(team, "lapse", _schema("Lapse", review_policy="all", lease_minutes=1))
    _submit_as(team, "a1", "lapse", 3)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.clock.install()
    login(page, team.server.url, "/p/lapse/review", username="rev", password=PASSWORD)
    first = _wait_state(page, "review", key="itemId")
    first_answer = page.get_attribute("#review-app", "data-annotation-id")

    # rev was away: the lease ran out and mgr's queue served the answer.
    _run_out(team, first)
    mgr = team.client("mgr")
    taken = mgr.get("/api/projects/lapse/reviews/next").json()["review"]
    assert str(taken["item"]["id"]) == first
    # Back at the page, rev accepts what it still shows: nothing is recorded over mgr's page.
    with page.expect_response(lambda r: r.url.endswith(f"/reviews/{first_answer}")) as sent:
        page.keyboard.press("a")
    assert sent.value.status == 409
    name = taken["item"]["external_id"]
    told = page.locator("#messages .message", has_text=f"mgr has item '{name}' on their review")
    told.wait_for()
    assert "your lease on it ran out" in told.inner_text()
    assert "nothing was recorded" in told.inner_text()
    second = _wait_state(page, "review", other_than=first, key="itemId")
    path = f"/api/projects/lapse/reviews/{first_answer}"
    decided = mgr.post(path, json={"verdict": "accept", "seen": taken["annotation"]["value"]})
    assert decided.status_code == 200, decided.text

    # At work on the next one, rev's lease runs out all the same (a machine asleep) and mgr
    # takes it: the page's next renewal finds it gone, says so and shows the next answer.
    page.mouse.move(300, 300)
    _run_out(team, second)
    again = mgr.get("/api/projects/lapse/reviews/next").json()["review"]
    assert str(again["item"]["id"]) == second
    with page.expect_response(lambda r: r.url.endswith(f"/leases/{second}/renew")) as renew:
        page.clock.run_for(25000)
    assert renew.value.status == 409
    name = again["item"]["external_id"]
    late = page.locator("#messages .message", has_text=f"mgr has item '{name}' on their review")
    late.wait_for()
    assert "here is the next one" in late.inner_text()
    third = _wait_state(page, "review", other_than=second, key="itemId")
    assert third not in (first, second)
    mgr.close()
    assert not errors, errors
    context.close()


def _review_leases_once_given_back(team: Team, slug: str, page: Any) -> list[int]:
    """The review leases of project ``slug``, read again until none is left or 30 s passed
    (a give-back is a request of its own, after the page has gone)."""
    deadline = time.monotonic() + 30
    while (held := _live_review_leases(team, slug)) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    return held


def _live_review_leases(team: Team, slug: str) -> list[int]:
    """The items of project ``slug`` a review page holds leased now."""
    from sqlalchemy import select

    from labelloop.store.db import Database
    from labelloop.store.tables import project, review_lease
    from labelloop.store.users import now

    db = Database(f"sqlite:///{team.server.home / 'labelloop.db'}")
    try:
        with db.read() as conn:
            held = select(review_lease.c.item_id).where(
                review_lease.c.project_id
                == select(project.c.id).where(project.c.slug == slug).scalar_subquery(),
                review_lease.c.lease_expires_at > now(),
            )
            return sorted(int(r[0]) for r in conn.execute(held))
    finally:
        db.dispose()


@pytest.mark.browser
def test_an_answer_served_after_the_review_page_was_left_is_given_back(
    team: Team, browser: Any
) -> None:
    """The next answer the review page asked for (N), still on its way as the page was left,
    stayed leased to the reviewer for the whole lease: the page gave back only what it showed,
    and other reviewers' queues passed the item by. It is given back as it lands, as the
    labeling page gives back an item it fetched ahead. (Chromium under Playwright keeps no page
    in the back-forward cache: the event is sent as it would be.)"""
    _small_project(team, "gone", _schema("Gone", review_policy="all"))
    _submit_as(team, "a1", "gone", 2)
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    held: list[Any] = []

    def hold_the_next(route: Any) -> None:
        if "skip=" in route.request.url:  # the answer after the one shown
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/projects/gone/reviews/next*", hold_the_next)
    login(page, team.server.url, "/p/gone/review", username="rev", password=PASSWORD)
    first = _wait_state(page, "review", key="itemId")
    assert _live_review_leases(team, "gone") == [int(first)]
    page.keyboard.press("n")
    left_while_held(page, held)
    # The server leases the next answer's item after the page was left (its answer awaited:
    # until then the leases read empty once the page gave back the one it showed).
    with page.expect_response(lambda response: "skip=" in response.url):
        held[0].continue_()
    assert _review_leases_once_given_back(team, "gone", page) == []
    assert not errors, errors
    page.context.close()


@pytest.mark.browser
def test_a_renewal_that_lands_after_the_review_page_was_left_gives_the_item_back(
    team: Team, browser: Any
) -> None:
    """A renewal of the review page's lease, on its way as the page was left, moved the
    lease's end before the give-back arrived, which named the end the page had: nothing was
    given back and other reviewers' queues passed the item by for the whole lease. It is given
    back as the renewal's answer lands, as an answer served after leaving is. (Chromium under
    Playwright keeps no page in the back-forward cache: the event is sent as it would be.)"""
    _small_project(team, "renewed", _schema("Renewed", review_policy="all", lease_minutes=1))
    _submit_as(team, "a1", "renewed", 2)
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    held: list[tuple[Any, Any]] = []

    def hold_the_answer(route: Any) -> None:  # the server renews; the page hears of it later
        held.append((route, route.fetch()))

    page.route("**/api/projects/renewed/reviews/leases/*/renew", hold_the_answer)
    page.clock.install()  # to bring the renewal on, below
    login(page, team.server.url, "/p/renewed/review", username="rev", password=PASSWORD)
    first = _wait_state(page, "review", key="itemId")
    assert _live_review_leases(team, "renewed") == [int(first)]
    page.mouse.move(300, 300)  # the reviewer at work
    page.clock.run_for(25000)  # a third of the lease: the page renews it
    route, renewed = left_while_held(page, held)
    with page.expect_response(lambda response: response.request == route.request):
        route.fulfill(response=renewed)
    assert _review_leases_once_given_back(team, "renewed", page) == []
    assert not errors, errors
    page.context.close()


@pytest.mark.browser
def test_the_review_page_says_when_the_items_other_answer_disagrees(
    team: Team, browser: Any
) -> None:
    """Under overlap each answer comes to review on its own: a reviewer accepting a1's answer
    and then a2's contrary one left a tie that the earlier answer won, with nothing on the page
    to say the two disagreed. The answer's card now names the other answer and its state."""
    schema = _schema("Split answers", overlap=2, review_policy="all")
    roles = {"a1": "annotator", "a2": "annotator", "rev": "reviewer"}
    _small_project(team, "split", schema, roles=roles, n=4)
    ours = _submit_as(team, "a1", "split", 2)
    theirs = []
    with team.client("a2") as http:
        for i in range(2):
            task = http.post("/api/projects/split/tasks/next", json={}).json()["task"]
            truth = team.truth[task["item"]["external_id"]]
            said = truth if i else next(x for x in LABELS if x != truth)  # the first one differs
            r = http.post(
                f"/api/projects/split/tasks/{task['assignment_id']}/submit",
                json={"value": {"sentiment": said}, "active_ms": 3000},
            )
            assert r.status_code == 200, r.text
            theirs.append({**r.json(), "said": said})
    assert [t["item_id"] for t in theirs] == [o["item_id"] for o in ours]
    split, agreed = ours[0]["item_id"], ours[1]["item_id"]
    truth = ours[0]["value"]["sentiment"]

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, team.server.url, "/p/split/review", username="rev", password=PASSWORD)
    shown: dict[tuple[str, int], str] = {}
    previous = None
    for n in range(4):
        previous = _wait_state(page, "review", other_than=previous)
        if n == 0:  # two items wait, and four answers: the count is of answers, and says so
            page.wait_for_function(
                "() => document.getElementById('waiting-count').textContent === '4'"
            )
            assert " ".join(page.inner_text("#waiting-chip").split()) == "4 answers waiting"
        if n == 3:  # the last one: "1 answers waiting" before
            page.wait_for_function(
                "() => document.getElementById('waiting-count').textContent === '1'"
            )
            assert " ".join(page.inner_text("#waiting-chip").split()) == "1 answer waiting"
        who = page.text_content("#review-annotator") or ""
        item = int(page.get_attribute("#review-app", "data-item-id") or 0)
        note = page.locator("#review-disagrees")
        shown[(who, item)] = note.inner_text() if note.is_visible() else ""
        page.keyboard.press("a")  # accepted, each as it comes: a1's first
    _wait_state(page, "empty")
    assert not errors, errors
    context.close()

    other_said = theirs[0]["said"]
    assert shown[("a1", split)].startswith(f"It disagrees with a2's {other_said} (in review):")
    assert shown[("a2", split)].startswith(f"It disagrees with a1's {truth} (accepted):")
    assert "two tied: the earlier one" in shown[("a2", split)]
    assert shown[("a1", agreed)] == shown[("a2", agreed)] == ""
    with team.client("rev") as http:
        label = http.get(f"/api/projects/split/items/{split}/review").json()["label"]
    assert (label["label"], label["resolution"]) == (truth, "tie")  # what the note said


@pytest.mark.browser
def test_the_review_page_shows_the_guideline_the_answer_was_made_under(
    team: Team, browser: Any
) -> None:
    """The card says "guideline v1 (v2 now)", to judge an answer by the rules its annotator
    was shown; the page had no guideline at all to read them in. Its side panel holds that
    version's text, and the next answer's own; the expert tier's page the newest."""
    schema = {**_schema("Rules", review_policy="all"), "guideline": "Rule one <b>only</b>."}
    _small_project(team, "rules", schema, n=4)
    (old,) = _submit_as(team, "a1", "rules", 1)
    with team.client("mgr") as http:
        body = {"body": "Rule two: sarcasm is negative.", "summary": "sarcasm", "base_version": 1}
        published = http.post("/api/projects/rules/guidelines", json=body)
        assert published.status_code == 201, published.text
    (new,) = _submit_as(team, "a1", "rules", 1)

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, team.server.url, "/p/rules/review", username="rev", password=PASSWORD)
    seen: dict[str, tuple[str, str, int]] = {}
    shown = None
    for _ in range(2):
        shown = _wait_state(page, "review", other_than=shown)
        if page.get_attribute("#guideline", "open") is None:
            page.click("#guideline summary")
        page.wait_for_function(
            "() => document.getElementById('guideline-text').textContent.includes('Rule')"
        )
        version = page.inner_text("#guideline-version-label")
        text = page.inner_text("#guideline-text")
        seen[shown] = (version, text, page.locator("#guideline-text b").count())
        page.keyboard.press("a" if shown == str(old["annotation_id"]) else "e")  # v2's: escalated
    _wait_state(page, "empty")
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, team.server.url, "/p/rules/adjudicate", username="mgr", password=PASSWORD)
    _wait_state(page, "item", key="itemId")
    page.click("#guideline summary")
    page.wait_for_function(
        "() => document.getElementById('guideline-text').textContent.includes('Rule')"
    )
    decides_by = (page.inner_text("#guideline-version-label"), page.inner_text("#guideline-text"))
    assert not errors, errors
    context.close()

    # The markup in the text shows as text, as on the labeling page.
    assert seen[str(old["annotation_id"])] == ("v1 (v2 now)", "Rule one <b>only</b>.", 0)
    assert seen[str(new["annotation_id"])] == ("v2", "Rule two: sarcasm is negative.", 0)
    assert decides_by == ("v2", "Rule two: sarcasm is negative.")
