"""Entity spans in real Chromium: mark, relabel, delete and submit by keyboard alone and by mouse,
imported predictions pre-filled and accepted with one key (and the trace and export telling
which were taken), flag as ambiguous, a choice control
beside spans at phone width, and item text that stays text."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from labelloop.schema.tokens import tokenize
from tests.e2e.conftest import USERNAME, write_jsonl
from tests.e2e.sessions import signed_in, signed_in_page
from tests.e2e.stock import Served, Stock, serving_stocked
from tests.schema.token_texts import EMOJI_TEXTS, TEXTS

pytestmark = pytest.mark.browser

ENTITIES = {
    "name": "entities",
    "type": "spans",
    "labels": ["person", "place", "org"],
    "hotkeys": ["p", "l", "o"],
}
KEYBOARD_TEXT = "Ada Lovelace met Charles Babbage in London."
MOUSE_TEXT = "Grace Hopper visited Geneva and Paris last spring."
PREDICTED_TEXT = "<script>window.__xss=1</script> 🙂 Zoë met Ada Lovelace in Paris."
MIXED_TEXT = "Angela Merkel spoke in Berlin about the election."
NESTED_TEXT = "The New York Times reported on New York."
TWO_TEXT = "Ada Lovelace loved the engine in London."
MARKS_TEXT = "Jose\u0301 Marti\u0301 met Zoe\u0308 in दिल्ली and مُحَمَّد 👍🏽 ❤️."
"""Accents written as a letter and a combining mark, Hindi vowel signs, Arabic vowel marks."""
RTL_TEXT = "التقى محمد بن سلمان في الرياض يوم الإثنين."
"""Arabic: read and drawn from right to left."""
LONG_PARTS = 66
"""Paragraphs of the long text, six sentences each (about 25,000 characters in all)."""
RTL_TWO = "التقى محمد بالوزير في الرياض. ثم سافر إلى القاهرة يوم الإثنين."
"""Two Arabic sentences."""
STATUS_POLL_MS = 4000
"""How often the labeling page asks for the project's status (label.js)."""
CUES = {"name": "cues", "type": "spans", "labels": ["praise", "complaint"], "hotkeys": ["k", "j"]}


def _sentence(part: int, note: int) -> str:
    return f"In part {part} note {note} the harbour of Town{part}x{note} stayed open all week."


def _long_text() -> str:
    """Paragraphs of six sentences, a blank line between them."""
    paragraphs = (" ".join(_sentence(p, n) for n in range(6)) for p in range(LONG_PARTS))
    return "\n\n".join(paragraphs)


def _span(text: str, words: str, label: str) -> dict[str, Any]:
    """``words`` in ``text`` as a span in code-point offsets (Python's, as the server's)."""
    start = text.index(words)
    return {"start": start, "end": start + len(words), "label": label}


def _token_index(text: str, word: str) -> int:
    return [text[s:e] for s, e in tokenize(text)].index(word)


SPANS_SCHEMA = {
    "name": "People and places",
    "data": {"type": "text", "field": "text"},
    "controls": [ENTITIES],
    "guideline": "Mark every person, place and organisation.",
}
MIXED_SCHEMA = {
    "name": "News topics and entities",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {
            "name": "topic",
            "type": "choice",
            "labels": ["sport", "politics"],
            "hotkeys": ["1", "2"],
            "target": True,
        },
        {"name": "entities", "type": "spans", "labels": ["person", "place"], "hotkeys": ["q", "w"]},
    ],
}


@pytest.fixture(scope="module")
def spans_server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path
) -> Iterator[Served]:
    """One-item projects (spans; spans with predictions; choice + spans; ...) with their first
    queues, and a live server without a learner: no test waits for a round."""
    with serving_stocked(
        tmp_path_factory, sqlite_migrated, _stock_spans, name="spans", learner=False
    ) as served:
        yield served


def _stock_spans(stock: Stock, home: Path) -> None:
    stock.user(USERNAME, admin=True)
    more = (("long", _long_text()), ("rtl2", RTL_TWO), ("emoji", EMOJI_TEXTS[0]))
    for slug in (
        "kbd",
        "mouse",
        "pred",
        "fix",
        "touch",
        "trace",
        "conll",
        "marks",
        "rtl",
        "relabel",
        "dragkeys",
        "statline",
    ):
        stock.project(slug, SPANS_SCHEMA)
    for slug, _ in more:
        stock.project(slug, SPANS_SCHEMA)
    stock.project(
        "nested",
        {
            "name": "Nested entities",
            "data": {"type": "text", "field": "text"},
            "controls": [{**ENTITIES, "overlap": True}],
        },
    )
    stock.project(
        "two",
        {
            "name": "Entities and cues",
            "data": {"type": "text", "field": "text"},
            "controls": [ENTITIES, CUES],
        },
    )
    for slug in ("mixed", "grow"):
        stock.project(slug, MIXED_SCHEMA)
    stock.project(
        "undo",
        {
            "name": "Entities with a note",
            "data": {"type": "text", "field": "text"},
            "controls": [ENTITIES, {"name": "note", "type": "text", "max_chars": 200}],
        },
    )
    texts = (("touch", MOUSE_TEXT), ("nested", NESTED_TEXT), ("two", TWO_TEXT))
    for slug, text in (*texts, ("marks", MARKS_TEXT), ("rtl", RTL_TEXT), *more):
        rows = [{"id": f"{slug}1", "text": text}]
        stock.add(slug, write_jsonl(home / f"{slug}.jsonl", rows), id_field="id")
    grow = [{"id": f"g{i}", "text": text} for i, text in enumerate((MIXED_TEXT, MOUSE_TEXT))]
    stock.add("grow", write_jsonl(home / "g.jsonl", grow), id_field="id")
    for slug, row in (
        ("undo", {"id": "u1", "text": KEYBOARD_TEXT}),
        ("relabel", {"id": "r1", "text": KEYBOARD_TEXT}),
        ("kbd", {"id": "k1", "text": KEYBOARD_TEXT}),
        ("mouse", {"id": "m1", "text": MOUSE_TEXT}),
        ("dragkeys", {"id": "d1", "text": MOUSE_TEXT}),
        ("statline", {"id": "s1", "text": MOUSE_TEXT}),
        ("mixed", {"id": "x1", "text": MIXED_TEXT}),
    ):
        stock.add(slug, write_jsonl(home / f"{slug}.jsonl", [row]), id_field="id")
    predicted = [
        {**_span(PREDICTED_TEXT, "Ada Lovelace", "person"), "score": 0.83},
        {**_span(PREDICTED_TEXT, "Paris", "place"), "score": 0.61},
    ]
    pred_rows = [{"id": "p1", "text": PREDICTED_TEXT, "pred": {"entities": predicted}}]
    for slug in ("pred", "fix", "trace"):
        jsonl = write_jsonl(home / f"{slug}.jsonl", pred_rows)
        stock.add(slug, jsonl, id_field="id", prediction_field="pred")


def _open(
    browser: Any,
    server: Served,
    slug: str,
    *,
    width: int = 1200,
    touch: bool = False,
    clock: bool = False,
) -> Any:
    """A signed-in page on the labeling page of ``slug`` with its item on screen; with
    ``clock``, on Playwright's clock (its time flows, and ``page.clock.run_for`` moves it on)."""
    viewport = {"width": width, "height": 900}
    page = signed_in(browser, server.url, viewport=viewport, has_touch=touch).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    if clock:
        page.clock.install()
    page.goto(f"{server.url}/p/{slug}/label")
    page.wait_for_function(
        "() => document.getElementById('label-app').dataset.state === 'task'", timeout=30000
    )
    page.wait_for_selector(".spans-text .tok")
    return page


def _tags(page: Any) -> list[tuple[int, int, str, bool]]:
    """The spans drawn in the text: (start, end, label, suggested) in code points."""
    return [
        tuple(t)
        for t in page.eval_on_selector_all(
            ".spans-text .span-tag",
            """ts => ts.map(t => [Number(t.dataset.start), Number(t.dataset.end),
                                  t.dataset.label, t.classList.contains('is-suggested')])""",
        )
    ]


def _selected(page: Any) -> list[int]:
    """Where the selected spans start (in code points): one at most, none when none is."""
    return page.eval_on_selector_all(
        ".spans-text .span-tag.is-selected", "ts => ts.map(t => Number(t.dataset.start))"
    )


def _status(page: Any) -> str:
    return page.inner_text(".spans-status")


def _stored(page: Any, server: Served, slug: str) -> dict[str, Any]:
    """The signed-in user's latest annotation in ``slug``, once the page's submit is stored."""
    page.wait_for_function(
        "() => ['empty', 'task'].includes(document.getElementById('label-app').dataset.state)"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = page.request.get(f"{server.url}/api/projects/{slug}/annotations/previous").json()
        if body["annotation"] is not None:
            return body["annotation"]
        time.sleep(0.2)
    raise AssertionError("the submitted annotation was not stored")


def _drag(page: Any, first: Any, last: Any, *, start: float = 0.35, end: float = 0.65) -> None:
    """Press the mouse inside ``first`` and release it inside ``last`` (partly over words)."""
    first.scroll_into_view_if_needed()
    a = first.bounding_box()
    b = last.bounding_box()
    page.mouse.move(a["x"] + a["width"] * start, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * end, b["y"] + b["height"] / 2, steps=8)
    page.mouse.up()


def _page_tokens(page: Any, texts: Sequence[str]) -> list[list[list[int]]]:
    """The page's tokens of each text, as [start, end] code-point offsets (as the server's)."""
    return page.evaluate(
        """texts => texts.map(t => { const L = window.labelloop.spans, m = L.offsetMaps(t);
            return L.tokenize(t).map(k => [m.toCp[k.s], m.toCp[k.e]]); })""",
        list(texts),
    )


def _tok(page: Any, word: str) -> Any:
    return page.locator(".spans-text .tok").filter(has_text=re.compile(f"^{re.escape(word)}$"))


def test_spans_by_keyboard_alone_with_a_flag(
    spans_server: Served, browser: Any, screenshots: Path
) -> None:
    page = _open(browser, spans_server, "kbd")
    text = KEYBOARD_TEXT
    assert page.inner_text("#item-text").startswith("Ada Lovelace")

    # Create: → puts the cursor on the first word, Shift+→ extends, a label key marks.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("o")
    assert _tags(page) == [(0, 12, "org", False)]
    # Relabel: the new span is selected, so another label key changes it.
    page.keyboard.press("p")
    assert _tags(page) == [(0, 12, "person", False)]

    # Two words further on (met, Charles), Shift+→ to Babbage, mark as place, relabel person.
    for _ in range(_token_index(text, "Charles") - _token_index(text, "Lovelace")):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("l")
    page.keyboard.press("p")
    charles = _span(text, "Charles Babbage", "person")
    assert _tags(page)[1] == (charles["start"], charles["end"], "person", False)

    # A wrong span ("in"), then Delete removes it.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("o")
    wrong = _span(text, "in", "org")
    assert (wrong["start"], wrong["end"], "org", False) in _tags(page)
    page.keyboard.press("Delete")
    assert len(_tags(page)) == 2

    # The cursor stays where the deleted span was: → goes on to London, marked as a place.
    # Then an overlapping span is refused (this control forbids overlap).
    page.keyboard.press("ArrowRight")
    page.keyboard.press("l")
    assert len(_tags(page)) == 3
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowRight")  # with nothing selected: the first word again
    page.keyboard.press("l")
    assert "overlap" in _status(page)
    assert [t[2] for t in _tags(page)] == ["person", "person", "place"]

    # [ and ] step through the spans.
    page.keyboard.press("Escape")
    page.keyboard.press("]")
    assert page.get_attribute(".span-tag.is-selected", "data-start") == "0"
    page.keyboard.press("Control+Alt+]")  # typed with AltGr, as on a German keyboard
    assert page.get_attribute(".span-tag.is-selected", "data-start") == str(charles["start"])
    page.keyboard.press("Alt+[")  # typed with a Mac's Option
    assert page.get_attribute(".span-tag.is-selected", "data-start") == "0"
    page.keyboard.press("Escape")
    assert page.locator(".span-tag.is-selected").count() == 0

    # ! opens the note box; Enter in it saves the flag; the item stays on screen.
    page.keyboard.press("!")
    page.wait_for_selector("#flag-note", state="visible")
    page.keyboard.type("Is Babbage's first name part of the entity?")
    page.keyboard.press("Enter")
    page.wait_for_selector("#flag-chip", state="visible")
    assert page.is_hidden("#flag-box")
    flags = page.request.get(f"{spans_server.url}/api/projects/kbd/flags?kind=ambiguous").json()[
        "flags"
    ]
    assert [(f["external_id"], f["note"]) for f in flags] == [
        ("k1", "Is Babbage's first name part of the entity?")
    ]
    assert page.get_attribute("#label-app", "data-state") == "task"
    assert "Flagged as ambiguous" in page.inner_text("#messages")
    page.screenshot(path=str(screenshots / "spans.png"))

    # Whether the message about the flagged item is still up when the next item appears.
    page.evaluate(
        """() => {
            window.__staleFlag = null;
            new MutationObserver(() => {
                if (window.__staleFlag === null)
                    window.__staleFlag = document.getElementById('messages')
                        .textContent.includes('Flagged');
            }).observe(document.getElementById('item-id'), {childList: true, subtree: true});
        }"""
    )
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "kbd")
    page.wait_for_function("() => window.__staleFlag !== null")
    assert page.evaluate("window.__staleFlag") is False
    assert stored["value"] == {
        "entities": [
            _span(text, "Ada Lovelace", "person"),
            charles,
            _span(text, "London", "place"),
        ]
    }

    # Backspace brings the item back with its spans; remove Charles Babbage and save.
    page.keyboard.press("Backspace")
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'edit'")
    assert [t[2] for t in _tags(page)] == ["person", "person", "place"]
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("Delete")
    # Flagging the item again from its annotation changes the note and links the annotation.
    page.keyboard.press("!")
    page.fill("#flag-note", "Second thoughts about Babbage")
    page.keyboard.press("Enter")
    page.wait_for_selector("#flag-chip", state="visible")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('label-app').dataset.state !== 'edit'")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        again = page.request.get(f"{spans_server.url}/api/projects/kbd/annotations/previous")
        if len(again.json()["annotation"]["value"]["entities"]) == 2:
            break
        time.sleep(0.2)
    assert again.json()["annotation"]["value"] == {
        "entities": [_span(text, "Ada Lovelace", "person"), _span(text, "London", "place")]
    }
    flags = page.request.get(f"{spans_server.url}/api/projects/kbd/flags?kind=ambiguous").json()[
        "flags"
    ]
    assert [(f["note"], f["annotation_id"]) for f in flags] == [
        ("Second thoughts about Babbage", stored["annotation_id"])
    ]
    # The quality page counts it with the other flags.
    page.goto(f"{spans_server.url}/p/kbd/quality")
    assert "ambiguous 1" in page.inner_text(".flag-summary [data-kind=ambiguous]")
    assert page.errors == []
    page.close()


def test_spans_by_mouse(spans_server: Served, browser: Any) -> None:
    page = _open(browser, spans_server, "mouse")
    text = MOUSE_TEXT

    # The active label is the one last clicked; a drag over part of a word takes the whole word.
    page.click(".span-label-btn[data-label=place]")
    _drag(page, _tok(page, "Geneva"), _tok(page, "Geneva"), start=0.3, end=0.6)
    _drag(page, _tok(page, "Paris"), _tok(page, "Paris"))
    page.click(".span-label-btn[data-label=person]")
    _drag(page, _tok(page, "Grace"), _tok(page, "Hopper"), start=0.5, end=0.4)
    geneva = _span(text, "Geneva", "place")
    assert _tags(page) == [
        (0, len("Grace Hopper"), "person", False),
        (geneva["start"], geneva["end"], "place", False),
        (text.index("Paris"), text.index("Paris") + 5, "place", False),
    ]

    # Click a span to select it, then a label button relabels it; × removes another.
    _tok(page, "Paris").click()
    page.click(".span-label-btn[data-label=org]")
    page.click(f".span-tag[data-start='{geneva['start']}'] .span-x")
    assert [t[2] for t in _tags(page)] == ["person", "org"]

    page.click("#submit-btn")
    stored = _stored(page, spans_server, "mouse")
    assert stored["value"] == {
        "entities": [_span(text, "Grace Hopper", "person"), _span(text, "Paris", "org")]
    }
    assert page.errors == []
    page.close()


def test_a_span_drawn_with_the_mouse_is_selected_for_the_keys(
    spans_server: Served, browser: Any
) -> None:
    """A span marked by a drag was left unselected: a label key next only changed the active
    label and Delete did nothing, where a span marked by keyboard takes both. Now the dragged
    span is the selected one, as a keyboard-made span is; a label button still only picks the
    label for the next span."""
    page = _open(browser, spans_server, "dragkeys")
    text = MOUSE_TEXT
    geneva = _span(text, "Geneva", "person")
    _drag(page, _tok(page, "Geneva"), _tok(page, "Geneva"))
    assert _selected(page) == [geneva["start"]]
    page.keyboard.press("l")  # relabels the span just drawn
    assert _tags(page) == [(geneva["start"], geneva["end"], "place", False)]

    paris = _span(text, "Paris", "place")
    _drag(page, _tok(page, "Paris"), _tok(page, "Paris"))
    assert _selected(page) == [paris["start"]]
    page.keyboard.press("Delete")  # removes the span just drawn, not another
    assert _tags(page) == [(geneva["start"], geneva["end"], "place", False)]

    _drag(page, _tok(page, "Grace"), _tok(page, "Hopper"))
    page.click(".span-label-btn[data-label=org]")  # the next label: the new span keeps its own
    assert _selected(page) == []
    assert _tags(page)[0] == (0, len("Grace Hopper"), "place", False)

    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "dragkeys")
    assert stored["value"] == {
        "entities": [_span(text, "Grace Hopper", "place"), {**geneva, "label": "place"}]
    }
    assert page.errors == []
    page.close()


def test_the_status_line_names_the_span_f1_a_spans_project_is_measured_by(
    spans_server: Served, browser: Any
) -> None:
    """Until a round measured one, the chip of a spans project read "eval acc –", a figure
    its rounds never measure; it names span F1, as the project page does, from the start."""
    page = _open(browser, spans_server, "statline")
    page.wait_for_function("() => document.getElementById('model-version').textContent !== '–'")
    line = " ".join(page.inner_text("#status-line").split())  # the chips' parts, one space apart
    assert "eval span F1 –" in line and "eval acc" not in line
    assert page.errors == []
    page.close()


def test_predicted_spans_are_prefilled_and_item_text_stays_text(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "pred")
    text = PREDICTED_TEXT

    # Markup in the item is shown as text, never run.
    assert page.inner_text("#item-text").startswith("<script>window.__xss=1</script>")
    assert page.locator("#item-text script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"

    # The imported prediction is pre-filled as dashed suggestions, in code points (the emoji
    # before them is one character on the server, two UTF-16 units in the browser).
    ada = _span(text, "Ada Lovelace", "person")
    paris = _span(text, "Paris", "place")
    assert _tags(page) == [
        (ada["start"], ada["end"], "person", True),
        (paris["start"], paris["end"], "place", True),
    ]
    assert page.locator(".spans-text .in-span.is-suggested").count() >= 3
    assert "Enter accepts" in _status(page)

    # One keystroke accepts them.
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "pred")
    assert stored["value"] == {"entities": [ada, paris]}
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.errors == []
    page.close()


def test_an_accepted_and_a_changed_suggestion_show_in_the_trace_and_the_export(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "trace")
    text = PREDICTED_TEXT
    ada = _span(text, "Ada Lovelace", "person")
    paris = _span(text, "Paris", "place")
    assert [t[3] for t in _tags(page)] == [True, True]

    # Paris is relabeled by keyboard (] twice selects it); Enter accepts Ada as suggested.
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("p")
    assert _tags(page) == [
        (ada["start"], ada["end"], "person", True),
        (paris["start"], paris["end"], "person", False),
    ]
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "trace")
    assert stored["value"] == {"entities": [ada, {**paris, "label": "person"}]}

    # The item's trace says who suggested what and what the answer made of it.
    item_id = str(stored["item"]["id"])
    page.goto(f"{spans_server.url}/p/trace/items?item={item_id}")
    page.wait_for_function(
        "(id) => document.getElementById('item-trace').dataset.itemId === id",
        arg=item_id,
        timeout=30000,
    )
    trace = " ".join(page.inner_text("#item-trace").split())
    assert (
        "suggested by the import: 2 spans: person, place · changed: kept 1 of 2, added 1"
    ) in trace
    # ... and which words each span covers, counted past the emoji as the server counts them.
    words = "2 spans: person “Ada Lovelace”, person “Paris”"
    assert f"{USERNAME} answered {words}" in trace
    assert f"labeled it {words}" in trace

    # The export carries the suggested spans, their scores and where they came from.
    response = page.request.get(f"{spans_server.url}/api/projects/trace/export?format=jsonl")
    assert response.ok
    (row,) = [json.loads(line) for line in response.text().splitlines() if line]
    assert row["suggestion_source"] == {"entities": "import"}
    assert row["suggestion_value"] == {
        "entities": [
            {**ada, "score": 0.83, "text": "Ada Lovelace"},
            {**paris, "score": 0.61, "text": "Paris"},
        ]
    }
    assert row["value"]["entities"][1]["label"] == "person"
    assert page.errors == []
    page.close()


def test_a_conll_file_uploads_from_the_project_page_with_the_format_chosen(
    spans_server: Served, browser: Any, tmp_path: Path
) -> None:
    """The import form's file picker and Format list knew no CoNLL, though the project page
    offers "Download CoNLL" and the CLI imports it: a .conll file, or one named .txt, could not
    be chosen or its format named. Its spans land on the right words, past an emoji."""
    dev = tmp_path / "wnut16_dev.txt"
    dev.write_text(
        "@paulwalk\tO\nIt\tO\n's\tO\nthe\tO\nview\tO\nfrom\tO\nwhere\tO\n"
        "I\tO\n'm\tO\nliving\tO\n🙂\tO\nEmpire\tB-place\nState\tI-place\n"
        "Building\tI-place\n=\tO\nESB\tB-place\n\n"
        "Ada\tB-person\nLovelace\tI-person\nwrote\tO\n\n",
        encoding="utf-8",
    )
    page = signed_in_page(browser, spans_server.url, "/p/conll")
    accepted = (page.get_attribute("#import-file", "accept") or "").split(",")
    assert ".conll" in accepted and ".txt" in accepted
    page.set_input_files("#import-file", str(dev))
    page.select_option("#import-format", "conll")
    page.click("#import-submit")
    page.wait_for_function(
        "() => /Imported|Nothing|rror/.test(document.getElementById('import-result').textContent)"
    )
    assert page.text_content("#import-result").startswith("Imported 2 items")
    response = page.request.get(f"{spans_server.url}/api/projects/conll/export?format=jsonl")
    assert response.ok
    rows = [json.loads(line) for line in response.text().splitlines() if line]
    assert sorted((s["text"], s["label"]) for r in rows for s in r["label"]) == [
        ("Ada Lovelace", "person"),
        ("ESB", "place"),
        ("Empire State Building", "place"),
    ]
    for r in rows:
        assert all(r["text"][s["start"] : s["end"]] == s["text"] for s in r["label"])
    page.close()


def test_choice_and_spans_together_at_phone_width(
    spans_server: Served, browser: Any, screenshots: Path
) -> None:
    page = _open(browser, spans_server, "mixed", width=390)
    text = MIXED_TEXT
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # The choice control keeps its digits; the spans control its own letters.
    page.keyboard.press("2")
    assert page.eval_on_selector_all(
        ".label-btn[aria-pressed=true]", "bs => bs.map(b => b.dataset.label)"
    ) == ["politics"]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("q")
    page.click(".span-label-btn[data-label=place]")
    _drag(page, _tok(page, "Berlin"), _tok(page, "Berlin"))
    assert [t[2] for t in _tags(page)] == ["person", "place"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # One sheet lists the keys of both controls and the page's own.
    page.keyboard.press("?")
    sheet = page.text_content("#shortcuts") or ""
    for expected in ("topic", "politics", "entities (spans)", "Shift+→", "Flag", "Skip"):
        assert expected in sheet
    page.keyboard.press("Escape")
    page.screenshot(path=str(screenshots / "spans-phone.png"), full_page=True)

    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "mixed")
    assert stored["value"] == {
        "topic": "politics",
        "entities": [
            _span(text, "Angela Merkel", "person"),
            _span(text, "Berlin", "place"),
        ],
    }
    assert page.errors == []
    page.close()


def test_a_spans_label_added_mid_item_comes_with_the_next_item_and_the_marks_stay(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "grow", width=390, clock=True)
    page.keyboard.press("2")  # topic: politics
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("q")  # Angela Merkel: person
    first = page.get_attribute("#label-app", "data-assignment-id")

    # A manager adds "org" to the entities; the page reads the new labels at its next status
    # poll, and leaves the item being marked as it is.
    with page.expect_response(lambda r: r.url.endswith("/api/projects/grow"), timeout=15000):
        added = page.evaluate(
            """() => fetch('/api/projects/grow/labels', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token':
                          document.querySelector('meta[name=csrf-token]').content},
                body: JSON.stringify({label: 'org', control: 'entities'})}).then(r => r.json())"""
        )
        page.clock.run_for(STATUS_POLL_MS)  # the next poll now, not up to 4 s later
    assert added["hotkey"] == "3"  # the first number key no control uses
    page.wait_for_timeout(300)  # the detail read is drawn (or kept for the next item) at once
    assert page.get_attribute("#label-app", "data-assignment-id") == first
    assert [t[2] for t in _tags(page)] == ["person"]
    assert page.locator(".span-label-btn[data-label=org]").count() == 0
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "grow")
    assert stored["value"] == {
        "topic": "politics",
        "entities": [_span(MIXED_TEXT, "Angela Merkel", "person")],
    }

    # The next item has it in the label bar, with its key.
    page.wait_for_function(
        "(first) => { const app = document.getElementById('label-app');"
        " return app.dataset.state === 'task' && app.dataset.assignmentId !== first; }",
        arg=first,
    )
    assert page.inner_text(".span-label-btn[data-label=org] kbd") == "3"
    assert page.inner_text("#schema-news") == "New label: org (key 3, entities)"
    page.keyboard.press("1")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("3")  # Grace Hopper, as an org
    assert [t[2] for t in _tags(page)] == ["org"]
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('label-app').dataset.state === 'empty'", timeout=15000
    )
    stored = _stored(page, spans_server, "grow")
    assert stored["value"] == {
        "topic": "sport",
        "entities": [_span(MOUSE_TEXT, "Grace Hopper", "org")],
    }

    # A label added while nothing is left to label is drawn, but nothing can be pressed.
    page.evaluate(
        """() => fetch('/api/projects/grow/labels', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token':
                      document.querySelector('meta[name=csrf-token]').content},
            body: JSON.stringify({label: 'event', control: 'entities'})})"""
    )
    page.clock.run_for(STATUS_POLL_MS)
    page.wait_for_selector(".span-label-btn[data-label=event]", state="attached", timeout=15000)
    pressable = page.eval_on_selector_all(
        "#controls button.label-btn, #controls .span-label-btn",
        "bs => bs.filter(b => !b.disabled).map(b => b.textContent)",
    )
    assert pressable == []
    assert page.errors == []
    page.close()


def test_words_marked_over_a_suggestion_replace_it(spans_server: Served, browser: Any) -> None:
    page = _open(browser, spans_server, "fix")
    text = PREDICTED_TEXT
    assert [t[3] for t in _tags(page)] == [True, True]

    # "Ada" alone is an organisation here: marking it replaces the suggested "Ada Lovelace".
    for _ in range(_token_index(text, "Ada") + 1):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("o")
    ada = _span(text, "Ada", "org")
    paris = _span(text, "Paris", "place")
    assert _tags(page) == [
        (ada["start"], ada["end"], "org", False),
        (paris["start"], paris["end"], "place", True),
    ]
    assert "Replaced 1 suggested span" in _status(page)

    # Relabeling the other suggestion (] selects it) makes it the annotator's own.
    page.keyboard.press("Escape")
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("p")
    assert _tags(page)[1] == (paris["start"], paris["end"], "person", False)

    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "fix")
    assert stored["value"] == {"entities": [ada, {**paris, "label": "person"}]}
    assert page.errors == []
    page.close()


def test_a_label_key_on_the_words_of_a_span_relabels_it(spans_server: Served, browser: Any) -> None:
    """With the word cursor back on a marked word, as a reviewer's fix or a second thought
    comes to it, a label key was refused ("Spans may not overlap ...; remove or change 'place'
    first"); on exactly a span's words it now relabels that span, as when it is selected."""
    page = _open(browser, spans_server, "relabel")
    text = KEYBOARD_TEXT
    for _ in range(_token_index(text, "London") + 1):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("o")  # London marked as an organisation by mistake
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Home")
    for _ in range(_token_index(text, "London")):
        page.keyboard.press("ArrowRight")  # the word cursor back on London
    page.keyboard.press("l")
    london = _span(text, "London", "place")
    assert _tags(page) == [(london["start"], london["end"], "place", False)]
    assert "overlap" not in _status(page)
    page.keyboard.press("Control+z")  # one change, taken back in one step
    assert _tags(page) == [(london["start"], london["end"], "org", False)]
    page.keyboard.press("Control+y")
    # words that only part of a span covers are still refused, naming the span
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Home")
    for _ in range(_token_index(text, "in")):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # "in London"
    page.keyboard.press("p")
    assert "remove or change “place” first" in _status(page)
    page.keyboard.press("Enter")
    assert _stored(page, spans_server, "relabel")["value"] == {"entities": [london]}
    assert page.errors == []
    page.close()


def test_spans_by_touch_taps_at_phone_width(spans_server: Served, browser: Any) -> None:
    page = _open(browser, spans_server, "touch", width=390, touch=True)
    text = MOUSE_TEXT
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # Tap the first and the last word, then a label.
    _tok(page, "Grace").tap()
    _tok(page, "Hopper").tap()
    page.tap(".span-label-btn[data-label=person]")
    _tok(page, "Geneva").tap()
    page.tap(".span-label-btn[data-label=org]")
    geneva = _span(text, "Geneva", "org")
    assert _tags(page) == [
        (0, len("Grace Hopper"), "person", False),
        (geneva["start"], geneva["end"], "org", False),
    ]
    # Tap a span, then a label, to relabel it; tap its × to remove it.
    _tok(page, "Geneva").tap()
    page.tap(".span-label-btn[data-label=place]")
    assert _tags(page)[1][2] == "place"
    page.tap(".span-tag[data-start='0'] .span-x")
    assert [t[2] for t in _tags(page)] == ["place"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.tap("#submit-btn")
    stored = _stored(page, spans_server, "touch")
    assert stored["value"] == {"entities": [_span(text, "Geneva", "place")]}
    assert page.errors == []
    page.context.close()


def test_nested_spans_where_the_control_allows_overlap(spans_server: Served, browser: Any) -> None:
    page = _open(browser, spans_server, "nested")
    text = NESTED_TEXT

    for _ in range(2):  # The, New
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("o")
    page.keyboard.press("Escape")
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("l")
    times = _span(text, "New York Times", "org")
    city = _span(text, "New York", "place")
    assert _tags(page) == [
        (city["start"], city["end"], "place", False),
        (times["start"], times["end"], "org", False),
    ]
    assert page.locator(".spans-text .is-overlap").count() >= 2  # New, York carry both

    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "nested")
    assert stored["value"] == {"entities": [city, times]}
    assert page.errors == []
    page.close()


def test_two_spans_controls_each_mark_their_own_copy(spans_server: Served, browser: Any) -> None:
    page = _open(browser, spans_server, "two")
    text = TWO_TEXT
    assert page.locator(".spans-text").count() == 2

    # The first control takes the arrows at first.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("p")
    # A key of the second control hands the arrows to it.
    page.keyboard.press("Escape")
    page.keyboard.press("k")
    for _ in range(_token_index(text, "loved") + 1):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("k")
    entities = page.eval_on_selector_all(
        ".spans-text[data-control=entities] .span-tag", "ts => ts.map(t => t.dataset.label)"
    )
    cues = page.eval_on_selector_all(
        ".spans-text[data-control=cues] .span-tag", "ts => ts.map(t => t.dataset.label)"
    )
    assert (entities, cues) == (["person"], ["praise"])

    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "two")
    assert stored["value"] == {
        "entities": [_span(text, "Ada Lovelace", "person")],
        "cues": [_span(text, "loved", "praise")],
    }
    assert page.errors == []
    page.close()


def test_a_word_with_combining_marks_is_one_word_on_the_page_as_on_the_server(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "marks")
    text = MARKS_TEXT
    # The page cuts every text into the words the server's model, CoNLL and Prodigy use.
    tricky = [
        text,
        "e\u0301te\u0301, \u0301x a\ufeffb c\x85d e\x1cf https://x.io/\ufeffa",
        "#ha\u0301sh @ana\u0301 don\u2019t 1\ufe0f\u20e3 🇩🇪\r\nतमिऴ् ภาษาไทย",
    ]
    assert _page_tokens(page, tricky) == [[list(token) for token in tokenize(t)] for t in tricky]

    # → takes "José" with its accent, Shift+→ "Martí" with its; one more word is "met".
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("p")
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # met, Zoë, in, दिल्ली: each word one step
    page.keyboard.press("l")
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "marks")
    assert stored["value"] == {
        "entities": [
            _span(text, "Jose\u0301 Marti\u0301", "person"),
            _span(text, "दिल्ली", "place"),
        ]
    }
    assert page.errors == []
    page.close()


def test_a_right_to_left_text_reads_from_the_right_and_the_arrows_follow_it(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "rtl")
    text = RTL_TEXT
    assert page.evaluate("getComputedStyle(document.querySelector('.spans-text')).direction") == (
        "rtl"
    )
    # Its first word is the rightmost, and its full stop the leftmost thing on its line.
    first, stop = _tok(page, "التقى").bounding_box(), _tok(page, ".").bounding_box()
    assert stop["x"] < first["x"]
    # ← goes on through the text, as the eye does: the first word, then the next to its left.
    page.keyboard.press("ArrowLeft")
    assert page.inner_text(".spans-text .is-cursor") == "التقى"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Shift+ArrowLeft")
    page.keyboard.press("Shift+ArrowLeft")
    page.keyboard.press("Shift+ArrowRight")  # one word back: محمد بن
    page.keyboard.press("p")
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowRight")  # with nothing selected: the last word, the full stop
    assert page.inner_text(".spans-text .is-cursor") == "."
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "rtl")
    assert stored["value"] == {"entities": [_span(text, "محمد بن", "person")]}
    assert page.errors == []
    page.close()


def _cursor(page: Any) -> dict[str, Any]:
    """The word under the cursor, its offset, where it is drawn and whether it is in view (in
    the item's scrolling box and in the window)."""
    return page.evaluate(
        """() => {
            const c = document.querySelector('.spans-text .is-cursor');
            if (!c) return null;
            const r = c.getBoundingClientRect(), box = document.getElementById('item-text');
            const v = box.getBoundingClientRect();
            return { word: c.textContent, at: Number(c.dataset.s), top: r.top, left: r.left,
                     right: r.right, scrolled: box.scrollTop,
                     seen: r.top >= Math.max(0, v.top) - 1
                         && r.bottom <= Math.min(innerHeight, v.bottom) + 1 };
        }"""
    )


def _selected_text(page: Any) -> str:
    return "".join(
        page.eval_on_selector_all(".spans-text .is-selection", "ps => ps.map(p => p.textContent)")
    )


def _line(page: Any, at: int) -> list[int]:
    """The offsets of the words drawn on the same line as the word at ``at``, in text order."""
    return page.evaluate(
        """at => {
            const toks = [...document.querySelectorAll('.spans-text .tok')];
            const mid = el => {
                const r = el.getBoundingClientRect();
                return (r.top + r.bottom) / 2;
            };
            const y = mid(toks.find(t => Number(t.dataset.s) === at));
            return toks.filter(t => Math.abs(mid(t) - y) < 4).map(t => Number(t.dataset.s));
        }""",
        at,
    )


def test_a_long_text_is_crossed_by_sentence_paragraph_line_and_screen(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "long")
    text = _long_text()
    assert len(text) > 25_000
    start_of = text.index

    # The end and back: the cursor is scrolled into view each time.
    page.keyboard.press("Control+End")
    end = _cursor(page)
    assert (end["word"], end["at"], end["seen"]) == (".", len(text) - 1, True)
    assert end["scrolled"] > 0
    page.keyboard.press("Control+Home")
    start = _cursor(page)
    assert (start["at"], start["seen"]) == (0, True)
    assert start["scrolled"] < 20  # back at the top (but for the half line above the word)

    # The middle of the text in 35 keys, not thousands: 32 paragraphs on, 3 sentences on, and
    # Shift+Ctrl+→ takes that whole sentence for a label.
    for _ in range(32):
        page.keyboard.press("Control+ArrowDown")
    assert _cursor(page)["at"] == start_of(_sentence(32, 0))
    for _ in range(3):
        page.keyboard.press("Control+ArrowRight")
    here = _cursor(page)
    assert (here["at"], here["seen"]) == (start_of(_sentence(32, 3)), True)
    page.keyboard.press("Shift+Control+ArrowRight")
    assert _selected_text(page) == _sentence(32, 3)
    page.keyboard.press("l")

    # From the span just marked: on a sentence, a word, then back to this sentence's first
    # word, then to the one before; back a paragraph.
    page.keyboard.press("Control+ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Control+ArrowLeft")
    assert _cursor(page)["at"] == start_of(_sentence(32, 4))
    page.keyboard.press("Control+ArrowLeft")
    assert _cursor(page)["at"] == start_of(_sentence(32, 3))
    page.keyboard.press("Control+ArrowUp")
    assert _cursor(page)["at"] == start_of(_sentence(32, 0))
    page.keyboard.press("Alt+ArrowUp")  # a Mac's paragraph key
    assert _cursor(page)["at"] == start_of(_sentence(31, 0))
    # Shift+Ctrl+↓ selects to the paragraph's end.
    page.keyboard.press("Shift+Control+ArrowDown")
    assert _selected_text(page) == " ".join(_sentence(31, n) for n in range(6))

    # Home and End: the ends of the line on screen; ↓ one line down, in the same column.
    page.keyboard.press("Control+ArrowUp")  # a move without Shift lets the selection go
    assert (_cursor(page)["at"], _selected_text(page)) == (start_of(_sentence(31, 0)), "In")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    at = _cursor(page)["at"]
    line = _line(page, at)
    assert len(line) > 3 and line[0] < at < line[-1]
    page.keyboard.press("End")
    assert _cursor(page)["at"] == line[-1]
    page.keyboard.press("Home")
    assert _cursor(page)["at"] == line[0]
    page.keyboard.press("Shift+End")
    assert _selected_text(page) == text[line[0] : dict(tokenize(text))[line[-1]]]
    page.keyboard.press("Home")
    before = _cursor(page)
    page.keyboard.press("ArrowDown")
    below = _cursor(page)
    assert below["top"] > before["top"] + 10 and abs(below["left"] - before["left"]) < 60
    starts = [s for s, _ in tokenize(text)]
    assert below["at"] == starts[starts.index(line[-1]) + 1]  # the next line's first word
    page.keyboard.press("ArrowUp")
    assert _cursor(page)["at"] == before["at"]

    # Page Down: the text scrolls by a screen and the cursor with it, keeping its place.
    page.keyboard.press("PageDown")
    down = _cursor(page)
    assert down["scrolled"] > before["scrolled"] + 200
    assert down["at"] > before["at"] + 400 and down["seen"]
    assert abs(down["top"] - before["top"]) < 40
    page.keyboard.press("Shift+PageDown")
    assert len(_selected_text(page)) > 400
    page.keyboard.press("PageUp")  # a screen back up: where the Page Down put it
    assert _cursor(page)["at"] == down["at"] and _cursor(page)["seen"]

    # The shortcuts sheet lists the new keys.
    page.keyboard.press("?")
    sheet = page.inner_text("#shortcuts-body")
    for key in ("Ctrl+→", "Ctrl+↓", "Home", "Ctrl+End", "PageDown", "Shift+Ctrl+→"):
        assert key in sheet, key
    page.keyboard.press("Escape")

    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "long")
    assert stored["value"] == {"entities": [_span(text, _sentence(32, 3), "place")]}
    assert page.errors == []
    page.close()


def test_in_a_right_to_left_text_ctrl_left_goes_on_to_the_next_sentence(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "rtl2")
    text = RTL_TWO
    second = text.index("ثم")
    page.keyboard.press("Control+ArrowLeft")  # no cursor yet: the first sentence
    assert _cursor(page)["at"] == 0
    page.keyboard.press("Control+ArrowLeft")
    assert _cursor(page)["at"] == second
    page.keyboard.press("Control+ArrowRight")
    assert _cursor(page)["at"] == 0
    page.keyboard.press("Shift+Control+ArrowLeft")  # the first sentence, to its full stop
    assert _selected_text(page) == text[:second].rstrip()
    page.keyboard.press("p")
    page.keyboard.press("Control+End")
    assert _cursor(page)["word"] == "."
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "rtl2")
    assert stored["value"] == {"entities": [_span(text, text[:second].rstrip(), "person")]}
    assert page.errors == []
    page.close()


def test_an_emoji_is_one_word_on_the_page_as_on_the_server(
    spans_server: Served, browser: Any
) -> None:
    page = _open(browser, spans_server, "emoji")
    text = EMOJI_TEXTS[0]
    assert _page_tokens(page, TEXTS) == [[list(token) for token in tokenize(t)] for t in TEXTS]
    # No word ends inside what the browser draws as one character.
    inside = page.evaluate(
        """texts => texts.flatMap(t => {
            const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
            const edges = new Set(Array.from(seg.segment(t), g => g.index).concat([t.length]));
            return window.labelloop.spans.tokenize(t)
                .flatMap(k => [k.s, k.e]).filter(i => !edges.has(i)).map(i => [t, i]);
        })""",
        list(EMOJI_TEXTS),
    )
    assert inside == []

    # One → per emoji: Family, then 👩‍👩‍👧, marked whole; then at, the, pride, 🏳️‍🌈.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert _cursor(page)["word"] == "👩\u200d👩\u200d👧"
    page.keyboard.press("p")
    for _ in range(4):  # on from the span just marked
        page.keyboard.press("ArrowRight")
    assert _cursor(page)["word"] == "🏳\ufe0f\u200d🌈"
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowLeft")
    assert _cursor(page)["word"] == "👍🏽"
    for _ in range(4):
        page.keyboard.press("Shift+ArrowLeft")  # up, thumbs, the comma, 🇫🇷
    assert _selected_text(page) == "🇫🇷, thumbs up 👍🏽"
    page.keyboard.press("l")
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "emoji")
    assert stored["value"] == {
        "entities": [
            _span(text, "👩\u200d👩\u200d👧", "person"),
            _span(text, "🇫🇷, thumbs up 👍🏽", "place"),
        ]
    }
    assert page.errors == []
    page.close()


def test_ctrl_z_takes_back_span_changes_and_ctrl_y_puts_them_back(
    spans_server: Served, browser: Any
) -> None:
    """As for boxes: Ctrl+Z undoes a mark, relabel or removal, Ctrl+Shift+Z and Ctrl+Y redo it
    until the spans change again; in the note field Ctrl+Z stays the field's own."""
    page = _open(browser, spans_server, "undo")
    text = KEYBOARD_TEXT
    london = _span(text, "London", "place")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("o")  # marked
    page.keyboard.press("p")  # relabeled
    page.keyboard.press("Delete")  # removed
    assert _tags(page) == []

    page.keyboard.press("Control+z")
    assert _tags(page) == [(0, 12, "person", False)]
    assert _status(page).startswith("Undone.")
    page.keyboard.press("Control+z")
    assert _tags(page) == [(0, 12, "org", False)]
    page.keyboard.press("Control+z")
    assert _tags(page) == []
    page.keyboard.press("Control+z")  # nothing more to take back
    assert _tags(page) == []
    page.keyboard.press("Control+Shift+z")
    assert _tags(page) == [(0, 12, "org", False)]
    page.keyboard.press("Control+y")
    assert _tags(page) == [(0, 12, "person", False)]

    # A new change starts a new line of edits: what Ctrl+Z took back is gone for good.
    page.keyboard.press("Control+z")
    page.keyboard.press("Escape")
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")  # from the full stop to London
    page.keyboard.press("l")
    marked = [(0, 12, "org", False), (london["start"], london["end"], "place", False)]
    assert _tags(page) == marked
    page.keyboard.press("Control+y")
    assert _tags(page) == marked

    # In the note field Ctrl+Z is the browser's: it takes back the typing, not the span.
    page.focus(".text-field")
    page.keyboard.type("check")
    page.keyboard.press("Control+z")
    assert page.eval_on_selector(".text-field", "t => t.value") != "check"
    assert _tags(page) == marked
    page.keyboard.press("Escape")

    page.keyboard.press("?")
    sheet = page.inner_text("#shortcuts-body")
    assert "Undo the last change to the spans" in sheet
    assert "Redo what Ctrl+Z took back, until the spans change again" in sheet
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    stored = _stored(page, spans_server, "undo")
    assert stored["value"]["entities"] == [
        _span(text, "Ada Lovelace", "org"),
        london,
    ]
    assert page.errors == []
    page.close()
