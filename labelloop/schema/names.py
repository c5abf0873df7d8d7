"""Names people give things and show to others (a project's, its controls', labels' and data
fields', a token's) and one-line notes: nothing in them may disguise them in a list or the
terminal. Item ids and free text (an item's text, its metadata, a flag's note, a review's
comment, a label's description, the guideline) are data and keep every character."""

from __future__ import annotations

import unicodedata

from labelloop.errors import SchemaError

_DISGUISING = ("Cc", "Cf", "Zl", "Zp")
"""Unicode categories that could disguise a name: control characters (a line break, an escape
sequence), formatting ones (a direction override or isolate, U+202A-U+202E and U+2066-U+2069,
a zero-width space) and line and paragraph separators."""

_JOINERS = "\u200c\u200d"
"""The zero-width non-joiner and joiner, which Persian, the scripts of India and emoji sequences
need to write a word or a picture as it is written."""


def disguising_at(text: str) -> int | None:
    """Where in ``text`` its first character that could disguise it is (see :data:`_DISGUISING`),
    None where there is none. A joiner after a character outside ASCII is part of how the word
    is written; after an ASCII letter it only hides itself, and counts."""
    for at, char in enumerate(text):
        if unicodedata.category(char) not in _DISGUISING:
            continue
        if char in _JOINERS and at > 0 and not text[at - 1].isascii():
            continue
        return at
    return None


def refuse_disguised(name: str, path: str) -> None:
    """Raise a SchemaError naming the field ``path``, the character and its place when the
    ``name`` a schema gives holds one that could disguise it: a direction override could make
    one label read as another, on the labeling page, in the export and in the terminal."""
    at = disguising_at(name)
    if at is None:
        return
    char = name[at]
    what = unicodedata.name(char, "a control character")
    shown = repr(name if len(name) <= 60 else name[:60] + "…")
    raise SchemaError(
        f"{path}: {shown} holds U+{ord(char):04X} ({what}) at character {at + 1}; names cannot "
        "hold control or formatting characters, which could make one look like another"
    )
