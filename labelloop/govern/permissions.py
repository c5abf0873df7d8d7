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
