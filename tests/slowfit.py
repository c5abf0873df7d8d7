"""A classifier whose fit takes as long as a test asks, named by its import path in a project's
``model`` setting (``tests.slowfit.SlowFit``), so a `labelloop worker` started by a test runs a
round of seconds: ``SLOWFIT_S`` says how long each fit waits, and ``SLOWFIT_MARK`` names a file
touched as the fit starts (the round is then under way). An interrupt (a KeyboardInterrupt)
comes out of it as an error of its own, as it can out of a library.

``SLOWFIT_NATIVE=1`` makes the wait one native call that a signal does not cut short, as a
large BLAS or liblinear fit is: glibc's ``system("sleep ...")`` waits for its command and waits
again when a signal interrupts it, without the interpreter lock (ctypes lets it go), so a
Python signal handler can only run once it returns. The mark is touched by that command, so
the fit is inside the call once it exists; the ``sleep`` is a child of the worker."""

from __future__ import annotations

import ctypes
import os
import shlex
import time
from pathlib import Path
from typing import Any

from sklearn.linear_model import LogisticRegression


class SlowFit(LogisticRegression):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SlowFit:
        mark = os.environ.get("SLOWFIT_MARK")
        seconds = float(os.environ.get("SLOWFIT_S", "0"))
        if os.environ.get("SLOWFIT_NATIVE") == "1":
            touch = f"touch {shlex.quote(mark)} && " if mark else ""
            ctypes.CDLL(None).system(f"{touch}exec sleep {seconds:g}".encode())
            return super().fit(X, y, sample_weight)
        if mark:
            Path(mark).touch()
        try:
            time.sleep(seconds)
        except BaseException as exc:  # as libraries do (psycopg's cancelled query, in SQLAlchemy)
            raise RuntimeError("the fit was interrupted") from exc
        return super().fit(X, y, sample_weight)
