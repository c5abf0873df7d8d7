"""Experimental multi-view selection for the benchmark: query with a second view, learn with one.

The curve's learner stays the round's model on the benchmarked representation (TF-IDF); only the
choice of rows reads a second view of the same texts (the MiniLM embedding the bench caches, or
with ``--second-view lsa`` a 256-d LSA of the TF-IDF rows), as in co-testing (Muslea, Minton &
Knoblock, "Active + Semi-Supervised Learning = Robust Multi-View Learning", ICML 2002). Not
registered in labelloop: ``bench/al_efficiency.py`` builds these for strategy names
``mv:<mode>`` with ``--strategies``. Measured on 2026-12-05 (bench/README.md): every mode picks
worse rows for the TF-IDF learner than ``auto`` on movies, SMS and TREC.

Modes (each follows the default policy ``auto`` while ``auto`` is in its cold start or batch
phase, so only its margin phase is replaced):

- ``cotest``: a logistic regression on the second view of the same labeled rows; rows where it
  and the round's model predict different classes first, then by the smaller summed margin;
- ``avg``: margin of the two models' averaged probabilities;
- ``view2``: margin of the second view's model alone (a control: selection in the other space);
- ``qbc``: vote entropy of a bootstrap committee with members on both views (3 + 3), ties broken
  by the margin of the committee's mean probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn.committee import bootstrap_committee
from labelloop.learn.model import default_model, fit_model, predict_proba_chunked
from labelloop.learn.policy import AutoPolicy
from labelloop.learn.strategies import margin_utility, rank

MODES = ("cotest", "avg", "view2", "qbc")
PREFIX = "mv:"
MEMBERS_PER_VIEW = 3


class MultiView:
    """Ranks by both views' models in ``auto``'s margin phase; ``auto`` itself otherwise."""

    def __init__(self, mode: str, view: np.ndarray) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown multi-view mode {mode!r}; known: {', '.join(MODES)}")
        self.name = PREFIX + mode
        self.mode = mode
        self.view = np.asarray(view, dtype=np.float64)
        self.auto = AutoPolicy()

    def query(self, pool: Pool, proba: Any, batch_size: int, rng: np.random.Generator) -> Selection:
        if self.auto.phase(pool, proba, batch_size) != "margin":
            return self.auto.query(pool, proba, batch_size, rng)
        y = np.asarray(pool.y)
        cand = np.flatnonzero(y == MISSING)
        lab = np.flatnonzero(y != MISSING)
        n_classes = len(pool.classes)
        V = self.view[pool.item_ids]
        p1 = np.asarray(proba, dtype=np.float64)[cand]
        if self.mode == "qbc":
            members = np.concatenate(
                [
                    bootstrap_committee(
                        default_model(),
                        X,
                        y,
                        n_classes=n_classes,
                        rng=rng,
                        n_members=MEMBERS_PER_VIEW,
                        rows=cand,
                    )
                    for X in (pool.X, V)
                ]
            )
            votes = members.argmax(axis=2)  # (n_members, n_cand)
            share = np.stack([(votes == c).mean(axis=0) for c in range(n_classes)], axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                ent = -np.nansum(np.where(share > 0, share * np.log(share), 0.0), axis=1)
            order = rank(ent, margin_utility(members.mean(axis=0)), batch_size, rng)
            return self._selection(cand[order], ent[order])
        second = fit_model(default_model(), V[lab], y[lab])
        p2 = predict_proba_chunked(second, V[cand], n_classes=n_classes)
        if self.mode == "cotest":
            disagree = (p1.argmax(axis=1) != p2.argmax(axis=1)).astype(np.float64)
            summed = margin_utility(p1) + margin_utility(p2)
            order = rank(disagree, summed, batch_size, rng)
            return self._selection(cand[order], disagree[order] + summed[order] / 2)
        u = margin_utility((p1 + p2) / 2 if self.mode == "avg" else p2)
        order = rank(u, np.zeros_like(u), batch_size, rng)
        return self._selection(cand[order], u[order])

    def _selection(self, rows: np.ndarray, scores: np.ndarray) -> Selection:
        rows = np.asarray(rows, dtype=np.intp)
        return Selection(rows, np.asarray(scores, dtype=np.float64), (self.name,) * rows.shape[0])
