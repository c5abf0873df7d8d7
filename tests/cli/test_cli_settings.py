"""`labelloop projects set`: an operator changes a live project's learning settings."""

from __future__ import annotations

import json
from typing import Any

from tests.cli.conftest import small_project


def _last_line(result: Any) -> str:
    return result.output.strip().splitlines()[-1]


def test_set_changes_typed_values_and_the_audit_chain_holds(cli: Any, tmp_path: Any) -> None:
    small_project(cli, tmp_path)
    out = cli("projects", "set", "s", "strategy=margin", "batch_size=25", "budget=null").stdout
    assert out.splitlines() == [
        's: strategy "auto" -> "margin"',
        "s: batch_size 10 -> 25",
        "s: budget null (unchanged)",
    ]
    shown = json.loads(cli("status", "s", "--json").stdout)
    assert shown["strategy"] == "margin"
    after = json.loads(cli("projects", "set", "s", "random_share=0.05", "--json").stdout)
    assert after["random_share"] == 0.05 and after["batch_size"] == 25
    assert "audit chain of project 's': 3 events, intact" in cli("audit", "s").stdout


def test_set_refuses_in_one_line_and_changes_nothing(cli: Any, tmp_path: Any) -> None:
    small_project(cli, tmp_path)
    cases = {
        ("strategy",): "error: 'strategy' is not KEY=VALUE, e.g. strategy=margin",
        ("overlap=2",): "error: settings.overlap: fixed when the project was created; a live "
        "project can change strategy, batch_size, retrain_every, queue_size, budget, "
        "random_share, stop_changed, preselect_suggestion, preselect_confidence, "
        "auto_label_confidence, auto_label_min_accuracy, review_policy, review_share, "
        "qualification_items, qualification_accept_rate, escalate_to, gold_rate, "
        "contradiction_threshold, rework_hours, backlog_alert_min",
        ("strategy=margin", "batch_size=0"): "error: settings.batch_size: input should be "
        "greater than or equal to 1",
    }
    for args, message in cases.items():
        assert _last_line(cli("projects", "set", "s", *args, code=1)) == message
    assert json.loads(cli("status", "s", "--json").stdout)["strategy"] == "auto"
    assert _last_line(cli("projects", "set", "nope", "strategy=margin", code=1)) == (
        "error: no project 'nope'"
    )


def test_audit_last_shows_who_changed_which_setting_from_what(cli: Any, tmp_path: Any) -> None:
    small_project(cli, tmp_path)
    cli("projects", "set", "s", "strategy=margin")
    lines = cli("audit", "s", "--last", "1").stdout.splitlines()
    assert lines[1:] == [
        "audit chain of project 's': 2 events, intact",
        "guideline texts of project 's': 1 version, each as its audit event recorded",
    ]
    assert "(local operator)  project.settings  project:s  " in lines[0]
    assert '{"changed": {"strategy": {"from": "auto", "to": "margin"}}}' in lines[0]
    shown = json.loads(cli("audit", "s", "--last", "5", "--json").stdout)
    assert [e["action"] for e in shown["last"]] == ["project.settings", "project.create"]
    cli("users", "add", "pat")
    cli("users", "deactivate", "pat")
    site = cli("audit", "--last", "2").stdout.splitlines()
    assert "(local operator)  user.deactivate  user:1 (pat)  " in site[0]
    assert "(local operator)  user.create  user:1 (pat)  " in site[1]
    assert site[2] == "audit chain of the site: 2 events, intact"


def test_import_update_labels_from_the_command_line(cli: Any, tmp_path: Any) -> None:
    small_project(cli, tmp_path)
    first = tmp_path / "first.jsonl"
    first.write_text(
        "\n".join(json.dumps({"id": f"t{i}", "text": f"text {i}", "l": "a"}) for i in range(3))
    )
    cli("import", "s", str(first), "--id-field", "id", "--label-field", "l")
    newer = tmp_path / "newer.jsonl"
    newer.write_text(
        "\n".join(json.dumps({"id": f"t{i}", "text": f"text {i}", "l": "b"}) for i in range(3))
    )
    said = " ".join(
        cli(
            "import", "s", str(newer), "--id-field", "id", "--label-field", "l", "--update-labels"
        ).stdout.split()
    )
    assert "imported 0 items into s (pool), 0 with labels, 3 duplicates skipped" in said
    assert "3 items already here took the file's label; 0 items kept their own" in said
    found = json.loads(
        cli("import", "s", str(newer), "--label-field", "l", "--update-labels", "--json").stdout
    )
    assert (found["updated"], found["kept"]) == (0, 0)  # the same labels: nothing to change
    rows = [json.loads(line) for line in cli("export", "s").stdout.splitlines() if line]
    assert sorted(r["label"] for r in rows) == ["b", "b", "b"]


def test_add_label_is_a_new_schema_version_audited_and_refused_in_one_line(
    cli: Any, tmp_path: Any
) -> None:
    small_project(cli, tmp_path)
    said = cli("projects", "add-label", "s", "[bold]c", "--description", "the third").stdout
    assert said.strip() == "s: c labels are a, b, [bold]c (schema v1 -> v2, key 3)"
    shown = json.loads(cli("projects", "add-label", "s", "d", "--json").stdout)
    assert shown["labels"] == ["a", "b", "[bold]c", "d"] and shown["schema_version"] == 3
    assert _last_line(cli("projects", "add-label", "s", "a", code=1)) == (
        "error: control 'c' already has the label 'a'"
    )
    assert _last_line(cli("projects", "add-label", "s", "e", "--control", "x", code=1)) == (
        "error: 'x' is not a control; controls are: c"
    )
    lines = cli("audit", "s", "--last", "1").stdout.splitlines()
    assert "(local operator)  schema.label.add  project:s  " in lines[0]
    assert '"label": "d"' in lines[0] and '"schema_version": {"from": 2, "to": 3}' in lines[0]
    assert lines[1] == "audit chain of project 's': 3 events, intact"


def test_create_says_when_dawid_skene_cannot_apply_under_the_overlap(
    cli: Any, tmp_path: Any
) -> None:
    """Created with resolution dawid_skene and overlap 2 the project is made (an import may
    bring 3 answers an item), and the command says the majority will decide its items."""
    schema = tmp_path / "ds.json"
    schema.write_text(
        json.dumps(
            {
                "name": "DS",
                "data": {"type": "text", "field": "text"},
                "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"]}],
                "settings": {"overlap": 2, "resolution": "dawid_skene"},
            }
        )
    )
    cli("init")
    said = " ".join(cli("projects", "create", "ds", "--schema", str(schema)).output.split())
    assert "project ds created" in said
    assert "note: resolution dawid_skene decides an item from 3 answers up" in said
    assert "create the project with overlap 3 or more" in said


def test_set_notes_an_expert_tier_name_not_yet_a_member(cli: Any, tmp_path: Any) -> None:
    small_project(cli, tmp_path)
    cli("users", "add", "dana")
    said = " ".join(cli("projects", "set", "s", 'escalate_to=["dana"]').stdout.split())
    assert 's: escalate_to [] -> ["dana"]' in said
    assert "note: 'dana' is not a member of project 's' yet" in said
    cli("projects", "member", "s", "dana", "reviewer")
    again = cli("projects", "set", "s", 'escalate_to=["dana"]').stdout
    assert "note:" not in again


def test_set_takes_a_list_setting_as_names_separated_by_commas(cli: Any, tmp_path: Any) -> None:
    small_project(cli, tmp_path)
    cli("users", "add", "dana")
    cli("users", "add", "omar")
    said = " ".join(cli("projects", "set", "s", "escalate_to=dana").stdout.split())
    assert 's: escalate_to [] -> ["dana"]' in said
    said = " ".join(cli("projects", "set", "s", "escalate_to=dana, omar").stdout.split())
    assert 's: escalate_to ["dana"] -> ["dana", "omar"]' in said
    said = " ".join(cli("projects", "set", "s", "escalate_to=").stdout.split())
    assert 's: escalate_to ["dana", "omar"] -> []' in said
    refused = " ".join(cli("projects", "set", "s", "escalate_to=dana,dnaa", code=1).output.split())
    assert "no user named 'dnaa'" in refused
    assert "escalate_to ->" not in refused
