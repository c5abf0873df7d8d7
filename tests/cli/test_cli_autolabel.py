"""`labelloop autolabel`: apply (with a dry run), list the runs, undo one."""

from __future__ import annotations

import json
from typing import Any

from labelloop.store.db import Database
from tests.conftest import _WORDS as WORDS
from tests.conftest import CLASSES, N_CLEAR, Lab, auto_project, truth_of


def _said(result: Any) -> str:
    return " ".join(result.stdout.split())


def test_apply_list_and_undo_from_the_command_line(cli: Any) -> None:
    cli("init")
    auto_project(Lab(Database(cli.db_url)), "p")
    refused = cli("autolabel", "apply", "p", code=1).output
    assert "needs 292 it is at least that sure of" in " ".join(refused.split())
    chosen = json.loads(
        cli("autolabel", "apply", "p", "--min-accuracy", "0.75", "--dry-run", "--json").stdout
    )
    assert chosen["chosen"] and chosen["n_labeled"] >= N_CLEAR and chosen["run_id"] is None
    refused = cli("autolabel", "apply", "p", "--confidence", "0.78", code=1).output
    assert "the interval must lie at or above 95.0%" in " ".join(refused.split())

    cli("projects", "set", "p", "auto_label_confidence=0.78", "auto_label_min_accuracy=0.9")
    preview = _said(cli("autolabel", "apply", "p", "--dry-run"))
    assert f"would label {N_CLEAR} of 50 unlabeled items" in preview
    assert "(nothing written)" in preview and "right on" in preview
    assert "no runs yet" in cli("autolabel", "runs", "p").stdout

    done = _said(cli("autolabel", "apply", "p"))
    assert f"run 1: labeled {N_CLEAR} of 50 unlabeled items" in done
    listed = _said(cli("autolabel", "runs", "p"))
    assert "policy: at least 78% sure, eval accuracy at or above 90.0%" in listed
    assert "(local operator)" in listed and "100.0% of" in listed
    found = json.loads(cli("autolabel", "runs", "p", "--json").stdout)
    assert found["runs"][0]["n_current"] == N_CLEAR

    checked = _said(cli("autolabel", "check", "p", "1", "--sample", "5"))
    assert "run 1: 5 labels taken back for people to answer, at the front of the queue" in checked
    assert "0 of 5 answered" in _said(cli("autolabel", "runs", "p"))
    assert f"run 1 undone: {N_CLEAR - 5} auto labels removed" in _said(
        cli("autolabel", "undo", "p", "1")
    )
    assert "0 (undone by (local operator))" in _said(cli("autolabel", "runs", "p"))
    assert "was undone already" in cli("autolabel", "undo", "p", "1", code=1).output
    assert "has no auto-label run 7" in " ".join(
        cli("autolabel", "undo", "p", "7", code=1).output.split()
    )
    again = json.loads(cli("autolabel", "apply", "p", "--json").stdout)
    assert (again["run_id"], again["n_labeled"]) == (2, N_CLEAR - 5)  # the 5 wait for people
    rows = [json.loads(x) for x in cli("export", "p", "--no-auto").stdout.splitlines() if x]
    assert len(rows) == 60 and {r["resolution"] for r in rows} == {"imported"}
    said = _said(cli("dashboard", "p"))
    assert f"The model labeled {N_CLEAR - 5} items in auto-label runs." in said
    status = _said(cli("status", "p"))
    assert f"auto-labeled │ {N_CLEAR - 5} (the model's" in status


def test_a_refusal_tells_the_eval_items_apart_from_those_the_model_is_sure_of(cli: Any) -> None:
    # 300 labeled eval items are more than the 292 a 95% floor needs, but most mix negative and
    # positive words: the model is at least 50% sure of fewer than 292, which is what falls short.
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = auto_project(lab, "p")
    neg, pos = WORDS[CLASSES[0]], WORDS[CLASSES[2]]
    mixed = [
        {"id": f"hard-{i}", "text": t, "label": truth_of(t)}
        for i in range(240)
        for t in [f"{neg[i % 6]} {pos[(i + 1) % 6]} {neg[(i + 2) % 6]} {i}"]
    ]
    lab.import_rows(ctx, mixed, labeled=True, split="eval", filename="hard.jsonl")
    said = " ".join(cli("autolabel", "apply", "p", "--dry-run", code=1).output.split())
    assert "too few labeled eval items" not in said
    assert "project 'p' has 300 labeled eval items, and the model is at least 50% sure of " in said
    sure = int(said.split("at least 50% sure of ")[1].split(" of them;")[0])
    assert 0 < sure < 292
    assert (
        "showing it right at least 95.0% of the time at a confidence from 99% to 50% needs 292 "
        "it is at least that sure of (label more items"
    ) in said
