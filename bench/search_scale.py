"""Pool search at scale: how long one word search of the search page takes on a large pool.

One command:  python bench/search_scale.py [--items 1000000] [--database-url URL]

Fills a fresh store (a SQLite file in a temporary folder, or the empty database at
``--database-url``) with N synthetic short texts written straight into the item table,
refreshes the planner's statistics as an import does, then times ``seeding.search`` (the
search page's and the API's call: a count and the first page of 20) for a common word, a rare
word, a prefix, a phrase and two words, three times each.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

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
    db.dispose()
    emit(figures)


if __name__ == "__main__":
    main()
