"""The audit hash chain: each event's hash covers the one before it, so edits and gaps show."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event in a chain."""


def event_hash(
    prev_hash: str,
    *,
    action: str,
    actor_id: int | None,
    project_id: int | None,
    subject: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> str:
    """Hex sha256 of the canonical JSON of an event and the hash of the event before it."""
    canonical = json.dumps(
        {
            "prev_hash": prev_hash,
            "action": action,
            "actor_id": actor_id,
            "project_id": project_id,
            "subject": subject,
            "payload": payload,
            "at": _utc_iso(at),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def verify_chain(
    rows: Iterable[Mapping[str, Any]], *, start_hash: str = GENESIS_HASH
) -> int | None:
    """Index of the first row whose hash or link is wrong, or None when the chain is intact.

    A tampered row fails its own hash; a deleted row breaks the link of the row after it.
    ``start_hash`` is the ``prev_hash`` the first row must have (the genesis hash for a whole
    chain, or the last verified hash when checking only the newer part).
    """
    expected_prev = start_hash
    for index, row in enumerate(rows):
        if row["prev_hash"] != expected_prev:
            return index
        at = row["at"]
        computed = event_hash(
            row["prev_hash"],
            action=row["action"],
            actor_id=row["actor_id"],
            project_id=row["project_id"],
            subject=row["subject"],
            payload=row["payload"],
            at=datetime.fromisoformat(at) if isinstance(at, str) else at,
        )
        if not hmac.compare_digest(computed, str(row["hash"])):
            return index
        expected_prev = row["hash"]
    return None


def _utc_iso(at: datetime) -> str:
    """``at`` in UTC with microseconds, so a database round trip gives back the same text."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # stores such as SQLite hand back naive UTC timestamps
    return at.astimezone(UTC).isoformat(timespec="microseconds")
