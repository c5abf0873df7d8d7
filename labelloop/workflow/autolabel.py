"""Auto-labeling: the model's labels accepted for the unlabeled pool items it is sure of, when
the eval items show it is right that sure (`labelloop autolabel`, the project page).

A run trains the project's classifier on every label (as `labelloop coverage` does), reads on
the labeled eval items how often it is right at the run's confidence, and refuses unless the 95%
interval of that accuracy lies at or above the project's ``auto_label_min_accuracy``. Then every
unlabeled pool item it is that sure of, and nobody is at work on, gets the model's label with
resolution ``auto``, its probability and the run. Auto labels are exported as such, never
trained on, and not counted as anyone's work; a person's label replaces one, and undoing a run
removes those still standing.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from labelloop.errors import Conflict, NotFound, Unprocessable
from labelloop.govern.permissions import Permission
from labelloop.insight.cohorts import wilson_interval
from labelloop.store import audit
from labelloop.store import autolabel as store_autolabel
from labelloop.store import learning as store_learning
from labelloop.store.db import MAX_ID, Database
from labelloop.store.users import now
from labelloop.workflow.coverage import Scored, scored
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.projects import ProjectContext

MIN_EVAL = 30
"""Labeled eval items the model must be that sure of before its accuracy there is trusted."""
MAX_CHECK = 1_000
"""The most labels one spot check takes back."""


def apply(
    db: Database,
    ctx: ProjectContext,
    *,
    cache: FeatureCache,
    confidence: float | None = None,
    min_accuracy: float | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Label the unlabeled pool items the model is at least ``confidence`` sure of, when its
    eval accuracy that sure is at least ``min_accuracy`` (default: the project's
    ``auto_label_min_accuracy``) at the low end of its 95% interval. ``confidence`` defaults to
    the project's ``auto_label_confidence``; without one, the lowest the eval items vouch for
    is chosen (:func:`labelloop.insight.coverage.lowest_vouched`) and ``chosen`` says so.
    ``dry_run``: measure and count, write nothing. Managers; audited.

    Raises
    ------
    Unprocessable
        Without a single-label classifier, with fewer than :data:`MIN_EVAL` labeled eval
        items that sure, or when the interval falls short (at every confidence, when chosen).
    """
    from labelloop.learn.model import model_label

    ctx.require(Permission.MANAGE_PROJECT)
    started = time.perf_counter()
    confidence = ctx.settings.auto_label_confidence if confidence is None else confidence
    floor = ctx.settings.auto_label_min_accuracy if min_accuracy is None else min_accuracy
    for name, value in (("confidence", confidence), ("min_accuracy", floor)):
        if value is not None and not 0.5 <= value <= 1.0:
            raise Unprocessable(f"{name} must be between 0.5 and 1, not {value:g}")
    found = scored(db, ctx, cache=cache, why="auto-labeling needs a single-label classifier")
    trained = found.trained
    judged = verdict(ctx, found, confidence=confidence, floor=floor)
    if judged["refusal"] is not None:
        raise Unprocessable(judged["refusal"])
    confidence, chosen, row = float(judged["confidence"]), judged["chosen"], judged["row"]
    measured = {
        "model": model_label(trained.estimator),
        "featurizer": trained.used,
        "n_train": int(trained.labeled.shape[0]),
        "eval_n": row["eval_n"],
        "eval_correct": row["eval_correct"],
        "precision": row["precision"],
        "interval": row["interval"],
    }
    top = found.proba.max(axis=1) if len(found.proba) else np.empty(0)
    sure = np.flatnonzero(top >= confidence)
    picks = found.proba[sure].argmax(axis=1) if sure.size else np.empty(0, dtype=np.intp)
    target = ctx.schema.target.name
    result: dict[str, Any] = {
        "confidence": confidence,
        "chosen": chosen,
        "min_accuracy": floor,
        **measured,
        "n_unlabeled": int(found.item_ids.size),
        "dry_run": dry_run,
    }
    if dry_run:
        result.update(n_labeled=int(sure.size), by_label=row["by_label"], run_id=None)
        return _timed(result, started)
    with db.write(project_id=ctx.id) as conn:
        ids = [int(i) for i in found.item_ids[sure]]
        gone = store_learning.left_the_pool(conn, ids)  # an undo of their import began
        busy = store_autolabel.busy_items(conn, ids, at=now()) - gone
        free = [k for k, i in enumerate(ids) if i not in busy and i not in gone]
        labels = [trained.classes[int(picks[k])] for k in free]
        by_label = {c: labels.count(c) for c in trained.classes if c in labels}
        latest = store_learning.latest(conn, ctx.id)
        run_id = store_autolabel.insert_run(
            conn,
            project_id=ctx.id,
            confidence=confidence,
            min_accuracy=floor,
            model_version=int(latest["version"]) if latest is not None else None,
            model=measured,
            n_labeled=len(free),
            by_label=by_label,
            applied_by=ctx.actor_id,
        )
        store_autolabel.label_items(
            conn,
            (
                {
                    "item_id": ids[k],
                    "project_id": ctx.id,
                    "value": {target: label},
                    "label": label,
                    "confidence": round(float(top[sure[k]]), 6),
                    "auto_run_id": run_id,
                    "decided_by": ctx.actor_id,
                }
                for k, label in zip(free, labels, strict=True)
            ),
        )
        audit.record(
            db,
            conn,
            action="autolabel.apply",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"auto_label_run:{run_id}",
            payload={
                "confidence": confidence,
                "min_accuracy": floor,
                "n_labeled": len(free),
                "by_label": by_label,
                **measured,
            },
        )
    result.update(n_labeled=len(free), n_busy=len(busy), by_label=by_label, run_id=run_id)
    return _timed(result, started)


def verdict(
    ctx: ProjectContext, found: Scored, *, confidence: float | None, floor: float
) -> dict[str, Any]:
    """Whether the eval items vouch for a run at ``confidence`` (None: the lowest they vouch
    for, and ``chosen`` is true) with an eval accuracy of ``floor``: the ``confidence`` (None
    when none could be chosen) and its coverage ``row``, the labeled eval items one confidence
    needs that sure (``need``; None for a floor of 1), and the ``refusal`` in words (None
    when they vouch for it). A run refuses, and the coverage tells beforehand, with these."""
    from labelloop.insight.coverage import coverage_table, lowest_vouched

    judged: dict[str, Any] = {
        "confidence": confidence,
        "chosen": confidence is None,
        "need": MIN_EVAL,
        "row": None,
        "refusal": None,
    }
    if confidence is None:
        vouched = lowest_vouched(found.eval_proba, found.eval_y, floor=floor, min_n=MIN_EVAL)
        judged["need"] = vouched["need"]
        if vouched["confidence"] is None:
            judged["refusal"] = _none_vouched(ctx, vouched, floor)
            return judged
        confidence = judged["confidence"] = float(vouched["confidence"])
    row = coverage_table(
        found.proba, found.eval_proba, found.eval_y, found.trained.classes, [confidence]
    )[0]
    judged.update(row=row, refusal=_refusal(ctx, row, confidence, floor))
    return judged


def outlook(ctx: ProjectContext, found: Scored) -> dict[str, Any]:
    """What a run on the project's own settings (the project page's one button, `labelloop
    autolabel apply SLUG`) would meet now, told with the coverage before anyone starts it: its
    ``confidence`` (the project's, or the lowest the eval items vouch for: ``chosen``; None
    when none can be), the ``min_accuracy`` it must show, the labeled eval items one
    confidence ``need``s that sure, whether it would run (``ready``) and, when not, the
    ``refusal`` the run would answer; ``covered``: the unlabeled items it would label."""
    floor = ctx.settings.auto_label_min_accuracy
    judged = verdict(ctx, found, confidence=ctx.settings.auto_label_confidence, floor=floor)
    ready = judged["refusal"] is None
    return {
        "confidence": judged["confidence"],
        "chosen": judged["chosen"],
        "min_accuracy": floor,
        "need": judged["need"],
        "ready": ready,
        "refusal": judged["refusal"],
        "covered": judged["row"]["covered"] if ready else None,
    }


def _refusal(
    ctx: ProjectContext, row: dict[str, Any], confidence: float, floor: float
) -> str | None:
    """Why the eval items do not vouch for a run at ``confidence``, saying what they show;
    None when they do."""
    sure = f"at least {confidence:.0%} sure" if confidence < 1 else "certain"
    if row["eval_n"] < MIN_EVAL:
        return (
            f"the model is {sure} of {row['eval_n']} labeled eval item"
            f"{'' if row['eval_n'] == 1 else 's'} of project '{ctx.slug}'; auto-labeling needs "
            f"{MIN_EVAL} at least to measure how often it is right that sure (label more eval "
            "items, or lower the confidence)"
        )
    low, high = wilson_interval(row["eval_correct"], row["eval_n"])  # unrounded, as chosen
    if low < floor:
        # Right often enough but on too few items: a higher confidence counts fewer of them.
        todo = (
            f"{row['eval_n']} eval items are too few to show it: label more eval items, or try "
            "a lower confidence, at which more of them count"
            if row["precision"] >= floor
            else "raise the confidence or label more items"
        )
        return (
            f"{sure}, the model is right on {row['eval_correct']} of {row['eval_n']} eval items "
            f"({row['precision']:.1%}, 95% interval {low:.1%}–{high:.1%}); the interval must lie "
            f"at or above {floor:.1%} (auto_label_min_accuracy): {todo}"
        )
    return None


def _none_vouched(ctx: ProjectContext, vouched: dict[str, Any], floor: float) -> str:
    """Why no confidence could be chosen, with the figures of the one that fell short."""
    short = vouched["short"]
    if short is None:
        # No confidence had the eval items to be tried: say how many there are, and how many
        # the model is sure enough of, apart (plenty of eval items can be too few that sure).
        need, n_eval, n_sure = vouched["need"], vouched["n_eval"], vouched["n_sure"]
        have = (
            f"project '{ctx.slug}' has no labeled eval items"
            if n_eval == 0
            else f"project '{ctx.slug}' has {n_eval} labeled eval item{'' if n_eval == 1 else 's'}"
            f", and the model is at least 50% sure of {'all' if n_sure == n_eval else n_sure}"
            f" of {'it' if n_eval == 1 else 'them'}"
        )
        return (
            f"{have}; showing it right at least {floor:.1%} of the time at a confidence from "
            "99% to 50% needs "
            + (f"{need} it is at least that sure of" if need is not None else "a model never wrong")
            + " (label more items, so the model is surer, or more eval items; or lower "
            "auto_label_min_accuracy)"
        )
    low, high = short["interval"]
    return (
        f"at no confidence from 99% down to 50% do the eval items show the model right at "
        f"least {floor:.1%} of the time: at least {short['confidence']:.0%} sure it is right "
        f"on {short['eval_correct']} of {short['eval_n']} ({short['precision']:.1%}, 95% "
        f"interval {low:.1%}–{high:.1%}); label more items, or lower auto_label_min_accuracy"
    )


def _timed(result: dict[str, Any], started: float) -> dict[str, Any]:
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def runs(db: Database, ctx: ProjectContext) -> dict[str, Any]:
    """The project's auto-label policy and runs, newest first (reviewers and managers: an
    annotator does not read the thresholds)."""
    ctx.require(Permission.VIEW_INSIGHT)
    with db.read() as conn:
        found = store_autolabel.runs_of(conn, ctx.id)
        checks = _check_counts(ctx, store_autolabel.check_answers(conn, ctx.id))
    return {
        "confidence": ctx.settings.auto_label_confidence,
        "min_accuracy": ctx.settings.auto_label_min_accuracy,
        "runs": [_run_view(r, checks.get(int(r["id"]))) for r in found],
    }


def _check_counts(ctx: ProjectContext, rows: list[Any]) -> dict[int, dict[str, int]]:
    """Per run: items taken back (``sent``), answers people gave them since (``answered``, each
    annotator's answer counts: with overlap 2 an item gets two) and those that are the model's
    label (``agreed``)."""
    from labelloop.workflow.imports import _label_text

    target = ctx.schema.target.name
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        run = out.setdefault(int(r["run_id"]), {"items": set(), "answered": 0, "agreed": 0})
        run["items"].add(int(r["item_id"]))
        if r["value"] is not None:
            run["answered"] += 1
            run["agreed"] += int(_label_text(r["value"].get(target)) == r["label"])
    return {
        k: {"sent": len(v["items"]), "answered": v["answered"], "agreed": v["agreed"]}
        for k, v in out.items()
    }


def _check_view(found: dict[str, int] | None) -> dict[str, Any]:
    """A run's spot checks: sent, answered, agreed, and the agreement with its 95% interval."""
    sent, answered, agreed = (found or {}).get("sent", 0), 0, 0
    if found:
        answered, agreed = found["answered"], found["agreed"]
    view: dict[str, Any] = {
        "sent": sent,
        "answered": answered,
        "agreed": agreed,
        "agreement": None,
        "interval": None,
    }
    if answered:
        low, high = wilson_interval(agreed, answered)
        view.update(agreement=agreed / answered, interval=[round(low, 4), round(high, 4)])
    return view


def _run_view(r: dict[str, Any], checks: dict[str, int] | None) -> dict[str, Any]:
    return {
        "id": int(r["id"]),
        "confidence": r["confidence"],
        "min_accuracy": r["min_accuracy"],
        "model_version": r["model_version"],
        "model": r["model"],
        "n_labeled": r["n_labeled"],
        "n_current": int(r["n_current"]),
        "by_label": r["by_label"],
        "applied_by": r["applied_by_name"],
        "applied_at": r["applied_at"].isoformat(),
        "undone_by": r["undone_by_name"],
        "undone_at": r["undone_at"].isoformat() if r["undone_at"] else None,
        "n_undone": r["n_undone"],
        "checks": _check_view(checks),
    }


def undo(db: Database, ctx: ProjectContext, run_id: int) -> dict[str, Any]:
    """Remove a run's labels still standing; their items go back to the pool to label (a
    person's label that replaced one stays). Managers; audited.

    Raises
    ------
    NotFound
        When the project has no such run.
    Conflict
        When the run was undone already.
    """
    ctx.require(Permission.MANAGE_PROJECT)
    with db.write(project_id=ctx.id) as conn:
        run = _run_of(conn, ctx, run_id)
        if run["undone_at"] is not None:
            raise Conflict(f"auto-label run {run_id} was undone already")
        removed = store_autolabel.undo_run(conn, run_id, by=ctx.actor_id)
        audit.record(
            db,
            conn,
            action="autolabel.undo",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"auto_label_run:{run_id}",
            payload={"n_undone": removed},
        )
    return {"run_id": run_id, "n_undone": removed}


def _run_of(conn: Any, ctx: ProjectContext, run_id: int) -> Any:
    """The project's auto-label run ``run_id``; NotFound for another project's or none."""
    run = store_autolabel.get_run(conn, ctx.id, run_id) if 0 < run_id <= MAX_ID else None
    if run is None:
        raise NotFound(f"project '{ctx.slug}' has no auto-label run {run_id}")
    return run


def spot_check(db: Database, ctx: ProjectContext, run_id: int, n: int) -> dict[str, Any]:
    """Take ``n`` of a run's labels still standing back, drawn at random, for people to answer
    without the model's label: each item goes to the front of the queue as a seed pick ("spot
    check of auto-label run K", after picks already waiting there, in the random order drawn),
    and the run then counts how many answers agree with the model's label it had
    (:func:`runs`). At most half a run's labels are taken back for checks (undoing takes it
    all). Reviewers and managers; audited.

    Raises
    ------
    NotFound
        When the project has no such run.
    Unprocessable
        When ``n`` is out of range, the run has no labels standing, or half of them were
        taken back for checks already.
    """
    from labelloop.store import seeds as store_seeds

    ctx.require(Permission.REVIEW)
    if not 1 <= n <= MAX_CHECK:
        raise Unprocessable(f"a spot check takes 1 to {MAX_CHECK:,} labels, not {n:,}")
    with db.write(project_id=ctx.id) as conn:
        run = _run_of(conn, ctx, run_id)
        rows = store_autolabel.standing(conn, run_id)
        if not rows:
            raise Unprocessable(f"auto-label run {run_id} has no labels standing to check")
        room = int(run["n_labeled"]) // 2 - store_autolabel.n_checked(conn, run_id)
        if room <= 0:
            raise Unprocessable(
                f"half of auto-label run {run_id}'s labels are taken back for checks already: "
                "a check samples a run; to take it back whole, undo it"
            )
        size = min(n, len(rows), room)
        picked = np.random.default_rng().choice(len(rows), size=size, replace=False)
        taken = [rows[int(k)] for k in picked]  # served in this order: any prefix is random
        store_autolabel.take_back(conn, run_id, taken, by=ctx.actor_id)
        ids = [int(r["item_id"]) for r in taken]
        who = ctx.user.username if ctx.actor_id else "the local operator"
        reason = f"spot check of auto-label run {run_id}, sent by {who}"
        store_seeds.add_picks(
            conn, project_id=ctx.id, item_ids=ids, reason=reason, user_id=ctx.actor_id
        )
        audit.record(
            db,
            conn,
            action="autolabel.check",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"auto_label_run:{run_id}",
            payload={"item_ids": ids},
        )
    return {"run_id": run_id, "sent": len(ids), "item_ids": ids}
