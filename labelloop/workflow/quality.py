"""Quality: the agreement and annotator report, gold answers, and the likely-label-error scan.

The numbers come from :mod:`labelloop.quality` (pure); this module reads the rows they are
computed from, writes gold answers and flags, and audits both.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np

from labelloop.errors import LabelloopError, NotFound
from labelloop.govern.permissions import Permission
from labelloop.insight.cohorts import MAX_COHORTS, cohort_tag
from labelloop.insight.flow import iso_week
from labelloop.memo import SingleFlight
from labelloop.quality import (
    UndefinedStatistic,
    agreement_report,
    dawid_skene,
    gold_accuracy,
    label_issues,
    model_contradicts,
    reliability_of,
)
from labelloop.quality.checks import too_fast_one
from labelloop.schema import validate_value
from labelloop.schema.project import STRUCTURED_TYPES
from labelloop.schema.settings import resolution_note
from labelloop.store import audit
from labelloop.store import projects as store_projects
from labelloop.store import review as store_review
from labelloop.store import tasks as store_tasks
from labelloop.store import users as store_users
from labelloop.store.db import Database
from labelloop.workflow import label_issues as issue_flags
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.imports import _label_text
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.review import LIVE, first_answers, is_expert, resolve
from labelloop.workflow.values import checked, checked_on_item, find_item, item_name

_flights = SingleFlight()

AGREEMENT_OF = (
    "each annotator's first answer to an item, as given before review: a rework of a "
    "rejected answer, a reviewer's fix or the expert tier's decision does not replace it"
)
"""What the agreement figures compare, as the Quality page and `labelloop quality` say it."""

FLAG_KINDS = ("disagreement", "model_contradicts", "label_issue", "gold_wrong", "too_fast")
MAX_WEEKS = 26


# ------------------------------------------------------------------------------ checks


def is_too_fast(active_ms: int, text_length: int) -> bool:
    """Whether one annotation was implausibly fast for its text (see ``quality.too_fast``)."""
    return too_fast_one(active_ms, text_length)


def model_contradicts_one(
    label: str | None,
    suggestion: str,
    confidence: float,
    *,
    labels: Sequence[str],
    threshold: float,
) -> bool:
    """Whether the model's suggestion, shown with ``confidence``, contradicts a human label.

    Only the top class and its probability are kept with an annotation, so the rest of the
    probability is spread evenly over the other classes.
    """
    if label not in labels or suggestion not in labels or len(labels) < 2:
        return False
    proba = np.full((1, len(labels)), (1.0 - confidence) / (len(labels) - 1))
    proba[0, labels.index(suggestion)] = confidence
    y = np.array([labels.index(label)])
    return bool(model_contradicts(y, proba, threshold=threshold)[0])


def _categories(classes: Sequence[str], seen: Iterable[str | None]) -> list[str]:
    """The categories ratings are indexed by: the schema's labels, then any other seen value
    (multi_choice answers, joined with '|')."""
    out = list(classes)
    extra = sorted({s for s in seen if s is not None and s not in out})
    return out + extra


def dawid_skene_labels(
    rows: Sequence[tuple[int, int, str | None]], *, classes: Sequence[str]
) -> dict[int, str]:
    """Dawid–Skene labels of items from ``(item_id, annotator_id, label)`` rows."""
    cats = _categories(classes, (r[2] for r in rows))
    ratings = reliability_of(((u, i, label) for i, u, label in rows), cats)
    if not ratings.items:
        return {}
    found = dawid_skene(ratings.R, n_categories=len(cats))
    return {i: cats[int(k)] for i, k in zip(ratings.items, found.labels, strict=True) if k >= 0}


# ------------------------------------------------------------------------------ gold


def set_gold(
    db: Database,
    ctx: ProjectContext,
    value: Mapping[str, Any] | None,
    *,
    item_id: int | None = None,
    external_id: str | None = None,
) -> dict[str, Any]:
    """Mark a pool item as gold with its known answer (a manager's act), audited. Without
    ``value`` the answer is the item's label, as spans or boxes reviewed before are."""
    ctx.require(Permission.MANAGE_PROJECT)
    clean = None
    if value is not None:
        ctx, clean = checked(db, ctx, value)
    with db.write(project_id=ctx.id) as conn:
        row = find_item(conn, ctx, item_id=item_id, external_id=external_id)
        if clean is None:
            label = store_review.item_label_of(conn, row["id"])
            if label is None:
                raise LabelloopError(
                    f"item {item_name(row)} has no label to be its known answer: label it "
                    "first, or give the answer"
                )
            clean = validate_value(ctx.schema, label["value"])
        if row["split"] != "pool":
            raise LabelloopError(
                f"item {item_name(row)} is in the {row['split']} split, not the pool"
            )
        if store_projects.is_example(conn, row["id"]):
            raise LabelloopError(
                f"item {item_name(row)} is an example in the guideline, its answer shown to every "
                "annotator: unpin it before using it as a gold check"
            )
        clean = checked_on_item(conn, ctx, clean, row["id"])
        store_review.set_gold(
            conn, project_id=ctx.id, item_id=row["id"], value=clean, by=ctx.user.id or None
        )
        audit.record(
            db,
            conn,
            action="gold.set",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{row['id']}",
            payload={"value": clean},
        )
    return {"item_id": row["id"], "external_id": row["external_id"], "value": clean}


def remove_gold(
    db: Database, ctx: ProjectContext, *, item_id: int | None = None, external_id: str | None = None
) -> dict[str, Any]:
    """Stop using an item as a gold check (a manager's act), audited: it is work again.

    The answers annotators gave it as a check resolve its label as submitted answers do
    (``workflow.review.resolve``: single, consensus, Dawid–Skene, or a disagreement to review or
    adjudication); without answers enough it is served for labeling again. A label the item had
    before it became gold stays. ``label`` and ``resolution`` are the item's resolved label
    afterwards (None: not resolved yet), ``answers`` how many answers count towards it.
    """
    ctx.require(Permission.MANAGE_PROJECT)
    with db.write(project_id=ctx.id) as conn:
        row = find_item(conn, ctx, item_id=item_id, external_id=external_id)
        if not db.is_sqlite:  # PostgreSQL: wait for the item's other writers
            store_tasks.lock_item(db, conn, row["id"])
        if not store_review.remove_gold(conn, row["id"]):
            raise NotFound(f"item {item_name(row)} is not a gold item")
        current = store_review.item_label_of(conn, row["id"])
        if current is None:
            resolve(conn, ctx, row["id"], known={"gold": None, "resolution": None})
            current = store_review.item_label_of(conn, row["id"])
        resolution = current["resolution"] if current is not None else None
        label = current["label"] if current is not None else None
        answers = sum(a["status"] in LIVE for a in store_review.item_annotations(conn, row["id"]))
        audit.record(
            db,
            conn,
            action="gold.remove",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{row['id']}",
            payload={"answers": answers, "resolution": resolution, "label": label},
        )
    return {
        "item_id": row["id"],
        "removed": True,
        "answers": answers,
        "resolution": resolution,
        "label": label,
    }


def gold_items(db: Database, ctx: ProjectContext) -> list[dict[str, Any]]:
    ctx.require(Permission.MANAGE_PROJECT)
    with db.read() as conn:
        rows = store_review.gold_list(conn, ctx.id)
    field = ctx.schema.data_field
    return [
        {
            "item_id": r["item_id"],
            "external_id": r["external_id"],
            "text": str(r["payload"].get(field, ""))[:200],
            "value": r["value"],
            "answered": r["answered"],
            "created_at": r["created_at"].isoformat(),
        }
        for r in rows
    ]


# ------------------------------------------------------------------------------ the scan


def scan(
    db: Database, ctx: ProjectContext, *, folds: int = 5, cache: FeatureCache | None = None
) -> dict[str, Any]:
    """Flag likely label errors among resolved labels by confident learning over
    cross-validated probabilities (Northcutt et al. 2021) that the model also confidently
    contradicts, by the round's rule (:func:`labelloop.learn.relabel.contradicted`); new flags
    feed the review queue when the project reviews flagged items.

    The model is the project's own (its ``model`` setting, as the learner's rounds fit it)
    and reads the project's own features (image and audio files under the cache's media
    roots). Embeddings come from ``cache`` once every labeled item has them; until then a
    featurizer with per-item embeddings gives way to its refitted part or TF-IDF, so a scan
    never waits for them."""
    ctx.require(Permission.MANAGE_PROJECT)
    classes = list(ctx.schema.target.labels)
    with db.read() as conn:
        rows = [r for r in store_review.labeled_pool(conn, ctx.id) if r["label"] in classes]
    y = np.array([classes.index(r["label"]) for r in rows], dtype=np.int64)
    counts = np.bincount(y, minlength=len(classes)) if len(y) else np.zeros(len(classes), int)
    present = counts[counts > 0]
    k = int(min(folds, present.min())) if len(present) else 0
    if len(present) < 2 or k < 2:
        return _nothing_flagged(len(rows), "needs at least two labels of each of two classes")
    proba = _cross_val_proba(ctx, rows, y, k, cache or FeatureCache())
    from labelloop.learn.relabel import beats_majority, contradicted  # scikit-learn: lazily

    if not beats_majority(y, proba):
        common = classes[int(np.bincount(y).argmax())]
        return _nothing_flagged(
            len(rows), f"the cross-validated model is no better than always answering '{common}'"
        )
    # As a round's re-label suggestions: a confident contradiction, not a weak model's guess.
    sure = contradicted(y, proba)
    issues = np.flatnonzero(label_issues(y, proba) & sure)
    agrees = np.flatnonzero(proba.argmax(axis=1) == y)  # their open label issues are stale
    judged = {
        int(rows[i]["id"]): (classes[y[i]], round(float(proba[i, y[i]]), 4))
        for i in agrees.tolist()
    }
    stale = issue_flags.stale(db, ctx.id, judged, closer="a label-error scan's model")
    found = []
    for i in issues.tolist():
        guess, p = classes[int(proba[i].argmax())], float(proba[i].max())
        found.append(
            {
                "item_id": rows[i]["id"],
                "annotation_id": rows[i]["annotation_id"],
                "user_id": rows[i]["user_id"],
                "note": f"cross-validated model says {guess} ({p:.2f})",
                "score": float(proba[i, y[i]]),
                "suggestion": guess,
                "suggestion_confidence": p,
            }
        )
    with db.write(project_id=ctx.id) as conn:
        flagged_ids = store_review.add_label_issues(
            conn, ctx.id, found, to_review=ctx.settings.review_policy == "flagged"
        )
        cleared = issue_flags.close(conn, stale)
        audit.record(
            db,
            conn,
            action="quality.scan",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"project:{ctx.slug}",
            payload={
                "checked": len(rows),
                "flagged": flagged_ids[:1000],
                "closed": cleared["closed"][:1000],
                "returned": cleared["returned"][:1000],
            },
        )
    return {
        "checked": len(rows),
        "flagged": len(flagged_ids),
        "items": flagged_ids,
        "closed": len(cleared["closed"]),
        "closed_items": cleared["closed"],
    }


def _nothing_flagged(checked: int, reason: str) -> dict[str, Any]:
    """What a scan that judged no label answers: ``checked`` labels read, and why not."""
    return {
        "checked": checked,
        "flagged": 0,
        "items": [],
        "closed": 0,
        "closed_items": [],
        "reason": reason,
    }


def _cross_val_proba(
    ctx: ProjectContext,
    rows: Sequence[Mapping[str, Any]],
    y: np.ndarray,
    folds: int,
    cache: FeatureCache,
) -> np.ndarray:
    """Out-of-fold probabilities of the project's own model (its ``model`` setting), as a
    learner round's check of the labels reads them."""
    from labelloop.learn import make_model
    from labelloop.learn.relabel import out_of_fold_proba

    X, _ = cache.stored_or_refitted(ctx, ctx.settings.featurizer, rows)
    return out_of_fold_proba(
        make_model(ctx.settings.model),
        X,
        y,
        folds=folds,
        n_classes=len(ctx.schema.target.labels),
        random_state=ctx.id,
    )


# ------------------------------------------------------------------------------ the report


def report(
    db: Database,
    ctx: ProjectContext,
    *,
    cohort_field: str = "cohort",
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Agreement (overall, per label, per pair, per cohort, by week), the annotator table, flags
    per kind and label, and the review tiers' state: every number the quality page shows."""
    ctx.require(Permission.VIEW_INSIGHT)
    # asked again while it runs (a second reviewer, a reloaded page): the same run's report,
    # shared only among those who see the same (gold checks are the expert tier's)
    key = (str(db.engine.url), ctx.id, cohort_field, n_boot, seed, is_expert(ctx))
    return _flights.run(key, lambda: _report(db, ctx, cohort_field, n_boot, seed))


def _report(
    db: Database, ctx: ProjectContext, cohort_field: str, n_boot: int, seed: int
) -> dict[str, Any]:
    target = ctx.schema.target.name
    with db.read() as conn:
        rows = store_review.annotation_rows(conn, ctx.id)
        verdicts = store_review.review_rows(conn, ctx.id)
        flag_rows = store_review.flag_rows(conn, ctx.id)
        statuses = store_review.status_counts(conn, ctx.id)
        n_gold = len(store_review.gold_list(conn, ctx.id))
        names = store_review.usernames(conn, [f["user_id"] for f in flag_rows if f["user_id"]])
        working = store_users.still_working(conn, ctx.id, (r["user_id"] for r in rows))
        # A gold check scores the answer as first submitted: the annotator's unaided judgement
        # (the gold_wrong flag is judged on it too, and a later change keeps both).
        first = audit.first_values(
            conn, ctx.id, (r["item_id"] for r in rows if r["gold"] is not None)
        )
    for r in rows:
        r["label"] = _label_text((r["value"] or {}).get(target))
        if r["gold"] is not None:
            r["gold_label"] = _label_text(r["gold"].get(target))
            r["first_label"] = _label_text((first.get(r["id"], r["value"]) or {}).get(target))
    cats = _categories(ctx.schema.target.labels, (r["label"] for r in rows))
    regions = ctx.schema.target.type in STRUCTURED_TYPES
    # A spans or boxes answer is one category as a whole ("regions:<digest>"); its labels are
    # the regions' labels, counted and compared label by label.
    for r in rows:
        r["names"] = _region_names(r["value"], target) if regions else [r["label"]]
    agreement = _agreement(
        rows, cats, cohort_field=cohort_field, n_boot=n_boot, seed=seed, regions=regions
    )
    if regions:
        agreement["report"]["per_label"] = _region_agreement(
            rows, target, ctx.schema.target.labels, n_boot=n_boot, seed=seed
        )
    names.update({r["user_id"]: r["username"] for r in rows})
    return {
        "project": {"slug": ctx.slug, "name": ctx.name},
        "settings": {
            "review_policy": ctx.settings.review_policy,
            "resolution": ctx.settings.resolution,
            "resolution_note": resolution_note(ctx.settings),
            "overlap": ctx.settings.overlap,
            "double_label_share": ctx.settings.double_label_share,
            "gold_rate": ctx.settings.gold_rate,
        },
        "labels": list(ctx.schema.target.labels) if regions else cats,
        "labels_given": _given(rows, target, regions=regions),
        "cohort_field": cohort_field,
        "agreement_of": AGREEMENT_OF,
        "agreement": agreement["report"],
        "over_time": agreement["weeks"],
        "by_guideline": agreement["guidelines"],
        "annotators": _annotators(rows, verdicts, flag_rows, cats, names, working),
        "flags": _flag_counts(rows, flag_rows, show_gold=is_expert(ctx), regions=regions),
        "review": {
            "annotations": statuses,
            "in_review": statuses.get("in_review", 0),
            "escalated": statuses.get("escalated", 0),
        },
        "gold": {"items": n_gold, "compared": agreement["gold_compared"]},
    }


def _labeled(row: Mapping[str, Any]) -> bool:
    return row["label"] is not None


def _agreement(
    rows: Sequence[Mapping[str, Any]],
    cats: Sequence[str],
    *,
    cohort_field: str,
    n_boot: int,
    seed: int,
    regions: bool,
) -> dict[str, Any]:
    first = first_answers(rows, _labeled)
    ratings = reliability_of(
        ((u, i, r["label"]) for (u, i), r in first.items()), cats, min_raters=2
    )
    R, raters, items = ratings.R, ratings.raters, ratings.items
    per_item: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for r in first.values():
        per_item[r["item_id"]].append(r)
    rater_names = {r["user_id"]: r["username"] for r in rows}
    cohort_of = [cohort_tag(per_item[i][0]["meta"], cohort_field) for i in items]
    tags = [t for t, _ in Counter(t for t in cohort_of if t is not None).most_common(MAX_COHORTS)]
    cohorts = {t: np.array([c == t for c in cohort_of], dtype=bool) for t in tags}
    names = [rater_names[u] for u in raters]
    full = agreement_report(
        R,
        labels=list(cats),
        raters=names,
        cohorts=cohorts,
        rng=seed,
        n_boot=n_boot,
        per_label=not regions,
    )
    week_of = [iso_week(max(r["created_at"] for r in per_item[i])) for i in items]
    weeks = [
        {"week": week, **part}
        for week, part in _overall_by(
            R, week_of, sorted(set(week_of))[-MAX_WEEKS:], cats=cats, raters=names, seed=seed
        )
    ]
    # Gold checks two annotators answered are compared as any item (see insight._agreement).
    gold = sum(1 for i in items if per_item[i][0]["gold"] is not None)
    return {
        "report": full,
        "weeks": weeks,
        "gold_compared": gold,
        "guidelines": _by_guideline(
            R, items, per_item=per_item, cats=cats, raters=names, seed=seed
        ),
    }


def _overall_by(
    R: np.ndarray,
    group_of: Sequence[Any],
    groups: Sequence[Any],
    *,
    cats: Sequence[str],
    raters: Sequence[str],
    seed: int,
) -> list[tuple[Any, dict[str, Any]]]:
    """Each of ``groups`` with the overall agreement over the compared items in it
    (``group_of``: each item's group), without intervals."""
    out = []
    for group in groups:
        mask = np.array([g == group for g in group_of], dtype=bool)
        part = agreement_report(
            R[:, mask], labels=list(cats), raters=raters, rng=seed, n_boot=0, per_label=False
        )
        out.append((group, part["overall"]))
    return out


def _by_guideline(
    R: np.ndarray,
    items: Sequence[int],
    *,
    per_item: Mapping[int, Sequence[Mapping[str, Any]]],
    cats: Sequence[str],
    raters: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    """Agreement per guideline version, each over the compared items whose answers were all
    made under it (did a new version settle what the last left open?); an item whose answers
    span versions is counted as ``mixed_items``, in none."""
    versions_of = [{r["guideline_version"] for r in per_item[i]} for i in items]
    version_of = [next(iter(v)) if len(v) == 1 else None for v in versions_of]
    found = sorted(set(version_of) - {None})
    versions = [
        {"guideline_version": version, **part}
        for version, part in _overall_by(R, version_of, found, cats=cats, raters=raters, seed=seed)
    ]
    return {"versions": versions, "mixed_items": sum(len(v) > 1 for v in versions_of)}


def _regions(value: Mapping[str, Any] | None, target: str) -> list[Mapping[str, Any]]:
    """The regions (spans, boxes) of an answer's target value."""
    found = (value or {}).get(target)
    return [r for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []


def _given(rows: Sequence[Mapping[str, Any]], target: str, *, regions: bool) -> dict[str, int]:
    """How often each label was given, over every answer the annotator table counts: one sent
    back for rework is an answer its annotator gave, with its label, and so is the answer that
    redid it (a spans or boxes answer gives each of its regions' labels)."""
    if regions:
        return dict(
            Counter(str(g.get("label")) for r in rows for g in _regions(r["value"], target))
        )
    return dict(Counter(r["label"] for r in rows if r["label"] is not None))


def _region_names(value: Mapping[str, Any] | None, target: str) -> list[str]:
    """The labels of the regions of an answer's target value, each once."""
    return sorted({str(r.get("label")) for r in _regions(value, target)})


def _marked(value: Mapping[str, Any] | None, target: str, label: str) -> tuple[str, ...]:
    """The regions of ``label`` in an answer's target value, as one category to compare."""
    found = (r for r in _regions(value, target) if r.get("label") == label)
    return tuple(sorted(json.dumps(r, sort_keys=True) for r in found))


def _region_agreement(
    rows: Sequence[Mapping[str, Any]],
    target: str,
    labels: Sequence[str],
    *,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """Per label of a spans or boxes target: the regions of that label in the items two or
    more annotators answered, and Krippendorff's alpha of whether they marked the very same
    regions of it, item by item (an item where nobody marked one agrees too), in their first
    answers."""
    first = first_answers(rows, _labeled)
    out: dict[str, Any] = {}
    for label in labels:
        ratings = reliability_of(
            ((u, i, _marked(r["value"], target, label)) for (u, i), r in first.items()),
            min_raters=2,
        )
        given = ratings.R[~np.isnan(ratings.R)].astype(int)
        report = agreement_report(
            ratings.R,
            labels=[str(k) for k in range(len(ratings.categories))],
            raters=[str(u) for u in ratings.raters],
            rng=seed,
            n_boot=n_boot,
            per_label=False,
        )
        out[label] = {
            "n_ratings": sum(len(ratings.categories[k]) for k in given),
            "alpha": report["overall"]["alpha"],
        }
    return out


def _annotators(
    rows: Sequence[Mapping[str, Any]],
    verdicts: Sequence[Mapping[str, Any]],
    flag_rows: Sequence[Mapping[str, Any]],
    cats: Sequence[str],
    names: Mapping[int, str],
    working: set[int],
) -> list[dict[str, Any]]:
    """Per annotator: labels, active time, agreement with the resolved label, gold accuracy,
    verdicts and flags; ``member`` is False for one no longer in the project (``working``
    holds those who are), whose work still counts."""
    index = {c: k for k, c in enumerate(cats)}
    by_user: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        by_user[r["user_id"]].append(r)
    verdict_of: dict[int, Counter[str]] = defaultdict(Counter)
    for v in verdicts:
        if v["verdict"] != "escalate":
            verdict_of[v["user_id"]][v["verdict"]] += 1
    flags_of: dict[int, Counter[str]] = defaultdict(Counter)
    for f in flag_rows:
        # a label issue a later model withdrew was the model's mistake, not the annotator's
        if f["user_id"] is not None and f["resolved_note"] is None:
            flags_of[f["user_id"]][f["kind"]] += 1
    table = []
    for user_id in sorted(by_user, key=lambda u: names.get(u, "")):
        mine = by_user[user_id]
        times = [r["active_ms"] for r in mine if r["active_ms"]]
        live = [r for r in mine if r["status"] in LIVE]
        # Agreement with the resolved label, where the label was not simply this annotation
        # and is no tie (labeled with the earliest answer, it tells nobody who was right); a
        # reviewer's fix of an imported label is their decision, no answer to check.
        checked = [
            r
            for r in live
            if r["independent"]
            and r["resolved"] is not None
            and r["gold"] is None
            and r["resolution"] != "tie"
            and not (r["resolution"] == "single" and r["resolved_from"] == r["id"])
        ]
        agree = sum(r["label"] == r["resolved"] for r in checked)
        gold_rows = [r for r in live if r["gold"] is not None]
        try:
            gold_acc: float | None = gold_accuracy(
                [index.get(r["first_label"], -1) for r in gold_rows],
                [index.get(r["gold_label"], -1) for r in gold_rows],
            )
        except UndefinedStatistic:
            gold_acc = None
        v = verdict_of[user_id]
        reviewed = v["accept"] + v["fix"] + v["reject"]
        table.append(
            {
                "user_id": user_id,
                "username": names.get(user_id, str(user_id)),
                "member": user_id in working,
                "labels": len(mine),
                "active_s_per_label": round(sum(times) / len(times) / 1000, 2) if times else None,
                "median_active_s": round(median(times) / 1000, 2) if times else None,
                "agreement_with_resolved": round(agree / len(checked), 4) if checked else None,
                "n_compared": len(checked),
                "gold_answered": len(gold_rows),
                "gold_accuracy": None if gold_acc is None else round(gold_acc, 4),
                "reviewed": reviewed,
                "accepted": v["accept"],
                "fixed": v["fix"],
                "rejected": v["reject"],
                "rejection_rate": round(v["reject"] / reviewed, 4) if reviewed else None,
                "flags": dict(flags_of[user_id]),
                "flags_total": sum(flags_of[user_id].values()),
            }
        )
    return table


def _flag_counts(
    rows: Sequence[Mapping[str, Any]],
    flag_rows: Sequence[Mapping[str, Any]],
    *,
    show_gold: bool,
    regions: bool,
) -> dict[str, Any]:
    """Flags per kind, and per label of the flagged answer (of the item's answers or label
    when the flag names no answer; a spans or boxes answer counts for each of its labels)."""
    names_of_annotation = {r["id"]: [n for n in r["names"] if n is not None] for r in rows}
    names_of_item: dict[int, list[str]] = {}
    for r in rows:
        if regions:
            names_of_item[r["item_id"]] = sorted(
                {*names_of_item.get(r["item_id"], []), *r["names"]}
            )
        elif r["resolved"] is not None:
            names_of_item[r["item_id"]] = [r["resolved"]]
    by_kind: Counter[str] = Counter()
    open_by_kind: Counter[str] = Counter()
    model_closed_by_kind: Counter[str] = Counter()  # a later model no longer saw the issue
    by_label: dict[str, Counter[str]] = defaultdict(Counter)
    for f in flag_rows:
        if f["kind"] == "gold_wrong" and not show_gold:
            continue
        by_kind[f["kind"]] += 1
        if f["resolved_at"] is None:
            open_by_kind[f["kind"]] += 1
        elif f["resolved_note"] is not None:
            model_closed_by_kind[f["kind"]] += 1
        names = names_of_annotation.get(f["annotation_id"]) or names_of_item.get(f["item_id"])
        for name in names or ["(none)"]:
            by_label[name][f["kind"]] += 1
    return {
        "by_kind": dict(by_kind),
        "open_by_kind": dict(open_by_kind),
        "model_closed_by_kind": dict(model_closed_by_kind),
        "by_label": {k: dict(v) for k, v in sorted(by_label.items())},
        "total": sum(by_kind.values()),
        "open": sum(open_by_kind.values()),
    }
