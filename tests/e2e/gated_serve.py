"""``labelloop`` whose imports and import undos wait after each progress report until the test
lets them go on (``IMPORT_GATE`` names a file holding the count of records checked, or of items
removed, they may go past): a browser test sees each count on the page before the work moves
past it, however fast or slow the machine is."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labelloop.cli import app
from labelloop.workflow import batches, imports

GATE = Path(os.environ["IMPORT_GATE"])
WAIT_S = 60.0
"""Longest wait at one report: a test that failed before opening the gate still ends."""
_import_records = imports._import_records
_undo = batches._undo


def _allowed() -> int:
    try:
        return int(GATE.read_text(encoding="utf-8") or 0)
    except (OSError, ValueError):
        return 0


def _wait(n: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while _allowed() < n and time.monotonic() < deadline:
        time.sleep(0.02)


def _gated(*args: Any, progress: Callable[[int], None] | None, **kwargs: Any) -> Any:
    def report(n: int) -> None:
        if progress is not None:
            progress(n)
        _wait(n)

    return _import_records(*args, progress=report, **kwargs)


def _gated_undo(*args: Any, progress: Callable[[int, int], None] | None, **kwargs: Any) -> Any:
    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)
        _wait(done)

    return _undo(*args, progress=report, **kwargs)


imports._import_records = _gated  # type: ignore[assignment]  # the hooks this server is for
batches._undo = _gated_undo  # type: ignore[assignment]

if __name__ == "__main__":
    app(prog_name="labelloop")
