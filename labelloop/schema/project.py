"""The project schema: what a project's data is and which controls annotators fill in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from labelloop.errors import SchemaError
from labelloop.kinds import kind
from labelloop.schema.names import refuse_disguised
from labelloop.schema.settings import DEFAULT_FEATURIZER, parse_settings

SUPPORTED_DATA_TYPES: tuple[str, ...] = ("text", "image", "table", "audio", "html")
"""Data types a project may declare."""

DEFAULT_FEATURIZERS: Mapping[str, str] = {"image": "pixels", "table": "table", "audio": "audio"}
"""The featurizer a data type gets when its schema's settings name none (text, html: tfidf)."""

CHOICE_TYPES: tuple[str, ...] = ("choice", "multi_choice")
"""Control types whose labels a model can learn, so one of them is the project's target."""

STRUCTURED_TYPES: tuple[str, ...] = ("spans", "boxes")
"""Control types whose value is a list of labeled regions: text spans, image boxes."""

LEARNABLE_TYPES: tuple[str, ...] = CHOICE_TYPES + STRUCTURED_TYPES
"""Control types the model can learn and the queue can rank by; one of them is the target."""

LABELED_TYPES: tuple[str, ...] = CHOICE_TYPES + STRUCTURED_TYPES
"""Control types that list label names (rating and text do not)."""

SUPPORTED_CONTROL_TYPES: tuple[str, ...] = LABELED_TYPES + ("rating", "text")
"""Control types a schema may use."""

CONTROL_DATA_TYPES: Mapping[str, tuple[str, ...]] = {"spans": ("text",), "boxes": ("image",)}
"""Controls that only make sense on some data types; the others work on every type."""

DEFAULT_RATING_MAX = 5
MAX_RATING = 10
DEFAULT_TEXT_CHARS = 2_000
MAX_TEXT_CHARS = 100_000

MAX_NAME_CHARS = 200
MAX_CONTROL_NAME_CHARS = 100
MAX_LABELS = 50
MAX_LABEL_CHARS = 100
MAX_DESCRIPTION_CHARS = 500
DEFAULT_HOTKEYS: tuple[str, ...] = tuple("123456789")
"""Keys given to the labels of controls that list no hotkeys, numbered on across the controls
in schema order (a: 1, 2; b: 3, 4; ...), skipping keys a control lists; labels past the last
free key get none."""

SELECTION_TYPES: tuple[str, ...] = STRUCTURED_TYPES
"""Controls whose label keys may be another control's too: a selected span or box takes the
key, otherwise the other control does. Any two other controls sharing a key would leave one
of them unreachable by keyboard, so a new schema may not list such a pair."""

RESERVED_HOTKEYS: Mapping[str, str] = {
    "s": "s",
    "S": "S",
    "?": "?",
    "!": "!",
    "[": "[",
    "]": "]",
    "+": "+",
    "-": "-",
    " ": "Space",
    "\n": "Enter",
    "\r": "Enter",
    "\t": "Tab",
    "\x08": "Backspace",
    "\x7f": "Delete",
    "\x1b": "Escape",
}
"""Keys the annotate page keeps (skip, help, flag, previous/next region, zoom, submit, undo,
focus); key -> display name."""

_TOP_KEYS = ("name", "data", "controls", "guideline", "settings")
_DATA_KEYS = ("type", "field", "columns")
_CONTROL_KEYS = (
    "name",
    "type",
    "labels",
    "hotkeys",
    "descriptions",
    "target",
    "overlap",
    "max",
    "max_chars",
)


@dataclass(frozen=True)
class Control:
    """One thing an annotator fills in; ``hotkeys[i]`` keys ``labels[i]`` (later labels: none).

    ``labels`` of a rating control are its values "1".."max"; a text control has none.
    ``overlap`` (spans) allows spans to overlap; ``max`` is a rating's top value and
    ``max_chars`` a text answer's length limit.
    """

    name: str
    type: str
    labels: tuple[str, ...]
    hotkeys: tuple[str, ...] = ()
    descriptions: Mapping[str, str] = field(default_factory=dict)
    target: bool = False
    overlap: bool = False
    max: int | None = None
    max_chars: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The control in the user-facing format, JSON-able; options a type lacks are left out."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "labels": list(self.labels),
            "hotkeys": list(self.hotkeys),
            "descriptions": dict(self.descriptions),
            "target": self.target,
        }
        if self.type == "spans":
            out["overlap"] = self.overlap
        if self.type == "rating":
            out["max"] = self.max
        if self.type == "text":
            out["max_chars"] = self.max_chars
        return out


def _default_settings() -> dict[str, Any]:
    """Every setting at its default, for schemas built in code."""
    return parse_settings(None)


@dataclass(frozen=True)
class ProjectSchema:
    """A parsed, validated project schema; ``settings`` holds every setting with defaults filled."""

    name: str
    data_type: str
    data_field: str
    controls: tuple[Control, ...]
    guideline: str = ""
    settings: Mapping[str, Any] = field(default_factory=_default_settings)
    data_columns: tuple[str, ...] = ()
    """Table projects: the row fields shown and learned from, in order (empty: all of them)."""

    @property
    def target(self) -> Control:
        """The control the model learns: the one marked target, else the first learnable one.

        Learnable controls are preferred in the order choice/multi_choice, spans, boxes.
        """
        return _target_of(self.controls)

    def control(self, name: str) -> Control:
        """The control called ``name``, or a SchemaError listing the controls there are."""
        for control in self.controls:
            if control.name == name:
                return control
        known = ", ".join(c.name for c in self.controls)
        raise SchemaError(f"{name!r} is not a control; controls are: {known}")

    def to_dict(self) -> dict[str, Any]:
        """The schema in the user-facing format, JSON-able; ``parse_schema`` reads it back."""
        return {
            "name": self.name,
            "data": self._data_dict(),
            "controls": [c.to_dict() for c in self.controls],
            "guideline": self.guideline,
            "settings": dict(self.settings),
        }

    def _data_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.data_type, "field": self.data_field}
        if self.data_columns:
            data["columns"] = list(self.data_columns)
        return data


def _target_of(controls: tuple[Control, ...]) -> Control:
    """The marked target among learnable controls, else the first by preference."""
    learnable = [c for c in controls if c.type in LEARNABLE_TYPES]
    marked = [c for c in learnable if c.target]
    if marked:
        return marked[0]
    for types in (CHOICE_TYPES, ("spans",), ("boxes",)):
        for control in learnable:
            if control.type in types:
                return control
    raise SchemaError(
        "controls: no control to learn from; add a choice, multi_choice, spans or boxes control"
    )


def parse_schema(source: str | bytes | Mapping[str, Any], *, stored: bool = False) -> ProjectSchema:
    """Read a project schema from YAML or JSON text (or a parsed mapping) and validate it.

    ``stored``: the schema is a stored project's, read back; the names of its strategy,
    detector, featurizer and model are then not checked against the registries (see
    ``ProjectSettings._registered``).
    """
    doc = _load(source) if isinstance(source, str | bytes) else source
    if not isinstance(doc, Mapping):
        raise SchemaError(
            f"schema: must be a mapping with name, data and controls; got {_kind(doc)}"
        )
    _check_keys(doc, _TOP_KEYS, "schema")
    name = doc.get("name")
    if name is None:
        raise SchemaError("name: required")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise SchemaError(
            f"name: must be a non-empty string of at most {MAX_NAME_CHARS} characters"
        )
    data_type, data_field, data_columns = _data(doc.get("data"))
    controls = _controls(doc.get("controls"), stored=stored)
    for i, control in enumerate(controls):
        allowed = CONTROL_DATA_TYPES.get(control.type)
        if allowed is not None and data_type not in allowed:
            raise SchemaError(
                f"controls[{i}].type: {control.type} needs data.type "
                f"{' or '.join(allowed)}; this project's data is {data_type}"
            )
    if not stored:  # a store may hold such names from before the check: they stay readable
        _refuse_disguised_names(name, data_field, data_columns, controls)
    guideline = doc.get("guideline")
    if guideline is None:
        guideline = ""
    if not isinstance(guideline, str):
        raise SchemaError(f"guideline: must be a string of Markdown; got {_kind(guideline)}")
    return ProjectSchema(
        name=name,
        data_type=data_type,
        data_field=data_field,
        controls=controls,
        guideline=guideline,
        settings=parse_settings(
            _with_default_featurizer(doc.get("settings"), data_type), stored=stored
        ),
        data_columns=data_columns,
    )


def _refuse_disguised_names(
    name: str, data_field: str, data_columns: tuple[str, ...], controls: tuple[Control, ...]
) -> None:
    """Refuse a new schema's name, data field, column, control or label name that holds a
    character that could disguise it (:func:`~labelloop.schema.names.refuse_disguised`). Label
    descriptions and the guideline are free text and keep theirs."""
    refuse_disguised(name, "name")
    refuse_disguised(data_field, "data.field")
    for i, column in enumerate(data_columns):
        refuse_disguised(column, f"data.columns[{i}]")
    for i, control in enumerate(controls):
        refuse_disguised(control.name, f"controls[{i}].name")
        for j, label in enumerate(control.labels):
            refuse_disguised(label, f"controls[{i}].labels[{j}]")


def check_featurizer_reads(schema: ProjectSchema) -> None:
    """Raise a SchemaError, naming the featurizers that fit, unless the schema's featurizer
    reads its data type. A data type's own default is not checked (nor the registry loaded).

    Checked when a project is created, not when a stored schema is read back, so a project
    made before the check still opens.
    """
    name, data_type = schema.settings["featurizer"], schema.data_type
    if name == DEFAULT_FEATURIZERS.get(data_type, DEFAULT_FEATURIZER):
        return
    require_reads(name, data_type, where="settings.featurizer: ", whose="this project's data")


def require_reads(name: str, data_type: str, *, where: str, whose: str) -> None:
    """Raise a SchemaError, naming the featurizers that fit, unless the featurizer ``name``
    reads ``data_type`` items. The message starts with ``where`` (the setting or option) and
    says ``whose`` data it is, e.g. "settings.featurizer: 'table' reads table items; this
    project's data is text (featurizers for text: ...)"; an unknown name lists the known ones.
    """
    if _reads_type(name, data_type):
        return
    from labelloop.learn.featurize import FEATURIZERS, reads

    fitting = [n for n in FEATURIZERS.names() if _reads_type(n, data_type)]
    what = " or ".join(reads(name) or ()) or "no data type's"
    raise SchemaError(
        f"{where}'{name}' reads {what} items; {whose} "
        f"is {data_type} (featurizers for {data_type}: {', '.join(fitting)})"
    )


def _reads_type(name: str, data_type: str) -> bool:
    """Whether the featurizer ``name`` reads ``data_type``; a misdeclared plug-in reads none."""
    from labelloop.learn.featurize import reads

    try:
        kinds = reads(name)
    except SchemaError:
        return False
    return kinds is None or data_type in kinds


def _with_default_featurizer(raw: Any, data_type: str) -> Any:
    """The ``settings:`` block with the data type's default featurizer when it names none."""
    default = DEFAULT_FEATURIZERS.get(data_type)
    if default is None or (isinstance(raw, Mapping) and "featurizer" in raw):
        return raw
    if raw is None:
        return {"featurizer": default}
    return {**raw, "featurizer": default} if isinstance(raw, Mapping) else raw


def _load(source: str | bytes) -> Any:
    """Parse YAML or JSON text; JSON errors are reported for text that looks like JSON."""
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SchemaError(
                f"schema is not valid UTF-8 (byte 0x{source[exc.start]:02x} at offset {exc.start})"
            ) from None
    source = source.removeprefix("\ufeff")
    json_error: str | None = None
    if source.lstrip().startswith("{"):
        try:
            return json.loads(source)
        except json.JSONDecodeError as exc:
            json_error = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError as exc:
        message = json_error or _yaml_message(exc)
        raise SchemaError(f"schema is not valid YAML or JSON: {message}") from None


def _yaml_message(exc: yaml.YAMLError) -> str:
    """A one-line YAML error with the line and column of the problem."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        if mark is not None:
            return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        return problem
    return str(exc).splitlines()[0]


def _kind(value: Any) -> str:
    """The YAML name of a parsed value's type, for error messages."""
    return kind(value, mapping="mapping")


def _check_keys(doc: Mapping[str, Any], known: tuple[str, ...], path: str) -> None:
    """Reject keys the format does not define, so a typo is not silently ignored."""
    for key in doc:
        if key not in known:
            raise SchemaError(f"{path}: unknown key {key!r}; known keys are: {', '.join(known)}")


def _data(raw: Any) -> tuple[str, str, tuple[str, ...]]:
    """The ``data:`` block as (type, field, columns); type and field default to text."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SchemaError(f"data: must be a mapping with type and field; got {_kind(raw)}")
    _check_keys(raw, _DATA_KEYS, "data")
    data_type = raw.get("type", "text")
    if data_type not in SUPPORTED_DATA_TYPES:
        supported = ", ".join(SUPPORTED_DATA_TYPES)
        raise SchemaError(f"data.type: {data_type!r} is not one of {supported}")
    data_field = raw.get("field", "text")
    if not isinstance(data_field, str) or not data_field.strip():
        raise SchemaError("data.field: must be a non-empty string naming the record field")
    columns = raw.get("columns")
    if columns is None:
        return data_type, data_field, ()
    if data_type != "table":
        raise SchemaError("data.columns: only table data has columns")
    if (
        not isinstance(columns, list | tuple)
        or not columns
        or not all(isinstance(c, str) and c.strip() for c in columns)
    ):
        raise SchemaError("data.columns: must be a non-empty list of column names")
    if len(set(columns)) != len(columns):
        raise SchemaError("data.columns: a column is listed twice")
    return data_type, data_field, tuple(columns)


def _controls(raw: Any, *, stored: bool = False) -> tuple[Control, ...]:
    """The ``controls:`` list, with distinct names, at most one target and default hotkeys
    filled in; a new schema's controls may not share a key (``SELECTION_TYPES`` aside).

    A stored schema lists every key (``to_dict``), shared ones too if it was made before
    the check, and is read back as it is so the project still opens.
    """
    if not isinstance(raw, list | tuple) or not raw:
        raise SchemaError("controls: must be a non-empty list of controls")
    controls = tuple(_control(item, f"controls[{i}]") for i, item in enumerate(raw))
    controls = _with_default_hotkeys(controls, [item.get("hotkeys") is None for item in raw])
    if not stored:
        _refuse_shared_hotkeys(controls)
    seen: set[str] = set()
    for i, control in enumerate(controls):
        if control.name in seen:
            raise SchemaError(f"controls[{i}].name: {control.name!r} is used twice")
        seen.add(control.name)
    marked = [c.name for c in controls if c.target]
    if len(marked) > 1:
        raise SchemaError(f"controls: {', '.join(marked)} are all marked target; mark exactly one")
    _target_of(controls)  # a project needs something to learn from
    return controls


def _control(raw: Any, path: str) -> Control:
    """One control, validated; ``path`` (e.g. ``controls[0]``) prefixes every message."""
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{path}: must be a mapping with name, type and labels; got {_kind(raw)}")
    _check_keys(raw, _CONTROL_KEYS, path)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_CONTROL_NAME_CHARS:
        raise SchemaError(
            f"{path}.name: must be a non-empty string "
            f"of at most {MAX_CONTROL_NAME_CHARS} characters"
        )
    control_type = raw.get("type")
    if control_type not in SUPPORTED_CONTROL_TYPES:
        supported = ", ".join(SUPPORTED_CONTROL_TYPES)
        if control_type is None:
            raise SchemaError(f"{path}.type: required; one of {supported}")
        raise SchemaError(
            f"{path}.type: {control_type!r} is not a control type; one of {supported}"
        )
    for key, types in (("overlap", ("spans",)), ("max", ("rating",)), ("max_chars", ("text",))):
        if key in raw and control_type not in types:
            raise SchemaError(f"{path}.{key}: only a {' or '.join(types)} control has {key}")
    labels: tuple[str, ...] = ()
    top = None
    if control_type == "rating":
        top = _bounded_int(raw.get("max", DEFAULT_RATING_MAX), 2, MAX_RATING, f"{path}.max")
        labels = tuple(str(v) for v in range(1, top + 1))
    if control_type in LABELED_TYPES:
        labels = _labels(raw.get("labels"), f"{path}.labels", multi=control_type == "multi_choice")
    elif "labels" in raw and list(raw["labels"] or ()) != list(labels):
        # to_dict() writes a rating's implied labels "1".."max" (and a text control's []) back
        raise SchemaError(f"{path}.labels: a {control_type} control has no labels")
    max_chars = None
    if control_type == "text":
        max_chars = _bounded_int(
            raw.get("max_chars", DEFAULT_TEXT_CHARS), 1, MAX_TEXT_CHARS, f"{path}.max_chars"
        )
    target = raw.get("target", False)
    if not isinstance(target, bool):
        raise SchemaError(f"{path}.target: must be true or false; got {_kind(target)}")
    if target and control_type not in LEARNABLE_TYPES:
        raise SchemaError(
            f"{path}.target: a {control_type} control cannot be learned; "
            f"the target is one of {', '.join(LEARNABLE_TYPES)}"
        )
    overlap = raw.get("overlap", False)
    if not isinstance(overlap, bool):
        raise SchemaError(f"{path}.overlap: must be true or false; got {_kind(overlap)}")
    return Control(
        name=name,
        type=control_type,
        labels=labels,
        hotkeys=_hotkeys(raw.get("hotkeys"), labels, f"{path}.hotkeys"),
        descriptions=_descriptions(raw.get("descriptions"), labels, f"{path}.descriptions"),
        target=target,
        overlap=overlap,
        max=top,
        max_chars=max_chars,
    )


def _with_default_hotkeys(
    controls: tuple[Control, ...], undeclared: list[bool]
) -> tuple[Control, ...]:
    """Give each control that lists no hotkeys the next free ``DEFAULT_HOTKEYS`` in schema
    order, so no two controls answer to the same default key (Label Studio numbers on too)."""
    listed = {
        k for c, none in zip(controls, undeclared, strict=True) if not none for k in c.hotkeys
    }
    free = [k for k in DEFAULT_HOTKEYS if k not in listed and k not in RESERVED_HOTKEYS]
    out: list[Control] = []
    for control, none in zip(controls, undeclared, strict=True):
        if none and control.labels:
            taken, free = free[: len(control.labels)], free[len(control.labels) :]
            control = replace(control, hotkeys=tuple(taken))
        out.append(control)
    return tuple(out)


def _refuse_shared_hotkeys(controls: tuple[Control, ...]) -> None:
    """Refuse a key listed by two controls that would both take it without a selection: the
    first listed would always win and the other's label could never be picked by keyboard."""
    owners: dict[str, tuple[Control, str]] = {}
    for i, control in enumerate(controls):
        if control.type in SELECTION_TYPES:
            continue
        for j, key in enumerate(control.hotkeys):
            if key in owners:
                first, label = owners[key]
                raise SchemaError(
                    f"controls[{i}].hotkeys[{j}]: {key!r} is already the key of {label} in "
                    f"control {first.name!r}; controls {first.name!r} and {control.name!r} "
                    "cannot share a key: give one of them another (a control that lists no "
                    "hotkeys gets free ones)"
                )
            what = "value" if control.type == "rating" else "label"
            owners[key] = (control, f"{what} {control.labels[j]!r}")


def _bounded_int(raw: Any, low: int, high: int, path: str) -> int:
    """An integer option between ``low`` and ``high`` inclusive."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise SchemaError(f"{path}: must be a whole number from {low} to {high}; got {raw!r}")
    return raw


def _labels(raw: Any, path: str, *, multi: bool) -> tuple[str, ...]:
    """Label names: distinct non-empty strings; multi_choice ones without "," or "|"."""
    if not isinstance(raw, list | tuple) or not raw:
        raise SchemaError(f"{path}: must be a non-empty list of distinct label names")
    if len(raw) > MAX_LABELS:
        raise SchemaError(f"{path}: {len(raw)} labels; at most {MAX_LABELS} are allowed")
    seen: set[str] = set()
    for i, label in enumerate(raw):
        if not isinstance(label, str):
            hint = " (quote it in YAML)" if isinstance(label, bool | int | float) else ""
            raise SchemaError(f"{path}[{i}]: must be a string, got {_kind(label)} {label!r}{hint}")
        if not label.strip() or len(label) > MAX_LABEL_CHARS:
            raise SchemaError(
                f"{path}[{i}]: must be a non-empty string of at most {MAX_LABEL_CHARS} characters"
            )
        if label != label.strip():
            raise SchemaError(f"{path}[{i}]: {label!r} starts or ends with whitespace")
        if multi and ("," in label or "|" in label):
            raise SchemaError(
                f"{path}[{i}]: {label!r} contains ',' or '|', which separate multi_choice labels"
            )
        if label in seen:
            raise SchemaError(f"{path}: {label!r} is listed twice")
        seen.add(label)
    return tuple(raw)


def _hotkeys(raw: Any, labels: tuple[str, ...], path: str) -> tuple[str, ...]:
    """Hotkeys by label position as listed; none listed: () (``_with_default_hotkeys``)."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise SchemaError(f"{path}: must be a list of single characters, one per label")
    if len(raw) > len(labels):
        raise SchemaError(f"{path}: {len(raw)} hotkeys for {len(labels)} labels")
    keys: list[str] = []
    for i, key in enumerate(raw):
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 9:
            key = str(key)  # YAML reads [1, 2, 3] as numbers; the user meant the digit keys
        if not isinstance(key, str) or len(key) != 1:
            raise SchemaError(f"{path}[{i}]: {key!r} must be a single character")
        if key in RESERVED_HOTKEYS:
            reserved = ", ".join(dict.fromkeys(RESERVED_HOTKEYS.values()))
            shown = repr(key) if key.isprintable() and not key.isspace() else RESERVED_HOTKEYS[key]
            raise SchemaError(f"{path}[{i}]: {shown} is reserved (reserved keys: {reserved})")
        if key in keys:
            raise SchemaError(f"{path}: {key!r} is used twice")
        keys.append(key)
    return tuple(keys)


def _descriptions(raw: Any, labels: tuple[str, ...], path: str) -> dict[str, str]:
    """Optional one-line description per label, shown next to the label while annotating."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{path}: must be a mapping of label name to description")
    for label, text in raw.items():
        if label not in labels:
            raise SchemaError(f"{path}: {label!r} is not one of {', '.join(labels)}")
        if not isinstance(text, str):
            raise SchemaError(f"{path}.{label}: must be a string; got {_kind(text)}")
    return dict(raw)


def with_label(
    schema: ProjectSchema, label: str, *, control: str | None = None, description: str = ""
) -> ProjectSchema:
    """``schema`` with ``label`` added after the labels of ``control``, which may be left out
    when the schema has one control with labels.

    Appending keeps every earlier label where it was, so the answers given, the class indices
    the models learned and the hotkeys annotators know all stay. The new label takes the first
    ``DEFAULT_HOTKEYS`` key no control uses, when every earlier label of its control has one.
    Raises SchemaError naming what is wrong (a control without labels, a name taken or invalid).
    """
    labeled = [c.name for c in schema.controls if c.type in LABELED_TYPES]
    if control is None and len(labeled) > 1:  # a label added cannot be taken back: no guessing
        raise SchemaError(
            f"name the control to add {_clipped(label)} to: this project's controls with "
            f"labels are {', '.join(labeled)}"
        )
    found = schema.target if control is None else schema.control(control)
    if found.type not in LABELED_TYPES:
        raise SchemaError(
            f"control '{found.name}' is a {found.type} control, which lists no labels; labels "
            f"are added to {', '.join(LABELED_TYPES)} controls"
        )
    if label in found.labels:
        raise SchemaError(f"control '{found.name}' already has the label {label!r}")
    named = f"control '{found.name}', new label {_clipped(label)}"
    try:
        labels = _labels([*found.labels, label], "labels", multi=found.type == "multi_choice")
        refuse_disguised(label, "label")  # the labels before it may be from before the check
    except SchemaError as exc:  # "labels[3]: why": the label is named here instead
        raise SchemaError(f"{named}: {str(exc).partition(': ')[2]}") from None
    if "\n" in description or len(description) > MAX_DESCRIPTION_CHARS:
        raise SchemaError(
            f"{named}: its description must be one line of at most "
            f"{MAX_DESCRIPTION_CHARS} characters"
        )
    used = {k for c in schema.controls for k in c.hotkeys}
    free = [k for k in DEFAULT_HOTKEYS if k not in used and k not in RESERVED_HOTKEYS]
    hotkeys = found.hotkeys
    if free and len(hotkeys) == len(found.labels):
        hotkeys = (*hotkeys, free[0])
    descriptions = {**found.descriptions, **({label: description} if description else {})}
    changed = replace(found, labels=labels, hotkeys=hotkeys, descriptions=descriptions)
    controls = tuple(changed if c.name == found.name else c for c in schema.controls)
    return replace(schema, controls=controls)


def _clipped(label: str) -> str:
    """A label as an error quotes it: a long one cut, so the message stays a line."""
    return repr(label if len(label) <= 60 else label[:60] + "…")
