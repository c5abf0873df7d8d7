"""`labelloop model export` and `model predict`: a project's classifier taken out as a file and
used on records the project never saw, with one-line errors and no half-written output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import small_project

GOOD = ["wonderful", "great", "lovely", "superb", "delightful"]
BAD = ["awful", "boring", "dreadful", "terrible", "dull"]


def _rows(prefix: str, n: int) -> list[dict[str, Any]]:
    """Texts whose label ('a' good, 'b' bad) a bag of words learns from one word."""
    rows = []
    for i in range(n):
        good = i % 2 == 0
        word = (GOOD if good else BAD)[i % 5]
        rows.append(
            {
                "id": f"{prefix}{i}",
                "text": f"a {word} film, {prefix} take {i}",
                "label": "ab"[not good],
            }
        )
    return rows


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_export_then_predict_labels_new_records(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    pool = _jsonl(tmp_path / "pool.jsonl", _rows("p", 40))
    held = _jsonl(tmp_path / "eval.jsonl", _rows("e", 10))
    cli("import", "s", str(pool), "--id-field", "id", "--label-field", "label")
    cli("import", "s", str(held), "--id-field", "id", "--label-field", "label", "--split", "eval")

    model = tmp_path / "s.joblib"
    said = " ".join(cli("model", "export", "s", "-o", str(model)).stdout.split())
    assert said.startswith(f"wrote {model}: LogisticRegression on tfidf, trained on 40 labels")
    assert "eval accuracy 1.000" in said and "on 10 held-out items" in said
    info = json.loads(cli("model", "export", "s", "-o", str(model), "--json").stdout)
    assert info["n_train"] == 40 and info["labels"] == {"a": 20, "b": 20}
    assert info["metrics"]["accuracy"] == 1.0 and info["file"] == str(model)

    new = _jsonl(
        tmp_path / "new.jsonl",
        [
            {"ref": "x1", "text": "what a superb and lovely story"},
            {"ref": "x2", "text": "dull, dreadful <script>alert(1)</script>"},
        ],
    )
    out = tmp_path / "labels.jsonl"
    done = cli("model", "predict", str(model), str(new), "--id-field", "ref", "-o", str(out))
    assert "labeled 2 records (a 1, b 1)" in " ".join(done.output.split())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["line"], r["id"], r["label"]) for r in rows] == [(1, "x1", "a"), (2, "x2", "b")]
    assert all(r["confidence"] > 0.5 for r in rows)
    assert all(sum(r["probabilities"].values()) == pytest.approx(1.0, abs=2e-4) for r in rows)
    # Standard output without -o, one JSON object a line.
    printed = cli("model", "predict", str(model), str(new)).stdout.splitlines()
    assert [json.loads(line)["label"] for line in printed if line.startswith("{")] == ["a", "b"]


def test_bad_input_gets_one_line_and_writes_nothing(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    cli("import", "s", str(_jsonl(tmp_path / "p.jsonl", _rows("p", 20))), "--label-field", "label")
    model = tmp_path / "m.joblib"
    cli("model", "export", "s", "-o", str(model))

    broken = _jsonl(tmp_path / "broken.jsonl", [{"text": "a great film"}, "{not json", {"x": 1}])
    out = tmp_path / "out.jsonl"
    failed = cli("model", "predict", str(model), str(broken), "-o", str(out), code=1)
    assert failed.output.strip().startswith("error: line 2")
    assert not out.exists() and not (tmp_path / "out.jsonl.part").exists()

    notes = tmp_path / "notes.joblib"
    notes.write_text("not a model")
    failed = cli("model", "predict", str(notes), str(broken), code=1)
    assert failed.output.strip().startswith(f"error: {notes} is not a labelloop model file (")
    failed = cli("model", "predict", str(model), str(tmp_path / "missing.jsonl"), code=1)
    assert failed.output.strip() == f"error: no file at {tmp_path / 'missing.jsonl'}"
    failed = cli("model", "export", "nope", code=1)
    assert "nope" in failed.output and len(failed.output.strip().splitlines()) == 1


def test_a_project_with_one_class_has_no_model_yet(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    rows = [r for r in _rows("p", 10) if r["label"] == "a"]
    cli("import", "s", str(_jsonl(tmp_path / "p.jsonl", rows)), "--label-field", "label")
    failed = cli("model", "export", "s", "-o", str(tmp_path / "m.joblib"), code=1)
    assert " ".join(failed.output.split()) == (
        "error: project 's' has resolved labels of 1 class (a); a model needs two at least"
    )
    assert not (tmp_path / "m.joblib").exists()


def test_a_table_project_labels_new_rows_by_its_columns(cli: Any, tmp_path: Path) -> None:
    schema = tmp_path / "flowers.json"
    schema.write_text(
        json.dumps(
            {
                "name": "Flowers",
                "data": {"type": "table", "field": "row", "columns": ["petal", "colour"]},
                "controls": [
                    {"name": "kind", "type": "choice", "labels": ["iris", "rose"], "target": True}
                ],
            }
        )
    )
    cli("init")
    cli("projects", "create", "flowers", "--schema", str(schema))
    lines = ["id,petal,colour,kind"] + [
        f"{i},{4 + i / 100 if i % 2 else 7 + i / 100},{'blue' if i % 2 else 'red'},"
        f"{'iris' if i % 2 else 'rose'}"
        for i in range(30)
    ]
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    cli(
        "import", "flowers", str(tmp_path / "rows.csv"), "--id-field", "id", "--label-field", "kind"
    )
    model = tmp_path / "flowers.joblib"
    assert "on table, trained on 30 labels" in " ".join(
        cli("model", "export", "flowers", "-o", str(model)).stdout.split()
    )
    (tmp_path / "new.csv").write_text("ref,colour,petal,extra\na,blue,4.2,x\nb,red,7.3,y\n")
    out = tmp_path / "labels.jsonl"
    cli(
        "model",
        "predict",
        str(model),
        str(tmp_path / "new.csv"),
        "--id-field",
        "ref",
        "-o",
        str(out),
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["label"]) for r in rows] == [("a", "iris"), ("b", "rose")]
    (tmp_path / "short.csv").write_text("ref,colour\nc,blue\n")
    failed = cli("model", "predict", str(model), str(tmp_path / "short.csv"), code=1)
    assert "petal" in failed.output and len(failed.output.strip().splitlines()) == 1


def test_an_image_project_labels_images_named_by_path(cli: Any, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    def png(path: Path, shade: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.full((8, 8), shade, dtype=np.uint8)
        pixels[: shade % 5, :] = 255 - shade
        Image.fromarray(pixels, mode="L").save(path, format="PNG")

    schema = tmp_path / "pets.json"
    schema.write_text(
        json.dumps(
            {
                "name": "Shades",
                "data": {"type": "image", "field": "path"},
                "controls": [
                    {"name": "shade", "type": "choice", "labels": ["dark", "light"], "target": True}
                ],
            }
        )
    )
    cli("init")
    cli("projects", "create", "shades", "--schema", str(schema))
    folder = tmp_path / "home" / "media" / "shades"
    for i in range(12):
        png(folder / "dark" / f"d{i}.png", 10 + i)
        png(folder / "light" / f"l{i}.png", 230 - i)
    cli("import", "shades", str(folder), "--labels-from-folders")
    model = tmp_path / "shades.joblib"
    cli("model", "export", "shades", "-o", str(model))
    png(tmp_path / "new" / "x.png", 30)
    png(tmp_path / "new" / "y.png", 215)
    records = _jsonl(
        tmp_path / "new.jsonl",
        [{"path": str(tmp_path / "new" / "x.png")}, {"path": str(tmp_path / "new" / "y.png")}],
    )
    printed = cli("model", "predict", str(model), str(records), "--text-field", "path").stdout
    assert [json.loads(line)["label"] for line in printed.splitlines() if line.startswith("{")] == [
        "dark",
        "light",
    ]
    missing = _jsonl(tmp_path / "missing.jsonl", [{"path": str(tmp_path / "new" / "nope.png")}])
    failed = cli("model", "predict", str(model), str(missing), "--text-field", "path", code=1)
    assert failed.output.strip() == (
        f"error: line 1, field 'path': no file at {tmp_path / 'new' / 'nope.png'}"
    )
