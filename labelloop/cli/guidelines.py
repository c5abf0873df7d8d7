"""`labelloop guidelines`: show, list, diff and publish a project's guideline versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from labelloop.cli.common import _open, _run, named_item, out
from labelloop.errors import LabelloopError

LOCAL = "(local operator)"  # the author of a version published from this command line


def guidelines_show(
    slug: str,
    version: Annotated[int | None, typer.Option(help="A version; default: the newest.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print a guideline version's Markdown (the newest by default)."""
    from labelloop.workflow import guidelines, projects

    _, db = _open()

    def go() -> dict[str, Any]:
        ctx = projects.system_context(db, slug)
        wanted = version if version is not None else projects.guideline(db, ctx)["version"]
        return guidelines.get(db, ctx, wanted)

    shown = _run(go)
    if as_json:
        typer.echo(json.dumps(shown))
        return
    typer.echo(shown["body"], nl=not shown["body"].endswith("\n"))


def guidelines_history(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List every guideline version, newest first: text hash, when, who, answers made, why."""
    from labelloop.govern.guidelines import SHORT_HASH, text_state
    from labelloop.workflow import guidelines, projects

    _, db = _open()
    versions = _run(lambda: guidelines.history(db, projects.system_context(db, slug)))
    if as_json:
        typer.echo(json.dumps(versions))
        return
    for v in versions:
        answers = f"{v['annotations']:,} {'answer' if v['annotations'] == 1 else 'answers'}"
        line = (
            f"v{v['version']}  sha256:{v['sha256'][:SHORT_HASH]}  "
            f"{v['created_at'][:16].replace('T', ' ')}  "
            f"{escape(v['author'] or LOCAL)}  {answers}  {escape(v['summary'])}"
        )
        recorded = v["recorded_sha256"]
        if text_state(v["sha256"], recorded) == "changed":
            line += (
                f"  [bold red]text changed since published (recorded sha256:"
                f"{recorded[:SHORT_HASH]})[/]"
            )
        out.print(line, highlight=False, soft_wrap=True)


def guidelines_set(
    slug: str,
    file: Annotated[
        str, typer.Option("--file", help="Markdown file with the new guideline; - reads stdin.")
    ],
    summary: Annotated[str, typer.Option(help="What changed and why (annotators see it).")],
    base_version: Annotated[
        int | None,
        typer.Option(help="Refuse if the guideline is no longer at this version."),
    ] = None,
    answers_flags: Annotated[
        bool,
        typer.Option(help="The version answers the open 'ambiguous' flags: resolve them."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Publish a new guideline version from a Markdown file (audited)."""
    from labelloop.workflow import guidelines, projects

    def read() -> str:
        if file == "-":
            return sys.stdin.read()
        path = Path(file)
        if not path.is_file():
            raise LabelloopError(f"no guideline file at {file}")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise LabelloopError(f"{file} is not UTF-8 text") from None

    _, db = _open()
    body = _run(read)
    done = _run(
        lambda: guidelines.edit(
            db,
            projects.system_context(db, slug),
            body,
            summary,
            base_version=base_version,
            answers_flags=answers_flags,
        )
    )
    if as_json:
        typer.echo(json.dumps(done))
        return
    answered = done["flags_resolved"]
    out.print(
        f"guideline v{done['from_version']} -> v{done['version']} "
        f"(+{done['added']} -{done['removed']} lines)"
        + (
            f"; {answered} ambiguous {'flag' if answered == 1 else 'flags'} answered"
            if answered
            else ""
        ),
        highlight=False,
    )


def guidelines_diff(
    slug: str,
    old: Annotated[int, typer.Argument(metavar="A", help="The version to compare from.")],
    new: Annotated[int, typer.Argument(metavar="B", help="The version to compare to.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print what changed from guideline version A to B, as a unified diff."""
    from labelloop.workflow import guidelines, projects

    _, db = _open()
    found = _run(lambda: guidelines.diff(db, projects.system_context(db, slug), old, new))
    if as_json:
        typer.echo(json.dumps(found))
        return
    if found["diff"]:
        typer.echo(found["diff"], nl=False)
    for sign, key in (("-", "examples_removed"), ("+", "examples_added")):
        for ex in found[key]:
            note = f" ({escape(ex['note'])})" if ex["note"] else ""
            out.print(f"{sign} example {_item(ex)}: {escape(ex['label'])}{note}", highlight=False)
    if not (found["diff"] or found["examples_added"] or found["examples_removed"]):
        out.print(f"v{old} and v{new} are the same", highlight=False)


def _item(example: dict[str, Any]) -> str:
    return escape(str(example["external_id"] or "#" + str(example["item_id"])))


def guidelines_examples(
    slug: str,
    version: Annotated[int | None, typer.Option(help="A version; default: the newest.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the items a guideline version pins as examples: label, note, excerpt."""
    from labelloop.workflow import guidelines, projects

    _, db = _open()
    found = _run(lambda: guidelines.examples(db, projects.system_context(db, slug), version))
    if as_json:
        typer.echo(json.dumps(found))
        return
    if not found["examples"]:
        out.print(f"guideline v{found['version']} pins no examples", highlight=False)
        return
    for ex in found["examples"]:
        text = ex["text"].replace("\n", " ") + ("…" if ex["truncated"] else "")
        out.print(f"[bold]{escape(ex['label'])}[/]  {_item(ex)}  {escape(text)}", soft_wrap=True)
        if ex["note"]:
            out.print(f"  why: {escape(ex['note'])}", highlight=False, soft_wrap=True)


def guidelines_pin(
    slug: str,
    item: Annotated[str, typer.Argument(help="The item: its id from the import, or #number.")],
    label: Annotated[
        str | None,
        typer.Option(help="The label it is an example of (default: its resolved label)."),
    ] = None,
    note: Annotated[str, typer.Option(help="Why the item is labeled so.")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Pin ITEM to the guideline as an example of a label: a new guideline version (audited)."""
    from labelloop.workflow import guidelines, projects

    _, db = _open()

    def go() -> dict[str, Any]:
        ctx = projects.system_context(db, slug)
        value = None
        if label is not None:
            target = ctx.schema.target
            value = {target.name: label.split("|") if target.type == "multi_choice" else label}
        return guidelines.pin_example(db, ctx, value=value, note=note, **named_item(item))

    done = _run(go)
    if as_json:
        typer.echo(json.dumps(done))
        return
    out.print(
        f"guideline v{done['version']}: {_item(done)} is an example of {escape(done['label'])}",
        highlight=False,
    )


def guidelines_unpin(
    slug: str,
    item: Annotated[str, typer.Argument(help="The item: its id from the import, or #number.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Take ITEM's example out of the guideline: a new guideline version (audited)."""
    from labelloop.workflow import guidelines, projects

    _, db = _open()
    done = _run(
        lambda: guidelines.unpin_example(db, projects.system_context(db, slug), **named_item(item))
    )
    if as_json:
        typer.echo(json.dumps(done))
        return
    out.print(
        f"guideline v{done['version']}: {_item(done)} is no longer an example",
        highlight=False,
    )
