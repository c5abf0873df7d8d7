"""The project page a manager keeps open while the team labels: a new training round shows in
its Model and Eval cards, the learning curve's table and the Needs attention forecast without a
reload, so the cards never pair one model's version with another's score."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import answer_served, login, page_fetch, wait_answer

pytestmark = pytest.mark.browser


def _next_round(page: Any, server: Any, version: int) -> dict[str, Any]:
    """Answer 5 items rightly (the project retrains every 5) and wait for the model after
    ``version``, measured on the eval items; that model as the status API gives it."""
    slug = server.main
    for _ in range(5):
        answer_served(page, slug, lambda t: {"sentiment": server.truth[t["item"]["data"]["text"]]})
    return wait_answer(
        page,
        f"""(v) => fetch('/api/projects/{slug}/status').then(r => r.json())
            .then(s => s.model && s.model.version > v && s.model.metrics.accuracy !== undefined
                       && s.model)""",
        version,
    )


def test_e2e_a_new_round_reaches_the_open_project_page(server: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    slug = server.main
    path = f"/p/{slug}"
    login(page, server.url, path, username=server.username, password=server.password)
    # the cold-start round, then a model on 5 labels measured on the eval items
    model = wait_answer(
        page, f"fetch('/api/projects/{slug}/status').then(r => r.json()).then(s => s.model)"
    )
    first = _next_round(page, server, model["version"])
    page.reload()
    assert page.inner_text("#stat-model") == f"v{first['version']}"
    assert page.inner_text("#stat-accuracy") == f"{first['metrics']['accuracy']:.3f}"

    # the team labels on while the page stays open: the next round trains
    newer = _next_round(page, server, first["version"])
    # coming back to the tab (as the periodic check does) brings the new round in
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_function(
        "(v) => document.getElementById('stat-model').textContent === v",
        arg=f"v{newer['version']}",
        timeout=10000,
    )
    m = newer["metrics"]
    assert page.inner_text("#stat-accuracy") == f"{m['accuracy']:.3f}"
    sub = page.inner_text("#stat-accuracy-sub")
    assert sub == f"macro F1 {m['macro_f1']:.3f} on {int(m['n_eval'])} items", sub
    assert page.inner_text("#stat-model-sub").endswith(f"{newer['n_train']} labels")
    status, versions = page_fetch(page, "GET", f"/api/projects/{slug}/models")
    assert status == 200
    rows = page.eval_on_selector_all(
        "#models-table tbody tr", "rs => rs.map(r => r.cells[0].textContent)"
    )
    assert rows == [f"v{v['version']}" for v in versions]
    points = page.eval_on_selector_all("#learning-curve circle.point title", "ts => ts.length")
    assert points == sum(1 for v in versions if "accuracy" in v["metrics"])
    counts = page_fetch(page, "GET", f"/api/projects/{slug}/status")[1]["counts"]
    assert page.inner_text("#stat-labeled") == str(counts["labeled"])
    # the Stop labeling card, judged on the model the page loaded with, says so
    assert page.inner_text("#stop-newer") == (
        f"Judged on model v{first['version']}; v{newer['version']} has trained since. "
        "Reload the page to judge on it."
    )
    # the Needs attention box's forecast follows the round too, counting what the cards count
    page.wait_for_function(
        "(left) => document.getElementById('attention-forecast').textContent.includes(left)",
        arg=f"the {counts['remaining']} left",
        timeout=10000,
    )
    assert problems == []
    context.close()
