"""Undoing a large import on the project page in real Chromium: the page says how many of its
items are removed so far, moving, until the undo's summary replaces it. The server here holds
its undo after each slice until the test has seen that count on the page
(tests/e2e/gated_serve.py), so the count is seen moving however fast the machine is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.workflow.batches import SLICE
from tests.e2e.conftest import (
    PASSWORD,
    USERNAME,
    HeldAnswer,
    _schema,
    login,
    run_cli,
    serving,
    write_jsonl,
)

pytestmark = pytest.mark.browser

SLUG = "bulk"
N_ROWS = 2 * SLICE + 200  # three slices
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """A server whose undos wait at each count until the gate file allows it, on a project
    with one import of N_ROWS items; its URL, the gate and its home."""
    home = tmp_path_factory.mktemp("labelloop-home")
    work = tmp_path_factory.mktemp("labelloop-data")
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    run_cli(home, "projects", "create", SLUG, "--schema", str(_schema(work / "s.json", "Bulk")))
    rows = [{"id": f"b{i}", "text": f"Bulk review <b>{i}</b>: it works."} for i in range(N_ROWS)]
    run_cli(home, "import", SLUG, str(write_jsonl(work / "bulk.jsonl", rows)), "--id-field", "id")
    gate = work / "gate"
    gate.write_text("0", encoding="utf-8")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    # No learner: these pages show what an import or its undo did, and a learner's rounds
    # on the thousands of items here would only take the CPU and the server's lock.
    env = {"IMPORT_GATE": str(gate), "PYTHONPATH": path}
    with serving(home, "serve", env=env, module="tests.e2e.gated_serve", learner=False) as url:
        yield url, gate, home


def _shows(page: Any, *texts: str) -> None:
    """Wait until the Imports messages read ``texts``, one line each, in order; what they
    read, if they never did."""
    try:
        page.wait_for_function(
            """(texts) => {
                const found = [...document.querySelectorAll('#imports-result .message')];
                return JSON.stringify(found.map((m) => m.textContent)) === JSON.stringify(texts);
            }""",
            arg=list(texts),
            timeout=20000,
        )
    except Exception:
        raise AssertionError(
            f"the page showed {page.inner_text('#imports-result')!r}, not {texts!r}"
        ) from None


def test_e2e_the_page_counts_the_items_an_undo_removed_until_its_summary(
    gated: tuple[str, Path, Path], browser: Any, screenshots: Path
) -> None:
    url, gate, _ = gated
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    asked: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    login(page, url, f"/p/{SLUG}")
    row = page.locator("#imports-table tbody tr", has_text="bulk.jsonl")
    row.wait_for()
    row.get_by_role("button", name="Undo import").click()

    _shows(page, f"Undoing import 1 (bulk.jsonl): {SLICE:,} of {N_ROWS:,} items removed…")
    page.screenshot(path=str(screenshots / "undo-progress.png"))
    gate.write_text(str(SLICE), encoding="utf-8")  # on to the next slice
    _shows(page, f"Undoing import 1 (bulk.jsonl): {2 * SLICE:,} of {N_ROWS:,} items removed…")
    gate.write_text(str(N_ROWS), encoding="utf-8")
    _shows(page, f"Import 1 (bulk.jsonl) undone: {N_ROWS:,} items removed.")
    page.wait_for_timeout(1500)  # a poll answered after the summary must not write over it
    assert page.inner_text("#imports-result .message").endswith(
        f"undone: {N_ROWS:,} items removed."
    )
    assert asked and f"Its {N_ROWS:,} items will be removed" in asked[0]
    assert page.locator("#imports-table tbody tr").count() == 0
    assert problems == []
    context.close()


def test_e2e_finish_undo_in_a_second_tab_says_the_undo_is_under_way(
    gated: tuple[str, Path, Path], browser: Any, tmp_path: Path
) -> None:
    """Finish undo pressed in a second tab while the undo ran in the first said an import was
    still running; it says the import is being undone right now, and the first tab's undo
    ends as usual."""
    url, gate, home = gated
    gate.write_text("0", encoding="utf-8")
    n = SLICE + 100
    rows = [{"id": f"l{i}", "text": f"Late review {i}: it broke."} for i in range(n)]
    run_cli(
        home, "import", SLUG, str(write_jsonl(tmp_path / "late.jsonl", rows)), "--id-field", "id"
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    first, second = context.new_page(), context.new_page()
    problems: list[str] = []
    for page in (first, second):
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
    login(first, url, f"/p/{SLUG}")
    row = first.locator("#imports-table tbody tr", has_text="late.jsonl")
    row.wait_for()
    batch = row.get_attribute("data-batch")
    row.get_by_role("button", name="Undo import").click()
    _shows(first, f"Undoing import {batch} (late.jsonl): {SLICE:,} of {n:,} items removed…")

    second.goto(f"{url}/p/{SLUG}")
    again = second.locator("#imports-table tbody tr", has_text="late.jsonl")
    again.get_by_role("button", name=f"Finish undoing import {batch}").click()
    _shows(
        second,
        f"Not undone: import {batch} ('late.jsonl') is being undone right now: its items are "
        "being removed; wait for that undo to end (the imports list shows how many are left)",
    )
    gate.write_text(str(n), encoding="utf-8")
    _shows(first, f"Import {batch} (late.jsonl) undone: {n:,} items removed.")
    assert problems == []
    context.close()


def test_e2e_two_imports_undone_side_by_side_each_say_their_own_progress(
    gated: tuple[str, Path, Path], browser: Any, tmp_path: Path
) -> None:
    """Undo pressed on a second import while the first one's undo ran was refused: both now
    run, each saying how many of its items are gone on a line of its own, then its summary.
    The list the first undo's end fetches is answered here only after the second's: drawn
    last, it put the second import back in the table, where it stayed."""
    url, gate, home = gated
    gate.write_text("0", encoding="utf-8")
    sizes = {"first.jsonl": SLICE + 10, "second.jsonl": SLICE + 20}
    for name, n in sizes.items():
        rows = [{"id": f"{name[0]}{i}", "text": f"{name} review {i}: fine."} for i in range(n)]
        run_cli(home, "import", SLUG, str(write_jsonl(tmp_path / name, rows)), "--id-field", "id")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, url, f"/p/{SLUG}")
    ids = {}
    for name in sizes:
        row = page.locator("#imports-table tbody tr", has_text=name)
        row.wait_for()
        ids[name] = row.get_attribute("data-batch")
    held = HeldAnswer(page, f"{url}/api/projects/{SLUG}/imports")  # the first list fetched now
    said = []
    for name, n in sizes.items():
        row = page.locator("#imports-table tbody tr", has_text=name)
        row.get_by_role("button", name="Undo import").click()
        said.append(f"Undoing import {ids[name]} ({name}): {SLICE:,} of {n:,} items removed…")
        _shows(page, *said)
    ended = [
        f"Import {ids[name]} ({name}) undone: {n:,} items removed." for name, n in sizes.items()
    ]
    gate.write_text(str(sizes["first.jsonl"]), encoding="utf-8")  # the first one ends
    _shows(page, ended[0], said[1])
    # fetched after the summary, while the second undo still ran
    assert "second.jsonl" in held.text("the imports list after the first undo ended")
    gate.write_text(str(10 * SLICE), encoding="utf-8")
    _shows(page, *ended)
    for name in sizes:  # the list is fetched again after each summary
        page.locator("#imports-table tbody tr", has_text=name).wait_for(state="detached")
    held.release()
    assert page.locator("#imports-table tbody tr", has_text="second.jsonl").count() == 0
    assert problems == []
    context.close()
