"""The one tokenizer: emoji stay whole, and the labeling page cuts every text as the server does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from labelloop.schema.tokens import tokenize
from tests.schema.token_texts import TEXTS

SPANS_JS = Path(__file__).parents[2] / "labelloop" / "server" / "web" / "static" / "spans.js"

# spans.js run outside a browser: the page's tokenizer and offset maps, as L.spans gives them.
PAGE_TOKENS = """
const fs = require("fs");
globalThis.window = { labelloop: {} };
globalThis.document = { addEventListener() {} };
eval(fs.readFileSync(process.argv[1], "utf8"));
const { tokenize, offsetMaps } = window.labelloop.spans;
const texts = JSON.parse(fs.readFileSync(0, "utf8"));
console.log(JSON.stringify(texts.map((t) => {
  const m = offsetMaps(t);
  return tokenize(t).map((k) => [m.toCp[k.s], m.toCp[k.e]]);
})));
"""


def _words(text: str) -> list[str]:
    return [text[s:e] for s, e in tokenize(text)]


def test_an_emoji_is_one_token_with_its_joiners_skin_tone_and_flag_letters() -> None:
    england = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    family, pride = "👩\u200d👩\u200d👧", "🏳\ufe0f\u200d🌈"
    assert _words(f"{family} {pride} 🇫🇷🇩🇪 👍🏽 {england}!") == [
        family,
        pride,
        "🇫🇷",
        "🇩🇪",
        "👍🏽",
        england,
        "!",
    ]
    # A word ends where an emoji starts; a lone regional letter is a token of its own.
    assert _words("hi👋🏽there 🇫 x") == ["hi", "👋🏽", "there", "🇫", "x"]


def test_a_zero_width_joiner_or_non_joiner_stays_in_its_word() -> None:
    # Persian writes "I want" with a non-joiner inside the word; Hindi joins a half letter.
    assert _words("می\u200cخواهم बोल क्\u200dष") == ["می\u200cخواهم", "बोल", "क्\u200dष"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the page's script")
def test_the_page_cuts_every_text_into_the_servers_tokens() -> None:
    run = subprocess.run(
        ["node", "-e", PAGE_TOKENS, str(SPANS_JS)],
        input=json.dumps(TEXTS),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    in_page = json.loads(run.stdout)
    for text, tokens in zip(TEXTS, in_page, strict=True):
        assert tokens == [list(t) for t in tokenize(text)], text
