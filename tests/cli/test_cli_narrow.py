"""The CLI's tables on an 80- or 60-column terminal: every header and key value whole."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.store.db import Database
from tests.conftest import Lab, make_rows


def _at(cli: Any, columns: int, *args: str) -> Any:
    """``labelloop ARGS`` on a terminal ``columns`` wide (the fixture's env, another width)."""
    home = Path(cli.db_url.removeprefix("sqlite:///")).parent
    result = CliRunner().invoke(
        app, list(args), env={"LABELLOOP_HOME": str(home), "COLUMNS": str(columns)}
    )
    assert result.exit_code == 0, (args, result.output, result.exception)
    assert not re.search(r"\S…", result.stdout), result.stdout  # no word cut short
    drawn = [line for line in result.stdout.splitlines() if "│" in line or "┃" in line]
    assert max(map(len, drawn), default=0) <= columns, result.stdout
    return result


def _lab(cli: Any) -> Lab:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", review_policy="all")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(40, start=100), filename="reviews_2024.jsonl")
    lab.train(ctx)
    lab.label_next(ctx, n=6, active_ms=2500)
    return lab


def test_imports_list_is_readable_at_80_and_60_columns(cli: Any) -> None:
    lab = _lab(cli)
    lab.db.dispose()
    wide = _at(cli, 200, "imports", "list", "p").stdout
    assert "Dupes" in wide and "Touched" in wide and "not shown" not in wide

    at80 = _at(cli, 80, "imports", "list", "p").stdout
    for header in ("#", "File", "Split", "At", "Items", "Labeled", "Undo"):
        assert f" {header} " in f" {at80} "
    assert "reviews_2024.jsonl" in at80
    at = json.loads(_at(cli, 80, "imports", "list", "p", "--json").stdout)[0]["at"]
    assert at[:16].replace("T", " ") in at80  # the date and time on one line
    said = " ".join(at80.split())
    assert "not shown at this width: Dupes, Touched, Format, By (--json has them)" in said

    at60 = _at(cli, 60, "imports", "list", "p").stdout
    for header in ("File", "At", "Items", "Undo"):
        assert header in at60
    assert at[:16].replace("T", " ") in at60
    assert "not shown at this width: Dupes, Touched, Format, By, Split, Labeled" in " ".join(
        at60.split()
    )


def test_every_table_command_keeps_its_headers_whole_at_80_columns(cli: Any) -> None:
    lab = _lab(cli)
    lab.db.dispose()
    dashboard = _at(cli, 80, "dashboard", "p").stdout
    for header in ("stage", "waiting", "oldest", "annotator", "annotations", "agrees"):
        assert header in dashboard
    coverage = _at(cli, 80, "coverage", "p").stdout
    for header in ("Sure at least", "Unlabeled", "Right on eval", "Would be labeled"):
        assert header in coverage
    quality = _at(cli, 80, "quality", "p").stdout
    for header in ("annotator", "answers", "agree", "rejected", "flags"):
        assert header in quality
    items = _at(cli, 60, "items", "p").stdout
    for header in ("item", "split", "label", "answers", "content"):
        assert header in items
    for args in (("status", "p"), ("gain", "p"), ("search", "p", "text")):
        _at(cli, 80, *args)


def test_commands_print_nothing_on_stderr_before_their_output(cli: Any, tmp_path: Path) -> None:
    """A progress display ended with an empty line on stderr when stderr was no terminal."""
    lab = _lab(cli)
    lab.db.dispose()
    model = tmp_path / "m.joblib"
    for args in (
        ("dashboard", "p"),
        ("alerts", "list", "p"),
        ("gain", "p"),
        ("coverage", "p"),
        ("model", "export", "p", "-o", str(model)),
        ("export", "p", "-o", str(tmp_path / "out.jsonl")),
    ):
        assert cli(*args).stderr == "", args
