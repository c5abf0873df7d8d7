"""Guideline Markdown renders to HTML a browser cannot be tricked by; versions diff line by line."""

from __future__ import annotations

import pytest

from labelloop.govern import changed_lines, guideline_diff, render_markdown


def test_markdown_renders() -> None:
    html = render_markdown("# Sentiment\n\nLabel the **author's** attitude.\n\n- one\n- two\n")
    assert "<h1>Sentiment</h1>" in html
    assert "<strong>author's</strong>" in html
    assert "<li>one</li>" in html


def test_raw_html_is_escaped() -> None:
    html = render_markdown('Hi <script>alert("x")</script>\n\n<img src=x onerror=alert(1)>\n')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](  javascript:alert(1) )",
        "<javascript:alert(1)>",
        "![x](data:text/html;base64,PHNjcmlwdD4=)",
        "[click](vbscript:msgbox)",
        "[click](file:///etc/passwd)",
        "[click]: javascript:alert(1)\n\n[click]",
    ],
)
def test_dangerous_links_are_inert(source: str) -> None:
    html = render_markdown(source)
    assert "href=" not in html
    assert "src=" not in html


@pytest.mark.parametrize(
    ("source", "href"),
    [
        ("[a](https://example.org/x?y=1)", "https://example.org/x?y=1"),
        ("[a](http://example.org)", "http://example.org"),
        ("[a](mailto:lead@example.org)", "mailto:lead@example.org"),
        ("[a](../exemplars/42)", "../exemplars/42"),
        ("[a](#labels)", "#labels"),
        ("<https://example.org>", "https://example.org"),
    ],
)
def test_safe_links_work(source: str, href: str) -> None:
    assert f'href="{href}"' in render_markdown(source)


def test_guideline_diff() -> None:
    old = "Label the attitude.\nIgnore sarcasm."
    new = "Label the attitude.\nSarcasm counts as negative.\n"
    diff = guideline_diff(old, new)
    assert diff.splitlines() == [
        "--- before",
        "+++ after",
        "@@ -1,2 +1,2 @@",
        " Label the attitude.",
        "-Ignore sarcasm.",
        "+Sarcasm counts as negative.",
    ]
    assert guideline_diff(new, new) == ""
    assert guideline_diff("", "x", old_name="v1", new_name="v2").startswith("--- v1\n+++ v2\n")


def test_changed_lines_count_what_the_diff_adds_and_removes() -> None:
    old = "Label the attitude.\nIgnore sarcasm.\n++ not a header\n"
    new = "Label the attitude.\nSarcasm counts as negative.\nEmoji count too.\n"
    diff = guideline_diff(old, new).splitlines()[2:]  # past the file headers
    assert changed_lines(old, new) == (
        sum(line.startswith("+") for line in diff),
        sum(line.startswith("-") for line in diff),
    )
    assert changed_lines(old, new) == (2, 2)
    assert changed_lines(new, new) == (0, 0)
    assert changed_lines("", "one\ntwo") == (2, 0)


def test_an_image_on_another_site_is_a_link_and_labelloops_own_stays_an_image() -> None:
    """Shown inline, an image on another site would be fetched from there by every annotator's
    page (a tracking pixel in a guideline); it becomes a link that names it."""
    html = render_markdown("See ![the logo](https://elsewhere.example/t.png) and ![a cat](cat.png)")
    assert 'src="https://elsewhere.example' not in html
    assert (
        '<a href="https://elsewhere.example/t.png" rel="noopener noreferrer">the logo (image)</a>'
        in html
    )
    assert '<img src="cat.png" alt="a cat" />' in html


@pytest.mark.parametrize("src", ["//elsewhere.example/t.png", "///elsewhere.example/t.png"])
def test_an_image_on_another_site_without_a_scheme_is_a_link_too(src: str) -> None:
    """A URL that starts with ``//`` takes the page's scheme and names another host (browsers
    read ``///host`` as ``//host`` too): shown inline it would be fetched from that site."""
    html = render_markdown(f"![the logo]({src}) and ![ours](/static/favicon.svg)")
    assert '<img src="//' not in html and '<img src="///' not in html
    assert f'<a href="{src}" rel="noopener noreferrer">the logo (image)</a>' in html
    assert '<img src="/static/favicon.svg" alt="ours" />' in html


@pytest.mark.parametrize(
    "src",
    [
        "/api/projects/other/export",  # an export of another project, audited as the reader's
        "/api/projects/sent/model",  # a model trained for each reader
        "/api/projects/sent/reviews/next",  # a review leased to each reviewer who reads it
        "../../api/projects/sent/adjudications/next",
        "/%61pi/projects/other/export",  # the server reads %61 as "a"
        "/static/../api/projects/other/export",
        "/api/projects/sent/items/5/media/../../../export",
    ],
)
def test_an_image_that_asks_labelloops_api_for_more_than_a_picture_is_a_link(src: str) -> None:
    """A reader's page fetches a guideline's image with the reader's session: an image naming
    an export, a model file or the next review would run it as each reader, in any project
    they are in. Only an item's picture, labelloop's own files and paths beside the page are
    shown inline; anything else becomes a link that names it."""
    html = render_markdown(f"![the chart]({src})")
    assert "<img" not in html
    assert 'rel="noopener noreferrer">the chart (image)</a>' in html


def test_an_items_picture_and_labelloops_own_files_stay_images() -> None:
    shown = [
        "/api/projects/sent/items/5/media",
        "/api/projects/sent/items/5/thumbnail?size=96",
        "/static/favicon.svg",
        "cat.png",
        "pictures/cat.png",
    ]
    html = render_markdown(" ".join(f"![{i}]({src})" for i, src in enumerate(shown)))
    assert html.count("<img") == len(shown)
    assert all(f'<img src="{src}" alt="{i}" />' in html for i, src in enumerate(shown))


def test_the_version_in_force_is_the_newest_published_by_then() -> None:
    from datetime import UTC, datetime, timedelta

    from labelloop.govern.guidelines import version_at

    t0 = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
    published = [(1, t0), (2, t0 + timedelta(minutes=30))]
    assert version_at(published, t0 - timedelta(seconds=1)) is None  # before any guideline
    assert version_at(published, t0 + timedelta(minutes=17)) == 1
    assert version_at(published, t0 + timedelta(minutes=30)) == 2  # published that instant
    assert version_at(published, t0 + timedelta(days=1)) == 2
    assert version_at([], t0) is None
