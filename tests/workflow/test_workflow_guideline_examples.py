"""Examples in the guideline: a manager pins an item as an example of a label with a note; each pin
or unpin is a guideline version, so a label is read against the examples its annotator saw."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import Conflict, NotFound, PermissionDenied, SchemaError, Unprocessable
from labelloop.store.audit import chain_rows
from labelloop.workflow import flags, guidelines, tasks
from tests.conftest import make_rows, truth_of

V1 = "Label the author's attitude, not the topic."  # the test schema's guideline


def _labeled(lab: Any, n: int = 9) -> Any:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(n, labeled=True), labeled=True)
    return ctx


def _pinned(lab: Any, ctx: Any, version: int | None = None) -> list[tuple[str, str, str]]:
    found = guidelines.examples(lab.db, ctx, version)["examples"]
    return [(e["external_id"], e["label"], e["note"]) for e in found]


def test_a_pin_is_a_new_version_holding_the_items_label_and_note(lab: Any) -> None:
    ctx = _labeled(lab)
    mia = lab.member("sent", "mia", "manager")
    done = guidelines.pin_example(lab.db, mia, external_id="doc-0", note="'awful' decides it")
    assert done == {
        "version": 2,
        "item_id": done["item_id"],
        "external_id": "doc-0",
        "label": truth_of(make_rows(1)[0]["text"]),  # the item's resolved label
        "note": "'awful' decides it",
        "replaced": False,
        "flags_resolved": 0,
    }
    v2 = guidelines.get(lab.db, mia, 2)
    assert v2["body"] == V1  # the text is the same; the version adds the example
    assert v2["summary"] == f"Example: item 'doc-0' as {done['label']} ('awful' decides it)"
    (example,) = v2["examples"]
    assert (example["text"], example["added_by"], example["added_in"]) == (
        make_rows(1)[0]["text"],
        "mia",
        2,
    )
    assert guidelines.get(lab.db, mia, 1)["examples"] == []  # v1 is as it was
    annotator = lab.member("sent", "ann", "annotator")
    assert _pinned(lab, annotator) == [("doc-0", done["label"], "'awful' decides it")]
    with lab.db.read() as conn:
        (event,) = [e for e in chain_rows(conn, ctx.id) if e["action"] == "guideline.example.pin"]
    assert event["subject"] == f"item:{done['item_id']}"
    assert event["payload"]["value"] == {"sentiment": done["label"]}


def test_a_label_made_after_a_pin_records_the_version_with_the_example(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(12))
    lab.train(ctx)
    (before,) = lab.label_next(ctx, n=1)
    guidelines.pin_example(
        lab.db, ctx, external_id="doc-5", value={"sentiment": "positive"}, note="praise"
    )
    task = tasks.next_task(lab.db, ctx)
    assert (before["guideline_version"], task["guideline_version"]) == (1, 2)


def test_a_named_label_is_checked_and_an_unlabeled_item_needs_one(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(6))
    with pytest.raises(Unprocessable, match="item 'doc-1' has no label yet: say which label"):
        guidelines.pin_example(lab.db, ctx, external_id="doc-1")
    with pytest.raises(SchemaError, match="furious"):
        guidelines.pin_example(lab.db, ctx, external_id="doc-1", value={"sentiment": "furious"})
    with pytest.raises(Unprocessable, match="the note has 2,001 characters; at most 2,000"):
        guidelines.pin_example(
            lab.db, ctx, external_id="doc-1", value={"sentiment": "neutral"}, note="n" * 2001
        )
    with pytest.raises(NotFound, match="no item 'doc-99' here"):
        guidelines.pin_example(lab.db, ctx, external_id="doc-99", value={"sentiment": "neutral"})
    assert [v["version"] for v in guidelines.history(lab.db, ctx)] == [1]  # nothing written
    done = guidelines.pin_example(
        lab.db, ctx, external_id="doc-1", value={"sentiment": "neutral"}, note="  a date only\r\n"
    )
    assert (done["label"], done["note"]) == ("neutral", "a date only")


def test_pinning_again_replaces_and_unpinning_keeps_the_old_versions(lab: Any) -> None:
    ctx = _labeled(lab)
    guidelines.pin_example(lab.db, ctx, external_id="doc-0", note="first")
    guidelines.pin_example(lab.db, ctx, external_id="doc-1")
    again = guidelines.pin_example(
        lab.db, ctx, external_id="doc-0", value={"sentiment": "neutral"}, note="second"
    )
    assert (again["version"], again["replaced"]) == (4, True)
    assert _pinned(lab, ctx) == [("doc-1", "neutral", ""), ("doc-0", "neutral", "second")]
    change = guidelines.diff(lab.db, ctx, 3, 4)
    assert [(e["external_id"], e["note"]) for e in change["examples_removed"]] == [
        ("doc-0", "first")
    ]
    assert [(e["external_id"], e["note"]) for e in change["examples_added"]] == [
        ("doc-0", "second")
    ]
    assert change["diff"] == ""
    gone = guidelines.unpin_example(lab.db, ctx, external_id="doc-1")
    assert gone == {
        "version": 5,
        "item_id": gone["item_id"],
        "external_id": "doc-1",
        "label": "neutral",
    }
    assert _pinned(lab, ctx) == [("doc-0", "neutral", "second")]
    assert _pinned(lab, ctx, 4) == [("doc-1", "neutral", ""), ("doc-0", "neutral", "second")]
    assert guidelines.get(lab.db, ctx, 5)["summary"] == "Example removed: item 'doc-1' (neutral)"
    with pytest.raises(NotFound, match="item 'doc-1' is not an example in guideline v5"):
        guidelines.unpin_example(lab.db, ctx, external_id="doc-1")


def test_only_managers_pin_and_another_projects_item_is_not_found(lab: Any) -> None:
    _labeled(lab)
    other = lab.project("other")
    lab.import_rows(other, make_rows(3, prefix="theirs", labeled=True), labeled=True)
    with lab.db.read() as conn:
        theirs = conn.exec_driver_sql(
            "SELECT id FROM item WHERE external_id = 'theirs-0'"
        ).scalar_one()
    for role in ("annotator", "reviewer"):
        member = lab.member("sent", role, role)
        with pytest.raises(PermissionDenied):
            guidelines.pin_example(lab.db, member, external_id="doc-0")
        assert guidelines.examples(lab.db, member)["examples"] == []  # but may read them
    mia = lab.member("sent", "mia", "manager")
    with pytest.raises(NotFound, match=f"no item {theirs} here"):
        guidelines.pin_example(lab.db, mia, item_id=theirs)
    assert [v["version"] for v in guidelines.history(lab.db, other)] == [1]


def test_a_stale_base_version_is_refused_and_writes_nothing(lab: Any) -> None:
    ctx = _labeled(lab)
    guidelines.pin_example(lab.db, ctx, external_id="doc-0", base_version=1)
    with pytest.raises(Conflict, match="is at v2 now, not v1"):
        guidelines.pin_example(lab.db, ctx, external_id="doc-1", base_version=1)
    with pytest.raises(Conflict, match="is at v2 now, not v1"):
        guidelines.unpin_example(lab.db, ctx, external_id="doc-0", base_version=1)
    assert _pinned(lab, ctx) == [("doc-0", "negative", "")]
    assert [v["version"] for v in guidelines.history(lab.db, ctx)] == [2, 1]


def test_a_pin_answers_the_items_ambiguous_flags_and_no_other_kind(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(12))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    flags.flag_task(lab.db, ann, task["assignment_id"], note="refund or complaint?")
    item_id = task["item"]["id"]
    with lab.db.write() as conn:  # a label issue on the same item stays open
        conn.exec_driver_sql(
            "INSERT INTO flag (project_id, item_id, kind, note, created_at) "
            f"VALUES ({ctx.id}, {item_id}, 'label_issue', '', CURRENT_TIMESTAMP)"
        )
    done = guidelines.pin_example(
        lab.db, ctx, item_id=item_id, value={"sentiment": "negative"}, note="a refund: negative"
    )
    assert done["flags_resolved"] == 1
    with lab.db.read() as conn:
        still_open = conn.exec_driver_sql(
            f"SELECT kind FROM flag WHERE item_id = {item_id} AND resolved_at IS NULL"
        ).all()
    assert [k for (k,) in still_open] == ["label_issue"]


def test_gold_checks_and_examples_exclude_each_other_and_a_same_pin_changes_nothing(
    lab: Any,
) -> None:
    from labelloop.errors import LabelloopError
    from labelloop.workflow import quality

    ctx = lab.project()
    lab.import_rows(ctx, make_rows(6))
    quality.set_gold(lab.db, ctx, {"sentiment": "neutral"}, external_id="doc-1")
    with pytest.raises(Unprocessable, match="item 'doc-1' is a gold check: as an example its"):
        guidelines.pin_example(lab.db, ctx, external_id="doc-1", value={"sentiment": "neutral"})
    guidelines.pin_example(lab.db, ctx, external_id="doc-2", value={"sentiment": "neutral"})
    with pytest.raises(LabelloopError, match="is an example in the guideline, its answer shown"):
        quality.set_gold(lab.db, ctx, {"sentiment": "neutral"}, external_id="doc-2")
    with pytest.raises(Unprocessable, match="is an example of neutral with this note already"):
        guidelines.pin_example(lab.db, ctx, external_id="doc-2", value={"sentiment": "neutral"})
    assert [v["version"] for v in guidelines.history(lab.db, ctx)] == [2, 1]
    guidelines.pin_example(
        lab.db, ctx, external_id="doc-2", value={"sentiment": "neutral"}, note="a date only"
    )
    change = guidelines.diff(lab.db, ctx, 1, 3)
    assert [e["note"] for e in change["examples_added"]] == ["a date only"]
    assert change["examples_removed"] == []
    unchanged = guidelines.diff(lab.db, ctx, 3, 3)
    assert unchanged["examples_added"] == unchanged["examples_removed"] == []


def test_a_text_edit_started_before_a_pin_is_published_over_it(lab: Any) -> None:
    ctx = _labeled(lab)
    guidelines.pin_example(lab.db, ctx, external_id="doc-0")  # v2, while a manager edits v1
    done = guidelines.edit(lab.db, ctx, V1 + "\nSarcasm is negative.\n", "sarcasm", base_version=1)
    assert done["version"] == 3
    assert _pinned(lab, ctx) == [("doc-0", "negative", "")]  # the example stays
    guidelines.edit(lab.db, ctx, V1 + "\nIrony too.\n", "irony", base_version=3)  # v4: text
    with pytest.raises(Conflict, match="is at v4 now, not v3"):  # the text changed meanwhile
        guidelines.edit(lab.db, ctx, V1 + "\nSomething else.\n", "other", base_version=3)


def test_a_version_that_answers_the_open_questions_resolves_them(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(12))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    for n in range(2):
        task = tasks.next_task(lab.db, ann)
        flags.flag_task(lab.db, ann, task["assignment_id"], note=f"which one? {n}")
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=900)
    plain = guidelines.edit(lab.db, ctx, V1 + "\nDates are neutral.\n", "dates")
    assert plain["flags_resolved"] == 0  # a version that does not say so answers nothing
    done = guidelines.edit(
        lab.db, ctx, V1 + "\nDates and times are neutral.\n", "times", answers_flags=True
    )
    assert done["flags_resolved"] == 2
    with lab.db.read() as conn:
        still = conn.exec_driver_sql(
            f"SELECT count(*) FROM flag WHERE project_id = {ctx.id} AND resolved_at IS NULL"
        ).scalar_one()
    assert still == 0
