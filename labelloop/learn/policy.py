"""The default policy: the strategy that suits the project's stage, with the stage in each reason.

Hacohen et al. (ICML 2022) show typicality wins while labels are few and uncertainty wins
after; Citovsky et al. (NeurIPS 2021) show margin alone wastes large batches on near-duplicates.
``auto`` follows both:

1. **typical** (:class:`~labelloop.learn.typicality.TypiClust`) without a model, or while fewer
   than two classes have labels, or while some class has fewer than ``min_per_class`` (3)
   labels *and* the project has fewer than ``cold_per_class`` (20) labels per class: a class
   the data barely holds must not keep the whole project in cold start. While a class is
   missing, uncertainty cannot find it (the model never predicts it) and typical items of the
   pool's groups are likelier to; in ``bench/al_efficiency.py`` (10 seeds, budget 500, TF-IDF)
   20 against 10 raised the learning-curve AUC on the six-class TREC set from 0.671 to 0.679
   and on tweets from 0.606 to 0.611, cost 0.0025 on SMS spam and 0.001 on digits, and left
   the balanced movie snippets unchanged;
2. otherwise **cluster_margin** (:class:`~labelloop.learn.batch.ClusterMargin`) when the batch
   is at least ``large_batch`` (100) rows or ``large_share`` (1%) of the pool;
3. otherwise **margin** (:class:`~labelloop.learn.strategies.Margin`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn.batch import ClusterMargin
from labelloop.learn.strategies import Margin, register_strategy
from labelloop.learn.typicality import TypiClust

Phase = Literal["typical", "margin", "cluster_margin"]


@register_strategy
class AutoPolicy:
    """Typicality until every class has a few labels, then margin, cluster-margin for big batches.

    Parameters
    ----------
    min_per_class : int
        Labels every class needs before uncertainty takes over.
    cold_per_class : int
        Labels per class after which uncertainty takes over anyway.
    large_batch : int
        Batches of at least this many rows use cluster-margin.
    large_share : float
        So do batches of at least this share of the pool.
    """

    name: ClassVar[str] = "auto"
    cold_start: ClassVar[bool] = True

    def __init__(
        self,
        min_per_class: int = 3,
        cold_per_class: int = 20,
        large_batch: int = 100,
        large_share: float = 0.01,
    ) -> None:
        self.min_per_class = min_per_class
        self.cold_per_class = cold_per_class
        self.large_batch = large_batch
        self.large_share = large_share

    def phase(self, pool: Pool, proba: NDArray[np.floating] | None, batch_size: int) -> Phase:
        """Which strategy the policy uses for this pool, model and batch.

        Parameters
        ----------
        pool : Pool
        proba : ndarray of shape (n_pool, n_classes) or None
        batch_size : int

        Returns
        -------
        {"typical", "margin", "cluster_margin"}
        """
        counts = self._counts(pool)
        if proba is None or np.count_nonzero(counts) < 2:
            return "typical"
        few = bool(counts.size) and counts.min() < self.min_per_class
        if few and counts.sum() < self.cold_per_class * len(pool.classes):
            return "typical"
        n_pool = np.asarray(pool.y).shape[0]
        batch_size = pool.batch_size or batch_size  # the labeling batch, not the queue length
        if batch_size >= self.large_batch or batch_size >= self.large_share * n_pool:
            return "cluster_margin"
        return "margin"

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Select with the strategy of the current :meth:`phase`; reasons say which and why.

        Parameters
        ----------
        pool : Pool
            ``pool.X`` of shape (n_pool, n_features).
        proba : ndarray of shape (n_pool, n_classes) or None
            ``None`` before the first model (the typical phase needs none).
        batch_size : int
        rng : numpy.random.Generator

        Returns
        -------
        Selection
            The phase strategy's selection; in the typical phase each reason also names the
            class with the fewest labels.
        """
        phase = self.phase(pool, proba, batch_size)
        if phase == "margin":
            return Margin().query(pool, proba, batch_size, rng)
        if phase == "cluster_margin":
            return ClusterMargin().query(pool, proba, batch_size, rng)
        sel = TypiClust().query(pool, None, batch_size, rng)
        why = self._why_typical(pool)
        return Selection(sel.indices, sel.scores, tuple(f"{r}; {why}" for r in sel.reasons))

    def _counts(self, pool: Pool) -> NDArray[np.intp]:
        y = np.asarray(pool.y)
        return np.bincount(y[y != MISSING], minlength=len(pool.classes))[: len(pool.classes)]

    def _why_typical(self, pool: Pool) -> str:
        # Said of the moment of picking: the queue is served until the next round, so the
        # labels given meanwhile would make a present tense ("has no labels yet") untrue.
        counts = self._counts(pool)
        if counts.sum() == 0:
            return "picked while the project had no labels"
        lacking = np.flatnonzero(counts < self.min_per_class)
        if lacking.shape[0] == 0:  # only reached without a model
            return "picked before the first model"
        fewest = int(lacking[np.argmin(counts[lacking])])
        n = int(counts[fewest])
        have = "no label" if n == 0 else f"only {n} label{'s' if n > 1 else ''}"
        others = lacking.shape[0] - 1
        more = f" ({others} more class{'es' if others > 1 else ''} under {self.min_per_class})"
        return f"picked while class '{pool.classes[fewest]}' had {have}" + (more if others else "")
