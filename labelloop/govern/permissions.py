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


_ANNOTATOR = frozenset({Permission.VIEW_PROJECT, Permission.ANNOTATE})
_REVIEWER = _ANNOTATOR | {Permission.REVIEW}

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
