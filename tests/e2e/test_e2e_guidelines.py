"""A manager publishes a new guideline on a phone-sized screen; an annotator labeling at that
moment is told, reads the new rules, and their next label records the new version."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import login, phone, wait_answer, wait_task

pytestmark = pytest.mark.browser

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


def _fits(page: Any) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= WIDTH


def test_e2e_a_published_guideline_reaches_the_annotator_and_their_label(
    server: Any, browser: Any, screenshots: Path
) -> None:
    name, password = ANNOTATOR
    server.cli("users", "add", name, "--password-stdin", stdin=password + "\n")
    server.cli("projects", "member", server.main, name, "annotator")

    # The annotator is labeling under v1.
    ann_context, ann, ann_problems = phone(browser, WIDTH)
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
    assert SUMMARY in newest.inner_text() and "0 labels made under it" in newest.inner_text()
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

    # The annotator is told without leaving the item, and the panel holds the new rules.
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


def test_e2e_a_label_added_mid_session_is_announced_and_usable_after_a_reload(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    name, password = ("hugo", "hugo-password-123")
    server.cli("users", "add", name, "--password-stdin", stdin=password + "\n")
    server.cli("projects", "member", server.main, name, "annotator")
    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{server.main}/label", username=name, password=password)
    wait_task(page)

    # The manager adds it from the project page's Settings section.
    mgr_context, mgr, mgr_problems = phone(browser, WIDTH)
    login(mgr, server.url, f"/p/{server.main}")
    mgr.fill("#label-new", NEW_LABEL)
    mgr.fill("#label-description", "asks for the money back")
    mgr.click("#label-add")
    mgr.wait_for_selector("#labels-result .message-info")
    assert mgr.inner_text("#labels-result") == (
        f'Added "{NEW_LABEL}" to sentiment, key 4: schema v2. Annotators at work are told '
        "to reload their page."
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
    assert mgr_problems == []
    mgr_context.close()

    page.wait_for_function(
        "() => document.getElementById('schema-news').textContent.length > 0", timeout=15000
    )
    assert (
        page.inner_text("#schema-news") == f'New label: "{NEW_LABEL}". Reload the page to use it.'
    )

    assert _fits(page)

    page.reload()
    shown = wait_task(page)
    added = page.locator(f"button[data-label='{NEW_LABEL}']")
    assert "4" in added.inner_text() and page.inner_text("#schema-news") == ""
    assert _fits(page)
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    wait_task(page, other_than=shown)
    exported = tmp_path / "after.jsonl"
    deadline = time.monotonic() + 15
    while True:  # the page sends the answer in the background as the next item shows
        server.cli("export", server.main, "--format", "jsonl", "-o", str(exported))
        rows = [json.loads(line) for line in exported.read_text().splitlines()]
        mine = [(r["label"], r["schema_version"]) for r in rows if r["annotator"] == name]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert mine == [(NEW_LABEL, 2)]
    assert problems == []
    context.close()
