"""A newer export imported again: with update_labels the items already here take its labels,
unless people labeled them here; without it nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import ImportFormatError
from labelloop.store.items import counts
from labelloop.workflow import auditing, export, imports, quality, tasks
from labelloop.workflow.features import FeatureCache
from tests.conftest import auto_project, make_rows, truth_of


def _labels(lab: Any, ctx: Any) -> dict[str, tuple[str, str]]:
    """Exported label and resolution by external id."""
    return {r.external_id: (r.label, r.resolution) for r in export.records(lab.db, ctx)}


def _import(lab: Any, ctx: Any, rows: list[dict[str, Any]], **kw: Any) -> Any:
    return imports.import_items(
        lab.db,
        ctx,
        lab.jsonl(rows),
        fmt="jsonl",
        filename="newer.jsonl",
        id_field="id",
        label_field="label",
        **kw,
    )


def _flip(label: str) -> str:
    classes = ("negative", "neutral", "positive")
    return classes[(classes.index(label) + 1) % 3]


def test_a_newer_export_updates_unlabeled_and_imported_labels_and_keeps_peoples(
    lab: Any,
) -> None:
    ctx = lab.project(retrain_every=1000)
    rows = make_rows(12)
    lab.import_rows(
        ctx, rows[:4] + [{**r, "label": truth_of(r["text"])} for r in rows[4:8]], labeled=True
    )
    lab.import_rows(ctx, rows[8:], filename="more.jsonl")
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    served = lab.label_next(ann, n=2)  # people label two of the unlabeled ones here
    by_people = {t["item"]["external_id"] for t in served}
    gold = next(r["id"] for r in rows[8:] if r["id"] not in by_people)
    quality.set_gold(lab.db, ctx, {"sentiment": "neutral"}, external_id=gold)

    # The newer export: every item labeled, each with the next class, plus one new item.
    newer = [{**r, "label": _flip(truth_of(r["text"]))} for r in rows]
    newer.append({"id": "doc-99", "text": "great great doc number 99", "label": "positive"})
    plain = _import(lab, ctx, newer)
    assert (plain.n_items, plain.n_duplicates, plain.n_updated, plain.n_kept) == (1, 12, 0, 0)
    assert _labels(lab, ctx)["doc-4"] == (truth_of(rows[4]["text"]), "imported")  # unchanged

    newer[-1] = {**newer[-1], "id": "doc-98", "text": "love love doc number 98"}
    report = _import(lab, ctx, newer, update_labels=True)
    gold_or_people = by_people | {gold}
    assert report.n_items == 1 and report.n_duplicates == 12
    assert report.n_updated == 12 - len(gold_or_people)
    assert report.n_kept == len(by_people) + 1  # the gold check's answer stays too
    assert len(report.kept_lines) == report.n_kept
    labels = _labels(lab, ctx)
    for r in rows:
        key = r["id"]
        if key in by_people:
            assert labels[key][1] == "single", key  # people's labels here win
        elif key != gold:
            assert labels[key] == (_flip(truth_of(r["text"])), "imported"), key
    with lab.db.read() as conn:
        c = counts(conn, ctx.id)
    assert c["remaining"] == 0  # every item is labeled now, the gold check aside
    assert tasks.next_task(lab.db, ann) is None  # and none is served any more
    events = [e for e in auditing.events(lab.db, ctx) if e["action"] == "import"]
    assert events[0]["payload"]["updated"] == report.n_updated

    again = _import(lab, ctx, newer, update_labels=True)  # the same file: nothing to change
    assert (again.n_updated, again.n_kept) == (0, len(by_people) + 1)


def test_an_auto_label_gives_way_to_a_newer_exports_label(lab: Any, tmp_path: Any) -> None:
    from labelloop.workflow import autolabel

    ctx = auto_project(lab, "sent")
    done = autolabel.apply(
        lab.db, ctx, cache=FeatureCache(tmp_path / "f"), confidence=0.78, min_accuracy=0.9
    )
    assert done["n_labeled"] > 0
    newer = [{**r, "label": truth_of(r["text"])} for r in make_rows(40, start=100)]
    report = _import(lab, ctx, newer, update_labels=True)
    assert report.n_updated == 40
    with lab.db.read() as conn:
        assert counts(conn, ctx.id)["auto_labeled"] == 0


@pytest.mark.parametrize("update_labels", [False, True])
def test_a_bad_label_on_a_duplicate_still_refuses_the_whole_file(
    lab: Any, update_labels: bool
) -> None:
    # A label not in the schema is a mistake in the file, whether or not its record is new:
    # without update_labels the file came in, saying "1 duplicate carries a label not read"
    ctx = lab.project()
    rows = make_rows(3)
    lab.import_rows(ctx, rows)
    new = {"id": "doc-99", "text": "great great doc number 99", "label": "positive"}
    bad = [{**rows[0], "label": "negative"}, new, {**rows[1], "label": "furious"}]
    with pytest.raises(ImportFormatError) as caught:
        _import(lab, ctx, bad, update_labels=update_labels)
    assert caught.value.line == 3 and caught.value.field == "label"
    assert caught.value.reason == "sentiment: 'furious' is not one of negative, neutral, positive"
    assert _labels(lab, ctx) == {}  # nothing written
    with lab.db.engine.connect() as conn:
        assert counts(conn, ctx.id)["pool"] == 3

    # a record repeating an earlier line of the file is held to the same rule
    again = [new, {**new, "id": "doc-100", "label": "furious"}]
    with pytest.raises(ImportFormatError) as caught:
        _import(lab, ctx, again, update_labels=update_labels)
    assert caught.value.line == 2 and "'furious' is not one of" in caught.value.reason


def test_items_people_are_at_work_on_keep_their_own(lab: Any) -> None:
    ctx = lab.project(overlap=2, retrain_every=1000)
    rows = make_rows(6)
    lab.import_rows(ctx, rows)
    lab.train(ctx)
    a, b = lab.member("sent", "a", "annotator"), lab.member("sent", "b", "annotator")
    answered = lab.label_next(a, n=1)[0]  # waits for a second answer
    leased = tasks.next_task(lab.db, b, held=[])  # b holds a lease, maybe on another item
    busy = {answered["item"]["external_id"], leased["item"]["external_id"]}
    newer = [{**r, "label": _flip(truth_of(r["text"]))} for r in rows]
    report = _import(lab, ctx, newer, update_labels=True)
    assert (report.n_updated, report.n_kept) == (6 - len(busy), len(busy))
    labels = _labels(lab, ctx)
    assert not busy & set(labels)  # left to the people
    # b's answer goes where it would have: never under the file's label
    tasks.submit(lab.db, b, leased["assignment_id"], {"sentiment": "neutral"}, active_ms=700)
    after = _labels(lab, ctx).get(leased["item"]["external_id"])
    assert after is None or after[1] != "imported"


def test_one_file_gives_each_item_one_label(lab: Any) -> None:
    ctx = lab.project()
    rows = make_rows(3)
    lab.import_rows(ctx, rows)
    clash = [{**rows[0], "label": "negative"}, {**rows[1], "label": "neutral"}]
    clash.append({**rows[0], "id": "again", "label": "positive"})
    with pytest.raises(ImportFormatError) as caught:
        _import(lab, ctx, clash, update_labels=True)
    assert caught.value.line == 3
    assert "labels the same content as line 1 differently ('positive', not 'negative')" in (
        caught.value.reason
    )
    # new content first without a label, then with one: the label is kept
    fresh = [
        {"id": "n1", "text": "wonderful best doc number 77"},
        {"id": "n2", "text": "wonderful best doc number 77", "label": "positive"},
    ]
    report = _import(lab, ctx, fresh, update_labels=True)
    assert (report.n_items, report.n_updated) == (1, 1)
    assert _labels(lab, ctx)["n1"] == ("positive", "imported")


def test_only_items_of_the_split_imported_into_are_updated(lab: Any) -> None:
    ctx = lab.project()
    rows = make_rows(4)
    lab.import_rows(ctx, rows, split="eval")
    newer = [{**r, "label": truth_of(r["text"])} for r in rows]
    report = _import(lab, ctx, newer, update_labels=True)  # into the pool
    assert (report.n_items, report.n_duplicates, report.n_updated) == (0, 4, 0)
    report = _import(lab, ctx, newer, update_labels=True, split="eval")
    assert report.n_updated == 4


def test_a_file_imported_again_for_its_labels_says_they_were_not_used(lab: Any) -> None:
    # it said "0 with labels, 3 duplicates skipped", as if the file held no labels
    ctx = lab.project()
    rows = make_rows(3, labeled=True)
    lab.import_rows(ctx, [{k: v for k, v in r.items() if k != "label"} for r in rows])
    report = _import(lab, ctx, [rows[0], rows[1], {**rows[2], "label": ""}])
    assert (report.n_items, report.n_labeled, report.n_duplicates) == (0, 0, 3)
    assert report.notes == (
        "2 duplicates carry labels not used: the item a duplicate repeats (already here, or "
        "earlier in the file) keeps its own; to give items already here the file's labels, "
        'import it again with --update-labels (on the page: "Update labels of items already '
        'here")',
    )
    assert _labels(lab, ctx) == {}
    updated = _import(lab, ctx, rows[:2], update_labels=True)
    assert updated.n_updated == 2 and updated.notes == ()
