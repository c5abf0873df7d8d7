"""A manager and a reviewer on a phone (390 px): the audit logs, the review and adjudication
pages and the Items page fit the screen, their tables scroll inside their own card with rows a
phone can read, and what a finger presses there is finger-sized."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import desk, login, page_fetch, phone, wait_task, wide_elements

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def learner() -> bool:
    """The server runs no learner: these pages are measured on the queue and model its data
    was made with, and one item answered needs no round."""
    return False


WIDTH = 390
FINGER = 40  # px: the smallest touch target these pages give a main action
BOB = ("bob", "bob-password-123")


@pytest.fixture(scope="module")
def reviewed(server: Any, browser: Any) -> Any:
    """The reviews project sends every answer to review; bob annotates there."""
    server.cli("users", "add", BOB[0], "--password-stdin", stdin=BOB[1] + "\n")
    server.cli("projects", "member", server.main, BOB[0], "annotator")
    # The policy is set through the server's API, as the Settings panel does: the CLI writes
    # the database beside the server, which would see the change only once its memo of the
    # project runs out (a page the module's first test opened has just filled it).
    context, page, problems = desk(browser)
    login(page, server.url, "/")
    status, body = page_fetch(
        page, "PATCH", f"/api/projects/{server.main}/settings", {"review_policy": "all"}
    )
    assert status == 200, body
    assert problems == []
    context.close()
    return server


LINE_STARTS = """(selector) => {
    const lines = new Map(); // a line's top -> its leftmost character and the text from there
    const box = document.querySelector(selector);
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        for (let i = 0; i < n.data.length; i++) {
            if (!n.data[i].trim()) continue;
            const range = document.createRange();
            range.setStart(n, i);
            range.setEnd(n, i + 1);
            const rect = range.getClientRects()[0];
            if (!rect) continue;
            const top = Math.round(rect.top + rect.height / 2);
            const line = [...lines.keys()].find((t) => Math.abs(t - top) < rect.height / 2);
            const seen = line === undefined ? undefined : lines.get(line);
            if (!seen || rect.left < seen.left)
                lines.set(line ?? top, { left: rect.left, text: n.data.slice(i).trim() });
        }
    }
    return [...lines.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1].text);
}"""
"""The text each line of the element ``selector`` starts with, top to bottom."""


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the page scrolls sideways ({width} px): {wide_elements(page)}"


def _size(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on screen"
    return box


def test_audit_logs_read_in_lines_not_a_word_per_line_on_a_phone(server: Any, browser: Any) -> None:
    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{server.main}")
    page.wait_for_selector("#project-audit tbody tr td.audit-details")
    _fits(page)
    # The project's creation holds its schema: the longest details, cut at 300 characters.
    # Before, they shared the phone's width with two other columns, some ten characters a line.
    per_line = page.evaluate(
        """() => [...document.querySelectorAll('#project-audit td.audit-details')].map(td => {
            const range = document.createRange();
            range.selectNodeContents(td);
            const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            return [td.textContent.length, td.textContent.length / lines.size];
        }).sort((a, b) => b[0] - a[0])[0]"""
    )
    assert per_line[0] >= 200, per_line  # the schema's event is there to measure
    assert per_line[1] >= 18, f"{per_line[1]:.0f} characters a line of the audit details"
    # The table scrolls inside its card instead.
    assert page.evaluate(
        """() => { const wrap = document.querySelector('#project-audit .table-wrap');
                   return wrap.scrollWidth > wrap.clientWidth; }"""
    )

    page.goto(server.url + "/")  # the site's audit log, beside the users
    page.wait_for_selector("#site-audit tbody tr td.audit-details")
    _fits(page)
    assert problems == []
    context.close()


def test_answers_to_review_and_adjudicate_are_finger_sized_on_a_phone(
    reviewed: Any, browser: Any
) -> None:
    server = reviewed
    bob_context, bob, bob_problems = phone(browser, WIDTH)
    login(bob, server.url, f"/p/{server.main}/label", username=BOB[0], password=BOB[1])
    served = wait_task(bob)
    bob.keyboard.press("1")  # negative
    bob.keyboard.press("Enter")
    wait_task(bob, other_than=served)  # the answer is in: the next item is served

    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{server.main}/review")
    page.wait_for_selector("#others .ann-label")
    _fits(page)
    # Pressing bob's answer starts a fix from it.
    assert _size(page, "#others .ann-label")["height"] >= FINGER
    # "by bob · 0.4 s active · guideline v1" wraps, but no line starts with its separator.
    page.wait_for_selector("#under-review:not([hidden])")
    starts = page.evaluate(LINE_STARTS, "#under-review .under-review-line")
    assert len(starts) >= 2 and not [s for s in starts if s.startswith("·")], starts

    answer = page.get_attribute("#others li.ann", "data-annotation-id")
    status, body = page_fetch(
        page,
        "POST",
        f"/api/projects/{server.main}/reviews/{answer}",
        {"verdict": "escalate", "comment": "not sure"},
    )
    assert status == 200, body
    page.goto(f"{server.url}/p/{server.main}/adjudicate")
    page.wait_for_selector("#others .ann-label")
    _fits(page)
    # Pressing it here makes it the final label to decide.
    assert _size(page, "#others .ann-label")["height"] >= FINGER
    # Its flags read as every page writes them ("too fast"), not capitalised.
    kinds = page.eval_on_selector_all(
        "#flag-list .flag-kind", "spans => spans.map(s => [s.textContent, s.innerText])"
    )
    assert kinds and all(shown == text for text, shown in kinds), kinds
    assert problems == [] and bob_problems == []
    bob_context.close()
    context.close()


def test_an_items_id_opens_its_trace_under_a_finger_on_a_phone(server: Any, browser: Any) -> None:
    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{server.main}/items")
    page.wait_for_selector("#items-rows tr .items-id .link-button")
    _fits(page)
    page.locator("#items-rows tr .items-id .link-button").first.scroll_into_view_if_needed()
    opener = _size(page, "#items-rows tr .items-id .link-button")
    assert opener["height"] >= FINGER and opener["width"] >= FINGER, opener
    # A tap at the bottom of that target, below the id's text, still opens the item's trace.
    text = page.evaluate(
        """() => { const r = document.createRange();
                   r.selectNodeContents(document.querySelector('#items-rows .link-button'));
                   return r.getBoundingClientRect().bottom; }"""
    )
    assert opener["y"] + opener["height"] - 3 > text + 8
    page.mouse.click(opener["x"] + opener["width"] / 2, opener["y"] + opener["height"] - 3)
    page.wait_for_selector("#item-trace:not([hidden])")
    _fits(page)
    assert problems == []
    context.close()


SMALL_BUTTONS = """() => [...document.querySelectorAll('.btn-small')]
    .filter((n) => n.getClientRects().length)
    .map((n) => [n.textContent.trim(), Math.round(n.getBoundingClientRect().height)])"""
"""Every small button on screen: its words and height."""


def test_small_buttons_are_finger_sized_on_a_phone_and_unchanged_on_a_desk(
    server: Any, browser: Any
) -> None:
    # The Imports table's Undo (and every other small button) was 32 px tall on a phone.
    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{server.main}")
    page.wait_for_selector("#imports-table:not([hidden]) tbody tr button")
    undo = _size(page, "#imports-table tbody tr button")
    assert undo["height"] >= FINGER, undo
    small = page.evaluate(SMALL_BUTTONS)
    assert small and all(h >= FINGER for _, h in small), small
    _fits(page)
    assert problems == []
    context.close()
    context, page, problems = desk(browser)
    login(page, server.url, f"/p/{server.main}")
    page.wait_for_selector("#imports-table:not([hidden]) tbody tr button")
    assert _size(page, "#imports-table tbody tr button")["height"] < FINGER  # desk: compact
    assert problems == []
    context.close()


def test_the_signed_in_name_reads_whole_beside_a_long_project_name_on_a_phone(
    server: Any, browser: Any
) -> None:
    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{server.hostile}/adjudicate")
    _fits(page)
    # The project's name gives way in the top bar; alice's name was cut to "ali…" beside it.
    cut = page.evaluate(
        "() => { const n = document.querySelector('.user-name');"
        " return [n.textContent, n.scrollWidth > n.clientWidth]; }"
    )
    assert cut == [server.username, False]
    project = page.locator("a.crumb").first.bounding_box()
    assert project is not None and project["width"] > 0
    assert problems == []
    context.close()


SMALL_TARGETS = """() => [...document.querySelectorAll(
        '#swagger-ui :is(button, select, .opblock-summary, a.nostyle)'
    )].filter((n) => n.getClientRects().length)
    .map((n) => [n.className || n.tagName, Math.round(n.getBoundingClientRect().height)])
    .filter(([, h]) => h < %d)"""
"""What a finger presses on the API docs, shorter than the height it is formatted with."""


def test_the_api_docs_buttons_are_finger_sized_on_a_phone(server: Any, browser: Any) -> None:
    # Swagger UI's own style drew its buttons, selects, tabs and arrows 14 to 36 px tall.
    context, page, problems = phone(browser, WIDTH)
    page.goto(server.url + "/docs")  # open to anyone, as the API's description is
    page.locator("#swagger-ui .opblock-summary").first.click()
    page.get_by_role("button", name="Try it out").first.click()
    page.get_by_role("button", name="Execute").first.wait_for()
    small = sorted({tuple(target) for target in page.evaluate(SMALL_TARGETS % FINGER)})
    assert small == [], f"targets under {FINGER} px (class, height): {small}"
    _fits(page)
    assert problems == []
    context.close()
