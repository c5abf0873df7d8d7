"""Does auto-labeling keep its promise? The model's labels, accepted only when the eval items
vouch for it, checked against the truth of the items it labeled.

One command:  python bench/autolabel.py [--datasets sms,trec,movies,tweets] [--labels 1000]
                                        [--eval 1000] [--seeds 3] [--floor 0.95]
                                        [--featurizer tfidf|minilm|tfidf+minilm]

Per dataset and seed: a project on a random ``--labels`` labeled items (as a team's labels
would be imported), ``--eval`` labeled eval items and the rest of the dataset unlabeled; then
for each confidence, and with none (the lowest the eval items vouch for, as a project without
``auto_label_confidence`` chooses), ``labelloop.workflow.autolabel.apply`` at ``--floor``
through the real store (SQLite), the auto labels compared with the dataset's labels, and the
run undone. Figures: how often a run was allowed, the share of the unlabeled items it labeled,
the accuracy of the labels it gave (the promise: at or above the floor) and the runs that broke
it. Logistic regression on ``--featurizer`` (TF-IDF by default; MiniLM embeddings are
computed first, as the background learner would, and need ``[embeddings]``). The last stdout
line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log  # noqa: E402
from al_efficiency import load  # noqa: E402

CONFIDENCES: tuple[float | None, ...] = (None, 0.8, 0.9, 0.95, 0.98)
"""None: the lowest confidence the eval items vouch for, as a project without one chooses."""


def one(name: str, seed: int, a: argparse.Namespace) -> list[dict[str, Any]]:
    """Every confidence's run on one dataset and seed."""
    from sqlalchemy import select

    from labelloop.errors import Unprocessable
    from labelloop.govern.permissions import Permission
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.store.tables import AUTO, item, item_label
    from labelloop.workflow import accounts, autolabel, imports, projects
    from labelloop.workflow.features import FeatureCache

    data = load(name)
    assert data.texts is not None
    order = np.random.default_rng(seed).permutation(len(data.texts))
    n_eval = min(a.eval, len(order) // 4)
    held, labeled, rest = np.split(order, [n_eval, n_eval + a.labels])
    truth = {data.texts[i]: data.classes[data.y[i]] for i in rest}
    out = []
    with tempfile.TemporaryDirectory() as home:
        db = Database(f"sqlite:///{home}/auto.db")
        upgrade(db)
        admin = accounts.create_user(db, "admin", None, is_admin=True)
        schema = {
            "name": name,
            "data": {"type": "text", "field": "text"},
            "controls": [
                {"name": "y", "type": "choice", "labels": list(data.classes), "target": True}
            ],
            "settings": {"featurizer": a.featurizer},
        }
        projects.create_project(db, "p", schema, actor=admin)
        ctx = projects.access(db, "p", admin, Permission.VIEW_PROJECT)

        def add(rows: np.ndarray, *, with_labels: bool, split: str) -> None:
            lines = (
                json.dumps(
                    {"text": data.texts[i]}
                    | ({"label": data.classes[data.y[i]]} if with_labels else {})
                )
                for i in rows
            )
            imports.import_items(
                db,
                ctx,
                io.BytesIO(("\n".join(lines) + "\n").encode()),
                fmt="jsonl",
                filename=f"{split}-{with_labels}.jsonl",
                label_field="label" if with_labels else None,
                split=split,
            )

        add(labeled, with_labels=True, split="pool")
        add(rest, with_labels=False, split="pool")
        add(held, with_labels=True, split="eval")
        cache = FeatureCache(Path(home) / "features")
        from labelloop.workflow.learning import prepare_features

        started = time.perf_counter()
        while prepare_features(db, ctx, cache, budget_s=30):  # embeddings, as the learner does
            log(f"{name} seed {seed}: computing {a.featurizer} features")
        if a.featurizer != "tfidf":
            log(f"{name} seed {seed}: features in {time.perf_counter() - started:.0f} s")
        for confidence in CONFIDENCES:
            started = time.perf_counter()
            row: dict[str, Any] = {
                "dataset": name,
                "seed": seed,
                "mode": "chosen" if confidence is None else f"{confidence:.2f}",
                "confidence": confidence,
            }
            try:
                done = autolabel.apply(
                    db, ctx, cache=cache, confidence=confidence, min_accuracy=a.floor
                )
            except Unprocessable as exc:
                row.update(allowed=False, why=exc.message)
                out.append(row)
                continue
            with db.read() as conn:
                given = conn.execute(
                    select(item.c.payload, item_label.c.label)
                    .join(item, item.c.id == item_label.c.item_id)
                    .where(item_label.c.auto_run_id == done["run_id"])
                    .where(item_label.c.resolution == AUTO)
                ).all()
            right = sum(truth.get(p["text"]) == label for p, label in given)
            row.update(
                allowed=True,
                confidence=done["confidence"],
                n_unlabeled=done["n_unlabeled"],
                n_labeled=len(given),
                share=round(len(given) / max(1, done["n_unlabeled"]), 4),
                accuracy=round(right / len(given), 4) if given else None,
                eval_low=done["interval"][0],
                used=done["featurizer"],
                seconds=round(time.perf_counter() - started, 2),
            )
            out.append(row)
            autolabel.undo(db, ctx, done["run_id"])
        db.dispose()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="sms,trec,movies,tweets")
    p.add_argument("--labels", type=int, default=1000)
    p.add_argument("--eval", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--floor", type=float, default=0.95)
    p.add_argument("--featurizer", default="tfidf", help="tfidf, minilm or tfidf+minilm")
    a = p.parse_args(argv)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for name in a.datasets.split(","):
        for seed in range(a.seeds):
            for r in one(name, seed, a):
                runs.append(r)
                at = f"{name} seed {seed}, {r['mode']}"
                if r["allowed"]:
                    log(
                        f"{at}: at {r['confidence']:.0%} labeled {r['n_labeled']:,} of "
                        f"{r['n_unlabeled']:,} ({r['share']:.1%}), right on {r['accuracy']:.1%} "
                        f"(eval interval from {r['eval_low']:.1%}), {r['seconds']} s"
                    )
                else:
                    log(f"{at}: refused: {r['why']}")
    allowed = [r for r in runs if r["allowed"] and r["n_labeled"]]
    broken = [r for r in allowed if r["accuracy"] < a.floor]
    table = {}
    for name in a.datasets.split(","):
        for mode in sorted({r["mode"] for r in runs}):
            mine = [r for r in runs if r["dataset"] == name and r["mode"] == mode]
            ok = [r for r in mine if r["allowed"] and r["n_labeled"]]
            table[f"{name}@{mode}"] = {
                "allowed": f"{len(ok)}/{len(mine)}",
                "confidence": [r["confidence"] for r in ok],
                "share": round(float(np.mean([r["share"] for r in ok])), 4) if ok else None,
                "accuracy": round(float(np.mean([r["accuracy"] for r in ok])), 4) if ok else None,
            }
    emit(
        {
            "floor": a.floor,
            "featurizer": a.featurizer,
            "labels": a.labels,
            "runs": len(runs),
            "runs_allowed": len(allowed),
            "runs_below_floor": len(broken),
            "worst_accuracy_allowed": min((r["accuracy"] for r in allowed), default=None),
            "per_dataset_confidence": table,
            "median_run_s": float(np.median([r["seconds"] for r in allowed])) if allowed else None,
            "seconds": round(time.perf_counter() - started, 1),
        }
    )


if __name__ == "__main__":
    main()
