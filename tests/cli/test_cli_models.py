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
    assert " ".join(failed.output.split()) == (
        f"error: {notes} is not a labelloop model file: it holds no saved model (a model file is "
        "what `labelloop model export` writes, a project's model saved by joblib)"
    )
    failed = cli("model", "predict", str(model), str(tmp_path / "missing.jsonl"), code=1)
    assert failed.output.strip() == f"error: no file at {tmp_path / 'missing.jsonl'}"
    (tmp_path / "pictures").mkdir()  # a folder of images is no file of records: say so
    failed = cli("model", "predict", str(model), str(tmp_path / "pictures"), code=1)
    assert failed.output.strip() == (
        f"error: {tmp_path / 'pictures'} is a folder; model predict reads a JSONL or CSV file "
        "(for images, one naming each image's path in --text-field)"
    )
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


def _exported(cli: Any, tmp_path: Path, labels: tuple[str, str] = ("a", "b")) -> Path:
    """A two-label project 's' with 20 labels, its model written to m.joblib."""
    small_project(cli, tmp_path)
    rows = [{**r, "label": labels["ab".index(r["label"])]} for r in _rows("p", 20)]
    if labels != ("a", "b"):
        schema = tmp_path / "s.json"
        spec = json.loads(schema.read_text())
        spec["controls"][0]["labels"] = list(labels)
        (tmp_path / "s2.json").write_text(json.dumps(spec))
        cli("projects", "create", "s2", "--schema", str(tmp_path / "s2.json"))
        cli("import", "s2", str(_jsonl(tmp_path / "p.jsonl", rows)), "--label-field", "label")
        cli("model", "export", "s2", "-o", str(tmp_path / "m.joblib"))
    else:
        cli("import", "s", str(_jsonl(tmp_path / "p.jsonl", rows)), "--label-field", "label")
        cli("model", "export", "s", "-o", str(tmp_path / "m.joblib"))
    return tmp_path / "m.joblib"


def test_the_model_on_standard_output_is_the_file_alone(cli: Any, tmp_path: Path) -> None:
    from labelloop.workflow import modelfiles

    _exported(cli, tmp_path)
    piped = cli("model", "export", "s", "-o", "-")
    assert b"wrote" not in piped.stdout_bytes  # the summary went to standard error
    assert "wrote the model: LogisticRegression" in piped.stderr
    (tmp_path / "piped.joblib").write_bytes(piped.stdout_bytes)
    assert modelfiles.load(tmp_path / "piped.joblib").predict(["a great film"]) == ["a"]
    both = cli("model", "export", "s", "-o", "-", "--json", code=1)
    assert "--json would too" in both.stderr and both.stdout == ""


def test_an_output_that_cannot_be_a_file_is_refused_before_any_work(
    cli: Any, tmp_path: Path
) -> None:
    model = _exported(cli, tmp_path)
    data = _jsonl(tmp_path / "new.jsonl", [{"text": "a great film"}])
    for target, says in (
        (tmp_path / "nowhere" / "out.jsonl", f"no folder {tmp_path / 'nowhere'}"),
        (tmp_path, "is a folder; name a file in it"),
    ):
        failed = cli("model", "predict", str(model), str(data), "-o", str(target), code=1)
        assert says in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
        failed = cli("model", "export", "s", "-o", str(target), code=1)
        assert says in failed.stderr
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))
    audit = json.loads(cli("audit", "s", "--last", "50", "--json").stdout)
    assert [e["action"] for e in audit["last"]].count("model.export") == 1  # the first only


def test_standard_output_gets_all_the_labels_or_none(cli: Any, tmp_path: Path) -> None:
    model = _exported(cli, tmp_path)
    rows: list[Any] = [{"text": f"a great film {i}"} for i in range(1200)] + ["{not json"]
    failed = cli("model", "predict", str(model), str(_jsonl(tmp_path / "big.jsonl", rows)), code=1)
    assert failed.stdout == "" and "line 1201" in failed.stderr


def test_a_file_that_is_no_image_is_named_by_its_line(cli: Any, tmp_path: Path) -> None:
    from labelloop.learn.exported import ProjectModel
    from labelloop.workflow import modelfiles

    model = tmp_path / "img.joblib"
    modelfiles.write(
        ProjectModel(
            featurizer=None, estimator=None, classes=("x", "y"), info={"data_type": "image"}
        ),
        model,
    )
    (tmp_path / "notes.png").write_text("not an image")
    records = _jsonl(tmp_path / "r.jsonl", [{"path": str(tmp_path / "notes.png")}])
    failed = cli("model", "predict", str(model), str(records), "--text-field", "path", code=1)
    assert failed.stderr.strip() == (
        f"error: line 1, field 'path': {tmp_path / 'notes.png'} is not an image this project reads"
    )


def test_a_missing_model_file_is_named_and_labels_print_as_written(
    cli: Any, tmp_path: Path
) -> None:
    model = _exported(cli, tmp_path, labels=("[spam]", "ham"))
    data = _jsonl(tmp_path / "new.jsonl", [{"text": "a great film"}, {"text": "a dull film"}])
    done = cli("model", "predict", str(model), str(data), "-o", str(tmp_path / "o.jsonl"))
    assert "labeled 2 records ([spam] 1, ham 1)" in " ".join(done.stderr.split())
    failed = cli("model", "predict", str(tmp_path / "nope.joblib"), str(data), code=1)
    assert failed.stderr.strip() == f"error: no file at {tmp_path / 'nope.joblib'}"
