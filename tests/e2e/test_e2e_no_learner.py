"""A server whose learner is off, and no worker beside it: the pages say why nothing is queued
and what starts it, instead of "the model is preparing more" for ever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    PASSWORD,
    USERNAME,
    _schema,
    login,
    run_cli,
    serving,
    write_jsonl,
)

pytestmark = pytest.mark.browser


def test_without_a_learner_the_labeling_and_project_pages_say_so(
    tmp_path: Path, browser: Any
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    run_cli(home, "projects", "create", "team", "--schema", str(_schema(work / "s.json", "Team")))
    rows = [{"id": f"r{i}", "text": f"review number {i} of the shop"} for i in range(3)]
    run_cli(home, "import", "team", str(write_jsonl(work / "r.jsonl", rows)), "--id-field", "id")
    assert "No learner has run on this database" in run_cli(home, "status", "team")

    with serving(home, "serve", env={"LABELLOOP_LEARNER": "off"}) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, url, "/p/team/label")
        page.wait_for_function(
            "() => document.getElementById('label-app').dataset.state === 'empty'"
            " && document.body.innerText.includes('no learner is running')",
            timeout=30000,
        )
        said = page.inner_text("body")
        assert "The 3 items left wait for a learner" in said and "labelloop worker" in said
        assert "preparing more" not in said

        page.goto(url + "/p/team")
        assert "No learner has run on this database" in page.inner_text("#learner-down")
        page.close()
