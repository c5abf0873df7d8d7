"""The learner: featurizers, models, query strategies, cold start, stopping criteria, rounds.

PURE: imports only the standard library, numpy, scipy, scikit-learn, threadpoolctl, cleanlab
(lazily, for re-label suggestions) and ``labelloop.domain`` / ``labelloop.errors``. Importing
the package registers the built-in strategies and stopping criteria; it computes nothing.
"""

from labelloop.learn.audio import AudioFeaturizer
from labelloop.learn.batch import Badge, ClusterMargin, CoreSet
from labelloop.learn.coldstart import diverse_selection
from labelloop.learn.committee import QBCKullbackLeibler, QBCVoteEntropy, bootstrap_committee
from labelloop.learn.conformance import check_featurizer, check_stopping, check_strategy
from labelloop.learn.density import DensityWeighted
from labelloop.learn.embeddings import MiniLMFeaturizer, TfidfMiniLMFeaturizer
from labelloop.learn.featurize import (
    FEATURIZERS,
    Featurizer,
    StackedFeaturizer,
    TfidfFeaturizer,
    make_featurizer,
    register_featurizer,
)
from labelloop.learn.images import HogFeaturizer, PixelFeaturizer
from labelloop.learn.model import default_model, fit_model, make_model, predict_proba_chunked
from labelloop.learn.policy import AutoPolicy
from labelloop.learn.relabel import relabel_candidates
from labelloop.learn.round import RoundResult, choose_stop_set, run_round
from labelloop.learn.similarity import most_similar
from labelloop.learn.stopping import (
    STOPPING,
    EvalPlateau,
    KappaAverage,
    LabelBudget,
    SettledPredictions,
    StabilizingPredictions,
    StoppingCriterion,
    evaluate_all,
    make_stopping,
    register_stopping,
)
from labelloop.learn.strategies import (
    STRATEGIES,
    Entropy,
    LeastConfidence,
    Margin,
    QueryStrategy,
    RandomSampling,
    make_strategy,
    register_strategy,
)
from labelloop.learn.tabular import TableFeaturizer
from labelloop.learn.typicality import TypiClust

DEFAULT_STRATEGY = "auto"
"""The strategy a project uses unless its settings name another."""

__all__ = [
    "AudioFeaturizer",
    "DEFAULT_STRATEGY",
    "FEATURIZERS",
    "STOPPING",
    "STRATEGIES",
    "AutoPolicy",
    "Badge",
    "ClusterMargin",
    "CoreSet",
    "DensityWeighted",
    "Entropy",
    "EvalPlateau",
    "Featurizer",
    "HogFeaturizer",
    "KappaAverage",
    "SettledPredictions",
    "LabelBudget",
    "LeastConfidence",
    "Margin",
    "MiniLMFeaturizer",
    "PixelFeaturizer",
    "QBCKullbackLeibler",
    "QBCVoteEntropy",
    "QueryStrategy",
    "RandomSampling",
    "RoundResult",
    "StabilizingPredictions",
    "StackedFeaturizer",
    "StoppingCriterion",
    "TableFeaturizer",
    "TfidfFeaturizer",
    "TfidfMiniLMFeaturizer",
    "TypiClust",
    "bootstrap_committee",
    "check_featurizer",
    "check_stopping",
    "check_strategy",
    "choose_stop_set",
    "default_model",
    "diverse_selection",
    "evaluate_all",
    "fit_model",
    "make_featurizer",
    "make_model",
    "make_stopping",
    "make_strategy",
    "most_similar",
    "predict_proba_chunked",
    "register_featurizer",
    "register_stopping",
    "register_strategy",
    "relabel_candidates",
    "run_round",
]
