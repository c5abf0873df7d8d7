"""Prodigy JSONL (``prodigy db-out``): hand-written datasets of textcat.manual (single and
multiple choice), textcat.teach (binary, with accept, reject and ignore) and ner.manual read
into labelloop labels, bad tasks refused naming the line and the field, and labelloop labels
written back as tasks ``prodigy db-in`` loads."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from labelloop.domain import ExportRecord, ItemIn
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest import make_exporter, make_importer
from labelloop.ingest.conformance import sample_record
from labelloop.ingest.prodigy import ProdigyExporter, ProdigyImporter
from labelloop.schema import ProjectSchema, parse_schema

SENTIMENT = parse_schema(
    {
        "name": "Reviews",
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": ["negative", "neutral", "positive"]}
        ],
    }
)
TOPICS = parse_schema(
    {
        "name": "News",
        "controls": [
            {"name": "topics", "type": "multi_choice", "labels": ["SPORTS", "POLITICS", "TECH"]}
        ],
    }
)
NER = parse_schema(
    {
        "name": "Entities",
        "controls": [{"name": "ents", "type": "spans", "labels": ["ORG", "PERSON", "GPE"]}],
    }
)
HTML = parse_schema(
    {
        "name": "Pages",
        "data": {"type": "html", "field": "text"},
        "controls": [{"name": "sentiment", "type": "choice", "labels": ["negative", "positive"]}],
    }
)

_OPTIONS = [
    {"id": "POS", "text": "positive"},
    {"id": "NEU", "text": "neutral"},
    {"id": "NEG", "text": "negative"},
]


def _task(text: str, answer: str | None, **fields: Any) -> dict[str, Any]:
    """A task as db-out writes it: hashes, view, session and annotator, timestamp."""
    task = {"text": text, "_input_hash": -1282155, "_task_hash": 92233720, **fields}
    if answer is not None:
        task |= {
            "answer": answer,
            "_timestamp": 1715000000,
            "_annotator_id": "reviews-ann",
            "_session_id": "reviews-ann",
        }
    return task


TEXTCAT_MANUAL = [
    _task(
        "Great battery, lasts two days.",
        "accept",
        options=_OPTIONS,
        accept=["POS"],
        _view_id="choice",
        config={"choice_style": "single"},
        meta={"source": "app-store", "rating": 5},
    ),
    _task("It is a phone.", "accept", options=_OPTIONS, accept=["NEU"], _view_id="choice"),
    _task("Spam spam spam", "ignore", options=_OPTIONS, accept=[], _view_id="choice"),
]
TEXTCAT_MULTI = [
    _task(
        "Senate votes on new stadium funding",
        "accept",
        options=[{"id": "SPORTS", "text": "Sports"}, {"id": "POLITICS", "text": "Politics"}],
        accept=["POLITICS", "SPORTS"],
        config={"choice_style": "multiple"},
    ),
    _task("Weather is mild", "accept", options=[{"id": "TECH", "text": "Tech"}], accept=[]),
]
TEXTCAT_TEACH = [
    _task("Terrible support.", "accept", label="negative", score=0.41, priority=0.41),
    _task("Works fine I guess.", "reject", label="positive", score=0.52),
    _task("asdf", "ignore", label="negative", score=0.5),
    _task("Not sure yet", None, label="positive", score=0.48),  # still in the stream
]
NER_MANUAL = [
    _task(
        "Apple hired Tim Cook in Cupertino",
        "accept",
        tokens=[
            {"text": "Apple", "start": 0, "end": 5, "id": 0, "ws": True},
            {"text": "hired", "start": 6, "end": 11, "id": 1, "ws": True},
            {"text": "Tim", "start": 12, "end": 15, "id": 2, "ws": True},
            {"text": "Cook", "start": 16, "end": 20, "id": 3, "ws": True},
            {"text": "in", "start": 21, "end": 23, "id": 4, "ws": True},
            {"text": "Cupertino", "start": 24, "end": 33, "id": 5, "ws": False},
        ],
        spans=[
            {"start": 0, "end": 5, "token_start": 0, "token_end": 0, "label": "ORG"},
            {"start": 12, "end": 20, "token_start": 2, "token_end": 3, "label": "PERSON"},
            {"start": 24, "end": 33, "token_start": 5, "token_end": 5, "label": "GPE"},
        ],
        _view_id="ner_manual",
    ),
    _task("Nothing to see", "accept", spans=[], _view_id="ner_manual"),
    _task("Bad tokens here", "reject", spans=[], _view_id="ner_manual"),
]


def jsonl(tasks: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(t) for t in tasks) + "\n"


def read(
    data: str | list[dict[str, Any]], schema: ProjectSchema | None, **options: Any
) -> list[ItemIn]:
    text = data if isinstance(data, str) else jsonl(data)
    return list(ProdigyImporter(schema=schema, **options).read(io.BytesIO(text.encode())))


def test_textcat_manual_accepts_one_option_by_its_text_when_its_id_is_no_label() -> None:
    items = read(TEXTCAT_MANUAL, SENTIMENT)
    assert [i.label for i in items] == ["positive", "neutral", None]
    assert items[0].metadata == {
        "source": "app-store",
        "rating": 5,
        "prodigy_annotator": "reviews-ann",
        "prodigy_session": "reviews-ann",
    }
    assert items[2].metadata["prodigy_answer"] == "ignore"
    assert all(i.external_id is None for i in items)  # Prodigy tasks have no id


def test_textcat_manual_with_multiple_choice_fills_a_multi_choice_control() -> None:
    items = read(TEXTCAT_MULTI, TOPICS)
    assert [i.label for i in items] == [["SPORTS", "POLITICS"], []]  # [] : none applies


def test_textcat_teach_labels_only_the_accepted_answers() -> None:
    items = read(TEXTCAT_TEACH, SENTIMENT)
    assert [i.label for i in items] == ["negative", None, None, None]
    assert [i.metadata.get("prodigy_answer") for i in items] == [None, "reject", "ignore", None]
    # a reject says only what the item is not: kept where a reviewer can find it
    assert items[1].metadata["prodigy_label"] == "positive"
    assert "score" not in items[0].metadata and "_input_hash" not in items[0].metadata


def test_ner_manual_spans_are_character_offsets() -> None:
    items = read(NER_MANUAL, NER)
    assert [i.label for i in items] == [
        [
            {"start": 0, "end": 5, "label": "ORG"},
            {"start": 12, "end": 20, "label": "PERSON"},
            {"start": 24, "end": 33, "label": "GPE"},
        ],
        [],  # accepted with no entity: "nothing here"
        None,
    ]
    assert "tokens" not in items[0].metadata


def test_an_html_project_reads_the_html_field() -> None:
    task = _task("Great", "accept", html="<p><b>Great</b></p>", label="positive")
    (item,) = read([task], HTML)
    assert (item.payload, item.label) == ({"text": "<p><b>Great</b></p>"}, "positive")
    (item,) = read([_task("Plain", "accept", label="positive")], HTML)
    assert item.payload == {"text": "Plain"}


def test_an_id_field_names_a_field_of_the_task_or_of_its_meta() -> None:
    tasks = [
        _task("a", "accept", label="positive", doc_id="d-1"),
        _task("b", "accept", label="positive", meta={"doc_id": 2, "source": "x"}),
    ]
    items = read(tasks, SENTIMENT, id_field="doc_id")
    assert [(i.external_id, i.metadata.get("doc_id")) for i in items] == [
        ("d-1", None),
        ("2", None),
    ]
    assert items[1].metadata["source"] == "x"
    with pytest.raises(ImportFormatError, match="line 1, field 'doc_id': missing"):
        read([_task("c", "accept", label="positive")], SENTIMENT, id_field="doc_id")


@pytest.mark.parametrize(
    ("task", "schema", "field", "reason"),
    [
        (
            _task("Tim Cook", "accept", spans=[{"start": 4, "end": 12, "label": "PERSON"}]),
            NER,
            "spans",
            "ents[0]: end 12 is past the end of the text (8)",
        ),
        (
            _task("Tim Cook", "accept", spans=[{"start": 0, "end": 8, "label": "PER"}]),
            NER,
            "spans",
            "ents: 'PER' is not one of ORG, PERSON, GPE",
        ),
        (
            _task(
                "Tim Cook",
                "accept",
                spans=[
                    {"start": 0, "end": 8, "label": "PERSON"},
                    {"start": 4, "end": 8, "label": "ORG"},
                ],
            ),
            NER,
            "spans",
            "spans 0-8 and 4-8 overlap",
        ),
        (
            _task("Tim Cook", "accept", spans=[[0, 3, "PERSON"]]),
            NER,
            "spans[0]",
            "must be an object with start, end, label, got list",
        ),
        (
            _task("Tim Cook", "accept", spans={"start": 0}),
            NER,
            "spans",
            "must be a list of spans",
        ),
        (
            _task("meh", "accept", options=_OPTIONS, accept=["POS", "NEG"]),
            SENTIMENT,
            "accept",
            "2 labels ('positive', 'negative') for 'sentiment', a choice control that takes one",
        ),
        (
            _task("meh", "accept", options=_OPTIONS, accept="POS"),
            SENTIMENT,
            "accept",
            "must be a list of option ids, got string",
        ),
        (
            _task("meh", "accept", accept=["GREAT"]),
            SENTIMENT,
            "accept",
            "sentiment: 'GREAT' is not one of negative, neutral, positive",
        ),
        (
            _task("meh", "accept", label="positive"),
            NER,
            "label",
            "holds labels for the whole text, but the project's target 'ents' is a spans control",
        ),
        (
            _task("Tim Cook", "accept", spans=[{"start": 0, "end": 8, "label": "PERSON"}]),
            SENTIMENT,
            "spans",
            "holds spans, but the project's target 'sentiment' is a choice control",
        ),
        (_task("meh", "maybe", label="positive"), SENTIMENT, "answer", "must be accept, reject"),
        (_task("meh", "accept"), SENTIMENT, "answer", "holds no label"),
        ({"answer": "accept", "label": "positive"}, SENTIMENT, "text", "missing"),
    ],
)
def test_a_bad_task_is_refused_naming_its_line_and_field(
    task: dict[str, Any], schema: ProjectSchema, field: str, reason: str
) -> None:
    with pytest.raises(ImportFormatError) as caught:
        read([_task("fine", None), task], schema)
    assert (caught.value.line, caught.value.field) == (2, field)
    assert reason in caught.value.reason


def test_fields_prodigy_decides_are_refused_whole() -> None:
    with pytest.raises(LabelloopError, match="leave out the label field"):
        make_importer("prodigy", label_field="label")
    with pytest.raises(LabelloopError, match="holds no pre-annotations"):
        make_importer("prodigy", prediction_field="predictions")
    image = parse_schema(
        {
            "name": "Street",
            "data": {"type": "image", "field": "image"},
            "controls": [{"name": "objects", "type": "boxes", "labels": ["car"]}],
        }
    )
    with pytest.raises(LabelloopError, match="a Prodigy file holds text and HTML items"):
        make_exporter("prodigy", schema=image)


ANNOTATED_AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
"""When "ann" annotated: 1714555800 seconds after 1970-01-01 UTC (19844 days and 9.5 hours)."""
PROVENANCE = {
    "annotator": "ann",
    "annotated_at": "2024-05-01T09:30:00+00:00",
    "guideline_version": 2,
    "schema_version": 1,
    "strategy": "margin",
    "reason": "picked",
}
"""What :func:`record` says of its label, as the task's meta carries it."""


def record(item_id: int, label: Any, **fields: Any) -> ExportRecord:
    """A labeled record with no id of its own, by "ann" at ``ANNOTATED_AT`` under guideline
    version 2 and schema version 1, its item picked by margin ("picked")."""
    base = {
        "external_id": None,
        "text": "Apple hired Tim Cook",
        "guideline_version": 2,
        "annotated_at": ANNOTATED_AT,
    }
    return replace(sample_record(item_id), label=label, **(base | fields))


def write(schema: ProjectSchema | None, *records: ExportRecord) -> list[dict[str, Any]]:
    sink = io.BytesIO()
    make_exporter("prodigy", schema=schema).write(iter(records), sink)
    return [json.loads(line) for line in sink.getvalue().decode().splitlines()]


def test_a_choice_label_is_written_as_an_accepted_choice_task() -> None:
    (task,) = write(SENTIMENT, record(4, "positive", external_id="r-4", metadata={"lang": "en"}))
    assert task == {
        "text": "Apple hired Tim Cook",
        "meta": {"lang": "en", "id": "r-4", **PROVENANCE},
        "_annotator_id": "ann",
        "_session_id": "ann",
        "_timestamp": 1714555800,
        "options": [
            {"id": "negative", "text": "negative"},
            {"id": "neutral", "text": "neutral"},
            {"id": "positive", "text": "positive"},
        ],
        "accept": ["positive"],
        "config": {"choice_style": "single"},
        "_view_id": "choice",
        "answer": "accept",
    }
    (task,) = write(TOPICS, record(5, ["SPORTS", "TECH"]))
    assert (task["accept"], task["config"]) == (["SPORTS", "TECH"], {"choice_style": "multiple"})
    assert task["meta"]["id"] == 5  # no id of its own: labelloop's item id


def test_the_items_own_meta_keeps_its_names_and_labelloops_go_aside() -> None:
    own = {"id": "own-7", "annotator": "their-ann", "strategy": "manual", "source": "x"}
    (task,) = write(SENTIMENT, record(4, "positive", external_id="r-4", metadata=own))
    assert task["meta"] == {
        "id": "own-7",
        "annotator": "their-ann",
        "strategy": "manual",
        "source": "x",
        "annotated_at": "2024-05-01T09:30:00+00:00",
        "guideline_version": 2,
        "schema_version": 1,
        "reason": "picked",
        "labelloop": {"id": "r-4", "annotator": "ann", "strategy": "margin"},
    }
    assert (task["_annotator_id"], task["_timestamp"]) == ("ann", 1714555800)
    # read back: the item keeps its own values, labelloop's stay aside, the label is the same
    (item,) = read([task], SENTIMENT)
    assert item.label == "positive"
    assert (item.metadata["annotator"], item.metadata["strategy"]) == ("their-ann", "manual")
    assert item.metadata["labelloop"] == {"id": "r-4", "annotator": "ann", "strategy": "margin"}
    assert "prodigy_annotator" not in item.metadata  # "ann" is said once, under labelloop


def test_a_round_trip_keeps_the_earlier_labelloop_meta_and_reads_ours_once() -> None:
    """A task whose item came from an earlier labelloop export (its meta has ``labelloop``
    naming another annotator) keeps that, puts ours under ``labelloop_2``, and reads back
    without a ``prodigy_annotator`` that repeats ours."""
    own = {"annotator": "their-ann", "labelloop": {"annotator": "bob", "strategy": "margin"}}
    (task,) = write(SENTIMENT, record(4, "positive", external_id="r-4", metadata=own))
    assert task["meta"]["labelloop"] == {"annotator": "bob", "strategy": "margin"}
    assert task["meta"]["labelloop_2"] == {"annotator": "ann"}
    (item,) = read([task], SENTIMENT)
    assert item.metadata["labelloop"] == {"annotator": "bob", "strategy": "margin"}
    assert "prodigy_annotator" not in item.metadata  # "ann" is said once, under labelloop_2


def test_a_label_says_under_which_guideline_it_was_made() -> None:
    v1 = record(1, "positive", external_id="a-1", guideline_version=1)
    v2 = record(2, "negative", external_id="a-2")
    tasks = write(SENTIMENT, v1, v2)
    assert [t["meta"]["guideline_version"] for t in tasks] == [1, 2]
    items = read(jsonl(tasks), SENTIMENT, id_field="id")
    assert [(i.external_id, i.label, i.metadata["guideline_version"]) for i in items] == [
        ("a-1", "positive", 1),
        ("a-2", "negative", 2),
    ]


def test_an_imported_or_auto_label_names_no_annotator_and_no_time() -> None:
    imported = record(1, "positive", annotator=None, resolution="imported", strategy=None)
    auto = record(2, "negative", annotator=None, resolution="auto", model_version=3)
    first, second = write(SENTIMENT, imported, auto)
    assert first["meta"] == {
        "id": 1,
        "guideline_version": 2,
        "schema_version": 1,
        "reason": "picked",
    }
    assert second["meta"]["model_version"] == 3 and "annotator" not in second["meta"]
    for task in (first, second):
        assert not {"_annotator_id", "_session_id", "_timestamp"} & task.keys()


def test_spans_are_written_as_a_ner_manual_task_with_tokens() -> None:
    spans = [
        {"start": 0, "end": 5, "label": "ORG", "text": "Apple"},
        {"start": 12, "end": 20, "label": "PERSON", "text": "Tim Cook"},
        {"start": 13, "end": 15, "label": "GPE", "text": "im"},  # no token edge
    ]
    (task,) = write(NER, record(1, spans))
    assert task["_view_id"] == "ner_manual" and task["answer"] == "accept"
    assert [(t["text"], t["start"], t["end"], t["id"], t["ws"]) for t in task["tokens"]] == [
        ("Apple", 0, 5, 0, True),
        ("hired", 6, 11, 1, True),
        ("Tim", 12, 15, 2, True),
        ("Cook", 16, 20, 3, False),
    ]
    assert task["spans"] == [
        {"start": 0, "end": 5, "label": "ORG", "token_start": 0, "token_end": 0},
        {"start": 12, "end": 20, "label": "PERSON", "token_start": 2, "token_end": 3},
        {"start": 13, "end": 15, "label": "GPE"},
    ]


def test_spans_that_may_overlap_are_written_as_a_spans_manual_task() -> None:
    overlapping = parse_schema(
        {
            "name": "Nested",
            "controls": [
                {"name": "ents", "type": "spans", "labels": ["ORG", "PERSON"], "overlap": True}
            ],
        }
    )
    spans = [
        {"start": 0, "end": 20, "label": "ORG"},
        {"start": 12, "end": 20, "label": "PERSON"},
    ]
    (task,) = write(overlapping, record(1, spans))
    assert task["_view_id"] == "spans_manual"
    (item,) = read([task], overlapping)
    assert item.label == spans


def test_a_review_tasks_copies_of_each_annotators_task_are_dropped() -> None:
    versions = [{**_task("x", "accept", label="positive"), "sessions": ["a"]}] * 2
    task = _task("x", "accept", label="positive", versions=versions, sessions=["a", "b"])
    (item,) = read([task], SENTIMENT)
    assert item.metadata["sessions"] == ["a", "b"] and "versions" not in item.metadata


def test_an_html_item_is_written_with_its_markup_and_its_text() -> None:
    rec = record(1, "positive", text="<p><b>Great</b></p>", payload={"text": "Great"})
    (task,) = write(HTML, rec)
    assert (task["html"], task["text"]) == ("<p><b>Great</b></p>", "Great")
    (item,) = read([task], HTML)
    assert (item.payload["text"], item.label) == ("<p><b>Great</b></p>", "positive")


@pytest.mark.parametrize(
    ("schema", "label"),
    [
        (
            NER,
            [{"start": 0, "end": 5, "label": "ORG"}, {"start": 12, "end": 20, "label": "PERSON"}],
        ),
        (NER, []),
        (SENTIMENT, "negative"),
        (TOPICS, ["SPORTS", "TECH"]),
        (TOPICS, []),
    ],
)
def test_an_export_reads_back_to_the_same_labels(schema: ProjectSchema, label: Any) -> None:
    sink = io.BytesIO()
    ProdigyExporter(schema=schema).write([record(1, label, external_id="a-1")], sink)
    (item,) = read(sink.getvalue().decode(), schema, id_field="id")
    assert (item.external_id, item.label) == ("a-1", label)
    assert item.metadata == PROVENANCE  # _annotator_id repeats meta's annotator: kept once


def test_without_a_schema_the_task_says_what_it_holds() -> None:
    tasks = write(None, record(1, "pos"), record(2, [{"start": 0, "end": 5, "label": "ORG"}]))
    assert (tasks[0]["accept"], tasks[0]["options"]) == (["pos"], [{"id": "pos", "text": "pos"}])
    assert tasks[1]["spans"][0]["label"] == "ORG"
    items = read(jsonl(tasks), None)
    assert [i.label for i in items] == ["pos", [{"start": 0, "end": 5, "label": "ORG"}]]


def test_a_task_without_its_text_lists_the_fields_it_has() -> None:
    # the error said where Prodigy keeps the text, not what this file used instead
    with pytest.raises(ImportFormatError) as caught:
        read([{"body": "Great", "label": "positive", "answer": "accept"}], SENTIMENT)
    assert (caught.value.line, caught.value.field) == (1, "text")
    assert caught.value.reason == (
        "missing; a Prodigy record holds its text in 'text'; the record has: body, label, answer"
    )
    task = {"body": "Great", "label": "positive", "answer": "accept"}
    (item,) = read([task], SENTIMENT, text_field="body")
    assert (item.payload, item.label) == ({"text": "Great"}, "positive")
