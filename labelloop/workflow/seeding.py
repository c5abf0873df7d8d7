"""Seeding rare classes and honest controls: what the queue serves besides the model's ranking.

A team whose class is 1% of the data finds its first positives by searching the pool (words, or
"more like this" item) and sending the hits to the front of the queue; each pick says who found
it and how. A share of served items (``random_share``) is drawn uniformly at random from the
unlabeled pool and recorded as such, so the project can later measure what active learning
bought it against labels nobody chose.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from labelloop.errors import LabelloopError, NotFound
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import learning as store_learning
from labelloop.store import seeds as store_seeds
from labelloop.store import tasks as store_tasks
from labelloop.store.browse import FILE_CONTENT_KEYS, query_syntax
from labelloop.store.db import Database
from labelloop.store.words import (
    Term,
    in_file_names,
    is_word_char,
    match_spans,
    parse_query,
    text_holds,
)
from labelloop.workflow.features import FALLBACK_FEATURIZER, FeatureCache, Features
from labelloop.workflow.projects import ProjectContext

MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_QUERY_CHARS = 200
MAX_PICKS = 200
MAX_TEXT_CHARS = 2_000
RANDOM_TRIES = 8
MIN_SIMILARITY = 1e-9
"""A "more like this" hit must score above this: 0 means nothing in common."""
SEARCH_STRATEGY = "search"
CHECK_STRATEGY = "spot_check"
"""A seed pick taken back from an auto-label run: served without any suggestion, so the answer
is the annotator's own (see :func:`labelloop.workflow.autolabel.spot_check`)."""
PEOPLE_PICKED = (SEARCH_STRATEGY, CHECK_STRATEGY)
"""Strategies of the items people sent to the queue, not the learner."""
CONTROL_STRATEGY = "random"
CONTROL_REASON = "picked at random (control)"

_coin = random.Random()
"""Draws the random-control share and its items (tests seed or replace it)."""


def _check_printable(q: str) -> None:
    """Refuse control characters, which nobody types into a search box.

    A NUL would cut the LIKE pattern short, so the search matched every item, and PostgreSQL
    refuses it in text; tabs and line breaks only separate words.
    """
    bad = next((c for c in q if unicodedata.category(c) == "Cc" and not c.isspace()), None)
    if bad is not None:
        raise LabelloopError(
            f"search words cannot contain control characters (found U+{ord(bad):04X})"
        )


def shown_text(payload: Mapping[str, Any], *, between: str = " · ") -> str:
    """What a hit shows of its item: the text, a table row's fields (``between`` each), or a
    media file's path."""
    text = payload.get("text")
    if text is None and isinstance(payload.get("row"), Mapping):
        text = between.join(f"{key}: {_cell(value)}" for key, value in payload["row"].items())
    if text is None:
        text = payload.get("audio", payload.get("image"))
    return "" if text is None else str(text)


def _cell(value: Any) -> str:
    """A row's cell in words, as the labeling page shows it: '—' when empty, true / false."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))  # the page reads JSON's 127.0 as 127
        single = np.float32(value)
        if float(single) == value:  # a 32-bit float column's value: 0.1, not 0.10000000149...
            return str(single)
    return str(value)


def shows_terms(payload: Mapping[str, Any], terms: tuple[Term, ...]) -> bool:
    """Whether what an item shows (:func:`shown_text`) holds every term, as the database
    matches them: how a table row is searched, where SQL cannot read the fields of a JSON
    object."""
    return text_holds(shown_text(payload), terms)


def _hit(row: Mapping[Any, Any], score: float | None = None) -> dict[str, Any]:
    text = shown_text(row["payload"])
    return {
        "id": int(row["id"]),
        "external_id": row["external_id"],
        "text": text[:MAX_TEXT_CHARS],
        "truncated": len(text) > MAX_TEXT_CHARS,
        "labeled": bool(row["labeled"]),
        "queued": bool(row["queued"]),
        "score": score,
    }


def found_spans(text: str, terms: tuple[Term, ...], *, data_type: str) -> list[list[int]]:
    """Where a hit's shown ``text`` holds the words searched for, as ``[start, end)``
    character ranges, matched as the search matched them (a file's path with its ``_`` as
    spaces): what the page and the CLI highlight, so neither tokenizes on its own."""
    if data_type in FILE_CONTENT_KEYS:
        text, terms = text.replace("_", " "), in_file_names(terms)
    return [[start, end] for start, end in match_spans(text, terms)]


def cut_query(q: str) -> tuple[str, str | None]:
    """The words a search reads of ``q``: its first MAX_QUERY_CHARS characters (spaces around
    left out), less a word the cut falls inside when another word comes before it (searched,
    its start would find words it is not), and a note saying so when it was longer (None
    otherwise). Every surface (API, client, CLI, page) accepts a longer query and shows this
    note."""
    words = q.strip()
    if len(words) <= MAX_QUERY_CHARS:
        return words, None
    head = words[:MAX_QUERY_CHARS]
    note = f"searched the first {MAX_QUERY_CHARS} characters of the {len(words):,} typed"
    if is_word_char(head[-1]) and is_word_char(words[MAX_QUERY_CHARS]):  # a word cut in two
        end = len(head)
        while end and is_word_char(head[end - 1]):
            end -= 1
        # Only the cut word's characters go: a word before it, even joined by punctuation
        # ("ab,cd"), is whole. Punctuation on either side of the cut cuts no word.
        if any(is_word_char(c) for c in head[:end]):
            head = head[:end]
            note += ", less the word cut there"
    return head.strip(), note


def words_said(q: str) -> dict[str, Any]:
    """How an answer says which words it searched for: ``q`` as searched (:func:`cut_query`),
    ``cut`` and, when cut, its ``note``; the pool search and the Items list answer alike."""
    query, note = cut_query(q)
    return {"q": query, "cut": note is not None, **({"note": note} if note else {})}


def search_terms(q: str, data_type: str) -> tuple[Term, ...]:
    """What a search by words asks for (:mod:`labelloop.store.words`): printable terms of the
    query's first MAX_QUERY_CHARS characters (:func:`cut_query`). The pool search, the Items
    page and My answers all read their words through here, so one query finds the same items
    everywhere; a project of ``data_type`` image or audio searches its files' paths, as its
    errors say."""
    _check_printable(q)
    return parse_query(cut_query(q)[0], files=data_type in FILE_CONTENT_KEYS)


def _table_search(
    conn: Any, ctx: ProjectContext, terms: tuple[Term, ...], *, limit: int, offset: int
) -> tuple[list[Any], int]:
    """Pool rows whose fields (names and values, as shown) hold every term, in id order, and
    how many.

    Rows are JSON objects, so the terms are matched here rather than in SQL.
    """
    hits = [
        int(r["id"])
        for r in store_learning.items_of(conn, ctx.id, "pool")
        if shows_terms(r["payload"], terms)
    ]
    page = hits[offset : offset + limit]
    shown = store_seeds.pool_items(conn, project_id=ctx.id, item_ids=page)
    found = {int(r["id"]): r for r in shown}
    return [found[i] for i in page if i in found], len(hits)


def search(
    db: Database,
    ctx: ProjectContext,
    *,
    q: str | None = None,
    like: int | None = None,
    limit: int = 20,
    offset: int = 0,
    cache: FeatureCache | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """Pool items by words in their text (every term of ``q``: whole words, ``refund*``
    prefixes, "quoted phrases", any case), or by similarity to an item.

    Only the project's own pool items are searched; the result says for each item whether it is
    labeled already or waiting in the queue. ``wait=False``: a "like" search whose features
    are not in memory yet answers ``preparing`` at once instead of fitting them.
    """
    ctx.require(Permission.ANNOTATE)
    if (q is None or not q.strip()) == (like is None):
        raise LabelloopError("give either q (words to search for) or like (an item id)")
    if not 1 <= limit <= MAX_LIMIT:
        raise LabelloopError(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise LabelloopError(f"offset must be between 0 and {MAX_OFFSET}")
    page = {"limit": limit, "offset": offset}
    if like is None:
        said = words_said(q or "")
        terms = search_terms(said["q"], ctx.schema.data_type)
        with db.read() as conn:
            if ctx.schema.data_type == "table":
                rows, total = _table_search(conn, ctx, terms, limit=limit, offset=offset)
            else:
                rows, total = store_seeds.search(
                    conn,
                    project_id=ctx.id,
                    data_type=ctx.schema.data_type,
                    terms=terms,
                    limit=limit,
                    offset=offset,
                )
        return {
            "mode": "text",
            **said,
            "syntax": query_syntax(ctx.schema.data_type),
            "total": total,
            **page,
            "items": [
                {**hit, "marks": found_spans(hit["text"], terms, data_type=ctx.schema.data_type)}
                for hit in map(_hit, rows)
            ],
        }
    return _like(db, ctx, like, cache=cache or FeatureCache(), wait=wait, **page)


@dataclass(frozen=True)
class LikeFeatures:
    """What "More like this" measures on: the rows a round featurizes (``rows``, the pool's
    first ``n_pool``), their features and the featurizer that made them (``by``)."""

    rows: list[dict[str, Any]]
    n_pool: int
    features: Features
    by: str


def like_features(
    db: Database, ctx: ProjectContext, cache: FeatureCache, *, like: int | None, wait: bool = True
) -> LikeFeatures | None:
    """The features "More like this" ranks by, fitted when missing (the first call after a
    start or an import: seconds on a large pool). With ``wait=False``, None instead of fitting
    when no matrix of these rows is in memory (:class:`labelloop.workflow.warming.Warmer`
    prepares it in the background)."""
    from labelloop.learn.featurize import caches_per_item
    from labelloop.workflow.learning import feature_rows

    with db.read() as conn:
        ids = store_learning.ids_of(conn, ctx.id, "pool")
        n_pool = len(ids)
        # The rows a round featurizes (pool, labeled eval items), so searches and rounds share
        # one cached matrix; an unlabeled eval item asked about joins them.
        ids += [
            int(r["id"])
            for r in store_learning.items_of(conn, ctx.id, "eval", payloads=False)
            if r["label"] or int(r["id"]) == like
        ]
    if not wait and not cache.holds(ctx.id, ids):
        return None
    rows = feature_rows(db, ctx, cache, ids)
    if len(rows) < len(ids):  # an import undone meanwhile: the pool's rows still come first
        pool = set(ids[:n_pool])
        n_pool = sum(r["id"] in pool for r in rows)
    wanted = ctx.settings.featurizer
    features = None
    if caches_per_item(wanted):  # only embeddings already computed: a search never waits
        features = cache.get(ctx.id, wanted, rows, budget_s=0)
    elif wanted != FALLBACK_FEATURIZER:
        try:
            features = cache.get(ctx.id, wanted, rows)
        except (LabelloopError, ValueError):
            features = None
    by = wanted if features is not None else FALLBACK_FEATURIZER
    if features is None:
        features = cache.get(ctx.id, FALLBACK_FEATURIZER, rows)
    assert features is not None
    return LikeFeatures(rows=rows, n_pool=n_pool, features=features, by=by)


def _like(
    db: Database,
    ctx: ProjectContext,
    like: int,
    *,
    cache: FeatureCache,
    limit: int,
    offset: int,
    wait: bool = True,
) -> dict[str, Any]:
    from labelloop.learn import most_similar
    from labelloop.learn.similarity import is_blank, same_text, similarities, told_apart

    with db.read() as conn:
        origin = store_seeds.find_item(conn, project_id=ctx.id, item_id=like)
    if origin is None:
        raise NotFound(f"no item {like} in project '{ctx.slug}'")
    page = {"limit": limit, "offset": offset}
    measured = like_features(db, ctx, cache, like=like, wait=wait)
    if measured is None:
        return {**_like_head(origin, None), "preparing": True, "total": 0, **page, "items": []}
    rows, n_pool, features, by = measured.rows, measured.n_pool, measured.features, measured.by
    where = np.flatnonzero(features.ids == like)
    if where.size == 0:
        raise NotFound(f"item {like} has no features in project '{ctx.slug}'")
    row = int(where[0])
    origin_text = shown_text(rows[row]["payload"])
    if is_blank(features.X, row):
        return {
            **_like_head(origin, by),
            "total": 0,
            **page,
            "items": [],
            "note": _blank(origin, by),
        }
    sims = similarities(features.X, row)
    if ctx.schema.data_type in ("text", "html"):
        sims = told_apart(sims, row, lambda i: shown_text(rows[i]["payload"]))
    # Pool items with something in common: a TF-IDF text sharing no word with the item
    # scores 0 and is not "like" it, however long the list would otherwise run.
    candidates = np.zeros(len(rows), dtype=bool)
    candidates[:n_pool] = sims[:n_pool] > MIN_SIMILARITY
    candidates[row] = False
    indices, scores = most_similar(
        features.X, row, offset + limit, candidates=candidates, scores=sims
    )
    picked = [int(features.ids[i]) for i in indices[offset:]]
    score_of = dict(zip(picked, scores[offset:].tolist(), strict=True))
    with db.read() as conn:
        found = {
            int(r["id"]): r
            for r in store_seeds.pool_items(conn, project_id=ctx.id, item_ids=picked)
        }
    items = [
        {
            **_hit(found[i], round(score_of[i], 4)),
            "same_text": same_text(origin_text, shown_text(found[i]["payload"])),
        }
        for i in picked
        if i in found
    ]
    return {**_like_head(origin, by), "total": int(candidates.sum()), **page, "items": items}


def _like_head(origin: Mapping[Any, Any], by: str | None) -> dict[str, Any]:
    return {
        "mode": "like",
        "like": {"id": int(origin["id"]), "external_id": origin["external_id"]},
        "by": by,
    }


def _blank(origin: Mapping[Any, Any], by: str) -> str:
    """Why nothing is like an item whose features are all zeros."""
    if by == FALLBACK_FEATURIZER:
        return (
            f"item {_name(origin)} has no words the project's vocabulary knows (it keeps the "
            "words found in two items or more), so no item shares one with it: search for "
            "its words instead"
        )
    return f"item {_name(origin)} has features that are all zeros, so nothing is like it"


def _name(origin: Mapping[Any, Any]) -> str:
    return str(origin["external_id"]) if origin["external_id"] else f"#{origin['id']}"


def send_to_queue(
    db: Database,
    ctx: ProjectContext,
    item_ids: Sequence[int],
    *,
    query: str | None = None,
    like: int | None = None,
) -> dict[str, Any]:
    """Put found pool items at the front of the queue, saying who found them and how; audited.

    Items already labeled or already waiting are left as they are and reported. Any id that is
    not a pool item of this project refuses the whole request.
    """
    ctx.require(Permission.ANNOTATE)
    wanted = list(dict.fromkeys(int(i) for i in item_ids))
    if not 1 <= len(wanted) <= MAX_PICKS:
        raise LabelloopError(f"send between 1 and {MAX_PICKS} items at a time")
    if (query is None or not query.strip()) == (like is None):
        raise LabelloopError("say how the items were found: query (the words) or like (an item)")
    if like is None:
        _check_printable(query or "")
    who = ctx.user.username
    with db.write() as conn:
        if like is not None:
            origin = store_seeds.find_item(conn, project_id=ctx.id, item_id=like)
            if origin is None:
                raise NotFound(f"no item {like} in project '{ctx.slug}'")
            reason = f"like item {_name(origin)}, found by {who}"
        else:
            words = " ".join(cut_query(query or "")[0].split())
            shown = words if len(words) <= 120 else words[:119] + "…"
            reason = f"searched by {who} for '{shown}'"
        rows = store_seeds.pool_items(conn, project_id=ctx.id, item_ids=wanted)
        found = {int(r["id"]): r for r in rows}
        unknown = [i for i in wanted if i not in found]
        if unknown:
            shown_ids = ", ".join(str(i) for i in unknown[:10])
            raise NotFound(f"no pool item {shown_ids} in project '{ctx.slug}'")
        labeled = [i for i in wanted if found[i]["labeled"]]
        queued = [i for i in wanted if found[i]["queued"] and not found[i]["labeled"]]
        added = [i for i in wanted if i not in labeled and i not in queued]
        if added:
            store_seeds.add_picks(
                conn, project_id=ctx.id, item_ids=added, reason=reason, user_id=ctx.actor_id
            )
            audit.record(
                db,
                conn,
                action="seed.add",
                actor_id=ctx.actor_id,
                project_id=ctx.id,
                subject=f"project:{ctx.slug}",
                payload={"item_ids": added, "reason": reason},
            )
        pending = store_seeds.n_pending(conn, ctx.id)
    return {
        "added": added,
        "already_labeled": labeled,
        "already_queued": queued,
        "reason": reason,
        "pending": pending,
    }


def _entry(row: Mapping[Any, Any], *, strategy: str, reason: str) -> dict[str, Any]:
    """A candidate in the shape of a queue entry, for the lease and the task."""
    return {
        **dict(row),
        "strategy": strategy,
        "score": None,
        "rank": None,
        "reason": reason,
        "suggestion": None,
        "suggestion_confidence": None,
        "suggestion_value": None,
    }


def next_candidate(
    ctx: ProjectContext,
    conn: Any,
    *,
    project_id: int,
    user_id: int,
    overlap: int,
    at: datetime,
    skip_locked: bool,
    passed: Sequence[int] = (),
) -> Mapping[Any, Any] | None:
    """What to serve next: a seed pick first, else the model's best-ranked queue entry, or, at
    ``random_share``, a random control item in its place.

    A control only ever takes a queue pick's place: with no queue yet (a new project before its
    first round) or none left for this user, nothing is served, as without controls. The
    labeling page used to wait there while now and then, on the coin, a random item came up
    alone, so controls were far more than ``random_share`` of what was served.
    """
    common: dict[str, Any] = {
        "project_id": project_id,
        "user_id": user_id,
        "overlap": overlap,
        "at": at,
        "skip_locked": skip_locked,
        "passed": passed,
    }
    seed = store_seeds.next_seed(conn, **common)
    if seed is not None:
        strategy = CHECK_STRATEGY if seed["spot_check"] else SEARCH_STRATEGY
        return _entry(seed, strategy=strategy, reason=seed["reason"])
    queued = store_tasks.next_candidate(conn, **common)
    share = ctx.settings.random_share
    if queued is not None and share > 0 and _coin.random() < share:
        picked = _random_item(conn, common)
        if picked is not None:
            return _entry(picked, strategy=CONTROL_STRATEGY, reason=CONTROL_REASON)
    return queued


def _random_item(conn: Any, common: dict[str, Any]) -> Mapping[Any, Any] | None:
    """A uniformly drawn pool item this user may label.

    Draws ids in the project's id range until one is open (uniform over open items); after a
    few misses (a mostly labeled pool) takes the first open item after a random id instead.
    """
    bounds = store_seeds.id_range(conn, common["project_id"])
    if bounds is None:
        return None
    low, high = bounds
    for _ in range(RANDOM_TRIES):
        r = _coin.randint(low, high)
        row = store_seeds.first_open_item(conn, low=r, high=r, **common)
        if row is not None:
            return row
    r = _coin.randint(low, high)
    return store_seeds.first_open_item(
        conn, low=r, high=high, **common
    ) or store_seeds.first_open_item(conn, low=low, high=r - 1, **common)
