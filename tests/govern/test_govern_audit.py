"""The audit hash chain notices edited, deleted and reordered events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from labelloop.govern import GENESIS_HASH, event_hash, verify_chain

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def chain(n: int) -> list[dict[str, Any]]:
    """``n`` well-linked audit rows, as the store would hold them."""
    rows: list[dict[str, Any]] = []
    prev = GENESIS_HASH
    for i in range(n):
        row: dict[str, Any] = {
            "prev_hash": prev,
            "action": "annotation.submit" if i % 2 else "review.accept",
            "actor_id": i % 3 or None,
            "project_id": 1,
            "subject": f"item:{i}",
            "payload": {"value": {"sentiment": "positive"}, "note": "naïve ✓", "i": i},
            "at": T0 + timedelta(seconds=i),
        }
        fields = {k: v for k, v in row.items() if k != "prev_hash"}
        row["hash"] = event_hash(prev, **fields)
        rows.append(row)
        prev = row["hash"]
    return rows


def test_intact_chain_verifies() -> None:
    assert verify_chain(chain(10)) is None
    assert verify_chain([]) is None


def test_tampered_payload_in_the_middle_is_found() -> None:
    rows = chain(10)
    rows[4]["payload"] = {**rows[4]["payload"], "value": {"sentiment": "negative"}}
    assert verify_chain(rows) == 4


def test_tampered_actor_or_time_is_found() -> None:
    rows = chain(6)
    rows[2]["actor_id"] = 99
    assert verify_chain(rows) == 2
    rows = chain(6)
    rows[5]["at"] = rows[5]["at"] + timedelta(microseconds=1)
    assert verify_chain(rows) == 5


def test_deleted_row_is_found_at_the_row_after_the_gap() -> None:
    rows = chain(10)
    del rows[6]
    assert verify_chain(rows) == 6
    rows = chain(10)
    del rows[0]
    assert verify_chain(rows) == 0


def test_rehashed_row_still_breaks_the_link_after_it() -> None:
    rows = chain(8)
    forged = rows[3]
    forged["subject"] = "item:forged"
    fields = {k: v for k, v in forged.items() if k not in ("prev_hash", "hash")}
    forged["hash"] = event_hash(forged["prev_hash"], **fields)
    assert verify_chain(rows) == 4


def test_swapped_rows_are_found() -> None:
    rows = chain(5)
    rows[1], rows[2] = rows[2], rows[1]
    assert verify_chain(rows) == 1


def test_same_instant_in_any_timezone_or_naive_utc_hashes_the_same() -> None:
    fields: dict[str, Any] = {
        "action": "a",
        "actor_id": 1,
        "project_id": None,
        "subject": "s",
        "payload": {"b": 1, "a": [1, 2]},
    }
    utc = event_hash(GENESIS_HASH, at=T0, **fields)
    plus2 = T0.astimezone(timezone(timedelta(hours=2)))
    assert event_hash(GENESIS_HASH, at=plus2, **fields) == utc
    assert event_hash(GENESIS_HASH, at=T0.replace(tzinfo=None), **fields) == utc
    reordered = {**fields, "payload": {"a": [1, 2], "b": 1}}
    assert event_hash(GENESIS_HASH, at=T0, **reordered) == utc
    assert event_hash("f" * 64, at=T0, **fields) != utc


def test_rows_read_back_as_json_still_verify() -> None:
    rows = chain(4)
    as_json = copy.deepcopy(rows)
    for row in as_json:
        row["at"] = row["at"].isoformat()
    assert verify_chain(as_json) is None


def test_newer_part_of_a_chain_verifies_from_a_known_hash() -> None:
    rows = chain(6)
    assert verify_chain(rows[3:], start_hash=rows[2]["hash"]) is None
    assert verify_chain(rows[3:]) == 0
