"""doccano JSONL: hand-written exports of a text classification and a sequence labeling project
(both shapes) read into labelloop labels, bad examples refused naming the line and the field,
and labelloop labels written back as doccano reads them."""

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
from labelloop.ingest.doccano import DoccanoExporter, DoccanoImporter
from labelloop.schema import ProjectSchema, parse_schema

SENTIMENT = parse_schema(
    {
        "name": "Reviews",
        "controls": [{"name": "sentiment", "type": "choice", "labels": ["negative", "positive"]}],
    }
)
TOPICS = parse_schema(
    {
        "name": "News",
        "controls": [
            {"name": "topics", "type": "multi_choice", "labels": ["sports", "politics", "tech"]}
        ],
    }
)
NER = parse_schema(
    {
        "name": "Entities",
        "controls": [{"name": "ents", "type": "spans", "labels": ["ORG", "PER", "LOC"]}],
    }
)

CLASSIFICATION = """\
{"id": 1, "text": "The battery lasts all day.", "Comments": [], "label": ["positive"]}
{"id": 2, "text": "Screen cracked in a week.", "Comments": ["check"], "label": ["negative"]}
{"id": 3, "text": "Arrived on Tuesday.", "Comments": [], "label": []}
{"id": 4, "text": "Love it", "labels": ["Positive"], "source": "app"}
"""
"""A doccano 1.x text classification export; the last line as older versions wrote it."""

SEQUENCE = """\
{"id": 7, "text": "Apple hired Tim Cook in Cupertino.", "label": [[0, 5, "ORG"], [12, 20, "PER"]]}
{"id": 8, "text": "Nothing here.", "label": []}
"""
RELATIONS = (
    json.dumps(
        {
            "id": 9,
            "text": "Sony sued Nintendo.",
            "entities": [
                {"id": 31, "label": "ORG", "start_offset": 0, "end_offset": 4},
                {"id": 32, "label": "ORG", "start_offset": 10, "end_offset": 18},
            ],
            "relations": [{"id": 5, "from_id": 31, "to_id": 32, "type": "sued"}],
            "Comments": [],
        }
    )
    + "\n"
)
"""A sequence labeling export and the relation-mode export of doccano 1.5 and later."""


def read(data: str, schema: ProjectSchema | None, **options: Any) -> list[ItemIn]:
    return list(DoccanoImporter(schema=schema, **options).read(io.BytesIO(data.encode())))


def refusal(data: str, schema: ProjectSchema | None = NER) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as caught:
        read(data, schema)
    return caught.value


def test_a_classification_export_reads_one_label_each_and_keeps_comments() -> None:
    items = read(CLASSIFICATION, SENTIMENT)
    assert [(i.line, i.external_id, i.label) for i in items] == [
        (1, "1", "positive"),
        (2, "2", "negative"),
        (3, "3", None),  # doccano writes [] for an example no one labeled
        (4, "4", "positive"),  # "labels", and the label's case as the schema spells it
    ]
    assert [i.metadata for i in items] == [
        {"Comments": []},
        {"Comments": ["check"]},
        {"Comments": []},
        {"source": "app"},
    ]


def test_several_labels_go_to_a_multi_choice_control_in_schema_order() -> None:
    line = {"id": 5, "text": "Vote on the new stadium", "label": ["sports", "politics"]}
    (item,) = read(json.dumps(line), TOPICS)
    assert item.label == ["sports", "politics"]
    (item,) = read(json.dumps({**line, "label": ["tech", "sports"]}), TOPICS)
    assert item.label == ["sports", "tech"]


def test_both_sequence_labeling_shapes_read_as_character_spans() -> None:
    items = read(SEQUENCE + RELATIONS, NER)
    assert [(i.external_id, i.label) for i in items] == [
        (
            "7",
            [{"start": 0, "end": 5, "label": "ORG"}, {"start": 12, "end": 20, "label": "PER"}],
        ),
        ("8", None),
        (
            "9",
            [{"start": 0, "end": 4, "label": "ORG"}, {"start": 10, "end": 18, "label": "ORG"}],
        ),
    ]
    assert items[0].payload["text"][12:20] == "Tim Cook"
    assert items[2].metadata == {"Comments": []}  # relations are dropped, not metadata


def test_ids_are_optional_unless_an_id_field_is_named() -> None:
    (item,) = read('{"text": "no id yet", "label": ["positive"]}', SENTIMENT)
    assert item.external_id is None
    (item,) = read('{"id": 3, "uid": "a-1", "text": "x", "label": []}', SENTIMENT, id_field="uid")
    assert (item.external_id, item.metadata) == ("a-1", {"id": 3})
    with pytest.raises(ImportFormatError, match="line 1, field 'uid': missing"):
        read('{"id": 3, "text": "x"}', SENTIMENT, id_field="uid")
    with pytest.raises(ImportFormatError, match="line 1, field 'id': must be a string or integer"):
        read('{"id": [3], "text": "x"}', SENTIMENT)


@pytest.mark.parametrize(
    ("line2", "schema", "field", "reason"),
    [
        (
            {"id": 2, "text": "Tim Cook", "label": [[4, 12, "PER"]]},
            NER,
            "label",
            "ents[0]: end 12 is past the end of the text (8)",
        ),
        (
            {"id": 2, "text": "Tim Cook", "label": [[0, 3, "PERSON"]]},
            NER,
            "label",
            "ents: 'PERSON' is not one of ORG, PER, LOC",
        ),
        (
            {"id": 2, "text": "Tim Cook", "label": [[0, 8, "PER"], [4, 8, "LOC"]]},
            NER,
            "label",
            "spans 0-8 and 4-8 overlap",
        ),
        (
            {"id": 2, "text": "Tim Cook", "entities": [{"label": "PER", "start_offset": 0}]},
            NER,
            "entities",
            "start and end must be whole numbers",
        ),
        (
            {"id": 2, "text": "Tim Cook", "label": [[0, 3]]},
            NER,
            "label[0]",
            "must be [start, end, label], got 2 values",
        ),
        (
            {"id": 2, "text": "meh", "label": ["positive", "negative"]},
            SENTIMENT,
            "label",
            "2 labels ('positive', 'negative') for 'sentiment', a choice control that takes one",
        ),
        (
            {"id": 2, "text": "meh", "label": ["great"]},
            SENTIMENT,
            "label",
            "sentiment: 'great' is not one of negative, positive",
        ),
        (
            {"id": 2, "text": "Tim Cook", "label": ["PER"]},
            NER,
            "label",
            "holds labels for the whole text, but the project's target 'ents' is a spans control",
        ),
        (
            {"id": 2, "text": "Tim Cook", "label": [[0, 3, "PER"]]},
            SENTIMENT,
            "label",
            "holds spans, but the project's target 'sentiment' is a choice control",
        ),
        ({"id": 2, "text": "x", "label": {"a": 1}}, SENTIMENT, "label", "must be a list"),
        ({"id": 2, "text": "x", "label": [None]}, SENTIMENT, "label[0]", "must be a label name"),
        ({"id": 2, "label": ["positive"]}, SENTIMENT, "text", "missing"),
        ({"id": 2, "text": "  ", "label": ["positive"]}, SENTIMENT, "text", "empty text"),
    ],
)
def test_a_bad_example_is_refused_naming_its_line_and_field(
    line2: dict[str, Any], schema: ProjectSchema, field: str, reason: str
) -> None:
    first = '{"id": 1, "text": "Apple", "label": []}\n'
    error = refusal(first + json.dumps(line2), schema)
    assert (error.line, error.field) == (2, field)
    assert reason in error.reason


def test_a_broken_line_is_refused_as_jsonl_refuses_it() -> None:
    error = refusal('{"id": 1, "text": "Apple", "label": []}\n{"id": 2, "text": \n')
    assert error.line == 2 and "not valid JSON" in error.reason
    error = refusal('{"id": 1, "text": "a", "label": [[0, 1e400, "ORG"]]}')
    assert error.line == 1 and error.field == "label"


def test_an_image_project_and_a_predictions_field_are_refused() -> None:
    image = parse_schema(
        {
            "name": "Street",
            "data": {"type": "image", "field": "image"},
            "controls": [{"name": "objects", "type": "boxes", "labels": ["car"]}],
        }
    )
    with pytest.raises(LabelloopError, match="a doccano file holds text and HTML items"):
        make_importer("doccano", schema=image)
    with pytest.raises(LabelloopError, match="a doccano file holds text and HTML items"):
        make_exporter("doccano", schema=image)
    with pytest.raises(LabelloopError, match="holds no pre-annotations"):
        make_importer("doccano", prediction_field="predictions")


def record(item_id: int, label: Any, **fields: Any) -> ExportRecord:
    """A labeled record with no id of its own, by "ann" under guideline version 2."""
    base = {"external_id": None, "text": "Apple hired Tim Cook", "guideline_version": 2}
    return replace(sample_record(item_id), label=label, **(base | fields))


PROVENANCE = {
    "annotator": "ann",
    "guideline_version": 2,
    "schema_version": 1,
    "strategy": "margin",
    "reason": "picked",
}
"""What a doccano example says of where :func:`record`'s label came from."""


def write(schema: ProjectSchema | None, *records: ExportRecord) -> list[dict[str, Any]]:
    sink = io.BytesIO()
    make_exporter("doccano", schema=schema).write(iter(records), sink)
    return [json.loads(line) for line in sink.getvalue().decode().splitlines()]


def test_labels_are_written_as_doccano_writes_them() -> None:
    spans = [
        {"start": 0, "end": 5, "label": "ORG", "text": "Apple"},
        {"start": 12, "end": 20, "label": "PER", "text": "Tim Cook"},
    ]
    assert write(NER, record(1, spans, external_id="7", metadata={"source": "wire"})) == [
        {
            "id": 7,
            "text": "Apple hired Tim Cook",
            "label": [[0, 5, "ORG"], [12, 20, "PER"]],
            "source": "wire",
            **PROVENANCE,
        }
    ]
    assert write(SENTIMENT, record(3, "positive")) == [
        {"id": 3, "text": "Apple hired Tim Cook", "label": ["positive"], **PROVENANCE}
    ]
    assert write(TOPICS, record(4, ["sports", "tech"], external_id="n-4"))[0]["label"] == [
        "sports",
        "tech",
    ]


def test_metadata_named_like_doccanos_own_fields_goes_under_meta() -> None:
    (row,) = write(SENTIMENT, record(1, "negative", metadata={"label": "old", "lang": "en"}))
    assert row == {
        "id": 1,
        "text": "Apple hired Tim Cook",
        "label": ["negative"],
        "lang": "en",
        **PROVENANCE,
        "meta": {"label": "old"},
    }


def test_each_example_says_who_labeled_it_when_under_which_guideline_and_why() -> None:
    at = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    picked = "the model was torn between negative (51%) and positive (49%)"
    (row,) = write(
        SENTIMENT,
        record(1, "negative", annotator="rita", annotated_at=at, schema_version=3, reason=picked),
    )
    assert (row["annotator"], row["annotated_at"]) == ("rita", "2024-05-01T09:30:00+00:00")
    assert (row["guideline_version"], row["schema_version"]) == (2, 3)
    assert (row["strategy"], row["reason"]) == ("margin", picked)
    # An imported label has no annotator nor versions: nothing is written as null.
    (bare,) = write(
        SENTIMENT,
        record(
            2,
            "positive",
            annotator=None,
            guideline_version=None,
            schema_version=None,
            strategy=None,
            reason=None,
            resolution="imported",
        ),
    )
    assert bare == {"id": 2, "text": "Apple hired Tim Cook", "label": ["positive"]}


def test_provenance_the_items_metadata_names_already_goes_under_labelloop() -> None:
    own = {"annotator": "their-ann", "guideline_version": "2024 handbook"}
    (row,) = write(SENTIMENT, record(1, "negative", metadata=own))
    assert (row["annotator"], row["guideline_version"]) == ("their-ann", "2024 handbook")
    assert row["labelloop"] == {"annotator": "ann", "guideline_version": 2}
    assert row["schema_version"] == 1


def test_an_items_own_labelloop_field_keeps_its_values_beside_ours() -> None:
    """An exported file imported into another project brings ``labelloop`` in as metadata:
    exported again, ours join it when no name clashes, else go to the first free
    ``labelloop_2``, ``labelloop_3``, ... and nothing of the item's is overwritten."""
    own = {"annotator": "their-ann", "labelloop": {"x": 1}}
    (row,) = write(SENTIMENT, record(1, "negative", metadata=own))
    assert row["annotator"] == "their-ann"
    assert row["labelloop"] == {"x": 1, "annotator": "ann"}
    earlier = {"annotator": "their-ann", "labelloop": {"annotator": "bob"}, "labelloop_2": "n"}
    (row,) = write(SENTIMENT, record(1, "negative", metadata=earlier))
    assert (row["labelloop"], row["labelloop_2"]) == ({"annotator": "bob"}, "n")
    assert row["labelloop_3"] == {"annotator": "ann"}


def test_without_a_schema_the_value_says_what_it_is() -> None:
    rows = write(
        None,
        record(1, "pos"),
        record(2, ["a", "b"]),
        record(3, [{"start": 0, "end": 5, "label": "ORG"}]),
    )
    assert [r["label"] for r in rows] == [["pos"], ["a", "b"], [[0, 5, "ORG"]]]
    assert isinstance(make_exporter("doccano"), DoccanoExporter)


@pytest.mark.parametrize(
    ("schema", "label"),
    [
        (NER, [{"start": 0, "end": 5, "label": "ORG"}, {"start": 12, "end": 20, "label": "PER"}]),
        (SENTIMENT, "negative"),
        (TOPICS, ["sports", "tech"]),
    ],
)
def test_an_export_reads_back_to_the_same_labels(schema: ProjectSchema, label: Any) -> None:
    sink = io.BytesIO()
    records = [record(1, label, external_id="a-1", metadata={"source": "wire"})]
    DoccanoExporter(schema=schema).write(records, sink)
    (item,) = read(sink.getvalue().decode(), schema)
    # The provenance comes back as metadata, as any other field of an example does.
    assert (item.external_id, item.label) == ("a-1", label)
    assert item.metadata == {"source": "wire", **PROVENANCE}


EMOJI_TEXT = "🎉 Ada Lovelace 👨‍👩‍👧 joined Acme in London."
"""Offsets past an emoji differ: doccano's editor counts UTF-16 code units (its JavaScript
string indices), so 🎉 counts two and the family (three people, two joiners) eight."""


def _utf16(text: str, words: str) -> list[int]:
    start = text.index(words)
    return [len(text[:start].encode("utf-16-le")) // 2, len(words.encode("utf-16-le")) // 2]


def test_offsets_past_an_emoji_are_read_as_doccanos_editor_counts_them() -> None:
    (ada, acme) = (_utf16(EMOJI_TEXT, "Ada Lovelace"), _utf16(EMOJI_TEXT, "London"))
    triples = [[ada[0], ada[0] + ada[1], "PER"], [acme[0], acme[0] + acme[1], "LOC"]]
    entities = [
        {"id": k, "label": label, "start_offset": s, "end_offset": e}
        for k, (s, e, label) in enumerate(triples)
    ]
    for line in (
        {"text": EMOJI_TEXT, "label": triples},
        {"text": EMOJI_TEXT, "entities": entities},
    ):
        (item,) = read(json.dumps(line), NER)
        assert [EMOJI_TEXT[s["start"] : s["end"]] for s in item.label] == ["Ada Lovelace", "London"]


def test_an_offset_inside_an_emoji_is_refused_naming_the_line_and_the_span() -> None:
    caught = refusal(json.dumps({"text": EMOJI_TEXT, "label": [[1, 6, "PER"]]}) + "\n")
    assert (caught.line, caught.field) == (1, "label[0]")
    assert "UTF-16" in caught.reason


def test_spans_are_written_in_doccanos_utf16_units_and_read_back() -> None:
    start = EMOJI_TEXT.index("London")
    spans = [{"start": start, "end": start + 6, "label": "LOC", "text": "London"}]
    (row,) = write(NER, record(1, spans, text=EMOJI_TEXT))
    s, e, _ = row["label"][0]
    assert EMOJI_TEXT.encode("utf-16-le")[2 * s : 2 * e].decode("utf-16-le") == "London"
    (item,) = read(json.dumps(row), NER)
    assert item.label == [{"start": start, "end": start + 6, "label": "LOC"}]
