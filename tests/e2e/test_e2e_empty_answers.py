"""An answer with nothing in it, in real Chromium: an annotator who accepted a text with no spans,
an image with no boxes or no topic at all answered "no spans", "no boxes", "no labels", and
every page that says an answer says so (the Items page's list and trace, the review page, the
rework banner, My answers, the quality page's gold items), not an unknown "none"."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import desk, login, run_cli, serving, wait_task

pytestmark = pytest.mark.browser

TEXTS = "empty"  # project: a spans target and a multi_choice, every answer reviewed
IMAGES = "objs"  # project: a boxes target, no review
MANAGER = ("mara", "mara-password-123")
ANNOTATOR = ("ann", "ann-password-123")
SCHEMA = {
    "name": "Entities and topics",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {"name": "entities", "type": "spans", "labels": ["person", "place"], "target": True},
        {"name": "topics", "type": "multi_choice", "labels": ["sports", "politics"]},
    ],
    "settings": {"review_policy": "all"},
}
NOTHING = {"entities": [], "topics": []}


@dataclass
class Site:
    url: str
    home: Path
    rejected: int  # item ids: the answer sent back, the one waiting for review, the image
    waiting: int
    image: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from PIL import Image

    from labelloop.store.db import Database
    from labelloop.workflow import imports, projects, review, tasks
    from tests.conftest import Lab

    home = tmp_path_factory.mktemp("labelloop-empty")
    run_cli(home, "init")
    folder = home / "media" / "street"
    folder.mkdir(parents=True)
    Image.new("RGB", (60, 40), (200, 210, 220)).save(folder / "one.png")
    boxes = {
        "name": "Objects",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "sign"]}],
    }
    for slug, schema in ((TEXTS, SCHEMA), (IMAGES, boxes)):
        (home / f"{slug}.json").write_text(json.dumps(schema), encoding="utf-8")
        run_cli(home, "projects", "create", slug, "--schema", str(home / f"{slug}.json"))
    run_cli(home, "import", IMAGES, str(folder))
    rows = "".join(
        json.dumps({"id": f"t{i}", "text": f"Nobody went anywhere {i}."}) + "\n" for i in (1, 2)
    )
    db = Database(f"sqlite:///{home / 'labelloop.db'}")
    try:
        lab = Lab(db)
        for slug in (TEXTS, IMAGES):
            for (name, password), role in ((MANAGER, "manager"), (ANNOTATOR, "annotator")):
                if name not in lab.users:
                    lab.user(name, password=password)
                lab.member(slug, name, role)
        ctx = projects.system_context(db, TEXTS)
        imports.import_items(
            db, ctx, io.BytesIO(rows.encode()), fmt="jsonl", filename="t.jsonl", id_field="id"
        )
        answers = []
        for slug, value in ((TEXTS, NOTHING), (TEXTS, NOTHING), (IMAGES, {"objects": []})):
            lab.train(projects.system_context(db, slug))
            ann = lab.ctx(slug, lab.users[ANNOTATOR[0]])
            task = tasks.next_task(db, ann)
            assert task is not None
            done = tasks.submit(db, ann, task["assignment_id"], value, active_ms=1500)
            answers.append({**done, "name": task["item"]["external_id"]})
        manager = lab.ctx(TEXTS, lab.users[MANAGER[0]])
        review.review_annotation(
            db, manager, answers[0]["annotation_id"], verdict="reject", comment="look again"
        )
    finally:
        db.dispose()
    # The terminal says the gold answer as the pages do.
    image = answers[2]
    said = run_cli(home, "gold", "set", IMAGES, f"#{image['item_id']}")
    assert " ".join(said.split()) == f"item {image['name']} is gold: no boxes"
    with serving(home, "serve", learner=False) as url:  # its models trained above
        yield Site(
            url=url,
            home=home,
            rejected=int(answers[0]["item_id"]),
            waiting=int(answers[1]["item_id"]),
            image=int(image["item_id"]),
        )


def _trace(page: Any, url: str, slug: str, item_id: int) -> str:
    """The Items page (or My answers) opened on one item: its trace, on one line."""
    page.goto(url + f"/p/{slug}/items?item={item_id}")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id", arg=str(item_id)
    )
    page.wait_for_selector("#items-rows tr")
    return " ".join(page.inner_text("#item-trace").split())


def _listed(page: Any, item_id: int) -> str:
    """An item's label (or the annotator's own answer) in the list, without how it was decided."""
    cell = page.inner_text(f"#items-rows tr[data-item-id='{item_id}'] .items-label")
    return str(cell.split("\n")[0])


def _says_none(trace: str) -> bool:
    """Whether a trace says "none" of an answer; "picked by model: none (v1 was a cold
    start)" or "none (v1 had no prediction for it)" says it of the model that picked the item,
    not of the answer."""
    picked = r"\(v\d+ (?:was a cold start|had no prediction for it)\)"
    return re.search(rf"\bnone\b(?! {picked})", trace) is not None


def test_a_manager_reads_no_spans_no_labels_and_no_boxes(site: Site, browser: Any) -> None:
    context, page, problems = desk(browser)
    page.set_default_timeout(15000)
    login(page, site.url, f"/p/{TEXTS}/items", username=MANAGER[0], password=MANAGER[1])

    # The Items page's trace: the answer, the history, each control by name.
    trace = _trace(page, site.url, TEXTS, site.waiting)
    assert "ann answered entities: no spans; topics: no labels" in trace, trace
    assert "labeled it entities: no spans; topics: no labels" in trace, trace
    assert not _says_none(trace), trace

    # The review page: the answer under review, as its short label and control by control.
    page.goto(site.url + f"/p/{TEXTS}/review")
    page.wait_for_function("() => document.getElementById('review-app').dataset.state === 'review'")
    assert page.inner_text("#review-label") == "no spans"
    values = page.eval_on_selector_all("#review-values li", "ls => ls.map(l => l.textContent)")
    assert values == ["entities: no spans", "topics: no labels"]

    # An image accepted with no boxes: its label in the list and the trace; its gold answer.
    trace = _trace(page, site.url, IMAGES, site.image)
    assert "ann answered no boxes" in trace and not _says_none(trace), trace
    assert _listed(page, site.image) == "no boxes"
    page.goto(site.url + f"/p/{IMAGES}/quality")
    page.wait_for_selector("#gold-table tbody tr")
    assert "no boxes" in page.inner_text("#gold-table tbody tr")
    assert problems == []
    context.close()


def test_an_annotator_reads_no_spans_when_sent_back_and_in_my_answers(
    site: Site, browser: Any
) -> None:
    context, page, problems = desk(browser)
    page.set_default_timeout(15000)
    login(page, site.url, f"/p/{TEXTS}/label", username=ANNOTATOR[0], password=ANNOTATOR[1])

    # The rework banner: the answer sent back, in words.
    wait_task(page)
    assert page.is_visible("#rework-banner")
    assert page.inner_text("#rework-previous") == "entities: no spans; topics: no labels"
    # Choosing a topic and taking it back: a screen reader hears "no labels".
    page.click("#controls button.label-btn[data-control='topics'][data-label='sports']")
    assert page.inner_text("#choice-news") == "topics: sports"
    page.click("#controls button.label-btn[data-control='topics'][data-label='sports']")
    assert page.inner_text("#choice-news") == "topics: no labels"

    # My answers: the answer in the list and in the trace.
    trace = _trace(page, site.url, TEXTS, site.waiting)
    assert "You answered entities: no spans; topics: no labels" in trace, trace
    assert _listed(page, site.waiting) == "no spans"
    trace = _trace(page, site.url, IMAGES, site.image)
    assert "answered no boxes" in trace, trace
    assert _listed(page, site.image) == "no boxes"
    assert problems == []
    context.close()
