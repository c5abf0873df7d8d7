"""My answers: an annotator lists the items they answered and reopens one, seeing their own
answer and what is theirs of its trace, never another annotator's answer, an item's label, or
which items are gold checks; a reviewer's verdict keeps an answer as it was reviewed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from labelloop.errors import Conflict, LabelloopError, NotFound, PermissionDenied
from labelloop.store.tables import assignment
from labelloop.store.users import now
from labelloop.workflow import browse, quality, review, tasks

ROW_KEYS = {
    "id",
    "external_id",
    "text",
    "truncated",
    "width",  # an image's size, for its thumbnail's boxes (None for text)
    "height",
    "annotation_id",
    "label",
    "value",
    "state",
    "answered_at",
    "refusal",
}


def _other(label: str) -> str:
    return next(c for c in ("negative", "neutral", "positive") if c != label)


def _answer(lab: Any, who: Any, label: str | None = None) -> dict[str, Any]:
    """``who`` answers the item they are served: truthfully, or ``label``."""
    task = tasks.next_task(lab.db, who)
    assert task is not None, "the queue ran dry"
    answer = label or lab.truth(task["item"]["data"]["text"])
    done = tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": answer}, active_ms=2500)
    return {**done, "answer": answer, "task": task}


def _by_item(page: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in page["items"]}


@pytest.fixture
def overlap(lab: Any) -> dict[str, Any]:
    """Two annotators on an overlap-2 project whose disagreements go to review, with one gold
    check: ann answers truthfully, bob says neutral, item after item; ann is served the check."""
    ctx = lab.project(overlap=2, review_policy="disagreements", gold_rate=0.5)
    lab.import_rows(ctx, lab.rows(12))
    check = lab.rows(1, start=500, prefix="chk")[0]
    lab.import_rows(ctx, [check], filename="checks.jsonl")
    gold = quality.set_gold(
        lab.db, ctx, {"sentiment": lab.truth(check["text"])}, external_id=check["id"]
    )
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    by_ann, by_bob = [], []
    for _ in range(5):
        by_ann.append(_answer(lab, ann))
        theirs = _answer(lab, bob, "neutral")  # bob's word differs from ann's on most items
        by_bob.append(theirs)
    return {
        "ctx": ctx,
        "ann": ann,
        "bob": bob,
        "rev": lab.member("sent", "rev", "reviewer"),
        "by_ann": by_ann,
        "by_bob": by_bob,
        "gold": gold["item_id"],
        "shared": {a["item_id"] for a in by_ann} & {b["item_id"] for b in by_bob},
    }


def test_an_annotator_lists_the_items_they_answered_with_their_own_answer_only(
    lab: Any, overlap: dict[str, Any]
) -> None:
    ann, by_ann = overlap["ann"], overlap["by_ann"]
    assert overlap["gold"] in {a["item_id"] for a in by_ann}, "ann was served the gold check"
    assert len(overlap["shared"] - {overlap["gold"]}) >= 2, "ann and bob answered items alike"
    page = browse.list_items(lab.db, ann, limit=200)
    assert page["mine"] is True and page["total"] == len(by_ann)
    rows = _by_item(page)
    assert set(rows) == {a["item_id"] for a in by_ann}
    for done in by_ann:
        row = rows[done["item_id"]]
        assert set(row) == ROW_KEYS  # no label, resolution, answers, flags or gold
        assert row["value"] == {"sentiment": done["answer"]} and row["label"] == done["answer"]
        assert row["annotation_id"] == done["annotation_id"]
        # Waiting for review (bob said otherwise), agreed on and a gold check read alike.
        assert (row["state"], row["refusal"]) == ("no_verdict", None)
    statuses = {
        a["status"]
        for d in by_ann
        if d["item_id"] != overlap["gold"]
        for a in review.item_detail(lab.db, overlap["rev"], d["item_id"])["annotations"]
    }
    assert statuses == {"submitted", "in_review"}, "the answers' real states differ"
    said = json.dumps(page)
    assert "bob" not in said and "gold" not in said
    bobs = _by_item(browse.list_items(lab.db, overlap["bob"], limit=200))
    for item_id in overlap["shared"]:
        assert bobs[item_id]["value"] == {"sentiment": "neutral"}
        assert rows[item_id]["value"] == {"sentiment": lab.truth(rows[item_id]["text"])}
    # A reviewer's Items page is as it was: every item, everyone's answers.
    everything = browse.list_items(lab.db, overlap["rev"], limit=200)
    assert "mine" not in everything and everything["total"] == 12


def test_an_answers_trace_holds_only_what_is_the_annotators(
    lab: Any, overlap: dict[str, Any]
) -> None:
    ann = overlap["ann"]
    disputed = next(
        a
        for a in overlap["by_ann"]
        if a["item_id"] in overlap["shared"] - {overlap["gold"]} and a["answer"] != "neutral"
    )
    whole = review.item_detail(lab.db, overlap["rev"], disputed["item_id"])
    assert {f["kind"] for f in whole["flags"]} == {"disagreement"}  # a dispute to keep hidden
    trace = browse.own_trace(lab.db, ann, item_id=disputed["item_id"])
    assert set(trace) == {"item", "answers", "history"}
    (answer,) = trace["answers"]
    assert answer["annotation_id"] == disputed["annotation_id"]
    assert answer["value"] == {"sentiment": disputed["answer"]}
    assert answer["selection"]["reason"] == disputed["task"]["selection"]["reason"]
    assert (answer["guideline_version"], answer["state"], answer["reviews"]) == (
        1,
        "no_verdict",
        [],
    )
    assert [h["action"] for h in trace["history"]] == ["annotation.submit"]
    said = json.dumps(trace)
    assert "bob" not in said and "disagreement" not in said and "neutral: 1" not in said
    check = browse.own_trace(lab.db, ann, item_id=overlap["gold"])
    assert set(check) == set(trace) and set(check["answers"][0]) == set(answer)
    assert "gold" not in json.dumps(check)


def test_someone_elses_answers_are_out_of_reach(lab: Any, overlap: dict[str, Any]) -> None:
    ann, bob = overlap["ann"], overlap["bob"]
    with pytest.raises(PermissionDenied, match="you see your own answers only"):
        browse.list_items(lab.db, ann, annotator="bob")
    assert browse.list_items(lab.db, ann, annotator="ann") == browse.list_items(lab.db, ann)
    only_bobs = {b["item_id"] for b in overlap["by_bob"]} - {
        a["item_id"] for a in overlap["by_ann"]
    }
    for item_id in (*only_bobs, 10**9):
        with pytest.raises(NotFound) as caught:
            browse.own_trace(lab.db, ann, item_id=item_id)
        assert caught.value.message == f"you have no answer to item #{item_id} in project 'sent'"
    theirs = overlap["by_bob"][0]["annotation_id"]
    for annotation_id in (theirs, 10**9):
        with pytest.raises(NotFound) as caught:
            tasks.own_annotation(lab.db, ann, annotation_id)
        assert caught.value.message == f"no annotation {annotation_id} of yours in project 'sent'"
    assert tasks.own_annotation(lab.db, bob, theirs)["value"] == {"sentiment": "neutral"}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status": "unlabeled"}, "status must be one of all, no_verdict, accepted, fixed"),
        ({"split": "pool"}, "your answers are filtered by status, label and words"),
        ({"resolution": "single"}, "your answers are filtered by status, label and words"),
        ({"limit": 0}, "limit must be between 1 and 200"),
    ],
)
def test_filters_an_annotator_has_no_use_for_are_refused_in_words(
    lab: Any, overlap: dict[str, Any], filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(LabelloopError) as caught:
        browse.list_items(lab.db, overlap["ann"], **filters)
    assert caught.value.message.startswith(message)


@pytest.fixture
def reviewed(lab: Any) -> dict[str, Any]:
    """ann's four answers in a project reviewed in full: rev accepts one, fixes one, sends one
    back with a note, and one waits."""
    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    done = [_answer(lab, ann) for _ in range(4)]
    accepted, fixed, rejected, waiting = done
    review.review_annotation(lab.db, rev, accepted["annotation_id"], verdict="accept")
    fix = {"sentiment": _other(fixed["answer"])}
    review.review_annotation(lab.db, rev, fixed["annotation_id"], verdict="fix", value=fix)
    review.review_annotation(
        lab.db, rev, rejected["annotation_id"], verdict="reject", comment="read it to the end"
    )
    return {"ctx": ctx, "ann": ann, "rev": rev, "fix": fix, "done": done}


def test_a_verdict_shows_on_the_answer_and_keeps_it_as_reviewed(
    lab: Any, reviewed: dict[str, Any]
) -> None:
    ann = reviewed["ann"]
    accepted, fixed, rejected, waiting = reviewed["done"]
    rows = _by_item(browse.list_items(lab.db, ann))
    states = {d["item_id"]: rows[d["item_id"]]["state"] for d in reviewed["done"]}
    assert list(states.values()) == ["accepted", "fixed", "rejected", "no_verdict"]
    for state, done in (("accepted", accepted), ("rejected", rejected), ("no_verdict", waiting)):
        page = browse.list_items(lab.db, ann, status=state)
        assert [r["id"] for r in page["items"]] == [done["item_id"]]
    # A reviewed answer is not changed: the same sentence on its row and from a change.
    for done, state in ((accepted, "accepted"), (fixed, "fixed"), (rejected, "rejected")):
        refusal = rows[done["item_id"]]["refusal"]
        assert refusal == tasks.EDIT_REFUSALS[state]
        with pytest.raises(Conflict) as caught:
            tasks.edit(lab.db, ann, done["annotation_id"], {"sentiment": _other(done["answer"])})
        assert caught.value.message == refusal
    after = _by_item(browse.list_items(lab.db, ann))
    assert [after[d["item_id"]]["value"] for d in reviewed["done"]] == [
        {"sentiment": d["answer"]} for d in reviewed["done"]
    ]
    fixed_trace = browse.own_trace(lab.db, ann, item_id=fixed["item_id"])["answers"][0]
    assert fixed_trace["corrected_value"] == reviewed["fix"]
    (note,) = browse.own_trace(lab.db, ann, item_id=rejected["item_id"])["answers"][0]["reviews"]
    assert (note["reviewer"], note["verdict"], note["comment"]) == (
        "rev",
        "reject",
        "read it to the end",
    )
    # The unreviewed answer changes, and the list shows the new value.
    changed = {"sentiment": _other(waiting["answer"])}
    tasks.edit(lab.db, ann, waiting["annotation_id"], changed)
    assert _by_item(browse.list_items(lab.db, ann))[waiting["item_id"]]["value"] == changed


def test_the_answer_to_a_rework_takes_the_rejected_ones_place(
    lab: Any, reviewed: dict[str, Any]
) -> None:
    ann = reviewed["ann"]
    rejected = reviewed["done"][2]
    again = _answer(lab, ann, _other(rejected["answer"]))
    assert again["item_id"] == rejected["item_id"]  # the rework comes first
    row = _by_item(browse.list_items(lab.db, ann))[rejected["item_id"]]
    assert (row["annotation_id"], row["state"], row["refusal"]) == (
        again["annotation_id"],
        "no_verdict",
        None,
    )
    assert browse.list_items(lab.db, ann)["total"] == 4  # one row per item
    first, second = browse.own_trace(lab.db, ann, item_id=rejected["item_id"])["answers"]
    assert (first["state"], first["rework"], second["rework"]) == ("rejected", False, True)
    assert second["value"] == {"sentiment": again["answer"]}
    assert first["refusal"] == tasks.EDIT_REFUSALS["reworked"]
    assert "took its place" in first["refusal"] and "serves the item" not in first["refusal"]


@pytest.mark.parametrize("how", ["skip", "run out"])
def test_a_rework_skipped_or_run_out_says_the_item_went_back_to_the_queue(
    lab: Any, reviewed: dict[str, Any], how: str
) -> None:
    """An answer sent back whose rework its annotator skipped, or let run out, is no longer
    served to them again: My answers, its trace, the labeling page and a change all say the
    item went back to the queue, and the answer stays as it was."""
    ann = reviewed["ann"]
    rejected = reviewed["done"][2]
    item_id, annotation_id = rejected["item_id"], rejected["annotation_id"]

    def told() -> set[str]:
        row = _by_item(browse.list_items(lab.db, ann))[item_id]
        assert row["state"] == "rejected"
        (answer,) = browse.own_trace(lab.db, ann, item_id=item_id)["answers"]
        opened = tasks.own_annotation(lab.db, ann, annotation_id)
        with pytest.raises(Conflict) as caught:
            tasks.edit(lab.db, ann, annotation_id, {"sentiment": _other(rejected["answer"])})
        return {row["refusal"], answer["refusal"], opened["refusal"], caught.value.message}

    rework = tasks.next_task(lab.db, ann)
    assert rework is not None and rework["item"]["id"] == item_id
    assert told() == {tasks.EDIT_REFUSALS["rejected"]}
    if how == "skip":
        tasks.skip(lab.db, ann, rework["assignment_id"])
        fate = "rework_skipped"
    else:
        with lab.db.write() as conn:
            ended = update(assignment).where(assignment.c.id == rework["assignment_id"])
            conn.execute(ended.values(lease_expires_at=now() - timedelta(seconds=1)))
        fate = "rework_ran_out"
    (said,) = told()
    assert said == tasks.EDIT_REFUSALS[fate]
    assert "went back to the queue" in said and "serves the item" not in said
    mine = _by_item(browse.list_items(lab.db, ann))[item_id]
    assert mine["value"] == {"sentiment": rejected["answer"]}


def test_my_answers_filter_by_label_and_words_newest_first_in_pages(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    done = [_answer(lab, ann) for _ in range(6)]
    page = browse.list_items(lab.db, ann, newest_first=True, limit=4)
    assert [r["id"] for r in page["items"]] == [d["item_id"] for d in done[::-1][:4]]
    rest = browse.list_items(lab.db, ann, newest_first=True, limit=4, offset=4)
    assert (page["total"], [r["id"] for r in rest["items"]]) == (
        6,
        [d["item_id"] for d in done[1::-1]],
    )
    for label in {d["answer"] for d in done}:
        found = browse.list_items(lab.db, ann, label=label)
        assert {r["id"] for r in found["items"]} == {
            d["item_id"] for d in done if d["answer"] == label
        }
    text = done[2]["task"]["item"]["data"]["text"]
    found = browse.list_items(lab.db, ann, q=text.upper())
    assert [r["id"] for r in found["items"]] == [done[2]["item_id"]]
    assert browse.list_items(lab.db, ann, q="number nothing-matches")["total"] == 0


def test_the_labeling_page_opens_an_answer_as_back_does(lab: Any, reviewed: dict[str, Any]) -> None:
    ann = reviewed["ann"]
    accepted, _, _, waiting = reviewed["done"]
    latest = tasks.previous(lab.db, ann)
    assert latest == tasks.own_annotation(lab.db, ann, waiting["annotation_id"])
    assert latest["refusal"] is None
    opened = tasks.own_annotation(lab.db, ann, accepted["annotation_id"])
    assert opened["item"]["id"] == accepted["item_id"]
    assert opened["refusal"] == tasks.EDIT_REFUSALS["accepted"]


def test_an_annotator_is_not_told_their_answer_went_to_the_expert_tier(lab: Any) -> None:
    ctx = lab.project(overlap=2, resolution="adjudication")
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    mine = _answer(lab, ann, "neutral")
    theirs = _answer(lab, bob, "positive")  # a disagreement: both go to the expert tier
    assert mine["item_id"] == theirs["item_id"]
    review.review_annotation(lab.db, ctx, mine["annotation_id"], verdict="accept")  # the manager
    (verdict,) = browse.own_trace(lab.db, ann, item_id=mine["item_id"])["answers"][0]["reviews"]
    assert verdict["verdict"] == "accept" and "tier" not in verdict
    (told,) = review.my_reviews(lab.db, ann)
    assert told["verdict"] == "accept" and "tier" not in told
    expert_view = review.item_detail(lab.db, ctx, mine["item_id"])
    assert [r["tier"] for r in expert_view["reviews"]] == [2]  # the reviewers still read it


def test_a_verdict_stands_for_its_annotator_when_the_expert_tier_takes_the_item(lab: Any) -> None:
    """Answers a reviewer accepted or fixed, whose item then went to the expert tier because
    they disagree: their annotators were told 'no verdict yet' beside the reviewer's verdict in
    the trace, and could change the reviewed value under the reviewer's fix."""
    ctx = lab.project(overlap=2, review_policy="all", resolution="adjudication")
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    mgr = lab.member("sent", "mgr", "manager")
    a = _answer(lab, ann, "negative")
    b = _answer(lab, bob, "negative")
    assert a["item_id"] == b["item_id"]
    item = a["item_id"]
    review.review_annotation(lab.db, rev, a["annotation_id"], verdict="accept")
    fix = {"sentiment": "positive"}
    review.review_annotation(lab.db, rev, b["annotation_id"], verdict="fix", value=fix)
    detail = review.item_detail(lab.db, mgr, item)
    assert [x["status"] for x in detail["annotations"]] == ["escalated", "escalated"]

    for stage in ("at the expert tier", "decided"):
        for who, done, state in ((ann, a, "accepted"), (bob, b, "fixed")):
            row = _by_item(browse.list_items(lab.db, who))[item]
            assert (row["state"], row["refusal"]) == (state, tasks.EDIT_REFUSALS[state]), stage
            page = browse.list_items(lab.db, who, status=state)
            assert [r["id"] for r in page["items"]] == [item], stage
            (mine,) = browse.own_trace(lab.db, who, item_id=item)["answers"]
            assert mine["state"] == state, stage
            with pytest.raises(Conflict) as caught:
                tasks.edit(lab.db, who, done["annotation_id"], {"sentiment": "neutral"})
            assert caught.value.message == tasks.EDIT_REFUSALS[state]
        (fixed,) = browse.own_trace(lab.db, bob, item_id=item)["answers"]
        assert fixed["corrected_value"] == fix
        review.adjudicate(lab.db, mgr, item, {"sentiment": "negative"})
