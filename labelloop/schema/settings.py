"""Project settings: the knobs of the loop a manager may set in the schema, each with a default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from labelloop.errors import SchemaError

DEFAULT_FEATURIZER = "tfidf"  # registered in labelloop.learn; validated lazily, see below
DEFAULT_MODEL = "logistic_regression"
DEFAULT_STRATEGY = "auto"  # labelloop.learn.DEFAULT_STRATEGY
DEFAULT_DETECTOR = "imported_scores"  # labelloop.learn.boxes.DEFAULT_DETECTOR
BUILT_IN_STRATEGIES = frozenset(
    {"auto", "badge", "cluster_margin", "coreset", "density_weighted", "entropy"}
    | {"least_confidence", "margin", "qbc_kl", "qbc_vote_entropy", "random", "typiclust"}
)
"""The strategies ``labelloop.learn`` registers, known without importing it (and scikit-learn)."""
STORED = "stored"
"""Validation context key: the settings are a stored project's, read back (see _registered)."""


class ProjectSettings(BaseModel):
    """The ``settings:`` block of a project schema; strict so a typo or wrong type fails loudly."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    strategy: str = Field(
        default=DEFAULT_STRATEGY,
        min_length=1,
        description="How the learner ranks the unlabeled items; a change re-ranks the queue now.",
    )
    retrain_every: int = Field(
        default=10, ge=1, description="New labels that start the next training round."
    )
    overlap: int = Field(
        default=1, ge=1, le=10, description="Distinct annotators who label each item."
    )
    lease_minutes: int = Field(
        default=10, ge=1, description="How long an item served to an annotator stays theirs."
    )
    batch_size: int = Field(
        default=10,
        ge=1,
        description="Items a round picks together; batch strategies (badge, coreset) spread them.",
    )
    queue_size: int = Field(
        default=500, ge=1, description="Ranked items kept ready to serve until the next round."
    )
    budget: int | None = Field(
        default=None,
        ge=1,
        description="Labels to buy: stopping is recommended once they are in. Empty: no budget.",
    )
    preselect_suggestion: bool = Field(
        default=False,
        description="The labeling page pre-selects the model's label, so Enter accepts it.",
    )
    # ...only when the model is at least this sure of its label: the items active learning picks
    # are the ones it is unsure of, and a coin flip pre-selected is a coin flip accepted with Enter.
    # A suggestion without a confidence is pre-selected whatever this says.
    preselect_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Pre-select the model's label only when it is at least this sure (0: always).",
    )
    # Which stopping rule recommends stopping (labelloop.learn.stopping; the budget always
    # does too); stop_kappa None means the rule's own threshold (0.93 settled, 0.99 the others);
    # stop_changed: the share of predictions settled_predictions lets change.
    stop_rule: Literal[
        "settled_predictions", "stabilizing_predictions", "kappa_average", "eval_plateau"
    ] = Field(default="settled_predictions", description="The rule that recommends stopping.")
    stop_kappa: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The rule's agreement threshold. Empty: the rule's own.",
    )
    stop_window: int = Field(
        default=3, ge=1, description="Rounds the stopping rule looks back over."
    )
    stop_lag: float = Field(
        default=0.2,
        gt=0.0,
        le=10.0,
        description="settled_predictions compares with the model of 1/(1 + lag) the labels.",
    )
    stop_changed: float = Field(
        default=0.0175,
        ge=0.0,
        le=1.0,
        description="settled_predictions says stop once at most this share of predictions changed.",
    )
    eval_fraction: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description=(
            "Share of the labeled items an import into the pool holds out as eval items, "
            "chosen by content, to measure the model."
        ),
    )
    # Active learning (README "Features, models and seeding").
    featurizer: str = Field(
        default=DEFAULT_FEATURIZER,
        min_length=1,
        max_length=100,
        description="How items become the features the model learns from.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        max_length=200,
        description="The classifier each round trains.",
    )
    random_share: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="Share of served items picked at random: the control for what active "
        "learning bought.",
    )
    span_scoring: Literal["mean", "max"] = Field(
        default="mean", description="Spans: rank an item by its mean or max token uncertainty."
    )
    detector: str = Field(
        default=DEFAULT_DETECTOR,
        min_length=1,
        max_length=100,
        description="Boxes: where the model's box suggestions come from.",
    )
    # Auto-labeling (`labelloop autolabel`): the model's labels are accepted for the unlabeled
    # items it is at least auto_label_confidence sure of, and only when on the eval items that
    # sure its accuracy's 95% interval lies at or above auto_label_min_accuracy.
    auto_label_confidence: float | None = Field(
        default=None,
        ge=0.5,
        le=1.0,
        description="How sure the model must be of an item an auto-label run labels. "
        "Empty: the lowest the eval items vouch for.",
    )
    auto_label_min_accuracy: float = Field(
        default=0.95,
        ge=0.5,
        le=1.0,
        description="A run needs the eval items to show the model right this often that sure.",
    )

    @field_validator("strategy", "detector", "featurizer", "model")
    @classmethod
    def _registered(cls, value: str, info: ValidationInfo) -> str:
        """A strategy, detector, featurizer or model must be usable when a schema is written. A
        stored project read back is not refused for it: one saved before a check, or naming a
        plug-in since uninstalled, still opens, and its learner reports the name instead of
        training (``workflow.learning.settings_problem``)."""
        setting = str(info.field_name)
        if is_default(setting, value) or (info.context or {}).get(STORED):
            return value  # the defaults need no registry (and no scikit-learn)
        problem = registry_problem(setting, value)
        if problem is not None:
            raise PydanticCustomError(setting, "{problem}", {"problem": problem})
        return value

    # Review and quality (README "Review and quality"); the defaults mean: no review.
    review_policy: Literal[
        "none", "all", "share", "disagreements", "low_model_agreement", "flagged", "qualification"
    ] = Field(default="none", description="Which answers a reviewer checks before they count.")
    review_share: float = Field(
        default=0.1, ge=0.0, le=1.0, description="share: the random share of answers reviewed."
    )
    qualification_items: int = Field(
        default=20,
        ge=1,
        description="qualification: review all of a new annotator's answers until this many are...",
    )
    qualification_accept_rate: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="qualification: ...with at least this share of them accepted.",
    )
    resolution: Literal["majority", "dawid_skene", "adjudication"] = Field(
        default="majority", description="How the answers of several annotators become one label."
    )
    escalate_to: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Usernames who form the expert tier with the managers.",
    )
    double_label_share: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of items a second annotator labels too."
    )
    gold_rate: float = Field(
        default=0.0, ge=0.0, le=0.5, description="Share of served items that are gold checks."
    )
    contradiction_threshold: float = Field(
        default=0.8,
        ge=0.5,
        le=1.0,
        description="The model's probability at which it flags a label it contradicts.",
    )
    rework_hours: int = Field(
        default=24, ge=1, description="How long a rejected item waits for its annotator."
    )
    backlog_alert_min: int = Field(
        default=10,
        ge=1,
        description="Annotations a growing review, expert or rework backlog holds (and a day's"
        " work at its pace) before it is an alert.",
    )


_DEFAULTS = {
    "strategy": DEFAULT_STRATEGY,
    "detector": DEFAULT_DETECTOR,
    "featurizer": DEFAULT_FEATURIZER,
    "model": DEFAULT_MODEL,
}


DAWID_SKENE_FROM = 3
"""Answers an item needs before Dawid–Skene decides it (``workflow.review.resolve``); with
fewer, the majority does."""


def resolution_note(settings: ProjectSettings) -> str | None:
    """What a project whose items get fewer answers than its resolution needs should be told,
    where the setting is made and shown; None when the resolution applies as set.

    Such a project is not refused: an import of another tool's answers (a Label Studio file
    with three annotators' answers per item) brings the answers the overlap does not.
    """
    if settings.resolution != "dawid_skene" or settings.overlap >= DAWID_SKENE_FROM:
        return None
    most = settings.overlap + (1 if settings.double_label_share and settings.overlap == 1 else 0)
    answers = f"{most} answer{'' if most == 1 else 's'}"
    return (
        f"resolution dawid_skene decides an item from {DAWID_SKENE_FROM} answers up, and with "
        f"overlap {settings.overlap} an item gets at most {answers} here: the majority decides "
        f"each (a tie is flagged), and Dawid–Skene only items an import brings "
        f"{DAWID_SKENE_FROM} or more answers for. For Dawid–Skene, create the project with "
        f"overlap {DAWID_SKENE_FROM} or more"
    )


def is_default(setting: str, name: str) -> bool:
    """Whether ``name`` is the default ``setting`` of some data type, or a built-in strategy.
    Those are registered whenever ``labelloop.learn`` is imported and a default featurizer is
    fitted on the items, never cached per item (``tests/schema/test_schema_learning_settings.py``
    checks both): known without the registries, so `labelloop status` and a server's first
    status need no scikit-learn."""
    if setting == "featurizer":
        from labelloop.schema.project import DEFAULT_FEATURIZERS

        return name == DEFAULT_FEATURIZER or name in DEFAULT_FEATURIZERS.values()
    if setting == "strategy":
        return name in BUILT_IN_STRATEGIES
    return name == _DEFAULTS[setting]


def registry_problem(setting: str, name: str) -> str | None:
    """Why ``name`` is no usable ``setting`` ("strategy", "detector", "featurizer" or "model")
    in this process, listing the registered names where there are some; ``None`` when it is.

    A featurizer must be registered and, when stacked, have parts that fit together; a model
    must import as a scikit-learn classifier. A default is, without importing them.
    """
    if is_default(setting, name):
        return None
    if setting == "detector":
        from labelloop.learn.boxes import DETECTORS

        return DETECTORS.unknown(name)
    if setting in ("featurizer", "model"):
        from labelloop.learn.featurize import parts_of
        from labelloop.learn.model import model_class

        try:
            parts_of(name) if setting == "featurizer" else model_class(name)
        except SchemaError as exc:
            return exc.message
        return None
    from labelloop.learn import STRATEGIES  # importing the package registers the built-ins

    return STRATEGIES.unknown(name)


def typed_settings(raw: Mapping[str, Any], *, stored: bool = False) -> ProjectSettings:
    """A ``settings:`` block validated; ``stored``: a stored project's, read back (see
    ``ProjectSettings._registered``).

    Raises
    ------
    SchemaError
        Naming every setting that is wrong and why.
    """
    try:
        return ProjectSettings.model_validate(dict(raw), context={STORED: stored})
    except ValidationError as exc:
        raise SchemaError("; ".join(_message(err) for err in exc.errors())) from None


def parse_settings(raw: Any, *, stored: bool = False) -> dict[str, Any]:
    """Validate a ``settings:`` block and return every setting with defaults filled in."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SchemaError("settings: must be a mapping of setting name to value")
    return typed_settings(raw, stored=stored).model_dump()


def _message(err: Any) -> str:
    """One pydantic error as 'settings.<key>: <what is wrong>'."""
    path = str(err["loc"][0]) if err["loc"] else ""  # settings are flat: the key is enough
    if err["type"] == "extra_forbidden":
        known = ", ".join(ProjectSettings.model_fields)
        return f"settings.{path}: unknown setting; known settings are: {known}"
    msg = str(err["msg"])
    return f"settings.{path}: {msg[:1].lower()}{msg[1:]}"
