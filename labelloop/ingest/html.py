"""HTML items: markup cleaned to a safe subset on import, so nothing in an item can run.

The sanitizer is ammonia (through ``nh3``): an allow-list HTML5 parser, not a pattern filter.
Kept: text formatting, headings, lists, quotes, code, tables, links and images. Dropped: scripts
and styles with their content, every event handler, ``style`` and ``class`` attributes, forms,
frames, SVG and MathML, comments, and any URL that is not http(s) (or mailto for links);
relative URLs are dropped too, so an item cannot make the page request labelloop's own API.
Links open in a new tab without a referrer; images load lazily without a referrer.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

_KEPT_BLOCKS: frozenset[str] = frozenset(
    [
        "blockquote",
        "br",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
"""Kept tags that end a block of text (visible text puts a space there)."""
TAGS: frozenset[str] = _KEPT_BLOCKS | frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "col",
        "colgroup",
        "data",
        "del",
        "dfn",
        "em",
        "i",
        "img",
        "ins",
        "kbd",
        "mark",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
    ]
)
"""Tags kept; any other tag is removed and its text kept (script-like ones lose their text)."""
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "reversed"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "time": {"datetime"},
    "data": {"value"},
    "del": {"datetime"},
    "ins": {"datetime"},
    "bdo": {"dir"},
}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
_IMAGE_SCHEMES = ("http://", "https://")
_BLOCKS = _KEPT_BLOCKS | {"address", "article", "aside", "section"}
"""Tags that end a block of text; the four added here are dropped by the sanitizer but may be
in markup read unsanitized."""


def _filter(tag: str, attribute: str, value: str) -> str | None:
    """Images load only over http(s) (no mailto:, which the shared scheme list allows)."""
    if tag == "img" and attribute == "src" and not value.lower().startswith(_IMAGE_SCHEMES):
        return None
    return value


def sanitize_html(markup: str) -> str:
    """``markup`` reduced to the allowed tags, attributes and URL schemes."""
    return nh3.clean(
        markup,
        tags=set(TAGS),
        clean_content_tags={"script", "style", "template", "noscript", "iframe", "object"},
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=_filter,
        url_schemes=set(URL_SCHEMES),
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={
            "a": {"target": "_blank"},
            "img": {"referrerpolicy": "no-referrer", "loading": "lazy"},
        },
        strip_comments=True,
    )


class _Text(HTMLParser):
    """Collects the text of (sanitized) markup, with a space where a block ends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(markup: str) -> str:
    """The words a reader sees in sanitized ``markup`` (image alt texts included), one-spaced."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


def html_payload(markup: str) -> dict[str, str]:
    """An HTML item's payload: the sanitized markup and its visible text (what models learn)."""
    clean = sanitize_html(markup)
    return {"html": clean, "text": visible_text(clean)}
