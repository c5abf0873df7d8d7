"""`labelloop simulate`: replay active learning on a labeled file or a project's labels, before
paying annotators."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from labelloop.cli.common import _open, _run, err, out, shown_progress
from labelloop.cli.outputs import OutputFolder
from labelloop.errors import LabelloopError
from labelloop.workflow.shutdown import stopped_as_interrupt

FILE_ONLY = {
    "label_field": "--label-field",
    "text_field": "--text-field",
    "featurizer": "--featurizer",
    "jobs": "--jobs",
    "format": "--format",
    "hf_split": "--hf-split",
}
"""Options that say how to read FILE: a project has its own labels, texts and featurizer."""
FOLLOW_S = 0.5
"""How often ``--project`` reads the progress of a simulation a running learner took first."""


def simulate(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE",
            help="Labeled JSONL or CSV file, or a saved Hugging Face dataset (a folder); "
            "or give --project.",
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            metavar="SLUG",
            help="Replay the project's resolved labels on its featurizer instead of a file, "
            "here and now; the simulation shows on the project's page and API too.",
        ),
    ] = None,
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
    batch: Annotated[
        int | None,
        typer.Option(min=1, help="Labels per round (default 10; --project: the project's batch)."),
    ] = None,
    featurizer: Annotated[
        str,
        typer.Option(
            help="Registered featurizer: tfidf, minilm, tfidf+minilm, ...; table reads FILE "
            "as table rows."
        ),
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
    format: Annotated[
        str | None,
        typer.Option(
            help="jsonl, csv or hf_datasets (default: by suffix; a folder saved by datasets' "
            "save_to_disk is hf_datasets)."
        ),
    ] = None,
    hf_split: Annotated[
        str | None,
        typer.Option(help="hf_datasets: the split of a saved DatasetDict to replay (train, ...)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Replay active learning on a labeled file or a project's labels, to choose a strategy."""
    from concurrent.futures.process import BrokenProcessPool

    from labelloop.insight.simtable import best_strategy
    from labelloop.learn import simoptions, simreport
    from labelloop.learn import simulate as sim

    if project is not None:
        given = [
            flag
            for name, flag in FILE_ONLY.items()
            if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"
        ]
        _run(lambda: _one_source(file, project, given))
        _simulate_project(
            project,
            strategies=strategies,
            seeds=seeds,
            budget=budget,
            batch=batch,
            max_seconds=max_seconds,
            out_dir=out_dir or Path(f"{project}-simulation"),
            as_json=as_json,
        )
        return
    if file is None:
        _run(lambda: _one_source(file, project, []))
        return
    batch = batch or 10
    out_dir = out_dir or Path(f"{file.stem}-simulation")

    def replay(records: dict[str, Any], names: list[str]) -> Any:
        with _bar() as progress:
            n = len(records["payloads"])
            task = progress.add_task(f"featurizing {n:,} {records['kind']}", total=n)
            X = _sim_features(
                featurizer,
                records["payloads"],
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
            # The replay reports its rounds' total before the first round (simulate does).
            progress.update(
                task,
                description=f"simulating {len(names)} strategies × {seeds} seeds",
                completed=0,
            )
            try:
                result = sim.simulate(
                    X,
                    records["y"],
                    classes=records["classes"],
                    strategies={name: _sim_strategy(name) for name in names},
                    seeds=list(range(seeds)),
                    budget=budget,
                    batch_size=batch,
                    stopping=simoptions.stopping_rules(),
                    max_seconds=max_seconds,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                    jobs=jobs or simoptions.default_jobs(seeds, X),
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
        return result

    def go() -> tuple[Any, dict[str, Any]]:
        # What the options alone decide is refused before the file is read or --out is made;
        # --out is made before the featurizing, and filled only once everything is written.
        simoptions.check_budget(budget)
        names = simoptions.strategy_names(strategies)
        data_type = _sim_featurizer(featurizer)
        with OutputFolder(out_dir) as folder:
            records = _sim_read(
                file,
                fmt=format,
                text_field=text_field,
                label_field=label_field,
                hf_split=hf_split,
                data_type=data_type,
            )
            result = replay(records, names)
            info = {k: v for k, v in records.items() if k not in ("payloads", "kind", "y")}
            info["classes"] = list(records["classes"])
            data = {
                "file": str(file),
                "featurizer": featurizer,
                **info,
                **simreport.to_json(result),
            }
            data["best"] = best_strategy(data)
            title = f"Active learning on {file.name}"
            try:
                written = _sim_write(folder.staging, data, title=title)
            except OSError as exc:  # disk full, say: nothing reaches --out
                raise LabelloopError(
                    f"cannot write to --out {out_dir}: {exc.strerror or exc}"
                ) from None
            folder.publish(written, owned=SIM_OUTPUTS)
        data["outputs"] = written
        return result, data

    result, data = _run(go)
    if result.budget < budget:
        err.print(
            f"note: --budget {budget:,} is more than the pool of {data['n_pool']:,} records; "
            f"capped at {result.budget:,}",
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        typer.echo(json.dumps(data))
        return
    out.print(_sim_table(result, data))
    note = (
        f"{data['n_records']:,} labeled records ({data['n_duplicates']:,} duplicate "
        f"{'rows' if featurizer_reads_rows(featurizer) else 'texts'}, "
        f"{data['n_unlabeled']:,} without a label skipped), {len(result.classes)} classes; "
        f"full-data accuracy {data['full_accuracy']:.3f} on {data['n_test']:,} test records"
    )
    out.print(note, highlight=False)
    if data["best"]:
        out.print(data["best"], highlight=False)
    if result.timed_out:
        out.print(
            f"[yellow]stopped at --max-seconds {max_seconds:g}:[/yellow] {len(result.runs)} of "
            f"{seeds} seeds finished; the figures are over those"
        )
    out.print(f"wrote {', '.join(data['outputs'])} to {out_dir}", highlight=False)


PROJECT_OPTIONS = {
    "seeds": "--seeds",
    "budget": "--budget",
    "batch": "--batch",
    "max_seconds": "--max-seconds",
    "strategies": "--strategies",
}
"""What `simulate --project` calls the options a project's simulation checks."""
SIM_OUTPUTS = ("results.json", "curves.html", "curves.png")
"""The files ``--out`` receives (curves.png only with matplotlib; not with ``--project``)."""


def _bar() -> Progress:
    from rich.progress import MofNCompleteColumn, SpinnerColumn

    return shown_progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )


def _one_source(file: Path | None, project: str | None, given: list[str]) -> None:
    """Refuse anything but one of FILE and --project, and FILE's options with --project."""
    if file is None and project is None:
        raise LabelloopError("give a labeled FILE or --project SLUG")
    if file is not None and project is not None:
        raise LabelloopError(f"give FILE ({file}) or --project {project}, not both")
    if given:
        raise LabelloopError(
            f"{', '.join(given)} read{'s' if len(given) == 1 else ''} a FILE; --project replays "
            "the project's labels on the project's featurizer"
        )


def _simulate_project(
    slug: str,
    *,
    strategies: str | None,
    seeds: int,
    budget: int,
    batch: int | None,
    max_seconds: float,
    out_dir: Path,
    as_json: bool,
) -> None:
    """Queue a simulation of the project's labels as the local operator and replay it here at
    once: the same row, checks and figures as a manager's request from the page."""
    from labelloop.workflow import projects, simulations
    from labelloop.workflow.features import FeatureCache

    settings, db = _open()

    def replay(project: Any, sim: dict[str, Any]) -> None:
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        with _bar() as bar:
            task = bar.add_task(sim["phase"], total=None)

            def progress(phase: str, done: int, total: int) -> None:
                bar.update(task, description=phase, completed=done, total=total or None)

            if simulations.claim(db, sim["id"]):
                simulations.run(
                    db,
                    cache,
                    sim["id"],
                    project.id,
                    sim["options"],
                    progress=progress,
                    in_processes=False,  # the command owns its process: small sets replay here
                )
                return
            # A running learner (labelloop serve or worker) took it first: follow its progress.
            while (seen := simulations.get(db, project, sim["id"]))["state"] in simulations.ACTIVE:
                progress(seen["phase"], seen["done"], seen["total"])
                time.sleep(FOLLOW_S)

    def go() -> tuple[dict[str, Any], list[str]]:
        project = projects.system_context(db, slug)
        with OutputFolder(out_dir) as folder:
            sim = simulations.request(
                db,
                project,
                strategies=strategies,
                seeds=seeds,
                budget=budget,
                batch=batch,
                max_seconds=max_seconds,
                names=PROJECT_OPTIONS,
            )
            try:
                with stopped_as_interrupt():
                    replay(project, sim)
            except KeyboardInterrupt:  # Ctrl-C: the row says cancelled rather than go stale
                with contextlib.suppress(LabelloopError):
                    simulations.cancel(db, project, sim["id"])
                err.print(f"cancelled simulation #{sim['id']}", highlight=False)
                raise
            found, stored, chart = simulations.finished(db, project, sim["id"])
            if found["state"] == "failed":
                raise LabelloopError(f"{found['error']} (simulation #{sim['id']})")
            if stored is None or chart is None:
                raise LabelloopError(f"simulation #{sim['id']} was {found['state']}")
            result = dict(stored)
            data = {"project": slug, "simulation": sim["id"], **result}
            try:
                (folder.staging / "results.json").write_text(
                    json.dumps(data, indent=1) + "\n", encoding="utf-8"
                )
                (folder.staging / "curves.html").write_text(chart, encoding="utf-8")
            except OSError as exc:
                raise LabelloopError(
                    f"cannot write to --out {out_dir}: {exc.strerror or exc}"
                ) from None
            written = ["results.json", "curves.html"]
            folder.publish(written, owned=SIM_OUTPUTS)
        return found, written

    found, written = _run(go)  # a budget capped at the pool is said in the summary's note
    if as_json:
        typer.echo(json.dumps({**found, "outputs": written}))
        return
    summary = found["summary"]
    out.print(_table(summary["head"], summary["rows"], seeds=summary["seeds"]))
    out.print(summary["note"], highlight=False)
    if summary["best"]:
        out.print(summary["best"], highlight=False)
    out.print(
        f"simulation #{found['id']} of project '{slug}': also on its page and at "
        f"GET /api/projects/{slug}/simulations/{found['id']}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"wrote {', '.join(written)} to {out_dir}", highlight=False)


def _sim_featurizer(name: str) -> str:
    """The data type FILE is read as for the featurizer ``name`` ("text", or "table": rows);
    refuse one that is not registered, reads neither, or cannot run here."""
    from labelloop.learn.featurize import missing_requirement, parts_of
    from labelloop.schema.project import require_reads

    parts_of(name)  # an unknown name fails here, listing the known ones
    data_type = "table" if featurizer_reads_rows(name) else "text"
    if data_type == "text":
        try:
            require_reads(name, "text", where="--featurizer ", whose="simulate's data")
        except LabelloopError as exc:
            raise LabelloopError(f"{exc.message} or table rows (table)") from None
    problem = missing_requirement(name)
    if problem is not None:
        raise LabelloopError(problem)
    return data_type


def featurizer_reads_rows(name: str) -> bool:
    """Whether the registered featurizer ``name`` reads table rows (and not text)."""
    from labelloop.learn.featurize import reads

    return "table" in (reads(name) or ())


def _sim_read(
    file: Path,
    *,
    fmt: str | None,
    text_field: str,
    label_field: str,
    hf_split: str | None = None,
    data_type: str = "text",
) -> dict[str, Any]:
    """Labeled records of a JSONL/CSV file or a saved Hugging Face dataset, duplicate texts
    dropped, labels as class indices; with ``data_type`` "table", rows as ``labelloop import``
    reads them into a table project (every field but the label), duplicate rows dropped."""
    from labelloop.ingest import (
        HfDatasetsImporter,
        content_hash,
        importer_for_folder,
        importer_for_path,
        make_importer,
    )
    from labelloop.ingest.payloads import stored_payload
    from labelloop.ingest.tables import make_table_importer
    from labelloop.learn.simoptions import oracle

    if file.is_dir() and fmt in (None, HfDatasetsImporter.format):
        fmt = importer_for_folder(file)
        if fmt is None:
            raise LabelloopError(f"{file} is a folder but not a dataset saved with save_to_disk")
    elif not file.is_file():
        raise LabelloopError(f"no file at {file}")
    if hf_split is not None and fmt != HfDatasetsImporter.format:
        raise LabelloopError("--hf-split is for a saved Hugging Face dataset (hf_datasets)")
    fmt = fmt or importer_for_path(file.name)
    options: dict[str, Any] = {"text_field": text_field, "label_field": label_field}
    if fmt == HfDatasetsImporter.format:
        options["split"] = hf_split
    if data_type == "table":
        importer = make_table_importer(fmt, label_field=label_field)
    else:
        importer = make_importer(fmt, **options)
    payloads: list[dict[str, Any]] = []
    labels: list[str] = []
    seen: set[str] = set()
    duplicates = unlabeled = 0
    with contextlib.ExitStack() as stack:
        if isinstance(importer, HfDatasetsImporter) and file.is_dir():
            items = importer.read_folder(file)
        else:
            items = importer.read(stack.enter_context(file.open("rb")))
        hinted = _hinted(
            items,
            text_field if data_type == "text" else None,
            label_field=label_field,
            name=file.name,
        )
        for item in hinted:
            if item.label is None:
                unlabeled += 1
                continue
            label = _sim_label(item.label)
            if isinstance(label, list | dict):
                hint = (
                    " (a labelloop export has it in field 'label')"
                    if isinstance(label, dict)
                    else ""
                )
                raise LabelloopError(
                    f"line {item.line}, field '{label_field}': simulate needs one label per "
                    f"record, got a list or object{hint}"
                )
            if data_type == "table":
                payload, key = stored_payload(data_type, item.payload, line=item.line)
            else:
                payload = {"text": str(item.payload["text"])}
                key = content_hash(payload["text"])
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            payloads.append(payload)
            labels.append(str(label))
    if not labels:
        raise LabelloopError(
            f"no record of {file.name} has a label in field '{label_field}' (see --label-field)"
        )
    y, classes = oracle(labels, source=f"field '{label_field}'")
    return {
        "payloads": payloads,
        "kind": "rows" if data_type == "table" else "texts",
        "y": y,
        "classes": classes,
        "n_records": len(labels),
        "n_duplicates": duplicates,
        "n_unlabeled": unlabeled,
    }


def _hinted(
    items: Iterator[Any], text_field: str | None, *, label_field: str, name: str
) -> Iterator[Any]:
    """``items``, a file without ``text_field`` told how its rows replay (a table project's),
    and one without ``label_field`` that simulate needs labels from it."""
    from labelloop.errors import ImportFormatError

    try:
        yield from items
    except ImportFormatError as exc:
        if exc.field == label_field and exc.reason.startswith("the label field is in no record"):
            has = exc.reason.rsplit("; ", 1)[-1]  # "the first record has: ..."
            raise LabelloopError(
                f"no record of {name} has a label in field '{label_field}' (see --label-field); "
                f"{has}"
            ) from None
        no_column = "no such column" in exc.reason or exc.reason.startswith("missing")
        if text_field is None or exc.field != text_field or exc.line != 1 or not no_column:
            raise
        raise LabelloopError(
            f"{exc.message}; table rows (no text column) replay with --featurizer table"
        ) from None


def _sim_label(value: Any) -> Any:
    """A record's label as JSON Lines gives it: a CSV cell holding a JSON object is read as
    that object, as ``labelloop import`` reads it."""
    from labelloop.ingest.records import object_in_cell

    try:
        return object_in_cell(value)
    except json.JSONDecodeError:  # a label that merely starts with "{"
        return value


def _sim_strategy(name: str) -> Any:
    from labelloop.learn import make_strategy

    return make_strategy(name)


def _sim_features(
    name: str,
    payloads: list[dict[str, Any]],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """The records' feature rows. The command owns the machine, so an encoder (or a stacked
    featurizer's encoder part) gets every core, where a project's background learner gives it
    one, and reports its batches to ``progress(done, total)``."""
    from labelloop.learn import StackedFeaturizer, make_featurizer
    from labelloop.learn.featurize import fit_rows, parts_of
    from labelloop.learn.simoptions import cpus

    wanted = {"threads": cpus(), "progress": progress}

    def tuned(featurizer: Any) -> dict[str, Any]:
        known = featurizer.get_params() if hasattr(featurizer, "get_params") else {}
        return {k: v for k, v in wanted.items() if k in known and v is not None}

    featurizer: Any = make_featurizer(name)
    if isinstance(featurizer, StackedFeaturizer):
        featurizer.set_params(part_params={p: tuned(make_featurizer(p)) for p in parts_of(name)})
    elif params := tuned(featurizer):
        featurizer.set_params(**params)
    try:
        return fit_rows(featurizer, payloads)
    except (ImportError, OSError) as exc:
        raise LabelloopError(f"featurizer '{name}' cannot run here: {exc}") from None


def _sim_write(out_dir: Path, data: dict[str, Any], *, title: str) -> list[str]:
    """results.json, curves.html and (with matplotlib) curves.png; the names written."""
    from labelloop.insight import curves, simtable

    (out_dir / "results.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    chart = simtable.chart(data, title=title)
    curves.write_html(out_dir / "curves.html", chart)
    written = ["results.json", "curves.html"]
    try:
        curves.write_png(out_dir / "curves.png", chart)
        written.append("curves.png")
    except ImportError:
        err.print(
            "curves.png skipped: matplotlib is missing (pip install 'labelloop[sim]')",
            markup=False,
        )
    return written


def _sim_table(result: Any, data: dict[str, Any]) -> Any:
    from labelloop.insight.simtable import summary_rows

    head, *rows = summary_rows(data)
    return _table(head, rows, seeds=len(result.runs))


def _table(head: list[str], rows: list[list[str]], *, seeds: int) -> Any:
    """The summary table of :func:`~labelloop.insight.simtable.summary_rows` for the terminal.

    Narrower than :data:`WIDE` columns, the stopping column would break its rule names
    mid-word: it becomes a table of its own under the figures.
    """
    from rich.console import Group

    from labelloop.insight.simtable import TEXT_COLUMNS, not_reached_note

    stopping = head.index("stopping")
    apart = out.width < WIDE
    table = Table(
        title="labels to reach a share of full-data accuracy "
        f"(mean of {seeds} seed{'' if seeds == 1 else 's'})",
        caption=not_reached_note(rows) or None,
    )
    shown = [i for i in range(len(head)) if not (apart and i == stopping)]
    names = max(len(head[0]), *(len(row[0]) for row in rows))  # strategy names stay whole
    for i in shown:
        table.add_column(
            head[i].removeprefix("labels ") if apart else head[i],  # the title says "labels"
            justify="left" if i in TEXT_COLUMNS else "right",
            overflow="fold",
            ratio=None if apart else 3 if i == stopping else 1,
            min_width=names if i == 0 else None,
        )
    for row in rows:
        table.add_row(*(escape(row[i]) for i in shown))
    if not apart:
        return table
    stops = Table(title="where each stopping rule fired (labels, share of full-data accuracy)")
    stops.add_column("strategy", overflow="fold")
    stops.add_column("stopping", overflow="fold")
    for row in rows:
        stops.add_row(escape(row[0]), escape(row[stopping]))
    return Group(table, stops)


WIDE = 120
"""Terminal columns from which the stopping rules fit in the summary table's own column."""
