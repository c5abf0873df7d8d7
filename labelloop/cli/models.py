"""`labelloop model`: a project's classifier as a file, and labels for new items from it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from labelloop.cli.common import _check_output, _counting, _open, _run, _whole_file, err, out


def model_export(
    slug: str,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write (default SLUG-model.joblib)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what the file holds as JSON.")
    ] = False,
) -> None:
    """Train the project's model on every resolved label and save it, with its featurizer.

    The file is a joblib pickle: `labelloop model predict` labels new items with it, and Python
    reads it with `labelloop.workflow.modelfiles.load(path)` (`.predict(texts)`,
    `.predict_proba(texts)`, `.info`). Loading a pickle runs code: open only files you trust.
    """
    from labelloop.errors import LabelloopError
    from labelloop.workflow import modelfiles, projects
    from labelloop.workflow.features import FeatureCache

    settings, db = _open()
    target = output or Path(f"{slug}-model{modelfiles.SUFFIX}")
    to_stdout = str(target) == "-"
    # With the file on standard output, what it holds goes to standard error.
    say = err if to_stdout else out

    def go() -> dict[str, Any]:
        if to_stdout and as_json:
            raise LabelloopError("-o - writes the model to standard output; --json would too")
        _check_output(target)  # before training, not after
        ctx = projects.system_context(db, slug)
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        with _counting() as progress:
            progress.add_task(f"training the model of {slug}", total=None)
            model = modelfiles.build(db, ctx, cache=cache)
        with _whole_file(target) as sink:
            modelfiles.write(model, sink)
        return dict(model.info)

    info = _run(go)
    if as_json:
        typer.echo(json.dumps({**info, "file": str(target)}))
        return
    metrics = info["metrics"]
    measured = (
        f"; eval accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f} "
        f"on {int(metrics['n_eval']):,} held-out items"
        if metrics
        else "; no eval split, so not measured"
    )
    say.print(
        escape(
            f"wrote {'the model' if to_stdout else target}: {info['model']} on "
            f"{info['featurizer']}, trained on {info['n_train']:,} labels{measured}"
        ),
        highlight=False,
    )
    if info["featurizer_note"]:
        say.print(f"[yellow]note:[/yellow] {escape(info['featurizer_note'])}", highlight=False)


def model_predict(
    model_file: Annotated[
        Path, typer.Argument(metavar="MODEL", help="A file from `model export`.")
    ],
    file: Annotated[Path, typer.Argument(help="JSONL, CSV or Parquet records to label.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="JSONL file to write.")] = Path(
        "-"
    ),
    text_field: Annotated[
        str, typer.Option(help="Field holding the text (an image project: the image's path).")
    ] = "text",
    id_field: Annotated[str | None, typer.Option(help="Field holding your record id.")] = None,
    format: Annotated[
        str | None, typer.Option(help="jsonl, csv or parquet (default: by suffix).")
    ] = None,
) -> None:
    """Label the records of FILE with a model file from `labelloop model export`.

    One JSON line per record: its line, id, label, the label's probability and every class's.
    """
    from labelloop.errors import LabelloopError
    from labelloop.ingest import importer_for_path
    from labelloop.workflow import modelfiles

    def go() -> Counter[str]:
        if file.is_dir():
            raise LabelloopError(
                f"{file} is a folder; model predict reads a JSONL or CSV file (for images, one "
                "naming each image's path in --text-field)"
            )
        for path in (model_file, file):
            if not path.is_file():
                raise LabelloopError(f"no file at {path}")
        model = modelfiles.load(model_file)
        fmt = format or importer_for_path(file.name)
        counts: Counter[str] = Counter()
        with file.open("rb") as source, _whole_file(output) as sink, _counting() as progress:
            task = progress.add_task(escape(f"labeling {file.name}"), total=None)
            items = modelfiles.read_items(
                model, source, fmt=fmt, text_field=text_field, id_field=id_field
            )
            for row in modelfiles.predict(
                model, items, progress=lambda n: progress.update(task, completed=n)
            ):
                counts[row["label"]] += 1
                sink.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
        return counts

    counts = _run(go)
    total = sum(counts.values())
    spread = ", ".join(f"{label} {n:,}" for label, n in counts.most_common())
    err.print(
        escape(
            f"labeled {total:,} record{'' if total == 1 else 's'}"
            + (f" ({spread})" if spread else "")
            + ("" if str(output) == "-" else f" into {output}")
        ),
        highlight=False,
    )
