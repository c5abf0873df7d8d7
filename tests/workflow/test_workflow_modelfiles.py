"""A project's model as a file: the classifier a round would train, with the featurizer that
reads new items, written, loaded and used outside the project; refused where it cannot be."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.errors import LabelloopError, PermissionDenied
from labelloop.store.tables import audit_event
from labelloop.workflow import learning, modelfiles, projects
from labelloop.workflow.features import FeatureCache
from tests.conftest import TAGS_SCHEMA


@pytest.fixture
def labeled(lab: Any) -> Any:
    """'sent' with 60 labeled pool items, 20 unlabeled ones and 9 labeled eval items."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(60, labeled=True), labeled=True)
    lab.import_rows(ctx, lab.rows(20, start=500, prefix="un"))
    lab.import_rows(
        ctx, lab.rows(9, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    return ctx


def test_the_file_predicts_as_the_projects_own_round_measured(lab: Any, labeled: Any) -> None:
    cache = FeatureCache()
    version = learning.train(lab.db, labeled, cache=cache)
    model = modelfiles.build(lab.db, labeled, cache=cache)

    info = model.info
    assert info["project"] == "sent" and info["model_version"] == version
    assert info["featurizer"] == "tfidf" and info["featurizer_note"] is None
    assert info["model"] == "LogisticRegression" and info["n_train"] == 60
    assert sum(info["labels"].values()) == 60 and set(info["labels"]) == set(model.classes)
    # Same labels, features and model as the round: the same eval figures.
    with lab.db.read() as conn:
        from labelloop.store import learning as store_learning

        round_metrics = store_learning.latest(conn, labeled.id)["metrics"]
    assert info["metrics"]["accuracy"] == pytest.approx(round_metrics["accuracy"], abs=1e-4)
    assert info["metrics"]["n_eval"] == 9

    buffer = io.BytesIO()
    modelfiles.write(model, buffer)
    buffer.seek(0)
    again = modelfiles.load(buffer)
    texts = [r["text"] for r in lab.rows(9, start=1000, prefix="ev", labeled=True)]
    truth = [r["label"] for r in lab.rows(9, start=1000, prefix="ev", labeled=True)]
    predicted = again.predict(texts)
    assert predicted == model.predict([{"text": t} for t in texts])  # str == text payload
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    assert accuracy == pytest.approx(info["metrics"]["accuracy"], abs=1e-4)
    proba = again.predict_proba(texts)
    assert proba.shape == (9, len(model.classes))
    assert proba.sum(axis=1) == pytest.approx([1.0] * 9)
    assert again.predict([]) == []


def test_building_is_audited_and_needs_the_export_permission(lab: Any, labeled: Any) -> None:
    modelfiles.build(lab.db, labeled, cache=FeatureCache())
    with lab.db.read() as conn:
        events = list(
            conn.execute(
                select(audit_event).where(audit_event.c.action == "model.export")
            ).mappings()
        )
    assert len(events) == 1 and events[0]["payload"]["n_train"] == 60
    annotator = lab.member("sent", "ann", "annotator")
    with pytest.raises(PermissionDenied):
        modelfiles.build(lab.db, annotator, cache=FeatureCache())


def test_a_model_needs_labels_of_two_classes(lab: Any) -> None:
    ctx = lab.project()
    rows = [r for r in lab.rows(30, labeled=True) if r["label"] == "positive"]
    lab.import_rows(ctx, rows, labeled=True)
    with pytest.raises(LabelloopError, match=r"labels of 1 class \(positive\); a model needs two"):
        modelfiles.build(lab.db, ctx, cache=FeatureCache())


def test_a_multi_label_project_has_no_single_classifier_to_export(lab: Any) -> None:
    projects.create_project(lab.db, "tags", TAGS_SCHEMA, actor=lab.admin)
    with pytest.raises(LabelloopError) as caught:
        modelfiles.build(lab.db, lab.ctx("tags", lab.admin), cache=FeatureCache())
    assert caught.value.message == (
        "a model file holds a single-label classifier; project 'tags' labels multi_choice "
        "('topics')"
    )


def test_anything_but_a_model_file_is_refused(tmp_path: Path) -> None:
    not_joblib = tmp_path / "notes.joblib"
    not_joblib.write_text("hello")
    with pytest.raises(LabelloopError, match="notes.joblib is not a labelloop model file"):
        modelfiles.load(not_joblib)
    other = tmp_path / "other.joblib"
    import joblib

    joblib.dump({"a": 1}, other)
    with pytest.raises(LabelloopError, match="it holds a dict, not a labelloop-project-model/1 "):
        modelfiles.load(other)


def test_embeddings_come_from_the_cache_once_computed_and_tfidf_stands_in_before(
    lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import FEATURIZERS, StackedFeaturizer
    from tests.workflow.test_workflow_seeding import FakeEmbedding

    class TfidfFake(StackedFeaturizer):
        parts = ("tfidf", "fake")

    monkeypatch.setitem(FEATURIZERS._classes, "fake", FakeEmbedding)
    monkeypatch.setitem(FEATURIZERS._classes, "tfidf+fake", TfidfFake)
    ctx = lab.project("both", featurizer="tfidf+fake")
    lab.import_rows(ctx, lab.rows(60, labeled=True), labeled=True)
    lab.import_rows(
        ctx, lab.rows(9, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    cache = FeatureCache(tmp_path / "features")
    FakeEmbedding.calls = []

    before = modelfiles.build(lab.db, ctx, cache=cache)
    assert before.info["featurizer"] == "tfidf" and FakeEmbedding.calls == []  # nobody waited
    assert before.info["featurizer_note"] == (
        "'tfidf+fake' has not computed every item's features yet, so this model reads tfidf"
    )

    learning.train(lab.db, ctx, cache=cache)  # the learner computes and stores the rows
    FakeEmbedding.calls = []
    after = modelfiles.build(lab.db, ctx, cache=cache)
    assert after.info["featurizer"] == "tfidf+fake" and after.info["featurizer_note"] is None
    assert FakeEmbedding.calls == []  # read from the cache, not computed again
    # The file's featurizer makes the columns the cached rows had: same figures on eval.
    eval_rows = lab.rows(9, start=1000, prefix="ev", labeled=True)
    predicted = after.predict([r["text"] for r in eval_rows])
    hits = sum(p == r["label"] for p, r in zip(predicted, eval_rows, strict=True))
    assert hits / 9 == pytest.approx(after.info["metrics"]["accuracy"], abs=1e-4)


@pytest.mark.parametrize("swapped", ["pipe", "link"])
def test_an_image_a_record_names_is_read_as_it_was_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str
) -> None:
    """`labelloop model predict` checked that a record's image was a file, then opened it by
    its path: a named pipe put in its place meanwhile hung the prediction for good, and a link
    put there was read instead. It is opened as serving opens an image, and refused naming the
    record's line."""
    from PIL import Image

    from labelloop.errors import ImportFormatError
    from labelloop.learn.exported import ProjectModel
    from tests.media_swaps import outcome_of, pipe_seen_as_file, swap_once_seen

    model = ProjectModel(
        featurizer=None, estimator=None, classes=("x", "y"), info={"data_type": "image"}
    )
    target = tmp_path / "new" / "a.png"
    target.parent.mkdir()
    Image.new("L", (4, 4), 10).save(target)
    secret = tmp_path / "secret.png"
    Image.new("L", (4, 4), 250).save(secret)
    if swapped == "link":
        swap_once_seen(monkeypatch, target, to=secret)
    else:
        target.unlink()
        pipe_seen_as_file(monkeypatch, target)
    records = io.BytesIO(f'{{"path": "{target}"}}\n'.encode())
    outcome = outcome_of(
        lambda: list(modelfiles.read_items(model, records, fmt="jsonl", text_field="path")),
        pipe=target,
    )
    assert isinstance(outcome, ImportFormatError), outcome
    said = f"line 1, field 'path': media path '{target}': changed while it was read"
    assert outcome.message.startswith(said), outcome.message
