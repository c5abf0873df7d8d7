"""Learning-curve charts: a PNG, and an HTML page that works offline and escapes names."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from labelloop.insight.curves import Chart, render_html, write_html, write_png
from labelloop.learn.simreport import MeanCurve

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.I)


def chart(name: str = "margin") -> Chart:
    x = np.array([20, 30, 40, 50])
    curves = [
        MeanCurve("random", x, np.array([0.6, 0.65, 0.7, 0.72]), np.full(4, 0.55), np.full(4, 0.8)),
        MeanCurve(name, x, np.array([0.6, 0.75, 0.85, 0.9]), np.full(4, 0.58), np.full(4, 0.92)),
    ]
    return Chart(
        title="Simulation <of> a file",
        subtitle="3 seeds",
        curves={"accuracy": curves, "macro_f1": curves},
        full={"accuracy": 0.92, "macro_f1": 0.9},
        table=[["strategy", "labels to 95%"], [name, "40"], ["random", "not reached"]],
    )


def test_html_is_self_contained_and_draws_every_series() -> None:
    page = render_html(chart())
    assert not EXTERNAL.search(page)
    # 2 metrics, each drawn for a desk and a phone, x 2 strategies
    assert page.count("<svg") == 4 and page.count("<polyline") == 8
    data = json.loads(re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1))
    assert data["metrics"] == ["accuracy", "macro_f1"]
    margin = data["geometry"]["accuracy"]["series"][1]
    assert margin["name"] == "margin" and margin["x"] == [20, 30, 40, 50]
    assert margin["mean"] == [0.6, 0.75, 0.85, 0.9]
    assert "95% of full" in page and "98% of full" in page and "full data" in page


def test_reference_labels_sit_in_the_margin_apart_from_each_other() -> None:
    # Curves from 0.1 stretch the axis: 98% of full data lies 8 units under full data.
    x = np.array([20, 30, 40, 50])
    low = MeanCurve("margin", x, np.array([0.1, 0.5, 0.8, 0.9]), np.full(4, 0.1), np.full(4, 0.9))
    stretched = dataclasses.replace(chart(), curves={"accuracy": [low], "macro_f1": [low]})
    page = render_html(stretched)
    svg = page.split('class="chart wide" data-metric="accuracy"', 1)[1].split("</svg>")[0]
    lines = {
        label: float(y)
        for y, label in re.findall(
            r'class="ref[^"]*" x1="\d+" x2="\d+" y1="([\d.]+)"[^>]*/>'
            r'<text class="reflabel"[^>]*>([^<]+)<',
            svg,
        )
    }
    labels = {
        label: (float(x), float(y))
        for x, y, label in re.findall(r'class="reflabel" x="([\d.]+)" y="([\d.]+)">([^<]+)<', svg)
    }
    assert set(labels) == {"full data", "98% of full", "95% of full"}
    right_edge = max(float(x) for x in re.findall(r'x2="([\d.]+)"', svg))
    assert all(x > right_edge for x, _ in labels.values())  # beside the plot, off the curves
    ys = sorted(y for _, y in labels.values())
    assert all(b - a >= 12 for a, b in zip(ys, ys[1:], strict=False))  # 11 px text, no overlap
    assert lines["98% of full"] - lines["full data"] < 12  # the lines alone would collide
    assert labels["full data"][1] < labels["98% of full"][1] < labels["95% of full"][1]
    # The phone's drawing has no margin to spare: its labels sit inside, right-aligned, apart.
    svg = page.split('class="chart narrow" data-metric="accuracy"', 1)[1].split("</svg>")[0]
    inside = re.findall(r'class="reflabel" x="([\d.]+)" y="([\d.]+)" text-anchor="end">', svg)
    assert len(inside) == 3
    right_edge = max(float(x) for x in re.findall(r'x2="([\d.]+)"', svg))
    assert all(float(x) < right_edge for x, _ in inside)
    ys = sorted(float(y) for _, y in inside)
    assert all(b - a >= 14 for a, b in zip(ys, ys[1:], strict=False))  # 13 px text


def test_html_escapes_names_in_markup_and_in_the_data() -> None:
    name = '<img src="http://evil.example/x"></script>'
    page = render_html(chart(name))
    assert "<img" not in page and page.count("</script>") == 2  # the data's and the code's
    assert not EXTERNAL.search(page)
    assert "&lt;img" in page and "Simulation &lt;of&gt; a file" in page
    data = re.search(r'id="chart-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["geometry"]["accuracy"]["series"][1]["name"] == name


def test_files_are_written(tmp_path: Path) -> None:
    write_html(tmp_path / "c.html", chart())
    assert (tmp_path / "c.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    pytest.importorskip("matplotlib")
    write_png(tmp_path / "c.png", chart())
    data = (tmp_path / "c.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
