"""The auto-label API: managers run, list and undo; the eval items' verdict is a 422 that says
what they show; nothing crosses projects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import N_CLEAR, auto_project


@pytest.fixture
def auto(api: Any) -> Any:
    auto_project(api.lab, "auto")
    for role in ("manager", "reviewer", "annotator"):
        api.lab.member("auto", role, role)
    return api


def test_a_manager_previews_runs_lists_and_undoes(auto: Any) -> None:
    url = "/api/projects/auto/autolabel"
    preview = auto.post(
        url, "manager", json={"confidence": 0.78, "min_accuracy": 0.9, "dry_run": True}
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["n_labeled"] == N_CLEAR and preview.json()["run_id"] is None
    assert auto.get(url, "reviewer").json()["runs"] == []

    done = auto.post(url, "manager", json={"confidence": 0.78, "min_accuracy": 0.9})
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["n_labeled"] == N_CLEAR and body["eval_correct"] == body["eval_n"] >= 30
    listed = auto.get(url, "reviewer").json()
    assert (listed["confidence"], listed["min_accuracy"]) == (None, 0.95)
    # The thresholds and runs are not an annotator's to read; their progress says how many
    # items the model labeled.
    refused = auto.get(url, "annotator")
    assert refused.status_code == 403 and refused.json()["error"] == "PermissionDenied"
    [run] = listed["runs"]
    assert (run["id"], run["n_current"], run["applied_by"]) == (body["run_id"], N_CLEAR, "manager")
    status = auto.get("/api/projects/auto/status", "annotator").json()
    assert status["counts"]["auto_labeled"] == N_CLEAR
    everything = auto.get("/api/projects/auto/export?format=jsonl", "manager").text.splitlines()
    people = auto.get("/api/projects/auto/export?format=jsonl&auto=false", "manager").text
    assert (len(everything), len(people.splitlines())) == (60 + N_CLEAR, 60)
    assert '"resolution": "auto"' not in people

    undone = auto.client.delete(f"{url}/{body['run_id']}", headers=auto.auth("manager"))
    assert undone.status_code == 200 and undone.json()["n_undone"] == N_CLEAR
    again = auto.client.delete(f"{url}/{body['run_id']}", headers=auto.auth("manager"))
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("role", "status"), [("reviewer", 403), ("annotator", 403), ("outsider", 404)]
)
def test_only_the_projects_managers_run_and_undo(auto: Any, role: str, status: int) -> None:
    url = "/api/projects/auto/autolabel"
    done = auto.post(url, "manager", json={"confidence": 0.78, "min_accuracy": 0.9}).json()
    assert auto.post(url, role, json={"confidence": 0.78}).status_code == status
    gone = auto.client.delete(f"{url}/{done['run_id']}", headers=auto.auth(role))
    assert gone.status_code == status
    assert auto.get(url, "manager").json()["runs"][0]["n_current"] == N_CLEAR


def test_a_run_the_eval_items_do_not_vouch_for_is_refused_saying_why(auto: Any) -> None:
    url = "/api/projects/auto/autolabel"
    got = auto.post(url, "manager", json={})
    assert got.status_code == 422
    assert "labeled eval items, and the model is at least 50% sure of" in got.json()["detail"]
    got = auto.post(url, "manager", json={"confidence": 0.99})
    assert got.status_code == 422
    assert "auto-labeling needs 30 at least" in got.json()["detail"]
    for bad in ({"confidence": 1.5}, {"confidence": 0.8, "min_accuracy": "high"}, {"x": 1}):
        assert auto.post(url, "manager", json=bad).status_code == 422, bad
    assert auto.get(url, "manager").json()["runs"] == []


def test_another_projects_manager_cannot_undo_a_run(auto: Any) -> None:
    done = auto.post(
        "/api/projects/auto/autolabel", "manager", json={"confidence": 0.78, "min_accuracy": 0.9}
    ).json()
    # "outsider" manages "other": the run id is not found there, and "auto" keeps its labels
    gone = auto.client.delete(
        f"/api/projects/other/autolabel/{done['run_id']}", headers=auto.auth("outsider")
    )
    assert gone.status_code == 404
    assert (
        auto.get("/api/projects/auto/autolabel", "manager").json()["runs"][0]["undone_at"] is None
    )


@pytest.mark.parametrize(
    ("role", "status"), [("reviewer", 201), ("annotator", 403), ("outsider", 404)]
)
def test_reviewers_and_managers_spot_check_a_run(auto: Any, role: str, status: int) -> None:
    url = "/api/projects/auto/autolabel"
    done = auto.post(url, "manager", json={"confidence": 0.78, "min_accuracy": 0.9}).json()
    got = auto.post(f"{url}/{done['run_id']}/check", role, json={"n": 4})
    assert got.status_code == status, got.text
    checks = auto.get(url, "reviewer").json()["runs"][0]["checks"]
    assert checks["sent"] == (4 if status == 201 else 0)
    if status == 201:
        assert got.json()["sent"] == 4 and len(got.json()["item_ids"]) == 4
        for bad in ({"n": 0}, {"n": 1001}, {"n": "x"}, {"m": 3}):
            assert auto.post(f"{url}/{done['run_id']}/check", role, json=bad).status_code == 422
        missing = auto.post(f"{url}/{done['run_id'] + 5}/check", role, json={"n": 1})
        assert missing.status_code == 404


def test_the_coverage_says_before_a_run_whether_the_eval_items_vouch_for_it(auto: Any) -> None:
    # 60 eval items cannot show a 95% bar (292 at one confidence): the coverage says so before
    # any run, in the words the run is then refused with.
    url, cover = "/api/projects/auto/autolabel", "/api/projects/auto/coverage"
    ahead = auto.get(cover, "reviewer").json()["autolabel"]
    assert {k: ahead[k] for k in ("confidence", "chosen", "min_accuracy", "need", "ready")} == {
        "confidence": None,
        "chosen": True,
        "min_accuracy": 0.95,
        "need": 292,
        "ready": False,
    }
    assert "needs 292 it is at least that sure of" in ahead["refusal"]
    refused = auto.post(url, "manager", json={})
    assert refused.status_code == 422 and refused.json()["detail"] == ahead["refusal"]

    # At a 70% bar (36 items) they vouch for one: the confidence the run takes, what it labels.
    settings = "/api/projects/auto/settings"
    patched = auto.client.patch(
        settings, headers=auto.auth("manager"), json={"auto_label_min_accuracy": 0.7}
    )
    assert patched.status_code == 200, patched.text
    ahead = auto.get(cover, "manager").json()["autolabel"]
    assert (ahead["ready"], ahead["refusal"], ahead["need"]) == (True, None, 36)
    run = auto.post(url, "manager", json={"dry_run": True}).json()
    assert (run["confidence"], run["chosen"]) == (ahead["confidence"], True)
    assert run["n_labeled"] == ahead["covered"] > 0

    # The project's own confidence, too sure for 30 eval items: that refusal, not the search's.
    auto.client.patch(settings, headers=auto.auth("manager"), json={"auto_label_confidence": 0.99})
    ahead = auto.get(cover, "manager").json()["autolabel"]
    assert (ahead["confidence"], ahead["chosen"], ahead["need"]) == (0.99, False, 30)
    assert ahead["ready"] is False and ahead["covered"] is None
    refused = auto.post(url, "manager", json={})
    assert refused.status_code == 422 and refused.json()["detail"] == ahead["refusal"]
    assert "auto-labeling needs 30 at least" in ahead["refusal"]
