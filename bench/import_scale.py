"""Import and export at scale (BENCH.md section 3): items per second and peak memory.

One command:  python bench/import_scale.py [--sizes 100000,1000000] [--formats jsonl,csv]

For each size N it generates N unique short texts, writes them as JSONL and CSV (and a labeled
JSONL copy), and times:
  - `labelloop import` end to end as a subprocess (CLI start-up included; peak RSS of that child);
  - labelloop.workflow.imports.import_items in a fresh worker process (the call alone; VmHWM);
  - a labeled import into a second project (every item becomes labeled, resolution "imported");
  - `labelloop export --format jsonl|csv -o FILE` of that project (subprocess; peak RSS) and
    labelloop.workflow.export.export in a worker process.
Progress and the growth table go to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SCHEMA,
    cli,
    emit,
    fresh_env,
    label_of,
    log,
    make_texts,
    proc_status_mb,
    run_measured,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        default="100000",
        help="comma-separated item counts (default 100000; e.g. 100000,1000000)",
    )
    p.add_argument("--formats", default="jsonl,csv", help="import formats (default jsonl,csv)")
    p.add_argument("--export-formats", default="jsonl,csv", help="export formats")
    p.add_argument(
        "--no-inprocess",
        action="store_true",
        help="skip the in-process (library call) measurements",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="run against this (empty or shared) database instead of SQLite files",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (path on stderr)")
    p.add_argument("--_worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --- in-process measurements, each in its own fresh worker process -----------------------------


def worker(argv: list[str]) -> None:
    """``import SLUG FILE FMT [LABEL_FIELD]`` or ``export SLUG FMT OUT``: one timed library call."""
    from labelloop.config import get_settings
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import export as wf_export
    from labelloop.workflow import imports, projects

    settings = get_settings()
    if settings.database_url is None:
        settings.ensure_home()
    db = Database(settings.db_url)
    upgrade(db)
    op, slug = argv[0], argv[1]
    ctx = projects.system_context(db, slug)
    base_rss = proc_status_mb(os.getpid(), "VmRSS")
    if op == "import":
        path, fmt = Path(argv[2]), argv[3]
        with path.open("rb") as f:
            t0 = time.perf_counter()
            report = imports.import_items(db, ctx, f, fmt=fmt, filename=path.name)
            seconds = time.perf_counter() - t0
        n = report.n_items
    else:
        fmt, out = argv[2], Path(argv[3])
        with out.open("wb") as sink:
            t0 = time.perf_counter()
            n = wf_export.export(db, ctx, sink, fmt=fmt)
            seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "n": n,
                "seconds": seconds,
                "base_rss_mb": base_rss,
                "peak_rss_mb": proc_status_mb(os.getpid(), "VmHWM"),
            }
        )
    )


def in_process(env: dict[str, str], *argv: str) -> dict[str, Any]:
    r = run_measured([sys.executable, str(Path(__file__).resolve()), "--_worker", *argv], env)
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- data files --------------------------------------------------------------------------------


def write_files(texts: list[str], d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    paths = {"jsonl": d / "items.jsonl", "csv": d / "items.csv", "labeled": d / "labeled.jsonl"}
    with paths["jsonl"].open("w", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": t}) + "\n" for t in texts)
    with paths["csv"].open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text"])
        w.writerows([t] for t in texts)
    with paths["labeled"].open("w", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": t, "label": label_of(t)}) + "\n" for t in texts)
    return paths


# --- main --------------------------------------------------------------------------------------


def measure_size(n: int, args: argparse.Namespace, work: Path, rows: list[dict[str, Any]]) -> None:
    t0 = time.perf_counter()
    texts = make_texts(n, seed=args.seed)
    paths = write_files(texts, work / f"n{n}")
    del texts
    log(
        f"{n:,} texts generated and written in {time.perf_counter() - t0:.1f}s "
        f"(jsonl {paths['jsonl'].stat().st_size / 1e6:.1f} MB)"
    )
    schema = work / "schema.json"
    tag = f"{n}-{os.getpid()}"

    def add(op: str, fmt: str, mode: str, count: int, seconds: float, peak: float | None) -> None:
        row = {
            "size": n,
            "op": op,
            "format": fmt,
            "mode": mode,
            "rows": count,
            "seconds": round(seconds, 3),
            "per_s": round(count / seconds, 1) if seconds else None,
            "peak_rss_mb": round(peak, 1) if peak is not None else None,
        }
        rows.append(row)
        log(
            f"  {op:<14} {fmt:<5} {mode:<10} {count:>9,} in {seconds:7.2f}s = "
            f"{row['per_s']:>10,.0f}/s  peak {row['peak_rss_mb']} MB"
        )

    for fmt in args.formats.split(","):
        # a fresh data dir per format, so every import starts from the same empty project
        env = fresh_env(work / f"home-{fmt}-{n}", args.database_url)
        slug = f"imp-{fmt}-{tag}".replace("_", "-")[:60]
        cli(["init"], env)
        cli(["projects", "create", slug, "--schema", str(schema)], env)
        r = cli(["import", slug, str(paths[fmt]), "--format", fmt, "--json"], env)
        got = json.loads(r.stdout.strip().splitlines()[-1])["items"]
        if got != n:
            raise RuntimeError(f"imported {got} of {n} items")
        add("import", fmt, "cli", got, r.wall_s, r.maxrss_mb)
        if not args.no_inprocess:
            slug2 = slug + "-lib"
            cli(["projects", "create", slug2, "--schema", str(schema)], env)
            res = in_process(env, "import", slug2, str(paths[fmt]), fmt)
            add("import", fmt, "in-process", res["n"], res["seconds"], res["peak_rss_mb"])

    # the export side: every item labeled by a labeled import into its own project
    env = fresh_env(work / f"home-export-{n}", args.database_url)
    slug = f"exp-{tag}"
    cli(["init"], env)
    cli(["projects", "create", slug, "--schema", str(schema)], env)
    r = cli(["import", slug, str(paths["labeled"]), "--label-field", "label", "--json"], env)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    if got["labeled"] != n:
        raise RuntimeError(f"labeled import: {got}")
    add("import-labeled", "jsonl", "cli", n, r.wall_s, r.maxrss_mb)
    for fmt in args.export_formats.split(","):
        out = work / f"n{n}" / f"export.{fmt}"
        r = cli(["export", slug, "--format", fmt, "-o", str(out)], env)
        count = _count_rows(out, fmt)
        if count != n:
            raise RuntimeError(f"export {fmt} wrote {count} rows, expected {n}")
        add("export", fmt, "cli", count, r.wall_s, r.maxrss_mb)
        if not args.no_inprocess:
            res = in_process(env, "export", slug, fmt, str(out) + ".lib")
            add("export", fmt, "in-process", res["n"], res["seconds"], res["peak_rss_mb"])
        out.unlink(missing_ok=True)
        Path(str(out) + ".lib").unlink(missing_ok=True)
    for p in paths.values():
        p.unlink(missing_ok=True)


def _count_rows(path: Path, fmt: str) -> int:
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as f:
            return sum(1 for _ in csv.reader(f)) - 1
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args._worker:
        worker(args._worker)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="llbench-import-"))
    (work / "schema.json").write_text(json.dumps(SCHEMA))
    log(f"import_scale: sizes {sizes}, formats {args.formats}, data in {work}")
    # CLI start-up on its own: a command that opens the database and does nothing else
    env0 = fresh_env(work / "home-startup", args.database_url)
    cli(["init"], env0)
    startup = sorted(cli(["projects", "list"], env0).wall_s for _ in range(3))[1]
    log(f"CLI start-up (`labelloop projects list`, median of 3): {startup:.2f}s")
    rows: list[dict[str, Any]] = []
    try:
        for n in sizes:
            measure_size(n, args, work, rows)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    log("growth table (per_s = rows / wall seconds):")
    log(
        f"{'size':>9} {'op':<14} {'fmt':<5} {'mode':<10} {'seconds':>8} {'per_s':>10} "
        f"{'peak MB':>8}"
    )
    for r in rows:
        log(
            f"{r['size']:>9,} {r['op']:<14} {r['format']:<5} {r['mode']:<10} {r['seconds']:>8.2f} "
            f"{r['per_s']:>10,.0f} {r['peak_rss_mb'] or 0:>8.0f}"
        )

    def pick(op: str, fmt: str, mode: str, key: str, size: int | None = None) -> Any:
        size = size or max(sizes)
        for r in rows:
            if (r["op"], r["format"], r["mode"], r["size"]) == (op, fmt, mode, size):
                return r[key]
        return None

    big = max(sizes)
    figures: dict[str, Any] = {
        "benchmark": "import_scale",
        "backend": "sqlite" if not args.database_url else args.database_url.split(":")[0],
        "size": big,
        "import_items_per_s": pick("import", "jsonl", "cli", "per_s"),
        "import_inprocess_items_per_s": pick("import", "jsonl", "in-process", "per_s"),
        "import_csv_items_per_s": pick("import", "csv", "cli", "per_s"),
        "import_csv_inprocess_items_per_s": pick("import", "csv", "in-process", "per_s"),
        "import_labeled_items_per_s": pick("import-labeled", "jsonl", "cli", "per_s"),
        "import_s": pick("import", "jsonl", "cli", "seconds"),
        "import_peak_rss_mb": pick("import", "jsonl", "cli", "peak_rss_mb"),
        "export_rows_per_s": pick("export", "jsonl", "cli", "per_s"),
        "export_inprocess_rows_per_s": pick("export", "jsonl", "in-process", "per_s"),
        "export_csv_rows_per_s": pick("export", "csv", "cli", "per_s"),
        "export_csv_inprocess_rows_per_s": pick("export", "csv", "in-process", "per_s"),
        "export_s": pick("export", "jsonl", "cli", "seconds"),
        "export_peak_rss_mb": pick("export", "jsonl", "cli", "peak_rss_mb"),
        "cli_startup_s": round(startup, 3),
        "sizes": sizes,
        "table": rows,
        "bench_wall_s": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    emit(figures)


if __name__ == "__main__":
    main()
