"""Imported labels and pre-annotations of every control, normalized against the schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from labelloop.errors import SchemaError
from labelloop.ingest.records import object_in_cell, unstorable_at
from labelloop.kinds import kind
from labelloop.schema import ProjectSchema, label_value, validate_value
from labelloop.schema.project import Control
from labelloop.schema.values import is_number


def imported_value(
    schema: ProjectSchema,
    raw: Any,
    payload: Mapping[str, Any] | None = None,
    *,
    target: Control | None = None,
) -> dict[str, Any] | None:
    """An imported label as a full value (control name -> value), or ``None`` for unlabeled.

    ``raw`` is the target control's label, or, when it is a mapping whose keys are all control
    names (as ``value`` in a labelloop JSONL export), the value of several controls. A JSON
    object in a text cell (CSV) is read as such a mapping. ``target`` is ``schema.target``,
    passed by callers that convert many labels.
    """
    target = target or schema.target
    raw = _json_object(schema, raw)
    if isinstance(raw, Mapping) and raw and all(_is_control(schema, name) for name in raw):
        values = {}
        for control in schema.controls:
            value = label_value(control, raw.get(control.name), payload)
            if value is not None:
                values[control.name] = value
        if target.name not in values:
            return None
        return validate_value(schema, values, payload)
    value = label_value(target, raw, payload)
    return None if value is None else {target.name: value}


def _is_control(schema: ProjectSchema, name: Any) -> bool:
    return any(c.name == name for c in schema.controls)


def _json_object(schema: ProjectSchema, raw: Any) -> Any:
    """A text cell holding a JSON object, parsed; a label that merely starts with "{" stays.
    The texts of the object are refused as the file's own are (:func:`unstorable_at`): its
    escapes can spell a NUL or a lone surrogate."""
    try:
        parsed = object_in_cell(raw)
    except json.JSONDecodeError as exc:
        if len(schema.controls) > 1:
            raise SchemaError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
        return raw
    if parsed is not raw and (found := unstorable_at(parsed)) is not None:
        raise SchemaError(f"{found[0]}: {found[1]}")
    return parsed


def prediction_value(
    schema: ProjectSchema, raw: Any, payload: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """Pre-annotations (control name -> predicted value) checked like labels, scores kept.

    choice: a label or ``{"label", "score"}``; multi_choice: a list of labels; spans and boxes:
    lists of regions that may carry a ``score``; rating and text: as labels. Scores are numbers
    from 0 to 1. ``None`` or an empty mapping means no pre-annotation.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SchemaError(f"must be an object of control name -> prediction; got {kind(raw)}")
    names = {c.name for c in schema.controls}
    out: dict[str, Any] = {}
    for name, predicted in raw.items():
        if name not in names:
            known = ", ".join(c.name for c in schema.controls)
            raise SchemaError(f"{name!r} is not a control; controls are: {known}")
        if predicted is None:
            continue
        value = _predicted(schema.control(name), predicted, payload)
        if value is not None:
            out[name] = value
    return out or None


def _predicted(control: Control, raw: Any, payload: Mapping[str, Any] | None) -> Any:
    """One control's prediction in the contract's shape, with scores checked and kept."""
    if control.type == "choice" and isinstance(raw, Mapping):
        label = label_value(control, raw.get("label"))
        if label is None:
            raise SchemaError(f"{control.name}.label: missing")
        if raw.get("score") is None:
            return label
        return {"label": label, "score": _score(f"{control.name}.score", raw["score"])}
    if control.type not in ("spans", "boxes"):
        return label_value(control, raw, payload)
    if not isinstance(raw, list | tuple):
        raise SchemaError(f"{control.name}: must be a list; got {kind(raw)}")
    scores = [
        _score(f"{control.name}[{i}].score", r.get("score"))
        if isinstance(r, Mapping) and r.get("score") is not None
        else None
        for i, r in enumerate(raw)
    ]
    regions = label_value(control, list(raw), payload)
    if control.type == "boxes":  # order is kept, so scores pair up by position
        return [_scored(r, s) for r, s in zip(regions, scores, strict=True)]
    by_span = {}
    for r, s in zip(raw, scores, strict=True):
        if isinstance(r, Mapping):
            by_span[(r.get("start"), r.get("end"), r.get("label"))] = s
    return [_scored(r, by_span.get((r["start"], r["end"], r["label"]))) for r in regions]


def _scored(region: dict[str, Any], score: float | None) -> dict[str, Any]:
    return region if score is None else {**region, "score": score}


def _score(where: str, raw: Any) -> float:
    if not is_number(raw) or not 0 <= raw <= 1:
        raise SchemaError(f"{where}: must be a number from 0 to 1; got {raw!r}")
    return float(raw)
