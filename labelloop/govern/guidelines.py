"""Annotation guidelines: Markdown rendered to safe HTML, and diffs between versions."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

SAFE_SCHEMES: tuple[str, ...] = ("http", "https", "mailto")
"""URL schemes a guideline link or image may use; scheme-less (relative) URLs are allowed too."""

_SCHEME = re.compile(r"^([^/?#]*):")

SHORT_HASH = 12
"""Hex digits of a text's SHA-256 a listing shows: enough to tell versions apart at a glance."""


def text_sha256(text: str) -> str:
    """The SHA-256 of a guideline's text (its UTF-8 bytes), in hex. The audit event that
    publishes a version records it, so the trail proves which text the version had even if the
    stored text is changed later in the database."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_state(sha256: str, recorded: str | None) -> str:
    """Whether a version's stored text is the one its publishing audit event recorded:
    ``matches``, ``changed`` (the stored text was changed after it was published) or ``not
    recorded`` (published before labelloop recorded text hashes: nothing to compare)."""
    if recorded is None:
        return "not recorded"
    return "matches" if recorded == sha256 else "changed"


def version_at(published: Sequence[tuple[int, datetime]], at: datetime) -> int | None:
    """The guideline version in force at ``at``: the newest of ``published`` ((version, when
    published), oldest first) published by then; None before the first. What is done under a
    guideline without recording its version (a review verdict) was done under this one."""
    current = None
    for version, when in published:
        if when > at:
            break
        current = version
    return current


def render_markdown(text: str) -> str:
    """Guideline Markdown as HTML: raw HTML escaped; only http(s), mailto, relative links kept."""
    html: str = _renderer().render(text)
    return html


def guideline_diff(old: str, new: str, *, old_name: str = "before", new_name: str = "after") -> str:
    """A unified diff of two guideline versions, line by line, for the change history."""
    return "".join(
        difflib.unified_diff(
            _lines(old), _lines(new), fromfile=old_name, tofile=new_name, lineterm="\n"
        )
    )


def changed_lines(old: str, new: str) -> tuple[int, int]:
    """How many lines ``new`` adds to ``old`` and removes from it: the ``+`` and ``-`` lines of
    :func:`guideline_diff`, counted from the same matching rather than parsed back out of it."""
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, _lines(old), _lines(new))
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def _lines(text: str) -> list[str]:
    """``text`` split into lines that all end in a newline, so the last line diffs cleanly."""
    return [line + "\n" for line in text.splitlines()]


def _safe_link(url: str) -> bool:
    """Allow a link only if it has no scheme or one of SAFE_SCHEMES (blocks javascript:, data:)."""
    match = _SCHEME.match(url.strip())
    return match is None or match.group(1).lower() in SAFE_SCHEMES


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    """The one CommonMark renderer, built on first use rather than at import."""
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = _safe_link  # type: ignore[method-assign]
    md.add_render_rule("image", _image)
    return md


_ITEM_PICTURE = re.compile(r"/api/projects/[\w-]+/items/\d+/(media|thumbnail)(\?size=\d+)?")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_./-]+")


def _own_picture(src: str) -> bool:
    """Whether a scheme-less image URL is a picture labelloop serves and nothing more: an item's
    media or thumbnail, a file under ``/static/``, or a plain path beside the page. The reader's
    page fetches an image with their session, so one naming another API route (an export, a
    model file, the next review) would run it as each reader; ``//`` names another site, ``%``
    and ``..`` could lead anywhere."""
    if _ITEM_PICTURE.fullmatch(src):
        return True
    if not _PLAIN_PATH.fullmatch(src) or ".." in src.split("/"):
        return False
    return src.startswith("/static/") or not src.startswith("/")


def _image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """An image on another site becomes a link to it: shown inline, every annotator's page
    would fetch it from there (telling that site who reads the guideline, and when). Pictures
    labelloop serves show as images (:func:`_own_picture`); any other URL is a link too."""
    token = tokens[idx]
    src = token.attrGet("src") or ""
    if not _SCHEME.match(src) and _own_picture(src):
        return str(self.image(tokens, idx, options, env))
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escapeHtml(src)}" rel="noopener noreferrer">{escapeHtml(alt)} (image)</a>'
