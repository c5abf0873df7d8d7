"""The Items API's ``picked_by`` on a boxes project keeps each image where its trace says it was
picked: the round's ranking of the images its detector predicted boxes for, and apart from it
(``no_prediction``) those it predicted nothing for, which no model ranked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from labelloop.workflow import browse, imports, projects
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.learning import train

BASE = "/api/projects/boxes"
BOXES_SCHEMA = {
    "name": "Boxes",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["cat", "dog"]}],
}
BOX = {"x": 1, "y": 1, "w": 5, "h": 5, "label": "cat"}


def _boxes_project(api: Any, media: Path) -> None:
    """A boxes project of four images, the import predicting boxes for i0 and i1 only, ranked
    by a round; every image answered by the admin as the queue served it."""
    lab = api.lab
    for i in range(4):
        media.mkdir(exist_ok=True)
        pixels = np.full((16, 16), 10 + 40 * i, dtype=np.uint8)
        Image.fromarray(pixels, mode="L").save(media / f"img{i}.png", format="PNG")
    projects.create_project(lab.db, "boxes", BOXES_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("boxes", lab.admin)
    predicted = {"i0": [{**BOX, "score": 0.4}], "i1": [{**BOX, "score": 0.9}]}
    records = [
        {"id": f"i{i}", "image": f"img{i}.png", "prediction": {"objects": predicted[f"i{i}"]}}
        if f"i{i}" in predicted
        else {"id": f"i{i}", "image": f"img{i}.png"}
        for i in range(4)
    ]
    imports.import_items(
        lab.db,
        ctx,
        lab.jsonl(records),
        fmt="jsonl",
        filename="images.jsonl",
        id_field="id",
        prediction_field="prediction",
        media_roots=(media,),
    )
    train(lab.db, ctx, cache=FeatureCache(media_roots=(media,)))
    while (task := api.post(f"{BASE}/tasks/next", json={"held": []}).json()["task"]) is not None:
        done = api.post(
            f"{BASE}/tasks/{task['assignment_id']}/submit",
            json={"value": {"objects": []}, "active_ms": 900},
        )
        assert done.status_code == 200, done.text


def _listed(api: Any, picked_by: str) -> dict[str, str]:
    """The images ``picked_by`` lists, each with who picked it as its trace says."""
    response = api.get(f"{BASE}/items?picked_by={picked_by}")
    assert response.status_code == 200, response.text
    found = {}
    for row in response.json()["items"]:
        trace = api.get(f"{BASE}/items/{row['id']}/review").json()
        (answer,) = trace["annotations"]
        found[trace["item"]["external_id"]] = answer["selection"]["picked_by"]
    return found


def test_images_without_a_prediction_are_not_listed_as_the_models_picks(
    api: Any, tmp_path: Path
) -> None:
    _boxes_project(api, tmp_path / "media")

    ranked = _listed(api, "box_confidence")
    unranked = _listed(api, "no_prediction")

    assert ranked == {"i0": "v1", "i1": "v1"}
    assert unranked == {
        "i2": "none (v1 had no prediction for it)",
        "i3": "none (v1 had no prediction for it)",
    }
    # a project whose rounds rank every item has no such choice, and says which it has
    refused = api.get("/api/projects/sent/items?picked_by=no_prediction")
    assert refused.status_code == 400, refused.text
    allowed, _, given = refused.json()["detail"].partition("; got ")
    assert allowed.startswith("picked_by must be one of diversity, margin, control, ")
    assert "no_prediction" not in allowed and given == "'no_prediction'"
    offered = api.get(f"{BASE}/items?picked_by=nothing").json()["detail"]
    assert offered.startswith("picked_by must be one of box_confidence, no_prediction, control, ")


def test_a_boxes_project_offers_the_strategy_its_rounds_record_not_the_setting(
    api: Any,
) -> None:
    """Boxes rounds record ``box_confidence`` whatever the ``strategy`` setting says: from
    before the first round, the Items page's choices, the API and ``labelloop items
    --picked-by`` offer that, and refuse the setting's strategy, which no boxes round records."""
    from typer.testing import CliRunner

    from labelloop.cli import app

    lab = api.lab
    projects.create_project(lab.db, "boxes", BOXES_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("boxes", lab.admin)
    assert ctx.settings.strategy == "auto"  # the setting, which a boxes round does not use

    choices = [c["value"] for c in browse.picked_by_choices(lab.db, ctx)]  # the Items page's
    assert choices[:2] == ["box_confidence", "no_prediction"] and "auto" not in choices
    listed = api.get(f"{BASE}/items?picked_by=box_confidence")
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0
    refused = api.get(f"{BASE}/items?picked_by=auto")
    assert refused.status_code == 400, refused.text
    named = "picked_by must be one of box_confidence, no_prediction, control, "
    assert refused.json()["detail"].startswith(named)
    env = {"LABELLOOP_DATABASE_URL": lab.db.url}
    printed = CliRunner().invoke(
        app, ["items", "boxes", "--picked-by", "auto", "--as", "admin"], env=env
    )
    assert printed.exit_code == 1, printed.output
    assert f"error: {named}" in printed.output
