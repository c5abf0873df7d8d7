"""doccano and Prodigy files through a project: labels exported and imported into a fresh
project come back the same, a text several annotators labeled is one item, and a bad record
leaves the project as it was."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.workflow import export, imports, projects
from tests.conftest import Lab

TEXTS = ["Ann flew to Rome", "Bob stayed in Oslo", "A quiet day", "Rome is old"]
CASES: dict[str, dict[str, Any]] = {
    "choice": {
        "control": {"name": "c", "type": "choice", "labels": ["pos", "neg", "mixed"]},
        "labels": ["pos", "neg", "mixed", None],
    },
    "multi_choice": {
        "control": {"name": "topics", "type": "multi_choice", "labels": ["travel", "home"]},
        "labels": [["travel"], ["home", "travel"], ["home"], None],
    },
    "spans": {
        "control": {"name": "ents", "type": "spans", "labels": ["PER", "LOC"]},
        "labels": [
            [[12, 16, "LOC"], [0, 3, "PER"]],
            [{"start": 0, "end": 3, "label": "PER"}, [14, 18, "LOC"]],
            [],
            None,
        ],
    },
}


def _project(lab: Lab, slug: str, control: dict[str, Any], data_type: str = "text") -> Any:
    schema = {"name": slug, "data": {"type": data_type}, "controls": [control]}
    projects.create_project(lab.db, slug, schema, actor=lab.admin)
    return lab.ctx(slug, lab.admin)


def _export(lab: Lab, ctx: Any, fmt: str) -> bytes:
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt=fmt)
    return sink.getvalue()


def _labels(lab: Lab, ctx: Any) -> dict[str | None, Any]:
    """external id -> the target's label, as labelloop's own export says it."""
    rows = [json.loads(line) for line in _export(lab, ctx, "jsonl").decode().splitlines()]
    return {r["external_id"]: r["label"] for r in rows}


def _import(lab: Lab, ctx: Any, data: bytes | str, fmt: str, **options: Any) -> Any:
    raw = data.encode() if isinstance(data, str) else data
    return imports.import_items(
        lab.db, ctx, io.BytesIO(raw), fmt=fmt, filename=f"in.{fmt}.jsonl", **options
    )


@pytest.mark.parametrize("fmt", ["doccano", "prodigy"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_labels_survive_an_export_and_an_import(lab: Lab, fmt: str, case: str) -> None:
    control, labels = CASES[case]["control"], CASES[case]["labels"]
    first = _project(lab, "first", control)
    rows = [
        {"id": f"t{i}", "text": text, "label": label}
        for i, (text, label) in enumerate(zip(TEXTS, labels, strict=True))
    ]
    imports.import_items(
        lab.db,
        first,
        lab.jsonl(rows),
        fmt="jsonl",
        filename="in.jsonl",
        id_field="id",
        label_field="label",
    )
    before = _labels(lab, first)
    assert set(before) == {"t0", "t1", "t2"}
    second = _project(lab, "second", control)
    id_field = "id" if fmt == "prodigy" else None  # Prodigy's export keeps it in meta.id
    report = _import(lab, second, _export(lab, first, fmt), fmt, id_field=id_field)
    after = _labels(lab, second)
    if fmt == "doccano" and case == "spans":
        # doccano writes [] for "no entity" and for "not labeled yet" alike: read as the latter
        assert report.n_labeled == 2 and "t2" not in after
        del before["t2"]
    else:
        assert report.n_labeled == 3
    assert after == before


def test_a_prodigy_text_several_annotators_labeled_is_one_item(lab: Lab) -> None:
    ctx = _project(lab, "mood", CASES["choice"]["control"])
    tasks = [
        {"text": "Ann flew to Rome", "label": "pos", "answer": "accept", "_annotator_id": "a"},
        {"text": "Ann flew to Rome", "label": "pos", "answer": "accept", "_annotator_id": "b"},
        {"text": "A quiet day", "label": "neg", "answer": "reject", "_annotator_id": "a"},
        {"text": "A quiet day", "label": "mixed", "answer": "accept", "_annotator_id": "b"},
    ]
    data = "\n".join(json.dumps(t) for t in tasks)
    report = _import(lab, ctx, data, "prodigy")
    assert (report.n_items, report.n_labeled, report.duplicate_lines) == (2, 1, (2, 4))
    assert report.notes[0].startswith("2 duplicates carry labels not used")  # b's answers
    assert report.notes[1:] == (
        "1 rejected answer came in unlabeled (metadata prodigy_answer): a reject says only "
        "what an item is not",
    )
    assert _labels(lab, ctx) == {None: "pos"}  # the first line of a text wins; no ids
    # importing again with update_labels gives the rejected item the later accepted label
    again = _import(lab, ctx, data, "prodigy", update_labels=True)
    assert (again.n_items, again.n_updated) == (0, 1)
    rows = [json.loads(x) for x in _export(lab, ctx, "jsonl").decode().splitlines()]
    assert [(r["text"], r["label"]) for r in rows] == [
        ("Ann flew to Rome", "pos"),
        ("A quiet day", "mixed"),
    ]


def test_annotators_who_disagree_are_refused_when_labels_are_updated(lab: Lab) -> None:
    ctx = _project(lab, "mood", CASES["choice"]["control"])
    tasks = [
        {"text": "Ann flew to Rome", "label": "pos", "answer": "accept"},
        {"text": "Ann flew to Rome", "label": "neg", "answer": "accept"},
    ]
    with pytest.raises(ImportFormatError, match="line 2.*same content as line 1 differently"):
        _import(lab, ctx, "\n".join(json.dumps(t) for t in tasks), "prodigy", update_labels=True)


@pytest.mark.parametrize("fmt", ["doccano", "prodigy"])
def test_a_bad_line_after_good_ones_writes_nothing(
    lab: Lab, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "CHUNK", 1)  # the good lines are flushed before the bad one
    ctx = _project(lab, "ents", CASES["spans"]["control"])
    if fmt == "doccano":
        lines = [{"id": k, "text": t, "label": [[0, 3, "PER"]]} for k, t in enumerate(TEXTS)]
        lines[2]["label"] = [[0, 40, "PER"]]
    else:
        lines = [
            {"text": t, "spans": [{"start": 0, "end": 3, "label": "PER"}], "answer": "accept"}
            for t in TEXTS
        ]
        lines[2]["spans"] = [{"start": 0, "end": 40, "label": "PER"}]
    with pytest.raises(ImportFormatError) as caught:
        _import(lab, ctx, "\n".join(json.dumps(x) for x in lines), fmt)
    assert caught.value.line == 3
    assert "end 40 is past the end of the text (11)" in caught.value.message
    assert _export(lab, ctx, "jsonl") == b""
    with lab.db.read() as conn:
        from sqlalchemy import func, select

        from labelloop.store.tables import item

        assert conn.execute(select(func.count()).select_from(item)).scalar() == 0


def test_an_html_project_moves_through_prodigy(lab: Lab) -> None:
    control = {"name": "mood", "type": "choice", "labels": ["pos", "neg"]}
    first = _project(lab, "pages", control, data_type="html")
    task = {"html": "<p>Great <b>value</b><script>x()</script></p>", "label": "pos"}
    assert _import(lab, first, json.dumps(task | {"answer": "accept"}), "prodigy").n_labeled == 1
    (exported,) = [json.loads(line) for line in _export(lab, first, "prodigy").splitlines()]
    assert exported["html"] == "<p>Great <b>value</b></p>"  # as stored: sanitized
    assert exported["text"] == "Great value"
    second = _project(lab, "pages2", control, data_type="html")
    assert _import(lab, second, json.dumps(exported), "prodigy").n_labeled == 1
    rows = [json.loads(x) for x in _export(lab, second, "jsonl").decode().splitlines()]
    assert [(r["text"], r["label"]) for r in rows] == [("<p>Great <b>value</b></p>", "pos")]


def test_a_table_project_is_refused_both_ways(lab: Lab) -> None:
    schema = {
        "name": "Rows",
        "data": {"type": "table", "field": "row", "columns": ["a"]},
        "controls": [{"name": "c", "type": "choice", "labels": ["x", "y"]}],
    }
    projects.create_project(lab.db, "rows", schema, actor=lab.admin)
    ctx = lab.ctx("rows", lab.admin)
    for fmt in ("doccano", "prodigy"):
        with pytest.raises(LabelloopError):
            _import(lab, ctx, '{"text": "x"}', fmt)
        with pytest.raises(LabelloopError, match="holds text and HTML items"):
            _export(lab, ctx, fmt)


def test_doccano_relations_left_out_are_counted_in_the_report(lab: Lab) -> None:
    ctx = _project(lab, "ents", CASES["spans"]["control"])
    example = {
        "id": 1,
        "text": "Ann flew to Rome",
        "entities": [
            {"id": 1, "label": "PER", "start_offset": 0, "end_offset": 3},
            {"id": 2, "label": "LOC", "start_offset": 12, "end_offset": 16},
        ],
        "relations": [{"id": 9, "from_id": 1, "to_id": 2, "type": "went_to"}],
    }
    report = _import(lab, ctx, json.dumps(example), "doccano")
    assert report.n_labeled == 1
    assert report.notes == ("1 relation was left out: labelloop has no relations",)


@pytest.mark.parametrize("fmt", ["doccano", "label_studio"])
def test_each_exported_label_says_the_guideline_version_it_was_made_under(
    lab: Lab, fmt: str
) -> None:
    from labelloop.workflow import guidelines, tasks

    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "x", "text": "great service"}, {"id": "y", "text": "so slow"}])
    lab.train(ctx)  # the cold-start queue: each pick has its reason
    ann = lab.member("sent", "ann", "annotator")
    truth = {"x": "positive", "y": "negative"}

    def label() -> dict[str, Any]:
        task = tasks.next_task(lab.db, ann)
        value = {"sentiment": truth[task["item"]["external_id"]]}
        tasks.submit(lab.db, ann, task["assignment_id"], value, active_ms=900)
        return dict(task)

    first = label()
    guidelines.edit(lab.db, ctx, "Label the author's attitude. Delays are negative.", "delays")
    second = label()
    under = {first["item"]["external_id"]: 1, second["item"]["external_id"]: 2}

    out = _export(lab, ctx, fmt)
    if fmt == "doccano":
        trails = {r["id"]: r for r in map(json.loads, out.decode().splitlines())}
    else:
        trails = {t["id"]: t["meta"] for t in json.loads(out)}
        versions = {t["id"]: t["annotations"][0]["guideline_version"] for t in json.loads(out)}
        assert versions == under
    assert {k: t["guideline_version"] for k, t in trails.items()} == under
    # The rest of the trail is what labelloop's own export says of each label.
    own = {r["external_id"]: r for r in map(json.loads, _export(lab, ctx, "jsonl").splitlines())}
    for key in ("annotator", "annotated_at", "schema_version", "strategy", "reason"):
        assert {k: t[key] for k, t in trails.items()} == {k: own[k][key] for k in trails}, key
    assert {t["annotator"] for t in trails.values()} == {"ann"}
    assert all(t["reason"] for t in trails.values())

    # Imported into another project, the labels come back, and the trail as their metadata.
    moved = _project(lab, "moved", {"name": "sentiment", "type": "choice", "labels": lab.classes})
    report = _import(lab, moved, out, fmt)
    assert report.n_labeled == 2
    assert _labels(lab, moved) == truth
    rows = [json.loads(line) for line in _export(lab, moved, "jsonl").decode().splitlines()]
    assert {r["external_id"]: r["metadata"]["guideline_version"] for r in rows} == under


def _three_answered(lab: Lab) -> Any:
    """One item that ann and bob label positive and cy negative (overlap 3): its label is the
    consensus, positive, with three annotators behind it."""
    from labelloop.workflow import tasks

    ctx = lab.project(overlap=3)
    lab.import_rows(ctx, [{"id": "x", "text": "great service"}])
    lab.train(ctx)
    for name, given in (("ann", "positive"), ("bob", "positive"), ("cy", "negative")):
        who = lab.member("sent", name, "annotator")
        task = tasks.next_task(lab.db, who)
        assert task is not None and task["item"]["external_id"] == "x"
        tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": given}, active_ms=900)
    (row,) = [json.loads(line) for line in _export(lab, ctx, "jsonl").splitlines()]
    assert (row["label"], row["resolution"], row["annotators"]) == (
        "positive",
        "consensus",
        ["ann", "bob", "cy"],
    )
    return ctx


def test_label_studio_holds_an_annotation_per_annotator_behind_a_label(lab: Lab) -> None:
    """The Label Studio export of a label three annotators gave holds each one's own answer as
    their annotation (cy's negative too, not the label under her name), the first answer that
    is the label starred as ground truth; imported back the label is the same, and with every
    answer each annotator's answer comes in as theirs."""
    ctx = _three_answered(lab)
    (task,) = json.loads(_export(lab, ctx, "label_studio"))
    said = [
        (a["created_username"], a["result"][0]["value"]["choices"], a["ground_truth"])
        for a in task["annotations"]
    ]
    assert said == [
        ("ann", ["positive"], True),
        ("bob", ["positive"], False),
        ("cy", ["negative"], False),
    ]
    assert all(a["guideline_version"] == 1 and a["lead_time"] == 0.9 for a in task["annotations"])
    assert task["meta"]["annotators"] == ["ann", "bob", "cy"]

    moved = _project(lab, "moved", {"name": "sentiment", "type": "choice", "labels": lab.classes})
    _import(lab, moved, json.dumps([task]), "label_studio")
    assert _labels(lab, moved) == {"x": "positive"}
    again = _project(lab, "again", {"name": "sentiment", "type": "choice", "labels": lab.classes})
    for name in ("ann", "bob", "cy"):
        lab.member("again", name, "annotator")
    _import(lab, again, json.dumps([task]), "label_studio", answers=True)
    (row,) = [json.loads(line) for line in _export(lab, again, "jsonl").splitlines()]
    assert (row["label"], row["annotators"]) == ("positive", ["ann", "bob", "cy"])


def test_each_annotators_label_studio_annotation_says_why_the_item_was_served_to_them(
    lab: Lab,
) -> None:
    """ann is served x from the cold-start queue; ben's answer to it comes in from Label Studio
    (overlap 2: the two resolve its label). In the Label Studio export each one's annotation
    says how and why the item reached them, as the answers export says it of their answer (ben's
    is the import, not ann's pick); imported back, the label is the same, and with every answer
    both are its annotators again."""
    from labelloop.workflow import tasks
    from tests.workflow.test_workflow_label_studio_answers import answer

    ctx = lab.project(overlap=2)
    lab.import_rows(ctx, [{"id": "x", "text": "great service"}])
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    lab.member("sent", "ben", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None and task["item"]["external_id"] == "x"
    tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "positive"}, active_ms=900)
    joined = {"id": 7, "data": {"text": "great service"}}
    joined["annotations"] = [answer("ben", "positive", ann_id=31)]
    _import(lab, ctx, json.dumps([joined]), "label_studio", answers=True)

    (task_out,) = json.loads(_export(lab, ctx, "label_studio"))
    served = {a["created_username"]: (a["strategy"], a["reason"]) for a in task_out["annotations"]}
    answered = {r.annotator: (r.strategy, r.reason) for r in export.answer_records(lab.db, ctx)}
    assert served == answered
    assert served["ben"][0] == "import"
    assert served["ben"][1].startswith("answered in Label Studio (annotation 31)")
    assert served["ann"][0] != "import" and served["ann"][1]
    assert task_out["meta"]["annotators"] == ["ann", "ben"]

    moved = _project(lab, "moved", {"name": "sentiment", "type": "choice", "labels": lab.classes})
    _import(lab, moved, json.dumps([task_out]), "label_studio")
    assert _labels(lab, moved) == {"x": "positive"}
    again = _project(lab, "again", {"name": "sentiment", "type": "choice", "labels": lab.classes})
    for name in ("ann", "ben"):
        lab.member("again", name, "annotator")
    _import(lab, again, json.dumps([task_out]), "label_studio", answers=True)
    (row,) = [json.loads(line) for line in _export(lab, again, "jsonl").splitlines()]
    assert (row["label"], sorted(row["annotators"])) == ("positive", ["ann", "ben"])


@pytest.mark.parametrize("fmt", ["doccano", "prodigy"])
def test_doccano_and_prodigy_name_every_annotator_behind_a_label(lab: Lab, fmt: str) -> None:
    """doccano's example and Prodigy's task name all three annotators and their guideline
    versions, as labelloop's own export does (Prodigy also as the sessions behind the task, as
    its review recipe writes them); imported back, the label is the same."""
    ctx = _three_answered(lab)
    (example,) = [json.loads(line) for line in _export(lab, ctx, fmt).splitlines()]
    trail = example if fmt == "doccano" else example["meta"]
    assert (trail["annotators"], trail["guideline_versions"]) == (["ann", "bob", "cy"], [1, 1, 1])
    if fmt == "prodigy":
        assert example["sessions"] == ["ann", "bob", "cy"]
        assert example["_annotator_id"] == "ann"
    moved = _project(lab, "moved", {"name": "sentiment", "type": "choice", "labels": lab.classes})
    _import(
        lab, moved, json.dumps(example), fmt, **({"id_field": "id"} if fmt == "prodigy" else {})
    )
    assert _labels(lab, moved) == {"x": "positive"}
    (back,) = [json.loads(line) for line in _export(lab, moved, "jsonl").splitlines()]
    assert "sessions" not in back["metadata"]  # named once, as the annotators in meta
