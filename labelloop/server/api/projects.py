"""Projects: list, create, read, status, model versions, members, imports (and their undo),
export, model file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from pathlib import PurePath
from typing import Annotated, Any, BinaryIO, cast

from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from labelloop.errors import LabelloopError
from labelloop.govern.guidelines import render_markdown
from labelloop.govern.permissions import Permission
from labelloop.ingest import importer_for_path
from labelloop.ingest.formats import export_suffix
from labelloop.server.api.deps import (
    AdminUser,
    CurrentUser,
    DbDep,
    FeaturesDep,
    ReportUser,
    make_router,
)
from labelloop.server.api.schemas import Id, LabelIn, MemberIn, ProjectIn, SettingsIn
from labelloop.server.import_progress import KEY_PATTERN, ImportProgress
from labelloop.sizes import size_text
from labelloop.workflow import (
    auditing,
    batches,
    gain,
    guidelines,
    imports,
    modelfiles,
    projects,
    status,
)
from labelloop.workflow import export as wf_export

router = make_router(prefix="/api/projects", tags=["projects"])
MAX_UPLOAD_BYTES = 2 * 1024**3


@router.get("")
def list_projects(db: DbDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The projects the user sees, where the user reads the dashboard with their open alerts
    (stored by the learner), as the projects list shows them: ``alerts``, the kinds that need
    attention, and ``acknowledged_alerts``, those someone acknowledged (who, when, the note)."""
    from labelloop.workflow import insight

    rows = projects.projects_for(db, user)
    found = insight.open_alerts(db, user, rows)
    out = []
    for r in rows:
        mine = found.get(int(r["id"]), [])
        out.append(
            {
                **r,
                "alerts": [a["kind"] for a in mine if a["acknowledged_at"] is None],
                "acknowledged_alerts": [a for a in mine if a["acknowledged_at"] is not None],
            }
        )
    return out


@router.post("", status_code=201)
def create_project(body: ProjectIn, db: DbDep, admin: AdminUser) -> dict[str, Any]:
    """Create a project from a schema (a mapping, or YAML or JSON text, as ``labelloop
    projects create`` reads a file); site admins, who become its manager. Answers as ``GET``."""
    projects.create_project(db, body.slug, body.project_schema, actor=admin)
    return project_detail(body.slug, db, admin)


@router.get("/{slug}")
def project_detail(slug: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Name, the caller's role, schema, target control, settings (to an annotator the labeling
    ones) and the newest guideline with its examples. Any member."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    guideline = projects.guideline(db, ctx)
    return {
        "slug": ctx.slug,
        "name": ctx.name,
        "role": ctx.role,
        "schema": projects.visible_schema(ctx),
        "schema_version": ctx.schema_version,
        # The control the model learns, named even when the schema marks none (the first
        # learnable one then): what a bare label from a script answers.
        "target": ctx.schema.target.name,
        # An annotator reads the settings their labeling applies only (projects.visible_settings)
        "settings": projects.visible_settings(ctx),
        # what a setting does not do as set (resolution dawid_skene under overlap 2, a tier
        # naming non-members), said where the project is read rather than refused
        "settings_notes": projects.settings_notes(db, ctx),
        "guideline": {
            **guideline,
            "html": render_markdown(guideline["body"]),
            "examples": guidelines.examples(db, ctx, guideline["version"])["examples"],
        },
    }


@router.patch("/{slug}/settings")
def change_settings(slug: str, body: SettingsIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Change a live project's settings (strategy, batch size, stopping, review ...); every
    setting after. Managers only; each change is an audit event."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return projects.change_settings(db, ctx, body.changes())


@router.post("/{slug}/labels", status_code=201)
def add_label(slug: str, body: LabelIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Add a label to a live project's control (named when several have labels), as a new
    schema version; answers already given keep theirs. Managers only; audited."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return projects.add_label(
        db, ctx, body.label, control=body.control, description=body.description
    )


@router.get("/{slug}/audit")
def audit_events(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=auditing.MAX_EVENTS)] = 50,
    action: Annotated[str | None, Query(max_length=50)] = None,
    before: Id | None = None,
) -> list[dict[str, Any]]:
    """The project's newest audit events, newest first (managers); ``action`` filters, e.g.
    ``project.settings``; ``before``, the id of the last event of the page before, answers
    the next page back, through the whole log."""
    ctx = projects.access(db, slug, user, Permission.VIEW_AUDIT)
    return auditing.events(db, ctx, limit=limit, action=action, before=before)


@router.get("/{slug}/audit/verify")
def verify_audit(slug: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Whether the project's audit hash chain is intact, and its first broken event if not."""
    return auditing.verify(db, projects.access(db, slug, user, Permission.VIEW_AUDIT))


@router.get("/{slug}/status")
def project_status(
    slug: str, db: DbDep, user: CurrentUser, features: FeaturesDep
) -> dict[str, Any]:
    """Counts, the current model with its eval metrics, when the next trains, whether to stop.
    An annotator reads what the labeling page shows of it (no model parameters, stopping
    criteria, learning settings or gold count)."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    return status.status(db, ctx, features_dir=features.root)


@router.get("/{slug}/gain")
def active_learning_gain(
    slug: str, db: DbDep, user: ReportUser, features: FeaturesDep
) -> dict[str, Any]:
    """What active learning bought: the policy's labels against the random controls
    (``random_share``), measured on the eval items; or why not yet (``state: waiting``).
    Reviewers and managers."""
    ctx = projects.access(db, slug, user, Permission.VIEW_INSIGHT)
    return gain.report(db, ctx, cache=features)


@router.get("/{slug}/models")
def model_versions(slug: str, db: DbDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Every model version, oldest first: training size, featurizer, model and its parameters,
    eval metrics, stopping state. Reviewers and managers (an annotator reads the current
    model's version and eval score in the status)."""
    return status.models(db, projects.access(db, slug, user, Permission.VIEW_INSIGHT))


@router.get("/{slug}/members")
def list_members(slug: str, db: DbDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The members, their user ids and roles. Reviewers and managers: an annotator is not
    shown who else is in the team."""
    return projects.members(db, projects.access(db, slug, user, Permission.VIEW_INSIGHT))


@router.put("/{slug}/members")
def set_member(slug: str, body: MemberIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Make a user an annotator, reviewer or manager of the project (managers; audited)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_MEMBERS)
    return projects.set_member(db, ctx, body.username, body.role)


@router.delete("/{slug}/members/{username}")
def remove_member(slug: str, username: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Take a member out of the project: their labels stay attributed, their leases go back to
    the queue, and the project answers them 404 from then on. A manager cannot remove the
    project's last manager; a site admin can."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_MEMBERS)
    return projects.remove_member(db, ctx, username)


@router.post("/{slug}/imports", status_code=201)
def import_file(
    slug: str,
    request: Request,
    db: DbDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File()],
    text_field: Annotated[str | None, Form()] = None,
    id_field: Annotated[str | None, Form()] = None,
    label_field: Annotated[str | None, Form()] = None,
    prediction_field: Annotated[str | None, Form()] = None,
    split: Annotated[str, Form()] = "pool",
    format: Annotated[str | None, Form()] = None,
    update_labels: Annotated[bool, Form()] = False,
    annotations: Annotated[bool, Form()] = False,
    progress_key: Annotated[str | None, Form(pattern=KEY_PATTERN)] = None,
) -> dict[str, Any]:
    """Import an uploaded file; all records or none. A ``.zip`` is a YOLO dataset, or a COCO
    file with its images (as CVAT, Label Studio and Roboflow export it), the images stored under
    the first media root. ``duplicate_lines`` and ``kept_lines`` count what ``unit`` says: lines,
    rows (CSV, Parquet; a CSV's lines where a cell spans lines), images (a COCO file's or a
    zip's, in order), files or tasks. An import that brings nothing new is not kept:
    ``batch_id`` is null and ``nothing_new`` says so.
    ``update_labels``: items already here take the file's labels unless people labeled them
    here (``updated``, ``kept``). ``annotations``
    (a Label Studio file): every annotator's answer comes in as their member's, and labels
    resolve by the project's rules. ``progress_key`` (8-64 letters, digits, ``-``, ``_``):
    how far the import has come is answered under it by ``GET …/imports/progress``."""
    ctx = projects.access(db, slug, user, Permission.IMPORT)
    filename = PurePath(file.filename or "upload").name
    fmt = format or importer_for_path(filename)
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise LabelloopError(f"the file is larger than {size_text(MAX_UPLOAD_BYTES)}")
    registry: ImportProgress = request.app.state.import_progress
    with (
        registry.tracking(user.id, ctx.id, progress_key) if progress_key else nullcontext()
    ) as tracker:
        report = imports.import_items(
            db,
            ctx,
            file.file,
            fmt=fmt,
            filename=filename,
            text_field=text_field or None,
            id_field=id_field or None,
            label_field=label_field or None,
            prediction_field=prediction_field or None,
            split=split,
            progress=tracker.records if tracker else None,
            stage=tracker.stage if tracker else None,
            media_roots=request.app.state.settings.media_root_paths,  # image paths are checked
            update_labels=update_labels,
            answers=annotations,
        )
    if report.n_items:  # "More like this" measures the new items now, not when first asked
        request.app.state.warmer.ask_ahead([ctx.id])
    return {
        "batch_id": report.batch_id,
        "items": report.n_items,
        "labeled": report.n_labeled,
        "duplicates": report.n_duplicates,
        "duplicate_lines": list(report.duplicate_lines[:100]),
        "unit": report.unit,
        "split": report.split,
        "eval": report.n_eval,
        "updated": report.n_updated,
        "kept": report.n_kept,
        "kept_lines": list(report.kept_lines[:100]),
        "notes": list(report.notes),
        "nothing_new": report.nothing_new,
    }


@router.get("/{slug}/imports/progress")
def import_progress(
    slug: str,
    request: Request,
    db: DbDep,
    user: CurrentUser,
    key: Annotated[str, Query(pattern=KEY_PATTERN)],
) -> dict[str, Any]:
    """How far the caller's upload sent with ``progress_key=key`` has come: ``state``
    (running, done, failed), ``records`` checked and ``stage`` (storing images, checking
    records, saving); for an undo sent with it, ``records`` removed (stage removing items);
    ``state: unknown`` for a key this server does not hold for this caller
    and project (another server process took the upload, or it ended minutes ago)."""
    ctx = projects.access(db, slug, user, Permission.IMPORT)
    found = request.app.state.import_progress.read(user.id, ctx.id, key)
    return found or {"state": "unknown", "records": None, "stage": None}


@router.get("/{slug}/imports")
def list_imports(slug: str, db: DbDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The project's imports, newest first: file, format, split, who, when, items, labeled,
    duplicates, and how many of its items people touched (``touched``) or anything holds
    (``held``; an import is ``undoable`` while none is). Managers."""
    ctx = projects.access(db, slug, user, Permission.IMPORT)
    return batches.imports(db, ctx)


@router.delete("/{slug}/imports/{batch_id}")
def undo_import(
    slug: str,
    batch_id: Id,
    request: Request,
    db: DbDep,
    user: CurrentUser,
    features: FeaturesDep,
    progress_key: Annotated[str | None, Query(pattern=KEY_PATTERN)] = None,
) -> dict[str, Any]:
    """Undo an import: its items are withdrawn at once (served to and answered by nobody),
    then removed a slice at a time while annotators go on working, then the import (managers;
    audited) and the image files an uploaded zip stored for them (``files``). 409 naming what
    holds them when people answered, reviewed, made gold, pinned, picked or flagged any of
    them, or an auto-label run labeled one, and while an import into the project or another
    undo of this import ("being undone right now") is running; nothing is removed. Undos of
    different imports run side by side.
    ``progress_key``: how many items are removed so far is answered under it by
    ``GET …/imports/progress`` (``stage`` "removing items", ``records``)."""
    ctx = projects.access(db, slug, user, Permission.IMPORT)
    roots = request.app.state.settings.media_root_paths
    registry: ImportProgress = request.app.state.import_progress
    with (
        registry.tracking(user.id, ctx.id, progress_key) if progress_key else nullcontext()
    ) as tracker:
        if tracker is not None:
            tracker.stage("removing items")

        def removed(done: int, _total: int) -> None:
            if tracker is not None:
                tracker.records(done)

        return batches.undo(db, ctx, batch_id, cache=features, media_roots=roots, progress=removed)


@router.get("/{slug}/export")
def export(
    slug: str,
    request: Request,
    db: DbDep,
    user: CurrentUser,
    format: Annotated[str, Query()] = "jsonl",
    auto: Annotated[bool, Query()] = True,
    split: Annotated[str, Query()] = "pool",
    annotations: Annotated[bool, Query()] = False,
    images: Annotated[bool, Query()] = False,
) -> StreamingResponse:
    """Download every labeled item with its provenance; ``auto=false`` leaves the model's
    labels (auto-label runs) out; ``split=eval`` gives the labeled eval items instead;
    ``annotations=true`` gives every answer instead: a row each (jsonl, csv) with its review,
    gold check and the item's label, or a task per answered item (label_studio);
    ``images=true`` (yolo, coco) a zip holding each item's image too, which imports into
    another project as an uploaded zip does."""
    ctx = projects.access(db, slug, user, Permission.EXPORT)
    roots = request.app.state.settings.media_root_paths
    media = {
        "csv": "text/csv",
        "coco": "application/json",
        "conll": "text/plain; charset=utf-8",
        "label_studio": "application/json",
        "yolo": "application/zip",
    }.get(format, "application/x-ndjson")
    suffix = ("answers." if annotations else "") + export_suffix(format)
    if images:
        media, suffix = "application/zip", f"{format}.zip"
    warnings: list[str] = []
    return _download(
        lambda sink: wf_export.export(
            db,
            ctx,
            sink,
            fmt=format,
            auto=auto,
            split=split,
            annotations=annotations,
            images=images,
            media_roots=roots,
            warn=warnings.append,
        ),
        media_type=media,
        filename=f"{ctx.slug}.{suffix}",
        warnings=warnings,
    )


@router.get("/{slug}/model")
def model_file(slug: str, db: DbDep, user: CurrentUser, features: FeaturesDep) -> StreamingResponse:
    """The project's classifier trained on every resolved label, with its featurizer, as a
    joblib file (`labelloop model predict`, or `modelfiles.load` in Python); audited."""
    ctx = projects.access(db, slug, user, Permission.EXPORT)
    model = modelfiles.build(db, ctx, cache=features)
    return _download(
        lambda sink: modelfiles.write(model, sink),
        media_type="application/octet-stream",
        filename=f"{ctx.slug}-model{modelfiles.SUFFIX}",
    )


def _download(
    write: Callable[[BinaryIO], object],
    *,
    media_type: str,
    filename: str,
    warnings: Sequence[str] = (),
) -> StreamingResponse:
    """What ``write`` writes, as an attachment: spooled first (to disk past 16 MB), so an error
    is an error response, never a truncated download; what ``warnings`` holds once it is
    written goes in ``X-Labelloop-Warning`` headers (one each)."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024**2)  # noqa: SIM115 (closed below)
    try:
        write(cast(BinaryIO, spool))
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(1 << 16):
                yield block

    response = StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
    for warning in warnings:  # a header holds Latin-1 on one line
        said = " ".join(warning.split()).encode("latin-1", "replace").decode("latin-1")
        response.headers.append(WARNING_HEADER, said)
    return response


WARNING_HEADER = "X-Labelloop-Warning"
"""A download's header telling what the user should know of the file (see export)."""
