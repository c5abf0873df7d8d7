"""The labeling page's words before any item shows: its empty state's first words, and the flag
note's example, which fit the project's data type."""

from __future__ import annotations

from tests.api.conftest import Page

IMAGE_SCHEMA = {
    "name": "Street objects",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"], "target": True}],
}


def _label_page(page: Page, slug: str) -> str:
    """Project ``slug``'s labeling page as its admin reads it, whitespace folded."""
    return " ".join(page.get_as(page.lab.admin, f"/p/{slug}/label").text.split())


def _flag_example(html: str) -> str:
    start = html.index('id="flag-note"')
    found = html[start : html.index(">", start)]
    return found.split('placeholder="', 1)[1].split('"', 1)[0]


def test_the_flag_note_example_fits_the_data_type(page: Page) -> None:
    """An image project's flag note suggested "two products in one review"."""
    from labelloop.workflow import projects

    lab = page.lab
    lab.project("sent")
    projects.create_project(lab.db, "street", IMAGE_SCHEMA, actor=lab.admin)
    assert _flag_example(_label_page(page, "sent")) == (
        "e.g. sarcastic, or two products in one review"
    )
    assert _flag_example(_label_page(page, "street")) == (
        "e.g. too dark to tell, or a car half out of the frame"
    )


def test_the_empty_state_says_nothing_before_the_server_said_why(page: Page) -> None:
    """Its first words were "No item for you right now.", shown for a second on a new
    project before the page had asked why; they are neutral until it has."""
    page.lab.project("sent")
    html = _label_page(page, "sent")
    assert '<p class="empty-title" id="empty-title">Looking for an item for you…</p>' in html
    assert "No item for you right now." not in html
