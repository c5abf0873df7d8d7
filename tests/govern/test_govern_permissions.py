"""The role -> permission matrix, as members and admins meet it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import labelloop.govern
from labelloop.govern import ROLE_PERMISSIONS, ROLES, Permission, role_allows

P = Permission
EXPECTED = {
    "annotator": {P.VIEW_PROJECT, P.ANNOTATE},
    "reviewer": {P.VIEW_PROJECT, P.ANNOTATE, P.REVIEW, P.VIEW_INSIGHT},
    "manager": set(Permission),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", list(Permission))
def test_permission_matrix(role: str, permission: Permission) -> None:
    assert role_allows(role, permission) is (permission in EXPECTED[role])


def test_roles_are_ordered_and_each_includes_the_one_before() -> None:
    assert ROLES == ("annotator", "reviewer", "manager")
    for lower, higher in zip(ROLES, ROLES[1:], strict=False):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]


def test_only_managers_export_import_and_see_the_audit_log() -> None:
    for permission in (P.EXPORT, P.IMPORT, P.VIEW_AUDIT, P.MANAGE_MEMBERS):
        assert [r for r in ROLES if role_allows(r, permission)] == ["manager"]


@pytest.mark.parametrize("permission", list(Permission))
def test_admins_may_do_everything_and_non_members_nothing(permission: Permission) -> None:
    assert role_allows(None, permission, is_admin=True)
    assert role_allows("annotator", permission, is_admin=True)
    assert not role_allows(None, permission)
    assert not role_allows("owner", permission)  # an unknown role grants nothing


def test_permissions_are_strings() -> None:
    assert Permission.VIEW_AUDIT == "view_audit"
    assert Permission("annotate") is Permission.ANNOTATE


def test_public_api() -> None:
    assert set(labelloop.govern.__all__) == {
        "GENESIS_HASH",
        "ROLES",
        "ROLE_PERMISSIONS",
        "Permission",
        "changed_lines",
        "event_hash",
        "guideline_diff",
        "render_markdown",
        "role_allows",
        "verify_chain",
    }


def test_govern_is_pure() -> None:
    code = (
        "import sys, labelloop.govern; "
        "bad = [m for m in ('sqlalchemy', 'fastapi', 'labelloop.store', 'labelloop.server') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_refusal_says_in_words_what_and_which_roles_may() -> None:
    """A refused call named only an internal permission ("does not allow view_insight"); it
    says what that is and who may, for every permission."""
    from labelloop.govern.permissions import DOING, refusal

    assert set(DOING) == set(Permission)
    said = refusal("annotator", Permission.VIEW_INSIGHT, project="wine")
    assert said == (
        "your role in project 'wine' (annotator) does not allow reading its reports, team and "
        "model [view_insight]: reviewers and managers may"
    )
    assert refusal("reviewer", Permission.EXPORT, project="wine").endswith(
        "exporting its labels [export]: managers may"
    )
