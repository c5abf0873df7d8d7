"""`labelloop serve`, `worker` and `demo`: the processes that run the web app and the learner."""

from __future__ import annotations

import contextlib
import errno
import os
import time
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from labelloop.cli.common import _elapsed, _fail, _open, _progress, _run, on_ctrl_c, out
from labelloop.workflow.shutdown import stopped_as_interrupt

if TYPE_CHECKING:
    from labelloop.config import Settings
    from labelloop.store.db import Database


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 8765).")] = None,
) -> None:
    """Serve the web app and the API, with the learner in the background."""
    from labelloop.config import get_settings

    settings, _ = _open(_run(lambda: get_settings(host=host, port=port)))
    _serve(settings)


def _serve(settings: Settings, *, on_ready: Callable[[], None] | None = None) -> None:
    import uvicorn

    from labelloop.server.app import create_app

    _run(lambda: _free(settings.host, settings.port))
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


def _free(host: str, port: int) -> None:
    """Refuse, before saying it serves, an address the server could not listen on (a port in
    use, a host this machine is not), which uvicorn answers with a log line and exit code 3."""
    import socket

    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        _fail(f"cannot serve on {where}: {getattr(exc, 'strerror', None) or exc}")
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            sock.bind(address)
        except OSError as exc:
            taken = " (another labelloop or program serves there; choose another --port)"
            _fail(
                f"cannot serve on {where}: {exc.strerror or exc}"
                f"{taken if exc.errno == errno.EADDRINUSE else ''}"
            )


def worker(
    parent_pid: Annotated[
        int | None, typer.Option(hidden=True, help="Stop when this process is gone.")
    ] = None,
    low_priority: Annotated[
        bool,
        typer.Option(
            "--low-priority",
            hidden=True,
            help="Later rounds, embeddings and checks at the lowest CPU priority (the server's "
            "learner); new projects' first rounds at normal.",
        ),
    ] = False,
) -> None:
    """Run the learner alone (team mode: serve with LABELLOOP_LEARNER=off, run workers beside)."""
    import signal
    import sys
    import threading

    from labelloop.workflow.shutdown import exit_on_signals

    learner: Learner | None = None

    def leaving() -> None:
        """On a stop signal, the process ends at once, mid-round too: the round's open
        transaction rolls back as the connection closes and nothing of it was written yet (a
        round writing its results finishes them first, see ``shutdown.whole``). A simulation
        in progress is marked stopped first, so its page says so."""
        if learner is not None:
            learner.simulations.abandon()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # e.g. interrupted in the middle of a write
                stream.flush()

    with exit_on_signals(leaving):  # first: the threads started in it inherit its blocked signals
        from labelloop.workflow.learning import FeatureCache, Learner

        settings, db = _open()
        out.print(f"labelloop worker on {db.engine.url!r}")
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        learner = Learner(
            db, poll_s=settings.learner_poll_s, cache=cache, low_priority=low_priority
        )

        if parent_pid is not None:

            def watch_parent() -> None:  # a server killed hard must not leave its learner behind
                while os.getppid() == parent_pid:
                    time.sleep(1)
                os.kill(os.getpid(), signal.SIGTERM)  # stops as the server's own stop does

            threading.Thread(target=watch_parent, daemon=True).start()
        learner.run_forever()


def demo(
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 8765).")] = None,
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
    featurizer: Annotated[
        str | None,
        typer.Option(
            help="Featurizer of a new demo project, e.g. minilm or tfidf+minilm for the tweets "
            "(needs the [embeddings] extra); default: the dataset's own."
        ),
    ] = None,
) -> None:
    """Create a demo project from real data and serve it.

    The data: tweets (sentiment), digit images, wine rows or entities in tweets (--dataset).
    A new project's first items to label are chosen before it is served.
    """
    from labelloop.config import get_settings
    from labelloop.demo import setup_demo, setup_digits_demo, setup_wine_demo, setup_wnut_demo

    settings, db = _open(_run(lambda: get_settings(port=port)))
    if dataset not in ("tweets", "digits", "wine", "wnut"):
        _run(lambda: _fail(f"unknown demo dataset '{dataset}'; known: tweets, digits, wine, wnut"))
    with _progress() as progress:
        task = progress.add_task("building the demo project", total=None)

        def build() -> Any:
            report = lambda n: progress.update(task, completed=n)  # noqa: E731
            options: dict[str, Any] = {} if eval_size is None else {"eval_size": eval_size}
            if featurizer is not None:
                options["settings"] = {"featurizer": featurizer}
            if dataset == "wnut":
                return setup_wnut_demo(db, progress=report, **options)
            if dataset == "wine":
                return setup_wine_demo(db, progress=report, **options)
            if dataset == "digits":
                media_root = settings.media_root_paths[0]
                return setup_digits_demo(db, media_root=media_root, progress=report, **options)
            return setup_demo(db, progress=report, **options)

        info = _run(build)
    if info.created:
        what = {"digits": "images", "wine": "wines"}.get(dataset, "tweets")
        out.print(
            f"demo project '{info.slug}': {info.n_pool:,} {what} to label, {info.n_eval:,} held out"
        )
        if info.password:
            out.print(
                f"sign in as [bold]{info.username}[/bold] with password "
                f"[bold]{info.password}[/bold] (shown once)"
            )
        else:  # the account an earlier demo on this data dir made
            out.print(f"sign in as {info.username} with the password shown when it was made")
        _first_queue(settings, db, slug=info.slug, dataset=dataset, what=what)
    else:
        out.print(f"demo project '{info.slug}' already exists; sign in as {info.username}")
        if featurizer is not None and featurizer != info.featurizer:
            out.print(
                f"it keeps the featurizer it was made with, {info.featurizer}; for {featurizer}, "
                "start from a new LABELLOOP_HOME"
            )
    url = f"http://{settings.host}:{settings.port}/p/{info.slug}/label"

    def ready() -> None:
        out.print(f"label at {url}")
        if not no_browser:
            webbrowser.open(url)

    _serve(settings, on_ready=ready)


def _first_queue(settings: Settings, db: Database, *, slug: str, dataset: str, what: str) -> None:
    """Run a new demo project's first round here, before serving: the labeling page, opened at
    once, finds a queue of picks with their reasons instead of waiting for the learner process
    to start and run it. That learner then finds no round due."""
    stopped = (
        f"the project is made; `labelloop demo --dataset {dataset}` serves it, and its learner "
        f"chooses the first {what}"
    )
    # stopped_as_interrupt: a Ctrl-C while the round writes its queue waits for the writes
    with on_ctrl_c(stopped), stopped_as_interrupt(), _elapsed() as progress:
        progress.add_task(f"choosing the first {what} to label", total=None)
        # Imported under the spinner: scikit-learn takes a second to load.
        from labelloop.workflow.learning import FeatureCache, Learner
        from labelloop.workflow.projects import system_context

        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        ran = Learner(db, cache=cache).first_round(system_context(db, slug).id)
    if not ran:  # the learner said why in the log, and tries again as the server runs
        out.print(f"the first {what} are not chosen yet; the learner goes on as the server runs")
