"""What active learning bought, measured as a project measures it: the random controls.

One command:  python bench/al_gain.py [--labels 800] [--share 0.15] [--pool 6000] [--seed 0]
              python bench/al_gain.py --null [--runs 60] [--imbalanced]

The project mode builds a project on the tweets of al_efficiency.py (``--pool`` items and 1,000
labeled eval items, seeded), labels ``--labels`` items through the real serving path (next task,
submit with the corpus label, a round every 25 labels) with ``random_share`` ``--share``, then
times ``labelloop.workflow.gain.report`` and prints its sentence. The null mode checks the
report's honesty: both sides drawn at random from the digits (30 "controls", 150 "policy"
labels, 300 eval items), ``--runs`` times; the 95% interval should hold 0 in about 95% of the
runs, and no saving should be claimed in about 97.5%. ``--imbalanced`` asks "is it a 0?" (one
digit in ten) instead of "is it 5 or more?", so the report measures by macro-F1.
The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log  # noqa: E402
from al_efficiency import load  # noqa: E402


def project(a: argparse.Namespace) -> dict[str, object]:
    from labelloop.govern.permissions import Permission
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import accounts, gain, imports, learning, projects, tasks
    from labelloop.workflow.features import FeatureCache

    data = load("tweets")
    assert data.texts is not None
    order = np.random.default_rng(a.seed).permutation(len(data.texts))
    pool, held = order[: a.pool], order[a.pool : a.pool + 1000]
    truth = {data.texts[i]: data.classes[data.y[i]] for i in pool}
    with tempfile.TemporaryDirectory() as home:
        db = Database(f"sqlite:///{home}/gain.db")
        upgrade(db)
        admin = accounts.create_user(db, "admin", None, is_admin=True)
        schema = {
            "name": "Tweets",
            "data": {"type": "text", "field": "text"},
            "controls": [
                {
                    "name": "sentiment",
                    "type": "choice",
                    "labels": list(data.classes),
                    "target": True,
                }
            ],
            "settings": {"random_share": a.share, "retrain_every": 25},
        }
        projects.create_project(db, "tw", schema, actor=admin)
        ctx = projects.access(db, "tw", admin, Permission.VIEW_PROJECT)

        def jsonl(rows: np.ndarray, labeled: bool) -> io.BytesIO:
            lines = (
                json.dumps(
                    {
                        "text": data.texts[i],
                        **({"label": data.classes[data.y[i]]} if labeled else {}),
                    }
                )
                for i in rows
            )
            return io.BytesIO(("\n".join(lines) + "\n").encode())

        imports.import_items(db, ctx, jsonl(pool, False), fmt="jsonl", filename="pool.jsonl")
        imports.import_items(
            db,
            ctx,
            jsonl(held, True),
            fmt="jsonl",
            filename="eval.jsonl",
            label_field="label",
            split="eval",
        )
        cache = FeatureCache()
        learning.train(db, ctx, cache=cache)
        started = time.perf_counter()
        for n in range(a.labels):
            task = tasks.next_task(db, ctx)
            assert task is not None, "the pool ran dry"
            answer = {"sentiment": truth[task["item"]["data"]["text"]]}
            tasks.submit(db, ctx, task["assignment_id"], answer, active_ms=1000)
            if (n + 1) % 25 == 0:
                learning.train(db, ctx, cache=cache)
                log(f"{n + 1:,} labels")
        labeling = time.perf_counter() - started
        started = time.perf_counter()
        found = gain.report(db, ctx, cache=FeatureCache())
        seconds = time.perf_counter() - started
    log(found.get("sentence") or found.get("reason", ""))
    return {
        "mode": "project",
        "labels": a.labels,
        "random_share": a.share,
        "labeling_s": round(labeling, 1),
        "report_s": round(seconds, 2),
        **{k: v for k, v in found.items() if k != "curve"},
    }


def null(a: argparse.Namespace) -> dict[str, object]:
    from labelloop.learn import make_model
    from labelloop.learn.gain import active_learning_gain

    data = load("digits")
    assert data.pixels is not None
    y_all = (data.y == 0 if a.imbalanced else data.y >= 5).astype(np.int64)
    rng = np.random.default_rng(a.seed)
    held_zero = claimed = 0
    started = time.perf_counter()
    redrawn = 0
    for run in range(a.runs):
        while True:  # a side that saw one class has no model to compare: draw again
            order = rng.permutation(len(y_all))
            train, held = order[:180], order[180:480]
            is_control = np.zeros(180, dtype=bool)
            is_control[rng.choice(180, 30, replace=False)] = True
            y_train = y_all[train]
            if (
                np.unique(y_train[is_control]).size
                == np.unique(y_train[~is_control][:30]).size
                == 2
            ):
                break
            redrawn += 1
        found = active_learning_gain(
            data.pixels[train],
            y_all[train],
            is_control,
            data.pixels[held],
            y_all[held],
            n_classes=2,
            model=make_model(),
            seed=run,
        )
        assert found.interval is not None
        metric = found.metric
        held_zero += found.interval[0] <= 0 <= found.interval[1]
        claimed += found.saving is not None
    log(
        f"by {metric}: interval held 0 in {held_zero} of {a.runs}; a saving claimed in "
        f"{claimed} ({redrawn} draws with one class on a side drawn again)"
    )
    return {
        "mode": "null",
        "metric": metric,
        "runs": a.runs,
        "interval_holds_zero": round(held_zero / a.runs, 3),
        "saving_claimed": round(claimed / a.runs, 3),
        "redrawn": redrawn,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=int, default=800)
    p.add_argument("--share", type=float, default=0.15)
    p.add_argument("--pool", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--null", action="store_true", help="check the interval on random-vs-random")
    p.add_argument("--runs", type=int, default=60)
    p.add_argument("--imbalanced", action="store_true", help="one class in ten: macro-F1")
    a = p.parse_args(argv)
    emit(null(a) if a.null else project(a))


if __name__ == "__main__":
    main()
