"""The name a user's file format gives a parsed value's type, for error messages.

Shared by the pure rooms that read users' files (``ingest`` for JSONL and CSV, ``schema`` for YAML
and JSON), so "got a list" reads the same wherever a value has the wrong type.
"""

from __future__ import annotations

import math
import numbers
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


def as_number(value: Any) -> float | None:
    """``value`` as a finite float when it is a number or text that reads as one (a CSV cell
    such as " 2.5"), else None: true/false, "n/a", "12 000", NaN and infinities are not."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, numbers.Real):  # NumPy's number types too
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
