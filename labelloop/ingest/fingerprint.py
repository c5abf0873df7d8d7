"""Content fingerprints, so the same text imported twice is recognised as a duplicate."""

from __future__ import annotations

import hashlib
import unicodedata


def content_hash(text: str) -> str:
    """Hex sha256 of ``text`` with case, Unicode composition and whitespace runs normalized away."""
    # NFD -> casefold -> NFC is Unicode's canonical caseless matching; split() collapses and strips.
    normal = unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())
    return hashlib.sha256(" ".join(normal.split()).encode("utf-8")).hexdigest()
