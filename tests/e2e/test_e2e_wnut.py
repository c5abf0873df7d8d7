"""The WNUT-16 entities demo in real Chromium: after 40 labels the span model picks the tweet it
is least sure of, says why, pre-fills its predicted spans, and Enter accepts them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, USERNAME, serving
from tests.e2e.sessions import signed_in, signed_in_page
from tests.e2e.stock import stocked

pytestmark = pytest.mark.browser


@dataclass
class WnutServer:
    url: str
    home: Path


@pytest.fixture(scope="module")
def wnut_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path
) -> Iterator[WnutServer]:
    """The demo project with 40 tweets labeled as WNUT tags them and a trained span model,
    served without a learner: the tests read that model (v2), which no round replaces."""
    from labelloop.demo import load_wnut, setup_wnut_demo
    from labelloop.govern.permissions import Permission
    from labelloop.workflow import accounts, projects, tasks
    from labelloop.workflow.learning import train

    home = tmp_path_factory.mktemp("labelloop-wnut")
    with stocked(home, sqlite_migrated, first_rounds=False) as stock:
        db = stock.db
        setup_wnut_demo(db, eval_size=200)
        alice = accounts.create_user(db, USERNAME, PASSWORD, is_admin=True)
        ctx = projects.access(db, "entities", alice, Permission.VIEW_PROJECT)
        train(db, ctx)
        truth = dict(load_wnut())
        for _ in range(40):
            task = tasks.next_task(db, ctx)
            assert task is not None
            value = {"entities": truth[task["item"]["data"]["text"]]}
            tasks.submit(db, ctx, task["assignment_id"], value, active_ms=900)
        train(db, ctx)
    with serving(home, "serve", learner=False) as url:
        yield WnutServer(url=url, home=home)


def _tags(page: Any) -> list[tuple[int, int, str, bool]]:
    return [
        tuple(t)
        for t in page.eval_on_selector_all(
            ".spans-text .span-tag",
            """ts => ts.map(t => [Number(t.dataset.start), Number(t.dataset.end),
                                  t.dataset.label, t.classList.contains('is-suggested')])""",
        )
    ]


def _wait_task(page: Any) -> None:
    page.wait_for_function(
        "() => document.getElementById('label-app').dataset.state === 'task'", timeout=30000
    )
    page.wait_for_selector(".spans-text .tok")


def test_the_span_model_picks_explains_and_prefills(
    wnut_server: WnutServer, browser: Any, screenshots: Path
) -> None:
    viewport = {"width": 1200, "height": 900}
    page = signed_in(browser, wnut_server.url, viewport=viewport).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(wnut_server.url + "/p/entities/label")
    _wait_task(page)

    api = f"{wnut_server.url}/api/projects/entities"
    scores = []
    for _ in range(15):  # the most uncertain tweets first; go on until one has predicted spans
        reason = page.text_content("#why-reason") or ""
        assert reason.startswith("model unsure about '"), reason
        assert page.text_content("#why-strategy") == "mean_token_entropy"
        scores.append(float(page.text_content("#why-score") or "nan"))
        if _tags(page):
            break
        item = page.text_content("#item-id")
        page.keyboard.press("s")
        page.wait_for_function(
            "was => document.getElementById('item-id').textContent !== was",
            arg=item,
            timeout=30000,
        )
        _wait_task(page)
    assert scores == sorted(scores, reverse=True)  # served in the model's order
    shown = _tags(page)
    assert shown, "no tweet among the first 15 had predicted entities"
    assert all(suggested for *_, suggested in shown)
    page.wait_for_function("() => document.getElementById('model-version').textContent === 'v2'")
    chip = page.inner_text("#eval-accuracy >> xpath=..")
    assert re.fullmatch(r"eval span F1\s+[01]\.\d{3}", chip), chip
    page.screenshot(path=str(screenshots / "spans-wnut.png"))

    page.keyboard.press("Enter")  # one key accepts the model's spans
    deadline = time.monotonic() + 30
    stored = None
    while time.monotonic() < deadline:
        stored = page.request.get(f"{api}/annotations/previous").json()["annotation"]
        if stored is not None:
            break
        time.sleep(0.2)
    assert stored is not None
    assert [(s["start"], s["end"], s["label"]) for s in stored["value"]["entities"]] == [
        (start, end, label) for start, end, label, _ in shown
    ]
    assert errors == []
    page.close()


def test_the_project_page_plots_span_f1(wnut_server: WnutServer, browser: Any) -> None:
    viewport = {"width": 1200, "height": 900}
    page = signed_in_page(browser, wnut_server.url, "/p/entities", viewport=viewport)
    svg = page.wait_for_selector("#learning-curve svg")
    assert "Eval span F1 by number of training labels" in (svg.get_attribute("aria-label") or "")
    assert page.locator("#learning-curve circle.point").count() == 1  # v2; v1 had no model
    assert "Eval span F1" in page.inner_text("main")
    page.close()
