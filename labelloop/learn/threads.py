"""One BLAS/OpenMP thread for the learner's numerical work.

Multithreaded BLAS makes the small fits of an active-learning round about ten times slower on
two cores, and it competes with the server for the CPU. threadpoolctl finds the loaded native
libraries by scanning the process on every ``threadpool_limits`` call; the controller here scans
once and is reused.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import Any

from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_thread() -> AbstractContextManager[Any]:
    """Limit every native thread pool to one thread inside the ``with`` block."""
    return _controller().limit(limits=1)
