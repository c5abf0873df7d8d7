"""Spans, boxes, rating and text controls, and the table, audio and html data types."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import SchemaError
from labelloop.schema import label_value, parse_schema, validate_value

TEXT = "Alice flew to Paris"


def schema(data: dict[str, Any] | None = None, *controls: dict[str, Any]) -> Any:
    return parse_schema({"name": "P", "data": data or {"type": "text"}, "controls": list(controls)})


def spans(**extra: Any) -> dict[str, Any]:
    return {"name": "ents", "type": "spans", "labels": ["PER", "LOC"], **extra}


def boxes() -> dict[str, Any]:
    return {"name": "objects", "type": "boxes", "labels": ["car", "person"]}


def error(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(SchemaError) as info:
        fn(*args, **kwargs)
    return info.value.message if hasattr(info.value, "message") else str(info.value)


def test_the_target_prefers_choice_then_spans_then_boxes() -> None:
    rating = {"name": "stars", "type": "rating"}
    s = schema(None, rating, spans(), {"name": "topic", "type": "choice", "labels": ["a", "b"]})
    assert s.target.name == "topic"
    assert schema(None, rating, spans()).target.name == "ents"
    assert schema({"type": "image"}, {"name": "note", "type": "text"}, boxes()).target.name == (
        "objects"
    )


def test_a_schema_with_only_rating_and_text_has_nothing_to_learn() -> None:
    stars, note = {"name": "stars", "type": "rating"}, {"name": "n", "type": "text"}
    message = error(schema, None, stars, note)
    assert message == (
        "controls: no control to learn from; add a choice, multi_choice, spans or boxes control"
    )


def test_rating_and_text_cannot_be_the_target() -> None:
    message = error(schema, None, spans(), {"name": "stars", "type": "rating", "target": True})
    assert message.startswith("controls[1].target: a rating control cannot be learned")


def test_spans_need_text_and_boxes_need_images() -> None:
    assert error(schema, {"type": "image"}, spans()) == (
        "controls[0].type: spans needs data.type text; this project's data is image"
    )
    assert error(schema, {"type": "text"}, boxes()) == (
        "controls[0].type: boxes needs data.type image; this project's data is text"
    )


def test_rating_labels_are_its_values_and_options_belong_to_their_type() -> None:
    s = schema(None, spans(), {"name": "stars", "type": "rating", "max": 3})
    stars = s.control("stars")
    assert stars.labels == ("1", "2", "3")
    assert stars.hotkeys == ("3", "4", "5")  # default keys number on after the spans' 1 and 2
    assert stars.to_dict()["max"] == 3
    assert error(schema, None, spans(), {"name": "s", "type": "rating", "max": 11}) == (
        "controls[1].max: must be a whole number from 2 to 10; got 11"
    )
    assert error(schema, None, spans(max=3)) == "controls[0].max: only a rating control has max"
    assert error(schema, None, spans(), {"name": "t", "type": "text", "labels": ["x"]}) == (
        "controls[1].labels: a text control has no labels"
    )


def test_schema_round_trips_through_to_dict() -> None:
    s = parse_schema(
        {
            "name": "Rows",
            "data": {"type": "table", "columns": ["age", "city"]},
            "controls": [
                {"name": "risk", "type": "choice", "labels": ["low", "high"]},
                {"name": "stars", "type": "rating", "max": 4},
                {"name": "why", "type": "text", "max_chars": 50},
            ],
        }
    )
    assert s.data_columns == ("age", "city")
    again = parse_schema(s.to_dict())
    assert again == s


def test_columns_only_for_tables() -> None:
    message = error(schema, {"type": "text", "columns": ["a"]}, spans())
    assert message == "data.columns: only table data has columns"


def test_spans_are_sorted_checked_against_the_text_and_overlap_is_refused() -> None:
    s = schema(None, spans())
    value = {"ents": [{"start": 14, "end": 19, "label": "LOC"}, [0, 5, "PER"]]}
    assert validate_value(s, value, {"text": TEXT}) == {
        "ents": [
            {"start": 0, "end": 5, "label": "PER"},
            {"start": 14, "end": 19, "label": "LOC"},
        ]
    }
    assert validate_value(s, {"ents": []}, {"text": TEXT}) == {"ents": []}
    assert error(validate_value, s, {"ents": [[14, 20, "LOC"]]}, {"text": TEXT}) == (
        "ents[0]: end 20 is past the end of the text (19)"
    )
    assert error(validate_value, s, {"ents": [[0, 5, "PER"], [3, 9, "LOC"]]}) == (
        "ents: spans 0-5 and 3-9 overlap, and this control does not allow overlap"
    )
    assert error(validate_value, s, {"ents": [[5, 5, "PER"]]}).startswith(
        "ents[0]: start and end must be whole numbers with 0 <= start < end"
    )
    assert error(validate_value, s, {"ents": [[0, 5, "ORG"]]}) == (
        "ents: 'ORG' is not one of PER, LOC"
    )


def test_overlapping_spans_where_the_control_allows_them() -> None:
    s = schema(None, spans(overlap=True))
    value = validate_value(s, {"ents": [[0, 9, "PER"], [6, 19, "LOC"]]}, {"text": TEXT})
    assert [(v["start"], v["end"]) for v in value["ents"]] == [(0, 9), (6, 19)]


def test_boxes_are_checked_against_the_image_size() -> None:
    s = schema({"type": "image"}, boxes())
    box = {"x": 10, "y": 5.004, "w": 20, "h": 30, "label": "car", "score": 0.4}
    assert validate_value(s, {"objects": [box]}, {"width": 64, "height": 64}) == {
        "objects": [{"x": 10.0, "y": 5.0, "w": 20.0, "h": 30.0, "label": "car"}]
    }
    wide = {**box, "w": 60}
    assert error(validate_value, s, {"objects": [wide]}, {"width": 64, "height": 64}) == (
        "objects[0]: box ends past the image width (64)"
    )
    flat = {**box, "h": 0}
    assert error(validate_value, s, {"objects": [flat]}).startswith(
        "objects[0]: x and y must be >= 0 and w and h > 0"
    )
    assert error(validate_value, s, {"objects": [{**box, "x": "1"}]}) == (
        "objects[0].x: must be a number; got '1'"
    )
    huge = error(validate_value, s, {"objects": [{**box, "w": 10**400}]})  # beyond a float
    assert huge == f"objects[0].w: must be a number; got {10**400}"


def test_rating_and_text_values() -> None:
    s = schema(
        None,
        spans(),
        {"name": "stars", "type": "rating", "max": 5},
        {"name": "note", "type": "text", "max_chars": 10},
    )
    value = validate_value(s, {"ents": [], "stars": "4", "note": "fine"})
    assert value == {"ents": [], "stars": 4, "note": "fine"}
    assert "note" not in validate_value(s, {"ents": [], "note": "  "})
    assert error(validate_value, s, {"ents": [], "stars": 6}) == (
        "stars: must be a whole number from 1 to 5; got 6"
    )
    assert error(validate_value, s, {"ents": [], "note": "x" * 11}) == (
        "note: 11 characters; the limit is 10"
    )


def test_imported_labels_of_every_type() -> None:
    s = schema(None, spans(), {"name": "stars", "type": "rating"})
    assert label_value(s.control("ents"), [[0, 5, "PER"]], {"text": TEXT}) == [
        {"start": 0, "end": 5, "label": "PER"}
    ]
    assert label_value(s.control("stars"), 3) == 3
    assert label_value(s.control("stars"), "") is None
