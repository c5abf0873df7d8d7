"""Intake and export: streaming importers and exporters, one module per format.

The names below are loaded from their modules when first asked for, so a module of the room
imported on its own (``labelloop.ingest.media``, the safe opener the learner reads media
through) loads no importer, nor YAML, nor NumPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelloop.ingest.coco import CocoExporter, CocoImporter
    from labelloop.ingest.csv import CsvExporter, CsvImporter
    from labelloop.ingest.fingerprint import content_hash
    from labelloop.ingest.formats import (
        EXPORTERS,
        IMPORTERS,
        importer_for_folder,
        importer_for_path,
        make_exporter,
        make_importer,
    )
    from labelloop.ingest.hf_datasets import HfDatasetsImporter
    from labelloop.ingest.jsonl import JsonlExporter, JsonlImporter
    from labelloop.ingest.protocols import Exporter, Importer
    from labelloop.ingest.yolo import YoloExporter, YoloImporter

_HOMES = {
    "EXPORTERS": "formats",
    "IMPORTERS": "formats",
    "CocoExporter": "coco",
    "CocoImporter": "coco",
    "CsvExporter": "csv",
    "CsvImporter": "csv",
    "Exporter": "protocols",
    "HfDatasetsImporter": "hf_datasets",
    "Importer": "protocols",
    "JsonlExporter": "jsonl",
    "JsonlImporter": "jsonl",
    "YoloExporter": "yolo",
    "YoloImporter": "yolo",
    "content_hash": "fingerprint",
    "importer_for_folder": "formats",
    "importer_for_path": "formats",
    "make_exporter": "formats",
    "make_importer": "formats",
}
"""Each public name (:data:`__all__`) -> the module of this room that holds it."""

__all__ = [
    "EXPORTERS",
    "IMPORTERS",
    "CocoExporter",
    "CocoImporter",
    "CsvExporter",
    "CsvImporter",
    "Exporter",
    "HfDatasetsImporter",
    "Importer",
    "JsonlExporter",
    "JsonlImporter",
    "YoloExporter",
    "YoloImporter",
    "content_hash",
    "importer_for_folder",
    "importer_for_path",
    "make_exporter",
    "make_importer",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module at its first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
