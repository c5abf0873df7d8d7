"""`labelloop imports`: list a project's imports, undo one."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from labelloop.cli.common import _open, _run, counted, counted_bar, fitted, on_ctrl_c, out


def imports_list(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the imports of SLUG, newest first, with how many of their items people touched."""
    from labelloop.workflow import batches, projects

    _, db = _open()
    found = _run(lambda: batches.imports(db, projects.system_context(db, slug)))
    if as_json:
        typer.echo(json.dumps(found))
        return
    if not found:
        out.print("no imports yet", highlight=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    for name in ("#", "File", "Format", "Split", "By", "At", "Items", "Labeled", "Dupes"):
        table.add_column(name, no_wrap=name == "At")
    table.add_column("Touched")
    table.add_column("Undo")
    for b in found:
        table.add_row(
            str(b["id"]),
            escape(b["filename"]),
            b["format"],
            _split_cell(b),
            escape(b["by"] or "(local operator)"),
            b["at"][:16].replace("T", " "),
            f"{b['items']:,}",
            f"{b['labeled']:,}",
            f"{b['duplicates']:,}",
            f"{b['touched']:,}",
            _undo_cell(b),
        )
    out.print(fitted(table, drop=("Dupes", "Touched", "Format", "By", "Split", "Labeled")))


def _split_cell(b: dict[str, Any]) -> str:
    """The split an import was made into, and how many of a pool import's items are eval
    items (a dataset's val and test images), as the project page's Imports table says it."""
    if b["split"] == "pool" and b.get("eval_now"):
        return f"pool, {b['eval_now']:,} eval"
    return str(b["split"])


def _undo_cell(b: dict[str, Any]) -> str:
    """Whether an import can be undone, or that an undo of it began and did not finish."""
    if b["undoing"]:
        return f"being undone ({counted(b['items_now'], 'item')} left: undo it again to finish)"
    return "yes" if b["undoable"] else f"no ({counted(b['held'], 'item')} held)"


def imports_undo(
    slug: str,
    batch: Annotated[int, typer.Argument(help="The import's number (`labelloop imports list`).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Undo an import of SLUG: its items and what only they had go (audited).

    Queue entries, unanswered leases, imported labels and pre-annotations go with the items,
    and the image files an uploaded zip stored for them. Refused, removing nothing, while
    people answered, reviewed, made gold, pinned, picked or flagged any of them, or an
    auto-label run labeled one, and while an import into SLUG or another undo of the same import
    runs (undos of different imports run side by side). The items are withdrawn at once and
    removed a slice at a time (a bar shows how many), so annotators keep working meanwhile; an
    undo that was stopped is finished by running it again."""
    from labelloop.workflow import batches, projects
    from labelloop.workflow.features import FeatureCache

    settings, db = _open()

    def go() -> dict[str, Any]:
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        ctx = projects.system_context(db, slug)
        with counted_bar() as bar:
            task = bar.add_task(f"undoing import {batch}: removing items", total=None)

            def removed(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return batches.undo(
                db,
                ctx,
                batch,
                cache=cache,
                media_roots=settings.media_root_paths,
                progress=removed,
            )

    with on_ctrl_c(
        f"import {batch} of {slug} may be undone in part: `labelloop imports list {slug}` says "
        f"so ('being undone'), and `labelloop imports undo {slug} {batch}` finishes it"
    ):
        done = _run(go)
    if as_json:
        typer.echo(json.dumps(done))
        return
    released = f"; {counted(int(done['leases']), 'lease')} released" if done["leases"] else ""
    files = int(done["files"])
    deleted = f"; {counted(files, 'stored image file')} deleted" if files else ""
    out.print(
        f"import {batch} ('{escape(str(done['filename']))}') undone: "
        f"{counted(int(done['items']), 'item')} removed, with "
        f"{counted(int(done['labels']), 'imported label')}{released}{deleted}",
        highlight=False,
        soft_wrap=True,
    )
