"""`labelloop gain`: what active learning bought, or what the project still needs to say it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import small_project


def test_gain_says_what_it_needs_and_reads_as_json(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    said = " ".join(cli("gain", "s").stdout.split())
    assert said == (
        "not measured yet: needs labeled eval items to measure both models on (import with "
        "--split eval)"
    )
    body = json.loads(cli("gain", "s", "--json").stdout)
    assert body["state"] == "waiting" and body["random_share"] == 0
    assert "no project 'nope'" in cli("gain", "nope", code=1).output
