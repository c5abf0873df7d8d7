"""Format registries, picking a format by file name, and duplicate detection by content hash."""

from __future__ import annotations

import subprocess
import sys

import pytest

import labelloop.ingest
from labelloop.errors import LabelloopError
from labelloop.ingest import (
    EXPORTERS,
    IMPORTERS,
    CsvImporter,
    Exporter,
    Importer,
    JsonlImporter,
    content_hash,
    importer_for_path,
    make_exporter,
    make_importer,
)


def test_registries_hold_the_built_in_formats() -> None:
    assert {"jsonl", "csv", "coco", "conll", "label_studio", "hf_datasets"} <= set(IMPORTERS)
    assert {"jsonl", "csv", "coco", "conll", "label_studio"} <= set(EXPORTERS)
    for name, cls in IMPORTERS.items():
        assert cls.format == name
        assert isinstance(cls(), Importer)
    for name, cls in EXPORTERS.items():
        assert cls.format == name
        assert isinstance(cls(), Exporter)


def test_make_importer_passes_options() -> None:
    importer = make_importer("csv", text_field="body", id_field="id", max_text_chars=10)
    assert isinstance(importer, CsvImporter)
    assert (importer.text_field, importer.id_field, importer.label_field) == ("body", "id", None)
    assert importer.max_text_chars == 10
    assert isinstance(make_importer("jsonl"), JsonlImporter)
    assert make_exporter("csv").format == "csv"


def test_unknown_format_lists_known_ones() -> None:
    known = "coco, conll, csv, doccano, jsonl, label_studio, prodigy, yolo"
    with pytest.raises(
        LabelloopError,
        match="unknown import format 'xml'; known formats: coco, conll, csv, doccano, "
        "hf_datasets, jsonl, label_studio, parquet, prodigy, yolo",
    ):
        make_importer("xml")
    with pytest.raises(
        LabelloopError, match=f"unknown export format 'xlsx'; known formats: {known}"
    ):
        make_exporter("xlsx")


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("data.jsonl", "jsonl"),
        ("/a/b/DATA.NDJSON", "jsonl"),
        ("x.csv", "csv"),
        ("x.tar.CSV", "csv"),
        ("street.yolo.ZIP", "yolo"),
        # the page's and the API's own downloads, where a .json was refused as COCO or Label
        # Studio and a .jsonl read as labelloop's JSONL
        ("street.coco.json", "coco"),
        ("/tmp/reviews.label_studio.JSON", "label_studio"),
        ("news.prodigy.jsonl", "prodigy"),
        ("reviews.doccano.jsonl", "doccano"),
    ],
)
def test_importer_for_path(path: str, fmt: str) -> None:
    assert importer_for_path(path) == fmt


@pytest.mark.parametrize("path", ["x.txt", "noext"])
def test_importer_for_path_refuses_unknown_suffixes(path: str) -> None:
    with pytest.raises(LabelloopError) as info:
        importer_for_path(path)
    known = " or ".join(sorted(IMPORTERS))
    assert info.value.message == (
        f"cannot tell the format of {path!r} from its name; give the format: {known}"
    )


def test_a_json_file_may_be_coco_or_label_studio_so_its_format_is_asked_for() -> None:
    with pytest.raises(LabelloopError) as info:
        importer_for_path("exports/project-3-at-2024.JSON")
    assert info.value.message == (
        "cannot tell the format of 'project-3-at-2024.JSON' from its name; "
        "give the format: coco or label_studio"
    )


def test_content_hash_ignores_case_whitespace_and_composition() -> None:
    assert content_hash("Hello  world") == content_hash("hello world\n")
    assert content_hash("  HELLO\tWorld ") == content_hash("hello world")
    assert content_hash("Cafe\u0301") == content_hash("café")
    assert content_hash("Straße") == content_hash("STRASSE")
    assert content_hash("hello world") != content_hash("hello, world")
    assert len(content_hash("x")) == 64


def test_public_api() -> None:
    assert set(labelloop.ingest.__all__) == {
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
    }
    assert all(hasattr(labelloop.ingest, name) for name in labelloop.ingest.__all__)


def test_ingest_is_pure() -> None:
    code = (
        "import sys, labelloop.ingest.formats; "  # every importer and exporter
        "bad = [m for m in ('sqlalchemy', 'fastapi', 'labelloop.store', 'labelloop.server') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_tsv_file_is_read_as_csv_separated_by_tabs() -> None:
    # a .tsv (Label Studio imports one) could not be told from its name
    assert importer_for_path("reviews.TSV") == "csv"
