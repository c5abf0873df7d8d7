"""Prodigy's JSON Lines in and out (``prodigy db-out`` / ``prodigy db-in``), so a Prodigy team
brings its datasets over and sends labels back (format: prodi.gy/docs/api-interfaces).

In: one task per line. ``text`` (in an HTML project ``html`` first) is the item, ``meta`` and
the task's other fields its metadata, ``_annotator_id`` and ``_session_id`` kept as
``prodigy_annotator`` and ``prodigy_session`` (not when they repeat the annotator labelloop's
export wrote in ``meta``); the hashes, ``_view_id``, ``_timestamp``, the
tokens, options and config are Prodigy's own and dropped. Only an ``accept`` answer labels the
item, with the project's target control: a choice task's ``accept`` (option ids, or the option's
text when its id is no label; a choice control takes exactly one), a binary task's ``label``
(textcat.teach, the classification view) or the task's ``spans`` (character offsets, end
exclusive, as labelloop's). A ``reject`` or ``ignore`` answer says only what the item is not, or
nothing: the item comes in unlabeled, its answer kept as ``prodigy_answer`` (and a binary
task's label as ``prodigy_label``). A task with no answer (an input stream) is an unlabeled
item. Prodigy has no id field: ``id_field`` names a field of the task or of its ``meta``.

Out: one accepted task per labeled item: ``text`` (an HTML item: ``html`` too), ``meta`` (the
item's metadata with its id and the label's provenance,
:func:`~labelloop.ingest.provenance.label_provenance`: annotator, annotated_at, guideline and
schema version, strategy and reason, and each answer behind it with its own, ``answers``), the
annotator as ``_annotator_id`` and ``_session_id`` and the time as ``_timestamp`` (Unix
seconds), which Prodigy's review and progress read, every annotator behind the label as
``sessions`` (as Prodigy's review recipe names the sessions behind an example; read back, it is
left out when it repeats the ``annotators`` in meta), a choice task's ``options`` (the control's
labels in schema order), ``accept`` and ``config``, or a ner_manual task's ``tokens`` and
``spans`` (a spans_manual task where the control lets spans overlap), which ``prodigy db-in``
loads as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from labelloop.domain import ExportRecord, ItemIn
from labelloop.errors import ImportFormatError
from labelloop.ingest.annotated import (
    AnnotatedExporter,
    AnnotatedImporter,
    label_name,
    region,
    spans_of,
    tool_id,
)
from labelloop.ingest.provenance import label_provenance, put_aside, with_provenance
from labelloop.kinds import kind
from labelloop.schema.tokens import tokenize

ANSWERS = ("accept", "reject", "ignore")
_DROPPED = frozenset(
    {
        "_input_hash",
        "_task_hash",
        "_view_id",
        "_timestamp",
        "_is_binary",
        "tokens",
        "options",
        "config",
        "answer",
        "accept",
        "spans",
        "label",
        "meta",
        "text",
        "html",
        "_annotator_id",
        "_session_id",
        "score",
        "priority",
        "versions",
    }
)
"""Task fields that are Prodigy's own (or read into the item): not metadata. ``versions`` (the
review recipe's copy of every annotator's task) repeats the text and its labels once per
annotator; ``sessions`` says whose they were and is kept."""
_KEPT = {"_annotator_id": "prodigy_annotator", "_session_id": "prodigy_session"}


class ProdigyImporter(AnnotatedImporter):
    """Reads Prodigy JSON Lines (``prodigy db-out``); with ``schema`` labels go to its target
    control and are checked there."""

    format: ClassVar[str] = "prodigy"
    tool: ClassVar[str] = "Prodigy"
    html_keys: ClassVar[tuple[str, ...]] = ("html",)
    labels_in: ClassVar[str | None] = "each task's answer, accept, label and spans"

    def _record(self, line: int, record: Mapping[str, Any]) -> ItemIn:
        field, text = self._content(line, record)
        meta = record.get("meta")
        metadata = {k: v for k, v in record.items() if k not in _DROPPED}
        if isinstance(meta, Mapping):
            metadata.update(meta)
        elif meta is not None:
            metadata["meta"] = meta
        written = _labelloop_annotator(meta)
        for key, name in _KEPT.items():
            # a task labelloop wrote names its annotator in meta already: kept once
            if record.get(key) is not None and record[key] != written:
                metadata[name] = record[key]
        if "sessions" in record and record["sessions"] == _labelloop_annotator(meta, "annotators"):
            del metadata["sessions"]  # labelloop's export named them in meta already: once
        external_id = None
        if self.id_field is not None:
            external_id = self._task_id(line, record, metadata)
        answer = record.get("answer")
        label = None
        if answer is not None and answer not in ANSWERS:
            raise ImportFormatError(
                line=line,
                field="answer",
                reason=f"must be accept, reject or ignore, got {str(answer)[:50]!r}",
            )
        if answer == "accept":
            label = self._accepted(line, record, text)
        elif answer is not None:
            self.counts[answer] += 1
            metadata["prodigy_answer"] = answer
            if isinstance(record.get("label"), str):
                metadata["prodigy_label"] = record["label"]
        return self._made(line, text, external_id, label, metadata)

    def notes(self) -> list[str]:
        said = [
            f"{self.counts[a]:,} {done} {'answer' if self.counts[a] == 1 else 'answers'}"
            for a, done in (("reject", "rejected"), ("ignore", "ignored"))
            if self.counts[a]
        ]
        if not said:
            return []
        return [
            f"{' and '.join(said)} came in unlabeled (metadata prodigy_answer): a reject says only "
            "what an item is not"
        ]

    def _task_id(self, line: int, record: Mapping[str, Any], metadata: dict[str, Any]) -> str:
        """The id under ``id_field``, in the task or else in its ``meta`` (where labelloop's
        export writes it)."""
        key = str(self.id_field)
        meta = record.get("meta")
        if key in record:
            where, value = key, record[key]
        elif isinstance(meta, Mapping) and key in meta:
            where, value = f"meta.{key}", meta[key]
        else:
            raise ImportFormatError(
                line=line, field=key, reason="missing (in the task and its meta)"
            )
        metadata.pop(key, None)
        return self._external_id(line, value, field=where)

    def _accepted(self, line: int, record: Mapping[str, Any], text: str) -> Any:
        """An accepted task's label for the target control, from what the task holds: the
        target says which to read when the task holds several (a textcat task may carry the
        spans a pattern matched)."""
        target = self._target
        wants_spans = target.type == "spans" if target is not None else None
        if "accept" in record and wants_spans is not True:
            return self._names(line, "accept", self._options_chosen(line, record), answered=True)
        if isinstance(record.get("label"), str) and wants_spans is not True:
            return self._names(line, "label", [record["label"]])
        if "spans" in record and wants_spans is not False:
            raw = record["spans"]
            if not isinstance(raw, list):
                raise ImportFormatError(
                    line=line, field="spans", reason=f"must be a list of spans, got {kind(raw)}"
                )
            spans = [
                region(line, f"spans[{i}]", s, ("start", "end", "label")) for i, s in enumerate(raw)
            ]
            return self._spans(line, "spans", spans, text)
        held = [k for k in ("accept", "label", "spans") if k in record]
        if held and target is not None:
            what = "spans" if held == ["spans"] else "labels for the whole text"
            raise self._wrong_kind(line, held[0], what, target)
        raise ImportFormatError(
            line=line,
            field="answer",
            reason="an accepted task with no accept, label or spans holds no label",
        )

    def _options_chosen(self, line: int, record: Mapping[str, Any]) -> list[str]:
        """The accepted options as label names: an option id that is one of the target's
        labels, else its option's text."""
        accept = record["accept"]
        if not isinstance(accept, list):
            raise ImportFormatError(
                line=line,
                field="accept",
                reason=f"must be a list of option ids, got {kind(accept)}",
            )
        texts: dict[str, Any] = {}
        options = record.get("options")
        if isinstance(options, list):
            for option in options:
                if isinstance(option, Mapping) and isinstance(option.get("id"), str | int):
                    texts[str(option["id"])] = option.get("text")
        target = self._target
        labels = {label.casefold() for label in target.labels} if target is not None else set()
        names = []
        for i, chosen in enumerate(accept):
            name = label_name(line, f"accept[{i}]", chosen)
            text = texts.get(name)
            # the option's text when its id is no label (without a schema: when it is a number)
            by_text = target is not None or not isinstance(chosen, str)
            if (
                by_text
                and isinstance(text, str)
                and text.strip()
                and name.strip().casefold() not in labels
            ):
                name = text
            names.append(name)
        return names


class ProdigyExporter(AnnotatedExporter):
    """Writes labeled items as Prodigy tasks, one accepted answer per line, for ``prodigy
    db-in``: choice tasks for a choice or multi_choice target, ner_manual tasks for spans."""

    format: ClassVar[str] = "prodigy"
    tool: ClassVar[str] = "Prodigy"

    def _object(self, record: ExportRecord) -> dict[str, Any]:
        task: dict[str, Any] = {}
        html = self.schema is not None and self.schema.data_type == "html"
        text = record.text if isinstance(record.text, str) else ""
        if html:
            task["text"] = str(record.payload.get("text", ""))
            task["html"] = text
        else:
            task["text"] = text
        # The item's own metadata keeps its names (an imported meta.id stays the task's id).
        ours = {"id": tool_id(record), **label_provenance(record)}
        task["meta"] = with_provenance(record.metadata, ours)
        if record.annotator is not None:  # who and when, where Prodigy's own tools look
            task["_annotator_id"] = task["_session_id"] = record.annotator
            if record.annotated_at is not None:
                task["_timestamp"] = _unix_seconds(record.annotated_at)
        if record.annotators:  # every annotator behind it, as Prodigy's review writes them
            task["sessions"] = list(record.annotators)
        type, labels = self._target(record)
        if type in ("choice", "multi_choice"):
            chosen = [record.label] if type == "choice" else list(record.label or ())
            task["options"] = [{"id": label, "text": label} for label in labels]
            task["accept"] = chosen
            task["config"] = {"choice_style": "single" if type == "choice" else "multiple"}
            task["_view_id"] = "choice"
        elif type == "spans":
            tokens = tokenize(text) if not html else []
            task["tokens"] = [
                {"text": text[s:e], "start": s, "end": e, "id": k, "ws": _ws(text, e)}
                for k, (s, e) in enumerate(tokens)
            ]
            starts = {s: k for k, (s, _) in enumerate(tokens)}
            ends = {e: k for k, (_, e) in enumerate(tokens)}
            task["spans"] = [_with_tokens(span, starts, ends) for span in spans_of(record.label)]
            overlap = self.schema is not None and self.schema.target.overlap
            task["_view_id"] = "spans_manual" if overlap else "ner_manual"
        task["answer"] = "accept"
        return task


def _labelloop_annotator(meta: Any, name: str = "annotator") -> Any:
    """The annotator (``name``: or the ``annotators``) labelloop's export wrote in a task's
    ``meta`` (put aside when the item's own metadata has that name, :func:`put_aside`), or
    None."""
    if not isinstance(meta, Mapping):
        return None
    aside = put_aside(meta, name)
    return aside if aside is not None else meta.get(name)


def _unix_seconds(at: datetime) -> int:
    """A time as Prodigy's ``_timestamp`` counts it: whole seconds since 1970 (naive: UTC)."""
    return int((at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp())


def _ws(text: str, end: int) -> bool:
    """Whether whitespace follows the token ending at ``end`` (Prodigy's ``ws``)."""
    return end < len(text) and text[end].isspace()


def _with_tokens(
    span: dict[str, Any], starts: dict[int, int], ends: dict[int, int]
) -> dict[str, Any]:
    """A span with the tokens it starts and ends on (``token_end`` inclusive, as Prodigy
    counts) when its offsets fall on token edges; ``starts`` and ``ends`` map a token's start
    and end offsets to its number."""
    if span["start"] in starts and span["end"] in ends:
        return {**span, "token_start": starts[span["start"]], "token_end": ends[span["end"]]}
    return span
