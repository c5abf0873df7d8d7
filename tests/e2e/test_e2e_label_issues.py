"""Label issues an early model raised on right labels leave the pages once a later round's
model agrees with those labels: the Quality page's count goes down and says the model closed
them, the project page stops asking for a second look, and the item's trace says why. An answer
the model contradicts comes to the Review page with the label the model suggested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLASSES, SCHEMA, make_rows, schema_with
from tests.e2e.conftest import (
    admin_and_project,
    login,
    run_cli,
    serving,
    write_jsonl,
)

pytestmark = pytest.mark.browser

SLUG = "issues"


def _train(home: Path) -> None:
    """A round, as a `labelloop worker` beside the server would run it."""
    from labelloop.cli.common import _open
    from labelloop.config import get_settings
    from labelloop.workflow import learning, projects

    _, db = _open(get_settings(home=home))
    try:
        learning.train(db, projects.system_context(db, SLUG))
    finally:
        db.dispose()


def _flag_as_an_early_round(home: Path, external_ids: list[str]) -> list[int]:
    """The label_issue flags an early, weak round raised on right labels; their item ids."""
    from labelloop.cli.common import _open
    from labelloop.config import get_settings
    from labelloop.store import review as store_review
    from labelloop.workflow import projects

    _, db = _open(get_settings(home=home))
    try:
        ctx = projects.system_context(db, SLUG)
        with db.read() as conn:
            ids = [
                int(store_review.items_by_external(conn, project_id=ctx.id, external_id=e)[0]["id"])
                for e in external_ids
            ]
        found = [
            {
                "item_id": i,
                "annotation_id": None,
                "user_id": None,
                "note": "labeled 'positive' but the model is 0.55 sure it is 'neutral'",
                "score": 0.3,
                "suggestion": "neutral",  # as a round writes them beside its note
                "suggestion_confidence": 0.55,
            }
            for i in ids
        ]
        with db.write() as conn:
            assert store_review.add_label_issues(conn, ctx.id, found, to_review=False) == ids
    finally:
        db.dispose()
    return ids


def _badge(page: Any) -> str:
    return " ".join(page.inner_text(".flag-summary [data-kind='label_issue']").split())


def test_the_quality_page_counts_only_the_labels_the_newest_model_doubts(
    tmp_path: Path, browser: Any
) -> None:
    home, work = admin_and_project(tmp_path, SLUG, SCHEMA)
    rows = make_rows(60, labeled=True)
    data = write_jsonl(work / "labeled.jsonl", rows)
    run_cli(home, "import", SLUG, str(data), "--id-field", "id", "--label-field", "label")
    _train(home)  # every label is right and this model agrees: nothing to flag
    doubted = _flag_as_an_early_round(home, [rows[2]["id"], rows[5]["id"]])  # both positive

    with serving(home, "serve", learner=False) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, url, f"/p/{SLUG}/quality")
        assert _badge(page) == "label issue 2 (2 open)"
        page.goto(f"{url}/p/{SLUG}")
        said = page.inner_text("#stop-relabel")
        assert "2 labels the model contradicts are flagged for a second look" in said
        # ...and it leads to them: the Quality page it named only counted them.
        page.click("#stop-relabel-link")
        page.wait_for_selector("#items-rows tr")
        assert page.input_value("#f-status") == "flagged"
        shown = page.eval_on_selector_all(
            "#items-rows tr", "rows => rows.map(r => r.cells[0].innerText.trim())"
        )
        assert sorted(shown) == sorted([rows[2]["id"], rows[5]["id"]])

        _train(home)  # the next round: its model agrees with both labels

        page.goto(f"{url}/p/{SLUG}/quality")
        assert _badge(page) == "label issue 2 (0 open, 2 closed by the model)"
        assert page.inner_text("#stat-flags") == "0"
        page.goto(f"{url}/p/{SLUG}")
        assert page.locator("#stop-relabel").count() == 0
        page.goto(f"{url}/p/{SLUG}/items?item={doubted[0]}")
        page.wait_for_selector("#trace-body table")
        trace = page.inner_text("#trace-body")
        assert "closed by the learner (model v2): it now agrees with 'positive'" in trace
        page.close()


def _answer_against_the_model(home: Path) -> tuple[dict[str, Any], int]:
    """A new annotator's answer to the first item served, a label other than the one the model
    suggests there; that suggestion (``label``, ``confidence``) and the item's id."""
    from labelloop.cli.common import _open
    from labelloop.config import get_settings
    from labelloop.govern.permissions import Permission
    from labelloop.workflow import accounts, projects, tasks

    _, db = _open(get_settings(home=home))
    try:
        user = accounts.create_user(db, "ann", None)
        projects.set_member(db, projects.system_context(db, SLUG), "ann", "annotator")
        ann = projects.access(db, SLUG, user, Permission.VIEW_PROJECT)
        task = tasks.next_task(db, ann)
        assert task is not None and task["suggestion"] is not None
        shown = task["suggestion"]
        other = next(c for c in CLASSES if c != shown["label"])
        tasks.submit(db, ann, task["assignment_id"], {"sentiment": other}, active_ms=4000)
    finally:
        db.dispose()
    return dict(shown), int(task["item"]["id"])


def test_the_review_page_and_the_trace_show_what_the_model_suggested_against_an_answer(
    tmp_path: Path, browser: Any
) -> None:
    schema = schema_with(review_policy="flagged", contradiction_threshold=0.5)
    home, work = admin_and_project(tmp_path, SLUG, schema)
    labeled = write_jsonl(work / "labeled.jsonl", make_rows(60, labeled=True))
    run_cli(home, "import", SLUG, str(labeled), "--id-field", "id", "--label-field", "label")
    more = write_jsonl(work / "more.jsonl", make_rows(20, start=100))
    run_cli(home, "import", SLUG, str(more), "--id-field", "id")
    _train(home)
    shown, item_id = _answer_against_the_model(home)
    assert shown["confidence"] >= 0.5  # the model's guess, confident enough to contradict
    raised = f"model says {shown['label']} ({shown['confidence']:.2f})"  # the flag's note

    with serving(home, "serve", learner=False) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, url, f"/p/{SLUG}/review")
        flag = page.locator("#flag-list .flag[data-kind='model_contradicts']")
        flag.wait_for()
        said = " ".join(flag.inner_text().split())
        assert said == (
            f"model contradicts ann: model says: {shown['label']} ({shown['confidence']:.2f})"
        )
        # the sentence that raised it is there on hover
        assert flag.get_attribute("title") == raised

        page.goto(f"{url}/p/{SLUG}/items?item={item_id}")
        flags = page.locator("#trace-body .trace-part:has(h3:text-is('Flags')) tbody tr")
        flags.first.wait_for()
        assert flags.count() == 1
        kind, note = (flags.locator("td").nth(k) for k in (0, 1))
        assert kind.inner_text() == "model contradicts"
        assert note.inner_text() == f"model says: {shown['label']} ({shown['confidence']:.2f})"
        assert note.locator(".flag-suggestion").get_attribute("title") == raised
        page.close()
