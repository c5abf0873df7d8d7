"""A new project's first minutes in real Chromium on a live `labelloop serve`: made and filled
while the server runs, its labeling page says what it waits for and shows the learner's first
picks within seconds, by itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    LABELS,
    USERNAME,
    make_reviews,
    page_fetch,
    serving,
    wait_answer,
)
from tests.e2e.sessions import signed_in_page
from tests.e2e.stock import stocked

pytestmark = pytest.mark.browser

FIRST_ITEMS_S = 60.0
"""The bound: on a loaded machine (other tests beside) starting the learner process takes
seconds more than the round itself."""

SCHEMA = {
    "name": "Fresh reviews",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "sentiment", "type": "choice", "labels": list(LABELS), "target": True}],
    "settings": {"retrain_every": 3},
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

SEEN = """document.addEventListener('DOMContentLoaded', () => {
    const box = document.getElementById('empty-state');
    const title = document.getElementById('empty-title');
    window.__seen = [];
    const note = () => {
        if (!box.hidden && window.__seen.at(-1) !== title.textContent) {
            window.__seen.push(title.textContent);
        }
    };
    new MutationObserver(note).observe(document.getElementById('label-app'), {
        subtree: true, childList: true, characterData: true, attributes: true,
    });
});"""
"""Every title the page's empty state showed while shown, from the page's start."""

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
        page.add_init_script(SEEN)
        page.goto(url + "/p/fresh/label")
        page.wait_for_function(
            "() => document.getElementById('empty-state').dataset.idle === 'empty'",
            timeout=15000,
        )
        assert page.text_content("#empty-title") == "No items to label yet."
        # Until the server said why, the page said "No item for you right now." for a second.
        seen = page.evaluate("() => window.__seen")
        assert seen == ["Looking for an item for you…", "No items to label yet."], seen
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
        assert page.text_content("#why-model") == "none (v1 was a cold start)"
        # The stats line's chip read "model v1" beside that reason: v1 is the round that
        # picked the first items, and it says there is no model yet, as the reason does.
        page.wait_for_function(
            "() => document.getElementById('model-version').textContent === 'v1'"
        )
        line = " ".join(page.inner_text("#status-line").split())
        assert "round v1 · no model yet" in line and "model v1" not in line, line

        # The item shown stays leased while three others are labeled and v2 is trained; a page
        # opened then (another tab) is served it again, never having seen v1 as current: it
        # read "Picked by model v1", and says the cold start now, as the server tells it.
        shown = int(page.get_attribute("#label-app", "data-assignment-id") or 0)
        for i in range(3):
            status, body = page_fetch(
                page, "POST", "/api/projects/fresh/tasks/next", {"held": [shown]}
            )
            assert status == 200 and body["task"]["assignment_id"] != shown, body
            status, body = page_fetch(
                page,
                "POST",
                f"/api/projects/fresh/tasks/{body['task']['assignment_id']}/submit",
                {"value": {"sentiment": LABELS[i]}, "active_ms": 2000},
            )
            assert status == 200, body
        wait_answer(
            page,
            "() => fetch('/api/projects/fresh/status').then(r => r.json())"
            ".then(d => d.model && d.model.version >= 2)",
            timeout_ms=FIRST_ITEMS_S * 1000,
        )
        other = page.context.new_page()
        other.goto(url + "/p/fresh/label")
        other.wait_for_function(
            "() => document.getElementById('model-version').textContent === 'v2'"
        )
        assert other.get_attribute("#label-app", "data-assignment-id") == str(shown)
        assert other.text_content("#why-model") == "none (v1 was a cold start)"
        line = " ".join(other.inner_text("#status-line").split())
        assert "model v2" in line and "no model yet" not in line, line  # v2 is a trained model
        other.close()
        page.close()
