"""A byte count as people read it, for the messages that name a size or a limit.

Shared by the rooms that refuse a file for its size (``ingest``'s zip limits, the server's
upload limit) and those that report one (stored uploads, the feature cache), so every message
writes a size alike and names the limit in effect when it is said.
"""

from __future__ import annotations


def size_text(n: int) -> str:
    """A byte count as people read it: 512 bytes, 3.4 MiB, 12.0 GiB."""
    if n < 1024:
        return f"{n:,} bytes"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:,.1f} {unit}"
