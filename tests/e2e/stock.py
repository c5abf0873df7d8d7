"""A browser test's data dir, stocked in the test process with the workflow functions the CLI's
commands call, each project's first round already run.

``run_cli`` builds the whole command line anew (about 0.3 s) and checks the migrations on each
call: a module that made a dozen projects spent most of its setup there. And a project's first
item waited for the server's learner, a process at idle priority, which on a loaded machine took
10 to 15 s just to start: one pass of that learner runs here instead (each project's first
round, its features and its alerts, as `labelloop worker` runs them). The CLI's own tests cover
the commands; the learner started with the server still runs every round after the first, unless
the module serves without one (``serving_stocked(..., learner=False)``: its tests need none).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.e2e import conftest
from tests.e2e.conftest import PASSWORD


@dataclass
class Stock:
    """The data dir's store, open in this process while its server is not running."""

    db: Any
    settings: Any

    def user(self, name: str, password: str = PASSWORD, *, admin: bool = False) -> None:
        """Add a user, as `labelloop users add NAME [--admin] --password-stdin`."""
        from labelloop.workflow import accounts

        accounts.create_user(self.db, name, password, is_admin=admin)

    def project(self, slug: str, schema: Mapping[str, Any]) -> None:
        """Create a project, as `labelloop projects create SLUG --schema FILE`."""
        from labelloop.workflow import projects

        projects.create_project(self.db, slug, schema, actor=None)

    def member(self, slug: str, name: str, role: str) -> None:
        """Give a user a role, as `labelloop projects member SLUG NAME ROLE`."""
        from labelloop.workflow import projects

        projects.set_member(self.db, projects.system_context(self.db, slug), name, role)

    def add(self, slug: str, source: Path, **options: Any) -> Any:
        """Import a file or a folder of media, as `labelloop import SLUG SOURCE` with
        ``options`` (``id_field``, ``text_field``, ``prediction_field``, ``split``, ...)."""
        from labelloop.ingest import importer_for_path
        from labelloop.workflow import imports, projects

        ctx = projects.system_context(self.db, slug)
        roots = self.settings.media_root_paths
        if source.is_dir():
            fmt = imports.folder_format(ctx, source, labels_from_folders=False)
            return imports.import_folder(
                self.db, ctx, source, media_roots=roots, fmt=fmt, **options
            )
        with source.open("rb") as raw:
            return imports.import_items(
                self.db,
                ctx,
                raw,
                fmt=options.pop("fmt", None) or importer_for_path(source.name),
                filename=source.name,
                media_roots=roots,
                near=source.parent,
                **options,
            )


@contextmanager
def stocked(home: Path, migrated: Path, *, first_rounds: bool = True) -> Iterator[Stock]:
    """The data dir ``home`` with a copy of the migrated store ``migrated`` (the
    ``sqlite_migrated`` fixture), as `labelloop init` leaves it; at the block's end the store
    closed and, unless not ``first_rounds``, one pass of the server's learner over it
    (:func:`tests.e2e.conftest.first_rounds`): each project's first queue and its alerts."""
    from labelloop.config import get_settings
    from labelloop.store.db import Database

    settings = get_settings(home=home)
    settings.ensure_home()
    shutil.copyfile(migrated, home / "labelloop.db")
    db = Database(settings.db_url)
    try:
        yield Stock(db=db, settings=settings)
    finally:
        db.dispose()
    if first_rounds:
        conftest.first_rounds(home)


@dataclass
class Served:
    """A stocked data dir's live server: its URL and the data dir."""

    url: str
    home: Path


@contextmanager
def serving_stocked(
    tmp_path_factory: pytest.TempPathFactory,
    migrated: Path,
    stock: Callable[[Stock, Path], object],
    *,
    name: str,
    learner: bool = True,
) -> Iterator[Served]:
    """A new data dir (a folder named after ``name``) stocked by ``stock(store, home)`` with
    each project's first round run, and `labelloop serve` on it (with a learner if
    ``learner``) until the block ends."""
    home = tmp_path_factory.mktemp(f"labelloop-{name}")
    with stocked(home, migrated) as store:
        stock(store, home)
    with conftest.serving(home, "serve", learner=learner) as url:
        yield Served(url=url, home=home)


def picture(
    path: Path,
    size: tuple[int, int],
    rects: list[tuple[int, int, int, int, tuple[int, int, int]]],
) -> None:
    """Write an RGB PNG of ``size``: a light background with filled rectangles (x, y, w, h, rgb)."""
    image = Image.new("RGB", size, (235, 238, 242))
    draw = ImageDraw.Draw(image)
    for x, y, w, h, rgb in rects:
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=rgb)
    image.save(path, format="PNG")
