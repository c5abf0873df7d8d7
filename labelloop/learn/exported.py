"""A project's classifier taken out of labelloop: the fitted featurizer and model, to label new
items the way the project's own rounds score its pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.learn.model import predict_proba_chunked

FORMAT = "labelloop-project-model/1"
"""What a model file holds; :class:`ProjectModel` files of another format are refused."""


@dataclass
class ProjectModel:
    """The fitted featurizer and classifier of a project, with where they came from.

    Parameters
    ----------
    featurizer : fitted featurizer
        Reads payloads as the project stores them: ``{"text": ...}`` for text, ``{"row":
        {...}}`` for table rows, ``{"image": path}`` for images.
    estimator : fitted scikit-learn classifier
        Trained on class indices into ``classes``.
    classes : tuple of str
        The target control's labels, in the schema's order.
    info : dict
        Provenance: project, control, featurizer, model, labels trained on, eval metrics,
        labelloop version, when it was made.
    """

    featurizer: Any
    estimator: Any
    classes: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    def predict_proba(self, items: Sequence[Mapping[str, Any] | str]) -> NDArray[np.float64]:
        """Each item's probability per class, columns in the order of ``classes``.

        Parameters
        ----------
        items : sequence of payload mappings, or of str (texts)
            A plain string stands for the text payload ``{"text": item}``.

        Returns
        -------
        ndarray of shape (n_items, n_classes)
        """
        payloads = [{"text": item} if isinstance(item, str) else item for item in items]
        if not payloads:
            return np.zeros((0, len(self.classes)))
        X = self.featurizer.transform(payloads)
        return predict_proba_chunked(self.estimator, X, n_classes=len(self.classes))

    def predict(self, items: Sequence[Mapping[str, Any] | str]) -> list[str]:
        """Each item's most probable label."""
        proba = self.predict_proba(items)
        return [self.classes[int(i)] for i in proba.argmax(axis=1)]
