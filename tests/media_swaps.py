"""A media file swapped, just after labelloop checked it, for a named pipe or for a link out of its
media root: what someone who can write under a root can do, made to happen at the worst moment,
and a way to run the code that reads it without a hang hanging the test run."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from labelloop.ingest import media


def swap_after_check(monkeypatch: pytest.MonkeyPatch, target: Path, *, to: Path | None) -> None:
    """Once labelloop has checked ``target`` (found it under a root, a file), put a named pipe
    in its place (``to`` None) or a link to ``to``."""
    checked = media._found  # where labelloop finds a file it then opens
    wanted = target.resolve()

    def then_swapped(
        path: str, roots: list[Path], *, kind: str | None = "image", listed: bool = False
    ) -> tuple[Path, Path]:
        found = checked(path, roots, kind=kind, listed=listed)
        if found[0] == wanted:
            _swap(target, to=to)
        return found

    monkeypatch.setattr(media, "_found", then_swapped)


def swap_once_resolved(monkeypatch: pytest.MonkeyPatch, target: Path, *, to: Path | None) -> None:
    """Once labelloop has resolved ``target`` (its check that the file lies where it may be
    read), put a named pipe in its place (``to`` None) or a link to ``to``: a swap at the worst
    moment for any reader that checks a file by its path before it opens it."""
    resolve = Path.resolve
    wanted = resolve(target)

    def then_swapped(path: Path, strict: bool = False) -> Path:
        found = resolve(path, strict)
        if found == wanted:
            _swap(target, to=to)
        return found

    monkeypatch.setattr(Path, "resolve", then_swapped)


def swap_once_seen(monkeypatch: pytest.MonkeyPatch, target: Path, *, to: Path | None) -> None:
    """Once labelloop has seen ``target`` is a file (the check a reader makes just before it
    opens one, with or without a media root), put a named pipe in its place (``to`` None) or a
    link to ``to``."""
    is_file = Path.is_file
    wanted = target.resolve()
    done: list[Path] = []

    def then_swapped(path: Path) -> bool:
        seen = is_file(path)
        if not done and path.absolute() == wanted:
            done.append(path)
            _swap(target, to=to)
        return seen

    monkeypatch.setattr(Path, "is_file", then_swapped)


def _swap(target: Path, *, to: Path | None) -> None:
    """Put a named pipe (``to`` None) or a link to ``to`` in place of the file ``target``, once."""
    if not target.is_symlink() and target.is_file():
        target.unlink()
        os.mkfifo(target) if to is None else target.symlink_to(to)


def pipe_seen_as_file(monkeypatch: pytest.MonkeyPatch, pipe: Path) -> None:
    """A named pipe at ``pipe``, which every check made just before an open takes for a file: a
    pipe put in place of a file between the check and the open."""
    os.mkfifo(pipe)
    is_file = Path.is_file
    monkeypatch.setattr(Path, "is_file", lambda p: p == pipe or is_file(p))


def outcome_of(run: Callable[[], object], *, pipe: Path, seconds: float = 5) -> object:
    """What ``run`` returns or raises, run in a thread; a test fails (instead of hanging) when
    it is still waiting on the named pipe at ``pipe`` after ``seconds``, then let go."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(run())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():  # let the hung open go, so the thread ends
        with contextlib.suppress(OSError):
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(seconds)
        pytest.fail(f"still waiting on the named pipe '{pipe.name}' after {seconds} seconds")
    return outcome[0]
