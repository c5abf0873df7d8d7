"""The `labelloop` command: set up, import, serve, export and inspect projects."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from labelloop.config import Settings, get_settings
from labelloop.errors import LabelloopError
from labelloop.store.db import Database
from labelloop.store.migrate import upgrade

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
users_app = typer.Typer(no_args_is_help=True, help="Manage user accounts.")
tokens_app = typer.Typer(no_args_is_help=True, help="Create API tokens.")
projects_app = typer.Typer(no_args_is_help=True, help="Create and list projects.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(projects_app, name="projects")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def _open(settings: Settings | None = None) -> tuple[Settings, Database]:
    settings = settings or get_settings()
    if settings.database_url is None:
        settings.ensure_home()
    db = Database(settings.db_url)
    upgrade(db)
    return settings, db


def _run(fn: Callable[[], T]) -> T:
    """Run a command body; a user-facing error becomes one line on stderr and exit code 1."""
    try:
        return fn()
    except LabelloopError as exc:
        # soft_wrap: one line however narrow the terminal; escape: messages quote user text
        err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


class _ProgressReader:
    """A binary file that advances a progress bar as it is read."""

    def __init__(self, raw: BinaryIO, advance: Callable[[int], None]) -> None:
        self.raw = raw
        self.advance = advance

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.advance(len(data))
        return data

    def readline(self, limit: int = -1) -> bytes:
        data = self.raw.readline(limit)
        self.advance(len(data))
        return data

    def __iter__(self) -> _ProgressReader:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _counting() -> Progress:
    """Progress of work whose size is not known up front: a spinner and a count."""
    from rich.progress import SpinnerColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@app.command()
def init() -> None:
    """Create the data dir and the database (LABELLOOP_HOME, LABELLOOP_DATABASE_URL)."""
    settings, db = _open()
    out.print(f"labelloop data in {settings.home} (database {db.engine.url!r})")


@users_app.command("add")
def users_add(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="Site admin: may do everything.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; without --password-stdin a random password is made and printed once."""
    from labelloop.workflow import accounts

    _, db = _open()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    user = _run(lambda: accounts.create_user(db, name, password, is_admin=admin))
    out.print(f"user {user.username} created" + (" (admin)" if admin else ""))
    if not password_stdin:
        out.print(f"password: {password}")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List users."""
    from labelloop.workflow import accounts

    _, db = _open()
    rows = accounts.list_users(db)
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    for row in rows:
        out.print(f"{row['username']}" + (" (admin)" if row["is_admin"] else ""))


@tokens_app.command("create")
def tokens_create(
    name: str, label: Annotated[str, typer.Option(help="Token name")] = "cli"
) -> None:
    """Create a bearer token for user NAME and print it (it is stored hashed, shown once)."""
    from labelloop.workflow import accounts

    _, db = _open()
    typer.echo(_run(lambda: accounts.create_token(db, name, label)))


@projects_app.command("create")
def projects_create(
    slug: str,
    schema: Annotated[Path, typer.Option("--schema", help="Project schema, YAML or JSON.")],
    manager: Annotated[str | None, typer.Option(help="User who becomes its manager.")] = None,
) -> None:
    """Create a project from a schema file."""
    from labelloop.workflow import projects

    _, db = _open()

    def go() -> None:
        if not schema.is_file():
            raise LabelloopError(f"no schema file at {schema}")
        projects.create_project(db, slug, schema.read_bytes(), actor=None)
        if manager:
            projects.set_member(db, projects.system_context(db, slug), manager, "manager")

    _run(go)
    out.print(f"project {slug} created")


@projects_app.command("list")
def projects_list() -> None:
    """List projects."""
    from labelloop.store import projects as store_projects

    _, db = _open()
    with db.read() as conn:
        for pid in store_projects.all_ids(conn):
            row = store_projects.by_id(conn, pid)
            out.print(f"{row['slug']}\t{row['name']}", highlight=False)  # type: ignore[index]


@projects_app.command("member")
def projects_member(slug: str, username: str, role: str) -> None:
    """Give USERNAME a ROLE (annotator, reviewer, manager) in project SLUG."""
    from labelloop.workflow import projects

    _, db = _open()
    _run(lambda: projects.set_member(db, projects.system_context(db, slug), username, role))
    out.print(f"{username} is {role} in {slug}")


@app.command("import")
def import_(
    slug: str,
    file: Path,
    text_field: Annotated[str, typer.Option(help="Field holding the text.")] = "text",
    id_field: Annotated[str | None, typer.Option(help="Field holding your item id.")] = None,
    label_field: Annotated[str | None, typer.Option(help="Field with an existing label.")] = None,
    predictions_field: Annotated[
        str | None,
        typer.Option(help="Field with pre-annotations: control name -> predicted value."),
    ] = None,
    split: Annotated[str, typer.Option(help="pool (to label) or eval (held out).")] = "pool",
    format: Annotated[
        str | None, typer.Option(help="jsonl, csv, coco or conll (default: by suffix).")
    ] = None,
    labels_from_folders: Annotated[
        bool, typer.Option(help="Image folder: label each image by its subfolder's name.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a JSONL or CSV file, or a folder of images, into a project: every record or none."""
    from labelloop.ingest import importer_for_path
    from labelloop.workflow import imports, projects

    settings, db = _open()

    def go() -> imports.ImportReport:
        if file.is_dir():
            ctx = projects.system_context(db, slug)
            with _progress() as progress:
                task = progress.add_task(f"importing {file.name or file}", total=None)
                return imports.import_folder(
                    db,
                    ctx,
                    file,
                    media_roots=settings.media_root_paths,
                    labels_from_folders=labels_from_folders,
                    split=split,
                    progress=lambda n: progress.update(task, completed=n),
                )
        if labels_from_folders:
            raise LabelloopError("--labels-from-folders needs a folder of images")
        if not file.is_file():
            raise LabelloopError(f"no file at {file}")
        fmt = format or importer_for_path(file.name)
        ctx = projects.system_context(db, slug)
        with _progress() as progress, file.open("rb") as raw:
            task = progress.add_task(f"importing {file.name}", total=file.stat().st_size)
            reader = cast(BinaryIO, _ProgressReader(raw, lambda n: progress.advance(task, n)))
            return imports.import_items(
                db,
                ctx,
                reader,
                fmt=fmt,
                filename=file.name,
                text_field=text_field,  # type: ignore[arg-type]
                id_field=id_field,
                label_field=label_field,
                prediction_field=predictions_field,
                split=split,
                media_roots=settings.media_root_paths,
            )

    report = _run(go)
    summary = {
        "items": report.n_items,
        "labeled": report.n_labeled,
        "duplicates": report.n_duplicates,
        "split": report.split,
        "batch_id": report.batch_id,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    out.print(
        f"imported {report.n_items} items into {slug} ({report.split})"
        f", {report.n_labeled} with labels, {report.n_duplicates} duplicates skipped"
    )
    if report.duplicate_lines:
        shown = ", ".join(str(n) for n in report.duplicate_lines[:10])
        what = "images at files" if file.is_dir() else "texts at lines"
        out.print(f"duplicate {what} {shown}" + (" ..." if report.n_duplicates > 10 else ""))


@app.command()
def export(
    slug: str,
    format: Annotated[
        str,
        typer.Option("--format", help="jsonl, csv (no spans/boxes), coco (boxes) or conll (spans)"),
    ] = "jsonl",
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")] = Path("-"),
) -> None:
    """Export every labeled item with its provenance."""
    from labelloop.workflow import export as wf_export
    from labelloop.workflow import projects

    _, db = _open()

    def go() -> int:
        ctx = projects.system_context(db, slug)
        if str(output) == "-":
            return wf_export.export(db, ctx, sys.stdout.buffer, fmt=format)
        tmp = output.with_name(output.name + ".part")
        try:
            with tmp.open("wb") as sink, _counting() as progress:
                task = progress.add_task(f"exporting {slug}", total=None)
                n = wf_export.export(
                    db,
                    ctx,
                    sink,
                    fmt=format,
                    progress=lambda done: progress.update(task, completed=done),
                )
        except BaseException:
            tmp.unlink(missing_ok=True)  # a failed export leaves no half-written file
            raise
        tmp.replace(output)
        return n

    n = _run(go)
    if str(output) != "-":
        out.print(f"exported {n} labeled items to {output}")


@app.command()
def status(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Progress, current model and stopping state of a project."""
    from labelloop.workflow import projects
    from labelloop.workflow import status as wf_status

    settings, db = _open()
    info = _run(
        lambda: wf_status.status(
            db, projects.system_context(db, slug), features_dir=settings.features_dir
        )
    )
    if as_json:
        typer.echo(json.dumps(info, default=str))
        return
    c = info["counts"]
    table = Table(title=f"{info['project']['name']} ({slug})", show_header=False)
    table.add_row("items to label", f"{c['pool']:,}")
    table.add_row("labeled", f"{c['labeled']:,}  ({c['remaining']:,} remaining)")
    table.add_row("eval items", f"{c['eval']:,}")
    table.add_row("annotations", f"{c['annotations']:,}")
    table.add_row("strategy", info["strategy"])
    table.add_row("featurizer", info["featurizer"])
    table.add_row("classifier", info["model_setting"])
    if info["random_share"]:
        table.add_row("random control", f"{info['random_share']:.0%} of served items")
    feats = info["features"]
    if feats:
        done = "unknown" if feats["computed"] is None else f"{feats['computed']:,}"
        table.add_row("features", f"{done} / {feats['total']:,} items computed")
        if feats["error"]:
            table.add_row("features error", feats["error"])
    model = info["model"]
    if model:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in model["metrics"].items() if k != "n_eval")
        table.add_row(
            "model",
            f"v{model['version']} {model['model']} on {model['featurizer']}, "
            f"{model['n_train']} labels",
        )
        if metrics:
            table.add_row("eval", metrics)
        elif model["cold_start"]:
            table.add_row("eval", "measured from the first trained model")
        else:
            table.add_row("eval", "no labeled eval items (import some with --split eval)")
        for d in model["stopping"]:
            table.add_row("stop?" if not d["stop"] else "STOP recommended", d["reason"])
        if model["more_labels"] is not None:
            table.add_row(
                "more labels", f"~{model['more_labels']:,} more labels would change the model"
            )
        if model["relabel_suggestions"]:
            table.add_row(
                "re-check",
                f"{model['relabel_suggestions']} labels the model contradicts, flagged for a "
                "second look (label issues in `labelloop quality`)",
            )
    else:
        table.add_row("model", "none yet")
    out.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
) -> None:
    """Serve the web app and the API, with the learner in the background."""
    settings, _ = _open(get_settings(host=host, port=port))
    _serve(settings)


def _serve(settings: Settings, *, on_ready: Callable[[], None] | None = None) -> None:
    import uvicorn

    from labelloop.server.app import create_app

    url = f"http://{settings.host}:{settings.port}/"
    out.print(f"labelloop serving on [bold]{url}[/bold]  (Ctrl+C stops)")
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        import threading

        def wait_ready() -> None:
            import time

            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_ready()

        threading.Thread(target=wait_ready, daemon=True).start()
    server.run()


@app.command()
def simulate(
    file: Path,
    label_field: Annotated[
        str, typer.Option(help="Field holding each record's true label (the oracle).")
    ] = "label",
    text_field: Annotated[str, typer.Option(help="Field holding the text.")] = "text",
    strategies: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated strategy names, or 'all' (default: random and the "
            "project default)."
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds (splits and seed sets).")] = 5,
    budget: Annotated[int, typer.Option(min=1, help="Labels each strategy may buy.")] = 500,
    batch: Annotated[int, typer.Option(min=1, help="Labels per round.")] = 10,
    featurizer: Annotated[
        str, typer.Option(help="Registered featurizer: tfidf, minilm, tfidf+minilm, ...")
    ] = "tfidf",
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for curves.png/.html and results.json.")
    ] = None,
    max_seconds: Annotated[
        float, typer.Option(min=1, help="Stop cleanly after this long (whole seeds only).")
    ] = 3600.0,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Seeds replayed at once, each in its own process (default: one per CPU core, "
            "up to --seeds; one for files under 2,000 records). The figures do not depend on it.",
        ),
    ] = None,
    format: Annotated[str | None, typer.Option(help="jsonl or csv (default: by suffix).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Replay active learning on a labeled file to choose a strategy before paying annotators."""
    from concurrent.futures.process import BrokenProcessPool

    from rich.progress import MofNCompleteColumn, SpinnerColumn

    from labelloop.learn import simreport
    from labelloop.learn import simulate as sim

    out_dir = out_dir or Path(f"{file.stem}-simulation")

    def go() -> tuple[Any, dict[str, Any]]:
        records = _sim_read(file, fmt=format, text_field=text_field, label_field=label_field)
        names = _sim_strategy_names(strategies)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task(f"featurizing {len(records['texts']):,} texts", total=None)
            X = _sim_features(featurizer, records["texts"])
            progress.update(task, description=f"simulating {len(names)} strategies × {seeds} seeds")
            try:
                result = sim.simulate(
                    X,
                    records["y"],
                    classes=records["classes"],
                    strategies={name: _sim_strategy(name) for name in names},
                    seeds=list(range(seeds)),
                    budget=budget,
                    batch_size=batch,
                    stopping=_sim_stopping(),
                    max_seconds=max_seconds,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                    jobs=jobs or _sim_jobs(seeds, X),
                )
            except ValueError as exc:  # e.g. a test split smaller than the number of classes
                raise LabelloopError(f"cannot simulate on {file.name}: {exc}") from None
            except BrokenProcessPool:
                raise LabelloopError(
                    f"cannot simulate on {file.name}: a worker process died (out of memory?); "
                    "try a lower --jobs"
                ) from None
        if not result.runs:
            raise LabelloopError(
                f"no seed finished within --max-seconds {max_seconds:g}; raise it or lower --budget"
            )
        info = {k: v for k, v in records.items() if k not in ("texts", "y")}
        info["classes"] = list(records["classes"])
        return result, info

    result, info = _run(go)
    data = {"file": str(file), "featurizer": featurizer, **info, **simreport.to_json(result)}
    written = _sim_write(out_dir, result, data, title=f"Active learning on {file.name}")
    data["outputs"] = written
    if as_json:
        typer.echo(json.dumps(data))
        return
    out.print(_sim_table(result, data))
    note = (
        f"{info['n_records']:,} labeled records ({info['n_duplicates']:,} duplicate texts, "
        f"{info['n_unlabeled']:,} without a label skipped), {len(result.classes)} classes; "
        f"full-data accuracy {data['full_accuracy']:.3f} on {data['n_test']:,} test records"
    )
    out.print(note, highlight=False)
    if result.timed_out:
        out.print(
            f"[yellow]stopped at --max-seconds {max_seconds:g}:[/yellow] {len(result.runs)} of "
            f"{seeds} seeds finished; the figures are over those"
        )
    out.print(f"wrote {', '.join(written)} to {out_dir}", highlight=False)


SIM_COPIES_BYTES = 2 << 30
"""The default ``--jobs`` keeps the workers' copies of the features under this (2 GiB)."""
SIM_PARALLEL_RECORDS = 2000
"""Below this many records a seed takes seconds: starting worker processes would cost more."""


def _sim_jobs(seeds: int, X: Any) -> int:
    """Default worker processes: one per usable CPU core, no more than the seeds, and no more
    copies of the features than :data:`SIM_COPIES_BYTES` allows (a worker holds the features
    and its seed's pool and test rows: two copies); one for a small file."""
    if X.shape[0] < SIM_PARALLEL_RECORDS:
        return 1
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    parts = (X.data, X.indices, X.indptr) if hasattr(X, "indptr") else (X,)
    size = sum(int(part.nbytes) for part in parts)
    return max(1, min(seeds, cpus, SIM_COPIES_BYTES // max(1, 2 * size)))


def _sim_read(file: Path, *, fmt: str | None, text_field: str, label_field: str) -> dict[str, Any]:
    """Labeled records of a JSONL/CSV file, duplicate texts dropped, labels as class indices."""
    import numpy as np

    from labelloop.ingest import content_hash, importer_for_path, make_importer

    if not file.is_file():
        raise LabelloopError(f"no file at {file}")
    importer = make_importer(
        fmt or importer_for_path(file.name), text_field=text_field, label_field=label_field
    )
    texts: list[str] = []
    labels: list[str] = []
    seen: set[str] = set()
    duplicates = unlabeled = 0
    with file.open("rb") as raw:
        for item in importer.read(raw):
            if item.label is None:
                unlabeled += 1
                continue
            if isinstance(item.label, list | dict):
                raise LabelloopError(
                    f"line {item.line}, field '{label_field}': simulate needs one label per "
                    "record, got a list or object"
                )
            key = content_hash(str(item.payload["text"]))
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            texts.append(str(item.payload["text"]))
            labels.append(str(item.label))
    if not labels:
        raise LabelloopError(
            f"no record of {file.name} has a label in field '{label_field}' (see --label-field)"
        )
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise LabelloopError(
            f"every label in field '{label_field}' is {classes[0]!r}; simulate needs two classes"
        )
    if len(labels) < max(40, 8 * len(classes)):
        raise LabelloopError(
            f"{len(labels)} labeled records is too few to simulate; "
            f"need at least {max(40, 8 * len(classes))}"
        )
    index = {c: i for i, c in enumerate(classes)}
    return {
        "texts": texts,
        "y": np.asarray([index[label] for label in labels], dtype=np.int64),
        "classes": classes,
        "n_records": len(labels),
        "n_duplicates": duplicates,
        "n_unlabeled": unlabeled,
    }


def _sim_strategy_names(spec: str | None) -> list[str]:
    """Strategy names from --strategies: a list, 'all', or random plus the project default."""
    from labelloop.learn import STRATEGIES, make_strategy
    from labelloop.schema.settings import ProjectSettings

    if spec is None:
        names = ["random", ProjectSettings().strategy, *_sim_default_policy()]
    elif spec.strip() == "all":
        names = ["random", *STRATEGIES.names()]  # the control first, in tables and charts
    else:
        names = [n.strip() for n in spec.split(",") if n.strip()]
    names = list(dict.fromkeys(names))
    if not names:
        raise LabelloopError("--strategies names no strategy")
    for name in names:
        make_strategy(name)  # an unknown name fails here, listing the known ones
    return names


def _sim_default_policy() -> list[str]:
    """The learner's adaptive default policy, when one is registered (``DEFAULT_STRATEGY``)."""
    import labelloop.learn as learn

    policy = getattr(learn, "DEFAULT_STRATEGY", None)
    return [policy] if isinstance(policy, str) and policy in learn.STRATEGIES else []


def _sim_strategy(name: str) -> Any:
    from labelloop.learn import make_strategy

    return make_strategy(name)


def _sim_stopping() -> list[Any]:
    """Every registered stopping rule that builds with its defaults (the budget is --budget)."""
    from labelloop.learn import STOPPING, make_stopping

    rules = []
    for name in STOPPING.names():
        if name == "budget":  # fires at --budget by construction: nothing to learn from it
            continue
        with contextlib.suppress(TypeError):
            rules.append(make_stopping(name))
    return rules


def _sim_features(name: str, texts: list[str]) -> Any:
    from labelloop.learn import make_featurizer
    from labelloop.learn.featurize import fit_rows, missing_requirement

    featurizer = make_featurizer(name)
    problem = missing_requirement(name)
    if problem is not None:
        raise LabelloopError(problem)
    payloads = [{"text": t} for t in texts]
    try:
        return fit_rows(featurizer, payloads)
    except (ImportError, OSError) as exc:
        raise LabelloopError(f"featurizer '{name}' cannot run here: {exc}") from None


def _sim_write(out_dir: Path, result: Any, data: dict[str, Any], *, title: str) -> list[str]:
    """results.json, curves.html and (with matplotlib) curves.png; the names written."""
    from labelloop.insight import curves
    from labelloop.learn import simreport

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    chart = curves.Chart(
        title=title,
        subtitle=(
            f"{len(result.runs)} seeds, batch {result.batch_size}, budget {result.budget}, "
            f"featurizer {data['featurizer']}; {data['n_pool']:,} pool / {data['n_test']:,} test"
        ),
        curves={
            m: simreport.mean_curves(result, metric=m, up_to=result.budget)
            for m in ("accuracy", "macro_f1")
        },
        full={"accuracy": data["full_accuracy"], "macro_f1": data["full_macro_f1"]},
        table=_sim_rows(result, data),
        text_columns=(0, 5),
    )
    curves.write_html(out_dir / "curves.html", chart)
    written = ["results.json", "curves.html"]
    try:
        curves.write_png(out_dir / "curves.png", chart)
        written.append("curves.png")
    except ImportError:
        err.print("curves.png skipped: matplotlib is missing (pip install 'labelloop[sim]')")
    return written


def _sim_rows(result: Any, data: dict[str, Any]) -> list[list[str]]:
    """The summary as text cells, header first: the terminal table and the HTML page share it."""
    n = len(result.runs)

    def reach(entry: dict[str, Any], pct: int) -> str:
        mean, hit = entry[f"labels_to_{pct}"], entry[f"reached_{pct}"]
        if mean is not None:
            return f"{mean:,.0f}"
        return "not reached" if hit == 0 else f"not reached ({hit}/{n})"

    def stops(entry: dict[str, Any]) -> str:
        lines = []
        for rule, s in entry["stopping"].items():
            if not s["fired"]:
                lines.append(f"{rule}: never")
            else:
                lines.append(
                    f"{rule}: {s['labels_mean']:,.0f} labels, {s['kept_mean']:.1%} of full"
                    + (f" ({s['fired']}/{n} seeds)" if s["fired"] < n else "")
                )
        return "\n".join(lines) or "none registered"

    rows = [
        ["strategy", "labels to 95%", "labels to 98%", "AUC", "at budget", "stopping", "query ms"]
    ]
    for e in data["strategies"]:
        rows.append(
            [
                e["strategy"],
                reach(e, 95),
                reach(e, 98),
                f"{e['auc']:.3f}",
                f"{e['kept_at_budget']:.1%}",
                stops(e),
                f"{e['query_ms_median']:.1f}",
            ]
        )
    return rows


def _sim_table(result: Any, data: dict[str, Any]) -> Table:
    head, *rows = _sim_rows(result, data)
    table = Table(
        title=f"labels to reach a share of full-data accuracy (mean of {len(result.runs)} seeds)",
        caption="(k/n): seeds that reached the level within the budget",
    )
    for i, name in enumerate(head):
        table.add_column(
            name,
            justify="left" if i in (0, 5) else "right",
            overflow="fold",
            ratio=3 if i == 5 else 1,
        )
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


@app.command()
def worker(
    parent_pid: Annotated[
        int | None, typer.Option(hidden=True, help="Stop when this process is gone.")
    ] = None,
) -> None:
    """Run the learner alone (team mode: serve with LABELLOOP_LEARNER=off, run workers beside)."""
    import signal
    import threading

    from labelloop.workflow.learning import FeatureCache, Learner

    settings, db = _open()
    out.print(f"labelloop worker on {db.engine.url!r}")
    cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
    learner = Learner(db, poll_s=settings.learner_poll_s, cache=cache)
    signal.signal(signal.SIGTERM, lambda *_: learner.stop())
    if parent_pid is not None:

        def watch_parent() -> None:  # a server killed hard must not leave its learner behind
            while os.getppid() == parent_pid and not learner.stopped:
                time.sleep(1)
            learner.stop()

        threading.Thread(target=watch_parent, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        learner.run_forever()


gold_app = typer.Typer(no_args_is_help=True, help="Mark items with known answers (gold).")
app.add_typer(gold_app, name="gold")


@app.command()
def quality(
    slug: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    cohort: Annotated[str, typer.Option(help="Item metadata field to group by.")] = "cohort",
    scan: Annotated[
        bool, typer.Option("--scan", help="First flag likely label errors (confident learning).")
    ] = False,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 200,
) -> None:
    """Agreement (κ, α, per label, pair, cohort, week), the annotator table and flags."""
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality

    _, db = _open()

    def go() -> tuple[dict[str, Any] | None, dict[str, Any]]:
        ctx = projects.system_context(db, slug)
        found = wf_quality.scan(db, ctx) if scan else None
        return found, wf_quality.report(db, ctx, cohort_field=cohort, n_boot=max(0, n_boot))

    found, info = _run(go)
    if as_json:
        typer.echo(json.dumps({**info, "scan": found} if found else info, default=str))
        return
    if found is not None:
        out.print(f"scan: {found['checked']} labels checked, {found['flagged']} newly flagged")
    _print_quality(info)


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def _print_quality(info: dict[str, Any]) -> None:
    a = info["agreement"]
    o = a["overall"]

    def stat(s: dict[str, Any], pct: bool = False) -> str:
        text = _fmt(s["value"], pct)
        if s["ci"]:
            text += f"  [{_fmt(s['ci'][0], pct)}, {_fmt(s['ci'][1], pct)}]"
        elif s["reason"]:
            text += f"  ({s['reason']})"
        return text

    head = Table(title=f"{info['project']['name']}: agreement", show_header=False)
    head.add_row("items compared", f"{o['n_items_compared']:,} ({a['n_raters']} annotators)")
    head.add_row("percent agreement", stat(o["percent"], pct=True))
    head.add_row("Fleiss' kappa", stat(o["fleiss"]))
    head.add_row("Krippendorff's alpha", stat(o["alpha"]))
    review = info["review"]
    head.add_row("review", f"{review['in_review']} waiting, {review['escalated']} escalated")
    head.add_row("flags", f"{info['flags']['open']} open of {info['flags']['total']}")
    out.print(head)
    raters = a["pairwise"]["raters"]
    if len(raters) >= 2:
        pairs = Table(title="Cohen's kappa per pair")
        pairs.add_column("")
        for r in raters:
            pairs.add_column(escape(r))
        for i, r in enumerate(raters):
            cells = [
                "" if i == j else _fmt(a["pairwise"]["kappa"][i][j]) for j in range(len(raters))
            ]
            pairs.add_row(escape(r), *cells)
        out.print(pairs)
    people = Table(title="Annotators")
    for col in ("annotator", "labels", "s/label", "agree", "gold", "reviewed", "rejected", "flags"):
        people.add_column(col)
    for u in info["annotators"]:
        people.add_row(
            escape(u["username"]),
            f"{u['labels']:,}",
            "—" if u["active_s_per_label"] is None else f"{u['active_s_per_label']:.1f}",
            _fmt(u["agreement_with_resolved"], pct=True),
            _fmt(u["gold_accuracy"], pct=True),
            str(u["reviewed"]),
            _fmt(u["rejection_rate"], pct=True),
            ", ".join(f"{k} {n}" for k, n in u["flags"].items()) or "—",
        )
    out.print(people)


@gold_app.command("set")
def gold_set(slug: str, item: str, label: str) -> None:
    """Mark ITEM (its external id, or #number) of SLUG as gold with the known LABEL."""
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality

    _, db = _open()

    def go() -> dict[str, Any]:
        ctx = projects.system_context(db, slug)
        target = ctx.schema.target
        value = {target.name: label.split("|") if target.type == "multi_choice" else label}
        number = int(item[1:]) if item[:1] == "#" and item[1:].isdigit() else None
        external = None if number is not None else item
        return wf_quality.set_gold(db, ctx, value, item_id=number, external_id=external)

    done = _run(go)
    name = str(done["external_id"] or done["item_id"])
    out.print(f"item {escape(name)} is gold: {escape(label)}")


@gold_app.command("list")
def gold_list(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the gold items of SLUG with their answers."""
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality

    _, db = _open()
    rows = _run(lambda: wf_quality.gold_items(db, projects.system_context(db, slug)))
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        out.print(
            f"{r['external_id'] or '#' + str(r['item_id'])}\t{json.dumps(r['value'])}"
            f"\tanswered {r['answered']}",
            highlight=False,
        )


@gold_app.command("remove")
def gold_remove(slug: str, item: str) -> None:
    """Stop using ITEM (external id or #number) of SLUG as a gold check."""
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality

    _, db = _open()

    def go() -> None:
        ctx = projects.system_context(db, slug)
        if item[:1] == "#" and item[1:].isdigit():
            wf_quality.remove_gold(db, ctx, item_id=int(item[1:]))
        else:
            wf_quality.remove_gold(db, ctx, external_id=item)

    _run(go)
    out.print(f"item {escape(item)} is no longer gold")


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Don't open a browser.")] = False,
    eval_size: Annotated[
        int | None,
        typer.Option(
            help="Items held out to measure the model (tweets 1000, digits 300, wine 50, wnut 500)."
        ),
    ] = None,
    dataset: Annotated[
        str,
        typer.Option(
            help="tweets (text sentiment), digits (8x8 images of 0-9), wine (table rows) or "
            "wnut (entity spans in tweets)."
        ),
    ] = "tweets",
) -> None:
    """Create a demo project from real data (tweet sentiment or digit images) and serve it."""
    from labelloop.demo import setup_demo, setup_digits_demo, setup_wine_demo, setup_wnut_demo

    settings, db = _open(get_settings(port=port))
    if dataset not in ("tweets", "digits", "wine", "wnut"):
        _run(lambda: _fail(f"unknown demo dataset '{dataset}'; known: tweets, digits, wine, wnut"))
    with _progress() as progress:
        task = progress.add_task("building the demo project", total=None)

        def build() -> Any:
            report = lambda n: progress.update(task, completed=n)  # noqa: E731
            sized = {} if eval_size is None else {"eval_size": eval_size}  # else each one's own
            if dataset == "wnut":
                return setup_wnut_demo(db, progress=report, **sized)
            if dataset == "wine":
                return setup_wine_demo(db, progress=report, **sized)
            if dataset == "digits":
                media_root = settings.media_root_paths[0]
                return setup_digits_demo(db, media_root=media_root, progress=report, **sized)
            return setup_demo(db, progress=report, **sized)

        info = _run(build)
    if info.password:
        what = {"digits": "images", "wine": "wines"}.get(dataset, "tweets")
        out.print(
            f"demo project '{info.slug}': {info.n_pool:,} {what} to label, {info.n_eval:,} held out"
        )
        out.print(
            f"sign in as [bold]{info.username}[/bold] with password "
            f"[bold]{info.password}[/bold] (shown once)"
        )
    else:
        out.print(f"demo project '{info.slug}' already exists; sign in as {info.username}")
    url = f"http://{settings.host}:{settings.port}/p/{info.slug}/label"

    def ready() -> None:
        out.print(f"label at {url}")
        if not no_browser:
            webbrowser.open(url)

    _serve(settings, on_ready=ready)


def _fail(message: str) -> None:
    raise LabelloopError(message)


def main() -> None:
    app()
