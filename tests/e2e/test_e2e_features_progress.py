"""A MiniLM project's page counts its embeddings as the learner computes them, without a reload:
on a large pool that takes minutes, and a page that shows the count it was opened with looks
stuck."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _worker(home: Path) -> Iterator[None]:
    """A learner worker (``labelloop worker``) on ``home`` while the block runs."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "labelloop", "worker"],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def _minilm_project(tmp_path: Path) -> tuple[Path, Path]:
    """A data dir (home) with an admin and the empty MiniLM project 'meaning', and a work
    folder for its files."""
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
    return home, work


def _tfidf_round(home: Path) -> None:
    """The background learner's round while the embeddings are not computed: it trains on
    tfidf. Run here, as the learner would, without a new interpreter importing labelloop."""
    from labelloop.store.db import Database
    from labelloop.workflow import learning, projects
    from labelloop.workflow.features import FeatureCache

    db = Database(f"sqlite:///{home / 'labelloop.db'}")
    try:
        ctx = projects.system_context(db, "meaning")
        learning.train(db, ctx, cache=FeatureCache(home / "features"), wait_for_features=False)
    finally:
        db.dispose()


def test_the_page_counts_embeddings_as_computed_and_the_card_follows_the_round_on_them(
    tmp_path: Path, browser: Any
) -> None:
    # The card kept saying "on tfidf features" after the embeddings finished, until a reload;
    # the count of embeddings computed stayed at what the page was opened with.
    home, work = _minilm_project(tmp_path)
    pool, _ = make_reviews(n_pool=40, n_eval=0, seed=5)
    rows = [{**r, "label": r["label"] if i < 20 else None} for i, r in enumerate(pool)]
    path = str(write_jsonl(work / "p.jsonl", rows))
    run_cli(home, "import", "meaning", path, "--id-field", "id", "--label-field", "label")
    _tfidf_round(home)

    # The server alone computes nothing; the page is open before a learner starts.
    with serving(home, "serve", learner=False) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, url, "/p/meaning")
        assert page.inner_text("#features-line") == (
            "0 of 40 items computed in the background; rounds use tfidf until they are all done."
        )
        fill = "document.getElementById('features-progress-fill').style.width"
        assert page.evaluate(fill) == "0%"
        sub = page.inner_text("#stat-model-sub")
        assert page.inner_text("#stat-model") == "v1" and " on tfidf features, 20 labels" in sub
        with _worker(home):
            page.wait_for_function(
                "() => document.getElementById('features-line').textContent"
                " === '40 of 40 items computed.'",
                timeout=180000,
            )
            assert page.evaluate(fill) == "100%"
            assert page.get_attribute("#features-progress", "aria-valuenow") == "100.0"
            page.wait_for_function(
                "() => document.getElementById('stat-model-sub').textContent"
                ".includes(' on minilm features, 20 labels')",
                timeout=180000,
            )
        assert page.inner_text("#stat-model") == "v2"
        assert page.inner_text("#features-line") == "40 of 40 items computed."
        page.close()
