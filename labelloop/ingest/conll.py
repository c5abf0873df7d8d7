"""CoNLL / BIO: one token per line with its tag, a blank line between items, both ways.

Import reads ``token<TAB>tag`` lines (or whitespace-separated columns with the tag last, as in
CoNLL-2003); each item becomes a text of its tokens joined by single spaces with the tagged
entities as character-offset spans. Export writes the labeled spans of a spans control back as
BIO tags over labelloop's own tokenization, so export -> import reproduces the spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from labelloop.domain import ExportRecord, ItemIn
from labelloop.errors import ControlsRefused, ImportFormatError, LabelloopError
from labelloop.ingest.records import MAX_TEXT_CHARS, bounded_lines, checked_id, decode_line
from labelloop.schema.tokens import spans_to_tags, tags_to_spans, tokenize

if TYPE_CHECKING:
    from labelloop.schema import ProjectSchema

ID_COMMENT = "# id = "
"""A line naming the next item's id (CoNLL-U style); written by the exporter."""
DOCSTART = "-DOCSTART-"
_SCHEMES = {"B": "B", "I": "I", "S": "B", "E": "I"}  # BIOES read as BIO
_FLUSH_ITEMS = 500


def _tag(raw: str, line: int) -> str:
    """A BIO tag as ``O``, ``B-label`` or ``I-label`` (BIOES ``S-``/``E-`` map to ``B-``/``I-``)."""
    if raw == "O":
        return raw
    prefix, sep, label = raw.partition("-")
    if not sep or prefix not in _SCHEMES or not label.strip():
        raise ImportFormatError(line=line, reason=f"tag {raw!r} is not O, B-<label> or I-<label>")
    return f"{_SCHEMES[prefix]}-{label}"


class ConllImporter:
    """Reads CoNLL/BIO files into text items labeled with spans; errors name the line.

    Items whose lines carry only a token (no tag column) come in unlabeled. The options of the
    other text importers are accepted; ids come from ``# id = ...`` lines.
    """

    format: ClassVar[str] = "conll"

    def __init__(
        self,
        *,
        text_field: str = "text",
        id_field: str | None = None,
        label_field: str | None = None,
        prediction_field: str | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> None:
        if prediction_field is not None:
            raise LabelloopError(
                "a CoNLL file holds one tag per token, no predictions with scores; "
                "import pre-annotations from JSONL"
            )
        self.text_field = text_field
        self.id_field = id_field
        self.label_field = label_field
        self.max_text_chars = max_text_chars

    def read(self, source: BinaryIO) -> Iterator[ItemIn]:
        """Yield one ItemIn per block of token lines, numbered by the block's first line."""
        tokens: list[str] = []
        tags: list[str | None] = []
        first = 0
        external_id: str | None = None
        for line, raw in bounded_lines(source):
            text = decode_line(raw, line).rstrip("\r\n")
            if not text.strip():  # a blank line, or a lone tab as in WNUT-16 files
                if tokens:
                    yield self._item(first, tokens, tags, external_id)
                tokens, tags, external_id = [], [], None
                continue
            if "\t" not in text and text.startswith(ID_COMMENT):
                found = text[len(ID_COMMENT) :].strip()
                external_id = checked_id(line, None, found) if found else None
                continue
            if "\t" not in text and text.startswith("# ") and " = " in text:
                continue  # another comment line (CoNLL-U style: "# text = ...")
            columns = text.split("\t") if "\t" in text else text.split()
            columns = [c for c in columns if c.strip()] if "\t" in text else columns
            if not columns:
                continue
            if columns[0] == DOCSTART:
                continue
            if not tokens:
                first = line
            token = columns[0].strip()
            tag = _tag(columns[-1].strip(), line) if len(columns) > 1 else None
            if tags and (tags[-1] is None) != (tag is None):
                raise ImportFormatError(
                    line=line, reason="some tokens of this item have a tag and some do not"
                )
            tokens.append(token)
            tags.append(tag)
        if tokens:
            yield self._item(first, tokens, tags, external_id)

    def _item(
        self, line: int, words: list[str], tags: list[str | None], external_id: str | None
    ) -> ItemIn:
        offsets = []
        at = 0
        for word in words:
            offsets.append((at, at + len(word)))
            at += len(word) + 1
        text = " ".join(words)
        if len(text) > self.max_text_chars:
            raise ImportFormatError(
                line=line,
                reason=f"text is {len(text):,} characters; the limit is {self.max_text_chars:,}",
            )
        label = None
        if tags and tags[0] is not None:
            label = [
                {"start": s["start"], "end": s["end"], "label": s["label"]}
                for s in tags_to_spans(offsets, [t or "O" for t in tags])
            ]
        return ItemIn(line=line, payload={"text": text}, external_id=external_id, label=label)


def _spans_control(schema: ProjectSchema | None) -> str | None:
    """The spans control an export writes: the target when it is one, else the first."""
    if schema is None:
        return None
    if schema.target.type == "spans":
        return schema.target.name
    names = [c.name for c in schema.controls if c.type == "spans"]
    if not names:
        # make_exporter adds the formats that hold the project's controls
        raise ControlsRefused("CoNLL export needs a spans control; this project has none")
    return names[0]


class ConllExporter:
    """Writes each labeled item as ``token<TAB>tag`` lines after a ``# id = ...`` line.

    Spans are snapped to labelloop's tokens; where spans overlap, a token keeps the first.
    """

    format: ClassVar[str] = "conll"

    def __init__(self, *, schema: ProjectSchema | None = None) -> None:
        self.schema = schema
        self.control = _spans_control(schema)

    def _spans(self, record: ExportRecord) -> list[Mapping[str, Any]]:
        if self.control is not None:
            found = record.value.get(self.control) if record.value else None
            if found is None and self.schema is not None and self.schema.target.type == "spans":
                found = record.label
        else:
            found = record.label
        return [s for s in found or [] if isinstance(s, Mapping)]

    def write(self, records: Iterable[ExportRecord], sink: BinaryIO) -> None:
        """Write ``records`` to ``sink`` as UTF-8 CoNLL, a blank line after each item."""
        buffer: list[str] = []
        for n, record in enumerate(records, 1):
            text = record.text if isinstance(record.text, str) else ""
            tokens = tokenize(text)
            tags = spans_to_tags(tokens, self._spans(record))
            lines = []
            if record.external_id is not None and " ".join(record.external_id.split()):
                lines.append(ID_COMMENT + " ".join(record.external_id.split()))
            lines += [f"{text[s:e]}\t{tag}" for (s, e), tag in zip(tokens, tags, strict=True)]
            buffer.append("\n".join(lines) + "\n\n")
            if n % _FLUSH_ITEMS == 0:
                sink.write("".join(buffer).encode("utf-8"))
                buffer.clear()
        if buffer:
            sink.write("".join(buffer).encode("utf-8"))
