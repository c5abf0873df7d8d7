"""The quality room's public surface and its purity (what it may import, and when)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import labelloop.quality as quality

ALLOWED_ROOTS = {"numpy", "scipy", "sklearn", "cleanlab", "labelloop", "__future__"}
ALLOWED_LABELLOOP = ("labelloop.domain", "labelloop.errors", "labelloop.quality")


def test_public_api_is_what_we_mean() -> None:
    assert set(quality.__all__) == {
        "LEVELS",
        "RESOLVERS",
        "DawidSkeneResult",
        "Resolution",
        "Ratings",
        "Resolver",
        "UndefinedStatistic",
        "agreement_report",
        "agreement_with_others",
        "annotators_disagree",
        "as_reliability",
        "bootstrap_ci",
        "box_iou",
        "box_iou_agreement",
        "category_counts",
        "cohen_kappa",
        "dawid_skene",
        "fleiss_kappa",
        "gold_accuracy",
        "krippendorff_alpha",
        "label_issues",
        "majority_vote",
        "model_contradicts",
        "pairwise_kappa",
        "percent_agreement",
        "register_resolver",
        "reliability_of",
        "resolve",
        "span_f1",
        "suggestion_outcome",
        "too_fast",
    }
    assert all(hasattr(quality, name) for name in quality.__all__)


def test_importing_quality_pulls_in_no_sql_server_or_heavy_libraries() -> None:
    forbidden = [
        "sqlalchemy",
        "fastapi",
        "starlette",
        "labelloop.store",
        "labelloop.server",
        "labelloop.workflow",
        "sklearn",
        "cleanlab",
        "pandas",
    ]
    code = (
        "import sys, labelloop.quality\n"
        f"print(','.join(m for m in {forbidden!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"labelloop.quality pulled in {out.stdout.strip()}"


def test_quality_imports_only_pure_dependencies() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in Path(quality.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                assert root in stdlib or root in ALLOWED_ROOTS, f"{path.name} imports {name}"
                if root == "labelloop":
                    assert name.startswith(ALLOWED_LABELLOOP), f"{path.name} imports {name}"
