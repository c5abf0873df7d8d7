"""A classifier whose fit takes as long as a test asks, named by its import path in a project's
``model`` setting (``tests.slowfit.SlowFit``), so a `labelloop worker` started by a test runs a
round of seconds: ``SLOWFIT_S`` says how long each fit waits, and ``SLOWFIT_MARK`` names a file
touched as the fit starts (the round is then under way). An interrupt (a KeyboardInterrupt)
comes out of it as an error of its own, as it can out of a library."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sklearn.linear_model import LogisticRegression


class SlowFit(LogisticRegression):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> SlowFit:
        mark = os.environ.get("SLOWFIT_MARK")
        if mark:
            Path(mark).touch()
        try:
            time.sleep(float(os.environ.get("SLOWFIT_S", "0")))
        except BaseException as exc:  # as libraries do (psycopg's cancelled query, in SQLAlchemy)
            raise RuntimeError("the fit was interrupted") from exc
        return super().fit(X, y, sample_weight)
