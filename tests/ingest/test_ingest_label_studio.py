"""Label Studio JSON: hand-written exports of each kind of project read into labelloop values,
bad tasks refused naming the task and the field, and labelloop values written back as tasks."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from labelloop.domain import ExportRecord, ItemIn, LabelAnswer
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest import json_array, make_exporter, make_importer
from labelloop.ingest.label_studio import LabelStudioExporter, LabelStudioImporter
from labelloop.schema import ProjectSchema, parse_schema

SENTIMENT = parse_schema(
    {
        "name": "Reviews",
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": ["negative", "neutral", "positive"]}
        ],
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
        "controls": [{"name": "entities", "type": "spans", "labels": ["PER", "LOC", "ORG"]}],
    }
)
STREET = parse_schema(
    {
        "name": "Street",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
    }
)
SURVEY = parse_schema(
    {
        "name": "Summaries",
        "controls": [
            {"name": "quality", "type": "choice", "labels": ["good", "bad"]},
            {"name": "stars", "type": "rating", "max": 5},
            {"name": "note", "type": "text", "max_chars": 40},
        ],
    }
)


def _result(from_name: str, type: str, value: dict[str, Any], **more: Any) -> dict[str, Any]:
    """One result as Label Studio writes it (its region id, origin and so on)."""
    return {
        "id": more.pop("id", "r" + from_name[:3]),
        "from_name": from_name,
        "to_name": more.pop("to_name", "text"),
        "type": type,
        "value": value,
        "origin": "manual",
        **more,
    }


def _annotation(*results: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "id": more.pop("id", 1),
        "completed_by": 1,
        "result": list(results),
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": more.pop("created_at", "2024-05-01T10:00:00.000000Z"),
        "lead_time": 3.2,
        **more,
    }


def _choices(*names: str, from_name: str = "sentiment") -> dict[str, Any]:
    return _result(from_name, "choices", {"choices": list(names)})


def _read(
    tasks: Any, schema: ProjectSchema | None = None, *, indent: int | None = None, **options: Any
) -> list[ItemIn]:
    raw = tasks if isinstance(tasks, bytes) else json.dumps(tasks, indent=indent).encode()
    return list(LabelStudioImporter(schema=schema, **options).read(io.BytesIO(raw)))


# Text classification: the newest annotation not cancelled wins, predictions keep their score.
SENTIMENT_EXPORT = [
    {
        "id": 101,
        "data": {"text": "Great phone, love it", "source": "amazon"},
        "meta": {"batch": 3},
        "annotations": [
            _annotation(_choices("Positive")),
            _annotation(id=2, was_cancelled=True, created_at="2024-05-02T09:00:00Z"),
        ],
        "predictions": [
            {"model_version": "v1", "score": 0.8, "result": [_choices("Neutral")]},
        ],
        "created_at": "2024-04-30T08:00:00Z",
        "project": 12,
    },
    {
        "id": 102,
        "data": {"text": "Battery died after a day"},
        "annotations": [
            _annotation(_choices("Neutral"), id=4, created_at="2024-05-03T10:00:00Z"),
            _annotation(_choices("Negative"), id=3, created_at="2024-05-01T10:00:00Z"),
        ],
        "predictions": [],
    },
    {"id": 103, "data": {"text": "Arrived on Tuesday"}, "annotations": [], "predictions": []},
]


def test_the_ground_truth_annotation_wins_over_newer_ones() -> None:
    task = {
        "id": 7,
        "data": {"text": "Screen cracked in a week"},
        "annotations": [
            _annotation(_choices("Negative"), id=1, ground_truth=True),
            _annotation(_choices("Neutral"), id=2, created_at="2024-06-01T10:00:00Z"),
        ],
    }
    [found] = _read([task], SENTIMENT)
    assert found.label == {"sentiment": "negative"}  # the starred one, though older
    task["annotations"][0]["ground_truth"] = False
    [found] = _read([task], SENTIMENT)
    assert found.label == {"sentiment": "neutral"}  # without a star, the newest


def test_the_importer_says_how_many_tasks_lost_answers_to_the_one_chosen() -> None:
    only_skipped = {
        "id": 104,
        "data": {"text": "Not sure"},
        "annotations": [_annotation(_choices("Neutral"), id=5, was_cancelled=True)],
    }
    importer = LabelStudioImporter(schema=SENTIMENT)
    raw = json.dumps([*SENTIMENT_EXPORT, only_skipped]).encode()
    items = list(importer.read(io.BytesIO(raw)))
    assert [i.label for i in items] == [
        {"sentiment": "positive"},  # one answer and one skipped: nothing left out
        {"sentiment": "neutral"},  # two answers: the newest came in, the other did not
        None,
        None,  # only a skipped answer
    ]
    assert importer.notes() == [
        "1 task held answers from more than one annotator: each came in with its starred "
        "(ground truth) answer, or else its newest; the other answers were left out",
        "1 task held only skipped (cancelled) answers and came in unlabeled",
    ]
    list(importer.read(io.BytesIO(json.dumps([SENTIMENT_EXPORT[2]]).encode())))
    assert importer.notes() == []  # each read counts its own file


@pytest.mark.parametrize("indent", [None, 2])
def test_text_classification_maps_data_id_meta_label_and_prediction(indent: int | None) -> None:
    first, second, third = _read(SENTIMENT_EXPORT, SENTIMENT, indent=indent)
    assert [item.line for item in (first, second, third)] == [1, 2, 3]  # tasks, in file order
    assert first.payload == {"text": "Great phone, love it"}
    assert first.external_id == "101"
    # who labeled it: Label Studio's user, kept as metadata (labelloop's users are others)
    assert first.metadata == {"source": "amazon", "batch": 3, "label_studio_annotator": "1"}
    assert first.label == {"sentiment": "positive"}  # the cancelled newer one is not an answer
    assert first.prediction == {"sentiment": {"label": "neutral", "score": 0.8}}
    assert second.label == {"sentiment": "neutral"}  # the newest, wherever it stands
    assert second.prediction is None
    assert (third.external_id, third.label, third.prediction) == ("103", None, None)


def test_a_result_goes_to_the_one_control_of_its_type_when_names_differ() -> None:
    tasks = [
        {
            "id": 7,
            "data": {"text": "Cup final tonight; ministers to attend"},
            "annotations": [_annotation(_choices("tech", "sports", from_name="tags"))],
        },
        {
            "id": 8,
            "data": {"text": "New phone chips"},
            "annotations": [_annotation(_choices("tech", from_name="tags"))],
        },
    ]
    first, second = _read(tasks, TOPICS)
    assert first.label == {"topics": ["sports", "tech"]}  # in the schema's order
    assert second.label == {"topics": ["tech"]}


NER_TEXT = "Ann flew from Rome to Oslo"


def _span(start: int, end: int, *labels: str, **more: Any) -> dict[str, Any]:
    value = {"start": start, "end": end, "text": NER_TEXT[start:end], "labels": list(labels)}
    return _result("label", "labels", value, id=f"s{start}", **more)


def test_ner_regions_become_sorted_spans_and_an_empty_answer_stays_one() -> None:
    tasks = [
        {
            "id": 1,
            "data": {"text": NER_TEXT},
            "annotations": [
                _annotation(_span(22, 26, "LOC"), _span(0, 3, "PER"), _span(14, 18, "LOC"))
            ],
            "predictions": [
                {"score": 0.5, "result": [_span(0, 3, "PER", score=0.9), _span(14, 18, "ORG")]}
            ],
        },
        {"id": 2, "data": {"text": "Nothing to see"}, "annotations": [_annotation()]},
    ]
    first, second = _read(tasks, NER)
    assert first.label == {
        "entities": [
            {"start": 0, "end": 3, "label": "PER"},  # Ann
            {"start": 14, "end": 18, "label": "LOC"},  # Rome
            {"start": 22, "end": 26, "label": "LOC"},  # Oslo
        ]
    }
    assert first.prediction == {
        "entities": [
            {"start": 0, "end": 3, "label": "PER", "score": 0.9},  # its own score
            {"start": 14, "end": 18, "label": "ORG", "score": 0.5},  # the prediction's
        ]
    }
    assert second.label == {"entities": []}  # submitted with no region: "nothing here"


def test_spans_counted_in_utf16_are_converted_and_a_shifted_span_is_refused() -> None:
    text = "Great \U0001f600 trip with Satya Nadella to Seattle"
    at = text.index("Satya")  # 18 characters in; Label Studio counted 19 UTF-16 units
    person = {"start": at + 1, "end": at + 14, "text": "Satya Nadella"}
    task = {
        "id": 7,
        "data": {"text": text},
        "annotations": [_annotation(_result("label", "labels", {**person, "labels": ["PER"]}))],
    }
    (item,) = _read([task], NER)
    assert item.label == {"entities": [{"start": 18, "end": 31, "label": "PER"}]}
    assert text[18:31] == "Satya Nadella"
    wrong = {"start": 0, "end": 5, "text": "Seattle", "labels": ["LOC"]}
    task["annotations"] = [_annotation(_result("label", "labels", wrong))]
    with pytest.raises(ImportFormatError) as caught:
        _read([task], NER)
    assert str(caught.value) == (
        "line 1, field 'annotations[0].result[0].value': task 1 (id 7): "
        "offsets 0-5 cover 'Great', not the marked words 'Seattle'"
    )


def _box(
    x: float, y: float, w: float, h: float, *labels: str, rotation: float = 0, **more: Any
) -> dict[str, Any]:
    value = {"x": x, "y": y, "width": w, "height": h, "rotation": rotation}
    more.setdefault("original_width", 200)
    more.setdefault("original_height", 100)
    value["rectanglelabels"] = list(labels)
    return _result("label", "rectanglelabels", value, to_name="image", **more)


def _image_task(*results: dict[str, Any], image: str = "a.png") -> dict[str, Any]:
    return {"id": 6, "data": {"image": image}, "annotations": [_annotation(*results)]}


def test_image_boxes_in_percent_become_pixels_and_paths_lose_label_studio_urls() -> None:
    tasks = [
        {
            "id": 11,
            "data": {"image": "/data/local-files/?d=street/corner%20a.png"},
            "annotations": [
                _annotation(_box(10, 20, 50, 25, "car"), _box(0, 0, 100, 100, "person"))
            ],
            "predictions": [{"result": [_box(50, 50, 10, 10, "person", score=0.75)]}],
        },
        {
            "id": 12,
            "data": {"image": "/data/upload/3/0f1e2d-corner_b.png"},
            "annotations": [
                _annotation(
                    _result(
                        "kind",
                        "rectangle",
                        {"x": 25, "y": 0, "width": 50, "height": 10},
                        id="reg1",
                        to_name="image",
                        original_width=400,
                        original_height=300,
                    ),
                    _result(
                        "kind",
                        "labels",
                        {"x": 25, "y": 0, "width": 50, "height": 10, "labels": ["car"]},
                        id="reg1",
                        to_name="image",
                        original_width=400,
                        original_height=300,
                    ),
                )
            ],
        },
        {"id": 13, "data": {"image": "plain/c.png"}},
    ]
    first, second, third = _read(tasks, STREET)
    assert first.payload == {"image": "street/corner a.png"}
    # x=10%, y=20%, width=50%, height=25% of 200x100 px: x=20, y=20, w=100, h=25
    assert first.label == {
        "objects": [
            {"x": 20, "y": 20, "w": 100, "h": 25, "label": "car"},
            {"x": 0, "y": 0, "w": 200, "h": 100, "label": "person"},
        ]
    }
    assert first.prediction == {
        "objects": [{"x": 100, "y": 50, "w": 20, "h": 10, "label": "person", "score": 0.75}]
    }
    assert second.payload == {"image": "upload/3/0f1e2d-corner_b.png"}  # under LS's media folder
    assert second.label == {"objects": [{"x": 100, "y": 0, "w": 200, "h": 30, "label": "car"}]}
    assert (third.payload, third.label) == ({"image": "plain/c.png"}, None)


def test_rating_and_textarea_answer_for_the_whole_item() -> None:
    tasks = [
        {
            "id": "sum-1",
            "data": {"text": "A summary of the meeting"},
            "annotations": [
                _annotation(
                    _choices("good", from_name="quality"),
                    _result("stars", "rating", {"rating": 4}),
                    _result("comment", "textarea", {"text": ["Too short", "but clear"]}),
                )
            ],
        }
    ]
    (item,) = _read(tasks, SURVEY)
    assert item.external_id == "sum-1"
    assert item.label == {"quality": "good", "stars": 4, "note": "Too short\nbut clear"}


def test_without_a_schema_results_keep_their_from_name() -> None:
    (item,) = _read(SENTIMENT_EXPORT[:1])
    assert item.label == {"sentiment": "Positive"}
    assert item.prediction == {"sentiment": {"label": "Neutral", "score": 0.8}}


def test_legacy_completions_and_skipped_annotations_are_read_as_label_studio_did() -> None:
    task = {
        "id": 5,
        "data": {"text": "Old export"},
        "completions": [
            _annotation(_choices("negative")),
            _annotation(_choices("positive"), skipped=True, created_at="2025-01-01T00:00:00Z"),
        ],
    }
    (item,) = _read([task], SENTIMENT)
    assert item.label == {"sentiment": "negative"}


def _task(*results: dict[str, Any], text: str = NER_TEXT, **more: Any) -> dict[str, Any]:
    return {"id": 42, "data": {"text": text}, "annotations": [_annotation(*results)], **more}


GOOD = {"id": 1, "data": {"text": "fine"}}
BAD_TASKS: list[tuple[ProjectSchema, Any, str]] = [
    (
        SENTIMENT,
        [GOOD, _task(_choices("Angry"))],
        "line 2, field 'annotations[0].result[0].value': task 2 (id 42): sentiment: 'Angry' is "
        "not one of negative, neutral, positive",
    ),
    (
        SENTIMENT,
        [_task(_result("shape", "polygonlabels", {"points": [[0, 0]]}))],
        "line 1, field 'annotations[0].result[0].type': task 1 (id 42): 'polygonlabels' results "
        "have no labelloop control",
    ),
    (
        SENTIMENT,
        [_task(_result("stars", "rating", {"rating": 3}))],
        "line 1, field 'annotations[0].result[0].type': task 1 (id 42): rating results need a "
        "rating control; this project has none (its controls: sentiment (choice))",
    ),
    (
        NER,
        [GOOD, GOOD | {"id": 2}, _task(_span(14, 40, "LOC"))],
        "line 3, field 'annotations[0].result[0].value': task 3 (id 42): entities[0]: end 40 is "
        "past the end of the text (26)",
    ),
    (
        NER,
        [_task(_span(0, 3, "PER"), _span(0, 3, "PER"))],
        "line 1, field 'annotations[0].result': task 1 (id 42): entities: span 0-3 is given twice",
    ),
    (SENTIMENT, [GOOD, ["not", "a", "task"]], "line 2: task 2: must be an object, got list"),
    (
        SENTIMENT,
        [{"id": 9, "text": "no data wrapper"}],
        "line 1, field 'data': task 1 (id 9): missing; a Label Studio task holds its content",
    ),
    (
        SENTIMENT,
        [{"id": 9, "text": "x", "sentiment": "positive", "annotator": "a@b.c", "annotation_id": 3}],
        "line 1, field 'data': task 1 (id 9): missing; this looks like Label Studio's JSON-MIN",
    ),
    (
        SENTIMENT,
        [{"id": 9, "data": {"body": "x"}}],
        "line 1, field 'data': task 1 (id 9): has no 'text' field (its fields: body)",
    ),
    (
        SENTIMENT,
        [{"id": 9, "data": {"text": ["a", "list"]}}],
        "line 1, field 'data.text': task 1 (id 9): must be a string, got list",
    ),
    (
        SENTIMENT,
        [{"id": True, "data": {"text": "x"}}],
        "line 1, field 'id': task 1: must be a string or integer, got boolean",
    ),
    (
        SENTIMENT,
        [_task(_choices("positive", "negative"))],
        "line 1, field 'annotations[0].result[0].value.choices': task 1 (id 42): a choice "
        "control takes one label; the result has 2",
    ),
    (
        SENTIMENT,
        [_task(_choices("positive"), _choices("negative"))],
        "line 1, field 'annotations[0].result[1]': task 1 (id 42): a second answer for control "
        "'sentiment'",
    ),
    (
        SENTIMENT,
        [_task(_result("sentiment", "choices", {"x": 1, "y": 2, "choices": ["positive"]}))],
        "line 1, field 'annotations[0].result[0]': task 1 (id 42): a per-region answer cannot be "
        "held",
    ),
    (
        SENTIMENT,
        [_task(annotations="none")],
        "line 1, field 'annotations': task 1 (id 42): must be a list, got string",
    ),
    (
        SENTIMENT,
        [{"id": 4, "data": {"text": "x"}, "annotations": [{"result": "positive"}]}],
        "line 1, field 'annotations[0].result': task 1 (id 4): must be a list of results",
    ),
    (
        SENTIMENT,
        [
            {
                "id": 4,
                "data": {"text": "x"},
                "predictions": [{"score": 1.5, "result": [_choices("positive")]}],
            }
        ],
        "line 1, field 'predictions[0].result': task 1 (id 4): sentiment.score: must be a number "
        "from 0 to 1; got 1.5",
    ),
    (
        SENTIMENT,
        [
            {
                "id": 4,
                "data": {"text": "x"},
                "predictions": [{"score": 10**400, "result": [_choices("positive")]}],
            }
        ],
        "line 1, field 'predictions[0].result': task 1 (id 4): sentiment.score: must be a number "
        "from 0 to 1; got 1000",
    ),
    (
        STREET,
        [_image_task(_box(10, 5, 5, 5, "car", original_width=10**400))],
        "line 1, field 'annotations[0].result[0].original_width': task 1 (id 6): must be the "
        "image's size in pixels",
    ),
    (
        STREET,
        [_image_task(_box(10**300, 5, 5, 5, "car", original_width=10**300))],
        "line 1, field 'annotations[0].result[0].value': task 1 (id 6): objects[0].x: must be a "
        "number; got inf",
    ),
    (
        SURVEY,
        [
            _task(
                _choices("good", from_name="quality"),
                _result("n", "textarea", {"text": ["x" * 41]}),
            )
        ],
        "line 1, field 'annotations[0].result[1].value.text': task 1 (id 42): 41 characters; the "
        "limit of 'note' is 40",
    ),
    (
        STREET,
        [_image_task(_box(0, 0, 5, 5, "truck"))],
        "line 1, field 'annotations[0].result[0].value': task 1 (id 6): objects: 'truck' is not "
        "one of car, person",
    ),
    (
        STREET,
        [_image_task(_box(0, 0, 5, 5, "car", original_width=None))],
        "line 1, field 'annotations[0].result[0].original_width': task 1 (id 6): must be the "
        "image's size in pixels",
    ),
    (
        STREET,
        [_image_task(_box(60, 0, 50, 5, "car"))],
        "line 1, field 'annotations[0].result[0].value': task 1 (id 6): objects[0]: box ends past "
        "the image width (200)",
    ),
    (
        STREET,
        [_image_task(_box(0, 0, 5, 5, "car", rotation=30))],
        "line 1, field 'annotations[0].result[0].value.rotation': task 1 (id 6): a rotated box "
        "cannot be held",
    ),
    (
        STREET,
        [_image_task(_result("kind", "rectangle", {"x": 1, "y": 1, "width": 2, "height": 2}))],
        "line 1, field 'annotations[0].result[0].type': task 1 (id 6): a box without a label",
    ),
    (
        STREET,
        [{"id": 6, "data": {"image": "https://example.com/a.png"}}],
        "line 1, field 'data.image': task 1 (id 6): 'https://example.com/a.png' is a URL; "
        "labelloop never fetches files",
    ),
    (
        STREET,
        [{"id": 6, "data": {"image": "s3://bucket/a.png"}}],
        "line 1, field 'data.image': task 1 (id 6): 's3://bucket/a.png' is a URL",
    ),
    (
        parse_schema(
            {
                "name": "Two",
                "controls": [
                    {"name": "a", "type": "choice", "labels": ["x"]},
                    {"name": "b", "type": "choice", "labels": ["x"]},
                ],
            }
        ),
        [_task(_choices("x", from_name="c"))],
        "line 1, field 'annotations[0].result[0].from_name': task 1 (id 42): 'c' is none of this "
        "project's choice or multi_choice controls (a, b)",
    ),
    (SENTIMENT, b"", "line 1: empty file; expected a JSON array of tasks"),
    (
        SENTIMENT,
        b'{"images": [], "annotations": []}',
        "line 1: expected a JSON array of tasks, starting with '['",
    ),
    (
        SENTIMENT,
        b'[\n  {"id": 1, "data": {"text": "a"}},\n  {"id": 2, "data": {"text": "b"}\n]',
        "line 4: not valid JSON in task 2: Expecting ',' delimiter (column 1)",
    ),
    (SENTIMENT, b'[{"id": 1, "data": {"text": NaN}}]', "line 1: not valid JSON in task 1: NaN"),
]


@pytest.mark.parametrize(("schema", "tasks", "message"), BAD_TASKS)
def test_a_bad_task_is_refused_naming_the_task_and_the_field(
    schema: ProjectSchema, tasks: Any, message: str
) -> None:
    with pytest.raises(ImportFormatError) as info:
        _read(tasks, schema)
    assert info.value.message.startswith(message), info.value.message


def test_a_task_longer_than_the_limit_is_refused_before_it_is_read_whole() -> None:
    tasks = [GOOD, {"id": 2, "data": {"text": "x" * 5000}}]
    with pytest.raises(ImportFormatError, match="task 2 is longer than 1,000 characters of JSON"):
        _read(tasks, SENTIMENT, max_task_chars=1000)
    with pytest.raises(ImportFormatError, match="task 2 .*text is 5,000 characters; the limit"):
        _read(tasks, SENTIMENT, max_text_chars=4000)


class _Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, n: int | None = -1) -> bytes:
        chunk = super().read(n)
        self.taken += len(chunk)
        return chunk


def test_tasks_are_read_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_array, "CHUNK_BYTES", 256)
    tasks = [{"id": i, "data": {"text": f"text number {i}"}} for i in range(500)]
    source = _Counting(json.dumps(tasks).encode() + b" garbage after the array")
    items = LabelStudioImporter(schema=SENTIMENT).read(source)
    first = next(items)
    assert (first.external_id, first.payload) == ("0", {"text": "text number 0"})
    assert source.taken < 1024  # the rest of the file is still unread
    with pytest.raises(ImportFormatError, match="more text after the array's closing"):
        list(items)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_tasks_split_anywhere_between_chunks_read_the_same(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    whole = _read(SENTIMENT_EXPORT, SENTIMENT, indent=2)
    monkeypatch.setattr(json_array, "CHUNK_BYTES", chunk)
    assert _read(SENTIMENT_EXPORT, SENTIMENT, indent=2) == whole
    assert _read(SENTIMENT_EXPORT, SENTIMENT) == whole
    bad = b'[{"id": 1, "data": {"text": "a"}}, {"id": 2,, "data": {}}]'
    with pytest.raises(ImportFormatError, match="line 1: not valid JSON in task 2: .*column 45"):
        _read(bad, SENTIMENT)  # the second comma, wherever the chunks were cut


def test_options_that_a_label_studio_file_answers_itself_are_refused() -> None:
    with pytest.raises(LabelloopError, match="holds its own ids, labels and pre-annotations"):
        make_importer("label_studio", label_field="label")
    assert isinstance(make_importer("label_studio", text_field="body"), LabelStudioImporter)


def _record(item_id: int, value: dict[str, Any], text: str, **more: Any) -> ExportRecord:
    fields: dict[str, Any] = {
        "external_id": f"e{item_id}",
        "label": None,
        "resolution": "single",
        "annotator": "ann",
        "annotated_at": datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        "active_ms": 4200,
        "guideline_version": 1,
        "schema_version": 1,
        "model_version": None,
        "suggestion": None,
        "suggestion_confidence": None,
        "strategy": None,
        "score": None,
        "rank": None,
        "reason": None,
        **more,
    }
    return ExportRecord(item_id=item_id, text=text, value=value, **fields)


def _write(schema: ProjectSchema, records: list[ExportRecord]) -> list[dict[str, Any]]:
    sink = io.BytesIO()
    make_exporter("label_studio", schema=schema).write(records, sink)
    return json.loads(sink.getvalue())


def test_boxes_export_in_percent_of_the_image_with_its_path_as_a_local_files_url() -> None:
    box = {"x": 20, "y": 20, "w": 100, "h": 25, "label": "car"}
    record = _record(
        3,
        {"objects": [box]},
        "street/corner a.png",
        external_id="101",
        payload={"image": "street/corner a.png", "width": 200, "height": 100},
        metadata={"camera": "north"},
    )
    (task,) = _write(STREET, [record])
    assert task["id"] == 101  # digits go out as Label Studio's integer ids
    assert task["data"] == {"image": "/data/local-files/?d=street/corner%20a.png"}
    assert task["meta"] == {"camera": "north", **PROVENANCE}
    (annotation,) = task["annotations"]
    assert annotation["created_username"] == "ann"
    assert (annotation["created_at"], annotation["lead_time"]) == ("2024-05-01T10:00:00+00:00", 4.2)
    assert "completed_by" not in annotation  # Label Studio takes only its own user ids there
    (result,) = annotation["result"]
    assert (result["from_name"], result["to_name"], result["type"]) == (
        "objects",
        "image",
        "rectanglelabels",
    )
    assert (result["original_width"], result["original_height"]) == (200, 100)
    assert result["value"] == {
        "x": 10,
        "y": 20,
        "width": 50,
        "height": 25,
        "rotation": 0,
        "rectanglelabels": ["car"],
    }


def test_every_control_exports_as_its_result_type() -> None:
    record = _record(
        1,
        {"quality": "bad", "stars": 2, "note": "two\nlines"},
        "A summary of the meeting",
        external_id="sum-1",
        annotator=None,
    )
    (task,) = _write(SURVEY, [record])
    assert task["id"] == "sum-1"
    assert task["data"] == {"text": "A summary of the meeting"}
    (annotation,) = task["annotations"]
    assert "created_username" not in annotation
    assert [(r["from_name"], r["type"], r["value"]) for r in annotation["result"]] == [
        ("quality", "choices", {"choices": ["bad"]}),
        ("stars", "rating", {"rating": 2}),
        ("note", "textarea", {"text": ["two\nlines"]}),
    ]
    span = {"start": 14, "end": 18, "label": "LOC", "text": "Rome"}
    (task,) = _write(NER, [_record(2, {"entities": [span]}, NER_TEXT)])
    (result,) = task["annotations"][0]["result"]
    assert (result["type"], result["value"]) == (
        "labels",
        {"start": 14, "end": 18, "text": "Rome", "labels": ["LOC"]},
    )


def test_an_export_reads_back_to_the_same_values() -> None:
    cases: list[tuple[ProjectSchema, dict[str, Any], str, dict[str, Any]]] = [
        (SENTIMENT, {"sentiment": "neutral"}, "fine", {}),
        (TOPICS, {"topics": ["sports", "tech"]}, "cup and chips", {}),
        (TOPICS, {"topics": []}, "none of these", {}),
        (NER, {"entities": [{"start": 0, "end": 3, "label": "PER"}]}, NER_TEXT, {}),
        (NER, {"entities": []}, "no names", {}),
        (SURVEY, {"quality": "good", "stars": 5, "note": "ok"}, "summary", {}),
        (
            STREET,
            {"objects": [{"x": 1, "y": 2, "w": 10.25, "h": 5, "label": "person"}]},
            "s/1.png",
            {"payload": {"image": "s/1.png", "width": 40, "height": 30}},
        ),
    ]
    for schema, value, text, more in cases:
        sink = io.BytesIO()
        LabelStudioExporter(schema=schema).write([_record(1, value, text, **more)], sink)
        (item,) = LabelStudioImporter(schema=schema).read(io.BytesIO(sink.getvalue()))
        assert item.label == value, schema.name
        assert item.external_id == "e1"
        # who labeled it comes back, with the rest of the label's provenance
        assert item.metadata == {"label_studio_annotator": "ann", **PROVENANCE}


PROVENANCE = {
    "annotator": "ann",
    "annotated_at": "2024-05-01T10:00:00+00:00",
    "guideline_version": 1,
    "schema_version": 1,
}
"""What a task's ``meta`` says of where :func:`_record`'s label came from."""


def test_each_task_says_who_labeled_it_when_under_which_guideline_and_why() -> None:
    picked = "the model was torn between neutral (40%) and positive (38%)"
    record = _record(
        1,
        {"sentiment": "neutral"},
        "fine",
        guideline_version=2,
        schema_version=3,
        strategy="margin",
        reason=picked,
        metadata={"source": "app"},
    )
    (task,) = _write(SENTIMENT, [record])
    # The task's meta, which a Label Studio import keeps, holds the label's whole provenance.
    assert task["meta"] == {
        "source": "app",
        "annotator": "ann",
        "annotated_at": "2024-05-01T10:00:00+00:00",
        "guideline_version": 2,
        "schema_version": 3,
        "strategy": "margin",
        "reason": picked,
    }
    # The annotation says who and when in Label Studio's own keys, the versions in its own.
    (annotation,) = task["annotations"]
    assert (annotation["created_username"], annotation["created_at"]) == (
        "ann",
        "2024-05-01T10:00:00+00:00",
    )
    assert (annotation["guideline_version"], annotation["schema_version"]) == (2, 3)
    assert (annotation["strategy"], annotation["reason"]) == ("margin", picked)
    # Read back, the label is the same and the meta is the item's metadata; the annotation's
    # extra keys are left alone, as Label Studio's import leaves them.
    (item,) = LabelStudioImporter(schema=SENTIMENT).read(io.BytesIO(json.dumps([task]).encode()))
    assert item.label == {"sentiment": "neutral"}
    assert item.metadata == {**task["meta"], "label_studio_annotator": "ann"}


def test_a_fixed_labels_versions_are_its_annotators_and_the_deciders_answer_has_none() -> None:
    record = _record(
        1,
        {"sentiment": "neutral"},
        "fine",
        guideline_version=2,
        annotated_value={"sentiment": "negative"},
        decided_by="rita",
        decided_at=datetime(2024, 5, 2, tzinfo=UTC),
        resolution="reviewed",
    )
    (task,) = _write(SENTIMENT, [record])
    own, decided = task["annotations"]
    assert (own["created_username"], own["guideline_version"]) == ("ann", 2)
    assert decided["created_username"] == "rita" and "guideline_version" not in decided
    assert task["meta"]["guideline_version"] == 2


def test_why_each_annotator_was_served_the_item_lives_on_in_the_tasks_meta() -> None:
    """Label Studio's import drops an annotation's keys of ours, the strategy and reason among
    them: the task's meta holds each annotation's, by its id and annotator, beside the label's
    own provenance, and labelloop's import keeps it as the item's metadata."""
    at = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    picked = "the model was torn between neutral (40%) and positive (38%)"
    answers = (
        LabelAnswer("ann", {"sentiment": "neutral"}, at, 4200, 1, 1, "margin", picked, 31),
        LabelAnswer("bob", {"sentiment": "positive"}, at, 900, 2, 1, "random", "a control", 32),
    )
    record = _record(
        1,
        {"sentiment": "neutral"},
        "fine",
        strategy="margin",
        reason=picked,
        resolution="reviewed",
        decided_by="rita",
        answers=answers,
        annotators=("ann", "bob"),
        guideline_versions=(1, 2),
        metadata={"source": "app"},
    )
    (task,) = _write(SENTIMENT, [record])
    own = {
        "source": "app",
        **PROVENANCE,
        "strategy": "margin",
        "reason": picked,
        "annotators": ["ann", "bob"],
        "guideline_versions": [1, 2],
        "decided_by": "rita",
    }
    assert {k: v for k, v in task["meta"].items() if k != "answers"} == own  # as before
    assert task["meta"]["answers"] == [
        {
            "id": 31,
            "annotator": "ann",
            "annotated_at": "2024-05-01T10:00:00+00:00",
            "guideline_version": 1,
            "schema_version": 1,
            "strategy": "margin",
            "reason": picked,
        },
        {
            "id": 32,
            "annotator": "bob",
            "annotated_at": "2024-05-01T10:00:00+00:00",
            "guideline_version": 2,
            "schema_version": 1,
            "strategy": "random",
            "reason": "a control",
        },
    ]
    ann, bob = task["annotations"]  # ann's is the label: starred
    assert [(a["id"], a["created_username"]) for a in (ann, bob)] == [(31, "ann"), (32, "bob")]
    assert ann["ground_truth"] and not bob["ground_truth"]
    # Label Studio keeps the meta and drops our keys of the annotations: so reads labelloop
    for annotation in task["annotations"]:
        for key in ("strategy", "reason", "guideline_version", "schema_version"):
            del annotation[key]
    (item,) = LabelStudioImporter(schema=SENTIMENT).read(io.BytesIO(json.dumps([task]).encode()))
    assert item.label == {"sentiment": "neutral"}
    assert item.metadata == {**task["meta"], "label_studio_annotator": "ann"}
    importer = LabelStudioImporter(schema=SENTIMENT, answers=True)
    (item,) = importer.read(io.BytesIO(json.dumps([task]).encode()))
    assert [(a.shown, a.value, a.source_id) for a in item.answers] == [
        ("ann", {"sentiment": "neutral"}, "31"),
        ("bob", {"sentiment": "positive"}, "32"),
    ]
    assert item.metadata["answers"] == task["meta"]["answers"]


def test_provenance_the_items_meta_names_already_goes_under_labelloop() -> None:
    own = {"annotator": "their-ann", "guideline_version": "2024 handbook"}
    (task,) = _write(SENTIMENT, [_record(1, {"sentiment": "neutral"}, "fine", metadata=own)])
    assert (task["meta"]["annotator"], task["meta"]["guideline_version"]) == (
        "their-ann",
        "2024 handbook",
    )
    assert task["meta"]["labelloop"] == {"annotator": "ann", "guideline_version": 1}


def test_an_items_own_labelloop_meta_keeps_its_values_and_gains_ours() -> None:
    own = {"annotator": "their-ann", "labelloop": {"x": 1}}
    (task,) = _write(SENTIMENT, [_record(1, {"sentiment": "neutral"}, "fine", metadata=own)])
    assert task["meta"]["annotator"] == "their-ann"
    assert task["meta"]["labelloop"] == {"x": 1, "annotator": "ann"}


def test_the_chosen_answers_annotator_is_kept_as_metadata() -> None:
    """Label Studio names an annotator by `created_username` ("email, id"), else by the
    `completed_by` user (an id, or an object with an email); the one whose answer became the
    label is kept, and a task's own `label_studio_annotator` field is not overwritten."""
    starred = _annotation(_choices("Negative"), id=1, ground_truth=True, completed_by=7)
    newer = _annotation(
        _choices("Neutral"),
        id=2,
        created_at="2024-06-01T10:00:00Z",
        created_username="kim@example.org, 9",
    )
    task = {"id": 7, "data": {"text": "Screen cracked"}, "annotations": [starred, newer]}
    [found] = _read([task], SENTIMENT)
    assert found.metadata == {"label_studio_annotator": "7"}  # the starred answer's
    task["annotations"][0]["ground_truth"] = False
    [found] = _read([task], SENTIMENT)
    assert found.metadata == {"label_studio_annotator": "kim@example.org, 9"}
    newer.pop("created_username")
    newer["completed_by"] = {"id": 9, "email": "kim@example.org"}
    [found] = _read([task], SENTIMENT)
    assert found.metadata == {"label_studio_annotator": "kim@example.org"}
    task["meta"] = {"label_studio_annotator": "from the task"}
    [found] = _read([task], SENTIMENT)
    assert found.metadata == {"label_studio_annotator": "from the task"}
    unlabeled = {"id": 8, "data": {"text": "Fine"}, "annotations": []}
    assert _read([unlabeled], SENTIMENT)[0].metadata == {}


def test_an_export_holds_no_table_rows_and_needs_image_sizes() -> None:
    table = parse_schema(
        {
            "name": "Wines",
            "data": {"type": "table", "columns": ["hue"]},
            "controls": [{"name": "c", "type": "choice", "labels": ["a"]}],
        }
    )
    with pytest.raises(LabelloopError, match="export jsonl or csv for a table project"):
        make_exporter("label_studio", schema=table)
    box = {"x": 1, "y": 1, "w": 1, "h": 1, "label": "car"}
    with pytest.raises(
        LabelloopError,
        match=r"item 4 has no image size, which Label Studio's boxes \(in percent of it\) need",
    ):
        _write(STREET, [_record(4, {"objects": [box]}, "a.png")])


def test_an_empty_project_exports_an_empty_array() -> None:
    assert _write(SENTIMENT, []) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"7" * 4_301, "a number is longer than 4,300 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
    ids=["long-number", "deep"],
)
def test_a_task_too_much_for_python_names_the_task(value: bytes, reason: str) -> None:
    data = b'[{"id": 1, "data": {"text": "a"}},\n {"id": 2, "data": {"text": "b", "n": ' + value
    with pytest.raises(ImportFormatError) as info:
        _read(data + b"}}]", SENTIMENT)
    assert info.value.line == 2
    assert info.value.reason.startswith(f"not valid JSON in task 2: {reason}")


def test_a_lone_surrogate_in_a_tasks_fields_names_the_task_and_the_field() -> None:
    data = b'[{"id": 1, "data": {"text": "a"}}, {"id": 2, "data": {"text": "b", "src": "\\udc00"}}]'
    with pytest.raises(ImportFormatError) as info:
        _read(data, SENTIMENT)
    assert (info.value.line, info.value.field) == (2, "src")
    assert info.value.reason.startswith("task 2 (id 2): text cannot contain \\udc00, half of a")


@pytest.mark.parametrize("chunk", [3, 64])
def test_a_file_cut_inside_a_character_names_the_line(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(json_array, "CHUNK_BYTES", chunk)
    with pytest.raises(ImportFormatError) as info:
        _read(b'[{"id": 1,\n "data": {"text": "caf\xc3', SENTIMENT)
    assert (info.value.line, info.value.reason) == (2, "not valid UTF-8 (byte 0xc3)")


def test_a_region_id_that_is_a_list_names_no_region() -> None:
    box = _box(10, 20, 30, 40, "car", id=["r1"])
    (item,) = _read([_image_task({**box, "type": "labels", "value": _labels_of(box)})], STREET)
    assert item.label == {"objects": [{"x": 20.0, "y": 20.0, "w": 60.0, "h": 40.0, "label": "car"}]}


def _labels_of(box: dict[str, Any]) -> dict[str, Any]:
    value = dict(box["value"])
    value["labels"] = value.pop("rectanglelabels")
    return value


def test_meta_nested_deeper_than_metadata_may_be_names_the_task() -> None:
    deep = b'{"a":' * 900 + b"1" + b"}" * 900  # parsed, but too deep to store or export safely
    data = b'[{"id": 1, "data": {"text": "a"}, "meta": {"x": ' + deep + b"}}]"
    with pytest.raises(ImportFormatError) as info:
        _read(data, SENTIMENT)
    assert (info.value.line, info.value.field) == (1, "x")
    assert info.value.reason == "task 1 (id 1): lists and objects nested more than 100 levels deep"
