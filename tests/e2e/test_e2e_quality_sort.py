"""The quality page's annotator table sorts numbers as numbers and keeps empty cells last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import labelloop

pytestmark = pytest.mark.browser

SCRIPT = Path(labelloop.__file__).parent / "server" / "web" / "static" / "quality.js"
TABLE = """
<table class="sortable" id="t">
  <thead><tr><th>Annotator</th><th>Gold accuracy</th></tr></thead>
  <tbody>
    <tr><th>ana</th><td>90%</td></tr>
    <tr><th>ben</th><td>—</td></tr>
    <tr><th>cy</th><td>100%</td></tr>
    <tr><th>dee</th><td>—</td></tr>
    <tr><th>eve</th><td>9%</td></tr>
  </tbody>
</table>
<script>window.labelloop = { api() {}, say() {}, valueText() {} };</script>
"""


def _order(page: Any) -> list[str]:
    return page.eval_on_selector_all("#t tbody th", "ths => ths.map(th => th.textContent)")


def test_empty_cells_stay_last_and_keep_their_order_both_ways(browser: Any) -> None:
    """Annotators without a gold answer ("—") sorted among the numbers wherever the comparison
    of a text with a number left them, differently each way."""
    page = browser.new_page()
    page.set_content(TABLE)
    page.add_script_tag(content=SCRIPT.read_text())
    head = page.locator("#t thead th").nth(1)
    head.click()
    assert _order(page) == ["eve", "ana", "cy", "ben", "dee"]
    head.click()
    assert _order(page) == ["cy", "ana", "eve", "ben", "dee"]
    page.locator("#t thead th").nth(0).click()
    assert _order(page) == ["ana", "ben", "cy", "dee", "eve"]
    page.close()
