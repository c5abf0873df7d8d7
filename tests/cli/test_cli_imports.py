"""`labelloop imports list|undo`: a wrong file is taken back from the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import small_project


def _file(tmp_path: Path, name: str, texts: list[str]) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return str(path)


def test_a_wrong_import_is_listed_and_undone(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    cli("import", "s", _file(tmp_path, "right.jsonl", [f"right text {i}" for i in range(5)]))
    cli("import", "s", _file(tmp_path, "wrong.jsonl", [f"wrong text {i}" for i in range(3)]))

    listed = json.loads(cli("imports", "list", "s", "--json").stdout)
    assert [(b["id"], b["filename"], b["items"], b["touched"]) for b in listed] == [
        (2, "wrong.jsonl", 3, 0),
        (1, "right.jsonl", 5, 0),
    ]
    table = cli("imports", "list", "s").stdout
    assert "wrong.jsonl" in table and "right.jsonl" in table

    said = cli("imports", "undo", "s", "2").stdout
    assert (
        said.strip() == "import 2 ('wrong.jsonl') undone: 3 items removed, with 0 imported labels"
    )
    status = json.loads(cli("status", "s", "--json").stdout)
    assert status["counts"]["pool"] == 5
    assert [b["id"] for b in json.loads(cli("imports", "list", "s", "--json").stdout)] == [1]

    missing = cli("imports", "undo", "s", "2", code=1)
    assert "project 's' has no import 2" in missing.stderr
    # The same file again comes back with new numbers: nothing of the undone import is reused.
    cli("import", "s", _file(tmp_path, "wrong.jsonl", [f"other text {i}" for i in range(3)]))
    again = json.loads(cli("imports", "list", "s", "--json").stdout)
    assert again[0]["id"] == 3


def test_an_import_people_answered_is_refused_with_a_clear_line(cli: Any, tmp_path: Path) -> None:
    from labelloop.govern.permissions import Permission
    from labelloop.store.db import Database
    from labelloop.workflow import accounts, learning, projects, tasks

    small_project(cli, tmp_path)
    cli("import", "s", _file(tmp_path, "a.jsonl", [f"text {i}" for i in range(4)]))
    db = Database(cli.db_url)
    ctx = projects.system_context(db, "s")
    learning.train(db, ctx)
    ann = accounts.create_user(db, "ann", None)
    projects.set_member(db, ctx, "ann", "annotator")
    mine = projects.access(db, "s", ann, Permission.ANNOTATE)
    task = tasks.next_task(db, mine)
    assert task is not None
    tasks.submit(db, mine, task["assignment_id"], {"c": "a"}, active_ms=1000)
    db.dispose()

    refused = cli("imports", "undo", "s", "1", "--json", code=1)
    assert refused.stderr.strip().replace("\n", " ") == (
        "error: import 1 ('a.jsonl') cannot be undone: 1 of its 4 items has answers or labels "
        "from people. Those records stay traceable; nothing was removed"
    )
    assert json.loads(cli("imports", "list", "s", "--json").stdout)[0]["touched"] == 1


def test_an_undo_while_an_import_of_the_project_runs_is_refused(cli: Any, tmp_path: Path) -> None:
    """`labelloop imports undo` while the server (another process, another database handle)
    was still writing an import of the project waited behind it, then undid: refused."""
    from labelloop.store.db import Database
    from labelloop.workflow import batches, projects

    small_project(cli, tmp_path)
    cli("import", "s", _file(tmp_path, "a.jsonl", [f"text {i}" for i in range(4)]))
    db = Database(cli.db_url)
    try:
        with batches.importing(db, projects.system_context(db, "s").id):
            refused = cli("imports", "undo", "s", "1", code=1)
    finally:
        db.dispose()
    assert " ".join(refused.stderr.split()) == (
        "error: import 1 cannot be undone while an import into project 's' is still running: "
        "nothing was removed; undo it once that import has finished"
    )
    assert "undone: 4 items removed" in cli("imports", "undo", "s", "1").stdout


def test_an_undo_while_another_runs_goes_ahead_and_one_of_the_same_is_refused(
    cli: Any, tmp_path: Path
) -> None:
    """`imports undo` run while an undo of another import of the project ran was refused
    saying an undo was under way: it undoes its import beside the other; undoing the import
    whose undo runs is refused, saying it is being undone right now."""
    from labelloop.store.db import Database
    from labelloop.workflow import batches, projects

    small_project(cli, tmp_path)
    cli("import", "s", _file(tmp_path, "a.jsonl", [f"text {i}" for i in range(4)]))
    cli("import", "s", _file(tmp_path, "b.jsonl", [f"other {i}" for i in range(3)]))
    db = Database(cli.db_url)
    try:
        with batches.undoing(db, projects.system_context(db, "s").id, 2) as running:
            assert running is None
            refused = cli("imports", "undo", "s", "2", code=1)
            undone = cli("imports", "undo", "s", "1")
    finally:
        db.dispose()
    assert " ".join(refused.stderr.split()) == (
        "error: import 2 ('b.jsonl') is being undone right now: its items are being removed; "
        "wait for that undo to end (the imports list shows how many are left)"
    )
    assert "undone: 4 items removed" in undone.stdout
    assert "undone: 3 items removed" in cli("imports", "undo", "s", "2").stdout


def test_an_undo_stopped_half_way_is_listed_and_finished_from_the_terminal(
    cli: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """An undo whose process ended half way leaves the import listed as being undone; the same
    command finishes it."""
    import pytest

    from labelloop.store.db import Database
    from labelloop.workflow import batches, projects

    small_project(cli, tmp_path)
    cli("import", "s", _file(tmp_path, "big.jsonl", [f"big text {i}" for i in range(12)]))
    monkeypatch.setattr(batches, "SLICE", 5)
    db = Database(cli.db_url)

    def ended(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt  # the process stopped after the first slice

    with pytest.raises(KeyboardInterrupt):
        batches.undo(db, projects.system_context(db, "s"), 1, progress=ended)
    db.dispose()
    listed = json.loads(cli("imports", "list", "s", "--json").stdout)
    assert [(b["undoing"], b["items_now"], b["items"]) for b in listed] == [(True, 7, 12)]
    assert "being undone (7 items left: undo it again to finish)" in " ".join(
        cli("imports", "list", "s").stdout.split()
    )
    said = cli("imports", "undo", "s", "1").stdout
    assert said.strip() == "import 1 ('big.jsonl') undone: 7 items removed, with 0 imported labels"
    assert json.loads(cli("imports", "list", "s", "--json").stdout) == []


def test_ctrl_c_during_an_import_says_nothing_was_imported(
    cli: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    # Ctrl-C took the progress bar away and printed nothing: was half the file in?
    from labelloop.cli import projects as cli_projects

    small_project(cli, tmp_path)
    read = cli_projects._ProgressReader.readline
    seen = []

    def interrupted(self: Any, limit: int = -1) -> bytes:
        seen.append(1)
        if len(seen) > 2500:  # past the first chunk of records written
            raise KeyboardInterrupt
        return read(self, limit)

    monkeypatch.setattr(cli_projects._ProgressReader, "readline", interrupted)
    stopped = cli(
        "import", "s", _file(tmp_path, "big.jsonl", [f"t {i}" for i in range(3000)]), code=130
    )
    assert stopped.stderr.strip() == (
        "stopped: nothing was imported into s: an import comes in whole or not at all"
    )
    monkeypatch.undo()
    assert json.loads(cli("imports", "list", "s", "--json").stdout) == []
    assert json.loads(cli("status", "s", "--json").stdout)["counts"]["pool"] == 0


def test_imports_list_answers_while_an_import_holds_the_database(cli: Any, tmp_path: Path) -> None:
    # every command waited its turn at the (done) migrations behind a running import, so
    # `imports list` or `status` beside a ten-minute import said nothing for ten minutes
    import threading

    from labelloop.store.db import Database

    small_project(cli, tmp_path)
    cli("import", "s", _file(tmp_path, "a.jsonl", ["one", "two"]))
    importer = Database(cli.db_url)
    answered: list[Any] = []
    with importer.write():  # what a running import holds, in another process
        asking = threading.Thread(
            target=lambda: answered.append(cli("imports", "list", "s", "--json")), daemon=True
        )
        asking.start()
        asking.join(timeout=30)
        assert answered, "imports list waited for the import to end"
    importer.dispose()
    assert [b["items"] for b in json.loads(answered[0].stdout)] == [2]


def test_a_label_not_in_the_schema_refuses_a_file_of_items_already_here(
    cli: Any, tmp_path: Path
) -> None:
    # it came in, saying "5 duplicates carry labels not read", where a new record's is refused
    small_project(cli, tmp_path)
    rows = [{"text": f"text {i}", "c": "ab"[i % 2]} for i in range(5)]
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli("import", "s", str(first), "--label-field", "c")
    again = tmp_path / "again.jsonl"
    again.write_text("".join(json.dumps({**r, "c": "rose"}) + "\n" for r in rows))
    for update in ((), ("--update-labels",)):
        refused = cli("import", "s", str(again), "--label-field", "c", *update, code=1)
        assert refused.stderr == "error: line 1, field 'c': c: 'rose' is not one of a, b\n"
        assert refused.stdout == ""
    listed = json.loads(cli("imports", "list", "s", "--json").stdout)
    assert [(b["filename"], b["labeled"]) for b in listed] == [("first.jsonl", 5)]
