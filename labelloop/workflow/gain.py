"""What active learning bought the project: its policy's labels against its random controls
(``random_share``), on the project's features, model and labeled eval items."""

from __future__ import annotations

from typing import Any

import numpy as np

from labelloop.govern.permissions import Permission
from labelloop.store import simulations as store_sims
from labelloop.store.db import Database
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.projects import ProjectContext


def report(db: Database, ctx: ProjectContext, *, cache: FeatureCache) -> dict[str, Any]:
    """The gain of the project's policy over its random controls, or why it cannot be measured
    yet (``state``: ``measured``, or ``waiting`` with a ``reason`` in words).

    Labels imported, or found by a search, were picked by neither and stay out.
    """
    from labelloop.learn import make_model
    from labelloop.learn.gain import MIN_CONTROLS, active_learning_gain
    from labelloop.workflow.learning import classifier_problem
    from labelloop.workflow.seeding import CONTROL_REASON, SEARCH_STRATEGY

    ctx.require(Permission.VIEW_PROJECT)
    base: dict[str, Any] = {"random_share": ctx.settings.random_share}
    problem = classifier_problem(ctx, "the gain is measured on single-label classification")
    if problem is not None:
        return {**base, "state": "waiting", "reason": problem}
    classes = tuple(ctx.schema.target.labels)
    index = {name: i for i, name in enumerate(classes)}
    with db.read() as conn:
        rows = [r for r in store_sims.labeled_with_picks(conn, ctx.id) if r["label"] in index]
    evals = [r for r in rows if r["split"] == "eval"]
    controls = [r for r in rows if r["split"] == "pool" and r["reason"] == CONTROL_REASON]
    policy = [
        r
        for r in rows
        if r["split"] == "pool"
        and r["strategy"] not in (None, SEARCH_STRATEGY)
        and r["reason"] != CONTROL_REASON
    ]
    counts = {"n_control": len(controls), "n_policy": len(policy), "n_eval": len(evals)}
    waiting = _waiting(ctx, controls, policy, evals, MIN_CONTROLS)
    if waiting is not None:
        return {**base, **counts, "state": "waiting", "reason": waiting}
    picked = controls + policy  # each group keeps its labeling order
    X, used = cache.stored_or_refitted(
        ctx.id, ctx.settings.featurizer, picked + evals, data_type=ctx.schema.data_type
    )
    n = len(picked)
    y = np.array([index[r["label"]] for r in picked], dtype=np.int64)
    is_control = np.zeros(n, dtype=bool)
    is_control[: len(controls)] = True
    found = active_learning_gain(
        X[:n],
        y,
        is_control,
        X[n:],
        np.array([index[r["label"]] for r in evals], dtype=np.int64),
        n_classes=len(classes),
        model=make_model(ctx.settings.model),
    )
    return {
        **base,
        **counts,
        "state": "measured",
        "featurizer": used,
        "control_accuracy": round(found.control, 4),
        "policy_accuracy": None if found.same is None else round(found.same, 4),
        "difference": None if found.difference is None else round(found.difference, 4),
        "interval": None if found.interval is None else [round(v, 4) for v in found.interval],
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
            else "random_share is 0: set it, e.g. `labelloop projects set "
            f"{ctx.slug} random_share=0.05`"
        )
        return (
            f"needs {least} random-control labels of two classes at least, has "
            f"{len(controls)}; {how}"
        )
    if not policy:
        return "no label was picked by the project's strategy yet"
    return None


def _sentence(found: Any) -> str:
    """The comparison in one sentence."""
    n = found.n_control
    head = f"{n:,} labels picked at random reach {found.control:.1%} eval accuracy"
    if found.same is None:
        return f"{head}; the strategy has picked only {found.n_policy:,} labels so far."
    low, high = found.interval
    same = (
        f"the strategy's first {n:,} reach {found.same:.1%} "
        f"({found.difference:+.1%}, 95% interval {low:+.1%} to {high:+.1%})"
    )
    if found.labels_to_match is None:
        return f"{head}; {same}, and none of its first {found.curve[-1][0]:,} matched it."
    ratio = f"{found.saving:.1f}× fewer" if found.saving >= 1 else f"{1 / found.saving:.1f}× more"
    return (
        f"{head}; {same}, and it matched the random labels with {found.labels_to_match:,.0f}: "
        f"{ratio}."
    )
