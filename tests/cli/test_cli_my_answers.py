"""`labelloop items SLUG --as USER`: what a member sees of the items, in the terminal; to an
annotator, their own answers only, as the Items page shows them My answers."""

from __future__ import annotations

import io
import json
import re
from typing import Any

from labelloop.store.db import Database
from labelloop.workflow import guidelines, review, tasks
from tests.cli.conftest import trained_project
from tests.conftest import Lab, make_rows


def _answer(lab: Lab, who: Any, label: str) -> dict[str, Any]:
    task = tasks.next_task(lab.db, who)
    assert task is not None
    return tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": label}, active_ms=1500)


def _reviewed_in_full(cli: Any) -> tuple[Lab, Any, Any, Any]:
    """A trained project 'p' whose every answer goes to review: its annotator ann and reviewer
    rita."""
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", review_policy="all")
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    return lab, ctx, lab.member("p", "ann", "annotator"), lab.member("p", "rita", "reviewer")


def test_an_annotators_items_are_their_own_answers_in_the_terminal(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", overlap=2, review_policy="all")
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    ann = lab.member("p", "ann", "annotator")
    bob = lab.member("p", "bob", "annotator")
    rita = lab.member("p", "rita", "reviewer")
    ours = _answer(lab, ann, "positive")
    theirs = _answer(lab, bob, "negative")
    assert theirs["item_id"] == ours["item_id"]
    review.review_annotation(
        lab.db, rita, ours["annotation_id"], verdict="reject", comment="read it to the end"
    )

    listed = " ".join(cli("items", "p", "--as", "ann").stdout.split())
    assert "item answer verdict answered content" in listed
    assert " positive sent back for rework " in listed and listed.endswith("1 answer; showing 1-1")
    assert "bob" not in listed and "negative" not in listed
    page = json.loads(cli("items", "p", "--as", "ann", "--json").stdout)
    assert page["mine"] is True and [r["annotation_id"] for r in page["items"]] == [
        ours["annotation_id"]
    ]
    trace = cli("items", "p", "--as", "ann", "--show", f"#{ours['item_id']}").stdout
    said = " ".join(trace.split())
    assert 'your answer: {"sentiment": "positive"} (sent back for rework)' in said
    assert re.search(
        r"review by rita: reject, \d{4}-\d\d-\d\d \d\d:\d\d UTC, guideline v1: read it to the end",
        said,
    )
    assert "it cannot change: A reviewer sent this answer back" in said
    assert "bob" not in said and "negative" not in said
    # Without --as the local operator sees every answer, and a reviewer as much.
    for who in ((), ("--as", "rita")):
        everything = json.loads(cli("items", "p", *who, "--json").stdout)
        assert "mine" not in everything and everything["total"] == 10
    refused = cli("items", "p", "--as", "ann", "--annotator", "bob", code=1).output
    assert "you see your own answers only" in refused
    assert "no user named 'nobody'" in cli("items", "p", "--as", "nobody", code=1).output
    lab.project("q")
    assert "'ann' is no member of a project 'q'" in cli("items", "q", "--as", "ann", code=1).output


def test_a_skipped_rework_is_said_to_have_gone_back_to_the_queue_in_the_terminal(
    cli: Any,
) -> None:
    """An annotator who skipped redoing an answer sent back is told, under their answer, that
    the item went back to the queue, not that it will be served to them again."""
    lab, _, ann, rita = _reviewed_in_full(cli)
    ours = _answer(lab, ann, "positive")
    review.review_annotation(lab.db, rita, ours["annotation_id"], verdict="reject", comment="no")
    rework = tasks.next_task(lab.db, ann)
    assert rework is not None and rework["item"]["id"] == ours["item_id"]
    show = ("items", "p", "--as", "ann", "--show", f"#{ours['item_id']}")
    assert "serves the item again" in " ".join(cli(*show).stdout.split())
    tasks.skip(lab.db, ann, rework["assignment_id"])
    said = " ".join(cli(*show).stdout.split())
    assert (
        "it cannot change: A reviewer sent this answer back, and you skipped redoing it: the "
        "item went back to the queue for other annotators." in said
    )
    assert "serves the item again" not in said


def test_a_trace_in_the_terminal_puts_each_verdict_under_the_answer_it_judged(cli: Any) -> None:
    """Two answers to one item, one accepted and one fixed: each verdict follows its answer
    with when it was given and, for a fix, the value it set, for a reviewer and for the
    annotator whose answer was fixed."""
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", overlap=2, review_policy="all")
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    ann = lab.member("p", "ann", "annotator")
    bob = lab.member("p", "bob", "annotator")
    rita = lab.member("p", "rita", "reviewer")
    ours = _answer(lab, ann, "positive")
    theirs = _answer(lab, bob, "negative")
    assert theirs["item_id"] == ours["item_id"]
    guidelines.edit(lab.db, ctx, "Sarcasm is negative.", "sarcasm")
    review.review_annotation(lab.db, rita, ours["annotation_id"], verdict="accept")
    review.review_annotation(
        lab.db,
        rita,
        theirs["annotation_id"],
        verdict="fix",
        value={"sentiment": "positive"},
        comment="praise",
    )

    lines = cli("items", "p", "--show", f"#{ours['item_id']}").stdout.splitlines()
    at = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    said = [line.strip() for line in lines if line.startswith(("answer by", "  review by"))]
    assert said[0].startswith('answer by ann: {"sentiment": "positive"} (accepted)')
    assert "guideline v1 (v2 now)" in said[0]
    # The verdicts were given under v2, published after the answers (reviews record none).
    assert re.fullmatch(rf"review by rita: accept, {at}, guideline v2", said[1])
    assert said[2].startswith('answer by bob: {"sentiment": "negative"} (fixed)')
    assert re.fullmatch(
        rf'review by rita: fix to {{"sentiment": "positive"}}, {at}, guideline v2: praise',
        said[3],
    )
    own = " ".join(cli("items", "p", "--as", "bob", "--show", f"#{ours['item_id']}").stdout.split())
    assert re.search(
        rf'review by rita: fix to {{"sentiment": "positive"}}, {at}, guideline v2: praise', own
    )
    trace = json.loads(cli("items", "p", "--show", f"#{ours['item_id']}", "--json").stdout)
    assert [r["guideline_version"] for r in trace["reviews"]] == [2, 2]


def test_a_changed_answer_says_when_it_changed_and_under_which_guideline(cli: Any) -> None:
    """ann answers under v1; v2 is published and she changes her answer under it: the trace
    says when she answered and when she changed it, with v2 beside the change, never v2
    beside the first answer's time; a verdict given before v2 says v1."""
    lab, ctx, ann = trained_project(cli)
    given = _answer(lab, ann, "positive")
    guidelines.edit(lab.db, ctx, "Sarcasm is negative.", "sarcasm")
    tasks.edit(lab.db, ann, given["annotation_id"], {"sentiment": "negative"})

    at = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    for who in ((), ("--as", "ann")):
        shown = cli("items", "p", *who, "--show", f"#{given['item_id']}").stdout
        line = " ".join(shown.split())
        assert re.search(
            rf'{{"sentiment": "negative"}} \([^)]+\), {at}, changed at {at} \(guideline v2\), ',
            line,
        ), line
        trace = json.loads(
            cli("items", "p", *who, "--show", f"#{given['item_id']}", "--json").stdout
        )
        (answer,) = trace["annotations"] if not who else trace["answers"]
        assert answer["guideline_version"] == 2
        assert answer["created_at"] < answer["changed_at"]
    # An answer never changed says no change.
    other = _answer(lab, ann, "neutral")
    line = " ".join(cli("items", "p", "--show", f"#{other['item_id']}").stdout.split())
    assert "changed at" not in line and "guideline v2," in line
    trace = json.loads(cli("items", "p", "--show", f"#{other['item_id']}", "--json").stdout)
    assert trace["annotations"][0]["changed_at"] is None


def test_the_items_list_says_states_in_words(cli: Any) -> None:
    """An answer waiting for review is "in review" in the terminal's list, as on the page."""
    lab, _, ann = trained_project(cli, review_policy="all")
    _answer(lab, ann, "positive")
    listed = " ".join(cli("items", "p", "--status", "in_review").stdout.split())
    assert "ann (in review)" in listed and "in_review" not in listed


def test_a_trace_says_why_the_expert_tier_decided_the_label(cli: Any) -> None:
    """rita escalates ann's answer and the manager decides otherwise with a note: the trace's
    label line carries the note, in the terminal and as the API's label ``note``."""
    lab, ctx, ann, rita = _reviewed_in_full(cli)
    given = _answer(lab, ann, "neutral")
    review.review_annotation(lab.db, rita, given["annotation_id"], verdict="escalate")
    note = "a complaint about the airline is negative"
    review.adjudicate(lab.db, ctx, given["item_id"], {"sentiment": "negative"}, comment=note)

    trace = json.loads(cli("items", "p", "--show", f"#{given['item_id']}", "--json").stdout)
    assert (trace["label"]["resolution"], trace["label"]["note"]) == ("adjudicated", note)
    (line,) = [
        line
        for line in cli("items", "p", "--show", f"#{given['item_id']}").stdout.splitlines()
        if line.startswith("label:")
    ]
    assert re.fullmatch(
        r'label: \{"sentiment": "negative"\} \(adjudicated by admin, [-\d]+ [:\d]+ UTC\): ' + note,
        line,
    ), line


def test_a_trace_in_the_terminal_says_which_spans_were_suggested_and_kept(cli: Any) -> None:
    from labelloop.workflow import imports, projects

    cli("init")
    lab = Lab(Database(cli.db_url))
    schema = {
        "name": "People and places",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "entities", "type": "spans", "labels": ["city", "person"]}],
    }
    projects.create_project(lab.db, "ents", schema, actor=lab.admin)
    ctx = lab.ctx("ents", lab.admin)
    anna, paris = (
        {"start": 0, "end": 4, "label": "person"},
        {"start": 13, "end": 18, "label": "city"},
    )
    record = {"id": "t1", "text": "Anna flew to Paris", "pred": {"entities": [anna, paris]}}
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(json.dumps(record).encode()),
        fmt="jsonl",
        filename="t.jsonl",
        id_field="id",
        prediction_field="pred",
    )
    lab.train(ctx)
    ann = lab.member("ents", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    tasks.submit(lab.db, ann, task["assignment_id"], {"entities": [anna]}, active_ms=700)
    for who in ((), ("--as", "ann")):
        said = " ".join(cli("items", "ents", *who, "--show", "t1").stdout.split())
        assert "suggested by the import: 2 spans: person, city · changed: kept 1 of 2;" in said


def test_an_items_trace_in_the_terminal_lists_its_history_with_each_guideline_version(
    cli: Any,
) -> None:
    """An answer given under v1 and changed under v2: the answer says v2 (its value is the
    change's), and the history says what was given under which version, as the page does."""
    lab, ctx, ann = trained_project(cli)
    given = _answer(lab, ann, "positive")
    guidelines.edit(lab.db, ctx, "Sarcasm is negative.", "sarcasm is negative")
    tasks.edit(lab.db, ann, given["annotation_id"], {"sentiment": "negative"}, guideline_version=2)

    lines = cli("items", "p", "--show", f"#{given['item_id']}").stdout.splitlines()
    assert lines[-3] == "history:"
    assert re.fullmatch(
        r'  \d{4}-\d\d-\d\d \d\d:\d\d UTC  ann: labeled it \{"sentiment": "positive"\} '
        r"\(guideline v1\)",
        lines[-2],
    ), lines[-2]
    assert lines[-1].endswith(
        'ann: changed their label to {"sentiment": "negative"} (guideline v2)'
    )
