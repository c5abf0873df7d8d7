"""No request from one project's member reaches another project's data.

Members of the projects 'sent' (text) and 'pics' (image) call every route the app serves with
the objects of two secret projects they are no member of, which hold one of every kind of
object a request can name. A secret object's id is answered exactly as an id nobody has, a
secret project's slug exactly as a slug nobody has; no answer shows anything of the secret
projects, and their rows stay as they were. The routes come from the app itself: a route added
later is swept too, or the sweep fails saying what it cannot fill.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.responses import Response

from tests.conftest import ENGINES, SCHEMA, Lab, make_rows

SECRET = "qzx"
"""In every name, text, label, note and file name of the secret projects: an answer to an
attacker that holds it leaks."""

VAULT, GALLERY = "qzx-vault", "qzx-gallery"  # the secret projects: text, image
OWN = ("sent", "pics")  # the attackers' projects: text like the vault, image like the gallery
ATTACKERS = ("manager", "reviewer", "annotator")
"""Users with this role in both own projects, and no member of a secret one (the annotator
was one: removed from the vault after answering there and while holding a lease)."""
FORMER = "annotator"

NOWHERE = 987_654_321
UNRAISED = "drift"
"""An alert kind open in no project: what an alert route answers for a kind nobody has."""
"""An id no row has: what a secret object's id must be indistinguishable from."""
NO_SLUG, NO_NAME = "no-such-project", "no-such-item"  # a slug, an item's external id
NO_USER = "no-such-user"

SECRET_LABELS = {c: f"{SECRET}-{c}" for c in ("negative", "neutral", "positive")}
VALUE = {"sentiment": "neutral"}  # a valid answer in the own projects
IMAGES = {  # the image projects label with the text projects' control, so one body fits all
    "data": {"type": "image", "field": "image"},
    "controls": SCHEMA["controls"],
}

ID_KINDS = {
    "item_id": "item",
    "assignment_id": "assignment",
    "annotation_id": "annotation",
    "run_id": "run",
    "batch_id": "import",
    "sim_id": "simulation",
    "version": "guideline",
    "token_id": "token",
    "kind": "alert",
    "username": "user",
}
"""A path parameter -> the kind of secret object that fills it."""

REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    # A plausible request for every route that writes (and each read that needs a query), one
    # an own object would pass with: a secret id must be refused by its lookup, not its body.
    ("GET", "/api/projects/{slug}/guidelines/diff"): {"params": {"from": 1, "to": 2}},
    ("GET", "/api/projects/{slug}/search"): {"params": {"q": "number"}},  # in every text
    ("GET", "/api/projects/{slug}/imports/progress"): {"params": {"key": "a-key-sent-with-upload"}},
    ("GET", "/p/{slug}/search"): {"params": {"q": "number"}},
    ("POST", "/api/projects/{slug}/tasks/next"): {"json": {}},
    ("POST", "/api/projects/{slug}/tasks/release"): {
        "json": {"leases": [{"assignment_id": 1, "lease_expires_at": "2026-01-01T00:00:00Z"}]}
    },
    ("POST", "/api/projects/{slug}/alerts/{kind}/acknowledge"): {"json": {"note": "on it"}},
    ("DELETE", "/api/projects/{slug}/alerts/{kind}/acknowledge"): {},
    ("POST", "/api/projects/{slug}/tasks/{assignment_id}/submit"): {
        "json": {"value": VALUE, "active_ms": 1500}
    },
    ("POST", "/api/projects/{slug}/tasks/{assignment_id}/skip"): {},
    ("POST", "/api/projects/{slug}/tasks/{assignment_id}/renew"): {},
    ("POST", "/api/projects/{slug}/tasks/{assignment_id}/flag"): {"json": {"note": "unclear"}},
    ("PUT", "/api/projects/{slug}/annotations/{annotation_id}"): {"json": {"value": VALUE}},
    ("POST", "/api/projects/{slug}/annotations/{annotation_id}/flag"): {
        "json": {"note": "unclear"}
    },
    ("POST", "/api/projects/{slug}/reviews/{annotation_id}"): {"json": {"verdict": "accept"}},
    ("POST", "/api/projects/{slug}/reviews/leases/{item_id}/renew"): {},
    ("POST", "/api/projects/{slug}/reviews/leases/{item_id}/release"): {},
    ("POST", "/api/projects/{slug}/items/{item_id}/adjudicate"): {
        "json": {"value": VALUE, "comment": "final"}
    },
    ("POST", "/api/projects/{slug}/items/{item_id}/second-look"): {
        "json": {"verdict": "fix", "value": VALUE, "comment": "it is wrong"}
    },
    ("PUT", "/api/projects/{slug}/gold"): {"json": {"external_id": "doc-1", "value": VALUE}},
    ("DELETE", "/api/projects/{slug}/gold/{item_id}"): {},
    ("POST", "/api/projects/{slug}/guidelines"): {"json": {"body": "Be kind.", "summary": "kind"}},
    ("POST", "/api/projects/{slug}/guidelines/preview"): {"json": {"body": "Be *kind*."}},
    ("POST", "/api/projects/{slug}/guidelines/examples"): {
        "json": {"external_id": "doc-1", "value": VALUE, "note": "a clear case"}
    },
    ("DELETE", "/api/projects/{slug}/guidelines/examples/{item_id}"): {},
    ("POST", "/api/projects/{slug}/autolabel"): {"json": {"dry_run": True}},
    ("DELETE", "/api/projects/{slug}/autolabel/{run_id}"): {},
    ("POST", "/api/projects/{slug}/autolabel/{run_id}/check"): {"json": {"n": 2}},
    ("POST", "/api/projects/{slug}/simulations"): {"json": {}},
    ("POST", "/api/projects/{slug}/simulations/{sim_id}/cancel"): {},
    ("PATCH", "/api/projects/{slug}/settings"): {"json": {"batch_size": 5}},
    ("POST", "/api/projects/{slug}/labels"): {"json": {"label": "sarcastic"}},
    ("PUT", "/api/projects/{slug}/members"): {
        "json": {"username": "annotator", "role": "annotator"}
    },
    ("POST", "/api/projects/{slug}/imports"): {
        "files": {"file": ("more.jsonl", b'{"text": "one more"}\n', "application/x-ndjson")}
    },
    ("POST", "/api/projects/{slug}/quality/scan"): {},
    ("DELETE", "/api/projects/{slug}/imports/{batch_id}"): {},
    ("POST", "/api/projects/{slug}/seeds"): {"json": {"item_ids": [1], "query": "great"}},
    ("DELETE", "/api/tokens/{token_id}"): {},
    ("DELETE", "/api/projects/{slug}/members/{username}"): {},
    ("POST", "/api/users/{username}/deactivate"): {},
    ("POST", "/api/users/{username}/activate"): {},
    ("PUT", "/api/users/{username}/password"): {"json": {"password": "a-new-password"}},
    ("PUT", "/api/users/{username}/admin"): {"json": {"is_admin": True}},
}

ADMIN_ONLY = {
    # Routes only a site admin reaches: every attacker is refused before any lookup, alike for
    # a secret name and one nobody has (so an unknown one is never their 404).
    ("POST", "/api/users/{username}/deactivate"),
    ("POST", "/api/users/{username}/activate"),
    ("PUT", "/api/users/{username}/password"),
    ("PUT", "/api/users/{username}/admin"),
}

UNSCOPED_WRITES = {
    # Writes that name no project and no object: nothing in them can point at a secret one.
    ("POST", "/api/projects"): "creates a project (site admins)",
    ("POST", "/api/users"): "creates a user (site admins)",
    ("POST", "/api/tokens"): "makes the caller a token",
    ("PUT", "/api/me/password"): "changes the caller's own password",
    ("POST", "/login"): "signs in",
    ("POST", "/logout"): "signs out",
}

PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


# --------------------------------------------------------------------------------------------
# The routes, from the app
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the template, e.g. /api/projects/{slug}/items/{item_id}/media

    @property
    def params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def is_page(self) -> bool:
        return self.method == "GET" and not self.path.startswith("/api/")

    def url(self, **values: object) -> str:
        return PATH_PARAM.sub(lambda m: str(values[m.group(1)]), self.path)

    def request(self) -> dict[str, Any]:
        """The query and body the sweeps send (a read needs none unless REQUESTS says)."""
        if (self.method, self.path) in REQUESTS or self.method == "GET":
            return REQUESTS.get((self.method, self.path), {})
        pytest.fail(
            f"{self.method} {self.path} writes, and test_api_isolation has no request for it: "
            "add a plausible one to REQUESTS"
        )


def _served(app: Any) -> list[Any]:
    """The app's routes, one entry each: FastAPI 0.16x keeps an included router as one entry
    of ``app.routes``; ``iter_route_contexts``, where it exists, walks into it."""
    import fastapi.routing

    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(flatten(app.routes)) if flatten is not None else list(app.routes)


def app_routes(app: Any) -> list[Route]:
    """Every method and path the app serves (HEAD aside; the static files name nothing)."""
    routes = {
        Route(method, route.path)
        for route in _served(app)
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }
    unknown = sorted(
        f"{r.method} {r.path}: '{p}'"
        for r in routes
        for p in r.params
        if p != "slug" and p not in ID_KINDS
    )
    if unknown:
        pytest.fail(
            "test_api_isolation does not know how to fill these path parameters; add each to "
            "ID_KINDS with a secret object of its kind:\n" + "\n".join(unknown)
        )
    return sorted(routes, key=lambda r: (r.path, r.method))


def id_fields(app: Any) -> set[tuple[str, str, str]]:
    """(method, path, name) of every query parameter and body field that holds a row id (the
    API's ``Id``: an integer up to MAX_ID)."""
    from typing import Annotated, get_args

    from pydantic import BaseModel, TypeAdapter

    from labelloop.store.db import MAX_ID

    def holds_id(schema: dict[str, Any]) -> bool:
        return f'"maximum": {MAX_ID}' in json.dumps(schema)

    found = set()
    for route in _served(app):
        dependant = getattr(getattr(route, "original_route", route), "dependant", None)
        if dependant is None:
            continue
        names = []
        for param in dependant.query_params:
            info = param.field_info
            typed = (
                Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            )
            if holds_id(TypeAdapter(typed).json_schema()):
                names.append(param.alias)
        for param in dependant.body_params:
            for model in get_args(param.field_info.annotation) or (param.field_info.annotation,):
                if isinstance(model, type) and issubclass(model, BaseModel):
                    full = model.model_json_schema()  # a nested body's ids are in its $defs
                    defs = {f"#/$defs/{k}": json.dumps(v) for k, v in full.get("$defs", {}).items()}
                    for name, schema in full["properties"].items():
                        text = json.dumps(schema)
                        text += "".join(d for ref, d in defs.items() if f'"{ref}"' in text)
                        if f'"maximum": {MAX_ID}' in text:
                            names.append(name)
        found |= {(m, route.path, n) for m in route.methods - {"HEAD"} for n in names}
    return found


Fill = Callable[["World", str, int], tuple[dict[str, object], dict[str, Any]]]


@dataclass(frozen=True)
class Reference:
    """An id a request carries in its query or body: where, the kind of secret object that
    fills it, and the request with one such id (path values; query or body)."""

    method: str
    path: str
    field: str
    kind: str
    request: Fill  # (world, attacker, id) -> path values, query or body


def _fill(value: Any, world: World, some_id: int) -> Any:
    """A template value with the id put in: None is the id, "own item" an item of 'sent'."""
    if isinstance(value, list):
        return [_fill(v, world, some_id) for v in value]
    if isinstance(value, dict):
        filled = {k: _fill(v, world, some_id) for k, v in value.items()}
        if filled.get("lease_expires_at") == "its end":  # the secret lease's end, as if known
            filled["lease_expires_at"] = _lease_end(world, filled["assignment_id"])
        return filled
    return some_id if value is None else world.own_item if value == "own item" else value


def _lease_end(world: World, assignment_id: int) -> str:
    """When an assignment's lease ends (the end tasks/next told its holder); any time for none."""
    from sqlalchemy import select

    from labelloop.store.tables import assignment

    with world.lab.db.read() as conn:
        q = select(assignment.c.lease_expires_at).where(assignment.c.id == assignment_id)
        ends = conn.execute(q).scalar_one_or_none()
    return ends.isoformat() if ends is not None else "2026-01-01T00:00:00+00:00"


def _query(**params: Any) -> Fill:
    return lambda w, who, i: ({}, {"params": {k: _fill(v, w, i) for k, v in params.items()}})


def _body(**fields: Any) -> Fill:
    return lambda w, who, i: ({}, {"json": {k: _fill(v, w, i) for k, v in fields.items()}})


P = "/api/projects/{slug}"
REFERENCES = (
    Reference("GET", P + "/annotations/previous", "before", "annotation", _query(before=None)),
    Reference(
        "PUT",
        P + "/annotations/{annotation_id}",
        "guideline_version",
        "guideline",
        lambda w, who, v: (
            {"annotation_id": w.own_annotation[who]},
            {"json": {"value": VALUE, "guideline_version": v}},
        ),
    ),
    Reference(
        "GET", P + "/guidelines/diff", "from", "guideline", _query(**{"from": None, "to": 1})
    ),
    Reference("GET", P + "/guidelines/diff", "to", "guideline", _query(**{"from": 1, "to": None})),
    Reference("GET", P + "/guidelines/examples", "version", "guideline", _query(version=None)),
    Reference(
        "POST",
        P + "/guidelines",
        "base_version",
        "guideline",
        _body(body="Be kind.", summary="kind", base_version=None),
    ),
    Reference(
        "POST", P + "/guidelines/examples", "item_id", "item", _body(item_id=None, value=VALUE)
    ),
    Reference(
        "POST",
        P + "/guidelines/examples",
        "base_version",
        "guideline",
        _body(item_id="own item", value=VALUE, base_version=None),
    ),
    Reference(
        "DELETE",
        P + "/guidelines/examples/{item_id}",
        "base_version",
        "guideline",
        lambda w, who, v: ({"item_id": w.own_item}, {"params": {"base_version": v}}),
    ),
    Reference("GET", P + "/reviews/next", "skip", "annotation", _query(skip=[None])),
    Reference("GET", P + "/reviews/next", "skip_item", "item", _query(skip_item=[None])),
    Reference("GET", P + "/adjudications/next", "skip", "item", _query(skip=[None])),
    Reference("GET", P + "/search", "like", "item", _query(like=None)),
    Reference("GET", P + "/audit", "before", "event", _query(before=None)),
    Reference("POST", P + "/seeds", "item_ids", "item", _body(item_ids=[None], query="great")),
    Reference("POST", P + "/seeds", "like", "item", _body(item_ids=["own item"], like=None)),
    Reference("PUT", P + "/gold", "item_id", "item", _body(item_id=None, value=VALUE)),
    Reference(
        "PUT", P + "/gold", "external_id", "external_id", _body(external_id=None, value=VALUE)
    ),
    Reference(
        "POST",
        P + "/guidelines/examples",
        "external_id",
        "external_id",
        _body(external_id=None, value=VALUE),
    ),
    Reference("POST", P + "/tasks/next", "held", "assignment", _body(held=[None])),
    Reference(
        "POST",
        P + "/tasks/release",
        "leases",
        "assignment",
        _body(leases=[{"assignment_id": None, "lease_expires_at": "its end"}]),
    ),
    Reference("GET", "/p/{slug}/adjudicate", "item", "item", _query(item=None)),
    Reference("GET", "/p/{slug}/search", "like", "item", _query(like=None)),
)
"""Every id a query or body carries (``id_fields`` finds them in the app), and those it cannot
find: an item's external id, and the annotators' hot routes' (they read their own bodies;
submit's ``guideline_version`` is checked by the same function as an edit's)."""
HAND_LISTED = {
    ("POST", P + "/tasks/next", "held"),
    ("PUT", P + "/gold", "external_id"),
    ("POST", P + "/guidelines/examples", "external_id"),
}


# --------------------------------------------------------------------------------------------
# The world: two own projects and two secret ones that hold one of everything
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    client: Any
    app: Any
    lab: Lab
    tokens: dict[str, str]
    own_item: int  # an item of 'sent'
    own_annotation: dict[str, int]  # each attacker's annotation in 'sent'
    secret: dict[str, list[Any]] = field(default_factory=dict)  # kind -> the secret objects
    secret_projects: tuple[int, ...] = ()
    secret_users: tuple[int, ...] = ()  # the secret projects' own people
    own_before: dict[str, Any] = field(default_factory=dict)  # own_reads before they existed
    own_after: dict[str, Any] = field(default_factory=dict)  # and once they held everything
    seen: dict[str, Any] = field(default_factory=dict)  # the admin's view of them at the start
    cookies: dict[str, str] = field(default_factory=dict)
    state_queries: list[tuple[str, str]] = field(default_factory=list)  # see secret_state

    def call(self, who: str, method: str, url: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.request(method, url, headers=headers, **kw)

    def page(self, who: str, url: str, **kw: Any) -> Any:
        """A page in ``who``'s browser: signed in (one session each), asking for HTML."""
        if who not in self.cookies:
            issued = Response()
            self.app.state.sessions.issue(issued, self.lab.users[who].id)
            self.cookies[who] = issued.headers["set-cookie"].split(";", 1)[0]
        headers = {"cookie": self.cookies[who], "accept": "text/html"}
        return self.client.get(url, headers=headers, **kw)

    def secret_rows_of(self, table_name: str) -> Any:
        """A query for the ids of a table's rows in the secret projects."""
        from sqlalchemy import select

        from labelloop.store.tables import metadata

        table = metadata.tables[table_name]
        return select(table.c.id).where(table.c.project_id.in_(self.secret_projects))


def _png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (8, 8), shade).save(out, format="PNG")
    return out.getvalue()


def _secret_imports(world: World) -> list[int]:
    """The secret projects' imports: a manager elsewhere must neither list nor undo one."""
    from sqlalchemy import select

    from labelloop.store.tables import import_batch

    with world.lab.db.read() as conn:
        q = select(import_batch.c.id).where(import_batch.c.project_id.in_(world.secret_projects))
        return sorted(int(i) for i in conn.execute(q).scalars())


def _image_project(lab: Lab, slug: str, *, name: str, file: str, media: Path) -> int:
    """An image project with one item, the image ``file``; returns the item's id."""
    from labelloop.store import items as store_items
    from labelloop.workflow import imports, projects

    project_id = projects.create_project(lab.db, slug, {"name": name, **IMAGES}, actor=lab.admin)
    imports.import_items(
        lab.db,
        lab.ctx(slug, lab.admin),
        io.BytesIO((json.dumps({"id": Path(file).stem, "image": file}) + "\n").encode()),
        fmt="jsonl",
        filename=f"{slug}.jsonl",
        id_field="id",
        media_roots=(media,),
    )
    with lab.db.read() as conn:
        return store_items.existing_ids(conn, project_id)[Path(file).stem]


def _own_projects(lab: Lab, media: Path) -> dict[str, int]:
    """'sent' as the other API tests have it with a few labeled items more, and 'pics' with one
    image; each attacker in both. Returns the annotation each attacker made in 'sent'."""
    from labelloop.workflow import tasks

    ctx = lab.project("sent")
    lab.import_rows(ctx, make_rows(30))
    # labels of every class, so its coverage and model file answer with a model
    lab.import_rows(ctx, make_rows(12, start=2000, prefix="lab", labeled=True), labeled=True)
    lab.import_rows(
        ctx, make_rows(9, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    _image_project(lab, "pics", name="Pictures", file="plain.png", media=media)
    annotations = {}
    for role in ATTACKERS:
        for slug in OWN:
            lab.member(slug, role, role)
        mine = lab.ctx("sent", lab.users[role])
        task = tasks.next_task(lab.db, mine)
        assert task is not None
        done = tasks.submit(lab.db, mine, task["assignment_id"], VALUE, active_ms=1500)
        annotations[role] = done["annotation_id"]
    return annotations


def _secret_rows(n: int, *, start: int = 0, labeled: bool = False) -> list[dict[str, Any]]:
    rows = make_rows(n, start=start, prefix=SECRET, labeled=labeled)
    return [{**r, "label": SECRET_LABELS[r["label"]]} if labeled else r for r in rows]


def _vault(lab: Lab, cache: Any) -> dict[str, list[Any]]:
    """The secret text project with one of everything; its objects' ids by kind."""
    from labelloop.store import insight as store_insight
    from labelloop.store.users import now as store_now
    from labelloop.workflow import (
        auditing,
        autolabel,
        flags,
        guidelines,
        projects,
        quality,
        review,
        simulations,
        tasks,
    )

    control = {**SCHEMA["controls"][0], "labels": list(SECRET_LABELS.values())}
    schema = {
        "name": f"{SECRET} vault",
        "data": {"type": "text", "field": "text"},
        "controls": [control],
        "guideline": f"{SECRET}: the first rules.",
        "settings": {"review_policy": "all", "strategy": "margin"},
    }
    projects.create_project(lab.db, VAULT, schema, actor=lab.admin)
    admin = lab.ctx(VAULT, lab.admin)
    # As tests.conftest.auto_project: a model sure of the clear pool items, right on the eval.
    mixed = [{"id": f"{SECRET}-mix-{i}", "text": f"awful great {SECRET} {i}"} for i in range(10)]
    lab.import_rows(admin, _secret_rows(60, labeled=True), labeled=True)
    lab.import_rows(admin, _secret_rows(40, start=100) + mixed, filename=f"{SECRET}.jsonl")
    lab.import_rows(admin, _secret_rows(60, start=1000, labeled=True), labeled=True, split="eval")
    lab.train(admin)
    run = autolabel.apply(lab.db, admin, cache=cache, confidence=0.78, min_accuracy=0.9)
    autolabel.spot_check(lab.db, admin, run["run_id"], 2)

    annotator = lab.member(VAULT, f"{SECRET}-annotator", "annotator")
    reviewer = lab.member(VAULT, f"{SECRET}-reviewer", "reviewer")
    answer = {"sentiment": SECRET_LABELS["positive"]}
    served: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    for n in range(4):
        task = tasks.next_task(lab.db, annotator)
        assert task is not None, "the secret project's queue ran dry"
        served.append(task)
        if n < 3:  # the fourth stays leased, not answered yet
            done.append(
                tasks.submit(lab.db, annotator, task["assignment_id"], answer, active_ms=3000)
            )
    flags.flag_task(lab.db, annotator, served[3]["assignment_id"], note=f"{SECRET} unclear")
    former = lab.member(VAULT, FORMER, "annotator")  # answers, leases one more, is removed
    gone = tasks.next_task(lab.db, former)
    assert gone is not None and tasks.next_task(lab.db, former, held=[gone["assignment_id"]])
    tasks.submit(lab.db, former, gone["assignment_id"], answer, active_ms=3000)
    projects.remove_member(lab.db, admin, FORMER)
    flags.flag_annotation(lab.db, annotator, done[2]["annotation_id"], note=f"{SECRET} too")
    review.review_annotation(lab.db, reviewer, done[0]["annotation_id"], verdict="accept")
    review.review_annotation(lab.db, reviewer, done[1]["annotation_id"], verdict="escalate")

    guidelines.edit(lab.db, admin, f"{SECRET}: the second rules.", f"{SECRET} two")
    guidelines.edit(lab.db, admin, f"{SECRET}: the third rules.", f"{SECRET} three")
    pinned = guidelines.pin_example(lab.db, admin, item_id=done[0]["item_id"], note=SECRET)
    gold = quality.set_gold(lab.db, admin, answer, external_id=f"{SECRET}-3")

    def simulate() -> dict[str, Any]:
        return simulations.request(
            lab.db, admin, strategies="random,margin", seeds=2, budget=40, batch=10
        )

    ran = simulate()
    assert simulations.run_next(lab.db, cache)  # done, with its chart
    queued = simulate()
    with lab.db.write(project_id=admin.id) as conn:  # what the learner stores after its rounds
        alert = {"kind": "backlog", "message": f"{SECRET}: the backlog grows"}
        store_insight.sync_alerts(conn, admin.id, [alert], at=store_now())
    events = [e["id"] for e in auditing.events(lab.db, admin, limit=1000)]
    return {
        # reviewed and pinned, escalated, in review and flagged, leased and flagged, gold
        "item": [d["item_id"] for d in done] + [served[3]["item"]["id"], gold["item_id"]],
        "assignment": [t["assignment_id"] for t in served[2:]],  # submitted, leased
        "annotation": [d["annotation_id"] for d in done],  # accepted, escalated, in review
        "run": [run["run_id"]],
        "simulation": [ran["id"], queued["id"]],
        "alert": [alert["kind"]],  # open in the secret project only
        "guideline": list(range(2, pinned["version"] + 1)),  # the own projects have v1 only
        "external_id": [gold["external_id"], pinned["external_id"]],
        "user": [annotator.user.username, reviewer.user.username],
        "event": [events[0], events[-1]],  # its newest audit event and its first
    }


@pytest.fixture(scope="module", params=ENGINES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The own and the secret projects on one store and app, built once per engine: the
    sweeps change nothing, which is what they check."""
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.store import items as store_items
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import accounts

    home = tmp_path_factory.mktemp("isolation")
    if request.param == "sqlite":
        db = Database(f"sqlite:///{home}/t.db")
        upgrade(db)
    else:
        cluster = request.getfixturevalue("pg_cluster")
        db = Database(cluster.copy(request.getfixturevalue("pg_migrated")))
    media = home / "media"
    media.mkdir()
    (media / "plain.png").write_bytes(_png(40))
    (media / f"{SECRET}-secret.png").write_bytes(_png(200))
    app = create_app(
        get_settings(home=home, secret_key="test", media_roots=str(media)), db=db, learner=False
    )
    lab = Lab(db)
    own_annotation = _own_projects(lab, media)
    with db.read() as conn:
        own_item = store_items.existing_ids(conn, lab.ctx("sent", lab.admin).id)["doc-0"]
    with TestClient(app, follow_redirects=False) as client:
        made = World(
            client=client,
            app=app,
            lab=lab,
            tokens={who: accounts.create_token(db, who) for who in ("admin", *ATTACKERS)},
            own_item=own_item,
            own_annotation=own_annotation,
        )
        made.own_before = own_reads(made)
        made.secret = _vault(lab, app.state.features)
        gallery = f"{SECRET}-secret.png"
        made.secret["item"].append(
            _image_project(lab, GALLERY, name=f"{SECRET} gallery", file=gallery, media=media)
        )
        accounts.create_token(db, f"{SECRET}-annotator", name=f"{SECRET} laptop")
        made.secret["token"] = [t["id"] for t in accounts.list_tokens(db, f"{SECRET}-annotator")]
        made.secret_projects = tuple(lab.ctx(s, lab.admin).id for s in (VAULT, GALLERY))
        made.secret["import"] = _secret_imports(made)
        made.secret_users = tuple(lab.users[f"{SECRET}-{r}"].id for r in ("annotator", "reviewer"))
        made.own_after = own_reads(made)
        made.seen = admin_view(made)
        yield made
    db.dispose()
    if request.param != "sqlite":
        request.getfixturevalue("pg_cluster").give_back(
            db.url, request.getfixturevalue("pg_migrated")
        )


# --------------------------------------------------------------------------------------------
# What the secret projects hold, as the store and as the site admin see it
# --------------------------------------------------------------------------------------------

BY_OWNER: dict[str, Callable[[Any, World], Any]] = {
    # Tables without a project_id: how their rows belong to a secret project or its people.
    "user": lambda table, w: table.c.id.in_(w.secret_users),
    "api_token": lambda table, w: table.c.user_id.in_(w.secret_users),
    "project": lambda table, w: table.c.id.in_(w.secret_projects),
    "review": lambda table, w: table.c.annotation_id.in_(w.secret_rows_of("annotation")),
    "auto_label_check": lambda table, w: table.c.run_id.in_(w.secret_rows_of("auto_label_run")),
    # The highest ids removed (SQLite): the site's, no project's; a sweep must not move them.
    "id_high_water": lambda table, w: table.c.table_name.is_not(None),
    # When each learner last said it runs: the site's, no project's; no request writes it.
    "learner_beat": lambda table, w: table.c.name.is_not(None),
}


def secret_state(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the secret projects and of their people, by table, as the database driver
    reads it (the sweeps read it after each step: SQLAlchemy's typing of every value, JSON
    decoded, cost most of a sweep's time, and told no change the raw values do not)."""
    with world.lab.db.read() as conn:
        if not world.state_queries:
            world.state_queries = _state_queries(world, conn.dialect)
        return {
            name: [tuple(row) for row in conn.exec_driver_sql(query)]
            for name, query in world.state_queries
        }


def _state_queries(world: World, dialect: Any) -> list[tuple[str, str]]:
    """The SQL that reads each table's rows of the secret projects and their people."""
    from sqlalchemy import select

    from labelloop.store.tables import metadata

    queries = []
    for table in metadata.sorted_tables:
        if "project_id" in table.c:
            where = table.c.project_id.in_(world.secret_projects)
        elif table.name in BY_OWNER:
            where = BY_OWNER[table.name](table, world)
        else:
            pytest.fail(f"table '{table.name}': say in BY_OWNER how its rows belong to whom")
        query = select(table).where(where).order_by(*table.primary_key)
        compiled = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        queries.append((table.name, str(compiled)))
    return queries


def admin_view(world: World) -> dict[str, Any]:
    """What the site admin reads of the secret projects (their own exports' audit aside)."""
    view: dict[str, Any] = {}
    for slug in (VAULT, GALLERY):
        for path in (
            "",
            "/status",
            "/members",
            "/models",
            "/guidelines",
            "/guidelines/examples",
            "/autolabel",
            "/simulations",
            "/gold",
            "/flags?open=false",
            "/reviews/summary",
            "/audit?limit=1000",
            "/export",
        ):
            got = world.call("admin", "GET", f"/api/projects/{slug}{path}")
            assert got.status_code == 200, (slug, path, got.text)
            view[slug + path] = got.text if path == "/export" else got.json()
        audit = view[f"{slug}/audit?limit=1000"]
        view[f"{slug}/audit?limit=1000"] = [e for e in audit if e["action"] != "export"]
    tokens = world.call("admin", "GET", "/api/tokens", params={"username": f"{SECRET}-annotator"})
    view["tokens"] = tokens.json()
    return view


UNSTEADY = {  # what the clock decides, not the data
    "at",  # when a report was made
    "oldest_s",  # how long the oldest work has waited
    "seconds",  # how long a model took to train just now
}
DOWNLOADS = ("/export", "/model")  # audited: each changes the audit the other reads show


def own_reads(world: World) -> dict[str, Any]:
    """What a manager of the own projects reads of them through the API (the time aside)."""

    def steady(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: steady(v) for k, v in value.items() if k not in UNSTEADY}
        return [steady(v) for v in value] if isinstance(value, list) else value

    reads = {}
    for route in app_routes(world.app):
        if route.params == ["slug"] and not route.is_page and route.method == "GET":
            if route.path.endswith(DOWNLOADS):
                continue
            for slug in OWN:
                got = world.call("manager", "GET", route.url(slug=slug), **route.request())
                reads[route.url(slug=slug)] = (got.status_code, steady(got.json()))
    return reads


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def send(
    world: World, who: str, route: Route, values: dict[str, object], request: dict[str, Any]
) -> Any:
    """``route`` called by ``who``: a page in their browser, the API with their token."""
    url = route.url(**values)
    if route.is_page:
        return world.page(who, url, **request)
    return world.call(who, route.method, url, **request)


def _same(got: Any, unknown: Any, *, says: str, nobody: str) -> bool:
    """Whether two answers are alike once each one's own id or slug is put aside: the status,
    the error and its message (JSON), or the page (HTML)."""

    def aside(text: str, said: str) -> str:
        if said.isdigit():  # an id: not the digits of a longer number
            return re.sub(rf"(?<!\d){said}(?!\d)", "<>", text)
        return text.replace(said, "<>")

    def plain(response: Any, said: str) -> Any:
        if not response.headers.get("content-type", "").startswith("application/json"):
            return aside(_visible(response.text), said)
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return {**body, "detail": aside(body["detail"], said)}
        if isinstance(body, dict) and isinstance(body.get("task"), dict):
            # a lease served again ends later each time (the same task, served at another time)
            return {**body, "task": {**body["task"], "lease_expires_at": "<>"}}
        return body

    return got.status_code == unknown.status_code and plain(got, says) == plain(unknown, nobody)


def _visible(html: str) -> str:
    """A page's text as a reader sees it: its scripts and the tags' attributes (the form's CSRF
    token, a nonce) aside."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return " ".join(re.sub(r"<[^>]*>", " ", html).split())


_CSRF_META = re.compile(rb'<meta name="csrf-token" content="[^"]*">')


def _shows_secret(response: Any, *, but: str = "") -> bool:
    # The page's CSRF token is random letters: one in a few hundred holds the secret's three.
    body = _CSRF_META.sub(b"", response.content).lower()
    return SECRET.encode() in (body.replace(but.encode(), b"") if but else body)


def judge(
    answers: dict[Any, Any], nobody: Any, *, where: str, refused: Callable[[int], bool]
) -> list[str]:
    """What is wrong with the answers to secret ids or slugs, next to the answer to one nobody
    has: a status ``refused`` does not take, an answer unlike nobody's, a secret shown."""
    unknown, problems = answers[nobody], []
    for value, got in answers.items():
        if value == nobody:
            continue
        at = f"{where}, {value}"
        if not refused(got.status_code):
            problems.append(f"{at}: {got.status_code} {got.text[:300]}")
        elif not _same(got, unknown, says=str(value), nobody=str(nobody)):
            problems.append(
                f"{at}: answers unlike {nobody}: {got.status_code} {got.text[:300]} "
                f"against {unknown.status_code} {unknown.text[:300]}"
            )
        if _shows_secret(got, but=str(value)):
            problems.append(f"{at}: shows the secret projects' data: {got.text[:300]}")
    return problems


class Unchanged:
    """The secret projects' rows, compared after each step of a sweep, and at its end what
    their admin reads with what they read at the start."""

    def __init__(self, world: World) -> None:
        self.world, self.state = world, secret_state(world)

    def after(self, step: str) -> list[str]:
        now = secret_state(self.world)
        tables = sorted(name for name in now if now[name] != self.state.get(name))
        self.state = now
        return [f"{step}: changed the secret projects' {', '.join(tables)}"] if tables else []

    def at_end(self) -> None:
        changes = list(differences(self.world.seen, admin_view(self.world)))
        assert not changes, f"what the site admin reads of the secret projects changed: {changes}"


def _id_routes(world: World) -> list[tuple[Route, str]]:
    """The routes with an id in their path, with the kind of object it names."""
    out = []
    for route in app_routes(world.app):
        kinds = {ID_KINDS[p] for p in route.params if p in ID_KINDS}
        if kinds:
            assert len(kinds) == 1, f"{route}: which of its ids should a secret object fill?"
            out.append((route, kinds.pop()))
    return out


# --------------------------------------------------------------------------------------------
# The sweeps
# --------------------------------------------------------------------------------------------


def test_every_route_is_in_a_sweep(world: World) -> None:
    """An id in its path, a slug, or neither: a read lists, and a write says why it names
    nothing; every id a query or body carries is in REFERENCES."""
    for route in app_routes(world.app):
        if route.params:
            route.request()  # a write the sweeps would send without a body fails here
        elif route.method != "GET":
            assert (route.method, route.path) in UNSCOPED_WRITES, (
                f"{route.method} {route.path} writes and names no project: say in "
                "UNSCOPED_WRITES why nothing in it can point at another project's data"
            )
    assert {kind for _, kind in _id_routes(world)} == set(ID_KINDS.values())
    listed = {(r.method, r.path, r.field) for r in REFERENCES}
    assert id_fields(world.app) == listed - HAND_LISTED, (
        "REFERENCES should list exactly the ids queries and bodies carry: add a new one with a "
        "request that fills it"
    )


def test_a_secret_objects_id_is_not_found_through_ones_own_project(world: World) -> None:
    problems, unchanged = [], Unchanged(world)
    for route, kind in _id_routes(world):
        reached = False  # an unknown id is a 404 somewhere: the request reaches the lookup
        nowhere = {"alert": UNRAISED, "user": NO_USER}.get(kind, NOWHERE)
        for who in ATTACKERS:
            for slug in OWN if "slug" in route.params else ("-",):
                answers = {
                    some_id: send(
                        world,
                        who,
                        route,
                        {"slug": slug, **{p: some_id for p in route.params if p != "slug"}},
                        route.request(),
                    )
                    for some_id in (nowhere, *world.secret[kind])
                }
                reached |= answers[nowhere].status_code == 404
                problems += judge(
                    answers,
                    nowhere,
                    where=f"{route.method} {route.path} in '{slug}' as {who}",
                    refused=lambda status: 400 <= status < 500,
                )
            problems += unchanged.after(f"{route.method} {route.path} as {who}")
        if not reached and (route.method, route.path) not in ADMIN_ONLY:
            problems.append(
                f"{route.method} {route.path}: an unknown id is never a 404: the sweep's request "
                "does not reach the lookup; fix it in REQUESTS"
            )
    assert not problems, "\n".join(problems)
    unchanged.at_end()


def test_a_secret_projects_slug_is_answered_as_a_slug_nobody_has(world: World) -> None:
    problems, unchanged = [], Unchanged(world)
    for route in app_routes(world.app):
        if "slug" not in route.params:
            continue
        ids = {p: world.secret[ID_KINDS[p]][0] for p in route.params if p != "slug"}
        for who in ATTACKERS:
            answers = {
                slug: send(world, who, route, {"slug": slug, **ids}, route.request())
                for slug in (NO_SLUG, VAULT, GALLERY)
            }
            problems += judge(
                answers,
                NO_SLUG,
                where=f"{route.method} {route.url(slug='<slug>', **ids)} as {who}",
                refused=lambda status: status == 404,
            )
            problems += unchanged.after(f"{route.method} {route.path} as {who}")
    assert not problems, "\n".join(problems)
    unchanged.at_end()


def test_an_id_in_a_query_or_body_reaches_nothing_secret(world: World) -> None:
    problems, unchanged = [], Unchanged(world)
    for ref in REFERENCES:
        route = Route(ref.method, ref.path)
        nobody = NO_NAME if ref.kind == "external_id" else NOWHERE
        for who in ATTACKERS:
            for slug in OWN if ref.kind == "item" else OWN[:1]:  # the gallery's item: an image
                answers = {}
                for some_id in (nobody, *world.secret[ref.kind]):
                    values, request = ref.request(world, who, some_id)
                    answers[some_id] = send(world, who, route, {"slug": slug, **values}, request)
                problems += judge(
                    answers,
                    nobody,
                    where=f"{ref.method} {ref.path} {ref.field} in '{slug}' as {who}",
                    refused=lambda status: status < 500,  # a filter (skip, held) may answer 200
                )
            problems += unchanged.after(f"{ref.method} {ref.path} {ref.field} as {who}")
    assert not problems, "\n".join(problems)
    unchanged.at_end()


def test_what_names_no_project_shows_nothing_secret(world: World) -> None:
    """The home page, the projects, one's tokens, the API's description ..."""
    problems = [
        f"GET {route.path} as {who}: {got.status_code} {got.text[:300]}"
        for route in app_routes(world.app)
        if not route.params and route.method == "GET"
        for who in ATTACKERS
        if (got := send(world, who, route, {}, route.request())).status_code >= 500
        or _shows_secret(got)
    ]
    assert not problems, "\n".join(problems)


OWN_ACTIONS = {  # writes that read many rows: the queue, a label-error scan, an auto-label count
    ("POST", P + "/tasks/next"),
    ("POST", P + "/quality/scan"),
    ("POST", P + "/autolabel"),
}


def test_ones_own_project_shows_nothing_secret(world: World) -> None:
    """Every read of an own project (its pages, counts, charts, exports, searches ...) and the
    actions that read many rows of it."""
    problems, unchanged = [], Unchanged(world)
    for route in app_routes(world.app):
        if route.params != ["slug"]:
            continue
        if route.method != "GET" and (route.method, route.path) not in OWN_ACTIONS:
            continue
        for who in ATTACKERS:
            for slug in OWN:
                got = send(world, who, route, {"slug": slug}, route.request())
                if got.status_code >= 500 or _shows_secret(got):
                    at = f"{route.method} {route.url(slug=slug)} as {who}"
                    problems.append(f"{at}: {got.status_code} {got.text[:300]}")
            problems += unchanged.after(f"{route.method} {route.path} as {who}")
    assert not problems, "\n".join(problems)
    unchanged.at_end()


def test_ones_own_project_reads_as_before_the_secret_ones_existed(world: World) -> None:
    """Counts, rates, forecasts, queues and searches of an own project take in nothing of the
    secret projects: each read is as it was before they were made (the time aside)."""
    assert world.own_before.keys() == world.own_after.keys()
    differ = [
        f"{url}{where}: {old!r} before, {new!r} after"
        for url in world.own_before
        for where, old, new in differences(world.own_before[url], world.own_after[url])
    ]
    assert not differ, "\n".join(differ)


def differences(before: Any, after: Any, where: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Where two JSON values differ: (path, value before, value after)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys(), key=str):
            yield from differences(before.get(key), after.get(key), f"{where}.{key}")
    elif isinstance(before, list | tuple) and isinstance(after, list | tuple):
        if len(before) != len(after):
            yield where, before, after
        for i, (b, a) in enumerate(zip(before, after, strict=False)):
            yield from differences(b, a, f"{where}[{i}]")
    elif before != after:
        yield where, before, after
