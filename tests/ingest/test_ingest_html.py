"""HTML items: hostile markup is cleaned to a safe subset before it is stored."""

from __future__ import annotations

import re

import pytest

from labelloop.errors import ImportFormatError
from labelloop.ingest.html import html_payload, sanitize_html, visible_text
from labelloop.ingest.payloads import stored_payload

HOSTILE = [
    "<script>window.pwned = 1</script>",
    '<img src="x" onerror="window.pwned = 1">',
    '<img src="https://example.org/a.png" onerror="window.pwned = 1">',
    '<svg onload="window.pwned = 1"><circle r="5"/></svg>',
    "<svg><script>window.pwned = 1</script></svg>",
    '<a href="javascript:window.pwned = 1">click</a>',
    '<a href="JaVaScRiPt:window.pwned = 1">click</a>',
    '<a href="jav&#x09;ascript:window.pwned = 1">click</a>',
    '<a href="&#106;avascript:window.pwned=1">click</a>',
    '<a href="data:text/html,<script>window.pwned=1</script>">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    "<scr<script>ipt>window.pwned = 1</scr</script>ipt>",
    '<iframe src="javascript:window.pwned = 1"></iframe>',
    '<iframe srcdoc="<script>parent.pwned=1</script>"></iframe>',
    '<object data="javascript:window.pwned=1"></object><embed src="x.swf">',
    '<body onload="window.pwned = 1">text</body>',
    '<div style="background:url(javascript:window.pwned=1)" onmouseover="window.pwned=1">x</div>',
    '<math><mi xlink:href="javascript:window.pwned=1">x</mi></math>',
    '<noscript><p title="</noscript><img src=x onerror=window.pwned=1>">',
    '<form action="javascript:window.pwned=1"><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.pwned=1">',
    '<base href="javascript:/">',
    '<style>@import "javascript:window.pwned=1";</style>',
    '<details open ontoggle="window.pwned=1">x</details>',
    '<a href="/api/projects/x/tasks/next">own API</a>',
    '<img src="/logout">',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "<!--<img src=x onerror=window.pwned=1>-->",
    '<template><img src=x onerror="window.pwned=1"></template>',
    '<input autofocus onfocus="window.pwned=1">',
]


@pytest.mark.parametrize("markup", HOSTILE)
def test_hostile_markup_loses_everything_that_runs_or_fetches_from_labelloop(markup: str) -> None:
    clean = sanitize_html(markup)
    lowered = clean.lower()
    for bad in ("<script", "<svg", "<iframe", "<object", "<embed", "<form", "<input", "<style"):
        assert bad not in lowered
    assert not re.search(r"\son\w+\s*=", lowered)  # no event handler attribute survives
    assert "javascript:" not in lowered and "vbscript:" not in lowered
    assert "style=" not in lowered
    assert 'href="/' not in lowered and 'src="/' not in lowered  # no relative URLs
    assert "data:" not in lowered
    assert "<meta" not in lowered and "<base" not in lowered
    assert _tokens(sanitize_html(clean)) == _tokens(clean)  # nothing hides a second layer


def _tokens(markup: str) -> list[str]:
    """Markup as sorted tokens: the sanitizer's attribute order is not fixed."""
    return sorted(markup.replace(">", " > ").split())


def test_formatting_links_tables_and_images_are_kept() -> None:
    markup = (
        "<h2>Order #7</h2><p>Please <b>refund</b> <em>now</em>.</p>"
        '<ul><li>one</li></ul><table><tr><th>Item</th><td colspan="2">Kettle</td></tr></table>'
        '<a href="https://shop.example/o/7">order</a> <a href="mailto:a@b.example">mail</a>'
        '<img src="https://shop.example/k.png" alt="kettle" width="40">'
    )
    clean = sanitize_html(markup)
    for kept in ("<h2>", "<b>refund</b>", "<em>", "<li>one</li>", "<th>Item</th>", 'colspan="2"'):
        assert kept in clean
    assert 'href="https://shop.example/o/7"' in clean and 'href="mailto:a@b.example"' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean and 'target="_blank"' in clean
    assert 'src="https://shop.example/k.png"' in clean and 'referrerpolicy="no-referrer"' in clean
    img = clean[clean.index("<img") :]
    assert 'alt="kettle"' in img and 'width="40"' in img


def test_mailto_is_refused_as_an_image_source() -> None:
    assert "src" not in sanitize_html('<img src="mailto:a@b.example">')


def test_visible_text_separates_blocks_and_drops_script_text() -> None:
    assert visible_text(sanitize_html("<p>one</p><p>two</p><script>var x</script>")) == "one two"
    payload = html_payload('<h1>Refund</h1><img alt="broken kettle" src="https://k.example/a">')
    assert payload["text"] == "Refund broken kettle"
    assert payload["html"].startswith("<h1>Refund</h1>")


def test_stored_html_payload_is_sanitized_and_an_empty_result_is_refused() -> None:
    payload, digest = stored_payload("html", {"text": "<p onclick='x()'>hi</p>"}, line=3)
    assert payload == {"html": "<p>hi</p>", "text": "hi"}
    same, again = stored_payload("html", {"text": "<p>hi</p>"}, line=4)
    assert again == digest  # the same content after cleaning is a duplicate
    with pytest.raises(ImportFormatError) as info:
        stored_payload("html", {"text": "<script>x()</script>"}, line=5, field="body")
    assert (info.value.line, info.value.field) == (5, "body")
