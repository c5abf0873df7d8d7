"""Projects: creation from a schema file, membership, and the access check every route makes."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from labelloop.errors import Conflict, LabelloopError, NotFound, PermissionDenied, SchemaError
from labelloop.govern.guidelines import text_sha256
from labelloop.govern.permissions import ROLES, Permission, refusal, role_allows
from labelloop.schema import ProjectSchema, ProjectSettings, parse_schema
from labelloop.schema.project import check_featurizer_reads, with_label
from labelloop.schema.settings import registry_problem, resolution_note, typed_settings
from labelloop.store import audit
from labelloop.store import projects as store_projects
from labelloop.store import review_leases as store_leases
from labelloop.store import users as store_users
from labelloop.store.db import Database
from labelloop.workflow.accounts import User, user_row

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LIVE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Learning",
        (
            "strategy",
            "batch_size",
            "retrain_every",
            "queue_size",
            "budget",
            "random_share",
            "stop_changed",
        ),
    ),
    ("Suggestions", ("preselect_suggestion", "preselect_confidence")),
    ("Auto-labeling", ("auto_label_confidence", "auto_label_min_accuracy")),
    (
        "Review",
        (
            "review_policy",
            "review_share",
            "qualification_items",
            "qualification_accept_rate",
            "escalate_to",
            "gold_rate",
            "contradiction_threshold",
            "rework_hours",
        ),
    ),
    ("Alerts", ("backlog_alert_min",)),
)
"""The live settings by what they steer, as the project page's Settings panel groups them."""
LIVE_SETTINGS = tuple(name for _, names in LIVE_GROUPS for name in names)
"""Settings a manager may change on a live project: how the learner picks items, when it
says stop, when the model's own labels are accepted, and which answers are reviewed (each is
read as an answer is served or submitted, so a change applies from the next one on; answers
already in review stay there). The others decide how many answers an item needs and how they
combine (overlap, double_label_share, resolution: changed mid-way they would re-judge items
half-answered), or the features and model the project's rounds are compared across, and stay
as the project was created."""


@dataclass(frozen=True)
class ProjectContext:
    """A project as one request sees it: its parsed schema and the caller's role in it."""

    id: int
    slug: str
    name: str
    schema: ProjectSchema
    schema_version: int
    role: str | None
    user: User
    settings: ProjectSettings

    @property
    def actor_id(self) -> int | None:
        """The acting user's id for audit rows (None for the local operator)."""
        return self.user.id or None

    def allows(self, permission: Permission) -> bool:
        """Whether the caller may do ``permission`` here (their role, or a site admin)."""
        return role_allows(self.role, permission, is_admin=self.user.is_admin)

    def require(self, permission: Permission) -> None:
        if not self.allows(permission):
            raise PermissionDenied(refusal(self.role, permission, project=self.slug))


def _compiled(db: Database, row: Any) -> tuple[ProjectSchema, ProjectSettings]:
    """A project row's parsed schema and typed settings, parsed once per database and version."""

    def parse() -> tuple[ProjectSchema, ProjectSettings]:
        schema = parse_schema(row["schema"], stored=True)
        return schema, typed_settings(schema.settings, stored=True)

    return db.memo.get(("schema", int(row["id"]), int(row["schema_version"])), parse)


def creatable_schema(schema_source: Any) -> ProjectSchema:
    """A schema as a new project takes it: valid, its names registered, its featurizer one that
    reads its data type. Raises SchemaError naming what is wrong."""
    schema = parse_schema(schema_source)
    check_featurizer_reads(schema)
    return schema


def create_project(db: Database, slug: str, schema_source: Any, *, actor: User | None) -> int:
    """Create a project from a schema (YAML/JSON text or mapping); its creator becomes manager."""
    if not SLUG.match(slug):
        raise LabelloopError(
            f"project slug '{slug[:64]}' must be lowercase letters, digits and '-' (max 64)"
        )
    schema = creatable_schema(schema_source)
    with db.write() as conn:
        if store_projects.by_slug(conn, slug) is not None:
            raise Conflict(f"project '{slug}' already exists")
        stored = schema.to_dict()
        tier = (stored.get("settings") or {}).get("escalate_to")
        if tier:  # checked as `projects set` checks it (see expert_tier)
            stored["settings"]["escalate_to"] = expert_tier(conn, tier)
        pid = store_projects.insert_project(
            conn,
            slug=slug,
            name=schema.name,
            schema=stored,
            created_by=actor.id if actor else None,
        )
        version = store_projects.insert_guideline(
            conn,
            project_id=pid,
            body=schema.guideline or "",
            author_id=actor.id if actor else None,
            change_summary="initial guideline",
        )
        if actor is not None:
            store_users.set_role(conn, project_id=pid, user_id=actor.id, role="manager")
        audit.record(
            db,
            conn,
            action="project.create",
            actor_id=actor.id if actor else None,
            project_id=pid,
            subject=f"project:{slug}",
            payload={
                "schema": stored,
                "guideline": {"version": version, "sha256": text_sha256(schema.guideline or "")},
            },
        )
    db.memo.forget()  # an earlier "no such project" answer may be cached
    return pid


def access(db: Database, slug: str, user: User, permission: Permission) -> ProjectContext:
    """The project if ``user`` may do ``permission`` in it; non-members learn nothing about it."""

    def lookup() -> Any:
        with db.read() as conn:
            found = store_projects.with_role(conn, slug=slug, user_id=user.id)
        return dict(found) if found is not None else None

    row = db.memo.get(("access", slug, user.id), lookup)
    role = row["role"] if row is not None else None
    if row is None or (role is None and not user.is_admin):
        raise NotFound(f"no project '{slug[:64]}' that you are a member of")
    schema, settings = _compiled(db, row)
    ctx = ProjectContext(
        id=int(row["id"]),
        slug=row["slug"],
        name=row["name"],
        schema=schema,
        schema_version=int(row["schema_version"]),
        role=role,
        user=user,
        settings=settings,
    )
    ctx.require(permission)
    return ctx


def with_stored_schema(db: Database, ctx: ProjectContext) -> ProjectContext | None:
    """``ctx`` with the project's schema as stored, when that is newer than the one this
    process's memo gave it (a label added by another process or server, which the memo shows
    only when it runs out); else None. The project's memo entries are forgotten then, so the
    requests after this one see the new version too. One read, made only on a refusal."""
    with db.read() as conn:
        row = store_projects.by_id(conn, ctx.id)
    if row is None or int(row["schema_version"]) <= ctx.schema_version:
        return None
    db.memo.forget(lambda key: isinstance(key, tuple) and key[:2] == ("access", ctx.slug))
    schema, settings = _compiled(db, row)
    version = int(row["schema_version"])
    return replace(ctx, schema=schema, schema_version=version, settings=settings)


def system_context(db: Database, slug: str) -> ProjectContext:
    """The project as the local operator (CLI on the server's machine) sees it: full rights."""
    with db.read() as conn:
        row = store_projects.by_slug(conn, slug)
    if row is None:
        raise NotFound(f"no project '{slug[:64]}'")
    schema, settings = _compiled(db, row)
    return ProjectContext(
        id=int(row["id"]),
        slug=row["slug"],
        name=row["name"],
        schema=schema,
        schema_version=int(row["schema_version"]),
        role="manager",
        user=User(id=0, username="(local)", is_admin=True),
        settings=settings,
    )


def set_member(db: Database, ctx: ProjectContext, username: str, role: str) -> dict[str, Any]:
    """Give a user (named in any case) a role in the project (a manager's act), audited; a role
    that does not review gives back the items their review pages held. Answers the user's name
    as created and the role."""
    ctx.require(Permission.MANAGE_MEMBERS)
    if role not in ROLES:
        raise LabelloopError(f"role '{role}' is not one of {', '.join(ROLES)}")
    with db.write(project_id=ctx.id) as conn:
        row = user_row(conn, username)
        if role != "manager":
            was = store_users.role_in(conn, project_id=ctx.id, user_id=row["id"])
            _keep_a_manager(conn, ctx, was, row["username"])
        store_users.set_role(conn, project_id=ctx.id, user_id=row["id"], role=role)
        if not role_allows(role, Permission.REVIEW):  # their review pages' items go to others
            store_leases.release_all(conn, user_id=row["id"], project_id=ctx.id)
        audit.record(
            db,
            conn,
            action="member.set",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"user:{row['id']}",
            payload={"username": row["username"], "role": role},
        )
    db.memo.forget()  # roles are cached per request path
    return {"username": row["username"], "role": role}


def remove_member(db: Database, ctx: ProjectContext, username: str) -> dict[str, Any]:
    """Take a user out of the project (a manager's act), audited. Their answers, reviews and
    audit history stay, attributed to them; their live leases are released, so the items go
    back to the queue, and so are the items on their review pages; from then on the project
    answers them as it answers a stranger."""
    ctx.require(Permission.MANAGE_MEMBERS)
    with db.write(project_id=ctx.id) as conn:
        row = store_users.by_name(conn, username)
        role = store_users.role_in(conn, project_id=ctx.id, user_id=row["id"]) if row else None
        if row is None or role is None:
            raise NotFound(f"{username[:100]} is not a member of '{ctx.slug}'")
        _keep_a_manager(conn, ctx, role, row["username"])
        store_users.remove_member(conn, project_id=ctx.id, user_id=row["id"])
        done = {
            "username": row["username"],
            "role": None,
            "was": role,
            "leases_released": store_users.release_leases(
                conn, user_id=row["id"], project_id=ctx.id
            ),
            "review_leases_released": store_leases.release_all(
                conn, user_id=row["id"], project_id=ctx.id, at=store_users.now()
            ),
        }
        audit.record(
            db,
            conn,
            action="member.remove",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"user:{row['id']}",
            payload=done,
        )
    db.memo.forget()  # roles are cached per request path
    return done


def _keep_a_manager(conn: Any, ctx: ProjectContext, role: str | None, username: str) -> None:
    """Refuse to take the project's last manager away (``role``: the user's role there now),
    unless a site admin does it (site admins manage every project, so it stays managed)."""
    if ctx.user.is_admin:
        return
    if role == "manager" and store_users.count_managers(conn, ctx.id) <= 1:
        raise Conflict(
            f"{username[:100]} is the last manager of '{ctx.slug}'; make someone else "
            "manager first (or ask a site admin)"
        )


LABELING_SETTINGS = ("lease_minutes", "preselect_suggestion", "preselect_confidence")
"""The settings an annotator's pages apply (how long a lease lasts, whether the model's
suggestion is preselected and from what confidence): all an annotator reads of them."""


def visible_settings(ctx: ProjectContext) -> dict[str, Any]:
    """The project's settings as the caller may read them: every one to reviewers and managers,
    the labeling ones to an annotator (not the auto-label thresholds, the expert tier's names,
    the gold rate or the qualification bar they are measured against)."""
    return _readable(ctx, ctx.settings.model_dump())


def settings_notes(db: Database, ctx: ProjectContext) -> dict[str, str]:
    """Setting -> what its reader should know of it as the project has it, to those who read
    every setting: resolution dawid_skene where items get too few answers for it, and the
    expert tier's names who are no members (yet) of the project."""
    if not ctx.allows(Permission.VIEW_INSIGHT):
        return {}
    notes = {}
    note = resolution_note(ctx.settings)
    if note is not None:
        notes["resolution"] = note
    if ctx.settings.escalate_to:
        with db.read() as conn:
            members = {m["username"] for m in store_users.members(conn, ctx.id)}
        outside = [n for n in ctx.settings.escalate_to if n not in members]
        if outside:
            listed = ", ".join(repr(n) for n in outside[:5])
            notes["escalate_to"] = (
                f"{listed} {'is not a member' if len(outside) == 1 else 'are not members'} of "
                f"project '{ctx.slug}' yet: the expert tier counts them once they are given a role "
                "(managers are in it always)"
            )
    return notes


def visible_schema(ctx: ProjectContext) -> dict[str, Any]:
    """The project's schema as the caller may read it: its settings as ``visible_settings``."""
    schema = ctx.schema.to_dict()
    return {**schema, "settings": _readable(ctx, schema["settings"])}


def _readable(ctx: ProjectContext, settings: dict[str, Any]) -> dict[str, Any]:
    if ctx.allows(Permission.VIEW_INSIGHT):
        return settings
    return {k: v for k, v in settings.items() if k in LABELING_SETTINGS}


def members(db: Database, ctx: ProjectContext) -> list[dict[str, Any]]:
    """The project's members (id, name, role); reviewers and managers."""
    ctx.require(Permission.VIEW_INSIGHT)
    with db.read() as conn:
        return store_users.members(conn, ctx.id)


def projects_for(db: Database, user: User) -> list[dict[str, Any]]:
    with db.read() as conn:
        return store_users.projects_of(conn, user.id, is_admin=user.is_admin)


def guideline(db: Database, ctx: ProjectContext) -> dict[str, Any]:
    with db.read() as conn:
        row = store_projects.latest_guideline(conn, ctx.id)
    return {"version": row["version"], "body": row["body"]} if row else {"version": 0, "body": ""}


def _named(conn: Any, names: list[str]) -> dict[str, Any]:
    """Each of ``names`` (typed in any case) -> the user it names, or None."""
    return {n: store_users.by_name(conn, n) for n in names}


def _as_created(found: dict[str, Any]) -> list[str]:
    """The names :func:`_named` looked up as their users were created, once each."""
    return list(dict.fromkeys(row["username"] for row in found.values() if row is not None))


def expert_tier(conn: Any, names: list[str]) -> list[str]:
    """The expert tier's names (typed in any case) as the users were created, checked alike
    when a project is created and when its settings change: a name no user has is refused (a
    typo would leave the tier without the expert meant). A user who is no member yet is kept:
    the tier counts them once they are one (``review.is_expert``), so a project file may name
    its tier before its members are added, and :func:`settings_notes` says who is not yet."""
    found = _named(conn, names)
    unknown = [n for n, row in found.items() if row is None]
    if unknown:
        listed = ", ".join(repr(n[:100]) for n in unknown[:5])
        raise SchemaError(f"settings.escalate_to: no user named {listed}")
    return _as_created(found)


def change_settings(db: Database, ctx: ProjectContext, changes: dict[str, Any]) -> dict[str, Any]:
    """Change some of a live project's :data:`LIVE_SETTINGS`, checked as at creation, in one
    transaction with its audit event (each setting's old and new value); every setting after.

    The schema version stays: labels are judged by the same schema. A new strategy ranks the
    queue from the learner's next round, which comes at once (``learning.due``).
    """
    ctx.require(Permission.MANAGE_PROJECT)
    if not changes:
        raise SchemaError("settings: name at least one setting to change")
    known = ProjectSettings.model_fields
    for key in changes:
        if key not in LIVE_SETTINGS:
            what = "fixed when the project was created" if key in known else "unknown setting"
            raise SchemaError(
                f"settings.{key}: {what}; a live project can change {', '.join(LIVE_SETTINGS)}"
            )
    with db.write(project_id=ctx.id) as conn:
        row = store_projects.by_id(conn, ctx.id)
        if row is None:
            raise NotFound(f"no project '{ctx.slug}'")
        schema = dict(row["schema"])
        before = typed_settings(schema.get("settings") or {}, stored=True).model_dump()
        # The strategy (the one live setting naming registered code) is checked when it
        # changes; a stored model or featurizer this process cannot load must not keep a
        # manager from changing the rest.
        after = typed_settings({**before, **changes}, stored=True).model_dump()
        problem = registry_problem("strategy", after["strategy"]) if "strategy" in changes else None
        if problem is not None:
            raise SchemaError(f"settings.strategy: {problem}")
        if "escalate_to" in changes:
            after["escalate_to"] = expert_tier(conn, after["escalate_to"])
        changed = {k: {"from": before[k], "to": after[k]} for k in changes if before[k] != after[k]}
        if changed:
            store_projects.set_schema(conn, ctx.id, {**schema, "settings": after})
            audit.record(
                db,
                conn,
                action="project.settings",
                actor_id=ctx.actor_id,
                project_id=ctx.id,
                subject=f"project:{ctx.slug}",
                payload={"changed": changed},
            )
    db.memo.forget()  # this process reads the new settings at once; others within the memo's TTL
    return after


def add_label(
    db: Database,
    ctx: ProjectContext,
    label: str,
    *,
    control: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """Add ``label`` to a control of a live project (``control`` may be left out when only one
    has labels), as a new schema version, in one transaction with its ``schema.label.add``
    audit event.

    Answers already given keep the schema version they were made under and mean what they
    meant; answers from now on record the new one. Labels are only ever added: renaming or
    removing one would change the meaning of answers that hold it.
    """
    ctx.require(Permission.MANAGE_PROJECT)
    with db.write(project_id=ctx.id) as conn:
        row = store_projects.by_id(conn, ctx.id)
        if row is None:
            raise NotFound(f"no project '{ctx.slug}'")
        before = parse_schema(row["schema"], stored=True)
        after = with_label(before, label, control=control, description=description)
        changed = after.target if control is None else after.control(control)
        version = int(row["schema_version"]) + 1
        # The stored document keeps its settings as they are (parse_schema fills defaults).
        controls = [c.to_dict() for c in after.controls]
        store_projects.set_schema(
            conn, ctx.id, {**row["schema"], "controls": controls}, version=version
        )
        hotkey = changed.hotkeys[-1] if len(changed.hotkeys) == len(changed.labels) else None
        audit.record(
            db,
            conn,
            action="schema.label.add",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"project:{ctx.slug}",
            payload={
                "control": changed.name,
                "label": label,
                "hotkey": hotkey,
                "schema_version": {"from": version - 1, "to": version},
            },
        )
    db.memo.forget()  # this process judges answers by the new labels at once
    return {
        "control": changed.name,
        "label": label,
        "hotkey": hotkey,
        "labels": list(changed.labels),
        "schema_version": version,
    }
