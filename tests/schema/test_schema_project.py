"""Project schemas: the user-facing YAML/JSON format and the messages a bad one gives."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import labelloop.schema
from labelloop.errors import SchemaError
from labelloop.schema import ProjectSchema, ProjectSettings, parse_schema

TWEETS = """\
name: Tweet sentiment
data:
  type: text
  field: text
controls:
  - name: sentiment
    type: choice
    labels: [negative, neutral, positive]
    hotkeys: ["1", "2", "3"]
    target: true
guideline: |
  Label the author's attitude, not the topic.
settings:
  strategy: margin
  retrain_every: 10
  overlap: 1
"""


def schema_with(**control: object) -> dict[str, object]:
    """A minimal schema dict whose one control has the given keys."""
    base: dict[str, object] = {"name": "c", "type": "choice", "labels": ["a", "b"]}
    base.update(control)
    return {"name": "P", "controls": [base]}


def error_of(source: object) -> str:
    with pytest.raises(SchemaError) as info:
        parse_schema(source)  # type: ignore[arg-type]
    return info.value.message


def test_design_example_parses_with_defaults_filled() -> None:
    schema = parse_schema(TWEETS)
    assert schema.name == "Tweet sentiment"
    assert (schema.data_type, schema.data_field) == ("text", "text")
    assert schema.target.name == "sentiment"
    assert schema.target.labels == ("negative", "neutral", "positive")
    assert schema.guideline.startswith("Label the author's attitude")
    assert schema.settings["queue_size"] == 500
    assert schema.settings["budget"] is None
    assert schema.settings["eval_fraction"] == 0.0


def test_json_text_bytes_and_mapping_give_the_same_schema() -> None:
    from_yaml = parse_schema(TWEETS)
    as_json = json.dumps(from_yaml.to_dict())
    assert parse_schema(as_json) == from_yaml
    assert parse_schema(as_json.encode()) == from_yaml
    assert parse_schema(from_yaml.to_dict()) == from_yaml
    assert parse_schema("\ufeff" + TWEETS) == from_yaml


def test_to_dict_is_the_user_format() -> None:
    data = parse_schema(TWEETS).to_dict()
    assert data["data"] == {"type": "text", "field": "text"}
    assert data["controls"][0]["labels"] == ["negative", "neutral", "positive"]
    assert data["controls"][0]["target"] is True
    json.dumps(data)


def test_target_defaults_to_the_first_choice_control() -> None:
    schema = parse_schema(
        {
            "name": "P",
            "controls": [
                {"name": "topics", "type": "multi_choice", "labels": ["x", "y"]},
                {"name": "tone", "type": "choice", "labels": ["a", "b"]},
            ],
        }
    )
    assert schema.target.name == "topics"
    marked = schema.to_dict()
    marked["controls"][1]["target"] = True
    assert parse_schema(marked).target.name == "tone"


def test_hotkeys_default_to_digits_for_the_first_nine_labels() -> None:
    labels = [f"l{i}" for i in range(12)]
    control = parse_schema(schema_with(labels=labels)).controls[0]
    assert control.hotkeys == tuple("123456789")
    assert parse_schema(schema_with()).controls[0].hotkeys == ("1", "2")


TWO_CHOICES = """\
name: P
controls:
  - {name: a, type: choice, labels: [p, q], target: true}
  - {name: b, type: choice, labels: [r, s]}
"""


def _keys(source: object, **kwargs: bool) -> list[tuple[str, ...]]:
    return [c.hotkeys for c in parse_schema(source, **kwargs).controls]  # type: ignore[arg-type]


def test_default_hotkeys_number_on_across_controls_in_schema_order() -> None:
    assert _keys(TWO_CHOICES) == [("1", "2"), ("3", "4")]
    rated = {
        "name": "P",
        "data": {"type": "text"},
        "controls": [
            {"name": "ents", "type": "spans", "labels": ["PER", "LOC"]},
            {"name": "note", "type": "text"},
            {"name": "tone", "type": "multi_choice", "labels": ["a", "b"]},
            {"name": "sure", "type": "rating", "max": 3},
        ],
    }
    assert _keys(rated) == [("1", "2"), (), ("3", "4"), ("5", "6", "7")]


def test_default_hotkeys_skip_keys_any_control_lists_and_stop_at_nine() -> None:
    listed_later = {
        "name": "P",
        "controls": [
            {"name": "a", "type": "choice", "labels": ["p", "q", "r"]},
            {"name": "b", "type": "choice", "labels": ["x", "y"], "hotkeys": ["1", "3"]},
        ],
    }
    assert _keys(listed_later) == [("2", "4", "5"), ("1", "3")]
    many = {
        "name": "P",
        "controls": [
            {"name": "a", "type": "choice", "labels": [f"a{i}" for i in range(8)]},
            {"name": "b", "type": "choice", "labels": ["x", "y", "z"]},
            {"name": "c", "type": "choice", "labels": ["u"]},
        ],
    }
    assert _keys(many) == [tuple("12345678"), ("9",), ()]


def test_default_hotkeys_are_stored_so_a_project_keeps_its_keys() -> None:
    schema = parse_schema(TWO_CHOICES)
    assert [c["hotkeys"] for c in schema.to_dict()["controls"]] == [["1", "2"], ["3", "4"]]
    assert parse_schema(schema.to_dict(), stored=True) == schema


@pytest.mark.parametrize(
    ("b", "message"),
    [
        (
            {"name": "b", "type": "choice", "labels": ["r", "s"], "hotkeys": ["x", "y"]},
            "controls[1].hotkeys[1]: 'y' is already the key of label 'q' in control 'a'; "
            "controls 'a' and 'b' cannot share a key: give one of them another "
            "(a control that lists no hotkeys gets free ones)",
        ),
        (
            {"name": "b", "type": "rating", "max": 2, "hotkeys": ["y"]},
            "controls[1].hotkeys[0]: 'y' is already the key of label 'q' in control 'a'; "
            "controls 'a' and 'b' cannot share a key",
        ),
    ],
)
def test_a_key_two_controls_list_is_refused_naming_both(b: dict[str, object], message: str) -> None:
    a = {"name": "a", "type": "choice", "labels": ["p", "q"], "hotkeys": ["w", "y"]}
    assert error_of({"name": "P", "controls": [a, b]}).startswith(message)


def test_a_span_or_box_label_may_share_a_key_and_a_stored_schema_reads_back() -> None:
    """A selected span or box takes a shared key (the labeling page's rule), so sharing one
    with them stays valid; a project stored before the check still opens as it was."""
    scene = {"name": "scene", "type": "choice", "labels": ["in", "out"], "hotkeys": ["1", "2"]}
    objects = {"name": "objects", "type": "boxes", "labels": ["car"], "hotkeys": ["1"]}
    image = {"name": "P", "data": {"type": "image"}, "controls": [scene, objects]}
    assert _keys(image) == [("1", "2"), ("1",)]
    shared = {
        "name": "P",
        "controls": [
            {"name": "a", "type": "choice", "labels": ["p", "q"], "hotkeys": ["1", "2"]},
            {"name": "b", "type": "choice", "labels": ["r", "s"], "hotkeys": ["1", "2"]},
        ],
    }
    assert error_of(shared).startswith("controls[1].hotkeys[0]: '1' is already the key of")
    assert _keys(shared, stored=True) == [("1", "2"), ("1", "2")]


def test_yaml_number_hotkeys_mean_digit_keys() -> None:
    control = parse_schema(
        "name: P\ncontrols: [{name: c, type: choice, labels: [a, b], hotkeys: [1, 2]}]"
    )
    assert control.controls[0].hotkeys == ("1", "2")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            schema_with(labels=[]),
            "controls[0].labels: must be a non-empty list of distinct label names",
        ),
        (
            schema_with(labels="a,b"),
            "controls[0].labels: must be a non-empty list of distinct label names",
        ),
        (schema_with(labels=["a", "a"]), "controls[0].labels: 'a' is listed twice"),
        (
            schema_with(labels=["a", ""]),
            "controls[0].labels[1]: must be a non-empty string of at most 100 characters",
        ),
        (
            schema_with(labels=["a", "x" * 101]),
            "controls[0].labels[1]: must be a non-empty string of at most 100 characters",
        ),
        (
            schema_with(labels=[str(i) for i in range(51)]),
            "controls[0].labels: 51 labels; at most 50 are allowed",
        ),
        (
            schema_with(labels=["a", " b"]),
            "controls[0].labels[1]: ' b' starts or ends with whitespace",
        ),
        (schema_with(hotkeys=["1", "1"]), "controls[0].hotkeys: '1' is used twice"),
        (schema_with(hotkeys=["1", "2", "3"]), "controls[0].hotkeys: 3 hotkeys for 2 labels"),
        (schema_with(hotkeys=["ab"]), "controls[0].hotkeys[0]: 'ab' must be a single character"),
        (schema_with(target="yes"), "controls[0].target: must be true or false; got string"),
        (
            schema_with(colour="red"),
            "controls[0]: unknown key 'colour'; known keys are: "
            "name, type, labels, hotkeys, descriptions, target, overlap, max, max_chars",
        ),
        (schema_with(descriptions={"z": "?"}), "controls[0].descriptions: 'z' is not one of a, b"),
        (
            schema_with(name=""),
            "controls[0].name: must be a non-empty string of at most 100 characters",
        ),
        (
            schema_with(type=None),
            ("controls[0].type: required; one of choice, multi_choice, spans, boxes, rating, text"),
        ),
        (
            {"name": "P", "data": {"type": "video"}, "controls": []},
            "data.type: 'video' is not one of text, image, table, audio, html",
        ),
        ({"name": "P", "controls": []}, "controls: must be a non-empty list of controls"),
        ({"name": "P"}, "controls: must be a non-empty list of controls"),
        ({"controls": []}, "name: required"),
        (
            {"name": "x" * 201, "controls": []},
            "name: must be a non-empty string of at most 200 characters",
        ),
        (
            {"name": "P", "contorls": []},
            "schema: unknown key 'contorls'; known keys are: "
            "name, data, controls, guideline, settings",
        ),
        ("- a\n- b\n", "schema: must be a mapping with name, data and controls; got list"),
        ("", "schema: must be a mapping with name, data and controls; got null"),
    ],
)
def test_bad_schema_names_the_path(source: object, message: str) -> None:
    assert error_of(source) == message


def test_unsupported_control_type_lists_the_supported_ones() -> None:
    source = {
        "name": "P",
        "controls": [
            {"name": "c", "type": "choice", "labels": ["a"]},
            {"name": "ents", "type": "polygons", "labels": ["PER"]},
        ],
    }
    assert error_of(source) == (
        "controls[1].type: 'polygons' is not a control type; "
        "one of choice, multi_choice, spans, boxes, rating, text"
    )


def test_two_controls_marked_target_is_an_error() -> None:
    source = {
        "name": "P",
        "controls": [
            {"name": "a", "type": "choice", "labels": ["x"], "target": True},
            {"name": "b", "type": "multi_choice", "labels": ["y"], "target": True},
        ],
    }
    assert error_of(source) == "controls: a, b are all marked target; mark exactly one"


def test_duplicate_control_names_are_an_error() -> None:
    source = {
        "name": "P",
        "controls": [
            {"name": "a", "type": "choice", "labels": ["x"]},
            {"name": "a", "type": "choice", "labels": ["y"]},
        ],
    }
    assert error_of(source) == "controls[1].name: 'a' is used twice"


@pytest.mark.parametrize(
    ("key", "shown"), [("s", "'s'"), ("S", "'S'"), ("?", "'?'"), (" ", "Space"), ("\n", "Enter")]
)
def test_reserved_hotkeys_are_refused(key: str, shown: str) -> None:
    message = error_of(schema_with(hotkeys=["1", key]))
    assert message.startswith(
        f"controls[0].hotkeys[1]: {shown} is reserved (reserved keys: s, S, ?"
    )


def test_yaml_booleans_as_labels_get_a_quoting_hint() -> None:
    message = error_of("name: P\ncontrols: [{name: c, type: choice, labels: [yes, no]}]")
    assert message == "controls[0].labels[0]: must be a string, got boolean True (quote it in YAML)"


def test_multi_choice_labels_cannot_contain_separators() -> None:
    message = error_of(schema_with(type="multi_choice", labels=["a|b", "c"]))
    assert message.startswith("controls[0].labels[0]: 'a|b' contains ',' or '|'")


def test_malformed_yaml_names_the_line() -> None:
    message = error_of("name: P\ncontrols:\n  - name: [unclosed\n")
    assert message.startswith("schema is not valid YAML or JSON: ")
    assert "(line 4, column 1)" in message


def test_malformed_json_names_the_line() -> None:
    message = error_of('{\n  "name": "P",\n  "controls": [}\n')
    assert message.startswith("schema is not valid YAML or JSON: ")
    assert "line 3" in message


def test_settings_errors_name_the_setting() -> None:
    assert error_of({**schema_with(), "settings": {"retrain_evry": 5}}).startswith(
        "settings.retrain_evry: unknown setting; known settings are: strategy, retrain_every"
    )
    assert error_of({**schema_with(), "settings": {"overlap": 11}}) == (
        "settings.overlap: input should be less than or equal to 10"
    )
    assert error_of({**schema_with(), "settings": {"eval_fraction": 0.6}}) == (
        "settings.eval_fraction: input should be less than or equal to 0.5"
    )
    assert error_of({**schema_with(), "settings": {"retrain_every": True}}) == (
        "settings.retrain_every: input should be a valid integer"
    )
    assert error_of({**schema_with(), "settings": {"budget": 0}}) == (
        "settings.budget: input should be greater than or equal to 1"
    )
    assert error_of({**schema_with(), "settings": [1]}) == (
        "settings: must be a mapping of setting name to value"
    )


def test_settings_defaults() -> None:
    assert ProjectSettings().model_dump() == {
        "strategy": "auto",
        "retrain_every": 10,
        "overlap": 1,
        "lease_minutes": 10,
        "batch_size": 10,
        "queue_size": 500,
        "budget": None,
        "preselect_suggestion": False,
        "preselect_confidence": 0.5,
        "stop_rule": "settled_predictions",
        "stop_kappa": None,
        "stop_window": 3,
        "stop_lag": 0.2,
        "stop_changed": 0.0175,
        "eval_fraction": 0.0,
        "featurizer": "tfidf",
        "model": "logistic_regression",
        "random_share": 0.0,
        "span_scoring": "mean",
        "detector": "imported_scores",
        "auto_label_confidence": None,
        "auto_label_min_accuracy": 0.95,
        "review_policy": "none",
        "review_share": 0.1,
        "qualification_items": 20,
        "qualification_accept_rate": 0.9,
        "resolution": "majority",
        "escalate_to": [],
        "double_label_share": 0.0,
        "gold_rate": 0.0,
        "contradiction_threshold": 0.8,
        "rework_hours": 24,
        "backlog_alert_min": 10,
    }
    schema = parse_schema({**schema_with(), "settings": {"budget": 300, "stop_kappa": 1}})
    assert schema.settings["budget"] == 300
    assert schema.settings["stop_kappa"] == 1.0
    with pytest.raises(SchemaError, match="stop_rule"):
        parse_schema({**schema_with(), "settings": {"stop_rule": "patience"}})


def test_schema_built_in_code_gets_default_settings() -> None:
    schema = ProjectSchema(
        name="P", data_type="text", data_field="text", controls=parse_schema(schema_with()).controls
    )
    assert schema.settings == ProjectSettings().model_dump()
    assert schema.control("c").labels == ("a", "b")
    with pytest.raises(SchemaError, match="'zz' is not a control; controls are: c"):
        schema.control("zz")


def test_public_api() -> None:
    assert set(labelloop.schema.__all__) >= {
        "Control",
        "ProjectSchema",
        "ProjectSettings",
        "parse_schema",
        "validate_value",
        "label_value",
        "SUPPORTED_DATA_TYPES",
        "SUPPORTED_CONTROL_TYPES",
        "RESERVED_HOTKEYS",
    }


def test_schema_is_pure() -> None:
    code = (
        "import sys, labelloop.schema; "
        "bad = [m for m in ('sqlalchemy', 'fastapi', 'labelloop.store', 'labelloop.server') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_label_added_goes_last_with_the_next_free_key_and_the_rest_stay() -> None:
    from labelloop.schema.project import with_label

    schema = parse_schema(
        {
            "name": "two controls",
            "data": {"type": "text", "field": "text"},
            "controls": [
                {"name": "topic", "type": "multi_choice", "labels": ["a", "b"], "target": True},
                {"name": "mood", "type": "choice", "labels": ["up", "down"]},
                {"name": "stars", "type": "rating", "max": 2},
            ],
        }
    )
    with pytest.raises(
        SchemaError,
        match="name the control to add 'c' to: this project's controls with labels are topic, mood",
    ):
        with_label(schema, "c")
    grown = with_label(schema, "c", control="topic", description="the third topic")
    topic = grown.control("topic")
    # 1, 2 are topic's, 3, 4 mood's and 5, 6 the rating's: 7 is free.
    assert (topic.labels, topic.hotkeys) == (("a", "b", "c"), ("1", "2", "7"))
    assert topic.descriptions == {"c": "the third topic"}
    assert grown.control("mood") == schema.control("mood")
    assert parse_schema(grown.to_dict(), stored=True) == grown  # stored, it reads back as is
    mood = with_label(grown, "flat", control="mood").control("mood")
    assert mood.hotkeys == ("3", "4", "8")
    with pytest.raises(SchemaError, match="contains ',' or '|'"):
        with_label(schema, "a,b", control="topic")
    with pytest.raises(SchemaError, match="'stars' is a rating control, which lists no labels"):
        with_label(schema, "3", control="stars")


def test_a_label_past_the_number_keys_gets_no_key() -> None:
    from labelloop.schema.project import with_label

    nine = parse_schema(
        {
            "name": "nine",
            "data": {"type": "text", "field": "text"},
            "controls": [{"name": "c", "type": "choice", "labels": list("abcdefghi")}],
        }
    )
    tenth = with_label(nine, "j").control("c")
    assert tenth.labels[-1] == "j" and len(tenth.hotkeys) == 9


OVERRIDE = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "cat\u202edog" shows as "catgod"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {**schema_with(), "name": f"Pets{OVERRIDE}"},
            "name: 'Pets\\u202e' holds U+202E (RIGHT-TO-LEFT OVERRIDE) at character 5",
        ),
        (
            schema_with(name="\u2067animal"),
            "controls[0].name: '\\u2067animal' holds U+2067 (RIGHT-TO-LEFT ISOLATE) at character 1",
        ),
        (
            schema_with(labels=["cat", f"cat{OVERRIDE}god"]),
            "controls[0].labels[1]: 'cat\\u202egod' holds U+202E (RIGHT-TO-LEFT OVERRIDE) "
            "at character 4",
        ),
        (
            schema_with(labels=["cat", "c\u200bat"]),
            "controls[0].labels[1]: 'c\\u200bat' holds U+200B (ZERO WIDTH SPACE) at character 2",
        ),
        (
            schema_with(labels=["cat", "c\u200dat"]),
            "controls[0].labels[1]: 'c\\u200dat' holds U+200D (ZERO WIDTH JOINER) at character 2",
        ),
        (
            {**schema_with(), "data": {"type": "text", "field": f"te{OVERRIDE}xt"}},
            "data.field: 'te\\u202ext' holds U+202E (RIGHT-TO-LEFT OVERRIDE) at character 3",
        ),
        (
            {**schema_with(), "data": {"type": "table", "columns": ["a", "b\u2066"]}},
            "data.columns[1]: 'b\\u2066' holds U+2066 (LEFT-TO-RIGHT ISOLATE) at character 2",
        ),
    ],
)
def test_a_name_that_could_look_like_another_is_refused_naming_where(
    source: object, message: str
) -> None:
    """A direction override, an isolate or a zero-width character in a name a schema gives makes
    it look like another name, or like nothing, on every page, in exports and the terminal."""
    assert error_of(source) == (
        f"{message}; names cannot hold control or formatting characters, "
        "which could make one look like another"
    )


def test_a_stored_schema_with_such_a_name_still_reads() -> None:
    """A store written before the check may hold such names: the project still opens."""
    source = schema_with(labels=["cat", f"cat{OVERRIDE}god"])
    assert parse_schema(source, stored=True).controls[0].labels == ("cat", f"cat{OVERRIDE}god")


def test_joiners_that_write_a_word_or_an_emoji_are_kept() -> None:
    """Persian writes some words with a zero-width non-joiner, and an emoji of a person at a
    laptop is two joined by a zero-width joiner: neither is refused."""
    labels = ["می\u200cخواهم", "\U0001f469\u200d\U0001f4bb"]
    assert parse_schema(schema_with(labels=labels)).controls[0].labels == tuple(labels)


def test_a_label_added_later_is_refused_the_same_way_beside_stored_ones() -> None:
    from labelloop.schema.project import with_label

    stored = parse_schema(schema_with(labels=["a", f"b{OVERRIDE}"]), stored=True)
    assert with_label(stored, "c").controls[0].labels == ("a", f"b{OVERRIDE}", "c")
    with pytest.raises(SchemaError, match="holds U\\+202E .* at character 2"):
        with_label(stored, f"d{OVERRIDE}")
