"""Reading a served page's text in tests."""

from __future__ import annotations

import re


def mentions(text: str, word: str) -> bool:
    """Whether `text` holds `word` as a word of its own.

    A page carries a random CSRF token (letters, digits, `-` and `_`), which now and
    then holds a short name such as "bob"; a plain `in` would read that as the name.
    """
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None
