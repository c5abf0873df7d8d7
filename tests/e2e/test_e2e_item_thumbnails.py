"""Thumbnails in the Items list and My answers of a boxes project, in real Chromium: every row
shows its image in a box of fixed size, a labeled item's boxes lie on its picture, the rows are
still walked by keyboard, and a phone-wide page does not scroll sideways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.e2e.conftest import (
    USERNAME,
    answer_served,
    login,
    phone,
    wait_task,
    wide_elements,
)
from tests.e2e.stock import Stock, serving_stocked
from tests.e2e.test_e2e_boxes import _schema

pytestmark = pytest.mark.browser

SLUG = "street"
ANNOTATOR, ANNOTATOR_PASSWORD = "ann", "ann-draws-tight-boxes"
SIZES = {"a-wide.png": (400, 300), "b-tall.png": (200, 400), "c-square.png": (300, 300)}
ANSWER = [  # inside every image above, so it fits whichever item is served
    {"x": 20, "y": 40, "w": 120, "h": 70, "label": "car"},
    {"x": 150, "y": 100, "w": 40, "h": 150, "label": "person"},
]


@pytest.fixture(scope="module")
def thumbs_server(tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path) -> Iterator[str]:
    """A boxes project of three images of different shapes with its first queue, alice its
    admin, ann an annotator; no learner, as thumbnails need no round after the first."""
    with serving_stocked(
        tmp_path_factory, sqlite_migrated, _stock_thumbs, name="thumbs", learner=False
    ) as served:
        yield served.url


def _stock_thumbs(stock: Stock, home: Path) -> None:
    stock.user(USERNAME, admin=True)
    stock.user(ANNOTATOR, ANNOTATOR_PASSWORD)
    folder = home / "media" / "street"
    folder.mkdir(parents=True)
    for name, (w, h) in SIZES.items():
        picture = Image.new("RGB", (w, h), (235, 238, 242))
        ImageDraw.Draw(picture).rectangle((20, 40, 140, 110), fill=(200, 40, 40))
        picture.save(folder / name)
    stock.project(SLUG, _schema(mixed=False))
    stock.add(SLUG, folder)
    stock.member(SLUG, ANNOTATOR, "annotator")


@pytest.fixture(scope="module")
def answered(thumbs_server: str, browser: Any) -> dict[str, Any]:
    """ann's answer of two boxes to the first item served (its label: no review by default);
    the item's id and its image's size."""
    context = browser.new_context()
    page = context.new_page()
    login(
        page,
        thumbs_server,
        f"/p/{SLUG}/label",
        username=ANNOTATOR,
        password=ANNOTATOR_PASSWORD,
    )
    wait_task(page)
    task = answer_served(page, SLUG, lambda _: {"objects": ANSWER}, active_ms=2000)
    context.close()
    name = str(task["item"]["data"]["image"]).rsplit("/", 1)[-1]
    return {"id": str(task["item"]["id"]), "size": SIZES[name]}


def _thumbs_loaded(page: Any, rows: int) -> None:
    """Wait until the list has ``rows`` rows, each with its thumbnail loaded."""
    page.wait_for_function(
        """(n) => {
            const rows = document.querySelectorAll('#items-rows tr');
            const imgs = document.querySelectorAll('#items-rows tr .items-thumb img');
            return rows.length === n && imgs.length === n
                && [...imgs].every(i => i.complete && i.naturalWidth > 0);
        }""",
        arg=rows,
        timeout=30000,
    )


def _boxes_on_picture(page: Any, item: dict[str, Any], side: float) -> None:
    """The row's two boxes are drawn where the answer put them on the picture, which fits
    (contained, centred) the thumbnail's ``side`` x ``side`` box."""
    row = f"#items-rows tr[data-item-id='{item['id']}']"
    assert page.get_attribute(f"{row} .thumb-boxes", "viewBox") == "0 0 {} {}".format(*item["size"])
    drawn = page.eval_on_selector(
        f"{row} .items-thumb",
        """(fig) => {
            const f = fig.getBoundingClientRect();
            return [f.width, f.height, [...fig.querySelectorAll('rect')].map(r => {
                const b = r.getBoundingClientRect();
                return [b.x - f.x, b.y - f.y, b.width, b.height];
            })];
        }""",
    )
    width, height, rects = drawn
    assert (width, height) == (side, side)  # a fixed box, whatever the image's shape
    w, h = item["size"]
    scale = min(side / w, side / h)
    left, top = (side - w * scale) / 2, (side - h * scale) / 2
    expected = [
        [left + b["x"] * scale, top + b["y"] * scale, b["w"] * scale, b["h"] * scale]
        for b in ANSWER
    ]
    assert len(rects) == len(expected)
    for got, want in zip(rects, expected, strict=True):
        assert all(abs(g - e) < 1.5 for g, e in zip(got, want, strict=True)), (got, want)


def _walk_rows(page: Any, ids: list[str], *, trace_ready: str) -> None:
    """↓ from the filters reaches the first row and walks on; Enter opens the focused row's
    item (``trace_ready`` is true once its trace is drawn); Esc closes it and gives the focus
    back to the row; ↑ walks back."""
    focused = "() => document.activeElement.dataset.itemId || null"
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == ids[0]
    page.keyboard.press("ArrowDown")
    at = ids[min(1, len(ids) - 1)]
    assert page.evaluate(focused) == at
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([id, ready]) => document.getElementById('item-trace').dataset.itemId === id"
        " && document.querySelector(ready) !== null",
        arg=[at, trace_ready],
        timeout=30000,
    )
    page.keyboard.press("Escape")
    assert page.locator("#item-trace").is_hidden()
    assert page.evaluate(focused) == at
    page.keyboard.press("ArrowUp")
    assert page.evaluate(focused) == ids[0]


def test_items_rows_show_thumbnails_with_the_label_boxes(
    thumbs_server: str, answered: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, thumbs_server, f"/p/{SLUG}/items")
    _thumbs_loaded(page, len(SIZES))
    alts = page.eval_on_selector_all("#items-rows img", "imgs => imgs.map(i => i.alt)")
    assert sorted(alts) == [f"item {name}" for name in sorted(SIZES)]
    assert page.eval_on_selector_all(
        "#items-rows img", "imgs => imgs.every(i => i.loading === 'lazy')"
    )
    _boxes_on_picture(page, answered, 96)
    others = "#items-rows tr:not([data-item-id='{}']) .thumb-boxes".format(answered["id"])
    assert page.locator(others).count() == 0  # unlabeled: nothing drawn
    titles = page.eval_on_selector_all(
        f"#items-rows tr[data-item-id='{answered['id']}'] rect title",
        "ts => ts.map(t => t.textContent)",
    )
    assert titles == [b["label"] for b in ANSWER]

    ids = page.eval_on_selector_all("#items-rows tr", "rs => rs.map(r => r.dataset.itemId)")
    _walk_rows(page, ids, trace_ready="#trace-body .trace-image")

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, wide_elements(page)
    assert errors == []
    context.close()


def test_my_answers_shows_the_answer_boxes_on_a_phone(
    thumbs_server: str, answered: dict[str, Any], browser: Any
) -> None:
    context, page, problems = phone(browser)
    login(
        page,
        thumbs_server,
        f"/p/{SLUG}/items",
        username=ANNOTATOR,
        password=ANNOTATOR_PASSWORD,
    )
    assert page.inner_text("h1") == "My answers"
    _thumbs_loaded(page, 1)
    _boxes_on_picture(page, answered, 64)  # a smaller box on a phone
    assert page.inner_text("#items-rows .items-label") == "2 boxes: car, person"
    # the item's trace draws the answer's two boxes on its bigger picture
    _walk_rows(
        page, [answered["id"]], trace_ready="#trace-body .trace-figure .thumb-boxes rect + rect"
    )
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, wide_elements(page)
    assert problems == []
    context.close()
