"""Learning-curve charts of a simulation: a PNG (matplotlib) and a self-contained HTML page.

The HTML page draws inline SVG with a few lines of inline JavaScript (hover read-out, strategies
toggled from the legend, accuracy / macro-F1 switch); it loads nothing from the network, so it
opens offline and can be mailed around. matplotlib is an optional dependency (``labelloop[sim]``)
imported only by :func:`write_png`.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labelloop.learn.simreport import MeanCurve

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
)  # fmt: skip
"""Colours of the strategies in order (matplotlib's tab10, colour-blind friendlier first)."""
METRIC_NAMES = {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}


@dataclass(frozen=True)
class Layout:
    """One drawing of a chart: its SVG size and margins, in SVG units, and its text sizes."""

    name: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    refs_inside: bool
    """Reference labels above their lines inside the plot, else in the right margin."""
    label_gap: int
    """Least vertical distance between two reference labels."""
    x_ticks: int


WIDE = Layout("wide", 820, 460, 64, 84, 16, 48, refs_inside=False, label_gap=13, x_ticks=6)
"""The desktop drawing: 11 and 12 unit text, read at about its size from 820 px wide."""
NARROW = Layout("narrow", 360, 300, 62, 20, 18, 42, refs_inside=True, label_gap=15, x_ticks=4)
"""The phone drawing (pages under 860 px): 13 and 14 unit text that stays 11 px or more down to
a 390 px screen, where the wide one's shrank to 5 px; its reference labels sit inside the plot."""
LAYOUTS = (WIDE, NARROW)


@dataclass(frozen=True)
class Chart:
    """What the charts show: mean curves per metric and the full-data reference lines."""

    title: str
    subtitle: str
    curves: Mapping[str, Sequence[MeanCurve]]
    """Metric (``"accuracy"``, ``"macro_f1"``) -> one mean curve per strategy."""
    full: Mapping[str, float]
    """Metric -> mean full-data value over the seeds."""
    levels: Sequence[float] = (0.95, 0.98)
    table: Sequence[Sequence[str]] = field(default=())
    """Optional summary table, header row first, shown under the chart as plain text."""
    text_columns: Sequence[int] = (0,)
    """Columns of ``table`` aligned left (the others hold numbers and align right)."""
    verdict: str = ""
    """Optional sentence on which strategy did best, shown under the subtitle."""
    caption: str = ""
    """Optional note on the table's cells, shown under it."""


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _y_range(chart: Chart, metric: str) -> tuple[float, float]:
    curves = chart.curves[metric]
    lows = [float(c.low.min()) for c in curves if c.low.size]
    top = max([float(c.high.max()) for c in curves if c.high.size] + [chart.full[metric]])
    bottom = min(lows) if lows else 0.0
    lo = math.floor(bottom * 20) / 20
    hi = min(1.0, math.ceil(top * 20) / 20 + 0.0001)
    return (lo, hi) if hi > lo else (max(0.0, lo - 0.05), min(1.0, hi + 0.05))


def write_png(path: Path, chart: Chart, *, metric: str = "accuracy") -> None:
    """Draw ``metric``'s curves (mean line, min-max band over seeds) into a PNG at ``path``.

    Raises
    ------
    ImportError
        When matplotlib is not installed (``pip install labelloop[sim]``).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.2, 4.6), dpi=110)
    try:
        for i, curve in enumerate(chart.curves[metric]):
            x = curve.n_labels
            ax.fill_between(x, curve.low, curve.high, color=colour(i), alpha=0.12, linewidth=0)
            ax.plot(x, curve.mean, color=colour(i), linewidth=1.8, label=curve.strategy)
        full = chart.full[metric]
        ax.axhline(full, color="#333333", linewidth=1, label="full data")
        lo, hi = _y_range(chart, metric)
        levels = sorted(chart.levels, reverse=True)  # top to bottom, as _spread places them
        # Heights as shares of the axes from the top; 0.035 of its 4 inches clears 7 pt text.
        tops = _spread([(hi - level * full) / (hi - lo) for level in levels], gap=0.035)
        for level, top in zip(levels, tops, strict=True):
            ax.axhline(level * full, color="#777777", linewidth=0.8, linestyle="--")
            ax.annotate(  # in the right margin, beside the line, off the curves
                f"{level:.0%} of full",
                xy=(1.01, 1 - top),
                xycoords="axes fraction",
                ha="left",
                va="center",
                fontsize=7,
                color="#555555",
                annotation_clip=False,
            )
        ax.set_ylim(lo, hi)
        ax.set_xlabel("labels")
        ax.set_ylabel(f"test {METRIC_NAMES.get(metric, metric).lower()}")
        ax.set_title(f"{chart.title}\n{chart.subtitle}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


# --- HTML ---------------------------------------------------------------------------------------


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]."""
    span = hi - lo or 1.0
    raw = span / n
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.ceil(lo / step) * step
    ticks = []
    v = start
    while v <= hi + 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _spread(ys: list[float], gap: float) -> list[float]:
    """Heights for labels of lines at ``ys`` (top to bottom, as the references are drawn), each
    at its line unless that would put it within ``gap`` of the one above: 98% of full data lies
    a few pixels under full data, and their labels would print over each other."""
    placed: list[float] = []
    for y in ys:
        placed.append(max(y, placed[-1] + gap) if placed else y)
    return placed


def _svg(chart: Chart, metric: str, layout: Layout = WIDE) -> str:
    """The SVG of one metric drawn in ``layout``."""
    lay = layout
    curves = chart.curves[metric]
    x_min, x_max = _x_range(chart, metric)
    y_lo, y_hi = _y_range(chart, metric)
    plot_w, plot_h = lay.width - lay.left - lay.right, lay.height - lay.top - lay.bottom
    right, bottom = lay.width - lay.right, lay.height - lay.bottom

    def sx(v: float) -> float:
        return lay.left + (v - x_min) / max(1, x_max - x_min) * plot_w

    def sy(v: float) -> float:
        return lay.top + (1 - (v - y_lo) / (y_hi - y_lo)) * plot_h

    parts = [
        f'<svg class="chart {lay.name}" data-metric="{metric}" data-left="{lay.left}" '
        f'data-plot-width="{plot_w}" viewBox="0 0 {lay.width} {lay.height}" '
        f'role="img" aria-label="{html.escape(METRIC_NAMES.get(metric, metric))} learning curves">'
    ]
    for t in _ticks(y_lo, y_hi):
        y = sy(t)
        parts.append(
            f'<line class="grid" x1="{lay.left}" x2="{right}" y1="{y:.1f}" '
            f'y2="{y:.1f}"/><text class="tick" x="{lay.left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{t:.2f}</text>'
        )
    for t in _ticks(x_min, x_max, lay.x_ticks):
        if t < x_min:
            continue
        x = sx(t)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{lay.top}" '
            f'y2="{bottom}"/><text class="tick" x="{x:.1f}" '
            f'y="{bottom + 16}" text-anchor="middle">{int(t):,}</text>'
        )
    parts.append(
        f'<text class="axis" x="{lay.left + plot_w / 2:.0f}" y="{lay.height - 8}" '
        'text-anchor="middle">labels</text>'
    )
    parts.append(
        f'<text class="axis" transform="translate(16 {lay.top + plot_h / 2:.0f}) '
        f'rotate(-90)" text-anchor="middle">test '
        f"{html.escape(METRIC_NAMES.get(metric, metric).lower())}</text>"
    )
    full = chart.full[metric]
    refs = [(full, "full data", "ref full")] + [
        (level * full, f"{level:.0%} of full", "ref") for level in chart.levels
    ]
    shown = sorted((sy(value), label, cls) for value, label, cls in refs if y_lo <= value <= y_hi)
    on_top = []  # labels inside the plot go over every line, each on a white halo
    for (y, label, cls), at in zip(
        shown, _spread([y for y, _, _ in shown], lay.label_gap), strict=True
    ):
        parts.append(
            f'<line class="{cls}" x1="{lay.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        if lay.refs_inside:
            on_top.append(
                f'<text class="reflabel" x="{right - 4}" y="{at - 4:.1f}" '
                f'text-anchor="end">{label}</text>'
            )
        else:
            parts.append(f'<text class="reflabel" x="{right + 6}" y="{at + 4:.1f}">{label}</text>')
    for i, c in enumerate(curves):
        name = html.escape(c.strategy, quote=True)
        upper = [f"{sx(x):.1f},{sy(v):.1f}" for x, v in zip(c.n_labels, c.high, strict=True)]
        lower = [f"{sx(x):.1f},{sy(v):.1f}" for x, v in zip(c.n_labels, c.low, strict=True)]
        line = [f"{sx(x):.1f},{sy(v):.1f}" for x, v in zip(c.n_labels, c.mean, strict=True)]
        parts.append(
            f'<g class="series" data-series="{name}" style="--c:{colour(i)}">'
            f'<polygon class="band" points="{" ".join(upper + lower[::-1])}"/>'
            f'<polyline class="line" points="{" ".join(line)}"/></g>'
        )
    parts.extend(on_top)
    parts.append(
        f'<line class="cursor" x1="0" x2="0" y1="{lay.top}" y2="{bottom}" visibility="hidden"/>'
    )
    parts.append(
        f'<rect class="hit" x="{lay.left}" y="{lay.top}" width="{plot_w}" height="{plot_h}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _x_range(chart: Chart, metric: str) -> tuple[int, int]:
    curves = chart.curves[metric]
    x_max = max((int(c.n_labels.max()) for c in curves if c.n_labels.size), default=1)
    x_min = min((int(c.n_labels.min()) for c in curves if c.n_labels.size), default=0)
    return x_min, x_max


def _geometry(chart: Chart, metric: str) -> dict[str, object]:
    """The numbers the page script needs to read a metric's SVGs (each says its own margins)."""
    curves = chart.curves[metric]
    x_min, x_max = _x_range(chart, metric)
    full = chart.full[metric]
    return {
        "x0": x_min,
        "x1": x_max,
        "series": [
            {
                "name": c.strategy,
                "colour": colour(i),
                "x": [int(v) for v in c.n_labels],
                "mean": [round(float(v), 4) for v in c.mean],
                "low": [round(float(v), 4) for v in c.low],
                "high": [round(float(v), 4) for v in c.high],
            }
            for i, c in enumerate(curves)
        ],
        "full": round(full, 4),
    }


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;
max-width:900px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#555;margin:0 0 12px}
.tabs button,.legend button{font:inherit;border:1px solid #bbb;background:#fff;border-radius:4px;
padding:3px 10px;margin:0 6px 6px 0;cursor:pointer}
.tabs button[aria-pressed=true]{background:#222;color:#fff;border-color:#222}
.legend button[aria-pressed=false]{opacity:.4;text-decoration:line-through}
.sw{display:inline-block;width:12px;height:3px;margin:0 6px 3px 0;vertical-align:middle}
.wrap{position:relative}.chart{width:100%;height:auto;display:block}
.grid{stroke:#e5e5e5}.tick,.reflabel{font-size:11px;fill:#666}.axis{font-size:12px;fill:#333}
.narrow .tick,.narrow .reflabel{font-size:13px}.narrow .axis{font-size:14px}
svg.narrow{display:none;max-width:480px}
.narrow .reflabel{paint-order:stroke;stroke:#fff;stroke-width:4px}
.ref{stroke:#888;stroke-dasharray:5 4}.ref.full{stroke:#333;stroke-dasharray:none}
.band{fill:var(--c);opacity:.12}.line{fill:none;stroke:var(--c);stroke-width:2}
.series.off{display:none}.cursor{stroke:#999}.hit{fill:transparent}
#tip{position:absolute;pointer-events:none;background:#fff;border:1px solid #ccc;border-radius:4px;
padding:6px 8px;font-size:12px;box-shadow:0 1px 4px rgba(0,0,0,.15);display:none;white-space:nowrap}
.figures{overflow-x:auto}table{border-collapse:collapse;margin-top:16px;font-size:13px}
td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
td{white-space:pre-line}.text{text-align:left}
@media (max-width:600px){body{margin:16px}td{white-space:pre}}
@media (max-width:860px){svg.wide{display:none}svg.narrow{display:block}}
@media (pointer:coarse),(max-width:600px){.tabs button,.legend button{min-height:44px;
padding:6px 14px;margin:0 8px 8px 0}}
"""

_SCRIPT = """
(function(){
  var data = JSON.parse(document.getElementById('chart-data').textContent);
  var tip = document.getElementById('tip');
  var hidden = {}, metric = data.metrics[0];
  function esc(s){
    return String(s).replace(/[&<>"']/g, function(c){return '&#' + c.charCodeAt(0) + ';';});
  }
  function show(m){
    metric = m;
    document.querySelectorAll('svg.chart').forEach(function(s){
      s.style.display = s.getAttribute('data-metric') === m ? '' : 'none';});
    document.querySelectorAll('.tabs button').forEach(function(b){
      b.setAttribute('aria-pressed', b.getAttribute('data-metric') === m);});
  }
  document.querySelectorAll('.tabs button').forEach(function(b){
    b.addEventListener('click', function(){show(b.getAttribute('data-metric'));});});
  document.querySelectorAll('.legend button').forEach(function(b){
    b.addEventListener('click', function(){
      var name = b.getAttribute('data-series'); hidden[name] = !hidden[name];
      b.setAttribute('aria-pressed', !hidden[name]);
      document.querySelectorAll('g.series').forEach(function(g){
        if (g.getAttribute('data-series') === name) g.classList.toggle('off', hidden[name]);});
    });});
  document.querySelectorAll('svg.chart').forEach(function(svg){
    var g = data.geometry[svg.getAttribute('data-metric')], cursor = svg.querySelector('.cursor');
    var left = +svg.getAttribute('data-left'), width = +svg.getAttribute('data-plot-width');
    svg.addEventListener('mousemove', function(ev){
      var box = svg.getBoundingClientRect(), scale = box.width / svg.viewBox.baseVal.width;
      var px = (ev.clientX - box.left) / scale;
      var x = g.x0 + (px - left) / width * (g.x1 - g.x0);
      var rows = [], best = null;
      g.series.forEach(function(s){
        if (hidden[s.name] || !s.x.length) return;
        var i = 0, d = Infinity;
        s.x.forEach(function(v, j){ if (Math.abs(v - x) < d){ d = Math.abs(v - x); i = j; } });
        if (best === null) best = s.x[i];
        rows.push('<div><span class="sw" style="background:' + s.colour + '"></span>' +
          esc(s.name) + ' ' + s.mean[i].toFixed(3) + ' <span style="color:#888">(' +
          s.low[i].toFixed(3) + '\\u2013' + s.high[i].toFixed(3) + ')</span></div>');
      });
      if (best === null){ tip.style.display = 'none'; return; }
      var cx = left + (best - g.x0) / Math.max(1, g.x1 - g.x0) * width;
      cursor.setAttribute('x1', cx); cursor.setAttribute('x2', cx);
      cursor.setAttribute('visibility', 'visible');
      tip.innerHTML = '<b>' + best.toLocaleString() + ' labels</b> (full data ' +
        g.full.toFixed(3) + ')' + rows.join('');
      tip.style.display = 'block';
      var at = cx * scale + 12;
      if (at + tip.offsetWidth > box.width) at = cx * scale - tip.offsetWidth - 12;
      tip.style.left = at + 'px'; tip.style.top = '8px';
    });
    svg.addEventListener('mouseleave', function(){
      tip.style.display = 'none'; cursor.setAttribute('visibility', 'hidden');});
  });
  show(metric);
})();
"""


def render_html(chart: Chart) -> str:
    """The whole page as one string: inline CSS, SVG and script, no external reference."""
    metrics = [m for m in chart.curves if chart.curves[m]]
    svgs, geometry = [], {}
    for metric in metrics:
        geometry[metric] = _geometry(chart, metric)
        svgs.extend(_svg(chart, metric, layout) for layout in LAYOUTS)
    names = [c.strategy for c in chart.curves[metrics[0]]] if metrics else []
    payload = json.dumps({"metrics": metrics, "geometry": geometry})
    # Strategy names are text: "<", ">" and "&" as JSON escapes can neither end the script
    # element nor start markup, and JSON.parse reads them back unchanged.
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    tabs = "".join(
        f'<button type="button" data-metric="{m}">{html.escape(METRIC_NAMES.get(m, m))}</button>'
        for m in metrics
    )
    legend = "".join(
        f'<button type="button" aria-pressed="true" data-series="{html.escape(n, quote=True)}">'
        f'<span class="sw" style="background:{colour(i)}"></span>{html.escape(n)}</button>'
        for i, n in enumerate(names)
    )
    table = ""

    def left(column: int) -> str:
        return ' class="text"' if column in chart.text_columns else ""

    if chart.table:
        head, *rows = chart.table
        table = (
            '<div class="figures"><table><thead><tr>'
            + "".join(f"<th{left(i)}>{html.escape(h)}</th>" for i, h in enumerate(head))
            + "</tr></thead><tbody>"
            + "".join(
                "<tr>"
                + "".join(f"<td{left(i)}>{html.escape(v)}</td>" for i, v in enumerate(row))
                + "</tr>"
                for row in rows
            )
            + "</tbody></table></div>"
        )
    said = chart.verdict[:1].upper() + chart.verdict[1:]  # a sentence, as the project page says it
    verdict = f'<p class="verdict">{html.escape(said)}.</p>' if said else ""
    caption = f'<p class="sub">{html.escape(chart.caption)}</p>' if chart.caption else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(chart.title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{html.escape(chart.title)}</h1><p class="sub">{html.escape(chart.subtitle)}</p>'
        f"{verdict}"
        f'<div class="tabs">{tabs}</div><div class="legend">{legend}</div>'
        f'<div class="wrap">{"".join(svgs)}<div id="tip"></div></div>{table}'
        f"{caption}"
        '<p class="sub">Lines: mean over seeds; bands: lowest to highest seed. Dashed: shares '
        "of the accuracy of a model trained on the whole pool. Click a strategy to hide it.</p>"
        f'<script type="application/json" id="chart-data">{payload}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(path: Path, chart: Chart) -> None:
    """Write :func:`render_html` to ``path`` as UTF-8."""
    path.write_text(render_html(chart), encoding="utf-8")
