"""`labelloop second-look`: list the imported labels flagged as likely errors, keep or fix one."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from labelloop.cli.common import _open, _run, counted, fitted, named_item, out
from labelloop.cli.quality import _seen_by


def second_look(
    slug: str,
    item: Annotated[
        str | None,
        typer.Argument(help="The item (import id or #number); without it, list those flagged."),
    ] = None,
    verdict: Annotated[str | None, typer.Argument(help="keep or fix")] = None,
    label: Annotated[str | None, typer.Argument(help="The label a fix sets.")] = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as", metavar="USER", help="The reviewer deciding (a fix is theirs)."),
    ] = None,
    comment: Annotated[str | None, typer.Option(help="Why, kept with the audit event.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Keep or fix an imported label flagged as a likely error; without ITEM, list them.

    ITEM is an import id or #number; the list gives each flagged label with the model's
    suggestion and how sure it is."""
    from labelloop.errors import LabelloopError
    from labelloop.workflow import imported_issues

    _, db = _open()

    def go() -> dict[str, Any]:
        ctx = _seen_by(db, slug, as_user)
        if item is None:
            if comment is not None:
                raise LabelloopError("--comment goes with a verdict on an ITEM: keep or fix")
            return imported_issues.flagged(db, ctx)
        if verdict is None:
            raise LabelloopError(
                f"say keep or fix after ITEM '{item[:40]}' (without ITEM, the flagged imported "
                "labels are listed)"
            )
        return _decide(db, ctx, item, verdict=verdict, label=label, comment=comment)

    done = _run(go)
    if as_json:
        typer.echo(json.dumps(done))
    elif item is None:
        _print_flagged(done)
    else:
        how = "kept" if done["verdict"] == "keep" else "fixed"
        out.print(f"item {escape(item)}: imported label {how} as '{escape(str(done['label']))}'")


def _decide(
    db: Any, ctx: Any, item: str, *, verdict: str, label: str | None, comment: str | None
) -> dict[str, Any]:
    """Keep or fix the flagged imported label of ``item`` (import id or #number)."""
    from labelloop.errors import LabelloopError
    from labelloop.workflow import imported_issues
    from labelloop.workflow.values import find_item

    target = ctx.schema.target
    if (label is None) == (verdict == "fix"):
        raise LabelloopError("a fix names the LABEL it sets; keep takes none")
    with db.read() as conn:
        named = {"item_id": None, "external_id": None, **named_item(item)}
        item_id = int(find_item(conn, ctx, **named)["id"])
    value = None
    if label is not None:
        value = {target.name: label.split("|") if target.type == "multi_choice" else label}
    return imported_issues.second_look(
        db, ctx, item_id, verdict=verdict, value=value, comment=comment
    )


def _print_flagged(found: dict[str, Any]) -> None:
    """Each flagged imported label: its item, the label, what the model says instead and how
    sure it is, the file it came from and when it was flagged; then how to decide one."""
    rows = found["items"]
    if not rows:
        out.print("No imported label is flagged as a likely error.")
        return
    table = Table(title="Imported labels flagged as likely errors")
    for column in ("item", "imported label", "model says", "sure", "from", "flagged"):
        table.add_column(column, overflow="fold")
    for r in rows:
        sure = r["confidence"]
        table.add_row(
            escape(str(r["external_id"] or f"#{r['item_id']}")),
            escape(str(r["label"])),
            escape(r["suggestion"] or r["note"] or "—"),
            "—" if sure is None else f"{sure:.2f}",
            escape(r["filename"] or "—"),
            r["flagged_at"][:10],
        )
    out.print(fitted(table, drop=("flagged", "from")))
    said = (
        f"{counted(len(rows), 'imported label')} {'waits' if len(rows) == 1 else 'wait'} for a "
        f"second look: labelloop second-look {found['project']} ITEM keep|fix [LABEL] --as USER "
        "decides one."
    )
    if not found["in_review_queue"]:
        said += " The review queue serves them under review_policy flagged only."
    out.print(escape(said))
