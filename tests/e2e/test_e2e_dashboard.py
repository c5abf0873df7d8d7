"""The operations dashboard in real Chromium: a manager finds it on the project page, sees the
labels just made in its chart, stages, forecast and annotator rows, narrows it to 7 days, reads
it on a phone; an annotator gets the error page; hostile texts and file names stay text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    login,
    make_reviews,
    page_fetch,
    wait_task,
    wide_elements,
    write_jsonl,
)

pytestmark = pytest.mark.browser

N_LABELED = 3
ANNOTATOR = ("bob", "bob-password-123")
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
    page.set_default_timeout(10000)
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
    # Waiting to be labeled: all but the labeled ones and those the labeling page still holds.
    waiting = remaining - report["counts"]["leased"]
    labeling = page.locator("#stages-table tr[data-stage='label'] td")
    assert labeling.first.inner_text() == f"{waiting} items"
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
    assert page.inner_text("#drift-sentence").endswith("this project has one import so far.")
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
        f"your role in project '{slug}' does not allow review"
    )
    context.close()
