"""Label quality: agreement (kappa, alpha, span and box F1), consensus, checks that flag items.

PURE: imports only the standard library, numpy, ``labelloop.domain`` and ``labelloop.errors``
at import time; scikit-learn-free, and cleanlab only inside :func:`label_issues` when present.
"""

from labelloop.quality.agreement import (
    LEVELS,
    Ratings,
    UndefinedStatistic,
    agreement_report,
    agreement_with_others,
    as_reliability,
    bootstrap_ci,
    box_iou,
    box_iou_agreement,
    category_counts,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_kappa,
    percent_agreement,
    reliability_of,
    span_f1,
)
from labelloop.quality.checks import (
    annotators_disagree,
    gold_accuracy,
    label_issues,
    model_contradicts,
    too_fast,
)
from labelloop.quality.consensus import (
    RESOLVERS,
    DawidSkeneResult,
    Resolution,
    Resolver,
    dawid_skene,
    majority_vote,
    register_resolver,
    resolve,
)
from labelloop.quality.suggested import suggestion_outcome

__all__ = [
    "LEVELS",
    "RESOLVERS",
    "DawidSkeneResult",
    "Resolution",
    "Ratings",
    "Resolver",
    "UndefinedStatistic",
    "agreement_report",
    "agreement_with_others",
    "annotators_disagree",
    "as_reliability",
    "bootstrap_ci",
    "box_iou",
    "box_iou_agreement",
    "category_counts",
    "cohen_kappa",
    "dawid_skene",
    "fleiss_kappa",
    "gold_accuracy",
    "krippendorff_alpha",
    "label_issues",
    "majority_vote",
    "model_contradicts",
    "pairwise_kappa",
    "percent_agreement",
    "reliability_of",
    "register_resolver",
    "resolve",
    "span_f1",
    "suggestion_outcome",
    "too_fast",
]
