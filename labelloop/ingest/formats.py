"""The registries of import and export formats, and picking a format from a file name."""

from __future__ import annotations

import inspect
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from labelloop.errors import ControlsRefused, LabelloopError
from labelloop.ingest.coco import CocoExporter, CocoImporter
from labelloop.ingest.conll import ConllExporter, ConllImporter
from labelloop.ingest.csv import CsvExporter, CsvImporter
from labelloop.ingest.csv import refusal as csv_refusal
from labelloop.ingest.doccano import DoccanoExporter, DoccanoImporter
from labelloop.ingest.hf_datasets import HfDatasetsImporter, is_saved_dataset
from labelloop.ingest.images import ImageFolderImporter
from labelloop.ingest.jsonl import JsonlExporter, JsonlImporter
from labelloop.ingest.label_studio import LabelStudioExporter, LabelStudioImporter
from labelloop.ingest.parquet import ParquetImporter
from labelloop.ingest.prodigy import ProdigyExporter, ProdigyImporter
from labelloop.ingest.protocols import Exporter, Importer
from labelloop.ingest.yolo import YoloExporter, YoloImporter
from labelloop.ingest.yolo_files import is_yolo_folder
from labelloop.schema.project import STRUCTURED_TYPES

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema

IMPORTERS: dict[str, type[Importer]] = {
    JsonlImporter.format: JsonlImporter,
    CsvImporter.format: CsvImporter,
    ParquetImporter.format: ParquetImporter,
    CocoImporter.format: CocoImporter,
    ConllImporter.format: ConllImporter,
    LabelStudioImporter.format: LabelStudioImporter,
    HfDatasetsImporter.format: HfDatasetsImporter,
    DoccanoImporter.format: DoccanoImporter,
    ProdigyImporter.format: ProdigyImporter,
    YoloImporter.format: YoloImporter,
}
"""Import format name -> importer class; a plug-in format registers by adding itself here."""

EXPORTERS: dict[str, type[Exporter]] = {
    JsonlExporter.format: JsonlExporter,
    CsvExporter.format: CsvExporter,
    CocoExporter.format: CocoExporter,
    ConllExporter.format: ConllExporter,
    LabelStudioExporter.format: LabelStudioExporter,
    DoccanoExporter.format: DoccanoExporter,
    ProdigyExporter.format: ProdigyExporter,
    YoloExporter.format: YoloExporter,
}
"""Export format name -> exporter class; a plug-in format registers by adding itself here."""

EXPORT_SUFFIXES = {
    CocoExporter.format: "coco.json",
    YoloExporter.format: "yolo.zip",
    LabelStudioExporter.format: "label_studio.json",
    DoccanoExporter.format: "doccano.jsonl",
    ProdigyExporter.format: "prodigy.jsonl",
}
"""How a download in a format ends its file name after the project's slug (``street.coco.json``);
the other formats end with their own name (``street.jsonl``). Imported back, a file so named
tells its format, where ``.json`` alone may be COCO or Label Studio and ``.jsonl`` is read as
labelloop's own JSONL."""


def export_suffix(format: str) -> str:
    """The end of a download's file name in ``format``, after the slug and a dot."""
    return EXPORT_SUFFIXES.get(format, format)


_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",  # read separated by tabs, as its header shows
    ".parquet": "parquet",
    ".conll": "conll",
    ".zip": "yolo",
}
_AMBIGUOUS = {".json": ("coco", "label_studio")}
"""Suffixes several formats share: a COCO document and a Label Studio export are both .json; only
their content tells them apart (an object, an array), and a name is all this sees."""


RECORD_UNITS = {
    CsvImporter.format: "row",
    ParquetImporter.format: "row",
    HfDatasetsImporter.format: "row",
    CocoImporter.format: "image",
    YoloImporter.format: "image",
    ImageFolderImporter.format: ImageFolderImporter.unit,  # as its errors number them
    LabelStudioImporter.format: "task",
}
"""What an import's record numbers count, by format, where not the lines of a text file (JSONL,
CoNLL, doccano, Prodigy): a CSV's and a Parquet file's rows, the images of a COCO file or a zip,
the files of a folder, the tasks of a Label Studio export."""


def record_unit(format: str) -> str:
    """The word for what the record numbers of an import in ``format`` count: "line", "row",
    "image", "file" or "task" (see :data:`RECORD_UNITS`)."""
    return RECORD_UNITS.get(format, "line")


def make_importer(format: str, **options: Any) -> Importer:
    """An importer for ``format`` built with ``options`` (text_field, id_field, ...)."""
    try:
        cls = IMPORTERS[format]
    except KeyError:
        raise LabelloopError(
            f"unknown import format {format!r}; known formats: {', '.join(sorted(IMPORTERS))}"
        ) from None
    return cls(**options)


def make_exporter(format: str, *, schema: ProjectSchema | None = None) -> Exporter:
    """An exporter for ``format``; one whose constructor takes ``schema`` gets the project's,
    so it can refuse controls it cannot hold or name categories after labels."""
    try:
        cls = EXPORTERS[format]
    except KeyError:
        raise LabelloopError(
            f"unknown export format {format!r}; known formats: {', '.join(sorted(EXPORTERS))}"
        ) from None
    if schema is None:
        return cls()
    try:
        return _built(cls, schema)
    except ControlsRefused as refused:
        raise LabelloopError(
            f"{refused.message}; export {_either(export_formats(schema))} instead"
        ) from None


def _built(cls: type[Exporter], schema: ProjectSchema) -> Exporter:
    if "schema" in inspect.signature(cls).parameters:
        return cls(schema=schema)  # type: ignore[call-arg]
    return cls()


def _either(formats: list[str]) -> str:
    """``jsonl, conll or prodigy``."""
    return " or ".join(filter(None, [", ".join(formats[:-1]), formats[-1]]))


def export_formats(schema: ProjectSchema) -> list[str]:
    """The export formats that hold a project's controls, in registry order: those whose exporter
    takes the schema without refusing it (CSV refuses spans and boxes, COCO wants boxes, ...)."""
    fits = []
    for cls in EXPORTERS.values():
        try:
            _built(cls, schema)
        except LabelloopError:
            continue
        fits.append(cls.format)
    return fits


def import_refusal(format: str, schema: ProjectSchema) -> LabelloopError | None:
    """Why a file in ``format`` cannot bring in labels of the project's target, naming the
    formats that can (those it exports to that import too), or None."""
    if format != CsvImporter.format or schema.target.type not in STRUCTURED_TYPES:
        return None
    carry = [f for f in export_formats(schema) if f in IMPORTERS]
    return LabelloopError(f"{csv_refusal(schema.target).message}; import {_either(carry)} instead")


def importer_for_path(path: str) -> str:
    """The import format a file name implies (.jsonl / .ndjson -> jsonl, .csv -> csv, .zip ->
    yolo; an export's own name, such as .coco.json or .prodigy.jsonl, -> its format)."""
    name = PurePath(path).name
    for fmt, ending in EXPORT_SUFFIXES.items():  # labelloop's own downloads, named by export
        if name.lower().endswith("." + ending):
            return fmt
    suffix = PurePath(path).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        known = " or ".join(_AMBIGUOUS.get(suffix, sorted(IMPORTERS)))
        raise LabelloopError(
            f"cannot tell the format of {name!r} from its name; give the format: {known}"
        ) from None


def importer_for_folder(folder: Path) -> str | None:
    """The import format a folder holds: hf_datasets for a dataset saved with ``save_to_disk``
    (it holds ``dataset_info.json`` or ``dataset_dict.json``), yolo for a YOLO dataset (class
    names and a ``labels`` folder or Darknet's image lists at its top), else None (a folder of
    files)."""
    if is_saved_dataset(folder):
        return HfDatasetsImporter.format
    return YoloImporter.format if is_yolo_folder(folder) else None
