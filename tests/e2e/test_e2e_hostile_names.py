"""Markup in everything people type or files bring but the items' text, on every page, in real
Chromium: a project's name, its labels and their descriptions, its controls, metadata fields and
their values, cohorts, an item's id, an import's file name, the guideline and its change summary,
a flag's note, a review's comment and a text answer. Each shows as the text it is on every page
that shows it, to each role; no element is made of it and nothing in it runs (the security policy
refuses nothing either: see the conftest's ``_no_refusals``). Each value but the names the schema
gives ends in a direction override left open; a new schema's names are refused one (the
project's, its labels' and its controls'), as the new-project page says. Each override stays
inside the element that holds its value: the words after it on the page are not shown backwards
(see ``LEAKS``); an item written right to left (Hebrew) shows right to left."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_api_permissions import DISGUISED, REFUSED_LABEL
from tests.e2e.conftest import USERNAME, serving
from tests.e2e.sessions import signed_in
from tests.e2e.stock import stocked

pytestmark = pytest.mark.browser

SLUG = "hx"
RTL_SLUG = "he"
RTL_TEXT = "שלום עולם, the item reads from the right."
"""Hebrew first: the item's box reads right to left, its first word the rightmost."""
ANNOTATOR, REVIEWER = "ann", "rev"


def hostile(tag: str, *, override: bool = True) -> str:
    """Markup that makes an element of class ``pwn`` and sets ``window.__pwned`` if it is ever
    parsed as HTML, named by ``tag`` so a page's text shows which value it is, and (``override``)
    a direction override left open after it."""
    markup = f'<b class="pwn">{tag}</b>"><img class="pwn" src=x onerror="window.__pwned=1">'
    return markup + ("\u202e" if override else "")


def named(tag: str) -> str:
    """A name the schema gives: markup, without the direction override a new one may not hold."""
    return hostile(tag, override=False)


LABELS = [named("LABEL"), "plain", "other"]
SCHEMA = {
    "name": named("NAME"),
    "data": {"type": "text", "field": "text"},
    "controls": [
        {
            "name": "sentiment",
            "type": "choice",
            "labels": LABELS,
            "descriptions": {LABELS[0]: hostile("DESCRIPTION")},
            "target": True,
        },
        {"name": named("CONTROL"), "type": "text"},
    ],
    "guideline": f"# Rules\n\n{hostile('GUIDELINE')}\n\n[a prize](javascript:window.__pwned=1)\n",
    "settings": {"review_policy": "all"},
}
PAGES = {  # each role's pages, and the values each shows among others
    USERNAME: {
        "/": ["NAME"],
        f"/p/{SLUG}": ["NAME", "FILE", "GUIDELINE2", "SUMMARY", "LABEL"],
        f"/p/{SLUG}/items": ["NAME", "EXTERNAL", "TEXT", "LABEL"],
        f"/p/{SLUG}/quality": ["NAME"],
        f"/p/{SLUG}/dashboard": ["NAME"],
        f"/p/{SLUG}/adjudicate": ["NAME"],
        f"/p/{SLUG}/search?q=plain": ["NAME", "TEXT"],
    },
    ANNOTATOR: {
        f"/p/{SLUG}/label": [
            *("NAME", "LABEL", "DESCRIPTION", "CONTROL", "GUIDELINE2", "COHORT", "FIELD")
        ],
        f"/p/{SLUG}/items": ["NAME", "LABEL", "TEXT"],
    },
    REVIEWER: {
        f"/p/{SLUG}/review": ["NAME", "CONTROL", "ANSWER", "METADATA"],
        f"/p/{SLUG}/items": ["NAME", "LABEL", "TEXT"],
    },
}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path) -> Iterator[str]:
    """A project with markup in every name and note, answered, flagged and reviewed; a live
    server without a learner (the first round is run here)."""
    home = tmp_path_factory.mktemp("labelloop-hostile-names")
    with stocked(home, sqlite_migrated, first_rounds=False) as stock:
        _stock(stock.db, stock)
    with serving(home, "serve", learner=False) as served:
        yield served


def _stock(db: Any, stock: Any) -> None:
    from labelloop.govern.permissions import Permission
    from labelloop.workflow import (
        accounts,
        flags,
        guidelines,
        imports,
        learning,
        projects,
        review,
        tasks,
    )

    stock.user(USERNAME, admin=True)
    stock.project(SLUG, SCHEMA)
    for name, role in ((ANNOTATOR, "annotator"), (REVIEWER, "reviewer")):
        stock.user(name)
        stock.member(SLUG, name, role)
    admin = projects.system_context(db, SLUG)
    rows = [
        {
            "id": hostile("EXTERNAL") if i == 0 else f"r{i}\u202e",
            "text": f"{hostile('TEXT')} plain words {i}" if i % 2 == 0 else f"plain words {i}",
            "cohort": hostile("COHORT"),
            hostile("FIELD"): hostile("METADATA"),
            **({"label": LABELS[i % 3]} if i >= 12 else {}),
        }
        for i in range(24)
    ]
    for part, split, label in ((rows[:12], "pool", None), (rows[12:], "eval", "label")):
        imports.import_items(
            db,
            admin,
            io.BytesIO("".join(json.dumps(r) + "\n" for r in part).encode()),
            fmt="jsonl",
            filename=f"{hostile('FILE')}.jsonl",
            id_field="id",
            label_field=label,
            split=split,
        )
    learning.train(db, admin)
    _stock_right_to_left(db, stock)
    guidelines.edit(db, admin, f"# Rules\n\n{hostile('GUIDELINE2')}\n", hostile("SUMMARY"))

    def ctx(name: str) -> Any:
        return projects.access(db, SLUG, accounts.user_by_name(db, name), Permission.VIEW_PROJECT)

    annotator, reviewer = ctx(ANNOTATOR), ctx(REVIEWER)
    done = []
    for n in range(4):
        task = tasks.next_task(db, annotator)
        assert task is not None
        value = {"sentiment": LABELS[n % 3], named("CONTROL"): hostile("ANSWER")}
        done.append(tasks.submit(db, annotator, task["assignment_id"], value, active_ms=900))
    flags.flag_annotation(db, annotator, done[1]["annotation_id"], note=hostile("FLAG"))
    review.review_annotation(
        db, reviewer, done[0]["annotation_id"], verdict="reject", comment=hostile("COMMENT")
    )


def _stock_right_to_left(db: Any, stock: Any) -> None:
    from labelloop.workflow import imports, learning, projects

    control = {"name": "s", "type": "choice", "labels": ["a", "b"], "target": True}
    stock.project(
        RTL_SLUG,
        {"name": "Hebrew", "data": {"type": "text", "field": "text"}, "controls": [control]},
    )
    stock.member(RTL_SLUG, ANNOTATOR, "annotator")
    admin = projects.system_context(db, RTL_SLUG)
    row = json.dumps({"id": "he1", "text": RTL_TEXT}) + "\n"
    source = io.BytesIO(row.encode())
    imports.import_items(db, admin, source, fmt="jsonl", filename="he.jsonl", id_field="id")
    learning.train(db, admin)


LEAKS = """() => {
    // Where a direction override or embedding left open in a text stops: at the nearest element
    // that starts its own bidi paragraph (a block, a cell, an inline-block) or is an isolate.
    const bounds = (el) => {
        const style = getComputedStyle(el);
        return !['inline', 'contents'].includes(style.display)
            || /isolate|plaintext/.test(style.unicodeBidi);
    };
    // What it cannot reach from outside: a block's own paragraph. An inline-block or an isolate
    // after it is still placed backwards among the words around it.
    const paragraph = (el) => !/^(inline|contents$)/.test(getComputedStyle(el).display);
    const shown = (t) => {
        const range = document.createRange();
        range.selectNodeContents(t);
        return range.getClientRects().length > 0;
    };
    const leaks = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        const open = t.data.search(/[\u202a-\u202e\u2066-\u2068][^\u202c\u2069]*$/);
        if (open < 0 || !shown(t)) continue;
        let scope = t.parentElement;
        while (!bounds(scope)) scope = scope.parentElement;
        // the words after the element holding the value in its scope, but those in a paragraph
        // of their own (the value's own words, after the override, read as it says)
        const holder = t.parentElement;
        let after = '';
        const rest = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT, (n) => {
            if (holder.contains(n)) return NodeFilter.FILTER_REJECT;
            for (let el = n.parentElement; el !== scope; el = el.parentElement) {
                if (paragraph(el)) return NodeFilter.FILTER_REJECT;
            }
            return NodeFilter.FILTER_ACCEPT;
        });
        rest.currentNode = t;
        for (let n = rest.nextNode(); n; n = rest.nextNode()) if (shown(n)) after += n.data;
        if (after.trim()) {
            leaks.push(`${t.data.slice(-30)} turns «${after.trim().slice(0, 40)}» backwards`);
        }
    }
    return leaks;
}"""
"""What a direction override left open in a value on the page reorders: the words that follow
the element holding it in their bidi paragraph, outside any isolate (Unicode's bidi algorithm,
as CSS applies it)."""


def _shown(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => ({
            made: document.querySelectorAll('.pwn').length,
            ran: window.__pwned || null,
            text: document.body.innerText,
            scripted: [...document.querySelectorAll('a[href]')]
                .filter(a => /^\\s*javascript:/i.test(a.getAttribute('href'))).length,
        })"""
    )


@pytest.mark.parametrize("who", list(PAGES))
def test_markup_in_names_and_notes_shows_as_text_on_every_page(
    url: str, browser: Any, who: str
) -> None:
    context = signed_in(browser, url, username=who, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    problems = []
    for path, values in PAGES[who].items():
        opened = page.goto(url + path)
        assert opened is not None and opened.status == 200, (path, opened and opened.status)
        page.wait_for_load_state("networkidle")
        shown = _shown(page)
        missing = [v for v in values if f'<b class="pwn">{v}</b>">' not in shown["text"]]
        made = {k: v for k, v in shown.items() if k != "text"}
        if made != {"made": 0, "ran": None, "scripted": 0} or missing:
            problems.append(f"{path}: {made}; not shown as text: {missing}")
        problems.extend(f"{path}: {leak}" for leak in page.evaluate(LEAKS))
    assert not problems, "\n".join(problems)
    assert not errors
    context.close()


def test_every_items_trace_shows_markup_as_text(url: str, browser: Any) -> None:
    """Each item's trace: its id and text, the answers with their labels and text, the comment
    a reviewer sent one back with, the flag on another."""
    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/p/{SLUG}/items")
    rows = page.locator("#items-rows tr")
    rows.first.wait_for()
    seen, leaks = "", []
    for i in range(rows.count()):
        row = rows.nth(i)
        row.locator(".link-button").click()
        item_id = row.get_attribute("data-item-id")
        page.wait_for_function(
            "(id) => document.getElementById('item-trace').dataset.itemId === id", arg=item_id
        )
        page.wait_for_load_state("networkidle")
        shown = _shown(page)
        assert (shown["made"], shown["ran"], shown["scripted"]) == (0, None, 0), item_id
        leaks += page.evaluate(LEAKS)
        seen += page.inner_text("#item-trace")
    for value in ("EXTERNAL", "TEXT", "ANSWER", "COMMENT", "FLAG", "LABEL"):
        assert f'<b class="pwn">{value}</b>">' in seen, value
    assert not leaks, "\n".join(sorted(set(leaks)))
    context.close()


def test_the_new_project_page_refuses_a_name_with_a_direction_override(
    url: str, browser: Any
) -> None:
    """A label "neg", a right-to-left override and "evitisop" shows as "negpositive": the page
    says which label holds what, in the words of the CLI and the API, and makes no project."""
    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/")
    page.fill("#new-project-slug", "disguised")
    controls = [{"name": "s", "type": "choice", "labels": DISGUISED}]
    page.fill("#new-project-schema", json.dumps({"name": "New", "controls": controls}))
    page.click("#new-project-submit")
    result = page.locator("#new-project-result")
    result.get_by_text("The project was not created").wait_for()
    assert result.inner_text().strip() == f"The project was not created: {REFUSED_LABEL}"
    assert page.url == f"{url}/"
    assert page.goto(f"{url}/p/disguised").status == 404
    context.close()


def test_an_override_in_an_answer_leaves_the_words_after_it_in_order(
    url: str, browser: Any
) -> None:
    """The answer sent back to the annotator ends in a right-to-left override: the sentence
    after it (", drawn below for you to fix") still reads from left to right, after it."""
    context = signed_in(browser, url, username=ANNOTATOR, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/p/{SLUG}/label")
    page.locator("#rework-drawn").wait_for()
    placed = page.evaluate(
        """() => {
            const value = document.getElementById('rework-previous');
            const after = document.getElementById('rework-drawn').firstChild;
            const left = (node, i) => {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                return range.getBoundingClientRect().left;
            };
            const word = after.data.indexOf('drawn');
            return {
                value: value.textContent,
                after: after.data,
                d: left(after, word),
                n: left(after, word + 4),
            };
        }"""
    )
    assert placed["value"].endswith("\u202e")
    assert placed["after"] == ", drawn below for you to fix"
    assert placed["d"] < placed["n"], placed  # "drawn", not "nward"
    context.close()


def test_an_item_written_right_to_left_shows_right_to_left(url: str, browser: Any) -> None:
    """On the labeling page, in the items table and in the item's trace, its first (Hebrew) word
    is the rightmost and its full stop the leftmost thing on its line."""
    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/p/{RTL_SLUG}/items")
    page.locator("#items-rows tr .link-button").first.click()
    page.locator("#item-trace .trace-text").wait_for()
    shown = [_reading(page, "#items-rows .items-text"), _reading(page, "#item-trace .trace-text")]
    context.close()
    context = signed_in(browser, url, username=ANNOTATOR, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/p/{RTL_SLUG}/label")
    page.get_by_text(RTL_TEXT).wait_for()
    shown.append(_reading(page, "#item-text"))
    context.close()
    for reading in shown:
        assert reading["text"] == RTL_TEXT
        assert reading["direction"] == "rtl"
        assert reading["first"] > reading["last"], reading


def _reading(page: Any, selector: str) -> dict[str, Any]:
    """The direction of the box at ``selector``, its text, and where its first and last
    characters are drawn (their left edges)."""
    return page.eval_on_selector(
        selector,
        """(box) => {
            const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
            const texts = [];
            for (let t = walker.nextNode(); t; t = walker.nextNode()) texts.push(t);
            const left = (node, i) => {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                return range.getBoundingClientRect().left;
            };
            const end = texts[texts.length - 1];
            return {
                text: box.textContent,
                direction: getComputedStyle(box).direction,
                first: left(texts[0], 0),
                last: left(end, end.data.length - 1),
            };
        }""",
    )


def test_the_audit_log_writes_a_direction_override_as_its_escape(url: str, browser: Any) -> None:
    """An import's file name, a flag's note: in the details of the project's audit log each
    override reads "\\u202e", as JSON may write it, so the keys after it stay in order."""
    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/p/{SLUG}")
    page.locator(".audit-details", has_text="FILE").first.wait_for()
    details = page.locator(".audit-details").all_inner_texts()
    assert any('onerror=\\"window.__pwned=1\\">\\u202e.jsonl"' in d for d in details), details
    assert any('"note":' in d and '\\u202e"' in d for d in details), details
    assert not [d for d in details if "\u202e" in d]
    context.close()


def test_an_override_in_an_id_leaves_the_gold_message_in_order(url: str, browser: Any) -> None:
    """Marking item "r3" and its override as gold: "is gold: plain." still reads from left to
    right after the id. (Run last: it adds a gold item to the project the tests above read.)"""
    context = signed_in(browser, url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/p/{SLUG}/quality")
    page.fill("#gold-item", "r3\u202e")
    page.select_option("#gold-label", "plain")
    page.click("#gold-submit")
    said = page.locator("#gold-result .message-text")
    said.get_by_text("is gold").wait_for()
    placed = said.evaluate(
        """(message) => {
            const after = message.lastChild;
            const left = (i) => {
                const range = document.createRange();
                range.setStart(after, i);
                range.setEnd(after, i + 1);
                return range.getBoundingClientRect().left;
            };
            const word = after.data.indexOf('gold');
            return { text: message.textContent, g: left(word), d: left(word + 3) };
        }"""
    )
    assert placed["text"] == "Item r3\u202e is gold: plain."
    assert placed["g"] < placed["d"], placed  # "gold", not "dlog"
    context.close()
