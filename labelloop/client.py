"""The Python client of labelloop's REST API: projects, imports, the labeling queue, export,
guidelines and reports, from a notebook or a script instead of hand-written HTTP calls.

```python
from labelloop.client import Client

with Client("http://127.0.0.1:8765", token="ll_...") as client:
    project = client.project("reviews")
    project.import_records({"id": r.id, "text": r.text} for r in rows)
    for task in project.tasks():
        task.submit(my_model(task.data["text"]))
    labels = list(project.export_rows())
```

Every answer of the API that is not a success raises :class:`ApiError` with its status, the
error's kind and the server's detail. It imports only the standard library and httpx, so a
script that labels over the network needs neither the server nor scikit-learn.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, NotRequired, Self, TypedDict, cast
from urllib.parse import quote

import httpx

from labelloop import __version__
from labelloop.errors import LabelloopError

__all__ = ["ApiError", "Client", "ImportReport", "Project", "Submission", "Task"]

TOKEN_ENV = "LABELLOOP_TOKEN"
DEFAULT_TIMEOUT_S = 60.0  # imports, exports and the model file take a while on large projects
POLL_S = 1.0  # how often Project.tasks asks again while the queue waits for the learner


class ApiError(LabelloopError):
    """The API refused a request: ``status`` (HTTP), ``kind`` (the body's ``error``, e.g.
    ``PermissionDenied``) and ``detail`` (the server's sentence), and which request it was.
    A refused import also says where: ``line`` (the record's 1-based number, counting what
    ``unit`` says: ``line``, ``row``, ``task`` or ``image``), ``field``, and ``cites``: the
    number of the earlier record it clashes with (the same id, the same content labeled
    otherwise)."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        method: str,
        path: str,
        line: int | None = None,
        field: str | None = None,
        unit: str | None = None,
        cites: int | str | None = None,
    ) -> None:
        super().__init__(f"{status} {kind}: {detail} ({method} {path})")
        self.status = status
        self.kind = kind
        self.detail = detail
        self.method = method
        self.path = path
        self.line = line
        self.field = field
        self.unit = unit
        self.cites = cites


class ImportReport(TypedDict):
    """What an import stored: its batch, new items, labels among them and skipped duplicates;
    ``eval``: items of a pool import held out for the eval split (the project's
    ``eval_fraction``, or the file's own validation split); with ``update_labels``, items
    already here that took the file's label (``updated``) and labels people gave here that
    were kept (``kept``, at ``kept_lines``; both count what ``unit`` says: ``line``, ``row``,
    ``image``, ``file`` or ``task``); ``notes``: what the file held that did not come
    in as labels (Prodigy's rejected answers, doccano's relations). An import that brought
    nothing new is not kept: ``batch_id`` is None and ``nothing_new`` says so."""

    batch_id: int | None
    items: int
    labeled: int
    duplicates: int
    duplicate_lines: list[int]
    unit: str
    split: str
    eval: int
    updated: int
    kept: int
    kept_lines: list[int]
    notes: list[str]
    nothing_new: str | None


class Submission(TypedDict):
    """A recorded answer: its annotation, the guideline version it was recorded under and the
    project's newest, and, to managers and the expert tier only, the item's resolution if the
    answer resolved it (to an annotator it would tell a gold check, or what the others
    answered)."""

    annotation_id: int
    item_id: int
    resolution: NotRequired[str | None]
    guideline_version: int
    current_guideline_version: int


class Client:
    """A connection to one labelloop server as one user (a bearer token).

    ``token`` defaults to the ``LABELLOOP_TOKEN`` environment variable; ``labelloop tokens
    create NAME`` prints one. ``http`` is an ``httpx.Client`` to send through (a FastAPI
    ``TestClient`` runs the app in-process); it is the caller's to close and its own timeout
    applies. Otherwise the client opens one with ``timeout`` seconds (``None``: no limit) and
    closes it in :meth:`close` or at the end of a ``with`` block.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8765",
        token: str | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        self._headers = {"accept": "application/json", "user-agent": f"labelloop/{__version__}"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"
        self._owned = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this client opened it."""
        if self._owned:
            self._http.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # ---------------------------------------------------------------------------------------
    # Requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one request to ``path`` (e.g. ``/api/projects/reviews/audit``) and return its
        JSON answer (``None`` when empty); any route the methods here do not wrap is reachable
        with the same token and errors."""
        response = self._http.request(
            method,
            self.url + path,
            params=_params(params),
            json=json,
            data=data,
            files=files,
            headers=self._headers,
        )
        _raise_for(response, method, path)
        return response.json() if response.content else None

    @contextmanager
    def stream(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives (exports, the model file); an error
        answer raises :class:`ApiError` before the body is handed over."""
        with self._http.stream(
            method, self.url + path, params=_params(params), headers=self._headers
        ) as response:
            if response.is_error:
                response.read()
                _raise_for(response, method, path)
            yield response

    # ---------------------------------------------------------------------------------------
    # The site

    def health(self) -> dict[str, Any]:
        """Whether the server answers, and its version (no token needed)."""
        return self.request("GET", "/api/health")

    def me(self) -> dict[str, Any]:
        """The token's user: ``id``, ``username``, ``is_admin``."""
        return self.request("GET", "/api/me")

    def create_token(self, name: str = "api") -> str:
        """A new token for this client's user (shown once; only its hash is stored)."""
        return self.request("POST", "/api/tokens", json={"name": name})["token"]

    def tokens(self, username: str | None = None) -> list[dict[str, Any]]:
        """This user's tokens, newest first: ``id``, ``name``, ``created_at``, ``revoked_at``
        (never the token itself); a site admin may name another user."""
        return self.request("GET", "/api/tokens", params={"username": username})

    def revoke_token(self, token_id: int) -> dict[str, Any]:
        """Revoke one of this user's tokens (a site admin: anyone's); it stops working at once,
        this client's own included. Answers its ``id``, ``name`` and ``username``."""
        return self.request("DELETE", f"/api/tokens/{int(token_id)}")

    # ---------------------------------------------------------------------------------------
    # Projects

    def projects(self) -> list[dict[str, Any]]:
        """The projects this user is a member of (all of them for a site admin), each with its
        slug, name, role, the kinds of its open alerts that need attention (``alerts``) and
        those someone acknowledged (``acknowledged_alerts``)."""
        return self.request("GET", "/api/projects")

    def project(self, slug: str) -> Project:
        """A handle on project ``slug``; nothing is requested until one of its methods is."""
        return Project(self, slug)

    def create_project(
        self, slug: str, schema: Mapping[str, Any] | str | os.PathLike[str]
    ) -> Project:
        """Create a project (site admins; the creator becomes its manager) from a schema: a
        mapping, or the path of a YAML or JSON file, which the server reads as
        ``labelloop projects create`` does."""
        source: Any = (
            dict(schema) if isinstance(schema, Mapping) else Path(schema).read_text("utf-8")
        )
        self.request("POST", "/api/projects", json={"slug": slug, "schema": source})
        return self.project(slug)


@dataclass(eq=False)
class Task:
    """An item leased to this client's user from the project's queue, and why it was picked.

    ``data`` is the item's payload (``data["text"]`` for a text project) and ``selection`` the
    model's reason (``strategy``, ``score``, ``rank``, ``model_version``, ``reason``, and
    ``picked_by``: which model picked it in words, "v3" or "none (v1 was a cold start)" where
    ``cold_start`` says no model was trained yet);
    ``suggestion`` is the model's (or an import's) pre-annotation, if any. ``raw`` is the API's
    whole answer. Answer it with :meth:`submit` or :meth:`skip` before the lease expires.
    """

    project: Project = field(repr=False)
    assignment_id: int
    item_id: int
    external_id: str | None
    data: dict[str, Any]
    metadata: dict[str, Any]
    selection: dict[str, Any]
    suggestion: dict[str, Any] | None
    guideline_version: int
    lease_expires_at: str
    raw: dict[str, Any] = field(repr=False)
    answered: bool = False

    @classmethod
    def from_api(cls, project: Project, raw: dict[str, Any]) -> Task:
        item = raw["item"]
        return cls(
            project=project,
            assignment_id=raw["assignment_id"],
            item_id=item["id"],
            external_id=item.get("external_id"),
            data=item.get("data") or {},
            metadata=item.get("metadata") or {},
            selection=raw.get("selection") or {},
            suggestion=raw.get("suggestion"),
            guideline_version=raw["guideline_version"],
            lease_expires_at=raw["lease_expires_at"],
            raw=raw,
        )

    def submit(self, value: Any, *, active_ms: int = 0) -> Submission:
        """Record ``value`` as this user's answer, made under the guideline version the task
        was served with; see :meth:`Project.submit` for the shapes ``value`` takes."""
        done = self.project.submit(
            self.assignment_id,
            value,
            active_ms=active_ms,
            guideline_version=self.guideline_version,
        )
        self.answered = True
        return done

    def skip(self) -> None:
        """Give the item back; it is not served to this user again."""
        self.project.skip(self.assignment_id)
        self.answered = True

    def flag(self, note: str = "") -> dict[str, Any]:
        """Flag the item as ambiguous for the guideline's authors; it stays leased to answer."""
        return self.project.flag(self.assignment_id, note)

    def renew(self) -> str:
        """Keep the item leased for another ``lease_minutes`` from now (see
        :meth:`Project.renew`); its new ``lease_expires_at``, which this task now holds."""
        self.lease_expires_at = self.project.renew(self.assignment_id)["lease_expires_at"]
        return self.lease_expires_at

    def release(self) -> bool:
        """Give the item back unanswered, for others to be served now (see
        :meth:`Project.release`); whether it was given back. Unlike :meth:`skip`, it may be
        served to this user again."""
        return self.project.release([self]) == [self.assignment_id]


class Project:
    """One project's API, as the client's user may use it (their role decides; a route their
    role lacks raises :class:`ApiError` 403, a project they are not in 404)."""

    def __init__(self, client: Client, slug: str) -> None:
        self.client = client
        self.slug = slug
        self._base = f"/api/projects/{quote(slug, safe='')}"
        self._target: str | None = None

    def __repr__(self) -> str:
        return f"Project({self.slug!r})"

    def _call(self, method: str, path: str = "", **kwargs: Any) -> Any:
        return self.client.request(method, self._base + path, **kwargs)

    # ---------------------------------------------------------------------------------------
    # The project

    def detail(self) -> dict[str, Any]:
        """Name, the user's role, schema, settings and the newest guideline with its examples."""
        return self._call("GET")

    def status(self) -> dict[str, Any]:
        """Counts (pool, labeled, remaining, ...), the current model and its eval metrics, and
        whether to stop labeling (to an annotator: what the labeling page shows of them)."""
        return self._call("GET", "/status")

    def models(self) -> list[dict[str, Any]]:
        """Every model version, with its training size and eval metrics (reviewers and
        managers)."""
        return self._call("GET", "/models")

    def change_settings(self, **settings: Any) -> dict[str, Any]:
        """Change live learning settings by name, e.g. ``strategy="entropy"`` (managers;
        audited); returns every setting after."""
        return self._call("PATCH", "/settings", json=settings)

    def audit(
        self, *, limit: int = 50, action: str | None = None, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` (at most 1,000) of the newest audit events, newest first, of
        ``action`` (e.g. ``project.settings``) when given, older than event ``before`` when
        given (managers)."""
        params = {"limit": limit, "action": action, "before": before}
        return self._call("GET", "/audit", params=params)

    def audit_events(
        self, *, action: str | None = None, page: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every audit event of the project, newest first, asked for ``page`` at a time."""
        before = None
        while events := self.audit(limit=page, action=action, before=before):
            yield from events
            before = events[-1]["id"]

    def add_label(
        self, label: str, *, control: str | None = None, description: str = ""
    ) -> dict[str, Any]:
        """Add ``label`` after a control's labels (name it when several have labels), as a new
        schema version (managers; audited): the control, its ``labels``, the ``hotkey`` given
        and the ``schema_version``."""
        body = {"label": label, "control": control, "description": description}
        return self._call("POST", "/labels", json=body)

    def members(self) -> list[dict[str, Any]]:
        """Who is in the project, with which role (reviewers and managers)."""
        return self._call("GET", "/members")

    def set_member(self, username: str, role: str) -> dict[str, Any]:
        """Make ``username`` an annotator, reviewer or manager (managers)."""
        body = {"username": username, "role": role}
        return self._call("PUT", "/members", json=body)

    # ---------------------------------------------------------------------------------------
    # Import and export

    def import_records(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        text_field: str | None = None,
        id_field: str | None = None,
        label_field: str | None = None,
        prediction_field: str | None = None,
        split: str = "pool",
        update_labels: bool = False,
    ) -> ImportReport:
        """Import records (mappings, as lines of a JSONL file would hold them); they are
        encoded as the upload is sent, so a generator over a large source is never held in
        memory. All records or none: a bad one raises :class:`ApiError` naming its line (the
        record's 1-based position). ``text_field`` defaults to the schema's data field.
        ``update_labels``: items already here take the records' labels unless people labeled
        them here (``updated`` and ``kept`` in the report)."""
        upload = cast(BinaryIO, _JsonlReader(records))
        return self._import(
            ("records.jsonl", upload, "application/x-ndjson"),
            fmt="jsonl",
            text_field=text_field,
            id_field=id_field,
            label_field=label_field,
            prediction_field=prediction_field,
            split=split,
            update_labels=update_labels,
        )

    def import_file(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        text_field: str | None = None,
        id_field: str | None = None,
        label_field: str | None = None,
        prediction_field: str | None = None,
        split: str = "pool",
        update_labels: bool = False,
        annotations: bool = False,
    ) -> ImportReport:
        """Upload a JSONL, CSV, Parquet, COCO, CoNLL, Label Studio, doccano or Prodigy file, or
        a YOLO zip; ``format`` defaults to the one its name's suffix says (doccano and Prodigy
        files are ``.jsonl``: name them). All records or none, as :meth:`import_records`.
        ``annotations`` (a Label Studio file): every annotator's answer comes in as the answer
        of the member named by their email, and labels resolve by the project's rules."""
        path = Path(path)
        with path.open("rb") as fh:
            return self._import(
                (path.name, fh, "application/octet-stream"),
                fmt=format,
                text_field=text_field,
                id_field=id_field,
                label_field=label_field,
                prediction_field=prediction_field,
                split=split,
                update_labels=update_labels,
                annotations=annotations,
            )

    def _import(
        self,
        upload: tuple[str, BinaryIO, str],
        *,
        fmt: str | None,
        text_field: str | None,
        id_field: str | None,
        label_field: str | None,
        prediction_field: str | None,
        split: str,
        update_labels: bool,
        annotations: bool = False,
    ) -> ImportReport:
        form = {
            "format": fmt,
            "text_field": text_field,
            "id_field": id_field,
            "label_field": label_field,
            "prediction_field": prediction_field,
            "split": split,
            "update_labels": "true" if update_labels else None,
            "annotations": "true" if annotations else None,
        }
        data = {k: v for k, v in form.items() if v is not None}
        return self._call("POST", "/imports", data=data, files={"file": upload})

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        format: str = "jsonl",
        auto: bool = True,
        split: str = "pool",
        annotations: bool = False,
        images: bool = False,
    ) -> Path:
        """Write every labeled item with its provenance to ``path`` (``jsonl``, ``csv``,
        ``coco``, ``yolo`` (a zip), ``conll``, ``label_studio``, ``doccano`` or ``prodigy``), as
        it downloads; the file appears whole or not at all. ``auto=False`` leaves the model's
        auto labels out; ``split="eval"`` writes the labeled eval items instead of the pool's;
        ``annotations=True`` writes every answer instead (a row each in ``jsonl`` or ``csv``, a
        task per answered item in ``label_studio``); ``images=True`` (``yolo``, ``coco``) a zip
        holding each item's image too, with a ``UserWarning`` when it holds more than one upload
        takes (another project then refuses it as an upload; the warning says what to do)."""
        params = _export_params(format, auto=auto, split=split, annotations=annotations)
        if images:
            params["images"] = "true"
        return self._download(f"{self._base}/export", Path(path), params=params)

    def export_rows(
        self, *, auto: bool = True, split: str = "pool", annotations: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every labeled item as a dict (a row of the JSONL export: ``item_id``, ``label``,
        ``value``, ``annotator``, ``annotators``, ``guideline_versions``, ``resolution``, ...),
        parsed as the download arrives; ``auto``, ``split`` and ``annotations`` (a row per
        answer) as for :meth:`export`."""
        params = _export_params("jsonl", auto=auto, split=split, annotations=annotations)
        with self.client.stream("GET", f"{self._base}/export", params=params) as r:
            for line in r.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def download_model(self, path: str | os.PathLike[str]) -> Path:
        """Train the project's classifier on every resolved label and save it with its
        featurizer (a joblib file; load it with ``labelloop.workflow.modelfiles.load``)."""
        return self._download(f"{self._base}/model", Path(path))

    def _download(
        self, url_path: str, path: Path, *, params: Mapping[str, Any] | None = None
    ) -> Path:
        part = path.with_name(path.name + ".part")
        try:
            with self.client.stream("GET", url_path, params=params) as r, part.open("wb") as out:
                for block in r.iter_bytes():
                    out.write(block)
            part.replace(path)
            for said in r.headers.get_list("x-labelloop-warning"):  # the export's, see export
                warnings.warn(f"{path.name}: {said}", UserWarning, stacklevel=3)
        finally:
            part.unlink(missing_ok=True)
        return path

    # ---------------------------------------------------------------------------------------
    # Labeling

    def next_task(self, *, held: Sequence[int] = ()) -> Task | None:
        """Lease the next item for this user (the one they already hold first); ``None`` when
        the queue has none for them now (:meth:`idle` says why). ``held`` lists assignments
        the caller keeps (up to 20), to be served the item after them."""
        found = self._call("POST", "/tasks/next", json={"held": list(held)})["task"]
        return Task.from_api(self, found) if found is not None else None

    def tasks(self, *, wait_s: float = 0.0) -> Iterator[Task]:
        """Serve tasks one after another until the queue has none for this user. While items
        wait only for the model's next round (:meth:`idle` state ``open``, as right after an
        import), it asks again every second for up to ``wait_s`` seconds. A task the loop body
        neither submitted nor skipped is skipped when the loop moves on, so no item is served
        twice; leaving the loop early keeps the current task leased."""
        deadline = time.monotonic() + wait_s
        while True:
            task = self.next_task()
            if task is None:
                left = deadline - time.monotonic()
                if left <= 0 or self.idle()["state"] != "open":
                    return
                time.sleep(min(POLL_S, left))
                continue
            yield task
            if not task.answered:
                task.skip()
            deadline = time.monotonic() + wait_s

    def idle(self) -> dict[str, Any]:
        """Why there is no task: ``state`` is ``empty`` (nothing imported yet), ``done``,
        ``leased``, ``waiting``, ``open`` (the model's next round, which is due, queues more;
        ``first`` when it is the project's first) or ``unqueued`` (a round that more labels
        start, unless ``blocked`` says why the project's settings stop every round);
        ``remaining`` and ``leased_to_others`` count."""
        return self._call("GET", "/tasks/idle")

    def submit(
        self,
        assignment_id: int,
        value: Any,
        *,
        active_ms: int = 0,
        guideline_version: int | None = None,
    ) -> Submission:
        """Record an answer for a leased task. ``value`` maps control names to values
        (``{"sentiment": "positive"}``); any other value is taken as the target control's
        (``"positive"``). ``guideline_version`` is the one the answer was made under (default:
        the newest); ``active_ms`` the time spent on it."""
        body = self._answer(value, active_ms=active_ms, guideline_version=guideline_version)
        return self._call("POST", f"/tasks/{assignment_id}/submit", json=body)

    def skip(self, assignment_id: int) -> None:
        """Give a leased task back; its item is not served to this user again."""
        self._call("POST", f"/tasks/{assignment_id}/skip")

    def renew(self, assignment_id: int) -> dict[str, Any]:
        """Keep a leased task for another ``lease_minutes`` from now (never shorter), as the
        labeling page does while its annotator works. A lease that ran out is taken again
        while nobody else took the item; :class:`ApiError` 409 says when someone did. The
        answer's ``lease_expires_at`` is the lease's new end (:meth:`release` names it)."""
        return self._call("POST", f"/tasks/{assignment_id}/renew")

    def release(self, tasks: Iterable[Task]) -> list[int]:
        """Give back leased tasks unanswered (at most 20), as the labeling page does when it
        is left: their items are served to others now, not when the leases run out, and to
        this user again while nobody else took them. Each is named with the end it was last
        given (:attr:`Task.lease_expires_at`): one served again or renewed elsewhere since (a
        reloaded page, another script) stays leased, as do answered tasks and items sent back
        for rework (those wait for this user again, no longer being redone). The assignment
        ids given back."""
        leases = [
            {"assignment_id": t.assignment_id, "lease_expires_at": t.lease_expires_at}
            for t in tasks
        ]
        return list(self._call("POST", "/tasks/release", json={"leases": leases})["released"])

    def flag(self, assignment_id: int, note: str = "") -> dict[str, Any]:
        """Flag a leased task's item as ambiguous, with a note for the guideline's authors."""
        return self._call("POST", f"/tasks/{assignment_id}/flag", json={"note": note})

    def change_answer(
        self,
        annotation_id: int,
        value: Any,
        *,
        active_ms: int = 0,
        guideline_version: int | None = None,
    ) -> dict[str, Any]:
        """Change one of your earlier answers (an ``annotation_id`` from :meth:`items` or
        :meth:`my_answer`), ``value`` shaped as for :meth:`submit`. An answer a reviewer gave
        a verdict on is refused (``Conflict``, saying why)."""
        body = self._answer(value, active_ms=active_ms, guideline_version=guideline_version)
        return self._call("PUT", f"/annotations/{annotation_id}", json=body)

    def _answer(
        self, value: Any, *, active_ms: int, guideline_version: int | None
    ) -> dict[str, Any]:
        """A submit's or a change's body: the value, the time spent, the guideline shown."""
        return {
            "value": self._value(value),
            "active_ms": active_ms,
            "guideline_version": guideline_version,
        }

    def _value(self, value: Any) -> dict[str, Any]:
        """An annotation value as the API takes it: a mapping as given, else the target's."""
        if isinstance(value, Mapping):
            return dict(value)
        if self._target is None:
            self._target = str(self.detail()["target"])
        return {self._target: value}

    # ---------------------------------------------------------------------------------------
    # Review

    def items(
        self,
        *,
        status: str = "all",
        label: str | None = None,
        annotator: str | None = None,
        resolution: str | None = None,
        split: str | None = None,
        q: str | None = None,
        picked_by: str | None = None,
        newest_first: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of the project's items with their labels, answers and open flags, filtered
        (``total``, ``items``; ``q``: words, read as :meth:`search` reads them, a long one cut
        and said so in ``cut`` and ``note``; ``picked_by``:
        how the item was first served, e.g. ``margin``, ``control``, ``search:ana``,
        ``no_prediction``); reviewers
        and managers. To an annotator, My answers (``mine``):
        the items they answered with their own answer, its ``state`` (``no_verdict``,
        ``accepted``, ``fixed``, ``rejected``; what ``status`` filters by) and ``refusal``."""
        params: dict[str, Any] = {"status": status, "limit": limit, "offset": offset}
        given = {"label": label, "annotator": annotator, "resolution": resolution}
        given["picked_by"] = picked_by
        params.update({k: v for k, v in {**given, "split": split, "q": q}.items() if v})
        if newest_first:
            params["order"] = "newest"
        return self._call("GET", "/items", params=params)

    def item_trace(self, item_id: int) -> dict[str, Any]:
        """Everything about one item: each answer with who, when, under which guideline and
        model and why it was picked; the label, reviews, flags and history."""
        return self._call("GET", f"/items/{item_id}/review")

    def my_answer(self, item_id: int) -> dict[str, Any]:
        """Your answers to one item and what is yours of its trace: when, under which guideline,
        why it was picked, the reviewers' verdicts and notes on it, your own actions."""
        return self._call("GET", f"/items/{item_id}/mine")

    def flags(
        self, *, kind: str | None = None, open_only: bool = True, limit: int = 200, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A page of the flags on the project's items, newest first (reviewers and managers):
        ``kind`` e.g. ``ambiguous`` or ``label_issue``; ``open_only=False`` adds resolved ones.
        A flag the model raised carries the label it suggests, ``suggestion``, and its
        probability, ``confidence`` (both ``None`` on other flags)."""
        params: dict[str, Any] = {"open": open_only, "limit": limit, "offset": offset}
        if kind:
            params["kind"] = kind
        return self._call("GET", "/flags", params=params)["flags"]

    def second_looks(self) -> dict[str, Any]:
        """The imported labels flagged as likely errors that wait for a second look (reviewers),
        oldest flag first, as ``labelloop second-look SLUG --json`` lists them: ``items``, each
        with its label, the model's ``suggestion`` and ``confidence`` and its file;
        ``in_review_queue`` whether the review queue serves them."""
        return self._call("GET", "/second-look")

    def my_reviews(self, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """A page of the reviewers' verdicts on your own answers, newest first."""
        found = self._call("GET", "/reviews/mine", params={"limit": limit, "offset": offset})
        return found["reviews"]

    def next_review(self, *, skip: Sequence[int] = ()) -> dict[str, Any] | None:
        """The next annotation waiting for review (reviewers), or ``None``; ``skip`` lists
        annotation ids to pass over. Its item is leased to you until ``lease_expires_at``:
        other reviewers are served other answers until your verdict, a pass
        (``skip``), :meth:`release_review` or the lease running out."""
        found = self._call("GET", "/reviews/next", params={"skip": list(skip)})
        return found["review"]

    def renew_review(self, item_id: int) -> dict[str, Any]:
        """Keep the item :meth:`next_review` served leased to you for another
        ``lease_minutes``; 409 when another reviewer has it now or you gave it back."""
        return self._call("POST", f"/reviews/leases/{item_id}/renew")

    def release_review(self, item_id: int, *, lease_expires_at: str | None = None) -> bool:
        """Give back the item :meth:`next_review` served, for another reviewer; whether it
        was leased to you. With ``lease_expires_at`` (the end :meth:`next_review` or the last
        :meth:`renew_review` gave), only while it still ends then: a lease served to you again
        since (another page or script) stays."""
        body = None if lease_expires_at is None else {"lease_expires_at": lease_expires_at}
        path = f"/reviews/leases/{item_id}/release"
        return bool(self._call("POST", path, json=body)["released"])

    def review(
        self,
        annotation_id: int,
        verdict: str,
        *,
        value: Any = None,
        comment: str | None = None,
        seen: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Give a verdict: ``accept``, ``reject`` (with a comment), ``fix`` (with the corrected
        value, shaped as for :meth:`submit`) or ``escalate``. ``seen``, the answer's value as
        :meth:`next_review` gave it, makes the verdict apply to that value only: when its
        annotator changed it since, the server answers 409 and records nothing."""
        body = {
            "verdict": verdict,
            "value": self._value(value) if value is not None else None,
            "comment": comment,
            "seen": dict(seen) if seen is not None else None,
        }
        return self._call("POST", f"/reviews/{annotation_id}", json=body)

    # ---------------------------------------------------------------------------------------
    # Guidelines

    def guidelines(self) -> list[dict[str, Any]]:
        """Every guideline version, newest first: author, date, summary, answers made under it."""
        return self._call("GET", "/guidelines")

    def guideline(self, version: int | None = None) -> dict[str, Any]:
        """One version's Markdown (``body``), safe HTML and examples; the newest by default."""
        if version is None:
            version = int(self.guidelines()[0]["version"])
        return self._call("GET", f"/guidelines/{version}")

    def publish_guideline(
        self, body: str, summary: str, *, base_version: int | None = None
    ) -> dict[str, Any]:
        """Publish a new version (managers). With ``base_version``, the version it was written
        from, a version someone published meanwhile raises :class:`ApiError` 409."""
        payload = {"body": body, "summary": summary, "base_version": base_version}
        return self._call("POST", "/guidelines", json=payload)

    def guideline_diff(self, old: int, new: int) -> dict[str, Any]:
        """A unified diff from version ``old`` to ``new``, and the examples added and removed."""
        return self._call("GET", "/guidelines/diff", params={"from": old, "to": new})

    def examples(self, version: int | None = None) -> dict[str, Any]:
        """The items a guideline version (the newest by default) pins as examples."""
        params = {"version": version} if version is not None else None
        return self._call("GET", "/guidelines/examples", params=params)

    def pin_example(
        self,
        *,
        item_id: int | None = None,
        external_id: str | None = None,
        value: Any = None,
        note: str = "",
        base_version: int | None = None,
    ) -> dict[str, Any]:
        """Pin an item (by ``item_id`` or its import ``external_id``) as an example of
        ``value`` (default: its resolved label; shaped as for :meth:`submit`), with a note on
        why; a new guideline version (managers)."""
        body = {
            "item_id": item_id,
            "external_id": external_id,
            "value": self._value(value) if value is not None else None,
            "note": note,
            "base_version": base_version,
        }
        return self._call("POST", "/guidelines/examples", json=body)

    def unpin_example(self, item_id: int, *, base_version: int | None = None) -> dict[str, Any]:
        """Take an item's example out of the guideline; a new guideline version (managers)."""
        params = {"base_version": base_version} if base_version is not None else None
        return self._call("DELETE", f"/guidelines/examples/{item_id}", params=params)

    # ---------------------------------------------------------------------------------------
    # Reports

    def dashboard(self, *, days: int | None = None) -> dict[str, Any]:
        """The operations dashboard over the last ``days`` (reviewers and managers)."""
        params = {"days": days} if days is not None else None
        return self._call("GET", "/dashboard", params=params)

    def acknowledge_alert(self, kind: str, note: str = "") -> dict[str, Any]:
        """Acknowledge the open alert of ``kind`` ("backlog", "drift", ...) with an optional
        one-line note: it stays open while it holds but no longer needs attention (reviewers
        and managers)."""
        return self._call(
            "POST", f"/alerts/{quote(kind, safe='')}/acknowledge", json={"note": note}
        )

    def unacknowledge_alert(self, kind: str) -> dict[str, Any]:
        """Take an alert's acknowledgement back: it needs attention again (the one who
        acknowledged it, or a manager)."""
        return self._call("DELETE", f"/alerts/{quote(kind, safe='')}/acknowledge")

    def gain(self) -> dict[str, Any]:
        """What active learning bought over the random controls, or why not yet (reviewers
        and managers)."""
        return self._call("GET", "/gain")

    def coverage(self) -> dict[str, Any]:
        """Per confidence, the unlabeled items the model is that sure of and how often it is
        right that sure on the eval items (trains a model; reviewers and managers)."""
        return self._call("GET", "/coverage")

    def autolabel(
        self,
        *,
        confidence: float | None = None,
        min_accuracy: float | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Give the model's label to the unlabeled items it is at least ``confidence`` sure of,
        when the eval items vouch for it (managers); each default is the project's setting."""
        body = {"confidence": confidence, "min_accuracy": min_accuracy, "dry_run": dry_run}
        return self._call("POST", "/autolabel", json=body)

    def imports(self) -> list[dict[str, Any]]:
        """The project's imports, newest first: file, format, split, who, when, items,
        labeled, duplicates, and how many of its items people touched (managers)."""
        return self._call("GET", "/imports")

    def undo_import(self, batch_id: int) -> dict[str, Any]:
        """Remove an import's items and what only they had (managers; audited), and the image
        files an uploaded zip stored for them (``files``: how many). An import whose items
        people worked on raises ``ApiError`` 409 saying what holds them."""
        return self._call("DELETE", f"/imports/{int(batch_id)}")

    def autolabel_runs(self) -> dict[str, Any]:
        """The auto-label policy and runs, newest first (reviewers and managers)."""
        return self._call("GET", "/autolabel")

    def undo_autolabel(self, run_id: int) -> dict[str, Any]:
        """Remove a run's auto labels still standing (managers)."""
        return self._call("DELETE", f"/autolabel/{int(run_id)}")

    def check_autolabel(self, run_id: int, n: int = 50) -> dict[str, Any]:
        """Take ``n`` of a run's labels back for people to answer blind (reviewers, managers);
        ``autolabel_runs()`` then says how many answers agree with the model."""
        return self._call("POST", f"/autolabel/{int(run_id)}/check", json={"n": n})

    def simulate(
        self,
        *,
        strategies: Sequence[str] | None = None,
        seeds: int | None = None,
        budget: int | None = None,
        batch: int | None = None,
        max_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Queue a replay of active learning on the project's own labels for each strategy
        (managers; each option left out takes its default); the learner runs it. Follow it
        with :meth:`simulation` until its ``state`` is ``done`` (or ``failed``,
        ``cancelled``)."""
        options = {
            "strategies": list(strategies) if strategies is not None else None,
            "seeds": seeds,
            "budget": budget,
            "batch": batch,
            "max_seconds": max_seconds,
        }
        body = {k: v for k, v in options.items() if v is not None}
        return self._call("POST", "/simulations", json=body)

    def simulations(self) -> list[dict[str, Any]]:
        """The project's simulations, newest first (managers)."""
        return self._call("GET", "/simulations")

    def simulation(self, sim_id: int) -> dict[str, Any]:
        """One simulation: ``state``, ``phase``, ``percent``; once done its ``summary`` (the
        table, a note, the ``best`` strategy) and ``chart_url``."""
        return self._call("GET", f"/simulations/{int(sim_id)}")

    def cancel_simulation(self, sim_id: int) -> dict[str, Any]:
        """Stop a queued or running simulation; 409 once it ended."""
        return self._call("POST", f"/simulations/{int(sim_id)}/cancel")

    def quality(self, *, cohort_field: str = "cohort", n_boot: int = 200) -> dict[str, Any]:
        """Agreement overall, per label, pair, cohort and week; the annotator table; flags."""
        params = {"cohort_field": cohort_field, "n_boot": n_boot}
        return self._call("GET", "/quality", params=params)

    def search(
        self, q: str | None = None, *, like: int | None = None, limit: int = 20, offset: int = 0
    ) -> dict[str, Any]:
        """Pool items holding every term of ``q`` (whole words in any case, ``refund*``
        prefixes, "quoted phrases"; a longer ``q`` than 200 characters is searched by its first
        200, and the answer says so in ``cut`` and ``note``), each with the ranges that matched
        (``marks``); or most like item ``like`` (``preparing`` while the server measures the
        pool after a start or an import: ask again)."""
        params = {"q": q, "like": like, "limit": limit, "offset": offset}
        return self._call("GET", "/search", params=params)

    def send_to_queue(
        self, item_ids: Sequence[int], *, query: str | None = None, like: int | None = None
    ) -> dict[str, Any]:
        """Serve found items ahead of the model's ranking, saying how they were found."""
        body = {"item_ids": list(item_ids), "query": query, "like": like}
        return self._call("POST", "/seeds", json=body)


_END = object()


class _JsonlReader(io.RawIOBase):
    """Records as the bytes of a JSONL file, encoded only as far as a read asks; no length or
    seek, so httpx sends the upload in chunks."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        self._records = iter(records)
        self._pending = bytearray()
        self._line = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while len(self._pending) < len(view):
            record = next(self._records, _END)
            if record is _END:
                break
            self._line += 1
            try:
                text = json.dumps(record, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"record {self._line} cannot be sent as JSON: {exc}") from exc
            self._pending += text.encode("utf-8") + b"\n"
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        del self._pending[:n]
        return n


def _export_params(fmt: str, *, auto: bool, split: str, annotations: bool) -> dict[str, str]:
    """An export's query: the format, whether auto labels go in, the split, answers or labels."""
    params = {"format": fmt, "auto": str(auto).lower(), "split": split}
    if annotations:
        params["annotations"] = "true"
    return params


def _params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the ones left unset."""
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _raise_for(response: httpx.Response, method: str, path: str) -> None:
    """Raise :class:`ApiError` for an error answer, from the API's JSON body when it has one
    (a proxy in front of the server may answer in HTML)."""
    if not response.is_error:
        return
    kind, detail = response.reason_phrase or "HTTPError", response.text[:500]
    try:
        body = response.json()
    except ValueError:
        body = None
    where: dict[str, Any] = {}
    if isinstance(body, dict) and "error" in body:
        kind, detail = str(body["error"]), str(body.get("detail", ""))
        if isinstance(body.get("line"), int):
            where = {key: body.get(key) for key in ("line", "field", "unit", "cites")}
    raise ApiError(response.status_code, kind, detail, method=method, path=path, **where)
