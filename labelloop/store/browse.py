"""Browsing a project's items: every item with its label, filtered and paged (the Items page)."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, exists, func, select

from labelloop.store.db import lower_text
from labelloop.store.tables import (
    annotation,
    assignment,
    flag,
    gold_answer,
    item,
    item_label,
    model_version,
    seed_pick,
    user,
)
from labelloop.store.tasks import answer_fate, cold_start, decider_id, verdict_status
from labelloop.store.users import now
from labelloop.store.wordindex import in_index
from labelloop.store.words import FILE_SYNTAX, SYNTAX, Term, in_file_names, pattern, sql_term

STATUSES = ("all", "unlabeled", "labeled", "auto", "in_review", "escalated", "flagged", "gold")
"""What ``status`` may ask for: ``unlabeled`` has no resolved label (gold checks aside),
``auto`` a label the model gave, ``in_review`` / ``escalated`` an answer waiting there,
``flagged`` an open flag, ``gold`` a gold check."""

VERDICTS = ("accepted", "fixed", "rejected")
"""The states a reviewer's verdict leaves an answer in."""
ANSWER_STATES = ("all", "no_verdict", *VERDICTS)
"""What ``state`` may ask of one's own answers: ``no_verdict`` has no reviewer's verdict
(waiting for review or never to be reviewed: its annotator is not told which), the others
the verdict given."""

FILE_CONTENT_KEYS = {"image": "image", "audio": "audio"}
"""The payload key holding what an item shows, by data type (text and HTML: ``text``)."""


def query_syntax(data_type: str) -> str:
    """How a search by words reads in a project of ``data_type``, in one line: an image or
    audio project's searches its files' paths (as the pages' hint under the box says it)."""
    return FILE_SYNTAX if data_type in FILE_CONTENT_KEYS else SYNTAX


@dataclass(frozen=True)
class Pick:
    """How an item was picked: the selection record (strategy, and its reason when given; any
    strategy when None) of the task behind its first answer, as its trace shows it;
    ``seeded_by`` keeps the items a seed pick of that user's sent to the queue (a search, or an
    auto-label spot check)."""

    strategy: str | None
    reason: str | None = None
    not_reason: str | None = None
    seeded_by: int | None = None


@dataclass(frozen=True)
class Filters:
    """What a browse asks for; ``None`` leaves a filter out. The item's content must hold every
    one of ``terms`` (:mod:`labelloop.store.words`, as the pool search matches them);
    ``annotator_id`` keeps items with an answer by that user."""

    status: str = "all"
    split: str | None = None
    label: str | None = None  # the target's label text; with ``listed``, one of its labels
    listed: bool = False
    resolution: str | None = None
    annotator_id: int | None = None
    terms: Sequence[Term] = ()
    with_gold: bool = False
    picked: Pick | None = None


def _answer_in(project_id: int, states: Sequence[str]) -> ColumnElement[bool]:
    return exists().where(
        annotation.c.item_id == item.c.id,
        annotation.c.project_id == project_id,
        annotation.c.status.in_(list(states)),
    )


def _is_gold() -> ColumnElement[bool]:
    return exists().where(gold_answer.c.item_id == item.c.id)


def _where(
    conn: Connection, project_id: int, data_type: str, f: Filters
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [item.c.project_id == project_id]
    if not f.with_gold:
        where.append(~_is_gold())  # checks, not work: hidden from all but the expert tier
    labeled = item_label.c.item_id.is_not(None)  # the query joins the item's label, if any
    by_status: dict[str, ColumnElement[bool]] = {
        "unlabeled": ~labeled & ~_is_gold(),
        "labeled": labeled,
        "auto": item_label.c.resolution == "auto",
        "in_review": _answer_in(project_id, ("in_review",)),
        "escalated": _answer_in(project_id, ("escalated",)),
        "flagged": exists().where(
            flag.c.item_id == item.c.id,
            flag.c.project_id == project_id,
            flag.c.resolved_at.is_(None),
            *(() if f.with_gold else (flag.c.kind != "gold_wrong",)),
        ),
        "gold": _is_gold(),
    }
    if f.status in by_status:
        where.append(by_status[f.status])
    if f.split is not None:
        where.append(item.c.split == f.split)
    if f.label is not None and f.listed:  # a multi_choice label text joins its labels with '|'
        text = item_label.c.label
        where.append(
            (text == f.label)
            | text.startswith(f.label + "|", autoescape=True)
            | text.endswith("|" + f.label, autoescape=True)
            | text.contains("|" + f.label + "|", autoescape=True)
        )
    elif f.label is not None:
        where.append(item_label.c.label == f.label)
    if f.resolution is not None:
        where.append(item_label.c.resolution == f.resolution)
    if f.annotator_id is not None:
        where.append(
            exists().where(
                annotation.c.item_id == item.c.id, annotation.c.user_id == f.annotator_id
            )
        )
    if f.picked is not None:
        where.append(item.c.id.in_(_first_picked(project_id, f.picked)))
    where.extend(holds_words(conn, data_type, f.terms))
    return where


def _first_picked(project_id: int, pick: Pick) -> Any:
    """The items whose first answer came from a task picked as ``pick`` says: read from the
    project's answers (far fewer than its items), so the list's one condition is on the item's
    id, whatever the pool's size."""
    first = annotation.alias("first_answer")
    where: list[ColumnElement[bool]] = [
        annotation.c.project_id == project_id,
        ~exists().where(first.c.item_id == annotation.c.item_id, first.c.id < annotation.c.id),
    ]
    if pick.strategy is not None:
        where.append(assignment.c.strategy == pick.strategy)
    if pick.reason is not None:
        where.append(assignment.c.reason == pick.reason)
    if pick.not_reason is not None:
        where.append(func.coalesce(assignment.c.reason, "") != pick.not_reason)
    if pick.seeded_by is not None:
        where.append(
            exists().where(
                seed_pick.c.item_id == annotation.c.item_id,
                seed_pick.c.project_id == project_id,
                seed_pick.c.created_by == pick.seeded_by,
            )
        )
    return (
        select(annotation.c.item_id)
        .join(assignment, assignment.c.id == annotation.c.assignment_id)
        .where(*where)
    )


def pickers(conn: Connection, project_id: int) -> dict[str, list[str]]:
    """What picked the project's items, for the Items page's choices: the ``strategies`` its
    rounds recorded (oldest first), ``cold`` those of them only cold-start rounds recorded (no
    model ranked their picks), and the users whose seed picks sent items to the queue
    (``seeders``, by name)."""
    trained = func.max(case((cold_start(), 0), else_=1))
    rounds = (
        select(
            model_version.c.strategy,
            func.min(model_version.c.version).label("first"),
            trained.label("trained"),
        )
        .where(model_version.c.project_id == project_id)
        .group_by(model_version.c.strategy)
        .order_by("first")
    )
    seeders = (
        select(user.c.username)
        .distinct()
        .join(seed_pick, seed_pick.c.created_by == user.c.id)
        .where(seed_pick.c.project_id == project_id)
        .order_by(user.c.username)
    )
    found = list(conn.execute(rounds))
    return {
        "strategies": [str(r[0]) for r in found],
        "cold": [str(r[0]) for r in found if not r[2]],
        "seeders": [str(r[0]) for r in conn.execute(seeders)],
    }


def holds_words(
    conn: Connection, data_type: str, terms: Sequence[Term]
) -> list[ColumnElement[bool]]:
    """An item's content holds every term (a table row's fields are matched in Python, with
    :func:`labelloop.store.words.text_holds`: SQL cannot read them alike on both engines; an
    image's or audio file's path with its ``_`` as spaces, :func:`in_file_names`)."""
    if not terms or data_type == "table":
        return []
    if data_type in FILE_CONTENT_KEYS:  # a file's path: its "_" parts words
        terms = in_file_names(tuple(terms))
        content = func.replace(content_of(data_type), "_", " ")
    else:
        content = content_of(data_type)
    key = FILE_CONTENT_KEYS.get(data_type, "text")
    return [*in_index(conn, terms, key=key, content=content), *holds_terms(conn, content, terms)]


def holds_terms(conn: Connection, content: Any, terms: Sequence[Term]) -> list[Any]:
    """The content holds every term: a substring test where the term's script has no spaces,
    else a regular expression, with a LIKE of each word before it, as it is cheaper.

    SQLite's LIKE ignores the case of ASCII letters only, so there it filters by the term's
    ASCII words and its words without case (every text that holds the word in any case
    passes it, but for a Kelvin sign in place of a "k") and the Python call that lower-cases
    and matches runs on what passed.
    """
    lowered = lower_text(content)
    where: list[Any] = []
    for term in terms:
        if term.anywhere:
            where.append(lowered.contains(term.text, autoescape=True))
        elif conn.dialect.name == "sqlite":
            where.extend(content.contains(w, autoescape=True) for w in term.words if _caseless(w))
            where.append(func.labelloop_holds(sql_term(term), content) == 1)
        else:
            where.extend(lowered.contains(w, autoescape=True) for w in term.words)
            where.append(lowered.regexp_match(pattern(term, postgres=True)))
    return where


def _caseless(word: str) -> bool:
    """Whether SQLite's LIKE finds ``word`` in every text whose lower case holds it: ASCII, or
    no character with a case (an emoji, a symbol; not "ⓐ" nor "ⅻ") and no mark (lower-casing
    "İ" makes the dot one), so a text holds it as it is."""
    return word.isascii() or all(
        c.lower() == c == c.upper() and unicodedata.category(c)[0] != "M" for c in word
    )


def content_of(data_type: str) -> Any:
    """The text an item of ``data_type`` is searched by: its text, or its file's path."""
    return item.c.payload[FILE_CONTENT_KEYS.get(data_type, "text")].as_string()


def browse(
    conn: Connection,
    *,
    project_id: int,
    data_type: str,
    filters: Filters,
    limit: int,
    offset: int,
    newest_first: bool = False,
    row_filter: Any = None,
) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """A page of the project's items that pass ``filters``, how many pass in all, and how many
    of those are in each split (pool, eval: the pool's count is the project page's).

    Each row: id, external_id, split, payload, the resolved label (value, resolution,
    decided_at, decided_by), ``answers`` (annotator and status of each, oldest first),
    ``flags`` (the kinds of its open flags) and ``gold``. ``row_filter`` (a callable on the
    row) filters in Python what SQL cannot read (a table row's fields, the labels of spans or
    boxes); it pages after.
    Newest first orders by when the label was decided, unlabeled items last.
    """
    where = _where(conn, project_id, data_type, filters)
    labeled = item.outerjoin(item_label, item_label.c.item_id == item.c.id)
    decider = user.alias("decider")
    order = (
        (item_label.c.decided_at.is_(None), item_label.c.decided_at.desc(), item.c.id.desc())
        if newest_first
        else (item.c.id,)
    )
    q = (
        select(
            item.c.id,
            item.c.external_id,
            item.c.split,
            item.c.payload,
            item_label.c.value,
            item_label.c.resolution,
            item_label.c.decided_at,
            decider.c.username.label("decided_by"),
            _is_gold().label("gold"),
        )
        .select_from(labeled)
        .outerjoin(decider, decider.c.id == decider_id())
        .where(*where)
        .order_by(*order)
    )
    if row_filter is None:
        count = (select(item.c.split, func.count()).select_from(labeled).where(*where)).group_by(
            item.c.split
        )
        by_split = {str(split): int(n) for split, n in conn.execute(count)}
        rows = [dict(r) for r in conn.execute(q.limit(limit).offset(offset)).mappings()]
    else:
        passed = [dict(r) for r in conn.execute(q).mappings() if row_filter(r)]
        by_split = dict(Counter(str(r["split"]) for r in passed))
        rows = passed[offset : offset + limit]
    _add_answers_and_flags(conn, project_id, rows, with_gold=filters.with_gold)
    return rows, sum(by_split.values()), by_split


def _add_answers_and_flags(
    conn: Connection, project_id: int, rows: list[dict[str, Any]], *, with_gold: bool
) -> None:
    ids = [int(r["id"]) for r in rows]
    answers: dict[int, list[dict[str, str]]] = defaultdict(list)
    kinds: dict[int, list[str]] = defaultdict(list)
    if ids:
        q = (
            select(annotation.c.item_id, user.c.username, annotation.c.status)
            .join(user, user.c.id == annotation.c.user_id)
            .where(annotation.c.project_id == project_id, annotation.c.item_id.in_(ids))
            .order_by(annotation.c.id)
        )
        for r in conn.execute(q).mappings():
            answers[int(r["item_id"])].append({"user": r["username"], "status": r["status"]})
        q = (
            select(flag.c.item_id, flag.c.kind)
            .where(
                flag.c.project_id == project_id,
                flag.c.item_id.in_(ids),
                flag.c.resolved_at.is_(None),
            )
            .order_by(flag.c.id)
        )
        for r in conn.execute(q).mappings():
            if with_gold or r["kind"] != "gold_wrong":
                kinds[int(r["item_id"])].append(r["kind"])
    for r in rows:
        r["answers"] = answers[int(r["id"])]
        r["flags"] = sorted(set(kinds[int(r["id"])]))


def own_answers(
    conn: Connection,
    *,
    project_id: int,
    user_id: int,
    data_type: str,
    state: str = "all",
    terms: Sequence[Term] = (),
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """The user's newest answer to each item they answered (My answers) whose item holds every
    one of ``terms``, in import order or newest answer first: ``annotation_id``, ``item_id``,
    ``value``, ``status``, and the item's ``payload`` when the terms are a table row's to match.
    ``state`` is one of :data:`ANSWER_STATES`. Gold checks are there as any other item:
    nothing here tells them."""
    newest = (
        select(func.max(annotation.c.id))
        .where(annotation.c.project_id == project_id, annotation.c.user_id == user_id)
        .group_by(annotation.c.item_id)
    )
    columns = [annotation.c.id.label("annotation_id"), annotation.c.item_id]
    status = verdict_status()
    columns += [annotation.c.value, status.label("status")]
    if terms and data_type == "table":
        columns.append(item.c.payload)
    where = [annotation.c.id.in_(newest), *holds_words(conn, data_type, terms)]
    if state == "no_verdict":
        where.append(status.not_in(VERDICTS))
    elif state != "all":
        where.append(status == state)
    q = (
        select(*columns)
        .join(item, item.c.id == annotation.c.item_id)
        .where(*where)
        .order_by(annotation.c.id.desc() if newest_first else item.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def answers_shown(conn: Connection, annotation_ids: Sequence[int]) -> list[dict[str, Any]]:
    """What a row of My answers shows of each of these annotations (its item's id, external
    id and payload; the value, status, fate and when it was made), in the order given."""
    q = select(
        annotation.c.id.label("annotation_id"),
        annotation.c.value,
        verdict_status().label("status"),
        answer_fate(now()).label("fate"),
        annotation.c.created_at,
        item.c.id,
        item.c.external_id,
        item.c.payload,
    ).join(item, item.c.id == annotation.c.item_id)
    found = {
        int(r["annotation_id"]): dict(r)
        for r in conn.execute(q.where(annotation.c.id.in_(list(annotation_ids)))).mappings()
    }
    return [found[i] for i in annotation_ids if i in found]
