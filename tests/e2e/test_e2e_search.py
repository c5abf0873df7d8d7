"""Seeding in real Chromium: search the pool by keyboard, send hits to the queue, label first."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import login, wait_task

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def learner() -> bool:
    """The server runs no learner: searches, sends to the queue and "More like this" need no
    round, and the items labeled after the searched ones come from the first queue."""
    return False


def _hits(page: Any) -> list[dict[str, Any]]:
    return page.eval_on_selector_all(
        "#results li.hit",
        """items => items.map(li => ({
            id: li.dataset.itemId,
            text: li.querySelector('.hit-text').textContent,
            checked: li.querySelector('input').checked,
            disabled: li.querySelector('input').disabled,
            badges: Array.from(li.querySelectorAll('.badge')).map(b => b.textContent),
            elements: li.querySelectorAll('.hit-text *:not(mark)').length,
            marks: Array.from(li.querySelectorAll('.hit-text mark')).map(m => m.textContent),
        }))""",
    )


def test_e2e_search_select_by_keyboard_send_and_label_them_first(
    server: Any, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, server.url, f"/p/{server.main}/search")
    refunds = sorted(t for t in server.truth if "refund" in t.lower())
    assert len(refunds) >= 3, "the generated reviews should mention refunds"

    # Type, Enter: the results list every pool text with the word, in any case.
    page.keyboard.type("REFUND")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li.hit")
    hits = _hits(page)
    assert sorted(h["text"] for h in hits) == refunds[:20]
    assert all(h["marks"] and {m.lower() for m in h["marks"]} == {"refund"} for h in hits)
    assert "items match" in page.inner_text("#results-summary")
    assert "q=REFUND" in page.url  # a reload or a shared link shows the same results

    # Ctrl+Enter with nothing ticked says what to do rather than nothing.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#search-messages .message-info")
    assert "Nothing is selected" in page.inner_text("#search-messages")

    # Down arrow into the results, Space ticks, Down, Space; Ctrl+Enter sends.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert [h["checked"] for h in _hits(page)][:3] == [True, True, False]
    assert page.inner_text("#send-btn").startswith("Send 2 to queue")
    page.screenshot(path=str(screenshots / "search.png"), full_page=True)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "() => document.getElementById('search-messages').textContent.includes('Sent ')"
    )
    message = page.inner_text("#search-messages")
    assert "Sent 2 items" in message and "searched by alice for 'REFUND'" in message
    sent = _hits(page)[:2]
    assert all(h["disabled"] and "in the queue" in h["badges"] for h in sent)
    chosen = {h["text"] for h in sent}

    # "More like this" from the third hit, by keyboard.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("m")
    page.wait_for_selector("#like-banner:not([hidden])")
    assert page.inner_text("#like-by") == "tfidf"
    assert all(h["badges"][0].startswith("similarity") for h in _hits(page))

    # The labeling page serves the two picks first and says who found them.
    page.click("#label-link")
    page.wait_for_url(f"{server.url}/p/{server.main}/label")
    served: set[str] = set()
    assignment = ""
    for _ in range(2):
        assignment = wait_task(page, other_than=assignment)
        served.add(page.inner_text("#item-text"))
        assert page.inner_text("#why-reason") == "searched by alice for 'REFUND'"
        assert page.get_attribute("#why", "data-strategy") == "search"
        assert page.inner_text("#why-strategy") == "search"
        if len(served) == 1:
            page.screenshot(path=str(screenshots / "labeling-seeded.png"))
        page.keyboard.press("1")
        page.keyboard.press("Enter")
    assert served == chosen
    assignment = wait_task(page, other_than=assignment)
    assert page.inner_text("#why-strategy") != "search"  # then the model's queue
    assert errors == []
    context.close()


def test_e2e_search_results_show_hostile_text_as_text(server: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{server.hostile}/search")
    page.goto(f"{server.url}/p/{server.hostile}/search?q=%3Cscript%3E")
    page.wait_for_selector("#results li.hit")
    hits = _hits(page)
    assert [h["text"] for h in hits] == [server.hostile_texts[0]]
    assert hits[0]["elements"] == 0  # no <script> or <b> element was made from it
    assert hits[0]["marks"] == ["<script>"]  # the words found are marked, as text
    assert page.input_value("#search-q") == "<script>"
    # A query over 200 characters: its first 200 are searched, and the page says so.
    page.fill("#search-q", "<script>" + " " * 250 + "nowhere")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#results-summary').textContent.includes('200')"
    )
    summary = page.inner_text("#results-summary")
    assert "Searched the first 200 characters of the 265 typed." in summary
    assert [h["text"] for h in _hits(page)] == [server.hostile_texts[0]]
    page.fill("#search-q", "onerror")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#results .hit-text')?.textContent.includes('onerror')"
    )
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    context.close()


def test_e2e_a_slow_more_like_this_does_not_replace_a_later_word_search(
    server: Any, browser: Any
) -> None:
    """The first "More like this" after a start computes the pool's features (13 s on 36,000
    tweets), saying only "Searching…": a word search made meanwhile showed its results, then
    the late "like" list replaced them, under the words still in the box."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{server.main}/search")
    page.keyboard.type("refund")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li.hit")
    held: list[Any] = []
    page.route("**/search?like=*", lambda route: held.append(route))
    # Set once the page has read the like answer and run all it does with it (a task after).
    page.evaluate(
        """() => {
            const text = Response.prototype.text;
            Response.prototype.text = function () {
                const read = text.call(this);
                if (this.url.includes('like=')) {
                    read.finally(() => setTimeout(() => { window.__likeHandled = true; }));
                }
                return read;
            };
        }"""
    )
    page.keyboard.press("ArrowDown")
    page.keyboard.press("m")
    page.wait_for_function("() => document.querySelector('#results-summary').textContent")
    assert page.inner_text("#results-summary") == "Searching…"
    page.wait_for_function(  # still nothing after two seconds: it says why
        "() => document.querySelector('#results-summary').textContent.includes('a while')"
    )
    assert "the first “More like this” after a start" in page.inner_text("#results-summary")
    page.fill("#search-q", "worst")
    page.press("#search-q", "Enter")
    page.wait_for_function(
        "() => document.querySelector('#results-summary').textContent.includes('worst')"
    )
    words = _hits(page)
    assert words and all("worst" in h["text"].lower() for h in words)
    assert held, "the like request was not held"
    with page.expect_response("**/search?like=*"):
        held[0].continue_()
    page.wait_for_function("() => window.__likeHandled")  # the late answer is handled
    assert _hits(page) == words
    assert page.is_hidden("#like-banner")
    assert "worst" in page.inner_text("#results-summary") and "q=worst" in page.url

    # Asked while the server prepares the pool's features, "More like this" says so and asks
    # again until they are ready (here the server's first answer says it is preparing).
    page.unroute("**/search?like=*")
    answers: list[str] = []
    later: list[Any] = []

    def preparing_once(route: Any) -> None:
        answers.append(route.request.url)
        if len(answers) > 1:
            later.append(route)  # the list, once the annotator typed meanwhile
            return
        note = "preparing “More like this”: measuring 60 pool items (started 3 s ago)"
        body = {
            "mode": "like",
            "like": {"id": 1, "external_id": None},
            "by": None,
            "preparing": True,
            "total": 0,
            "limit": 20,
            "offset": 0,
            "items": [],
            "note": note,
        }
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/search?like=*", preparing_once)
    page.focus("#results li.hit")
    page.keyboard.press("m")
    page.wait_for_function(
        "() => document.querySelector('#results-summary').textContent.startsWith('Preparing')"
    )
    assert "measuring 60 pool items" in page.inner_text("#results-summary")
    # The words' hits it replaces are gone meanwhile: ticked then, they were sent to the
    # queue credited to "like" the item asked about.
    assert _hits(page) == [] and page.is_disabled("#send-btn")
    page.keyboard.press("a")  # select all: nothing left to tick
    assert _hits(page) == [] and page.is_disabled("#send-btn")
    # Meanwhile the annotator starts typing other words: the list, when it comes, leaves the
    # keyboard in the box (it took it to the first hit, where the next letters ticked every
    # hit or asked for "More like this" again).
    page.fill("#search-q", "")
    page.focus("#search-q")
    page.keyboard.type("bro")
    deadline = time.monotonic() + 30
    while not later and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    later[0].continue_()
    page.wait_for_selector("#like-banner:not([hidden])")  # the next answer is the list
    assert len(answers) == 2 and _hits(page)
    page.keyboard.type("ke")
    assert page.evaluate("document.activeElement.id") == "search-q"
    assert page.input_value("#search-q") == "broke"
    assert not any(h["checked"] for h in _hits(page))

    # When the features cannot be prepared, the server's error (after "preparing") is shown
    # and the page stops asking (it said "Preparing" forever, asking every second).
    page.unroute("**/search?like=*")
    asked: list[str] = []
    failed = "“More like this” could not be prepared: out of memory. Try again, or search by words."

    def preparing_then_failed(route: Any) -> None:
        asked.append(route.request.url)
        if len(asked) == 1:
            preparing_once(route)
        else:
            body = json.dumps({"detail": failed})
            route.fulfill(status=422, content_type="application/json", body=body)

    answers.clear()
    page.route("**/search?like=*", preparing_then_failed)
    page.focus("#results li.hit")
    page.keyboard.press("m")
    page.wait_for_function(
        "() => document.querySelector('#results-summary').textContent === 'The search failed.'"
    )
    assert failed in page.inner_text("#search-messages") and len(asked) == 2
    assert _hits(page) == [] and page.is_disabled("#send-btn")
    context.close()


def test_e2e_space_on_a_hit_that_cannot_be_sent_says_why(server: Any, browser: Any) -> None:
    """Space on a hit whose box is greyed out (labeled already, or in the queue) says why it
    cannot be ticked, as Ctrl+Enter with nothing ticked says what to do."""
    from tests.e2e.conftest import page_fetch

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, server.url, f"/p/{server.main}/label")
    status, body = page_fetch(page, "POST", f"/api/projects/{server.main}/tasks/next", {})
    assert status == 200, body
    task = body["task"]
    answer = {"value": {"sentiment": server.truth[task["item"]["data"]["text"]]}}
    done = page_fetch(
        page, "POST", f"/api/projects/{server.main}/tasks/{task['assignment_id']}/submit", answer
    )
    assert done[0] == 200, done
    text = task["item"]["data"]["text"]
    page.goto(f"{server.url}/p/{server.main}/search?q={urllib.parse.quote(text)}")
    page.wait_for_selector("#results li.hit")
    page.locator(f"#results li.hit[data-item-id='{task['item']['id']}']").focus()
    page.keyboard.press("Space")
    said = page.locator("#search-messages .message-info")
    said.wait_for()
    assert said.inner_text().startswith("This item is labeled already")

    page.fill("#search-q", "manual")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li.hit")
    page.locator("#results li.hit:not(.is-labeled):not(.is-queued)").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "() => document.getElementById('search-messages').textContent.includes('Sent ')"
    )
    page.locator("#results li.hit.is-queued").first.focus()
    page.keyboard.press("Space")
    page.wait_for_function(
        "() => document.getElementById('search-messages').textContent"
        ".startsWith('This item is in the queue already')"
    )
    context.close()


def test_e2e_select_all_is_offered_only_while_there_is_something_to_select(
    server: Any, browser: Any
) -> None:
    """ "Select all" stayed clickable before any search, beside "No pool item matches", and once
    every hit was ticked, where a click on it did nothing."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, server.url, f"/p/{server.main}/search")
    assert page.is_disabled("#select-all-btn")  # nothing searched yet
    page.fill("#search-q", "zzyzxnowhere")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('results-summary').textContent.startsWith('No pool item')"
    )
    assert page.is_disabled("#select-all-btn")
    page.fill("#search-q", "refund")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li.hit")
    assert page.is_enabled("#select-all-btn")
    page.click("#select-all-btn")
    assert page.inner_text("#send-btn").startswith("Send ")
    assert page.is_disabled("#select-all-btn")  # every hit that can be ticked is
    page.locator("#results input.hit-check:not(:disabled)").first.click()  # one ticked off
    assert page.is_enabled("#select-all-btn")
    assert errors == []
    context.close()
