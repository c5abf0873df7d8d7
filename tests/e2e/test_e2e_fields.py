"""Table, HTML and audio items with rating and text controls, in real Chromium on a real server."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import USERNAME, serving, wait_task, write_jsonl
from tests.e2e.sessions import signed_in_page
from tests.e2e.stock import Stock, stocked
from tests.learn.test_learn_featurize_audio import write_tone

pytestmark = pytest.mark.browser

WINE_COLUMNS = ["alcohol", "flavanoids", "color_intensity", "proline"]
WINE_SCHEMA = {
    "name": "Wines",
    "data": {"type": "table", "field": "row", "columns": WINE_COLUMNS},
    "controls": [
        {
            "name": "cultivar",
            "type": "choice",
            "labels": ["c1", "c2", "c3"],
            "hotkeys": ["1", "2", "3"],
            "target": True,
        },
        {"name": "sure", "type": "rating", "max": 3, "hotkeys": ["q", "w", "e"]},
        {"name": "note", "type": "text", "max_chars": 500},
    ],
    "settings": {"retrain_every": 5},
}
PAGES_SCHEMA = {
    "name": "Support pages",
    "data": {"type": "html", "field": "body"},
    "controls": [
        {"name": "kind", "type": "choice", "labels": ["spam", "ham"], "target": True},
        {"name": "summary", "type": "text", "max_chars": 120},
    ],
    "settings": {"review_policy": "all"},
}
ANNOTATOR = "bob"
GRADED_SCHEMA = {
    **WINE_SCHEMA,
    "name": "Graded wines",
    "settings": {"preselect_suggestion": True},
}
CLIPS_SCHEMA = {
    "name": "Clips",
    "data": {"type": "audio", "field": "audio"},
    "controls": [
        {"name": "pitch", "type": "choice", "labels": ["low", "high"], "target": True},
        {"name": "transcript", "type": "text"},
    ],
}
HOSTILE_PAGES = [
    '<p>Refund <b>now</b></p><img src="x" onerror="window.__pwned = 1">',
    '<a id="bad" href="javascript:window.__pwned = 1">claim your prize</a> <i>today</i>',
    '<svg onload="window.__pwned = 1"><circle r="4"/></svg><p>svg</p>',
    "<scr<script>ipt>window.__pwned = 1</scr</script>ipt><p>split</p>",
    '<iframe srcdoc="<script>parent.__pwned = 1</script>"></iframe><p>frame</p>',
    '<details open ontoggle="window.__pwned = 1"><summary>more</summary>x</details>',
    "<table><tr><th>Order</th><td>7</td></tr></table><style>body{display:none}</style>",
]
CLIP_SECONDS = 12
SNAPS_SCHEMA = {
    "name": "Snaps",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "shade", "type": "choice", "labels": ["dark", "light"], "target": True}],
    "settings": {"review_policy": "all"},
}

PAIR_SCHEMA = {  # two choice controls that list no hotkeys: the defaults number on
    "name": "Two questions",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {"name": "a", "type": "choice", "labels": ["p", "q"], "target": True},
        {"name": "b", "type": "choice", "labels": ["r", "s"]},
    ],
}

PREFILLED_SCHEMA = {  # the pair and a multi-choice, each pre-filled by an imported prediction
    **PAIR_SCHEMA,
    "name": "Prefilled",
    "controls": [
        *PAIR_SCHEMA["controls"],
        {"name": "c", "type": "multi_choice", "labels": ["t", "u", "v"]},
    ],
    "settings": {"preselect_suggestion": True},
}

WIDE_ROWS_SCHEMA = {
    "name": "Wide rows",
    "data": {"type": "table", "field": "row"},
    "controls": [{"name": "cls", "type": "choice", "labels": ["a", "b"], "target": True}],
}
PRICES_SCHEMA = {
    "name": "Prices",
    "data": {"type": "table", "field": "row"},
    "controls": [{"name": "kind", "type": "choice", "labels": ["cheap", "dear"], "target": True}],
}
PRICES = [  # JSON numbers; ratio as a Parquet float32 column holds 0.1
    {"id": "p1", "price": 1234567.891, "total": 12345678901.5, "ratio": 0.10000000149011612},
    {"id": "p2", "price": 127.0, "total": 14.23, "ratio": 0.3},
]


@dataclass
class FieldsServer:
    url: str
    home: Path
    wines: dict[str, dict[str, Any]]  # external id -> row


@pytest.fixture(scope="module")
def fields_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path
) -> Iterator[FieldsServer]:
    """The projects (wine rows, hostile HTML, WAV clips, images, ...) with their first queues,
    each holding all its items, and a live server without a learner: no test waits for a
    round, and one polling and training on eighteen projects only took the CPU."""
    home = tmp_path_factory.mktemp("labelloop-fields")
    work = tmp_path_factory.mktemp("fields-data")
    with stocked(home, sqlite_migrated) as stock:
        wines = _stock_fields(stock, home, work)
    _share_keys_as_before(home / "labelloop.db", "legacy")
    with serving(home, "serve", learner=False) as url:
        yield FieldsServer(url=url, home=home, wines=wines)


def _stock_fields(stock: Stock, home: Path, work: Path) -> dict[str, dict[str, Any]]:
    """Make the module's users, projects and items; the wine rows by external id."""
    stock.user(USERNAME, admin=True)
    stock.user(ANNOTATOR)
    for slug, schema in (
        ("wines", WINE_SCHEMA),
        ("pages", PAGES_SCHEMA),
        ("clips", CLIPS_SCHEMA),
        ("graded", GRADED_SCHEMA),
        ("wide", {**PAGES_SCHEMA, "name": "Wide pages", "settings": {}}),
        ("snaps", SNAPS_SCHEMA),
        ("photos", {**SNAPS_SCHEMA, "name": "Photos", "settings": {}}),
        ("pair", PAIR_SCHEMA),
        ("legacy", PAIR_SCHEMA),
        ("prefilled", PREFILLED_SCHEMA),
        ("clicked", {**PAIR_SCHEMA, "name": "Clicked"}),
        ("tabbed", {**PAIR_SCHEMA, "name": "Tabbed"}),
        ("mixed-clips", {**CLIPS_SCHEMA, "name": "Clips by mouse and keys"}),
        ("rated", {**WINE_SCHEMA, "name": "Rated by mouse"}),
        ("heard", {**CLIPS_SCHEMA, "name": "Clips reviewed", "settings": {"review_policy": "all"}}),
        ("prices", PRICES_SCHEMA),
        ("own", {**WINE_SCHEMA, "name": "Own rows", "settings": {"review_policy": "all"}}),
        ("widerows", WIDE_ROWS_SCHEMA),
    ):
        stock.project(slug, schema)
    from sklearn.datasets import load_wine

    wine = load_wine()
    names = list(wine.feature_names)
    lines = ["id," + ",".join(n.replace("/", "_") for n in names)]
    wines: dict[str, dict[str, Any]] = {}
    for i in range(0, 178, 6):
        lines.append(f"w{i}," + ",".join(f"{v:g}" for v in wine.data[i]))
        wines[f"w{i}"] = {n: f"{wine.data[i][names.index(n)]:g}" for n in WINE_COLUMNS}
    stock.add("wines", _file(work / "wines.csv", "\n".join(lines) + "\n"), id_field="id")
    stock.add("prices", write_jsonl(work / "prices.jsonl", PRICES), id_field="id")
    graded = [
        {
            "id": f"g{i}",
            **{c: 10 + i for c in WINE_COLUMNS},
            "pred": {"sure": 2, "note": f"dry {i}"}
            | ({"cultivar": {"label": "c2", "score": 0.9}} if i >= 3 else {}),
        }
        for i in range(5)
    ]
    stock.add(
        "graded", write_jsonl(work / "graded.jsonl", graded), id_field="id", prediction_field="pred"
    )
    wide = {
        "id": "w1",
        "body": "<h2>"
        + "Unbreakable" * 12
        + "</h2><table><tr>"
        + "".join(f"<td>column {i} with some words</td>" for i in range(12))
        + '</tr></table><img src="https://127.0.0.1:9/x.png" width="2000" alt="wide">'
        + "<pre>"
        + "x = 1; " * 60
        + "</pre>",
    }
    stock.add("wide", write_jsonl(work / "wide.jsonl", [wide]), id_field="id", text_field="body")
    pages = [{"id": f"p{i}", "body": body} for i, body in enumerate(HOSTILE_PAGES)]
    stock.add("pages", write_jsonl(work / "pages.jsonl", pages), id_field="id", text_field="body")
    for i, hz in enumerate((220, 260, 1800, 2100)):
        write_tone(
            home / "media" / "clips" / f"clip{i}.wav", hz=hz, seconds=CLIP_SECONDS, volume=0.3
        )
    for slug in ("clips", "mixed-clips", "heard"):
        stock.add(slug, home / "media" / "clips")
    stock.member("heard", ANNOTATOR, "annotator")
    stock.add("rated", _file(work / "rated.csv", "\n".join(lines[:5]) + "\n"))
    stock.member("pages", ANNOTATOR, "annotator")
    from PIL import Image

    for i, shade in enumerate((30, 220)):
        (home / "media" / "snaps").mkdir(parents=True, exist_ok=True)
        Image.new("L", (24, 16), shade).save(home / "media" / "snaps" / f"s{i}.png")
    stock.add("snaps", home / "media" / "snaps")
    (home / "media" / "photos").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (900, 600), (90, 140, 200)).save(home / "media" / "photos" / "p0.png")
    stock.add("photos", home / "media" / "photos")
    stock.member("snaps", ANNOTATOR, "annotator")
    for slug in ("pair", "legacy"):
        stock.add(slug, write_jsonl(work / f"{slug}.jsonl", _texts("question", 3)))
    stock.add("clicked", write_jsonl(work / "clicked.jsonl", _texts("clicked", 8)))
    stock.add("tabbed", write_jsonl(work / "tabbed.jsonl", _texts("tabbed", 4)))
    prefilled = {"text": "both", "pred": {"a": "q", "b": "s", "c": ["t", "u"]}}
    stock.add(
        "prefilled", write_jsonl(work / "prefilled.jsonl", [prefilled]), prediction_field="pred"
    )
    own = [{"id": f"o{i}", **{c: 10 + i for c in WINE_COLUMNS}} for i in range(2)]
    stock.add("own", write_jsonl(work / "own.jsonl", own), id_field="id")
    header = ",".join(f"f{j}" for j in range(200))
    body = "\n".join(",".join(str(i * 1000 + j) for j in range(200)) for i in range(3))
    stock.add("widerows", _file(work / "w.csv", f"{header}\n{body}\n"))
    return wines


def _file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _texts(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"text": f"{prefix} {i}"} for i in range(n)]


def _share_keys_as_before(db: Path, slug: str) -> None:
    """Store the project's schema as one made before shared keys were refused: b's labels
    keyed 1 and 2 like a's."""
    with sqlite3.connect(db) as conn:
        (raw,) = conn.execute("SELECT schema FROM project WHERE slug = ?", (slug,)).fetchone()
        schema = json.loads(raw)
        schema["controls"][1]["hotkeys"] = ["1", "2"]
        conn.execute("UPDATE project SET schema = ? WHERE slug = ?", (json.dumps(schema), slug))
    conn.close()


def _open(
    browser: Any,
    server: FieldsServer,
    slug: str,
    *,
    width: int = 1200,
    user: str = USERNAME,
    view: str = "label",
) -> Any:
    viewport = {"width": width, "height": 900 if width > 600 else 844}
    return signed_in_page(
        browser, server.url, f"/p/{slug}/{view}", username=user, viewport=viewport
    )


def _latest(page: Any, server: FieldsServer, slug: str) -> dict[str, Any]:
    """The signed-in user's latest annotation, read back through the API."""
    for _ in range(50):  # the page submits in the background
        got = page.request.get(f"{server.url}/api/projects/{slug}/annotations/previous").json()
        if got["annotation"] is not None:
            return got["annotation"]
        page.wait_for_timeout(100)
    raise AssertionError("no annotation was stored")


def _answer_all(page: Any, *, keys: tuple[str, ...]) -> None:
    """Answer each item served with the next key and Enter until the queue is empty; close."""
    assignment = ""
    for key in keys:
        assignment = wait_task(page, other_than=assignment)
        page.keyboard.press(key)
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'empty'")
    page.close()


def _row(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(
            document.querySelectorAll('#item-text .row-table tr'),
            tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]))"""
    )


def test_table_rows_labeled_by_keyboard_alone(
    fields_server: FieldsServer, browser: Any, screenshots: Path
) -> None:
    server = fields_server
    page = _open(browser, server, "wines")
    assignment = wait_task(page)
    row = _row(page)
    assert list(row) == WINE_COLUMNS  # the schema's columns, in order, and nothing else
    item = page.text_content("#item-id")
    assert row == server.wines[item]
    page.keyboard.press("2")
    page.keyboard.press("w")
    assert page.get_attribute(".rating-btn[data-value='2']", "aria-pressed") == "true"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('text-field')")
    page.keyboard.type("fruity, 2 glasses")  # digits typed here are text, not labels
    assert page.eval_on_selector_all(
        ".label-btn[aria-pressed=true]", "bs => bs.map(b => b.dataset.label)"
    ) == ["c2"]
    assert page.text_content(".text-counter").startswith("17 /")
    page.screenshot(path=str(screenshots / "table.png"))
    page.keyboard.press("Escape")  # leave the field: keys label again
    page.keyboard.press("Enter")
    assignment = wait_task(page, other_than=assignment)
    first = _latest(page, server, "wines")
    assert first["value"] == {"cultivar": "c2", "sure": 2, "note": "fruity, 2 glasses"}
    assert first["item"]["external_id"] == item

    # Ctrl+Enter submits from inside the answer; the next item's keys reach the page again.
    item = page.text_content("#item-id")
    page.keyboard.press("3")
    page.keyboard.press("q")
    page.keyboard.press("q")  # the same key again clears the optional rating
    page.keyboard.press("Tab")
    page.keyboard.type("dark\nred")
    page.keyboard.press("Control+Enter")
    assignment = wait_task(page, other_than=assignment)
    second = _latest(page, server, "wines")
    assert second["item"]["external_id"] == item
    assert second["value"] == {"cultivar": "c3", "note": "dark\nred"}
    assert not page.evaluate("document.activeElement.classList.contains('text-field')")
    assert page.input_value(".text-field") == ""  # a fresh item starts with an empty answer
    page.keyboard.press("1")
    assert page.get_attribute(".label-btn[data-label='c1']", "aria-pressed") == "true"
    page.keyboard.press("?")
    sheet = page.text_content("#shortcuts")
    assert "Rate 1–3" in sheet and "Ctrl" in sheet and "Tab" in sheet
    page.close()


def _focus_walk(page: Any, presses: int) -> list[str]:
    """What each Tab from nowhere focuses: a button's label or value, a field's name, or id."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    seen = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                """() => { const a = document.activeElement;
                    return a.dataset.label || a.dataset.value || a.getAttribute('aria-label')
                        || a.id || a.tagName; }"""
            )
        )
    return seen


@pytest.mark.parametrize("width", [1200, 390])
def test_tab_reaches_every_control_of_a_page_with_an_answer_field(
    fields_server: FieldsServer, browser: Any, width: int
) -> None:
    page = _open(browser, fields_server, "wines", width=width)
    wait_task(page)
    seen = _focus_walk(page, 40)
    assert seen[0] == "note"  # Tab from nowhere writes the answer, as the sheet says
    # ...and Tab from anything else moves on: the labels, the rating and the page's buttons are
    # reached, where Tab from any of them went back to the answer field
    for control in ("c1", "c3", "1", "3", "skip-btn", "back-btn", "flag-btn", "help-btn"):
        assert control in seen, seen
    page.close()


def test_a_clicked_button_leaves_enter_to_submit_the_next_item(
    fields_server: FieldsServer, browser: Any
) -> None:
    server = fields_server
    page = _open(browser, server, "clicked")
    skipped = wait_task(page)
    page.click("#skip-btn")  # with the mouse, then back to the keys
    shown = wait_task(page, other_than=skipped)
    item = page.text_content("#item-id")
    page.keyboard.press("2")
    page.keyboard.press("Enter")  # submits this item: the Skip button kept no focus to skip it
    wait_task(page, other_than=shown)
    answer = _latest(page, server, "clicked")
    assert ("#" + str(answer["item"]["id"]), answer["value"]) == (item, {"a": "q"})
    for button in ("#back-btn", "#help-btn"):
        page.click(button)
        assert page.evaluate("document.activeElement === document.body"), button
    page.close()


def test_skip_pressed_with_tab_and_enter_leaves_enter_to_submit_the_next_item(
    fields_server: FieldsServer, browser: Any
) -> None:
    server = fields_server
    page = _open(browser, server, "tabbed")
    skipped = wait_task(page)
    page.wait_for_load_state("networkidle")  # the next item is fetched ahead
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(20):  # Tab to the Skip button, as a keyboard user gets there
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "skip-btn":
            break
    assert page.evaluate("document.activeElement.id") == "skip-btn"
    page.keyboard.press("Enter")
    shown = wait_task(page, other_than=skipped)
    item = page.text_content("#item-id")
    assert page.evaluate("document.activeElement === document.body")
    page.keyboard.press("2")
    page.keyboard.press("Enter")  # submits this item rather than skipping it too
    wait_task(page, other_than=shown)
    answer = _latest(page, server, "tabbed")
    assert ("#" + str(answer["item"]["id"]), answer["value"]) == (item, {"a": "q"})
    page.close()


def test_a_chosen_label_or_rating_is_announced(fields_server: FieldsServer, browser: Any) -> None:
    page = _open(browser, fields_server, "wines")
    wait_task(page)
    news = page.locator("#choice-news")
    assert news.get_attribute("aria-live") == "polite"
    for key, said in (("2", "cultivar: c2"), ("w", "sure: 2"), ("w", "sure: cleared")):
        page.keyboard.press(key)
        assert news.text_content() == said
    page.close()


def _press_on_layout(page: Any, key: str, code: str) -> None:
    """Press the key at ``code`` (its US place) as a layout that types ``key`` there sends it."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "code": code, "text": key})
    cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code})
    cdp.detach()


def test_label_keys_work_on_french_and_russian_layouts(
    fields_server: FieldsServer, browser: Any
) -> None:
    server = fields_server
    page = _open(browser, server, "wines")
    wait_task(page)
    _press_on_layout(page, "é", "Digit2")  # AZERTY's 2 key, unshifted
    assert page.get_attribute(".label-btn[data-label='c2']", "aria-pressed") == "true"
    _press_on_layout(page, "ц", "KeyW")  # a Russian layout's W key: the rating's w
    assert page.get_attribute(".rating-btn[data-value='2']", "aria-pressed") == "true"
    page.close()

    page = _open(browser, server, "clicked")
    shown = wait_task(page)
    _press_on_layout(page, "ы", "KeyS")  # S skips on a Russian layout too
    wait_task(page, other_than=shown)
    page.keyboard.press("Shift+Digit1")  # a US keyboard's ! flags; it picks no label
    assert page.is_visible("#flag-box")
    assert page.get_attribute(".label-btn[data-label='p']", "aria-pressed") == "false"
    page.close()


def test_table_rows_labeled_by_mouse_at_phone_width(
    fields_server: FieldsServer, browser: Any
) -> None:
    server = fields_server
    page = _open(browser, server, "wines", width=390)
    wait_task(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    table = page.locator("#item-text .row-table").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= 390
    item = page.text_content("#item-id")
    page.click(".label-btn[data-label='c1']")
    page.click(".rating-btn[data-value='3']")
    page.click(".text-field")
    page.keyboard.type("by mouse")
    page.click("#submit-btn")
    page.wait_for_function(
        "(prev) => document.getElementById('item-id').textContent !== prev", arg=item
    )
    latest = _latest(page, server, "wines")
    assert latest["item"]["external_id"] == item
    assert latest["value"] == {"cultivar": "c1", "sure": 3, "note": "by mouse"}
    page.close()


def test_hostile_html_items_render_without_running(
    fields_server: FieldsServer, browser: Any, screenshots: Path
) -> None:
    server = fields_server
    page = _open(browser, server, "pages", user=ANNOTATOR)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assignment = wait_task(page)
    seen = set()
    for _ in range(len(HOSTILE_PAGES)):
        page.wait_for_timeout(150)  # give any injected handler the chance to fire
        item = page.text_content("#item-id")
        seen.add(item)
        found = page.evaluate(
            """() => {
                const area = document.querySelector('#item-text .item-html');
                const all = Array.from(area.querySelectorAll('*'));
                return {
                    html: area.innerHTML,
                    handlers: all.filter(n => Array.from(n.attributes)
                        .some(a => a.name.startsWith('on'))).length,
                    bad: area.querySelectorAll('script, svg, iframe, style, object').length,
                    js: all.filter(n => /javascript:/i.test(n.getAttribute('href') || '')
                        || /javascript:/i.test(n.getAttribute('src') || '')).length,
                };
            }"""
        )
        assert found["handlers"] == 0 and found["bad"] == 0 and found["js"] == 0, found
        if item == "p0":
            assert "<b>now</b>" in found["html"]  # formatting survives
            page.screenshot(path=str(screenshots / "html.png"))
        if item == "p1":
            assert page.locator("#item-text a").count() == 1
            page.click("#item-text a")  # its javascript: URL is gone: clicking does nothing
        if item == "p6":
            assert page.locator("#item-text table td").text_content() == "7"
            assert page.evaluate("getComputedStyle(document.body).display") != "none"
        assert page.evaluate("() => window.__pwned") is None
        page.keyboard.press("2")
        page.keyboard.press("Enter")
        if len(seen) < len(HOSTILE_PAGES):
            assignment = wait_task(page, other_than=assignment)
    assert seen == {f"p{i}" for i in range(len(HOSTILE_PAGES))}
    assert page.evaluate("() => window.__pwned") is None
    assert _latest(page, server, "pages")["value"] == {"kind": "ham"}
    assert not errors
    page.close()

    # The reviewer sees the same cleaned markup, and nothing in it runs there either.
    review = _open(browser, server, "pages", view="review")
    review.on("pageerror", lambda exc: errors.append(str(exc)))
    reviewed = set()
    for _ in range(len(HOSTILE_PAGES)):
        review.wait_for_function(
            """(done) => {
                const app = document.getElementById('review-app');
                return app.dataset.state === 'review'
                    && !done.includes(document.getElementById('item-id').textContent);
            }""",
            arg=sorted(reviewed),
            timeout=15000,
        )
        review.wait_for_timeout(150)
        item = review.text_content("#item-id")
        reviewed.add(item)
        area = review.locator("#item-text .item-html")
        assert area.count() == 1
        assert review.evaluate(
            """() => Array.from(document.querySelectorAll('#item-text *')).every(n =>
                !Array.from(n.attributes).some(a => a.name.startsWith('on'))
                && !['SCRIPT', 'IFRAME', 'STYLE'].includes(n.tagName))"""
        )
        if item == "p0":
            assert "<b>now</b>" in area.inner_html()
        assert review.evaluate("() => window.__pwned") is None
        review.keyboard.press("a")
    assert reviewed == seen
    assert not errors
    review.close()


def test_audio_plays_pauses_and_seeks_by_keyboard(
    fields_server: FieldsServer, browser: Any, screenshots: Path
) -> None:
    server = fields_server
    page = _open(browser, server, "clips")
    assignment = wait_task(page)
    page.wait_for_function(
        "() => { const a = document.querySelector('#item-text audio');"
        " return a && a.readyState >= 1 && a.duration > 0; }",
        timeout=20000,
    )
    state = (
        "() => { const a = document.querySelector('#item-text audio');"
        " return {paused: a.paused, time: a.currentTime, duration: a.duration}; }"
    )
    assert abs(page.evaluate(state)["duration"] - CLIP_SECONDS) < 0.1
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.querySelector('#item-text audio').paused")
    page.wait_for_function("() => document.querySelector('#item-text audio').currentTime > 0.2")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.querySelector('#item-text audio').paused")
    before = page.evaluate(state)["time"]
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "(t) => document.querySelector('#item-text audio').currentTime >= t + 4.9", arg=before
    )
    after = page.evaluate(state)["time"]
    assert after == pytest.approx(before + 5, abs=0.3)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "(t) => document.querySelector('#item-text audio').currentTime <= t - 4.9", arg=after
    )
    assert page.evaluate(state)["paused"]
    page.screenshot(path=str(screenshots / "audio.png"))
    item = page.text_content("#item-id")
    page.keyboard.press("1")
    page.keyboard.press("Tab")
    page.keyboard.type("a low hum")
    page.keyboard.press("Escape")
    page.keyboard.press(" ")  # out of the field, Space is the player's again
    page.wait_for_function("() => !document.querySelector('#item-text audio').paused")
    page.keyboard.press("Enter")
    wait_task(page, other_than=assignment)
    latest = _latest(page, server, "clips")
    assert latest["item"]["external_id"] == item
    assert latest["value"] == {"pitch": "low", "transcript": "a low hum"}
    page.keyboard.press("?")
    assert "Forward 5 seconds" in page.text_content("#shortcuts")
    page.close()


def test_space_plays_the_clip_after_labels_clicked_with_the_mouse(
    fields_server: FieldsServer, browser: Any
) -> None:
    """A label clicked with the mouse kept the focus, on the next items too: Space, the player's
    key, pressed that label again instead of playing, so 1 then Space answered the label last
    clicked."""
    server = fields_server
    page = _open(browser, server, "mixed-clips")
    playing = "() => !document.querySelector('#item-text audio').paused"
    paused = "() => document.querySelector('#item-text audio').paused"
    pressed = (
        "[...document.querySelectorAll('.label-btn[aria-pressed=true]')].map(b => b.dataset.label)"
    )
    shown = wait_task(page)
    page.click(".label-btn[data-label=high]")
    page.keyboard.press(" ")
    page.wait_for_function(playing, timeout=5000)
    page.keyboard.press(" ")
    page.wait_for_function(paused, timeout=5000)
    assert page.evaluate(pressed) == ["high"]
    page.click("#submit-btn")
    shown = wait_task(page, other_than=shown)
    item = page.text_content("#item-id")
    page.keyboard.press(" ")  # plays this clip: it does not pick 'high' again
    page.wait_for_function(playing, timeout=5000)
    assert page.evaluate(pressed) == []
    page.keyboard.press("1")
    page.keyboard.press(" ")
    page.wait_for_function(paused, timeout=5000)
    page.keyboard.press("Enter")
    wait_task(page, other_than=shown)
    answer = _latest(page, server, "mixed-clips")
    assert (answer["item"]["external_id"], answer["value"]["pitch"]) == (item, "low")
    page.close()


def test_enter_submits_after_a_rating_clicked_with_the_mouse(
    fields_server: FieldsServer, browser: Any
) -> None:
    """Enter after a rating clicked with the mouse pressed the rating again, which cleared it,
    and submitted nothing."""
    server = fields_server
    page = _open(browser, server, "rated")
    shown = wait_task(page)
    item = page.text_content("#item-id")
    page.click(".label-btn[data-label=c2]")
    page.click(".rating-btn[data-value='2']")
    page.keyboard.press("Enter")
    wait_task(page, other_than=shown, timeout_ms=30000)
    answer = _latest(page, server, "rated")
    assert ("#" + str(answer["item"]["id"]), answer["value"]) == (
        item,
        {"cultivar": "c2", "sure": 2},
    )
    page.close()


def test_suggested_rating_and_text_are_accepted_with_enter(
    fields_server: FieldsServer, browser: Any
) -> None:
    server = fields_server
    page = _open(browser, server, "graded")
    assignment = wait_task(page)
    item = page.text_content("#item-id")
    assert page.get_attribute(".rating-btn[data-value='2']", "aria-pressed") == "true"
    assert page.input_value(".text-field") == f"dry {item[1:]}"
    assert page.locator(".text-answer.is-suggested").count() == 1
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_task(page, other_than=assignment)
    latest = _latest(page, server, "graded")
    assert latest["item"]["external_id"] == item
    assert latest["value"] == {"cultivar": "c1", "sure": 2, "note": f"dry {item[1:]}"}
    page.close()


def test_an_imported_label_is_shown_preselected_and_recorded_as_the_imports(
    fields_server: FieldsServer, browser: Any
) -> None:
    """Before a model suggests anything, an imported pre-annotation of the choice is what the
    page offers, as Label Studio pre-fills predictions: it says so, pre-selects it and marks its
    button, and the trace records it as the import's. The page showed nothing for it while the
    answer recorded it as shown."""
    server = fields_server
    page = _open(browser, server, "graded")
    assignment = wait_task(page)
    for _ in range(4):
        if page.text_content("#item-id") in ("g3", "g4"):  # the rows with a cultivar
            break
        page.keyboard.press("s")  # skip the others
        assignment = wait_task(page, other_than=assignment)
    item = page.text_content("#item-id")
    assert page.text_content("#suggestion") == "Pre-annotation suggests c2 (0.90)"
    assert page.get_attribute("button.label-btn[data-label='c2']", "aria-pressed") == "true"
    assert page.is_visible("button.label-btn[data-label='c2'] .label-tag")
    assert not page.is_visible("button.label-btn[data-label='c1'] .label-tag")
    page.keyboard.press("Enter")  # accept it as offered
    latest = _latest(page, server, "graded")
    assert latest["item"]["external_id"] == item
    assert latest["value"] == {"cultivar": "c2", "sure": 2, "note": f"dry {item[1:]}"}
    trace = page.request.get(
        f"{server.url}/api/projects/graded/items/{latest['item']['id']}/review"
    ).json()
    (answer,) = trace["annotations"]
    assert answer["suggestion"]["sources"]["cultivar"] == "import"
    assert answer["suggestion"]["outcome"]["cultivar"]["accepted"] is True
    page.close()


def test_every_choice_control_takes_its_imported_label(
    fields_server: FieldsServer, browser: Any
) -> None:
    """A pre-annotation of a choice that is not the target is pre-selected and marked too, as
    the target's is: the answer records both as offered. A pre-selected multi-choice label's
    key keeps it on its first press, as a single choice's does (it was toggled off), and
    clears it on the next; the key sheet says so."""
    server = fields_server
    page = _open(browser, server, "prefilled")
    wait_task(page)
    pressed = lambda: [b[1] for b in _buttons(page) if b[3]]  # noqa: E731
    assert pressed() == ["q", "s", "t", "u"]
    tagged = page.eval_on_selector_all(
        ".label-btn",
        "bs => bs.filter(b => !b.querySelector('.label-tag').hidden).map(b => b.dataset.label)",
    )
    assert tagged == ["q", "s", "t", "u"]
    keys = {b[1]: b[2] for b in _buttons(page)}
    page.keyboard.press(keys["t"])
    assert pressed() == ["q", "s", "t", "u"]  # agreed with, not taken out
    page.keyboard.press(keys["t"])
    assert pressed() == ["q", "s", "u"]  # pressed again: cleared
    page.keyboard.press(keys["v"])
    page.keyboard.press(keys["v"])  # one not pre-selected toggles in and out, as before
    assert pressed() == ["q", "s", "u"]
    # A click on a pressed multi-choice label takes it out at once: nobody clicks a pressed
    # toggle to agree with it (the first click did nothing).
    page.click(".label-btn[data-control='c'][data-label='u']")
    assert pressed() == ["q", "s"]
    page.click(".label-btn[data-control='c'][data-label='u']")
    assert pressed() == ["q", "s", "u"]
    page.keyboard.press("?")
    sheet = " ".join(page.text_content("#shortcuts").split())
    assert "c (toggle any; a pre-selected label's key keeps it, pressed again clears it)" in sheet
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    latest = _latest(page, server, "prefilled")
    assert latest["value"] == {"a": "q", "b": "s", "c": ["u"]}
    trace = page.request.get(
        f"{server.url}/api/projects/prefilled/items/{latest['item']['id']}/review"
    ).json()
    (answer,) = trace["annotations"]
    outcome = answer["suggestion"]["outcome"]
    assert outcome["a"] == {"accepted": True} and outcome["b"] == {"accepted": True}
    assert outcome["c"]["accepted"] is False
    page.close()


@pytest.mark.parametrize("slug", ["wide", "clips"])
def test_html_and_audio_items_fit_a_phone(
    fields_server: FieldsServer, browser: Any, slug: str
) -> None:
    page = _open(browser, fields_server, slug, width=390)
    wait_task(page)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#item-text > *").first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    for selector in ("#submit-btn", "#skip-btn"):
        b = page.locator(selector).bounding_box()
        assert b["height"] >= 40 and b["x"] + b["width"] <= 390
    page.close()


def _shown_image(page: Any) -> dict[str, Any]:
    """The labeling page's image once loaded: its size on the page, its offset from the item
    box's centre and how it is scaled."""
    page.wait_for_function(
        """() => { const img = document.querySelector('#item-text img.item-image');
                   return img && img.complete && img.naturalWidth > 0; }""",
        timeout=30000,
    )
    return page.evaluate(
        """() => {
            const img = document.querySelector('#item-text img.item-image');
            const r = img.getBoundingClientRect();
            const box = document.getElementById('item-text').getBoundingClientRect();
            return {width: r.width, height: r.height,
                    off_centre: Math.abs((r.left + r.right) / 2 - (box.left + box.right) / 2),
                    rendering: getComputedStyle(img).imageRendering};
        }"""
    )


def test_an_image_item_is_shown_centred_a_photo_large_and_smooth_a_tiny_one_crisp(
    fields_server: FieldsServer, browser: Any
) -> None:
    """A photo filled a 16rem box, scaled with its pixels blown up as for 8x8 digits, at the
    left of the item card; now it is as large as the card allows, smooth, and centred."""
    page = _open(browser, fields_server, "photos")
    photo = _shown_image(page)
    assert photo["width"] > 600 and photo["off_centre"] < 2
    assert abs(photo["width"] / photo["height"] - 1.5) < 0.01
    assert photo["rendering"] == "auto"
    page.close()
    page = _open(browser, fields_server, "snaps", width=390, user=ANNOTATOR)  # who answers it
    tiny = _shown_image(page)
    assert 250 <= tiny["width"] <= 256 and tiny["off_centre"] < 2
    assert tiny["rendering"] == "pixelated"
    page.close()


def test_the_reviewer_sees_an_image_items_picture(
    fields_server: FieldsServer, browser: Any
) -> None:
    server = fields_server
    _answer_all(_open(browser, server, "snaps", user=ANNOTATOR), keys=("1", "2"))
    review = _open(browser, server, "snaps", view="review")
    review.wait_for_function(
        """() => {
            const img = document.querySelector('#item-text img.item-image');
            return document.getElementById('review-app').dataset.state === 'review'
                && img && img.complete && img.naturalWidth === 24;
        }""",
        timeout=15000,
    )
    assert "/media" in review.get_attribute("#item-text img.item-image", "src")
    review.close()


def test_the_reviewer_plays_and_seeks_a_clip_by_keyboard(
    fields_server: FieldsServer, browser: Any
) -> None:
    """The review page showed the player's keys (Space, ← and →) under the clip, but only the
    labeling page listened to them."""
    server = fields_server
    _answer_all(_open(browser, server, "heard", user=ANNOTATOR), keys=("1", "2", "1", "2"))
    review = _open(browser, server, "heard", view="review")
    audio = "document.querySelector('#item-text audio')"
    review.wait_for_function(
        f"""() => document.getElementById('review-app').dataset.state === 'review'
            && {audio} && {audio}.readyState >= 1 && {audio}.duration > 0""",
        timeout=15000,
    )
    assert "Space" in (review.text_content("#item-text .audio-hint") or "")
    review.keyboard.press(" ")
    review.wait_for_function(f"() => !{audio}.paused", timeout=5000)
    review.keyboard.press(" ")
    review.wait_for_function(f"() => {audio}.paused", timeout=5000)
    before = review.evaluate(f"{audio}.currentTime")
    review.keyboard.press("ArrowRight")
    review.wait_for_function(f"(t) => {audio}.currentTime >= t + 4.9", arg=before, timeout=5000)
    review.keyboard.press("a")  # the page's own keys still act: accepted, the next clip shows
    review.wait_for_function(f"() => {audio} && {audio}.currentTime === 0", timeout=15000)
    review.close()


def _buttons(page: Any) -> list[tuple[str, str, str, bool]]:
    """Each choice button as (control, label, the key it shows, pressed)."""
    rows = page.eval_on_selector_all(
        ".label-btn",
        """bs => bs.map(b => [b.dataset.control, b.dataset.label,
            b.querySelector('kbd') ? b.querySelector('kbd').textContent : '',
            b.getAttribute('aria-pressed') === 'true'])""",
    )
    return [tuple(r) for r in rows]


def _sheet_keys(page: Any) -> dict[str, str]:
    """The shortcut sheet's label rows: label -> the key it shows."""
    rows = page.eval_on_selector_all(
        "#shortcuts-body tr",
        """trs => trs.map(tr => [tr.querySelector('td').textContent,
            tr.querySelector('th').textContent.trim()])""",
    )
    return {what: keys for what, keys in rows if what in ("p", "q", "r", "s")}


def test_two_choice_controls_get_keys_of_their_own(
    fields_server: FieldsServer, browser: Any
) -> None:
    page = _open(browser, fields_server, "pair")
    assignment = wait_task(page)
    assert [b[:3] for b in _buttons(page)] == [
        ("a", "p", "1"),
        ("a", "q", "2"),
        ("b", "r", "3"),
        ("b", "s", "4"),
    ]
    page.keyboard.press("3")  # b's first label, not a's
    assert [b[:2] for b in _buttons(page) if b[3]] == [("b", "r")]
    page.keyboard.press("2")
    assert [b[:2] for b in _buttons(page) if b[3]] == [("a", "q"), ("b", "r")]
    page.keyboard.press("?")
    assert _sheet_keys(page) == {"p": "1", "q": "2", "r": "3", "s": "4"}
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    wait_task(page, other_than=assignment)
    assert _latest(page, fields_server, "pair")["value"] == {"a": "q", "b": "r"}
    page.close()


def test_a_key_two_controls_share_shows_only_where_it_works(
    fields_server: FieldsServer, browser: Any
) -> None:
    """A project stored before shared keys were refused: 1 and 2 pick a's labels, so b's
    buttons and sheet rows show no key rather than one that picks something else."""
    page = _open(browser, fields_server, "legacy")
    wait_task(page)
    assert [b[:3] for b in _buttons(page)] == [
        ("a", "p", "1"),
        ("a", "q", "2"),
        ("b", "r", ""),
        ("b", "s", ""),
    ]
    page.keyboard.press("1")
    assert [b[:2] for b in _buttons(page) if b[3]] == [("a", "p")]
    page.keyboard.press("?")
    assert _sheet_keys(page) == {"p": "1", "q": "2", "r": "—", "s": "—"}
    page.close()


def test_the_review_page_says_why_answers_waiting_are_not_served(
    fields_server: FieldsServer, browser: Any
) -> None:
    """A manager who labeled the rows themselves opened Review and read 'Nothing waits for
    review right now' beside '2 waiting': no one reviews their own answers, and nothing said so."""
    server = fields_server
    _answer_all(_open(browser, server, "own"), keys=("1", "2"))
    review = _open(browser, server, "own", view="review", width=390)
    review.wait_for_selector("#empty-own", state="visible", timeout=15000)
    assert review.inner_text("#waiting-count") == "2"
    assert review.inner_text("#empty-own") == (
        "The 2 waiting are answers on items you labeled yourself: another reviewer or a "
        "manager reviews them."
    )
    review.close()


def test_a_row_of_many_fields_pages_by_keyboard(fields_server: FieldsServer, browser: Any) -> None:
    """A row of 200 fields shows 13 in its box at 1280 px; no key scrolled the box, so a keyboard
    labeler saw fields 14 to 200 never. PageDown and PageUp page through it, and once at its end
    the page scrolls as before."""
    server = fields_server
    page = _open(browser, server, "widerows", width=1280)
    wait_task(page)

    def last_shown() -> str:
        return page.evaluate(
            """() => {
                const box = document.getElementById('item-text').getBoundingClientRect();
                const seen = [...document.querySelectorAll('#item-text .row-table th')]
                    .filter(th => th.getBoundingClientRect().bottom <= box.bottom + 1);
                return seen[seen.length - 1].textContent;
            }"""
        )

    first = last_shown()
    assert first != "f199"
    # The box says how many fields lie below it: an overlay scrollbar shows nothing until used,
    # and a 16-field row at 1280 px hid its last 3 (its text columns) without a sign.
    more = page.locator("#item-more")
    assert more.inner_text() == f"{199 - int(first[1:])} more fields below · PageDown"
    before = more.inner_text()
    page.keyboard.press("PageDown")
    # The count follows the box's scroll event: wait for it to name the fields below anew.
    page.wait_for_function(
        "(before) => document.getElementById('item-more').textContent !== before", arg=before
    )
    assert int(last_shown()[1:]) > int(first[1:])
    assert more.inner_text() == f"{199 - int(last_shown()[1:])} more fields below · PageDown"
    for _ in range(40):
        page.keyboard.press("PageDown")
    assert last_shown() == "f199"
    assert more.is_hidden()
    page.keyboard.press("PageUp")
    assert last_shown() != "f199"
    page.keyboard.press("?")
    assert "Page through an item longer than its box" in page.text_content("#shortcuts")
    page.close()


def test_the_import_form_asks_for_what_the_project_reads(
    fields_server: FieldsServer, browser: Any, tmp_path: Path
) -> None:
    """A table project's import form asked for a required 'Text field' (filled with 'row'),
    which rows never use: a user typed a column's name there. It asks for none now and says
    what a row is; an image project's asks for the field holding each path."""
    server = fields_server
    page = signed_in_page(browser, server.url, "/p/wines", viewport={"width": 1200, "height": 900})
    assert page.is_hidden("#import-text-field")
    intro = page.inner_text("#import-form p.muted")
    assert "A JSONL, CSV, TSV or Parquet file, a row per record" in intro and "Texts" not in intro
    rows = tmp_path / "more.csv"
    rows.write_text("id," + ",".join(WINE_COLUMNS) + "\nx1,13,2,5,900\n", encoding="utf-8")
    page.set_input_files("#import-file", str(rows))
    page.fill("#import-id-field", "id")
    page.click("#import-submit")
    page.wait_for_function("() => document.getElementById('import-form').dataset.state === 'done'")
    assert page.inner_text("#import-result") == "Imported 1 item"
    page.close()
    page = signed_in_page(browser, server.url, "/p/snaps", viewport={"width": 390, "height": 844})
    assert page.inner_text("label.field:has(#import-text-field) > span").startswith("Path field")
    page.close()


def test_a_rows_numbers_show_with_every_digit_on_the_labeling_and_search_pages(
    fields_server: FieldsServer, browser: Any
) -> None:
    """JSON numbers were cut to six digits on the labeling page: a total of 12345678901.5
    showed as 12345700000 and a price of 1234567.891 as 1234570, where the search page said
    1234567.891."""
    server = fields_server
    page = _open(browser, server, "prices")
    shown = {}
    assignment = ""
    for _ in PRICES:
        assignment = wait_task(page, other_than=assignment)
        shown[page.text_content("#item-id")] = _row(page)
        page.keyboard.press("s")
    assert shown == {
        "p1": {"price": "1234567.891", "total": "12345678901.5", "ratio": "0.1"},
        "p2": {"price": "127", "total": "14.23", "ratio": "0.3"},
    }
    hits = page.request.get(f"{server.url}/api/projects/prices/search?q=p*").json()["items"]
    assert sorted(hit["text"] for hit in hits) == [
        "price: 1234567.891 · total: 12345678901.5 · ratio: 0.1",
        "price: 127 · total: 14.23 · ratio: 0.3",
    ]
    page.close()


def test_a_parquet_file_without_its_suffix_uploads_with_the_format_chosen(
    fields_server: FieldsServer, browser: Any, tmp_path: Path
) -> None:
    """The import form's Format list offered JSONL and CSV only: a Parquet file whose name
    does not say so (Spark's part-00000) was refused, "give the format", with no way to."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    server = fields_server
    part = tmp_path / "part-00000"
    pq.write_table(pa.table({"id": ["p9"], "price": [9.5], "total": [1.0], "ratio": [0.5]}), part)
    page = signed_in_page(browser, server.url, "/p/prices")
    page.set_input_files("#import-file", str(part))
    page.fill("#import-id-field", "id")
    page.select_option("#import-format", "parquet")
    page.click("#import-submit")
    page.wait_for_function(
        "() => /Imported|Nothing/.test(document.getElementById('import-result').textContent)"
    )
    assert page.text_content("#import-result").startswith("Imported 1 item")
    page.close()


def test_an_items_trace_shows_a_row_as_its_fields(
    fields_server: FieldsServer, browser: Any
) -> None:
    """The Items page's trace of a table row showed it as raw JSON, {"alcohol":"13.2",...},
    where the labeling page shows its fields as a two-column table."""
    server = fields_server
    viewport = {"width": 1280, "height": 900}
    page = signed_in_page(browser, server.url, "/p/wines/items", viewport=viewport)
    page.get_by_role("button", name="w0", exact=True).click()
    page.wait_for_selector(".trace-text .row-table")
    row = page.evaluate(
        """() => Object.fromEntries(Array.from(
            document.querySelectorAll('.trace-text .row-table tr'),
            tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]))"""
    )
    assert row == server.wines["w0"]
    assert "{" not in page.inner_text(".trace-text")
    page.close()
