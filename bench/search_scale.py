"""Pool search at scale: how long one word search of the search page takes on a large pool.

One command:  python bench/search_scale.py [--items 1000000] [--database-url URL] [--like]

Fills a fresh store (a SQLite file in a temporary folder, or the empty database at
``--database-url``) with N synthetic short texts written straight into the item table,
refreshes the planner's statistics as an import does, then times ``seeding.search`` (the
search page's and the API's call: a count and the first page of 20) for a common word, a rare
word, a prefix, a phrase and two words, three times each; then the rare word with the search
index looked up in the catalog before each, as every search did before it was kept per process.
``--like``: also "More like this" fitted inside the request, while the warmer prepares it in the
background, and once prepared (a pool of tens of thousands: TF-IDF fits every item).
Figures: the median milliseconds per query. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log, make_texts  # noqa: E402

QUERIES = {
    "common_word": None,  # the pool's most frequent word, filled in below
    "rare_word": "zzqx",
    "prefix": None,
    "phrase": None,
    "two_words": None,
}
CHUNK = 20_000


def _like_figures(db: object, ctx: object, *, repeat: int) -> dict[str, object]:
    """ "More like this" on the pool: the first one fitting the features inside the request (as
    before the warmer), what a request meets while the warmer prepares them (``preparing``)
    and once it has, and how long the warmer took in the background."""
    from labelloop.workflow import seeding, warming
    from labelloop.workflow.features import FeatureCache

    origin = 1  # the first item written
    start = time.perf_counter()
    seeding.search(db, ctx, like=origin, cache=FeatureCache())  # type: ignore[arg-type]
    cold = (time.perf_counter() - start) * 1000
    warmer = warming.Warmer(db, FeatureCache())  # type: ignore[arg-type]
    began = time.perf_counter()
    warmer.ask_ahead([ctx.id])  # type: ignore[attr-defined]
    start = time.perf_counter()
    asked = warming.search_like(db, ctx, warmer, like=origin, limit=20, offset=0)  # type: ignore[arg-type]
    while_preparing = (time.perf_counter() - start) * 1000
    while asked.get("preparing"):
        time.sleep(0.05)
        asked = warming.search_like(db, ctx, warmer, like=origin, limit=20, offset=0)  # type: ignore[arg-type]
    warmed_in = (time.perf_counter() - began) * 1000
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        warming.search_like(db, ctx, warmer, like=origin, limit=20, offset=0)  # type: ignore[arg-type]
        warm.append((time.perf_counter() - start) * 1000)
    figures = {
        "like_first_in_request_ms": round(cold),
        "like_while_preparing_ms": round(while_preparing),
        "like_prepared_in_background_ms": round(warmed_in),
        "like_warm_ms": round(statistics.median(warm), 1),
    }
    log(f"more like this: {figures}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--like", action="store_true", help='also time "More like this", cold and warmed'
    )
    parser.add_argument(
        "--postgres", action="store_true", help="in a throwaway PostgreSQL cluster (initdb on PATH)"
    )
    args = parser.parse_args()
    if args.postgres and args.database_url is None:
        from _common import postgres_cluster

        with postgres_cluster() as url:
            args.database_url = url
            run(args)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    """Fill the store, time the searches, print the figures."""

    from labelloop.store.db import Database
    from labelloop.store.items import analyze_after_import
    from labelloop.store.migrate import upgrade
    from labelloop.store.tables import item
    from labelloop.workflow import accounts, projects, seeding

    folder = tempfile.mkdtemp(prefix="labelloop-search-")
    db = Database(args.database_url or f"sqlite:///{folder}/bench.db")
    upgrade(db)
    admin = accounts.create_user(db, "admin", None, is_admin=True)
    schema = {
        "name": "Search scale",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
    }
    projects.create_project(db, "scale", schema, actor=admin)
    ctx = projects.system_context(db, "scale")

    t0 = time.perf_counter()
    texts = make_texts(args.items)
    words = [t.split() for t in texts[:2000]]
    first = words[0]
    QUERIES["common_word"] = max(
        {w for ws in words for w in ws}, key=lambda w: sum(w in ws for ws in words)
    )
    QUERIES["prefix"] = first[1][:3] + "*"
    QUERIES["phrase"] = f'"{first[1]} {first[2]}"'
    QUERIES["two_words"] = f"{first[1]} {first[3]}"
    for start in range(0, len(texts), CHUNK):
        rows = [
            {
                "project_id": ctx.id,
                "external_id": f"t-{start + i}",
                "payload": {"text": text},
                "meta": {},
                "split": "pool",
                "content_hash": hashlib.sha256(text.encode()).hexdigest(),
            }
            for i, text in enumerate(texts[start : start + CHUNK])
        ]
        with db.write() as conn:
            conn.execute(item.insert(), rows)
    log(f"{args.items:,} items written in {time.perf_counter() - t0:.0f} s")
    analyze_after_import(db)  # the planner's statistics as an import leaves them

    figures: dict[str, object] = {"items": args.items, "engine": db.engine.dialect.name}
    for name, q in QUERIES.items():
        times, total = [], 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            total = seeding.search(db, ctx, q=q, limit=20)["total"]
            times.append((time.perf_counter() - start) * 1000)
        figures[f"{name}_ms"] = round(statistics.median(times), 1)
        figures[f"{name}_hits"] = total
        log(f"{name} {q!r}: {total:,} hits, median {statistics.median(times):.0f} ms")
    # The index lookup every search made before it was memoized: the catalog query alone, and
    # the rare word's search with the memo forgotten before each (as every search was).
    from labelloop.store import wordindex

    lookups, uncached = [], []
    for _ in range(max(args.repeat, 5)):
        with db.read() as conn:
            start = time.perf_counter()
            wordindex._look_up(conn)
            lookups.append((time.perf_counter() - start) * 1000)
        wordindex.forget_index()
        start = time.perf_counter()
        seeding.search(db, ctx, q=QUERIES["rare_word"], limit=20)
        uncached.append((time.perf_counter() - start) * 1000)
    figures["index_lookup_ms"] = round(statistics.median(lookups), 2)
    figures["rare_word_lookup_each_ms"] = round(statistics.median(uncached), 1)
    log(
        f"index lookup {figures['index_lookup_ms']} ms; rare word with a lookup each "
        f"{figures['rare_word_lookup_each_ms']} ms"
    )
    if args.like:
        figures.update(_like_figures(db, ctx, repeat=args.repeat))
    db.dispose()
    emit(figures)


if __name__ == "__main__":
    main()
