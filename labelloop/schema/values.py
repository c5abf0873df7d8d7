"""Annotation values checked against a project schema, and raw imported labels normalized."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from labelloop.errors import SchemaError
from labelloop.schema.project import Control, ProjectSchema, _kind

_SEPARATORS = re.compile(r"[,|]")


def validate_value(schema: ProjectSchema, value: Mapping[str, Any]) -> dict[str, Any]:
    """Check an annotation value (control name -> value) and return a normalized copy.

    The target control is required, the others optional; multi_choice lists come back in the
    schema's label order so equal answers compare equal.
    """
    if not isinstance(value, Mapping):
        raise SchemaError("value: must be a mapping of control name to value")
    names = {c.name for c in schema.controls}
    for key in value:
        if key not in names:
            known = ", ".join(c.name for c in schema.controls)
            raise SchemaError(f"{key!r} is not a control; controls are: {known}")
    target = schema.target
    result: dict[str, Any] = {}
    for control in schema.controls:
        raw = value.get(control.name)
        if raw is None:
            if control is target:
                raise SchemaError(f"{control.name}: required")
            continue
        if control.type == "choice":
            if not isinstance(raw, str):
                raise SchemaError(f"{control.name}: must be one label name; got {_kind(raw)}")
            _check_label(control, raw)
            result[control.name] = raw
        else:
            if not isinstance(raw, list | tuple):
                raise SchemaError(
                    f"{control.name}: must be a list of label names; got {_kind(raw)}"
                )
            seen: set[str] = set()
            for label in raw:
                if not isinstance(label, str):
                    raise SchemaError(
                        f"{control.name}: must be a list of label names; got a {_kind(label)}"
                    )
                _check_label(control, label)
                if label in seen:
                    raise SchemaError(f"{control.name}: {label!r} is given twice")
                seen.add(label)
            result[control.name] = [label for label in control.labels if label in seen]
    return result


def label_value(control: Control, raw: Any) -> Any:
    """Normalize a label as it came in an import file for ``control``; ``None`` means unlabeled.

    choice: the label name, stripped. multi_choice: a list (or a string split on "," or "|"),
    de-duplicated, in the schema's label order. A blank string means unlabeled. A name that
    matches no label exactly but one label ignoring case is taken as that label.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if control.type == "choice":
        return _resolve(control, _scalar(control, raw))
    if isinstance(raw, str):
        parts = [part.strip() for part in _SEPARATORS.split(raw)]
    elif isinstance(raw, list | tuple):
        parts = [_scalar(control, part).strip() for part in raw]
    else:
        raise SchemaError(f"{control.name}: must be a list of label names; got {_kind(raw)}")
    chosen = {_resolve(control, part) for part in parts if part}
    return [label for label in control.labels if label in chosen]


def _scalar(control: Control, raw: Any) -> str:
    """A raw label as a string; numbers are accepted because JSON files often carry 0/1 labels."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise SchemaError(f"{control.name}: must be a label name; got {_kind(raw)}")


def _resolve(control: Control, raw: str) -> str:
    """The control's label for ``raw``: exact match after stripping, else a unique caseless one."""
    name = raw.strip()
    if name in control.labels:
        return name
    folded = [label for label in control.labels if label.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise SchemaError(f"{control.name}: {name!r} is not one of {', '.join(control.labels)}")


def _check_label(control: Control, label: str) -> None:
    """Raise unless ``label`` is exactly one of the control's labels."""
    if label not in control.labels:
        raise SchemaError(f"{control.name}: {label!r} is not one of {', '.join(control.labels)}")
