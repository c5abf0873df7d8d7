"""What a simulation may be asked for, checked once for `labelloop simulate` and a project's page.

PURE: the registries of :mod:`labelloop.learn` and the checks of a simulation's options and
labels; each check raises :class:`~labelloop.errors.LabelloopError` with a sentence naming the
option (``--budget`` on the command line, ``budget`` in the API) or the label that is wrong.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.errors import LabelloopError
from labelloop.learn.replay import MIN_PER_CLASS, N_INITIAL

COPIES_BYTES = 2 << 30
"""The default number of worker processes keeps their copies of the features under this."""
PARALLEL_RECORDS = 2000
"""Below this many records a seed takes seconds: starting worker processes would cost more."""


def strategy_names(spec: str | None, *, option: str = "--strategies") -> list[str]:
    """Strategy names from a comma-separated list, ``all``, or ``None``: random and the default
    policy (a new project's strategy)."""
    from labelloop.learn import STRATEGIES, make_strategy

    if spec is None:
        names = ["random", *default_policy()]
    elif spec.strip() == "all":
        names = ["random", *STRATEGIES.names()]  # the control first, in tables and charts
    else:
        names = [n.strip() for n in spec.split(",") if n.strip()]
    names = list(dict.fromkeys(names))
    if not names:
        raise LabelloopError(f"{option} names no strategy")
    for name in names:
        make_strategy(name)  # an unknown name fails here, listing the known ones
    return names


def default_policy() -> list[str]:
    """The learner's adaptive default policy, when one is registered (``DEFAULT_STRATEGY``)."""
    import labelloop.learn as learn

    policy = getattr(learn, "DEFAULT_STRATEGY", None)
    return [policy] if isinstance(policy, str) and policy in learn.STRATEGIES else []


def stopping_rules() -> list[Any]:
    """Every registered stopping rule that builds with its defaults (the budget is the
    simulation's own: a rule firing there teaches nothing)."""
    from labelloop.learn import STOPPING, make_stopping

    rules = []
    for name in STOPPING.names():
        if name == "budget":
            continue
        with contextlib.suppress(TypeError):
            rules.append(make_stopping(name))
    return rules


def check_budget(budget: int, *, option: str = "--budget") -> None:
    """Refuse a budget the shared seed set already spends: nothing would be queried."""
    if budget <= N_INITIAL:
        raise LabelloopError(
            f"{option} {budget} leaves nothing to query: every strategy starts from "
            f"{N_INITIAL} random labels; the least budget is {N_INITIAL + 1}"
        )


def oracle(
    labels: Sequence[str], *, source: str, unit: str = "record"
) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """Class indices and the sorted classes of the known labels, refused when a stratified
    pool/test split and a seed set cannot be drawn from them.

    ``source`` names where the labels come from in the messages ("field 'label'", "this
    project"), ``unit`` what carries each label ("record" of a file, "item" of a project).
    """
    if not labels:
        raise LabelloopError(f"no labels in {source}")
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise LabelloopError(
            f"every label in {source} is {classes[0]!r}; simulate needs two classes"
        )
    counts = Counter(labels)
    rare = [c for c in classes if counts[c] < MIN_PER_CLASS]
    if rare:
        n = counts[rare[0]]
        more = f" (and {len(rare) - 1} more such classes)" if len(rare) > 1 else ""
        raise LabelloopError(
            f"class {rare[0]!r} has {n} {unit}{'' if n == 1 else 's'}{more}; each class needs "
            f"at least {MIN_PER_CLASS}, for the stratified pool/test split"
        )
    least = max(40, 8 * len(classes))
    if len(labels) < least:
        raise LabelloopError(
            f"{len(labels)} labeled {unit}{' is' if len(labels) == 1 else 's are'} too "
            f"few to simulate; need at least {least}"
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index[label] for label in labels], dtype=np.int64), classes


def cpus() -> int:
    """CPU cores this process may use."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def default_jobs(seeds: int, X: Any, *, most: int | None = None) -> int:
    """Worker processes for a replay: one per usable CPU core (at most ``most``), no more than
    the seeds, and no more copies of the features than :data:`COPIES_BYTES` allows (a worker
    holds the features and its seed's pool and test rows: two copies); one for a small set."""
    if X.shape[0] < PARALLEL_RECORDS:
        return 1
    parts = (X.data, X.indices, X.indptr) if hasattr(X, "indptr") else (X,)
    size = sum(int(part.nbytes) for part in parts)
    cores = cpus() if most is None else min(most, cpus())
    return max(1, min(seeds, cores, COPIES_BYTES // max(1, 2 * size)))
