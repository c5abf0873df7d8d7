"""Label issues the model no longer sees: a round or a label-error scan closes the open
``label_issue`` flags on labels its cross-validation judged and now agrees with (its
out-of-fold guess is the label). A flag needs a confident contradiction to be raised and the
model's agreement to close: a label the model merely doubts keeps its flag, so flags do not
flicker with a model that hovers at the threshold.

A flag raised by an early, weak model would otherwise wait for a person for ever, and the
"label issues" count would stay as high as the weakest model left it. The close is the model's,
not a person's: it names the model and the label's out-of-fold probability (``resolved_note``),
resolves by nobody, and does not keep a later model from flagging the label again (a flag a
person resolved does). An answer the flag sent back to review (review policy ``flagged``) that
waits for nothing else returns to the status it had. Items the check did not judge keep their
flags. The caller reads (:func:`stale`) before its write transaction and closes
(:func:`close`) inside it, so the write re-reads only the flags of the few items concerned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labelloop.store import review as store_review
from labelloop.store.db import Database

KEPT_BY = {"accept": "accepted", "fix": "fixed"}
"""An answer's status after the verdict that last kept it (what review gave it before)."""
ESCALATED = "escalated"
"""An answer a reviewer escalated with its flag open: a person handles it, the flag stays."""


@dataclass(frozen=True)
class Stale:
    """An open label issue the model no longer sees, and what closing it changes."""

    flag_id: int
    item_id: int
    annotation_id: int | None
    annotator_id: int | None
    note: str
    back_to: str | None
    """The status its answer returns to when nothing else keeps it in review (``None``: the
    flag did not send it there, or its rework review is still due)."""


def stale(
    db: Database, project_id: int, judged: Mapping[int, tuple[str, float]], *, closer: str
) -> list[Stale]:
    """The project's open ``label_issue`` flags on items in ``judged`` (item id -> (label,
    out-of-fold probability of the label): the labels a check judged and agrees with), each
    with the note ``closer`` ("the learner (model v7)") leaves on it."""
    if not judged:
        return []
    with db.read() as conn:
        rows = store_review.open_label_issues(conn, project_id)
    found = []
    for r in rows:
        if (seen := judged.get(int(r["item_id"]))) is None or r["status"] == ESCALATED:
            continue
        label, p = seen
        found.append(
            Stale(
                flag_id=int(r["id"]),
                item_id=int(r["item_id"]),
                annotation_id=r["annotation_id"],
                annotator_id=r["annotator_id"],
                note=f"closed by {closer}: it now agrees with '{label}' (p = {p:.2f} out of fold)"[
                    :500
                ],
                back_to=_status_before(r),
            )
        )
    return found


def _status_before(row: Mapping[str, Any]) -> str | None:
    """The status an answer waiting in review only for a label issue had before the flag sent
    it there: what its last keeping verdict gave it, ``adjudicated`` when the expert tier
    decided the item, else ``submitted``; ``None`` when it is not waiting in review, or is a
    rework whose own review is still due."""
    if row["status"] != "in_review":
        return None
    if row["verdict"] in KEPT_BY:
        return KEPT_BY[row["verdict"]]
    if row["served_as"] == store_review.REWORK:
        return None
    return "adjudicated" if row["resolution"] == "adjudicated" else "submitted"


def close(conn: Any, found: Sequence[Stale]) -> dict[str, list[int]]:
    """Close ``found`` in the caller's write transaction: those still open and not escalated
    since, as the model's decision; their answers still in review leave it when no other open
    flag holds them there (one a verdict on the answer would resolve: on the answer, or its
    annotator's on the item). Returns the items closed and the answers returned from review."""
    if not found:
        return {"closed": [], "returned": []}
    now_open = store_review.open_flags_on(conn, {s.item_id for s in found})
    status_now = {int(f["id"]): f["status"] for f in now_open}  # a verdict may have come since
    closing = [s for s in found if s.flag_id in status_now and status_now[s.flag_id] != ESCALATED]
    closing_ids = {s.flag_id for s in closing}
    store_review.close_by_model(conn, {s.flag_id: s.note for s in closing})
    others = [f for f in now_open if int(f["id"]) not in closing_ids]
    held = {f["annotation_id"] for f in others if f["annotation_id"] is not None}
    held_tasks = {(f["item_id"], f["user_id"]) for f in others if f["annotation_id"] is None}
    returning: dict[str, list[int]] = defaultdict(list)
    for s in closing:
        if (
            s.back_to is not None
            and status_now[s.flag_id] == "in_review"
            and s.annotation_id is not None
            and s.annotation_id not in held
            and (s.item_id, s.annotator_id) not in held_tasks
        ):
            returning[s.back_to].append(s.annotation_id)
    for status, ids in returning.items():
        store_review.set_status(conn, ids, status, was="in_review")
    return {
        "closed": sorted({s.item_id for s in closing}),
        "returned": sorted(i for ids in returning.values() for i in ids),
    }
