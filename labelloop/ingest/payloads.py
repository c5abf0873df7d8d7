"""Stored payloads of the non-media data types, and the fingerprint that finds their duplicates."""

from __future__ import annotations

import contextlib
import hashlib
import json
import numbers
import re
from collections.abc import Mapping
from typing import Any

from labelloop.errors import ImportFormatError
from labelloop.ingest.fingerprint import content_hash
from labelloop.ingest.html import html_payload
from labelloop.kinds import as_number

_INTEGER = re.compile(r"[+-]?\d+")


def row_hash(row: Mapping[str, Any]) -> str:
    """Hex sha256 of a table row's canonical JSON, so the same row imported twice is a duplicate,
    whichever format it came in: the cells are compared as :func:`_same_cell` reads them."""
    cells = {str(name): _same_cell(value) for name, value in row.items()}
    canonical = json.dumps(cells, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _same_cell(value: Any) -> Any:
    """A cell as the same value whatever the file wrote: a number (``127.0``, CSV's ``"127"``,
    ``"1.27e2"``) as one text (``"127"``), true/false (JSON's ``true``, pandas' ``"True"`` in a
    CSV) as ``"true"``/``"false"``; other text as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower()
    number = as_number(value)
    if number is None:
        return value
    if isinstance(value, numbers.Integral) or _INTEGER.fullmatch(str(value).strip()):
        with contextlib.suppress(ValueError):  # past Python's 4,300 digits: read as a float
            return str(int(str(value).strip()))  # exactly: long ids a float rounds stay apart
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)  # the shortest text that reads back as it, as JSON and CSV writers print


def stored_payload(
    data_type: str, payload: Mapping[str, Any], *, line: int, field: str | None = None
) -> tuple[dict[str, Any], str]:
    """The payload a text, html or table record is stored with, and its content hash.

    HTML is sanitized here, before it is stored, so no path can serve the raw markup.
    """
    if data_type == "table":
        return dict(payload), row_hash(payload["row"])
    if data_type == "html":
        stored = html_payload(str(payload["text"]))
        if not stored["text"] and "<img" not in stored["html"]:
            raise ImportFormatError(
                line=line, field=field, reason="nothing is left to show once the HTML is cleaned"
            )
        return stored, content_hash(stored["html"])
    return dict(payload), content_hash(payload["text"])
