"""A manager on a phone (390 px): the audit logs fit the screen, their table scrolling inside its
own card with rows a phone can read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import login, phone, wide_elements

pytestmark = pytest.mark.browser

WIDTH = 390


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the page scrolls sideways ({width} px): {wide_elements(page)}"


def test_audit_logs_read_in_lines_not_a_word_per_line_on_a_phone(server: Any, browser: Any) -> None:
    context, page, problems = phone(browser, WIDTH)
    login(page, server.url, f"/p/{server.main}")
    page.wait_for_selector("#project-audit tbody tr td.audit-details")
    _fits(page)
    # The project's creation holds its schema: the longest details, cut at 300 characters.
    # Before, they shared the phone's width with two other columns, some ten characters a line.
    per_line = page.evaluate(
        """() => [...document.querySelectorAll('#project-audit td.audit-details')].map(td => {
            const range = document.createRange();
            range.selectNodeContents(td);
            const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            return [td.textContent.length, td.textContent.length / lines.size];
        }).sort((a, b) => b[0] - a[0])[0]"""
    )
    assert per_line[0] >= 200, per_line  # the schema's event is there to measure
    assert per_line[1] >= 18, f"{per_line[1]:.0f} characters a line of the audit details"
    # The table scrolls inside its card instead.
    assert page.evaluate(
        """() => { const wrap = document.querySelector('#project-audit .table-wrap');
                   return wrap.scrollWidth > wrap.clientWidth; }"""
    )

    page.goto(server.url + "/")  # the site's audit log, beside the users
    page.wait_for_selector("#site-audit tbody tr td.audit-details")
    _fits(page)
    assert problems == []
    context.close()
