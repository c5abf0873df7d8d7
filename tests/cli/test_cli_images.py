"""`labelloop import SLUG FOLDER/`: an image folder under a media root, labeled by subfolder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from labelloop.cli import app

SCHEMA = {
    "name": "Pets",
    "data": {"type": "image", "field": "path"},
    "controls": [{"name": "pet", "type": "choice", "labels": ["cat", "dog"], "target": True}],
}


@pytest.fixture
def cli(tmp_path: Path, no_labelloop_env: None) -> Any:
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "COLUMNS": "200"}

    def run(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return run


def _png(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 6), shade, dtype=np.uint8), mode="L").save(path, format="PNG")


def _pets(cli: Any, tmp_path: Path) -> Path:
    """The image project 'pets', made with the CLI; the folder under its media root for it."""
    schema = tmp_path / "pets.json"
    schema.write_text(json.dumps(SCHEMA))
    cli("init")
    cli("projects", "create", "pets", "--schema", str(schema))
    return tmp_path / "home" / "media" / "pets"


def test_import_a_folder_with_labels_from_subfolders(cli: Any, tmp_path: Path) -> None:
    folder = _pets(cli, tmp_path)
    _png(folder / "cat" / "a.png", 10)
    _png(folder / "dog" / "b.png", 200)
    (folder / "dog" / "c.png").write_bytes((folder / "cat" / "a.png").read_bytes())
    done = cli("import", "pets", str(folder), "--labels-from-folders", "--json")
    assert json.loads(done.output)["items"] == 2
    assert json.loads(done.output)["labeled"] == 2
    assert json.loads(done.output)["duplicates"] == 1
    # the same folder for its labels: dog/c.png is cat/a.png's picture, labeled otherwise;
    # its files are named as the summary numbers them ("line 3" before), with their paths
    args = ("import", "pets", str(folder), "--labels-from-folders", "--update-labels")
    assert " ".join(cli(*args, code=1).stderr.split()) == (
        "error: file 3 ('pets/dog/c.png'), field 'folder': labels the same content as file 1 "
        "('pets/cat/a.png') differently ('dog', not 'cat'); a file gives each item one label"
    )
    shown = json.loads(cli("items", "pets", "--json").output)["items"][0]
    trace = cli("items", "pets", "--show", f"#{shown['id']}").output.splitlines()
    assert trace[1] == f"  {shown['text']}" and shown["text"].endswith("a.png")  # its file
    _png(tmp_path / "elsewhere" / "x.png", 90)
    refused = cli("import", "pets", str(tmp_path / "elsewhere"), code=1)
    assert "not under a media root" in refused.output


def test_labels_from_folders_names_a_folder_that_is_not_there(cli: Any, tmp_path: Path) -> None:
    """A mistyped folder was refused as '--labels-from-folders needs a folder of images', as if
    the flag were the mistake; the path is what is missing."""
    schema = tmp_path / "pets.json"
    schema.write_text(json.dumps(SCHEMA))
    cli("init")
    cli("projects", "create", "pets", "--schema", str(schema))
    missing = tmp_path / "home" / "media" / "pest"
    refused = cli("import", "pets", str(missing), "--labels-from-folders", code=1)
    assert " ".join(refused.stderr.split()) == f"error: no folder at {missing}"
    records = tmp_path / "pets.jsonl"
    records.write_text('{"path": "pets/a.png"}\n')
    refused = cli("import", "pets", str(records), "--labels-from-folders", code=1)
    assert " ".join(refused.stderr.split()) == (
        f"error: --labels-from-folders needs a folder of images; {records} is a file"
    )


def test_duplicates_are_named_images_and_rows_not_texts(cli: Any, tmp_path: Path) -> None:
    """An image or a table row imported again was reported as 'duplicate texts at lines ...'."""
    schema = tmp_path / "pets.json"
    schema.write_text(json.dumps(SCHEMA))
    table = {**SCHEMA, "name": "Rows", "data": {"type": "table", "field": "row"}}
    (tmp_path / "rows.json").write_text(json.dumps(table))
    cli("init")
    cli("projects", "create", "pets", "--schema", str(schema))
    cli("projects", "create", "rows", "--schema", str(tmp_path / "rows.json"))
    _png(tmp_path / "home" / "media" / "pets" / "a.png", 10)
    paths = tmp_path / "paths.jsonl"
    paths.write_text('{"path": "pets/a.png"}\n' * 2)
    out = " ".join(cli("import", "pets", str(paths)).stdout.split())
    assert "duplicate image at line 2 (already in the project" in out
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n1,2\n1,2\n")
    out = " ".join(cli("import", "rows", str(rows)).stdout.split())
    assert "duplicate rows 3, 4 (already in the project" in out  # a CSV's rows, not its lines


def test_search_in_an_image_project_says_it_reads_file_paths(cli: Any, tmp_path: Path) -> None:
    """The CLI explained every search with refund examples while the pages of an image project
    say it searches file paths; its help and a search that finds nothing say so per data type."""
    folder = _pets(cli, tmp_path)
    _png(folder / "beach" / "img_04.png", 10)
    _png(folder / "park" / "img_05.png", 200)
    cli("import", "pets", str(folder))
    found = json.loads(cli("search", "pets", "beach", "--json").output)
    assert [h["text"] for h in found["items"]] == ["pets/beach/img_04.png"]
    assert found["syntax"].startswith("whole words of each file's path")
    none = " ".join(cli("search", "pets", "refund").output.split())
    assert "No pool item matches: whole words of each file's path, its folders and its name" in none
    assert "refund*" not in none
    shown = " ".join(cli("search", "--help").stdout.replace("│", " ").split())
    assert "refund*" in shown and "An image or audio project searches its files' paths" in shown
