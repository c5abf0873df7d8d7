"""The Quality page's flag counts ("too fast 3", "ambiguous 1") each stay one badge on one line
when a table's Flags column is narrow, rather than breaking a badge's words over two lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import (
    answer_served,
    first_rounds,
    login,
    make_reviews,
    page_fetch,
    wait_task,
    write_jsonl,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def learner() -> bool:
    """The server runs no learner: the badges need only the first queue of the
    project the test makes, made here as the learner would make it (``first_rounds``)."""
    return False


def test_flag_badges_keep_their_words_together(server: Any, browser: Any, tmp_path: Any) -> None:
    slug = "badges"
    schema = {
        "name": "Badges",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "sentiment", "type": "choice", "labels": list(server.labels)}],
    }
    (tmp_path / "badges.json").write_text(json.dumps(schema))
    server.cli("projects", "create", slug, "--schema", str(tmp_path / "badges.json"))
    pool, _ = make_reviews(n_pool=8, n_eval=0, seed=11)
    server.cli("import", slug, str(write_jsonl(tmp_path / "b.jsonl", pool)), "--id-field", "id")
    first_rounds(server.home)  # the project's first queue
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}/label")
    wait_task(page)
    for _ in range(3):  # answered in a blink: each raises a "too fast" flag
        answer_served(page, slug, lambda t: {"sentiment": server.labels[0]}, active_ms=50)
    status, got = page_fetch(page, "POST", f"/api/projects/{slug}/tasks/next", {})
    assert status == 200 and got["task"], got
    flagged = f"/api/projects/{slug}/tasks/{got['task']['assignment_id']}/flag"
    assert page_fetch(page, "POST", flagged, {"note": "two products in one review"})[0] == 200
    page.goto(f"{server.url}/p/{slug}/quality")
    badges = page.eval_on_selector_all(
        "#label-table td .badge, #annotator-table td .badge",
        """bs => bs.map((b) => [b.textContent, b.getClientRects().length,
                              b.getBoundingClientRect().height])""",
    )
    texts = [t for t, _, _ in badges]
    assert any(t.startswith("ambiguous") for t in texts), badges
    assert any(t.startswith("too fast") for t in texts), badges
    one_line = min(h for _, _, h in badges)
    for text, rects, height in badges:
        assert rects == 1 and height < one_line * 1.5, (text, rects, height)
    context.close()
