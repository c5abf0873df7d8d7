"""What every `labelloop` command shares: the consoles, opening the store, errors, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from labelloop.config import Settings, get_settings
from labelloop.errors import LabelloopError
from labelloop.store.db import Database
from labelloop.store.migrate import upgrade

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _open(settings: Settings | None = None) -> tuple[Settings, Database]:
    settings = settings or get_settings()
    if settings.database_url is None:
        settings.ensure_home()
    db = Database(settings.db_url)
    upgrade(db)
    return settings, db


def _run(fn: Callable[[], T]) -> T:
    """Run a command body; a user-facing error becomes one line on stderr and exit code 1."""
    try:
        return fn()
    except LabelloopError as exc:
        # soft_wrap: one line however narrow the terminal; escape: messages quote user text
        err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _counting() -> Progress:
    """Progress of work whose size is not known up front: a spinner and a count."""
    from rich.progress import SpinnerColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _fail(message: str) -> None:
    raise LabelloopError(message)


@contextmanager
def _whole_file(output: Path) -> Iterator[BinaryIO]:
    """A file at ``output`` that appears only whole: written beside it as ``.part`` and renamed
    at the end; a failure (or Ctrl-C) removes the part and leaves ``output`` as it was.
    ``-`` is standard output."""
    if str(output) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("wb") as sink:
            yield sink
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(output)
