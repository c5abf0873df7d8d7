"""Reading each Label Studio annotation as its annotator's answer (``answers=True``): who by
email and username, when and how long, a cancelled one as a skip, and bad fields refused
naming the task and the annotation."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from labelloop.errors import ImportFormatError
from labelloop.ingest.label_studio import (
    MAX_LEAD_MS,
    LabelStudioImporter,
    annotator_names,
)
from labelloop.schema import parse_schema

SCHEMA = parse_schema(
    {
        "name": "Reviews",
        "controls": [{"name": "sentiment", "type": "choice", "labels": ["bad", "good"]}],
    }
)
NER = parse_schema(
    {"name": "Entities", "controls": [{"name": "ents", "type": "spans", "labels": ["PER"]}]}
)


def _choice(label: str) -> dict[str, Any]:
    return {
        "from_name": "sentiment",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": [label]},
    }


def _read(tasks: list[Any], schema: Any = SCHEMA, **options: Any) -> list[Any]:
    importer = LabelStudioImporter(schema=schema, answers=True, **options)
    return list(importer.read(io.BytesIO(json.dumps(tasks).encode())))


def test_each_annotation_is_an_answer_and_no_label_is_read() -> None:
    (item,) = _read(
        [
            {
                "id": 7,
                "data": {"text": "fine"},
                "annotations": [
                    {
                        "id": 31,
                        "completed_by": {"id": 1, "email": "Ana@Example.com", "username": "ana_s"},
                        "result": [_choice("good")],
                        "created_at": "2024-05-01T10:00:00.123456Z",
                        "updated_at": "2024-05-01T10:03:00Z",
                        "lead_time": 4.25,
                        "ground_truth": True,
                    },
                    {
                        "id": 32,
                        "completed_by": 2,
                        "created_username": " ben@example.com, 2",
                        "result": [],
                        "was_cancelled": True,
                        "created_at": "2024-05-01T12:00:00+02:00",
                        "lead_time": 10 * 24 * 3600,
                    },
                ],
            }
        ]
    )
    assert item.label is None and "label_studio_annotator" not in item.metadata
    ana, ben = item.answers
    assert ana.annotator == ("Ana@Example.com", "ana_s", "Ana")
    assert (ana.field, ana.value, ana.source_id) == ("annotations[0]", {"sentiment": "good"}, "31")
    assert ana.created_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert ana.updated_at == datetime(2024, 5, 1, 10, 3, tzinfo=UTC)
    assert ana.active_ms == 4250
    assert ben.annotator == ("ben@example.com", "ben") and ben.value is None  # a skip
    assert ben.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert ben.active_ms == MAX_LEAD_MS  # a tab left open for days counts a day


def test_the_default_reads_one_label_as_before() -> None:
    tasks = [
        {
            "data": {"text": "fine"},
            "annotations": [
                {"created_username": "ana@example.com, 1", "result": [_choice("good")]},
                {"created_username": "ben@example.com, 2", "result": [_choice("bad")]},
            ],
        }
    ]
    (item,) = list(LabelStudioImporter(schema=SCHEMA).read(io.BytesIO(json.dumps(tasks).encode())))
    assert item.answers == ()
    assert item.label == {"sentiment": "bad"}
    assert item.metadata["label_studio_annotator"] == "ben@example.com, 2"


def test_a_spans_answer_without_regions_says_none_here() -> None:
    tasks = [
        {
            "data": {"text": "nobody here"},
            "completions": [{"created_username": "ana", "result": []}],  # before Label Studio 1.0
        }
    ]
    (item,) = _read(tasks, NER)
    assert [(a.field, a.value) for a in item.answers] == [("completions[0]", {"ents": []})]


@pytest.mark.parametrize(
    ("annotation", "names"),
    [
        ({"created_username": "ana@example.com, 12"}, ("ana@example.com", "ana")),
        ({"created_username": "dana"}, ("dana",)),
        ({"created_username": "a, b"}, ("a, b",)),
        ({"completed_by": {"id": 3}}, ()),
        ({"completed_by": 3}, ()),
        ({"created_username": "@odd"}, ("@odd",)),
        ({"created_username": "x" * 500}, ("x" * 200,)),
    ],
)
def test_annotator_names(annotation: dict[str, Any], names: tuple[str, ...]) -> None:
    assert annotator_names(annotation) == names


@pytest.mark.parametrize(
    ("change", "field", "said"),
    [
        ({"lead_time": True}, "annotations[0].lead_time", "got True"),
        ({"lead_time": "12"}, "annotations[0].lead_time", "got 12"),
        ({"created_at": "2024-13-01"}, "annotations[0].created_at", "'2024-13-01' is not a date"),
        ({"updated_at": ["x"]}, "annotations[0].updated_at", "got list"),
        ({"completed_by": 9, "created_username": ""}, "annotations[0].completed_by", "user id 9"),
        ({"result": "good"}, "annotations[0].result", "must be a list of results"),
    ],
)
def test_bad_answers_are_refused_naming_the_task_and_the_annotation(
    change: dict[str, Any], field: str, said: str
) -> None:
    base = {"created_username": "ana@example.com, 1", "result": [_choice("good")]}
    tasks = [{"id": "t-1", "data": {"text": "fine"}, "annotations": [{**base, **change}]}]
    with pytest.raises(ImportFormatError) as caught:
        _read(tasks)
    assert (caught.value.line, caught.value.field) == (1, field)
    assert caught.value.reason.startswith("task 1 (id t-1): ") and said in caught.value.reason


def test_a_skip_by_nobody_known_is_left_out_and_told() -> None:
    tasks = [
        {
            "data": {"text": "fine"},
            "annotations": [{"completed_by": 4, "result": [], "was_cancelled": True}],
        }
    ]
    importer = LabelStudioImporter(schema=SCHEMA, answers=True)
    (item,) = list(importer.read(io.BytesIO(json.dumps(tasks).encode())))
    assert item.answers == ()
    assert importer.notes() == ["1 skipped (cancelled) answer named no annotator and was left out"]
