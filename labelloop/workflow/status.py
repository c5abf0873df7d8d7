"""A project's progress, model and stopping state, derived from the store on every call."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from labelloop.domain import NO_PREDICTION
from labelloop.govern.permissions import Permission
from labelloop.schema.settings import is_default, registry_problem
from labelloop.store import items as store_items
from labelloop.store import learning as store_learning
from labelloop.store import projects as store_projects
from labelloop.store import review as store_review
from labelloop.store.db import Database
from labelloop.store.users import now
from labelloop.workflow.projects import ProjectContext


def _more_sentence(more: int | None, criterion: str | None) -> str | None:
    """What the smallest estimate of labels more means, in words: the eval plateau estimates
    labels for +0.01 of its eval metric, the prediction rules labels that change 1% of the
    stop-set predictions."""
    if more is None:
        return None
    labels = f"About {more:,} more label{'' if more == 1 else 's'}"
    if criterion == "eval_plateau":
        return f"{labels} would raise the eval score by 0.01."
    return f"{labels} would change 1% of the model's predictions."


BUDGET = "budget"
"""The stopping criterion that counts labels against the project's budget, not the model."""

SPAN_FEATURES = "crf-tokens"
"""What ``model_version.featurizer`` says a trained spans round used: the CRF's token features."""
SPAN_MODEL = "crf (sklearn-crfsuite)"
NO_FEATURES = "none"
"""The featurizer a boxes round records: the detector reads the images itself."""


def picked_by(
    version: int | None, *, queued: bool, cold_start: bool, reason: str | None
) -> str | None:
    """Which model picked an item served while model version ``version`` was current, in the
    words the labeling page, the Items page's trace, ``labelloop items`` and the exports use:
    ``v3`` (that round's model ranked it), ``none (v1 was a cold start)`` (a ``queued`` pick of
    a round that ran before there were labels to train a model on), ``none (v3 had no
    prediction for it)`` (a boxes round's pick, ``reason`` :data:`NO_PREDICTION`, of an image its
    detector predicted nothing for, queued after every image it ranked) or ``no (v3 was
    current)`` (a search pick or a random control, which no model ranked); None with no version
    (nothing had been queued yet, or an import brought the answer)."""
    if version is None:
        return None
    if not queued:
        return f"no (v{version} was current)"
    if cold_start:
        return f"none (v{version} was a cold start)"
    if reason == NO_PREDICTION:
        return f"none (v{version} had no prediction for it)"
    return f"v{version}"


BOX_STRATEGY = "box_confidence"
"""The strategy a boxes round records: its detector's confidence in its boxes ranks the images."""


def strategy_of(ctx: ProjectContext) -> str:
    """The strategy the project's rounds record for the items their model ranks: the setting's
    for a choice target, else :func:`target_strategy`. The status, the project page and
    ``labelloop status`` name it."""
    return target_strategy(ctx) or ctx.settings.strategy


def target_strategy(ctx: ProjectContext) -> str | None:
    """The strategy a spans target's rounds record (its token entropy, by its ``span_scoring``:
    mean or max) or a boxes target's (box confidence), which the ``strategy`` setting does not
    reach; None for a choice target, whose rounds record the setting."""
    kind = ctx.schema.target.type
    if kind == "spans":
        return f"{ctx.settings.span_scoring}_token_entropy"
    if kind == "boxes":
        return BOX_STRATEGY
    return None


def learner_of(ctx: ProjectContext) -> tuple[str, str]:
    """The features and model the project's rounds fit: the settings' for a choice target; a
    spans target's CRF on its token features and a boxes target's detector, which the
    ``featurizer`` and ``model`` settings do not reach."""
    kind = ctx.schema.target.type
    if kind == "spans":
        return SPAN_FEATURES, SPAN_MODEL
    if kind == "boxes":
        return NO_FEATURES, f"detector {ctx.settings.detector}"
    return ctx.settings.featurizer, ctx.settings.model


def _stop_sentence(decisions: list[dict[str, Any]]) -> str | None:
    """Why stopping is recommended, in words: a rule that judges the model says it changes
    little; the label budget alone says nothing of the model, which may still be learning."""
    fired = {d["criterion"] for d in decisions if d["stop"]}
    if not fired:
        return None
    if fired != {BUDGET}:
        return "More labels are unlikely to change the model much."
    if len(decisions) > 1:
        return "The label budget is spent, though by its other rules the model is still learning."
    return "The label budget is spent."


def stop_verdict(found: dict[str, Any]) -> dict[str, str]:
    """The project page's answer to "Stop labeling?" for a ``status`` (either view): its
    ``state`` (``all_labeled``, ``no_model``, ``stop``, ``no_round``, ``unjudged``,
    ``cold_start`` or ``learning``), ``head`` (bold on the page) and ``sentence``, so the page,
    the API and the CLI say the same."""
    counts, model, training = found["counts"], found["model"], found["training"]
    if counts["pool"] and counts["remaining"] <= 0:
        auto = counts.get("auto_labeled")
        by_model = f" ({auto:,} labeled by the model)" if auto else ""
        return {
            "state": "all_labeled",
            "head": "Everything is labeled.",
            "sentence": f"No item of the pool is left to label{by_model}.",
        }
    if training.get("error"):
        return {
            "state": "no_model",
            "head": "No model trains here",
            "sentence": "until the model setting names one this server has; stopping cannot "
            "be judged meanwhile.",
        }
    if found["stop_recommended"]:
        said = model.get("stop_sentence") or "More labels are unlikely to change the model much."
        return {"state": "stop", "head": "Stopping is recommended.", "sentence": said}
    if model is None:
        return {
            "state": "no_round",
            "head": "No round yet.",
            "sentence": "The learner's first round, which needs no labels, picks typical items "
            "to label first; it runs within seconds of an import while a learner runs "
            "(labelloop serve starts one; with LABELLOOP_LEARNER=off or in team mode, "
            "labelloop worker).",
        }
    if model.get("stop_note"):
        return {"state": "unjudged", "head": "Keep labeling.", "sentence": model["stop_note"]}
    if model["cold_start"]:
        return {
            "state": "cold_start",
            "head": "Keep labeling.",
            "sentence": "Whether to stop is judged once models have trained on your labels.",
        }
    return {
        "state": "learning",
        "head": "Keep labeling.",
        "sentence": "The model is still learning from new labels.",
    }


def _unjudged_note(row: Any, decisions: list[dict[str, Any]]) -> str | None:
    """Why a boxes round's stopping rules say nothing, or None for other rounds: they compare
    a model's stop-set predictions between rounds, and a detector's boxes are not compared."""
    if row["featurizer"] != NO_FEATURES:
        return None
    rules = sorted({d["criterion"] for d in decisions if d["criterion"] != BUDGET})
    judged = f"The stopping rules that judge the model ({', '.join(rules) or 'none set'})"
    budget = any(d["criterion"] == BUDGET for d in decisions)
    return (
        f"{judged} need one whose predictions can be compared between rounds; a boxes "
        f"project's {row['model']} ranks images by their boxes' scores and makes none to "
        "compare, so only the label budget can recommend stopping"
        + ("." if budget else ", and none is set (the budget setting).")
    )


STRATEGY_SETTING = "strategy_setting"
"""A choice round's params key: the project's strategy setting it ran with (the round itself
records the name of what picked, e.g. its cold start's). The status shows it beside the
classifier's parameters, not among them."""
DEPRECATED = "deprecated"
"""The value scikit-learn gives a parameter on its way out (LogisticRegression's ``penalty``
since 1.8): it says nothing of the model, so the status leaves it out."""


def _model(row: Any, *, cohorts: bool = False) -> dict[str, Any]:
    """A model version as the status and the learning curve show it; ``cohorts`` adds its eval
    figures per cohort (None when the eval items carry no cohort tag or it was not measured),
    left out of the curve, whose every version the project page carries."""
    decisions = row["stopping"].get("decisions", [])
    note = _unjudged_note(row, decisions)
    if note is not None:  # their "needs a trained round" would wait forever
        decisions = [d for d in decisions if d["criterion"] == BUDGET]
    estimates = [
        (d["more_labels"], d["criterion"]) for d in decisions if d.get("more_labels") is not None
    ]
    more, source = min(estimates) if estimates else (None, None)
    return {
        "version": row["version"],
        "n_train": row["n_train"],
        "strategy": row["strategy"],
        "featurizer": None if row["featurizer"] == NO_FEATURES else row["featurizer"],
        "model": row["model"],
        "params": {
            k: v for k, v in row["params"].items() if k != STRATEGY_SETTING and v != DEPRECATED
        },
        "strategy_setting": row["params"].get(STRATEGY_SETTING),
        "metrics": row["metrics"],
        "stopping": decisions,
        "stop_recommended": bool(row["stopping"].get("stop_recommended")),
        "stop_sentence": _stop_sentence(decisions),
        "stop_by_budget": {d["criterion"] for d in decisions if d["stop"]} == {BUDGET},
        # why the model-judging rules are not shown (a boxes round), or None
        "stop_note": note,
        # labels more that would still change the model noticeably (the smallest estimate)
        "more_labels": more,
        "more_labels_sentence": _more_sentence(more, source),
        "relabel_suggestions": len(row["stopping"].get("relabel", [])),
        "cold_start": bool(row["stopping"].get("cold_start")),
        "train_seconds": round(row["train_seconds"], 3),
        "created_at": row["created_at"].isoformat(),
    } | ({"cohorts": _cohorts(row["cohort_metrics"])} if cohorts else {})


def _cohorts(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A model version's eval figures per cohort, with a sentence on the eval items no row
    shows (the CLI and the page print it under the table)."""
    if found is None:
        return None

    def items(n: int) -> str:
        return f"{n:,} eval item{'' if n == 1 else 's'}"

    notes = []
    small, rest = found["too_small"], found["beyond_max"]
    if small["cohorts"]:
        one = small["cohorts"] == 1
        notes.append(
            f"{small['cohorts']:,} {'cohort' if one else 'cohorts'} with fewer than "
            f"{found['min_items']} eval items {'is' if one else 'are'} not shown "
            f"({items(small['items'])})."
        )
    if rest["cohorts"]:
        one = rest["cohorts"] == 1
        notes.append(
            f"{rest['cohorts']:,} smaller {'cohort is' if one else 'cohorts are'} not shown "
            f"({items(rest['items'])})."
        )
    if found["untagged"]:
        one = found["untagged"] == 1
        notes.append(
            f"{items(found['untagged'])} {'carries' if one else 'carry'} no {found['field']} tag."
        )
    return {**found, "note": " ".join(notes) or None}


ROUND_SETTINGS = {"choice": ("strategy", "featurizer", "model"), "boxes": ("detector",)}
"""The settings naming code each kind of round runs (spans rounds name none); other target
types train as ``choice``."""


def settings_problem(ctx: ProjectContext) -> str | None:
    """Why no round of the project can run in this process, or ``None``: its rounds use a
    strategy, featurizer or model (choice targets) or a detector (boxes) that is not usable here.

    Creation refuses such a name; a project stored before that check (or naming a plug-in since
    uninstalled) still opens, and `labelloop status` and its page show this instead of a round.
    """
    kind = ctx.schema.target.type
    settings = () if kind == "spans" else ROUND_SETTINGS.get(kind, ROUND_SETTINGS["choice"])
    for setting in settings:
        problem = registry_problem(setting, getattr(ctx.settings, setting))
        if problem is not None:
            return f"settings.{setting}: {problem}"
    return None


def features(
    ctx: ProjectContext, counts: dict[str, int], features_dir: Path | None, *, noted: int | None
) -> Any:
    """Progress of the per-item features (embeddings) of the project's featurizer, or None:
    those in ``features_dir``, or the learner's ``noted`` count when it has more (it runs on
    another machine, with a data dir of its own)."""
    name = ctx.settings.featurizer
    if is_default("featurizer", name):
        return None  # fitted on the items, not cached per item: known without scikit-learn
    from labelloop.learn.featurize import caches_per_item, missing_requirement
    from labelloop.workflow.features import FeatureCache

    if registry_problem("featurizer", name) is not None or not caches_per_item(name):
        return None  # an unusable featurizer: the training error says so
    total = counts["pool"] + counts["gold"] + counts["eval"]  # gold items have features too
    computed = FeatureCache(features_dir).computed(ctx.id, name) if features_dir else None
    if noted is not None:
        computed = max(computed or 0, noted)
    return {
        "featurizer": name,
        "computed": computed if computed is None else min(computed, total),
        "total": total,
        "error": missing_requirement(name),
    }


def status(
    db: Database, ctx: ProjectContext, *, features_dir: Path | None = None
) -> dict[str, Any]:
    """Counts, the current model with its eval metrics, and whether to stop labeling.

    ``features_dir`` (the data dir's ``features`` folder) lets it count computed embeddings.
    """
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        counts = store_items.counts(conn, ctx.id)
        latest = store_learning.latest(conn, ctx.id)
        open_flags = store_review.open_flag_counts(conn, ctx.id)
        guideline_version = store_projects.newest_guideline_version(conn, ctx.id)
        failing = store_learning.round_failure_of(conn, ctx.id)
        beat = store_learning.last_beat(conn)
        noted = store_learning.noted_features(conn, ctx.id, ctx.settings.featurizer)
    model = _model(latest, cohorts=True) if latest is not None else None
    every = ctx.settings.retrain_every
    since = counts["labeled"] - (latest["n_train"] if latest is not None else 0)
    featurizer, model_setting = learner_of(ctx)
    found = {
        "project": {"slug": ctx.slug, "name": ctx.name},
        "role": ctx.role,
        "counts": counts,
        "model": model,
        "strategy": strategy_of(ctx),  # what the rounds record; the setting is in the settings
        "featurizer": featurizer,
        "model_setting": model_setting,
        "random_share": ctx.settings.random_share,
        "features": features(ctx, counts, features_dir, noted=noted),
        "stop_recommended": bool(model and model["stop_recommended"]),
        # Every open label_issue flag, as the Quality and Review pages count them: raised by any
        # round's re-label check or by a label-error scan, not yet reviewed, and not closed by
        # a later round or scan whose model now agrees with the label. The newest
        # round's own list (model.relabel_suggestions) misses the others.
        "open_label_issues": open_flags.get("label_issue", 0),
        # Annotators' open questions ("!" on the labeling page), answered by a review verdict,
        # an adjudication or an example pinned to the guideline.
        "open_ambiguous": open_flags.get("ambiguous", 0),
        # The labeling page polls this: a newer version than its panel shows is fetched and
        # announced while the annotator works, not only with the next item.
        "guideline_version": guideline_version,
        # ...and the schema's, so a label added meanwhile is announced too.
        "schema_version": ctx.schema_version,
        # ...and takes these from it, so a manager's change reaches an open page within an item.
        "labeling": {
            "preselect_suggestion": ctx.settings.preselect_suggestion,
            "preselect_confidence": ctx.settings.preselect_confidence,
        },
        "training": {
            "retrain_every": every,
            "labels_since_model": since,
            "due": latest is None or since >= every,
            "error": settings_problem(ctx),  # why no round can run, or None
            # rounds that ran and failed (an image file that cannot be read...), until one
            # succeeds; None when the last round succeeded
            "failure": _failure(failing),
            # whether any learner (a serve's, a worker) runs on this database
            "learner": learner_state(beat),
        },
    }
    shown = found if ctx.allows(Permission.VIEW_INSIGHT) else _as_annotator(found)
    return {**shown, "stop_verdict": stop_verdict(shown)}


ANNOTATOR_MODEL = ("version", "model", "n_train", "cold_start", "created_at")
"""What an annotator reads of the current model: what the labeling page shows of it."""
ANNOTATOR_METRICS = ("accuracy", "span_f1")
ANNOTATOR_TRAINING = ("retrain_every", "labels_since_model", "due", "learner")


def _as_annotator(found: dict[str, Any]) -> dict[str, Any]:
    """The status as an annotator reads it, as the labeling page shows it: their progress, the
    current model's version and eval score, when the next one trains, whether to stop and
    whether a learner runs. Not the model's parameters, stopping criteria and per-cohort
    figures, the learning settings, the open flags, nor how many gold checks there are."""
    model = found["model"]
    if model is not None:
        metrics = {k: v for k, v in model["metrics"].items() if k in ANNOTATOR_METRICS}
        model = {**{k: model[k] for k in ANNOTATOR_MODEL}, "metrics": metrics}
    kept = (
        "project",
        "role",
        "stop_recommended",
        "guideline_version",
        "schema_version",
        "labeling",
    )
    return {
        **{k: found[k] for k in kept},
        "counts": {k: v for k, v in found["counts"].items() if k != "gold"},
        "model": model,
        "training": {k: found["training"][k] for k in ANNOTATOR_TRAINING},
    }


def note_learner(db: Database, who: str, *, started_at: datetime | None = None) -> None:
    """Note that a learner of this process (``who`` tells it from the process's others) runs
    now; ``learner_state`` reads it."""
    name = f"{socket.gethostname()}:{os.getpid()}:{who}"[:200]
    with db.write() as conn:
        store_learning.beat(conn, name, started_at=started_at or now())


def note_learner_starting(db: Database) -> None:
    """A server about to start its learner child says a learner runs, as the child will within
    seconds (its Python and scikit-learn load first): a page opened meanwhile must not say that
    none does."""
    note_learner(db, "serve")


def learner_state(seen: datetime | None) -> dict[str, Any]:
    """Whether a learner runs, from when one last noted it (``store.learning.last_beat``), and
    what to do when none does: without one nothing trains and no new items are queued."""
    running = seen is not None and (now() - seen).total_seconds() <= store_learning.BEAT_STALE_S
    sentence = None
    if not running:
        since = "on this database" if seen is None else f"since {seen:%Y-%m-%d %H:%M UTC}"
        sentence = (
            f"No learner has run {since}: nothing trains and no new items are queued. "
            "`labelloop serve` runs one unless LABELLOOP_LEARNER=off; otherwise start "
            "`labelloop worker`."
        )
    return {
        "running": running,
        "seen_at": seen.isoformat() if seen is not None else None,
        "sentence": sentence,
    }


def _failure(row: Any) -> dict[str, Any] | None:
    """Failing training rounds as the status shows them, with a sentence."""
    if row is None:
        return None
    # Here, not at the top: the learner imports scikit-learn, which the CLI must not load to start.
    from labelloop.workflow.learning import ROUND_RETRY_MAX_S

    n = int(row["failures"])
    since = row["first_at"].strftime("%Y-%m-%d %H:%M UTC")
    times = "once" if n == 1 else f"{n:,} times in a row since {since}"
    return {
        "error": row["error"],
        "failures": n,
        "first_at": row["first_at"].isoformat(),
        "last_at": row["last_at"].isoformat(),
        "sentence": f"Training rounds fail ({times}): {row['error'].rstrip('.')}. The model stays "
        "as it is until the cause is fixed; the learner tries again, less often after each failure "
        f"(every {ROUND_RETRY_MAX_S / 60:g} minutes at most).",
    }


def models(db: Database, ctx: ProjectContext) -> list[dict[str, Any]]:
    """Every model version of the project, oldest first (the learning curve); reviewers and
    managers."""
    ctx.require(Permission.VIEW_INSIGHT)
    with db.read() as conn:
        rows = store_learning.history(conn, ctx.id)
    return [_model(r) for r in rows]
