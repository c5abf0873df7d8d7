"""A live server with only the admin account: for browser tests that make their own projects and
never touch the shared ``server`` fixture's two projects (150 reviews and the hostile texts),
which that fixture's learner would otherwise featurize and rank in the background for
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.conftest import PASSWORD, USERNAME, Server, run_cli, serving


@contextmanager
def admin_only(
    tmp_path_factory: pytest.TempPathFactory, *, learner: bool = True
) -> Iterator[Server]:
    """``labelloop serve`` on a fresh data dir holding the admin alone (and without a learner
    unless ``learner``), as the ``server`` fixture's :class:`Server`."""
    home = tmp_path_factory.mktemp("labelloop-home")
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    with serving(home, "serve", learner=learner) as url:
        yield Server(url=url, home=home)
