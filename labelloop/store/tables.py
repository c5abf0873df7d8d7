"""The tables: their one description. Alembic migrations under ``migrations/`` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # rowid aliases on SQLite


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return (
            value.replace(tzinfo=None) if value is not None and dialect.name == "sqlite" else value
        )

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        # PostgreSQL gives them in the session's time zone, the database's unless told
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UTCDateTime()


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


user = Table(
    "user",
    metadata,
    _id(),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", TS, nullable=False),
    # Counts the user's ended sessions: a session cookie carries the value it was issued at,
    # and signing out, a new password or deactivation bump it, so every older cookie is refused.
    Column("session_generation", Integer, nullable=False, default=0, server_default="0"),
)

api_token = Table(
    "api_token",
    metadata,
    _id(),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
)

project = Table(
    "project",
    metadata,
    _id(),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("schema", JSON, nullable=False),
    Column("schema_version", Integer, nullable=False, default=1),
    Column("created_by", ForeignKey("user.id"), nullable=True),
    Column("created_at", TS, nullable=False),
)

membership = Table(
    "membership",
    metadata,
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_membership_user", "user_id"),
)

guideline = Table(
    "guideline",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("change_summary", String(500), nullable=False, default=""),
    Column("author_id", ForeignKey("user.id"), nullable=True),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("project_id", "version", name="uq_guideline_project_version"),
)

guideline_example = Table(
    # An item pinned to the guideline as an example of a label, with a note on why. It belongs to
    # the versions from added_in up to (not including) removed_in: pinning or unpinning one is a
    # new guideline version, so a label is always read against the examples its annotator saw.
    "guideline_example",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
    Column("value", JSON, nullable=False),
    Column("label", String(500), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("added_in", Integer, nullable=False),
    Column("removed_in", Integer, nullable=True),
    Column("added_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_guideline_example_project", "project_id", "added_in"),
)

import_batch = Table(
    "import_batch",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("user_id", ForeignKey("user.id"), nullable=True),
    Column("filename", String(500), nullable=False),
    Column("format", String(20), nullable=False),
    Column("split", String(10), nullable=False),
    Column("n_items", Integer, nullable=False),
    Column("n_labeled", Integer, nullable=False),
    Column("n_duplicates", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    # A zip that brought its images: the folder under the first media root they were stored in
    # (uploads/SLUG/STAMP), whose files an undo of the import removes.
    Column("upload_folder", String(300), nullable=True),
    # Set while an undo removes the import's items a slice at a time: from then on none of
    # them is served or answered, and the list says the import is being undone.
    Column("undoing_at", TS, nullable=True),
)

id_high_water = Table(
    # SQLite gives a new row the highest id + 1, so deleting the newest rows (undoing an import)
    # would hand their ids to the next ones: a removed item's cached features or a released
    # lease's open page would then meet another row. The highest id ever removed from such a
    # table is kept here and new rows start above it (PostgreSQL's sequences never go back).
    "id_high_water",
    metadata,
    Column("table_name", String(50), primary_key=True),
    Column("last_id", Id, nullable=False),
)

item = Table(
    "item",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("meta", JSON, nullable=False),
    Column("split", String(10), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("import_batch_id", ForeignKey("import_batch.id"), nullable=True),
    # pre-annotations from the import file: control name -> value with scores, or NULL
    Column("prediction", JSON, nullable=True),
    Index("ix_item_project_hash", "project_id", "content_hash"),
    Index("ix_item_project_split", "project_id", "split"),
    Index("ix_item_project_external", "project_id", "external_id"),
    # an import's items: its undo checks and removes them a slice of ids at a time
    Index("ix_item_batch", "import_batch_id", "id"),
)

model_version = Table(
    "model_version",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("n_train", Integer, nullable=False),
    Column("strategy", String(50), nullable=False),
    Column("featurizer", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    Column("params", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("cohort_metrics", JSON, nullable=True),  # per eval cohort; choice rounds with tags
    Column("stop_predictions", JSON, nullable=False),
    Column("stopping", JSON, nullable=False),
    Column("train_seconds", Float, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("project_id", "version", name="uq_model_version_project_version"),
)

COLD_START_MODEL = "none (cold start)"
"""``model_version.model`` of a cold-start round: it queued items before there were labels to
train a model on (its ``stopping`` says ``cold_start`` too; this column is read without decoding
that JSON, on the serving path and per exported row)."""

queue_entry = Table(
    "queue_entry",
    metadata,
    Column(
        "model_version_id", ForeignKey("model_version.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("rank", Integer, primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
    Column("score", Float, nullable=False),
    Column("reason", String(300), nullable=False),
    Column("suggestion", String(200), nullable=True),
    Column("suggestion_confidence", Float, nullable=True),
    Column("suggestion_value", JSON, nullable=True),  # suggested spans/boxes by control
    Index("ix_queue_entry_item", "item_id"),
)

assignment = Table(
    "assignment",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("user.id"), nullable=False),
    Column("state", String(12), nullable=False),  # leased | submitted | skipped | released
    Column("leased_at", TS, nullable=False),
    Column("lease_expires_at", TS, nullable=False),
    Column("model_version_id", ForeignKey("model_version.id", ondelete="SET NULL"), nullable=True),
    Column("model_version", Integer, nullable=True),
    Column("strategy", String(50), nullable=True),
    Column("score", Float, nullable=True),
    Column("rank", Integer, nullable=True),
    Column("reason", String(300), nullable=True),
    Column("suggestion", String(200), nullable=True),
    Column("suggestion_confidence", Float, nullable=True),
    Column("suggestion_value", JSON, nullable=True),  # suggested spans/boxes by control
    # A rework lease's item is on its annotator's page until then (a lease's length from when
    # it was served or renewed; the moment the page gave it back): being redone, not waiting.
    Column("taken_up_until", TS, nullable=True),
    Index("ix_assignment_item_state", "item_id", "state"),
    Index("ix_assignment_user_state", "project_id", "user_id", "state"),
)

removed_lease = Table(
    # A lease whose item left the project with its import (``labelloop imports undo``): a
    # labeling page still showing it is told the task is no longer leased, and moves on.
    "removed_lease",
    metadata,
    Column("assignment_id", Id, primary_key=True, autoincrement=False),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("removed_at", TS, nullable=False),
)

review_lease = Table(
    # The item a reviewer (or the expert tier) is shown, leased to them as an item is to an
    # annotator: other reviewers' queues pass it by until they decide, pass, leave the page or
    # the lease runs out. One row an item: a lease that ran out is taken over in place.
    "review_lease",
    metadata,
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    Column("tier", Integer, nullable=False),  # 1 review, 2 expert tier
    Column("leased_at", TS, nullable=False),
    Column("lease_expires_at", TS, nullable=False),
    Index("ix_review_lease_user", "project_id", "user_id"),
)

annotation = Table(
    "annotation",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("user.id"), nullable=False),
    Column("assignment_id", ForeignKey("assignment.id"), nullable=True, unique=True),
    Column("value", JSON, nullable=False),
    Column("status", String(12), nullable=False),  # submitted
    Column("schema_version", Integer, nullable=False),
    Column("guideline_version", Integer, nullable=True),
    Column("model_version", Integer, nullable=True),
    Column("suggestion", String(200), nullable=True),
    Column("suggestion_confidence", Float, nullable=True),
    Column("suggestion_value", JSON, nullable=True),  # suggested spans/boxes by control
    # where each control's suggested value came from: control -> "model" | "import"
    Column("suggestion_source", JSON, nullable=True),
    Column("active_ms", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_annotation_item", "item_id"),
    Index("ix_annotation_project_user", "project_id", "user_id"),
)

review = Table(
    "review",
    metadata,
    _id(),
    Column("annotation_id", ForeignKey("annotation.id", ondelete="CASCADE"), nullable=False),
    Column("reviewer_id", ForeignKey("user.id"), nullable=False),
    Column("verdict", String(10), nullable=False),  # accept | reject | fix
    Column("corrected_value", JSON, nullable=True),
    Column("comment", Text, nullable=True),
    Column("tier", Integer, nullable=False, server_default="1"),  # 1 review, 2 expert tier
    Column("created_at", TS, nullable=False),
    Index("ix_review_annotation", "annotation_id"),
)

flag = Table(
    "flag",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
    Column("annotation_id", ForeignKey("annotation.id", ondelete="CASCADE"), nullable=True),
    Column("user_id", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    # ambiguous | disagreement | model_contradicts | label_issue | gold_wrong | too_fast
    Column("kind", String(30), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("score", Float, nullable=True),
    # The model's word on a label_issue or model_contradicts flag: the label it says instead and
    # its probability, to 4 decimals (NULL on other kinds and on a label_issue whose note named
    # no label of the project before revision 0028; revision 0030 filled the model_contradicts
    # flags raised before their check wrote them from the answers they were raised on).
    Column("suggestion", String(200), nullable=True),
    Column("suggestion_confidence", Float, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("resolved_at", TS, nullable=True),
    Column("resolved_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    # Why the model closed it (a round or a label-error scan came to agree with the label:
    # which model, the label's probability), so people can tell; NULL while open or when a person
    # (or a change of the answers) resolved it. A label_issue flag the model closed does not
    # stop a later one on the item; any other resolved one does.
    Column("resolved_note", Text, nullable=True),
    Index("ix_flag_project_item", "project_id", "item_id"),
    Index("ix_flag_project_kind", "project_id", "kind"),
)

seed_pick = Table(
    "seed_pick",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
    Column("reason", String(300), nullable=False),  # "searched by ana for 'refund'"
    Column("created_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_seed_pick_project", "project_id", "id"),
    Index("ix_seed_pick_item", "item_id"),
)

gold_answer = Table(
    "gold_answer",
    metadata,
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("value", JSON, nullable=False),
    Column("created_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_gold_answer_project", "project_id"),
)

auto_label_run = Table(  # a manager accepting the model's labels for the confident items
    "auto_label_run",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("confidence", Float, nullable=False),  # the top class probability an item needed
    Column("min_accuracy", Float, nullable=False),  # the eval interval's floor it had to reach
    Column("model_version", Integer, nullable=True),  # the project's newest when applied
    Column("model", JSON, nullable=False),  # model, featurizer, n_train, the eval figures
    Column("n_labeled", Integer, nullable=False),
    Column("by_label", JSON, nullable=False),
    Column("applied_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("applied_at", TS, nullable=False),
    Column("undone_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("undone_at", TS, nullable=True),
    Column("n_undone", Integer, nullable=True),
    Index("ix_auto_label_run_project", "project_id"),
)

auto_label_check = Table(  # a run's labels taken back for people to answer blind
    "auto_label_check",
    metadata,
    _id(),
    Column("run_id", ForeignKey("auto_label_run.id", ondelete="CASCADE"), nullable=False),
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(200), nullable=False),  # the model's label, kept for the comparison
    Column("confidence", Float, nullable=False),
    Column("created_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_auto_label_check_run", "run_id"),
)

AUTO = "auto"
"""``item_label.resolution`` of a label the model gave (an auto-label run): it is never trained
on, nor counted as a person's work."""

item_label = Table(
    "item_label",
    metadata,
    Column("item_id", ForeignKey("item.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("value", JSON, nullable=False),
    Column("label", String(200), nullable=True),  # the target control's label, for training
    Column("resolution", String(20), nullable=False),  # imported | single | consensus | ...
    Column("annotation_id", ForeignKey("annotation.id", ondelete="SET NULL"), nullable=True),
    Column("decided_by", ForeignKey("user.id"), nullable=True),
    Column("decided_at", TS, nullable=False),
    # An auto label's run and the model's probability for it (None for every other label).
    Column("auto_run_id", ForeignKey("auto_label_run.id", ondelete="CASCADE"), nullable=True),
    Column("confidence", Float, nullable=True),
    Index("ix_item_label_project", "project_id"),
    Index("ix_item_label_auto_run", "auto_run_id"),
)

audit_event = Table(
    "audit_event",
    metadata,
    _id(),
    Column("at", TS, nullable=False),
    Column("actor_id", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("project_id", ForeignKey("project.id", ondelete="SET NULL"), nullable=True),
    Column("action", String(50), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_event_project", "project_id", "id"),
)

alert = Table(
    "alert",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("message", String(500), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("resolved_at", TS, nullable=True),
    # A reviewer's or manager's "seen, we're on it": the alert stays open while its condition
    # holds but no longer needs attention. Acknowledged when acknowledged_at is set (by None:
    # the local operator, or a user since removed).
    Column("acknowledged_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("acknowledged_at", TS, nullable=True),
    Column("acknowledged_note", String(200), nullable=True),
)

simulation = Table(
    "simulation",
    metadata,
    _id(),
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), nullable=False),
    Column("requested_by", ForeignKey("user.id", ondelete="SET NULL"), nullable=True),
    Column("state", String(20), nullable=False),  # queued | running | done | failed | cancelled
    Column("options", JSON, nullable=False),
    Column("phase", String(200), nullable=False),
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("result", JSON, nullable=True),
    Column("chart", Text, nullable=True),  # the self-contained HTML chart of the curves
    Column("error", String(1000), nullable=True),
    Column("created_at", TS, nullable=False),
    Column("started_at", TS, nullable=True),
    Column("heartbeat_at", TS, nullable=True),  # a running replay writes it as it goes
    Column("finished_at", TS, nullable=True),
    Index("ix_simulation_project", "project_id", "id"),
    Index("ix_simulation_state", "state"),
)

learner_beat = Table(  # each running learner (a serve's, a worker), seen every half minute
    "learner_beat",
    metadata,
    Column("name", String(200), primary_key=True),  # host:pid
    Column("started_at", TS, nullable=False),
    Column("seen_at", TS, nullable=False),
)

feature_count = Table(  # per-item features (embeddings) a learner has computed, on its disk
    "feature_count",
    metadata,
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Column("featurizer", String(100), primary_key=True),
    Column("computed", Integer, nullable=False),
    Column("at", TS, nullable=False),
)

round_failure = Table(  # a project whose training rounds fail, until one succeeds
    "round_failure",
    metadata,
    Column("project_id", ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Column("error", String(500), nullable=False),  # the newest failure, as one line
    Column("failures", Integer, nullable=False),  # in a row
    Column("first_at", TS, nullable=False),
    Column("last_at", TS, nullable=False),
)
