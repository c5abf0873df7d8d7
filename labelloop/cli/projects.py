"""`labelloop projects`, `import`, `export` and `status`: a project and the items in it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, BinaryIO, cast

import typer
from rich.markup import escape
from rich.table import Table

from labelloop.cli.common import (
    _counting,
    _open,
    _progress,
    _run,
    _whole_file,
    counted,
    counted_bar,
    err,
    fitted,
    on_ctrl_c,
    out,
    under_review,
    with_model,
)
from labelloop.errors import LabelloopError


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
    notes = _run(lambda: projects.settings_notes(db, projects.system_context(db, slug)))
    for note in notes.values():
        out.print(f"note: {note}.", highlight=False, markup=False)


def projects_list() -> None:
    """List projects."""
    from labelloop.store import projects as store_projects

    _, db = _open()
    with db.read() as conn:
        for pid in store_projects.all_ids(conn):
            row = store_projects.by_id(conn, pid)
            out.print(f"{row['slug']}\t{escape(row['name'])}", highlight=False)  # type: ignore[index]


def projects_member(
    slug: str,
    username: str,
    role: Annotated[
        str, typer.Argument(help="annotator, reviewer or manager; none removes USERNAME.")
    ],
) -> None:
    """Give USERNAME a ROLE (annotator, reviewer, manager) in project SLUG, or none to remove them.

    A removed member's labels stay attributed to them and their leased items go back to the
    queue; the project then answers them as it answers a stranger.
    """
    from labelloop.workflow import projects

    _, db = _open()
    if role == "none":
        done = _run(lambda: projects.remove_member(db, projects.system_context(db, slug), username))
        released = done["leases_released"]
        out.print(
            f"{escape(done['username'])} is no longer a member of {slug} (was {done['was']}); "
            f"{released} leased {'item' if released == 1 else 'items'} back in the queue"
            f"{under_review(done)}",
            highlight=False,
        )
        return
    done = _run(lambda: projects.set_member(db, projects.system_context(db, slug), username, role))
    out.print(f"{escape(done['username'])} is {role} in {slug}", highlight=False)


def projects_set(
    slug: str,
    settings: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE pairs, e.g. strategy=margin batch_size=20 budget=null (values "
            "read as JSON: numbers, true/false, null; anything else is a name; a list, as "
            "escalate_to=dana,omar, is names separated by commas, or a JSON list)."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Change a live project's settings, as KEY=VALUE pairs.

    Settings that can change: strategy, batch_size, retrain_every, queue_size, budget,
    random_share, stop_changed, preselect_suggestion, preselect_confidence,
    auto_label_confidence, auto_label_min_accuracy, review_policy, review_share,
    qualification_items, qualification_accept_rate, escalate_to, gold_rate,
    contradiction_threshold, rework_hours, backlog_alert_min.
    """
    from typing import get_origin

    from labelloop.schema.settings import ProjectSettings
    from labelloop.workflow import projects

    def parse() -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for pair in settings:
            key, sep, raw = pair.partition("=")
            if not sep or not key.strip():
                raise LabelloopError(f"'{pair}' is not KEY=VALUE, e.g. strategy=margin")
            key = key.strip()
            try:  # numbers, true/false and null as JSON; anything else is a name
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
            field = ProjectSettings.model_fields.get(key)
            listed = field is not None and get_origin(field.annotation) is list
            if listed and not isinstance(value, list):  # names have no commas: a,b is two
                value = [name.strip() for name in raw.split(",") if name.strip()]
            changes[key] = value
        return changes

    _, db = _open()
    changes = _run(parse)

    def go() -> tuple[dict[str, Any], dict[str, Any]]:
        ctx = projects.system_context(db, slug)
        return ctx.settings.model_dump(), projects.change_settings(db, ctx, changes)

    before, after = _run(go)
    if as_json:
        typer.echo(json.dumps(after))
        return
    for key in changes:
        old, new = json.dumps(before.get(key)), json.dumps(after.get(key))
        said = f"{old} -> {new}" if old != new else f"{new} (unchanged)"
        out.print(f"{slug}: {key} {said}", highlight=False)
    notes = _run(lambda: projects.settings_notes(db, projects.system_context(db, slug)))
    for key in changes:
        if key in notes:
            out.print(f"note: {notes[key]}.", highlight=False, markup=False)


def projects_add_label(
    slug: str,
    label: str,
    control: Annotated[
        str | None,
        typer.Option(help="The control to add it to (needed when several controls have labels)."),
    ] = None,
    description: Annotated[
        str, typer.Option(help="One line shown beside the label while labeling.")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add LABEL to a live project's control, as a new schema version; answers keep theirs.

    The label goes after the others and takes the next free number key. Labels are never
    renamed or removed: answers hold them.
    """
    from labelloop.workflow import projects

    _, db = _open()
    done = _run(
        lambda: projects.add_label(
            db,
            projects.system_context(db, slug),
            label,
            control=control,
            description=description,
        )
    )
    if as_json:
        typer.echo(json.dumps(done))
        return
    key = f", key {done['hotkey']}" if done["hotkey"] else ", no free number key"
    out.print(
        f"{slug}: {done['control']} labels are {', '.join(done['labels'])} "
        f"(schema v{done['schema_version'] - 1} -> v{done['schema_version']}{key})",
        markup=False,
        highlight=False,
    )


def import_(
    slug: str,
    file: Path,
    text_field: Annotated[
        str | None,
        typer.Option(
            help="Field holding the text or media path (default: the schema's data field; a "
            "JSONL or CSV record without it is read from 'text', as an export writes it)."
        ),
    ] = None,
    id_field: Annotated[str | None, typer.Option(help="Field holding your item id.")] = None,
    label_field: Annotated[str | None, typer.Option(help="Field with an existing label.")] = None,
    predictions_field: Annotated[
        str | None,
        typer.Option(help="Field with pre-annotations: control name -> predicted value."),
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            help="pool (to label) or eval (held out). Into the pool, a YOLO dataset's labeled "
            "val and test images come in as eval items."
        ),
    ] = "pool",
    format: Annotated[
        str | None,
        typer.Option(
            help="jsonl, csv, coco, conll, label_studio, doccano, prodigy, hf_datasets, yolo "
            "or folder (default: by suffix, .zip is yolo; a folder saved by datasets' "
            "save_to_disk is hf_datasets, one with data.yaml or classes.txt and labels/ is yolo "
            "for a project with a boxes control and without --labels-from-folders, any other "
            "is folder: its images)."
        ),
    ] = None,
    hf_split: Annotated[
        str | None,
        typer.Option(help="hf_datasets: the split of a saved DatasetDict to import (train, ...)."),
    ] = None,
    labels_from_folders: Annotated[
        bool, typer.Option(help="Image folder: label each image by its subfolder's name.")
    ] = False,
    update_labels: Annotated[
        bool,
        typer.Option(
            help="Items already here take the file's labels (a newer export of the same data), "
            "unless people labeled them here."
        ),
    ] = False,
    annotations: Annotated[
        bool,
        typer.Option(
            help="Label Studio: every annotator's answer comes in as theirs (the project's "
            "member named by their email, or its name before the @), and each item's label "
            "resolves from them by the project's rules; an annotator with no member refuses "
            "the file."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a file, a saved Hugging Face dataset, a folder of images or a YOLO dataset.

    Every record comes in, or none."""
    from labelloop.ingest import importer_for_folder, importer_for_path
    from labelloop.workflow import imports, projects

    settings, db = _open()

    def go() -> imports.ImportReport:
        hf = format == "hf_datasets" or (
            format is None and file.is_dir() and importer_for_folder(file) == "hf_datasets"
        )
        if hf_split is not None and not hf:
            raise LabelloopError("--hf-split is for a saved Hugging Face dataset (hf_datasets)")
        if hf and labels_from_folders:
            raise LabelloopError("--labels-from-folders is for a folder of images")
        if annotations and (hf or file.is_dir()):
            raise LabelloopError("--annotations is for a Label Studio file (label_studio)")
        if hf and not file.is_file():
            ctx = projects.system_context(db, slug)
            with counted_bar() as progress:  # its rows are counted before the first is read
                task = progress.add_task(f"importing {file.name or file}", total=None)
                return imports.import_hf_dataset(
                    db,
                    ctx,
                    file,
                    hf_split=hf_split,
                    text_field=text_field,
                    id_field=id_field,
                    label_field=label_field,
                    prediction_field=predictions_field,
                    split=split,
                    progress=lambda n: progress.update(task, completed=n),
                    total=lambda n: progress.update(task, total=n),
                    update_labels=update_labels,
                )
        if file.is_dir():
            ctx = projects.system_context(db, slug)
            read_as = format or imports.folder_format(
                ctx, file, labels_from_folders=labels_from_folders
            )
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
                    update_labels=update_labels,
                    fmt=read_as,
                )
        if not file.is_file():
            raise LabelloopError(f"no {'folder' if labels_from_folders else 'file'} at {file}")
        if labels_from_folders:
            raise LabelloopError(
                f"--labels-from-folders needs a folder of images; {file} is a file"
            )
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
                text_field=text_field,
                id_field=id_field,
                label_field=label_field,
                prediction_field=predictions_field,
                split=split,
                media_roots=settings.media_root_paths,
                update_labels=update_labels,
                answers=annotations,
                near=file.parent,
            )

    with on_ctrl_c(f"nothing was imported into {slug}: an import comes in whole or not at all"):
        report = _run(go)
    summary = {
        "items": report.n_items,
        "labeled": report.n_labeled,
        "duplicates": report.n_duplicates,
        "split": report.split,
        "batch_id": report.batch_id,
    }
    if report.n_eval:
        summary["eval"] = report.n_eval
    if update_labels:
        summary.update(updated=report.n_updated, kept=report.n_kept)
    if report.notes:
        summary["notes"] = list(report.notes)
    if report.nothing_new:
        summary["nothing_new"] = report.nothing_new
    if as_json:
        typer.echo(json.dumps(summary))
        return
    where = report.split
    if report.n_eval:
        where = f"{report.n_items - report.n_eval:,} pool, {report.n_eval:,} eval"
    if report.nothing_new:
        out.print(f"{report.nothing_new} ({slug}); no import was recorded")
    else:
        out.print(
            f"imported {counted(report.n_items, 'item')} into {slug} ({where}), "
            f"{report.n_labeled:,} with labels, {counted(report.n_duplicates, 'duplicate')} skipped"
        )
    for note in report.notes:
        out.print(note, highlight=False, markup=False)
    if report.duplicate_lines:
        shown = ", ".join(str(n) for n in report.duplicate_lines[:10])
        many = len(report.duplicate_lines) > 1
        shown_as = projects.system_context(db, slug).schema.data_type
        noun = {"image": "image", "audio": "audio file", "table": "row"}.get(shown_as, "text")
        if noun.split()[-1] == report.unit:  # "duplicate rows 3, 4": the numbers count them
            what = f"{noun}s" if many else noun
        else:
            what = f"{noun}s at {report.unit}s" if many else f"{noun} at {report.unit}"
        out.print(
            f"duplicate {what} {shown} (already in the project or earlier in the file)"
            + (" ..." if report.n_duplicates > 10 else "")
        )
    if update_labels:
        lines = ", ".join(str(n) for n in report.kept_lines[:10])
        out.print(
            f"{counted(report.n_updated, 'item')} already here took the file's label; "
            f"{counted(report.n_kept, 'item')} kept their own (people labeled them here, are at "
            "work on them, or they are gold checks)"
            + (
                f": {report.unit}{'s' if report.n_kept > 1 else ''} {lines}"
                + (" ..." if report.n_kept > 10 else "")
                if report.kept_lines
                else ""
            )
        )


def export(
    slug: str,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl, csv (no spans/boxes), coco (boxes), yolo (boxes; a zip), conll (spans), "
            "label_studio, doccano or prodigy (text and HTML projects)",
        ),
    ] = "jsonl",
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")] = Path("-"),
    auto: Annotated[
        bool, typer.Option("--auto/--no-auto", help="Include the model's auto labels.")
    ] = True,
    split: Annotated[
        str,
        typer.Option(
            "--split", help="pool (the items to label) or eval (the held-out items to measure)."
        ),
    ] = "pool",
    annotations: Annotated[
        bool,
        typer.Option(
            help="Every annotator's answer instead of one row per labeled item: jsonl or csv, "
            "a row per answer with its review, whether it was a gold check and the item's "
            "label beside it; label_studio, a task per answered item with every answer."
        ),
    ] = False,
    images: Annotated[
        bool,
        typer.Option(
            help="yolo or coco: a zip holding each item's image too (images/train/, "
            "images/val/), to import into another project or tool."
        ),
    ] = False,
) -> None:
    """Export the labeled items (or eval items) with provenance, or every answer (--annotations)."""
    from labelloop.workflow import export as wf_export
    from labelloop.workflow import projects

    settings, db = _open()
    warnings: list[str] = []  # told after the progress bar, which would hide them

    def go() -> int:
        ctx = projects.system_context(db, slug)
        with _whole_file(output) as sink, _counting() as progress:
            doing = f"exporting {slug}" + (" with its images" if images else "")
            task = progress.add_task(doing, total=None)
            return wf_export.export(
                db,
                ctx,
                sink,
                fmt=format,
                progress=lambda done: progress.update(task, completed=done),
                auto=auto,
                split=split,
                annotations=annotations,
                images=images,
                media_roots=settings.media_root_paths,
                warn=warnings.append,
            )

    n = _run(go)
    if str(output) != "-":
        what = "labeled item" if split == "pool" else "labeled eval item"
        if annotations:
            what = "answer" if split == "pool" else "eval answer"
        out.print(f"exported {counted(n, what)} to {output}", highlight=False)
    for warning in warnings:
        err.print(f"warning: {warning}", highlight=False, soft_wrap=True)
    if split == "pool":
        _say_eval_left(db, slug, fmt=format, annotations=annotations, images=images)


def _say_eval_left(
    db: Any, slug: str, *, fmt: str, annotations: bool, images: bool = False
) -> None:
    """Tell that the eval items' labels (or, for an answers export, the answers to them) are
    not in a pool export, and how to get them (or, for a format that holds its splits, that
    they are in it as its validation images)."""
    from labelloop.store import export as store_export
    from labelloop.store import items as store_items
    from labelloop.workflow import projects
    from labelloop.workflow.export import holds_splits

    ctx = projects.system_context(db, slug)
    if annotations:
        with db.read() as conn:
            n_answers = store_export.n_answers(conn, ctx.id, split="eval")
        if n_answers:
            err.print(
                f"{counted(n_answers, 'answer')} to eval items (held out to measure the model) "
                f"{'is' if n_answers == 1 else 'are'} not in it: export them with --split eval",
                highlight=False,
                soft_wrap=True,
            )
        return
    with db.read() as conn:
        n_eval = store_items.counts(conn, ctx.id)["eval_labeled"]
    if n_eval and holds_splits(fmt, images=images):
        where = "val.txt" if fmt == "yolo" else "images/val/"
        err.print(
            f"{counted(n_eval, 'labeled eval item')} (held out to measure the model) "
            f"{'is' if n_eval == 1 else 'are'} in it as its validation images ({where}), and "
            "import back as eval items",
            highlight=False,
            soft_wrap=True,
        )
    elif n_eval:
        err.print(
            f"{counted(n_eval, 'labeled eval item')} (held out to measure the model) "
            f"{'is' if n_eval == 1 else 'are'} not in it: export them with --split eval, and "
            "import that file with --split eval to keep them held out",
            highlight=False,
            soft_wrap=True,
        )


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
    table = Table(title=f"{escape(info['project']['name'])} ({slug})", show_header=False)
    table.add_row("items to label", f"{c['pool']:,}")
    if c["gold"]:
        table.add_row("gold checks", f"{c['gold']:,} (not counted as items to label)")
    table.add_row("labeled", f"{c['labeled']:,}  ({c['remaining']:,} remaining)")
    if c["auto_labeled"]:
        table.add_row(
            "auto-labeled", f"{c['auto_labeled']:,}  (the model's; `labelloop autolabel runs`)"
        )
    unlabeled = c["eval"] - c["eval_labeled"]
    without = f"  ({unlabeled:,} without a label)" if unlabeled else ""
    table.add_row("eval items", f"{c['eval']:,}{without}")
    table.add_row("annotations", f"{c['annotations']:,}")
    table.add_row("strategy", info["strategy"])
    table.add_row("featurizer", info["featurizer"])
    table.add_row("classifier", info["model_setting"])
    if info["training"]["error"]:
        table.add_row("training error", escape(info["training"]["error"]))
    elif info["training"]["failure"]:
        table.add_row("training failure", escape(info["training"]["failure"]["sentence"]))
    learner = info["training"]["learner"]
    table.add_row("learner", "running" if learner["running"] else escape(learner["sentence"]))
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
            f"v{model['version']} {model['model']}"
            + (f" on {model['featurizer']}" if model["featurizer"] else "")
            + f", {model['n_train']:,} {'label' if model['n_train'] == 1 else 'labels'}",
        )
        n_eval = c["eval_labeled"]
        if metrics:
            table.add_row("eval", metrics)
        elif not n_eval:
            table.add_row("eval", "no labeled eval items (import some with --split eval)")
        elif model["cold_start"]:
            table.add_row(
                "eval", f"{n_eval:,} labeled items; measured from the first model trained on labels"
            )
        else:
            table.add_row("eval", f"{n_eval:,} labeled items; this model was not measured on them")
        verdict = info["stop_verdict"]  # what the project page and the API lead with
        if verdict["state"] == "stop":
            table.add_row("STOP recommended", verdict["sentence"])
        else:
            table.add_row("stop?", f"{verdict['head']} {verdict['sentence']}")
        for d in model["stopping"]:  # each rule named, as the project page's badge names it
            said = f"{d['criterion']}: {d['reason']}"
            table.add_row("stop?" if not d["stop"] else "STOP recommended", said)
        if model["stop_note"] and verdict["state"] != "unjudged":  # else the verdict said it
            table.add_row("stop?", model["stop_note"])
        if model["more_labels"] is not None:
            table.add_row("more labels", model["more_labels_sentence"])
    else:
        table.add_row("model", "none yet")
    issues = info["open_label_issues"]
    if issues:
        table.add_row(
            "re-check",
            f"{issues:,} {'label' if issues == 1 else 'labels'} the model contradicts, flagged "
            f"for a second look (`labelloop items {slug} --status flagged` lists them, "
            "`--show ITEM` the model's guess)",
        )
    out.print(table)  # no headers: rich wraps the long sentences itself
    if model and model["cohorts"]:
        _print_cohorts(model["cohorts"], version=model["version"])


def _print_cohorts(found: dict[str, Any], *, version: int) -> None:
    """The newest model's eval figures per cohort of the eval items, worst first."""
    rows = sorted(found["cohorts"], key=lambda r: r["accuracy"])
    if rows:
        table = Table(title=f"Eval by {escape(found['field'])} (model v{version}), worst first")
        table.add_column(escape(found["field"]))
        for name in ("eval items", "accuracy", "95% interval", "macro-F1", "vs overall"):
            table.add_column(name, justify="right")
        table.add_column("")
        for r in rows:
            table.add_row(
                escape(r["cohort"]),
                f"{r['n']:,}",
                f"{r['accuracy']:.3f}",
                f"{r['low']:.3f}–{r['high']:.3f}",
                f"{r['macro_f1']:.3f}",
                f"{r['vs_overall']:+.3f}",
                "[bold]below overall[/bold]" if r["below_overall"] else "",
            )
        out.print(fitted(table, drop=("macro-F1", "95% interval")))
    if found["note"]:
        lead = "" if rows else f"Eval by {found['field']}: "
        out.print(escape(lead + found["note"]), highlight=False)


def audit(
    slug: Annotated[
        str | None,
        typer.Argument(help="Project; without it, the site's own chain and every guideline."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    last: Annotated[
        int,
        typer.Option(
            min=0,
            max=1000,
            help="Also list the chain's newest N events: who did what to whom, when.",
        ),
    ] = 0,
) -> None:
    """Check an audit hash chain and the guideline texts it vouches for; --last N lists events.

    Exit code 1 names the first changed or missing event, or a guideline version whose stored
    text is not the one its audit event recorded. Without SLUG the site's own chain (users,
    tokens, projects) is checked and listed, and every project's guideline texts are checked,
    in one line naming the projects whose texts changed.
    """
    from labelloop.workflow import auditing, projects
    from labelloop.workflow.accounts import User

    _, db = _open()

    def go() -> dict[str, Any]:
        if slug is None:
            local = User(id=0, username="(local)", is_admin=True)
            found = auditing.verify_site(db, local)
            if last:
                found["last"] = auditing.site_events(db, local, limit=last)
            return found
        ctx = projects.system_context(db, slug)
        found = auditing.verify(db, ctx)
        if last:
            found["last"] = auditing.events(db, ctx, limit=last)
        return found

    found = _run(go)
    if as_json:
        typer.echo(json.dumps(found))
    else:
        for event in found.get("last", []):
            actor = event["actor"] or "(local operator)"
            details = json.dumps(event["payload"], sort_keys=True)[:300]
            subject = event["subject"] + (f" ({event['whom']})" if event["whom"] else "")
            out.print(
                f"{event['at'][:19].replace('T', ' ')}  {escape(actor)}  "
                f"{escape(event['action'])}  {escape(subject)}  {escape(details)}",
                highlight=False,
                soft_wrap=True,
            )
        if found["intact"]:
            out.print(
                f"audit chain of {escape(found['chain'])}: {found['events']:,} events, intact"
            )
        else:
            bad = found["first_broken"]
            out.print(
                f"audit chain of {escape(found['chain'])}: BROKEN at event {bad['id']} "
                f"({escape(bad['action'])}, {bad['at']}): changed, or the event before it is "
                "missing"
            )
        if slug is None:
            _print_every_projects_texts(found["guidelines"])
        else:
            _print_guideline_texts(found["chain"], found["guidelines"])
    if not found["intact"] or not found["guidelines"]["intact"]:
        raise typer.Exit(1)


def _print_every_projects_texts(texts: dict[str, Any]) -> None:
    """What ``labelloop audit`` says of every project's guideline texts: one line, naming the
    projects (and their versions) whose stored text is not the one its audit event recorded."""
    n, m = texts["projects"], texts["versions"]
    said = f"guideline texts of {n:,} {'project' if n == 1 else 'projects'}"
    named = []
    for project in texts["changed"]:
        versions = ", ".join(f"v{v['version']}" for v in project["changed"])
        named.append(f"'{escape(project['project'])}' ({versions})")
    if named:
        said += (
            f": CHANGED since published in {len(named):,}: {', '.join(named)} "
            "(labelloop audit SLUG shows the hashes)"
        )
    else:
        said += f" ({m:,} {'version' if m == 1 else 'versions'}): each as its audit event recorded"
    out.print(said, highlight=False, soft_wrap=True)


def _print_guideline_texts(chain: str, texts: dict[str, Any]) -> None:
    """What ``labelloop audit SLUG`` says of the guideline texts: each version whose stored
    text is not the one its audit event recorded, by both hashes' first digits."""
    from labelloop.govern.guidelines import SHORT_HASH

    for v in texts["changed"]:
        out.print(
            f"guideline v{v['version']} of {escape(chain)}: CHANGED since published: stored "
            f"text sha256:{v['sha256'][:SHORT_HASH]}, its audit event recorded "
            f"sha256:{v['recorded_sha256'][:SHORT_HASH]}",
            highlight=False,
        )
    n = texts["versions"]
    said = f"guideline texts of {escape(chain)}: {n:,} {'version' if n == 1 else 'versions'}"
    if texts["changed"]:
        said += f", {len(texts['changed']):,} changed since published"
    else:
        said += ", each as its audit event recorded"
    if texts["not_recorded"]:
        versions = ", ".join(f"v{v}" for v in texts["not_recorded"])
        said += f" ({versions}: not recorded, published before labelloop recorded text hashes)"
    out.print(said, highlight=False)


def gain(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What active learning bought: the strategy's labels against the random controls."""
    from labelloop.workflow import gain as wf_gain

    found = with_model(
        slug, f"measuring {slug}", lambda db, ctx, cache: wf_gain.report(db, ctx, cache=cache)
    )
    if as_json:
        typer.echo(json.dumps(found))
        return
    if found["state"] != "measured":
        out.print(escape(f"not measured yet: {found['reason']}"), highlight=False)
        return
    out.print(escape(found["sentence"]), highlight=False)
    from labelloop.learn.gain import METRIC_NAMES

    table = Table("labels the strategy picked", f"eval {METRIC_NAMES[found['metric']]}", box=None)
    for k, value in found["curve"]:
        table.add_row(f"{k:,}", f"{value:.3f}")
    out.print(fitted(table))
