"""Every registered import and export format, built-in or plug-in, passes the conformance checks;
and the checks catch the faults they are there for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, ClassVar

import pytest

from labelloop.domain import ExportRecord, ItemIn
from labelloop.ingest import EXPORTERS, IMPORTERS
from labelloop.ingest.conformance import check_exporter, check_importer
from labelloop.ingest.tables import TABLE_IMPORTERS


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_every_exporter_conforms(name: str) -> None:
    check_exporter(name, EXPORTERS[name])


@pytest.mark.parametrize("name", sorted(IMPORTERS))
def test_every_importer_conforms(name: str) -> None:
    if name == "hf_datasets":  # reads with the optional datasets library (the hf extra)
        pytest.importorskip("datasets")
    check_importer(name, IMPORTERS[name])


@pytest.mark.parametrize("name", sorted(TABLE_IMPORTERS))
def test_every_table_importer_conforms(name: str) -> None:
    check_importer(name, TABLE_IMPORTERS[name])


class _Closer:
    format: ClassVar[str] = "closer"

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        for record in records:
            sink.write(str(record.item_id).encode())
        sink.close()


class _Skipper:
    format: ClassVar[str] = "skipper"

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        sink.write(b"-")  # never reads its records


class _Crasher:
    format: ClassVar[str] = "crasher"

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        data = source.read()
        if data:
            raise ValueError("boom")  # a traceback, not a line-numbered error
        yield from ()


class _Lister:
    format: ClassVar[str] = "lister"

    def read(self, source: BinaryIO) -> Any:
        return []  # reads everything first


@pytest.mark.parametrize(
    ("check", "cls", "message"),
    [
        (check_exporter, _Closer, "must not close the sink"),
        (check_exporter, _Skipper, "records read"),
        (check_importer, _Crasher, "boom"),
        (check_importer, _Lister, "must return an iterator"),
    ],
)
def test_the_checks_catch_broken_formats(check: Any, cls: Any, message: str) -> None:
    with pytest.raises((AssertionError, ValueError), match=message):
        check(cls.format, cls)
