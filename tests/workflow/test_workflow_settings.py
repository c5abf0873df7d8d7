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


def test_a_new_strategy_replaces_a_cold_start_queue_at_once(lab: Any) -> None:
    """Before two classes have labels the round picks for diversity, whatever the strategy;
    a strategy with its own cold start (auto's typical items) still gets its round."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(40))
    assert lab.train(ctx) == 1
    with lab.db.read() as conn:
        assert store_learning.latest(conn, ctx.id)["strategy"] == "diversity"
    assert not due(lab.db, ctx.id)
    projects.change_settings(lab.db, ctx, {"strategy": "auto"})
    assert due(lab.db, ctx.id)
    assert lab.train(_fresh(lab, ctx)) == 2
    with lab.db.read() as conn:
        assert store_learning.latest(conn, ctx.id)["strategy"] == "auto"
    assert not due(lab.db, ctx.id)


def test_a_plug_in_registered_under_another_name_gets_one_round_not_one_per_poll(
    lab: Any, ready: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import STRATEGIES, Margin

    monkeypatch.setitem(STRATEGIES._classes, "sharp", Margin)  # its rounds record "margin"
    ann = lab.member("sent", "ann", "annotator")
    lab.label_next(ann, n=10)
    lab.train(ready)
    projects.change_settings(lab.db, ready, {"strategy": "sharp"})
    assert due(lab.db, ready.id)
    lab.train(_fresh(lab, ready))
    assert not due(lab.db, ready.id)


def test_a_mistyped_setting_lists_what_a_live_project_can_change(lab: Any, ready: Any) -> None:
    with pytest.raises(LabelloopError) as caught:
        projects.change_settings(lab.db, ready, {"stratgey": "margin"})
    assert caught.value.message == (
        "settings.stratgey: unknown setting; a live project can change strategy, batch_size, "
        "retrain_every, queue_size, budget, random_share, stop_changed, preselect_suggestion, "
        "preselect_confidence, auto_label_confidence, auto_label_min_accuracy, review_policy, "
        "review_share, qualification_items, qualification_accept_rate, escalate_to, gold_rate, "
        "contradiction_threshold, rework_hours, backlog_alert_min"
    )


def test_a_project_whose_model_is_gone_can_still_change_its_live_settings(lab: Any) -> None:
    from labelloop.store.tables import project
    from tests.conftest import schema_with

    ctx = lab.project()
    with lab.db.write() as conn:  # as a project whose model plug-in was uninstalled since
        conn.execute(project.update().values(schema=schema_with(model="gone_plugin.Model")))
    ctx = _fresh(lab, ctx)
    after = projects.change_settings(lab.db, ctx, {"batch_size": 30})
    assert after["batch_size"] == 30 and after["model"] == "gone_plugin.Model"


def test_the_expert_tier_names_users_who_exist(lab: Any, ready: Any) -> None:
    lab.user("dana")
    with pytest.raises(LabelloopError) as caught:
        projects.change_settings(lab.db, ready, {"escalate_to": ["dana", "dnaa"]})
    assert caught.value.message == "settings.escalate_to: no user named 'dnaa'"
    assert _events(lab, ready) == []
    # someone not yet a member is kept, as at creation: the tier counts them once they are
    after = projects.change_settings(lab.db, ready, {"escalate_to": ["dana"]})
    assert after["escalate_to"] == ["dana"]
