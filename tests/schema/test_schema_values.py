"""Annotation values against a schema, and labels as they arrive in import files."""

from __future__ import annotations

import pytest

from labelloop.errors import SchemaError
from labelloop.schema import label_value, parse_schema, validate_value

SCHEMA = parse_schema(
    {
        "name": "P",
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": ["negative", "neutral", "positive"]},
            {"name": "topics", "type": "multi_choice", "labels": ["sport", "politics", "tech"]},
        ],
    }
)
SENTIMENT, TOPICS = SCHEMA.controls


def test_valid_value_is_normalized_to_schema_label_order() -> None:
    value = {"sentiment": "positive", "topics": ["tech", "sport"]}
    assert validate_value(SCHEMA, value) == {"sentiment": "positive", "topics": ["sport", "tech"]}
    assert value["topics"] == ["tech", "sport"]  # the caller's value is not changed


def test_optional_controls_may_be_left_out_or_empty() -> None:
    assert validate_value(SCHEMA, {"sentiment": "neutral"}) == {"sentiment": "neutral"}
    assert validate_value(SCHEMA, {"sentiment": "neutral", "topics": []}) == {
        "sentiment": "neutral",
        "topics": [],
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"sentiment": "angry"}, "sentiment: 'angry' is not one of negative, neutral, positive"),
        ({}, "sentiment: required"),
        ({"sentiment": None}, "sentiment: required"),
        ({"sentiment": ["positive"]}, "sentiment: must be one label name; got list"),
        (
            {"sentiment": "positive", "mood": "x"},
            "'mood' is not a control; controls are: sentiment, topics",
        ),
        (
            {"sentiment": "positive", "topics": "tech"},
            "topics: must be a list of label names; got string",
        ),
        ({"sentiment": "positive", "topics": ["tech", "tech"]}, "topics: 'tech' is given twice"),
        (
            {"sentiment": "positive", "topics": ["art"]},
            "topics: 'art' is not one of sport, politics, tech",
        ),
        (
            {"sentiment": "positive", "topics": [1]},
            "topics: must be a list of label names; got a number",
        ),
    ],
)
def test_bad_value_names_control_and_label(value: dict[str, object], message: str) -> None:
    with pytest.raises(SchemaError) as info:
        validate_value(SCHEMA, value)
    assert info.value.message == message


def test_value_must_be_a_mapping() -> None:
    with pytest.raises(SchemaError, match="value: must be a mapping"):
        validate_value(SCHEMA, ["positive"])  # type: ignore[arg-type]


def test_validate_value_is_case_sensitive() -> None:
    with pytest.raises(SchemaError, match="'Positive' is not one of"):
        validate_value(SCHEMA, {"sentiment": "Positive"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("positive", "positive"),
        ("  positive\n", "positive"),
        ("Positive", "positive"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_label_value_for_choice(raw: object, expected: object) -> None:
    assert label_value(SENTIMENT, raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tech,sport", ["sport", "tech"]),
        ("tech | politics", ["politics", "tech"]),
        (["tech", " sport "], ["sport", "tech"]),
        (["tech", "tech"], ["tech"]),
        ([], []),
        ("", None),
        (None, None),
    ],
)
def test_label_value_for_multi_choice(raw: object, expected: object) -> None:
    assert label_value(TOPICS, raw) == expected


def test_label_value_accepts_numeric_labels() -> None:
    binary = parse_schema(
        {"name": "P", "controls": [{"name": "y", "type": "choice", "labels": ["0", "1"]}]}
    )
    assert label_value(binary.target, 1) == "1"


@pytest.mark.parametrize(
    ("control", "raw", "message"),
    [
        (SENTIMENT, "angry", "sentiment: 'angry' is not one of negative, neutral, positive"),
        (SENTIMENT, ["positive"], "sentiment: must be a label name; got list"),
        (TOPICS, "tech|art", "topics: 'art' is not one of sport, politics, tech"),
        (TOPICS, {"tech": 1}, "topics: must be a list of label names; got mapping"),
    ],
)
def test_label_value_rejects_unknown_labels(control: object, raw: object, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        label_value(control, raw)  # type: ignore[arg-type]
    assert info.value.message == message


def test_an_empty_answer_says_what_it_holds_none_of() -> None:
    from labelloop.schema.values import value_words

    # an annotator who accepted an image with no boxes answered that, not an unknown "none"
    assert value_words("boxes", []) == "no boxes"
    assert value_words("spans", []) == "no spans"
    assert value_words("multi_choice", []) == "no labels"
    box = {"x": 1, "y": 2, "w": 3, "h": 4, "label": "car"}
    assert value_words("boxes", [box, {**box, "label": "sign"}]) == "2 boxes: car, sign"
    assert value_words("spans", [{"start": 0, "end": 3, "label": "person"}]) == "1 span: person"
    assert value_words("multi_choice", ["sports", "politics"]) == "sports, politics"
    assert value_words("choice", {"label": "positive", "score": 0.8}) == "positive"
    assert value_words("choice", None) == "—"
