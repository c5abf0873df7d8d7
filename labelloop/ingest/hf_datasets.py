"""Hugging Face datasets saved on disk (``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``).

A folder is read with ``datasets.load_from_disk`` (memory-mapped Arrow), in batches, so memory
stays bounded however large the split; a ``DatasetDict`` folder needs ``split``. One Arrow file of
such a folder (``data-00000-of-00001.arrow``) can also be read as a stream (``read``): it carries
the dataset's features in its schema. Nothing is fetched from the Hub.

Each row becomes one item: ``text_field`` its text, ``id_field`` its id, ``label_field`` its
label, where a ``ClassLabel`` id becomes the class name, a list of them (``Sequence(ClassLabel)``)
a list of names for a multi_choice control, a string stays as it is, and -1 (the datasets
library's "no label") or null means unlabeled. ``prediction_field`` names a column of
pre-annotations (a class id, a name, or control name -> value). The other columns are kept as
metadata, ClassLabel ids as names too. Image, audio and video columns are refused: an image
dataset is imported as a folder of image files. Errors name the 1-based row number ("row 3")
and the column.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from labelloop.domain import ItemIn
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest.columnar import batch_records
from labelloop.ingest.records import (
    MAX_TEXT_CHARS,
    NOT_SCALAR,
    RowsNamed,
    TextImporter,
    in_rows,
    json_scalar,
    names_listed,
    object_in_cell,
)
from labelloop.kinds import kind

HF_HINT = "pip install 'labelloop[hf]' (the datasets library)"
BATCH_ROWS = 1000
NO_LABEL = -1
"""The class id the datasets library stores for a row without a label."""
MARKERS = ("dataset_dict.json", "dataset_info.json", "state.json")
"""Files ``save_to_disk`` writes at the top of a saved dataset (a DatasetDict: the first)."""
_MEDIA = ("Image", "Audio", "Video", "Pdf")
"""Feature types holding files rather than values; only their bytes or paths are in the rows."""


def is_saved_dataset(folder: Path) -> bool:
    """Whether ``folder`` looks like the output of ``save_to_disk``."""
    return any((folder / name).is_file() for name in MARKERS)


class HfDatasetsImporter(RowsNamed, TextImporter):
    """Reads a Hugging Face dataset saved on disk (a folder) or one Arrow file of it."""

    format: ClassVar[str] = "hf_datasets"

    def __init__(
        self,
        *,
        text_field: str = "text",
        id_field: str | None = None,
        label_field: str | None = None,
        prediction_field: str | None = None,
        split: str | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        super().__init__(
            text_field=text_field,
            id_field=id_field,
            label_field=label_field,
            prediction_field=prediction_field,
            max_text_chars=max_text_chars,
        )
        self.split = split
        self.batch_rows = batch_rows
        self._class_columns: list[str] = []  # columns of class labels (ClassLabel ids)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(text_field={self.text_field!r}, id_field={self.id_field!r}, "
            f"label_field={self.label_field!r}, prediction_field={self.prediction_field!r}, "
            f"split={self.split!r})"
        )

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per row of one Arrow file of a saved dataset, batch by batch."""
        features_of = _require()
        import pyarrow as pa

        try:
            reader = pa.ipc.open_stream(source)
        except (pa.ArrowException, OSError) as exc:
            raise ImportFormatError(
                line=1,
                unit=None,
                reason=f"not an Arrow file of a saved Hugging Face dataset: {exc}",
            ) from None
        features = features_of(reader.schema)
        self._check_columns(features)
        yield from in_rows(self._arrow_rows(reader, features))

    def _arrow_rows(self, reader: Any, features: Mapping[str, Any]) -> Iterator[ItemIn]:
        import pyarrow as pa

        number = 0
        try:
            for batch in reader:
                for record in batch_records(batch):
                    number += 1
                    yield self._row(number, record, features)
        except (pa.ArrowException, OSError) as exc:  # a damaged message is an OSError
            raise ImportFormatError(
                line=number + 1, reason=f"unreadable Arrow data: {exc}"
            ) from None

    def read_folder(
        self, folder: Path, *, sized: Callable[[int], None] | None = None
    ) -> Iterator[ItemIn]:
        """Yield one ItemIn per row of the dataset ``save_to_disk`` wrote to ``folder``;
        ``sized`` is told its number of rows before the first (a progress bar's total)."""
        _require()
        dataset = self._dataset(folder)
        features = dataset.features
        self._check_columns(features)
        if sized is not None:
            sized(dataset.num_rows)
        rows = (
            record
            for table in dataset.with_format("arrow").iter(batch_size=self.batch_rows)
            for record in table.to_pylist()
        )
        yield from in_rows(
            self._row(number, record, features) for number, record in enumerate(rows, 1)
        )

    def _dataset(self, folder: Path) -> Any:
        """The saved dataset (the chosen split of a DatasetDict), memory-mapped."""
        import datasets

        if not folder.is_dir():
            raise LabelloopError(f"no folder at {folder}")
        if not is_saved_dataset(folder):
            raise LabelloopError(
                f"{folder} is not a dataset saved with save_to_disk: it holds none of "
                f"{', '.join(MARKERS)}"
            )
        try:
            loaded = datasets.load_from_disk(str(folder), keep_in_memory=False)
        except (FileNotFoundError, ValueError, OSError, IndexError) as exc:
            # IndexError: the datasets library's own, on a dataset saved with no columns
            raise LabelloopError(f"cannot read the dataset at {folder}: {exc}") from None
        if isinstance(loaded, datasets.DatasetDict):
            splits = ", ".join(loaded)
            if self.split is None:
                raise LabelloopError(
                    f"{folder.name} holds several splits ({splits}); pick one with --hf-split"
                )
            if self.split not in loaded:
                raise LabelloopError(
                    f"{folder.name} has no split {self.split!r}; its splits are: {splits}"
                )
            return loaded[self.split]
        own = str(loaded.split) if loaded.split is not None else None
        if self.split is not None and self.split != own:
            raise LabelloopError(
                f"{folder.name} holds one dataset, not a DatasetDict of splits; "
                "leave out --hf-split"
            )
        return loaded

    def _check_columns(self, features: Mapping[str, Any]) -> None:
        """Refuse media columns and asked-for columns the dataset does not have, before row 1."""
        names = list(features)
        for name, feature in features.items():
            media = _media_type(feature)
            if media is not None:
                raise ImportFormatError(
                    line=1,
                    unit=None,
                    field=name,
                    reason=f"a column of type {media}; datasets of images (or audio) are not "
                    "imported from Arrow: save the files into a folder under a media root and "
                    "import the folder (labelloop import SLUG FOLDER, --labels-from-folders)",
                )
        for field in (self.text_field, self.id_field, self.label_field, self.prediction_field):
            if field is not None and field not in features:
                raise ImportFormatError(
                    line=1,
                    unit=None,
                    field=field,
                    reason=f"no such column; columns are: {names_listed(names)}",
                )
        self._class_columns = [
            name
            for name, feature in features.items()
            if _is_class_label(feature) or _is_class_label(_list_item(feature))
        ]

    def notes(self) -> list[str]:
        """A column of class labels no label field named: its labels came in as metadata, which
        a user who forgot --label-field would not see until the model has nothing to learn."""
        if self.label_field is not None or not self._class_columns:
            return []
        name = self._class_columns[0]
        return [
            f"column {name!r} holds class labels and came in as metadata only: to make them the "
            f"items' labels, import again with --label-field {name} --update-labels"
        ]

    def _row(self, number: int, record: dict[str, Any], features: Mapping[str, Any]) -> ItemIn:
        """One row as an ItemIn: class ids named, the other columns made JSON for metadata."""
        special = (self.text_field, self.id_field)
        for name, value in record.items():
            if name in special:
                continue
            feature = features.get(name)
            try:
                value = _named(feature, value)
            except ValueError as exc:
                raise ImportFormatError(line=number, field=name, reason=str(exc)) from None
            if name != self.label_field:
                value = _json_value(number, name, value)
            record[name] = value
        return self._item(number, record)

    def _id_label_prediction(
        self, line: int, record: Mapping[str, Any]
    ) -> tuple[str | None, Any, Any]:
        """As for JSON Lines: a pre-annotation is taken as the column holds it (a class name, a
        list of them, control name -> value); only text holding a JSON object is parsed."""
        if self.prediction_field is None:
            return super()._id_label_prediction(line, record)
        rest = dict(record)
        prediction = rest.pop(self.prediction_field, None)
        external_id, label, _ = super()._id_label_prediction(line, rest)
        try:
            return external_id, label, object_in_cell(prediction)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                line=line,
                field=self.prediction_field,
                reason=f"not valid JSON: {exc.msg} (column {exc.colno})",
            ) from None

    @staticmethod
    def _blank_label(label: Any) -> bool:
        if isinstance(label, float):  # NaN: a float column's (pandas') empty cell
            return not math.isfinite(label)
        return label is None or (isinstance(label, str) and not label.strip())


def _require() -> Any:
    """``datasets.Features.from_arrow_schema``, or a clear error when datasets is missing."""
    if importlib.util.find_spec("datasets") is None:
        raise LabelloopError(
            f"reading a Hugging Face dataset needs the datasets library: {HF_HINT}"
        )
    from datasets import Features

    return Features.from_arrow_schema


def _media_type(feature: Any) -> str | None:
    """The media type name (Image, Audio, ...) of a column, also inside a list; else None."""
    name = type(feature).__name__
    if name in _MEDIA:
        return name
    inner = _list_item(feature)
    return _media_type(inner) if inner is not None else None


def _list_item(feature: Any) -> Any:
    """The item feature of a list column (``Sequence``, ``List``, ``LargeList`` or ``[f]``)."""
    if isinstance(feature, list) and len(feature) == 1:
        return feature[0]
    if type(feature).__name__ in ("Sequence", "List", "LargeList"):
        return getattr(feature, "feature", None)
    return None


def _named(feature: Any, value: Any) -> Any:
    """A ClassLabel id as its name (-1: None), a list of ids as a list of names; other values
    as they are."""
    if _is_class_label(feature):
        return _class_name(feature, value)
    inner = _list_item(feature)
    if _is_class_label(inner) and isinstance(value, list):
        return [_class_name(inner, v, in_list=True) for v in value]
    return value


def _is_class_label(feature: Any) -> bool:
    return type(feature).__name__ == "ClassLabel"


def _class_name(feature: Any, value: Any, *, in_list: bool = False) -> str | None:
    if value is None or (value == NO_LABEL and not in_list):
        return None
    names = feature.names
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(names):
        raise ValueError(
            f"class id {value!r} is not one of the {len(names)} classes "
            f"(0..{len(names) - 1}: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''})"
        )
    return str(names[value])


def _json_value(line: int, column: str, value: Any) -> Any:
    """A cell as metadata can store it (JSON): timestamps as ISO text, NaN as null; bytes and
    other values JSON has no form for are refused, naming the column."""
    if isinstance(value, str):
        return value
    scalar = json_scalar(value)
    if scalar is not NOT_SCALAR:
        return scalar
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): _json_value(line, column, v) for k, v in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, bytes | bytearray):
        return [_json_value(line, column, v) for v in value]
    raise ImportFormatError(
        line=line,
        field=column,
        reason=f"holds {kind(value)} values, which item metadata (JSON) cannot store; "
        "drop the column (Dataset.remove_columns) and save the dataset again",
    )
