"""An annotator's pages in real Chromium: labeling, My answers, the project page with its
guideline, and search load with no failed request, no error and nothing they may not read (no
learning curve, gain or auto-label runs); a manager's project page asks for its two heavy
reports once, not on a timer, and says so plainly when the per-user limit refuses one."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import STATUS_POLL_MS, answer_served, login, page_fetch, wait_task

ANNOTATOR, ANNOTATOR_PASSWORD = "ann", "ann-labels-carefully"
HEAVY = re.compile(r"/api/projects/[^/?]+/(gain|dashboard|quality|coverage)(\?|$)")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def learner() -> bool:
    """The server runs no learner: what each role's pages show and ask for is read on the
    queue and cold-start model the data was made with; two answers need no round."""
    return False


def _watched(browser: Any) -> tuple[Any, Any, list[str], list[str]]:
    """A desktop page, what went wrong on it (failed requests, error answers, script and
    console errors) and the API paths it called."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    called: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
    )
    page.on(
        "requestfailed",
        lambda r: problems.append(f"failed: {r.method} {r.url} {r.failure}"),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status}: {r.request.method} {r.url}") if r.status >= 400 else None
        ),
    )
    page.on("request", lambda r: called.append(r.url.split("://", 1)[1].split("/", 1)[1]))
    return context, page, problems, called


def test_an_annotators_pages_load_cleanly_and_offer_nothing_they_cannot_read(
    server: Any, browser: Any
) -> None:
    server.cli("users", "add", ANNOTATOR, "--password-stdin", stdin=ANNOTATOR_PASSWORD + "\n")
    server.cli("projects", "member", server.main, ANNOTATOR, "annotator")
    context, page, problems, called = _watched(browser)
    slug = server.main
    page.clock.install()  # to bring the pages' timers on, below

    login(page, server.url, f"/p/{slug}/label", username=ANNOTATOR, password=ANNOTATOR_PASSWORD)
    wait_task(page)
    page.wait_for_function(
        "() => document.getElementById('model-version').textContent.startsWith('v')",
        timeout=30000,
    )
    assert page.is_visible("#guideline-text")
    for _ in range(2):
        answer_served(page, slug, lambda t: {"sentiment": server.truth[t["item"]["data"]["text"]]})
    with page.expect_response(lambda r: r.url.endswith(f"/api/projects/{slug}/status")):
        page.clock.fast_forward(STATUS_POLL_MS)  # the status line's poll runs at least once

    page.click("#my-answers-link")
    page.wait_for_url(re.compile(rf".*/p/{slug}/items\?.*"))
    page.wait_for_function(
        "() => document.getElementById('items-summary').textContent.startsWith('2 ')",
        timeout=30000,
    )

    page.goto(f"{server.url}/p/{slug}")
    page.wait_for_function(
        "() => !document.getElementById('guideline-history-status').textContent"
        ".startsWith('Loading')",
        timeout=30000,
    )
    assert page.locator("#guideline-history li").count() >= 1
    assert "reviewer's opinion" in page.inner_text("#guideline-current")
    assert page.inner_text("#stat-model").startswith("v")
    for absent in (
        "#models-table",
        "#learning-curve",
        "#gain-panel",
        "#autolabel-runs",
        "#strategy-setting",
        "#dashboard-link",
        "#quality-link",
        "#members-panel",
    ):
        assert page.locator(absent).count() == 0, absent
    with page.expect_response(lambda r: r.url.endswith(f"/api/projects/{slug}/status")):
        page.clock.run_for(20000)  # its timers (the status poll every 15 s) run...
    page.wait_for_timeout(500)  # ...and what they ask for beside it is sent

    page.goto(f"{server.url}/p/{slug}/search?q=kettle")
    page.wait_for_load_state("networkidle")

    assert problems == []
    asked = {p.split("?")[0].rsplit("/", 1)[1] for p in called if p.startswith("api/")}
    assert not asked & {"members", "models", "autolabel", "gain", "dashboard", "quality"}, asked
    context.close()


def test_a_managers_project_page_asks_for_its_reports_once_and_says_when_refused(
    server: Any, browser: Any
) -> None:
    context, page, problems, called = _watched(browser)
    page.clock.install()  # to let a minute of the page's timers run, below
    login(page, server.url, f"/p/{server.main}")
    page.wait_for_function(
        "() => !document.getElementById('gain-sentence').textContent.startsWith('Measuring')",
        timeout=60000,
    )
    # A page that polled its reports would ask again within a minute of its timers...
    status_url = f"/api/projects/{server.main}/status"
    with page.expect_response(lambda r: r.url.endswith(status_url)):  # the 15 s poll ran
        page.clock.run_for(60000)
    page.wait_for_timeout(1000)  # ...and have sent it by now
    heavy = [p for p in called if HEAVY.search("/" + p)]
    assert len(heavy) == 2, heavy  # the gain and the dashboard's alerts, once each
    assert problems == []

    # Past the per-user limit (a script in a loop, say), the page says so where the report was
    for _ in range(80):
        status, body = page_fetch(page, "GET", f"/api/projects/{server.main}/gain")
        if status == 429:
            break
    assert status == 429 and body["error"] == "TooManyAttempts", body
    page.reload()
    page.wait_for_function(
        "() => !document.getElementById('gain-sentence').textContent.startsWith('Measuring')",
        timeout=30000,
    )
    said = page.inner_text("#gain-sentence")
    assert said.startswith("Could not measure it: too many reports asked for within a minute")
    assert re.search(r"try again in \d+ seconds?$", said), said
    page.goto(f"{server.url}/p/{server.main}/dashboard")
    assert "Too many requests" in page.inner_text("h1")
    context.close()


def test_a_reviewers_project_page_lists_the_team_read_only(server: Any, browser: Any) -> None:
    """Reviewers read the team (the README says so, and GET /members answers them): the project
    page lists the members and their roles, with no form to give a role and no Remove."""
    server.cli("users", "add", "rev", "--password-stdin", stdin="rev-reads-the-team\n")
    server.cli("projects", "member", server.main, "rev", "reviewer")
    context, page, problems, _ = _watched(browser)
    login(page, server.url, f"/p/{server.main}", username="rev", password="rev-reads-the-team")
    page.wait_for_selector("#members-table tr[data-username='rev']")
    assert page.inner_text("#members-table tr[data-username='rev']").split() == ["rev", "reviewer"]
    assert page.locator("#member-form").count() == 0
    assert page.locator("#members-table button").count() == 0
    assert problems == []
    context.close()
