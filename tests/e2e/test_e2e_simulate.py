"""Choosing a strategy from the project page: a manager replays active learning on the
project's own labels while the server keeps serving, follows its progress, reads the figures and
opens the chart; an annotator sees none of it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import login, make_reviews, write_jsonl

pytestmark = pytest.mark.browser

ANNOTATOR = ("carol", "carol-password-123")


@pytest.fixture(scope="module")
def labeled(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """150 labeled reviews in the project named 'Hostile <texts>', and an annotator there."""
    work = tmp_path_factory.mktemp("simulate")
    rows, _ = make_reviews(n_pool=150, n_eval=0, seed=5)
    server.cli(
        "import",
        server.hostile,
        str(write_jsonl(work / "labeled.jsonl", rows)),
        "--id-field",
        "id",
        "--label-field",
        "label",
    )
    server.cli("users", "add", ANNOTATOR[0], "--password-stdin", stdin=ANNOTATOR[1] + "\n")
    server.cli("projects", "member", server.hostile, ANNOTATOR[0], "annotator")
    return server


def _state(page: Any, wanted: str, timeout_ms: int = 120_000) -> str:
    page.wait_for_function(
        "(w) => document.getElementById('simulate-status').textContent.includes(w)",
        arg=wanted,
        timeout=timeout_ms,
    )
    return page.inner_text("#simulate-status")


TEXT_PX = """() => Math.min(...[...document.querySelectorAll('svg.chart')]
    .filter((svg) => svg.getBoundingClientRect().width > 0)
    .flatMap((svg) => {
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return [...svg.querySelectorAll('text')]
            .map((t) => parseFloat(getComputedStyle(t).fontSize) * scale);
    }))"""
"""The smallest text on the chart's visible SVG, in CSS pixels as drawn."""


def test_e2e_manager_simulates_strategies_on_the_projects_labels(
    labeled: Any, browser: Any, screenshots: Path
) -> None:
    server = labeled
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    path = f"/p/{server.hostile}"
    login(page, server.url, path)
    assert _state(page, "No simulation") == "No simulation yet."
    ticked = page.eval_on_selector_all(
        "input[name=strategy]:checked", "nodes => nodes.map(n => n.value)"
    )
    assert ticked == ["random", "auto"]  # the control and the project default

    page.check("input[name=strategy][value=margin]")
    page.fill("#simulate-seeds", "2")
    page.fill("#simulate-budget", "60")
    page.click("#simulate-submit")
    assert page.is_disabled("#simulate-submit")  # one at a time per project
    done = _state(page, "finished")
    assert re.match(r"Simulation #1 by alice, .* UTC: finished", done)
    assert "(random, auto, margin; 2 seeds, budget 60)" in done
    assert page.is_hidden("#simulate-cancel") and page.is_enabled("#simulate-submit")

    rows = page.eval_on_selector_all(
        "#simulate-table tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
    )
    assert [r[0] for r in rows] == ["random", "auto", "margin"]
    for row in rows:
        assert 0.3 < float(row[3]) <= 1.0  # AUC: a real learning curve, measured
        assert "settled_predictions" in row[5]
    note = page.inner_text("#simulate-note")
    assert note.startswith(
        "150 labeled items, 3 classes, featurizer tfidf, model LogisticRegression; each seed"
    )
    assert note.endswith("Mean of 2 seeds.")
    # a "not reached (1/3)" cell is explained on the page, as under the terminal's table
    assert "“not reached (1/3)”: only 1 of the 3 seeds reached it within the budget" in (
        page.inner_text("#simulate-panel")
    )
    assert re.search(
        r"best learning curve|learned faster than random", page.inner_text("#simulate-best")
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px)"
    # The table scrolls inside its card; a row is no taller than at desk width, where each
    # stopping rule has its own line (wrapped in a narrow column, rows were 60% taller).
    heights = "rows => rows.map(r => Math.round(r.getBoundingClientRect().height))"
    on_phone = page.eval_on_selector_all("#simulate-table tbody tr", heights)
    page.set_viewport_size({"width": 1280, "height": 900})
    at_desk = page.eval_on_selector_all("#simulate-table tbody tr", heights)
    page.set_viewport_size({"width": 390, "height": 900})
    assert all(p <= d + 1 for p, d in zip(on_phone, at_desk, strict=True)), (on_phone, at_desk)
    page.locator("#simulate-panel").screenshot(path=str(screenshots / "simulate.png"))

    # The chart opens in a tab of its own; the project's name in its title stays text.
    with context.expect_page() as opened:
        page.click("#simulate-chart")
    chart = opened.value
    chart.wait_for_load_state()
    assert chart.title() == "Active learning on the labels of Hostile <texts>"
    assert chart.locator("svg[role=img]:visible").count() == 1  # accuracy (or macro-F1)
    assert chart.evaluate("window.__xss") is None
    # On the phone its table of figures scrolls in a box of its own, not the whole page.
    width = chart.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the chart's page scrolls sideways at 390 px ({width} px)"
    # Its axis and reference lettering stays readable there (it shrank with the chart to 5 px).
    assert chart.evaluate(TEXT_PX) >= 11
    # Its metric and legend buttons are touch targets there (they were 27 px tall).
    tall = chart.eval_on_selector_all(
        ".tabs button, .legend button", "bs => bs.map(b => b.getBoundingClientRect().height)"
    )
    assert len(tall) >= 3 and min(tall) >= 40, tall
    chart.close()

    # "Use" makes margin the project's strategy: the header and the API say so at once.
    assert page.inner_text("#strategy-setting") == "auto"
    assert page.inner_text("#simulate-table tr[data-strategy=auto] .use-strategy") == "In use"
    page.click("#simulate-table tr[data-strategy=margin] .use-strategy")
    page.wait_for_function(
        "() => document.getElementById('strategy-setting').textContent === 'margin'"
    )
    assert page.is_disabled("#simulate-table tr[data-strategy=margin] .use-strategy")
    assert page.inner_text("#simulate-table tr[data-strategy=auto] .use-strategy") == "Use"
    assert page.inner_text("#simulate-info").startswith("The project now uses margin: ")
    chosen = page.evaluate(
        f"fetch('/api/projects/{server.hostile}').then(r => r.json()).then(p => p.settings)"
    )
    assert chosen["strategy"] == "margin"
    # The Settings panel shows it as saved; a strategy chosen there is the one "In use".
    assert page.input_value("#setting-strategy") == "margin"
    assert page.inner_text("#settings-dirty") == "No unsaved changes."
    page.select_option("#setting-strategy", "random")
    page.click("#settings-save")
    page.wait_for_function(
        "() => document.getElementById('strategy-setting').textContent === 'random'"
    )
    assert page.inner_text("#simulate-table tr[data-strategy=random] .use-strategy") == "In use"
    assert page.inner_text("#simulate-table tr[data-strategy=margin] .use-strategy") == "Use"
    page.click("#simulate-table tr[data-strategy=margin] .use-strategy")
    page.wait_for_function("() => document.getElementById('setting-strategy').value === 'margin'")
    assert page.inner_text("#settings-dirty") == "No unsaved changes."

    # A reload shows the same simulation; a long one can be cancelled from the page.
    page.reload()
    assert "finished" in _state(page, "Simulation #1")
    assert page.inner_text("#strategy-setting") == "margin"
    page.fill("#simulate-budget", "140")
    page.fill("#simulate-seeds", "10")
    page.check("input[name=strategy][value=qbc_vote_entropy]")
    page.click("#simulate-submit")
    _state(page, "Simulation #2")
    page.click("#simulate-cancel")
    assert _state(page, "cancelled").endswith(": cancelled.")
    # #2 has no figures: #1's stay, said to be #1's.
    assert page.inner_text("#simulate-of").startswith("Figures of simulation #1, finished ")
    assert errors == []

    # An annotator's project page has no simulation panel, and the API refuses them.
    other = browser.new_context()
    annotator = other.new_page()
    login(annotator, server.url, path, username=ANNOTATOR[0], password=ANNOTATOR[1])
    assert annotator.locator("#simulate-panel").count() == 0
    status = annotator.evaluate(
        f"fetch('/api/projects/{server.hostile}/simulations').then(r => r.status)"
    )
    assert status == 403
    other.close()
    context.close()


def test_e2e_progress_shows_done_of_total_and_leaves_an_unknown_total_open(
    labeled: Any, browser: Any
) -> None:
    """The bar of a running simulation, phase by phase, from the views the API gives (the
    newest simulation of the test above, answered as if still running)."""
    server = labeled
    context = browser.new_context()
    page = context.new_page()
    phases = [  # (phase, done, total): a phase not counted yet, then counted ones
        ("reading the labels", 0, 0),
        ("featurizing 150 labeled items", 0, 150),
        ("replaying 3 strategies × 2 seeds", 1_234, 4_936),
    ]
    shown: list[int] = []

    def running(route: Any) -> None:
        real = route.fetch().json()
        one = real[0] if isinstance(real, list) else real
        if len(shown) < len(phases):
            phase, done, total = phases[len(shown)]
            shown.append(1)
            percent = round(100.0 * done / total, 1) if total else 0.0
            one = {
                **one,
                "state": "running",
                "phase": phase,
                "done": done,
                "total": total,
                "percent": percent,
                "summary": None,
                "chart_url": None,
            }
        route.fulfill(json=[one] if isinstance(real, list) else one)

    page.route(re.compile(r"/api/projects/[^/]+/simulations(/\d+)?$"), running)
    login(page, server.url, f"/p/{server.hostile}")

    def text() -> str:
        return page.inner_text("#simulate-progress-text")

    page.wait_for_function(
        "() => document.getElementById('simulate-status').textContent.includes('reading')"
    )
    assert page.is_visible("#simulate-progress") and text() == ""
    assert page.get_attribute("#simulate-progress", "aria-valuenow") is None  # indeterminate
    page.wait_for_function(
        "() => document.getElementById('simulate-progress-text').textContent.includes('/ 150')"
    )
    assert text() == "0% · 0 / 150"
    assert page.get_attribute("#simulate-progress", "aria-valuenow") == "0"
    page.wait_for_function(
        "() => document.getElementById('simulate-progress-text').textContent.includes('4,936')"
    )
    assert text() == "25% · 1,234 / 4,936"
    assert page.get_attribute("#simulate-progress", "aria-valuenow") == "25"
    # The real view again (the newest simulation has ended): the bar goes.
    page.wait_for_function("() => document.getElementById('simulate-progress-box').hidden")
    context.close()
