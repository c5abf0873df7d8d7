"""The `labelloop` command as a user types it: set up, import, inspect, export."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.errors import AuthenticationFailed

SCHEMA_YAML = """\
name: Review sentiment
data:
  type: text
  field: text
controls:
  - name: sentiment
    type: choice
    labels: [negative, neutral, positive]
    target: true
guideline: |
  Label the author's attitude.
settings:
  retrain_every: 5
"""


@pytest.fixture
def cli(tmp_path: Path, no_labelloop_env: None, sqlite_migrated: Path) -> Any:
    """Runs `labelloop ...` in-process with LABELLOOP_HOME in tmp_path; asserts the exit code.

    The home's database is a copy of the suite's migrated one, as a command would leave it
    (each command still brings it up to date); the init and team-mode tests empty the home.
    """
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "COLUMNS": "60"}
    (tmp_path / "home").mkdir()
    shutil.copyfile(sqlite_migrated, tmp_path / "home" / "labelloop.db")

    def run(*args: str, code: int = 0, stdin: str | None = None, **extra_env: str) -> Any:
        result = CliRunner().invoke(app, list(args), input=stdin, env={**env, **extra_env})
        assert result.exit_code == code, (args, result.output, result.exception)
        if code == 0:
            assert result.exception is None
        return result

    run.home = tmp_path / "home"  # type: ignore[attr-defined]
    return run


def _write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _rows(n: int, *, labeled: bool = True, start: int = 0) -> list[dict[str, Any]]:
    labels = ("negative", "neutral", "positive")
    return [
        {
            "id": f"r{i}",
            "text": f"review number {i}",
            **({"label": labels[i % 3]} if labeled else {}),
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def project(cli: Any, tmp_path: Path) -> str:
    cli("init")
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA_YAML)
    cli("projects", "create", "reviews", "--schema", str(schema))
    return "reviews"


def _status(cli: Any, slug: str = "reviews") -> dict[str, Any]:
    return json.loads(cli("status", slug, "--json").stdout)


def _one_error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_init_creates_the_database_in_the_home(cli: Any) -> None:
    shutil.rmtree(cli.home)  # an empty home, not the fixture's copy of a migrated store
    result = cli("init")
    assert (cli.home / "labelloop.db").is_file()
    assert str(cli.home) in result.stdout.replace("\n", "")


def test_a_new_data_dir_is_its_owners_alone(cli: Any) -> None:
    """The data dir holds every item, label and password hash (labelloop.db) and the key that
    signs sessions: another account on the machine may not read any of it, whatever its umask."""
    shutil.rmtree(cli.home)
    cli("init")
    assert cli.home.stat().st_mode & 0o777 == 0o700
    assert (cli.home / "labelloop.db").is_file()


def test_users_add_with_password_stdin_and_a_token_that_authenticates(cli: Any) -> None:
    from labelloop.store.db import Database
    from labelloop.workflow import accounts

    added = cli("users", "add", "alice", "--admin", "--password-stdin", stdin="a long password\n")
    assert "alice" in added.stdout and "password:" not in added.stdout
    token = cli("tokens", "create", "alice").stdout.strip()
    assert token.startswith("ll_") and "\n" not in token
    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:
        assert accounts.user_for_token(db, token).username == "alice"
        assert accounts.authenticate(db, "alice", "a long password").is_admin
    finally:
        db.dispose()
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert [u["username"] for u in listed] == ["alice"]


def test_tokens_list_and_revoke(cli: Any) -> None:
    from labelloop.store.db import Database
    from labelloop.workflow import accounts

    cli("users", "add", "alice", "--password-stdin", stdin="a long password\n")
    token = cli("tokens", "create", "alice", "--name", "notebook").stdout.strip()
    cli("tokens", "create", "alice")
    cli("tokens", "create", "alice", "--label", "script")  # the option's older spelling
    listed = json.loads(cli("tokens", "list", "alice", "--json").stdout)
    assert [t["name"] for t in listed] == ["script", "cli", "notebook"]
    listed = listed[1:]
    both = cli("tokens", "create", "alice", "--name", "a", "--label", "b", code=1).output
    assert both.strip() == "error: give the token's name once, as --name"
    shown = " ".join(cli("tokens", "create", "--help").output.split())
    assert "--name TEXT" in shown and "--label" not in shown
    (line,) = [x for x in cli("tokens", "list", "alice").stdout.splitlines() if "notebook" in x]
    assert line.startswith(f"{listed[1]['id']}  notebook  made 20") and line.endswith("  valid")
    said = cli("tokens", "revoke", str(listed[1]["id"])).stdout.strip()
    assert said == f"revoked token {listed[1]['id']} ('notebook') of alice"
    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:
        with pytest.raises(AuthenticationFailed):
            accounts.user_for_token(db, token)
    finally:
        db.dispose()
    assert "revoked already" in cli("tokens", "revoke", str(listed[1]["id"]), code=1).output
    assert (
        "no token 99999999999999999999"
        in cli("tokens", "revoke", "99999999999999999999", code=1).output
    )
    # the CLI revokes anyone's token: "no token 99999 of yours" said it looked at its own only
    assert cli("tokens", "revoke", "99999", code=1).output.strip() == "error: no token 99999"
    assert "no user named 'zed'" in cli("tokens", "list", "zed", code=1).output


def test_users_add_without_stdin_prints_a_working_password(cli: Any) -> None:
    from labelloop.store.db import Database
    from labelloop.workflow import accounts

    out = cli("users", "add", "bob").stdout
    password = out.split("password:", 1)[1].strip()
    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:
        assert accounts.authenticate(db, "bob", password).username == "bob"
    finally:
        db.dispose()


def test_user_errors_are_one_line(cli: Any) -> None:
    cli("users", "add", "carol", "--password-stdin", stdin="long enough pw\n")
    again = cli("users", "add", "carol", "--password-stdin", stdin="long enough pw\n", code=1)
    assert "already exists" in _one_error_line(again)
    short = cli("users", "add", "dave", "--password-stdin", stdin="short\n", code=1)
    assert "at least 8 characters" in _one_error_line(short)
    nobody = cli("tokens", "create", "nobody", code=1)
    assert "nobody" in _one_error_line(nobody)


def test_users_deactivate_activate_and_a_new_password(cli: Any) -> None:
    from labelloop.store.db import Database
    from labelloop.workflow import accounts

    cli("users", "add", "alice", "--admin", "--password-stdin", stdin="a long password\n")
    cli("users", "add", "bob", "--password-stdin", stdin="bobs own password\n")
    token = cli("tokens", "create", "bob").stdout.strip()

    said = " ".join(cli("users", "deactivate", "bob").stdout.split())
    assert said.startswith("bob is deactivated: signed out everywhere, 1 API token revoked")
    assert "bob (deactivated)" in cli("users", "list").stdout
    last = cli("users", "deactivate", "alice", code=1)
    assert "alice is the last active site admin" in " ".join(_one_error_line(last).split())
    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate(db, "bob", "bobs own password")
        with pytest.raises(AuthenticationFailed):
            accounts.user_for_token(db, token)
        cli("users", "activate", "bob")
        made = cli("users", "password", "bob").stdout.split("password:", 1)[1].strip()
        assert accounts.authenticate(db, "bob", made).username == "bob"
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate(db, "bob", "bobs own password")
        cli("users", "password", "bob", "--password-stdin", stdin="chosen password\n")
        assert accounts.authenticate(db, "bob", "chosen password").username == "bob"
    finally:
        db.dispose()
    short = cli("users", "password", "bob", "--password-stdin", stdin="short\n", code=1)
    assert "at least 8 characters" in _one_error_line(short)
    assert "no user named 'zed'" in _one_error_line(cli("users", "activate", "zed", code=1))


def test_projects_member_none_removes_a_member(cli: Any, project: str) -> None:
    cli("users", "add", "bob", "--password-stdin", stdin="bobs own password\n")
    cli("projects", "member", "reviews", "bob", "annotator")
    said = " ".join(cli("projects", "member", "reviews", "bob", "none").stdout.split())
    assert said == (
        "bob is no longer a member of reviews (was annotator); 0 leased items back in the queue"
    )
    again = cli("projects", "member", "reviews", "bob", "none", code=1)
    assert "bob is not a member of 'reviews'" in " ".join(_one_error_line(again).split())


def test_removing_a_reviewer_gives_back_the_answer_on_their_page(
    cli: Any, project: str, tmp_path: Path
) -> None:
    from labelloop.govern.permissions import Permission
    from labelloop.store.db import Database
    from labelloop.workflow import accounts, learning, projects, review, tasks

    for who in ("bob", "rita", "remy"):
        cli("users", "add", who, "--password-stdin", stdin=f"{who} own password\n")
    cli("projects", "member", "reviews", "bob", "annotator")
    cli("projects", "member", "reviews", "rita", "reviewer")
    cli("projects", "member", "reviews", "remy", "reviewer")
    cli("projects", "set", "reviews", "review_policy=all")
    cli("import", "reviews", str(_write_jsonl(tmp_path / "r.jsonl", _rows(6, labeled=False))))
    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:

        def ctx(who: str) -> Any:
            user = accounts.user_by_name(db, who)
            return projects.access(db, "reviews", user, Permission.VIEW_PROJECT)

        learning.train(db, projects.system_context(db, "reviews"))
        task = tasks.next_task(db, ctx("bob"))
        assert task is not None
        tasks.submit(db, ctx("bob"), task["assignment_id"], {"sentiment": "neutral"}, active_ms=900)
        assert review.next_review(db, ctx("rita")) is not None
        assert review.next_review(db, ctx("remy")) is None  # the one answer is on rita's page
        said = " ".join(cli("projects", "member", "reviews", "rita", "none").stdout.split())
        assert said == (
            "rita is no longer a member of reviews (was reviewer); 0 leased items back in the "
            "queue, 1 item under review back in the review queue"
        )
        assert review.next_review(db, ctx("remy")) is not None
    finally:
        db.dispose()


def test_projects_create_from_a_yaml_schema(cli: Any, project: str) -> None:
    listed = cli("projects", "list").stdout
    assert "reviews" in listed and "Review sentiment" in listed
    info = _status(cli)
    assert info["project"] == {"slug": "reviews", "name": "Review sentiment"}
    assert info["counts"]["pool"] == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        (SCHEMA_YAML.replace("type: choice", "type: slider"), "slider"),
        (SCHEMA_YAML.replace("retrain_every: 5", "retrain_evry: 5"), "retrain_evry"),
        (
            SCHEMA_YAML.replace("labels: [negative, neutral, positive]", 'labels: ["[b]", "[b]"]'),
            "'[b]' is listed twice",
        ),
        (b"\xff\xfe not utf-8", "not valid UTF-8"),
        (
            SCHEMA_YAML.replace("retrain_every: 5", "strategy: foo"),
            "settings.strategy: unknown strategy 'foo'; known strategies: auto, badge, "
            "cluster_margin, coreset, density_weighted, entropy, least_confidence, margin, "
            "qbc_kl, qbc_vote_entropy, random, typiclust",
        ),
        (
            SCHEMA_YAML.replace("retrain_every: 5", "detector: yolo"),
            "settings.detector: unknown detector 'yolo'; known detectors: imported_scores",
        ),
    ],
    ids=[
        "yaml-syntax",
        "not-mapping",
        "unknown-control",
        "unknown-setting",
        "markup-like",
        "bad-bytes",
        "unknown-strategy",
        "unknown-detector",
    ],
)
def test_a_bad_schema_file_is_exit_1_with_one_line(
    cli: Any, tmp_path: Path, text: str | bytes, problem: str
) -> None:
    cli("init")
    schema = tmp_path / "bad.yaml"
    if isinstance(text, bytes):
        schema.write_bytes(text)
    else:
        schema.write_text(text)
    result = cli("projects", "create", "p", "--schema", str(schema), code=1)
    assert problem in _one_error_line(result)
    assert cli("projects", "list").stdout.strip() == ""


def test_a_missing_schema_file_is_one_line(cli: Any, tmp_path: Path) -> None:
    result = cli("projects", "create", "p", "--schema", str(tmp_path / "nope.yaml"), code=1)
    assert "nope.yaml" in _one_error_line(result)


def test_import_json_summary_and_status(cli: Any, project: str, tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "data.jsonl", [*_rows(6, labeled=False), *_rows(2)[:1]])
    result = cli("import", project, str(data), "--id-field", "id", "--json")
    assert json.loads(result.stdout) == {
        "items": 6,
        "labeled": 0,
        "duplicates": 1,
        "split": "pool",
        "batch_id": 1,
    }
    evals = _write_jsonl(tmp_path / "eval.jsonl", _rows(4, start=100))
    summary = json.loads(
        cli(
            "import", project, str(evals), "--label-field", "label", "--split", "eval", "--json"
        ).stdout
    )
    assert (summary["items"], summary["labeled"], summary["split"]) == (4, 4, "eval")
    counts = _status(cli)["counts"]
    assert (counts["pool"], counts["eval"], counts["labeled"]) == (6, 4, 0)


def test_import_without_json_says_what_happened(cli: Any, project: str, tmp_path: Path) -> None:
    data = _write_jsonl(tmp_path / "data.jsonl", _rows(3, labeled=False) * 2)
    out = " ".join(cli("import", project, str(data)).stdout.split())  # as wrapped for COLUMNS
    assert "imported 3 items" in out
    assert "3 duplicates skipped" in out
    assert "duplicate texts at lines 4, 5, 6 (already in the project or earlier in the file)" in out
    one = _write_jsonl(tmp_path / "one.jsonl", [{"text": "a fresh one"}, _rows(1)[0]])
    out = " ".join(cli("import", project, str(one)).stdout.split())
    assert "imported 1 item into" in out and "1 duplicate skipped" in out
    assert "duplicate text at line 2 (already in the project" in out


def test_a_malformed_file_is_exit_1_naming_the_line_and_writes_nothing(
    cli: Any, project: str, tmp_path: Path
) -> None:
    rows: list[Any] = _rows(80)
    rows[56] = {"id": "x", "text": ["not", "[a] string"]}
    data = _write_jsonl(tmp_path / "data.jsonl", rows)
    result = cli("import", project, str(data), "--label-field", "label", "--json", code=1)
    line = _one_error_line(result)
    assert "line 57" in line and "'text'" in line
    assert result.stdout == ""
    counts = _status(cli)["counts"]
    assert (counts["pool"], counts["labeled"]) == (0, 0)


def test_import_errors_for_missing_things_are_one_line(
    cli: Any, project: str, tmp_path: Path
) -> None:
    missing = cli("import", project, str(tmp_path / "none.jsonl"), code=1)
    assert "none.jsonl" in _one_error_line(missing)
    data = _write_jsonl(tmp_path / "d.jsonl", _rows(2))
    unknown = cli("import", "no-such", str(data), code=1)
    assert "no-such" in _one_error_line(unknown)
    assert "no-such" in _one_error_line(cli("status", "no-such", code=1))


def _change_store(cli: Any, statement: Any) -> None:
    """Run an UPDATE on the CLI's store, to make data that older versions let in."""
    from labelloop.store.db import Database

    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:
        with db.write() as conn:
            conn.execute(statement)
    finally:
        db.dispose()


def test_an_id_names_one_item_on_import_and_for_gold(
    cli: Any, project: str, tmp_path: Path
) -> None:
    from labelloop.store.tables import item

    twice = _write_jsonl(
        tmp_path / "d.jsonl", [{"id": "a", "text": "one two"}, {"id": "a", "text": "three four"}]
    )
    result = cli("import", project, str(twice), "--id-field", "id", code=1)
    assert _one_error_line(result) == (
        "error: line 2, field 'id': id 'a' is also the id of line 1, with other content; "
        "an id names one item"
    )
    assert _status(cli)["counts"]["pool"] == 0  # all or nothing

    first = _write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": "one"}])
    cli("import", project, str(first), "--id-field", "id")
    other = _write_jsonl(tmp_path / "b.jsonl", [{"id": "a", "text": "three four"}])
    result = cli("import", project, str(other), "--id-field", "id", code=1)
    assert "line 1, field 'id': id 'a' already names item #1 of this project" in (
        _one_error_line(result)
    )
    assert _status(cli)["counts"]["pool"] == 1

    # Two items that an older version let share the id: gold by that id refuses to guess.
    cli(
        "import",
        project,
        str(_write_jsonl(tmp_path / "c.jsonl", [{"id": "c", "text": "x"}])),
        "--id-field",
        "id",
    )
    cli("import", project, str(_write_jsonl(tmp_path / "e.jsonl", [{"text": "y"}])))
    _change_store(cli, item.update().values(external_id="a").where(item.c.external_id.is_(None)))
    result = cli("gold", "set", project, "a", "positive", code=1)
    assert _one_error_line(result) == (
        "error: id 'a' names more than one item here (#1, #3); name the item by its number instead"
    )
    assert "is gold" in cli("gold", "set", project, "#3", "positive").stdout


def test_a_project_stored_with_an_unknown_strategy_opens_and_says_why_it_does_not_train(
    cli: Any, project: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import select

    from labelloop.store.db import Database
    from labelloop.store.tables import project as project_table
    from labelloop.workflow import learning

    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    with db.read() as conn:
        schema = conn.execute(select(project_table.c.schema)).scalar_one()
    db.dispose()
    schema["settings"]["strategy"] = "foo"  # saved before strategies were checked
    _change_store(cli, project_table.update().values(schema=schema))
    cli("import", project, str(_write_jsonl(tmp_path / "d.jsonl", _rows(5, labeled=False))))

    problem = (
        "settings.strategy: unknown strategy 'foo'; known strategies: auto, badge, "
        "cluster_margin, coreset, density_weighted, entropy, least_confidence, margin, "
        "qbc_kl, qbc_vote_entropy, random, typiclust"
    )
    assert _status(cli)["training"]["error"] == problem
    wide = cli("status", project, COLUMNS="400").stdout
    assert f"training error │ {problem}" in wide

    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:
        learner = learning.Learner(db)
        with caplog.at_level("WARNING", logger="labelloop.learner"):
            assert [learner.run_once() for _ in range(50)] == [0] * 50
        assert [r.getMessage() for r in caplog.records] == [
            f"project {project} cannot train: {problem}"
        ]
        assert not any(r.exc_info for r in caplog.records)  # no traceback
    finally:
        db.dispose()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_to_a_file_matches_the_labels(
    cli: Any, project: str, tmp_path: Path, fmt: str
) -> None:
    rows = _rows(9)
    for row in rows[::3]:
        row["label"] = ""  # three records arrive unlabeled
    cli(
        "import",
        project,
        str(_write_jsonl(tmp_path / "d.jsonl", rows)),
        "--id-field",
        "id",
        "--label-field",
        "label",
    )
    target = tmp_path / f"out.{fmt}"
    result = cli("export", project, "--format", fmt, "-o", str(target))
    assert "exported 6" in result.stdout
    text = target.read_text()
    exported = (
        [json.loads(line) for line in text.splitlines()]
        if fmt == "jsonl"
        else list(csv.DictReader(text.splitlines()))
    )
    expected = {r["id"]: r["label"] for r in rows if r["label"]}
    assert {r["external_id"]: r["label"] for r in exported} == expected
    assert {r["resolution"] for r in exported} == {"imported"}
    assert not list(tmp_path.glob("*.part"))


def test_a_csv_export_imports_back_as_it_was(cli: Any, project: str, tmp_path: Path) -> None:
    """`export --format csv` guards tweets like '@JetBlue ...' with a leading "'" for
    spreadsheets; `import` of that file gives every text back without it."""
    texts = ["@JetBlue Got flight", "=1+1", "-3 degrees", "'=x quoted", "+1 to that", "plain"]
    rows = [
        {"id": f"t{i}", "text": text, "label": ("negative", "positive")[i % 2]}
        for i, text in enumerate(texts)
    ]
    data = _write_jsonl(tmp_path / "d.jsonl", rows)
    cli("import", project, str(data), "--id-field", "id", "--label-field", "label")
    exported = tmp_path / "p.csv"
    cli("export", project, "--format", "csv", "-o", str(exported))
    assert "'@JetBlue Got flight" in exported.read_text()  # safe to open in a spreadsheet
    cli("projects", "create", "copy", "--schema", str(tmp_path / "schema.yaml"))
    fields = ("--text-field", "text", "--id-field", "external_id", "--label-field", "value")
    cli("import", "copy", str(exported), *fields)
    back = [json.loads(line) for line in cli("export", "copy").stdout.splitlines()]
    assert sorted((r["external_id"], r["text"], r["label"]) for r in back) == sorted(
        (r["id"], r["text"], r["label"]) for r in rows
    )


def test_a_jsonl_export_comes_back_labeled_only_with_label_field(
    cli: Any, project: str, tmp_path: Path
) -> None:
    """As the README says: without --label-field an export's items come in unlabeled, its
    label and provenance kept as metadata; with the README's command, labeled, ids and all."""
    data = _write_jsonl(tmp_path / "d.jsonl", _rows(4))
    cli("import", project, str(data), "--id-field", "id", "--label-field", "label")
    exported = tmp_path / "p.jsonl"
    cli("export", project, "-o", str(exported))
    schema = str(tmp_path / "schema.yaml")
    for slug in ("bare", "labeled"):
        cli("projects", "create", slug, "--schema", schema)
    bare = " ".join(
        cli("import", "bare", str(exported), "--id-field", "external_id").stdout.split()
    )
    assert "imported 4 items into bare (pool), 0 with labels" in bare
    shown = json.loads(cli("items", "bare", "--show", "r1", "--json").stdout)
    assert shown["label"] is None
    assert shown["item"]["metadata"]["label"] == _rows(4)[1]["label"]
    assert shown["item"]["metadata"]["resolution"] == "imported"
    fields = ("--id-field", "external_id", "--label-field", "label")
    said = " ".join(cli("import", "labeled", str(exported), *fields).stdout.split())
    assert "imported 4 items into labeled (pool), 4 with labels" in said
    back = [json.loads(line) for line in cli("export", "labeled").stdout.splitlines()]
    assert sorted((r["external_id"], r["label"]) for r in back) == sorted(
        (r["id"], r["label"]) for r in _rows(4)
    )


def test_export_to_stdout(cli: Any, project: str, tmp_path: Path) -> None:
    cli(
        "import",
        project,
        str(_write_jsonl(tmp_path / "d.jsonl", _rows(2))),
        "--id-field",
        "id",
        "--label-field",
        "label",
    )
    out = cli("export", project).stdout
    assert [json.loads(line)["external_id"] for line in out.splitlines()] == ["r0", "r1"]


def test_a_failed_export_leaves_no_file(cli: Any, project: str, tmp_path: Path) -> None:
    target = tmp_path / "out.xml"
    result = cli("export", project, "--format", "xml", "-o", str(target), code=1)
    assert "xml" in _one_error_line(result)
    assert list(tmp_path.glob("out.xml*")) == []


def test_a_gold_check_is_not_an_item_remaining(cli: Any, project: str, tmp_path: Path) -> None:
    rows = _rows(4)
    rows[3].pop("label")  # r3 arrives unlabeled and becomes a gold check
    data = _write_jsonl(tmp_path / "d.jsonl", rows)
    cli("import", project, str(data), "--id-field", "id", "--label-field", "label")
    none = cli("gold", "list", project).stdout.strip()  # it printed nothing at all
    assert none == f"No gold items yet: labelloop gold set {project} ITEM LABEL marks one."
    assert "is gold" in cli("gold", "set", project, "r3", "neutral").stdout
    assert cli("gold", "list", project).stdout.split() == [
        "r3",
        '{"sentiment":',
        '"neutral"}',
        "answered",
        "0",
    ]
    out = " ".join(cli("status", project).stdout.split())
    assert "│ labeled │ 3 (0 remaining)" in out and "│ gold checks │ 1 " in out
    counts = _status(cli)["counts"]
    assert (counts["pool"], counts["gold"], counts["remaining"]) == (3, 1, 0)
    removed = " ".join(cli("gold", "remove", project, "r3").stdout.split())
    assert removed == "item r3 is no longer gold; it is served for labeling again"
    assert "│ labeled │ 3 (1 remaining)" in " ".join(cli("status", project).stdout.split())


def test_status_in_words(cli: Any, project: str) -> None:
    out = cli("status", project).stdout
    assert "Review sentiment" in out and "none yet" in out


def test_commands_close_the_store_they_open(cli: Any, project: str) -> None:
    # A script driving the CLI in-process (or a test suite) runs command after command; each
    # opened the store and kept its connections and lock file open until the process ended.
    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    cli("status", project)
    before = open_files()
    for _ in range(5):
        cli("status", project)
        cli("users", "list")
    cli("status", "no-such-project", code=1)  # a command that fails closes its store too
    assert open_files() == before


def test_demo_help(cli: Any) -> None:
    out = cli("demo", "--help").stdout
    assert "--port" in out and "--no-browser" in out


def test_every_command_sums_itself_up_in_one_line() -> None:
    # `labelloop --help` lists each command by the first paragraph of its help; a paragraph
    # wrapped in the source shows up broken in the middle of a sentence.
    import typer

    def commands(group: Any, path: str) -> list[tuple[str, Any]]:
        found = []
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                found += commands(command, f"{path} {name}")
            else:
                found.append((f"{path} {name}", command))
        return found

    listed = commands(typer.main.get_command(app), "labelloop")
    assert len(listed) >= 20  # every command, in every group
    broken = [path for path, c in listed if "\n" in (c.help or "").split("\n\n")[0].strip()]
    assert broken == []


def test_the_installed_command_runs_as_a_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env.update(LABELLOOP_HOME=str(tmp_path / "home"), COLUMNS="40")
    schema = tmp_path / "bad.yaml"
    schema.write_text(SCHEMA_YAML.replace("type: choice", "type: slider"))
    result = subprocess.run(
        [sys.executable, "-m", "labelloop", "projects", "create", "p", "--schema", str(schema)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "slider" in lines[0], lines


@pytest.mark.postgres
def test_team_mode_database_url(cli: Any, pg_cluster: Any, tmp_path: Path) -> None:
    shutil.rmtree(cli.home)  # an empty home: nothing may go to the SQLite default there
    url = pg_cluster.create_database()
    cli("init", LABELLOOP_DATABASE_URL=url)
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA_YAML)
    cli("projects", "create", "reviews", "--schema", str(schema), LABELLOOP_DATABASE_URL=url)
    data = _write_jsonl(tmp_path / "d.jsonl", _rows(5))
    summary = cli(
        "import",
        "reviews",
        str(data),
        "--label-field",
        "label",
        "--json",
        LABELLOOP_DATABASE_URL=url,
    )
    assert json.loads(summary.stdout)["items"] == 5
    status = json.loads(cli("status", "reviews", "--json", LABELLOOP_DATABASE_URL=url).stdout)
    assert (status["counts"]["pool"], status["counts"]["labeled"]) == (5, 5)
    assert not (cli.home / "labelloop.db").exists()  # nothing went to the SQLite default


def test_items_lists_labels_by_filter_and_shows_one_trace(
    cli: Any, project: str, tmp_path: Path
) -> None:
    rows = _rows(5)
    rows[4].pop("label")  # r4 arrives unlabeled
    data = _write_jsonl(tmp_path / "d.jsonl", rows)
    cli("import", project, str(data), "--id-field", "id", "--label-field", "label")
    everything = json.loads(cli("items", project, "--json").stdout)
    assert everything["total"] == 5
    neutral = json.loads(cli("items", project, "--label", "neutral", "--json").stdout)
    assert [r["external_id"] for r in neutral["items"]] == ["r1"]
    assert neutral["items"][0]["resolution"] == "imported"
    unlabeled = " ".join(cli("items", project, "--status", "unlabeled").stdout.split())
    assert "r4 pool — " in unlabeled and unlabeled.endswith("1 item; showing 1-1")
    assert "r0" not in unlabeled
    words = json.loads(cli("items", project, "--words", "NUMBER 3", "--json").stdout)
    assert [r["external_id"] for r in words["items"]] == ["r3"]
    trace = cli("items", project, "--show", "r1").stdout.splitlines()
    assert trace[:2] == ["item r1", "  review number 1"]  # the item's content, then its label
    assert trace[2].startswith('label: {"sentiment": "neutral"} (imported, ')  # then its time
    result = cli("items", project, "--status", "done", code=1)
    assert _one_error_line(result).startswith("error: status must be one of all, unlabeled")
    imported = json.loads(cli("items", project, "--picked-by", "import", "--json").stdout)
    assert imported["total"] == 0  # labels came with the file: no answer was served
    result = cli("items", project, "--picked-by", "rework", code=1)
    assert _one_error_line(result).startswith("error: picked_by must be one of ")
    assert "no item 'r9' here" in _one_error_line(cli("items", project, "--show", "r9", code=1))
    held_out = _write_jsonl(tmp_path / "e.jsonl", [{**_rows(6)[5], "id": "e5"}])
    cli("import", project, str(held_out), "--id-field", "id", "--label-field", "label",
        "--split", "eval")  # fmt: skip
    labeled = " ".join(cli("items", project, "--status", "labeled").stdout.split())
    assert labeled.endswith("5 items (4 pool, 1 eval); showing 1-5")  # status says 4 labeled


def test_items_show_prints_a_table_rows_fields_as_typed(cli: Any, tmp_path: Path) -> None:
    """A row's trace starts with its fields, one per line as the Items page lists them, an
    empty one as '—' and brackets as typed."""
    schema = {
        "name": "Loans",
        "data": {"type": "table", "field": "row"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    rows = ["id,amount,who,note", *(f"{i},{100 + i},pat,fine" for i in range(3))]
    (tmp_path / "rows.csv").write_text("\n".join([*rows, "9,250.5,[bold]sam[/],"]) + "\n")
    cli("init")
    cli("projects", "create", "loans", "--schema", str(tmp_path / "s.json"))
    cli("import", "loans", str(tmp_path / "rows.csv"), "--id-field", "id")
    trace = cli("items", "loans", "--show", "9").stdout.splitlines()
    assert trace[:5] == [
        "item 9",
        "  amount: 250.5",
        "  who: [bold]sam[/]",
        "  note: —",
        "label: none yet",
    ]


def test_items_show_prints_an_html_items_words(cli: Any, tmp_path: Path) -> None:
    """An HTML item's trace starts with the words a reader sees, not its markup."""
    schema = {
        "name": "Pages",
        "data": {"type": "html", "field": "text"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    page = "<p>Hello <b>[red]you</b><script>alert(1)</script></p>"
    data = _write_jsonl(tmp_path / "d.jsonl", [{"id": "h1", "text": page}])
    cli("init")
    cli("projects", "create", "pages", "--schema", str(tmp_path / "s.json"))
    cli("import", "pages", str(data), "--id-field", "id")
    assert cli("items", "pages", "--show", "h1").stdout.splitlines()[:2] == [
        "item h1",
        "  Hello [red]you",
    ]


def test_users_admin_grants_and_takes_back_site_admin_rights(cli: Any) -> None:
    cli("users", "add", "root", "--admin")
    cli("users", "add", "pat")
    assert cli("users", "admin", "pat").stdout.strip() == "pat is a site admin"
    assert "pat (admin)" in cli("users", "list").stdout
    assert cli("users", "admin", "pat", "--off").stdout.strip() == "pat is no longer a site admin"
    last = cli("users", "admin", "root", "--off", code=1)
    assert "root is the last active site admin" in _one_error_line(last)
    again = cli("users", "admin", "pat", "--off", code=1)
    assert "pat is no site admin" in _one_error_line(again)


def test_users_and_members_are_named_in_any_case_and_shown_as_created(
    cli: Any, project: str
) -> None:
    from labelloop.store.db import Database
    from labelloop.workflow import accounts, projects

    cli("users", "add", "root", "--admin")
    cli("users", "add", "Alice", "--password-stdin", stdin="a long password\n")
    assert cli("users", "admin", "alice").stdout.strip() == "Alice is a site admin"
    assert "Alice (admin)" in cli("users", "list").stdout
    again = cli("users", "admin", "ALICE", code=1)
    assert "Alice is a site admin already" in _one_error_line(again)
    said = cli("users", "admin", "aLiCe", "--off").stdout.strip()
    assert said == "Alice is no longer a site admin"

    assert cli("projects", "member", "reviews", "alice", "reviewer").stdout.strip() == (
        "Alice is reviewer in reviews"
    )
    db = Database(f"sqlite:///{cli.home / 'labelloop.db'}")
    try:
        ctx = projects.system_context(db, "reviews")
        assert [(m["username"], m["role"]) for m in projects.members(db, ctx)] == [
            ("Alice", "reviewer")
        ]
        said = " ".join(cli("projects", "member", "reviews", "ALICE", "none").stdout.split())
        assert said.startswith("Alice is no longer a member of reviews (was reviewer)")
        assert projects.members(db, ctx) == []

        made = cli("users", "password", "ALICE").stdout
        assert made.startswith("Alice has a new password")
        password = made.split("password:", 1)[1].strip()
        assert accounts.authenticate(db, "alice", password).username == "Alice"
    finally:
        db.dispose()
    said = " ".join(cli("users", "deactivate", "alice").stdout.split())
    assert said.startswith("Alice is deactivated")
