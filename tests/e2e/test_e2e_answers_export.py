"""A manager ticks "Each annotator's answer" in the project page's export: the JSONL and CSV
downloads give a row per answer, the Label Studio one a task with every answer."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import login, run_cli, serving
from tests.e2e.test_e2e_label_studio_answers import SLUG, moving_project

pytestmark = pytest.mark.browser

BOXES = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}


def test_the_export_gives_a_row_per_answer_when_asked(
    tmp_path: Path, browser: Any, screenshots: Path
) -> None:
    home, exported = moving_project(tmp_path)
    run_cli(home, "import", SLUG, str(exported), "--format", "label_studio", "--annotations")
    boxes = exported.with_name("boxes.json")
    boxes.write_text(json.dumps(BOXES))
    run_cli(home, "projects", "create", "street", "--schema", str(boxes))

    with serving(home, "serve", env={"LABELLOOP_LEARNER": "off"}) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, url, f"/p/{SLUG}")
        jsonl, csv_link = page.locator("#export-jsonl"), page.locator("#export-csv")
        studio = page.locator("#export-label-studio")
        assert jsonl.get_attribute("href").endswith("/export?format=jsonl")
        assert studio.is_visible()

        page.check("#export-answers")
        assert jsonl.get_attribute("href").endswith("/export?format=jsonl&annotations=true")
        assert csv_link.get_attribute("href").endswith("/export?format=csv&annotations=true")
        assert studio.get_attribute("href").endswith("format=label_studio&annotations=true")
        fetch = (
            "(u) => fetch(u).then(async r => [r.headers.get('content-disposition'), "
            "await r.text()])"
        )
        disposition, body = page.evaluate(fetch, jsonl.get_attribute("href"))
        assert f'filename="{SLUG}.answers.jsonl"' in disposition
        rows = [json.loads(line) for line in body.splitlines()]
        assert len(rows) == 8, "8 answers came in; the skip is none"
        assert {r["annotator"] for r in rows} == {"ana", "ben", "cy@example.com"}
        assert all(r["strategy"] == "import" for r in rows)
        _, body = page.evaluate(fetch, csv_link.get_attribute("href"))
        table = list(csv.DictReader(io.StringIO(body)))
        assert [(r["answer_id"], r["annotator"]) for r in table] == [
            (str(r["answer_id"]), r["annotator"]) for r in rows
        ]

        _, body = page.evaluate(fetch, studio.get_attribute("href"))
        tasks = json.loads(body)
        assert [len(t["annotations"]) for t in tasks] == [3, 3, 2]
        assert [a["id"] for t in tasks for a in t["annotations"]] == [r["answer_id"] for r in rows]

        page.uncheck("#export-answers")
        assert jsonl.get_attribute("href").endswith("/export?format=jsonl")
        assert studio.is_visible()
        _, body = page.evaluate(fetch, jsonl.get_attribute("href"))
        assert len(body.splitlines()) == 3, "a row per labeled item again"

        # A boxes project's COCO and YOLO files hold one label per image: they step aside.
        page.goto(f"{url}/p/street")
        coco, yolo = page.locator("#export-coco"), page.locator("#export-yolo")
        assert coco.is_visible() and yolo.is_visible()
        page.check("#export-answers")
        assert coco.is_hidden() and yolo.is_hidden()
        page.locator(".export-card").screenshot(path=str(screenshots / "export-answers.png"))
        shown = page.eval_on_selector_all(
            ".export-card a:not([hidden]):not(#export-model)", "as => as.map(a => a.id)"
        )
        assert shown == ["export-jsonl", "export-label-studio"]
        page.uncheck("#export-answers")
        assert coco.is_visible() and coco.get_attribute("href").endswith("?format=coco")
        assert errors == []
        page.close()
