"""The `labelloop` command: set up, import, serve, export and inspect projects."""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
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
    split: Annotated[str, typer.Option(help="pool (to label) or eval (held out).")] = "pool",
    format: Annotated[str | None, typer.Option(help="jsonl or csv (default: by suffix).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a JSONL or CSV file into a project: every record or none."""
    from labelloop.ingest import importer_for_path
    from labelloop.workflow import imports, projects

    _, db = _open()

    def go() -> imports.ImportReport:
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
                split=split,
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
        out.print(
            f"duplicate texts at lines {shown}" + (" ..." if report.n_duplicates > 10 else "")
        )


@app.command()
def export(
    slug: str,
    format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
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
            with tmp.open("wb") as sink:
                n = wf_export.export(db, ctx, sink, fmt=format)
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

    _, db = _open()
    info = _run(lambda: wf_status.status(db, projects.system_context(db, slug)))
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
    model = info["model"]
    if model:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in model["metrics"].items() if k != "n_eval")
        table.add_row("model", f"v{model['version']} {model['model']} on {model['n_train']} labels")
        table.add_row("eval", metrics or "no labeled eval items")
        for d in model["stopping"]:
            table.add_row("stop?" if not d["stop"] else "STOP recommended", d["reason"])
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
def worker() -> None:
    """Run the learner alone (team mode: serve with LABELLOOP_LEARNER=off, run workers beside)."""
    from labelloop.workflow.learning import Learner

    settings, db = _open()
    out.print(f"labelloop worker on {db.engine.url!r}")
    learner = Learner(db, poll_s=settings.learner_poll_s)
    with contextlib.suppress(KeyboardInterrupt):
        learner.run_forever()


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port (default 8765).")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Don't open a browser.")] = False,
    eval_size: Annotated[int, typer.Option(help="Items held out to measure the model.")] = 1000,
) -> None:
    """Create the tweet-sentiment demo project (real data) and serve it."""
    from labelloop.demo import setup_demo

    settings, db = _open(get_settings(port=port))
    with _progress() as progress:
        task = progress.add_task("building the demo project", total=None)
        info = _run(
            lambda: setup_demo(
                db, eval_size=eval_size, progress=lambda n: progress.update(task, completed=n)
            )
        )
    if info.password:
        out.print(
            f"demo project '{info.slug}': {info.n_pool:,} tweets to label, {info.n_eval:,} held out"
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


def main() -> None:
    app()
