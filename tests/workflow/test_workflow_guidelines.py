"""A project's guideline: managers write new versions, everyone reads the history and diffs, and
every label stays tied to the version it was made under."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from labelloop.errors import Conflict, NotFound, PermissionDenied, Unprocessable
from labelloop.store.audit import chain_rows
from labelloop.store.tables import guideline
from labelloop.workflow import guidelines, tasks

V1 = "Label the author's attitude, not the topic."  # the test schema's guideline
V2 = "Label the author's attitude, not the topic.\nSarcasm counts as negative.\n"


def _edits(lab: Any, ctx: Any) -> list[dict[str, Any]]:
    with lab.db.read() as conn:
        return [e for e in chain_rows(conn, ctx.id) if e["action"] == "guideline.edit"]


def _versions(lab: Any, ctx: Any) -> list[int]:
    return [v["version"] for v in guidelines.history(lab.db, ctx)]


def test_a_manager_writes_v2_with_an_audit_event_saying_what_changed(lab: Any) -> None:
    lab.project()
    mia = lab.member("sent", "mia", "manager")
    done = guidelines.edit(lab.db, mia, V2, "  sarcasm\n is negative ")
    assert done == {
        "version": 2,
        "from_version": 1,
        "summary": "sarcasm is negative",
        "added": 1,
        "removed": 0,
        "flags_resolved": 0,
        "sha256": hashlib.sha256(V2.encode()).hexdigest(),
    }
    latest = guidelines.get(lab.db, mia, 2)
    assert (latest["body"], latest["author"], latest["summary"]) == (V2, "mia", done["summary"])
    assert "<p>Label the author" in latest["html"]
    assert guidelines.get(lab.db, mia, 1)["body"] == V1  # the old version is kept as it was
    (event,) = _edits(lab, mia)
    assert event["actor_id"] == lab.users["mia"].id and event["subject"] == "project:sent"
    assert event["payload"] == {**done}


def test_history_is_newest_first_and_counts_the_labels_made_under_each_version(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    lab.label_next(ann, n=3)
    guidelines.edit(lab.db, ctx, V2, "sarcasm is negative")
    served = lab.label_next(ann, n=2)
    assert [t["guideline_version"] for t in served] == [2, 2]  # the page learns of the change
    other = lab.project("other")  # its labels, made under its own v1, count only there
    lab.import_rows(other, lab.rows(6, prefix="other"))
    lab.train(other)
    lab.label_next(other, n=4)
    assert [v["annotations"] for v in guidelines.history(lab.db, other)] == [4]
    history = guidelines.history(lab.db, ann)  # annotators read it too
    assert [(v["version"], v["annotations"]) for v in history] == [(2, 2), (1, 3)]
    assert [(v["author"], v["summary"]) for v in history] == [
        ("admin", "sarcasm is negative"),
        ("admin", "initial guideline"),
    ]
    assert history[0]["created_at"] >= history[1]["created_at"]


def test_the_annotation_records_the_version_it_was_submitted_under(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None and task["guideline_version"] == 1
    guidelines.edit(lab.db, ctx, V2, "sarcasm is negative")
    done = tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "negative"}, active_ms=9)
    assert done["guideline_version"] == 2  # the page swaps its panel when this is newer
    assert _recorded(lab, done["annotation_id"]) == 2  # no version said: the newest


def _recorded(lab: Any, annotation_id: int) -> int:
    from sqlalchemy import select

    from labelloop.store.tables import annotation

    with lab.db.read() as conn:
        q = select(annotation.c.guideline_version).where(annotation.c.id == annotation_id)
        return int(conn.execute(q).scalar_one())


def test_the_annotation_records_the_version_its_annotator_was_shown(lab: Any) -> None:
    # v2 is published while the page still shows v1: the label was made under v1.
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    first = tasks.next_task(lab.db, ann)
    guidelines.edit(lab.db, ctx, V2, "sarcasm is negative")
    done = tasks.submit(
        lab.db,
        ann,
        first["assignment_id"],
        {"sentiment": "neutral"},
        active_ms=9,
        guideline_version=1,
    )
    assert _recorded(lab, done["annotation_id"]) == done["guideline_version"] == 1
    assert done["current_guideline_version"] == 2  # for the page to catch up with
    second = tasks.next_task(lab.db, ann)
    for unknown in (3, 0):
        with pytest.raises(Unprocessable) as caught:
            tasks.submit(
                lab.db,
                ann,
                second["assignment_id"],
                {"sentiment": "neutral"},
                active_ms=9,
                guideline_version=unknown,
            )
        assert caught.value.message == (
            f"guideline_version {unknown}: project 'sent' has guideline versions 1 to 2"
        )
    kept = tasks.submit(  # the refusals wrote nothing: the lease is still the annotator's
        lab.db,
        ann,
        second["assignment_id"],
        {"sentiment": "neutral"},
        active_ms=9,
        guideline_version=2,
    )
    assert _recorded(lab, kept["annotation_id"]) == 2


@pytest.mark.parametrize(
    ("body", "summary", "message"),
    [
        (V1, "no change", "the guideline is unchanged from v1: nothing to save"),
        (V1 + "\r\n", "a final newline", "the guideline is unchanged from v1"),
        (V2, "   ", "say in a change summary what changed and why"),
        (V2, "x" * 501, "the change summary has 501 characters; at most 500"),
        ("x" * 100_001, "huge", "the guideline has 100,001 characters; at most 100,000"),
        (V2 + "\x00", "nul", "the guideline cannot contain the NUL character"),
    ],
)
def test_a_refused_edit_says_why_in_one_line_and_writes_nothing(
    lab: Any, body: str, summary: str, message: str
) -> None:
    ctx = lab.project()
    with pytest.raises(Unprocessable) as caught:
        guidelines.edit(lab.db, ctx, body, summary)
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message
    assert _versions(lab, ctx) == [1] and _edits(lab, ctx) == []


def test_a_stale_base_version_is_a_conflict_not_a_silent_overwrite(lab: Any) -> None:
    ctx = lab.project()
    mia = lab.member("sent", "mia", "manager")
    guidelines.edit(lab.db, ctx, V2, "sarcasm is negative", base_version=1)
    with pytest.raises(Conflict) as caught:
        guidelines.edit(lab.db, mia, V1 + "\nMia's rule.", "mia's rule", base_version=1)
    assert caught.value.message == (
        "the guideline of 'sent' is at v2 now, not v1: someone changed it meanwhile; "
        "reload it and edit again"
    )
    assert _versions(lab, ctx) == [2, 1] and len(_edits(lab, ctx)) == 1
    assert (
        guidelines.edit(lab.db, mia, V2 + "Mia's rule.\n", "mia's rule", base_version=2)["version"]
        == 3
    )


def test_only_managers_edit_and_every_member_reads(lab: Any) -> None:
    ctx = lab.project()
    for role in ("annotator", "reviewer"):
        who = lab.member("sent", f"a-{role}", role)
        with pytest.raises(PermissionDenied):
            guidelines.edit(lab.db, who, V2, "not mine to change")
        assert guidelines.get(lab.db, who, 1)["body"] == V1
    assert _versions(lab, ctx) == [1]


def test_diff_between_versions_and_unknown_versions_are_named(lab: Any) -> None:
    ctx = lab.project()
    guidelines.edit(lab.db, ctx, V2, "sarcasm is negative")
    found = guidelines.diff(lab.db, ctx, 1, 2)
    assert found["diff"].splitlines()[:2] == ["--- v1", "+++ v2"]
    assert "+Sarcasm counts as negative." in found["diff"].splitlines()
    assert (found["added"], found["removed"]) == (1, 0)
    assert guidelines.diff(lab.db, ctx, 2, 2)["diff"] == ""
    with pytest.raises(NotFound) as caught:
        guidelines.diff(lab.db, ctx, 1, 7)
    assert caught.value.message == "project 'sent' has no guideline v7; its newest is v2"
    with pytest.raises(NotFound):
        guidelines.get(lab.db, ctx, 3)


def test_another_projects_guideline_is_never_reachable(lab: Any) -> None:
    sent = lab.project("sent")
    other = lab.project("other")
    guidelines.edit(lab.db, other, "Other project's secret rules.", "secret")
    guidelines.edit(lab.db, other, "Other project's newer secret.", "secret 2")
    with pytest.raises(NotFound) as caught:
        guidelines.get(lab.db, sent, 2)  # the other project has a v2; this one does not
    assert "secret" not in caught.value.message
    assert _versions(lab, sent) == [1]
    assert "secret" not in guidelines.diff(lab.db, sent, 1, 1)["diff"]
    assert [e["payload"]["summary"] for e in _edits(lab, other)] == ["secret", "secret 2"]
    assert _edits(lab, sent) == []


def test_an_edited_annotation_records_the_version_of_the_change(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    done = tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=9)
    assert _recorded(lab, done["annotation_id"]) == 1
    guidelines.edit(lab.db, ctx, V2, "sarcasm is negative")
    # Back on the item after reading v2: the new label is made under v2.
    tasks.edit(lab.db, ann, done["annotation_id"], {"sentiment": "negative"}, guideline_version=2)
    assert _recorded(lab, done["annotation_id"]) == 2
    with pytest.raises(Unprocessable, match="guideline_version 5: project 'sent' has guideline"):
        tasks.edit(
            lab.db, ann, done["annotation_id"], {"sentiment": "neutral"}, guideline_version=5
        )
    assert _recorded(lab, done["annotation_id"]) == 2


def test_history_gives_each_versions_text_hash_as_its_publishing_event_recorded_it(
    lab: Any,
) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(3))
    guidelines.edit(lab.db, ctx, V2, "sarcasm is negative")
    guidelines.pin_example(lab.db, ctx, external_id="doc-0", value={"sentiment": "neutral"})
    history = guidelines.history(lab.db, ctx)
    assert [v["version"] for v in history] == [3, 2, 1]
    v3, v2, v1 = (v["sha256"] for v in history)
    assert (v1, v2) == (
        hashlib.sha256(V1.encode()).hexdigest(),
        hashlib.sha256(V2.encode()).hexdigest(),
    )
    assert v1 != v2, "a new text, a new hash"
    assert v3 == v2, "pinning an example keeps the text"
    assert [v["recorded_sha256"] for v in history] == [v3, v2, v1]  # each event recorded it
    with lab.db.read() as conn:
        events = {e["action"]: e["payload"] for e in chain_rows(conn, ctx.id)}
    assert events["project.create"]["guideline"] == {"version": 1, "sha256": v1}
    assert events["guideline.edit"]["sha256"] == v2
    assert events["guideline.example.pin"]["sha256"] == v3

    # The text of v2 changed behind labelloop's back: the recorded hash still says what it was.
    with lab.db.engine.begin() as conn:
        conn.execute(
            guideline.update()
            .where(guideline.c.project_id == ctx.id, guideline.c.version == 2)
            .values(body="Everything is positive.")
        )
    changed = {v["version"]: v for v in guidelines.history(lab.db, ctx)}[2]
    assert changed["sha256"] == hashlib.sha256(b"Everything is positive.").hexdigest()
    assert changed["recorded_sha256"] == v2 != changed["sha256"]
