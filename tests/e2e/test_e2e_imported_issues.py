"""The Review page serves an imported label the model contradicts, under the review policy
``flagged``, once no answer waits: it says where the label came from and the label the model
says instead (the note that raised the flag on hover), A keeps it and N passes it by, and the
queue runs dry once each is decided."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SCHEMA, make_rows
from tests.e2e.conftest import (
    admin_and_project,
    login,
    run_cli,
    serving,
    write_jsonl,
)
from tests.e2e.test_e2e_label_issues import SLUG as ISSUES_SLUG
from tests.e2e.test_e2e_label_issues import _flag_as_an_early_round

pytestmark = pytest.mark.browser

SLUG = ISSUES_SLUG  # the project the label-issue walk's helper flags labels in


def test_the_review_page_keeps_a_flagged_imported_label(tmp_path: Path, browser: Any) -> None:
    home, work = admin_and_project(tmp_path, SLUG, SCHEMA)
    run_cli(home, "projects", "set", SLUG, "review_policy=flagged")
    rows = make_rows(12, labeled=True)
    data = write_jsonl(work / "tweets.jsonl", rows)
    run_cli(home, "import", SLUG, str(data), "--id-field", "id", "--label-field", "label")
    _flag_as_an_early_round(home, [rows[2]["id"], rows[5]["id"]])

    with serving(home, "serve", learner=False) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, url, f"/p/{SLUG}/review")
        page.wait_for_selector("#review-annotator:has-text('an import of tweets.jsonl')")
        # what the model says instead, from the flag's data; the note that raised it on hover
        meta = page.locator("#review-meta")
        said = " ".join(meta.inner_text().split())
        assert said.endswith("imported label · model says: neutral (0.55)"), said
        assert meta.get_attribute("title") == (
            "labeled 'positive' but the model is 0.55 sure it is 'neutral'"
        )
        shown = "document.getElementById('review-app').dataset.itemId"
        first = page.get_attribute("#review-app", "data-item-id")
        page.keyboard.press("n")  # passed by: the other one comes
        page.wait_for_function(f"first => ({shown} || first) !== first", arg=first)
        page.wait_for_selector("#review-annotator:has-text('an import of tweets.jsonl')")
        second = page.text_content("#item-id")
        page.keyboard.press("a")
        page.wait_for_selector(f'#messages:has-text("Kept item {second}\'s imported label")')
        page.wait_for_function(f"first => {shown} === first", arg=first)
        page.keyboard.press("a")
        page.wait_for_selector(".empty-title:visible")
        page.close()
    listed = run_cli(home, "items", SLUG, "--status", "flagged", "--json")
    assert json.loads(listed)["items"] == []
