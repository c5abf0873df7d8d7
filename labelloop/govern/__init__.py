"""Governance: roles and permissions, the audit hash chain, and guideline rendering and diffs."""

from labelloop.govern.audit import GENESIS_HASH, event_hash, verify_chain
from labelloop.govern.guidelines import changed_lines, guideline_diff, render_markdown
from labelloop.govern.permissions import ROLE_PERMISSIONS, ROLES, Permission, role_allows

__all__ = [
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
]
