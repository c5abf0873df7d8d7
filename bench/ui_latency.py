"""What an annotator waits for on the labeling page: from the key that submits an answer to
the next item on screen, in a real browser against a real `labelloop serve`.

One command:  python bench/ui_latency.py [--items 2000] [--answers 200] [--warmup 10]
                                         [--width 1280] [--no-learner] [--chromium PATH]

Builds a fresh data dir with the CLI (init, projects create, import, users add), starts
`labelloop serve` (its learner retrains every 10 labels, as a project does), signs in with
Chromium through Playwright and answers ``--answers`` items by keyboard alone: the digit of
the item's label, then Enter. In the page, a capturing keydown listener notes when Enter is
pressed and a MutationObserver when the page shows the next item (``#label-app``'s
``data-assignment-id`` changes: ``next_item_in_page_ms``); the main figure, ``next_item_ms``,
adds the two animation frames to the one that paints the new item. Afterwards every answer is
checked against the project's export: an answer the page moved on from must be stored (the
page submits in the background while it shows the prefetched next item). Progress goes to
stderr; the last stdout line is one JSON object with p50/p95/p99/max in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    LABELS,
    SCHEMA,
    cli,
    emit,
    free_port,
    fresh_env,
    label_of,
    log,
    make_texts,
    pct,
    start_server,
    stop_process,
)

PASSWORD = "bench-password-1"
SLUG = "bench-ui"

# Installed before the page's own scripts run: the gap from Enter to the next item painted.
PROBE = """
(() => {
  window.__gaps = [];
  let pressed = null;
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter") pressed = performance.now();
  }, true);
  const watch = () => {
    const app = document.getElementById("label-app");
    if (!app) return void requestAnimationFrame(watch);
    new MutationObserver(() => {
      if (pressed === null || !app.dataset.assignmentId) return;
      const at = pressed;
      const shown = performance.now() - at;
      pressed = null;
      requestAnimationFrame(() => requestAnimationFrame(() => {
        window.__gaps.push([shown, performance.now() - at]);
      }));
    }).observe(app, { attributes: true, attributeFilter: ["data-assignment-id"] });
  };
  watch();
})();
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=2000, help="texts in the pool")
    p.add_argument("--answers", type=int, default=200, help="answers measured")
    p.add_argument("--warmup", type=int, default=10, help="answers before measuring")
    p.add_argument("--width", type=int, default=1280, help="viewport width (390: a phone)")
    p.add_argument("--no-learner", action="store_true", help="serve the import order only")
    p.add_argument("--chromium", default="/usr/bin/chromium", help="the browser to drive")
    return p.parse_args(argv)


def setup(args: argparse.Namespace, work: Path, env: dict[str, str]) -> list[str]:
    """The project, its items and the annotator; the texts by import order."""
    cli(["init"], env)
    schema = json.loads(json.dumps(SCHEMA))
    if args.no_learner:
        schema["settings"]["queue_size"] = args.items
    (work / "schema.json").write_text(json.dumps(schema))
    cli(["projects", "create", SLUG, "--schema", str(work / "schema.json")], env)
    texts = make_texts(args.items, seed=3)
    with (work / "items.jsonl").open("w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"t{i}", "text": text}) + "\n")
    cli(["import", SLUG, str(work / "items.jsonl"), "--id-field", "id"], env)
    cli(["users", "add", "ann", "--password-stdin"], env, stdin=PASSWORD + "\n")
    cli(["projects", "member", SLUG, "ann", "annotator"], env)
    return texts


def label(args: argparse.Namespace, base: str, texts: list[str]) -> dict[str, Any]:
    """Answer warm-up + measured items by keyboard; the gaps and what the page answered."""
    from playwright.sync_api import sync_playwright

    by_text = {t: i for i, t in enumerate(texts)}
    answered: dict[str, str] = {}  # external id -> label
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.add_init_script(PROBE)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "ann")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        t0 = time.perf_counter()
        page.goto(f"{base}/p/{SLUG}/label")
        page.wait_for_function(
            "() => document.getElementById('label-app').dataset.state === 'task'", timeout=120_000
        )
        first_s = time.perf_counter() - t0
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        total = args.warmup + args.answers
        for n in range(total):
            text = page.inner_text("#item-text")
            before = page.get_attribute("#label-app", "data-assignment-id")
            name = label_of(text)
            answered[f"t{by_text[text]}"] = name
            page.keyboard.press(str(LABELS.index(name) + 1))
            page.keyboard.press("Enter")
            page.wait_for_function(
                "([prev, n]) => window.__gaps.length >= n"
                " && document.getElementById('label-app').dataset.assignmentId !== prev",
                arg=[before, n + 1],
                timeout=120_000,
            )
            if (n + 1) % 50 == 0:
                log(f"{n + 1}/{total} answered")
        gaps = page.evaluate("() => window.__gaps")[args.warmup :]
        browser.close()
    return {"gaps_ms": gaps, "answered": answered, "first_item_s": first_s, "errors": errors}


def stored_labels(env: dict[str, str], work: Path) -> dict[str, str]:
    out = work / "export.jsonl"
    cli(["export", SLUG, "--format", "jsonl", "--output", str(out)], env)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {str(r["external_id"]): r["label"] for r in rows if r.get("label")}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labelloop-ui-") as tmp:
        work = Path(tmp)
        env = fresh_env(work / "home")
        texts = setup(args, work, env)
        log(f"{len(texts):,} items imported; starting the server")
        port = free_port()
        proc, cold_s = start_server(env, port, work / "server.log")
        try:
            run = label(args, f"http://127.0.0.1:{port}", texts)
        finally:
            stop_process(proc, "labelloop serve")
        stored = stored_labels(env, work)
    shown = [g[0] for g in run["gaps_ms"]]
    gaps = [g[1] for g in run["gaps_ms"]]
    lost = [i for i, name in run["answered"].items() if stored.get(i) != name]
    figures = {
        "items": args.items,
        "answers": len(gaps),
        "width": args.width,
        "learner": not args.no_learner,
        "cold_start_s": round(cold_s, 2),
        "first_item_s": round(run["first_item_s"], 2),
        "next_item_ms": {q: pct(gaps, float(q[1:])) for q in ("p50", "p95", "p99")}
        | {"max": round(max(gaps), 1) if gaps else None},
        "next_item_in_page_ms": {q: pct(shown, float(q[1:])) for q in ("p50", "p95", "p99")},
        "answers_not_stored": len(lost),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "page_errors": run["errors"],
    }
    m = figures["next_item_ms"]
    log(
        f"Enter -> next item painted: p50 {m['p50']} ms, p95 {m['p95']} ms, p99 {m['p99']} ms, "
        f"max {m['max']} ms over {len(gaps)} answers; {len(lost)} answers not stored"
    )
    emit(figures)


if __name__ == "__main__":
    main()
