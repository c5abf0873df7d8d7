"""Where a label came from, as the files written for other tools (Label Studio, doccano,
Prodigy) carry it beside the label: who annotated it and when, under which guideline and schema
version, and why its item was picked, so a team that moves its labels keeps that trail.

The names are the columns of labelloop's own export (``annotator``, ``annotated_at``,
``guideline_version``, ``schema_version``, ``strategy``, ``reason``, ``annotators`` and
``guideline_versions`` when anyone here answered, and ``answers``, each answer's own; for a
label a reviewer or adjudicator decided, ``decided_by``, ``decided_at``,
``decided_guideline_version``); what labelloop does not know (an imported label has no
annotator) is left out rather than written as null.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import count
from typing import Any

from labelloop.domain import DECIDED, AnswerRecord, ExportRecord, LabelAnswer
from labelloop.ingest.records import iso_utc

PROVENANCE_KEY = "labelloop"
"""Where provenance goes when the item's own metadata already uses one of its names (then
``labelloop_2``, ... when the item's own ``labelloop`` cannot take it: see
:func:`with_provenance`)."""


def label_provenance(record: ExportRecord) -> dict[str, Any]:
    """The label's provenance: who annotated, when, under which guideline and schema version,
    and the selection that picked its item (``strategy``, ``reason``), every annotator
    behind the label with their guideline versions (:func:`behind`), and each of their answers'
    own provenance as ``answers`` (:func:`answers_provenance`: the reason each annotator was
    served the item, not only the label's); an auto label's ``reason`` names its run and
    ``model_version`` the model that gave it. A label no one annotated here (imported, auto)
    has no ``annotated_at``: the export's time for it is when labelloop took it in."""
    found = {
        "annotator": record.annotator,
        "annotated_at": _when(record.annotated_at if record.annotator else None),
        **answer_versions(record),
        **behind(record),
        "answers": answers_provenance(record.answers) or None,
    }
    if record.resolution == "auto":
        found["model_version"] = record.model_version  # the model's label, not a person's
    return _known(found) | decision_provenance(record)


def behind(record: ExportRecord) -> dict[str, Any]:
    """Every annotator whose answer stands behind the label and the guideline version each
    answered under (``annotators``, ``guideline_versions``, as labelloop's own export writes
    them); nothing for a label no one here answered."""
    if not record.annotators:
        return {}
    return {
        "annotators": list(record.annotators),
        "guideline_versions": list(record.guideline_versions),
    }


def decision_provenance(record: ExportRecord) -> dict[str, Any]:
    """Who decided a label a reviewer or the expert tier's adjudicator decided, when, and the
    guideline version in force then (``decided_by``, ``decided_at``,
    ``decided_guideline_version``); nothing for a label no one decided."""
    if record.decided_guideline_version is None and record.resolution not in DECIDED:
        return {}
    return _known(
        {
            "decided_by": record.decided_by,
            "decided_at": _when(record.decided_at),
            "decided_guideline_version": record.decided_guideline_version,
        }
    )


def answer_versions(record: ExportRecord | AnswerRecord | LabelAnswer) -> dict[str, Any]:
    """What an answer was made under and why its item was served: ``guideline_version``,
    ``schema_version``, ``strategy`` and ``reason``, those it has."""
    return _known(
        {
            "guideline_version": record.guideline_version,
            "schema_version": record.schema_version,
            "strategy": record.strategy,
            "reason": record.reason,
        }
    )


def answers_provenance(answers: Iterable[AnswerRecord | LabelAnswer]) -> list[dict[str, Any]]:
    """Each answer's provenance, in order: ``id`` (the answer's, as the export writes it),
    ``annotator``, ``annotated_at``, ``changed_at`` when its annotator changed it (an answers
    export's), and what it was made under and why its item was served
    (:func:`answer_versions`)."""
    return [
        _known(
            {
                "id": answer.answer_id,
                "annotator": answer.annotator,
                "annotated_at": _when(answer.answered_at),
                "changed_at": _when(answer.changed_at)
                if isinstance(answer, AnswerRecord)
                else None,
            }
        )
        | answer_versions(answer)
        for answer in answers
    ]


def with_provenance(fields: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` (an item's metadata) with ``ours`` beside them, never overwriting one of the
    item's own: what of ``ours`` would overwrite one goes aside, into the first of
    ``labelloop``, ``labelloop_2``, ``labelloop_3``, ... that the item does not have, or whose
    value is a mapping none of whose names that part uses (it then joins them). An item from
    an earlier labelloop export keeps that export's ``labelloop`` whole."""
    out = dict(fields)
    taken = {k: v for k, v in ours.items() if k in out}
    out |= {k: v for k, v in ours.items() if k not in out}
    if taken:
        for key in _aside_keys():
            own = out.get(key)
            if key not in out or (isinstance(own, dict) and not own.keys() & taken.keys()):
                out[key] = {**(own or {}), **taken}
                break
    return out


def put_aside(fields: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` :func:`with_provenance` put aside in ``fields``: the last of
    ``labelloop``, ``labelloop_2``, ... (up to the first ``fields`` lacks) that is a mapping
    holding it, as an earlier export's are before ours; None when none does."""
    found = None
    for key in _aside_keys():
        if key not in fields:
            break
        if isinstance(aside := fields[key], Mapping) and name in aside:
            found = aside[name]
    return found


def _known(found: Mapping[str, Any]) -> dict[str, Any]:
    """``found`` without what labelloop does not know (None): left out, not written as null."""
    return {k: v for k, v in found.items() if v is not None}


def _when(at: Any) -> str | None:
    """A time as the export writes it (ISO 8601, UTC), None for none."""
    return iso_utc(at) if at is not None else None


def _aside_keys() -> Iterator[str]:
    """``labelloop``, then ``labelloop_2``, ``labelloop_3``, ... without end."""
    yield PROVENANCE_KEY
    for n in count(2):
        yield f"{PROVENANCE_KEY}_{n}"
