"""Annotation values checked against a project schema, raw imported labels normalized, and a
value said in a few words."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from typing import Any, TypeGuard

from labelloop.errors import SchemaError
from labelloop.schema.project import Control, ProjectSchema, _kind

_SEPARATORS = re.compile(r"[,|]")
MAX_REGIONS = 1_000
"""At most this many spans or boxes in one control's value."""
BOX_DIGITS = 2
"""A box's numbers are held in pixels to this many decimals: a box narrower than 0.01 pixel
rounds to no width and is refused."""


def validate_value(
    schema: ProjectSchema,
    value: Mapping[str, Any],
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check an annotation value (control name -> value) and return a normalized copy.

    The target control is required, the others optional; multi_choice lists come back in the
    schema's label order so equal answers compare equal. ``payload`` is the item's stored
    payload: with it, spans are checked against the text's length and boxes against the
    image's size (when the payload records ``width`` and ``height``).

    Value shapes: choice — a label; multi_choice — a list of labels; rating — an integer from
    1 to ``max``; text — a string; spans — a list of ``{"start", "end", "label"}`` character
    offsets (end exclusive), sorted; boxes — a list of ``{"x", "y", "w", "h", "label"}`` in
    image pixels. An empty list is a valid spans or boxes answer ("nothing here").
    """
    if not isinstance(value, Mapping):
        raise SchemaError("value: must be a mapping of control name to value")
    names = {c.name for c in schema.controls}
    for key in value:
        if key not in names:
            known = ", ".join(c.name for c in schema.controls)
            raise SchemaError(f"{key!r} is not a control; controls are: {known}", unknown=True)
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
        elif control.type == "rating":
            result[control.name] = _rating(control, raw)
        elif control.type == "text":
            if not isinstance(raw, str):
                raise SchemaError(f"{control.name}: must be a string; got {_kind(raw)}")
            if len(raw) > (control.max_chars or 0):
                raise SchemaError(
                    f"{control.name}: {len(raw):,} characters; the limit is {control.max_chars:,}"
                )
            if raw.strip() or control is target:
                result[control.name] = raw
        elif control.type == "spans":
            result[control.name] = spans_value(control, raw, payload)
        elif control.type == "boxes":
            result[control.name] = boxes_value(control, raw, payload)
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


def spans_value(
    control: Control, raw: Any, payload: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """A spans value as sorted ``{"start", "end", "label"}`` dicts; ``[start, end, label]``
    triples are accepted too. Bounds are checked against ``payload["text"]`` when given, and
    overlapping spans are refused unless the control allows overlap.
    """
    regions = _regions(control, raw)
    text = payload.get("text") if payload is not None else None
    out: list[dict[str, Any]] = []
    for i, region in enumerate(regions):
        if isinstance(region, list | tuple) and len(region) == 3:
            region = {"start": region[0], "end": region[1], "label": region[2]}
        if not isinstance(region, Mapping):
            raise SchemaError(
                f"{control.name}[{i}]: must be {{start, end, label}}; got {_kind(region)}"
            )
        start, end = region.get("start"), region.get("end")
        if not _whole(start) or not _whole(end) or not 0 <= start < end:
            raise SchemaError(
                f"{control.name}[{i}]: start and end must be whole numbers with "
                f"0 <= start < end; got {start!r}, {end!r}"
            )
        if isinstance(text, str) and end > len(text):
            raise SchemaError(
                f"{control.name}[{i}]: end {end} is past the end of the text ({len(text)})"
            )
        label = _region_label(control, region, i)
        out.append({"start": int(start), "end": int(end), "label": label})
    out.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    for a, b in zip(out, out[1:], strict=False):
        if (a["start"], a["end"], a["label"]) == (b["start"], b["end"], b["label"]):
            raise SchemaError(f"{control.name}: span {a['start']}-{a['end']} is given twice")
        if not control.overlap and b["start"] < a["end"]:
            raise SchemaError(
                f"{control.name}: spans {a['start']}-{a['end']} and {b['start']}-{b['end']} "
                "overlap, and this control does not allow overlap"
            )
    return out


def boxes_value(
    control: Control, raw: Any, payload: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """A boxes value as ``{"x", "y", "w", "h", "label"}`` dicts in pixels (rounded to 0.01).

    Boxes must have positive width and height, start at or after (0, 0), and lie inside the
    image when ``payload`` records its ``width`` and ``height`` (0.5 px tolerance).
    """
    regions = _regions(control, raw)
    width = payload.get("width") if payload is not None else None
    height = payload.get("height") if payload is not None else None
    out: list[dict[str, Any]] = []
    for i, region in enumerate(regions):
        if not isinstance(region, Mapping):
            raise SchemaError(
                f"{control.name}[{i}]: must be {{x, y, w, h, label}}; got {_kind(region)}"
            )
        numbers = {}
        for key in ("x", "y", "w", "h"):
            v = region.get(key)
            if not is_number(v):
                raise SchemaError(f"{control.name}[{i}].{key}: must be a number; got {v!r}")
            numbers[key] = round(float(v), BOX_DIGITS)
        if numbers["x"] < 0 or numbers["y"] < 0 or numbers["w"] <= 0 or numbers["h"] <= 0:
            raise SchemaError(
                f"{control.name}[{i}]: x and y must be >= 0 and w and h > 0; got {numbers}"
            )
        if _whole(width) and numbers["x"] + numbers["w"] > width + 0.5:
            raise SchemaError(f"{control.name}[{i}]: box ends past the image width ({width})")
        if _whole(height) and numbers["y"] + numbers["h"] > height + 0.5:
            raise SchemaError(f"{control.name}[{i}]: box ends past the image height ({height})")
        out.append({**numbers, "label": _region_label(control, region, i)})
    return out


_LARGEST_FLOAT = int(sys.float_info.max)


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number (not a boolean): no NaN or infinity, nor an integer beyond what a
    float holds (math.isfinite raises OverflowError on one)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _LARGEST_FLOAT


def _regions(control: Control, raw: Any) -> list[Any]:
    if not isinstance(raw, list | tuple):
        raise SchemaError(f"{control.name}: must be a list; got {_kind(raw)}")
    if len(raw) > MAX_REGIONS:
        raise SchemaError(f"{control.name}: {len(raw):,} regions; at most {MAX_REGIONS:,}")
    return list(raw)


def _region_label(control: Control, region: Mapping[str, Any], i: int) -> str:
    label = region.get("label")
    if not isinstance(label, str):
        raise SchemaError(f"{control.name}[{i}].label: must be a label name; got {_kind(label)}")
    _check_label(control, label)
    return label


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rating(control: Control, raw: Any) -> int:
    """A rating as an integer from 1 to the control's max; digit strings are accepted."""
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not _whole(raw) or not 1 <= raw <= (control.max or 0):
        raise SchemaError(
            f"{control.name}: must be a whole number from 1 to {control.max}; got {raw!r}"
        )
    return int(raw)


def label_value(control: Control, raw: Any, payload: Mapping[str, Any] | None = None) -> Any:
    """Normalize a label as it came in an import file for ``control``; ``None`` means unlabeled.

    choice: the label name, stripped. multi_choice: a list (or a string split on "," or "|"),
    de-duplicated, in the schema's label order. A blank string means unlabeled. A name that
    matches no label exactly but one label ignoring case is taken as that label. spans, boxes,
    rating and text: as :func:`validate_value` takes them (``payload`` as there).
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if control.type == "spans":
        return spans_value(control, raw, payload)
    if control.type == "boxes":
        return boxes_value(control, raw, payload)
    if control.type == "rating":
        return _rating(control, raw)
    if control.type == "text":
        if not isinstance(raw, str):
            raise SchemaError(f"{control.name}: must be a string; got {_kind(raw)}")
        return raw
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
    raise SchemaError(
        f"{control.name}: {name!r} is not one of {', '.join(control.labels)}", unknown=True
    )


def _check_label(control: Control, label: str) -> None:
    """Raise unless ``label`` is exactly one of the control's labels."""
    if label not in control.labels:
        raise SchemaError(
            f"{control.name}: {label!r} is not one of {', '.join(control.labels)}", unknown=True
        )


NOTHING = {"spans": "no spans", "boxes": "no boxes", "multi_choice": "no labels"}
"""An empty answer of each list control, in words: an annotator who accepted an image with no
boxes answered "no boxes", not an unknown "none" (api.js says it alike)."""


def value_words(control_type: str | None, value: Any) -> str:
    """A control's value in a few words, as the pages and the terminal say it: a label, labels
    joined, how many spans or boxes of which labels ("2 boxes: sky, building"), or what an
    empty one says (:data:`NOTHING`); a choice suggested with its score is said by its label."""
    if isinstance(value, Mapping):  # a choice with its score
        value = value.get("label")
    if isinstance(value, list) and not value:
        return NOTHING.get(control_type or "", "none")
    if isinstance(value, list) and (
        control_type in ("spans", "boxes") or any(isinstance(v, Mapping) for v in value)
    ):
        boxes = control_type == "boxes" or any(isinstance(v, Mapping) and "w" in v for v in value)
        one, many = ("box", "boxes") if boxes else ("span", "spans")
        labels = [str(v["label"]) for v in value if isinstance(v, Mapping) and v.get("label")]
        counted = f"{len(value):,} {one if len(value) == 1 else many}"
        return f"{counted}: {', '.join(labels)}" if labels else counted
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "—" if value is None else str(value)
