"""Simulations on a project's own labels: asked for by a manager, checked at once, replayed by
the learner, followed, cancelled, and shown as failed when the learner stopped with them."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from labelloop.errors import Conflict, LabelloopError, NotFound, PermissionDenied
from labelloop.store import simulations as store_sims
from labelloop.store.tables import audit_event, simulation
from labelloop.store.users import now
from labelloop.workflow import projects, quality, simulations
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.learning import Learner
from tests.conftest import TAGS_SCHEMA
from tests.simreplay import replay_here

FAST: dict[str, Any] = {"strategies": "random,margin", "seeds": 2, "budget": 40, "batch": 10}
"""Options that replay in a second or two on the fixture's 69 labels."""
SQLITE_ONLY = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
"""For what the replay decides whatever the store: the store's part of a replay (claim,
progress, cancel, figures) is asserted on both by the other tests."""


def noisy(rows: list[dict[str, Any]], *, every: int = 7) -> list[dict[str, Any]]:
    """Every ``every``-th label moved to the next class, so the curves are not all 1.0."""
    classes = ["negative", "neutral", "positive"]
    return [
        {**r, "label": classes[(classes.index(r["label"]) + 1) % 3]} if i % every == 0 else r
        for i, r in enumerate(rows)
    ]


@pytest.fixture
def labeled(lab: Any) -> Any:
    """'sent' with 60 labeled pool items (some labels wrong) and 9 labeled eval items; the
    admin's context."""
    ctx = lab.project()
    lab.import_rows(ctx, noisy(lab.rows(60, labeled=True)), labeled=True)
    lab.import_rows(
        ctx, lab.rows(9, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    return ctx


@pytest.fixture
def manager(lab: Any, labeled: Any) -> Any:
    return lab.member("sent", "mia", "manager")


def _events(lab: Any, action: str) -> list[Any]:
    with lab.db.read() as conn:
        q = select(audit_event).where(audit_event.c.action == action).order_by(audit_event.c.id)
        return list(conn.execute(q).mappings())


def _claim(lab: Any, sim_id: int) -> None:
    with lab.db.write() as conn:
        assert store_sims.claim(conn, sim_id)


def _replay_here(lab: Any, ctx: Any, asked: dict[str, Any], **kwargs: Any) -> None:
    """Replay a claimed simulation in this process, not in the learner's worker processes."""
    run = simulations.run
    run(lab.db, FeatureCache(), asked["id"], ctx.id, asked["options"], in_processes=False, **kwargs)


def test_a_request_is_replayed_by_the_learner_into_figures_a_manager_reads(
    lab: Any, manager: Any
) -> None:
    asked = simulations.request(lab.db, manager, **FAST)
    assert asked["state"] == "queued" and asked["phase"] == "waiting for the learner"
    assert asked["requested_by"] == "mia" and asked["summary"] is None
    assert asked["options"]["strategies"] == ["random", "margin"]
    assert asked["options"]["featurizer"] == "tfidf"
    assert [s["id"] for s in simulations.recent(lab.db, manager)] == [asked["id"]]

    assert simulations.run_next(lab.db, FeatureCache()) is True
    assert simulations.run_next(lab.db, FeatureCache()) is False  # nothing else was waiting

    done = simulations.get(lab.db, manager, asked["id"])
    assert done["state"] == "done" and done["error"] is None, done
    assert done["percent"] == 100.0 and done["started_at"] and done["finished_at"]
    summary = done["summary"]
    assert summary["head"][:4] == ["strategy", "labels to 95%", "labels to 98%", "AUC"]
    assert [row[0] for row in summary["rows"]] == ["random", "margin"]
    assert summary["seeds"] == 2 and 0.5 < summary["full_accuracy"] <= 1.0
    # the eval items' labels count too: 60 pool + 9 eval
    assert summary["note"].startswith(
        "69 labeled items, 3 classes, featurizer tfidf, model LogisticRegression; "
    )
    assert "margin" in summary["best"]
    if summary["best"].startswith("margin has"):  # a lead says how many seeds bear it out
        assert re.search(r"\(ahead in [12] of 2 seeds\)$", summary["best"]), summary["best"]
    assert done["chart_url"] == f"/api/projects/sent/simulations/{asked['id']}/chart"

    page = simulations.chart(lab.db, manager, asked["id"])
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "Active learning on the labels of Review sentiment" in page
    assert 'data-series="random"' in page and 'data-series="margin"' in page
    assert 'class="chart narrow"' in page  # the phone's drawing, with text it can read

    # A simulation stored before the page changed is drawn again from its figures; one whose
    # figures cannot draw a chart keeps the page stored with it.
    old_page = "<!doctype html><p>the page of an earlier release</p>"
    with lab.db.write() as conn:
        conn.execute(
            update(simulation).where(simulation.c.id == asked["id"]).values(chart=old_page)
        )
    assert simulations.chart(lab.db, manager, asked["id"]) == page
    with lab.db.write() as conn:
        conn.execute(
            update(simulation).where(simulation.c.id == asked["id"]).values(result={"seeds": [1]})
        )
    assert simulations.chart(lab.db, manager, asked["id"]) == old_page


def test_the_defaults_are_random_and_the_project_batch(lab: Any) -> None:
    ctx = lab.project(batch_size=7)
    lab.import_rows(ctx, lab.rows(60, labeled=True), labeled=True)
    asked = simulations.request(lab.db, ctx, budget=40)
    assert asked["options"]["strategies"][0] == "random"
    assert asked["options"]["seeds"] == simulations.DEFAULT_SEEDS
    assert asked["options"]["batch"] == 7


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"seeds": 0}, "seeds must be between 1 and 10, not 0"),
    ({"seeds": 11}, "seeds must be between 1 and 10, not 11"),
    ({"batch": 0}, "batch must be between 1 and 1000, not 0"),
    ({"max_seconds": 5}, "max_seconds must be between 10 and 3600, not 5"),
    (
        {"budget": 20},
        "budget 20 leaves nothing to query: every strategy starts from 20 random labels; "
        "the least budget is 21",
    ),
    ({"strategies": "random,psychic"}, "unknown strategy 'psychic'; known strategies: "),
    ({"strategies": " , "}, "strategies names no strategy"),
]


def test_bad_options_are_refused_at_once_naming_the_option(
    lab: Any, manager: Any, subtests: pytest.Subtests
) -> None:
    for options, message in BAD_OPTIONS:  # one project for them all: none changes it
        with subtests.test(options=options), pytest.raises(LabelloopError) as caught:
            simulations.request(lab.db, manager, **{**FAST, **options})
        with subtests.test(options=options):
            assert caught.value.message.startswith(message), caught.value.message
        assert simulations.recent(lab.db, manager) == []  # nothing was queued


def test_too_few_labels_are_refused_at_once(lab: Any) -> None:
    ctx = lab.project()
    with pytest.raises(LabelloopError, match="^project 'sent' has no resolved labels yet"):
        simulations.request(lab.db, ctx, **FAST)

    rows = lab.rows(60, labeled=True)
    lab.import_rows(ctx, rows[:30], labeled=True)
    with pytest.raises(LabelloopError) as few:
        simulations.request(lab.db, ctx, **FAST)
    assert few.value.message == "30 labeled items are too few to simulate; need at least 40"


def test_a_class_seen_once_is_named_with_what_it_needs(lab: Any) -> None:
    ctx = lab.project()
    rows = [r for r in lab.rows(90, labeled=True) if r["label"] != "neutral"]
    lab.import_rows(ctx, [*rows, {"id": "n-1", "text": "report", "label": "neutral"}], labeled=True)
    with pytest.raises(LabelloopError) as caught:
        simulations.request(lab.db, ctx, **FAST)
    assert caught.value.message == (
        "class 'neutral' has 1 item; each class needs at least 2, for the stratified "
        "pool/test split"
    )


def test_one_class_only_is_refused(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(
        ctx, [r for r in lab.rows(150, labeled=True) if r["label"] == "positive"], labeled=True
    )
    with pytest.raises(LabelloopError, match="is 'positive'; simulate needs two classes$"):
        simulations.request(lab.db, ctx, **FAST)


def test_gold_answers_are_not_labels(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two 'neutral' labels, one of them on a gold check: one is left, which cannot be split."""
    replay_here(monkeypatch)
    ctx = lab.project()
    rows = [r for r in lab.rows(90, labeled=True) if r["label"] != "neutral"]
    neutral = [
        {"id": "n-1", "text": "report on monday", "label": "neutral"},
        {"id": "n-2", "text": "meeting update", "label": "neutral"},
    ]
    lab.import_rows(ctx, [*rows, *neutral], labeled=True)
    quality.set_gold(lab.db, ctx, {"sentiment": "neutral"}, external_id="n-1")
    with pytest.raises(LabelloopError, match="^class 'neutral' has 1 item;"):
        simulations.request(lab.db, ctx, **FAST)

    quality.remove_gold(lab.db, ctx, external_id="n-1")  # its label counts again
    asked = simulations.request(lab.db, ctx, **FAST)
    simulations.run_next(lab.db, FeatureCache())
    done = simulations.get(lab.db, ctx, asked["id"])
    assert done["summary"]["note"].startswith(f"{len(rows) + 2} labeled items, 3 classes")


def test_only_a_single_choice_target_can_be_replayed(lab: Any) -> None:
    projects.create_project(lab.db, "tags", TAGS_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("tags", lab.admin)
    with pytest.raises(LabelloopError) as caught:
        simulations.request(lab.db, ctx, **FAST)
    assert caught.value.message == (
        "simulate replays single-label classification; project 'tags' labels multi_choice "
        "('topics')"
    )


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_only_managers_ask_for_or_cancel_a_simulation(lab: Any, manager: Any, role: str) -> None:
    member = lab.member("sent", f"a-{role}", role)
    with pytest.raises(PermissionDenied, match=r"\[manage_project\]: managers may"):
        simulations.request(lab.db, member, **FAST)
    asked = simulations.request(lab.db, manager, **FAST)
    with pytest.raises(PermissionDenied):
        simulations.cancel(lab.db, member, asked["id"])
    assert simulations.get(lab.db, manager, asked["id"])["state"] == "queued"


def test_one_simulation_at_a_time_per_project(lab: Any, manager: Any) -> None:
    first = simulations.request(lab.db, manager, **FAST)
    with pytest.raises(Conflict) as queued:
        simulations.request(lab.db, manager, **FAST)
    assert queued.value.message == (
        f"simulation #{first['id']} of project 'sent' is still queued; wait for it or cancel it"
    )
    _claim(lab, first["id"])
    with pytest.raises(Conflict, match="is still running; wait for it or cancel it$"):
        simulations.request(lab.db, manager, **FAST)

    other = lab.project("other")  # another project's simulation does not wait for this one
    lab.import_rows(other, lab.rows(60, labeled=True), labeled=True)
    assert simulations.request(lab.db, other, **FAST)["state"] == "queued"

    simulations.cancel(lab.db, manager, first["id"])
    assert simulations.request(lab.db, manager, **FAST)["state"] == "queued"
    assert len(simulations.recent(lab.db, manager)) == 2


def test_a_cancelled_queued_simulation_is_never_run(lab: Any, manager: Any) -> None:
    asked = simulations.request(lab.db, manager, **FAST)
    cancelled = simulations.cancel(lab.db, manager, asked["id"])
    assert cancelled["state"] == "cancelled" and cancelled["finished_at"]

    assert simulations.run_next(lab.db, FeatureCache()) is False
    after = simulations.get(lab.db, manager, asked["id"])
    assert after["state"] == "cancelled" and after["summary"] is None
    with pytest.raises(NotFound, match="has no chart: it is cancelled"):
        simulations.chart(lab.db, manager, asked["id"])
    with pytest.raises(Conflict, match="is cancelled; nothing to cancel"):
        simulations.cancel(lab.db, manager, asked["id"])
    with pytest.raises(NotFound, match=f"no simulation #{asked['id'] + 1} in project 'sent'"):
        simulations.cancel(lab.db, manager, asked["id"] + 1)


def test_a_cancel_during_the_replay_stops_it_at_its_next_progress_write(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulations, "PROGRESS_EVERY_S", 0.0)  # every report writes
    asked = simulations.request(lab.db, manager, **FAST)
    _claim(lab, asked["id"])
    seen: list[tuple[str, int, int]] = []

    def hook(phase: str, done: int, total: int) -> None:
        seen.append((phase, done, total))
        if phase.startswith("replaying") and len([s for s in seen if s[0] == phase]) == 2:
            # a manager presses cancel on the page while the second round runs
            simulations.cancel(lab.db, manager, asked["id"])

    # Through worker processes: test_a_cancel_from_another_thread_ends_the_replay_without_figures.
    _replay_here(lab, manager, asked, progress=hook)
    replaying = [s for s in seen if s[0].startswith("replaying")]
    assert len(replaying) == 2, seen  # nothing was replayed past the cancel's round
    assert replaying[0][0] == "replaying 2 strategies × 2 seeds"
    assert replaying[-1][1] < replaying[-1][2]
    view = simulations.get(lab.db, manager, asked["id"])
    assert view["state"] == "cancelled" and view["error"] == "cancelled"
    assert view["summary"] is None


def test_the_page_reads_the_labels_and_featurizing_phases_with_their_totals(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulations, "PROGRESS_EVERY_S", 0.0)
    asked = simulations.request(lab.db, manager, **FAST)
    _claim(lab, asked["id"])
    n = len(simulations._labeled(lab.db, manager))
    shown: list[tuple[str, int, int, float]] = []

    def hook(phase: str, done: int, total: int) -> None:
        # What the page polls: the row as the previous report wrote it.
        view = simulations.get(lab.db, manager, asked["id"])
        shown.append((view["phase"], view["done"], view["total"], view["percent"]))

    _replay_here(lab, manager, asked, progress=hook)
    assert ("reading the labels", 0, n, 0.0) in shown, shown
    assert (f"featurizing {n:,} labeled items", 0, n, 0.0) in shown, shown
    assert all(total for phase, _, total, _ in shown if phase.startswith("featurizing")), shown
    assert simulations.get(lab.db, manager, asked["id"])["state"] == "done"


@SQLITE_ONLY
def test_the_page_reads_the_featurizing_done_while_the_replay_starts(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starting the replay's worker processes takes seconds: the page must not read "0 / n"
    # featurized all that while, though the features were ready (progress is throttled to a
    # write a second, and featurizing a small project takes less). The row is read as
    # simulate() is called, before any worker starts, so the replay may run here.
    from labelloop.learn import simulate as sim

    asked = simulations.request(lab.db, manager, **FAST)
    _claim(lab, asked["id"])
    n = len(simulations._labeled(lab.db, manager))
    real, seen = sim.simulate, []

    def starting(*args: Any, **kwargs: Any) -> Any:
        view = simulations.get(lab.db, manager, asked["id"])
        seen.append((view["phase"], view["done"], view["total"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "simulate", starting)
    _replay_here(lab, manager, asked)
    assert seen == [(f"featurizing {n:,} labeled items", n, n)]
    assert simulations.get(lab.db, manager, asked["id"])["state"] == "done"


def test_a_cancel_from_another_thread_ends_the_replay_without_figures(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulations, "PROGRESS_EVERY_S", 0.0)
    asked = simulations.request(lab.db, manager, **{**FAST, "budget": 50, "batch": 1})
    _claim(lab, asked["id"])
    replaying = threading.Event()
    rounds: list[tuple[int, int]] = []

    def hook(phase: str, done: int, total: int) -> None:
        if phase.startswith("replaying"):
            rounds.append((done, total))
            replaying.set()
            time.sleep(0.01)  # a round of a larger set: the cancel lands during the replay

    runner = threading.Thread(
        target=simulations.run,
        args=(lab.db, FeatureCache(), asked["id"], manager.id, asked["options"]),
        kwargs={"progress": hook},
    )
    runner.start()
    assert replaying.wait(60)
    simulations.cancel(lab.db, manager, asked["id"])
    runner.join(60)
    assert not runner.is_alive()
    view = simulations.get(lab.db, manager, asked["id"])
    assert view["state"] == "cancelled" and view["summary"] is None
    done, total = rounds[-1]
    assert done < total and len(rounds) < total / 2  # it stopped soon after the cancel


def test_a_learner_that_stops_fails_its_simulation_with_a_reason(lab: Any, manager: Any) -> None:
    asked = simulations.request(lab.db, manager, **FAST)
    stop = threading.Event()

    def hook(phase: str, done: int, total: int) -> None:
        if phase.startswith("replaying"):
            stop.set()

    _claim(lab, asked["id"])
    simulations.run(
        lab.db, FeatureCache(), asked["id"], manager.id, asked["options"], stop=stop, progress=hook
    )
    view = simulations.get(lab.db, manager, asked["id"])
    assert view["state"] == "failed"
    assert view["error"] == "the learner stopped during the simulation; run it again"


def test_a_learner_that_ends_at_once_marks_its_simulation_stopped_first(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`labelloop worker` on a stop signal told its simulation to stop and waited up to 5 s
    for the replay's next report; it now marks the simulation failed itself, at once, though
    the replay is inside a long step that reports nothing."""
    from labelloop.learn import simulate as sim

    replaying, release = threading.Event(), threading.Event()

    def long_step(*args: Any, **kwargs: Any) -> Any:
        replaying.set()
        release.wait(30)
        raise RuntimeError("released")

    monkeypatch.setattr(sim, "simulate", long_step)
    replay_here(monkeypatch)
    asked = simulations.request(lab.db, manager, **FAST)
    runner = simulations.SimulationRunner(lab.db, FeatureCache(), poll_s=0.05)
    runner.start()
    try:
        assert replaying.wait(30)
        assert runner.replaying == asked["id"]
        started = time.monotonic()
        runner.abandon()
        # One write, though on a loaded machine: telling the replay to stop and waiting for it
        # takes 5 s (the step here answers in 30).
        assert time.monotonic() - started < 3.0
        view = simulations.get(lab.db, manager, asked["id"])
        assert view["state"] == "failed" and view["error"] == simulations.LEARNER_STOPPED
    finally:
        release.set()
        runner.stop()
    view = simulations.get(lab.db, manager, asked["id"])  # the replay's own end changes nothing
    assert view["state"] == "failed" and view["error"] == simulations.LEARNER_STOPPED
    assert runner.replaying is None
    runner.abandon()  # nothing in progress: nothing to do


def test_a_running_simulation_whose_learner_went_quiet_reads_failed(lab: Any, manager: Any) -> None:
    asked = simulations.request(lab.db, manager, **FAST)
    _claim(lab, asked["id"])
    assert simulations.get(lab.db, manager, asked["id"])["state"] == "running"

    quiet = now() - timedelta(seconds=simulations.STALE_S + 60)
    with lab.db.write() as conn:
        conn.execute(
            update(simulation).where(simulation.c.id == asked["id"]).values(heartbeat_at=quiet)
        )
    view = simulations.get(lab.db, manager, asked["id"])
    assert view["state"] == "failed"
    assert view["error"] == "the learner stopped during the simulation; run it again"
    assert simulations.recent(lab.db, manager)[0]["state"] == "failed"

    again = simulations.request(lab.db, manager, **FAST)  # no longer blocks a new one
    assert again["state"] == "queued" and again["id"] != asked["id"]
    with lab.db.read() as conn:
        row = store_sims.get(conn, manager.id, asked["id"])
    assert (
        row is not None and row["state"] == "failed" and row["finished_at"] is not None
    )  # and is stored so


def test_a_replay_that_breaks_ends_failed_with_its_message(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("out of cheese")

    monkeypatch.setattr("labelloop.learn.simulate.simulate", boom)
    asked = simulations.request(lab.db, manager, **FAST)
    assert simulations.run_next(lab.db, FeatureCache()) is True
    view = simulations.get(lab.db, manager, asked["id"])
    assert view["state"] == "failed"
    assert view["error"] == "the simulation failed: out of cheese"
    assert view["summary"] is None and view["chart_url"] is None


def _wait(lab: Any, ctx: Any, sim_id: int, *, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = simulations.get(lab.db, ctx, sim_id)
        if view["state"] not in ("queued", "running"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"simulation #{sim_id} still {view['state']} after {timeout} s")


def test_the_learner_replays_queued_simulations_and_outlives_a_broken_one(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import simulate as sim

    real, calls = sim.simulate, []

    def first_breaks(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of cheese")
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "simulate", first_breaks)
    # Replayed in this process: run_next's worker processes are asserted by the first test,
    # and a replay's worker processes started from a thread by the CLI's and browser tests.
    replay_here(monkeypatch)
    other = lab.project("other")
    lab.import_rows(other, lab.rows(60, labeled=True), labeled=True)
    broken = simulations.request(lab.db, manager, **FAST)  # the oldest: replayed first
    fine = simulations.request(lab.db, other, **FAST)

    learner = Learner(lab.db, poll_s=0.05)
    learner.start()
    try:
        assert _wait(lab, manager, broken["id"])["error"] == "the simulation failed: out of cheese"
        assert _wait(lab, other, fine["id"])["state"] == "done"
        later = simulations.request(lab.db, manager, **FAST)  # and it keeps watching
        assert _wait(lab, manager, later["id"])["state"] == "done"
    finally:
        learner.stop()
    stopped = simulations.request(lab.db, manager, **FAST)
    time.sleep(1.5)  # longer than the simulation thread's poll
    assert simulations.get(lab.db, manager, stopped["id"])["state"] == "queued"


def test_requests_and_cancels_are_audited_with_who_and_what(lab: Any, manager: Any) -> None:
    asked = simulations.request(lab.db, manager, **FAST)
    simulations.cancel(lab.db, manager, asked["id"])
    [requested] = _events(lab, "simulation.request")
    assert requested["subject"] == f"simulation:{asked['id']}"
    assert requested["actor_id"] == manager.user.id and requested["project_id"] == manager.id
    assert requested["payload"]["strategies"] == ["random", "margin"]
    assert requested["payload"]["budget"] == 40
    [cancelled] = _events(lab, "simulation.cancel")
    assert cancelled["subject"] == f"simulation:{asked['id']}"
    assert cancelled["actor_id"] == manager.user.id

    with pytest.raises(LabelloopError):
        simulations.request(lab.db, manager, **{**FAST, "seeds": 0})
    assert len(_events(lab, "simulation.request")) == 1  # a refused request leaves no event


def test_another_projects_simulation_is_not_found_here(lab: Any, manager: Any) -> None:
    other = lab.project("other")
    lab.import_rows(other, lab.rows(60, labeled=True), labeled=True)
    theirs = simulations.request(lab.db, other, **FAST)
    with pytest.raises(NotFound, match=f"^no simulation #{theirs['id']} in project 'sent'$"):
        simulations.get(lab.db, manager, theirs["id"])
    with pytest.raises(NotFound):
        simulations.cancel(lab.db, manager, theirs["id"])
    assert simulations.get(lab.db, other, theirs["id"])["state"] == "queued"


@SQLITE_ONLY
def test_the_replay_learns_with_the_projects_own_model(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay_here(monkeypatch)
    ctx = lab.project(model="sklearn.naive_bayes.ComplementNB")
    lab.import_rows(ctx, noisy(lab.rows(60, labeled=True)), labeled=True)
    asked = simulations.request(lab.db, ctx, **FAST)
    assert asked["options"]["model"] == "sklearn.naive_bayes.ComplementNB"
    assert simulations.run_next(lab.db, FeatureCache()) is True
    done = simulations.get(lab.db, ctx, asked["id"])
    assert done["state"] == "done", done
    assert ", model ComplementNB; " in done["summary"]["note"]


def test_the_page_form_offers_a_batch_the_request_takes(lab: Any) -> None:
    ctx = lab.project(batch_size=2000)
    lab.import_rows(ctx, lab.rows(60, labeled=True), labeled=True)
    form = simulations.form(ctx)
    assert form is not None and form["batch"] == simulations.MAX_BATCH == form["max_batch"]
    asked = simulations.request(lab.db, ctx, **{**FAST, "batch": form["batch"]})
    assert asked["options"]["batch"] == simulations.MAX_BATCH


@SQLITE_ONLY
def test_a_budget_over_what_each_seed_can_label_is_capped_and_said(
    lab: Any, manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay_here(monkeypatch)
    asked = simulations.request(lab.db, manager, **{**FAST, "budget": 5000})
    assert asked["options"]["budget"] == 5000  # as asked
    assert simulations.run_next(lab.db, FeatureCache()) is True
    done = simulations.get(lab.db, manager, asked["id"])
    assert done["summary"]["note"].endswith(
        "; budget 5,000 capped at the 51 items each seed has to label"
    )
