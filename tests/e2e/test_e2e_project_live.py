"""The project page a manager keeps open while the team labels: a new training round shows in
its Model and Eval cards, the learning curve's table and the Needs attention forecast without a
reload, so the cards never pair one model's version with another's score."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import answer_served, login, page_fetch, run_cli, wait_answer

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
    page.wait_for_function(  # short of the 15 s timer, which would bring it in anyway
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
    # the Stop labeling card is judged on the new round, as on a reload (compared below)
    assert _card_and_table(page)["stop_version"] == str(newer["version"])
    # the Needs attention box's forecast follows the round too, counting what the cards count
    page.wait_for_function(
        "(left) => document.getElementById('attention-forecast').textContent.includes(left)",
        arg=f"the {counts['remaining']} left",
        timeout=10000,
    )
    # what the poll drew reads as the page opened afresh on the same round (nobody labels
    # meanwhile, so none trains) does
    polled = _card_and_table(page)
    page.reload()
    assert _card_and_table(page) == polled
    assert problems == []
    context.close()


TIES = "ties"
"""A project the test writes model versions into itself: figures that sit exactly half way
between two roundings (13 of 16 eval items is 0.8125), which the page must show one way."""


def _card_and_table(page: Any) -> dict[str, Any]:
    """What the Model and Eval cards, the model versions table, the Eval by cohort table and
    the Stop labeling card say, as a user reads them (whitespace folded)."""
    return page.evaluate(
        """() => {
          const fold = (e) => (e ? e.textContent.replace(/\\s+/g, ' ').trim() : null);
          const text = (id) => fold(document.getElementById(id));
          const all = (sel) => [...document.querySelectorAll(sel)].map(fold);
          const wrap = document.getElementById('models-table').closest('.table-wrap');
          const none = document.getElementById('models-none');
          const stop = document.getElementById('stop-recommendation');
          const judged = document.getElementById('stop-judgement');
          return {
            stop_class: stop.className,
            stop_version: judged ? judged.dataset.version : null,
            stop: all('#stop-recommendation .stop-verdict, #stop-recommendation .reasons li,'
                      + ' #stop-more-labels, #stop-relabel'),
            newer_shown: Boolean(document.getElementById('stop-newer'))
              && !document.getElementById('stop-newer').hidden,
            cohort_title: text('cohort-eval-title'), cohort_note: text('cohort-eval-note'),
            cohort_rows: all('#cohort-eval-table tbody tr'),
            curve_tips: all('#learning-curve circle.point title'),
            model: text('stat-model'), model_sub: text('stat-model-sub'),
            eval_label: text('stat-accuracy-label'), eval: text('stat-accuracy'),
            eval_sub: text('stat-accuracy-sub'),
            table_shown: !wrap.hidden, none_shown: Boolean(none) && !none.hidden,
            rows: [...document.querySelectorAll('#models-table tbody tr')]
              .map((r) => [...r.cells].map((c) => c.textContent.trim())),
          };
        }"""
    )


def _markup(page: Any) -> list[str | None]:
    """The markup of the Model and Eval cards, the versions table, the Eval by cohort table
    and the Stop card's judgement, whitespace folded."""
    return page.evaluate(
        """() => ['model-card', 'eval-card', 'model-versions', 'eval-cohorts', 'stop-judgement']
             .map((id) => document.getElementById(id))
             .map((e) => (e ? e.outerHTML.replace(/\\s+/g, ' ') : null))"""
    )


def _write_round(
    server: Any,
    version: int,
    metrics: dict[str, float],
    *,
    model: str = "logreg",
    right: tuple[int, int] = (10, 3),
    stopping: dict[str, Any] | None = None,
    slug: str = TIES,
) -> None:
    """A model version of the ties project (or ``slug``'s) as a round stores it, trained on
    ``version`` labels, with its figures per cohort: ``right`` of the 10 eval items of cohorts
    north and south."""
    import numpy as np
    from sqlalchemy import select

    from labelloop.store.db import Database
    from labelloop.store.learning import save_round
    from labelloop.store.tables import project
    from labelloop.workflow.learning import cohort_metrics

    truth = np.zeros(20, dtype=np.int64)
    predicted = np.array(
        [0] * right[0] + [1] * (10 - right[0]) + [0] * right[1] + [1] * (10 - right[1])
    )
    cohorts = cohort_metrics(truth, predicted, ("north",) * 10 + ("south",) * 10, n_classes=2)

    db = Database(f"sqlite:///{server.home / 'labelloop.db'}")
    try:
        with db.write() as conn:
            pid = conn.execute(select(project.c.id).where(project.c.slug == slug)).scalar_one()
            row = {
                "version": version,
                "n_train": version,
                "strategy": "margin",
                "featurizer": "tfidf",
                "model": model,
                "params": {},
                "metrics": metrics,
                "cohort_metrics": cohorts,
                "stop_predictions": [],
                "stopping": stopping or {},
                "train_seconds": 0.5,
            }
            save_round(conn, project_id=pid, version=row, queue=[])
    finally:
        db.dispose()


def _poll(page: Any) -> None:
    """Let the page check the status now, as its 15-second timer does, and draw what it read."""
    with page.expect_response(lambda r: r.url.endswith(f"/api/projects/{TIES}/status")):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)


def _create(server: Any, tmp_path: Any, slug: str, name: str) -> None:
    """A project of one two-label choice control, made with the CLI, for rounds written in."""
    schema = tmp_path / f"{slug}.json"
    control = {"name": "tone", "type": "choice", "labels": ["a", "b"]}
    body = {"name": name, "data": {"type": "text", "field": "text"}, "controls": [control]}
    schema.write_text(json.dumps(body), encoding="utf-8")
    run_cli(server.home, "projects", "create", slug, "--schema", str(schema))


def test_the_eval_card_and_models_table_read_the_same_before_and_after_a_poll(
    server: Any, browser: Any, tmp_path: Any
) -> None:
    _create(server, tmp_path, TIES, "Ties")
    _write_round(server, 1, {"accuracy": 0.8125, "macro_f1": 0.3125, "n_eval": 16.0})

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    login(page, server.url, f"/p/{TIES}", username=server.username, password=server.password)
    first = _card_and_table(page)
    # the figures as the API's users and `labelloop status` write them
    assert first["model"] == "v1" and first["model_sub"] == "logreg on tfidf features, 1 label"
    assert (first["eval_label"], first["eval"]) == ("Eval accuracy", f"{0.8125:.3f}")
    assert first["eval_sub"] == f"macro F1 {0.3125:.3f} on 16 items"
    assert first["table_shown"] and not first["none_shown"]
    assert [r[:5] for r in first["rows"]] == [["v1", "1", "0.812", "0.312", "margin"]]
    # the learning curve's point says the figure the table says, not JavaScript's rounding
    assert first["curve_tips"] == ["v1: accuracy 0.812 on 1 label"]
    assert first["cohort_title"] == "Eval by cohort model v1, worst first"
    assert [r.split(" ")[:3] for r in first["cohort_rows"]] == [
        ["south", "below", "overall"],
        ["north", "10", "1.000"],
    ]
    assert first["stop"] == ["Keep labeling. The model is still learning from new labels."]
    assert first["stop_version"] == "1" and "stop-no" in first["stop_class"]

    # the page checks the status while nothing new trained: nothing it shows changes
    _poll(page)
    assert _card_and_table(page) == first

    # a new round arrives while the page is open: the cards and the table follow...
    # (a model named by a plug-in: its name shows as text)
    hostile = "<img src=x onerror=window.__xss=1>"
    budget = {"criterion": "budget", "stop": True, "reason": "2 of 2 labels in the budget"}
    _write_round(
        server,
        2,
        {"accuracy": 0.5625, "macro_f1": 0.0625, "n_eval": 16.0},
        model=hostile,
        right=(2, 10),
        stopping={"stop_recommended": True, "decisions": [budget]},
    )
    _poll(page)
    page.wait_for_function(  # short of the 15 s timer, which would draw it anyway
        "() => document.querySelectorAll('#models-table tbody tr').length === 2", timeout=10000
    )
    polled = _card_and_table(page)
    assert polled["model"] == "v2" and polled["eval"] == "0.562"
    assert polled["eval_sub"] == "macro F1 0.062 on 16 items"
    assert polled["model_sub"] == f"{hostile} on tfidf features, 2 labels"
    assert page.locator("#model-card img").count() == 0
    # ...and so do the Eval by cohort table and the Stop card, which judges the new round
    assert polled["curve_tips"] == [
        "v1: accuracy 0.812 on 1 label",
        f"v2: accuracy {0.5625:.3f} on 2 labels",
    ]
    assert polled["cohort_title"] == "Eval by cohort model v2, worst first"
    assert [r.split(" ")[:3] for r in polled["cohort_rows"]] == [
        ["north", "below", "overall"],
        ["south", "10", "1.000"],
    ]
    assert polled["stop"] == [
        "Stopping is recommended. The label budget is spent.",
        "budget 2 of 2 labels in the budget",
    ]
    assert polled["stop_version"] == "2" and "stop-yes" in polled["stop_class"]
    assert not polled["newer_shown"]
    # ...reading as the page does when it is opened afresh
    drawn = _markup(page)
    page.reload()
    assert _card_and_table(page) == polled and _markup(page) == drawn
    assert page.evaluate("window.__xss") is None
    assert problems == []
    context.close()


def test_the_learning_curve_axis_reads_the_values_its_lines_stand_at(
    server: Any, browser: Any, tmp_path: Any
) -> None:
    """A model at 0.263 puts the axis between 0.2 and 0.3: its lines read 0.20, 0.22, ... 0.30,
    evenly, not 0.20, 0.23, 0.25, 0.28 (quarter steps rounded to two digits)."""
    slug = "axis"
    _create(server, tmp_path, slug, "Axis")
    _write_round(server, 1, {"accuracy": 0.263, "macro_f1": 0.2, "n_eval": 57.0}, slug=slug)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}", username=server.username, password=server.password)
    ticks = page.eval_on_selector_all(
        "#learning-curve svg text[text-anchor=end]",
        "ts => ts.map((t) => [t.textContent, Number(t.getAttribute('y'))])",
    )
    values = [float(v) for v, _ in ticks]
    assert values[0] == 0.2 and values[-1] == 0.3, ticks
    steps = {round(b - a, 6) for a, b in zip(values, values[1:], strict=False)}
    assert len(steps) == 1, ticks  # every step the same
    # each label sits where its value is: the value is linear in the line's height
    (v0, y0), (v1, y1) = (values[0], ticks[0][1]), (values[-1], ticks[-1][1])
    for v, (_, y) in zip(values, ticks, strict=True):
        assert abs(y0 + (v - v0) * (y1 - y0) / (v1 - v0) - y) < 0.5, ticks
    context.close()
