"""Replaying a queued simulation in the test's own process, for tests about what is around the
replay (its options, figures, progress, permissions, pages) rather than the learner's worker
processes, whose start costs seconds of imports; tests/workflow/test_workflow_simulations.py
asserts the replay through worker processes, as a learner runs it."""

from __future__ import annotations

import functools

import pytest

from labelloop.workflow import simulations


def replay_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``simulations.run_next`` (the learner's step) replay in this process."""
    monkeypatch.setattr(simulations, "run", functools.partial(simulations.run, in_processes=False))
