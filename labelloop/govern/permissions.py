"""Who may do what in a project: roles ordered by trust, each granting a set of permissions."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

ROLES: tuple[str, ...] = ("annotator", "reviewer", "manager")
"""Project roles, least to most trusted; each role can do everything the one before it can."""


class Permission(StrEnum):
    """One thing a project member may be allowed to do."""

    VIEW_PROJECT = "view_project"
    ANNOTATE = "annotate"
    REVIEW = "review"
    IMPORT = "import"
    EXPORT = "export"
    MANAGE_PROJECT = "manage_project"
    MANAGE_MEMBERS = "manage_members"
    VIEW_AUDIT = "view_audit"
    VIEW_INSIGHT = "view_insight"
    """Read how the project runs beyond one's own labeling: its members, every setting (the
    auto-label policy's thresholds among them), the model's history and evaluation, the
    auto-label runs and the reports (dashboard, quality, coverage, gain)."""


_ANNOTATOR = frozenset({Permission.VIEW_PROJECT, Permission.ANNOTATE})
# Annotators see what their labeling uses, as in Label Studio, Argilla or a Prodigy team setup:
# the item, why it was picked, the current model's version and accuracy, their progress and the
# guideline; who else is in the team and how the model and its thresholds are tuned are not
# theirs. Reviewers judge the annotators' work, so they read the reports, the team and the model.
_REVIEWER = _ANNOTATOR | {Permission.REVIEW, Permission.VIEW_INSIGHT}

ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = MappingProxyType(
    {
        "annotator": _ANNOTATOR,
        "reviewer": _REVIEWER,
        # Import, export (the labeled data leaves the platform) and audit stay with managers.
        "manager": frozenset(Permission),
    }
)
"""Role -> the permissions it grants."""


def role_allows(role: str | None, permission: Permission, *, is_admin: bool = False) -> bool:
    """Whether a member with ``role`` (None: not a member) may do ``permission``; admins may all."""
    if is_admin:
        return True
    if role is None:
        return False
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


DOING: Mapping[Permission, str] = MappingProxyType(
    {
        Permission.VIEW_PROJECT: "opening the project",
        Permission.ANNOTATE: "labeling its items",
        Permission.REVIEW: "reviewing answers",
        Permission.IMPORT: "importing items",
        Permission.EXPORT: "exporting its labels",
        Permission.MANAGE_PROJECT: "changing the project (settings, labels, guideline)",
        Permission.MANAGE_MEMBERS: "giving and taking roles",
        Permission.VIEW_AUDIT: "reading the audit log",
        Permission.VIEW_INSIGHT: "reading its reports, team and model",
    }
)
"""Each permission as a refusal says it to a person."""


def roles_allowing(permission: Permission) -> tuple[str, ...]:
    """The roles that grant ``permission``, least trusted first."""
    return tuple(r for r in ROLES if permission in ROLE_PERMISSIONS[r])


def refusal(role: str | None, permission: Permission, *, project: str) -> str:
    """Why a member with ``role`` is refused ``permission`` in ``project``, in words, with the
    roles that may (the permission's name in brackets, for a script to match)."""
    who = " and ".join(f"{r}s" for r in roles_allowing(permission)) or "site admins"
    yours = f" ({role})" if role else ""
    return (
        f"your role in project '{project}'{yours} does not allow {DOING[permission]} "
        f"[{permission.value}]: {who} may"
    )
