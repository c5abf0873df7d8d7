"""`labelloop demo --dataset wnut`: WNUT-16 entity tweets as a spans project whose span model
learns from the first labels and ranks the pool by token uncertainty."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from labelloop.demo import WNUT_LABELS, load_wnut
from labelloop.govern.permissions import Permission
from labelloop.store.db import Database
from labelloop.workflow import accounts, projects, status, tasks
from labelloop.workflow.learning import train


def test_the_wnut_file_reads_into_tweets_with_entity_spans() -> None:
    tweets = load_wnut()
    assert len(tweets) > 2000
    labels = {s["label"] for _, spans in tweets for s in spans}
    assert labels == set(WNUT_LABELS)
    text, spans = next((t, s) for t, s in tweets if s)
    for span in spans:
        covered = text[span["start"] : span["end"]]
        assert covered == covered.strip() and covered  # whole tokens, no stray spaces
    # the file's first tweet: "Empire State Building" is a facility
    first_text, first_spans = tweets[0]
    assert [(first_text[s["start"] : s["end"]], s["label"]) for s in first_spans][:1] == [
        ("Empire State Building", "facility")
    ]


def test_wnut_demo_builds_a_spans_project_that_learns_from_labels(cli: Any) -> None:
    cli("demo", "--dataset", "wine", "--no-browser")  # the admin account comes from another demo
    out = cli("demo", "--dataset", "wnut", "--no-browser", "--eval-size", "300").output
    found = re.search(r"demo project 'entities': ([\d,]+) tweets to label, ([\d,]+) held out", out)
    assert found, out  # it said "demo project 'entities' already exists" of a new project
    assert "sign in as admin with the password shown when it was made" in out
    n_pool, n_eval = (int(g.replace(",", "")) for g in found.groups())
    assert n_pool > 1500 and n_eval == 300  # repeated tweets are dropped before the draw
    assert cli.served == [1, 1]
    shown = json.loads(cli("status", "entities", "--json").output)
    assert shown["counts"]["pool"] == n_pool
    assert shown["counts"]["eval"] == n_eval
    assert "already exists" in cli("demo", "--dataset", "wnut", "--no-browser").output

    db = Database(cli.db_url)
    try:
        ctx = projects.system_context(db, "entities")
        assert ctx.schema.target.type == "spans"
        ann = accounts.create_user(db, "ann", None)
        projects.set_member(db, ctx, "ann", "annotator")
        mine = projects.access(db, "entities", ann, Permission.VIEW_PROJECT)
        # made before serving: no labeled span yet, a diverse first queue
        assert status.status(db, ctx)["model"]["cold_start"] is True
        opened = tasks.next_task(db, mine)
        assert opened is not None and opened["selection"]["reason"].startswith("typical of")
        tasks.skip(db, mine, opened["assignment_id"])
        truth = dict(load_wnut())
        for _ in range(40):  # label like an oracle who knows the WNUT tags
            task = tasks.next_task(db, mine)
            assert task is not None
            spans = truth[task["item"]["data"]["text"]]
            tasks.submit(db, mine, task["assignment_id"], {"entities": spans}, active_ms=800)
        assert train(db, ctx) == 2
        model = status.status(db, ctx)["model"]
        assert model["strategy"] == "mean_token_entropy"
        assert model["n_train"] == 40
        assert model["metrics"]["n_eval"] == n_eval
        assert 0.0 <= model["metrics"]["span_f1"] <= 1.0
        task = tasks.next_task(db, mine)
        assert task is not None
        assert task["selection"]["reason"].startswith("model unsure about '")
        assert "entities" in task["suggestion"]["value"]
        first = task["selection"]["score"]
        tasks.skip(db, mine, task["assignment_id"])
        after = tasks.next_task(db, mine)
        assert after is not None and after["selection"]["score"] <= first
    finally:
        db.dispose()


def test_an_unknown_demo_dataset_names_wnut(cli: Any) -> None:
    out = cli("demo", "--dataset", "conll2003", "--no-browser", code=1).output
    assert "wnut" in out


def test_the_help_and_the_readme_say_how_many_tweets_the_demo_holds_out(cli: Any) -> None:
    # The help said 500, the README 494, and 494 were: 6 of the 500 drawn repeated a tweet.
    helped = " ".join(cli("demo", "--help").output.split())
    said = re.search(r"wnut (\d+)\)", helped)
    assert said, helped
    out = cli("demo", "--dataset", "wnut", "--no-browser").output
    assert f"tweets to label, {said.group(1)} held out" in out
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert f"10 entity types, {said.group(1)} held out" in readme
