"""Texts the labeling page and the server must cut into the same tokens (tests/schema and e2e)."""

EMOJI_TEXTS = (
    "Family 👩‍👩‍👧 at the pride 🏳️‍🌈 parade in Paris 🇫🇷, thumbs up 👍🏽!",
    "🇩🇪🇫🇷🇯🇵 three flags, 🇫 half of one, 🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland's and 🏴‍☠️ a pirate's",
    "👨🏿‍💻 codes, 🧑🏻‍🤝‍🧑🏾 shake hands, 👁️‍🗨️ sees, 🐻‍❄️ sleeps; ❤️‍🔥 and 😀‍a",
    "hi👋🏽there 1️⃣ #️⃣ *️⃣ ©️ ™ 🙂🙂",
)
"""Emoji a reader sees as one character: joined by zero-width joiners, flags, skin tones."""

TEXTS = (
    *EMOJI_TEXTS,
    "Jose\u0301 Marti\u0301 met Zoe\u0308 in दिल्ली and مُحَمَّد 👍🏽 ❤️.",
    "e\u0301te\u0301, \u0301x a\ufeffb c\x85d e\x1cf https://x.io/\ufeffa",
    "#ha\u0301sh @ana\u0301 don\u2019t 1\ufe0f\u20e3 🇩🇪\r\nतमिऴ् ภาษาไทย",
    "می\u200cخواهم بروم, क्\u200dष and a\u200d lone \u200d joiner \u200c",
    "@ana didn't see Paris, https://x.io/a?b=1 #fun! www.example.org/x",
    "التقى محمد بن سلمان في الرياض يوم الإثنين.",
)
"""Every kind of token: words with marks and joiners, links, mentions, odd spaces, scripts."""
