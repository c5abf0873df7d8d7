"""The loop: labels train a model, the model ranks the queue, every label keeps its provenance."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from labelloop.learn import SettledPredictions
from labelloop.schema.settings import ProjectSettings
from labelloop.store.tables import annotation, assignment, item, model_version, queue_entry
from labelloop.workflow import status, tasks
from labelloop.workflow.learning import _criteria
from tests.conftest import CLASSES, schema_with, truth_of

REASON = re.compile(
    r"^(?:closest call left: )?model (?:unsure between|leans to|favours) "
    r"(\w+) \((0\.\d\d)\) (?:and|over) (\w+) \((0\.\d\d)\)$"
)


def _round_two(lab: Any, ready: Any) -> Any:
    ann = lab.member("sent", "ann", "annotator")
    lab.label_next(ann, n=10)
    assert lab.train(ready) == 2
    return ann


def test_ten_labels_train_version_two_measured_on_the_eval_split(lab: Any, ready: Any) -> None:
    _round_two(lab, ready)
    model = status.status(lab.db, ready)["model"]
    assert model["version"] == 2
    assert model["cold_start"] is False
    assert model["n_train"] == 10
    assert model["metrics"]["n_eval"] == 15
    assert 0.0 <= model["metrics"]["macro_f1"] <= 1.0
    assert model["metrics"]["accuracy"] > 1 / 3  # the words give the classes away
    assert model["params"]  # get_params() saved with the version
    assert [m["version"] for m in status.models(lab.db, ready)] == [1, 2]


def test_after_training_the_queue_is_ranked_by_margin_and_explained(lab: Any, ready: Any) -> None:
    ann = _round_two(lab, ready)
    task = tasks.next_task(lab.db, ann)
    selection = task["selection"]
    assert selection["strategy"] == "margin"
    assert selection["model_version"] == 2
    assert selection["rank"] == 0
    found = REASON.match(selection["reason"])
    assert found, selection["reason"]
    first, p1, second, p2 = found.groups()
    assert {first, second} <= set(lab.classes) and first != second
    assert 1.0 >= float(p1) >= float(p2) >= 0.0
    assert task["suggestion"]["label"] in lab.classes
    assert task["suggestion"]["label"] == first
    assert abs(task["suggestion"]["confidence"] - float(p1)) <= 0.005


def test_a_new_round_never_serves_labeled_items_again(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    done = {t["item"]["id"] for t in lab.label_next(ann, n=10)}
    lab.train(ready)
    other = lab.member("sent", "other", "annotator")
    later = {t["item"]["id"] for t in lab.label_next(other, n=20)}
    assert not done & later


def test_an_annotation_carries_its_provenance(lab: Any, ready: Any) -> None:
    ann = _round_two(lab, ready)
    task = tasks.next_task(lab.db, ann)
    done = tasks.submit(
        lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=4321
    )
    assert done["resolution"] == "single"
    with lab.db.read() as conn:
        row = (
            conn.execute(select(annotation).where(annotation.c.id == done["annotation_id"]))
            .mappings()
            .one()
        )
        lease = (
            conn.execute(select(assignment).where(assignment.c.id == task["assignment_id"]))
            .mappings()
            .one()
        )
    assert row["value"] == {"sentiment": "neutral"}
    assert (row["guideline_version"], row["schema_version"], row["model_version"]) == (1, 1, 2)
    assert row["suggestion"] == task["suggestion"]["label"]
    assert row["suggestion_confidence"] == task["suggestion"]["confidence"]
    assert row["active_ms"] == 4321
    assert row["user_id"] == ann.user.id
    assert lease["state"] == "submitted"
    assert (lease["strategy"], lease["model_version"], lease["rank"]) == ("margin", 2, 0)
    assert lease["reason"] == task["selection"]["reason"]
    assert lease["score"] == task["selection"]["score"]


def test_stopping_decisions_appear_with_a_reason(lab: Any, ready: Any) -> None:
    ann = _round_two(lab, ready)
    decisions = status.status(lab.db, ready)["model"]["stopping"]
    assert [d["criterion"] for d in decisions] == ["settled_predictions"]
    assert decisions[0]["stop"] is False
    assert "needs the newest model to have 20% more labels" in decisions[0]["reason"]
    for _ in range(4):
        lab.label_next(ann, n=4)
        lab.train(ready)
    info = status.status(lab.db, ready)
    decision = info["model"]["stopping"][0]
    assert decision["value"] is not None and -1.0 <= decision["value"] <= 1.0
    assert "κ" in decision["reason"]
    assert info["stop_recommended"] is decision["stop"]


def test_stable_predictions_recommend_stopping(lab: Any) -> None:
    ctx = lab.project(stop_rule="stabilizing_predictions", stop_kappa=0.0, stop_window=1)
    lab.import_rows(ctx, lab.rows(40))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    lab.label_next(ann, n=9)
    lab.train(ctx)
    assert status.status(lab.db, ctx)["stop_recommended"] is False
    lab.label_next(ann, n=3)
    lab.train(ctx)
    info = status.status(lab.db, ctx)
    assert info["stop_recommended"] is True
    assert "stable for 1 rounds" in info["model"]["stopping"][0]["reason"]


def test_a_budget_adds_its_own_stopping_decision(lab: Any) -> None:
    ctx = lab.project(budget=6)
    lab.import_rows(ctx, lab.rows(30))
    lab.train(ctx)
    lab.label_next(lab.member("sent", "ann", "annotator"), n=6)
    lab.train(ctx)
    info = status.status(lab.db, ctx)
    budget = next(d for d in info["model"]["stopping"] if d["criterion"] == "budget")
    assert budget["stop"] is True
    assert "budget of 6 reached" in budget["reason"]
    assert info["stop_recommended"] is True


def test_default_policy_starts_typical_then_turns_to_the_models_doubt(lab: Any) -> None:
    """A project that names no strategy gets `auto`: typical items first, margin once each
    class has a few labels."""
    from labelloop.schema import ProjectSettings

    assert ProjectSettings().strategy == "auto"
    ctx = lab.project("auto-policy", strategy="auto")
    lab.import_rows(ctx, lab.rows(60))
    lab.train(ctx)
    first = tasks.next_task(lab.db, ctx)
    assert first["selection"]["strategy"] == "auto"
    assert "typical" in first["selection"]["reason"]
    tasks.skip(lab.db, ctx, first["assignment_id"])
    served = lab.label_next(ctx, n=18)
    counts = Counter(truth_of(t["item"]["data"]["text"]) for t in served)
    assert min(counts[c] for c in CLASSES) >= 3, counts  # past the typicality phase
    lab.train(ctx)
    later = tasks.next_task(lab.db, ctx)
    assert later["selection"]["strategy"] == "auto"
    # a batch of 10 is over 1% of this 60-item pool, so margin picks are spread over clusters
    reason = later["selection"]["reason"]
    assert REASON.match(reason.split(";")[0]), reason


def test_the_settled_rule_takes_the_projects_changed_share_and_kappa(lab: Any) -> None:
    # Letting any share of the predictions change (and any κ ≥ 0) recommends stopping as soon
    # as a model trained on a fifth fewer labels, three rounds back, exists.
    loose = lab.project("loose", stop_changed=1.0, stop_kappa=0.0)
    lab.import_rows(loose, lab.rows(40))
    lab.train(loose)
    ann = lab.member("loose", "ann", "annotator")
    for _ in range(5):
        lab.label_next(ann, n=4)
        lab.train(loose)
    decision = status.status(lab.db, loose)["model"]["stopping"][0]
    assert decision["criterion"] == "settled_predictions"
    assert decision["stop"] is True
    assert "changed, κ =" in decision["reason"] and "≥ 0" in decision["reason"]


def test_a_round_keeps_the_stop_set_items_it_trained_on(lab: Any, ready: Any) -> None:
    # On a pool of 60 the stop set is the whole pool, so the 10 items labeled are in it; the
    # settled rule tells their changed predictions from the rest's by what the round kept.
    ann = lab.member("sent", "ann", "annotator")
    served = lab.label_next(ann, n=10)
    lab.train(ready)
    with lab.db.read() as conn:
        rows = conn.execute(select(model_version).order_by(model_version.c.version)).mappings()
        cold, newest = [r["stopping"] for r in rows]
    stop_set = newest["stop_set"]
    assert len(stop_set) == 60 and cold["stop_labeled"] == []
    trained_on = {stop_set[k] for k in newest["stop_labeled"]}
    assert trained_on == {task["item"]["id"] for task in served}


def test_a_project_with_default_settings_judges_stopping_as_simulate_does() -> None:
    # The schema cannot import the rule (no scikit-learn at CLI start-up), so the defaults are
    # written twice; `labelloop simulate` and the benchmarks use the rule's own. They must agree.
    (rule,) = _criteria(ProjectSettings())
    default = SettledPredictions()
    assert isinstance(rule, SettledPredictions)
    assert vars(rule) == vars(default)


def test_a_stored_project_with_an_unregistered_strategy_waits_until_it_is_registered(
    lab: Any, monkeypatch: Any
) -> None:
    from labelloop.errors import SchemaError
    from labelloop.learn import STRATEGIES, Margin
    from labelloop.store.tables import project
    from labelloop.workflow import learning, projects

    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(30))
    with lab.db.write() as conn:  # as a project saved before strategies were checked
        conn.execute(project.update().values(schema=schema_with(strategy="foo")))
    lab.db.memo.forget()
    ctx = projects.system_context(lab.db, "sent")  # it opens
    problem = "settings.strategy: unknown strategy 'foo'; known strategies: auto, badge,"
    assert status.status(lab.db, ctx)["training"]["error"].startswith(problem)
    with pytest.raises(SchemaError, match=f"^{re.escape(problem)}"):
        learning.train(lab.db, ctx)
    learner = learning.Learner(lab.db)
    assert learner.run_once() == 0 and learner.run_once() == 0

    # The plug-in that registers 'foo' is imported: the project trains and serves.
    monkeypatch.setitem(STRATEGIES._classes, "foo", Margin)
    assert status.status(lab.db, ctx)["training"]["error"] is None
    assert learner.run_once() == 1
    assert tasks.next_task(lab.db, lab.member("sent", "ann", "annotator")) is not None


def test_labels_waiting_in_review_do_not_start_round_after_round(lab: Any) -> None:
    """The queue is dry, but every item left waits for a reviewer: a round would queue the same
    items again, and the learner used to do that nonstop (hundreds of versions a minute)."""
    from labelloop.workflow import learning

    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(6))
    learner = learning.Learner(lab.db)
    assert learner.run_once() == 1  # the cold-start queue
    lab.label_next(lab.member("sent", "ann", "annotator"), n=6)
    assert [learner.run_once() for _ in range(5)] == [0] * 5
    assert status.status(lab.db, ctx)["model"]["version"] == 1


def test_the_learner_polls_on_after_the_database_was_away(lab: Any, monkeypatch: Any) -> None:
    """A PostgreSQL restart while the worker asked for the projects made `labelloop worker`
    exit with a traceback: no project trained again until someone restarted it, though the
    servers came back by themselves."""
    from sqlalchemy.exc import OperationalError

    from labelloop.workflow import learning

    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(6))
    real, asked = learning.store_learning.projects_untrained_first, []

    def away_once(conn: Any) -> list[int]:
        asked.append(1)
        if len(asked) == 1:
            raise OperationalError("SELECT id FROM project", {}, Exception("shutting down"))
        return real(conn)

    monkeypatch.setattr(learning.store_learning, "projects_untrained_first", away_once)
    monkeypatch.setattr(learning, "PASS_RETRY_S", 0.05)
    learner = learning.Learner(lab.db, poll_s=0.05)
    learner.start()
    try:
        deadline = time.monotonic() + 30
        while status.status(lab.db, ctx)["model"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        learner.stop()
    assert len(asked) > 1
    assert status.status(lab.db, ctx)["model"]["version"] == 1


def test_the_last_labels_are_trained_on_and_new_items_get_a_round(lab: Any) -> None:
    """Fewer labels than retrain_every finish the pool: one last round trains on them. Items
    imported once the queue ran dry get a round that queues them."""
    from labelloop.workflow import learning

    ctx = lab.project(retrain_every=10)
    lab.import_rows(ctx, lab.rows(14))
    learner = learning.Learner(lab.db)
    assert learner.run_once() == 1
    lab.label_next(ctx, n=14)
    assert learner.run_once() == 1  # 14 labels, 4 past the last multiple of 10
    model = status.status(lab.db, ctx)["model"]
    assert model["n_train"] == 14 and model["more_labels"] is None
    assert learner.run_once() == 0
    lab.import_rows(ctx, lab.rows(5, start=100), filename="more.jsonl")
    assert learner.run_once() == 1
    assert learner.run_once() == 0
    assert tasks.next_task(lab.db, ctx) is not None


def test_gold_checks_left_do_not_start_round_after_round(lab: Any) -> None:
    from labelloop.workflow import learning, quality

    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(8))
    quality.set_gold(lab.db, ctx, {"sentiment": "negative"}, external_id="doc-0")
    quality.set_gold(lab.db, ctx, {"sentiment": "neutral"}, external_id="doc-1")
    learner = learning.Learner(lab.db)
    assert learner.run_once() == 1
    lab.label_next(ctx, n=6)  # every item that is not a gold check
    assert learner.run_once() == 1  # the last six labels
    assert [learner.run_once() for _ in range(5)] == [0] * 5
    assert status.status(lab.db, ctx)["model"]["n_train"] == 6


def _age_rounds(lab: Any, ctx: Any, *, seconds: float) -> None:
    """Date the project's rounds ``seconds`` earlier, as if the learner had rested since."""
    with lab.db.write() as conn:
        rounds = select(model_version.c.id, model_version.c.created_at)
        for found in conn.execute(rounds.where(model_version.c.project_id == ctx.id)).all():
            earlier = found.created_at - timedelta(seconds=seconds)
            mv = model_version.c
            conn.execute(update(model_version).where(mv.id == found.id).values(created_at=earlier))


def _serve(lab: Any, ann: Any, n: int) -> list[dict[str, Any]]:
    """``n`` items leased at once, as the labeling page holds one and prefetches the next."""
    held: list[int] = []
    for _ in range(n):
        held.append(tasks.next_task(lab.db, ann, held=held)["assignment_id"])
    return held


def _first_round(lab: Any, n: int, **settings: Any) -> tuple[Any, Any, Any]:
    """A project of ``n`` items after its learner's first round: the admin's context, the
    learner and an annotator's context."""
    from labelloop.workflow import learning

    ctx = lab.project(**settings)
    lab.import_rows(ctx, lab.rows(n))
    learner = learning.Learner(lab.db)
    assert learner.run_once() == 1
    return ctx, learner, lab.member("sent", "ann", "annotator")


def test_a_new_project_gets_its_first_items_before_older_projects_rounds(
    lab: Any, monkeypatch: Any
) -> None:
    """A project made while others train waited, its page saying the first items were being
    chosen, until the learner had gone through every older project's round in id order (each
    minutes long on a large pool): a pass now chooses new projects' first items first."""
    from labelloop.workflow import learning

    old, learner, _ = _first_round(lab, 12)
    lab.import_rows(old, lab.rows(4, start=100), filename="more.jsonl")  # a round is due
    _age_rounds(lab, old, seconds=60)
    new = lab.project("fresh")
    lab.import_rows(new, lab.rows(8))
    trained: list[str] = []
    real = learning.train

    def noted(db: Any, ctx: Any, **kw: Any) -> int:
        trained.append(ctx.slug)
        return real(db, ctx, **kw)

    monkeypatch.setattr(learning, "train", noted)
    assert learner.run_once() == 2
    assert trained == ["fresh", "sent"]


_LEARNER_CHILD = """
import os, sys, threading, time
from labelloop.store import db as store_db
from labelloop.store.db import Database
from labelloop.workflow import learning, simulations
def priority(tid):
    idle = os.sched_getscheduler(tid) == os.SCHED_IDLE
    return f"{os.getpriority(os.PRIO_PROCESS, tid)}:{'idle' if idle else 'normal'}"
if sys.argv[2] == "user":  # as for any user but root: a thread's priority is never raised back
    lowering = store_db._set_priority
    def refused(tid, nice, policy):
        if nice < os.getpriority(os.PRIO_PROCESS, tid) or policy != os.sched_getscheduler(tid):
            if nice != 19:
                raise PermissionError("raising a priority needs root")
        lowering(tid, nice, policy)
    store_db._set_priority = refused
real_train, seen = learning.train, []
def trained(db, ctx, **kw):
    seen.append(f"{ctx.slug}:{priority(threading.get_native_id())}")
    return real_train(db, ctx, **kw)
learning.train = trained
def replayed(db, cache, *, stop, **kw):
    seen.append(f"simulations:{priority(threading.get_native_id())}")
    return False
simulations.run_next = replayed
db = Database(sys.argv[1])
learner = learning.Learner(db, poll_s=0.05, low_priority=True)  # as the server's learner child
learner.start()
def wait_for(slug):
    deadline = time.monotonic() + 60
    while not any(s.startswith(slug + ":") for s in seen) and time.monotonic() < deadline:
        time.sleep(0.05)
wait_for("sent")
wait_for("fresh")
print("ready", flush=True)
sys.stdin.readline()  # the test makes a project meanwhile
wait_for("newer")
learner.stop()
print(*sorted(set(seen)), flush=True)
db.dispose()
"""


@pytest.mark.parametrize("who", ["root", "user"])
def test_the_learner_child_runs_first_rounds_at_normal_priority_and_the_rest_at_the_lowest(
    sqlite_lab: Any, who: str
) -> None:
    """The server's learner child lowered its whole process after its first pass, then (last)
    lowered its thread for each piece of work and raised it back after: where raising is not
    allowed, as for any user but root, the thread stayed at the lowest, and with every core
    busy a project made later got no first items for minutes. A thread never lowered runs new
    projects' first rounds, one lowered for good the later rounds, embeddings and checks, and
    the simulations run on one of their own, for root and users alike."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if who == "root" and os.geteuid() != 0:
        pytest.skip("raising a thread's priority back needs root (or RLIMIT_NICE)")
    lab = sqlite_lab
    old, _, _ = _first_round(lab, 12)
    lab.import_rows(old, lab.rows(4, start=100), filename="more.jsonl")  # a round is due
    _age_rounds(lab, old, seconds=60)
    lab.import_rows(lab.project("fresh"), lab.rows(8))
    child = subprocess.Popen(
        [sys.executable, "-c", _LEARNER_CHILD, lab.db.url, who],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdout.readline().split() == ["ready"]
        # After a later round at the lowest: a new project's first round still at normal.
        lab.import_rows(lab.project("newer"), lab.rows(8))
        out, _ = child.communicate("go\n", timeout=90)
    finally:
        child.kill()
    assert child.returncode == 0
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the child's own, as under `nice` it is not 0
    assert out.split() == [
        f"fresh:{base}:normal",
        f"newer:{base}:normal",
        "sent:19:idle",
        "simulations:19:idle",
    ]


def test_items_imported_after_a_skip_are_served_at_once(lab: Any) -> None:
    """A solo annotator skipped an item and labeled the rest; items imported then waited for
    retrain_every labels that could never come, while the page said a model was coming."""
    ctx, learner, ann = _first_round(lab, 3)
    first, second, third = _serve(lab, ann, 3)
    tasks.submit(lab.db, ann, first, {"sentiment": "neutral"}, active_ms=900)
    tasks.skip(lab.db, ann, second)
    tasks.submit(lab.db, ann, third, {"sentiment": "neutral"}, active_ms=900)
    assert tasks.next_task(lab.db, ann) is None
    assert tasks.idle(lab.db, ann)["state"] == "waiting"  # only the item they skipped is left
    assert [learner.run_once() for _ in range(3)] == [1, 0, 0]  # the two labels, then none

    lab.import_rows(ctx, lab.rows(2, start=100), filename="more.jsonl")
    assert tasks.idle(lab.db, ann) == {
        "state": "open",
        "remaining": 3,
        "leased_to_others": 0,
        "learner": False,
        "first": False,  # a new import waits for a round, not the project's first
        "blocked": None,
    }
    assert learner.run_once() == 1
    task = tasks.next_task(lab.db, ann)
    assert task is not None and task["item"]["external_id"] in {"doc-100", "doc-101"}
    assert learner.run_once() == 0


def test_an_import_gets_a_round_while_the_old_queue_still_serves(
    lab: Any, monkeypatch: Any
) -> None:
    """New items are ranked by the round after the import, spaced like rounds after labels."""
    from labelloop.workflow import learning

    # Rounds rest a minute here, so a slow machine's labels and import cannot outlast the rest.
    monkeypatch.setattr(learning, "MIN_ROUND_GAP_S", 60.0)
    ctx, learner, ann = _first_round(lab, 20, retrain_every=50)
    lab.label_next(ann, n=2)
    lab.import_rows(ctx, lab.rows(3, start=100), filename="more.jsonl")
    assert learner.run_once() == 0  # the last round has not rested yet...
    assert learning.round_coming(lab.db, ctx)  # ...but one is coming
    _age_rounds(lab, ctx, seconds=61)
    assert learner.run_once() == 1
    assert learner.run_once() == 0
    with lab.db.read() as conn:
        queued = set(
            conn.execute(
                select(item.c.external_id)
                .join(queue_entry, queue_entry.c.item_id == item.c.id)
                .join(model_version, model_version.c.id == queue_entry.c.model_version_id)
                .where(model_version.c.version == 2)
            ).scalars()
        )
    assert {"doc-100", "doc-101", "doc-102"} <= queued


def test_idle_does_not_promise_a_round_that_is_not_coming(lab: Any) -> None:
    """Items outside the queue wait for labels when a round would queue the same ones again."""
    _, learner, ann = _first_round(lab, 5, queue_size=2)
    for assignment_id in _serve(lab, ann, 2):
        tasks.skip(lab.db, ann, assignment_id)
    assert tasks.next_task(lab.db, ann) is None
    assert learner.run_once() == 0
    assert tasks.idle(lab.db, ann) == {
        "state": "unqueued",
        "remaining": 5,
        "leased_to_others": 0,
        "learner": False,  # run_once here: no learner runs (see test_a_running_learner_…)
        "first": False,
        "blocked": None,
    }


def test_idle_says_ask_again_when_a_round_lands_while_it_asks(lab: Any, monkeypatch: Any) -> None:
    """The round commits after idle found the newest queue empty and before it asked whether
    one is coming (which, the round having landed, says no): a client's `tasks(wait_s=…)` loop
    stopped there, a third through the pool."""
    from labelloop.workflow import learning

    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(20))
    ann = lab.member("sent", "ann", "annotator")
    assert tasks.next_task(lab.db, ann) is None  # nothing ranked yet
    asked = learning.round_coming

    def landing(db: Any, project: Any) -> bool:
        lab.train(ctx)  # the learner's round lands between idle's questions
        return asked(db, project)

    monkeypatch.setattr(learning, "round_coming", landing)
    assert tasks.idle(lab.db, ann)["state"] == "open"
    assert tasks.next_task(lab.db, ann) is not None


def test_idle_says_ask_again_when_a_round_has_just_queued_items(lab: Any) -> None:
    """A round that swaps in its queue between a caller's empty `next` and their question why
    has already served them: the answer is `open` (ask again), not "wait for more labels"."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(20))
    ann = lab.member("sent", "ann", "annotator")
    assert tasks.next_task(lab.db, ann) is None  # nothing ranked yet
    lab.train(ctx)  # the learner's round lands now
    assert tasks.idle(lab.db, ann)["state"] == "open"
    assert tasks.next_task(lab.db, ann) is not None


def test_a_running_learner_is_told_and_one_gone_quiet_is_not(lab: Any, monkeypatch: Any) -> None:
    # In team mode nothing said that no `labelloop worker` ran: the labeling page said "the
    # model is preparing more" for ever. A learner notes every half minute that it runs.
    from labelloop.workflow import learning

    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(6))
    ann = lab.member("sent", "ann", "annotator")
    said = status.status(lab.db, ctx)["training"]["learner"]
    assert said["running"] is False and said["seen_at"] is None
    assert said["sentence"].startswith("No learner has run on this database")
    assert "labelloop worker" in said["sentence"]
    assert tasks.idle(lab.db, ann) == {
        "state": "open",
        "remaining": 6,
        "leased_to_others": 0,
        "learner": False,
        "first": True,
        "blocked": None,
    }

    learner = learning.Learner(lab.db, poll_s=0.05)
    learner.start()
    try:
        deadline = time.monotonic() + 60  # its start, then its first round
        while not status.status(lab.db, ctx)["training"]["learner"]["running"]:
            assert time.monotonic() < deadline, "the learner never said it runs"
            time.sleep(0.05)
        assert status.status(lab.db, ctx)["training"]["learner"]["sentence"] is None
        while tasks.next_task(lab.db, ann) is None:  # its first round queues the pool
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        learner.stop()

    later = status.now() + timedelta(minutes=3)  # no beat for three minutes: taken for stopped
    monkeypatch.setattr(status, "now", lambda: later)
    quiet = status.status(lab.db, ctx)["training"]["learner"]
    assert quiet["running"] is False and quiet["seen_at"] is not None
    assert quiet["sentence"].startswith("No learner has run since 20")
