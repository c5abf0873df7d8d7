"""The Items page in real Chromium: filter the items, page through them by keyboard, open one's
trace (who answered what, under which guideline and model, and why it was picked), send the
view as a link, and hostile item text stays text. To an annotator it is My answers: find an
answer by its words, press E, change it on the labeling page and see the change listed."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import answer_served, first_rounds, login, page_fetch, wait_task

ANNOTATOR, ANNOTATOR_PASSWORD = "ann", "ann-labels-carefully"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def learner() -> bool:
    """The server runs no learner: no test waits for a round: the items listed are
    the reviews' first queue, and the tagged project's, made here as the learner would make it
    (``first_rounds``)."""
    return False


def _label_some(page: Any, slug: str, truth: dict[str, str], n: int) -> list[dict[str, Any]]:
    """Answer ``n`` served items truthfully through the API, as the page's session."""

    def truthful(task: dict[str, Any]) -> dict[str, str]:
        return {"sentiment": truth.get(task["item"]["data"]["text"], "neutral")}

    done = []
    for _ in range(n):
        task = answer_served(page, slug, truthful)
        done.append({**task, "answer": truthful(task)["sentiment"]})
    return done


def _summary(page: Any, starts: str) -> str:
    page.wait_for_function(
        "(s) => document.getElementById('items-summary').textContent.startsWith(s)",
        arg=starts,
        timeout=30000,  # a busy machine: the two suites' workers share two cores
    )
    return page.inner_text("#items-summary")


# The tests that need no queue come first. (The server fixture's first round on the 150
# reviews is made before its server starts, in the test process: the tests after them no
# longer wait for the server's learner to make it.)


def _hostile_rows_stay_text(page: Any, server: Any, what: str) -> str:
    """The hostile project's rows show each text as text, and so does the first one's trace
    once it is opened; its item id."""
    n = len(server.hostile_texts)
    assert _summary(page, f"{n} {what}") == f"{n} {what}; showing 1–{n}."
    cells = page.eval_on_selector_all(
        "#items-rows .items-text", "cs => cs.map(c => [c.textContent, c.children.length])"
    )
    assert sorted(text for text, _ in cells) == sorted(server.hostile_texts)
    assert all(children == 0 for _, children in cells)
    page.locator("#items-rows tr:first-child .link-button").click()
    item_id = page.get_attribute("#items-rows tr:first-child", "data-item-id")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id", arg=item_id
    )
    assert page.locator("#trace-body .trace-text").inner_text() in server.hostile_texts
    assert page.locator("#trace-body script, #trace-body img, #trace-body b").count() == 0
    return item_id


def test_hostile_item_text_stays_text_on_the_items_page(server: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    login(page, server.url, f"/p/{server.hostile}/items")
    _hostile_rows_stay_text(page, server, "items")
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


MENU_FITS = """(id) => {
    const select = document.getElementById(id);
    const style = getComputedStyle(select);
    const pen = document.createElement('canvas').getContext('2d');
    pen.font = style.font;
    const widest = Math.max(...[...select.options].map((o) => pen.measureText(o.text).width));
    const room = select.clientWidth - parseFloat(style.paddingLeft) - 24; // the menu's arrow
    return [widest, room];
}"""


def test_a_phone_lists_the_items_a_search_seeded_and_a_tap_opens_one(
    server: Any, browser: Any, tmp_path: Any
) -> None:
    """A manager sends two search hits to the queue, they are answered; on a phone the Items
    page lists just those under "a search by alice", a tap on a row (not only on its small id)
    opens its trace saying why it was picked, and no menu's words are cut off."""
    import json

    from tests.e2e.conftest import make_reviews, write_jsonl

    slug = "picks"
    schema = {
        "name": "Picks",
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": list(server.labels), "target": True}
        ],
    }
    (tmp_path / "picks.json").write_text(json.dumps(schema))
    server.cli("projects", "create", slug, "--schema", str(tmp_path / "picks.json"))
    pool, _ = make_reviews(n_pool=12, n_eval=0, seed=5)
    server.cli("import", slug, str(write_jsonl(tmp_path / "p.jsonl", pool)), "--id-field", "id")

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    login(page, server.url, f"/p/{slug}/items")
    status, found = page_fetch(page, "GET", f"/api/projects/{slug}/items?limit=3")
    assert status == 200, found
    seeded = [r["id"] for r in found["items"][:2]]
    status, sent = page_fetch(
        page, "POST", f"/api/projects/{slug}/seeds", {"item_ids": seeded, "query": "great"}
    )
    assert status == 201 and sent["added"] == seeded, sent
    answered = [answer_served(page, slug, lambda t: {"sentiment": server.labels[0]})]
    answered.append(answer_served(page, slug, lambda t: {"sentiment": server.labels[1]}))
    assert sorted(t["item"]["id"] for t in answered) == sorted(seeded)

    page.reload()
    assert _summary(page, "12 items") == "12 items; showing 1–12."
    for menu in ("f-order", "f-picked_by"):
        widest, room = page.evaluate(MENU_FITS, menu)
        assert widest <= room, f"#{menu}'s words need {widest:.0f} px, it has {room:.0f}"
    page.select_option("#f-picked_by", "search:alice")
    assert _summary(page, "2 items") == "2 items; showing 1–2."
    assert parse_qs(urlsplit(page.url).query)["picked_by"] == ["search:alice"]
    assert {
        int(i)
        for i in page.eval_on_selector_all("#items-rows tr", "rs => rs.map(r => r.dataset.itemId)")
    } == set(seeded)

    first = page.get_attribute("#items-rows tr:first-child", "data-item-id")
    page.tap(f"#items-rows tr[data-item-id='{first}'] .items-answers")  # not the id's button
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id", arg=first
    )
    trace = " ".join(page.inner_text("#item-trace").split())
    assert "why picked: search: searched by alice for 'great'" in trace
    page.click("#trace-close")
    # Dragging over a row's words to copy them opens nothing.
    words = page.locator(f"#items-rows tr[data-item-id='{first}'] .items-text")
    words.scroll_into_view_if_needed()
    box = words.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 4, box["y"] + 8)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 4, box["y"] + 8, steps=5)
    page.mouse.up()
    selected = "() => getSelection().anchorNode.parentElement.closest('tr').dataset.itemId"
    assert page.evaluate(selected) == first and page.evaluate("() => String(getSelection())")
    page.wait_for_timeout(300)
    assert page.is_hidden("#item-trace")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert not problems
    context.close()


def test_a_long_tag_beside_an_item_id_leaves_a_phone_room_for_the_text(
    server: Any, browser: Any, tmp_path: Any, annotator: str
) -> None:
    """An item on a reviewer's page carries "on alice's review page" beside its id. On a phone
    the tag wraps under the id rather than widening the Item column of every row to its
    length, which pushed the texts out of the table's view."""
    import json

    from tests.e2e.conftest import make_reviews, write_jsonl

    slug = "tagged"
    schema = {
        "name": "Tagged",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "sentiment", "type": "choice", "labels": list(server.labels)}],
        "settings": {"review_policy": "all"},
    }
    (tmp_path / "tagged.json").write_text(json.dumps(schema))
    server.cli("projects", "create", slug, "--schema", str(tmp_path / "tagged.json"))
    pool, _ = make_reviews(n_pool=6, n_eval=0, seed=7)
    server.cli("import", slug, str(write_jsonl(tmp_path / "t.jsonl", pool)), "--id-field", "id")
    server.cli("projects", "member", slug, annotator, "annotator")
    first_rounds(server.home)  # the project's first queue
    labeling = browser.new_context()
    labeler = labeling.new_page()
    login(labeler, server.url, f"/p/{slug}/label", username=annotator, password=ANNOTATOR_PASSWORD)
    wait_task(labeler)
    answer_served(labeler, slug, lambda t: {"sentiment": server.labels[0]})
    labeling.close()
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    login(page, server.url, f"/p/{slug}/items")
    status, got = page_fetch(page, "GET", f"/api/projects/{slug}/reviews/next")
    assert status == 200 and got["review"], got
    page.reload()
    _summary(page, "6 items")
    tag = page.locator("#items-rows .items-id .badge", has_text="review page")
    assert tag.count() == 1
    widths = page.evaluate(
        """() => {
          const wrap = document.querySelector('#items-rows').closest('.table-wrap');
          const id = document.querySelector('#items-rows .items-id').getBoundingClientRect();
          return [id.width, wrap.clientWidth];
        }"""
    )
    assert widths[0] <= widths[1] / 3, widths  # the Item column; the text beside it has the rest
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    context.close()


def test_find_items_by_filter_and_read_one_trace(server: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, server.url, f"/p/{server.main}/label")
    wait_task(page)
    labeled = _label_some(page, server.main, server.truth, 3)

    page.goto(server.url + f"/p/{server.main}")
    page.click("#items-link")
    page.wait_for_url(server.url + f"/p/{server.main}/items")
    # both splits are listed, and the summary says so: the project page counts the pool's only
    assert _summary(page, "150 items") == "150 items (120 pool, 30 eval); showing 1–50."
    page.select_option("#f-status", "labeled")
    assert _summary(page, "33 items") == "33 items (3 pool, 30 eval); showing 1–33."
    page.select_option("#f-split", "pool")
    assert _summary(page, "3 items") == "3 items; showing 1–3."
    page.select_option("#f-split", "")
    page.select_option("#f-status", "all")

    # Only what alice answered, newest label first: the last answer on top.
    page.fill("#f-annotator", server.username)
    page.select_option("#f-order", "newest")
    assert _summary(page, "3 items") == "3 items; showing 1–3."
    first_id = page.get_attribute("#items-rows tr:first-child", "data-item-id")
    assert first_id == str(labeled[-1]["item"]["id"])
    assert page.inner_text("#items-rows tr:first-child .items-answers") == server.username
    assert page.locator("#items-rows img").count() == 0  # text: no thumbnails

    # Tab from the filters reaches the list; Enter on a row: its trace says who answered
    # what and why it was picked.
    page.focus("#items-submit")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.dataset.itemId") == first_id
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id", arg=first_id
    )
    assert (
        page.get_attribute(f"#items-rows tr[data-item-id='{first_id}']", "aria-current") == "true"
    )
    trace = " ".join(page.inner_text("#item-trace").split())
    last = labeled[-1]
    assert f"{server.username} answered {last['answer']}" in trace
    assert "guideline v1" in trace and "3.2 s active" in trace
    assert f"why picked: {last['selection']['strategy']}: {last['selection']['reason']}" in trace
    assert f"{last['answer']} · single by {server.username} at " in trace  # her answer decided
    # The history says which guideline the answer was given under, as its audit event does.
    assert f"labeled it {last['answer']} (guideline v1) {server.username}" in trace

    # The view is a link: filters and the open item are in the address, and it reopens.
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"annotator": [server.username], "order": ["newest"], "item": [first_id]}
    page.reload()
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id", arg=first_id
    )
    assert _summary(page, "3 items") == "3 items; showing 1–3."
    page.keyboard.press("Escape")
    assert page.locator("#item-trace").is_hidden()
    assert "item=" not in page.url

    # The unlabeled pool in pages of 50: ] turns the page.
    page.fill("#f-annotator", "")
    page.select_option("#f-order", "id")
    page.select_option("#f-status", "unlabeled")
    assert _summary(page, "117 items") == "117 items; showing 1–50."
    page.focus("#items-rows tr:first-child")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.rowIndex") == 2  # the second row
    page.keyboard.press("]")
    assert _summary(page, "117 items; showing 51") == "117 items; showing 51–100."
    assert parse_qs(urlsplit(page.url).query)["offset"] == ["50"]
    page.keyboard.press("Control+Alt+]")  # ] typed with AltGr, as on a German keyboard
    assert _summary(page, "117 items; showing 101") == "117 items; showing 101–117."
    assert page.locator("#items-next").is_disabled()

    # An address past the end says so, and the way back is open.
    page.goto(server.url + f"/p/{server.main}/items?status=unlabeled&offset=200")
    assert _summary(page, "117 items") == "117 items; none this far on (go back a page)."
    assert page.locator("#items-prev").is_enabled()

    # A wrong filter in the address is the server's sentence, not a broken page.
    page.goto(server.url + f"/p/{server.main}/items?offset=9999999999")
    page.wait_for_function("() => document.getElementById('items-messages').textContent.length > 0")
    assert "offset: Input should be less than or equal to 1000000000" in page.inner_text(
        "#items-messages"
    )
    assert errors == []
    context.close()


@pytest.fixture(scope="module")
def annotator(server: Any) -> str:
    """An annotator of both projects (no review permission), made with the CLI."""
    server.cli("users", "add", ANNOTATOR, "--password-stdin", stdin=ANNOTATOR_PASSWORD + "\n")
    for slug in (server.main, server.hostile):
        server.cli("projects", "member", slug, ANNOTATOR, "annotator")
    return ANNOTATOR


def _stored(page: Any, slug: str, n: int) -> None:
    """Wait until the page's background submits are stored: ``n`` answers of the caller's."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = page_fetch(page, "GET", f"/api/projects/{slug}/items?limit=1")
        assert status == 200, body
        if body["total"] >= n:
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"{n} answers were not stored within 30 s")


def _trace_open(page: Any, item_id: str) -> None:
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id && "
        "document.getElementById('change-answer') !== null",
        arg=item_id,
        timeout=30000,
    )


def test_an_annotator_finds_an_answer_and_changes_it(
    server: Any, browser: Any, annotator: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(
        page,
        server.url,
        f"/p/{server.main}/label",
        username=annotator,
        password=ANNOTATOR_PASSWORD,
    )
    answered: list[tuple[str, str]] = []  # (text, label) in the order given, by the keys
    shown = wait_task(page)
    for _ in range(3):
        text = page.inner_text("#item-text")
        label = server.truth[text]
        page.keyboard.press(str(server.labels.index(label) + 1))
        page.keyboard.press("Enter")
        answered.append((text, label))
        shown = wait_task(page, other_than=shown)
    _stored(page, server.main, len(answered))

    page.click("#my-answers-link")
    page.wait_for_url(server.url + f"/p/{server.main}/items?order=newest")
    assert page.inner_text("h1") == "My answers"
    assert _summary(page, "3 answers") == "3 answers; showing 1–3."
    listed = page.eval_on_selector_all(
        "#items-rows tr", "rs => rs.map(r => r.querySelector('.items-label').textContent)"
    )
    assert listed == [label for _, label in reversed(answered)]  # the latest answer first
    assert page.locator("#f-annotator").count() == 0

    # The words are read as the search page reads them, and it says how; a lone * is the
    # search's clear error, shown on the page, which goes on working.
    syntax = page.inner_text("#items-syntax")
    assert "refund* words starting with refund" in syntax and '"money back" a phrase' in syntax
    page.fill("#f-q", "*")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('items-app').dataset.state === 'error'", timeout=30000
    )
    assert page.inner_text("#items-messages").startswith("a * ends a word: refund* finds refund")

    # A query over 200 characters: its first 200 are searched, said as the search page says it
    # (the box took 200 characters and cut the rest without a word).
    text, label = answered[0]
    page.fill("#f-q", text + " " * 250 + "nowhere")
    page.keyboard.press("Enter")
    typed = len(text) + 257
    cut = f"1 answer; showing 1–1. Searched the first 200 characters of the {typed:,} typed."
    assert _summary(page, "1 answer; showing 1–1. Searched") == cut

    # Found by its words; Enter opens it, E opens it on the labeling page.
    page.fill("#f-q", text)
    page.keyboard.press("Enter")
    assert _summary(page, "1 answer") == "1 answer; showing 1–1."
    item_id = page.get_attribute("#items-rows tr:first-child", "data-item-id")
    page.focus("#items-rows tr:first-child")
    page.keyboard.press("Enter")
    _trace_open(page, item_id)
    trace = " ".join(page.inner_text("#item-trace").split())
    assert f"You answered {label}" in trace and "no verdict yet" in trace
    assert "guideline v1" in trace and "why picked:" in trace
    page.keyboard.press("e")
    page.wait_for_url(re.compile(r".*/label\?annotation=\d+&from="))
    page.wait_for_function(
        "() => document.getElementById('label-app').dataset.state === 'edit'", timeout=30000
    )
    assert page.inner_text("#item-text") == text
    assert page.locator("#edit-banner-back").is_visible()
    changed = next(other for other in server.labels if other != label)
    page.keyboard.press(str(server.labels.index(changed) + 1))
    page.keyboard.press("Enter")

    # Saved, and back on My answers with the same words and the item open: the new answer.
    page.wait_for_url(re.compile(rf".*/p/{server.main}/items\?.*item={item_id}"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["q"] == [text] and query["order"] == ["newest"]
    _trace_open(page, item_id)
    assert _summary(page, "1 answer") == "1 answer; showing 1–1."
    cell = f"#items-rows tr[data-item-id='{item_id}'] .items-label"
    assert page.inner_text(cell) == changed
    trace = " ".join(page.inner_text("#item-trace").split())
    assert f"You answered {changed}" in trace
    assert f"changed the answer from {label} to {changed}" in trace
    assert errors == []
    context.close()


def test_hostile_text_stays_text_in_my_answers_on_a_phone(
    server: Any, browser: Any, annotator: str
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    login(
        page,
        server.url,
        f"/p/{server.hostile}/label",
        username=annotator,
        password=ANNOTATOR_PASSWORD,
    )
    wait_task(page)
    _label_some(page, server.hostile, {}, len(server.hostile_texts))
    page.goto(server.url + f"/p/{server.hostile}/items")
    _trace_open(page, _hostile_rows_stay_text(page, server, "answers"))
    box = page.locator("#change-answer").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    context.close()
