"""The "More like this" warmer: what it prepares in the background after a start or an import."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from labelloop.workflow.features import FeatureCache
from labelloop.workflow.warming import Warmer


def _settled(warmer: Warmer, project_id: int) -> None:
    deadline = time.monotonic() + 30
    while warmer.since_s((project_id, None)) is not None:
        assert time.monotonic() < deadline, "the warmer never finished"
        time.sleep(0.02)


def test_a_project_without_items_is_no_error_at_start(
    sqlite_lab: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A server started with a project holding no items yet (just created, or every import
    undone) logged an error with a traceback for it at every start: there is nothing to
    measure, and nothing is said."""
    empty = sqlite_lab.project("empty")
    full = sqlite_lab.project("full")
    sqlite_lab.import_rows(full, sqlite_lab.rows(12))
    cache = FeatureCache()
    warmer = Warmer(sqlite_lab.db, cache)
    with caplog.at_level(logging.INFO, logger="labelloop.learner"):
        warmer.ask_ahead()
        _settled(warmer, empty.id)
        _settled(warmer, full.id)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    with sqlite_lab.db.read() as conn:
        from labelloop.store import learning as store_learning

        pool = store_learning.ids_of(conn, full.id, "pool")
    assert cache.holds(full.id, pool)  # the project with items was prepared


def test_an_import_while_the_pool_is_being_measured_is_measured_too(
    sqlite_lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import landing while the warmer measured the pool (after a start, or the import
    before) asked for a job already under way: the items it brought were never measured ahead,
    and the first "More like this" after it waited for them."""
    import threading

    from labelloop.store import learning as store_learning

    ctx = sqlite_lab.project()
    sqlite_lab.import_rows(ctx, sqlite_lab.rows(12))
    cache = FeatureCache()
    warmer = Warmer(sqlite_lab.db, cache)
    fitting, go_on = threading.Event(), threading.Event()
    fit = cache.get

    def slow(*args: Any, **kwargs: Any) -> Any:
        fitting.set()
        assert go_on.wait(10)
        return fit(*args, **kwargs)

    monkeypatch.setattr(cache, "get", slow)
    warmer.ask_ahead([ctx.id])
    assert fitting.wait(10)  # measuring the first 12
    sqlite_lab.import_rows(ctx, sqlite_lab.rows(20)[12:])
    warmer.ask_ahead([ctx.id])  # as the import's route asks
    go_on.set()
    _settled(warmer, ctx.id)
    with sqlite_lab.db.read() as conn:
        pool = store_learning.ids_of(conn, ctx.id, "pool")
    assert len(pool) > 12 and cache.holds(ctx.id, pool)


def test_a_failed_fit_is_told_once_and_a_fit_that_works_forgets_it(
    sqlite_lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fit that failed left searches saying "preparing" forever; the warmer keeps why, for the
    next search to say once, and forgets it once a fit of the same job works."""
    ctx = sqlite_lab.project()
    sqlite_lab.import_rows(ctx, sqlite_lab.rows(12))
    cache = FeatureCache()
    warmer = Warmer(sqlite_lab.db, cache)
    fit = cache.get

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("no room for the matrix")

    monkeypatch.setattr(cache, "get", broken)
    warmer.ask_ahead([ctx.id])
    _settled(warmer, ctx.id)
    assert warmer.failure((ctx.id, None)) == "no room for the matrix"
    assert warmer.failure((ctx.id, None)) is None  # told once
    warmer.ask_ahead([ctx.id])
    _settled(warmer, ctx.id)
    monkeypatch.setattr(cache, "get", fit)
    warmer.ask_ahead([ctx.id])
    _settled(warmer, ctx.id)
    assert warmer.failure((ctx.id, None)) is None  # the fit that worked forgot the one before
