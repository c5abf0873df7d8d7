"""Conformance checks every import and export format must pass, built-in or plug-in (in the
spirit of scikit-learn's ``check_estimator``): a new format is tested by running these on it."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from labelloop.domain import AnswerRecord, ExportRecord, ItemIn
from labelloop.errors import ImportFormatError
from labelloop.ingest.protocols import AnswersExporter, Exporter, ImagesExporter, Importer

GARBAGE = (b"\xff\xfe\x00garbage", b"{", b"\x00\x01\x02\n\n\x03", b'a\tb\tc\n,,,\n"')
"""Inputs no format reads: each must end in ImportFormatError, never another exception."""


def sample_record(item_id: int = 1, text: str = "Ann flew to Rome") -> ExportRecord:
    """A small labeled text record, as ``workflow.export.records`` yields them."""
    return ExportRecord(
        item_id=item_id,
        external_id=f"doc-{item_id}",
        text=text,
        label="pos",
        resolution="single",
        annotator="ann",
        annotated_at=None,
        active_ms=1200,
        guideline_version=1,
        schema_version=1,
        model_version=None,
        suggestion=None,
        suggestion_confidence=None,
        strategy="margin",
        score=0.5,
        rank=0,
        reason="picked",
        value={"mood": "pos"},
        payload={"text": text},
    )


def sample_answer(answer_id: int, item_id: int = 1, text: str = "Ann flew to Rome") -> AnswerRecord:
    """One annotator's answer to a small text item, as ``workflow.export.answer_records``
    yields them."""
    return AnswerRecord(
        item_id=item_id,
        external_id=f"doc-{item_id}",
        text=text,
        answer_id=answer_id,
        annotator=f"ann{answer_id}",
        answer="pos",
        value={"mood": "pos"},
        status="submitted",
        answered_at=datetime(2024, 5, 1, tzinfo=UTC),
        changed_at=None,
        active_ms=1200,
        guideline_version=1,
        schema_version=1,
        verdict=None,
        reviewed_by=None,
        reviewed_at=None,
        review_tier=None,
        review_comment=None,
        fixed_value=None,
        gold=False,
        gold_label=None,
        label="pos",
        resolution="consensus",
        agrees=True,
        strategy="margin",
        model_version=None,
        suggestion=None,
        suggestion_confidence=None,
        payload={"text": text},
    )


class _Sink(io.BytesIO):
    """A sink that fails the check if the exporter closes it (the caller owns it)."""

    def close(self) -> None:
        raise AssertionError("an exporter must not close the sink; the caller owns it")


def check_exporter(name: str, cls: Callable[[], Any]) -> None:
    """An exporter is built without arguments, has its registry name, writes bytes, consumes its
    records once as they come (a generator is enough), and leaves the sink open."""
    exporter = cls()
    assert isinstance(exporter, Exporter), f"{name}: not an Exporter"
    assert exporter.format == name, f"{name}: format is {exporter.format!r}"
    # two items of a project hold different content (an import skips the same content again)
    for records in ([], [sample_record(1), sample_record(2, "Bob stayed home")]):
        pulled: list[int] = []
        sink = _Sink()
        exporter.write(_stream(records, pulled), sink)
        assert pulled == [r.item_id for r in records], f"{name}: records read {pulled}"
        assert isinstance(sink.getvalue(), bytes)
        if records:
            assert sink.getvalue(), f"{name}: two records wrote nothing"
    if isinstance(exporter, AnswersExporter):  # it writes every answer too: the same contract
        answers = [sample_answer(1), sample_answer(2), sample_answer(3, 2, "Bob stayed home")]
        pulled = []
        sink = _Sink()
        exporter.write_answers(_stream(answers, pulled, key="answer_id"), sink)
        assert pulled == [1, 2, 3], f"{name}: answers read {pulled}"
        assert sink.getvalue(), f"{name}: three answers wrote nothing"
    if isinstance(exporter, ImagesExporter):  # with the images: a zip holding each one's file
        _check_images(name, exporter)


def _check_images(name: str, exporter: Any) -> None:
    """An exporter with images reads its records once, as they come, and writes a zip
    holding each record's image once, in an ``images`` folder, leaving out a record ``files``
    gives no file for, and closing each file it was given."""
    records = [sample_record(n, f"shots/{n}/a.png") for n in (1, 2, 3)]
    opened: list[BinaryIO] = []
    with tempfile.TemporaryDirectory() as folder:

        def files(record: Any) -> BinaryIO | None:
            if record.item_id > 2:
                return None
            path = Path(folder, f"{record.item_id}.png")
            path.write_bytes(b"image %d" % record.item_id)
            opened.append(path.open("rb"))
            return opened[-1]

        pulled: list[int] = []
        sink = _Sink()
        exporter.write_with_images(_stream(records, pulled), sink, files=files)
    assert pulled == [1, 2, 3], f"{name}: records read {pulled}"
    assert all(file.closed for file in opened), f"{name}: an image file was left open"
    with zipfile.ZipFile(io.BytesIO(sink.getvalue())) as archive:
        held = sorted(archive.read(n) for n in archive.namelist() if n.startswith("images/"))
    assert held == [b"image 1", b"image 2"], f"{name}: the zip's images are {held}"


def _stream(records: list[Any], pulled: list[int], *, key: str = "item_id") -> Iterator[Any]:
    """``records`` as a one-pass generator that notes each record read (its ``key``)."""
    for record in records:
        pulled.append(getattr(record, key))
        yield record


def check_importer(name: str, cls: Callable[[], Any]) -> None:
    """An importer is built without arguments, has its registry name, yields ItemIn records
    lazily, and turns unreadable input into ImportFormatError with a line of at least 1."""
    importer = cls()
    assert isinstance(importer, Importer), f"{name}: not an Importer"
    assert importer.format == name, f"{name}: format is {importer.format!r}"
    records = importer.read(io.BytesIO(b""))
    assert iter(records) is records, f"{name}: read() must return an iterator, not a list"
    try:
        found = list(records)
    except ImportFormatError as exc:
        assert exc.line >= 1, f"{name}: error line {exc.line}"
    else:
        assert all(isinstance(r, ItemIn) for r in found), f"{name}: yields non-ItemIn values"
    for raw in GARBAGE:
        try:
            list(importer.read(io.BytesIO(raw)))
        except ImportFormatError as exc:
            assert exc.line >= 1, f"{name}: error line {exc.line} for {raw!r}"
