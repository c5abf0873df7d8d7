"""The name a user's file format gives a parsed value's type, for error messages.

Shared by the pure rooms that read users' files (``ingest`` for JSONL and CSV, ``schema`` for YAML
and JSON), so "got a list" reads the same wherever a value has the wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def kind(value: Any, *, mapping: str = "object") -> str:
    """The JSON name of ``value``'s type; ``mapping`` names a mapping (YAML says "mapping")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return mapping
    return type(value).__name__
