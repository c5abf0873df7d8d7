"""What active learning bought the project: its policy's labels against its random controls
(``random_share``), on the project's features, model and labeled eval items."""

from __future__ import annotations

from typing import Any

import numpy as np

from labelloop.govern.permissions import Permission
from labelloop.memo import Recent
from labelloop.store import simulations as store_sims
from labelloop.store.db import Database
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.projects import ProjectContext

_memo = Recent(32)
"""Reports kept per process, by database, project and the labels they were measured on: a page
view that finds the same labels reads the last report instead of refitting ~200 models."""


def report(db: Database, ctx: ProjectContext, *, cache: FeatureCache) -> dict[str, Any]:
    """The gain of the project's policy over its random controls, or why it cannot be measured
    yet (``state``: ``measured``, or ``waiting`` with a ``reason`` in words).

    Each item counts on the side of the task that first served it, with its resolved label, or
    while unresolved (overlap) the first annotator's, so controls waiting for a second opinion
    still count. Items imported with labels or answers, found by a search or served as gold
    checks count for neither.
    """
    from labelloop.learn.gain import MIN_CONTROLS
    from labelloop.store.review import IMPORTED
    from labelloop.workflow.learning import classifier_problem
    from labelloop.workflow.seeding import CONTROL_REASON, PEOPLE_PICKED

    ctx.require(Permission.VIEW_INSIGHT)
    base: dict[str, Any] = {"random_share": ctx.settings.random_share}
    problem = classifier_problem(ctx, "the gain is measured on single-label classification")
    if problem is not None:
        return {**base, "state": "waiting", "reason": problem}
    target = ctx.schema.target.name
    index = {name: i for i, name in enumerate(ctx.schema.target.labels)}
    with db.read() as conn:
        served = store_sims.served_labels(conn, ctx.id)
        evals = [r for r in store_sims.labeled_eval(conn, ctx.id) if r["label"] in index]
    controls: list[dict[str, Any]] = []
    policy: list[dict[str, Any]] = []
    for row in served:
        label = row["label"] or (row["first_value"] or {}).get(target)
        if label not in index or row["strategy"] in (None, IMPORTED, *PEOPLE_PICKED):
            continue
        side = controls if row["reason"] == CONTROL_REASON else policy
        side.append({"id": row["id"], "payload": row["payload"], "label": label})
    counts = {"n_control": len(controls), "n_policy": len(policy), "n_eval": len(evals)}
    waiting = _waiting(ctx, controls, policy, evals, MIN_CONTROLS)
    if waiting is not None:
        return {**base, **counts, "state": "waiting", "reason": waiting}
    key = (
        str(db.engine.url),
        ctx.id,
        ctx.settings.featurizer,
        ctx.settings.model,
        tuple((r["id"], r["label"]) for r in controls + policy),
        tuple((r["id"], r["label"]) for r in evals),
    )
    return _memo.get(
        key, lambda: {**base, **counts, **_measure(ctx, cache, controls, policy, evals, index)}
    )


def _measure(
    ctx: ProjectContext,
    cache: FeatureCache,
    controls: list[dict[str, Any]],
    policy: list[dict[str, Any]],
    evals: list[Any],
    index: dict[str, int],
) -> dict[str, Any]:
    from labelloop.learn import make_model
    from labelloop.learn.gain import INTERVAL_COVERS, active_learning_gain

    picked = controls + policy  # the policy's in the order it served them
    X, used = cache.stored_or_refitted(ctx, ctx.settings.featurizer, picked + evals)
    n = len(picked)
    is_control = np.zeros(n, dtype=bool)
    is_control[: len(controls)] = True
    found = active_learning_gain(
        X[:n],
        np.array([index[r["label"]] for r in picked], dtype=np.int64),
        is_control,
        X[n:],
        np.array([index[r["label"]] for r in evals], dtype=np.int64),
        n_classes=len(index),
        model=make_model(ctx.settings.model),
    )
    return {
        "state": "measured",
        "featurizer": used,
        "metric": found.metric,
        "control_score": round(found.control, 4),
        "policy_score": None if found.same is None else round(found.same, 4),
        "difference": None if found.difference is None else round(found.difference, 4),
        "interval": None if found.interval is None else [round(v, 4) for v in found.interval],
        "interval_covers": INTERVAL_COVERS,
        "labels_to_match": None
        if found.labels_to_match is None
        else round(found.labels_to_match, 1),
        "saving": None if found.saving is None else round(found.saving, 2),
        "curve": [[k, round(a, 4)] for k, a in found.curve],
        "sentence": _sentence(found),
    }


def _waiting(
    ctx: ProjectContext,
    controls: list[Any],
    policy: list[Any],
    evals: list[Any],
    least: int,
) -> str | None:
    """Why the gain cannot be measured yet, in words, or None."""
    if not evals:
        return "needs labeled eval items to measure both models on (import with --split eval)"
    if len(controls) < least or len({r["label"] for r in controls}) < 2:
        share = ctx.settings.random_share
        how = (
            f"{share:.0%} of served items are random controls"
            if share
            else "random_share is 0: set it on the project page's Settings panel, or with "
            f"labelloop projects set {ctx.slug} random_share=0.05"
        )
        return (
            f"needs {least} random-control labels of two classes at least, has "
            f"{len(controls)}; {how}"
        )
    if not policy:
        return "no label was picked by the project's strategy yet"
    return None


def _labels(n: float) -> str:
    return f"{n:,.0f} label{'' if round(n) == 1 else 's'}"


def _sentence(found: Any) -> str:
    """The comparison in one sentence; differences in percentage points."""
    from labelloop.learn.gain import INTERVAL_COVERS, METRIC_NAMES

    n = found.n_control
    measure = METRIC_NAMES[found.metric]
    head = f"{_labels(n)} picked at random reach {found.control:.1%} eval {measure}"
    if found.metric != "accuracy":
        head += " (the eval classes are imbalanced)"
    if found.same is None:
        return f"{head}; the strategy has picked only {_labels(found.n_policy)} so far."
    low, high = found.interval
    same = (
        f"the strategy's first {n:,} reach {found.same:.1%} "
        f"({100 * found.difference:+.1f} points, 95% interval {100 * low:+.1f} to "
        f"{100 * high:+.1f} {INTERVAL_COVERS})"
    )
    if low <= 0 <= high:
        return f"{head}; {same}: no clear difference yet."
    if high < 0:
        return f"{head}; {same}: the random labels did better."
    if found.labels_to_match is None:
        return f"{head}; {same}."
    ratio = found.saving
    how = (
        "as many"
        if 0.95 <= ratio < 1.05
        else f"{ratio:.1f}× fewer"
        if ratio >= 1
        else f"{1 / ratio:.1f}× more"
    )
    return (
        f"{head}; {same}, and it reached the random labels' {measure} with "
        f"{_labels(found.labels_to_match)}: {how}."
    )
