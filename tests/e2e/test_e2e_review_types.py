"""Reviewing spans and boxes in real Chromium: the reviewer sees the annotator's spans on the text
and boxes on the image, fixes one by keyboard with the labeling page's keys, accepts another, and
the API holds the verdicts and the corrected values; item text stays text."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    USERNAME,
    api_token,
    first_rounds,
    run_cli,
    wait_task,
    write_jsonl,
)
from tests.e2e.sessions import signed_in, signed_in_page
from tests.e2e.stock import Served, Stock, picture, serving_stocked
from tests.e2e.test_e2e_spans import ENTITIES, _span

pytestmark = pytest.mark.browser

ANNOTATOR = "ann"
SPANS = "ents"  # project: one spans control, every annotation reviewed
BOXES = "objs"  # project: one boxes control, every annotation reviewed
EXPERT = "expert"  # project: spans and a rating, escalated to the expert tier
SENT_BACK = "sentback"  # project: as SPANS, its one answer rejected with a comment
HOSTILE_TEXT = "<script>window.__xss=1</script> Ada Lovelace met <b>Zoë</b> in Paris."
FIX_TEXT = "Charles Babbage lived in London."
WIDTH, HEIGHT = 200, 150


def _png(path: Path, rect: tuple[int, int, int, int]) -> None:
    """An RGB PNG of WIDTH x HEIGHT with one dark rectangle (x, y, w, h)."""
    picture(path, (WIDTH, HEIGHT), [(*rect, (40, 60, 160))])


MOVED = "objs-moved"  # project: one boxes control, every annotation reviewed


@pytest.fixture(scope="module")
def review_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path
) -> Iterator[Served]:
    """Spans projects and boxes projects, all reviewing every answer, with their first queues
    (each holding every item), and no learner: reviews need no round, and the one test that
    imports more images queues them as the learner would (``first_rounds``)."""
    with serving_stocked(
        tmp_path_factory, sqlite_migrated, _stock_review, name="review-types", learner=False
    ) as served:
        yield served


def _stock_review(stock: Stock, home: Path) -> None:
    stock.user(USERNAME, admin=True)
    stock.user(ANNOTATOR)
    schemas = {
        SPANS: {
            "name": "Entities <reviewed>",
            "data": {"type": "text", "field": "text"},
            "controls": [ENTITIES],
            "settings": {"review_policy": "all"},
        },
        BOXES: {
            "name": "Objects reviewed",
            "data": {"type": "image", "field": "image"},
            "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person", "sign"]}],
            "settings": {"review_policy": "all"},
        },
        MOVED: {
            "name": "Objects moved in review",
            "data": {"type": "image", "field": "image"},
            "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
            "settings": {"review_policy": "all"},
        },
    }
    schemas[SENT_BACK] = {**schemas[SPANS], "name": "Entities sent back"}
    schemas[EXPERT] = {
        **schemas[SPANS],
        "name": "Entities decided",
        "controls": [
            ENTITIES,
            {"name": "sure", "type": "rating", "max": 3, "hotkeys": ["7", "8", "9"]},
        ],
    }
    for slug, schema in schemas.items():
        stock.project(slug, schema)
        stock.member(slug, ANNOTATOR, "annotator")
    rows = [{"id": "hostile", "text": HOSTILE_TEXT}, {"id": "fixme", "text": FIX_TEXT}]
    stock.add(SPANS, write_jsonl(home / "texts.jsonl", rows), id_field="id")
    jsonl = write_jsonl(home / "expert.jsonl", [{"id": "unsure", "text": FIX_TEXT}])
    stock.add(EXPERT, jsonl, id_field="id")
    stock.add(SENT_BACK, jsonl, id_field="id")
    folder = home / "media" / "street"
    folder.mkdir(parents=True)
    _png(folder / "one.png", (20, 30, 60, 40))
    _png(folder / "two.png", (100, 50, 50, 80))
    stock.add(BOXES, folder)
    folder = home / "media" / "street-moved"
    folder.mkdir(parents=True)
    _png(folder / "five.png", (60, 40, 50, 30))
    _png(folder / "six.png", (60, 40, 50, 31))  # another file: not a duplicate
    stock.add(MOVED, folder)


def _client(url: str, username: str) -> httpx.Client:
    """An API client holding a token made through the login form and a session."""
    headers = {"Authorization": f"Bearer {api_token(url, username)}"}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _annotate(url: str, slug: str, answer: Any) -> dict[str, dict[str, Any]]:
    """The annotator answers every item of ``slug`` through the API: external id -> submit."""
    out: dict[str, dict[str, Any]] = {}
    with _client(url, ANNOTATOR) as http:
        deadline = time.monotonic() + 90  # slack for a server on a loaded machine
        while True:
            task = http.post(f"/api/projects/{slug}/tasks/next", json={}).json()["task"]
            if task is None:
                if out:
                    return out
                assert time.monotonic() < deadline, "no task was served"
                time.sleep(0.2)
                continue
            item = task["item"]
            value = answer(item)
            done = http.post(
                f"/api/projects/{slug}/tasks/{task['assignment_id']}/submit",
                json={"value": value, "active_ms": 2000},
            )
            assert done.status_code == 200, done.text
            out[str(item["external_id"])] = {**done.json(), "value": value}


def _wait_review(page: Any, *, other_than: str = "", ready: str = "true") -> str:
    """Wait for a new annotation under review whose widgets have drawn; its id."""
    page.wait_for_function(
        """([prev, ready]) => {
            const app = document.getElementById('review-app');
            if (app.dataset.state !== 'review' || app.dataset.annotationId === prev) return false;
            const stage = document.querySelector('#item-text .boxes-stage');
            const spans = document.querySelector('#item-text .spans-text');
            return (stage && stage.dataset.ready === ready) || !!spans;
        }""",
        arg=[other_than, ready],
        timeout=15000,
    )
    return str(page.get_attribute("#review-app", "data-annotation-id"))


def _detail(url: str, slug: str, item_id: int) -> dict[str, Any]:
    with _client(url, USERNAME) as http:
        got = http.get(f"/api/projects/{slug}/items/{item_id}/review")
        assert got.status_code == 200, got.text
        return dict(got.json())


def test_review_spans_fix_by_keyboard_and_accept(
    review_server: Served, browser: Any, screenshots: Path
) -> None:
    url = review_server.url
    answers = {
        "hostile": [
            _span(HOSTILE_TEXT, "Ada Lovelace", "person"),
            _span(HOSTILE_TEXT, "Paris", "place"),
        ],
        "fixme": [_span(FIX_TEXT, "Charles Babbage", "place")],  # wrong: a person
    }
    submitted = _annotate(url, SPANS, lambda item: {"entities": answers[item["external_id"]]})
    assert set(submitted) == {"hostile", "fixme"}

    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + f"/p/{SPANS}/review")
    assert not page.is_visible("text=has no choice control")

    seen: set[str] = set()
    current = ""
    for _ in range(2):
        current = _wait_review(page, other_than=current)
        item = page.text_content("#item-id") or ""
        seen.add(item)
        # The annotator's spans are drawn on the text, read-only, each tag with its offsets.
        tags = page.eval_on_selector_all(
            "#item-text .spans-text .span-tag",
            "ts => ts.map(t => ({start: +t.dataset.start, end: +t.dataset.end,"
            " label: t.dataset.label}))",
        )
        assert tags == answers[item]
        assert page.locator("#item-text .span-x:not([disabled])").count() == 0
        # Without its ×, a read-only tag keeps room after its name (not cut by its round end).
        room = page.eval_on_selector_all(
            "#item-text .span-tag",
            """ts => ts.map(t => t.getBoundingClientRect().right
                              - t.querySelector('.span-tag-name').getBoundingClientRect().right)""",
        )
        assert min(room) >= 3, room
        values = page.text_content("#review-values") or ""
        if item == "hostile":
            assert "person “Ada Lovelace”" in values and "place “Paris”" in values
            area = page.text_content("#item-text") or ""
            assert "<script>window.__xss=1</script>" in area and "<b>Zoë</b>" in area
            assert page.locator("#item-text script, #item-text b").count() == 0
            assert page.evaluate("() => window.__xss") is None
            page.screenshot(path=str(screenshots / "review-spans.png"))
            page.keyboard.press("a")  # accept
            continue
        assert "place “Charles Babbage”" in values
        page.keyboard.press("f")  # fix: the spans become editable, with the labeling keys
        assert page.is_visible("#fix-panel")
        page.wait_for_selector("#item-text .span-x:not([disabled])")
        page.keyboard.press("]")  # select the first span
        page.keyboard.press("p")  # relabel it: person
        page.keyboard.press("Escape")  # let go of the span (the fix stays open)
        assert page.is_visible("#fix-panel")
        page.keyboard.press("ArrowLeft")  # the word cursor starts at the end: "."
        page.keyboard.press("ArrowLeft")  # "London"
        page.keyboard.press("l")  # mark it: place
        labels = page.eval_on_selector_all(
            "#item-text .span-tag", "ts => ts.map(t => t.dataset.label)"
        )
        assert labels == ["person", "place"]
        page.screenshot(path=str(screenshots / "review-spans-fix.png"))
        page.keyboard.press("Enter")  # save the fix
    _wait_review_empty(page)
    assert seen == {"hostile", "fixme"}
    assert not errors, errors
    context.close()

    fixed = _detail(url, SPANS, submitted["fixme"]["item_id"])
    [annotation] = fixed["annotations"]
    assert annotation["status"] == "fixed"
    expected = [_span(FIX_TEXT, "Charles Babbage", "person"), _span(FIX_TEXT, "London", "place")]
    assert fixed["reviews"][-1]["verdict"] == "fix"
    assert fixed["reviews"][-1]["corrected_value"] == {"entities": expected}
    assert fixed["label"]["value"] == {"entities": expected}
    accepted = _detail(url, SPANS, submitted["hostile"]["item_id"])
    assert accepted["annotations"][0]["status"] == "accepted"
    assert accepted["label"]["value"] == {"entities": answers["hostile"]}


def test_a_comment_written_first_is_sent_by_one_click_on_reject(
    review_server: Served, browser: Any
) -> None:
    """A reviewer who typed the comment and then clicked Reject saw the comment box turn red
    and nothing sent: the click only opened the reject it was meant to send."""
    url = review_server.url
    wrong = [_span(FIX_TEXT, "Charles Babbage", "place")]
    submitted = _annotate(url, SENT_BACK, lambda item: {"entities": wrong})
    page = signed_in_page(
        browser, url, f"/p/{SENT_BACK}/review", viewport={"width": 1280, "height": 900}
    )
    _wait_review(page)
    # With a fix open, the comment was written for the fix: the first click leaves the fix for
    # the reject and sends nothing yet.
    page.click("#fix-btn")
    page.fill("#review-comment", "Charles Babbage is a person")
    page.click("#reject-btn")
    assert page.get_attribute("#review-app", "data-pending") == "reject"
    item_id = submitted["unsure"]["item_id"]
    assert _detail(url, SENT_BACK, item_id)["annotations"][0]["status"] != "rejected"
    page.click("#reject-btn")
    _wait_review_empty(page)
    page.close()
    # Without a fix open, one click on Reject sends the comment written first.
    second = _annotate(url, SENT_BACK, lambda item: {"entities": wrong})
    page = signed_in_page(
        browser, url, f"/p/{SENT_BACK}/review", viewport={"width": 1280, "height": 900}
    )
    _wait_review(page)
    page.fill("#review-comment", "Charles Babbage is a person")
    page.click("#reject-btn")
    _wait_review_empty(page)
    submitted = second
    detail = _detail(url, SENT_BACK, submitted["unsure"]["item_id"])
    assert detail["annotations"][0]["status"] == "rejected"
    assert detail["reviews"][-1]["comment"] == "Charles Babbage is a person"
    page.close()


def _wait_review_empty(page: Any) -> None:
    page.wait_for_function(
        "() => document.getElementById('review-app').dataset.state === 'empty'", timeout=15000
    )


def _boxes(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        "#item-text .boxes-layer .bx[data-index]",
        """divs => divs.map(d => ({x: +d.dataset.x, y: +d.dataset.y, w: +d.dataset.w,
            h: +d.dataset.h, label: d.dataset.label}))""",
    )


def test_review_boxes_fix_by_keyboard_and_accept(
    review_server: Served, browser: Any, screenshots: Path
) -> None:
    url = review_server.url
    answers = {
        "one.png": [{"x": 20, "y": 30, "w": 60, "h": 40, "label": "car"}],
        "two.png": [{"x": 100, "y": 50, "w": 50, "h": 80, "label": "car"}],  # a person
    }

    def answer(item: dict[str, Any]) -> dict[str, Any]:
        return {"objects": answers[Path(str(item["external_id"])).name]}

    submitted = {Path(k).name: v for k, v in _annotate(url, BOXES, answer).items()}
    assert set(submitted) == set(answers)

    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + f"/p/{BOXES}/review")
    current = ""
    for _ in range(2):
        current = _wait_review(page, other_than=current)
        name = Path(page.text_content("#item-id") or "").name
        # The annotator's boxes are drawn over the picture, in the image's own pixels.
        assert _boxes(page) == answers[name]
        assert "1 box: car" in (page.text_content("#review-values") or "")
        if name == "one.png":
            page.screenshot(path=str(screenshots / "review-boxes.png"))
            # One sheet: the boxes widget's keys for a fix; N stays "next" on this page.
            page.keyboard.press("?")
            sheet = page.text_content("#control-keys") or ""
            assert "Select the previous / next box" in sheet
            assert "Redo what Ctrl+Z took back" in sheet
            assert page.locator("#control-keys kbd", has_text=re.compile("^N$")).count() == 0
            page.keyboard.press("Escape")
            assert not page.is_visible("#shortcuts")
            page.keyboard.press("a")
            continue
        page.keyboard.press("f")
        page.keyboard.press("]")  # select the box
        page.keyboard.press("2")  # relabel: person
        page.keyboard.press("Shift+ArrowRight")  # move it 10 px right
        page.keyboard.press("Alt+ArrowDown")  # 1 px taller
        assert _boxes(page) == [{"x": 110, "y": 50, "w": 50, "h": 81, "label": "person"}]
        page.keyboard.press("Control+z")  # a fix takes back its last step too
        assert _boxes(page) == [{"x": 110, "y": 50, "w": 50, "h": 80, "label": "person"}]
        page.keyboard.press("Control+y")  # and puts it back
        page.keyboard.press("Enter")
    _wait_review_empty(page)
    assert not errors, errors
    context.close()

    fixed = _detail(url, BOXES, submitted["two.png"]["item_id"])
    assert fixed["annotations"][0]["status"] == "fixed"
    corrected = {"objects": [{"x": 110, "y": 50, "w": 50, "h": 81, "label": "person"}]}
    assert fixed["reviews"][-1]["corrected_value"] == corrected
    assert fixed["label"]["value"] == corrected
    accepted = _detail(url, BOXES, submitted["one.png"]["item_id"])
    assert accepted["annotations"][0]["status"] == "accepted"
    assert accepted["label"]["value"] == {"objects": answers["one.png"]}


def test_accept_after_moving_a_box_in_a_fix_keeps_the_fix(
    review_server: Served, browser: Any
) -> None:
    """A reviewer who opened a fix, dragged a box into place with the mouse and then clicked
    Accept had the annotator's answer accepted as it was: the moved box was dropped unsaid."""
    url, slug = review_server.url, MOVED
    first = [{"x": 20, "y": 40, "w": 50, "h": 30, "label": "car"}]  # 40 px left of the car
    answered = {
        Path(k).name: v for k, v in _annotate(url, slug, lambda _: {"objects": first}).items()
    }

    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + f"/p/{slug}/review")
    moved: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for _ in range(2):
        current = _wait_review(page, other_than=current)
        name = Path(page.text_content("#item-id") or "").name
        page.click("#fix-btn")
        if name == "five.png":  # moved by mouse, 40 image px right, then Accept
            box = page.locator("#item-text .bx[data-index='0']").bounding_box()
            assert box is not None
            scale = box["width"] / 50
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + 20 * scale, y, steps=4)
            page.mouse.move(x + 40 * scale, y, steps=4)
            page.mouse.up()
            moved[name] = _boxes(page)
            assert moved[name][0]["x"] == pytest.approx(60, abs=1)
        page.click("#accept-btn")  # six.png: a fix opened and left as it was is an accept
    _wait_review_empty(page)
    assert not errors, errors
    context.close()

    five = _detail(url, slug, answered["five.png"]["item_id"])
    assert five["annotations"][0]["status"] == "fixed"
    assert five["label"]["value"] == {"objects": moved["five.png"]}
    six = _detail(url, slug, answered["six.png"]["item_id"])
    assert six["annotations"][0]["status"] == "accepted"
    assert six["label"]["value"] == {"objects": first}


def test_sent_back_boxes_come_back_drawn_to_be_fixed(review_server: Served, browser: Any) -> None:
    """A rejected boxes answer returns to its annotator with their boxes drawn (Label Studio
    users fix a rejected annotation, they do not redraw it), under the reviewer's comment; the
    fixed answer replaces the rejected one."""
    url = review_server.url
    folder = review_server.home / "media" / "street-more"
    folder.mkdir(parents=True)
    _png(folder / "three.png", (30, 40, 50, 30))
    run_cli(review_server.home, "import", BOXES, str(folder))
    first_rounds(review_server.home)  # the learner's pass that queues the new image
    first = [{"x": 30, "y": 40, "w": 40, "h": 30, "label": "car"}]  # too narrow
    answered = _annotate(url, BOXES, lambda item: {"objects": first})
    three = next(v for k, v in answered.items() if Path(k).name == "three.png")
    rejected, item_id = three["annotation_id"], three["item_id"]
    with _client(url, USERNAME) as http:
        sent = http.post(
            f"/api/projects/{BOXES}/reviews/{rejected}",
            json={
                "verdict": "reject",
                "comment": "the car is 10 px wider",
                "seen": {"objects": first},
            },
        )
        assert sent.status_code == 200, sent.text

    context = signed_in(browser, url, username=ANNOTATOR, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + f"/p/{BOXES}/label")
    shown = wait_task(page)
    page.wait_for_selector("#item-text .boxes-stage[data-ready='true']")
    assert page.is_visible("#rework-banner")
    assert page.text_content("#rework-comment") == "the car is 10 px wider"
    assert page.is_visible("#rework-drawn")
    assert _boxes(page) == first  # drawn where the annotator left them
    page.keyboard.press("]")  # select the box
    page.keyboard.press("Alt+Shift+ArrowRight")  # 10 px wider
    fixed = [{**first[0], "w": 50}]
    assert _boxes(page) == fixed
    page.keyboard.press("Enter")
    page.wait_for_function(
        """(shown) => {
            const app = document.getElementById('label-app');
            return app.dataset.state !== 'task' || app.dataset.assignmentId !== shown;
        }""",
        arg=shown,
    )
    assert not errors, errors
    context.close()
    deadline = time.monotonic() + 30
    while True:
        live = [a for a in _detail(url, BOXES, item_id)["annotations"] if a["status"] != "rejected"]
        if live or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [a["value"] for a in live] == [{"objects": fixed}]


def test_adjudicate_spans_and_rating_by_keyboard(
    review_server: Served, browser: Any, screenshots: Path
) -> None:
    url = review_server.url
    first = {"entities": [_span(FIX_TEXT, "London", "person")], "sure": 1}
    submitted = _annotate(url, EXPERT, lambda item: first)
    item_id = submitted["unsure"]["item_id"]
    with _client(url, USERNAME) as http:
        sent = http.post(
            f"/api/projects/{EXPERT}/reviews/{submitted['unsure']['annotation_id']}",
            json={"verdict": "escalate", "comment": "is <i>London</i> a person?"},
        )
        assert sent.status_code == 200, sent.text

    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + f"/p/{EXPERT}/adjudicate")
    page.wait_for_function(
        """() => document.getElementById('review-app').dataset.state === 'item'
            && document.querySelector('#item-text .spans-text')""",
        timeout=15000,
    )
    assert "is <i>London</i> a person?" in (page.text_content("#history") or "")
    assert "sure: 1 / 3" in (page.text_content("#others") or "")
    # The final answer starts from the only annotation and is editable at once.
    assert page.locator("#item-text .span-x:not([disabled])").count() == 1
    assert page.get_attribute('.rating-btn[data-value="1"]', "aria-pressed") == "true"
    page.screenshot(path=str(screenshots / "adjudicate-spans.png"))
    page.keyboard.press("]")  # select the span
    page.keyboard.press("l")  # relabel: place
    page.keyboard.press("9")  # rating 3
    page.keyboard.press("Enter")  # decide
    page.wait_for_function(
        "() => document.getElementById('review-app').dataset.state === 'empty'", timeout=15000
    )
    assert not errors, errors
    context.close()

    label = _detail(url, EXPERT, item_id)["label"]
    assert label["resolution"] == "adjudicated"
    assert label["value"] == {"entities": [_span(FIX_TEXT, "London", "place")], "sure": 3}
