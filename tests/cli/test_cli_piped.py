"""The CLI's output read by a script or a CI log (not a terminal): a sentence is one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app
from tests.cli.conftest import small_project

# wider than any terminal the tests might run in, so rich would have to break it
_FOLDER = "a-folder-with-a-name-long-enough-to-pass-the-width-of-any-terminal-" * 3


@pytest.mark.parametrize("columns", [None, "60"])
def test_a_sentence_piped_to_a_script_is_never_broken_across_lines(
    tmp_path: Path, no_labelloop_env: None, columns: str | None
) -> None:
    home = tmp_path / _FOLDER / "home"
    env = {"LABELLOOP_HOME": str(home), "COLUMNS": columns}

    def run(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    said = run("init").stdout
    assert said.splitlines() == [
        f"labelloop data in {home} (database sqlite:///{home / 'labelloop.db'})"
    ]

    small_project(run, tmp_path)  # a project s of labels a and b in control c
    rows = [{"text": f"the text of review number {i}", "c": "ab"[i % 2]} for i in range(12)]
    data = tmp_path / _FOLDER / "reviews-from-the-first-week-of-the-year.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:11]))
    said = run("import", "s", str(data), "--label-field", "c").stdout.splitlines()
    assert said[0] == "imported 12 items into s (pool), 12 with labels, 11 duplicates skipped"
    assert said[1].startswith("11 duplicates carry labels not used: ") and said[1].endswith(
        '(on the page: "Update labels of items already here")'
    )
    assert said[2] == (
        "duplicate texts at lines 13, 14, 15, 16, 17, 18, 19, 20, 21, 22 "
        "(already in the project or earlier in the file) ..."
    )

    missing = tmp_path / _FOLDER / "no-such-file.jsonl"
    refused = run("import", "s", str(missing), code=1).stderr
    assert len(refused.splitlines()) == 1 and str(missing) in refused

    # a table still fits the width (80 when rich is told none), its headers whole; its caption,
    # a sentence, is one line
    table = run("imports", "list", "s").stdout.splitlines()
    drawn = [line for line in table if "│" in line or "┃" in line]
    assert max(map(len, drawn)) <= int(columns or 80)
    headers = [h.strip() for h in table[0].split("┃")]
    assert headers[:2] == ["#", "File"] and {"At", "Items", "Undo"} <= set(headers)
    assert table[2].startswith("1 │ reviews-from-the-first")
    assert table[-1].startswith("not shown at this width: Dupes, Touched, Format, By")
    assert table[-1].endswith(" (--json has them)")

    listed = json.loads(run("imports", "list", "s", "--json").stdout)
    assert listed[0]["filename"] == data.name and listed[0]["duplicates"] == 11


def test_a_data_dir_named_like_markup_is_said_as_it_is_named(
    tmp_path: Path, no_labelloop_env: None
) -> None:
    home = tmp_path / "[bold]labels[/bold] [old]"
    result = CliRunner().invoke(app, ["init"], env={"LABELLOOP_HOME": str(home)})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"labelloop data in {home} (database")
