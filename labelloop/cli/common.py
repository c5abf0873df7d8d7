"""What every `labelloop` command shares: the consoles, opening the store, errors, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from labelloop.errors import LabelloopError

if TYPE_CHECKING:
    from labelloop.config import Settings
    from labelloop.store.db import Database


def _control_picture(c: str) -> str:
    """A C0 control's visible stand-in (ESC as "␛", DEL as "␡"); C1 controls and direction
    overrides as "�"."""
    code = ord(c)
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


_CONTROLS = {
    code: _control_picture(chr(code))
    for code in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    if chr(code) not in "\n\t"
}
"""Control characters -> what is printed instead; line breaks and tabs stay. The direction
embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) are among them: one left
open in an id or a note would make a terminal that orders text by direction show the rest of
its line backwards ("rejected" read as "detcejer")."""


def printable(text: str) -> str:
    """``text`` with its control characters as their stand-ins, character for character (so
    offsets into it still hold): for a ``Text`` made by hand, which ``Terminal`` does not see."""
    return text.translate(_CONTROLS)


class Terminal(Console):
    """A console that prints control characters (and direction overrides) in text as visible
    stand-ins.

    Item texts, names, notes and comments come from imported files and from any member; an
    escape sequence among them would reach the terminal as a command (clear the screen, move
    the cursor over earlier lines, set the title or the clipboard). Rich strips only a few
    controls itself; its own styling is added after this, so colours still work.
    """

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(printable(text), **options)

    @property
    def soft_wrap(self) -> bool:
        """Whether a printed sentence stays one line: always when the output is not a terminal.

        Rich breaks lines at the console's width, 80 when a pipe or a log gives it none; a
        script or a CI log reading the output would find a path or a message split in two.
        A table (or a cell in it) still wraps to the width, so it stays a table.
        """
        return self._soft_wrap or not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        self._soft_wrap = value


out = Terminal()
err = Terminal(stderr=True)
T = TypeVar("T")


_opened: list[Database] = []
"""The stores this command opened, closed when it ends (see ``close_opened``)."""


def _open(settings: Settings | None = None) -> tuple[Settings, Database]:
    from labelloop.config import get_settings
    from labelloop.store.db import open_database

    settings = settings or _run(get_settings)
    if settings.database_url is None:
        settings.ensure_home()
    db = _run(lambda: open_database(settings.db_url))
    _opened.append(db)
    _run(lambda: _migrated(db))
    return settings, db


def _migrated(db: Database) -> None:
    """Bring the database's tables up to date; one it cannot reach (a PostgreSQL server down, a
    database not made yet) is an error naming it, its password hidden, and the driver's why."""
    from labelloop.store.db import unreachable
    from labelloop.store.migrate import upgrade

    try:
        upgrade(db)
    except Exception as exc:
        if not unreachable(exc):
            raise
        why = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise LabelloopError(f"cannot reach the database {db.engine.url!r}: {why}") from None


def close_opened() -> None:
    """Close every store a command opened: its connections, checkpoint thread and lock file.

    The root command calls this when any command ends, however it ends; a process that runs
    commands in turn (a script driving the CLI in-process) would otherwise keep them all open.
    """
    while _opened:
        _opened.pop().dispose()


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 item", "2,000 items"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def under_review(done: dict[str, Any]) -> str:
    """What an offboarding gave back of the reviewer's pages, as the end of its sentence."""
    n = int(done.get("review_leases_released") or 0)
    return f", {counted(n, 'item')} under review back in the review queue" if n else ""


def _run(fn: Callable[[], T]) -> T:
    """Run a command body; a user-facing error becomes one line on stderr and exit code 1."""
    try:
        return fn()
    except LabelloopError as exc:
        # soft_wrap: one line however narrow the terminal; escape: messages quote user text
        err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@contextmanager
def on_ctrl_c(said: str) -> Iterator[None]:
    """Ctrl-C in the block says ``said`` (what stopping left behind) on stderr and exits 130:
    the progress bar went with it, and nothing else told whether anything was written."""
    try:
        yield
    except KeyboardInterrupt:
        err.print(f"stopped: {said}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None


def with_model(slug: str, doing: str, work: Callable[[Database, Any, Any], T]) -> T:
    """Run ``work(db, ctx, cache)`` on project SLUG with the feature cache a model reads,
    showing ``doing`` while it trains (as the local operator); an error is one line."""
    from labelloop.workflow import projects
    from labelloop.workflow.features import FeatureCache
    from labelloop.workflow.shutdown import stopped_as_interrupt

    settings, db = _open()

    def go() -> T:
        ctx = projects.system_context(db, slug)
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        # a Ctrl-C while a round writes its model and queue waits for those writes
        with stopped_as_interrupt(), _counting() as progress:
            progress.add_task(doing, total=None)
            return work(db, ctx, cache)

    return _run(go)


def shown_progress(*columns: str | ProgressColumn) -> Progress:
    """A progress display on stderr that goes when the work ends, shown only on a terminal.

    Rich ends a display on a console that is not a terminal (a pipe, a log, a test runner)
    with an empty line, which was all such a command's stderr held before its output.
    """
    return Progress(*columns, console=err, transient=True, disable=not err.is_interactive)


def _progress() -> Progress:
    return shown_progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn()
    )


def counted_bar() -> Progress:
    """Progress of work counted in records whose total is known, or learned as it starts: a
    bar, done of total, and the time left."""
    from rich.progress import MofNCompleteColumn

    return shown_progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )


def _elapsed() -> Progress:
    """Progress of work that counts nothing as it goes: a spinner and the time it has taken."""
    from rich.progress import SpinnerColumn, TimeElapsedColumn

    return shown_progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())


def _counting() -> Progress:
    """Progress of work whose size is not known up front: a spinner and a count."""
    from rich.progress import SpinnerColumn, TimeElapsedColumn

    return shown_progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
    )


def _fail(message: str) -> None:
    raise LabelloopError(message)


def _check_output(output: Path) -> None:
    """Refuse, before any work, an ``-o`` that cannot become a file: a folder, or a file in a
    folder that does not exist."""
    if str(output) == "-":
        return
    if output.is_dir() or not output.name:
        raise LabelloopError(f"-o {output} is a folder; name a file in it")
    if not output.parent.is_dir():
        raise LabelloopError(f"-o {output}: no folder {output.parent}")


@contextmanager
def _whole_file(output: Path) -> Iterator[BinaryIO]:
    """A file at ``output`` that appears only whole: written beside it under a temporary name
    and renamed at the end; a failure (or Ctrl-C) removes it and leaves ``output`` as it was.

    ``-`` is standard output, written at the end from a spool (memory, then disk past 16 MB),
    so a failure half-way prints nothing there either.
    """
    import shutil
    import tempfile

    _check_output(output)
    if str(output) == "-":
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024**2) as spool:
            yield spool  # type: ignore[misc]
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    tmp = Path(name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would make it, not mkstemp's 0600
        with open(fd, "wb") as sink:
            yield sink
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


WORD_CUT = 16
"""The columns beyond which a wrapping cell's word may break (a long file name): so one long
word does not push the other columns off a narrow terminal."""


def fitted(table: Table, *, drop: Sequence[str] = ()) -> Table:
    """``table`` made to fit the terminal with every header whole.

    Rich squeezes a table too wide for the terminal by cutting every column evenly, headers and
    numbers too ("Impo…"). Here each column keeps at least its header and its longest word (up
    to :data:`WORD_CUT`; a ``no_wrap`` column its whole cells), longer cells wrap, and the room
    left goes to the columns that want more. While even that cannot fit, the columns named in
    ``drop`` go, the least important first, and the caption names them.
    """
    from rich.measure import Measurement

    def measured(column: Column) -> tuple[int, int]:
        sizes = [Measurement.get(out, out.options, c) for c in (column.header, *column.cells)]
        if column.no_wrap:
            least = max(m.maximum for m in sizes)
        else:
            least = max([sizes[0].maximum, *(min(m.minimum, WORD_CUT) for m in sizes[1:])])
        return least, max([least, *(m.maximum for m in sizes)])

    for column in table.columns:
        column.overflow = "fold"
    dropped: list[str] = []
    while True:
        sizes = [measured(c) for c in table.columns]
        whole = Measurement.get(out, out.options.update_width(10**6), table).maximum
        room = out.width - (whole - sum(most for _, most in sizes))  # less borders and padding
        if sum(least for least, _ in sizes) <= room or len(dropped) == len(drop):
            break
        header = drop[len(dropped)]
        table.columns.pop(next(i for i, c in enumerate(table.columns) if c.header == header))
        for index, column in enumerate(table.columns):
            column._index = index  # rich pads the first and last columns by their place
        dropped.append(header)
    if sum(most for _, most in sizes) > room:
        widths = [least for least, _ in sizes]
        spare = room - sum(widths)
        while spare > 0:  # a column at a time, to those that want more, as far as it goes
            wanting = [i for i, (_, most) in enumerate(sizes) if widths[i] < most]
            for i in wanting[:spare]:
                widths[i] += 1
            spare -= len(wanting[:spare])
        for column, width in zip(table.columns, widths, strict=True):
            column.width = width
    if dropped:
        table.caption = f"not shown at this width: {', '.join(dropped)} (--json has them)"
        table.caption_justify = "left"
    return table


def annotator_cell(row: dict[str, Any]) -> str:
    """An annotator table's name cell, saying when they are no longer in the project (their
    answers still count)."""
    return escape(row["username"]) + ("" if row.get("member", True) else " (removed)")


def label_mix(by_label: dict[str, int]) -> str:
    """Counts per label as one line ("negative 9,870, positive 8,531"), markup escaped; "—"
    for none."""
    return ", ".join(f"{escape(k)} {v:,}" for k, v in by_label.items()) or "—"


def named_item(item: str) -> dict[str, Any]:
    """``item_id`` for ``#number``, else ``external_id``: the two ways a command names an item."""
    from labelloop.errors import NotFound
    from labelloop.store.db import MAX_ID

    if item[:1] == "#" and item[1:].isdigit():
        number = int(item[1:])
        if number > MAX_ID:  # no store holds it (the driver would overflow)
            raise NotFound(f"no item {item[:40]} here")
        return {"item_id": number}
    return {"external_id": item}
