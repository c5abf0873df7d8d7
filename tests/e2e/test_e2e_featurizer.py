"""A project on TF-IDF and MiniLM side by side, as its manager meets it: CLI, API, project page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.admin_only import admin_only
from tests.e2e.conftest import Server, login, make_reviews, write_jsonl

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server holding the admin alone, without a learner: this test reads what the project
    page and the status say of a featurizer, not what a learner computes (see
    test_e2e_features_progress.py for that)."""
    with admin_only(tmp_path_factory, learner=False) as live:
        yield live


SLUG = "both"
HINT = "featurizer 'tfidf+minilm' needs: pip install 'labelloop[embeddings]' torch==2.13.0"


def test_e2e_tfidf_minilm_project_shows_its_features_everywhere(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    from labelloop.learn.featurize import missing_requirement

    schema = {
        "name": "Words and meaning",
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": list(server.labels), "target": True}
        ],
        "settings": {"featurizer": "tfidf+minilm"},
    }
    (tmp_path / "s.json").write_text(json.dumps(schema), encoding="utf-8")
    server.cli("projects", "create", SLUG, "--schema", str(tmp_path / "s.json"))
    pool, _ = make_reviews(n_pool=30, n_eval=0, seed=5)
    rows = [{"id": r["id"], "text": r["text"]} for r in pool]
    server.cli("import", SLUG, str(write_jsonl(tmp_path / "p.jsonl", rows)), "--id-field", "id")

    shown = server.cli("status", SLUG)
    assert re.search(r"│ featurizer\s+│ tfidf\+minilm\s+│", shown), shown
    missing = missing_requirement("tfidf+minilm")
    assert missing in (None, HINT)  # the server runs in this environment
    if missing is not None:
        assert re.search(r"│ features error\s+│ featurizer 'tfidf\+minilm' needs:", shown), shown

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{SLUG}")
    assert page.inner_text("#featurizer-name") == "tfidf+minilm"
    info = page.evaluate(f"fetch('/api/projects/{SLUG}/status').then(r => r.json())")
    assert info["featurizer"] == "tfidf+minilm"
    assert info["features"]["featurizer"] == "tfidf+minilm" and info["features"]["total"] == 30
    card = page.inner_text("#features-status")
    if missing is not None:  # without the extra: what to install, and the rounds go on on TF-IDF
        assert info["features"]["error"] == HINT
        assert page.inner_text("#features-error") == HINT
        assert "Rounds use tfidf meanwhile." in card
    else:  # with it: the learner computes the embeddings in the background
        assert info["features"]["error"] is None
        assert re.search(r"tfidf\+minilm features: \d+ of 30 items computed", card), card
    context.close()
