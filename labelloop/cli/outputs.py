"""A command's output folder (``--out``): checked before the work, filled at once or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from labelloop.errors import LabelloopError


class OutputFolder:
    """Files a command writes into one folder, appearing there together or not at all.

    Entered before the command's work, it makes a hidden staging folder on the target's file
    system (beside a new folder, inside an existing one), so an ``--out`` that is a file or
    cannot be written fails at once. The command writes into :attr:`staging`; :meth:`publish`
    moves the files in, each replacing its old copy. Leaving the block any other way (an error,
    Ctrl-C) removes the staging folder and the parent folders made for it.

    Parameters
    ----------
    path : Path
        The folder the files go to; made when missing.
    option : str
        How the command's user names ``path``, for the error messages.
    """

    def __init__(self, path: Path, *, option: str = "--out") -> None:
        self.path = path
        self.option = option

    def __enter__(self) -> Self:
        if self.path.exists() and not self.path.is_dir():
            raise LabelloopError(f"{self.option} {self.path} is a file; give a folder")
        self._fresh = not self.path.is_dir()
        home = self.path.parent if self._fresh else self.path
        self._made = [p for p in (home, *home.parents) if not p.exists()]  # deepest first
        name = self.path.resolve().name or "out"
        self.staging = home / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        try:
            home.mkdir(parents=True, exist_ok=True)
            self.staging.mkdir()
        except OSError as exc:
            self._discard()
            raise LabelloopError(
                f"cannot write to {self.option} {self.path}: {_why(exc)}"
            ) from None
        self._published = False
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._published:
            self._discard()

    def publish(self, written: Iterable[str], *, owned: Iterable[str] = ()) -> None:
        """Move the files ``written`` into the folder. Files named in ``owned`` (the command's
        outputs) that this run did not write are removed, so no stale one sits beside new ones.
        """
        written = list(written)
        try:
            if self._fresh:  # the folder appears whole, in one rename
                self.staging.rename(self.path)
            else:
                for name in written:
                    (self.staging / name).replace(self.path / name)
                for name in set(owned) - set(written):
                    (self.path / name).unlink(missing_ok=True)
                self.staging.rmdir()
        except OSError as exc:
            raise LabelloopError(
                f"cannot write to {self.option} {self.path}: {_why(exc)}"
            ) from None
        self._published = True

    def _discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        for folder in self._made:  # only if still empty: something else may have filled it
            with contextlib.suppress(OSError):
                folder.rmdir()


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
