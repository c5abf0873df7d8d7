"""The project schema: data type, controls, settings; annotation values checked against it."""

from labelloop.schema.project import (
    CHOICE_TYPES,
    DEFAULT_HOTKEYS,
    MAX_LABEL_CHARS,
    MAX_LABELS,
    RESERVED_HOTKEYS,
    SUPPORTED_CONTROL_TYPES,
    SUPPORTED_DATA_TYPES,
    Control,
    ProjectSchema,
    parse_schema,
)
from labelloop.schema.settings import ProjectSettings
from labelloop.schema.values import label_value, validate_value

__all__ = [
    "CHOICE_TYPES",
    "DEFAULT_HOTKEYS",
    "MAX_LABELS",
    "MAX_LABEL_CHARS",
    "RESERVED_HOTKEYS",
    "SUPPORTED_CONTROL_TYPES",
    "SUPPORTED_DATA_TYPES",
    "Control",
    "ProjectSchema",
    "ProjectSettings",
    "label_value",
    "parse_schema",
    "validate_value",
]
