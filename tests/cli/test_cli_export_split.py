"""The held-out eval items' labels move with a project too: a pool export says they are not in
it and how to get them, `--split eval` exports them, and importing that file with `--split
eval` keeps them held out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import small_project


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_labels_export_with_split_eval_and_import_back_held_out(
    cli: Any, tmp_path: Path
) -> None:
    small_project(cli, tmp_path)
    pool = [{"id": f"p{i}", "text": f"pool text {i}", "label": "ab"[i % 2]} for i in range(5)]
    held = [{"id": f"e{i}", "text": f"eval text {i}", "label": "ab"[i % 2]} for i in range(3)]
    cli("import", "s", str(_jsonl(tmp_path / "pool.jsonl", pool)), "--label-field", "label")
    cli(
        "import",
        "s",
        str(_jsonl(tmp_path / "eval.jsonl", held)),
        "--label-field",
        "label",
        "--split",
        "eval",
    )

    done = cli("export", "s", "-o", str(tmp_path / "pool.out.jsonl"))
    assert "exported 5 labeled items" in done.stdout
    assert (
        "3 labeled eval items (held out to measure the model) are not in it: export them with "
        "--split eval, and import that file with --split eval to keep them held out"
    ) in done.stderr
    done = cli("export", "s", "--split", "eval", "-o", str(tmp_path / "eval.out.jsonl"))
    assert "exported 3 labeled eval items" in done.stdout and "not in it" not in done.output
    rows = [json.loads(line) for line in (tmp_path / "eval.out.jsonl").read_text().splitlines()]
    assert sorted((r["text"], r["label"]) for r in rows) == sorted(
        (r["text"], r["label"]) for r in held
    )

    cli("projects", "create", "copy", "--schema", str(tmp_path / "s.json"))
    cli("import", "copy", str(tmp_path / "pool.out.jsonl"), "--label-field", "label")
    cli(
        "import",
        "copy",
        str(tmp_path / "eval.out.jsonl"),
        "--label-field",
        "label",
        "--split",
        "eval",
    )
    counts = json.loads(cli("status", "copy", "--json").stdout)["counts"]
    assert (counts["labeled"], counts["eval_labeled"]) == (5, 3)
    assert "is not one of pool, eval" in cli("export", "s", "--split", "test", code=1).output
