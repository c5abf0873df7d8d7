"""A manager publishes a new guideline on a phone-sized screen; an annotator labeling at that
moment is told, reads the new rules, and their next label records the new version."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    COUNTS_MS,
    STATUS_POLL_MS,
    HeldAnswer,
    _schema,
    answer_served,
    first_rounds,
    login,
    make_reviews,
    page_fetch,
    phone,
    wait_answer,
    wait_task,
    write_jsonl,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def learner() -> bool:
    """The server runs no learner: guidelines and labels reach the pages with no
    round: the items served are the reviews' first queue, and the late-labels project's, made
    here as the learner would make it (``first_rounds``)."""
    return False


WIDTH = 390
ANNOTATOR = ("gina", "gina-password-123")
HOSTILE_RULE = "<script>alert(1)</script>"
NEW_GUIDELINE = (
    "# Review sentiment\n\nLabel the **reviewer's opinion** of the product.\n\n"
    f"Sarcasm counts as negative. {HOSTILE_RULE}\n\n"
    "See [the examples](javascript:alert(1)).\n"
)
# A label of the longest kind (100 characters) in one word, with markup that must stay text.
NEW_LABEL = "refund<b>now</b>" + "x" * 84
SUMMARY = "Sarcasm is negative <img src=x onerror=alert(1)>"


def _inert(page: Any, selector: str) -> dict[str, Any]:
    """What a region holds: its text, and whether any script or javascript: link got into it."""
    return page.evaluate(
        """(sel) => {
            const node = document.querySelector(sel);
            return {
                text: node.textContent,
                scripts: node.querySelectorAll('script, img').length,
                js_links: [...node.querySelectorAll('a')].filter(a =>
                    (a.getAttribute('href') || '').toLowerCase().includes('javascript')).length,
            };
        }""",
        selector,
    )


def _annotator(server: Any, name: str, password: str) -> None:
    """A new user, an annotator of the main project."""
    server.cli("users", "add", name, "--password-stdin", stdin=password + "\n")
    server.cli("projects", "member", server.main, name, "annotator")


def _fits(page: Any) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= WIDTH


def test_e2e_a_published_guideline_reaches_the_annotator_and_their_label(
    server: Any, browser: Any, screenshots: Path
) -> None:
    name, password = ANNOTATOR
    _annotator(server, name, password)

    # The annotator is labeling under v1.
    ann_context, ann, ann_problems = phone(browser, WIDTH)
    ann.clock.install()  # to bring the page's status poll on, below
    login(ann, server.url, f"/p/{server.main}/label", username=name, password=password)
    wait_task(ann)
    assert ann.inner_text("#guideline-version-label") == "v1"

    # The manager publishes v2 from the project page, with the keyboard.
    mgr_context, mgr, mgr_problems = phone(browser, WIDTH)
    login(mgr, server.url, f"/p/{server.main}")
    mgr.wait_for_selector("#guideline-history li[data-version='1']")
    mgr.fill("#guideline-body", NEW_GUIDELINE)
    mgr.fill("#guideline-summary", SUMMARY)
    mgr.focus("#guideline-body")
    mgr.keyboard.press("Control+Enter")
    mgr.wait_for_selector("#guideline-result .message-info")
    assert mgr.inner_text("#guideline-result").startswith("Published v2")
    assert mgr.text_content("#guideline-version") == "v2"  # shown upper-case, as section titles are
    assert mgr.inner_text("#guideline-version-head") == "v2"
    assert mgr.inner_text("#guideline-save").startswith("Publish v3\n")  # one word, no gap

    # What it shows is inert: the script is text, the javascript: link is no link. The new
    # version's text is fetched after the version label changes.
    mgr.wait_for_function(
        "() => document.getElementById('guideline-current').textContent.includes('Sarcasm counts')"
    )
    current = _inert(mgr, "#guideline-current")
    assert HOSTILE_RULE in current["text"] and "Sarcasm counts as negative" in current["text"]
    assert current["scripts"] == 0 and current["js_links"] == 0

    # v2 heads the history with its summary as text; its diff against v1 opens and is marked.
    mgr.wait_for_selector("#guideline-history li[data-version='2']")
    newest = mgr.locator("#guideline-history li").first
    assert newest.get_attribute("data-version") == "2"
    assert SUMMARY in newest.inner_text() and "0 answers made under it" in newest.inner_text()
    shown = newest.locator(".guideline-hash")
    assert shown.inner_text() == "sha256:" + shown.get_attribute("title").split(": ")[1][:12]
    assert "changed after it was published" not in newest.inner_text()
    newest.get_by_role("button", name="Changes from v1").click()
    mgr.wait_for_selector("#guideline-diff .diff-add")
    assert mgr.evaluate("() => document.activeElement.id") == "guideline-diff-title"
    added = mgr.eval_on_selector_all(
        "#guideline-diff .diff-add", "ls => ls.map(l => l.textContent)"
    )
    assert any(HOSTILE_RULE in line for line in added)
    assert "added" in mgr.inner_text("#guideline-diff-title")
    assert _inert(mgr, "#guideline-diff")["scripts"] == 0
    mgr.locator("#guideline-diff-box").screenshot(path=str(screenshots / "guideline-diff.png"))
    mgr.keyboard.press("Escape")
    assert mgr.locator("#guideline-diff-box").is_hidden()
    assert _fits(mgr)

    # The annotator is told without leaving the item, at the page's next status poll, and the
    # panel holds the new rules.
    ann.clock.fast_forward(STATUS_POLL_MS)
    ann.wait_for_function(
        "() => document.getElementById('guideline-news').textContent.length > 0", timeout=15000
    )
    assert ann.inner_text("#guideline-news .news-text") == f"Guideline updated to v2: {SUMMARY}"
    # On a phone the panel starts folded away under the item: the news opens it at the rules.
    assert ann.evaluate("() => document.getElementById('guideline').open") is False
    ann.click("#guideline-news button")
    assert ann.evaluate("() => document.getElementById('guideline').open") is True
    assert ann.locator("#guideline-text").is_visible()
    assert ann.evaluate("() => document.activeElement.id") == "guideline-text"
    assert ann.get_attribute("#guideline-news", "aria-live") == "polite"
    assert ann.inner_text("#guideline-version-label") == "v2"
    panel = _inert(ann, "#guideline-text")
    assert HOSTILE_RULE in panel["text"] and panel["scripts"] == 0 and panel["js_links"] == 0
    assert _fits(ann)
    ann.screenshot(path=str(screenshots / "guideline-news.png"))

    # Their next label records v2.
    shown = wait_task(ann)
    ann.keyboard.press("1")
    ann.keyboard.press("Enter")
    wait_task(ann, other_than=shown)
    wait_answer(
        mgr,
        """([slug, who]) => fetch(`/api/projects/${slug}/export?format=jsonl`)
            .then(r => r.text())
            .then(t => t.split('\\n').filter(Boolean).map(JSON.parse)
                       .some(row => row.annotator === who))""",
        [server.main, name],
        timeout_ms=15000,
    )
    exported = mgr.evaluate(
        "(slug) => fetch(`/api/projects/${slug}/export?format=jsonl`).then(r => r.text())",
        server.main,
    )
    rows = [json.loads(line) for line in exported.splitlines() if line]
    assert [r["guideline_version"] for r in rows if r["annotator"] == name] == [2]
    history = mgr.evaluate(
        "(slug) => fetch(`/api/projects/${slug}/guidelines`).then(r => r.json())", server.main
    )
    assert [(v["version"], v["annotations"]) for v in history][0] == (2, 1)

    assert ann_problems == [] and mgr_problems == []
    ann_context.close()
    mgr_context.close()


def _pressed(page: Any, label: str) -> str | None:
    return page.get_attribute(f".label-btn[data-label='{label}']", "aria-pressed")


def _exported(mgr: Any, slug: str, who: str, n: int) -> list[dict[str, Any]]:
    """The export's rows of ``who``, read through the API once there are ``n`` (the page sends
    an answer in the background as the next item shows)."""
    text = wait_answer(
        mgr,
        """([slug, who, n]) => fetch(`/api/projects/${slug}/export?format=jsonl`)
            .then(r => r.text())
            .then(t => t.split('\\n').filter(Boolean).map(JSON.parse)
                       .filter(row => row.annotator === who).length >= n ? t : '')""",
        [slug, who, n],
        timeout_ms=15000,
    )
    rows = [json.loads(line) for line in text.splitlines() if line]
    return [r for r in rows if r["annotator"] == who]


def test_e2e_a_label_added_mid_session_shows_on_the_open_page_with_its_key(
    server: Any, browser: Any
) -> None:
    name, password = ("hugo", "hugo-password-123")
    _annotator(server, name, password)
    context, page, problems = phone(browser, WIDTH)
    page.clock.install()  # to bring the page's status poll on, below
    login(page, server.url, f"/p/{server.main}/label", username=name, password=password)
    first = wait_task(page)
    page.keyboard.press("2")  # neutral, chosen before the label is added and not yet submitted
    assert _pressed(page, "neutral") == "true"

    # The manager adds it from the project page's Settings section.
    mgr_context, mgr, mgr_problems = phone(browser, WIDTH)
    login(mgr, server.url, f"/p/{server.main}")
    mgr.fill("#label-new", NEW_LABEL)
    mgr.fill("#label-description", "asks for the money back")
    mgr.click("#label-add")
    mgr.wait_for_selector("#labels-result .message-info")
    assert mgr.inner_text("#labels-result") == (
        f'Added "{NEW_LABEL}" to sentiment, key 4: schema v2. Open labeling and review pages '
        "show it without a reload."
    )
    chips = mgr.eval_on_selector_all(
        "#labels-form [data-control='sentiment'] .chip", "cs => cs.map(c => c.textContent)"
    )
    assert chips[-1] == NEW_LABEL and mgr.input_value("#label-new") == ""
    assert mgr.inner_text("#labels-version") == "schema v2" and _fits(mgr)
    mgr.fill("#label-new", NEW_LABEL)  # the same label again: refused, named
    mgr.click("#label-add")
    mgr.wait_for_selector("#labels-result .message-error")
    assert "already has the label" in mgr.inner_text("#labels-result")

    # The open page draws its button with its key at its next status poll, no reload, on the
    # item it shows: the annotator's place and their choice on it stay.
    page.clock.fast_forward(STATUS_POLL_MS)
    added = page.locator(f"button[data-label='{NEW_LABEL}']")
    added.wait_for(timeout=15000)
    assert page.inner_text("#schema-news") == f"New label: {NEW_LABEL} (key 4)"
    assert added.locator("kbd").inner_text() == "4" and _fits(page)
    assert page.get_attribute("#label-app", "data-assignment-id") == first
    assert _pressed(page, "neutral") == "true" and _pressed(page, NEW_LABEL) == "false"
    assert page.evaluate("() => window.__xss") is None  # the label's markup stayed text
    page.keyboard.press("?")  # the shortcut sheet lists it with its key
    assert page.locator("#shortcuts-body tr", has_text=NEW_LABEL).locator("kbd").inner_text() == "4"
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    second = wait_task(page, other_than=first)
    page.keyboard.press("4")
    assert _pressed(page, NEW_LABEL) == "true"

    # A second label, added through the API while the annotator is on this item, is on the
    # next item's label bar with the next free key.
    status, done = page_fetch(
        mgr, "POST", f"/api/projects/{server.main}/labels", {"label": "warranty"}
    )
    assert status == 201 and (done["hotkey"], done["schema_version"]) == ("5", 3)
    page.keyboard.press("Enter")
    third = wait_task(page, other_than=second)
    page.locator("button[data-label='warranty']").wait_for(timeout=15000)
    assert page.inner_text("#schema-news") == "New label: warranty (key 5)"
    page.keyboard.press("5")
    assert _pressed(page, "warranty") == "true"
    page.keyboard.press("Enter")
    wait_task(page, other_than=third)

    mine = _exported(mgr, server.main, name, 3)
    # Each answer records the schema it was given under: the second was sent after "warranty".
    assert sorted((r["label"], r["schema_version"]) for r in mine) == sorted(
        [("neutral", 2), (NEW_LABEL, 3), ("warranty", 3)]
    )
    assert problems == [] and mgr_problems == []
    mgr_context.close()
    context.close()


def test_e2e_a_label_added_mid_review_fixes_the_answer_on_screen_with_its_key(
    server: Any, browser: Any
) -> None:
    name, password = ("ines", "ines-password-123")
    _annotator(server, name, password)
    slug = server.main
    mgr_context, mgr, mgr_problems = phone(browser, WIDTH)
    login(mgr, server.url, f"/p/{slug}")
    assert (
        page_fetch(mgr, "PATCH", f"/api/projects/{slug}/settings", {"review_policy": "all"})[0]
        == 200
    )
    ann_context, ann, ann_problems = phone(browser, WIDTH)
    login(ann, server.url, f"/p/{slug}", username=name, password=password)
    served = [answer_served(ann, slug, lambda t: {"sentiment": "neutral"}) for _ in range(2)]
    by_item = {t["item"]["id"]: t for t in served}

    # The reviewer has the review page open on the first answer.
    context, page, problems = phone(browser, WIDTH)
    page.clock.install()  # to bring the page's poll of its counts and labels on, below
    login(page, server.url, f"/p/{slug}/review")
    page.wait_for_function("() => document.getElementById('review-app').dataset.state === 'review'")
    first = page.get_attribute("#review-app", "data-item-id")
    page.keyboard.press("f")  # a fix in progress when the label comes: it stays
    status, done = page_fetch(mgr, "POST", f"/api/projects/{slug}/labels", {"label": "gift"})
    assert status == 201, done
    key = done["hotkey"]

    # At the page's next poll the button is drawn on the answer on screen, the fix kept.
    page.clock.fast_forward(COUNTS_MS)
    page.locator("button[data-label='gift']").wait_for(timeout=15000)
    assert page.get_attribute("#review-app", "data-item-id") == first
    assert page.get_attribute("#review-app", "data-pending") == "fix"
    assert page.locator("button[data-label='gift'] kbd").inner_text() == key
    assert page.inner_text("#schema-news") == f"New label: gift (key {key})"
    page.keyboard.press(key)
    assert _pressed(page, "gift") == "true"
    page.keyboard.press("Enter")  # the fix saved: the first answer's label is the new one
    page.wait_for_function(
        "(first) => { const app = document.getElementById('review-app');"
        " return app.dataset.state === 'review' && app.dataset.itemId !== first; }",
        arg=first,
    )
    status, view = page_fetch(mgr, "GET", f"/api/projects/{slug}/items/{first}/review")
    assert status == 200 and view["label"]["value"] == {"sentiment": "gift"}

    # A second label, added while no fix is in progress, is on the second answer too: read as
    # the reviewer comes back to the tab, without waiting for the poll.
    status, done = page_fetch(mgr, "POST", f"/api/projects/{slug}/labels", {"label": "gift2"})
    assert status == 201, done
    key = done["hotkey"]
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    # (drawn in the fix panel, shown with F; short of the page's 15 s count and schema check)
    page.locator("button[data-label='gift2']").wait_for(state="attached", timeout=10000)
    second = page.get_attribute("#review-app", "data-item-id")
    assert page.inner_text("#schema-news") == f"New label: gift2 (key {key})"
    page.keyboard.press("f")
    page.keyboard.press(key)
    assert _pressed(page, "gift2") == "true"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(second) => document.getElementById('review-app').dataset.itemId !== second",
        arg=second,
    )

    status, view = page_fetch(mgr, "GET", f"/api/projects/{slug}/items/{second}/review")
    assert status == 200 and int(second) in by_item and int(first) in by_item
    assert view["label"]["value"] == {"sentiment": "gift2"}
    assert (
        page_fetch(mgr, "PATCH", f"/api/projects/{slug}/settings", {"review_policy": "none"})[0]
        == 200
    )
    assert problems == [] and mgr_problems == [] and ann_problems == []
    for c in (context, ann_context, mgr_context):
        c.close()


# Records, as each item shows, the labels its label bar offers at that moment.
_RECORD_SHOWN = """() => {
    window.__shown = [];
    const app = document.getElementById('label-app');
    new MutationObserver(() => {
        const last = window.__shown[window.__shown.length - 1];
        if (app.dataset.state !== 'task' || (last && last.id === app.dataset.assignmentId)) return;
        window.__shown.push({
            id: app.dataset.assignmentId,
            labels: [...document.querySelectorAll('button.label-btn')].map(b => b.dataset.label),
        });
    }).observe(app, {attributes: true, attributeFilter: ['data-assignment-id', 'data-state']});
}"""


def _until(page: Any, done: Any, what: str, timeout_s: float = 15) -> None:
    """Let the page run (its polls, the routes' handlers) until ``done()``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"never happened: {what}"
        page.wait_for_timeout(50)


def test_e2e_a_label_added_as_the_next_item_comes_is_on_it_as_it_shows(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    slug = "late-labels"
    server.cli("projects", "create", slug, "--schema", str(_schema(tmp_path / "s.json", "Late")))
    pool, _ = make_reviews(n_pool=12, n_eval=0, seed=3)
    rows = [{k: v for k, v in r.items() if k != "label"} for r in pool]
    server.cli("import", slug, str(write_jsonl(tmp_path / "pool.jsonl", rows)), "--id-field", "id")
    name, password = ("jade", "jade-password-123")
    server.cli("users", "add", name, "--password-stdin", stdin=password + "\n")
    server.cli("projects", "member", slug, name, "annotator")
    first_rounds(server.home)  # the project's first queue

    context, page, problems = phone(browser, WIDTH)
    served: list[Any] = []  # the page's leases: the item shown, then each prefetched next one
    page.on("response", lambda r: served.append(r) if r.url.endswith("/tasks/next") else None)
    # What happens to the page's next reads of the project's labels, and of its next lease.
    reads: list[str] = []
    held: list[tuple[Any, Any]] = []
    leases: list[str] = []
    held_lease: list[Any] = []

    def labels_read(route: Any) -> None:
        way = reads.pop(0) if reads else "pass"
        if way == "fail":  # the network dropped it
            route.abort()
        elif way == "hold":  # answered as the server had it then, delivered late
            held.append((route, route.fetch()))
        else:
            route.continue_()

    def lease(route: Any) -> None:
        if leases and leases.pop(0) == "hold":
            held_lease.append(route)
        else:
            route.continue_()

    # A manager adds the labels through the API: the server serves them from the next request.
    mgr_context, mgr, mgr_problems = phone(browser, WIDTH)
    login(mgr, server.url, f"/p/{slug}")

    def add_label(label: str) -> None:
        status, done = page_fetch(mgr, "POST", f"/api/projects/{slug}/labels", {"label": label})
        assert status == 201, done

    page.clock.install()  # to bring the page's status poll on, below
    page.route(re.compile(rf"/api/projects/{slug}$"), labels_read)
    page.route(re.compile(rf"/api/projects/{slug}/tasks/next$"), lease)
    login(page, server.url, f"/p/{slug}/label", username=name, password=password)
    first = wait_task(page)
    page.evaluate(_RECORD_SHOWN)
    _until(page, lambda: len(served) >= 2, "the next item prefetched")

    # A label is added after the next item was leased; the page hears of it from its status
    # poll, but its read of the labels is lost on the way.
    reads.append("fail")
    add_label("refund")
    page.clock.fast_forward(STATUS_POLL_MS)
    _until(page, lambda: not reads, "the page's read of the new labels")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    second = wait_task(page, other_than=first)
    shown = page.evaluate("() => window.__shown")
    # The prefetched item shows with the label already on its bar, not at the next poll.
    assert shown[-1]["id"] == second and "refund" in shown[-1]["labels"], shown
    assert page.inner_text("#schema-news") == "New label: refund (key 4)"

    # The next item is leased after two more labels came, while the page's read of the first
    # of them is still on its way (it left before the second existed).
    leases.append("hold")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    third = wait_task(page, other_than=second)
    _until(page, lambda: bool(held_lease), "the next lease asked for")
    reads.append("hold")
    add_label("warranty")
    page.clock.fast_forward(STATUS_POLL_MS)
    _until(page, lambda: bool(held), "the page's read of 'warranty'")
    add_label("gift")
    leased = len(served)
    held_lease.pop().continue_()
    _until(page, lambda: len(served) > leased, "the next item prefetched")
    page.keyboard.press("1")
    page.keyboard.press("Enter")  # its labels are read first: the read on its way is old
    route, answer = held.pop()
    route.fulfill(response=answer)
    fourth = wait_task(page, other_than=third)
    shown = page.evaluate("() => window.__shown")
    assert shown[-1]["id"] == fourth, shown
    assert {"refund", "warranty", "gift"} <= set(shown[-1]["labels"]), shown
    assert page.locator("button[data-label='gift'] kbd").inner_text() == "6"
    assert problems == [] and mgr_problems == []
    mgr_context.close()
    context.close()


def test_e2e_enter_submits_after_a_click_on_the_guideline_fold(server: Any, browser: Any) -> None:
    """A click folds the guideline panel and leaves the focus on its heading: the label's key
    and Enter then label and submit, as the page's keys say, rather than Enter folding the
    panel open again. Reached with Tab, Enter on the heading still folds it."""
    name, password = ("ivy", "ivy-password-123")
    _annotator(server, name, password)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{server.main}/label", username=name, password=password)
    first = wait_task(page)
    fold = page.locator("#label-app .guideline summary")
    fold.click()
    shut = page.evaluate("() => !document.querySelector('#label-app .guideline').open")
    assert shut
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_task(page, other_than=first)  # submitted: the next item is on screen
    assert page.evaluate("() => !document.querySelector('#label-app .guideline').open") == shut

    page.evaluate("() => document.activeElement.blur()")
    for _ in range(30):  # Tab to the fold, as a keyboard user does
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.tagName === 'SUMMARY'"):
            break
    second = page.get_attribute("#label-app", "data-assignment-id")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.querySelector('#label-app .guideline').open")
    assert page.get_attribute("#label-app", "data-assignment-id") == second
    context.close()


def test_e2e_the_diff_shown_is_the_last_one_opened(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """A version's changes opened while another's were on their way: the first answer, arriving
    last, showed v1's changes to v2 where v2's to v3 were asked for, until opened again."""
    slug = "two-diffs"
    server.cli("projects", "create", slug, "--schema", str(_schema(tmp_path / "s.json", "Diffs")))
    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{slug}")
    for version, rule in ((1, "Sarcasm is negative."), (2, "Shipping news is neutral.")):
        body = page.input_value("#guideline-body") + f"\n{rule}\n"
        published = {"body": body, "summary": rule, "base_version": version}
        status, done = page_fetch(page, "POST", f"/api/projects/{slug}/guidelines", published)
        assert status == 201, done
        page.fill("#guideline-body", body)
    page.reload()
    page.wait_for_selector("#guideline-history li[data-version='3']")
    held = HeldAnswer(page, re.compile(re.escape(server.url) + r"/api/.*/guidelines/diff\?"))
    for version in (2, 3):
        entry = page.locator(f"#guideline-history li[data-version='{version}']")
        entry.get_by_role("button", name=f"Changes from v{version - 1}").click()
        if version == 2:
            assert "Sarcasm" in held.text("v2's changes")
    page.wait_for_selector("#guideline-diff .diff-add")
    held.release()
    assert page.inner_text("#guideline-diff-title").startswith(
        "Changes from v2 to v3: 2 lines added"
    )
    added = page.eval_on_selector_all("#guideline-diff .diff-add", "ls => ls.map(l => l.innerText)")
    assert any("Shipping news" in line for line in added), added
    assert not any("Sarcasm" in line for line in added), added
    assert problems == []
    context.close()
