"""The registries of import and export formats, and picking a format from a file name."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from labelloop.errors import LabelloopError
from labelloop.ingest.csv import CsvExporter, CsvImporter
from labelloop.ingest.jsonl import JsonlExporter, JsonlImporter
from labelloop.ingest.protocols import Exporter, Importer

IMPORTERS: dict[str, type[Importer]] = {
    JsonlImporter.format: JsonlImporter,
    CsvImporter.format: CsvImporter,
}
"""Import format name -> importer class; a plug-in format registers by adding itself here."""

EXPORTERS: dict[str, type[Exporter]] = {
    JsonlExporter.format: JsonlExporter,
    CsvExporter.format: CsvExporter,
}
"""Export format name -> exporter class; a plug-in format registers by adding itself here."""

_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def make_importer(format: str, **options: Any) -> Importer:
    """An importer for ``format`` built with ``options`` (text_field, id_field, ...)."""
    try:
        cls = IMPORTERS[format]
    except KeyError:
        raise LabelloopError(
            f"unknown import format {format!r}; known formats: {', '.join(sorted(IMPORTERS))}"
        ) from None
    return cls(**options)


def make_exporter(format: str) -> Exporter:
    """An exporter for ``format``."""
    try:
        cls = EXPORTERS[format]
    except KeyError:
        raise LabelloopError(
            f"unknown export format {format!r}; known formats: {', '.join(sorted(EXPORTERS))}"
        ) from None
    return cls()


def importer_for_path(path: str) -> str:
    """The import format a file name implies (.jsonl / .ndjson -> jsonl, .csv -> csv)."""
    name = PurePath(path).name
    try:
        return _SUFFIXES[PurePath(path).suffix.lower()]
    except KeyError:
        known = " or ".join(sorted(IMPORTERS))
        raise LabelloopError(f"cannot tell the format of {name!r}; pass --format {known}") from None
