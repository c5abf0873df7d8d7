"""The model file over HTTP: a manager downloads the project's classifier and labels new texts
with it; annotators may not, outsiders learn nothing, and a project without a model says why."""

from __future__ import annotations

import io
from typing import Any

import pytest

from labelloop.workflow import modelfiles

MODEL = "/api/projects/sent/model"


@pytest.fixture
def trained(api: Any) -> Any:
    """The API fixture with 60 labeled pool items more in 'sent', and a round on them."""
    lab = api.lab
    ctx = lab.ctx("sent", lab.admin)
    lab.import_rows(ctx, lab.rows(60, start=2000, prefix="lab", labeled=True), labeled=True)
    lab.train(ctx)
    return api


def test_a_manager_downloads_a_model_that_labels_new_texts(trained: Any) -> None:
    got = trained.get(MODEL, "manager")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == 'attachment; filename="sent-model.joblib"'
    model = modelfiles.load(io.BytesIO(got.content))
    assert model.info["project"] == "sent" and model.info["n_train"] == 60
    assert model.info["metrics"]["n_eval"] == 9
    eval_rows = trained.lab.rows(9, start=1000, prefix="ev", labeled=True)
    predicted = model.predict([r["text"] for r in eval_rows])
    hits = sum(p == r["label"] for p, r in zip(predicted, eval_rows, strict=True))
    assert hits / 9 == pytest.approx(model.info["metrics"]["accuracy"], abs=1e-4)

    audit = trained.get("/api/projects/sent/audit", "manager", params={"action": "model.export"})
    assert [e["action"] for e in audit.json()] == ["model.export"]
    assert trained.get(MODEL, "admin").status_code == 200  # a site admin may too


def test_only_those_who_may_export_get_it(trained: Any) -> None:
    for role in ("annotator", "reviewer"):
        refused = trained.get(MODEL, role)
        assert refused.status_code == 403 and "export" in refused.json()["detail"]
    hidden = trained.get(MODEL, "outsider")
    assert hidden.status_code == 404
    assert trained.get("/api/projects/other/model", "manager").status_code == 404


def test_a_project_without_two_labeled_classes_says_why(api: Any) -> None:
    got = api.get(MODEL, "manager")  # the fixture's pool has no labels yet
    assert got.status_code == 422
    assert got.json()["detail"] == (
        "project 'sent' has resolved labels of 0 classes; a model needs two at least"
    )
