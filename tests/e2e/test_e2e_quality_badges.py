"""The Quality page's flag counts ("too fast 3", "ambiguous 1") each stay one badge on one line
when a table's Flags column is narrow, rather than breaking a badge's words over two lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import (
    HeldAnswer,
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


def _reviews_project(server: Any, tmp_path: Any, slug: str, *, n: int) -> list[dict[str, Any]]:
    """A project ``slug`` of ``n`` reviews to sort by sentiment; the reviews, with their class."""
    schema = {
        "name": slug,
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "sentiment", "type": "choice", "labels": list(server.labels)}],
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    server.cli("projects", "create", slug, "--schema", str(tmp_path / "schema.json"))
    pool, _ = make_reviews(n_pool=n, n_eval=0, seed=11)
    server.cli("import", slug, str(write_jsonl(tmp_path / "r.jsonl", pool)), "--id-field", "id")
    return pool


def test_flag_badges_keep_their_words_together(server: Any, browser: Any, tmp_path: Any) -> None:
    slug = "badges"
    _reviews_project(server, tmp_path, slug, n=8)
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


def test_two_gold_items_removed_close_together_both_leave_the_table(
    server: Any, browser: Any, tmp_path: Any
) -> None:
    """Each removal fetches the gold items again; the first one's list, answered here only after
    the second's is drawn, listed the second item again as gold, until a reload."""
    slug = "gold-twice"
    pool = _reviews_project(server, tmp_path, slug, n=4)
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}/quality")
    names = [row["id"] for row in pool[:2]]
    for row in pool[:2]:
        gold = {"external_id": row["id"], "value": {"sentiment": row["label"]}}
        assert page_fetch(page, "PUT", f"/api/projects/{slug}/gold", gold)[0] == 200
    page.reload()
    rows = [page.locator("#gold-table tbody tr", has_text=name) for name in names]
    rows[1].wait_for()
    held = HeldAnswer(page, f"{server.url}/api/projects/{slug}/gold")
    rows[0].get_by_role("button", name="Remove").click()
    assert names[1] in held.text("the gold items after the first removal")
    rows[1].get_by_role("button", name="Remove").click()
    rows[1].wait_for(state="detached")
    held.release()
    assert [row.count() for row in rows] == [0, 0]
    assert page.inner_text("#gold-table tbody") == "No gold items yet."
    context.close()
