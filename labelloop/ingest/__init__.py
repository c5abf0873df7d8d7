"""Intake and export: streaming importers and exporters, one module per format."""

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
