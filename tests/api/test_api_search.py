"""The search and seeds API: one project's pool only, members only, untrusted text kept verbatim."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

HOSTILE = "angry <script>alert('refund')</script> & <b>refund</b> please"
SEARCH = "/api/projects/sent/search"
SEEDS = "/api/projects/sent/seeds"


@pytest.fixture
def search_api(api: Any) -> Any:
    """The API fixture plus refund texts in 'sent' and in 'other' (which must never show up)."""
    lab = api.lab
    lab.import_rows(
        lab.ctx("sent", lab.admin),
        [
            {"id": "r-1", "text": "angry please refund my order"},
            {"id": "r-2", "text": HOSTILE},
        ],
        filename="refunds.jsonl",
    )
    lab.import_rows(
        lab.ctx("other", lab.admin),
        [{"id": "o-1", "text": "angry refund in another project"}],
        filename="other.jsonl",
    )
    return api


def test_annotator_searches_this_projects_pool_only(search_api: Any) -> None:
    r = search_api.get(SEARCH, "annotator", params={"q": "Refund"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "text" and body["total"] == 2
    assert [h["external_id"] for h in body["items"]] == ["r-1", "r-2"]
    other = search_api.get("/api/projects/other/search", "outsider", params={"q": "refund"})
    assert [h["external_id"] for h in other.json()["items"]] == ["o-1"]


def test_untrusted_text_comes_back_verbatim_in_json(search_api: Any) -> None:
    r = search_api.get(SEARCH, "annotator", params={"q": "<script>"})
    assert r.headers["content-type"].startswith("application/json")
    assert [h["text"] for h in r.json()["items"]] == [HOSTILE]


def test_non_members_get_404_and_never_learn_about_the_project(search_api: Any) -> None:
    for path, call in ((SEARCH, "get"), (SEEDS, "post")):
        kwargs = {"params": {"q": "refund"}} if call == "get" else {"json": {"item_ids": [1]}}
        r = getattr(search_api, call)(path, "outsider", **kwargs)
        assert r.status_code == 404, r.text
        assert "refund" not in r.text and "sent" in r.json()["detail"]


def test_sending_hits_puts_them_first_with_who_searched_for_what(search_api: Any) -> None:
    hits = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"]
    ids = [h["id"] for h in hits]
    r = search_api.post(SEEDS, "annotator", json={"item_ids": ids, "query": "refund"})
    assert r.status_code == 201, r.text
    assert r.json()["added"] == ids
    assert r.json()["reason"] == "searched by annotator for 'refund'"
    again = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"]
    assert all(h["queued"] for h in again)

    task = search_api.post("/api/projects/sent/tasks/next", "reviewer", json={}).json()["task"]
    assert task["item"]["external_id"] == "r-1"
    assert task["selection"]["strategy"] == "search"
    assert task["selection"]["reason"] == "searched by annotator for 'refund'"


def test_more_like_this_and_its_reason(search_api: Any) -> None:
    hits = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"]
    origin = hits[0]["id"]
    like = search_api.get(SEARCH, "annotator", params={"like": origin, "limit": 3}).json()
    assert like["mode"] == "like" and like["like"]["external_id"] == "r-1"
    assert like["items"][0]["external_id"] == "r-2"  # shares "angry", "refund", "please"
    assert all(h["id"] != origin for h in like["items"])
    r = search_api.post(
        SEEDS, "manager", json={"item_ids": [like["items"][0]["id"]], "like": origin}
    )
    assert r.json()["reason"] == "like item r-1, found by manager"


def test_items_of_another_project_are_refused_whole(search_api: Any) -> None:
    other_id = search_api.get(
        "/api/projects/other/search", "outsider", params={"q": "refund"}
    ).json()["items"][0]["id"]
    mine = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"][0]["id"]
    r = search_api.post(SEEDS, "annotator", json={"item_ids": [mine, other_id], "query": "refund"})
    assert r.status_code == 404
    assert not search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"][0][
        "queued"
    ]
    like_other = search_api.get(SEARCH, "annotator", params={"like": other_id})
    assert like_other.status_code == 404


BAD_QUERIES = [
    ({}, 400),
    ({"q": "a", "like": 1}, 400),
    ({"q": "a", "limit": 1000}, 422),
    ({"q": "  "}, 400),
]


def test_bad_queries_are_4xx_with_a_detail(search_api: Any) -> None:
    for params, status in BAD_QUERIES:
        r = search_api.get(SEARCH, "annotator", params=params)
        assert r.status_code == status and r.json()["detail"], (params, r.text)


def test_status_names_the_featurizer_and_model(search_api: Any) -> None:
    info = search_api.get("/api/projects/sent/status", "reviewer").json()
    assert info["featurizer"] == "tfidf" and info["model_setting"] == "logistic_regression"
    assert info["features"] is None  # TF-IDF is refitted in memory, nothing to compute ahead
    assert info["model"]["featurizer"] == "tfidf"


def test_a_nul_in_the_search_is_refused_instead_of_matching_the_pool(
    search_api: Any, subtests: pytest.Subtests
) -> None:
    for q in ("\x00", "refund\x00"):  # a NUL alone, a word then a NUL
        with subtests.test(q=q):
            r = search_api.get(SEARCH, "annotator", params={"q": q})
            assert r.status_code == 400, r.text
            assert "NUL character (U+0000)" in r.json()["detail"]  # refused before any route
            hit = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"][0]
            body = {"item_ids": [hit["id"]], "query": q}
            sent = search_api.post(SEEDS, "annotator", json=body)
            assert sent.status_code == 422 and "U+0000" in sent.json()["detail"]  # a JSON body
            again = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"]
            assert not any(h["queued"] for h in again)


def _signed_in(sqlite_api: Any) -> Any:
    """The API's client with annotator 'pat' signed in (a browser session)."""
    from labelloop.workflow import projects

    lab = sqlite_api.lab
    lab.user("pat", password="correct horse battery")
    projects.set_member(lab.db, lab.ctx("sent", lab.admin), "pat", "annotator")
    client = sqlite_api.client
    login = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    client.post(
        "/login",
        data={"username": "pat", "password": "correct horse battery", "csrf_token": token},
    )
    return client


def _embedded(page: Any) -> Any:
    data = re.search(r'<script id="search-data" type="application/json">(.*?)</script>', page.text)
    return json.loads(data.group(1))


def test_the_search_page_shows_a_control_character_search_as_an_error(sqlite_api: Any) -> None:
    page = _signed_in(sqlite_api).get("/p/sent/search", params={"q": "bell\x07"})
    assert page.status_code == 200
    embedded = _embedded(page)
    assert embedded["initial"] is None
    assert embedded["error"] == "search words cannot contain control characters (found U+0007)"


def test_the_search_page_escapes_text_in_its_embedded_results(sqlite_api: Any) -> None:
    lab = sqlite_api.lab
    lab.import_rows(
        lab.ctx("sent", lab.admin), [{"id": "h-1", "text": HOSTILE}], filename="h.jsonl"
    )
    client = _signed_in(sqlite_api)
    page = client.get("/p/sent/search", params={"q": "<script>"})
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<b>refund" not in page.text
    embedded = _embedded(page)
    assert embedded["initial"]["items"][0]["text"] == HOSTILE
    assert 'value="&lt;script&gt;"' in page.text  # the query in the box, escaped too
    label = client.get("/p/sent/label")
    assert 'href="/p/sent/search"' in label.text
    assert 'href="/p/sent/search"' in client.get("/p/sent").text


def test_a_long_query_searches_its_first_200_characters_and_says_so(search_api: Any) -> None:
    """The API and the client refused a query over 200 characters (422) that the CLI and the
    page cut without a word; every surface now searches its first 200 and says so."""
    from labelloop.client import Client

    long_q = "refund" + " " * 300 + "nowhere"
    r = search_api.get(SEARCH, "annotator", params={"q": long_q})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and body["cut"] is True and body["q"] == "refund"
    assert "first 200 characters" in body["note"] and "313" in body["note"]
    client = Client("http://testserver", search_api.tokens["annotator"], http=search_api.client)
    assert client.project("sent").search(long_q)["note"] == body["note"]
    short = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()
    assert short["cut"] is False and "note" not in short


def test_reloading_a_long_search_keeps_the_whole_query_in_the_box(search_api: Any) -> None:
    """Reloading (or sharing) a search over 200 characters put only its first 200 back in the
    box, so the next Enter searched less than was typed; the box keeps the whole query (as the
    Items page does), and the sentence under it says only the first 200 were searched."""
    long_q = "refund" + " " * 300 + "<nowhere>"
    page = _signed_in(search_api).get("/p/sent/search", params={"q": long_q})
    assert page.status_code == 200
    embedded = _embedded(page)
    assert embedded["q"] == long_q.strip()
    assert f'value="refund{" " * 300}&lt;nowhere&gt;"' in page.text
    assert embedded["initial"]["cut"] is True and embedded["initial"]["q"] == "refund"
    assert "first 200 characters" in embedded["initial"]["note"]


def test_the_items_list_searches_a_long_query_as_the_pool_search_does(search_api: Any) -> None:
    """The Items list (and My answers) answered a query over 200 characters with a 422 while
    the pool search cut it and said so; both now answer alike, with the same note."""
    from labelloop.client import Client

    long_q = "refund" + " " * 300 + "nowhere"
    searched = search_api.get(SEARCH, "annotator", params={"q": long_q}).json()
    r = search_api.get("/api/projects/sent/items", "reviewer", params={"q": long_q})
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [i["external_id"] for i in listed["items"]] == ["r-1", "r-2"]
    assert listed["cut"] is True and listed["q"] == "refund"
    assert listed["note"] == searched["note"]
    client = Client("http://testserver", search_api.tokens["reviewer"], http=search_api.client)
    assert client.project("sent").items(q=long_q)["note"] == searched["note"]
    mine = search_api.get("/api/projects/sent/items", "annotator", params={"q": long_q})
    assert mine.status_code == 200 and mine.json()["note"] == searched["note"]
    short = search_api.get("/api/projects/sent/items", "reviewer", params={"q": "refund"}).json()
    assert short["cut"] is False and "note" not in short


def test_more_like_this_says_it_is_preparing_instead_of_hanging(
    search_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first "More like this" after a start fitted the pool's features inside the request
    (11-17 s on 37,000 items) with no answer meanwhile; the warmer fits them in the background
    and a search asked before they are ready answers "preparing" at once."""
    import threading

    from labelloop.workflow import warming

    app = search_api.client.app
    cache, release = app.state.features, threading.Event()
    fit = cache.get

    def slow_in_the_background(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "labelloop-warmer":
            assert release.wait(10)
        return fit(*args, **kwargs)

    monkeypatch.setattr(cache, "get", slow_in_the_background)
    monkeypatch.setattr(warming, "ANSWER_WITHIN_S", 0.05)
    origin = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"][0]["id"]
    waiting = search_api.get(SEARCH, "annotator", params={"like": origin}).json()
    assert waiting["preparing"] is True and waiting["items"] == []
    assert waiting["measuring"] >= 2 and "preparing “More like this”" in waiting["note"]
    release.set()
    project_id = search_api.lab.ctx("sent", search_api.lab.admin).id
    assert app.state.warmer.ask((project_id, origin), lambda: None).wait(10)
    ready = search_api.get(SEARCH, "annotator", params={"like": origin}).json()
    assert "preparing" not in ready and ready["items"][0]["external_id"] == "r-2"


def test_more_like_this_says_why_when_its_features_cannot_be_prepared(
    search_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When fitting the pool's features failed every time, "More like this" answered
    "preparing" forever and the page asked again every second, each ask fitting again; the
    search after a failed fit now answers a 422 saying why, once."""
    import threading

    from labelloop.workflow import warming

    app = search_api.client.app
    cache, release = app.state.features, threading.Event()

    def broken(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "labelloop-warmer":
            assert release.wait(10)
        raise ValueError("the pool's texts could not be read")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(warming, "ANSWER_WITHIN_S", 0.05)
    origin = search_api.get(SEARCH, "annotator", params={"q": "refund"}).json()["items"][0]["id"]
    waiting = search_api.get(SEARCH, "annotator", params={"like": origin}).json()
    assert waiting["preparing"] is True  # the fit is under way
    release.set()
    project_id = search_api.lab.ctx("sent", search_api.lab.admin).id
    deadline = time.monotonic() + 30
    while app.state.warmer.since_s((project_id, origin)) is not None:
        assert time.monotonic() < deadline, "the fit never ended"
        time.sleep(0.02)
    failed = search_api.get(SEARCH, "annotator", params={"like": origin})
    assert failed.status_code == 422, failed.text
    detail = failed.json()["detail"]
    assert "could not be prepared" in detail and "the pool's texts could not be read" in detail
    assert detail.count("could not be read") == 1
    # Asked again, it fits again (the failure was said once) and says why again at once.
    monkeypatch.setattr(warming, "ANSWER_WITHIN_S", 5.0)
    again = search_api.get(SEARCH, "annotator", params={"like": origin})
    assert again.status_code == 422 and "could not be read" in again.json()["detail"]
