"""Simulations on a project's own labels: which strategy would have bought its accuracy soonest.

A manager asks from the project page, the API or `labelloop simulate --project`; the request is
checked at once (strategies, budget, enough labels of each class) and queued. A learner (the
`labelloop serve` worker, or `labelloop worker`) claims it beside its rounds and replays the loop
with the project's resolved labels as the oracle, on the project's features, in worker
processes for larger sets; it writes its progress as it goes and the figures and chart at the
end. Nothing of the project changes: the replay reads a snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from labelloop.errors import Conflict, LabelloopError, NotFound, Unprocessable
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import simulations as store_sims
from labelloop.store.db import Database, Quiet
from labelloop.store.users import now
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.projects import ProjectContext

log = logging.getLogger("labelloop.learner")

MAX_SEEDS = 10
DEFAULT_SEEDS = 3
DEFAULT_BUDGET = 500
DEFAULT_SECONDS = 900.0
MAX_SECONDS = 3600.0
MAX_BATCH = 1000
MAX_WORKERS = 2
"""Worker processes one simulation may take: the annotators' requests keep the rest."""
STALE_S = 300.0
"""A running simulation whose learner wrote nothing for this long has stopped with it."""
PROGRESS_EVERY_S = 1.0
LEARNER_STOPPED = "the learner stopped during the simulation; run it again"
ACTIVE = store_sims.ACTIVE
"""States of a simulation not ended yet (queued, running)."""


class Stopped(Exception):
    """Raised from a replay's progress callback: cancelled by a manager, or the learner stops."""


def _oracle_source(ctx: ProjectContext) -> str:
    return f"the resolved labels of project '{ctx.slug}'"


def _labeled(db: Database, ctx: ProjectContext) -> list[dict[str, Any]]:
    """Pool and eval items with a resolved label of the target (gold checks left out)."""
    classes = set(ctx.schema.target.labels)
    with db.read() as conn:
        rows = store_sims.labeled_items(conn, ctx.id)
    return [r for r in rows if r["label"] in classes]


def _count_labeled(db: Database, ctx: ProjectContext) -> int:
    """How many items :func:`_labeled` reads: the total its progress is shown against."""
    with db.read() as conn:
        return store_sims.count_labeled(conn, ctx.id, labels=ctx.schema.target.labels)


def _labels(db: Database, ctx: ProjectContext) -> list[str]:
    """The resolved target labels :func:`_labeled` reads, without the items' content."""
    classes = set(ctx.schema.target.labels)
    with db.read() as conn:
        found = store_sims.labels_of(conn, ctx.id)
    return [label for label in found if label in classes]


def _check_project(ctx: ProjectContext) -> None:
    from labelloop.workflow.learning import classifier_problem

    problem = classifier_problem(ctx, "simulate replays single-label classification")
    if problem is not None:
        raise LabelloopError(problem)


def form(ctx: ProjectContext) -> dict[str, Any] | None:
    """What the project page's simulation form offers (``None`` when the caller may not ask
    for one; only ``problem`` when the project cannot be replayed): every registered strategy,
    random and the default policy ticked, and the defaults of :func:`request`."""
    from labelloop.learn import STRATEGIES
    from labelloop.learn.simoptions import strategy_names

    if not ctx.allows(Permission.MANAGE_PROJECT):
        return None
    try:
        _check_project(ctx)
    except LabelloopError as exc:
        return {"problem": exc.message}
    return {
        "problem": None,
        "strategies": list(dict.fromkeys(["random", *STRATEGIES.names()])),
        "checked": strategy_names(None),
        "seeds": DEFAULT_SEEDS,
        "max_seeds": MAX_SEEDS,
        "budget": DEFAULT_BUDGET,
        "batch": min(max(1, ctx.settings.batch_size), MAX_BATCH),
        "max_batch": MAX_BATCH,
    }


def request(
    db: Database,
    ctx: ProjectContext,
    *,
    strategies: str | None = None,
    seeds: int = DEFAULT_SEEDS,
    budget: int = DEFAULT_BUDGET,
    batch: int | None = None,
    max_seconds: float = DEFAULT_SECONDS,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Check a simulation of the project's labels and queue it; its view.

    Everything the options and the labels decide is refused here, with the option named, so a
    manager learns at once rather than after the learner picked it up. ``names``: what the
    caller calls each option in those messages (the CLI's ``--seeds``), if not its API name.
    """
    from labelloop.learn.simoptions import check_budget, oracle, strategy_names

    ctx.require(Permission.MANAGE_PROJECT)
    try:
        _check_project(ctx)
        called = dict(names or {})
        name = lambda option: called.get(option, option)  # noqa: E731
        if not 1 <= seeds <= MAX_SEEDS:
            raise LabelloopError(f"{name('seeds')} must be between 1 and {MAX_SEEDS}, not {seeds}")
        if batch is None:  # the project's own, within what a simulation takes
            batch = min(max(1, ctx.settings.batch_size), MAX_BATCH)
        elif not 1 <= batch <= MAX_BATCH:
            raise LabelloopError(f"{name('batch')} must be between 1 and {MAX_BATCH}, not {batch}")
        if not 10 <= max_seconds <= MAX_SECONDS:
            raise LabelloopError(
                f"{name('max_seconds')} must be between 10 and {MAX_SECONDS:g}, not {max_seconds:g}"
            )
        check_budget(budget, option=name("budget"))
        chosen = strategy_names(strategies, option=name("strategies"))
        labels = _labels(db, ctx)
        if not labels:
            raise LabelloopError(
                f"project '{ctx.slug}' has no resolved labels yet: label items, or import "
                "labeled ones, first"
            )
        oracle(labels, source=_oracle_source(ctx), unit="item")
    except LabelloopError as exc:  # one status for every refused request, whatever refused it
        raise Unprocessable(exc.message) from None
    options = {
        "strategies": chosen,
        "seeds": seeds,
        "budget": budget,
        "batch": batch,
        "max_seconds": max_seconds,
        "featurizer": ctx.settings.featurizer,
        "model": ctx.settings.model,
    }
    with db.write(project_id=ctx.id) as conn:
        _abandon_stale(conn, ctx.id)
        running = store_sims.active(conn, ctx.id)
        if running is not None:
            raise Conflict(
                f"simulation #{running['id']} of project '{ctx.slug}' is still "
                f"{running['state']}; wait for it or cancel it"
            )
        sim_id = store_sims.add(conn, project_id=ctx.id, user_id=ctx.actor_id, options=options)
        audit.record(
            db,
            conn,
            action="simulation.request",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"simulation:{sim_id}",
            payload=options,
        )
    return get(db, ctx, sim_id)


def _abandon_stale(conn: Any, project_id: int) -> None:
    cutoff = now() - timedelta(seconds=STALE_S)
    for sim_id in store_sims.stale_before(conn, project_id, cutoff):
        store_sims.finish(conn, sim_id, state="failed", error=LEARNER_STOPPED)


def view(row: Any, ctx: ProjectContext) -> dict[str, Any]:
    """A simulation as the page and the API show it: state, progress, and the figures."""
    state = row["state"]
    error = row["error"]
    heartbeat = row["heartbeat_at"]
    if state == "running" and heartbeat and (now() - heartbeat).total_seconds() > STALE_S:
        state, error = "failed", LEARNER_STOPPED
    done, total = int(row["done"]), int(row["total"])
    found: dict[str, Any] = {
        "id": int(row["id"]),
        "state": state,
        "phase": row["phase"],
        "done": done,
        "total": total,
        "percent": round(100.0 * done / total, 1) if total else 0.0,
        "options": row["options"],
        "requested_by": row["requested_by_name"],
        "created_at": row["created_at"].isoformat(),
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "error": error,
        "summary": None,
        "chart_url": None,
    }
    result = row["result"]
    if state == "done" and result:
        found["summary"] = summary(result)
        found["chart_url"] = f"/api/projects/{ctx.slug}/simulations/{int(row['id'])}/chart"
    return found


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures a manager reads: the table's rows, the data it came from, and a verdict."""
    from labelloop.insight.simtable import best_strategy, summary_rows

    head, *rows = summary_rows(result)
    n_seeds, asked = len(result["seeds"]), len(result["seeds_requested"])
    note = (
        f"{result['n_records']:,} labeled items, {len(result['classes'])} classes, featurizer "
        f"{result['featurizer']}, model {result.get('model', 'LogisticRegression')}; each seed "
        f"splits them into {result['n_pool']:,} to label and {result['n_test']:,} to test; "
        "full-data accuracy "
        f"{result['full_accuracy']:.3f}"
    )
    if result.get("featurizer_note"):
        note += f" ({result['featurizer_note']})"
    if result["budget"] < result["budget_requested"]:
        note += (
            f"; budget {result['budget_requested']:,} capped at the {result['budget']:,} "
            "items each seed has to label"
        )
    if result["timed_out"]:
        note += f"; stopped at its time bound with {n_seeds} of {asked} seeds"
    return {
        "head": head,
        "rows": rows,
        "note": note,
        "best": best_strategy(result),
        "seeds": n_seeds,
        "full_accuracy": result["full_accuracy"],
    }


def get(db: Database, ctx: ProjectContext, sim_id: int) -> dict[str, Any]:
    with db.read() as conn:
        row = store_sims.get(conn, ctx.id, sim_id)
    if row is None:
        raise NotFound(f"no simulation #{sim_id} in project '{ctx.slug}'")
    return view(row, ctx)


def recent(db: Database, ctx: ProjectContext) -> list[dict[str, Any]]:
    """The project's newest simulations, newest first."""
    with db.read() as conn:
        rows = store_sims.recent(conn, ctx.id)
    return [view(row, ctx) for row in rows]


def chart(db: Database, ctx: ProjectContext, sim_id: int) -> str:
    """The finished simulation's chart: a self-contained HTML page."""
    with db.read() as conn:
        row = store_sims.get(conn, ctx.id, sim_id, chart=True)
    if row is None:
        raise NotFound(f"no simulation #{sim_id} in project '{ctx.slug}'")
    page = _chart_of(row, ctx)
    if page is None:
        state = view(row, ctx)["state"]
        raise NotFound(f"simulation #{sim_id} has no chart: it is {state}")
    return page


def cancel(db: Database, ctx: ProjectContext, sim_id: int) -> dict[str, Any]:
    """Stop a queued or running simulation; the learner drops it at its next round."""
    ctx.require(Permission.MANAGE_PROJECT)
    with db.write(project_id=ctx.id) as conn:
        _abandon_stale(conn, ctx.id)  # a replay whose learner stopped reads failed, as shown
        row = store_sims.get(conn, ctx.id, sim_id)
        if row is None:
            raise NotFound(f"no simulation #{sim_id} in project '{ctx.slug}'")
        if row["state"] not in ACTIVE:
            raise Conflict(f"simulation #{sim_id} is {row['state']}; nothing to cancel")
        store_sims.finish(conn, sim_id, state="cancelled", error="cancelled")
        audit.record(
            db,
            conn,
            action="simulation.cancel",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"simulation:{sim_id}",
        )
    return get(db, ctx, sim_id)


# ------------------------------------------------------------------------------ the replay


def claim(db: Database, sim_id: int) -> bool:
    """Take a queued simulation to replay it; False when another learner took it first."""
    with db.write() as conn:
        return store_sims.claim(conn, sim_id)


def finished(
    db: Database, ctx: ProjectContext, sim_id: int
) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """A simulation's view with its stored figures and chart (``None`` until it is done),
    read at once."""
    with db.read() as conn:
        row = store_sims.get(conn, ctx.id, sim_id, chart=True)
    if row is None:
        raise NotFound(f"no simulation #{sim_id} in project '{ctx.slug}'")
    return view(row, ctx), row["result"], _chart_of(row, ctx)


def run_next(
    db: Database,
    cache: FeatureCache,
    *,
    stop: threading.Event | None = None,
    claimed: Callable[[int], None] | None = None,
) -> bool:
    """Claim the oldest queued simulation and replay it; False when none was waiting.
    ``claimed(id)`` is told which one, before its replay starts."""
    with db.read() as conn:
        row = store_sims.oldest_queued(conn)
    if row is None:
        return False
    if not claim(db, int(row["id"])):
        return True  # another learner took it: look again at once
    if claimed is not None:
        claimed(int(row["id"]))
    run(db, cache, int(row["id"]), int(row["project_id"]), dict(row["options"]), stop=stop)
    return True


def run(
    db: Database,
    cache: FeatureCache,
    sim_id: int,
    project_id: int,
    options: dict[str, Any],
    *,
    stop: threading.Event | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    in_processes: bool = True,
) -> None:
    """Replay a claimed simulation to its end; its row says done, failed or cancelled.

    ``in_processes``: the seeds replay in worker processes, so the calling process (a server's
    learner, whose rounds go on meanwhile) keeps its interpreter and thread pools to itself; a
    command that owns its process may replay small sets in it.
    """
    from labelloop.workflow.learning import system_context_by_id

    last = 0.0

    def report(phase: str, done: int, total: int, *, force: bool = False) -> None:
        nonlocal last
        if progress is not None:
            progress(phase, done, total)
        if stop is not None and stop.is_set():
            raise Stopped(LEARNER_STOPPED)
        if not force and time.monotonic() - last < PROGRESS_EVERY_S:
            return
        last = time.monotonic()
        with db.write() as conn:
            state = store_sims.progress(conn, sim_id, phase=phase, done=done, total=total)
        if state != "running":
            raise Stopped(None)  # cancelled (or deleted with its project): already recorded

    try:
        ctx = system_context_by_id(db, project_id)
        if ctx is None:
            return
        result, chart_html = _replay(db, cache, ctx, options, report, in_processes=in_processes)
    except Stopped as exc:
        if exc.args[0]:
            with db.write() as conn:
                store_sims.finish(conn, sim_id, state="failed", error=str(exc.args[0]))
        return
    except LabelloopError as exc:
        with db.write() as conn:
            store_sims.finish(conn, sim_id, state="failed", error=exc.message)
        return
    except Exception as exc:  # a broken replay must not take the learner with it
        log.exception("simulation %s of project %s failed", sim_id, project_id)
        with db.write() as conn:
            store_sims.finish(conn, sim_id, state="failed", error=f"the simulation failed: {exc}")
        return
    with db.write() as conn:
        store_sims.finish(conn, sim_id, state="done", result=result, chart=chart_html)


def _replay(
    db: Database,
    cache: FeatureCache,
    ctx: ProjectContext,
    options: dict[str, Any],
    report: Callable[..., None],
    *,
    in_processes: bool,
) -> tuple[dict[str, Any], str]:
    from concurrent.futures.process import BrokenProcessPool

    from labelloop.learn import make_model, make_strategy, simoptions, simreport
    from labelloop.learn import simulate as sim
    from labelloop.learn.model import model_label

    _check_project(ctx)
    # Every phase is shown against its total from the start: "x / N", not "0 / ?".
    report("reading the labels", 0, _count_labeled(db, ctx), force=True)
    rows = _labeled(db, ctx)
    y, classes = simoptions.oracle(
        [r["label"] for r in rows], source=_oracle_source(ctx), unit="item"
    )
    wanted = str(options.get("featurizer") or ctx.settings.featurizer)
    featurizing = f"featurizing {len(rows):,} labeled items"
    report(featurizing, 0, len(rows), force=True)
    X, used = cache.stored_or_refitted(ctx, wanted, rows)
    # Written at once: the replay's worker processes take seconds to start, and the page
    # should not read "0 / n" featurized all that while.
    report(featurizing, len(rows), len(rows), force=True)
    model = make_model(str(options.get("model") or ctx.settings.model))
    names = list(options["strategies"])
    seeds = int(options["seeds"])
    phase = f"replaying {len(names)} strategies × {seeds} seeds"
    try:
        result = sim.simulate(
            X,
            y,
            classes=classes,
            strategies={name: make_strategy(name) for name in names},
            seeds=list(range(seeds)),
            budget=int(options["budget"]),
            batch_size=int(options["batch"]),
            stopping=simoptions.stopping_rules(),
            model=model,
            max_seconds=float(options["max_seconds"]),
            progress=lambda done, total: report(phase, done, total),
            jobs=simoptions.default_jobs(seeds, X, most=MAX_WORKERS),
            in_processes=in_processes,
        )
    except ValueError as exc:  # e.g. a test split smaller than the number of classes
        raise LabelloopError(f"cannot simulate on these labels: {exc}") from None
    except BrokenProcessPool:
        raise LabelloopError("a worker process died (out of memory?)") from None
    if not result.runs:
        raise LabelloopError(
            f"no seed finished within {options['max_seconds']:g} seconds; "
            "allow more time or a lower budget"
        )
    data: dict[str, Any] = {
        "featurizer": used,
        "model": model_label(model),
        "featurizer_note": None
        if used == wanted
        else f"'{wanted}' has not computed every item's features yet, so {used} stood in",
        "n_records": len(rows),
        **simreport.to_json(result),
    }
    report("drawing the chart", 1, 1, force=True)
    return data, _page(data, ctx)


def _page(data: dict[str, Any], ctx: ProjectContext) -> str:
    """The chart page of a simulation's stored figures, drawn with today's page."""
    from labelloop.insight import curves, simtable

    chart = simtable.chart(data, title=f"Active learning on the labels of {ctx.name}")
    return curves.render_html(chart)


def _chart_of(row: Any, ctx: ProjectContext) -> str | None:
    """A finished simulation's chart: drawn again from its figures, so one stored before the
    page changed (text 5 px high on a phone) reads as a new one does; the page stored with it
    when its figures cannot draw one (``None`` until it is done)."""
    if row["chart"] is None:
        return None
    try:
        return _page(dict(row["result"]), ctx)
    except (KeyError, TypeError, ValueError):
        return str(row["chart"])


QUIET_LOOK_S = 10.0
"""How often the runner looks for a queued simulation while nothing is written meanwhile (one
stuck in another learner's hands is taken over only after minutes anyway)."""


class SimulationRunner:
    """The learner's second thread: replays queued simulations one at a time, beside rounds."""

    def __init__(
        self,
        db: Database,
        cache: FeatureCache,
        *,
        poll_s: float = 1.0,
        low_priority: bool = False,
    ) -> None:
        self.db = db
        self.cache = cache
        self.poll_s = poll_s
        self._lower = low_priority  # the server's learner: replays take only idle CPU
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.replaying: int | None = None
        """The simulation this runner replays, if any."""

    def run_forever(self) -> None:
        """Replay the queued simulations, one after the other. While nothing was written to the
        database it looks for one only every QUIET_LOOK_S (a replay is queued by a write)."""
        if self._lower:
            self.db.lower_priority()  # this thread, and the replay processes it starts
        quiet = Quiet(self.db, QUIET_LOOK_S)
        while not self._stop.is_set():
            try:
                busy = False
                if quiet.look():
                    busy = run_next(self.db, self.cache, stop=self._stop, claimed=self._claimed)
            except Exception:  # the database was away a moment: try again later
                log.exception("simulation runner failed")
                busy = False
            finally:
                self.replaying = None
            if not busy:
                self._stop.wait(self.poll_s)

    def start(self) -> None:
        """Start the thread, once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self.run_forever, name="labelloop-simulations", daemon=True
        )
        self._thread.start()

    def _claimed(self, sim_id: int) -> None:
        self.replaying = sim_id

    def abandon(self) -> None:
        """Mark the simulation in progress failed, for a learner that ends now (a stop signal):
        it used to be told to stop and waited for, up to 5 s, before the learner ended."""
        sim_id = self.replaying
        if sim_id is None:
            return
        try:
            with self.db.write() as conn:
                store_sims.finish(conn, sim_id, state="failed", error=LEARNER_STOPPED)
        except Exception:  # the database away: it reads failed once its heartbeat is STALE_S old
            log.warning("could not mark simulation %s stopped", sim_id, exc_info=True)

    def stop(self) -> None:
        """Stop; a replay in progress fails at its next progress report (within a second or
        so), its worker processes stop at their next round. Waits 5 s at most, inside the
        time a server gives its learner to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
