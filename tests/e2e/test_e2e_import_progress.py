"""A big upload on the project page in real Chromium: once its bytes are sent the page shows
the records the server has checked, moving, until the import's summary replaces it. The server
here holds its import after each progress report until the test has seen that count on the
page (tests/e2e/gated_serve.py), so the count is seen moving however fast the machine is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    PASSWORD,
    USERNAME,
    _schema,
    desk,
    login,
    run_cli,
    serving,
    write_jsonl,
)

pytestmark = pytest.mark.browser

SLUG = "bulk"
N_ROWS = 4500  # the import reports every 2,000 records checked, and at the end
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server whose imports wait at each count until the gate file allows it; its URL and
    the gate."""
    home = tmp_path_factory.mktemp("labelloop-home")
    work = tmp_path_factory.mktemp("labelloop-data")
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    run_cli(home, "projects", "create", SLUG, "--schema", str(_schema(work / "s.json", "Bulk")))
    gate = work / "gate"
    gate.write_text("0", encoding="utf-8")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    # No learner: these pages show what an import or its undo did, and a learner's rounds
    # on the thousands of items here would only take the CPU and the server's lock.
    env = {"IMPORT_GATE": str(gate), "PYTHONPATH": path}
    with serving(home, "serve", env=env, module="tests.e2e.gated_serve", learner=False) as url:
        yield url, gate


def _shows(page: Any, text: str) -> None:
    """Wait until the import's progress line reads ``text``; what it read, if it never did."""
    try:
        page.wait_for_function(
            "(text) => document.getElementById('import-progress-text').textContent === text",
            arg=text,
            timeout=20000,
        )
    except Exception:
        shown = page.inner_text("#import-progress-text"), page.inner_text("#import-result")
        raise AssertionError(f"the page showed {shown}, not {text!r}") from None


def test_e2e_the_page_counts_the_records_checked_until_the_summary(
    gated: tuple[str, Path], browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    url, gate = gated
    rows = [
        {"id": f"b{i}", "text": f"Bulk review <b>{i}</b>: the kettle works."} for i in range(N_ROWS)
    ]
    file = write_jsonl(tmp_path / "bulk.jsonl", rows)
    context, page, problems = desk(browser)
    login(page, url, f"/p/{SLUG}")
    page.set_input_files("#import-file", str(file))
    page.fill("#import-id-field", "id")
    page.click("#import-submit")

    _shows(page, "100% · checking records… 2,000 records")
    assert page.locator("#import-result .message").count() == 0  # no summary yet
    assert page.get_attribute("#import-form", "data-state") == "uploading"
    assert page.get_attribute("#import-progress", "aria-valuetext") == (
        "100%, checking records… 2,000 records"
    )
    page.screenshot(path=str(screenshots / "import-progress.png"))
    gate.write_text("2000", encoding="utf-8")  # on to the next count
    _shows(page, "100% · checking records… 4,000 records")
    assert page.locator("#import-result .message").count() == 0
    gate.write_text("4000", encoding="utf-8")
    _shows(page, f"100% · checking records… {N_ROWS:,} records")
    assert page.locator("#import-result .message").count() == 0
    gate.write_text(str(N_ROWS), encoding="utf-8")
    # Past the last count the import saves; its summary then replaces the count.
    page.wait_for_function(
        """() => (document.querySelector('#import-result .message') || {}).textContent
            ?.startsWith('Imported')""",
        timeout=30000,
    )
    assert page.inner_text("#import-result .message") == f"Imported {N_ROWS:,} items"
    assert page.inner_text("#import-progress-text") == "100%"
    assert page.get_attribute("#import-form", "data-state") == "done"
    page.wait_for_timeout(1500)  # a poll answered after the summary must not write over it
    assert page.inner_text("#import-progress-text") == "100%"
    assert problems == []
    context.close()


def test_e2e_a_file_imported_again_says_nothing_new_and_the_undo_button_shows(
    gated: tuple[str, Path], browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    """A file imported again listed an import of "0 items" to undo; at 1300 px the Imports
    table scrolled sideways to show its Undo buttons."""
    url, gate = gated
    gate.write_text("1000000", encoding="utf-8")  # this test's imports never wait
    rows = [{"id": f"a{i}", "text": f"A review named again_{i}_with_a_long_name"} for i in range(3)]
    file = write_jsonl(tmp_path / "reviews_exported_from_the_old_tool_2026-12-07.jsonl", rows)
    context, page, problems = desk(browser, 1300)
    login(page, url, f"/p/{SLUG}")
    listed = page.locator("#imports-table tbody tr", has_text=file.name)
    for said in ("Imported 3 items", "Nothing new: all 3 records were already in the project"):
        page.set_input_files("#import-file", str(file))
        page.fill("#import-id-field", "id")
        page.click("#import-submit")
        page.wait_for_function(
            "(said) => document.querySelector('#import-result .message')"
            "?.textContent.startsWith(said)",
            arg=said,
            timeout=20000,
        )
    assert page.inner_text("#import-result .message") == (
        "Nothing new: all 3 records were already in the project (lines 1, 2, 3)"
    )
    page.wait_for_function("() => !document.getElementById('imports-table').hidden")
    assert listed.count() == 1  # no empty import listed to undo
    fits = """() => {
        const wrap = document.querySelector('#imports-card .table-wrap');
        const undo = wrap.querySelector('tbody tr button').getBoundingClientRect();
        const right = wrap.getBoundingClientRect().right;
        return [wrap.scrollWidth - wrap.clientWidth, undo.right <= right];
    }"""
    assert page.evaluate(fits) == [0, True]
    page.locator("#imports-card").screenshot(path=str(screenshots / "imports-1300.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.evaluate(fits) == [0, True]  # every row's Undo shows on a phone too
    page.locator("#imports-card").screenshot(path=str(screenshots / "imports-390.png"))
    assert problems == []
    context.close()
