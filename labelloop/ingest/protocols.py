"""The two extension points of intake and export: every format implements one of these."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, ClassVar, Protocol, runtime_checkable

from labelloop.domain import AnswerRecord, ExportRecord, ItemIn


@runtime_checkable
class Importer(Protocol):
    """Streams validated records; a bad one raises ImportFormatError(line=, reason=)."""

    format: ClassVar[str]

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per record, in file order, without reading the whole file first."""
        ...


@runtime_checkable
class Exporter(Protocol):
    """Writes exported records to a binary sink in one format."""

    format: ClassVar[str]

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write every record to ``sink``, streaming; the caller owns and closes the sink."""
        ...


@runtime_checkable
class AnswersExporter(Exporter, Protocol):
    """An exporter that also writes a row per answer (``labelloop export --annotations``)."""

    def write_answers(self, records: Iterable[AnswerRecord], sink: BinaryIO) -> None:
        """Write every answer record to ``sink``, streaming; the caller owns the sink."""
        ...


@runtime_checkable
class ImagesExporter(Exporter, Protocol):
    """An exporter that also writes a zip holding each item's image (``labelloop export
    --images``), as :mod:`~labelloop.ingest.bundles` lays it out."""

    def write_with_images(
        self,
        records: Iterable[ExportRecord],
        sink: BinaryIO,
        *,
        files: Callable[[ExportRecord], BinaryIO | None],
    ) -> None:
        """Write ``records`` with the images ``files`` gives, opened (a record without one is
        left out; each is closed once copied), to ``sink`` as a zip, streaming; the caller owns
        the sink."""
        ...
