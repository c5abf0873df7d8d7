"""What users typed is printed as they typed it: a project name, labels or item text holding
brackets the terminal library reads as styling (``[red]``, ``[/]``) neither crashes a command
nor restyles its output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

NAME = "Brackets [/] [red]red[/red]"
LABELS = ["[bold]yes[/]", "no [/red]"]
TEXTS = [f"row {i} says [/] and [red]{'warm' if i % 2 else 'cold'}[/red]" for i in range(12)]


@pytest.fixture
def hostile(cli: Any, tmp_path: Path) -> Any:
    schema = {
        "name": NAME,
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "c", "type": "choice", "labels": LABELS, "target": True}],
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    rows = [{"id": f"r{i}", "text": t, "label": LABELS[i % 2]} for i, t in enumerate(TEXTS)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli("init")
    cli("projects", "create", "brk", "--schema", str(tmp_path / "s.json"))
    cli("import", "brk", str(tmp_path / "rows.jsonl"), "--id-field", "id", "--label-field", "label")
    return cli


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("projects", "list"), NAME),
        (("status", "brk"), NAME),
        (("quality", "brk"), NAME),
        (("dashboard", "brk"), None),
        (("items", "brk"), LABELS[0]),
        (("items", "brk", "--label", LABELS[1]), TEXTS[1]),
        (("items", "brk", "--show", "r0"), LABELS[0]),
        (("items", "brk", "--show", "r0"), TEXTS[0]),
        (("audit", "brk"), None),
    ],
)
def test_brackets_users_typed_print_as_typed(
    hostile: Any, args: tuple[str, ...], shown: str | None
) -> None:
    out = hostile(*args).output
    if shown is not None:
        assert shown in out, out


def test_an_import_note_quoting_a_cell_prints_it_as_typed(cli: Any, tmp_path: Path) -> None:
    """The note on a column of numbers with a word in it quotes the cell: '[/]' there must
    neither end the import in a markup error nor vanish."""
    schema = {
        "name": "Loans",
        "data": {"type": "table", "field": "row"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    rows = ["id,amount", *(f"{i},{100 + i}" for i in range(9)), "9,[/] [red]x"]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
    cli("init")
    cli("projects", "create", "loans", "--schema", str(tmp_path / "s.json"))
    out = cli("import", "loans", str(tmp_path / "rows.csv"), "--id-field", "id").output
    assert "column 'amount' holds numbers but 1 cell that is not (line 11: '[/] [red]x')" in (
        " ".join(out.split())
    )
