"""`labelloop dashboard`: throughput, where work waits, the forecast, drift and alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from labelloop.cli.common import (
    _counting,
    _open,
    _run,
    annotator_cell,
    fitted,
    label_mix,
    out,
    with_model,
)

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """One character per value, its height relative to the largest (a blank day is ' ')."""
    top = max(values, default=0)
    if top == 0:
        return " " * len(values)
    return "".join(" " if v == 0 else BARS[min(7, (v * 8 - 1) // top)] for v in values)


def dashboard(
    slug: str,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days of history to show.")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Throughput, time per label, where work waits, when the backlog is done, drift, alerts."""
    from labelloop.workflow import insight, projects
    from labelloop.workflow.features import FeatureCache

    settings, db = _open()

    def go() -> dict[str, Any]:
        ctx = projects.system_context(db, slug)
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        with _counting() as progress:
            progress.add_task(f"reading {slug}", total=None)
            return insight.report(db, ctx, cache=cache, days=days)

    found = _run(go)
    if as_json:
        typer.echo(json.dumps(found))
        return
    _print(found)


def _hours(h: float) -> str:
    """Hours in words as the dashboard page says them: "under 1 min", "12 min", "3.5 h"."""
    if round(60 * h) == 0:
        return "under 1 min"
    return f"{round(60 * h)} min" if h < 1 else f"{h:,.1f} h"


def _say(text: str | None) -> None:
    if text:
        out.print(escape(text), highlight=False)


def _print(found: dict[str, Any]) -> None:
    t = found["throughput"]
    rate = t["rate"]
    head = Table(title=f"{escape(found['project']['name'])}: the last {found['window_days']} days")
    head.add_column("")
    head.add_column("per day", justify="right")
    head.add_column("total", justify="right")
    head.add_column(f"{t['days'][0]} … {t['days'][-1]}", no_wrap=True, min_width=len(t["days"]))
    for name, key in (("resolved labels", "resolved"), ("annotations", "annotations")):
        values = t[key]
        per_day = f"{sum(values[-rate['window_days'] :]) / rate['window_days']:.1f}"
        head.add_row(name, per_day, f"{sum(values):,}", sparkline(values))
    if any(t["reviews"]):
        values = t["reviews"]
        per_day = f"{sum(values[-rate['window_days'] :]) / rate['window_days']:.1f}"
        head.add_row("review verdicts", per_day, f"{sum(values):,}", sparkline(values))
    out.print(fitted(head))
    _say(t["imported"]["sentence"])
    if rate["change"] is not None:
        word = "up" if rate["change"] >= 0 else "down"
        out.print(
            f"Labels per day over the last {rate['window_days']} days: {rate['per_day']:.1f}, "
            f"{word} {abs(100 * rate['change']):.0f}% on the {rate['window_days']} before."
        )
    active, turn = found["time"]["active"], found["time"]["turnaround"]
    if active["n"]:
        out.print(
            f"Active time per annotation: median {active['median_s']:.1f} s, 90% under "
            f"{active['p90_s']:.1f} s ({active['labels_per_hour']:,.0f} an hour of work)."
        )
    if turn["n"]:
        out.print(
            f"From first served to resolved: median {_hours(turn['median_h'])}, 90% within "
            f"{_hours(max(turn['p90_h'], 1 / 60))}."
        )
    agreement = found["agreement"]
    if agreement["alpha"] is not None:
        out.print(
            f"Agreement: Krippendorff's α {agreement['alpha']:.2f} on the {agreement['items']}."
        )
    _say(found["model"]["sentence"])
    if found["auto_labels"]["sentence"]:
        _say(found["auto_labels"]["sentence"])
    stages = Table(title="Where work waits")
    w = found["stages"][0]["window_days"] if found["stages"] else 7
    for col in (
        "stage",
        "waiting",
        "oldest",
        f"arrived ({w} d)",
        f"cleared ({w} d)",
        "days to clear",
    ):
        stages.add_column(col, justify="left" if col in ("stage", "oldest") else "right")
    for s in found["stages"]:
        clear = "—" if s["days_to_clear"] is None else f"{s['days_to_clear']:,.1f}"
        stages.add_row(
            s["name"],
            s["waiting_text"],
            s["oldest"] or "—",
            f"{s['arrived']:,}",
            f"{s['cleared']:,}",
            clear if s["waiting"] else "—",
        )
    out.print(fitted(stages))
    _say((found["bottleneck"] or {}).get("sentence"))
    for key, what in (("pool", "The pool"), ("budget", "The label budget")):
        f = found["forecast"].get(key)
        if f is None:
            continue
        if f["state"] == "done":
            out.print(f"{what}: done.")
        else:
            _say(f"{what}: {f['sentence']}")
    _say(f"Drift: {found['drift']['sentence']}")
    if found["annotators"]:
        people = Table(title="Annotators")
        for col in (
            "annotator",
            "annotations",
            "last 7 days",
            "median s",
            "per hour",
            "agrees",
            "days",
        ):
            people.add_column(
                col,
                justify="left" if col in ("annotator", "days") else "right",
                no_wrap=col == "days",
            )
        for a in found["annotators"]:
            people.add_row(
                annotator_cell(a),
                f"{a['annotations']:,}",
                f"{a['last_7_days']:,}",
                "—" if a["median_s"] is None else f"{a['median_s']:.1f}",
                "—" if a["labels_per_hour"] is None else f"{a['labels_per_hour']:,.0f}",
                "—" if a["agrees_with_others"] is None else f"{a['agrees_with_others']:.0%}",
                sparkline(a["per_day"]),
            )
        out.print(fitted(people, drop=("per hour", "last 7 days", "median s")))
    _print_alerts(found["alerts"])


def _print_alerts(alerts: list[dict[str, Any]]) -> None:
    """What needs attention, then what someone acknowledged (muted, saying who and why)."""
    needs = [a for a in alerts if a["acknowledged_at"] is None]
    seen = [a for a in alerts if a["acknowledged_at"] is not None]
    if needs:
        out.print("[bold]Needs attention[/bold]")
        for a in needs:
            out.print(f"- {escape(a['kind'])}: {escape(a['message'])}", highlight=False)
    else:
        out.print("Nothing else needs attention." if seen else "Nothing needs attention.")
    if seen:
        out.print("[bold]Acknowledged[/bold]")
        for a in seen:
            out.print(
                f"[dim]- {escape(a['kind'])}: {escape(a['message'])} "
                f"({escape(acknowledgement(a))})[/dim]",
                highlight=False,
            )


def acknowledgement(a: dict[str, Any], *, now: datetime | None = None) -> str:
    """ "acknowledged by bob 2 h ago: retraining on Monday" """
    who = a["acknowledged_by"] or "the local operator"
    note = f": {a['acknowledged_note']}" if a["acknowledged_note"] else ""
    return f"acknowledged by {who} {ago(a['acknowledged_at'], now=now)}{note}"


def ago(iso: str, *, now: datetime | None = None) -> str:
    """ "just now", "5 min ago", "2 h ago", "3 days ago" """
    s = max(0.0, ((now or datetime.now(UTC)) - datetime.fromisoformat(iso)).total_seconds())
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{int(s // 60)} min ago"
    if s < 86400:
        return f"{int(s // 3600)} h ago"
    days = int(s // 86400)
    return f"{days} {'day' if days == 1 else 'days'} ago"


def alerts_list(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The alerts of SLUG now: what needs attention, and what someone acknowledged."""
    from labelloop.workflow import insight

    found = with_model(
        slug,
        f"reading {slug}",
        lambda db, ctx, cache: insight.report(db, ctx, cache=cache, days=insight.STAGE_WINDOW),
    )
    if as_json:
        typer.echo(json.dumps(found["alerts"]))
        return
    _print_alerts(found["alerts"])


def alerts_ack(
    slug: str,
    kind: Annotated[str, typer.Argument(help="The alert's kind, e.g. backlog, drift, idle.")],
    note: Annotated[
        str, typer.Option(help="One line shown beside the alert, e.g. 'retraining on Monday'.")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Acknowledge the open alert KIND of SLUG: it no longer needs attention (audited).

    The alert stays open while its condition holds, shown as acknowledged by the local
    operator with the note; when it resolves and comes back it needs attention again.
    `labelloop alerts unack` takes the acknowledgement back."""
    from labelloop.workflow import acknowledgements

    done = with_model(
        slug,
        f"checking the alerts of {slug}",
        lambda db, ctx, cache: acknowledgements.acknowledge_alert(
            db, ctx, kind, note=note, cache=cache
        ),
    )
    if as_json:
        typer.echo(json.dumps(done))
        return
    out.print(f"{escape(done['kind'])}: {escape(acknowledgement(done))}", highlight=False)


def alerts_unack(
    slug: str,
    kind: Annotated[str, typer.Argument(help="The alert's kind, e.g. backlog, drift, idle.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Take back the acknowledgement of the alert KIND of SLUG: it needs attention again."""
    from labelloop.workflow import acknowledgements, projects

    _, db = _open()
    done = _run(
        lambda: acknowledgements.unacknowledge_alert(db, projects.system_context(db, slug), kind)
    )
    if as_json:
        typer.echo(json.dumps(done))
        return
    out.print(f"{escape(done['kind'])}: needs attention again", highlight=False)


def coverage(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What the model could label now: unlabeled items it is 80-99% sure of, right how often.

    Trains the project's classifier on every label (nothing is stored) and tells, per
    confidence, how many unlabeled items of SLUG it is that sure of and how often it is right
    that sure on the labeled eval items."""
    from labelloop.workflow import coverage as wf_coverage

    found = with_model(
        slug,
        f"training and scoring the model of {slug}",
        lambda db, ctx, cache: wf_coverage.coverage(db, ctx, cache=cache),
    )
    if as_json:
        typer.echo(json.dumps(found))
        return
    out.print(
        f"{escape(found['model'])} on {escape(found['featurizer'])}, trained on "
        f"{found['n_train']:,} labels; {found['n_unlabeled']:,} unlabeled items, "
        f"{found['n_eval']:,} labeled eval items",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (
        ("Sure at least", "right"),
        ("Unlabeled", "right"),
        ("Share", "right"),
        ("Right on eval", "right"),
        ("95% interval", "right"),
        ("Would be labeled", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in found["rows"]:
        right = "—"
        interval = "—"
        if row["precision"] is not None:
            right = f"{row['precision']:.1%} of {row['eval_n']:,}"
            interval = f"{row['interval'][0]:.1%}–{row['interval'][1]:.1%}"
        mix = label_mix(row["by_label"])
        table.add_row(
            f"{row['threshold']:.0%}",
            f"{row['covered']:,}",
            f"{row['share']:.1%}",
            right,
            interval,
            mix,
        )
    out.print(fitted(table, drop=("95% interval", "Share")))
    if found["n_eval"] == 0:
        out.print(
            "No labeled eval items: how often the model is right cannot be measured; "
            "import some with --split eval.",
            highlight=False,
        )
    if found["n_unlabeled"]:
        out.print(_outlook(slug, found["autolabel"]), highlight=False, soft_wrap=True)


def _outlook(slug: str, ahead: dict[str, Any]) -> str:
    """What `labelloop autolabel apply SLUG` would meet now, as the project page says it before
    the click."""
    said = f"labelloop autolabel apply {escape(slug)}: "
    if not ahead["ready"]:
        return said + f"not yet: {escape(ahead['refusal'])}"
    sure = f"{ahead['confidence']:.0%}"
    said += (
        f"at least {sure} sure, the lowest the eval items vouch for"
        if ahead["chosen"]
        else f"at the project's {sure}, which the eval items vouch for"
    )
    return said + f": a run labels {ahead['covered']:,} item{'' if ahead['covered'] == 1 else 's'}"
