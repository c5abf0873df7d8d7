"""`labelloop quality` and `gold`: agreement, the annotator table and known answers."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from labelloop.cli.common import (
    _fail,
    _open,
    _run,
    annotator_cell,
    counted,
    fitted,
    named_item,
    out,
    printable,
)
from labelloop.store.words import FILE_SYNTAX, SYNTAX

QUERY_HELP = f"{SYNTAX}. An image or audio project searches its files' paths: {FILE_SYNTAX}"
"""How a search by words reads, for each data type, as the pages say it under the box."""


def quality(
    slug: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    cohort: Annotated[str, typer.Option(help="Item metadata field to group by.")] = "cohort",
    scan: Annotated[
        bool, typer.Option("--scan", help="First flag likely label errors (confident learning).")
    ] = False,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples per interval.")] = 200,
) -> None:
    """Agreement (κ, α, per label, pair, cohort, week, guideline version), annotators, flags."""
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality
    from labelloop.workflow.features import FeatureCache

    settings, db = _open()

    def go() -> tuple[dict[str, Any] | None, dict[str, Any]]:
        ctx = projects.system_context(db, slug)
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        found = wf_quality.scan(db, ctx, cache=cache) if scan else None
        return found, wf_quality.report(db, ctx, cohort_field=cohort, n_boot=max(0, n_boot))

    found, info = _run(go)
    if as_json:
        typer.echo(json.dumps({**info, "scan": found} if found else info, default=str))
        return
    if found is not None:
        why = f" ({escape(found['reason'])})" if found.get("reason") else ""
        said = f"scan: {found['checked']} labels checked, {found['flagged']} newly flagged"
        if found["closed"]:
            said += (
                f", {found['closed']} label issues closed (the model now agrees with the labels)"
            )
        out.print(said + why)
    _print_quality(info)


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def _print_quality(info: dict[str, Any]) -> None:
    a = info["agreement"]
    o = a["overall"]

    def stat(s: dict[str, Any], pct: bool = False) -> str:
        text = _fmt(s["value"], pct)
        if s["ci"]:
            text += f"  [{_fmt(s['ci'][0], pct)}, {_fmt(s['ci'][1], pct)}]"
        elif s["reason"]:
            text += f"  ({s['reason']})"
        return text

    head = Table(title=f"{escape(info['project']['name'])}: agreement", show_header=False)
    from labelloop.workflow.insight import gold_among

    gold = gold_among(info["gold"]["compared"], of="the items")
    head.add_row("items compared", f"{o['n_items_compared']:,} ({a['n_raters']} annotators{gold})")
    head.add_row("percent agreement", stat(o["percent"], pct=True))
    head.add_row("Fleiss' kappa", stat(o["fleiss"]))
    head.add_row("Krippendorff's alpha", stat(o["alpha"]))
    review = info["review"]
    head.add_row("review", f"{review['in_review']} waiting, {review['escalated']} escalated")
    flags = info["flags"]
    closed = sum(flags["model_closed_by_kind"].values())
    by_model = f", {closed} closed by the model" if closed else ""
    head.add_row("flags", f"{flags['open']} open of {flags['total']}{by_model}")
    out.print(fitted(head))
    out.print(f"Agreement compares {info['agreement_of']}.")
    raters = a["pairwise"]["raters"]
    if len(raters) >= 2:
        pairs = Table(title="Cohen's kappa per pair")
        pairs.add_column("")
        for r in raters:
            pairs.add_column(escape(r))
        for i, r in enumerate(raters):
            cells = [
                "" if i == j else _fmt(a["pairwise"]["kappa"][i][j]) for j in range(len(raters))
            ]
            pairs.add_row(escape(r), *cells)
        out.print(fitted(pairs))
    by_version = info["by_guideline"]
    if by_version["versions"]:
        versions = Table(title="Agreement by guideline version")
        for col in ("version", "items", "percent", "Fleiss' kappa", "alpha"):
            versions.add_column(col)
        for v in by_version["versions"]:
            versions.add_row(
                f"v{v['guideline_version']}",
                f"{v['n_items_compared']:,}",
                _fmt(v["percent"]["value"], pct=True),
                _fmt(v["fleiss"]["value"]),
                _fmt(v["alpha"]["value"]),
            )
        if by_version["mixed_items"]:
            n = by_version["mixed_items"]
            versions.caption = (
                f"{n:,} {'item' if n == 1 else 'items'} answered under more than one version"
            )
        out.print(fitted(versions))
    people = Table(title="Annotators")
    for col in (
        "annotator",
        "answers",
        "median s",
        "agree",
        "gold",
        "reviewed",
        "rejected",
        "flags",
    ):
        people.add_column(col)
    for u in info["annotators"]:
        people.add_row(
            annotator_cell(u),
            f"{u['labels']:,}",
            "—" if u["median_active_s"] is None else f"{u['median_active_s']:.1f}",
            _fmt(u["agreement_with_resolved"], pct=True),
            _fmt(u["gold_accuracy"], pct=True),
            str(u["reviewed"]),
            _fmt(u["rejection_rate"], pct=True),
            ", ".join(f"{k} {n}" for k, n in u["flags"].items()) or "—",
        )
    out.print(fitted(people, drop=("median s", "reviewed", "gold")))


def gold_set(slug: str, item: str, label: Annotated[str | None, typer.Argument()] = None) -> None:
    """Mark ITEM (its external id, or #number) of SLUG as gold with the known LABEL.

    Without LABEL the item's own label is its known answer: a spans or boxes answer, reviewed
    or imported before."""
    from labelloop.errors import LabelloopError
    from labelloop.schema.project import STRUCTURED_TYPES
    from labelloop.schema.values import value_words
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality

    _, db = _open()

    def go() -> dict[str, Any]:
        ctx = projects.system_context(db, slug)
        target = ctx.schema.target
        value = None
        if label is not None and target.type in STRUCTURED_TYPES:
            raise LabelloopError(
                f"'{target.name}' is a {target.type} control: leave out LABEL, and the item's "
                "label is its known answer"
            )
        if label is not None:
            value = {target.name: label.split("|") if target.type == "multi_choice" else label}
        done = wf_quality.set_gold(db, ctx, value, **named_item(item))
        return {**done, "words": value_words(target.type, done["value"].get(target.name))}

    done = _run(go)
    name = str(done["external_id"] or done["item_id"])
    out.print(f"item {escape(name)} is gold: {escape(done['words'])}")


def gold_list(slug: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the gold items of SLUG with their answers."""
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality

    _, db = _open()
    rows = _run(lambda: wf_quality.gold_items(db, projects.system_context(db, slug)))
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    if not rows:  # an empty output read as a command that did nothing
        out.print(f"No gold items yet: labelloop gold set {escape(slug)} ITEM LABEL marks one.")
    for r in rows:
        out.print(
            f"{escape(str(r['external_id'] or '#' + str(r['item_id'])))}"
            f"\t{escape(json.dumps(r['value']))}"
            f"\tanswered {r['answered']}",
            highlight=False,
        )


def gold_remove(slug: str, item: str) -> None:
    """Stop using ITEM (external id or #number) of SLUG as a gold check."""
    from labelloop.workflow import projects
    from labelloop.workflow import quality as wf_quality

    _, db = _open()

    def go() -> dict[str, Any]:
        ctx = projects.system_context(db, slug)
        return wf_quality.remove_gold(db, ctx, **named_item(item))

    done = _run(go)
    n = done["answers"]
    if done["resolution"] is not None:
        then = f"labeled {escape(str(done['label']))} ({done['resolution']})"
    elif n:
        answers = "its answer waits" if n == 1 else f"its {n} answers wait"
        then = f"{answers} for more labels, review or adjudication"
    else:
        then = "it is served for labeling again"
    out.print(f"item {escape(item)} is no longer gold; {then}")


def items(
    slug: str,
    status: Annotated[
        str,
        typer.Option(help="all, unlabeled, labeled, auto, in_review, escalated, flagged, gold."),
    ] = "all",
    label: Annotated[str | None, typer.Option(help="The resolved label of the target.")] = None,
    annotator: Annotated[str | None, typer.Option(help="Items this user answered.")] = None,
    resolution: Annotated[
        str | None, typer.Option(help="How the label was resolved (single, reviewed, ...).")
    ] = None,
    split: Annotated[str | None, typer.Option(help="pool or eval.")] = None,
    words: Annotated[
        str | None, typer.Option(help=f"Words the content holds, all of them: {QUERY_HELP}.")
    ] = None,
    picked_by: Annotated[
        str | None,
        typer.Option(
            help="How the item was first served: a strategy (margin, ...; box_confidence in "
            "a boxes project), control, search or search:USER, spot_check, import; "
            "no_prediction (boxes: an image the detector predicted nothing for)."
        ),
    ] = None,
    newest: Annotated[
        bool, typer.Option("--newest", help="The latest decided label first.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    show: Annotated[
        str | None,
        typer.Option(help="Print ITEM's whole trace (its import id, or #number) instead."),
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="USER",
            help="What member USER sees: an annotator's own answers only (My answers).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List a project's items with their labels and answers, filtered; --show ITEM traces one."""
    from labelloop.workflow import browse

    _, db = _open()

    spans: list[str] = []  # the spans controls, whose values a trace prints with their words
    kind: list[str] = []  # the target's control type: what its empty value says

    def go() -> dict[str, Any]:
        ctx = _seen_by(db, slug, as_user)
        kind.append(ctx.schema.target.type)
        if show is not None:
            spans.extend(c.name for c in ctx.schema.controls if c.type == "spans")
            return browse.item_trace(db, ctx, **named_item(show))
        return browse.list_items(
            db,
            ctx,
            status=status,
            label=label,
            annotator=annotator,
            resolution=resolution,
            split=split,
            q=words,
            picked_by=picked_by,
            newest_first=newest,
            limit=limit,
            offset=offset,
        )

    found = _run(go)
    if as_json:
        typer.echo(json.dumps(found, default=str))
    elif show is not None:
        shown = _Shown(spans, str(found["item"]["data"].get("text", "")))
        (_print_own_trace if "answers" in found else _print_trace)(found, shown)
    else:
        (_print_own_answers if found.get("mine") else _print_items)(found, kind[0])


def _seen_by(db: Any, slug: str, username: str | None) -> Any:
    """Project SLUG as member USERNAME sees it (``--as``); without one, as the local operator,
    who sees everything."""
    from labelloop.errors import NotFound
    from labelloop.govern.permissions import Permission
    from labelloop.workflow import accounts, projects

    if username is None:
        return projects.system_context(db, slug)
    user = accounts.user_by_name(db, username)
    if user is None:
        raise NotFound(f"no user named '{username[:100]}'")
    try:
        return projects.access(db, slug, user, Permission.VIEW_PROJECT)
    except NotFound:
        raise NotFound(f"'{user.username}' is no member of a project '{slug[:64]}'") from None


def _shown_name(row: dict[str, Any]) -> str:
    return escape(str(row["external_id"] or f"#{row['id']}"))


EXCERPT = 80
"""Characters of an item's content a list shows."""
MATCH_STYLE = "bold underline"
"""How a list marks the words a search found."""


def _excerpt(row: dict[str, Any]) -> Text:
    """What a list shows of an item: its first ``EXCERPT`` characters, or when the words
    searched for lie further on, the words from a little before the first match; the matches
    (``marks``, as the search found them) styled. Plain text, never read as markup."""
    text, marks = printable(row["text"]), row.get("marks") or []
    start = 0
    if marks and marks[0][0] > EXCERPT // 2:
        at = marks[0][0]
        start = at - EXCERPT // 4
        space = text.find(" ", start, at)  # begin at a word
        start = space + 1 if space >= 0 else start
    end = start + EXCERPT
    more = end < len(text) or row["truncated"]
    shown, done = Text("…" if start else ""), start
    for low, high in marks:
        low, high = max(low, done), min(high, end)
        if low < high:
            shown.append(text[done:low])
            shown.append(text[low:high], style=MATCH_STYLE)
            done = high
    return shown.append(text[done:end] + ("…" if more else ""))


def _print_own_answers(page: dict[str, Any], kind: str) -> None:
    """My answers: each item with the member's own answer (of a ``kind`` target control), the
    verdict on it and when."""
    from labelloop.schema.values import value_words
    from labelloop.workflow import browse

    table = Table(box=None, pad_edge=False)
    for column in ("item", "answer", "verdict", "answered", "content"):
        table.add_column(column, overflow="fold")
    for r in page["items"]:
        table.add_row(
            _shown_name(r),
            escape(value_words(kind, r["label"])),
            browse.STATE_WORDS[r["state"]],
            (r["answered_at"] or "")[:16].replace("T", " "),
            _excerpt(r),
        )
    out.print(fitted(table))
    _print_counted(page, "answer")


def _print_counted(page: dict[str, Any], what: str) -> None:
    """How many were found, and which words were searched when a long query was cut."""
    if page.get("cut"):
        out.print(f"{escape(page['note'])}: {escape(page['q'])}", highlight=False)
    first = page["offset"] + 1 if page["total"] else 0
    last = page["offset"] + len(page["items"])
    # both splits listed: how many are eval items (the project's "labeled" counts the pool's)
    splits = page.get("by_split") or {}
    split = f" ({splits['pool']:,} pool, {splits['eval']:,} eval)" if len(splits) > 1 else ""
    out.print(f"{counted(page['total'], what)}{split}; showing {first:,}-{last:,}")


def _print_items(page: dict[str, Any], kind: str) -> None:
    """Each item with its label (of a ``kind`` target control), how it was decided, who
    answered, its flags and content."""
    from labelloop.schema.values import value_words

    table = Table(box=None, pad_edge=False)
    for column in ("item", "split", "label", "how", "answers", "flags", "content"):
        table.add_column(column, overflow="fold")
    for r in page["items"]:
        answers = ", ".join(
            a["user"] if a["status"] == "submitted" else f"{a['user']} ({_words(a['status'])})"
            for a in r["answers"]
        )
        how = _words(r["resolution"] or "")
        if r["decided_by"]:
            how += f" by {r['decided_by']}"
        table.add_row(
            _shown_name(r),
            r["split"] + (" gold" if r.get("gold") else ""),
            escape(value_words(kind, r["label"]) if r["resolution"] else "—"),
            escape(how),
            escape(answers or "—"),
            escape(", ".join(_words(kind) for kind in r["flags"])),
            _excerpt(r),
        )
    out.print(fitted(table))
    _print_counted(page, "item")


def _flag_words(f: dict[str, Any]) -> str:
    """What a flag says: the label the model suggests and how sure it is, from the flag's data
    where it holds one (the note that raised it says no more), else its note."""
    if f.get("suggestion") is None:
        return str(f["note"] or "")
    sure = f" ({f['confidence']:.2f})" if f.get("confidence") is not None else ""
    return f"model says: {f['suggestion']}{sure}"


def _words(name: str) -> str:
    """A state, resolution or flag kind as the Items page says it: "in review", not "in_review"."""
    return name.replace("_", " ")


def _print_item(item: dict[str, Any]) -> None:
    """A trace's head, as the Items page starts it: the item's name, then its content (the
    text, a row's fields one a line, a media file's path), indented."""
    from labelloop.workflow.seeding import shown_text

    out.print(f"item {_shown_name(item)}")
    content = shown_text(item["data"], between="\n")
    # split on line breaks only: any other control is printed as its stand-in (Terminal)
    for line in content.split("\n") if content else ():
        out.print(f"  {escape(line)}", highlight=False, soft_wrap=True)


class _Shown:
    """How a trace prints a value: JSON, each span carrying the words of the item's text it
    covers (as an export writes it), so a span reads as more than two numbers."""

    def __init__(self, spans: list[str], text: str) -> None:
        self.spans = spans
        self.text = text

    def __call__(self, value: Any) -> str:
        from labelloop.workflow.export import with_span_text

        if self.spans and isinstance(value, dict):
            value = with_span_text(value, self.spans, self.text)
        return json.dumps(value, ensure_ascii=False)


def _print_trace(d: dict[str, Any], shown: _Shown) -> None:
    item = d["item"]
    _print_item(item)
    label = d["label"]
    if label is None:
        out.print("label: none yet")
    else:
        by = f" by {label['decided_by']}" if label["decided_by"] else ""
        out.print(
            f"label: {escape(shown(label['value']))} ({label['resolution']}{escape(by)}, "
            f"{_utc(label['decided_at'])})"
            + (f": {escape(label['note'])}" if label.get("note") else ""),
            highlight=False,
            soft_wrap=True,
        )
    for a in d["annotations"]:
        _print_answer(
            f"answer by {escape(a['user'])}", a, a["status"], shown, now=d["guideline_version"]
        )
        for r in d["reviews"]:
            if r["annotation_id"] == a["id"]:
                _print_review(r, shown)
    for f in d["flags"]:
        state = "open" if f["open"] else "resolved"
        said = f"flag {f['kind']} ({state}): {escape(_flag_words(f))}"
        if f["resolved_note"]:  # the model closed it, and says why
            said += f"; {escape(f['resolved_note'])}"
        out.print(said, highlight=False)
    if d["history"]:
        out.print("history:")
        for h in d["history"]:
            who = h["actor"] or "the local operator"
            out.print(
                f"  {_utc(h['at'])}  {escape(who)}: {escape(_history_words(h, shown))}",
                highlight=False,
                soft_wrap=True,
            )


def _history_words(h: dict[str, Any], shown: _Shown) -> str:
    """An event of an item's history as the Items page says it: what was done, the value it
    set, and the guideline version an answer was given or changed under."""
    p = h.get("payload") or {}
    if h["action"] == "flag.raise":
        return "flagged: " + ", ".join(p.get("kinds") or []).replace("_", " ")
    said = h["words"]
    value = p.get("new", p.get("value"))
    if isinstance(value, dict):
        said += " " + shown(value)
    if p.get("guideline_version"):
        said += f" (guideline v{p['guideline_version']})"
    return said


def _print_answer(
    who: str, a: dict[str, Any], state: str, shown: _Shown, *, now: int | None = None
) -> None:
    """One answer of a trace: its value and state, when, how long, under which guideline (and
    ``now``, the current one, when newer) and model, the suggestion shown and what the answer
    made of it, and why the item was picked."""
    why = a["selection"]
    picked = ": ".join(p for p in (why["strategy"], why["reason"]) if p) or "—"
    came = f"why picked: {picked}"
    if why["strategy"] == "import":  # given in another tool, brought by an import
        came = f"from an import: {why['reason']}"
    suggested = a["suggestion"]["sentence"] if a["suggestion"] else "no suggestion shown"
    # which model picked the item, as the labeling page and the Items page say it
    model = f"picked by model: {why['picked_by']}" if why.get("picked_by") else "no model yet"
    made = a["guideline_version"]
    newer = f" (v{now} now)" if now and made and now > made else ""
    when = _utc(a["created_at"])
    if a.get("changed_at"):  # the value and guideline are the change's: say its time by them
        when += f", changed at {_utc(a['changed_at'])} (guideline v{made})"
    out.print(
        f"{who}: {escape(shown(a['value']))} ({state}), "
        f"{when}, {a['active_ms'] / 1000:.1f} s, "
        f"guideline v{a['guideline_version']}{newer}, {model}; "
        f"{escape(suggested)}; {escape(came)}",
        highlight=False,
        soft_wrap=True,
    )


def _utc(iso: str) -> str:
    """A time of a trace as the terminal shows it: "2024-05-02 12:47 UTC"."""
    return f"{iso[:16].replace('T', ' ')} UTC"


def _print_review(r: dict[str, Any], shown: _Shown) -> None:
    """A verdict under the answer it judged: who, which (at the expert tier when so), when,
    the value a fix set and the note."""
    tier = " (expert tier)" if r.get("tier") == 2 else ""
    fixed = ""
    if r["verdict"] == "fix" and r["corrected_value"] is not None:
        fixed = f" to {shown(r['corrected_value'])}"
    comment = f": {r['comment']}" if r["comment"] else ""
    under = f", guideline v{r['guideline_version']}" if r.get("guideline_version") else ""
    out.print(
        f"  review by {escape(r['reviewer'])}{tier}: {r['verdict']}{escape(fixed)}, "
        f"{_utc(r['created_at'])}{under}{escape(comment)}",
        highlight=False,
        soft_wrap=True,
    )


def _print_own_trace(d: dict[str, Any], shown: _Shown) -> None:
    """What is a member's own of an item's trace: their answers and the verdicts on them."""
    from labelloop.workflow import browse

    _print_item(d["item"])
    for a in d["answers"]:
        _print_answer("your answer", a, browse.STATE_WORDS[a["state"]], shown)
        for r in a["reviews"]:
            _print_review(r, shown)
        if a["refusal"]:
            out.print(f"it cannot change: {escape(a['refusal'])}", soft_wrap=True)


def search(
    slug: str,
    query: Annotated[
        str | None,
        typer.Argument(help=f"Words every found item holds: {QUERY_HELP}."),
    ] = None,
    like: Annotated[
        str | None,
        typer.Option(metavar="ITEM", help="Items most like ITEM (its import id, or #number)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    offset: Annotated[int, typer.Option(min=0, max=10_000)] = 0,
    send: Annotated[
        bool,
        typer.Option(
            "--send",
            help="Send the items shown, those not labeled or queued yet, to the front of the "
            "queue, as the search page's Ctrl+Enter does (audited).",
        ),
    ] = False,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="USER",
            help="Search and send as member USER: the labeling page says 'searched by USER'.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the pool by words, or for items like one, as the search page does.

    Finds a rare class's first examples; --send puts them at the front of the queue, as the
    search page and POST /api/projects/SLUG/seeds do.
    """
    from labelloop.workflow import seeding
    from labelloop.workflow.features import FeatureCache
    from labelloop.workflow.values import find_item

    if (query is None or not query.strip()) == (like is None):  # the API's words are q and like
        _run(lambda: _fail("give QUERY (words to search for) or --like ITEM, one of them"))
    settings, db = _open()
    origin: list[int] = []

    def go() -> dict[str, Any]:
        ctx = _seen_by(db, slug, as_user)
        if like is None:
            found = seeding.search(db, ctx, q=query, limit=limit, offset=offset)
        else:
            with db.read() as conn:
                named = {"item_id": None, "external_id": None, **named_item(like)}
                origin.append(int(find_item(conn, ctx, **named)["id"]))
            # the embeddings the learner stored: a search never computes them
            cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
            found = seeding.search(
                db, ctx, q=query, like=origin[0], limit=limit, offset=offset, cache=cache
            )
        if send:
            fresh = [h["id"] for h in found["items"] if not h["labeled"] and not h["queued"]]
            found["sent"] = (
                seeding.send_to_queue(
                    db,
                    ctx,
                    fresh,
                    query=None if origin else query,
                    like=origin[0] if origin else None,
                )
                if fresh
                else None
            )
        return found

    found = _run(go)
    if as_json:
        typer.echo(json.dumps(found, default=str))
        return
    table = Table(box=None, pad_edge=False)
    for column in ("item", *(("similarity",) if like else ()), "state", "content"):
        table.add_column(column, overflow="fold")
    for hit in found["items"]:
        state = "labeled" if hit["labeled"] else "in the queue" if hit["queued"] else ""
        if like is None:
            table.add_row(_shown_name(hit), state, _excerpt(hit))
            continue
        similarity = "same text" if hit["same_text"] else f"{_floored(hit['score']):.3f}"
        table.add_row(_shown_name(hit), similarity, state, _excerpt(hit))
    if like is not None:  # as the search page says it: which features "like" is measured on
        origin = found["like"]["external_id"] or f"#{found['like']['id']}"
        out.print(f"items most like {escape(origin)}, by {found['by']} similarity", highlight=False)
    if found.get("note") and not found.get("cut"):
        out.print(escape(found["note"]))
    elif found["items"]:
        out.print(fitted(table))
    elif like is None:  # nothing found: how the words were read in this project
        out.print(escape(f"No pool item matches: {found['syntax']}."), highlight=False)
    _print_counted(found, "item")
    if send:
        sent = found["sent"]
        if sent is None:
            out.print("nothing sent: every item shown is labeled or in the queue already")
        else:
            out.print(
                f"sent {counted(len(sent['added']), 'item')} to the front of the queue "
                f'("{escape(sent["reason"])}"); the labeling page serves them next',
                highlight=False,
            )


def _floored(score: float) -> float:
    """Rounded down to 3 decimals: 0.9999 (the same words, another text) must not read 1.000."""
    return int(score * 1000) / 1000
