"""The operations dashboard in real Chromium: a manager finds it on the project page, sees the
labels just made in its chart, stages, forecast and annotator rows, narrows it to 7 days, reads
it on a phone; an annotator gets the error page; hostile texts and file names stay text. A
manager acknowledges an alert on a phone: it shows muted and the projects list stops counting
it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    HeldAnswer,
    answer_served,
    login,
    make_reviews,
    page_fetch,
    phone,
    wait_task,
    wide_elements,
    write_jsonl,
)

pytestmark = pytest.mark.browser

N_LABELED = 3
ANNOTATOR = ("b" * 60 + "@" + "o" * 39, "bob-password-123")
"""An annotator with the longest name a user may have (100 characters, one word)."""
HOSTILE_FILE = "<img src=x onerror=window.__xss=1>.jsonl"
"""An import's file name the drift card shows (a file name cannot hold the ``/`` of
``</script>``; the item texts of that import carry the script tag)."""
WIDTHS = (1280, 390)


def _fits(page: Any, width: int) -> None:
    """At ``width`` the page does not scroll sideways (wide tables scroll inside their card) and
    the chart's ticks are drawn at a readable size, not scaled down with the chart."""
    page.set_viewport_size({"width": width, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        page.url,
        width,
        wide_elements(page),
    )
    ticks = page.eval_on_selector_all(
        ".bars span, .bars text", "es => es.map(e => e.getBoundingClientRect().height)"
    )
    assert ticks and min(ticks) >= 10, (page.url, width, ticks)


def _name_in_view(page: Any, table: str, name: str) -> dict[str, bool]:
    """Whether the page fits its width, ``name``'s cell of ``table`` ends inside the table's
    card (no sideways scroll needed to read it) and the card shows the whole table."""
    return page.evaluate(
        """([table, name]) => {
            const t = document.querySelector(table);
            const card = t.closest('.table-wrap');
            const cell = t.querySelector(`tr[data-user="${name}"] th`);
            return {
                page: document.documentElement.scrollWidth <= innerWidth,
                name: cell.getBoundingClientRect().right
                    <= card.getBoundingClientRect().right + 1,
                card: card.scrollWidth <= card.clientWidth + 1,
            };
        }""",
        [table, name],
    )


def _bars(page: Any) -> list[dict[str, Any]]:
    """The resolved-labels chart's bars as drawn: each one's tooltip and rendered height."""
    return page.eval_on_selector_all(
        "#chart-resolved rect.bars-bar",
        """rs => rs.map(r => ({
            title: r.querySelector('title').textContent,
            height: r.getBoundingClientRect().height,
        }))""",
    )


def _import(page: Any, server: Any, slug: str, file: Path, label_field: str = "") -> None:
    """Import ``file`` through the project page's import panel."""
    page.goto(server.url + f"/p/{slug}")
    page.set_input_files("#import-file", str(file))
    page.fill("#import-id-field", "id")
    page.fill("#import-label-field", label_field)
    page.click("#import-submit")
    page.wait_for_function(
        """() => (document.querySelector('#import-result .message') || {}).textContent
            ?.startsWith('Imported')""",
        timeout=15000,
    )


def test_e2e_manager_reads_the_dashboard(
    server: Any, browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30000)  # a page load on a loaded machine can take over 10 s
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    slug = server.main

    # The project page's Dashboard button leads to it; before any label it says so.
    login(page, server.url, f"/p/{slug}")
    page.click("#dashboard-link")
    page.wait_for_url(server.url + f"/p/{slug}/dashboard")
    assert page.inner_text("h1") == "Dashboard"
    assert [b["height"] for b in _bars(page)] == [0] * 30
    assert page.inner_text("#forecast-pool") == (
        f"The pool: No label resolved in the last 14 days, so there is no pace to tell when "
        f"the {len(server.truth)} left are done."
    )
    assert page.inner_text("#people-table tbody") == "No annotations in these days."

    # A few labels through the labeling page, with the keyboard; back to the dashboard.
    page.goto(server.url + f"/p/{slug}/label")
    assignment = wait_task(page)
    for _ in range(N_LABELED):
        text = page.inner_text("#item-text")
        page.keyboard.press(str(server.labels.index(server.truth[text]) + 1))
        page.keyboard.press("Enter")
        assignment = wait_task(page, other_than=assignment)
    page.goto(server.url + f"/p/{slug}")
    # The project page fetches the alerts and the forecast once it shows.
    page.wait_for_function(
        "() => document.getElementById('attention-forecast')"
        ".textContent.startsWith('The pool: At ')"
    )
    assert page.inner_text("#attention-status") == "Nothing needs attention."
    # What the model could label now: on demand, from the stop card.
    page.click("#coverage-measure")
    page.wait_for_selector("#coverage-wrap:not([hidden])", timeout=30000)
    shown = page.locator("#coverage-table tbody tr")
    assert shown.count() == 5
    assert [shown.nth(i).locator("td").first.inner_text() for i in range(5)] == [
        "80%",
        "90%",
        "95%",
        "98%",
        "99%",
    ]
    assert f"trained on {N_LABELED} labels" in page.inner_text("#coverage-status")
    assert "checked on 30 labeled eval items" in page.inner_text("#coverage-status")
    page.click("#dashboard-link")
    page.wait_for_url(server.url + f"/p/{slug}/dashboard")
    status, report = page_fetch(page, "GET", f"/api/projects/{slug}/dashboard", None)
    assert status == 200
    today = report["throughput"]["days"][-1]

    # The labels just made: today's bar stands up, the stages, the forecast, the annotator.
    bars = _bars(page)
    assert len(bars) == 30
    assert bars[-1]["title"] == f"{today}: {N_LABELED} labels"
    assert bars[-1]["height"] > 0
    assert all(b["height"] == 0 for b in bars[:-1])
    assert page.inner_text("#stat-rate") == f"{N_LABELED:.1f}"  # labeling began today
    remaining = len(server.truth) - N_LABELED
    assert report["counts"]["remaining"] == remaining
    # Waiting to be labeled: all but the labeled ones and those the labeling page still holds,
    # which the row counts beside them, so the two add up to the items left.
    leased = report["counts"]["leased"]
    waiting = remaining - leased
    labeling = page.locator("#stages-table tr[data-stage='label'] td")
    busy = f", {leased} more being labeled now" if leased else ""
    assert labeling.first.inner_text() == f"{waiting} items{busy}"
    assert page.inner_text("#bottleneck").startswith("Labeling holds the work:")
    finish = report["forecast"]["pool"]["finish"]
    assert page.inner_text("#forecast-pool") == (
        f"The pool: At {N_LABELED} labels a day (the last day), the {remaining} left take about "
        f"{round(remaining / N_LABELED)} days: done around {finish}."
    )
    assert page.inner_text("#stat-finish") == finish
    row = page.locator(f"#people-table tr[data-user='{server.username}']")
    assert row.locator("th").inner_text() == server.username
    assert row.locator("td").first.inner_text() == str(N_LABELED)
    assert row.locator("svg.spark rect").count() == 1  # one day with labels: today
    assert page.inner_text("#drift-sentence").endswith("this project has one pool import so far.")
    for width, name in zip(WIDTHS, ("dashboard.png", "dashboard-mobile.png"), strict=True):
        _fits(page, width)
        page.screenshot(path=str(screenshots / name), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # 7 days: the window, the URL, the chart and the days link that is current all follow.
    page.click("nav[aria-label='Days shown'] >> text=7 days")
    page.wait_for_url(server.url + f"/p/{slug}/dashboard?days=7")
    assert len(_bars(page)) == 7
    assert _bars(page)[-1]["height"] > 0
    assert "the last 7 days" in page.inner_text(".page-head")
    assert page.inner_text("nav[aria-label='Days shown'] [aria-current=page]") == "7 days"
    assert page.get_attribute("#dashboard-json", "href").endswith("dashboard?days=7")
    for width in WIDTHS:
        _fits(page, width)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Hostile texts: labeled reviews, then a new import with script tags in its texts and an
    # onerror in its file name; the drift card names the file and its words, as text.
    labeled, _ = make_reviews(n_pool=36, n_eval=0, seed=5)
    _import(
        page,
        server,
        server.hostile,
        write_jsonl(tmp_path / "labeled.jsonl", labeled),
        label_field="label",
    )
    rows = [
        {"id": f"x{i}", "text": f"{server.hostile_texts[i % 2]} refund invoice {i}"}
        for i in range(36)
    ]
    _import(page, server, server.hostile, write_jsonl(tmp_path / HOSTILE_FILE, rows))
    page.click("#dashboard-link")
    page.wait_for_url(server.url + f"/p/{server.hostile}/dashboard")
    assert page.inner_text("#drift code") == HOSTILE_FILE
    assert page.get_attribute("#drift", "data-state") == "shifted"
    assert page.locator("#drift .chip").count() > 0
    assert page.locator("#alerts [data-kind=drift]").count() == 1
    assert page.locator("main img, main script").count() == 0
    assert "Hostile <texts>" in page.inner_text(".page-head")
    for width in WIDTHS:
        _fits(page, width)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert errors == []

    # An annotator: the Dashboard button is not his, and the page is the HTML error page.
    for made in (
        page_fetch(
            page, "POST", "/api/users", {"username": ANNOTATOR[0], "password": ANNOTATOR[1]}
        ),
        page_fetch(
            page,
            "PUT",
            f"/api/projects/{slug}/members",
            {"username": ANNOTATOR[0], "role": "annotator"},
        ),
    ):
        assert made[0] in (200, 201), made
    context.close()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}", username=ANNOTATOR[0], password=ANNOTATOR[1])
    assert page.locator("#dashboard-link").count() == 0
    response = page.goto(server.url + f"/p/{slug}/dashboard")
    assert response is not None and response.status == 403
    assert response.headers["content-type"].startswith("text/html")
    assert page.inner_text("h1") == "You can't open this page"
    assert page.inner_text("#error-detail") == (
        f"your role in project '{slug}' (annotator) does not allow reading its reports, team"
        " and model [view_insight]: reviewers and managers may"
    )
    answer_served(
        page, slug, lambda task: {"sentiment": server.truth[task["item"]["data"]["text"]]}
    )
    context.close()

    # His long name wraps in the annotator tables of the dashboard and the Quality page: the
    # page never scrolls sideways, on a phone the name reads whole without scrolling the table's
    # card, and at desk width the table fits its card.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}/dashboard")
    for path, table in (("dashboard", "#people-table"), ("quality", "#annotator-table")):
        page.goto(server.url + f"/p/{slug}/{path}")
        page.wait_for_selector(f"{table} tr[data-user='{ANNOTATOR[0]}']")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 844})
            assert _name_in_view(page, table, ANNOTATOR[0]) == {
                "page": True,
                "name": True,
                "card": width > 390,  # eight columns scroll inside their card on a phone
            }, (path, width, wide_elements(page))
    context.close()


MANAGER = ("mia", "mia-password-123")
NOTE = "two reviewers join on Monday"


def _until(what: str, check: Any, timeout_s: float = 60) -> Any:
    """Call ``check`` until it gives something (the learner works in the background)."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, f"waited {timeout_s:.0f} s for {what}"
        time.sleep(0.3)
    return found


def _projects_row(page: Any, server: Any, slug: str) -> Any:
    """Project ``slug``'s row of the projects list, freshly loaded."""
    page.goto(server.url + "/")
    return page.locator(f".project-row:has(a[href='/p/{slug}'])")


def _next_task(page: Any, slug: str) -> dict[str, Any] | None:
    status, got = page_fetch(page, "POST", f"/api/projects/{slug}/tasks/next", {})
    assert status == 200, got
    return got["task"]


def _counting(page: Any, server: Any, slug: str) -> Any:
    """The project's row of the projects list if it counts alerts that need attention."""
    row = _projects_row(page, server, slug)
    return row if row.locator("[data-alerts]").count() else None


def _sentiment_project(
    server: Any, folder: Path, slug: str, name: str, *, seed: int, **settings: Any
) -> dict[str, str]:
    """A sentiment project of 20 reviews made with the CLI; each text's true class."""
    schema = {
        "name": name,
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": list(server.labels), "target": True}
        ],
        "settings": settings,
    }
    (folder / f"{slug}.json").write_text(json.dumps(schema))
    server.cli("projects", "create", slug, "--schema", str(folder / f"{slug}.json"))
    pool, _ = make_reviews(n_pool=20, n_eval=0, seed=seed)
    server.cli("import", slug, str(write_jsonl(folder / f"{slug}.jsonl", pool)), "--id-field", "id")
    return {r["text"]: r["label"] for r in pool}


def _answer(
    page: Any, slug: str, truth: dict[str, str], n: int, *, active_ms: int, flag: str = ""
) -> None:
    """Lease and rightly answer ``n`` items through the API, as the page's user; with ``flag``,
    each item is first flagged as ambiguous with that note."""
    for _ in range(n):
        task = _until("the first round's queue", lambda: _next_task(page, slug))
        if flag:
            flagged = f"/api/projects/{slug}/tasks/{task['assignment_id']}/flag"
            assert page_fetch(page, "POST", flagged, {"note": flag})[0] == 200
        value = {"sentiment": truth[task["item"]["data"]["text"]]}
        done = page_fetch(
            page,
            "POST",
            f"/api/projects/{slug}/tasks/{task['assignment_id']}/submit",
            {"value": value, "active_ms": active_ms},
        )
        assert done[0] == 200, done


def test_e2e_manager_acknowledges_an_alert_on_a_phone(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    # A project where every label is reviewed; alice labels, review falls behind: a backlog.
    server.cli("users", "add", MANAGER[0], "--password-stdin", stdin=MANAGER[1] + "\n")
    truth = _sentiment_project(
        server,
        tmp_path,
        "acks",
        "Acknowledged",
        seed=7,
        review_policy="all",
        retrain_every=1,
        backlog_alert_min=1,
    )
    server.cli("projects", "member", "acks", MANAGER[0], "manager")

    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    alice = desk.new_page()
    login(alice, server.url, "/")
    _answer(alice, "acks", truth, 4, active_ms=900)
    desk.close()

    context, page, problems = phone(browser)
    page.set_default_timeout(15000)
    login(page, server.url, "/p/acks", username=MANAGER[0], password=MANAGER[1])
    _, got = page_fetch(page, "GET", "/api/projects/acks/reviews/next", None)
    accepted = page_fetch(
        page,
        "POST",
        f"/api/projects/acks/reviews/{got['review']['annotation']['id']}",
        {"verdict": "accept"},
    )
    assert accepted[0] == 200, accepted
    # The label resolved, the learner's round stores what needs attention: three wait in review.
    row = _until("the stored backlog alert", lambda: _counting(page, server, "acks"))
    assert row.locator("[data-alerts]").inner_text() == "1\xa0needs attention: backlog"

    # On the project page, the manager acknowledges it with a note.
    page.goto(server.url + "/p/acks")
    item = page.locator("#attention-list li[data-kind=backlog]")
    item.locator("[data-action=acknowledge]").click()
    item.locator("input[name=note]").fill(NOTE)
    item.locator("button[type=submit]").click()
    page.wait_for_function(
        "() => document.querySelector('#attention-list li[data-kind=backlog][data-acknowledged]')"
    )
    item = page.locator("#attention-list li[data-kind=backlog]")
    assert item.locator(".alert-ack").inner_text() == f"acknowledged by mia just now: {NOTE}"
    assert item.evaluate("e => getComputedStyle(e).color") == page.evaluate(
        "() => getComputedStyle(document.querySelector('.muted')).color"
    )
    assert item.locator(".badge-muted").inner_text() == "backlog"
    assert page.inner_text("#attention-status") == "Nothing else needs attention: 1 acknowledged."
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, wide_elements(page)

    # The projects list no longer counts it: it says who looks after it instead.
    row = _projects_row(page, server, "acks")
    assert row.locator("[data-alerts]").count() == 0
    assert row.locator("[data-acknowledged]").inner_text() == "1 acknowledged: backlog"

    # The dashboard says so too, and its Undo makes it need attention again.
    page.goto(server.url + "/p/acks/dashboard")
    item = page.locator("#alerts li[data-kind=backlog][data-acknowledged]")
    assert item.locator(".alert-ack").inner_text() == f"acknowledged by mia just now: {NOTE}"
    item.locator("[data-action=unacknowledge]").click()
    page.wait_for_function(
        "() => document.querySelector('#alerts li[data-kind=backlog] [data-action=acknowledge]')"
    )
    assert _projects_row(page, server, "acks").locator("[data-alerts]").count() == 1

    # Acknowledged on the dashboard itself, it shows so there at once, the note form gone.
    page.goto(server.url + "/p/acks/dashboard")
    item = page.locator("#alerts li[data-kind=backlog]")
    item.locator("[data-action=acknowledge]").click()
    item.locator("input[name=note]").fill(NOTE)
    item.locator("button[type=submit]").click()
    acked = page.locator("#alerts li[data-kind=backlog][data-acknowledged] .alert-ack")
    assert acked.inner_text() == f"acknowledged by mia just now: {NOTE}"
    assert page.locator("#alerts .alert-ack-form:visible").count() == 0
    assert problems == []
    context.close()


def _shown(page: Any, state: str) -> None:
    """The tab hidden or shown again, as the browser tells the page."""
    page.evaluate(
        """(state) => {
            Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


def test_e2e_the_open_dashboard_follows_the_team(server: Any, browser: Any, tmp_path: Path) -> None:
    # A team lead keeps the dashboard open on a second screen while labels come in through
    # the API: its figures follow without a reload, the sections nothing changed in stay as
    # they are (a table opened stays open), and it says when it was last updated.
    truth = _sentiment_project(server, tmp_path, "live", "Followed", seed=5)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/dashboard-figures" in r.url else None)
    # The page's timers run only as the test moves its clock: 30 s pass when the test says so.
    page.clock.install(time=time.time() - 60)
    page.clock.pause_at(time.time())
    login(page, server.url, "/p/live/dashboard")
    assert page.inner_text("#people-table tbody") == "No annotations in these days."
    assert page.inner_text("#dashboard-updated").startswith("Updated ")
    page.click("#pace-section summary")  # the per-day table, opened
    page.evaluate("() => { window.drawnDrift = document.getElementById('drift-section'); }")

    _answer(page, "live", truth, 2, active_ms=1200)

    # Hidden, the page asks nothing; shown again, it fetches the figures at once (as every
    # 30 s while shown).
    _shown(page, "hidden")
    page.clock.run_for(31_000)  # an update's time passes while hidden
    # A request sent after it arrives after any the page sent meanwhile: there was none.
    with page.expect_request("**/static/app.css?after"):
        page.evaluate("() => { fetch('/static/app.css?after'); }")
    assert fetched == []
    _shown(page, "visible")
    page.wait_for_selector(f"#people-table tr[data-user='{server.username}']")
    assert len(fetched) == 1 and fetched[0].endswith("/p/live/dashboard-figures?days=30")
    row = page.locator(f"#people-table tr[data-user='{server.username}'] td").first
    assert row.inner_text() == "2"
    today = page.locator("#throughput-table tbody tr").first
    assert today.locator("td").first.inner_text() == "2"  # resolved today
    assert today.is_visible()  # the table opened before stays open
    assert page.inner_text("#stat-rate") != "—"
    assert page.evaluate("() => window.drawnDrift === document.getElementById('drift-section')")
    updated = page.inner_text("#dashboard-updated")
    at = page.get_attribute("#dashboard-at", "data-at")
    assert updated == f"Updated {at[11:19]} UTC; again every 30 s while shown.", updated
    assert page.inner_text("#dashboard-at").endswith(f"up to {at[:16].replace('T', ' ')} UTC")

    # What it drew reads as the page opened afresh does.
    followed = {
        s: page.inner_text(s) for s in ("#pace-section", "#waits-section", "#people-section")
    }
    page.reload()
    page.click("#pace-section summary")
    assert {s: page.inner_text(s) for s in followed} == followed

    # An update slower than 30 s is not followed at once by another, round after round: the
    # one that fell due while it was on its way is skipped.
    held: list[Any] = []
    page.route("**/dashboard-figures*", lambda route: held.append(route))
    fetched.clear()
    page.clock.run_for(31_000)
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright hand over the held request
    page.clock.run_for(31_000)  # the next update falls due
    at = page.get_attribute("#dashboard-at", "data-at")
    held[0].continue_()
    page.wait_for_function(f"() => document.getElementById('dashboard-at').dataset.at !== '{at}'")
    with page.expect_request("**/static/app.css?later"):
        page.evaluate("() => { fetch('/static/app.css?later'); }")
    assert len(fetched) == 1, fetched
    page.unroute("**/dashboard-figures*")

    # Signed out meanwhile (in another tab), it says so, not "Updated" at a time long past.
    context.clear_cookies()
    page.clock.run_for(31_000)  # the next update, while shown
    page.locator("#dashboard-updated.message-error").wait_for()
    assert "signed out" in page.inner_text("#dashboard-updated")
    assert errors == []
    context.close()


def test_e2e_two_alerts_acknowledged_close_together_both_show_it(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """Each acknowledgement fetches the project's alerts again; the first one's list, answered
    here only after the second's was drawn, offered again to acknowledge the second alert, until
    a reload. Five answers wait for review, none reviewed (a backlog), each item flagged."""
    truth = _sentiment_project(
        server,
        tmp_path,
        "two-alerts",
        "Two alerts",
        seed=5,
        review_policy="all",
        backlog_alert_min=1,
    )
    context, page, problems = phone(browser)
    login(page, server.url, "/p/two-alerts")
    _answer(page, "two-alerts", truth, 5, active_ms=900, flag="sarcasm or not?")
    page.reload()
    kinds = ("backlog", "ambiguous")
    items = {kind: page.locator(f"#attention-list li[data-kind={kind}]") for kind in kinds}
    items["ambiguous"].wait_for()
    held = HeldAnswer(
        page, re.compile(re.escape(server.url) + r"/api/projects/two-alerts/dashboard\?")
    )
    for kind, item in items.items():
        item.locator("[data-action=acknowledge]").click()
        item.locator("button[type=submit]").click()
        if kind == "backlog":  # the list it fetched, held, has the other one open
            first = held.text("the alerts after the first acknowledgement")
            assert '"acknowledged_at":null' in first.replace(" ", "")
    page.locator("#attention-list li[data-kind=ambiguous][data-acknowledged]").wait_for()
    held.release()
    for kind, item in items.items():
        assert item.get_attribute("data-acknowledged") == "true", kind
        assert item.locator("[data-action=acknowledge]").count() == 0, kind
    assert problems == []
    context.close()
