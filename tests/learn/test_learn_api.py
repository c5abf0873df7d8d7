"""The learn room's public surface and its purity (what it may import)."""

import ast
from pathlib import Path

import labelloop.learn as learn

ALLOWED_ROOTS = {"numpy", "scipy", "sklearn", "threadpoolctl", "labelloop", "__future__"}
ALLOWED_LABELLOOP = ("labelloop.domain", "labelloop.errors", "labelloop.learn")


def test_public_api_is_what_we_mean() -> None:
    assert set(learn.__all__) == {
        "FEATURIZERS",
        "STOPPING",
        "STRATEGIES",
        "Entropy",
        "Featurizer",
        "LabelBudget",
        "LeastConfidence",
        "Margin",
        "QueryStrategy",
        "RandomSampling",
        "RoundResult",
        "StabilizingPredictions",
        "StoppingCriterion",
        "TfidfFeaturizer",
        "check_featurizer",
        "check_stopping",
        "check_strategy",
        "choose_stop_set",
        "default_model",
        "diverse_selection",
        "evaluate_all",
        "fit_model",
        "make_featurizer",
        "make_stopping",
        "make_strategy",
        "predict_proba_chunked",
        "register_featurizer",
        "register_stopping",
        "register_strategy",
        "run_round",
    }
    assert all(hasattr(learn, name) for name in learn.__all__)


def test_builtins_are_registered() -> None:
    assert set(learn.STRATEGIES) == {"random", "least_confidence", "margin", "entropy"}
    assert set(learn.STOPPING) == {"budget", "stabilizing_predictions"}
    assert isinstance(learn.make_strategy("margin"), learn.QueryStrategy)
    assert isinstance(learn.StabilizingPredictions(), learn.StoppingCriterion)


def test_learn_imports_only_pure_dependencies() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names)
    for path in Path(learn.__file__).parent.glob("*.py"):
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
