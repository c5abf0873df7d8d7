"""`labelloop autolabel`: accept the model's labels for the items it is sure of, list the runs,
undo one."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from labelloop.cli.common import _open, _run, fitted, label_mix, out, with_model


def autolabel_apply(
    slug: str,
    confidence: Annotated[
        float | None,
        typer.Option(
            help="The model's probability an item needs; default: the project's, or else the "
            "lowest the eval items vouch for."
        ),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            help="The eval accuracy's 95% interval must lie at or above this; default: the "
            "project's (0.95 unless set)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Measure and count only.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Give the model's label to the unlabeled items of SLUG it is sure of (audited).

    Trains the project's classifier on every label and refuses unless, on the labeled eval
    items it is that sure of, its accuracy's 95% interval lies at or above the minimum. Auto
    labels are exported with resolution 'auto', never trained on; `labelloop autolabel undo`
    removes a run's."""
    from labelloop.workflow import autolabel

    done = with_model(
        slug,
        f"training the model of {slug} and checking it on the eval items",
        lambda db, ctx, cache: autolabel.apply(
            db,
            ctx,
            cache=cache,
            confidence=confidence,
            min_accuracy=min_accuracy,
            dry_run=dry_run,
        ),
    )
    if as_json:
        typer.echo(json.dumps(done))
        return
    low, high = done["interval"]
    out.print(
        f"{escape(done['model'])} on {escape(done['featurizer'])}, trained on "
        f"{done['n_train']:,} labels: at least {done['confidence']:.0%} sure"
        f"{' (the lowest the eval items vouch for)' if done['chosen'] else ''}, right on "
        f"{done['eval_correct']:,} of {done['eval_n']:,} eval items ({done['precision']:.1%}, "
        f"95% interval {low:.1%}–{high:.1%}, floor {done['min_accuracy']:.1%})",
        highlight=False,
        soft_wrap=True,
    )
    if done["dry_run"]:
        out.print(
            f"would label {done['n_labeled']:,} of {done['n_unlabeled']:,} unlabeled items: "
            f"{label_mix(done['by_label'])} (nothing written)",
            highlight=False,
            soft_wrap=True,
        )
        return
    busy = f"; {done['n_busy']:,} left to the people at work on them" if done["n_busy"] else ""
    out.print(
        f"run {done['run_id']}: labeled {done['n_labeled']:,} of {done['n_unlabeled']:,} "
        f"unlabeled items: {label_mix(done['by_label'])}{busy}",
        highlight=False,
        soft_wrap=True,
    )


def autolabel_runs(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the auto-label runs of SLUG, newest first, with the labels each still has."""
    from labelloop.workflow import autolabel, projects

    _, db = _open()
    found = _run(lambda: autolabel.runs(db, projects.system_context(db, slug)))
    if as_json:
        typer.echo(json.dumps(found))
        return
    policy = found["confidence"]
    out.print(
        "policy: "
        + (f"at least {policy:.0%} sure" if policy is not None else "no confidence set")
        + f", eval accuracy at or above {found['min_accuracy']:.1%}",
        highlight=False,
    )
    if not found["runs"]:
        out.print("no runs yet", highlight=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    for name in ("Run", "Applied", "By", "Sure at least", "Eval accuracy", "Labeled", "Standing"):
        table.add_column(name)
    table.add_column("Spot checks")
    table.add_column("Labels")
    for r in found["runs"]:
        model: dict[str, Any] = r["model"]
        standing = f"{r['n_current']:,}" + (
            f" (undone by {escape(r['undone_by'] or '(local operator)')})" if r["undone_at"] else ""
        )
        table.add_row(
            str(r["id"]),
            r["applied_at"][:16].replace("T", " "),
            escape(r["applied_by"] or "(local operator)"),
            f"{r['confidence']:.0%}",
            f"{model['precision']:.1%} of {model['eval_n']:,}",
            f"{r['n_labeled']:,}",
            standing,
            _checked(r["checks"]),
            label_mix(r["by_label"]),
        )
    out.print(fitted(table, drop=("By", "Spot checks", "Applied")))


def _checked(checks: dict[str, Any]) -> str:
    if not checks["sent"]:
        return "—"
    said = f"{checks['answered']:,} of {checks['sent']:,} answered"
    if checks["answered"]:
        low, high = checks["interval"]
        said += f", {checks['agreed']:,} agreed ({checks['agreement']:.1%}, {low:.1%}–{high:.1%})"
    return said


def autolabel_check(
    slug: str,
    run: Annotated[int, typer.Argument(help="The run's number (`labelloop autolabel runs`).")],
    sample: Annotated[
        int, typer.Option(help="How many of its labels to take back, drawn at random.")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Spot-check an auto-label run of SLUG: some of its labels go to people, blind (audited).

    The labels drawn are taken back and their items go to the front of the queue; `labelloop
    autolabel runs` then says how many answers agree with the model."""
    from labelloop.workflow import autolabel, projects

    _, db = _open()
    done = _run(lambda: autolabel.spot_check(db, projects.system_context(db, slug), run, sample))
    if as_json:
        typer.echo(json.dumps(done))
        return
    out.print(
        f"run {run}: {done['sent']:,} labels taken back for people to answer, at the front of "
        "the queue",
        highlight=False,
    )


def autolabel_undo(
    slug: str,
    run: Annotated[int, typer.Argument(help="The run's number (`labelloop autolabel runs`).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Undo an auto-label run of SLUG: its labels still standing are removed (audited)."""
    from labelloop.workflow import autolabel, projects

    _, db = _open()
    done = _run(lambda: autolabel.undo(db, projects.system_context(db, slug), run))
    if as_json:
        typer.echo(json.dumps(done))
        return
    out.print(
        f"run {run} undone: {done['n_undone']:,} auto labels removed; their items are to label "
        "again",
        highlight=False,
    )
