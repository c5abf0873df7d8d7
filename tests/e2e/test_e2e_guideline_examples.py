"""Examples in the guideline, in real Chromium on phone-sized screens: a manager pins the item
under review from the review page; the annotator labeling at that moment finds it in the
guideline panel under its label, with the note, as text; the project page lists it, shows it in
the version's diff, and unpins it (once after someone else changed the guideline meanwhile)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    LABELS,
    STATUS_POLL_MS,
    first_rounds,
    login,
    phone,
    run_cli,
    serving,
    wait_task,
    wide_elements,
    write_jsonl,
)

pytestmark = pytest.mark.browser

ADMIN = ("alice", "correct-horse-battery")
ANNOTATOR = ("gus", "gus-password-123")
SLUG = "pins"
WIDTH = 390
# Both items are hostile; the first is longer than the 400 characters an example shows.
LONG = (
    "<script>window.__xss=1</script><b>bold</b> The kettle broke after two days. "
    + "Really disappointed, I want a refund. " * 12
)
SHORT = "<img src=x onerror=window.__xss=1> Brilliant value, beautifully made."
TEXTS = {"h0": LONG, "h1": SHORT}
NOTE = "a refund request is negative <i>even when polite</i>"
OTHER_NOTE = "praise of the price counts"


@dataclass
class Site:
    """A `labelloop serve` of this module's own: one admin; the test makes the project."""

    url: str
    home: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Overrides the e2e server: project 'pins' (review of every label) with the two items and
    gus as its annotator, its queue built before the server starts, and no learner: pins and
    guidelines need no round, and the item the test imports later is queued as the learner
    would queue it (``first_rounds``)."""
    home = tmp_path_factory.mktemp("examples-home")
    name, password = ADMIN
    run_cli(home, "users", "add", name, "--admin", "--password-stdin", stdin=password + "\n")
    name, password = ANNOTATOR
    run_cli(home, "users", "add", name, "--password-stdin", stdin=password + "\n")
    (home / "pins.json").write_text(json.dumps(_schema()))
    run_cli(home, "projects", "create", SLUG, "--schema", str(home / "pins.json"))
    run_cli(home, "projects", "member", SLUG, name, "annotator")
    rows = [{"id": k, "text": v} for k, v in TEXTS.items()]
    run_cli(home, "import", SLUG, str(write_jsonl(home / "items.jsonl", rows)), "--id-field", "id")
    first_rounds(home)
    with serving(home, "serve", learner=False) as url:
        yield Site(url=url, home=home)


def _schema() -> dict[str, Any]:
    return {
        "name": "Pinned examples",
        "data": {"type": "text", "field": "text"},
        "controls": [
            {
                "name": "sentiment",
                "type": "choice",
                "labels": list(LABELS),
                "hotkeys": ["1", "2", "3"],
                "target": True,
            }
        ],
        "guideline": "# Review sentiment\n\nLabel the reviewer's opinion of the product.\n",
        "settings": {"review_policy": "all", "retrain_every": 100},
    }


def _panel(page: Any) -> list[dict[str, Any]]:
    """The labeling page's examples as a reader sees them: each label with its examples' text."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#guideline-examples .example-group')].map(g => ({
            label: g.querySelector('.example-label').innerText,
            texts: [...g.querySelectorAll('.example-text')].map(t => t.textContent),
            notes: [...g.querySelectorAll('.example-note')].map(n => n.innerText),
        }))"""
    )


def _open_panel(page: Any) -> None:
    """The guideline panel starts closed on a phone; open it as a reader would."""
    if page.get_attribute("#guideline", "open") is None:
        page.click("#guideline summary")


def _clean(page: Any) -> None:
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("#main script:not([type='application/json']), #main img").count() == 0
    assert wide_elements(page) == []


def test_e2e_a_pinned_example_reaches_the_annotator_and_is_unpinned(
    server: Site, browser: Any, screenshots: Path
) -> None:
    asked: list[str] = []
    mgr_context, mgr, mgr_problems = phone(browser, WIDTH, confirms=asked)
    login(mgr, server.url, "/", username=ADMIN[0], password=ADMIN[1])
    token = mgr.evaluate("() => window.labelloop.api('POST', '/api/tokens', {name: 'e2e'})")
    headers = {"Authorization": f"Bearer {token['token']}"}
    api = httpx.Client(base_url=server.url, headers=headers, timeout=30)

    # The annotator labels under v1: no examples yet. They flag the item, then label it.
    ann_context, ann, ann_problems = phone(browser, WIDTH)
    ann.clock.install()  # to bring the page's status poll on, below
    login(ann, server.url, f"/p/{SLUG}/label", username=ANNOTATOR[0], password=ANNOTATOR[1])
    shown = wait_task(ann)
    assert ann.is_hidden("#guideline-examples")
    pinned = ann.inner_text("#item-id")
    other = next(k for k in TEXTS if k != pinned)
    ann.keyboard.press("!")
    ann.keyboard.type("sarcastic?")
    ann.keyboard.press("Enter")
    ann.wait_for_selector("#flag-chip", state="visible")
    ann.keyboard.press("1")  # negative
    ann.keyboard.press("Enter")
    wait_task(ann, other_than=shown)

    # The manager reviews it and pins it, by keyboard: P, a note, Enter.
    mgr.goto(f"{server.url}/p/{SLUG}/review")
    mgr.wait_for_function("() => document.getElementById('review-app').dataset.state === 'review'")
    assert mgr.inner_text("#item-id") == pinned
    assert mgr.locator("#flag-list .flag-closed").count() == 0
    mgr.keyboard.press("?")
    assert "Pin the item to the guideline" in mgr.inner_text("#shortcuts")
    mgr.keyboard.press("Escape")
    mgr.keyboard.press("p")
    mgr.wait_for_function("() => document.activeElement.id === 'pin-note'")
    assert mgr.inner_text("#pin-answer") == "negative"
    mgr.keyboard.type(NOTE)
    _clean(mgr)
    mgr.keyboard.press("Enter")
    mgr.wait_for_function("() => document.getElementById('pin-status').textContent.length > 0")
    assert mgr.inner_text("#pin-status") == (
        "Pinned to the guideline (v2) as an example of negative. Its ambiguous flag is resolved."
    )
    assert mgr.is_hidden("#pin-box")
    # The item's context says so too: the flag is closed, the history names the pin and why.
    mgr.wait_for_selector("#flag-list .flag-closed[data-kind='ambiguous']")
    assert (
        mgr.locator("#history li")
        .last.inner_text()
        .endswith(f"alice pinned it to the guideline as an example: negative\n{NOTE}")
    )
    # Pinning is no verdict: the annotation still waits for one.
    assert mgr.get_attribute("#review-app", "data-state") == "review"
    _clean(mgr)
    mgr.screenshot(path=str(screenshots / "review-pin.png"), full_page=True)

    # The project page lists it, with who pinned it when; v2's diff names it.
    mgr.goto(f"{server.url}/p/{SLUG}")
    entry = mgr.locator("#guideline-examples li")
    assert entry.count() == 1
    head = entry.locator(".example-head").inner_text()
    assert "negative" in head and f"item {pinned}" in head and "pinned in v2 by alice" in head
    assert entry.locator(".example-text").text_content() == TEXTS[pinned][:400] + (
        "…" if len(TEXTS[pinned]) > 400 else ""
    )
    assert entry.locator(".example-note").inner_text() == f"Why: {NOTE}"
    mgr.wait_for_selector("#guideline-history li[data-version='2']")
    mgr.locator("#guideline-history li[data-version='2']").get_by_role(
        "button", name="Changes from v1"
    ).click()
    mgr.wait_for_selector("#guideline-diff .diff-example")
    assert mgr.text_content("#guideline-diff .diff-example").strip() == (
        f"+ example {pinned}: negative ({NOTE})"
    )
    assert "1 example added" in mgr.inner_text("#guideline-diff-title")
    mgr.keyboard.press("Escape")
    _clean(mgr)

    # Meanwhile the other item is pinned from elsewhere (v3): the annotator's panel shows both
    # under their labels once the new version reaches the page, item text as text.
    done = api.post(
        f"/api/projects/{SLUG}/guidelines/examples",
        json={"external_id": other, "value": {"sentiment": "positive"}, "note": OTHER_NOTE},
    )
    assert done.status_code == 201 and done.json()["version"] == 3, done.text
    ann.clock.fast_forward(STATUS_POLL_MS)
    ann.wait_for_function(
        "() => document.getElementById('guideline-version-label').textContent === 'v3'",
        timeout=15000,
    )
    _open_panel(ann)
    excerpt = {k: v[:400] + ("…" if len(v) > 400 else "") for k, v in TEXTS.items()}
    panel = _panel(ann)
    assert panel == [
        {"label": "negative", "texts": [excerpt[pinned]], "notes": [f"Why: {NOTE}"]},
        {"label": "positive", "texts": [excerpt[other]], "notes": [f"Why: {OTHER_NOTE}"]},
    ]
    long = next(t for group in panel for t in group["texts"] if t.startswith("<script>"))
    assert len(long) == 401 and long.endswith("I want a refund. Really disappointed,…")
    _clean(ann)
    ann.locator("#guideline").screenshot(path=str(screenshots / "guideline-examples.png"))

    # The manager's page still shows v2: Unpin is refused, says why and shows v3's list; the
    # second Unpin goes through, and the section moves to v4 as after a publish.
    unpin = mgr.get_by_role("button", name=f"Unpin item {pinned}")
    unpin.click()
    mgr.wait_for_selector("#guideline-examples-result .message-error")
    assert "the guideline changed meanwhile (it is at v3 now)" in mgr.inner_text(
        "#guideline-examples-result"
    )
    assert mgr.locator("#guideline-examples li").count() == 2
    assert mgr.text_content("#guideline-version") == "v3"
    unpin.click()
    mgr.wait_for_selector("#guideline-examples-result .message-info")
    assert asked == 2 * [  # each Unpin asks first
        f"Unpin item {pinned}? A new guideline version no longer shows it as an example; "
        "the versions before keep it."
    ]
    assert mgr.inner_text("#guideline-examples-result") == (
        f"Unpinned item {pinned} (negative): v4 no longer shows it as an example."
    )
    # The list, the history and the heading reload after the message: wait for them.
    mgr.wait_for_function(
        """() => document.getElementById('guideline-version').textContent === 'v4'
            && document.querySelectorAll('#guideline-examples li').length === 1"""
    )
    assert mgr.inner_text("#guideline-examples-status").startswith("1 example in v4")
    assert mgr.inner_text("#guideline-version-head") == "v4"
    mgr.wait_for_selector("#guideline-history li[data-version='4']")
    assert mgr.locator("#guideline-history li").first.get_attribute("data-version") == "4"
    _clean(mgr)
    mgr.locator("#guideline-panel").screenshot(path=str(screenshots / "guideline-unpin.png"))

    # On reload the annotator's panel holds only the example left.
    ann.reload()  # the panel is drawn from the page's own data, before any item is leased
    _open_panel(ann)
    assert ann.inner_text("#guideline-version-label") == "v4"
    assert _panel(ann) == [
        {"label": "positive", "texts": [excerpt[other]], "notes": [f"Why: {OTHER_NOTE}"]}
    ]
    _clean(ann)

    # A new item raises a question; the manager answers it with a new text, ticking the box
    # that says this version answers the open flags.
    more = json.dumps({"id": "late", "text": "Flight moved to Friday, fine I guess"}) + "\n"
    added = api.post(
        f"/api/projects/{SLUG}/imports",
        files={"file": ("late.jsonl", more.encode(), "application/x-ndjson")},
        data={"id_field": "id"},
    )
    assert added.status_code == 201, added.text
    first_rounds(server.home)  # the learner's pass that queues it
    ann.reload()
    wait_task(ann)
    ann.keyboard.press("!")
    ann.keyboard.type("is 'fine I guess' positive?")
    ann.keyboard.press("Enter")
    ann.wait_for_selector("#flag-chip", state="visible")
    mgr.reload()
    assert "answers the 1 open" in mgr.inner_text("#guideline-answers-box")
    mgr.fill("#guideline-body", mgr.input_value("#guideline-body") + "\nResignation is neutral.\n")
    mgr.fill("#guideline-summary", "resigned tone is neutral")
    mgr.check("#guideline-answers")
    mgr.click("#guideline-save")
    mgr.wait_for_selector("#guideline-result .message-info")
    assert mgr.inner_text("#guideline-result").endswith("It answers 1 ambiguous flag.")
    assert mgr.is_hidden("#guideline-answers-box")
    assert api.get(f"/api/projects/{SLUG}/status").json()["open_ambiguous"] == 0

    assert mgr_problems == [] and ann_problems == []
    api.close()
    ann_context.close()
    mgr_context.close()
