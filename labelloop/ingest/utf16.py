"""Offsets counted in UTF-16 code units, as JavaScript indexes strings, and characters.

Tools whose editors run in the browser (doccano, some Label Studio versions) store span offsets
as JavaScript string indices, where a character past U+FFFF (most emoji) counts two; labelloop
counts characters (code points), as Python does. The two agree on a text without such
characters.
"""

from __future__ import annotations


def to_utf16(text: str, index: int) -> int:
    """The UTF-16 code-unit offset of character ``index`` of ``text``."""
    return len(text[:index].encode("utf-16-le")) // 2


def from_utf16(text: str, offset: int) -> int | None:
    """The character index of the UTF-16 code-unit ``offset`` into ``text``; None past its end
    or inside a surrogate pair (half of one character)."""
    units = text.encode("utf-16-le")
    if not 0 <= offset <= len(units) // 2:
        return None
    try:
        return len(units[: 2 * offset].decode("utf-16-le"))
    except UnicodeDecodeError:  # the offset splits a surrogate pair
        return None
