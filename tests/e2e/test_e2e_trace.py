"""An item's trace as a reviewer reads it in real Chromium, after two annotators answered it
under the first guideline and a reviewer accepted one answer and fixed the other under the
second: each verdict follows the answer it judged, a fix says what it set, and every time
says it is UTC, on the Items page and the Review page alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Lab, make_rows
from tests.e2e.conftest import PASSWORD, serving
from tests.e2e.sessions import signed_in
from tests.e2e.stock import stocked

pytestmark = pytest.mark.browser

SLUG = "traced"
REVIEWER = "rita"
NOTE = "a complaint about <b>the airline</b> is negative"


@dataclass
class Traced:
    url: str
    home: Path
    item_id: int  # ann's and bob's answers, accepted and fixed
    waiting_id: int  # ann's answer under v1, waiting for review under v2
    decided_id: int  # ann's answer escalated, decided otherwise by the expert tier with a note
    changed_id: int  # ann's answer under v1, changed by her under v2, then accepted by rita
    pending_id: int  # ann's answer under v1, changed by her under v2, waiting for review


def _answer(lab: Lab, who: Any, label: str) -> dict[str, Any]:
    from labelloop.workflow import tasks

    task = tasks.next_task(lab.db, who)
    assert task is not None
    return tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": label}, active_ms=1500)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path) -> Iterator[Traced]:
    from labelloop.workflow import guidelines, review, tasks

    home = tmp_path_factory.mktemp("labelloop-trace")
    with stocked(home, sqlite_migrated, first_rounds=False) as stock:
        db = stock.db
        lab = Lab(db)
        lab.user(REVIEWER, password=PASSWORD)
        ctx = lab.project(SLUG, overlap=2, review_policy="all")
        lab.import_rows(ctx, make_rows(10))
        lab.train(ctx)
        ann = lab.member(SLUG, "ann", "annotator")
        bob = lab.member(SLUG, "bob", "annotator")
        rita = lab.member(SLUG, REVIEWER, "reviewer")
        ours, theirs = _answer(lab, ann, "positive"), _answer(lab, bob, "negative")
        assert theirs["item_id"] == ours["item_id"]
        waiting = _answer(lab, ann, "neutral")
        decided = _answer(lab, ann, "neutral")
        review.review_annotation(db, rita, decided["annotation_id"], verdict="escalate")
        review.adjudicate(db, ctx, decided["item_id"], {"sentiment": "negative"}, comment=NOTE)
        changed = _answer(lab, ann, "neutral")
        pending = _answer(lab, ann, "neutral")
        guidelines.edit(db, ctx, "Label the opinion.\n\nSarcasm is negative.\n", "sarcasm")
        tasks.edit(db, ann, changed["annotation_id"], {"sentiment": "negative"})
        tasks.edit(db, ann, pending["annotation_id"], {"sentiment": "positive"})
        review.review_annotation(db, rita, changed["annotation_id"], verdict="accept")
        review.review_annotation(db, rita, ours["annotation_id"], verdict="accept")
        review.review_annotation(
            db,
            rita,
            theirs["annotation_id"],
            verdict="fix",
            value={"sentiment": "positive"},
            comment="praise",
        )
    with serving(home, "serve", learner=False) as url:  # the traces need no round
        yield Traced(
            url,
            home,
            ours["item_id"],
            waiting["item_id"],
            decided["item_id"],
            changed["item_id"],
            pending["item_id"],
        )


def test_each_verdict_follows_the_answer_it_judged_with_times_in_utc(
    traced: Traced, browser: Any
) -> None:
    viewport = {"width": 1280, "height": 1000}
    context = signed_in(browser, traced.url, username=REVIEWER, viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(traced.url + f"/p/{SLUG}/items?item={traced.item_id}")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id",
        arg=str(traced.item_id),
    )
    # The answers part, in reading order: each answer, then the table of verdicts on it.
    blocks = page.eval_on_selector_all(
        "#item-trace .trace-answers > *",
        """(els) => els.map((e) => e.classList.contains('trace-answer')
            ? 'answer: ' + e.querySelector('.trace-answer-head').innerText
            : 'verdicts: ' + [...e.querySelectorAll('tbody tr')]
                .map((r) => [...r.cells].slice(0, 2).map((c) => c.innerText).join(' '))
                .join('; '))""",
    )
    assert blocks == [
        "answer: ann answered positive",
        f"verdicts: {REVIEWER} accept",
        "answer: bob answered negative, corrected to positive",
        f"verdicts: {REVIEWER} fix to positive",
    ]
    heads = page.eval_on_selector_all(
        "#item-trace th", "(els) => els.map((e) => e.innerText.trim())"
    )
    assert "When" not in heads and heads.count("When (UTC)") == 3  # two verdicts, the history
    assert page.locator("#item-trace h3", has_text="Reviews").count() == 0

    # The expert tier's decision says why, beside the label (as text: a note is untrusted).
    page.goto(traced.url + f"/p/{SLUG}/items?item={traced.decided_id}")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id",
        arg=str(traced.decided_id),
    )
    assert page.inner_text("#item-trace .trace-label q") == NOTE
    assert page.inner_text("#item-trace .trace-label").startswith("negative · adjudicated by admin")

    # The review page's history says its times are UTC as well.
    page.goto(traced.url + f"/p/{SLUG}/review")
    page.wait_for_selector("#review-app[data-state='review']")
    times = page.eval_on_selector_all("#history time", "(els) => els.map((e) => e.textContent)")
    assert times and all(t.endswith(" UTC") for t in times), times
    assert not errors
    context.close()


def test_a_reviewer_is_told_an_answer_predates_the_guideline_and_why_it_was_picked(
    traced: Traced, browser: Any
) -> None:
    """ann answered under v1; v2 was published before rita reviews it: the review page and the
    Items page say "guideline v1 (v2 now)", and the review page says why the item was picked,
    as the trace does."""
    viewport = {"width": 1280, "height": 1000}
    context = signed_in(browser, traced.url, username=REVIEWER, viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(traced.url + f"/p/{SLUG}/review")
    page.wait_for_selector("#review-app[data-state='review']")
    meta = page.inner_text("#review-meta")
    assert "guideline v1 (v2 now)" in meta, meta
    why = page.inner_text("#review-why")
    assert why.startswith("why picked: ") and len(why) > len("why picked: x"), why

    page.goto(traced.url + f"/p/{SLUG}/items?item={traced.waiting_id}")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id",
        arg=str(traced.waiting_id),
    )
    trace = " ".join(page.inner_text("#item-trace").split())
    assert "guideline v1 (v2 now)" in trace
    # v1 was the cold start, which trained no model: the trace said "model v1"
    assert "guideline v1 (v2 now) · picked by model: none (v1 was a cold start)" in trace
    assert why in trace  # the same sentence as the trace's
    assert not errors
    context.close()


def test_the_review_page_says_when_an_answer_was_changed_and_under_which_guideline(
    traced: Traced, browser: Any
) -> None:
    """ann changed her answer under v2 before anyone reviewed it: the reviewer is shown the
    changed value and told when it changed and under which guideline, as the Items page says."""
    viewport = {"width": 1280, "height": 1000}
    context = signed_in(browser, traced.url, username=REVIEWER, viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(traced.url + f"/p/{SLUG}/review")
    page.wait_for_selector("#review-app[data-state='review']")
    seen = set()
    while "changed at" not in (was := page.inner_text("#review-meta")):
        assert was not in seen and len(seen) < 5, seen  # the changed answer is in the queue
        seen.add(was)
        page.keyboard.press("n")  # pass over this one
        page.wait_for_function(
            "(was) => document.getElementById('review-meta').innerText !== was", arg=was
        )
    at = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    meta = page.inner_text("#review-meta")
    assert re.search(rf"changed at {at} \(guideline v2\)", meta), meta
    assert "v2 now" not in meta, meta  # the change was made under the guideline in force
    assert page.inner_text("#review-label") == "positive"  # the value as changed
    assert not errors
    context.close()


def _open_trace(page: Any, url: str, item_id: int) -> None:
    page.goto(url + f"/p/{SLUG}/items?item={item_id}")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id", arg=str(item_id)
    )


def _table(page: Any, title: str) -> list[list[str]]:
    """The rows of the trace's table under the heading ``title``, cell by cell."""
    return page.eval_on_selector_all(
        "#item-trace .trace-part",
        """(parts, title) => {
            const part = parts.find((p) => p.querySelector('h3').innerText.trim() === title);
            return part ? [...part.querySelectorAll('tbody tr')]
                .map((r) => [...r.cells].map((c) => c.innerText.trim())) : [];
        }""",
        title,
    )


def test_a_changed_answer_and_each_verdict_say_their_time_and_guideline(
    traced: Traced, browser: Any
) -> None:
    """ann answered under v1 and changed her answer under v2: the Items page says when she
    answered, then "changed at … (guideline v2)", never v2 beside the first time; each verdict
    says the guideline it was given under; the history says what happened in words."""
    viewport = {"width": 1280, "height": 1000}
    context = signed_in(browser, traced.url, username=REVIEWER, viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(traced.url + f"/p/{SLUG}/items?item={traced.changed_id}")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id",
        arg=str(traced.changed_id),
    )
    at = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    (first,) = page.eval_on_selector_all(
        "#item-trace .trace-answer", "(els) => els.map((e) => e.innerText)"
    )
    assert "ann answered negative" in first
    assert re.search(rf"^{at} · changed at {at} \(guideline v2\) · ", first, re.M), first
    (verdict,) = _table(page, "Answers")
    assert (verdict[1], verdict[-1]) == ("accept", "v2")
    history = _table(page, "History")
    said = [row[1] for row in history]
    # Given under v1, changed under v2: the history keeps both versions.
    assert said == [
        "labeled it neutral (guideline v1)",
        "changed their label to negative (guideline v2)",
        "accepted an answer",
    ]

    # Verdicts given after v2 was published say v2; the adjudication's words are the page's.
    _open_trace(page, traced.url, traced.item_id)
    assert [row[-1] for row in _table(page, "Answers")] == ["v2", "v2"]
    _open_trace(page, traced.url, traced.decided_id)
    said = [row[1] for row in _table(page, "History")]
    assert "decided negative" in said and "escalated it to the expert tier" in said, said
    assert not any("item.adjudicate" in what for what in said)
    assert not errors
    context.close()
