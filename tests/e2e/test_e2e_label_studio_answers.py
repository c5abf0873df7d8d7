"""A manager uploads a Label Studio export labeled by three annotators on the project page with
'Each annotator's answer' checked; the Quality page then shows their agreement and each one's
answers, and an item's trace says its answers came from the import."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SCHEMA
from tests.e2e.conftest import PASSWORD, USERNAME, login, run_cli, serving
from tests.workflow.test_workflow_label_studio_answers import overlap_export

pytestmark = pytest.mark.browser

SLUG = "moved"


def moving_project(tmp_path: Path) -> tuple[Path, Path]:
    """A data dir (its home) with the admin, project SLUG and its three annotators as members,
    and the Label Studio export of their answers (not imported yet)."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    (work / "schema.json").write_text(json.dumps(SCHEMA))
    run_cli(home, "projects", "create", SLUG, "--schema", str(work / "schema.json"))
    for name in ("ana", "ben", "cy@example.com"):
        run_cli(home, "users", "add", name)
        run_cli(home, "projects", "member", SLUG, name, "annotator")
    exported = work / "project-3-at-2024-05-01.json"
    exported.write_text(json.dumps(overlap_export()))
    return home, exported


def test_the_quality_page_shows_the_imported_agreement(tmp_path: Path, browser: Any) -> None:
    home, exported = moving_project(tmp_path)

    with serving(home, "serve", env={"LABELLOOP_LEARNER": "off"}) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, url, f"/p/{SLUG}")
        assert page.locator("#import-annotations-box").is_hidden()
        page.set_input_files("#import-file", str(exported))
        page.select_option("#import-format", "label_studio")
        page.check("#import-annotations")
        page.click("#import-submit")
        page.wait_for_selector("#import-form[data-state='done']", timeout=30000)
        said = " ".join(page.inner_text("#import-result").split())
        assert said.startswith("Imported 3 items, 3 with labels")
        assert "8 answers and 1 skip came in as their annotators' (3 members)" in said

        page.goto(f"{url}/p/{SLUG}/quality")
        assert page.inner_text("#stat-items") == "3"
        assert page.locator("#kappa-heatmap .hm-cell").count() == 9
        labels = {
            name: page.inner_text(f"#annotator-table tr[data-user='{name}'] td >> nth=0")
            for name in ("ana", "ben", "cy@example.com")
        }
        assert labels == {"ana": "3", "ben": "2", "cy@example.com": "3"}
        assert "2024-W18" in page.inner_text("#time-table")

        page.goto(f"{url}/p/{SLUG}/items?item=2")  # task 102, the second of a fresh store
        page.wait_for_selector("#trace-body .trace-answer-head")
        trace = page.inner_text("#trace-body")
        assert "from an import: answered in Label Studio (annotation 5); import 1:" in trace
        page.close()
