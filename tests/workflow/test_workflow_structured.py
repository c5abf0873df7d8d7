"""Spans and boxes targets: the queue follows the span model's token uncertainty or the
detector's box confidence, and the predicted regions come back as editable suggestions."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import update

from labelloop.errors import ImportFormatError
from labelloop.learn.spans import CrfSpanModel
from labelloop.store.tables import item
from labelloop.workflow import imports, projects, review, status, tasks
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.learning import train
from tests.conftest import Lab

SPANS_SCHEMA = {
    "name": "Places and people",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "entities", "type": "spans", "labels": ["city", "person"]}],
    "settings": {"retrain_every": 5, "budget": 30},
}
CITIES = ["Paris", "Lagos", "Quito", "Oslo", "Hanoi", "Lima", "Cairo", "Perth"]
PEOPLE = ["Anna", "Tomas", "Ines", "Kofi", "Mei", "Ravi", "Olga", "Sami"]
REASON = re.compile(r"^model unsure about '.+' \([BIO][-\w]* 0\.\d\d vs [BIO][-\w]* 0\.\d\d\)")


def _sentence(i: int) -> tuple[str, list[dict[str, Any]]]:
    """A text naming a city and a person, with their true spans (hand-checkable offsets)."""
    city, person = CITIES[i % 8], PEOPLE[(i * 3) % 8]
    if i % 3 == 0:
        text = f"{person} flew to {city} on day {i}"
    elif i % 3 == 1:
        text = f"In {city} we met {person} after lunch number {i}"
    else:
        return f"nothing much happened today, note {i}", []
    found = [
        {"start": text.index(word), "end": text.index(word) + len(word), "label": label}
        for word, label in ((city, "city"), (person, "person"))
    ]
    found.sort(key=lambda s: s["start"])
    return text, found


def _jsonl(rows: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO(("\n".join(json.dumps(r) for r in rows) + "\n").encode())


def _import(lab: Lab, ctx: Any, rows: list[dict[str, Any]], *, split: str = "pool") -> None:
    imports.import_items(
        lab.db,
        ctx,
        _jsonl(rows),
        fmt="jsonl",
        filename="items.jsonl",
        id_field="id",
        label_field="label" if any("label" in r for r in rows) else None,
        split=split,
    )


@pytest.fixture
def spans_project(lab: Lab) -> Any:
    projects.create_project(lab.db, "ents", SPANS_SCHEMA, actor=lab.admin)
    return lab.ctx("ents", lab.admin)


def test_before_any_labeled_span_the_queue_is_a_diverse_pick(lab: Lab, spans_project: Any) -> None:
    ctx = spans_project
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(30)])
    assert train(lab.db, ctx) == 1
    model = status.status(lab.db, ctx)["model"]
    assert model["cold_start"] is True
    assert model["strategy"] == "diversity"
    task = tasks.next_task(lab.db, ctx)
    assert task is not None
    assert "no model yet" in task["selection"]["reason"]


def test_the_queue_follows_mean_token_entropy_and_suggests_the_predicted_spans(
    lab: Lab, spans_project: Any
) -> None:
    ctx = spans_project
    labeled = [_sentence(i) for i in range(12)]
    _import(
        lab,
        ctx,
        [{"id": f"l{i}", "text": t, "label": s} for i, (t, s) in enumerate(labeled)],
    )
    pool_texts = [_sentence(i)[0] for i in range(100, 140)]
    _import(lab, ctx, [{"id": f"p{i}", "text": t} for i, t in enumerate(pool_texts)])
    eval_rows = [_sentence(i) for i in range(200, 215)]
    _import(
        lab,
        ctx,
        [{"id": f"e{i}", "text": t, "label": s} for i, (t, s) in enumerate(eval_rows)],
        split="eval",
    )
    assert train(lab.db, ctx) == 1
    model = status.status(lab.db, ctx)["model"]
    assert model["cold_start"] is False
    assert model["strategy"] == "mean_token_entropy"
    assert model["n_train"] == 12
    assert model["metrics"]["n_eval"] == 15
    assert model["metrics"]["span_f1"] > 0.5  # the sentence patterns give the entities away

    # The same model, fitted independently, and token entropy computed here by hand.
    crf = CrfSpanModel(labels=("city", "person")).fit(
        [t for t, _ in labeled], [s for _, s in labeled]
    )
    expected: dict[str, float] = {}
    for text, tagged in zip(pool_texts, crf.tag(pool_texts), strict=True):
        p = np.clip(tagged.marginals, 1e-300, 1.0)
        expected[text] = float((-(p * np.log(p)).sum(axis=1)).mean())

    served = []
    for _ in range(len(pool_texts)):
        task = tasks.next_task(lab.db, ctx)
        assert task is not None
        served.append(task)
        tasks.skip(lab.db, ctx, task["assignment_id"])
    texts = [t["item"]["data"]["text"] for t in served]
    assert sorted(texts) == sorted(pool_texts)
    scores = [t["selection"]["score"] for t in served]
    assert scores == sorted(scores, reverse=True)
    for task in served:
        assert task["selection"]["score"] == pytest.approx(
            expected[task["item"]["data"]["text"]], abs=1e-6
        )
    top = served[0]
    assert REASON.match(top["selection"]["reason"]), top["selection"]["reason"]
    assert all(0 <= s["score"] <= 1 for s in top["suggestion"]["value"]["entities"])
    sure = [t for t in served if t["suggestion"]["value"]["entities"]]
    assert sure, "the model predicts entities in these sentences"
    for task in sure[:5]:
        text = task["item"]["data"]["text"]
        for span in task["suggestion"]["value"]["entities"]:
            assert text[span["start"] : span["end"]] in CITIES + PEOPLE


def test_the_status_names_the_crf_a_spans_target_learns_with(lab: Lab, spans_project: Any) -> None:
    ctx = spans_project
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(3)])
    found = status.status(lab.db, ctx)
    # not the settings' tfidf and logistic_regression, which a spans round does not use
    assert (found["featurizer"], found["model_setting"]) == ("crf-tokens", "crf (sklearn-crfsuite)")


def test_accepting_the_suggested_spans_submits_them(lab: Lab, spans_project: Any) -> None:
    ctx = spans_project
    labeled = [_sentence(i) for i in range(12)]
    _import(lab, ctx, [{"id": f"l{i}", "text": t, "label": s} for i, (t, s) in enumerate(labeled)])
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(300, 310)])
    train(lab.db, ctx)
    task = tasks.next_task(lab.db, ctx)
    assert task is not None
    value = {"entities": task["suggestion"]["value"]["entities"]}
    tasks.submit(lab.db, ctx, task["assignment_id"], value, active_ms=900)
    assert train(lab.db, ctx) == 2
    assert status.status(lab.db, ctx)["model"]["n_train"] == 13


def test_settled_token_tags_and_the_budget_judge_span_rounds(lab: Lab, spans_project: Any) -> None:
    ctx = spans_project
    rows = [
        {"id": f"l{i}", "text": t, "label": s} for i, (t, s) in enumerate(map(_sentence, range(60)))
    ]
    _import(lab, ctx, rows[:36])
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(500, 540)])
    train(lab.db, ctx)
    for start, stop in ((36, 40), (40, 48), (48, 60)):  # rounds at 36, 40, 48 and 60 labels
        _import(lab, ctx, rows[start:stop])
        train(lab.db, ctx)
    model = status.status(lab.db, ctx)["model"]
    decisions = {d["criterion"]: d for d in model["stopping"]}
    assert decisions["budget"]["stop"] is True  # 60 labels of a budget of 30
    # The settled-predictions rule compares the stop set's token tags at 60 labels with those
    # of the newest round three or more back with <= 50 labels: 36.
    settled = decisions["settled_predictions"]
    assert "at 60 labels vs 36" in settled["reason"]
    assert settled["value"] > 0.9
    assert model["stop_recommended"] is True


BOXES_SCHEMA = {
    "name": "Boxes",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["cat", "dog"]}],
}


def _png(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((16, 16), shade, dtype=np.uint8)
    Image.fromarray(pixels, mode="L").save(path, format="PNG")


def test_boxes_queue_puts_the_least_confident_predictions_first(lab: Lab, tmp_path: Path) -> None:
    media = tmp_path / "media"
    for i in range(5):
        _png(media / f"img{i}.png", 10 + 40 * i)
    projects.create_project(lab.db, "boxes", BOXES_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("boxes", lab.admin)
    imports.import_items(
        lab.db,
        ctx,
        _jsonl([{"id": f"i{i}", "image": f"img{i}.png"} for i in range(5)]),
        fmt="jsonl",
        filename="images.jsonl",
        text_field="image",
        id_field="id",
        media_roots=(media,),
    )
    box = {"x": 1, "y": 1, "w": 5, "h": 5, "label": "cat"}
    predictions = {
        "i0": [{**box, "score": 0.9}, {**box, "x": 8, "score": 0.8}],
        "i1": [{**box, "score": 0.95}, {**box, "label": "dog", "score": 0.31}, {**box, "score": 1}],
        "i2": None,  # no prediction: after every predicted image
        "i3": [{**box, "score": 0.6}],
        "i4": [{**box, "score": 0.99}],
    }
    with lab.db.write() as conn:
        for external, boxes in predictions.items():
            if boxes is not None:
                conn.execute(
                    update(item)
                    .where(item.c.external_id == external)
                    .values(prediction={"objects": boxes})
                )
    train(lab.db, ctx, cache=FeatureCache(media_roots=(media,)))
    served = []
    while (task := tasks.next_task(lab.db, ctx)) is not None:
        served.append(task)
        if task["item"]["external_id"] == "i2":
            tasks.submit(lab.db, ctx, task["assignment_id"], {"objects": []}, active_ms=900)
        else:
            tasks.skip(lab.db, ctx, task["assignment_id"])
    order = [t["item"]["external_id"] for t in served]
    assert order == ["i1", "i3", "i0", "i4", "i2"]
    first = served[0]
    assert first["selection"]["reason"] == "lowest box confidence 0.31 of 3 predicted boxes"
    assert first["selection"]["score"] == pytest.approx(0.69)
    assert [b["score"] for b in first["suggestion"]["value"]["objects"]] == [0.95, 0.31, 1]
    assert served[-1]["selection"]["reason"] == "no prediction for this image yet"
    # the detector had boxes for the others, not for it: no model picked it
    assert [t["selection"]["picked_by"] for t in served] == [
        *["v1"] * 4,
        "none (v1 had no prediction for it)",
    ]
    (answer,) = review.item_detail(lab.db, ctx, served[-1]["item"]["id"])["annotations"]
    assert answer["selection"]["picked_by"] == "none (v1 had no prediction for it)"  # its trace
    found = status.status(lab.db, ctx)
    assert found["model"]["strategy"] == "box_confidence"
    # The project page and `labelloop status` say what ranks the images, where they said the
    # settings' 'pixels' and 'logistic_regression', and 'detector imported_scores on none'
    assert (found["featurizer"], found["model_setting"]) == ("none", "detector imported_scores")
    assert (found["model"]["model"], found["model"]["featurizer"]) == (
        "detector imported_scores",
        None,
    )


def test_a_text_with_many_entities_is_imported_labeled_and_learned(
    lab: Lab, spans_project: Any
) -> None:
    ctx = spans_project
    people = " and ".join(f"{PEOPLE[i % 8]}{i}" for i in range(25))
    spans = [
        {"start": m.start(), "end": m.end(), "label": "person"}
        for m in re.finditer(r"[A-Z]\w+", people)
    ]
    _import(lab, ctx, [{"id": "many", "text": people, "label": spans}])
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(3)])
    _import(lab, ctx, [{"id": "more", "text": people + " too"}])
    train(lab.db, ctx)
    ann = lab.member("ents", "ann", "annotator")
    while (task := tasks.next_task(lab.db, ann)) is not None:
        if task["item"]["external_id"] == "more":
            break
        tasks.skip(lab.db, ann, task["assignment_id"])
    assert task is not None
    tasks.submit(lab.db, ann, task["assignment_id"], {"entities": spans}, active_ms=900)
    assert train(lab.db, ctx) == 2
    assert status.status(lab.db, ctx)["model"]["n_train"] == 2


def test_the_project_page_shows_the_span_f1(sqlite_lab: Lab, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from starlette.responses import Response

    from labelloop.config import get_settings
    from labelloop.server.app import create_app

    lab = sqlite_lab
    projects.create_project(lab.db, "ents", SPANS_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("ents", lab.admin)
    rows = [_sentence(i) for i in range(12)]
    _import(lab, ctx, [{"id": f"l{i}", "text": t, "label": s} for i, (t, s) in enumerate(rows)])
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(100, 110)])
    held = [_sentence(i) for i in range(200, 206)]
    _import(
        lab,
        ctx,
        [{"id": f"e{i}", "text": t, "label": s} for i, (t, s) in enumerate(held)],
        split="eval",
    )
    train(lab.db, ctx)
    f1 = status.status(lab.db, ctx)["model"]["metrics"]["span_f1"]
    app = create_app(get_settings(home=tmp_path, secret_key="test"), db=lab.db, learner=False)
    with TestClient(app) as client:
        response = Response()
        app.state.sessions.issue(response, lab.admin.id)
        cookie = response.headers["set-cookie"].split(";", 1)[0]
        html = client.get("/p/ents", headers={"cookie": cookie}).text
    assert f'id="stat-accuracy">{f1:.3f}</span>' in html
    assert "span F1 (exact match" in html
    assert '<span class="stat-label" id="stat-accuracy-label">Eval span F1</span>' in html
    assert f"{f1:.3f} span</td>" in html


def test_max_scoring_ranks_by_the_most_uncertain_token(lab: Lab) -> None:
    schema = {**SPANS_SCHEMA, "settings": {"span_scoring": "max"}}
    projects.create_project(lab.db, "maxed", schema, actor=lab.admin)
    ctx = lab.ctx("maxed", lab.admin)
    labeled = [_sentence(i) for i in range(9)]
    _import(lab, ctx, [{"id": f"l{i}", "text": t, "label": s} for i, (t, s) in enumerate(labeled)])
    pool_texts = [_sentence(i)[0] for i in range(400, 415)] + ["Zorb quux Flim at Mork"]
    _import(lab, ctx, [{"id": f"p{i}", "text": t} for i, t in enumerate(pool_texts)])
    train(lab.db, ctx)
    assert status.status(lab.db, ctx)["model"]["strategy"] == "max_token_entropy"
    crf = CrfSpanModel(labels=("city", "person")).fit(
        [t for t, _ in labeled], [s for _, s in labeled]
    )
    expected = {}
    for text, tagged in zip(pool_texts, crf.tag(pool_texts), strict=True):
        p = np.clip(tagged.marginals, 1e-300, 1.0)
        expected[text] = float((-(p * np.log(p)).sum(axis=1)).max())
    served = []
    while (task := tasks.next_task(lab.db, ctx)) is not None:
        served.append((task["item"]["data"]["text"], task["selection"]["score"]))
        tasks.skip(lab.db, ctx, task["assignment_id"])
    assert [t for t, _ in served] == sorted(pool_texts, key=lambda t: -expected[t])
    assert [s for _, s in served] == pytest.approx([expected[t] for t, _ in served])


def test_a_huge_pool_is_scored_on_a_sample(
    lab: Lab, spans_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.workflow import structured

    monkeypatch.setattr(structured, "MAX_SCORED", 4)
    ctx = spans_project
    labeled = [_sentence(i) for i in range(6)]
    _import(lab, ctx, [{"id": f"l{i}", "text": t, "label": s} for i, (t, s) in enumerate(labeled)])
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(600, 620)])
    train(lab.db, ctx)
    served = 0
    while (task := tasks.next_task(lab.db, ctx)) is not None:
        served += 1
        assert task["selection"]["strategy"] == "mean_token_entropy"
        tasks.skip(lab.db, ctx, task["assignment_id"])
    assert served == 4


def test_the_background_learner_trains_a_spans_project(lab: Lab, spans_project: Any) -> None:
    from labelloop.workflow.learning import Learner

    ctx = spans_project
    labeled = [_sentence(i) for i in range(6)]
    _import(lab, ctx, [{"id": f"l{i}", "text": t, "label": s} for i, (t, s) in enumerate(labeled)])
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(700, 710)])
    assert Learner(lab.db).run_once() >= 1
    model = status.status(lab.db, ctx)["model"]
    assert (model["version"], model["strategy"]) == (1, "mean_token_entropy")
    assert Learner(lab.db).run_once() == 0  # nothing new: no round is due


MIXED_SCHEMA = {
    "name": "Travel notes",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {"name": "kind", "type": "choice", "labels": ["trip", "other"], "target": True},
        {"name": "entities", "type": "spans", "labels": ["city", "person"]},
    ],
    "settings": {"strategy": "margin"},
}


def test_a_choice_project_with_spans_gets_span_suggestions_too(lab: Lab) -> None:
    projects.create_project(lab.db, "mixed", MIXED_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("mixed", lab.admin)
    rows = []
    for i in range(12):
        text, spans = _sentence(i)
        rows.append(
            {
                "id": f"l{i}",
                "text": text,
                "label": {"kind": "trip" if spans else "other", "entities": spans},
            }
        )
    _import(lab, ctx, rows)
    _import(lab, ctx, [{"id": f"p{i}", "text": _sentence(i)[0]} for i in range(800, 806)])
    train(lab.db, ctx)
    seen = 0
    while (task := tasks.next_task(lab.db, ctx)) is not None:
        assert task["suggestion"]["label"] in ("trip", "other")  # the classifier's
        suggested = task["suggestion"]["value"]["entities"]  # and the CRF's spans
        text = task["item"]["data"]["text"]
        truth = _sentence(int(task["item"]["external_id"][1:]))[1]
        assert [(s["start"], s["end"], s["label"]) for s in suggested] == [
            (s["start"], s["end"], s["label"]) for s in truth
        ], text
        seen += 1
        tasks.skip(lab.db, ctx, task["assignment_id"])
    assert seen == 6


def test_spans_labeling_a_text_twice_differently_are_said_by_their_labels(
    lab: Lab, spans_project: Any, subtests: pytest.Subtests
) -> None:
    """A file labeling the same text twice differently quotes both labels as a user knows
    them (they were digests, 'regions:9f3…'): a text's spans by count and labels, cut short
    when many, and the same spans placed otherwise said so."""
    text = "Anna flew to Paris"
    anna, paris = (
        {"start": 0, "end": 4, "label": "person"},
        {"start": 13, "end": 18, "label": "city"},
    )
    many = [{"start": k, "end": k + 1, "label": "city"} for k in range(18)]
    cases = [  # (name, the first line's spans, the second's, the error's quote)
        ("other labels", [anna], [paris], " ('1 span: city', not '1 span: person')"),
        (
            "placed otherwise",
            [anna],
            [anna | {"end": 3}],
            " ('1 span: person' in both, placed otherwise)",
        ),
        ("many", [anna], many, f" ('18 spans: {'city, ' * 8}c…', not '1 span: person')"),
        # labels that differ only past what is quoted: not said to be the same, placed otherwise
        ("past the cut", many, [*many[:-1], many[-1] | {"label": "person"}], ""),
        (
            "many placed otherwise",
            many[:5] + many[6:],
            many[:6] + many[7:],
            f" ('17 spans: {'city, ' * 8}c…' in both, placed otherwise)",
        ),
    ]
    for name, first, second, quoted in cases:
        with subtests.test(case=name):
            rows = [{"text": text, "label": first}, {"text": text, "label": second}]
            with pytest.raises(ImportFormatError) as caught:
                imports.import_items(
                    lab.db,
                    spans_project,
                    _jsonl(rows),
                    fmt="jsonl",
                    filename="items.jsonl",
                    label_field="label",
                    update_labels=True,
                )
            assert caught.value.message == (
                f"line 2, field 'label': labels the same content as line 1 differently{quoted}; "
                "a file gives each item one label"
            )
