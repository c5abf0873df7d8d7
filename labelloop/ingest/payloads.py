"""Stored payloads of the non-media data types, and the fingerprint that finds their duplicates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from labelloop.errors import ImportFormatError
from labelloop.ingest.fingerprint import content_hash
from labelloop.ingest.html import html_payload


def row_hash(row: Mapping[str, Any]) -> str:
    """Hex sha256 of a table row's canonical JSON, so the same row imported twice is a duplicate."""
    canonical = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
