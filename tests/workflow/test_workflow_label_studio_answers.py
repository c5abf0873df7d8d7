"""A Label Studio project labeled with overlap, imported with each annotator's answer: the
answers are their annotators', labels resolve by the project's rules, quality counts them, the
trace tells they came from the import, and nothing is written twice or half."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.store.tables import annotation, assignment, item, item_label
from labelloop.workflow import imports, quality, review, tasks
from tests.conftest import Lab

WHO = {"ana": "ana@example.com, 1", "ben": "ben@example.com, 2", "cy": "cy@example.com, 3"}


def answer(
    who: str,
    label: str | None,
    *,
    at: str = "2024-05-01T10:00:00.000Z",
    lead: Any = 12.5,
    cancelled: bool = False,
    ann_id: int = 1,
) -> dict[str, Any]:
    """One Label Studio annotation, as its JSON export writes it."""
    result = [
        {
            "id": "r1",
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]
    return {
        "id": ann_id,
        "completed_by": int(WHO[who].rsplit(", ", 1)[1]),
        "created_username": WHO[who],
        "result": result if label is not None else [],
        "was_cancelled": cancelled,
        "ground_truth": False,
        "created_at": at,
        "updated_at": at,
        "lead_time": lead,
    }


def overlap_export() -> list[dict[str, Any]]:
    """Three tasks answered by three annotators: all agree; two against one; one skipped."""
    return [
        {
            "id": 101,
            "data": {"text": "great phone, love it"},
            "annotations": [
                answer("ana", "positive", ann_id=1, at="2024-05-01T10:00:00Z"),
                answer("ben", "positive", ann_id=2, at="2024-05-01T10:05:00Z"),
                answer("cy", "positive", ann_id=3, at="2024-05-01T10:09:00Z"),
            ],
        },
        {
            "id": 102,
            "data": {"text": "the meeting is on monday, as planned"},
            "annotations": [
                answer("ana", "neutral", ann_id=4, at="2024-05-02T09:00:00Z"),
                answer("ben", "negative", ann_id=5, at="2024-05-02T09:01:00Z", lead=3),
                answer("cy", "neutral", ann_id=6, at="2024-05-02T09:02:00Z"),
            ],
        },
        {
            "id": 103,
            "data": {"text": "worst service, angry"},
            "annotations": [
                answer("ana", "negative", ann_id=7),
                answer("ben", "negative", ann_id=8, cancelled=True),
                answer("cy", "negative", ann_id=9),
            ],
            "predictions": [{"result": [], "score": 0.4}],
        },
    ]


def _file(tasks_: list[Any]) -> io.BytesIO:
    return io.BytesIO(json.dumps(tasks_).encode())


def _import(lab: Lab, ctx: Any, tasks_: list[Any], **options: Any) -> imports.ImportReport:
    return imports.import_items(
        lab.db, ctx, _file(tasks_), fmt="label_studio", filename="ls.json", **options
    )


def _team(lab: Lab, **settings: Any) -> Any:
    """A project with members named as Label Studio knows them: by the email's name, and one
    by the whole email."""
    ctx = lab.project(**settings)
    lab.member("sent", "ana", "annotator")
    lab.member("sent", "ben", "annotator")
    lab.member("sent", "cy@example.com", "annotator")
    return ctx


def _count(lab: Lab, table: Any, *where: Any) -> int:
    with lab.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _item_id(lab: Lab, external_id: str) -> int:
    with lab.db.read() as conn:
        return int(
            conn.execute(select(item.c.id).where(item.c.external_id == external_id)).scalar_one()
        )


def test_each_annotators_answer_comes_in_as_theirs_and_labels_resolve_by_consensus(
    lab: Lab,
) -> None:
    ctx = _team(lab, overlap=3)
    report = _import(lab, ctx, overlap_export(), answers=True)
    assert (report.n_items, report.n_labeled) == (3, 2)
    assert report.notes[0] == (
        "8 answers and 1 skip came in as their annotators' (3 members); 2 items of 3 took a "
        "label from them by the project's rules"
    )
    agreed, split, skipped = (_item_id(lab, i) for i in ("101", "102", "103"))
    detail = review.item_detail(lab.db, ctx, agreed)
    assert [(a["user"], a["value"]["sentiment"]) for a in detail["annotations"]] == [
        ("ana", "positive"),
        ("ben", "positive"),
        ("cy@example.com", "positive"),
    ]
    assert detail["label"]["resolution"] == "consensus"
    assert detail["label"]["decided_at"].startswith("2024-05-01T10:09:00")
    first = detail["annotations"][0]
    assert first["created_at"].startswith("2024-05-01T10:00:00")
    assert first["active_ms"] == 12_500
    assert first["selection"]["strategy"] == "import"
    assert first["selection"]["reason"] == (
        f"answered in Label Studio (annotation 1); import {report.batch_id}: 'ls.json'"
    )
    # two against one: the majority's label, the disagreement flagged as a native one is
    disputed = review.item_detail(lab.db, ctx, split)
    assert disputed["label"]["label"] == "neutral"
    assert {f["kind"] for f in disputed["flags"]} == {"disagreement"}
    assert disputed["flags"][0]["note"] == "neutral: 2, negative: 1"
    # a skip is ben's skip: the item waits for a third answer, never from him
    waiting = review.item_detail(lab.db, ctx, skipped)
    assert waiting["label"] is None
    assert [a["user"] for a in waiting["annotations"]] == ["ana", "cy@example.com"]
    assert _count(lab, assignment, assignment.c.item_id == skipped) == 3
    assert _count(lab, assignment, assignment.c.state == "skipped") == 1
    ben = lab.ctx("sent", lab.users["ben"])
    assert tasks.idle(lab.db, ben)["state"] == "waiting"  # nothing left for him
    dan = lab.member("sent", "dan", "annotator")
    assert tasks.idle(lab.db, dan)["state"] in ("open", "unqueued")  # item 103 is open to him


def test_a_disagreement_goes_to_review_as_native_answers_do(lab: Lab) -> None:
    ctx = _team(lab, review_policy="disagreements")
    report = _import(lab, ctx, overlap_export(), answers=True)
    assert report.n_labeled == 2  # the agreed one, and 103's two answers (overlap 1)
    disputed = review.item_detail(lab.db, ctx, _item_id(lab, "102"))
    assert disputed["label"] is None
    assert {a["status"] for a in disputed["annotations"]} == {"in_review"}
    reviewer = lab.member("sent", "rita", "reviewer")
    served = review.next_review(lab.db, reviewer)
    assert served is not None and served["item"]["external_id"] == "102"


@pytest.mark.parametrize("policy", ["all", "qualification"])
def test_a_review_policy_that_reviews_every_answer_reviews_the_imported_ones(
    lab: Lab, policy: str
) -> None:
    """Under review_policy all (or qualification, none of them qualified yet), an answer given
    here waits for a reviewer before it labels its item: an imported one does too."""
    ctx = _team(lab, review_policy=policy)
    report = _import(lab, ctx, overlap_export(), answers=True)
    assert report.n_labeled == 0
    agreed = review.item_detail(lab.db, ctx, _item_id(lab, "101"))
    assert agreed["label"] is None
    assert {a["status"] for a in agreed["annotations"]} == {"in_review"}
    assert "0 items of 3 took a label" in report.notes[0]
    reviewer = lab.member("sent", "rita", "reviewer")
    served = review.next_review(lab.db, reviewer)
    assert served is not None


def test_quality_counts_the_imported_answers(lab: Lab) -> None:
    ctx = _team(lab)
    _import(lab, ctx, overlap_export(), answers=True)
    found = quality.report(lab.db, ctx, n_boot=0)
    table = {a["username"]: a for a in found["annotators"]}
    assert {name: a["labels"] for name, a in table.items()} == {
        "ana": 3,
        "ben": 2,
        "cy@example.com": 3,
    }
    assert table["ben"]["agreement_with_resolved"] == 0.5  # positive agreed, negative did not
    assert table["ana"]["active_s_per_label"] == 12.5
    assert found["agreement"]["overall"]["n_items"] == 3
    assert found["over_time"][0]["week"] == "2024-W18"


def test_without_answers_the_import_is_as_before(lab: Lab) -> None:
    ctx = _team(lab)
    report = _import(lab, ctx, overlap_export())
    assert report.n_labeled == 3
    assert _count(lab, annotation) == 0
    assert _count(lab, item_label, item_label.c.resolution == "imported") == 3
    assert any("more than one annotator" in n for n in report.notes)


def test_an_annotator_who_is_no_member_refuses_the_whole_file(lab: Lab) -> None:
    ctx = lab.project()
    lab.member("sent", "ana", "annotator")
    lab.user("ben")  # a user, but not of this project
    with pytest.raises(ImportFormatError) as caught:
        _import(lab, ctx, overlap_export(), answers=True)
    error = caught.value
    assert (error.line, error.field) == (1, "annotations[1]")
    assert error.reason.startswith(
        "task 1 (id 101): the annotator 'ben@example.com' is no member of project 'sent'"
    )
    assert "'ben@example.com' (first in task 1 (id 101)), 'cy@example.com' (first" in error.reason
    assert _count(lab, item) == _count(lab, annotation) == _count(lab, assignment) == 0


def test_two_annotators_matching_one_member_are_refused(lab: Lab) -> None:
    ctx = lab.project()
    lab.member("sent", "ana", "annotator")
    other = answer("ana", "positive", ann_id=2)
    other["created_username"] = "ana@elsewhere.org, 7"
    tasks_ = [{"id": 1, "data": {"text": "love it"}, "annotations": [answer("ana", "positive")]}]
    tasks_.append({"id": 2, "data": {"text": "love it too"}, "annotations": [other]})
    with pytest.raises(ImportFormatError, match="both match member 'ana'") as caught:
        _import(lab, ctx, tasks_, answers=True)
    assert (caught.value.line, caught.value.field) == (2, "annotations[0]")
    assert _count(lab, item) == 0


def test_importing_the_file_again_adds_no_answer(lab: Lab) -> None:
    ctx = _team(lab)
    _import(lab, ctx, overlap_export(), answers=True)
    again = _import(lab, ctx, overlap_export(), answers=True)
    assert (again.n_items, again.n_duplicates) == (0, 3)
    assert _count(lab, annotation) == 8
    assert _count(lab, assignment) == 9
    assert again.notes[-1] == (
        "3 tasks with answers were here already, and their answers are by members who have "
        "answered those items: a member answers an item once, so none was imported again"
    )


def test_a_repeated_tasks_answers_join_the_first_tasks_item(lab: Lab) -> None:
    """Two tasks of one file with the same text are one item: every annotator's answer to
    either counts, once each (ana answered both: her newer answer stays), and the item
    resolves over all of them. The second task's answers were left out before."""
    ctx = _team(lab, overlap=3)
    text = {"text": "great phone, love it"}
    first = {
        "id": 101,
        "data": text,
        "annotations": [
            answer("ana", "positive", ann_id=1, at="2024-05-01T10:00:00Z"),
            answer("ben", "positive", ann_id=2, at="2024-05-01T10:05:00Z"),
        ],
    }
    again = {
        "id": 104,
        "data": text,
        "annotations": [
            answer("cy", "negative", ann_id=3, at="2024-05-02T10:00:00Z"),
            answer("ana", "negative", ann_id=4, at="2024-05-03T10:00:00Z"),
        ],
    }
    report = _import(lab, ctx, [first, again], answers=True)
    assert (report.n_items, report.n_duplicates, report.n_labeled) == (1, 1, 1)
    detail = review.item_detail(lab.db, ctx, _item_id(lab, "101"))
    assert sorted((a["user"], a["value"]["sentiment"]) for a in detail["annotations"]) == [
        ("ana", "negative"),
        ("ben", "positive"),
        ("cy@example.com", "negative"),
    ]
    assert (detail["label"]["label"], detail["label"]["resolution"]) == ("negative", "consensus")
    assert detail["label"]["decided_at"].startswith("2024-05-03T10:00:00")
    assert [(f["kind"], f["note"]) for f in detail["flags"]] == [
        ("disagreement", "negative: 2, positive: 1")
    ] * 3
    assert report.notes == (
        "3 answers and 0 skips came in as their annotators' (3 members); 1 item of 1 took a "
        "label from them by the project's rules",
        "1 task with answers repeats an earlier task's content in this file: its answers "
        "joined the answers of the item the first one brought, which resolved from all of them",
        "1 answer by annotators who answered two tasks with the same content was left out: "
        "each member keeps their newest answer to an item (changed last in Label Studio, an "
        "answer over a skip)",
    )
    assert _count(lab, assignment) == 3


def test_answers_join_an_item_the_project_had_before(lab: Lab) -> None:
    """A later export holding an item imported before: the answers of members who have not
    answered it join it, as answers given here later would, and its label resolves; a member
    who answered it keeps their answer, never two. Such answers were all left out before."""
    ctx = _team(lab, overlap=2)
    text = {"text": "the meeting is on monday, as planned"}
    _import(
        lab, ctx, [{"id": 1, "data": text, "annotations": [answer("ana", "neutral")]}], answers=True
    )
    item_id = _item_id(lab, "1")
    assert review.item_detail(lab.db, ctx, item_id)["label"] is None  # one answer of two
    later = {
        "id": 7,
        "data": text,
        "annotations": [
            answer("ana", "negative", ann_id=8, at="2024-06-01T10:00:00Z"),
            answer("ben", "neutral", ann_id=9, at="2024-06-01T11:00:00Z"),
        ],
    }
    report = _import(lab, ctx, [later], answers=True)
    assert (report.n_items, report.n_duplicates) == (0, 1)
    detail = review.item_detail(lab.db, ctx, item_id)
    assert [(a["user"], a["value"]["sentiment"]) for a in detail["annotations"]] == [
        ("ana", "neutral"),
        ("ben", "neutral"),
    ]
    assert (detail["label"]["label"], detail["label"]["resolution"]) == ("neutral", "consensus")
    assert detail["label"]["decided_at"].startswith("2024-06-01T11:00:00")
    assert report.notes[-1] == (
        "1 task with answers was here already: 1 answer (skips counted) by members who had "
        "not answered those items joined them, as answers given here later would (1 item took "
        "a label from them); 1 answer by members who had was left out"
    )


def test_a_gold_item_takes_no_imported_answer(lab: Lab) -> None:
    """A gold item's answers are checks of whoever gives them here: a later file's answers to
    its content are left out and said so, and its gold answer stays its label."""
    ctx = _team(lab)
    text = {"text": "worst service, angry"}
    _import(lab, ctx, [{"id": 1, "data": text}])
    quality.set_gold(lab.db, ctx, {"sentiment": "negative"}, external_id="1")
    report = _import(
        lab,
        ctx,
        [{"id": 2, "data": text, "annotations": [answer("ben", "positive")]}],
        answers=True,
    )
    assert _count(lab, annotation) == _count(lab, assignment) == 0
    assert report.notes[-1] == (
        "1 answer to gold items was left out: a gold item's answers are checks of the "
        "annotators who give them here"
    )


def test_a_bad_answer_in_a_repeated_task_refuses_the_file(lab: Lab) -> None:
    """A repeated task's answers are checked as any task's: a label the control lacks in the
    second copy refuses the whole file, naming that task; nothing was written."""
    ctx = _team(lab)
    first, *_ = overlap_export()
    bad = answer("ana", "positive", ann_id=10)
    bad["result"][0]["value"] = {"choices": ["maybe"]}
    again = {**first, "id": 104, "annotations": [bad]}
    with pytest.raises(ImportFormatError) as caught:
        _import(lab, ctx, [first, again], answers=True)
    assert (caught.value.line, caught.value.field) == (2, "annotations[0].result[0].value")
    assert caught.value.reason.startswith("task 2 (id 104): ")
    assert _count(lab, item) == _count(lab, annotation) == _count(lab, assignment) == 0


def test_a_file_imported_without_answers_takes_them_when_imported_with(lab: Lab) -> None:
    """The label imported first (one answer per task) gives way to the label the answers
    resolve to, once they come in with ``--annotations``; undoing the import is not needed."""
    ctx = _team(lab, overlap=3)
    _import(lab, ctx, overlap_export())
    report = _import(lab, ctx, overlap_export(), answers=True)
    assert (report.n_items, report.n_duplicates) == (0, 3)
    assert _count(lab, annotation) == 8
    disputed = review.item_detail(lab.db, ctx, _item_id(lab, "102"))
    assert (disputed["label"]["label"], disputed["label"]["resolution"]) == ("neutral", "consensus")
    waiting = review.item_detail(lab.db, ctx, _item_id(lab, "103"))  # two answers of three
    assert waiting["label"]["resolution"] == "imported"
    assert "(2 items took a label from them)" in report.notes[-1]


def test_an_imported_answer_too_fast_for_its_item_is_flagged_as_one_given_here(
    lab: Lab,
) -> None:
    """Label Studio's lead_time is the answer's time: under it a 299-character text was not
    read, so the answer is flagged too_fast by its annotator and, under review_policy
    flagged, waits for a reviewer. An answer without lead_time is not judged."""
    ctx = _team(lab, review_policy="flagged")
    long = " ".join(["word"] * 60)
    tasks_ = [
        {"id": 1, "data": {"text": long}, "annotations": [answer("ana", "positive", lead=0.5)]},
        {
            "id": 2,
            "data": {"text": long + "!"},
            "annotations": [answer("ben", "neutral", lead=None, ann_id=2)],
        },
        {
            "id": 3,
            "data": {"text": long + "?"},
            "annotations": [answer("ana", "neutral", lead=20, ann_id=3)],
        },
    ]
    report = _import(lab, ctx, tasks_, answers=True)
    fast = review.item_detail(lab.db, ctx, _item_id(lab, "1"))
    assert [(f["kind"], f["note"], f["user"]) for f in fast["flags"]] == [
        ("too_fast", "0.5 s for 299 characters", "ana")
    ]
    assert [a["status"] for a in fast["annotations"]] == ["in_review"]
    assert fast["label"] is None
    for unflagged in ("2", "3"):
        detail = review.item_detail(lab.db, ctx, _item_id(lab, unflagged))
        assert detail["flags"] == [] and detail["label"]["resolution"] == "single"
    assert report.n_labeled == 2
    assert (
        "1 answer was flagged too_fast, as an answer given here would be: Label Studio's "
        "lead_time is under the reading time of its item" in report.notes
    )
    found = quality.report(lab.db, ctx, n_boot=0)
    assert {a["username"]: a["flags"] for a in found["annotators"]}["ana"] == {"too_fast": 1}


def test_an_annotator_answering_twice_keeps_the_newest(lab: Lab) -> None:
    ctx = _team(lab)
    tasks_ = [
        {
            "id": 1,
            "data": {"text": "love it"},
            "annotations": [
                answer("ana", "negative", ann_id=1, at="2024-05-01T10:00:00Z"),
                answer("ana", "positive", ann_id=2, at="2024-05-03T10:00:00Z"),
                answer("ana", None, ann_id=3, at="2024-05-04T10:00:00Z", cancelled=True),
            ],
        }
    ]
    report = _import(lab, ctx, tasks_, answers=True)
    detail = review.item_detail(lab.db, ctx, _item_id(lab, "1"))
    assert [a["value"] for a in detail["annotations"]] == [{"sentiment": "positive"}]
    assert detail["label"]["resolution"] == "single"
    assert any("each member keeps their newest answer" in n for n in report.notes)


@pytest.mark.parametrize(
    ("change", "field", "said"),
    [
        ({"lead_time": "long"}, "annotations[0].lead_time", "must be a number of seconds"),
        ({"lead_time": -1}, "annotations[0].lead_time", "0 or more"),
        ({"created_at": "yesterday"}, "annotations[0].created_at", "'yesterday' is not a date"),
        ({"created_at": 5}, "annotations[0].created_at", "got number"),
        (
            {"created_username": None},
            "annotations[0].completed_by",
            "names only by Label Studio's user id 1",
        ),
        (
            {
                "result": [
                    {"type": "choices", "from_name": "sentiment", "value": {"choices": ["x"]}}
                ]
            },
            "annotations[0].result[0].value",
            "'x'",
        ),
    ],
)
def test_a_bad_answer_refuses_the_file_naming_task_and_annotation(
    lab: Lab, change: dict[str, Any], field: str, said: str
) -> None:
    ctx = _team(lab)
    tasks_ = overlap_export()
    tasks_[1]["annotations"][0] = {**tasks_[1]["annotations"][0], **change}
    with pytest.raises(ImportFormatError) as caught:
        _import(lab, ctx, tasks_, answers=True)
    error = caught.value
    assert (error.line, error.field) == (2, field)
    assert error.reason.startswith("task 2 (id 102): ") and said in error.reason
    assert _count(lab, item) == _count(lab, annotation) == 0


def test_answers_are_read_from_label_studio_files_only(lab: Lab) -> None:
    ctx = _team(lab)
    with pytest.raises(LabelloopError, match="from a Label Studio file, not from jsonl"):
        imports.import_items(
            lab.db, ctx, lab.jsonl([{"text": "x"}]), fmt="jsonl", filename="a.jsonl", answers=True
        )
    with pytest.raises(LabelloopError, match="without updating labels"):
        _import(lab, ctx, overlap_export(), answers=True, update_labels=True)
