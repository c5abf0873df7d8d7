"""A MiniLM project's page counts its embeddings as the learner computes them, without a reload:
on a large pool that takes minutes, and a page that shows the count it was opened with looks
stuck."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    LABELS,
    PASSWORD,
    USERNAME,
    _env,
    login,
    make_reviews,
    run_cli,
    serving,
    write_jsonl,
)

pytestmark = pytest.mark.browser


def test_the_project_page_counts_embeddings_as_they_are_computed(
    tmp_path: Path, browser: Any
) -> None:
    from labelloop.learn.featurize import missing_requirement

    if missing_requirement("minilm") is not None:
        pytest.skip("the embeddings extra is not installed")
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    schema = {
        "name": "Meaning",
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": list(LABELS), "target": True}
        ],
        "settings": {"featurizer": "minilm"},
    }
    (work / "s.json").write_text(json.dumps(schema), encoding="utf-8")
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    run_cli(home, "projects", "create", "meaning", "--schema", str(work / "s.json"))
    pool, _ = make_reviews(n_pool=40, n_eval=0, seed=3)
    rows = [{"id": r["id"], "text": r["text"]} for r in pool]
    run_cli(home, "import", "meaning", str(write_jsonl(work / "p.jsonl", rows)), "--id-field", "id")

    # The server alone computes nothing; the page is open before a learner starts.
    with serving(home, "serve", env={"LABELLOOP_LEARNER": "off"}) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, url, "/p/meaning")
        assert page.inner_text("#features-line") == (
            "0 of 40 items computed in the background; rounds use tfidf until they are all done."
        )
        fill = "document.getElementById('features-progress-fill').style.width"
        assert page.evaluate(fill) == "0%"
        worker = subprocess.Popen(
            [sys.executable, "-m", "labelloop", "worker"],
            env=_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            page.wait_for_function(
                "() => document.getElementById('features-line').textContent"
                " === '40 of 40 items computed.'",
                timeout=180000,
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        assert page.evaluate(fill) == "100%"
        assert page.get_attribute("#features-progress", "aria-valuenow") == "100.0"
        page.close()
