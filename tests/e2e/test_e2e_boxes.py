"""Bounding boxes in real Chromium: draw, move, resize, relabel, delete and submit, by mouse,
by keyboard alone and by touch at phone width, undone and redone, zoomed into a large image by
keys and by Ctrl+wheel, panned by Space+drag, two boxes controls on one image, checked against
what the API stored."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.e2e.conftest import USERNAME, page_fetch, write_jsonl
from tests.e2e.sessions import signed_in_page
from tests.e2e.stock import Stock, picture, serving_stocked

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 400, 300
HOSTILE_NAME = "<img src=x onerror=window.__xss=1>.png"  # a file name is untrusted data
BOXES = "boxes"  # project: one boxes control (the learned one)
MIXED = "mixed"  # project: a scene choice (learned) and a boxes control
PREBOXED = "preboxed"  # project: one boxes control, items imported with predicted boxes
PARTLY = "partly"  # project: one boxes control, one of its two images with predicted boxes
WIDE = "wide"  # project: one boxes control, one image far larger than the stage
WIDE_SIZE = (6000, 400)
ZOOM = "zoom"  # project: one boxes control, photos far larger than the stage
ZOOM_SIZE = (3000, 2000)
PAIR = "pair"  # project: two boxes controls on the same image
PAIR_CONTROLS = {"vehicles": ["car", "bus"], "people": ["adult", "child"]}
LAPTOP = "laptop"  # project: one boxes control, labeled on a 1280 x 800 screen
OBJECTS = ["car", "person", "sign"]


PREDICTED = {  # item -> a detector's boxes, with scores
    "p0": [
        {"x": 20, "y": 40, "w": 120, "h": 70, "label": "car", "score": 0.91},
        {"x": 250.5, "y": 120, "w": 60, "h": 110.25, "label": "person", "score": 0.42},
    ],
    "p1": [
        {"x": 50, "y": 40, "w": 120, "h": 70, "label": "car", "score": 0.55},
        {"x": 250, "y": 129, "w": 60, "h": 110, "label": "sign", "score": 0.3},
    ],
}


def _png(path: Path, rects: list[tuple[int, int, int, int, tuple[int, int, int]]]) -> None:
    """Write an RGB PNG of WIDTH x HEIGHT: a light background with filled rectangles."""
    picture(path, (WIDTH, HEIGHT), rects)


def _schema(*, mixed: bool = False, pair: bool = False) -> dict[str, Any]:
    boxes: dict[str, Any] = {"name": "objects", "type": "boxes", "labels": OBJECTS}
    controls: list[dict[str, Any]] = [boxes]
    if pair:
        controls = [{"name": n, "type": "boxes", "labels": ls} for n, ls in PAIR_CONTROLS.items()]
    if mixed:  # both controls list 1 and 2: a box's label may share a key with the scene
        keys = {"hotkeys": ["1", "2"]}
        scene = {"name": "scene", "type": "choice", "labels": ["indoor", "outdoor"], **keys}
        controls = [{**scene, "target": True}, {**boxes, "hotkeys": ["1", "2", "3"]}]
    return {
        "name": "Street objects" if not mixed else "Scenes and objects",
        "data": {"type": "image", "field": "image"},
        "controls": controls,
        "guideline": "Draw a tight box around every car, person and sign.",
    }


@pytest.fixture(scope="module")
def boxes_server(tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path) -> Iterator[str]:
    """Eight image projects under the default media root, with their first queues: six fed from
    image folders, two from JSONL with predicted boxes (for one image of the second); no
    learner, as no test waits for a round (the suggested boxes are the JSONL's)."""
    with serving_stocked(
        tmp_path_factory, sqlite_migrated, _stock_boxes, name="boxes", learner=False
    ) as served:
        yield served.url


def _stock_boxes(stock: Stock, home: Path) -> None:
    stock.user(USERNAME, admin=True)
    folder = home / "media" / "street"
    folder.mkdir(parents=True)
    for i in range(6):
        _png(
            folder / f"scene{i}.png",
            [
                (20 + 30 * i, 40, 120, 70, (200, 40, 40)),
                (250, 120 + 10 * i, 60, 110, (30, 90, 200)),
            ],
        )
    odd = home / "media" / "odd"  # the mixed project's only image has a hostile name
    odd.mkdir()
    _png(odd / HOSTILE_NAME, [(60, 60, 90, 90, (40, 160, 60))])
    wide = home / "media" / "wide"  # small objects on a long panorama
    wide.mkdir()
    panorama = Image.new("RGB", WIDE_SIZE, (235, 238, 242))
    for x in range(0, WIDE_SIZE[0], 250):
        ImageDraw.Draw(panorama).rectangle((x, 190, x + 11, 197), fill=(200, 40, 40))
    panorama.save(wide / "panorama.png")
    photos = home / "media" / "photos"  # large photos, each with its own marks
    photos.mkdir()
    for i in range(2):
        photo = Image.new("RGB", ZOOM_SIZE, (235, 238, 242))
        for x in range(100 + 40 * i, ZOOM_SIZE[0], 400):
            ImageDraw.Draw(photo).rectangle((x, 600, x + 30, 640), fill=(30, 90, 200))
        photo.save(photos / f"photo{i}.png")
    for slug, mixed, pair, source in (
        (BOXES, False, False, folder),
        (LAPTOP, False, False, folder),
        (MIXED, True, False, odd),
        (WIDE, False, False, wide),
        (ZOOM, False, False, photos),
        (PAIR, False, True, folder),
    ):
        stock.project(slug, _schema(mixed=mixed, pair=pair))
        stock.add(slug, source)
    stock.project(PREBOXED, _schema())
    rows = [
        {"id": item, "image": f"street/scene{i}.png", "predicted": {"objects": boxes}}
        for i, (item, boxes) in enumerate(PREDICTED.items())
    ]
    jsonl = write_jsonl(home / "predicted.jsonl", rows)
    stock.add(PREBOXED, jsonl, text_field="image", id_field="id", prediction_field="predicted")
    stock.project(PARTLY, _schema())
    rows = [{"id": "bare", "image": "street/scene2.png"}, {**rows[0], "id": "guessed"}]
    jsonl = write_jsonl(home / "partly.jsonl", rows)
    stock.add(PARTLY, jsonl, text_field="image", id_field="id", prediction_field="predicted")


def _wait_stage(page: Any, *, other_than: str = "") -> str:
    """Wait for a new leased item whose image is loaded into the boxes stage; its assignment."""
    page.wait_for_function(
        """(prev) => {
            const app = document.getElementById('label-app');
            const stage = document.querySelector('#item-text .boxes-stage');
            return app.dataset.state === 'task' && app.dataset.assignmentId !== prev
                && stage && stage.dataset.ready === 'true';
        }""",
        arg=other_than,
        timeout=90000,  # the first waits for the page, its script and image: slow when loaded
    )
    return str(page.get_attribute("#label-app", "data-assignment-id"))


def _boxes(page: Any, within: str = "") -> list[dict[str, Any]]:
    """The boxes on screen (in the stage ``within`` selects), in image pixels, with their label
    and whether each is selected."""
    return page.eval_on_selector_all(
        f"{within} .boxes-layer .bx[data-index]",
        """divs => divs.map(d => ({
            x: +d.dataset.x, y: +d.dataset.y, w: +d.dataset.w, h: +d.dataset.h,
            label: d.dataset.label, selected: d.classList.contains('is-selected'),
            suggested: d.classList.contains('is-suggested'),
        }))""",
    )


class Stage:
    """Converts image pixels to page coordinates for the image on screen, of ``size`` pixels
    (in the stage ``within`` selects)."""

    def __init__(
        self, page: Any, size: tuple[int, int] = (WIDTH, HEIGHT), *, within: str = ""
    ) -> None:
        box = page.locator(f"{within} .boxes-canvas").bounding_box()
        natural = page.eval_on_selector(
            f"{within} .boxes-image", "img => [img.naturalWidth, img.naturalHeight]"
        )
        assert natural == list(size)  # the image's own file, not a smaller copy
        self.left, self.top = box["x"], box["y"]
        self.scale = box["width"] / size[0]
        assert abs(box["height"] / size[1] - self.scale) < 0.01  # aspect ratio kept

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.left + x * self.scale, self.top + y * self.scale

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        """The image pixel at page coordinates (x, y)."""
        return (x - self.left) / self.scale, (y - self.top) / self.scale


def _drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def _close(box: dict[str, Any], tol: float, **expected: float) -> None:
    for key, value in expected.items():
        assert abs(box[key] - value) <= tol, f"{key}: {box[key]} is not within {tol} of {value}"


def _stored(page: Any, url: str, slug: str, item_id: str) -> dict[str, Any]:
    """The caller's latest annotation once it is the one for ``item_id`` (submits are async)."""
    deadline = time.monotonic() + 30
    while True:
        got = page.request.get(f"{url}/api/projects/{slug}/annotations/previous").json()
        annotation = got["annotation"]
        if annotation and str(annotation["item"]["external_id"]) == item_id:
            return annotation["value"]
        assert time.monotonic() < deadline, f"no annotation stored for {item_id}: {got}"
        time.sleep(0.2)


def test_boxes_by_mouse(boxes_server: str, browser: Any, screenshots: Path) -> None:
    page = signed_in_page(
        browser, boxes_server, f"/p/{BOXES}/label", viewport={"width": 1200, "height": 900}
    )
    _wait_stage(page)
    item = page.text_content("#item-id")
    stage = Stage(page)
    assert stage.scale > 1  # a 400 px image fills the wide stage

    # Draw: a drag on bare image makes a box of the active (first) label, selected.
    _drag(page, stage.at(40, 30), stage.at(140, 110))
    [box] = _boxes(page)
    assert box["label"] == "car" and box["selected"]
    _close(box, 1, x=40, y=30, w=100, h=80)

    # Move: drag the box by its middle.
    _drag(page, stage.at(90, 70), stage.at(110, 80))
    [box] = _boxes(page)
    _close(box, 1, x=60, y=40, w=100, h=80)

    # Resize: drag the bottom-right handle; the top-left corner stays.
    handle = page.locator(".bx.is-selected .bx-se").bounding_box()
    assert handle["width"] >= 24 and handle["height"] >= 24
    corner = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    _drag(page, corner, stage.at(200, 150))
    [box] = _boxes(page)
    _close(box, 1, x=60, y=40, w=140, h=110)

    # Relabel: the label bar changes the selected box.
    page.click(".boxes-label[data-label='person']")
    [box] = _boxes(page)
    assert box["label"] == "person"
    assert (
        page.eval_on_selector(
            ".boxes-label[data-label='person']", "b => b.getAttribute('aria-pressed')"
        )
        == "true"
    )

    # Shift+drag draws a box inside another one (a plain drag there moves the outer box).
    stage = Stage(page)  # the click may have scrolled the page
    page.keyboard.down("Shift")
    _drag(page, stage.at(80, 60), stage.at(120, 100))
    page.keyboard.up("Shift")
    boxes = _boxes(page)
    assert len(boxes) == 2 and boxes[1]["selected"]
    _close(boxes[0], 1, x=60, y=40, w=140, h=110)
    _close(boxes[1], 1, x=80, y=60, w=40, h=40)
    page.click(".bx.is-selected .bx-del")
    assert len(_boxes(page)) == 1

    # A second box, dragged past the image edge, is clamped inside the image.
    stage = Stage(page)  # the click may have scrolled the page
    _drag(page, stage.at(300, 200), stage.at(WIDTH + 40, HEIGHT + 40))
    boxes = _boxes(page)
    assert len(boxes) == 2 and boxes[1]["label"] == "person" and boxes[1]["selected"]
    _close(boxes[1], 1, x=300, y=200, w=WIDTH - 300, h=HEIGHT - 200)
    assert page.locator(".boxes-list .boxes-item").count() == 2
    page.screenshot(path=str(screenshots / "boxes.png"), full_page=True)

    # A click on bare image deselects; clicking a box selects it; its × deletes it.
    page.mouse.click(*stage.at(250, 20))
    assert not any(b["selected"] for b in _boxes(page))
    page.mouse.click(*stage.at(350, 250))
    assert _boxes(page)[1]["selected"]
    page.click(".bx.is-selected .bx-del")
    [box] = _boxes(page)
    assert box["label"] == "person"

    person = page.eval_on_selector(
        ".boxes-label[data-label='person']", "b => b.style.getPropertyValue('--c')"
    )
    page.click("#submit-btn")
    _wait_stage(page, other_than=item)
    [stored] = _stored(page, boxes_server, BOXES, str(item))["objects"]
    assert stored["label"] == "person"
    _close(stored, 1, x=60, y=40, w=140, h=110)
    assert stored == {k: round(box[k], 2) for k in ("x", "y", "w", "h")} | {"label": "person"}

    # The Items page finds the image by its box's label and shows it in the item's trace.
    page.goto(f"{boxes_server}/p/{BOXES}/items?label=person")
    page.wait_for_function("() => document.querySelectorAll('#items-rows tr').length === 1")
    assert page.inner_text("#items-rows .items-label strong") == "1 box: person"
    page.click("#items-rows .link-button")
    page.wait_for_function(
        "() => { const i = document.querySelector('#trace-body .trace-image');"
        " return i !== null && i.complete && i.naturalWidth > 0; }"
    )
    assert "answered 1 box: person" in page.inner_text("#trace-body")
    # the label's box is drawn on the trace's picture, in the image's own pixels
    rect = page.eval_on_selector_all(
        "#trace-body .trace-figure .thumb-boxes rect",
        "rs => rs.map(r => ['x', 'y', 'width', 'height'].map(k => +r.getAttribute(k)))",
    )
    assert rect == [[stored[k] for k in ("x", "y", "w", "h")]]
    # in its label's colour, as the labeling page drew it, and named under the picture: every
    # box was the same amber, and its label was only in a tooltip no pointer could reach
    stroke = page.eval_on_selector(
        "#trace-body .thumb-boxes rect", "r => getComputedStyle(r).stroke"
    )
    assert stroke == page.evaluate(
        "c => { const s = document.createElement('i'); s.style.color = c;"
        " document.body.append(s); const rgb = getComputedStyle(s).color; s.remove();"
        " return rgb; }",
        person,
    )
    assert page.inner_text("#trace-body .thumb-legend") == "person"
    page.close()


def test_on_a_laptop_screen_the_label_bar_and_the_boxes_are_beside_the_image(
    boxes_server: str, browser: Any, screenshots: Path
) -> None:
    """At 1280 x 800 the label bar (which key is which label) sat below the image, under the
    fold, and each box drawn pushed the list further down: they are beside the image now,
    a long list scrolling by itself with the box just drawn in sight, and nothing of it needs
    the page scrolled. The stats line shows no eval chip: boxes rounds measure no eval score,
    and its dash never filled."""
    page = signed_in_page(
        browser, boxes_server, f"/p/{LAPTOP}/label", viewport={"width": 1280, "height": 800}
    )
    _wait_stage(page)
    stage = Stage(page)
    for i in range(8):
        x, y = 20 + 90 * (i % 4), 20 + 140 * (i // 4)
        _drag(page, stage.at(x, y), stage.at(x + 40, y + 40))
    assert len(_boxes(page)) == 8
    page.screenshot(path=str(screenshots / "boxes-laptop.png"))

    def rect(selector: str) -> dict[str, float]:
        return page.eval_on_selector(
            selector,
            "e => { const r = e.getBoundingClientRect(); return {top: r.top,"
            " bottom: r.bottom, left: r.left, right: r.right}; }",
        )

    assert page.evaluate("scrollY") == 0
    image, bar = rect(".boxes-canvas"), rect(".boxes-labels")
    for selector in (".boxes-canvas", ".boxes-labels", ".boxes-list", "#submit-btn"):
        shown = rect(selector)
        assert shown["top"] >= 0 and shown["bottom"] <= 800, (selector, shown)
    assert bar["left"] >= image["right"]  # beside the image, not under it
    newest = rect(".boxes-item.is-selected")  # the box just drawn, at the end of the list
    inside = rect(".boxes-list")
    assert newest["top"] >= inside["top"] - 0.5 and newest["bottom"] <= inside["bottom"] + 0.5
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # The label keys still act on the selected box, and the first row scrolls back in sight.
    page.keyboard.press("2")
    assert _boxes(page)[7]["label"] == "person"
    page.keyboard.press("]")  # from the last box on to the first
    assert _boxes(page)[0]["selected"]
    first, inside = rect(".boxes-item.is-selected"), rect(".boxes-list")
    assert first["top"] >= inside["top"] - 0.5 and first["bottom"] <= inside["bottom"] + 0.5
    assert page.evaluate("scrollY") == 0

    line = page.inner_text("#status-line")
    assert "model" in line and "eval" not in line

    # At a phone's width the panel follows the image, in one column, nothing wider than it.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        "() => document.querySelector('.boxes-labels').getBoundingClientRect().top"
        " >= document.querySelector('.boxes-canvas').getBoundingClientRect().bottom"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert rect(".boxes-labels")["top"] < rect(".guideline")["top"]
    page.close()


def test_boxes_by_keyboard_alone(boxes_server: str, browser: Any) -> None:
    page = signed_in_page(
        browser, boxes_server, f"/p/{BOXES}/label", viewport={"width": 1200, "height": 900}
    )
    assignment = _wait_stage(page)
    item = page.text_content("#item-id")
    sheet = page.text_content("#shortcuts-body")
    for words in (
        "Alt",
        "Resize the selected box",
        "Delete the selected box",
        "Zoom in",
        "Undo the last change to the boxes",
    ):
        assert words in sheet

    # A label key with nothing selected: a new box of that label in the middle of the view.
    page.keyboard.press("2")
    [box] = _boxes(page)
    assert box["label"] == "person" and box["selected"]
    assert box["x"] + box["w"] / 2 == pytest.approx(WIDTH / 2, abs=1)
    assert box["y"] + box["h"] / 2 == pytest.approx(HEIGHT / 2, abs=1)
    x, y, w, h = box["x"], box["y"], box["w"], box["h"]

    # Nudge: arrows move 1 px, Shift+arrows 10 px.
    for key in ("ArrowRight", "ArrowRight", "ArrowDown", "Shift+ArrowLeft", "ArrowUp", "ArrowUp"):
        page.keyboard.press(key)
    x, y = x + 2 - 10, y + 1 - 2
    # Resize: Alt+arrows (Shift: 10 px); the top-left corner stays.
    for key in ("Alt+ArrowRight", "Alt+Shift+ArrowDown", "Alt+ArrowLeft", "Alt+ArrowLeft"):
        page.keyboard.press(key)
    w, h = w + 1 - 2, h + 10
    assert page.url.endswith(f"/p/{BOXES}/label")  # Alt+Left did not leave the page
    # Relabel: a label key with a box selected.
    page.keyboard.press("3")
    [box] = _boxes(page)
    assert (box["x"], box["y"], box["w"], box["h"], box["label"]) == (x, y, w, h, "sign")

    # Esc deselects; the next label key makes a second box; [ and ] walk the boxes.
    page.keyboard.press("Escape")
    assert not _boxes(page)[0]["selected"]
    page.keyboard.press("1")
    assert [b["label"] for b in _boxes(page)] == ["sign", "car"]
    assert _boxes(page)[1]["selected"]
    page.keyboard.press("]")
    assert [b["selected"] for b in _boxes(page)] == [True, False]
    page.keyboard.press("[")
    assert [b["selected"] for b in _boxes(page)] == [False, True]
    # Where [ and ] are typed with AltGr (Windows reports Ctrl+Alt) or a Mac's Option, as on
    # German and French keyboards, they walk the boxes all the same.
    page.keyboard.press("Control+Alt+]")
    assert [b["selected"] for b in _boxes(page)] == [True, False]
    page.keyboard.press("Alt+]")
    assert [b["selected"] for b in _boxes(page)] == [False, True]
    # Delete removes the selected box.
    page.keyboard.press("Delete")
    assert [b["label"] for b in _boxes(page)] == ["sign"]

    # Ctrl+Z takes the changes back one at a time: the deleted box returns, the added one
    # goes, the relabel and the last resize are undone; then they are made again by keys.
    page.keyboard.press("Control+z")
    assert [b["label"] for b in _boxes(page)] == ["sign", "car"]
    page.keyboard.press("Control+z")
    assert [b["label"] for b in _boxes(page)] == ["sign"]
    page.keyboard.press("Control+z")
    [box] = _boxes(page)
    assert (box["x"], box["y"], box["w"], box["h"], box["label"]) == (x, y, w, h, "person")
    page.keyboard.press("Control+z")
    assert _boxes(page)[0]["w"] == w + 1
    for key in ("]", "Alt+ArrowLeft", "3", "Escape"):
        page.keyboard.press(key)
    [box] = _boxes(page)
    assert (box["x"], box["y"], box["w"], box["h"], box["label"]) == (x, y, w, h, "sign")
    # On a Russian layout the Z key types "я": Ctrl+Я undoes, Ctrl+Shift+Я redoes.
    press_russian_z = (
        "(shift) => document.body.dispatchEvent(new KeyboardEvent('keydown',"
        " {key: shift ? 'Я' : 'я', code: 'KeyZ', ctrlKey: true, shiftKey: shift, bubbles: true}))"
    )
    page.evaluate(press_russian_z, False)
    assert _boxes(page)[0]["label"] == "person"
    page.evaluate(press_russian_z, True)
    assert _boxes(page)[0]["label"] == "sign"

    # Zoom: + and - step the zoom; the stage scrolls (arrows pan with nothing selected).
    fit = Stage(page).scale
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert page.get_attribute(".boxes-stage", "data-zoom") == "2"
    assert Stage(page).scale == pytest.approx(2 * fit, rel=0.01)
    before = page.eval_on_selector(".boxes-stage", "s => [s.scrollLeft, s.scrollTop]")
    page.keyboard.press("ArrowRight")
    after = page.eval_on_selector(".boxes-stage", "s => [s.scrollLeft, s.scrollTop]")
    assert after[0] > before[0] and after[1] == before[1]
    [box] = _boxes(page)
    assert (box["x"], box["y"]) == (x, y)  # panning moved no box
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert page.get_attribute(".boxes-stage", "data-zoom") == "1"

    # A focused button takes its Space though the pointer rests on the image (where Space
    # alone pans): here the focused Submit submits.
    page.hover(".boxes-stage")
    page.focus("#submit-btn")
    page.keyboard.press(" ")
    assignment = _wait_stage(page, other_than=assignment)
    stored = _stored(page, boxes_server, BOXES, str(item))
    assert stored == {"objects": [{"x": x, "y": y, "w": w, "h": h, "label": "sign"}]}

    # Backspace goes back to it: the stored box is shown, solid, and can still be changed.
    page.keyboard.press("Backspace")
    page.wait_for_function(
        """() => document.getElementById('label-app').dataset.state === 'edit'
            && document.querySelector('.boxes-stage').dataset.ready === 'true'"""
    )
    assert page.text_content("#item-id") == item
    [box] = _boxes(page)
    assert _plain(box) == {"x": x, "y": y, "w": w, "h": h, "label": "sign"}
    assert not box["suggested"] and not box["selected"]
    page.keyboard.press("]")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Enter")  # saves the change and returns to the leased item
    _wait_stage(page, other_than="")
    assert page.get_attribute("#label-app", "data-assignment-id") == assignment
    deadline = time.monotonic() + 30
    while _stored(page, boxes_server, BOXES, str(item))["objects"][0]["y"] != y + 10:
        assert time.monotonic() < deadline, "the changed box was not saved"
        time.sleep(0.2)
    page.close()


def test_choice_and_boxes_in_one_project(boxes_server: str, browser: Any) -> None:
    page = signed_in_page(
        browser, boxes_server, f"/p/{MIXED}/label", viewport={"width": 1200, "height": 900}
    )
    _wait_stage(page)
    item = page.text_content("#item-id")
    assert item == HOSTILE_NAME  # shown as text, never as markup
    assert page.get_attribute(".boxes-image", "alt") == HOSTILE_NAME
    sheet = page.text_content("#shortcuts-body")
    assert "car: relabel the selected box" in sheet  # 1 is also the scene's key
    assert "sign: new box in the middle of the view" in sheet  # 3 is the boxes' own

    def scene() -> list[str]:
        return page.eval_on_selector_all(
            ".label-btn[aria-pressed=true]", "bs => bs.map(b => b.dataset.label)"
        )

    page.keyboard.press("2")  # a shared key with no box selected: the scene choice
    assert scene() == ["outdoor"] and _boxes(page) == []
    page.keyboard.press("3")  # the boxes' own key: a sign box
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")  # a shared key with a box selected: relabel the box
    [box] = _boxes(page)
    assert box["label"] == "car" and scene() == ["outdoor"]
    page.keyboard.press("Escape")
    page.keyboard.press("1")  # nothing selected: the scene again
    assert scene() == ["indoor"] and len(_boxes(page)) == 1
    page.keyboard.press("n")  # a new box of the highlighted label (car), whatever the keys
    assert [(b["label"], b["selected"]) for b in _boxes(page)] == [("car", False), ("car", True)]
    page.keyboard.press("Delete")
    page.keyboard.press("2")
    zoomed = page.text_content(".boxes-zoom-text")
    assert zoomed and zoomed.endswith(":1")  # the 400 px image shows larger than its pixels
    page.keyboard.press("Enter")  # the only item: the page then waits for more
    stored = _stored(page, boxes_server, MIXED, str(item))
    assert stored == {"scene": "outdoor", "objects": [_plain(box)]}
    assert page.evaluate("() => window.__xss") is None
    # Waiting for more, the boxes tools read the zoom of the last image: they said "NaN:1"
    # beside a Pan button, the image gone.
    page.wait_for_selector("#label-app[data-state='empty']")
    assert page.text_content(".boxes-zoom-text") == zoomed
    assert page.is_hidden(".boxes-pan")
    page.close()


def _touch_drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A one-finger drag through Chromium's touch input (pointer events of type touch)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_pt(start)]})
    for i in range(1, 9):
        point = (start[0] + (end[0] - start[0]) * i / 8, start[1] + (end[1] - start[1]) * i / 8)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [_pt(point)]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def _pt(point: tuple[float, float]) -> dict[str, float]:
    return {"x": point[0], "y": point[1], "radiusX": 4, "radiusY": 4, "force": 1}


def _tap_settled(page: Any, selector: str) -> None:
    """Tap an element once it is scrolled into view (a tap on a moving page only stops it)."""
    target = page.locator(selector)
    target.scroll_into_view_if_needed()
    page.wait_for_timeout(400)
    target.tap()


def test_boxes_by_touch_at_phone_width(boxes_server: str, browser: Any, screenshots: Path) -> None:
    page = signed_in_page(
        browser,
        boxes_server,
        f"/p/{BOXES}/label",
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    assignment = _wait_stage(page)
    item = page.text_content("#item-id")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    stage = Stage(page)
    assert stage.left >= 0 and stage.left + WIDTH * stage.scale <= 390

    # the hint under the stage named Shift, Ctrl+wheel and Space, none of which a phone has
    hint = page.text_content(".boxes-hint")
    assert "Ctrl" not in hint and "Space" not in hint and "Shift" not in hint
    assert "with Pan on, a drag scrolls the zoomed image" in hint

    page.tap(".boxes-label[data-label='sign']")
    page.wait_for_selector(".boxes-label[data-label='sign'][aria-pressed=true]")
    _touch_drag(page, stage.at(50, 50), stage.at(150, 120))
    [box] = _boxes(page)
    assert box["label"] == "sign" and box["selected"]
    tol = max(1.0, 1.5 / stage.scale)
    _close(box, tol, x=50, y=50, w=100, h=70)
    for corner in ("nw", "ne", "sw", "se"):
        size = page.locator(f".bx.is-selected .bx-{corner}").bounding_box()
        assert size["width"] >= 24 and size["height"] >= 24, corner
    handle = page.locator(".bx.is-selected .bx-nw").bounding_box()
    grip = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    _touch_drag(page, grip, stage.at(30, 20))
    [box] = _boxes(page)
    _close(box, tol, x=30, y=20, w=120, h=100)
    page.screenshot(path=str(screenshots / "boxes-mobile.png"))

    _touch_drag(page, stage.at(200, 200), stage.at(260, 260))
    assert len(_boxes(page)) == 2
    _tap_settled(page, ".boxes-item:nth-child(2) .boxes-item-del")
    page.wait_for_function(
        "() => document.querySelectorAll('.boxes-layer .bx[data-index]').length === 1"
    )

    # Pinch-free zoom: the + button, then Pan turns a one-finger drag into scrolling.
    _tap_settled(page, ".boxes-zoom-in")
    _tap_settled(page, ".boxes-zoom-in")
    page.wait_for_selector(".boxes-stage[data-zoom='2']")
    _tap_settled(page, ".boxes-pan")
    page.wait_for_selector(".boxes-pan[aria-pressed=true]")
    page.locator(".boxes-stage").scroll_into_view_if_needed()
    page.wait_for_timeout(400)
    stage_box = page.locator(".boxes-stage").bounding_box()
    middle = (stage_box["x"] + stage_box["width"] / 2, stage_box["y"] + stage_box["height"] / 2)
    scrolled = "s => [s.scrollLeft, s.scrollTop, s.scrollHeight - s.clientHeight]"
    before = page.eval_on_selector(".boxes-stage", scrolled)
    _touch_drag(page, middle, (middle[0] - 80, middle[1] - 40))
    after = page.eval_on_selector(".boxes-stage", scrolled)
    assert after[0] == pytest.approx(before[0] + 80, abs=2)
    assert after[1] == pytest.approx(min(before[1] + 40, before[2]), abs=2)
    assert len(_boxes(page)) == 1  # panning drew nothing
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

    _tap_settled(page, "#submit-btn")
    _wait_stage(page, other_than=assignment)
    [stored] = _stored(page, boxes_server, BOXES, str(item))["objects"]
    assert stored["label"] == "sign"
    _close(stored, tol, x=30, y=20, w=120, h=100)
    page.context.close()


def _plain(box: dict[str, Any]) -> dict[str, Any]:
    return {k: box[k] for k in ("x", "y", "w", "h", "label")}


def test_suggested_boxes_accepted_with_one_key(boxes_server: str, browser: Any) -> None:
    page = signed_in_page(
        browser, boxes_server, f"/p/{PREBOXED}/label", viewport={"width": 1200, "height": 900}
    )
    assignment = _wait_stage(page)
    item = str(page.text_content("#item-id"))
    predicted = PREDICTED[item]
    shown = _boxes(page)
    assert [_plain(b) for b in shown] == [_plain(b) for b in predicted]
    assert all(b["suggested"] and not b["selected"] for b in shown)
    scores = page.eval_on_selector_all(
        ".bx.is-suggested .bx-score", "s => s.map(e => e.textContent)"
    )
    assert scores == [f"{b['score']:.2f}" for b in predicted]

    page.keyboard.press("Enter")  # agreeing with the detector costs one key
    assignment = _wait_stage(page, other_than=assignment)
    stored = _stored(page, boxes_server, PREBOXED, item)
    assert stored == {"objects": [_plain(b) for b in predicted]}

    # On the next item: fix one suggestion (it turns solid), delete the other, then submit.
    item = str(page.text_content("#item-id"))
    predicted = PREDICTED[item]
    page.keyboard.press("]")
    page.keyboard.press("ArrowLeft")
    first = _boxes(page)[0]
    assert first["selected"] and not first["suggested"]
    assert first["x"] == predicted[0]["x"] - 1
    page.keyboard.press("]")
    page.keyboard.press("Delete")
    page.keyboard.press("Enter")  # the last item: the page then waits for more
    stored = _stored(page, boxes_server, PREBOXED, item)
    assert stored == {"objects": [{**_plain(predicted[0]), "x": predicted[0]["x"] - 1}]}
    page.close()


def test_an_image_without_a_prediction_says_no_model_picked_it(
    boxes_server: str, browser: Any
) -> None:
    """The image the detector predicted nothing for read "Picked by model v1" beside "no
    prediction for this image yet": v1's ranking put it after the one image it had boxes for,
    and no model ranked it. Answered, the Items page's "picked by" lists it as its own choice,
    not among the model's ranking."""
    page = signed_in_page(browser, boxes_server, f"/p/{PARTLY}/label")
    assignment = _wait_stage(page)
    assert page.text_content("#item-id") == "guessed"
    assert page.text_content("#why-reason") == "lowest box confidence 0.42 of 2 predicted boxes"
    assert page.text_content("#why-model") == "v1"
    page.click("#skip-btn")
    _wait_stage(page, other_than=assignment)
    assert page.text_content("#item-id") == "bare"
    assert page.text_content("#why-reason") == "no prediction for this image yet"
    assert page.text_content("#why-strategy") == "box_confidence"
    assert page.text_content("#why-model") == "none (v1 had no prediction for it)"
    bare = page.get_attribute("#label-app", "data-assignment-id")
    status, body = page_fetch(
        page,
        "POST",
        f"/api/projects/{PARTLY}/tasks/{bare}/submit",
        {"value": {"objects": []}, "active_ms": 1500},
    )
    assert status == 200, body

    page.goto(f"{boxes_server}/p/{PARTLY}/items")
    page.wait_for_selector("#items-rows tr")
    choices = page.eval_on_selector_all("#f-picked_by option", "os => os.map(o => o.value)")
    assert choices.index("box_confidence") < choices.index("no_prediction")
    page.select_option("#f-picked_by", "no_prediction")
    page.wait_for_function(
        "() => document.getElementById('items-summary').textContent.startsWith('1 item;')"
    )
    shown = page.eval_on_selector_all(
        "#items-rows tr", "rows => rows.map(r => r.cells[0].innerText.trim())"
    )
    assert shown == ["bare"]
    page.select_option("#f-picked_by", "box_confidence")  # "guessed" was skipped: none
    page.wait_for_function(
        "() => document.getElementById('items-summary').textContent.startsWith('No item')"
    )
    page.close()


def test_a_pinned_boxes_example_shows_its_boxes_on_the_thumbnail(
    boxes_server: str, browser: Any
) -> None:
    page = signed_in_page(
        browser, boxes_server, f"/p/{PREBOXED}/label", viewport={"width": 390, "height": 844}
    )
    boxes = [{k: v for k, v in b.items() if k != "score"} for b in PREDICTED["p1"]]
    pinned = page.evaluate(
        """([slug, boxes]) => window.labelloop.api('POST',
            '/api/projects/' + slug + '/guidelines/examples',
            {external_id: 'p1', value: {objects: boxes}, note: 'a sign behind the car counts'})""",
        [PREBOXED, boxes],
    )
    assert pinned["label"] == "1 × car, 1 × sign"
    page.reload()
    if page.get_attribute("#guideline", "open") is None:
        page.click("#guideline summary")
    rects = page.locator("#guideline-examples .thumb-boxes rect")
    assert rects.count() == 2
    drawn = [
        {k: float(rects.nth(i).get_attribute(k)) for k in ("x", "y", "width", "height")}
        for i in range(2)
    ]
    assert drawn == [
        {"x": 50, "y": 40, "width": 120, "height": 70},
        {"x": 250, "y": 129, "width": 60, "height": 110},
    ]
    assert page.get_attribute("#guideline-examples .thumb-boxes", "viewBox") == "0 0 400 300"
    figure = page.locator("#guideline-examples .thumb").bounding_box()
    overlay = page.locator("#guideline-examples .thumb-boxes").bounding_box()
    assert figure is not None and overlay is not None
    assert (
        abs(figure["width"] - overlay["width"]) < 1
        and abs(figure["height"] - overlay["height"]) < 1
    )
    # Each box in its label's colour, as the labeling page draws a car and a sign, here and in
    # the project page's Guideline section alike.
    colours = page.evaluate(
        "(labels) => labels.map((l) => window.labelloop.boxColour(labels, l))", OBJECTS
    )
    car, sign = colours[0], colours[2]
    assert len(set(colours)) == 3

    def strokes(selector: str) -> list[str]:
        return page.eval_on_selector_all(
            selector,
            """rs => rs.map(r => {
                const c = document.createElement('canvas').getContext('2d');
                c.fillStyle = getComputedStyle(r).stroke;
                return c.fillStyle;
            })""",
        )

    assert strokes("#guideline-examples .thumb-boxes rect") == [car, sign]
    page.goto(f"{boxes_server}/p/{PREBOXED}")
    page.wait_for_selector("#guideline-examples .thumb-boxes rect", state="attached")
    assert strokes("#guideline-examples .thumb-boxes rect") == [car, sign]
    page.close()


def test_answers_of_several_boxes_read_boxes_not_boxs(boxes_server: str, browser: Any) -> None:
    """The Items list, My answers, the item's trace and the rework banner put an answer in
    words with one helper: two boxes read "2 boxes", as the review page says, not "2 boxs"."""
    page = signed_in_page(browser, boxes_server, f"/p/{BOXES}/items")
    box = {"x": 1, "y": 2, "w": 3, "h": 4}
    words = page.evaluate(
        """(box) => [
            [{...box, label: 'car'}, {...box, label: 'person'}],
            [{...box, label: 'car'}],
            [{start: 0, end: 2, label: 'loc'}, {start: 3, end: 5, label: 'per'}],
        ].map(window.labelloop.valueText)""",
        box,
    )
    assert words == ["2 boxes: car, person", "1 box: car", "2 spans: loc, per"]
    page.close()


def test_redo_puts_back_what_undo_took_until_the_boxes_change(
    boxes_server: str, browser: Any
) -> None:
    page = signed_in_page(
        browser, boxes_server, f"/p/{BOXES}/label", viewport={"width": 1200, "height": 900}
    )
    _wait_stage(page)
    item = str(page.text_content("#item-id"))
    assert "Redo what Ctrl+Z took back" in str(page.text_content("#shortcuts-body"))
    stage = Stage(page)

    def shown() -> list[dict[str, Any]]:
        return [_plain(b) for b in _boxes(page)]

    _drag(page, stage.at(40, 30), stage.at(140, 110))
    drawn = shown()
    _drag(page, stage.at(90, 70), stage.at(110, 80))
    moved = shown()
    [box] = moved
    _close(box, 1, x=60, y=40, w=100, h=80)
    _drag(page, stage.at(250, 150), stage.at(350, 250))
    both = shown()
    assert len(both) == 2

    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert shown() == drawn
    page.keyboard.press("Control+Shift+z")  # redo once: the move comes back, not the new box
    assert shown() == moved
    page.keyboard.press("Control+y")
    assert shown() == both
    page.keyboard.press("Control+y")  # nothing left to redo
    assert shown() == both

    # A new change after an undo starts afresh: the undone box cannot be redone any more.
    page.keyboard.press("Control+z")
    _drag(page, stage.at(180, 160), stage.at(240, 220))
    changed = shown()
    assert len(changed) == 2 and changed[0] == moved[0] and changed[1] != both[1]
    page.keyboard.press("Control+Shift+z")
    page.keyboard.press("Control+y")
    assert shown() == changed
    page.keyboard.press("Control+z")  # undo still reaches back past the new change
    assert shown() == moved
    page.keyboard.press("Meta+Shift+z")  # Cmd+Shift+Z on a Mac
    assert shown() == changed

    page.keyboard.press("Enter")
    assert _stored(page, boxes_server, BOXES, item) == {"objects": changed}
    page.close()


def test_a_large_image_zooms_until_its_pixels_are_four_screen_pixels(
    boxes_server: str, browser: Any
) -> None:
    """A panorama fitted into the stage at a fifth of its size zooms by keyboard to 4 screen
    pixels per image pixel, around the middle of the view; a box drawn there is stored in the
    image's own pixels."""
    page = signed_in_page(
        browser, boxes_server, f"/p/{WIDE}/label", viewport={"width": 1200, "height": 900}
    )
    _wait_stage(page)
    item = str(page.text_content("#item-id"))
    assert str(page.get_attribute(".boxes-image", "src")).endswith("/media")  # not a thumbnail
    fit = Stage(page, WIDE_SIZE).scale
    assert fit < 0.25

    zooms: list[float] = []
    while not page.is_disabled(".boxes-zoom-in"):
        page.keyboard.press("+")
        zooms.append(float(str(page.get_attribute(".boxes-stage", "data-zoom"))))
        assert len(zooms) < 20
    assert zooms == sorted(zooms) and zooms[-1] > 8
    stage = Stage(page, WIDE_SIZE)
    assert stage.scale == pytest.approx(4, rel=0.01)
    page.keyboard.press("+")  # the top: nothing changes
    assert Stage(page, WIDE_SIZE).scale == stage.scale

    view = page.locator(".boxes-stage").bounding_box()
    x, y = stage.pixel(view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    assert x == pytest.approx(WIDE_SIZE[0] / 2, abs=10)  # zoomed around the middle of the view
    left, top = round(x) - 10, round(y) - 6
    _drag(page, stage.at(left, top), stage.at(left + 21.5, top + 12.25))
    [box] = _boxes(page)
    _close(box, 0.5, x=left, y=top, w=21.5, h=12.25)

    page.keyboard.press("Enter")
    [stored] = _stored(page, boxes_server, WIDE, item)["objects"]
    _close(stored, 1, x=left, y=top, w=21.5, h=12.25)
    page.close()


def _zoom(page: Any) -> float:
    return float(str(page.get_attribute(".boxes-stage", "data-zoom")))


def _scroll(page: Any) -> tuple[float, float]:
    left, top = page.eval_on_selector(".boxes-stage", "s => [s.scrollLeft, s.scrollTop]")
    return left, top


def _near(got: tuple[float, float], want: tuple[float, float], tol: float) -> None:
    assert abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol, f"{got} != {want}"


def test_ctrl_wheel_zooms_around_the_pointer_and_a_plain_wheel_scrolls(
    boxes_server: str, browser: Any
) -> None:
    """Ctrl+wheel (a trackpad pinch too) zooms keeping the image point under the pointer there,
    a notch a step as + does, up to 4 screen pixels per image pixel, never the page; a plain
    wheel scrolls the zoomed image and zooms nothing."""
    page = signed_in_page(
        browser, boxes_server, f"/p/{ZOOM}/label", viewport={"width": 1200, "height": 900}
    )
    _wait_stage(page)
    page.evaluate(
        """() => { window.__wheels = [];
            addEventListener('wheel', e => __wheels.push([e.ctrlKey, e.defaultPrevented])); }"""
    )
    assert page.text_content(".boxes-zoom-text") == "100%"
    fitted = Stage(page, ZOOM_SIZE)
    # A point well off the middle, at whole screen pixels: the browser reports a mouse there.
    pointer = (
        round(fitted.at(0.3 * ZOOM_SIZE[0], 0)[0]),
        round(fitted.at(0, 0.35 * ZOOM_SIZE[1])[1]),
    )
    point = fitted.pixel(*pointer)
    page.mouse.move(*pointer)

    page.keyboard.down("Control")
    zooms = [_zoom(page)]
    while not page.is_disabled(".boxes-zoom-in"):
        page.mouse.wheel(0, -100)  # one notch of a mouse wheel: one zoom step
        zooms.append(_zoom(page))
        assert zooms[-1] > zooms[-2]
        _near(Stage(page, ZOOM_SIZE).at(*point), pointer, 1)  # still under the pointer
        assert len(zooms) < 20
    assert zooms[:4] == [1, 1.5, 2, 3]  # the steps of + and -
    assert Stage(page, ZOOM_SIZE).scale == pytest.approx(4, rel=0.01)
    assert page.text_content(".boxes-zoom-text") == "4:1"  # in the image's own pixels
    top = zooms[-1]
    page.mouse.wheel(0, 10)  # a pinch outwards: a small delta, a smooth step
    assert zooms[-2] < _zoom(page) < top
    _near(Stage(page, ZOOM_SIZE).at(*point), pointer, 1)
    page.mouse.wheel(0, 100)
    assert _zoom(page) == zooms[-2]
    page.keyboard.up("Control")

    before = _scroll(page)
    page.mouse.wheel(0, 120)  # no Ctrl: the zoomed image scrolls under the pointer
    page.wait_for_function(
        "(top) => document.querySelector('.boxes-stage').scrollTop > top", arg=before[1]
    )
    assert _zoom(page) == zooms[-2]
    wheels = page.evaluate("() => window.__wheels")
    assert wheels[-1] == [False, False]  # the plain wheel was left to the browser
    assert all(prevented for ctrl, prevented in wheels if ctrl)  # no page zoom with Ctrl

    page.keyboard.down("Control")
    for _ in zooms[1:-1]:
        page.mouse.wheel(0, 100)
    page.keyboard.up("Control")
    assert _zoom(page) == 1
    assert page.text_content(".boxes-zoom-text") == "100%"
    assert _boxes(page) == []
    sheet = str(page.text_content("#shortcuts-body"))
    assert "Zoom in / out around the mouse pointer" in sheet
    assert "Pan the zoomed image without drawing" in sheet
    page.close()


def test_space_or_middle_drag_pans_and_a_box_drawn_after_lands_on_its_pixels(
    boxes_server: str, browser: Any
) -> None:
    """Space+drag and a middle-button drag pan the zoomed image, even starting on a box, and
    draw nothing; a box drawn after zooming and panning is stored in the image's own pixels."""
    page = signed_in_page(
        browser, boxes_server, f"/p/{ZOOM}/label", viewport={"width": 1200, "height": 900}
    )
    _wait_stage(page)
    item = str(page.text_content("#item-id"))
    for _ in range(5):
        page.keyboard.press("+")
    assert _zoom(page) == 6
    stage = Stage(page, ZOOM_SIZE)
    assert stage.scale > 1
    view = page.locator(".boxes-stage").bounding_box()
    middle = (view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    x, y = (round(v) for v in stage.pixel(*middle))
    _drag(page, stage.at(x, y), stage.at(x + 40, y + 30))
    [first] = _boxes(page)

    # Space+drag from the middle of the box: the image moves with the pointer, the box stays.
    before, page_y = _scroll(page), page.evaluate("() => scrollY")
    grab = stage.at(x + 20, y + 15)
    page.mouse.move(*grab)
    page.keyboard.down("Space")
    _drag(page, grab, (grab[0] - 200, grab[1] - 100))
    page.keyboard.up("Space")
    _near(_scroll(page), (before[0] + 200, before[1] + 100), 2)
    assert _boxes(page) == [first]
    assert page.evaluate("() => scrollY") == page_y  # Space over the image scrolled no page

    # The middle button pans the same way, without Space.
    before = _scroll(page)
    page.mouse.move(*middle)
    page.mouse.down(button="middle")
    page.mouse.move(middle[0] - 150, middle[1] - 80, steps=8)
    page.mouse.up(button="middle")
    _near(_scroll(page), (before[0] + 150, before[1] + 80), 2)
    assert _boxes(page) == [first]

    stage = Stage(page, ZOOM_SIZE)
    left, top = (round(v) for v in stage.pixel(*middle))
    assert (left, top) != (x, y)  # another part of the image is in the middle now
    _drag(page, stage.at(left, top), stage.at(left + 21.5, top + 12.25))
    second = _boxes(page)[1]
    _close(second, 0.5, x=left, y=top, w=21.5, h=12.25)

    page.keyboard.press("Enter")
    stored = _stored(page, boxes_server, ZOOM, item)["objects"]
    assert stored[0] == _plain(first)
    _close(stored[1], 1, x=left, y=top, w=21.5, h=12.25)
    page.close()


def _open_pair(browser: Any, url: str) -> tuple[Any, str, Callable[[str], Stage]]:
    """The labeling page of the project with two boxes controls, both images loaded: the page,
    its item, and a way to scroll to a stage (its selector) and map its pixels."""
    page = signed_in_page(browser, url, f"/p/{PAIR}/label", viewport={"width": 1200, "height": 900})
    page.wait_for_function(
        """() => document.getElementById('label-app').dataset.state === 'task'
            && [...document.querySelectorAll('.boxes-stage')].filter(
                s => s.dataset.ready === 'true').length === 2"""
    )

    def on(within: str) -> Stage:
        page.locator(within).scroll_into_view_if_needed()
        return Stage(page, within=within)

    return page, str(page.text_content("#item-id")), on


def test_undo_acts_on_the_boxes_control_used_last(boxes_server: str, browser: Any) -> None:
    """With two boxes controls on an image, Ctrl+Z and Ctrl+Y act on the one last drawn on or
    clicked, not on both."""
    page, item, on = _open_pair(browser, boxes_server)
    vehicles, people = (f".boxes-stage[data-control='{name}']" for name in PAIR_CONTROLS)

    def shown() -> tuple[list[dict[str, Any]], ...]:
        """Each control's boxes: the vehicles', the people's."""
        return tuple([_plain(b) for b in _boxes(page, s)] for s in (vehicles, people))

    stage = on(vehicles)
    _drag(page, stage.at(40, 30), stage.at(140, 110))
    stage = on(people)
    _drag(page, stage.at(200, 120), stage.at(260, 220))
    car, adult = shown()
    assert [b["label"] for b in car + adult] == ["car", "adult"]

    page.keyboard.press("Control+z")  # the people box was drawn last: only it goes
    assert shown() == (car, [])
    page.keyboard.press("Control+y")
    assert shown() == (car, adult)

    stage = on(vehicles)
    page.mouse.click(*stage.at(300, 250))  # a click on the vehicles' image makes it the one
    page.keyboard.press("Control+z")
    assert shown() == ([], adult)
    page.keyboard.press("Control+Shift+z")
    assert shown() == (car, adult)
    page.keyboard.press("Control+z")
    assert "in the boxes control used last" in str(page.text_content("#shortcuts-body"))

    page.keyboard.press("Enter")
    assert _stored(page, boxes_server, PAIR, item) == {"vehicles": [], "people": adult}
    page.close()


def test_every_key_acts_in_the_boxes_control_used_last(boxes_server: str, browser: Any) -> None:
    """With two boxes controls on an image, ], arrows, +, Delete and Esc act in the one last
    drawn on, clicked, tabbed into or given one of its own label keys, as Ctrl+Z does (they all
    went to the first); until one is used, in the first. The image the keys act on says so."""
    page, item, on = _open_pair(browser, boxes_server)
    vehicles, people = (f".boxes-stage[data-control='{name}']" for name in PAIR_CONTROLS)

    def shown() -> tuple[list[dict[str, Any]], ...]:
        return tuple(_boxes(page, s) for s in (vehicles, people))

    def keyed() -> list[str]:
        return page.eval_on_selector_all(
            ".boxes-stage.is-keyed", "stages => stages.map(s => s.dataset.control)"
        )

    assert keyed() == ["vehicles"]
    assert "keys act here" in str(page.text_content(f"{vehicles} .boxes-stage-name"))
    stage = on(vehicles)
    _drag(page, stage.at(40, 30), stage.at(140, 110))
    stage = on(people)
    _drag(page, stage.at(200, 120), stage.at(260, 220))
    car, adult = (boxes[0] for boxes in shown())
    assert keyed() == ["people"]
    assert "keys act here" not in str(page.text_content(f"{vehicles} .boxes-stage-name"))

    # The people box was drawn last: Esc, ], the arrows, + and - act there, not on the car.
    page.keyboard.press("Escape")
    assert [b["selected"] for b in shown()[1]] == [False]
    page.keyboard.press("]")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    cars, adults = shown()
    assert cars == [car]
    _close(adults[0], 0.01, x=adult["x"] + 1, y=adult["y"] + 10)
    assert adults[0]["selected"]
    page.keyboard.press("+")
    zooms = [float(page.get_attribute(s, "data-zoom") or 0) for s in (vehicles, people)]
    assert zooms[0] == 1 and zooms[1] > 1
    page.keyboard.press("-")
    page.keyboard.press("Delete")
    assert shown() == ([car], [])

    # The vehicles' own label key (1: car) adds a car there and makes it the one.
    page.keyboard.press("1")
    cars, adults = shown()
    assert (len(cars), adults, keyed()) == (2, [], ["vehicles"])
    page.keyboard.press("ArrowLeft")  # moves the car just added, which is selected
    assert shown()[0][1]["x"] == cars[1]["x"] - 1
    # Tabbing into the people's panel makes it the one; so does a click on its image.
    page.focus(".boxes-widget[data-control='people'] .boxes-label")
    assert keyed() == ["people"]
    page.keyboard.press("Control+z")  # takes back the people box's removal, not the car
    assert [len(boxes) for boxes in shown()] == [2, 1]
    page.keyboard.press("Control+y")
    page.mouse.click(*on(vehicles).at(300, 250))
    assert keyed() == ["vehicles"]
    # The click on the image took the focus from the people's label: Enter submits at the end
    assert page.evaluate("document.activeElement === document.body")
    page.keyboard.press("Control+z")  # back: the car before the ← nudge
    assert shown()[0][1]["x"] == cars[1]["x"]
    page.keyboard.press("[")  # the last of the vehicles' boxes: the car added by key
    page.keyboard.press("Delete")
    assert [[_plain(b) for b in boxes] for boxes in shown()] == [[_plain(car)], []]

    page.keyboard.press("?")
    assert "keys act on" in str(page.text_content("#shortcuts-body"))
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    assert _stored(page, boxes_server, PAIR, item) == {"vehicles": [_plain(car)], "people": []}
    page.close()
