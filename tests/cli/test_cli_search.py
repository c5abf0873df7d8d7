"""labelloop search: the pool search of the search page, by words or like an item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import small_project


def _import(cli: Any, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli("import", "s", str(data), "--id-field", "id")


WORDY = [
    {"id": "a", "text": "the cat sat"},
    {"id": "b", "text": "a category of refunds"},
    {"id": "c", "text": "Refund request, please"},
]


def _help(cli: Any, command: str) -> str:
    """The command's help as one line of words, its box's borders left out."""
    return " ".join(cli(command, "--help").stdout.replace("│", " ").split())


def test_search_finds_whole_words_prefixes_and_phrases(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    _import(cli, tmp_path, WORDY)
    found = json.loads(cli("search", "s", "cat", "--json").stdout)
    assert [h["external_id"] for h in found["items"]] == ["a"]
    prefix = json.loads(cli("search", "s", "refund*", "--json").stdout)
    assert [h["external_id"] for h in prefix["items"]] == ["b", "c"]
    shown = cli("search", "s", '"refund request"').stdout
    assert "Refund request, please" in shown and "1 item" in shown
    assert "refunds" not in shown
    refused = cli("search", "s", "*", code=1)
    assert "refund* finds refund" in refused.output


def test_search_without_words_or_like_names_the_commands_own_arguments(
    cli: Any, tmp_path: Path
) -> None:
    """It said "give either q (words to search for) or like (an item id)", the API's names."""
    small_project(cli, tmp_path)
    _import(cli, tmp_path, WORDY)
    for args in ((), ("  ",), ("cat", "--like", "a")):
        refused = cli("search", "s", *args, code=1)
        assert "give QUERY (words to search for) or --like ITEM, one of them" in refused.output
        assert " q " not in refused.output


def test_search_help_says_the_query_syntax(cli: Any) -> None:
    shown = _help(cli, "search")
    assert "whole words in any case" in shown and "refund*" in shown
    assert "phrase" in shown and "match anywhere" in shown


def test_search_like_an_item_never_shows_different_texts_as_the_same(
    cli: Any, tmp_path: Path
) -> None:
    small_project(cli, tmp_path)
    rows = [{"id": f"n-{i}", "text": f"plain filler number {i}"} for i in range(60)]
    rows += [
        {"id": "r-1", "text": "refund platypus"},
        {"id": "r-2", "text": "refund"},
        {"id": "z-1", "text": "zebra quokka"},
    ]
    _import(cli, tmp_path, rows)
    shown = cli("search", "s", "--like", "r-1").stdout
    assert "r-2" in shown and "1.000" not in shown
    sent = json.loads(
        cli("search", "s", "--like", "r-1", "--limit", "1", "--send", "--json").stdout
    )
    assert sent["sent"]["reason"] == "like item r-1, found by (local)"
    assert sent["sent"]["added"] == [sent["items"][0]["id"]]
    alone = cli("search", "s", "--like", "z-1").stdout
    assert "has no words the project's vocabulary knows" in " ".join(alone.split())


def test_items_words_read_as_the_search_reads_them(cli: Any, tmp_path: Path) -> None:
    """``labelloop items --words cat`` listed "a category of refunds" too, where ``labelloop
    search s cat`` finds whole words only."""
    small_project(cli, tmp_path)
    _import(cli, tmp_path, WORDY)
    for words, found in (
        ("cat", ["a"]),
        ("refund*", ["b", "c"]),
        ('"refund request"', ["c"]),
        ("refund", ["c"]),
    ):
        listed = json.loads(cli("items", "s", "--words", words, "--json").stdout)
        searched = json.loads(cli("search", "s", words, "--json").stdout)
        assert [r["external_id"] for r in listed["items"]] == found, words
        assert [h["external_id"] for h in searched["items"]] == found, words
    refused = cli("items", "s", "--words", "*", code=1)
    assert refused.stderr.startswith("error: a * ends a word: refund* finds refund")
    assert "Traceback" not in refused.output
    shown = _help(cli, "items")
    assert "whole words in any case" in shown and "refund*" in shown and "phrase" in shown


def test_like_reads_the_embeddings_the_learner_stored_and_says_so(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import FEATURIZERS
    from labelloop.store.db import Database
    from labelloop.workflow import projects
    from labelloop.workflow.features import FeatureCache
    from labelloop.workflow.learning import prepare_features
    from tests.workflow.test_workflow_seeding import FakeEmbedding

    monkeypatch.setitem(FEATURIZERS._classes, "fake", FakeEmbedding)  # stands in for MiniLM
    schema = tmp_path / "emb.json"
    schema.write_text(
        json.dumps(
            {
                "name": "Emb",
                "data": {"type": "text", "field": "text"},
                "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
                "settings": {"featurizer": "fake"},
            }
        )
    )
    cli("init")
    cli("projects", "create", "s", "--schema", str(schema))
    _import(cli, tmp_path, WORDY)
    db = Database(cli.db_url)
    try:  # what the learner does in the background: the embeddings go to the data dir
        ctx = projects.system_context(db, "s")
        prepare_features(db, ctx, FeatureCache(tmp_path / "home" / "features"), budget_s=0)
    finally:
        db.dispose()
    found = json.loads(cli("search", "s", "--like", "a", "--json").stdout)
    assert found["by"] == "fake"
    shown = cli("search", "s", "--like", "a").stdout
    assert shown.startswith("items most like a, by fake similarity\n")


def test_search_shows_each_hit_where_it_holds_the_words(cli: Any, tmp_path: Path) -> None:
    """A hit showed its first 80 characters, so a tweet asking for a refund at its end read
    "@united for an early flt, I think a call is appropriate. Yes, reviewed and nada …" with
    no refund in sight; it now shows the words around the first match."""
    small_project(cli, tmp_path)
    late = (
        "@united for an early flt, I think a call is appropriate. Yes, reviewed and nada on "
        "the voucher, still waiting on my REFUND from last week, thanks for nothing"
    )
    _import(cli, tmp_path, [{"id": "late", "text": late}, *WORDY])
    shown = " ".join(cli("search", "s", "refund").stdout.split())
    assert "waiting on my REFUND from" in shown and "@united for an early" not in shown
    assert "…" in shown.split("late", 1)[1][:5]  # it says the text begins before
    early = " ".join(cli("search", "s", "united").stdout.split())
    assert "@united for an early flt" in early  # a match near the start shows the start


def test_a_long_query_is_searched_by_its_first_200_characters_saying_so(
    cli: Any, tmp_path: Path
) -> None:
    small_project(cli, tmp_path)
    _import(cli, tmp_path, WORDY)
    shown = " ".join(cli("search", "s", "refund*" + " " * 300 + "nowhere").stdout.split())
    assert "searched the first 200 characters" in shown and "2 items" in shown
    listed = cli("items", "s", "--words", "refund*" + " " * 300 + "nowhere").stdout
    assert "searched the first 200 characters of the 314 typed: refund*" in " ".join(listed.split())
    # A word the 200th character cuts in two is left out, not searched as the start of a word.
    cut = " ".join(cli("search", "s", "refund* " + "z" * 300).stdout.split())
    assert "2 items" in cut
    assert "searched the first 200 characters of the 308 typed, less the word cut there" in cut


def test_search_marks_the_words_it_found_and_keeps_markup_in_texts_as_text() -> None:
    """The CLI showed hits without saying where the words were; the matches are now bold, and
    brackets or a backslash in an item never read as rich markup."""
    from rich.console import Console

    from labelloop.cli.quality import _excerpt
    from labelloop.store.words import parse_query
    from labelloop.workflow.seeding import found_spans

    text = "[b]not bold[/b] <script>x</script> C:\\\\REFUND\\ and refunds"
    hit = {"text": text, "truncated": False}
    hit["marks"] = found_spans(text, parse_query("refund*"), data_type="text")
    console = Console(record=True, width=200, force_terminal=True, color_system="standard")
    console.print(_excerpt(hit))
    assert console.export_text().strip() == text
    line = next(iter(console.render_lines(_excerpt(hit), new_lines=False)))
    assert "".join(s.text for s in line if s.style and s.style.bold) == "REFUNDrefunds"


def test_search_send_puts_the_hits_at_the_front_of_the_queue_as_the_page_does(
    cli: Any, tmp_path: Path
) -> None:
    # Found items could be sent to the queue from the search page or the API only; a user
    # seeding a rare class from the terminal had to leave it.
    small_project(cli, tmp_path)
    _import(cli, tmp_path, WORDY)
    cli("users", "add", "ana")  # a random password is printed
    cli("projects", "member", "s", "ana", "annotator")
    said = " ".join(cli("search", "s", "refund*", "--send", "--as", "ana").stdout.split())
    assert "sent 2 items to the front of the queue (\"searched by ana for 'refund*'\")" in said
    after = json.loads(cli("search", "s", "refund*", "--json").stdout)
    assert [(h["external_id"], h["queued"]) for h in after["items"]] == [("b", True), ("c", True)]
    again = cli("search", "s", "refund*", "--send", "--as", "ana").stdout
    assert "nothing sent: every item shown is labeled or in the queue already" in again
    mine = json.loads(cli("search", "s", "cat", "--send", "--json").stdout)  # the operator's
    assert mine["sent"]["reason"] == "searched by (local) for 'cat'"
    assert mine["sent"]["added"] == [h["id"] for h in mine["items"]]
    refused = cli("search", "s", "cat", "--send", "--as", "nobody", code=1)
    assert "no user named 'nobody'" in refused.output
