"""Going back to change a label, and exporting what was labeled with where it came from."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from labelloop.domain import EXPORT_COLUMNS
from labelloop.errors import NotFound, PermissionDenied, SchemaError
from labelloop.store import review as store_review
from labelloop.store.audit import chain_rows
from labelloop.store.tables import annotation, item_label
from labelloop.workflow import browse, export, imports, status, tasks
from labelloop.workflow import review as wf_review


def _label_of(db: Any, item_id: int) -> str:
    with db.read() as conn:
        return conn.execute(
            select(item_label.c.label).where(item_label.c.item_id == item_id)
        ).scalar_one()


def _why_picked(task: dict[str, Any]) -> str:
    """The export's ``reason`` of an item served as ``task``: the labeling page's sentence, and
    for a cold-start round's pick which model picked it, as the page said it."""
    picked = task["selection"]
    if not picked["cold_start"]:
        return str(picked["reason"])
    return f"{picked['reason']}; picked by model: {picked['picked_by']}"


def test_previous_then_edit_changes_the_resolved_label_and_audits_it(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    first, second = lab.label_next(ann, n=2)
    latest = tasks.previous(lab.db, ann)
    assert latest["item"]["id"] == second["item"]["id"]
    earlier = tasks.previous(lab.db, ann, before=latest["annotation_id"])
    assert earlier["item"]["id"] == first["item"]["id"]
    assert tasks.previous(lab.db, ann, before=earlier["annotation_id"]) is None
    old = earlier["value"]["sentiment"]
    new = next(c for c in ("negative", "neutral", "positive") if c != old)
    tasks.edit(lab.db, ann, earlier["annotation_id"], {"sentiment": new}, active_ms=100)
    assert _label_of(lab.db, first["item"]["id"]) == new
    with lab.db.read() as conn:
        event = chain_rows(conn, ready.id)[-1]
    assert event["action"] == "annotation.edit"
    assert event["payload"]["old"] == {"sentiment": old}
    assert event["payload"]["new"] == {"sentiment": new}
    assert status.status(lab.db, ready)["counts"]["annotations"] == 2


def test_saving_an_earlier_answer_unchanged_changes_nothing(lab: Any, ready: Any) -> None:
    """Going back to an answer and pressing Enter on it as it was (or its key, which keeps a
    chosen label) is no change: the label stays, the answer keeps the guideline version it was
    made under, and no review policy turned on since sends it to review."""
    from labelloop.workflow import guidelines, projects

    ann = lab.member("sent", "ann", "annotator")
    (done,) = lab.label_next(ann, n=1)
    earlier = tasks.previous(lab.db, ann)
    item_id, value = earlier["item"]["id"], earlier["value"]
    before = status.status(lab.db, ready)["counts"]["labeled"]
    guidelines.edit(lab.db, ready, "Label the attitude. Sarcasm is negative.", "sarcasm")
    projects.change_settings(lab.db, ready, {"review_policy": "all"})
    with lab.db.read() as conn:
        events = len(chain_rows(conn, ready.id))
    kept = tasks.edit(lab.db, ann, earlier["annotation_id"], value, active_ms=300)
    assert (kept["guideline_version"], kept["current_guideline_version"]) == (1, 2)
    assert kept["resolution"] is not None
    assert _label_of(lab.db, item_id) == value["sentiment"]
    assert status.status(lab.db, ready)["counts"]["labeled"] == before
    with lab.db.read() as conn:
        assert len(chain_rows(conn, ready.id)) == events  # nothing to audit
    mine = tasks.own_annotation(lab.db, ann, earlier["annotation_id"])
    assert mine["value"] == value and mine["refusal"] is None


def test_the_time_spent_on_an_answer_kept_as_it_was_counts(lab: Any, ready: Any) -> None:
    """ann goes back to her answer, looks at it for 300 ms and keeps it: the time she worked
    counts in its active time, as a change's would, and the answer is not stamped as changed
    (no changed_at, its updated_at as it was)."""
    ann = lab.member("sent", "ann", "annotator")
    (done,) = lab.label_next(ann, n=1, active_ms=1500)
    earlier = tasks.previous(lab.db, ann)
    with lab.db.read() as conn:
        before = conn.execute(
            select(annotation.c.updated_at).where(annotation.c.id == earlier["annotation_id"])
        ).scalar_one()
    kept = tasks.edit(lab.db, ann, earlier["annotation_id"], earlier["value"], active_ms=300)
    assert kept["unchanged"] is True
    (row,) = _export(lab, ready, "jsonl")
    assert (row["active_ms"], row["changed_at"]) == (1800, None)
    with lab.db.read() as conn:
        after = conn.execute(
            select(annotation.c.updated_at).where(annotation.c.id == earlier["annotation_id"])
        ).scalar_one()
    assert after == before


def test_nobody_edits_someone_elses_annotation(lab: Any, ready: Any) -> None:
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    lab.label_next(a, n=1)
    theirs = tasks.previous(lab.db, a)
    assert tasks.previous(lab.db, b) is None
    with pytest.raises(NotFound):
        tasks.edit(lab.db, b, theirs["annotation_id"], {"sentiment": "neutral"})
    assert _label_of(lab.db, theirs["item"]["id"]) == theirs["value"]["sentiment"]


def test_values_outside_the_schema_are_refused_by_name(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    with pytest.raises(SchemaError, match="furious"):
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "furious"}, active_ms=1)
    with pytest.raises(SchemaError, match="'topic' is not a control"):
        tasks.submit(
            lab.db, ann, task["assignment_id"], {"sentiment": "neutral", "topic": "x"}, active_ms=1
        )
    with pytest.raises(SchemaError, match="sentiment: required"):
        tasks.submit(lab.db, ann, task["assignment_id"], {}, active_ms=1)
    assert status.status(lab.db, ready)["counts"]["annotations"] == 0


def _export(lab: Any, ctx: Any, fmt: str) -> list[dict[str, Any]]:
    sink = io.BytesIO()
    n = export.export(lab.db, ctx, sink, fmt=fmt)
    text = sink.getvalue().decode("utf-8")
    rows = (
        [json.loads(line) for line in text.splitlines()]
        if fmt == "jsonl"
        else list(csv.DictReader(io.StringIO(text)))
    )
    assert n == len(rows)
    return rows


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_has_one_row_per_labeled_item_with_provenance(
    lab: Any, ready: Any, fmt: str
) -> None:
    ann = lab.member("sent", "ann", "annotator")
    served = lab.label_next(ann, n=10, active_ms=777)
    lab.train(ready)
    served += lab.label_next(ann, n=3, active_ms=777)
    rows = _export(lab, ready, fmt)
    assert len(rows) == status.status(lab.db, ready)["counts"]["labeled"] == 13
    assert set(EXPORT_COLUMNS) <= set(rows[0])
    by_id = {str(r["external_id"]): r for r in rows}
    assert set(by_id) == {t["item"]["external_id"] for t in served}  # eval items stay out
    for task in served:
        row = by_id[task["item"]["external_id"]]
        assert row["text"] == task["item"]["data"]["text"]
        assert row["annotator"] == "ann"
        assert str(row["guideline_version"]) == "1"
        assert str(row["schema_version"]) == "1"
        assert str(row["active_ms"]) == "777"
        assert str(row["model_version"]) == str(task["selection"]["model_version"])
        assert row["strategy"] == task["selection"]["strategy"]
        assert row["reason"] == _why_picked(task)
        assert row["resolution"] == "single"
    margin = [r for r in rows if r["strategy"] == "margin"]
    assert len(margin) == 3 and all(r["suggestion"] for r in margin)


def test_annotators_cannot_export_and_an_export_is_audited(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    with pytest.raises(PermissionDenied):
        export.export(lab.db, ann, io.BytesIO(), fmt="jsonl")
    lab.label_next(ann, n=2)
    assert len(_export(lab, ready, "jsonl")) == 2
    with lab.db.read() as conn:
        event = chain_rows(conn, ready.id)[-1]
    assert (event["action"], event["payload"]) == ("export", {"format": "jsonl", "rows": 2})


def test_imported_labels_are_exported_as_imported(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "x", "text": "hi", "label": "positive"}], labeled=True)
    (row,) = _export(lab, ctx, "jsonl")
    assert (row["external_id"], row["label"], row["resolution"]) == ("x", "positive", "imported")
    assert row["annotator"] is None


def test_an_export_reports_its_progress_as_it_streams(lab: Any, monkeypatch: Any) -> None:
    """Long exports show progress: the rows written so far, in steps, ending at the total."""
    monkeypatch.setattr(export, "PROGRESS_EVERY", 4)
    ctx = lab.project()
    rows = [{"id": f"x{i}", "text": f"item {i}", "label": "positive"} for i in range(10)]
    lab.import_rows(ctx, rows, labeled=True)
    seen: list[int] = []
    sink = io.BytesIO()
    n = export.export(lab.db, ctx, sink, fmt="jsonl", progress=seen.append)
    assert n == 10 and seen == [4, 8, 10]
    assert sink.getvalue().count(b"\n") == 10


def _wrong(label: str) -> str:
    classes = ("negative", "neutral", "positive")
    return classes[(classes.index(label) + 1) % 3]


def _fixed_and_accepted(lab: Any) -> tuple[Any, Any, Any, dict[str, Any], dict[str, Any]]:
    """A project reviewing every answer; bob answers two items, rita fixes the first (bob's
    answer wrong, 4.321 s) to the truth and accepts the second (right, 0.01 s): the admin's
    context, bob's, rita's, and the two tasks."""
    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(9))
    lab.train(ctx)
    bob = lab.member("sent", "bob", "annotator")
    rita = lab.member("sent", "rita", "reviewer")
    fixed_task = tasks.next_task(lab.db, bob)
    truth = lab.truth(fixed_task["item"]["data"]["text"])
    given = tasks.submit(
        lab.db, bob, fixed_task["assignment_id"], {"sentiment": _wrong(truth)}, active_ms=4321
    )
    wf_review.review_annotation(
        lab.db, rita, given["annotation_id"], verdict="fix", value={"sentiment": truth}
    )
    accepted_task = tasks.next_task(lab.db, bob)
    right = lab.truth(accepted_task["item"]["data"]["text"])
    done = tasks.submit(
        lab.db, bob, accepted_task["assignment_id"], {"sentiment": right}, active_ms=10
    )
    wf_review.review_annotation(lab.db, rita, done["annotation_id"], verdict="accept")
    return ctx, bob, rita, fixed_task, accepted_task


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_label_fixed_in_review_is_exported_as_the_reviewers_with_the_annotators_answer(
    lab: Any, fmt: str
) -> None:
    """bob answers, rita fixes it: the export keeps bob as the annotator and his answer beside
    the label, and says rita decided it and when; an unreviewed label has no other answer."""
    ctx, bob, rita, fixed_task, accepted_task = _fixed_and_accepted(lab)
    truth = lab.truth(fixed_task["item"]["data"]["text"])
    right = lab.truth(accepted_task["item"]["data"]["text"])

    by_id = {str(r["external_id"]): r for r in _export(lab, ctx, fmt)}
    fixed = by_id[fixed_task["item"]["external_id"]]
    original = {"sentiment": _wrong(truth)}
    if fmt == "csv":  # the objects are JSON cells; a missing one is an empty cell
        fixed = {**fixed, "annotated_value": json.loads(fixed["annotated_value"])}
    assert fixed["label"] == truth
    assert (fixed["resolution"], fixed["annotator"], fixed["decided_by"]) == (
        "reviewed",
        "bob",
        "rita",
    )
    assert fixed["annotated_value"] == original
    assert str(fixed["active_ms"]) == "4321"  # bob's time, still bob's
    when = datetime.fromisoformat(fixed["decided_at"])
    assert when >= datetime.fromisoformat(fixed["annotated_at"])
    accepted = by_id[accepted_task["item"]["external_id"]]
    assert (accepted["label"], accepted["annotator"], accepted["decided_by"]) == (
        right,
        "bob",
        "rita",
    )
    assert accepted["annotated_value"] in (None, "")

    # Imported back, the export's label is the fix; its provenance stays as metadata.
    data = io.BytesIO()
    export.export(lab.db, ctx, data, fmt=fmt)
    copy = lab.project("copy")
    imports.import_items(
        lab.db,
        copy,
        io.BytesIO(data.getvalue()),
        fmt=fmt,
        filename=f"sent.{fmt}",
        id_field="external_id",
        label_field="value",
    )
    again = {r["external_id"]: r for r in _export(lab, copy, "jsonl")}
    back = again[fixed_task["item"]["external_id"]]
    assert (back["label"], back["resolution"], back["annotator"]) == (truth, "imported", None)
    assert (back["metadata"]["annotator"], back["metadata"]["decided_by"]) == ("bob", "rita")


def test_a_label_studio_export_keeps_the_annotators_answer_and_stars_the_deciders(
    lab: Any,
) -> None:
    """bob answers wrongly and rita fixes it; ann answers and the expert tier decides: in Label
    Studio's JSON the annotator's answer stays theirs (their name, time and lead time) and the
    label is the decider's annotation, starred as ground truth, which an import reads back as
    the label; an unchanged answer stays one annotation, its annotator's."""
    ctx, bob, rita, fixed_task, accepted_task = _fixed_and_accepted(lab)
    truth = lab.truth(fixed_task["item"]["data"]["text"])
    right = lab.truth(accepted_task["item"]["data"]["text"])
    decided_task = tasks.next_task(lab.db, bob)
    other = _wrong(lab.truth(decided_task["item"]["data"]["text"]))
    up = tasks.submit(lab.db, bob, decided_task["assignment_id"], {"sentiment": other}, active_ms=5)
    wf_review.review_annotation(lab.db, rita, up["annotation_id"], verdict="escalate")
    final = _wrong(other)
    wf_review.adjudicate(lab.db, ctx, decided_task["item"]["id"], {"sentiment": final})

    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt="label_studio")
    by_id = {t["id"]: t for t in json.loads(sink.getvalue())}

    def said(annotation: dict[str, Any]) -> tuple[Any, ...]:
        (result,) = annotation["result"]
        return (
            annotation.get("created_username"),
            result["value"]["choices"],
            annotation["ground_truth"],
            annotation.get("lead_time"),
        )

    fixed = by_id[fixed_task["item"]["external_id"]]["annotations"]
    assert [said(a) for a in fixed] == [
        ("bob", [_wrong(truth)], False, 4.321),
        ("rita", [truth], True, None),
    ]
    assert fixed[0]["created_at"] < fixed[1]["created_at"]
    (accepted,) = by_id[accepted_task["item"]["external_id"]]["annotations"]
    assert said(accepted) == ("bob", [right], False, 0.01)
    decided = by_id[decided_task["item"]["external_id"]]["annotations"]
    assert [said(a)[:3] for a in decided] == [  # bob's answer, then the decision
        ("bob", [other], False),
        (lab.admin.username, [final], True),
    ]

    # Imported back, the starred annotation is the label, and its maker is named.
    copy = lab.project("copy")
    imports.import_items(
        lab.db, copy, io.BytesIO(sink.getvalue()), fmt="label_studio", filename="sent.json"
    )
    again = {r["external_id"]: r for r in _export(lab, copy, "jsonl")}
    back = again[fixed_task["item"]["external_id"]]
    assert (back["label"], back["metadata"]["label_studio_annotator"]) == (truth, "rita")


@pytest.mark.parametrize("fmt", ["label_studio", "doccano", "prodigy"])
def test_a_tools_file_keeps_why_each_annotator_was_served_the_item(lab: Any, fmt: str) -> None:
    """bob is served an item by the queue, ann gets it back from review to redo: both answers
    stand behind the label. The file for another tool says for each answer (by its id and
    annotator) why its annotator was served the item, where that tool keeps it (Label
    Studio drops an annotation's keys of ours: the task's meta; a Prodigy task's meta; a
    doccano example's own fields), and an import of the file into labelloop keeps that as the
    item's metadata."""
    ctx = lab.project(overlap=2, review_policy="all")
    lab.import_rows(ctx, lab.rows(4))
    lab.train(ctx)
    ann, bob = (lab.member("sent", n, "annotator") for n in ("ann", "bob"))
    rita = lab.member("sent", "rita", "reviewer")
    first = tasks.next_task(lab.db, ann)
    right = {"sentiment": lab.truth(first["item"]["data"]["text"])}
    wrong = {"sentiment": _wrong(right["sentiment"])}
    sent_back = tasks.submit(lab.db, ann, first["assignment_id"], wrong, active_ms=50)
    served = tasks.next_task(lab.db, bob)
    assert served["item"]["id"] == first["item"]["id"]
    bobs = tasks.submit(lab.db, bob, served["assignment_id"], right, active_ms=50)
    wf_review.review_annotation(
        lab.db, rita, sent_back["annotation_id"], verdict="reject", comment="read it again"
    )
    redo = tasks.next_task(lab.db, ann)
    redone = tasks.submit(lab.db, ann, redo["assignment_id"], right, active_ms=50)
    for _ in range(2):
        held = wf_review.next_review(lab.db, rita)
        wf_review.review_annotation(lab.db, rita, held["annotation"]["id"], verdict="accept")

    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt=fmt)
    (task,) = (
        json.loads(sink.getvalue()) if fmt == "label_studio" else [json.loads(sink.getvalue())]
    )
    meta = task if fmt == "doccano" else task["meta"]
    # the label's own provenance stays as it was: bob's, the first answer behind it
    assert (meta["annotator"], meta["strategy"], meta["reason"]) == (
        "bob",
        served["selection"]["strategy"],
        _why_picked(served),
    )
    assert meta["annotators"] == ["bob", "ann"]
    why = [(a["id"], a["annotator"], a["strategy"], a["reason"]) for a in meta["answers"]]
    if fmt == "label_studio":  # named as the annotations are
        assert why == [
            (a["id"], a["created_username"], a["strategy"], a["reason"])
            for a in task["annotations"]
        ]
    assert [w[0] for w in why] == [bobs["annotation_id"], redone["annotation_id"]]
    assert [w[1:] for w in why] == [
        ("bob", served["selection"]["strategy"], _why_picked(served)),
        ("ann", "rework", _why_picked(redo)),
    ]
    assert _why_picked(redo).startswith("sent back by rita: read it again")

    copy = lab.project("copy")
    imports.import_items(lab.db, copy, io.BytesIO(sink.getvalue()), fmt=fmt, filename="sent.json")
    (back,) = _export(lab, copy, "jsonl")
    assert back["label"] == right["sentiment"]
    assert back["metadata"]["answers"] == meta["answers"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_single_label_is_decided_by_its_one_annotator(lab: Any, ready: Any, fmt: str) -> None:
    """ann's one answer decided the label: the export names her as its decider, as a reviewed
    or adjudicated label names its reviewer, and has no other answer beside it."""
    ann = lab.member("sent", "ann", "annotator")
    lab.label_next(ann, n=1)
    (row,) = _export(lab, ready, fmt)
    assert (row["resolution"], row["annotator"], row["decided_by"]) == ("single", "ann", "ann")
    assert row["annotated_value"] in (None, "")
    assert row["decided_at"]


def test_a_single_label_records_its_annotator_as_decider_and_older_ones_read_so(
    lab: Any, ready: Any
) -> None:
    """The label ann's one answer decided records her as its decider when it is decided (the
    Items list and the item's label say so, not only the export); a label decided before that
    was recorded, with no decider stored, reads as hers all the same."""
    ann = lab.member("sent", "ann", "annotator")
    first, second = lab.label_next(ann, n=2)
    with lab.db.read() as conn:
        stored = conn.execute(
            select(item_label.c.decided_by).where(item_label.c.item_id == first["item"]["id"])
        ).scalar_one()
    assert stored == ann.user.id
    with lab.db.write() as conn:  # as a label decided before the decider was recorded
        conn.execute(
            update(item_label)
            .where(item_label.c.item_id == second["item"]["id"])
            .values(decided_by=None)
        )
    page = browse.list_items(lab.db, ready, limit=200)
    rows = {r["id"]: r for r in page["items"]}
    for task in (first, second):
        row = rows[task["item"]["id"]]
        assert (row["resolution"], row["decided_by"]) == ("single", "ann")
        with lab.db.read() as conn:
            assert store_review.item_label_of(conn, task["item"]["id"])["decided_by_name"] == "ann"
    exported = {r["item_id"]: r for r in _export(lab, ready, "jsonl")}
    assert exported[second["item"]["id"]]["decided_by"] == "ann"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_label_the_expert_tier_decided_otherwise_keeps_the_answer_and_why_it_was_picked(
    lab: Any, fmt: str
) -> None:
    """bob answers, rita escalates it and the expert tier decides a label bob did not give:
    the row still says bob answered (when, under which guideline, his answer beside the label)
    and why the item was picked, and that the admin decided it and when."""
    ctx, bob, rita, _, _ = _fixed_and_accepted(lab)
    task = tasks.next_task(lab.db, bob)
    given = _wrong(lab.truth(task["item"]["data"]["text"]))
    up = tasks.submit(lab.db, bob, task["assignment_id"], {"sentiment": given}, active_ms=5)
    wf_review.review_annotation(lab.db, rita, up["annotation_id"], verdict="escalate")
    final = _wrong(given)
    wf_review.adjudicate(lab.db, ctx, task["item"]["id"], {"sentiment": final})

    row = {str(r["external_id"]): r for r in _export(lab, ctx, fmt)}[task["item"]["external_id"]]
    mine = row["annotated_value"] if fmt == "jsonl" else json.loads(row["annotated_value"])
    assert (row["label"], row["resolution"], row["decided_by"]) == (
        final,
        "adjudicated",
        lab.admin.username,
    )
    assert (row["annotator"], mine, str(row["guideline_version"])) == (
        "bob",
        {"sentiment": given},
        "1",
    )
    assert (row["strategy"], row["reason"]) == (task["selection"]["strategy"], _why_picked(task))
    assert row["strategy"] and row["reason"]
    assert datetime.fromisoformat(row["annotated_at"]) < datetime.fromisoformat(row["decided_at"])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_answer_changed_after_it_was_given_exports_when(lab: Any, ready: Any, fmt: str) -> None:
    """``annotated_at`` stays when the answer was given; ``changed_at``, the column before the
    decider's guideline version (and the answers behind the label), says when its annotator
    changed it (from the audit's edit event), and is empty for the others."""
    ann = lab.member("sent", "ann", "annotator")
    first, second = lab.label_next(ann, n=2)
    earlier = tasks.previous(lab.db, ann, before=tasks.previous(lab.db, ann)["annotation_id"])
    new = next(c for c in ("negative", "neutral", "positive") if c != earlier["value"]["sentiment"])
    tasks.edit(lab.db, ann, earlier["annotation_id"], {"sentiment": new}, active_ms=100)
    with lab.db.read() as conn:
        edited_at = chain_rows(conn, ready.id)[-1]["at"]
    rows = {str(r["item_id"]): r for r in _export(lab, ready, fmt)}
    assert EXPORT_COLUMNS[-4:-2] == ("changed_at", "decided_guideline_version")
    changed, unchanged = rows[str(first["item"]["id"])], rows[str(second["item"]["id"])]
    assert changed["label"] == new
    at = datetime.fromisoformat(changed["changed_at"])
    assert at.replace(tzinfo=None) == edited_at.replace(tzinfo=None)
    assert datetime.fromisoformat(changed["annotated_at"]) < at
    assert unchanged["changed_at"] in (None, "")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_label_two_annotators_agreed_on_names_both_and_their_guideline_versions(
    lab: Any, fmt: str
) -> None:
    """ann answers under v1, the guideline moves to v2, bob gives the same answer under it: the
    label's row keeps ``annotator`` (the first answer's, as before) and names every annotator
    behind the label with the guideline version each answered under."""
    from labelloop.workflow import guidelines

    ctx = lab.project(overlap=2)
    lab.import_rows(ctx, lab.rows(4))
    lab.train(ctx)
    ann, bob = (lab.member("sent", n, "annotator") for n in ("ann", "bob"))
    (task,) = lab.label_next(ann, n=1)
    guidelines.edit(lab.db, ctx, "Sarcasm is negative.", "sarcasm is negative")
    again = tasks.next_task(lab.db, bob)
    assert again["item"]["id"] == task["item"]["id"]
    value = {"sentiment": lab.truth(task["item"]["data"]["text"])}
    tasks.submit(lab.db, bob, again["assignment_id"], value, active_ms=50, guideline_version=2)
    (row,) = _export(lab, ctx, fmt)
    assert row["resolution"] == "consensus"
    assert (row["annotator"], str(row["guideline_version"])) == ("ann", "1")
    if fmt == "csv":
        row = {k: json.loads(row[k]) for k in ("annotators", "guideline_versions")}
    assert row["annotators"] == ["ann", "bob"]
    assert row["guideline_versions"] == [1, 2]
    assert EXPORT_COLUMNS[-2:] == ("annotators", "guideline_versions")
