"""The quality report against the reference implementations, the annotator table, and the
likely-label-error scan."""

from __future__ import annotations

import json
import random
from typing import Any

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from labelloop.errors import PermissionDenied
from labelloop.store.audit import chain_rows
from labelloop.store.tables import annotation, item, item_label
from labelloop.workflow import projects, quality, tasks
from labelloop.workflow import review as wf_review

CLASSES = ("negative", "neutral", "positive")
NAMES = ("ann", "bob", "cat", "dan")


def _noisy(truth: str, who: int, item_id: int, accuracy: float) -> str:
    """A reproducible answer that is the truth with probability ``accuracy``."""
    rng = random.Random(who * 10_007 + item_id)
    if rng.random() < accuracy:
        return truth
    return rng.choice([c for c in CLASSES if c != truth])


def _label_everything(lab: Any, people: list[Any], accuracy: list[float]) -> None:
    """Round-robin until no one is served anything: with overlap 3 of 4, 3 raters per item."""
    while True:
        served = False
        for k, who in enumerate(people):
            task = tasks.next_task(lab.db, who)
            if task is None:
                continue
            served = True
            truth = lab.truth(task["item"]["data"]["text"])
            answer = _noisy(truth, k, task["item"]["id"], accuracy[k])
            tasks.submit(
                lab.db, who, task["assignment_id"], {"sentiment": answer}, active_ms=2000 + 100 * k
            )
        if not served:
            return


def _matrix(db: Any) -> tuple[list[int], list[str], np.ndarray, dict[int, str]]:
    with db.read() as conn:
        rows = list(
            conn.execute(
                select(annotation.c.item_id, annotation.c.user_id, annotation.c.value, item.c.meta)
                .join(item, item.c.id == annotation.c.item_id)
                .order_by(annotation.c.id)
            )
        )
        users = dict(conn.execute(select(annotation.c.user_id, annotation.c.user_id)).all())
    items = sorted({r[0] for r in rows})
    raters = sorted(users)
    R = np.full((len(raters), len(items)), np.nan)
    cohort = {}
    for item_id, user_id, value, meta in rows:
        R[raters.index(user_id), items.index(item_id)] = CLASSES.index(value["sentiment"])
        cohort[item_id] = meta["cohort"]
    return items, [str(r) for r in raters], R, cohort


def test_agreement_matches_sklearn_statsmodels_and_krippendorff(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    ctx = lab.project(overlap=3)
    rows = [{**r, "cohort": "web" if i % 2 else "mail"} for i, r in enumerate(lab.rows(36))]
    lab.import_rows(ctx, rows)
    lab.train(ctx)
    people = [lab.member("sent", n, "annotator") for n in NAMES]
    _label_everything(lab, people, accuracy=[0.9, 0.8, 0.7, 0.55])
    items, _, R, cohort = _matrix(lab.db)
    assert (~np.isnan(R)).sum(axis=0).tolist() == [3] * len(items)  # k = 3 on every item

    report = quality.report(lab.db, ctx, n_boot=100)
    a = report["agreement"]
    assert a["pairwise"]["raters"] == list(NAMES)
    for i in range(4):
        for j in range(4):
            if i == j:
                continue
            both = ~np.isnan(R[i]) & ~np.isnan(R[j])
            expected = cohen_kappa_score(R[i, both], R[j, both])
            assert a["pairwise"]["kappa"][i][j] == pytest.approx(expected, abs=1e-9)
            assert a["pairwise"]["n_items"][i][j] == int(both.sum())

    def fleiss(M: np.ndarray) -> float:
        per_item = np.array([col[~np.isnan(col)] for col in M.T]).astype(int)
        return float(fleiss_kappa(aggregate_raters(per_item, n_cat=3)[0]))

    overall = a["overall"]
    assert overall["n_items_compared"] == len(items)
    assert overall["fleiss"]["value"] == pytest.approx(fleiss(R), abs=1e-9)
    alpha = krippendorff.alpha(reliability_data=R, level_of_measurement="nominal")
    assert overall["alpha"]["value"] == pytest.approx(alpha, abs=1e-9)
    lo, hi = overall["fleiss"]["ci"]
    assert lo < overall["fleiss"]["value"] < hi
    for name in ("web", "mail"):
        keep = np.array([cohort[i] == name for i in items])
        assert a["per_cohort"][name]["fleiss"]["value"] == pytest.approx(
            fleiss(R[:, keep]), abs=1e-9
        )
    assert [w["fleiss"]["value"] for w in report["over_time"]] == [
        pytest.approx(overall["fleiss"]["value"], abs=1e-9)
    ]
    assert set(a["per_label"]) == set(CLASSES)

    # The annotator table: agreement with the resolved (majority) label, by hand; a tie is
    # labeled with its earliest answer, which says nothing of who was right.
    with lab.db.read() as conn:
        resolved = dict(
            conn.execute(
                select(item_label.c.item_id, item_label.c.label).where(
                    item_label.c.resolution != "tie"
                )
            ).all()
        )
        given = list(
            conn.execute(select(annotation.c.user_id, annotation.c.item_id, annotation.c.value))
        )
    table = {u["username"]: u for u in report["annotators"]}
    for k, who in enumerate(people):
        mine = [(i, v["sentiment"]) for u, i, v in given if u == who.user.id]
        row = table[NAMES[k]]
        assert row["labels"] == len(mine)
        compared = [(i, v) for i, v in mine if i in resolved]
        assert row["n_compared"] == len(compared)
        agree = sum(resolved[i] == v for i, v in compared) / len(compared)
        assert row["agreement_with_resolved"] == pytest.approx(agree, abs=1e-4)
        assert row["active_s_per_label"] == pytest.approx(2.0 + 0.1 * k)
        assert row["gold_accuracy"] is None and row["rejection_rate"] is None
    assert table["ann"]["agreement_with_resolved"] > table["dan"]["agreement_with_resolved"]
    flagged = report["flags"]["by_kind"].get("disagreement", 0)
    assert flagged == 3 * sum(len(set(R[~np.isnan(R[:, c]), c])) > 1 for c in range(len(items)))


def test_a_tie_says_nothing_of_who_agrees_with_the_resolved_label(sqlite_lab: Any) -> None:
    # Two annotators per item: ann answers first and always right, bob second and wrong on
    # two of six items. Those two are ties, labeled with ann's answer (the earliest); neither
    # annotator is the majority there, so they leave both annotators' agreement out.
    lab = sqlite_lab
    ctx = lab.project(overlap=2)
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann, bob = (lab.member("sent", n, "annotator") for n in ("ann", "bob"))
    wrong = {"negative": "positive", "neutral": "negative", "positive": "neutral"}
    for n in range(6):
        for who in (ann, bob):
            task = tasks.next_task(lab.db, who)
            truth = lab.truth(task["item"]["data"]["text"])
            answer = wrong[truth] if who is bob and n in (1, 4) else truth
            tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": answer}, active_ms=900)
    with lab.db.read() as conn:
        ways = sorted(r for (r,) in conn.execute(select(item_label.c.resolution)))
    assert ways == ["consensus"] * 4 + ["tie"] * 2
    table = {u["username"]: u for u in quality.report(lab.db, ctx, n_boot=0)["annotators"]}
    for name in ("ann", "bob"):
        assert table[name]["n_compared"] == 4
        assert table[name]["agreement_with_resolved"] == 1.0


def test_review_figures_and_flags_per_annotator_and_label(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    done = []
    for k in range(4):
        task = tasks.next_task(lab.db, ann)
        out = tasks.submit(
            lab.db, ann, task["assignment_id"], {"sentiment": CLASSES[k % 3]}, active_ms=100
        )
        done.append(out["annotation_id"])
    wf_review.review_annotation(lab.db, rev, done[0], verdict="accept")
    wf_review.review_annotation(lab.db, rev, done[1], verdict="accept")
    wf_review.review_annotation(lab.db, rev, done[2], verdict="reject", comment="no")
    wf_review.review_annotation(
        lab.db, rev, done[3], verdict="fix", value={"sentiment": "positive"}
    )
    report = quality.report(lab.db, rev, n_boot=0)
    row = report["annotators"][0]
    assert (row["reviewed"], row["accepted"], row["rejected"], row["fixed"]) == (4, 2, 1, 1)
    # the rejected answer (positive) is an answer ann gave: both tables count her four, as the
    # flags per label count its too-fast flag under positive
    assert report["labels_given"] == {"negative": 2, "neutral": 1, "positive": 1}
    assert sum(report["labels_given"].values()) == row["labels"] == 4
    assert row["rejection_rate"] == 0.25
    assert row["flags"] == {"too_fast": 4}
    assert report["flags"]["by_label"] == {
        "negative": {"too_fast": 2},
        "neutral": {"too_fast": 1},
        "positive": {"too_fast": 1},
    }
    assert report["flags"]["open"] == 0  # every verdict closed its annotation's flags
    assert report["review"]["annotations"] == {"accepted": 2, "rejected": 1, "fixed": 1}
    with pytest.raises(PermissionDenied):
        quality.report(lab.db, ann)


def test_scan_flags_planted_label_errors_once_and_sends_them_to_review(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    ctx = lab.project(review_policy="flagged")
    lab.import_rows(ctx, lab.rows(45))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    planted = set()
    for k in range(45):
        task = tasks.next_task(lab.db, ann)
        truth = lab.truth(task["item"]["data"]["text"])
        answer = truth
        if k % 9 == 4:
            answer = CLASSES[(CLASSES.index(truth) + 1) % 3]
            planted.add(task["item"]["id"])
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": answer}, active_ms=5000)
    with pytest.raises(PermissionDenied):
        quality.scan(lab.db, rev)
    found = quality.scan(lab.db, ctx)
    assert found["checked"] == 45
    hits = set(found["items"])
    assert len(hits & planted) >= 4, (hits, planted)
    assert len(hits - planted) <= 2
    assert quality.scan(lab.db, ctx)["flagged"] == 0  # already flagged: not twice
    with lab.db.read() as conn:
        assert chain_rows(conn, ctx.id)[-1]["action"] == "quality.scan"
    # Flagged labels go back to review; a fix moves the label.
    view = wf_review.next_review(lab.db, rev)
    assert view["item"]["id"] in hits
    assert "label_issue" in {f["kind"] for f in view["flags"]}
    truth = lab.truth(view["item"]["data"]["text"])
    wf_review.review_annotation(
        lab.db, rev, view["annotation"]["id"], verdict="fix", value={"sentiment": truth}
    )
    detail = wf_review.item_detail(lab.db, rev, view["item"]["id"])
    assert (detail["label"]["label"], detail["label"]["resolution"]) == (truth, "reviewed")
    # A reviewer who kept a flagged label is not asked about it again by the next scan.
    kept = wf_review.next_review(lab.db, rev)
    assert kept["item"]["id"] in hits
    wf_review.review_annotation(lab.db, rev, kept["annotation"]["id"], verdict="accept")
    assert kept["item"]["id"] not in quality.scan(lab.db, ctx)["items"]


def test_scan_needs_two_classes(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(3))
    assert quality.scan(lab.db, ctx)["flagged"] == 0


def test_the_cli_reports_the_same_numbers_and_manages_gold(
    sqlite_lab: Any, no_labelloop_env: None
) -> None:
    from typer.testing import CliRunner

    from labelloop.cli import app

    lab = sqlite_lab
    ctx = lab.project(overlap=2)
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    people = [lab.member("sent", n, "annotator") for n in NAMES[:2]]
    _label_everything(lab, people, accuracy=[0.9, 0.6])
    env = {"LABELLOOP_DATABASE_URL": lab.db.url, "COLUMNS": "200"}

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    cli = json.loads(run("quality", "sent", "--json", "--n-boot", "50"))
    direct = quality.report(lab.db, ctx, n_boot=50)
    assert cli["agreement"] == direct["agreement"]
    assert cli["annotators"] == json.loads(json.dumps(direct["annotators"], default=str))
    table = run("quality", "sent", "--n-boot", "0")
    assert "Fleiss' kappa" in table and "ann" in table and "bob" in table
    assert "doc-3 is gold: positive" in run("gold", "set", "sent", "doc-3", "positive")
    assert "is gold: negative" in run("gold", "set", "sent", "#5", "negative")
    listed = json.loads(run("gold", "list", "sent", "--json"))
    assert [(g["external_id"], g["value"]["sentiment"]) for g in listed] == [
        ("doc-3", "positive"),
        ("doc-4", "negative"),
    ]
    assert "no longer gold" in run("gold", "remove", "sent", "doc-3")
    assert "no item 'nope'" in run("gold", "set", "sent", "nope", "positive", code=1)
    huge = "#" + "9" * 20  # past any id a store holds: was an OverflowError traceback
    assert f"no item {huge} here" in run("gold", "set", "sent", huge, "positive", code=1)
    assert f"no item {huge} here" in run("gold", "remove", "sent", huge, code=1)
    assert "happy" in run("gold", "set", "sent", "doc-5", "happy", code=1)
    scanned = json.loads(run("quality", "sent", "--json", "--scan", "--n-boot", "0"))
    assert scanned["scan"]["checked"] == 11  # the gold item is not scanned


def test_the_learner_scans_for_label_errors_every_few_rounds(lab: Any, monkeypatch: Any) -> None:
    """Confident learning runs periodically in the background, not only when asked."""
    from labelloop.workflow import learning

    calls: list[str] = []
    monkeypatch.setattr(learning, "SCAN_EVERY", 2)
    monkeypatch.setattr(learning, "due", lambda db, project_id, cache=None: True)
    monkeypatch.setattr(
        learning, "scan_label_issues", lambda db, ctx, cache: calls.append(ctx.slug)
    )
    ctx = lab.project("scan", retrain_every=1)
    lab.import_rows(ctx, lab.rows(30))
    learner = learning.Learner(lab.db)
    learner.run_once()  # version 1: cold start
    assert calls == []
    lab.label_next(ctx, n=3)
    learner.run_once()  # version 2
    assert calls == ["scan"]


def test_a_scan_whose_model_learned_nothing_flags_nothing_and_says_why(lab: Any) -> None:
    """Labels that have nothing to do with the text: the cross-validated model does no better
    than answering the most common label, so no label is called likely wrong."""
    import random

    ctx = lab.project()
    rng = random.Random(4)
    rows = [{**r, "label": rng.choice(CLASSES)} for r in lab.rows(40)]
    lab.import_rows(ctx, rows, labeled=True)
    found = quality.scan(lab.db, ctx)
    assert found["checked"] == 40 and found["flagged"] == 0
    assert found["reason"].startswith("the cross-validated model is no better than always")


@pytest.mark.parametrize(
    ("model", "learns"),
    [("logistic_regression", True), ("sklearn.dummy.DummyClassifier", False)],
)
def test_a_scan_judges_labels_with_the_projects_own_model(
    sqlite_lab: Any, model: str, learns: bool
) -> None:
    """The same labels (a few of them wrong), scanned in a project whose ``model`` setting
    learns from the text and in one whose model only ever answers the label priors: the scan
    fits the project's model, so only the first finds the wrong labels, and the second says
    its model does no better than the most common label."""
    lab = sqlite_lab
    ctx = lab.project(model=model)
    rows = lab.rows(45, labeled=True)
    planted = {r["id"] for r in rows[3::7]}  # two of each class
    lab.import_rows(
        ctx,
        [
            {**r, "label": CLASSES[(CLASSES.index(r["label"]) + 1) % 3]}
            if r["id"] in planted
            else r
            for r in rows
        ],
        labeled=True,
    )
    found = quality.scan(lab.db, ctx)
    assert found["checked"] == 45
    if learns:
        with lab.db.read() as conn:
            flagged = conn.execute(
                select(item.c.external_id).where(item.c.id.in_(found["items"]))
            ).scalars()
            external = set(flagged)
        assert len(external & planted) >= 3 and len(external - planted) <= 2, (external, planted)
    else:
        assert found["flagged"] == 0
        assert found["reason"].startswith("the cross-validated model is no better than always")


def test_agreement_on_spans_is_reported_per_entity_label(sqlite_lab: Any) -> None:
    """Two annotators mark every text; they agree on each city and differ on two people."""
    lab = sqlite_lab
    schema = {
        "name": "Places and people",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "ents", "type": "spans", "labels": ["city", "person"]}],
        "settings": {"overlap": 2},
    }
    projects.create_project(lab.db, "ner", schema, actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    people = ["Ann", "Bo", "Cyrus", "Di", "Evelyn", "Fran"]
    cities = ["Oslo", "Lima", "Rome", "Lagos", "Quito", "Perth"]
    lab.import_rows(
        ctx,
        [{"id": f"t{i}", "text": f"{people[i]} flew to {cities[i]} on day {i}"} for i in range(6)],
    )
    lab.train(ctx)
    for k, name in enumerate(("ann", "bob")):
        who = lab.member("ner", name, "annotator")
        while (task := tasks.next_task(lab.db, who)) is not None:
            text, i = task["item"]["data"]["text"], task["item"]["id"]
            city, name = text.index(" to ") + 4, text.index(" flew")
            spans = [{"start": city, "end": text.index(" on day"), "label": "city"}]
            if k == 0 or i % 3:  # bob leaves out the person on two of the six texts
                spans.append({"start": 0, "end": name, "label": "person"})
            tasks.submit(lab.db, who, task["assignment_id"], {"ents": spans}, active_ms=4000)
    report = quality.report(lab.db, ctx, n_boot=0)
    assert report["labels"] == ["city", "person"]
    assert report["labels_given"] == {"city": 12, "person": 10}
    per_label = report["agreement"]["per_label"]
    assert list(per_label) == ["city", "person"]
    assert per_label["city"]["n_ratings"] == 12
    assert per_label["city"]["alpha"]["value"] == 1.0  # every city the same
    assert per_label["person"]["n_ratings"] == 10
    assert per_label["person"]["alpha"]["value"] < 0.8
    assert report["agreement"]["overall"]["percent"]["value"] == pytest.approx(4 / 6)
    # The flagged answers count for their labels: ann's for city and person, bob's for city.
    assert report["flags"]["by_label"] == {
        "city": {"disagreement": 4},
        "person": {"disagreement": 2},
    }


def test_a_scan_flags_no_label_on_a_two_class_coin_flip(lab: Any, monkeypatch: Any) -> None:
    """The scan judges labels by the round's rule: on a two-class project a label the
    cross-validated model finds 0.55 against 0.45 wrong is not flagged, one at 0.9 is. The
    out-of-fold probabilities are set by hand so the rule, not a model, is what is tested."""
    schema = {
        "name": "SMS",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "kind", "type": "choice", "labels": ["ham", "spam"], "target": True}],
    }
    projects.create_project(lab.db, "sms", schema, actor=lab.admin)
    ctx = lab.ctx("sms", lab.admin)
    rows = [{"id": f"h{i}", "text": f"honest ham {i}", "label": "ham"} for i in range(20)]
    rows += [{"id": f"s{i}", "text": f"honest spam {i}", "label": "spam"} for i in range(20)]
    rows += [
        {"id": "coin", "text": "a coin flip", "label": "ham"},
        {"id": "clear", "text": "a clear mistake", "label": "ham"},
    ]
    lab.import_rows(ctx, rows, labeled=True)
    p_spam = {"honest ham": 0.4, "honest spam": 0.55, "a coin flip": 0.55, "a clear mistake": 0.9}

    def by_hand(ctx: Any, rows: Any, y: Any, folds: int, cache: Any) -> np.ndarray:
        p = [next(v for k, v in p_spam.items() if r["payload"]["text"].startswith(k)) for r in rows]
        return np.column_stack([1 - np.array(p), p])

    monkeypatch.setattr(quality, "_cross_val_proba", by_hand)
    found = quality.scan(lab.db, ctx)
    with lab.db.read() as conn:
        flagged = conn.execute(select(item.c.external_id).where(item.c.id.in_(found["items"])))
        assert sorted(r[0] for r in flagged) == ["clear"]


def test_agreement_by_guideline_version_compares_items_answered_under_one_version(
    sqlite_lab: Any,
) -> None:
    """A lead publishes v2 to settle what v1 left open, then asks whether people agree more
    under it: each version's agreement is over the items all of whose answers it was in force
    for; an item answered under both is counted as mixed, in neither."""
    from labelloop.workflow import guidelines

    lab = sqlite_lab
    ctx = lab.project(overlap=2)
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    ann, bob = (lab.member("sent", n, "annotator") for n in ("ann", "bob"))

    def answer(who: Any, *, agree: bool, version: int) -> None:
        task = tasks.next_task(lab.db, who)
        assert task is not None
        truth = lab.truth(task["item"]["data"]["text"])
        given = truth if agree else next(c for c in CLASSES if c != truth)
        value = {"sentiment": given}
        tasks.submit(
            lab.db, who, task["assignment_id"], value, active_ms=900, guideline_version=version
        )

    for k in range(4):  # under v1 bob disagrees with ann on every other item
        answer(ann, agree=True, version=1)
        answer(bob, agree=k % 2 == 0, version=1)
    guidelines.edit(lab.db, ctx, "Sarcasm is negative.", "sarcasm is negative")
    for _ in range(4):  # under v2 they agree
        answer(ann, agree=True, version=2)
        answer(bob, agree=True, version=2)
    answer(ann, agree=True, version=1)  # a page that had not caught up yet
    answer(bob, agree=True, version=2)

    found = quality.report(lab.db, ctx, n_boot=0)["by_guideline"]
    versions = {v["guideline_version"]: v for v in found["versions"]}
    assert sorted(versions) == [1, 2]
    assert versions[1]["n_items_compared"] == 4 and versions[2]["n_items_compared"] == 4
    assert versions[1]["percent"]["value"] == pytest.approx(0.5)
    assert versions[2]["percent"]["value"] == pytest.approx(1.0)
    assert found["mixed_items"] == 1
    from labelloop.cli.common import out
    from labelloop.cli.quality import _print_quality

    with out.capture() as captured:
        _print_quality(quality.report(lab.db, ctx, n_boot=0))
    shown = captured.get()
    assert "Agreement by guideline version" in shown
    assert "1 item answered under more than one version" in shown


def test_agreement_measures_first_answers_not_the_reworks_review_asked_for(
    sqlite_lab: Any,
) -> None:
    """Two annotators disagree on half the items; a reviewer rejects bob's answers there and bob
    reworks them to agree. Agreement between annotators is of their independent first answers:
    the Quality page (overall and by guideline version) and the dashboard still read 50%,
    not the 100% the reworks would make of it."""
    from labelloop.workflow import insight

    lab = sqlite_lab
    ctx = lab.project(overlap=2, review_policy="all")
    lab.import_rows(ctx, lab.rows(8))
    lab.train(ctx)
    ann, bob = (lab.member("sent", n, "annotator") for n in ("ann", "bob"))
    rita = lab.member("sent", "rita", "reviewer")
    wrong = {}
    for k in range(4):
        for who in (ann, bob):
            task = tasks.next_task(lab.db, who)
            truth = lab.truth(task["item"]["data"]["text"])
            given = truth if who is ann or k % 2 else next(c for c in CLASSES if c != truth)
            done = tasks.submit(
                lab.db, who, task["assignment_id"], {"sentiment": given}, active_ms=900
            )
            if given != truth:
                wrong[done["annotation_id"]] = truth
    assert len(wrong) == 2
    for annotation_id in wrong:
        wf_review.review_annotation(
            lab.db, rita, annotation_id, verdict="reject", comment="read it again"
        )
    for _ in wrong:  # the reworks agree with ann
        task = tasks.next_task(lab.db, bob)
        assert task["selection"]["strategy"] == "rework"
        truth = lab.truth(task["item"]["data"]["text"])
        tasks.submit(lab.db, bob, task["assignment_id"], {"sentiment": truth}, active_ms=900)

    found = quality.report(lab.db, ctx, n_boot=0)
    assert found["agreement"]["overall"]["n_items_compared"] == 4
    assert found["agreement"]["overall"]["percent"]["value"] == pytest.approx(0.5)
    (v1,) = found["by_guideline"]["versions"]
    assert v1["n_items_compared"] == 4 and v1["percent"]["value"] == pytest.approx(0.5)
    assert insight.report(lab.db, ctx, days=7)["agreement"]["n_items"] == 4
    assert insight.report(lab.db, ctx, days=7)["agreement"]["alpha"] < 0.5
    from labelloop.cli.common import out
    from labelloop.cli.quality import _print_quality

    with out.capture() as captured:
        _print_quality(found)
    assert "first answer to an item, as given before review" in " ".join(captured.get().split())
