"""How soon a new demo can be labeled: from `labelloop demo` to its "label at" line, and from
then to the first items the labeling page's next-task call is served.

One command:  python bench/demo_start.py [--dataset tweets] [--rounds 3] [--items 10]
                                         [--baseline DIR]

Each round runs `labelloop demo --dataset D --no-browser --port N` on a fresh data dir (no
network: HF_HUB_OFFLINE=1) and times its "label at" line (``label_at_s``). Then, as a page
opened at once would, it asks ``POST /api/projects/<slug>/tasks/next`` (holding the items
already served) until ``--items`` are served, waiting 2 s after an empty answer as the labeling
page does: ``first_items_s`` is that time, ``empty_answers`` how often it waited, and
``random_controls`` how many of the items were random controls rather than the learner's picks.
Ten seconds later it reads the project's status: ``model_version`` must still be 1 (the
server's learner ran no second round) and ``round_s`` is that first round's training time.
With ``--baseline DIR`` (an older labelloop tree, e.g. from ``git archive``) each round runs
both trees, one after the other. Progress goes to stderr; the last stdout line is one JSON
object with the medians per tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, free_port, fresh_env, log, medians, shown, stop_process  # noqa: E402

HEAD = Path(__file__).resolve().parents[1]
EMPTY_POLL_S = 2.0  # the labeling page's wait after an empty answer (label.js EMPTY_POLL_MS)
SETTLE_S = 10.0  # time for the server's learner to make its first pass before the status is read
FIGURES = (
    "label_at_s",
    "first_items_s",
    "ready_s",
    "empty_answers",
    "random_controls",
    "model_version",
    "round_s",
)


def _next(url: str, token: str, held: list[int]) -> dict[str, Any] | None:
    request = urllib.request.Request(
        f"{url}/tasks/next",
        data=json.dumps({"held": held}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        task: dict[str, Any] | None = json.loads(response.read())["task"]
        return task


def one_run(code: Path, dataset: str, n_items: int) -> dict[str, Any]:
    """One fresh demo on the tree ``code``: its figures (see the module's docstring)."""
    from labelloop.store.db import Database
    from labelloop.workflow import accounts

    home = Path(tempfile.mkdtemp(prefix="llbench-demo-"))
    env = fresh_env(home, PYTHONPATH=str(code), HF_HUB_OFFLINE="1", COLUMNS="200")
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen(  # from the tree itself, so `-m labelloop` is that tree's
        [sys.executable, "-m", "labelloop", "demo", "--dataset", dataset, "--no-browser"]
        + ["--port", str(port)],
        env=env,
        cwd=code,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        said = ""
        for line in proc.stdout:
            said += line
            if line.startswith("label at"):
                break
        else:
            raise RuntimeError(f"the demo ended before serving:\n{said[-2000:]}")
        label_at = time.monotonic() - t0
        slug = said.rsplit("/p/", 1)[1].split("/")[0]
        db = Database(f"sqlite:///{home / 'labelloop.db'}")
        try:
            token = accounts.create_token(db, "admin", "bench")
        finally:
            db.dispose()
        t1 = time.monotonic()
        held: list[int] = []
        empty = controls = 0
        while len(held) < n_items and time.monotonic() - t1 < 300:
            task = _next(f"http://127.0.0.1:{port}/api/projects/{slug}", token, held)
            if task is None:
                empty += 1
                time.sleep(EMPTY_POLL_S)
                continue
            held.append(task["assignment_id"])
            controls += task["selection"]["strategy"] == "random"
        first_items = time.monotonic() - t1
        time.sleep(SETTLE_S)
        status = subprocess.run(
            [sys.executable, "-m", "labelloop", "status", slug, "--json"],
            env=env,
            cwd=code,
            capture_output=True,
            text=True,
            check=True,
        )
        model = json.loads(status.stdout)["model"]
    finally:
        stop_process(proc, "labelloop demo")
        shutil.rmtree(home, ignore_errors=True)
    return {
        "label_at_s": round(label_at, 2),
        "first_items_s": round(first_items, 2),
        "ready_s": round(label_at + first_items, 2),
        "empty_answers": empty,
        "random_controls": controls,
        "model_version": model["version"],
        "round_s": model["train_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="tweets")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--baseline", type=Path, help="an older labelloop tree to compare with")
    args = parser.parse_args()
    codes = {"head": HEAD, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in range(args.rounds):
        for name, code in codes.items():
            got = one_run(code, args.dataset, args.items)
            runs.setdefault(name, []).append(got)
            log(f"round {r + 1} {name}: {shown(got)}")
    emit(
        {
            "dataset": args.dataset,
            "rounds": args.rounds,
            "items": args.items,
            "loadavg_1m": round(os.getloadavg()[0], 2),
            **medians(runs, FIGURES),
        }
    )


if __name__ == "__main__":
    main()
