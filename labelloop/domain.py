"""Small frozen values shared by the rooms: what comes in, what the learner sees, what goes out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # array types name the fields only: importing domain loads no numpy
    import numpy as np
    from numpy.typing import NDArray
    from scipy.sparse import csr_matrix

MISSING = -1
"""``Pool.y`` value for "no resolved label yet" (scikit-activeml's convention)."""


@dataclass(frozen=True, slots=True)
class ItemIn:
    """One record read by an importer, before it touches the store.

    ``line`` is the 1-based line (JSONL) or record number (CSV) the record came from, so every
    later error can name it. ``label`` is the raw value the record came with (a label name for a
    ``choice`` control, a list of names for ``multi_choice``, a mapping of control name to value
    for several controls) or ``None``. ``prediction`` is the raw pre-annotation (control name ->
    predicted value, scores kept) or ``None``. ``frame`` says what the boxes of an image record
    are measured in when that is not the image file's pixels; the import scales them to the file.
    ``split`` is the split the file itself puts the record in ("pool" or "eval": a YOLO
    dataset's training or validation images), taken by an import into the pool; ``None`` where
    the file says nothing of it. ``answers`` are each annotator's own answer to the record, as
    another labeling tool kept them (a Label Studio import asked for them); the import stores
    them as those people's annotations, and ``label`` is then ``None``.
    """

    line: int
    payload: Mapping[str, Any]
    external_id: str | None = None
    label: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    prediction: Any = None
    frame: BoxFrame | None = None
    split: str | None = None
    answers: tuple[AnswerIn, ...] = ()


@dataclass(frozen=True, slots=True)
class AnswerIn:
    """One person's answer to an imported record, as the labeling tool it comes from kept it.

    ``field`` says where the record holds it (``annotations[1]``), for errors. ``annotator``
    lists the names the tool knows its author by, best first (an email, a username);
    ``shown`` is how errors and notes name them. ``value`` is control name -> raw value, or
    ``None`` for a skip (Label Studio's cancelled annotation). ``created_at`` and
    ``updated_at`` are when it was made and last changed, ``active_ms`` how long its author
    worked on it (``None``: the tool does not say); ``source_id`` is the tool's id of it.
    """

    field: str
    annotator: tuple[str, ...]
    shown: str
    value: Mapping[str, Any] | None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    active_ms: int | None = None
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class BoxFrame:
    """The width and height that span a whole image in a record's box coordinates.

    A COCO image's declared size (``declared``: the file says the image is this big, so a file
    of another size is worth telling its user), or 1 by 1 for YOLO's normalized coordinates.
    """

    width: float
    height: float
    declared: bool = True


@dataclass(frozen=True)
class Pool:
    """One round's read-only snapshot; row ``i`` is ``item_ids[i]``.

    ``committee_proba``, shape (n_members, n_pool, n_classes), holds the class probabilities of
    a bootstrap committee for the query-by-committee strategies; ``run_round`` fills it for a
    strategy whose class attribute ``needs_committee`` is true, and it is ``None`` otherwise.

    ``batch_size`` is how many items will be labeled before the next round, when that differs
    from how many a strategy is asked to rank: a served queue is longer than the batch it feeds
    (``None``: the two are the same).
    """

    item_ids: NDArray[np.int64]
    X: NDArray[np.floating] | csr_matrix
    y: NDArray[np.int64]
    classes: tuple[str, ...]
    committee_proba: NDArray[np.floating] | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class Selection:
    """Pool rows picked by a strategy, best first, with the utility and a sentence for each."""

    indices: NDArray[np.intp]
    scores: NDArray[np.floating]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RoundSummary:
    """What one persisted training round tells the stopping criteria."""

    model_version: int
    n_labeled: int
    stop_predictions: NDArray[np.int64]
    eval_metrics: Mapping[str, float] = field(default_factory=dict)
    n_unlabeled: int | None = None
    """Pool items still unlabeled after this round's labels (``None``: not known); an estimate
    of labels more is never larger."""
    stop_labeled: NDArray[np.bool_] | None = None
    """Which stop-set items (aligned with ``stop_predictions``) the round's model was trained on
    (``None``: not known). A model learning an item's label changes its prediction there
    whenever it had the item wrong, which says nothing of the items it has not seen."""


@dataclass(frozen=True)
class StopDecision:
    """A stopping criterion's verdict: its current value and one sentence a manager can read.

    ``more_labels`` estimates how many labels more would still change the model noticeably
    (0.01 more eval accuracy, or 1% of the stop-set predictions); ``None`` when the history
    cannot tell.
    """

    criterion: str
    stop: bool
    value: float | None
    reason: str
    more_labels: int | None = None


DECIDED: Sequence[str] = ("reviewed", "adjudicated")
"""Resolutions of a label a person decided (a reviewer, the expert tier's adjudicator), not the
answers on their own, an import or the model."""

MAX_COMMENT_CHARS = 2_000
"""The longest comment a reviewer's decision keeps (a verdict's, an adjudication's, a second
look's): the API refuses a longer one, the review pages' fields stop there, and the workflow
cuts one that comes another way (the CLI) to it."""

NO_PREDICTION = "no prediction for this image yet"
"""The reason a boxes round records for an image its detector predicted nothing for: no model
ranked it (the queue puts it after every image with a prediction), so the pages say no model
picked it (``workflow.status.picked_by``)."""


@dataclass(frozen=True, slots=True)
class LabelAnswer:
    """One live answer behind an exported label, as its annotator gave it (or last changed
    it): who, every control's ``value`` (spans with their ``text``), when it was given, the
    time spent on it, the guideline and schema version it stands under, and how and why the
    item was served to its annotator (``strategy``, ``reason``: their own assignment's
    selection; None for an answer given on none), and the answer's own id (``answer_id``, as the
    answers export writes it; None where a plug-in built the record). The formats of other
    tools write one such answer per annotator where they hold several (Label Studio's
    annotations)."""

    annotator: str
    value: Mapping[str, Any]
    answered_at: datetime | None
    active_ms: int | None
    guideline_version: int | None
    schema_version: int | None
    strategy: str | None = None
    reason: str | None = None
    answer_id: int | None = None


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One labeled item as exported: its label and where the label came from.

    ``text`` is the item's content: its text, media path, sanitized HTML or table row (an object).
    ``label`` is the target control's value and ``value`` every control's (spans carry their
    ``text``). ``payload`` is the item's stored payload (image size for COCO) and ``split`` the
    item's (pool or eval: YOLO lists eval items as ``val``); neither is a column.

    ``annotator`` is who annotated (None: imported; for a label the expert tier decided
    otherwise than every answer, the item's first answer's, with the selection that picked it);
    ``decided_by`` and ``decided_at`` are who resolved the label and when (the reviewer of a
    reviewed label, the adjudicator, the importer, the one annotator of a ``single`` label;
    None for a label several answers decided by a rule). ``annotated_value`` is every control's
    value as the annotator gave it, when a review fix or adjudication made the label differ
    from it (None: the same, or no annotation).
    The three come last so a CSV export's earlier columns keep their places.

    ``suggestion_value`` maps controls to what the annotator was offered (an import's
    pre-annotations, the model's spans or boxes; scores kept, spans with their ``text``) and
    ``suggestion_source`` each of those controls to ``model`` or ``import``; both None when
    nothing but the model's ``suggestion`` label (or nothing) was offered. They come after the
    decision columns, for the same reason.

    ``changed_at`` is when the annotator last changed the answer after giving it (None: never);
    ``annotated_at`` stays when it was given, and ``guideline_version`` is the version of the
    answer as it stands (a change takes the version current then). It comes after them.

    ``decided_guideline_version`` is the guideline version in force when a reviewer or the
    expert tier's adjudicator decided the label (the newest published by then): the decider's
    own, beside the annotator's ``guideline_version`` (None: no one decided it, or before any
    version was published). It comes after them.

    ``annotators`` names every annotator whose answer stands behind the label (its item's live
    answers, oldest first; ``annotator`` is the first of them) and ``guideline_versions`` the
    version each answered under, in the same order (empty: no one answered, as for an imported
    or auto label). They come last.

    ``answers`` holds those answers whole (:class:`LabelAnswer`, in the same order), for the
    formats of other tools that hold each annotator's own answer; like ``payload`` and
    ``split`` it is no column.
    """

    item_id: int
    external_id: str | None
    text: Any
    label: Any
    resolution: str
    annotator: str | None
    annotated_at: datetime | None
    active_ms: int | None
    guideline_version: int | None
    schema_version: int | None
    model_version: int | None
    suggestion: str | None
    suggestion_confidence: float | None
    strategy: str | None
    score: float | None
    rank: int | None
    reason: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    value: Mapping[str, Any] = field(default_factory=dict)
    decided_by: str | None = None
    decided_at: datetime | None = None
    annotated_value: Mapping[str, Any] | None = None
    suggestion_value: Mapping[str, Any] | None = None
    suggestion_source: Mapping[str, str] | None = None
    changed_at: datetime | None = None
    decided_guideline_version: int | None = None
    annotators: tuple[str, ...] = ()
    guideline_versions: tuple[int | None, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    split: str = "pool"
    answers: tuple[LabelAnswer, ...] = ()


EXPORT_COLUMNS: Sequence[str] = tuple(
    name
    for name in ExportRecord.__dataclass_fields__
    if name not in ("payload", "split", "answers")
)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One annotator's answer as the answers export writes it (``labelloop export
    --annotations``): a row per answer, where :class:`ExportRecord` is a row per labeled item.

    ``item_id``, ``external_id``, ``text`` and ``metadata`` are the item's, as the labels export
    writes them. ``answer_id`` is the answer's own id; ``answer`` is the target control's value
    as its annotator gave it and ``value`` every control's (spans with their ``text``), as it
    stands after any change of theirs: ``answered_at`` is when it was first given,
    ``changed_at`` when its annotator last changed it (None: never), ``guideline_version`` the
    version it stands under and ``active_ms`` the time spent on it (Label Studio's lead time).

    ``status`` is where review left it (``submitted``, ``in_review``, ``escalated``,
    ``accepted``, ``rejected``, ``fixed``, ``adjudicated``); ``verdict``, ``reviewed_by``,
    ``reviewed_at``, ``review_tier`` (1 review, 2 the expert tier) and ``review_comment`` are
    its latest verdict's (None: never reviewed), and ``fixed_value`` every control's value as
    its latest fix set it.

    ``gold`` says whether the item is a gold check, ``gold_label`` its known answer's target
    value. ``label`` and ``resolution`` are the item's resolved label (None: not resolved yet),
    and ``agrees`` whether ``answer`` is that label (None without one). ``strategy`` says how
    the item was served (a query strategy, ``gold``, ``rework``, ``import``), ``model_version``,
    ``suggestion`` and ``suggestion_confidence`` what the model offered with it. ``reason`` says
    why the item was picked (the selection's sentence); it comes after them, so a CSV export's
    earlier columns keep their places.

    ``reviewed_guideline_version`` is the guideline version in force at ``reviewed_at`` (the
    newest published by then): the reviewer's, beside the annotator's ``guideline_version``
    (None: never reviewed, or before any version was published). It comes last.
    """

    item_id: int
    external_id: str | None
    text: Any
    answer_id: int
    annotator: str
    answer: Any
    value: Mapping[str, Any]
    status: str
    answered_at: datetime
    changed_at: datetime | None
    active_ms: int | None
    guideline_version: int | None
    schema_version: int | None
    verdict: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_tier: int | None
    review_comment: str | None
    fixed_value: Mapping[str, Any] | None
    gold: bool
    gold_label: Any
    label: Any
    resolution: str | None
    agrees: bool | None
    strategy: str | None
    model_version: int | None
    suggestion: str | None
    suggestion_confidence: float | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    reviewed_guideline_version: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    split: str = "pool"


ANSWER_COLUMNS: Sequence[str] = tuple(
    name for name in AnswerRecord.__dataclass_fields__ if name not in ("payload", "split")
)
"""The columns of an answers export, in order (JSONL keys, CSV header)."""
