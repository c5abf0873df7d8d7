"""Hugging Face datasets saved with save_to_disk, read with the real datasets library: class ids
become names, -1 means unlabeled, other columns become metadata, errors name row and column."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the Hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
datasets = pytest.importorskip("datasets")

from labelloop.errors import ImportFormatError, LabelloopError  # noqa: E402
from labelloop.ingest import HfDatasetsImporter, importer_for_folder, make_importer  # noqa: E402
from labelloop.ingest.conformance import check_importer  # noqa: E402

Features, Value, ClassLabel, Sequence = (
    datasets.Features,
    datasets.Value,
    datasets.ClassLabel,
    datasets.Sequence,
)

MOODS = ClassLabel(names=["negative", "neutral", "positive"])
TOPICS = ClassLabel(names=["sports", "food", "travel"])


def _save(path: Path, data: dict[str, list[Any]], features: Any, **options: Any) -> Path:
    datasets.Dataset.from_dict(data, features=features).save_to_disk(str(path), **options)
    return path


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    """Four reviews: a ClassLabel mood (one -1), a multi-label topic list, an id and extras."""
    features = Features(
        {
            "uid": Value("string"),
            "text": Value("string"),
            "mood": MOODS,
            "topics": Sequence(TOPICS),
            "stars": Value("float32"),
            "source": {"site": Value("string"), "page": Value("int32")},
        }
    )
    data = {
        "uid": ["r1", "r2", "r3", "r4"],
        "text": ["Great pasta", "Long flight", "Meh match", "Not yet read"],
        "mood": [2, 0, 1, -1],
        "topics": [[1], [2, 1], [0], []],
        "stars": [4.5, 1.0, 3.0, None],
        "source": [{"site": "a", "page": 1}, {"site": "b", "page": 2}, {"site": "a", "page": 3}]
        + [{"site": "c", "page": None}],
    }
    return _save(tmp_path / "reviews", data, features)


def _read(folder: Path, **options: Any) -> list[Any]:
    return list(HfDatasetsImporter(**options).read_folder(folder))


def test_class_ids_become_names_and_minus_one_is_unlabeled(reviews: Path) -> None:
    records = _read(reviews, id_field="uid", label_field="mood")
    assert [r.line for r in records] == [1, 2, 3, 4]
    assert [r.external_id for r in records] == ["r1", "r2", "r3", "r4"]
    assert [r.payload for r in records][:2] == [{"text": "Great pasta"}, {"text": "Long flight"}]
    assert [r.label for r in records] == ["positive", "negative", "neutral", None]
    # the other columns are metadata; another ClassLabel column is named too, NaN/None stay null
    assert records[1].metadata == {
        "topics": ["travel", "food"],
        "stars": 1.0,
        "source": {"site": "b", "page": 2},
    }
    assert records[3].metadata == {
        "topics": [],
        "stars": None,
        "source": {"site": "c", "page": None},
    }


def test_a_list_of_class_ids_is_a_multi_label_list_of_names(reviews: Path) -> None:
    records = _read(reviews, label_field="topics")
    assert [r.label for r in records] == [["food"], ["travel", "food"], ["sports"], []]
    assert [r.metadata["mood"] for r in records] == ["positive", "negative", "neutral", None]
    assert records[0].external_id is None


def test_a_string_label_is_taken_as_it_is_and_blank_is_unlabeled(tmp_path: Path) -> None:
    folder = _save(
        tmp_path / "s",
        {"body": ["a", "b", "c"], "tag": ["spam", " ", None], "n": [7, 8, 9]},
        Features({"body": Value("string"), "tag": Value("string"), "n": Value("int64")}),
    )
    records = _read(folder, text_field="body", label_field="tag", id_field="n")
    assert [(r.payload["text"], r.label, r.external_id) for r in records] == [
        ("a", "spam", "7"),
        ("b", None, "8"),
        ("c", None, "9"),
    ]
    assert all(r.metadata == {} for r in records)


def test_a_column_of_class_ids_can_be_the_pre_annotation(tmp_path: Path) -> None:
    folder = _save(
        tmp_path / "guessed",
        {"text": ["a", "b"], "guess": [0, -1]},
        Features({"text": Value("string"), "guess": MOODS}),
    )
    records = _read(folder, prediction_field="guess")
    assert [(r.prediction, r.label, r.metadata) for r in records] == [
        ("negative", None, {}),
        (None, None, {}),
    ]
    as_json = _save(
        tmp_path / "json",
        {"text": ["a"], "guess": ['{"mood": {"label": "neutral", "score": 0.7}}']},
        Features({"text": Value("string"), "guess": Value("string")}),
    )
    (record,) = _read(as_json, prediction_field="guess")
    assert record.prediction == {"mood": {"label": "neutral", "score": 0.7}}


def test_a_dataset_dict_needs_a_split_and_lists_them(tmp_path: Path) -> None:
    features = Features({"text": Value("string"), "label": MOODS})
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"text": ["t1", "t2"], "label": [0, 2]}, features=features
            ),
            "test": datasets.Dataset.from_dict({"text": ["e1"], "label": [1]}, features=features),
        }
    ).save_to_disk(str(tmp_path / "dd"))
    folder = tmp_path / "dd"
    with pytest.raises(LabelloopError) as info:
        _read(folder)
    assert info.value.message == "dd holds several splits (train, test); pick one with --hf-split"
    with pytest.raises(LabelloopError) as info:
        _read(folder, split="validation")
    assert info.value.message == "dd has no split 'validation'; its splits are: train, test"
    train = _read(folder, split="train", label_field="label")
    assert [(r.payload["text"], r.label) for r in train] == [("t1", "negative"), ("t2", "positive")]
    test = _read(folder, split="test", label_field="label")
    assert [(r.line, r.label) for r in test] == [(1, "neutral")]


def test_a_single_dataset_refuses_a_split(reviews: Path) -> None:
    with pytest.raises(LabelloopError, match="holds one dataset, not a DatasetDict"):
        _read(reviews, split="train")


def test_a_dataset_of_no_columns_is_refused_naming_it(tmp_path: Path) -> None:
    datasets.Dataset.from_list([{}]).save_to_disk(str(tmp_path / "empty"))
    with pytest.raises(LabelloopError, match="^cannot read the dataset at .*empty: "):
        _read(tmp_path / "empty")


def test_a_missing_column_is_named_with_the_columns_there_are(reviews: Path) -> None:
    for options, field in (
        ({"text_field": "body"}, "body"),
        ({"label_field": "sentiment"}, "sentiment"),
        ({"id_field": "id"}, "id"),
        ({"prediction_field": "guess"}, "guess"),
    ):
        with pytest.raises(ImportFormatError) as info:
            _read(reviews, **options)
        assert (info.value.line, info.value.field) == (1, field)
        assert info.value.reason == "no such column; columns are: uid, text, mood, topics, " + (
            "stars, source"
        )


def test_a_bad_value_names_its_row_and_column(tmp_path: Path) -> None:
    folder = _save(
        tmp_path / "holes",
        {"text": ["ok", "fine", None], "n": [1, 2, 3]},
        Features({"text": Value("string"), "n": Value("int64")}),
    )
    with pytest.raises(ImportFormatError) as info:
        _read(folder)
    assert (info.value.line, info.value.field) == (3, "text")
    assert info.value.message == "row 3, field 'text': must be a string, got null"

    numbers = _save(
        tmp_path / "numbers",
        {"text": [1, 2]},
        Features({"text": Value("int64")}),
    )
    with pytest.raises(ImportFormatError) as info:
        _read(numbers)
    assert info.value.message == "row 1, field 'text': must be a string, got number"


def test_a_binary_column_cannot_be_metadata_and_is_named(tmp_path: Path) -> None:
    folder = _save(
        tmp_path / "blobs",
        {"text": ["a", "b"], "blob": [None, b"\x00\x01"]},
        Features({"text": Value("string"), "blob": Value("binary")}),
    )
    with pytest.raises(ImportFormatError) as info:
        _read(folder)
    assert (info.value.line, info.value.field) == (2, "blob")
    assert "cannot store" in info.value.reason and "remove_columns" in info.value.reason


def test_an_image_dataset_is_refused_pointing_at_the_folder_import(tmp_path: Path) -> None:
    folder = _save(
        tmp_path / "pics",
        {"text": ["a"], "image": [None]},
        Features({"text": Value("string"), "image": datasets.Image()}),
    )
    with pytest.raises(ImportFormatError) as info:
        _read(folder)
    assert (info.value.line, info.value.field) == (1, "image")
    assert "type Image" in info.value.reason and "import the folder" in info.value.reason


def test_rows_come_in_order_across_shards_and_batches(tmp_path: Path) -> None:
    n = 23
    folder = _save(
        tmp_path / "sharded",
        {"text": [f"row {i}" for i in range(n)], "label": [i % 3 for i in range(n)]},
        Features({"text": Value("string"), "label": MOODS}),
        num_shards=3,
    )
    assert len(list(folder.glob("*.arrow"))) == 3
    records = HfDatasetsImporter(label_field="label", batch_rows=4).read_folder(folder)
    assert iter(records) is records  # streamed, not a list
    got = list(records)
    assert [r.line for r in got] == list(range(1, n + 1))
    assert [r.payload["text"] for r in got] == [f"row {i}" for i in range(n)]
    assert [r.label for r in got][:4] == ["negative", "neutral", "positive", "negative"]


def test_one_arrow_file_reads_as_a_stream_with_its_own_features(reviews: Path) -> None:
    (arrow,) = reviews.glob("*.arrow")
    importer = make_importer("hf_datasets", id_field="uid", label_field="mood")
    with arrow.open("rb") as source:
        records = list(importer.read(source))
    assert [r.label for r in records] == ["positive", "negative", "neutral", None]
    assert records[0].metadata["topics"] == ["food"]
    with pytest.raises(ImportFormatError) as info:
        list(importer.read(io.BytesIO(b'{"text": "a json line"}\n')))
    assert info.value.line == 1 and "not an Arrow file" in info.value.reason


def test_a_saved_dataset_folder_is_recognised(reviews: Path, tmp_path: Path) -> None:
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["x"]})}).save_to_disk(
        str(tmp_path / "dd")
    )
    assert importer_for_folder(reviews) == "hf_datasets"
    assert importer_for_folder(tmp_path / "dd") == "hf_datasets"
    (tmp_path / "photos").mkdir()
    assert importer_for_folder(tmp_path / "photos") is None
    with pytest.raises(LabelloopError, match="not a dataset saved with save_to_disk"):
        _read(tmp_path / "photos")


def test_conforms() -> None:
    check_importer("hf_datasets", HfDatasetsImporter)


def test_a_cut_arrow_file_names_the_row_it_stops_at(reviews: Path) -> None:
    """An Arrow file cut inside its rows (a copy that did not finish)."""
    (arrow,) = reviews.glob("*.arrow")
    cut = arrow.read_bytes()[: arrow.stat().st_size - 40]
    with pytest.raises(ImportFormatError) as info:
        list(make_importer("hf_datasets").read(io.BytesIO(cut)))
    assert info.value.line == 1 and info.value.reason.startswith("unreadable Arrow data")
