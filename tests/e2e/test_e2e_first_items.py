"""A new project's first minutes in real Chromium on a live `labelloop serve`: made and filled
while the server runs, its labeling page says what it waits for and shows the learner's first
picks within seconds, by itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LABELS, USERNAME, make_reviews, page_fetch, serving
from tests.e2e.sessions import signed_in_page
from tests.e2e.stock import stocked

pytestmark = pytest.mark.browser

FIRST_ITEMS_S = 60.0
"""The bound: the learner process starts at idle priority, which on a loaded machine takes
seconds more than the round itself."""

SCHEMA = {
    "name": "Fresh reviews",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "sentiment", "type": "choice", "labels": list(LABELS), "target": True}],
}

UPLOAD = """([slug, text]) => {
    const form = new FormData();
    form.append('file', new Blob([text], {type: 'application/x-ndjson'}), 'reviews.jsonl');
    form.append('id_field', 'id');
    return fetch(`/api/projects/${slug}/imports`, {
        method: 'POST', body: form,
        headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
    }).then(async r => [r.status, await r.json()]);
}"""

TITLES = """() => {
    window.__titles = [document.getElementById('empty-title').textContent];
    new MutationObserver(() => window.__titles.push(
        document.getElementById('empty-title').textContent)
    ).observe(document.getElementById('empty-title'), {childList: true, characterData: true,
                                                        subtree: true});
}"""


def test_a_project_made_and_filled_while_serving_gets_its_first_picks_promptly(
    tmp_path: Path, sqlite_migrated: Path, browser: Any
) -> None:
    """A project made on a running server said "Everything is labeled." until its first import,
    and after it kept saying so for up to 10 s; now it says no items are there yet, then that
    the first are being chosen, until the learner's first pick shows with its reason."""
    import json

    with stocked(tmp_path, sqlite_migrated, first_rounds=False) as stock:
        stock.user(USERNAME, admin=True)
    pool, _ = make_reviews(40, 0)
    with serving(tmp_path, "serve") as url:
        page = signed_in_page(browser, url, "/")
        status, body = page_fetch(
            page, "POST", "/api/projects", {"slug": "fresh", "schema": SCHEMA}
        )
        assert status == 201, body
        page.goto(url + "/p/fresh/label")
        page.wait_for_function(
            "() => document.getElementById('empty-state').dataset.idle === 'empty'",
            timeout=15000,
        )
        assert page.text_content("#empty-title") == "No items to label yet."
        page.evaluate(TITLES)
        rows = "".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in pool)
        status, body = page.evaluate(UPLOAD, ["fresh", rows])
        assert status == 201 and body["items"] == 40, body
        imported = time.monotonic()
        page.wait_for_function(
            "() => document.getElementById('label-app').dataset.state === 'task'",
            timeout=FIRST_ITEMS_S * 1000,
        )
        waited = time.monotonic() - imported
        assert waited < FIRST_ITEMS_S
        reason = page.text_content("#why-reason") or ""
        assert "picked while the project had no labels" in reason, reason
        assert page.text_content("#why-strategy") not in ("", "random")
        seen = page.evaluate("() => window.__titles")
        assert set(seen) <= {"No items to label yet.", "Choosing the first items to label…"}, seen
        page.close()
