"""Auto-labeling: the model's labels for the unlabeled items it is sure of, only when the eval
items vouch for it; never trained on, replaced by a person's label, undone as a run."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labelloop.errors import Conflict, NotFound, PermissionDenied, Unprocessable
from labelloop.store import learning as store_learning
from labelloop.store.items import counts
from labelloop.store.tables import queue_entry
from labelloop.workflow import auditing, autolabel, export, learning, projects, review, tasks
from labelloop.workflow.features import FeatureCache
from tests.conftest import _WORDS as WORDS
from tests.conftest import N_CLEAR, N_MIXED, auto_project, make_rows, truth_of

SURE = 0.78
"""A confidence the model of :func:`tests.conftest.auto_project` reaches on its clear items."""


def _project(lab: Any, *, n_eval: int = 60, **settings: Any) -> Any:
    return auto_project(lab, "sent", n_eval=n_eval, **settings)


def _labels(lab: Any, ctx: Any) -> dict[str, Any]:
    """Every exported label by the item's external id."""
    return {r.external_id: r for r in export.records(lab.db, ctx)}


@pytest.fixture
def cache(tmp_path: Any) -> FeatureCache:
    return FeatureCache(tmp_path / "features")


def test_a_run_labels_the_items_the_model_is_sure_of_and_exports_them_as_auto(
    lab: Any, cache: FeatureCache
) -> None:
    ctx = _project(lab)
    preview = autolabel.apply(
        lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9, dry_run=True
    )
    assert preview["run_id"] is None and preview["eval_n"] >= 30
    assert preview["eval_correct"] == preview["eval_n"]  # the words tell the classes apart
    assert counts_of(lab, ctx)["auto_labeled"] == 0  # a dry run writes nothing
    n = preview["n_labeled"]
    assert n == N_CLEAR

    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert done["n_labeled"] == n and sum(done["by_label"].values()) == n
    c = counts_of(lab, ctx)
    assert (c["labeled"], c["auto_labeled"], c["remaining"]) == (60, N_CLEAR, N_MIXED)
    rows = _labels(lab, ctx)
    auto = {k: r for k, r in rows.items() if r.resolution == "auto"}
    assert len(auto) == n
    for key, r in auto.items():  # the model's label is the truth on these easy texts
        assert r.label == truth_of(r.text) == r.suggestion, key
        assert r.suggestion_confidence >= SURE and r.decided_by == "admin"
        assert r.reason.startswith(f"auto-label run {done['run_id']}: the model was ")
        assert r.annotator is None
    assert all(key.startswith("doc-") for key in auto)  # not the mixed ones
    one = next(iter(auto.values()))
    seen = review.item_detail(lab.db, lab.member("sent", "rita", "reviewer"), one.item_id)["label"]
    assert (seen["resolution"], seen["auto_run"], seen["decided_by"]) == (
        "auto",
        done["run_id"],
        "admin",
    )
    assert seen["confidence"] == pytest.approx(one.suggestion_confidence)
    assert all(r.resolution == "imported" for k, r in rows.items() if k not in auto)
    people = {r.external_id for r in export.records(lab.db, ctx, auto=False)}
    assert people == set(rows) - set(auto)  # a training set of people's labels only


def counts_of(lab: Any, ctx: Any) -> dict[str, int]:
    with lab.db.read() as conn:
        return counts(conn, ctx.id)


def test_the_eval_items_must_vouch_for_the_model(lab: Any, cache: FeatureCache) -> None:
    ctx = _project(lab, n_eval=20)
    with pytest.raises(Unprocessable, match="needs 30 at least"):
        autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    lab.import_rows(  # a wrong answer key: every eval item labeled with the next class
        ctx,
        [
            {**r, "label": lab.classes[(lab.classes.index(r["label"]) + 1) % 3]}
            for r in make_rows(40, start=2000, prefix="bad", labeled=True)
        ],
        labeled=True,
        split="eval",
        filename="bad.jsonl",
    )
    with pytest.raises(Unprocessable, match=r"95% interval .* must lie at or above 90.0%"):
        autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert counts_of(lab, ctx)["auto_labeled"] == 0


def test_a_refusal_for_too_few_eval_items_does_not_ask_for_a_higher_confidence(
    lab: Any, cache: FeatureCache
) -> None:
    # The model is right on every eval item it is that sure of, but they are too few for the
    # interval to reach 95%: a surer model would count fewer of them, so the advice is more eval
    # items or a lower confidence, never a higher one.
    ctx = _project(lab)  # 40-odd eval items that sure: 95% interval from about 91%
    with pytest.raises(Unprocessable) as caught:
        autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE)
    said = caught.value.message
    n = int(said.split("right on ")[1].split(" of ")[0])
    assert f"right on {n} of {n} eval items (100.0%" in said
    assert "raise the confidence" not in said
    assert f"{n} eval items are too few to show it" in said
    assert "label more eval items, or try a lower confidence" in said
    assert counts_of(lab, ctx)["auto_labeled"] == 0


def test_without_a_confidence_the_lowest_the_eval_items_vouch_for_is_chosen(
    lab: Any, cache: FeatureCache
) -> None:
    ctx = _project(lab)
    with pytest.raises(
        Unprocessable, match="has 60 labeled eval items, and the model is at least 50% sure of"
    ) as caught:
        autolabel.apply(lab.db, ctx, cache=cache)  # 60 eval items cannot show 95%: 292 can
    assert "needs 292 it is at least that sure of" in caught.value.message
    # Eval items drawn like the pool, mixed ones too: the model is unsure of them, and often
    # wrong. Trying the confidences surest first stops where they come in.
    neg, pos = lab.classes[0], lab.classes[2]
    hard = [
        {"id": f"hard-{i}", "text": t, "label": truth_of(t)}
        for i in range(40)
        for t in [f"{WORDS[neg][i % 6]} {WORDS[pos][(i + 1) % 6]} doc {i}"]
    ]
    lab.import_rows(ctx, hard, labeled=True, split="eval", filename="hard.jsonl")
    lab.import_rows(
        ctx,
        make_rows(340, start=3000, prefix="ev2", labeled=True),
        labeled=True,
        split="eval",
        filename="more-eval.jsonl",
    )
    done = autolabel.apply(lab.db, ctx, cache=cache, dry_run=True)
    assert done["chosen"] and done["eval_n"] >= 292 and done["interval"][0] >= 0.95
    # every clear item, and most mixed ones left to people (without the hard eval items the
    # search ran down to 50% and took 6 of the 10)
    assert done["confidence"] > 0.5 and N_CLEAR <= done["n_labeled"] < N_CLEAR + N_MIXED // 2


def test_the_projects_settings_are_the_defaults(lab: Any, cache: FeatureCache) -> None:
    ctx = _project(lab)
    projects.change_settings(
        lab.db, ctx, {"auto_label_confidence": SURE, "auto_label_min_accuracy": 0.9}
    )
    ctx = lab.ctx("sent", lab.admin)
    done = autolabel.apply(lab.db, ctx, cache=cache)
    assert (done["confidence"], done["min_accuracy"], done["chosen"]) == (SURE, 0.9, False)
    assert done["n_labeled"] == N_CLEAR


def test_only_managers_apply_and_undo(lab: Any, cache: FeatureCache) -> None:
    _project(lab)
    for role in ("annotator", "reviewer"):
        who = lab.member("sent", f"a-{role}", role)
        with pytest.raises(PermissionDenied):
            autolabel.apply(lab.db, who, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert autolabel.runs(lab.db, lab.ctx("sent", lab.users["a-reviewer"]))["runs"] == []


def test_auto_labels_are_not_trained_on_and_their_items_leave_the_queue(
    lab: Any, cache: FeatureCache
) -> None:
    ctx = _project(lab)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    with lab.db.read() as conn:
        auto_ids = {
            int(r["id"]) for r in store_learning.items_of(conn, ctx.id, "pool") if r["auto"]
        }
        assert store_learning.pool_labels(conn, ctx.id) == (60, done["n_labeled"])
    assert len(auto_ids) == done["n_labeled"] > 0
    learning.train(lab.db, ctx)
    with lab.db.read() as conn:
        latest = store_learning.latest(conn, ctx.id)
        queued = {
            int(i)
            for (i,) in conn.execute(
                select(queue_entry.c.item_id).where(queue_entry.c.model_version_id == latest["id"])
            )
        }
    assert latest["n_train"] == 60  # the model's own labels teach it nothing
    assert queued and not queued & auto_ids
    ann = lab.member("sent", "ann", "annotator")
    served = {int(t["item"]["id"]) for t in lab.label_next(ann, n=N_MIXED)}
    assert not served & auto_ids
    assert tasks.next_task(lab.db, ann) is None  # everything is labeled, by people or the model
    assert counts_of(lab, ctx)["remaining"] == 0


def test_items_someone_is_at_work_on_are_left_to_them(lab: Any, cache: FeatureCache) -> None:
    ctx = _project(lab, retrain_every=1000)
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    leases: list[dict[str, Any]] = []
    while not any(t["item"]["external_id"].startswith("doc-") for t in leases):
        task = tasks.next_task(lab.db, ann, held=[t["assignment_id"] for t in leases])
        assert task is not None
        leases.append(task)
    clear = [t for t in leases if t["item"]["external_id"].startswith("doc-")]
    preview = autolabel.apply(
        lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9, dry_run=True
    )
    assert preview["n_labeled"] == N_CLEAR  # a dry run counts what it would label
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert (done["n_labeled"], done["n_busy"]) == (N_CLEAR - len(clear), len(clear))
    held = clear[0]
    key = held["item"]["external_id"]
    assert key not in _labels(lab, ctx)
    tasks.submit(lab.db, ann, held["assignment_id"], {"sentiment": "neutral"}, active_ms=900)
    assert _labels(lab, ctx)[key].resolution == "single"


def test_undoing_a_run_sends_its_items_back_to_the_people(lab: Any, cache: FeatureCache) -> None:
    ctx = _project(lab)
    first = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    listed = autolabel.runs(lab.db, lab.member("sent", "rita", "reviewer"))
    [run] = listed["runs"]
    assert (run["id"], run["n_labeled"], run["n_current"]) == (
        first["run_id"],
        first["n_labeled"],
        first["n_labeled"],
    )
    assert run["applied_by"] == "admin" and run["model"]["eval_n"] == first["eval_n"]
    with pytest.raises(PermissionDenied):
        autolabel.undo(lab.db, lab.member("sent", "rita", "reviewer"), first["run_id"])
    with pytest.raises(PermissionDenied):  # the thresholds and runs are no annotator's
        autolabel.runs(lab.db, lab.member("sent", "ann", "annotator"))
    undone = autolabel.undo(lab.db, ctx, first["run_id"])
    assert undone["n_undone"] == first["n_labeled"]
    c = counts_of(lab, ctx)
    assert (c["auto_labeled"], c["remaining"]) == (0, N_CLEAR + N_MIXED)
    [run] = autolabel.runs(lab.db, ctx)["runs"]
    assert (run["n_current"], run["n_undone"], run["undone_by"]) == (0, first["n_labeled"], "admin")
    with pytest.raises(Conflict, match="undone already"):
        autolabel.undo(lab.db, ctx, first["run_id"])
    with pytest.raises(NotFound):
        autolabel.undo(lab.db, ctx, first["run_id"] + 1)
    # the undone items are the model's to label again, and a second run takes them
    again = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert again["n_labeled"] == first["n_labeled"] and again["run_id"] != first["run_id"]
    actions = [e["action"] for e in auditing.events(lab.db, ctx)]
    assert (actions.count("autolabel.apply"), actions.count("autolabel.undo")) == (2, 1)


def test_a_run_of_another_project_is_not_found(lab: Any, cache: FeatureCache) -> None:
    ctx = _project(lab)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    lab.project("other")
    other = lab.ctx("other", lab.admin)
    with pytest.raises(NotFound):
        autolabel.undo(lab.db, other, done["run_id"])
    assert autolabel.runs(lab.db, other)["runs"] == []
    assert counts_of(lab, ctx)["auto_labeled"] == done["n_labeled"]


def test_auto_labels_are_no_ones_throughput(lab: Any, cache: FeatureCache) -> None:
    from labelloop.workflow import insight

    ctx = _project(lab)
    autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    found = insight.report(lab.db, ctx, cache=cache)
    assert sum(found["throughput"]["resolved"]) == 0
    ann = lab.member("sent", "ann", "annotator")
    lab.train(ctx)
    lab.label_next(ann, n=2)
    found = insight.report(lab.db, ctx, cache=cache)
    assert sum(found["throughput"]["resolved"]) == 2
    # what the model's labels stand for, at the people's 1.5 s an answer (lab.label_next's)
    assert found["auto_labels"] == {
        "n": N_CLEAR,
        "hours": round(N_CLEAR * 1.5 / 3600, 2),
        "sentence": f"The model labeled {N_CLEAR} items in auto-label runs: at the 1.5 s people "
        "spent per answer here, about 60 seconds of labeling.",
    }


def test_label_studio_gets_auto_labels_as_predictions_and_they_come_back_as_such(
    lab: Any, cache: FeatureCache
) -> None:
    import io
    import json

    from labelloop.workflow import imports

    ctx = _project(lab)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt="label_studio")
    tasks_out = json.loads(sink.getvalue())
    auto = [t for t in tasks_out if "predictions" in t]
    assert len(auto) == done["n_labeled"] and len(tasks_out) == 60 + done["n_labeled"]
    for t in auto:  # the model's label, its probability and version; no one's annotation
        assert "annotations" not in t
        [prediction] = t["predictions"]
        assert prediction["score"] >= SURE
        [result] = prediction["result"]
        assert result["value"]["choices"] == [truth_of(t["data"]["text"])]
    back = lab.project("back")
    sink.seek(0)
    imports.import_items(lab.db, back, sink, fmt="label_studio", filename="ls.json")
    c = counts_of(lab, back)
    assert (c["labeled"], c["auto_labeled"], c["remaining"]) == (60, 0, done["n_labeled"])


def test_undoing_a_run_brings_a_round_that_queues_its_items_again(
    lab: Any, cache: FeatureCache
) -> None:
    ctx = _project(lab, retrain_every=1000)
    lab.train(ctx)  # the cold start queues all 50 unlabeled items
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert done["n_labeled"] == N_CLEAR
    assert not learning.due(lab.db, ctx.id)  # the mixed items are still queued
    ann = lab.member("sent", "ann", "annotator")
    served = lab.label_next(ann, n=N_MIXED)
    assert {t["item"]["external_id"][:4] for t in served} == {"mix-"}
    assert tasks.next_task(lab.db, ann) is None
    assert learning.due(lab.db, ctx.id)  # ten new labels and an empty queue
    lab.train(ctx)
    assert not learning.due(lab.db, ctx.id)  # all done: no round after round
    autolabel.undo(lab.db, ctx, done["run_id"])
    assert learning.due(lab.db, ctx.id)  # the undone items are work again
    lab.train(ctx)
    back = tasks.next_task(lab.db, ann)
    assert back is not None and back["item"]["external_id"].startswith("doc-")


def test_a_random_strategy_is_not_starved_by_the_models_labels(
    lab: Any, cache: FeatureCache
) -> None:
    # random picks as readily among the auto-labeled items: they must not reach its draw
    ctx = _project(lab, strategy="random", queue_size=5, batch_size=1, retrain_every=1)
    lab.train(ctx)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert done["n_labeled"] == N_CLEAR
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    served = []
    for _ in range(N_MIXED):  # every one left, a round at a time
        lab.train(ctx)
        served += lab.label_next(ann, n=1)
    assert {t["item"]["external_id"][:4] for t in served} == {"mix-"}
    with lab.db.read() as conn:
        latest = store_learning.latest(conn, ctx.id)
    assert latest["stopping"]["n_auto"] == N_CLEAR


def test_items_sent_to_the_queue_by_a_person_are_left_to_people(
    lab: Any, cache: FeatureCache
) -> None:
    from labelloop.workflow import seeding

    ctx = _project(lab)
    lab.train(ctx)
    wanted = [int(r["id"]) for r in seeding.search(lab.db, ctx, q="number 101")["items"]]
    assert wanted
    seeding.send_to_queue(lab.db, ctx, wanted, query="number 101")
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert (done["n_labeled"], done["n_busy"]) == (N_CLEAR - len(wanted), len(wanted))
    ann = lab.member("sent", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None and int(task["item"]["id"]) in wanted


def test_a_persons_answer_replaces_the_models_label_even_when_a_second_is_needed(
    lab: Any, cache: FeatureCache
) -> None:
    from labelloop.store import autolabel as store_autolabel

    ctx = _project(lab, overlap=2)
    lab.train(ctx)
    a, b = lab.member("sent", "a", "annotator"), lab.member("sent", "b", "annotator")
    leased = tasks.next_task(lab.db, a)
    item_id = int(leased["item"]["id"])
    with lab.db.write(project_id=ctx.id) as conn:  # a run that raced the lease (PostgreSQL)
        run_id = store_autolabel.insert_run(
            conn,
            project_id=ctx.id,
            confidence=0.9,
            min_accuracy=0.9,
            model={},
            n_labeled=1,
            by_label={"neutral": 1},
        )
        store_autolabel.label_items(
            conn,
            [
                {
                    "item_id": item_id,
                    "project_id": ctx.id,
                    "value": {"sentiment": "neutral"},
                    "label": "neutral",
                    "confidence": 0.9,
                    "auto_run_id": run_id,
                    "decided_by": None,
                }
            ],
        )
    answer = {"sentiment": truth_of(leased["item"]["data"]["text"])}
    assert (
        tasks.submit(lab.db, a, leased["assignment_id"], answer, active_ms=900)["resolution"]
        is None
    )
    assert counts_of(lab, ctx)["auto_labeled"] == 0  # the model's label gave way
    lab.train(ctx)
    served = [tasks.next_task(lab.db, b) for _ in range(1)]
    seen = {int(t["item"]["id"]) for t in served if t}
    held = [t["assignment_id"] for t in served if t]
    while item_id not in seen:  # b gets the item for its second answer
        task = tasks.next_task(lab.db, b, held=held)
        assert task is not None
        seen.add(int(task["item"]["id"]))
        held.append(task["assignment_id"])


def test_an_auto_labeled_item_is_pinned_only_with_a_persons_label(
    lab: Any, cache: FeatureCache
) -> None:
    from labelloop.workflow import guidelines

    ctx = _project(lab)
    autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    with pytest.raises(Unprocessable, match="has only the model's label: say which label"):
        guidelines.pin_example(lab.db, ctx, external_id="doc-100", note="clear")
    done = guidelines.pin_example(
        lab.db, ctx, external_id="doc-100", value={"sentiment": "negative"}, note="clear"
    )
    assert done["version"] >= 2


def test_a_spot_check_sends_some_of_a_runs_labels_to_people_blind_and_counts_agreement(
    lab: Any, cache: FeatureCache
) -> None:
    ctx = _project(lab)
    lab.train(ctx)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    rita = lab.member("sent", "rita", "reviewer")
    ann = lab.member("sent", "ann", "annotator")
    with pytest.raises(PermissionDenied):
        autolabel.spot_check(lab.db, ann, done["run_id"], 5)
    for n in (0, autolabel.MAX_CHECK + 1):
        with pytest.raises(Unprocessable, match="a spot check takes 1 to 1,000 labels"):
            autolabel.spot_check(lab.db, rita, done["run_id"], n)
    sent = autolabel.spot_check(lab.db, rita, done["run_id"], 6)
    assert sent["sent"] == 6 and len(set(sent["item_ids"])) == 6
    c = counts_of(lab, ctx)
    assert (c["auto_labeled"], c["remaining"]) == (N_CLEAR - 6, N_MIXED + 6)
    [run] = autolabel.runs(lab.db, rita)["runs"]
    assert run["checks"] == {
        "sent": 6,
        "answered": 0,
        "agreed": 0,
        "agreement": None,
        "interval": None,
    }
    # the checked items come first, blind: no suggestion, and the reason says why
    first = [tasks.next_task(lab.db, ann)]
    for _ in range(5):
        first.append(tasks.next_task(lab.db, ann, held=[t["assignment_id"] for t in first]))
    assert {int(t["item"]["id"]) for t in first} == set(sent["item_ids"])
    for t in first:
        reason = t["selection"]["reason"]
        assert reason == f"spot check of auto-label run {done['run_id']}, sent by rita"
        assert t["suggestion"] is None
    for k, t in enumerate(first):  # five truthful answers and one that disagrees
        truth = truth_of(t["item"]["data"]["text"])
        answer = truth if k else next(c for c in lab.classes if c != truth)
        tasks.submit(lab.db, ann, t["assignment_id"], {"sentiment": answer}, active_ms=800)
    [run] = autolabel.runs(lab.db, rita)["runs"]
    checks = run["checks"]
    assert (checks["sent"], checks["answered"], checks["agreed"]) == (6, 6, 5)
    assert checks["agreement"] == pytest.approx(5 / 6) and checks["interval"][0] < 5 / 6
    assert run["n_current"] == N_CLEAR - 6
    # undoing the run leaves the people's answers; a run with nothing standing has no check
    autolabel.undo(lab.db, ctx, done["run_id"])
    assert counts_of(lab, ctx)["labeled"] == 60 + 6
    with pytest.raises(Unprocessable, match="has no labels standing to check"):
        autolabel.spot_check(lab.db, ctx, done["run_id"], 5)
    lab.project("other")
    with pytest.raises(NotFound):
        autolabel.spot_check(lab.db, lab.ctx("other", lab.admin), done["run_id"], 5)
    actions = [e["action"] for e in auditing.events(lab.db, ctx)]
    assert actions.count("autolabel.check") == 1


def test_a_spot_check_counts_each_answer_and_only_peoples(lab: Any, cache: FeatureCache) -> None:
    ctx = _project(lab, overlap=2)
    lab.train(ctx)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    sent = autolabel.spot_check(lab.db, ctx, done["run_id"], 3)
    a, b = lab.member("sent", "a", "annotator"), lab.member("sent", "b", "annotator")
    first = tasks.next_task(lab.db, a)
    assert int(first["item"]["id"]) == sent["item_ids"][0]  # served in the order drawn
    truth = truth_of(first["item"]["data"]["text"])
    tasks.submit(lab.db, a, first["assignment_id"], {"sentiment": truth}, active_ms=500)
    second = tasks.next_task(lab.db, b)
    assert second["item"]["id"] == first["item"]["id"]  # the same item, for its second answer
    other = next(c for c in lab.classes if c != truth)
    tasks.submit(lab.db, b, second["assignment_id"], {"sentiment": other}, active_ms=500)
    checks = autolabel.runs(lab.db, ctx)["runs"][0]["checks"]
    assert (checks["sent"], checks["answered"], checks["agreed"]) == (3, 2, 1)  # a split: 1 of 2
    # a newer export's labels are no one's answer: they leave the check where it was
    rest = [i for i in sent["item_ids"] if i != int(first["item"]["id"])]
    with lab.db.read() as conn:
        texts = {
            int(r["id"]): r["payload"]["text"]
            for r in store_learning.items_of(conn, ctx.id, "pool")
            if int(r["id"]) in rest
        }
    from labelloop.workflow import imports

    newer = [{"text": t, "label": truth_of(t)} for t in texts.values()]
    report = imports.import_items(
        lab.db,
        ctx,
        lab.jsonl(newer),
        fmt="jsonl",
        filename="n.jsonl",
        label_field="label",
        update_labels=True,
    )
    assert (report.n_updated, report.n_kept) == (0, 2)  # sent to people: theirs to answer
    assert autolabel.runs(lab.db, ctx)["runs"][0]["checks"]["answered"] == 2


def test_an_answer_given_with_the_models_suggestion_showing_is_no_check_answer(
    lab: Any, cache: FeatureCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PostgreSQL race: an item leased (its suggestion showing) while a run was writing gets
    the model's label, and a check takes it back; the answer on that lease was not blind."""
    from labelloop.store import autolabel as store_autolabel

    ctx = _project(lab, retrain_every=1000)
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    leases: list[dict[str, Any]] = []
    while not any(t["item"]["external_id"].startswith("doc-") for t in leases):
        leases.append(tasks.next_task(lab.db, ann, held=[t["assignment_id"] for t in leases]))
    held = next(t for t in leases if t["item"]["external_id"].startswith("doc-"))
    assert held["suggestion"] is not None
    monkeypatch.setattr(store_autolabel, "busy_items", lambda *a, **k: set())  # the race
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    item_id = int(held["item"]["id"])
    with lab.db.write(project_id=ctx.id) as conn:
        [row] = [
            r for r in store_autolabel.standing(conn, done["run_id"]) if r["item_id"] == item_id
        ]
        store_autolabel.take_back(conn, done["run_id"], [row], by=None)
    truth = truth_of(held["item"]["data"]["text"])
    tasks.submit(lab.db, ann, held["assignment_id"], {"sentiment": truth}, active_ms=700)
    checks = autolabel.runs(lab.db, ctx)["runs"][0]["checks"]
    assert (checks["sent"], checks["answered"]) == (1, 0)


def test_a_spot_check_takes_back_at_most_half_a_run(lab: Any, cache: FeatureCache) -> None:
    ctx = _project(lab)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert autolabel.spot_check(lab.db, ctx, done["run_id"], 1_000)["sent"] == N_CLEAR // 2
    with pytest.raises(Unprocessable, match="to take it back whole, undo it"):
        autolabel.spot_check(lab.db, ctx, done["run_id"], 1)


def test_a_spot_check_shows_no_pre_annotation_and_is_recorded_as_such(
    lab: Any, cache: FeatureCache
) -> None:
    from sqlalchemy import update

    from labelloop.store.tables import item
    from labelloop.workflow import gain

    ctx = _project(lab)
    lab.train(ctx)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    sent = autolabel.spot_check(lab.db, ctx, done["run_id"], 2)
    with lab.db.write(project_id=ctx.id) as conn:  # every item comes with a pre-annotation
        conn.execute(
            update(item)
            .where(item.c.project_id == ctx.id)
            .values(prediction={"sentiment": "positive"})
        )
    ann = lab.member("sent", "ann", "annotator")
    served = []
    for _ in range(3):
        served.append(tasks.next_task(lab.db, ann, held=[t["assignment_id"] for t in served]))
    checks, other = served[:2], served[2]
    assert {int(t["item"]["id"]) for t in checks} == set(sent["item_ids"])
    for t in checks:
        assert t["suggestion"] is None and t["selection"]["strategy"] == "spot_check"
    assert other["suggestion"]["value"] == {"sentiment": "positive"}  # shown elsewhere
    again = tasks.next_task(lab.db, ann)  # the held lease, served again: still nothing shown
    assert again["assignment_id"] == checks[0]["assignment_id"] and again["suggestion"] is None
    for t in checks:
        answer = {"sentiment": truth_of(t["item"]["data"]["text"])}
        tasks.submit(lab.db, ann, t["assignment_id"], answer, active_ms=600)
    rows = {r.item_id: r for r in export.records(lab.db, ctx)}
    assert {rows[i].strategy for i in sent["item_ids"]} == {"spot_check"}
    assert gain.report(lab.db, ctx, cache=cache)["n_policy"] == 0  # people's picks, not the model's


def test_with_two_answers_a_label_the_model_saved_twice_the_time(
    lab: Any, cache: FeatureCache
) -> None:
    from labelloop.workflow import insight

    ctx = _project(lab, overlap=2)
    autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    lab.train(ctx)
    lab.label_next(lab.member("sent", "ann", "annotator"), n=2)  # 1.5 s an answer
    found = insight.report(lab.db, ctx, cache=cache)["auto_labels"]
    assert found["hours"] == round(N_CLEAR * 2 * 1.5 / 3600, 2)
    assert found["sentence"].endswith(
        "at the 1.5 s people spent per answer here and 2 answers a label, about 2 minutes of "
        "labeling."
    )


def _undo_while_scoring(
    lab: Any, monkeypatch: pytest.MonkeyPatch, ctx: Any, *, finish: bool
) -> None:
    """An undo of the pool's late import (``more.jsonl``) begins while the run scores the pool,
    after the model read its items: it withdraws them and (``finish``) removes them all."""
    from labelloop.store import batches as store_batches
    from labelloop.store.users import now
    from labelloop.workflow import batches
    from labelloop.workflow import coverage as wf_coverage

    with lab.db.read() as conn:
        listed = store_batches.listing(conn, ctx.id, at=now())
    batch = next(b for b in listed if b["filename"] == "more.jsonl")

    def scored_then_undone(*args: Any, **kwargs: Any) -> Any:
        found = wf_coverage.scored(*args, **kwargs)
        if finish:
            batches.undo(lab.db, ctx, batch["id"])
        else:  # the undo's first transaction: its items are withdrawn, none removed yet
            with lab.db.write(project_id=ctx.id) as conn:
                store_batches.unqueue(conn, batch["id"])
                store_batches.withdraw(conn, batch["id"], at=now())
        return found

    monkeypatch.setattr(autolabel, "scored", scored_then_undone)


def test_a_run_leaves_the_items_of_an_import_undone_meanwhile_and_the_undo_finishes(
    lab: Any, cache: FeatureCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The items of an import being undone are learned from by nobody: a run that scored them
    before the undo began labels none of them, so the undo goes on to the end."""
    from labelloop.workflow import batches

    ctx = _project(lab)
    _undo_while_scoring(lab, monkeypatch, ctx, finish=False)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert (done["n_labeled"], done["n_busy"]) == (0, 0)
    assert counts_of(lab, ctx)["auto_labeled"] == 0
    batch_id = next(b["id"] for b in batches.imports(lab.db, ctx) if b["undoing"])
    assert batches.undo(lab.db, ctx, batch_id)["items"] == N_CLEAR + N_MIXED


def test_a_run_leaves_the_items_an_undo_removed_meanwhile(
    lab: Any, cache: FeatureCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items removed with their import after the run scored them are not labeled, where the
    run failed on them (a label naming an item that is gone)."""
    ctx = _project(lab)
    _undo_while_scoring(lab, monkeypatch, ctx, finish=True)
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=SURE, min_accuracy=0.9)
    assert (done["n_labeled"], done["n_busy"]) == (0, 0)
    assert counts_of(lab, ctx)["auto_labeled"] == 0
