"""The learner: featurizers, models, query strategies, cold start, stopping criteria, rounds.

PURE: imports only the standard library, numpy, scipy, scikit-learn, threadpoolctl and
``labelloop.domain`` / ``labelloop.errors``.
"""

from labelloop.learn.coldstart import diverse_selection
from labelloop.learn.conformance import check_featurizer, check_stopping, check_strategy
from labelloop.learn.featurize import (
    FEATURIZERS,
    Featurizer,
    TfidfFeaturizer,
    make_featurizer,
    register_featurizer,
)
from labelloop.learn.model import default_model, fit_model, predict_proba_chunked
from labelloop.learn.round import RoundResult, choose_stop_set, run_round
from labelloop.learn.stopping import (
    STOPPING,
    LabelBudget,
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

__all__ = [
    "FEATURIZERS",
    "STOPPING",
    "STRATEGIES",
    "Entropy",
    "Featurizer",
    "LabelBudget",
    "LeastConfidence",
    "Margin",
    "QueryStrategy",
    "RandomSampling",
    "RoundResult",
    "StabilizingPredictions",
    "StoppingCriterion",
    "TfidfFeaturizer",
    "check_featurizer",
    "check_stopping",
    "check_strategy",
    "choose_stop_set",
    "default_model",
    "diverse_selection",
    "evaluate_all",
    "fit_model",
    "make_featurizer",
    "make_stopping",
    "make_strategy",
    "predict_proba_chunked",
    "register_featurizer",
    "register_stopping",
    "register_strategy",
    "run_round",
]
