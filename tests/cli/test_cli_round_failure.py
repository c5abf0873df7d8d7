"""`labelloop status` tells a manager that training rounds fail, and why, with a name that
holds Rich markup shown as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli.conftest import small_project


def test_status_shows_failing_rounds_until_one_trains(cli: Any, tmp_path: Path) -> None:
    from labelloop.store import learning as store_learning
    from labelloop.store.db import Database

    small_project(cli, tmp_path)
    db = Database(cli.db_url)
    try:
        with db.write() as conn:
            for _ in range(3):
                store_learning.record_round_failure(
                    conn, 1, "featurizer 'pixels' failed: image file 'scans/[red]/7.png' is cut"
                )
        shown = " ".join(cli("status", "s").output.split())
        assert "training failure" in shown
        assert "Training rounds fail (3 times in a row since" in shown
        assert "image file 'scans/[red]/7.png' is cut" in shown
        with db.write() as conn:
            store_learning.clear_round_failure(conn, 1)
    finally:
        db.dispose()
    assert "training failure" not in cli("status", "s").output
