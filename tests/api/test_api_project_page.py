"""The project page's eval card and stop box say what is true before a model has learned
anything: where the eval metric will come from, and when stopping is judged."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response

from tests.api.conftest import SLUG, Page

WAITING_FOR_A_MODEL = "measured from the first model trained on labels"
NEEDS_EVAL = "needs labeled eval items"
COLD_STOP = "Whether to stop is judged once models have trained on your labels."
LEARNING = "The model is still learning from new labels."


def _page_data(html: str) -> dict:
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html)
    assert found
    return json.loads(found.group(1))


def test_cold_start_with_labeled_eval_items_says_the_first_trained_model_measures_them(
    page: Page,
) -> None:
    # `labelloop demo` imports 1,000 labeled eval items; the page said they were needed.
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(
        ctx, lab.rows(12, start=500, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    # Before any round the page says the first needs no labels, and who runs it (it said a
    # model trains once the first labels arrive, so a team without a learner waited on labels).
    assert "needs no labels" in page.html() and "labelloop worker" in page.html()
    lab.train(ctx)  # the cold-start model: no eval metric yet
    html = page.html()
    assert "needs no labels" not in html
    assert f"12 labeled eval items; {WAITING_FOR_A_MODEL}" in html
    assert NEEDS_EVAL not in html
    assert _page_data(html)["eval_labeled"] == 12  # the learning curve's hint reads it
    assert COLD_STOP in html and LEARNING not in html

    ann = lab.member(SLUG, "ann", "annotator")
    lab.label_next(ann, n=9)
    lab.train(ctx)
    html = page.html()
    assert 'id="stat-accuracy">0.' in html or 'id="stat-accuracy">1.' in html
    assert WAITING_FOR_A_MODEL not in html and COLD_STOP not in html


def test_without_labeled_eval_items_the_card_asks_for_them(page: Page) -> None:
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(ctx, lab.rows(5, start=500, prefix="ev"), split="eval")  # unlabeled
    lab.train(ctx)
    html = page.html()
    assert f"{NEEDS_EVAL} and a model trained on labels" in html
    assert WAITING_FOR_A_MODEL not in html
    assert _page_data(html)["eval_labeled"] == 0

    lab.label_next(lab.member(SLUG, "ann", "annotator"), n=9)
    lab.train(ctx)
    html = page.html()
    assert f"{NEEDS_EVAL}</span>" in html  # a trained model exists: only the items are missing
    assert COLD_STOP not in html


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("strategy", "foo", "unknown strategy &#39;foo&#39;; known strategies: auto,"),
        ("featurizer", "gone", "unknown featurizer &#39;gone&#39;; known featurizers: audio,"),
        ("model", "gone_pkg.Model", "model &#39;gone_pkg.Model&#39;: cannot import &#39;gone_pkg"),
    ],
)
def test_a_project_that_cannot_train_says_why_on_its_page(
    page: Page, caplog: pytest.LogCaptureFixture, setting: str, value: str, said: str
) -> None:
    """A project stored naming a strategy, featurizer or model this process cannot use (saved
    before creation checked it, or a plug-in since uninstalled) still opens, tells its manager
    why no model trains, and its learner says so once instead of failing every poll."""
    from sqlalchemy import select

    from labelloop.store.tables import project as project_table
    from labelloop.workflow import learning, status

    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(30))
    assert 'id="training-error"' not in page.html()
    with lab.db.write() as conn:
        schema = conn.execute(
            select(project_table.c.schema).where(project_table.c.id == ctx.id)
        ).scalar_one()
        schema = {**schema, "settings": {**schema["settings"], setting: value}}
        conn.execute(
            project_table.update().where(project_table.c.id == ctx.id).values(schema=schema)
        )
    lab.db.memo.forget()  # as a process started on this store would read it
    html = page.html()
    assert 'id="training-error"' in html
    assert f"settings.{setting}: {said}" in html
    assert "stopping cannot be judged meanwhile" in html and LEARNING not in html
    info = status.status(lab.db, lab.ctx(SLUG, lab.admin))
    assert info["training"]["error"].startswith(f"settings.{setting}: ")
    learner = learning.Learner(lab.db)
    with caplog.at_level("WARNING", logger="labelloop.learner"):
        assert [learner.run_once() for _ in range(5)] == [0] * 5
    assert [r.getMessage() for r in caplog.records] == [
        f"project {SLUG} cannot train: {info['training']['error']}"
    ]


def test_failing_rounds_show_on_the_page_until_one_trains(
    page: Page, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round that fails is told on the project page, with its error, and the log holds its
    traceback once, a line per repeat; the next round that trains takes the notice away."""
    from labelloop.workflow import learning

    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(30))
    learner = learning.Learner(lab.db)
    real = learning.train

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the <model> ran out of memory")

    monkeypatch.setattr(learning, "train", broken)
    with caplog.at_level("WARNING", logger="labelloop.learner"):
        for _ in range(2):
            learner._retry_at.clear()
            assert learner.run_once() == 0
    monkeypatch.setattr(learning, "train", real)
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    assert caplog.records[0].exc_info is not None
    assert "failed again (2 in a row" in caplog.records[1].getMessage()
    html = page.html()
    assert 'id="training-failure"' in html
    assert "RuntimeError: the &lt;model&gt; ran out of memory" in html

    learner._retry_at.clear()
    assert learner.run_once() == 1
    assert 'id="training-failure"' not in page.html()


def test_a_pool_all_labeled_says_so_instead_of_keep_labeling(page: Page) -> None:
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    lab.label_next(ctx, n=11)
    lab.train(ctx)
    html = page.html()
    assert 'id="stop-all-labeled"' not in html and "Keep labeling." in html
    lab.label_next(ctx, n=1)
    lab.train(ctx)
    html = page.html()
    assert 'id="stop-all-labeled"' in html and "Everything is labeled." in html
    assert "Keep labeling." not in html and 'id="stop-more-labels"' not in html


def test_the_progress_card_counts_gold_checks_apart_from_the_items_to_label(page: Page) -> None:
    from labelloop.workflow import quality

    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(4, labeled=True), labeled=True)
    lab.import_rows(ctx, lab.rows(1, start=100, prefix="gold"))
    quality.set_gold(lab.db, ctx, {"sentiment": "neutral"}, external_id="gold-100")
    html = page.html()
    assert re.search(r'id="stat-labeled">4</span>.*?of <span id="stat-pool">4</span>', html)
    assert "in the pool (and 1 gold check)" in html
    assert 'id="stat-remaining">0</span>' in html


def test_the_progress_card_shows_the_models_labels_apart_and_counts_them_done(
    page: Page,
) -> None:
    from labelloop.workflow import autolabel
    from tests.conftest import N_CLEAR, N_MIXED, auto_project

    ctx = auto_project(page.lab, SLUG, n_eval=100)
    html = page.html()
    assert '<span class="stat-sub" id="stat-auto" hidden>' in html
    data = _page_data(html)
    assert (data["can_autolabel"], data["autolabel_min_eval"]) == (True, autolabel.MIN_EVAL)

    cache = page.app.state.features
    run = autolabel.apply(page.lab.db, ctx, cache=cache, confidence=0.8, min_accuracy=0.9)
    assert run["n_labeled"] == N_CLEAR
    html = page.html()
    assert re.search(
        rf'id="stat-labeled">60</span>.*?<span class="stat-sub" id="stat-auto">auto-labeled '
        rf'<span id="stat-auto-labeled">{N_CLEAR}</span>',
        html,
    )
    assert f'id="stat-remaining">{N_MIXED}</span>' in html
    done = round(100 * (60 + N_CLEAR) / (60 + N_CLEAR + N_MIXED), 1)  # auto labels count
    assert re.search(rf'id="pool-progress" [^>]*aria-valuenow="{done}"', html)
    assert 'id="stop-all-labeled"' not in html
    ann = page.lab.member(SLUG, "ann", "annotator")
    page.lab.train(ctx)
    page.lab.label_next(ann, n=N_MIXED)  # people label the rest: the model's count as done
    html = page.html()
    assert f"No item of the pool is left to label ({N_CLEAR} labeled by the model)." in html


def test_choose_a_strategy_offers_the_form_or_says_why_it_cannot(page: Page) -> None:
    from labelloop.workflow import projects

    page.lab.project(SLUG)
    html = page.html()
    assert 'id="simulate-form"' in html and "/static/simulate.js" in html
    tags = {
        "name": "Tags",
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "topics", "type": "multi_choice", "labels": ["a", "b"], "target": True}
        ],
    }
    projects.create_project(page.lab.db, "tags", tags, actor=page.lab.admin)
    html = page.html("tags")
    assert 'id="simulate-form"' not in html and "/static/simulate.js" not in html
    assert (
        '<p class="muted" id="simulate-problem">simulate replays single-label classification; '
        "project &#39;tags&#39; labels multi_choice (&#39;topics&#39;).</p>"
    ) in html


def test_the_model_file_is_offered_once_a_round_has_trained_a_model(page: Page) -> None:
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(30))
    lab.train(ctx)  # cold start: no labels, no model to download
    assert 'id="export-model"' not in page.html()
    lab.import_rows(ctx, lab.rows(12, start=500, prefix="l", labeled=True), labeled=True)
    lab.train(ctx)
    html = page.html()
    assert f'<a class="btn" id="export-model" href="/api/projects/{SLUG}/model" download>' in html
    assert "labelloop model predict FILE data.jsonl" in html


def test_the_guideline_section_holds_the_markdown_as_text_and_renders_it_inert(page: Page) -> None:
    from labelloop.workflow import guidelines

    ctx = page.lab.project(SLUG)
    hostile = "</textarea><script>alert(1)</script> [x](javascript:alert(1))"
    guidelines.edit(page.lab.db, ctx, hostile, "hostile")
    html = page.html()
    assert "<script>alert(1)" not in html and 'href="javascript' not in html
    editor = re.search(r'<textarea id="guideline-body"[^>]*>(.*?)</textarea>', html)
    assert editor and editor.group(1) == (
        "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))"
    )
    assert 'data-version="2"' in html and "Publish v<span" in html
    assert _page_data(html)["guideline_version"] == 2


def test_a_boxes_project_says_only_its_budget_can_stop_it(page: Page, tmp_path: Path) -> None:
    """The built-in detector hands back imported boxes and predicts nothing to compare between
    rounds: the stop card said "settled_predictions needs a trained round" forever."""
    from PIL import Image

    from labelloop.workflow import imports, learning, projects, status
    from labelloop.workflow.features import FeatureCache

    lab = page.lab
    media = tmp_path / "media"
    media.mkdir()
    for i in range(3):
        Image.new("L", (16, 16), 40 * i).save(media / f"img{i}.png")
    schema = {
        "name": "Pets",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "objects", "type": "boxes", "labels": ["cat", "dog"]}],
    }
    projects.create_project(lab.db, "pets", schema, actor=lab.admin)
    ctx = lab.ctx("pets", lab.admin)
    rows = "".join(json.dumps({"id": f"i{i}", "image": f"img{i}.png"}) + "\n" for i in range(3))
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(rows.encode()),
        fmt="jsonl",
        filename="images.jsonl",
        text_field="image",
        id_field="id",
        media_roots=(media,),
    )
    learning.train(lab.db, ctx, cache=FeatureCache(media_roots=(media,)))
    html = page.html("pets")
    assert "needs a trained round" not in html and LEARNING not in html
    assert 'id="stop-unjudged"' in html
    assert "(settled_predictions) need one whose predictions can be compared" in html
    assert "only the label budget can recommend stopping, and none is set" in html
    # the Eval card said "needs labeled eval items", and with them "the current model was not
    # measured on them", as if a round would; it says what the dashboard says, drawn or fetched
    unmeasured = "the rounds of a boxes project measure no eval score"
    assert unmeasured in _drawn(html, "eval-card")
    assert unmeasured in _drawn(_cards(page, lab.admin, "pets").text, "eval-card")
    model = status.status(lab.db, ctx)["model"]  # GET /api/projects/pets/status
    assert model["stopping"] == [] and "detector imported_scores" in model["stop_note"]

    projects.change_settings(lab.db, ctx, {"budget": 2})
    ctx = lab.ctx("pets", lab.admin)
    learning.train(lab.db, ctx, cache=FeatureCache(media_roots=(media,)))
    model = status.status(lab.db, ctx)["model"]
    assert [d["criterion"] for d in model["stopping"]] == ["budget"]
    assert model["stop_note"].endswith("only the label budget can recommend stopping.")


def _cards(page: Page, who: Any, slug: str = SLUG) -> Any:
    response = Response()
    page.app.state.sessions.issue(response, who.id)
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    return page.client.get(f"/p/{slug}/model-cards", headers={"cookie": cookie})


def _drawn(html: str, card: str) -> str:
    """The card ``card`` of ``html`` (spans in a div), whitespace folded."""
    found = re.search(rf'<div [^>]*id="{card}".*?</div>', html, re.S)
    assert found, card
    return " ".join(found.group(0).split())


def test_the_model_cards_the_open_page_fetches_are_the_ones_it_was_drawn_with(
    page: Page,
) -> None:
    """After a round the open project page fetches its Model and Eval cards and model versions
    table from /p/SLUG/model-cards: the same markup a reload draws, so the cards never read
    otherwise than on a fresh page; an annotator's has no model history."""
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(
        ctx, lab.rows(12, start=500, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    ann = lab.member(SLUG, "ann", "annotator")
    lab.label_next(ann, n=9)
    lab.train(ctx)

    response = Response()
    page.app.state.sessions.issue(response, lab.admin.id)
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    full = page.client.get(f"/p/{SLUG}", headers={"cookie": cookie}).text
    cards = _cards(page, lab.admin)
    assert cards.status_code == 200 and cards.headers["cache-control"] == "no-store"
    for part in ("model-card", "eval-card"):
        assert _drawn(cards.text, part) == _drawn(full, part)
    rows = re.findall(r"<tr>\s*<td>v(\d+)</td>", cards.text)
    assert rows == ["1", "2"] and re.findall(r"<tr>\s*<td>v(\d+)</td>", full) == rows
    versions = re.search(
        r'<script id="models-data" type="application/json">(.*?)</script>', cards.text
    )
    assert versions and [v["version"] for v in json.loads(versions.group(1))] == [1, 2]

    mine = _cards(page, lab.users["ann"])
    assert mine.status_code == 200
    assert 'id="stat-model">v2</span>' in mine.text and 'id="stat-accuracy">' in mine.text
    # The macro F1 is not the annotator's to read: their card says what the accuracy is on,
    # not "macro F1 —" beside a manager's "macro F1 0.812" for the same model.
    sub = re.search(r'id="stat-accuracy-sub">([^<]*)<', mine.text)
    assert sub and sub.group(1) == "on the held-out eval items", sub
    assert 'id="models-table"' not in mine.text and "models-data" not in mine.text

    assert _cards(page, lab.user("stranger")).status_code == 404
    gone = page.client.get(f"/p/{SLUG}/model-cards", headers={"cookie": ""})
    assert gone.status_code in (302, 303, 307) and "/login" in gone.headers["location"]


def _element(html: str, element_id: str) -> str | None:
    """The div ``element_id`` of ``html`` with everything in it, whitespace folded; None
    when the page has none."""
    start = re.search(rf'<div [^>]*id="{element_id}"', html)
    if start is None:
        return None
    depth = 0
    for tag in re.finditer(r"<div\b|</div>", html[start.start() :]):
        depth += 1 if tag.group(0) == "<div" else -1
        if depth == 0:
            return " ".join(html[start.start() : start.start() + tag.end()].split())
    raise AssertionError(f"{element_id} is not closed")


def test_the_open_page_fetches_the_stop_card_and_eval_by_cohort_table_it_was_drawn_with(
    page: Page,
) -> None:
    """After a round the open project page fetches the Stop card's judgement and the Eval by
    cohort table from /p/SLUG/model-cards too: each role gets what its page draws (annotators
    no cohort figures), and the versions' figures the learning curve's points say are the
    table's, rounded half to even."""
    from labelloop.store.tables import model_version
    from tests.workflow.test_workflow_cohort_eval import two_cohort_project

    lab = page.lab
    lab.train(two_cohort_project(lab, SLUG))
    with lab.db.write() as conn:  # a figure half way between two roundings
        conn.execute(model_version.update().values(metrics={"accuracy": 0.8125, "n_eval": 16.0}))
    lab.member(SLUG, "rev", "reviewer")
    lab.member(SLUG, "ann", "annotator")

    def drawn(who: Any, path: str) -> str:
        response = Response()
        page.app.state.sessions.issue(response, who.id)
        cookie = response.headers["set-cookie"].split(";", 1)[0]
        got = page.client.get(path, headers={"cookie": cookie})
        assert got.status_code == 200, (path, got.status_code)
        return got.text

    for who, insight in ((lab.admin, True), (lab.users["rev"], True), (lab.users["ann"], False)):
        full = drawn(who, f"/p/{SLUG}")
        cards = drawn(who, f"/p/{SLUG}/model-cards")
        judged = _element(cards, "stop-judgement")
        assert judged is not None and judged == _element(full, "stop-judgement")
        assert 'data-version="1"' in judged and "stop-verdict" in judged
        cohorts = _element(cards, "eval-cohorts")
        assert cohorts == _element(full, "eval-cohorts")
        if insight:
            assert cohorts is not None and "Eval by cohort" in cohorts and "bank" in cohorts
            versions = re.search(
                r'<script id="models-data" type="application/json">(.*?)</script>', cards
            )
            assert versions
            assert [v["figures"] for v in json.loads(versions.group(1))] == [{"accuracy": "0.812"}]
            assert "<td>0.812</td>" in cards
        else:  # an annotator's page shows no cohort figures, nor the stopping rules
            assert cohorts is None and "bank" not in cards and "airline" not in cards
            assert 'class="reasons"' not in judged
    assert _cards(page, lab.user("stranger")).status_code == 404


FORMAT_NAMES = {
    "jsonl": "JSONL",
    "csv": "CSV",
    "parquet": "Parquet",
    "conll": "CoNLL",
    "coco": "COCO",
    "yolo": "YOLO",
    "label_studio": "Label Studio",
    "doccano": "doccano",
    "prodigy": "Prodigy",
}


@pytest.mark.parametrize(
    ("data", "control"),
    [
        ({"type": "text", "field": "text"}, {"type": "choice", "labels": ["a", "b"]}),
        ({"type": "text", "field": "text"}, {"type": "spans", "labels": ["PER", "LOC"]}),
        (
            {"type": "table", "field": "row", "columns": ["amount"]},
            {"type": "choice", "labels": ["a", "b"]},
        ),
        ({"type": "image", "field": "image"}, {"type": "boxes", "labels": ["cat", "dog"]}),
        ({"type": "audio", "field": "audio"}, {"type": "choice", "labels": ["a", "b"]}),
    ],
    ids=["text", "spans", "table", "boxes", "audio"],
)
def test_the_import_card_names_every_format_its_menu_and_file_picker_offer(
    page: Page, data: dict[str, Any], control: dict[str, Any]
) -> None:
    from labelloop.workflow import projects

    schema = {"name": "Formats", "data": data, "controls": [{"name": "c", **control}]}
    projects.create_project(page.lab.db, "formats", schema, actor=page.lab.admin)
    form = page.html("formats").split('id="import-form"', 1)[1].split("</form>", 1)[0]
    said = " ".join(re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p [^>]*>(.*?)</p>", form))
    menu = re.search(r'<select id="import-format".*?</select>', form, re.S).group(0)
    offered = [FORMAT_NAMES[v] for v in re.findall(r'<option value="(\w+)"', menu)]
    accept = re.search(r'id="import-file"[^>]*accept="([^"]*)"', form).group(1).split(",")
    offered += ["TSV"] if ".tsv" in accept else []
    offered += ["zip"] if ".zip" in accept else []
    assert offered and [name for name in offered if name not in said] == []


def test_reviewers_read_the_members_panel_and_only_managers_change_it(page: Page) -> None:
    """The README says reviewers read the team and the API gives it to them: their project page
    has the Members panel, read-only (no form to give a role); an annotator's has none."""
    lab = page.lab
    lab.project(SLUG)
    lab.member(SLUG, "rev", "reviewer")
    lab.member(SLUG, "ann", "annotator")

    manager, reviewer, annotator = (
        page.get_as(lab.users[n], f"/p/{SLUG}").text for n in ("admin", "rev", "ann")
    )
    assert 'id="members-table"' in manager and 'id="member-form"' in manager
    assert 'id="members-table"' in reviewer and 'id="member-form"' not in reviewer
    assert 'aria-label="Remove"' not in reviewer
    assert "a manager of the project gives and takes roles" in reviewer
    assert 'id="members-panel"' not in annotator


def test_the_api_gives_the_stop_verdict_the_page_shows(page: Page) -> None:
    # The page said "Keep labeling. The model is still learning from new labels." while the
    # API's only sentence, model.stop_sentence, was null unless stopping was recommended.
    lab = page.lab
    ctx = lab.project(SLUG)
    ann = lab.member(SLUG, "ann", "annotator")
    lab.import_rows(ctx, lab.rows(40))

    def both(user: Any) -> tuple[dict[str, str], str]:
        said = page.get_as(user, f"/api/projects/{SLUG}/status").json()["stop_verdict"]
        html = unescape(" ".join(page.get_as(user, f"/p/{SLUG}").text.split()))
        assert f"<strong>{said['head']}</strong> {said['sentence']}</p>" in html
        return said, html

    said, _ = both(lab.admin)
    assert said["state"] == "no_round" and said["head"] == "No round yet."
    lab.train(ctx)
    said, _ = both(lab.admin)
    assert (said["state"], said["sentence"]) == ("cold_start", COLD_STOP)
    lab.label_next(ann, n=9)
    lab.train(ctx)
    for user in (lab.admin, ann):
        said, html = both(user)
        assert said == {"state": "learning", "head": "Keep labeling.", "sentence": LEARNING}
