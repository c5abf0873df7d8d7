"""Image classification in real Chromium: the digits demo served, digits labeled by keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import USERNAME, serving
from tests.e2e.sessions import signed_in_page
from tests.e2e.stock import Stock, picture, serving_stocked, stocked

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def digits_server(tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path) -> Iterator[str]:
    """`labelloop demo --dataset digits` on a fresh data dir, with alice as site admin: served
    with its first queue, which the demo makes before it serves, and no learner: four answers
    need no round, and "More like this" reads the features the demo's queue was made with."""
    home = tmp_path_factory.mktemp("labelloop-digits")
    with stocked(home, sqlite_migrated, first_rounds=False) as stock:
        stock.user(USERNAME, admin=True)
    with serving(home, "demo", "--dataset", "digits", "--no-browser", learner=False) as url:
        assert len(list((home / "media" / "sklearn-digits").glob("*.png"))) == 1797
        yield url


def _wait_image(page: Any, *, other_than: str = "") -> dict[str, Any]:
    """Wait for a new leased item whose image has loaded; its assignment, alt text and size
    (as long as wait_task allows, for two loaded workers on two cores)."""
    page.wait_for_function(
        """(prev) => {
            const app = document.getElementById('label-app');
            const img = document.querySelector('#item-text img.item-image');
            return app.dataset.state === 'task' && app.dataset.assignmentId !== prev
                && img && img.complete && img.naturalWidth > 0;
        }""",
        arg=other_than,
        timeout=60000,
    )
    return page.evaluate(
        """() => {
            const img = document.querySelector('#item-text img.item-image');
            return {
                assignment: document.getElementById('label-app').dataset.assignmentId,
                alt: img.alt,
                width: img.naturalWidth,
                id: document.getElementById('item-id').textContent,
                src: img.getAttribute('src'),
            };
        }"""
    )


def test_label_digit_images_by_keyboard(
    digits_server: str, browser: Any, screenshots: Path
) -> None:
    from sklearn.datasets import load_digits

    target = load_digits().target
    page = signed_in_page(
        browser, digits_server, "/p/digits/label", viewport={"width": 1200, "height": 900}
    )
    shown = _wait_image(page)
    page.screenshot(path=str(screenshots / "label-image.png"))
    for _ in range(4):
        assert shown["width"] == 8  # the 8x8 PNG, scaled up by CSS
        assert shown["alt"] == shown["id"] and shown["id"].startswith("d")
        assert "/media" in shown["src"]
        digit = str(int(target[int(shown["id"][1:])]))
        page.keyboard.press(digit)
        pressed = page.eval_on_selector_all(
            ".label-btn[aria-pressed=true]", "bs => bs.map(b => b.dataset.label)"
        )
        assert pressed == [digit]
        page.keyboard.press("Enter")
        shown = _wait_image(page, other_than=shown["assignment"])
    status = page.request.get(digits_server + "/api/projects/digits/status").json()
    assert status["featurizer"] == "pixels"
    assert status["counts"]["labeled"] >= 4
    assert page.evaluate("() => window.__xss") is None
    page.close()


def test_pool_search_shows_image_thumbnails(digits_server: str, browser: Any) -> None:
    """'More like this' from a digit lists similar images, each with its picture as a thumbnail."""
    viewport = {"width": 1200, "height": 900}
    page = signed_in_page(browser, digits_server, "/p/digits/search?like=5", viewport=viewport)
    page.wait_for_selector("#results li.hit img.hit-thumb")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.hit-thumb')].every(i => i.complete)"
    )
    thumbs = page.eval_on_selector_all(
        "#results li.hit img.hit-thumb",
        "imgs => imgs.map(i => ({src: i.getAttribute('src'), w: i.naturalWidth}))",
    )
    assert thumbs and all("/thumbnail?size=96" in t["src"] for t in thumbs)
    assert all(t["w"] > 0 for t in thumbs)  # a real picture came back, not a broken image
    page.close()


ICONS = {"icon.png": (64, 48), "photo.png": (1600, 1200)}


@pytest.fixture(scope="module")
def icons_server(tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path) -> Iterator[str]:
    """An image project of a 64x48 icon and a 1600x1200 photo, alice its admin; no learner."""

    def stock_icons(stock: Stock, home: Path) -> None:
        stock.user(USERNAME, admin=True)
        folder = home / "media" / "icons"
        folder.mkdir(parents=True)
        for name, size in ICONS.items():
            picture(folder / name, size, [(4, 4, size[0] // 2, size[1] // 2, (200, 40, 40))])
        schema = {
            "name": "Icons",
            "data": {"type": "image", "field": "path"},
            "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
        }
        stock.project("icons", schema)
        stock.add("icons", folder)

    with serving_stocked(
        tmp_path_factory, sqlite_migrated, stock_icons, name="icons", learner=False
    ) as served:
        yield served.url


def test_a_small_image_fills_the_item_box_and_a_large_one_shows_whole(
    icons_server: str, browser: Any
) -> None:
    """A 64x48 picture showed at 64x48 in a box some 850 px wide, and a large photo was 60% of
    the view high in a box that scrolls past 50%, its bottom cut off under "More below"; each
    now fills the box's width or half the view's height, whichever comes first, whole."""
    page = signed_in_page(
        browser, icons_server, "/p/icons/label", viewport={"width": 1280, "height": 800}
    )
    seen = set()
    assignment = ""
    for _ in ICONS:
        shown = _wait_image(page, other_than=assignment)
        assignment = shown["assignment"]
        box = page.evaluate(
            """() => {
                const img = document.querySelector('#item-text img.item-image');
                const text = document.getElementById('item-text');
                const r = img.getBoundingClientRect();
                return {w: r.width, h: r.height, boxW: text.clientWidth,
                        scroll: text.scrollHeight - text.clientHeight};
            }"""
        )
        assert box["scroll"] <= 1, box  # the whole picture, nothing below to scroll to
        assert box["h"] == pytest.approx(400, abs=2), box  # half of the 800 px view
        assert box["w"] == pytest.approx(box["h"] * 4 / 3, abs=2), box  # its shape kept
        seen.add(shown["id"])
        page.keyboard.press("1")
        page.keyboard.press("Enter")
    assert seen == set(ICONS)
    page.close()


def test_the_search_boxes_of_an_image_project_say_they_search_file_paths(
    icons_server: str, browser: Any
) -> None:
    """The Items page's and the pool search's boxes suggested text searches ('e.g. refund*
    "money back"') in a project of pictures, which have no text: their words are those of
    each file's path, which the boxes, their help and a search that finds nothing now say,
    and such a word finds the picture."""
    viewport = {"width": 1280, "height": 800}
    page = signed_in_page(browser, icons_server, "/p/icons/items", viewport=viewport)
    page.wait_for_function("() => document.querySelectorAll('#items-rows tr').length === 2")
    help_line = page.inner_text("#items-syntax")
    assert "refund" not in page.get_attribute("#f-q", "placeholder") + help_line
    assert "path" in help_line and "Words of the file's path" in page.inner_text(".items-words")
    page.fill("#f-q", "photo")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#items-rows tr').length === 1")
    assert "photo.png" in page.inner_text("#items-rows")

    page.goto(icons_server + "/p/icons/search?q=icons")  # the folder's name finds both
    page.wait_for_selector("#results li.hit")
    assert page.locator("#results li.hit").count() == 2
    help_line = page.inner_text("#search-syntax")
    assert "refund" not in page.get_attribute("#search-q", "placeholder") + help_line
    assert "path" in help_line
    page.fill("#search-q", "beach")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('results-summary').textContent.startsWith('No pool')"
    )
    missed = page.inner_text("#results-summary")
    assert "file path" in missed and "refund" not in missed
    page.close()


def test_a_lone_star_in_an_image_project_is_explained_with_a_file_names_words(
    icons_server: str, browser: Any
) -> None:
    """A search for a lone * in a project of pictures was refused with the text projects'
    explanation ('refund* finds refund, refunds and refunded'), though its searches read the
    words of file paths: the pool search and the Items page now explain it with those."""
    viewport = {"width": 1280, "height": 800}
    page = signed_in_page(browser, icons_server, "/p/icons/search", viewport=viewport)
    page.fill("#search-q", "*")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('search-messages').textContent")
    said = page.inner_text("#search-messages")
    assert said.startswith("a * ends a word: img* finds img") and "refund" not in said, said
    assert "file's path" in said

    page.goto(icons_server + "/p/icons/items")
    page.wait_for_function("() => document.querySelectorAll('#items-rows tr').length === 2")
    page.fill("#f-q", "*")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('items-app').dataset.state === 'error'", timeout=30000
    )
    assert page.inner_text("#items-messages") == said
    page.close()
