"""The answers export: a row per answer, saying who answered what, how review judged it, whether
it was a gold check, and whether it agreed with the item's label."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from labelloop.errors import ImportFormatError, LabelloopError, PermissionDenied
from labelloop.store.audit import chain_rows
from labelloop.workflow import export, guidelines, imports, quality, tasks
from labelloop.workflow import review as wf_review

ITEMS = [
    {"id": "a", "text": "great service, will come back"},
    {"id": "b", "text": "the parcel came on monday"},
]
GOLD = {"id": "g", "text": "worst purchase I ever made"}
ANSWERS = {  # item -> annotator -> answer as first given
    "a": {"ann": "positive", "bob": "positive", "cat": "positive"},
    "b": {"ann": "neutral", "bob": "neutral", "cat": "negative"},
    "g": {"ann": "negative", "bob": "neutral", "cat": "negative"},
}


def answered(lab: Any) -> Any:
    """Three annotators answer a, b and the gold item g (known answer: negative); every answer
    but the gold checks goes to review. After guideline version 2, ann changes her answer to a
    to neutral; rita accepts every answer to a and b but cat's negative on b, which she fixes
    to neutral. So a resolves to positive by consensus (2 of 3), b to neutral as reviewed (every
    answer, cat's as fixed); the gold check takes no label."""
    ctx = lab.project(overlap=3, review_policy="all", gold_rate=0.5)
    lab.import_rows(ctx, ITEMS)
    lab.import_rows(ctx, [GOLD], filename="gold.jsonl")
    quality.set_gold(lab.db, ctx, {"sentiment": "negative"}, external_id="g")
    lab.train(ctx)  # the cold-start queue
    ids: dict[tuple[str, str], int] = {}
    for name in ("ann", "bob", "cat"):
        who = lab.member("sent", name, "annotator")
        while (task := tasks.next_task(lab.db, who)) is not None:
            item = task["item"]["external_id"]
            value = {"sentiment": ANSWERS[item][name]}
            done = tasks.submit(lab.db, who, task["assignment_id"], value, active_ms=900)
            ids[item, name] = done["annotation_id"]
    assert len(ids) == 9, "each of the three answered a, b and the gold check"
    guidelines.edit(lab.db, ctx, "Label the author's attitude. Facts are neutral.", "facts")
    ann = lab.ctx("sent", lab.users["ann"])
    tasks.edit(lab.db, ann, ids["a", "ann"], {"sentiment": "neutral"}, active_ms=400)
    rita = lab.member("sent", "rita", "reviewer")
    for key in (("a", "ann"), ("a", "bob"), ("a", "cat"), ("b", "ann"), ("b", "bob")):
        wf_review.review_annotation(lab.db, rita, ids[key], verdict="accept")
    wf_review.review_annotation(
        lab.db, rita, ids["b", "cat"], verdict="fix", value={"sentiment": "neutral"}
    )
    return ctx, ids


def _jsonl(lab: Any, ctx: Any, **options: Any) -> list[dict[str, Any]]:
    sink = io.BytesIO()
    n = export.export(lab.db, ctx, sink, fmt="jsonl", annotations=True, **options)
    rows = [json.loads(line) for line in sink.getvalue().decode().splitlines()]
    assert n == len(rows)
    return rows


def _what(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["external_id"],
        row["annotator"],
        row["answer"],
        row["status"],
        row["verdict"],
        row["reviewed_by"],
        row["review_tier"],
        row["fixed_value"],
        row["gold"],
        row["gold_label"],
        row["label"],
        row["resolution"],
        row["agrees"],
    )


FIXED = {"sentiment": "neutral"}
EXPECTED = [
    ("a", "ann", "neutral", "accepted", "accept", "rita", 1, None, False, None, "positive",
     "consensus", False),
    ("a", "bob", "positive", "accepted", "accept", "rita", 1, None, False, None, "positive",
     "consensus", True),
    ("a", "cat", "positive", "accepted", "accept", "rita", 1, None, False, None, "positive",
     "consensus", True),
    ("b", "ann", "neutral", "accepted", "accept", "rita", 1, None, False, None, "neutral",
     "reviewed", True),
    ("b", "bob", "neutral", "accepted", "accept", "rita", 1, None, False, None, "neutral",
     "reviewed", True),
    ("b", "cat", "negative", "fixed", "fix", "rita", 1, FIXED, False, None, "neutral",
     "reviewed", False),
    ("g", "ann", "negative", "submitted", None, None, None, None, True, "negative", None, None,
     None),
    ("g", "bob", "neutral", "submitted", None, None, None, None, True, "negative", None, None,
     None),
    ("g", "cat", "negative", "submitted", None, None, None, None, True, "negative", None, None,
     None),
]  # fmt: skip


def test_every_answer_is_a_row_that_says_what_happened_to_it(lab: Any) -> None:
    ctx, ids = answered(lab)
    rows = _jsonl(lab, ctx)
    assert [_what(r) for r in rows] == EXPECTED
    by = {(r["external_id"], r["annotator"]): r for r in rows}
    assert {k: r["answer_id"] for k, r in by.items()} == ids
    changed = by["a", "ann"]
    assert changed["changed_at"] is not None, "ann changed her answer"
    assert changed["changed_at"] > changed["answered_at"]
    assert (changed["guideline_version"], changed["active_ms"]) == (2, 900 + 400)  # both times
    unchanged = by["a", "bob"]
    assert (unchanged["changed_at"], unchanged["guideline_version"]) == (None, 1)
    assert unchanged["active_ms"] == 900
    assert unchanged["reviewed_at"] >= unchanged["answered_at"]
    # made under v1, reviewed after v2 was published; a gold check is never reviewed
    assert (unchanged["guideline_version"], unchanged["reviewed_guideline_version"]) == (1, 2)
    assert by["g", "bob"]["reviewed_guideline_version"] is None
    assert by["a", "ann"]["text"] == "great service, will come back"
    assert by["a", "ann"]["value"] == {"sentiment": "neutral"}
    with lab.db.read() as conn:
        event = chain_rows(conn, ctx.id)[-1]
    assert (event["action"], event["payload"]) == (
        "export",
        {"format": "jsonl", "rows": 9, "annotations": True},
    )


def test_the_csv_answers_export_holds_the_same_rows_guarded_for_spreadsheets(lab: Any) -> None:
    ctx, _ = answered(lab)
    lab.import_rows(ctx, [{"id": "c", "text": "not answered yet"}], filename="c.jsonl")  # no row
    sink = io.BytesIO()
    n = export.export(lab.db, ctx, sink, fmt="csv", annotations=True)
    rows = list(csv.DictReader(io.StringIO(sink.getvalue().decode())))
    assert n == len(rows) == 9
    first = rows[0]
    assert (first["answer"], first["gold"], first["agrees"], first["label"]) == (
        "neutral",
        "false",
        "false",
        "positive",
    )
    fixed = next(r for r in rows if r["status"] == "fixed")
    assert json.loads(fixed["fixed_value"]) == FIXED
    gold = next(r for r in rows if r["gold"] == "true")
    assert (gold["label"], gold["agrees"], gold["gold_label"]) == ("", "", "negative")
    assert [_cells(r) for r in rows] == [
        tuple("" if v is None else _csv_text(v) for v in e) for e in EXPECTED
    ]


def _cells(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[k] for k in _KEYS)


_KEYS = (
    "external_id",
    "annotator",
    "answer",
    "status",
    "verdict",
    "reviewed_by",
    "review_tier",
    "fixed_value",
    "gold",
    "gold_label",
    "label",
    "resolution",
    "agrees",
)


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def test_a_formula_in_an_answered_item_is_guarded_in_the_csv(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "=1+1", "text": "@SUM(A1) great deal"}])
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "positive"}, active_ms=10)
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt="csv", annotations=True)
    (row,) = csv.DictReader(io.StringIO(sink.getvalue().decode()))
    assert (row["external_id"], row["text"]) == ("'=1+1", "'@SUM(A1) great deal")
    assert (row["label"], row["resolution"], row["agrees"]) == ("positive", "single", "true")


def test_skips_and_leases_are_not_answers(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, ITEMS)
    lab.train(ctx)
    dan = lab.member("sent", "dan", "annotator")
    tasks.skip(lab.db, dan, tasks.next_task(lab.db, dan)["assignment_id"])
    assert tasks.next_task(lab.db, dan) is not None  # leased, never answered
    assert _jsonl(lab, ctx) == []


def test_only_managers_export_answers_and_only_as_rows(lab: Any) -> None:
    ctx, _ = answered(lab)
    rita = lab.ctx("sent", lab.users["rita"])
    with pytest.raises(PermissionDenied):
        export.export(lab.db, rita, io.BytesIO(), fmt="jsonl", annotations=True)
    with pytest.raises(LabelloopError, match="as csv, jsonl or label_studio; prodigy holds one"):
        export.export(lab.db, ctx, io.BytesIO(), fmt="prodigy", annotations=True)


def test_the_answers_of_eval_items_export_with_split_eval(lab: Any) -> None:
    ctx, _ = answered(lab)
    assert _jsonl(lab, ctx, split="eval") == []


def test_progress_counts_the_answers(lab: Any) -> None:
    ctx, _ = answered(lab)
    seen: list[int] = []
    export.export(lab.db, ctx, io.BytesIO(), fmt="jsonl", annotations=True, progress=seen.append)
    assert seen == [9]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_answers_export_is_refused_as_an_import_naming_what_to_import(
    lab: Any, fmt: str
) -> None:
    ctx, _ = answered(lab)
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt=fmt, annotations=True)
    other = lab.project("copy")
    with pytest.raises(ImportFormatError, match="answers export .* one row per answer") as err:
        imports.import_items(
            lab.db, other, io.BytesIO(sink.getvalue()), fmt=fmt, filename=f"answers.{fmt}"
        )
    assert err.value.line == 1
    from labelloop.workflow import status

    assert status.status(lab.db, other)["counts"]["pool"] == 0


def test_a_label_studio_answers_export_moves_each_answer_as_its_annotators(lab: Any) -> None:
    ctx, ids = answered(lab)
    sink = io.BytesIO()
    n = export.export(lab.db, ctx, sink, fmt="label_studio", annotations=True)
    studio = json.loads(sink.getvalue())
    assert n == 9
    by_task = {
        t["id"]: [(a["created_username"], a["result"][0]["value"]) for a in t["annotations"]]
        for t in studio
    }
    assert by_task["b"] == [
        ("ann", {"choices": ["neutral"]}),
        ("bob", {"choices": ["neutral"]}),
        ("cat", {"choices": ["negative"]}),  # cat's own answer; rita's fix is the reviewer's
    ]
    changed = studio[0]["annotations"][0]
    assert (changed["id"], changed["lead_time"]) == (ids["a", "ann"], 1.3)
    assert changed["updated_at"] > changed["created_at"]
    assert "updated_at" not in studio[0]["annotations"][1]
    # ann changed her answer after guideline v2 was published: it stands under v2, bob's under v1
    assert (changed["guideline_version"], changed["schema_version"]) == (2, 1)
    assert studio[0]["annotations"][1]["guideline_version"] == 1
    assert changed["strategy"] and changed["reason"]  # why the item was served to her
    # Label Studio drops those keys of an annotation but keeps the task's meta whole: each
    # answer's provenance is there too, keyed by the annotation's id as exported.
    kept = {p["id"]: p for p in studio[0]["meta"]["answers"]}
    assert list(kept) == [a["id"] for a in studio[0]["annotations"]]
    assert (kept[ids["a", "ann"]]["annotator"], kept[ids["a", "ann"]]["guideline_version"]) == (
        "ann",
        2,
    )
    assert (kept[ids["a", "bob"]]["annotator"], kept[ids["a", "bob"]]["guideline_version"]) == (
        "bob",
        1,
    )
    assert kept[ids["a", "ann"]]["schema_version"] == 1
    assert kept[ids["a", "ann"]]["annotated_at"] == changed["created_at"]

    lab.project("moved", overlap=3)
    moved = lab.ctx("moved", lab.admin)
    for name in ("ann", "bob", "cat"):
        lab.member("moved", name, "annotator")
    report = imports.import_items(
        lab.db, moved, io.BytesIO(sink.getvalue()), fmt="label_studio", filename="ls.json",
        answers=True,
    )  # fmt: skip
    assert report.notes[0].startswith("9 answers and 0 skips came in as their annotators'")
    rows = _jsonl(lab, moved)
    assert [(r["external_id"], r["annotator"], r["answer"]) for r in rows] == [
        (e[0], e[1], e[2]) for e in EXPECTED
    ]
    assert [r["label"] for r in rows[:6]] == ["positive"] * 3 + ["neutral"] * 3


def test_a_rejected_answer_is_a_row_but_no_label_studio_annotation(lab: Any) -> None:
    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, ITEMS)
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    given = []
    for _ in ITEMS:
        task = tasks.next_task(lab.db, ann)
        value = {"sentiment": "positive"}
        given.append(tasks.submit(lab.db, ann, task["assignment_id"], value, active_ms=50))
    rita = lab.member("sent", "rita", "reviewer")
    sent_back = given[0]["annotation_id"]
    wf_review.review_annotation(
        lab.db, rita, sent_back, verdict="reject", comment="facts are neutral"
    )
    rows = _jsonl(lab, ctx)
    back = next(r for r in rows if r["answer_id"] == sent_back)
    assert (back["verdict"], back["review_comment"], back["reviewed_by"]) == (
        "reject",
        "facts are neutral",
        "rita",
    )
    assert {r["answer_id"]: r["status"] for r in rows} == {
        sent_back: "rejected",
        given[1]["annotation_id"]: "in_review",
    }
    sink = io.BytesIO()
    n = export.export(lab.db, ctx, sink, fmt="label_studio", annotations=True)
    studio = json.loads(sink.getvalue())
    assert n == 1 and [a["id"] for t in studio for a in t["annotations"]] == [
        given[1]["annotation_id"]
    ]


def test_spans_answers_carry_the_text_they_cover(lab: Any) -> None:
    from labelloop.workflow import projects

    ner = {
        "name": "People",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "ents", "type": "spans", "labels": ["person", "place"]}],
    }
    projects.create_project(lab.db, "ner", ner, actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    lab.import_rows(ctx, [{"id": "s1", "text": "Ada met Alan in Paris"}])
    lab.train(ctx)
    ann = lab.member("ner", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    spans = [
        {"start": 16, "end": 21, "label": "place"},
        {"start": 0, "end": 3, "label": "person"},
    ]
    tasks.submit(lab.db, ann, task["assignment_id"], {"ents": spans}, active_ms=10)
    (row,) = _jsonl(lab, ctx)
    covered = sorted((s["text"], s["label"]) for s in row["answer"])
    assert covered == [("Ada", "person"), ("Paris", "place")]
    assert row["value"] == {"ents": row["answer"]}
    assert sorted(s["text"] for s in row["label"]) == ["Ada", "Paris"]
    assert (row["resolution"], row["agrees"]) == ("single", True)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_each_answer_says_the_guideline_version_in_force_at_its_review(lab: Any, fmt: str) -> None:
    """ann answers a and b under v1; rita accepts a, then v2 is published and she accepts b:
    a's review says v1 and b's v2, both answers stay made under v1, and cat's answer to a, never
    reviewed, says none. The column is the last one, so older files' columns keep their places."""
    ctx = lab.project(overlap=2, review_policy="all")
    lab.import_rows(ctx, ITEMS)
    lab.train(ctx)
    given = {}
    for name in ("ann", "cat"):
        who = lab.member("sent", name, "annotator")
        while (task := tasks.next_task(lab.db, who)) is not None:
            value = {"sentiment": "positive"}
            done = tasks.submit(lab.db, who, task["assignment_id"], value, active_ms=50)
            given[task["item"]["external_id"], name] = done["annotation_id"]
    rita = lab.member("sent", "rita", "reviewer")
    wf_review.review_annotation(lab.db, rita, given["a", "ann"], verdict="accept")
    guidelines.edit(lab.db, ctx, "Version 2: facts are neutral.", "v2")
    wf_review.review_annotation(lab.db, rita, given["b", "ann"], verdict="accept")
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt=fmt, annotations=True)
    text = sink.getvalue().decode()
    if fmt == "csv":
        header, *_ = csv.reader(io.StringIO(text))
        assert header[-1] == "reviewed_guideline_version"
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = [json.loads(line) for line in text.splitlines()]
        assert list(rows[0])[-1] == "reviewed_guideline_version"
    by = {(r["external_id"], r["annotator"]): r for r in rows}
    seen = {
        k: (str(r["guideline_version"]), r["reviewed_guideline_version"]) for k, r in by.items()
    }
    one, two, none = ("1", "2", "") if fmt == "csv" else (1, 2, None)
    assert seen == {
        ("a", "ann"): ("1", one),
        ("b", "ann"): ("1", two),
        ("a", "cat"): ("1", none),
        ("b", "cat"): ("1", none),
    }


def test_a_decided_label_exports_the_guideline_version_in_force_when_it_was_decided(
    lab: Any,
) -> None:
    """ann answers a and b under v1; rita fixes a while v2 is the newest, then b after v3 was
    published: a's decision says v2 and b's v3, in the labels export and in Label Studio's
    starred annotation and task meta, while ann's own answers stay under v1."""
    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, ITEMS)
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    given = {}
    while (task := tasks.next_task(lab.db, ann)) is not None:
        done = tasks.submit(
            lab.db, ann, task["assignment_id"], {"sentiment": "positive"}, active_ms=50
        )
        given[task["item"]["external_id"]] = done["annotation_id"]
    rita = lab.member("sent", "rita", "reviewer")
    for item, version in (("a", 2), ("b", 3)):
        guidelines.edit(lab.db, ctx, f"Version {version}: facts are neutral.", f"v{version}")
        wf_review.review_annotation(
            lab.db, rita, given[item], verdict="fix", value={"sentiment": "neutral"}
        )
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt="jsonl")
    rows = {r["external_id"]: r for r in map(json.loads, sink.getvalue().splitlines())}
    assert {k: (r["resolution"], r["decided_by"]) for k, r in rows.items()} == {
        "a": ("reviewed", "rita"),
        "b": ("reviewed", "rita"),
    }
    assert {k: r["decided_guideline_version"] for k, r in rows.items()} == {"a": 2, "b": 3}
    assert {k: r["guideline_version"] for k, r in rows.items()} == {"a": 1, "b": 1}

    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt="label_studio")
    studio = {t["id"]: t for t in json.loads(sink.getvalue())}
    for item, version in (("a", 2), ("b", 3)):
        own, starred = studio[item]["annotations"]
        assert (own["created_username"], own["guideline_version"]) == ("ann", 1)
        assert (starred["created_username"], starred["ground_truth"]) == ("rita", True)
        assert starred["guideline_version"] == version
        meta = studio[item]["meta"]
        assert (meta["decided_by"], meta["decided_guideline_version"]) == ("rita", version)
        assert meta["guideline_version"] == 1  # the annotator's, beside the decider's


def test_a_label_the_answers_decided_carries_no_decided_guideline_version(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, ITEMS)
    lab.train(ctx)
    lab.label_next(ctx, n=1)
    guidelines.edit(lab.db, ctx, "Facts are neutral.", "facts")
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt="label_studio")
    (task,) = json.loads(sink.getvalue())
    assert task["meta"]["guideline_version"] == 1
    assert "decided_guideline_version" not in task["meta"]
    assert [a["ground_truth"] for a in task["annotations"]] == [False]
