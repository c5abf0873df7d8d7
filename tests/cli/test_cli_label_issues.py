"""The command line drops label issues a later round's model agrees with: `labelloop status`
stops asking for a second look, `labelloop quality` counts them as closed by the model, and an
item's trace says which model closed its flag and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labelloop.store.db import Database
from labelloop.workflow import learning, projects
from tests.cli.conftest import flag_label
from tests.conftest import SCHEMA, make_rows


def _train(cli: Any) -> None:
    db = Database(cli.db_url)
    try:
        learning.train(db, projects.system_context(db, "sent"))
    finally:
        db.dispose()


def test_status_quality_and_the_trace_say_the_learner_closed_a_stale_flag(
    cli: Any, tmp_path: Path
) -> None:
    cli("init")
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    cli("projects", "create", "sent", "--schema", str(tmp_path / "schema.json"))
    rows = make_rows(60, labeled=True)
    data = tmp_path / "labeled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli("import", "sent", str(data), "--id-field", "id", "--label-field", "label")
    _train(cli)
    # as an early round would: labeled positive, rightly
    flag_label(cli, "doc-2", "labeled 'positive' but the model is 0.55 sure it is 'neutral'")
    assert "1 label the model contradicts, flagged" in cli("status", "sent").stdout

    _train(cli)

    assert "model contradicts" not in cli("status", "sent").stdout
    assert json.loads(cli("status", "sent", "--json").stdout)["open_label_issues"] == 0
    assert "0 open of 1, 1 closed by the model" in cli("quality", "sent").stdout
    trace = " ".join(cli("items", "sent", "--show", "doc-2").stdout.split())
    assert "flag label_issue (resolved): labeled 'positive'" in trace
    assert "closed by the learner (model v2): it now agrees with 'positive' (p = 0." in trace
