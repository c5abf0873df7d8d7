"""A manager uploads a Label Studio export labeled by three annotators on the project page with
'Each annotator's answer' checked; the Quality page then shows their agreement and each one's
answers, and an item's trace says its answers came from the import. Ticked in the export, that
box gives a row per answer in the JSONL and CSV downloads and every answer in the Label Studio
one (one server and project for both: each took ten seconds to make).

The server runs without a learner, and no worker beside it: on a project of its own the pages
say why nothing is queued and what starts it, instead of "the model is preparing more" for
ever."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SCHEMA
from tests.e2e.conftest import (
    Server,
    _schema,
    admin_and_project,
    login,
    run_cli,
    serving,
    write_jsonl,
)
from tests.workflow.test_workflow_label_studio_answers import overlap_export

pytestmark = pytest.mark.browser

SLUG = "moved"
BOXES = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}


def moving_project(tmp_path: Path) -> tuple[Path, Path]:
    """A data dir (its home) with the admin, project SLUG and its three annotators as members,
    and the Label Studio export of their answers (not imported yet)."""
    home, work = admin_and_project(tmp_path, SLUG, SCHEMA)
    for name in ("ana", "ben", "cy@example.com"):
        run_cli(home, "users", "add", name)
        run_cli(home, "projects", "member", SLUG, name, "annotator")
    exported = work / "project-3-at-2024-05-01.json"
    exported.write_text(json.dumps(overlap_export()))
    return home, exported


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """:func:`moving_project` (its export not imported yet), the boxes project 'street' and the
    project 'team' of three unlabeled reviews, on a server without a learner; and the export."""
    home, exported = moving_project(tmp_path_factory.mktemp("moved"))
    boxes = exported.with_name("boxes.json")
    boxes.write_text(json.dumps(BOXES))
    run_cli(home, "projects", "create", "street", "--schema", str(boxes))
    team = _schema(exported.with_name("team.json"), "Team")
    run_cli(home, "projects", "create", "team", "--schema", str(team))
    rows = [{"id": f"r{i}", "text": f"review number {i} of the shop"} for i in range(3)]
    team_rows = write_jsonl(exported.with_name("r.jsonl"), rows)
    run_cli(home, "import", "team", str(team_rows), "--id-field", "id")
    with serving(home, "serve", learner=False) as url:
        yield Server(url=url, home=home), exported


def test_the_quality_page_shows_the_imported_agreement_and_the_export_each_answer(
    site: tuple[Server, Path], browser: Any, screenshots: Path
) -> None:
    server, exported = site
    url = server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
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

    # task 102, the second item of the store after the three of project team, whose import
    # was the store's first
    page.goto(f"{url}/p/{SLUG}/items?item=5")
    page.wait_for_selector("#trace-body .trace-answer-head")
    trace = page.inner_text("#trace-body")
    assert "from an import: answered in Label Studio (annotation 5); import 2:" in trace

    _the_export_gives_a_row_per_answer_when_asked(page, url, screenshots)
    assert errors == []
    page.close()


def _the_export_gives_a_row_per_answer_when_asked(page: Any, url: str, screenshots: Path) -> None:
    """A manager ticks "Each annotator's answer" in the project page's export: the JSONL and CSV
    downloads give a row per answer, the Label Studio one a task with every answer; a boxes
    project's COCO and YOLO files step aside."""
    page.goto(f"{url}/p/{SLUG}")
    jsonl, csv_link = page.locator("#export-jsonl"), page.locator("#export-csv")
    studio = page.locator("#export-label-studio")
    assert jsonl.get_attribute("href").endswith("/export?format=jsonl")
    assert studio.is_visible()

    page.check("#export-answers")
    assert jsonl.get_attribute("href").endswith("/export?format=jsonl&annotations=true")
    assert csv_link.get_attribute("href").endswith("/export?format=csv&annotations=true")
    assert studio.get_attribute("href").endswith("format=label_studio&annotations=true")
    fetch = (
        "(u) => fetch(u).then(async r => [r.headers.get('content-disposition'), await r.text()])"
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

    # "With the images" makes the COCO and YOLO downloads zips holding each item's image.
    assert (coco.inner_text(), yolo.inner_text()) == ("Download COCO JSON", "Download YOLO zip")
    page.check("#export-images")
    said = (coco.inner_text(), yolo.inner_text())
    assert said == ("Download COCO zip with the images", "Download YOLO zip with the images")
    assert coco.get_attribute("href").endswith("?format=coco&images=true")
    assert yolo.get_attribute("href").endswith("?format=yolo&images=true")
    assert page.locator("#export-jsonl").get_attribute("href").endswith("?format=jsonl")
    status, disposition = page.evaluate(
        "(u) => fetch(u).then(r => [r.status, r.headers.get('content-disposition')])",
        coco.get_attribute("href"),
    )
    assert (status, 'filename="street.coco.zip"' in disposition) == (200, True)
    page.uncheck("#export-images")
    assert coco.get_attribute("href").endswith("?format=coco")
    assert (coco.inner_text(), yolo.inner_text()) == ("Download COCO JSON", "Download YOLO zip")


def test_without_a_learner_the_labeling_and_project_pages_say_so(
    site: tuple[Server, Path], browser: Any
) -> None:
    server = site[0]
    assert "No learner has run on this database" in server.cli("status", "team")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    login(page, server.url, "/p/team/label")
    page.wait_for_function(
        "() => document.getElementById('label-app').dataset.state === 'empty'"
        " && document.body.innerText.includes('no learner is running')",
        timeout=30000,
    )
    said = page.inner_text("body")
    assert "The 3 items left wait for a learner" in said and "labelloop worker" in said
    assert "preparing more" not in said

    page.goto(server.url + "/p/team")
    assert "No learner has run on this database" in page.inner_text("#learner-down")
    page.close()
