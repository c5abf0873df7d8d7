"""A live project's learning settings: a manager changes them, the learner follows, the audit
chain says who changed what from what."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import LabelloopError, PermissionDenied
from labelloop.store import learning as store_learning
from labelloop.store.audit import chain_rows
from labelloop.workflow import projects, tasks
from labelloop.workflow.learning import due


def _events(lab: Any, ctx: Any) -> list[dict[str, Any]]:
    with lab.db.read() as conn:
        return [e for e in chain_rows(conn, ctx.id) if e["action"] == "project.settings"]


def _fresh(lab: Any, ctx: Any) -> Any:
    lab.db.memo.forget()
    return lab.ctx(ctx.slug, ctx.user)


def test_a_manager_changes_the_strategy_and_the_audit_says_from_what(lab: Any, ready: Any) -> None:
    manager = lab.member("sent", "mia", "manager")
    after = projects.change_settings(lab.db, manager, {"strategy": "entropy", "batch_size": 20})
    assert after["strategy"] == "entropy" and after["batch_size"] == 20
    ctx = _fresh(lab, ready)
    assert ctx.settings.strategy == "entropy" and ctx.settings.batch_size == 20
    assert ctx.schema_version == ready.schema_version  # labels are judged by the same schema
    (event,) = _events(lab, ready)
    assert event["actor_id"] == lab.users["mia"].id
    assert event["payload"] == {
        "changed": {
            "strategy": {"from": "margin", "to": "entropy"},
            "batch_size": {"from": 10, "to": 20},
        }
    }
    # The same values again change nothing and write nothing.
    projects.change_settings(lab.db, manager, {"strategy": "entropy"})
    assert len(_events(lab, ready)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "settings: name at least one setting to change"),
        ({"strategy": "psychic"}, "settings.strategy: unknown strategy 'psychic'"),
        ({"overlap": 2}, "settings.overlap: fixed when the project was created"),
        ({"featurizer": "minilm"}, "settings.featurizer: fixed when the project was created"),
        ({"colour": "red"}, "settings.colour: unknown setting"),
        ({"batch_size": 0}, "settings.batch_size: input should be greater than or equal to 1"),
        ({"random_share": 0.9}, "settings.random_share: input should be less than or equal"),
    ],
)
def test_a_wrong_or_fixed_setting_is_refused_and_nothing_changes(
    lab: Any, ready: Any, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(LabelloopError) as caught:
        projects.change_settings(lab.db, ready, {**changes})
    assert caught.value.message.startswith(message), caught.value.message
    assert _fresh(lab, ready).settings.model_dump() == ready.settings.model_dump()
    assert _events(lab, ready) == []


def test_annotators_and_reviewers_cannot_change_settings(lab: Any, ready: Any) -> None:
    for role in ("annotator", "reviewer"):
        who = lab.member("sent", f"a-{role}", role)
        with pytest.raises(PermissionDenied):
            projects.change_settings(lab.db, who, {"strategy": "entropy"})
    assert _fresh(lab, ready).settings.strategy == "margin"


def test_a_new_strategy_gets_a_round_at_once_and_ranks_the_queue(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    lab.label_next(ann, n=10)
    assert lab.train(ready) == 2
    assert not due(lab.db, ready.id)  # margin ranked the queue; no labels since

    projects.change_settings(lab.db, ready, {"strategy": "entropy"})
    assert due(lab.db, ready.id)  # without waiting for retrain_every new labels
    assert lab.train(_fresh(lab, ready)) == 3
    with lab.db.read() as conn:
        assert store_learning.latest(conn, ready.id)["strategy"] == "entropy"
    assert not due(lab.db, ready.id)
    task = tasks.next_task(lab.db, _fresh(lab, ann))
    assert task is not None and task["selection"]["strategy"] == "entropy"
