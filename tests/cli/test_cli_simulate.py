"""`labelloop simulate` as a user types it: a labeled file in, a table and charts out."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.learn import FEATURIZERS, StackedFeaturizer


@pytest.fixture
def cli(tmp_path: Path, no_labelloop_env: None) -> Any:
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "COLUMNS": "160"}

    def run(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return run


def two_topics(n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    topics = {
        "sports": [f"sport{i}" for i in range(120)],
        "cooking": [f"cook{i}" for i in range(120)],
    }
    filler = [f"word{i}" for i in range(40)]
    rows = []
    for i in range(n):
        label = ("sports", "cooking")[int(rng.integers(2))]
        words = [*rng.choice(topics[label], size=2, replace=False), *rng.choice(filler, size=5)]
        rng.shuffle(words)
        rows.append({"id": i, "text": " ".join(words), "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one_error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_simulate_prints_the_table_and_writes_the_charts(cli: Any, tmp_path: Path) -> None:
    rows = two_topics(500)
    rows += [dict(rows[0], id=999), {"id": 1000, "text": "no label here"}]  # a dup, an unlabeled
    data = write_jsonl(tmp_path / "topics.jsonl", rows)
    out = tmp_path / "sim"
    result = cli(
        "simulate",
        str(data),
        "--strategies",
        "random,margin",
        "--seeds",
        "2",
        "--budget",
        "200",
        "--out",
        str(out),
    )
    text = result.stdout
    for expected in (
        "labels to 95%",
        "labels to 98%",
        "AUC",
        "random",
        "margin",
        "stabilizing_predictions",
        "settled_predictions",
        "500 labeled records",
        "1 duplicate",
        "1 without a label",
    ):
        assert expected in text, expected
    assert {p.name for p in out.iterdir()} == {"curves.png", "curves.html", "results.json"}
    page = (out / "curves.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<svg" in page and "margin" in page
    results = json.loads((out / "results.json").read_text())
    assert results["n_records"] == 500 and results["classes"] == ["cooking", "sports"]
    by_name = {s["strategy"]: s for s in results["strategies"]}
    assert by_name["margin"]["reached_95"] == 2
    # which strategy to choose is said in words, as a project's simulation says it
    best = results["best"]
    assert re.match(r"margin has the best learning curve|no strategy learned faster", best)
    # ...with how many of the seeds, replayed on the same splits, bear the lead out
    assert best.startswith("no strategy") or re.search(r"\(ahead in [12] of 2 seeds\)$", best)
    assert best in " ".join(text.split())
    assert f'<p class="verdict">{best[0].upper()}{best[1:]}.</p>' in page


def test_json_output_and_csv_input(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "topics.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["body", "topic"])
        writer.writeheader()
        for r in two_topics(300, seed=1):
            writer.writerow({"body": r["text"], "topic": r["label"]})
    result = cli(
        "simulate",
        str(path),
        "--text-field",
        "body",
        "--label-field",
        "topic",
        "--strategies",
        "margin",
        "--seeds",
        "1",
        "--budget",
        "60",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    data = json.loads(result.stdout)
    assert [s["strategy"] for s in data["strategies"]] == ["margin"]
    assert data["seeds"] == [0] and data["budget"] == 60 and data["n_pool"] == 225
    assert data["outputs"][:2] == ["results.json", "curves.html"]


def test_all_runs_every_registered_strategy(cli: Any, tmp_path: Path) -> None:
    from labelloop.learn import STRATEGIES

    data = write_jsonl(tmp_path / "t.jsonl", two_topics(200))
    result = cli(
        "simulate",
        str(data),
        "--strategies",
        "all",
        "--seeds",
        "1",
        "--budget",
        "40",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    names = [s["strategy"] for s in json.loads(result.stdout)["strategies"]]
    assert names[0] == "random" and sorted(names) == sorted(STRATEGIES.names())


def test_default_strategies_are_random_and_the_project_default(cli: Any, tmp_path: Path) -> None:
    import labelloop.learn as learn
    from labelloop.schema.settings import ProjectSettings

    data = write_jsonl(tmp_path / "t.jsonl", two_topics(200))
    result = cli(
        "simulate",
        str(data),
        "--seeds",
        "1",
        "--budget",
        "40",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    names = [s["strategy"] for s in json.loads(result.stdout)["strategies"]]
    policy = [p for p in [getattr(learn, "DEFAULT_STRATEGY", None)] if p in learn.STRATEGIES]
    assert names == list(dict.fromkeys(["random", ProjectSettings().strategy, *policy]))


def test_bad_inputs_are_one_line_and_exit_1(cli: Any, tmp_path: Path) -> None:
    rows = two_topics(100)
    good = write_jsonl(tmp_path / "good.jsonl", rows)
    o = str(tmp_path / "o")

    missing = cli("simulate", str(good), "--label-field", "topic", "--out", o, code=1)
    assert "no record of good.jsonl has a label in field 'topic'" in one_error_line(missing)

    one = write_jsonl(tmp_path / "one.jsonl", [dict(r, label="sports") for r in rows])
    single = cli("simulate", str(one), "--out", o, code=1)
    assert "two classes" in one_error_line(single)

    unknown = cli("simulate", str(good), "--strategies", "random,psychic", "--out", o, code=1)
    assert "psychic" in one_error_line(unknown) and "margin" in unknown.stderr

    few = write_jsonl(tmp_path / "few.jsonl", rows[:10])
    assert "too few" in one_error_line(cli("simulate", str(few), "--out", o, code=1))

    nofile = cli("simulate", str(tmp_path / "nope.jsonl"), "--out", o, code=1)
    assert "no file" in one_error_line(nofile)

    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(rows[0]) + "\n{not json\n")
    assert "line 2" in one_error_line(cli("simulate", str(broken), "--out", o, code=1))
    assert not (tmp_path / "o").exists()  # nothing written on an error


def test_seeds_in_parallel_give_the_same_curves_and_table(cli: Any, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(300))
    outputs = {}
    for jobs in ("1", "2"):
        result = cli(
            "simulate",
            str(data),
            "--strategies",
            "random,margin,badge",
            "--seeds",
            "3",
            "--budget",
            "80",
            "--jobs",
            jobs,
            "--out",
            str(tmp_path / f"o{jobs}"),
            "--json",
        )
        outputs[jobs] = json.loads(result.stdout)
    one, two = outputs["1"], outputs["2"]
    assert one["seeds"] == two["seeds"] == [0, 1, 2]
    timings = ("query_ms_median", "fit_ms_median")

    def figures(data: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k not in timings} for s in data["strategies"]]

    assert figures(one) == figures(two)
    assert [s["auc_per_seed"] for s in two["strategies"]][1] != [None] * 3
    assert one["curves"] == two["curves"]


def test_default_jobs_follow_cores_and_seeds_and_keep_feature_copies_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scipy.sparse import random as sparse_random

    from labelloop.learn.simoptions import default_jobs

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    file = sparse_random(5000, 200, density=0.05, format="csr")
    assert default_jobs(10, file) == 4  # one per core
    assert default_jobs(3, file) == 3  # no more than the seeds
    assert default_jobs(10, file[:500]) == 1  # a small file: seconds per seed, no workers

    def rows(n: int, width: int) -> np.ndarray:  # n x width float64 rows taking no memory
        return np.lib.stride_tricks.as_strided(np.zeros(1), shape=(n, width), strides=(0, 0))

    assert rows(1 << 20, 128).nbytes == 1 << 30  # 1 GiB of features, two copies per worker
    assert default_jobs(10, rows(1 << 20, 128)) == 1
    assert default_jobs(10, rows(1 << 19, 128)) == 2


class Encoder(BaseEstimator):
    """Stands in for MiniLM: a per-item encoder with threads and a progress callback, recording
    how each call was configured."""

    version = "encoder-1"
    cache_per_item = True
    seen: list[tuple[int, int, bool]] = []

    def __init__(self, *, threads: int = 1, progress: Any = None) -> None:
        self.threads = threads
        self.progress = progress

    def fit(self, payloads: Any) -> Any:
        return self

    def transform(self, payloads: Any) -> Any:
        Encoder.seen.append((len(payloads), self.threads, callable(self.progress)))
        if self.progress is not None:
            self.progress(len(payloads), len(payloads))
        return np.asarray([[len(p["text"]) / 100] for p in payloads])


class TfidfEncoder(StackedFeaturizer):
    parts = ("tfidf", "encoder")


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, bool]]:
    """Registers ``encoder`` and ``tfidf+encoder``; the calls the encoder saw."""
    Encoder.seen = []
    monkeypatch.setitem(FEATURIZERS._classes, "encoder", Encoder)
    monkeypatch.setitem(FEATURIZERS._classes, "tfidf+encoder", TfidfEncoder)
    return Encoder.seen


def test_a_stacked_featurizer_replays_and_a_missing_extra_is_one_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoder: list[Any]
) -> None:
    from labelloop.learn import embeddings

    data = write_jsonl(tmp_path / "t.jsonl", two_topics(200))
    o = str(tmp_path / "o")
    args = ("simulate", str(data), "--strategies", "margin", "--seeds", "1", "--budget", "40")
    result = cli(*args, "--featurizer", "tfidf+encoder", "--out", o, "--json")
    replay = json.loads(result.stdout)
    words = json.loads(cli(*args, "--out", str(tmp_path / "w"), "--json").stdout)
    assert replay["featurizer"] == "tfidf+encoder" and words["featurizer"] == "tfidf"
    assert [n for n, _, _ in encoder] == [200]  # every text went through the second part, once
    # The words still carry the topic beside the extra column.
    assert abs(replay["full_accuracy"] - words["full_accuracy"]) <= 0.05
    assert [s["strategy"] for s in replay["strategies"]] == ["margin"]

    monkeypatch.setattr(
        embeddings.MiniLMFeaturizer, "requires", ("labelloop_no_such_module_for_tests",)
    )
    missing = cli(*args, "--featurizer", "tfidf+minilm", "--out", str(tmp_path / "m"), code=1)
    assert one_error_line(missing) == (
        "error: featurizer 'tfidf+minilm' needs: pip install 'labelloop[embeddings]' torch==2.13.0"
    )
    assert not (tmp_path / "m").exists()


def test_an_encoder_gets_every_core_and_reports_progress(
    cli: Any, tmp_path: Path, encoder: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import simoptions

    monkeypatch.setattr(simoptions, "cpus", lambda: 7)  # unlike the encoder's default of 1
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(120))
    for name in ("encoder", "tfidf+encoder"):
        args = ("--seeds", "1", "--budget", "30", "--strategies", "margin", "--json")
        cli("simulate", str(data), "--featurizer", name, "--out", str(tmp_path / name), *args)
    assert encoder == [(120, 7, True), (120, 7, True)]


@pytest.fixture
def featurized(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the texts each featurizing got, so a test sees whether the work began."""
    from labelloop.cli import simulation

    calls: list[int] = []
    real = simulation._sim_features

    def spy(name: str, texts: list[str], **kwargs: Any) -> Any:
        calls.append(len(texts))
        return real(name, texts, **kwargs)

    monkeypatch.setattr(simulation, "_sim_features", spy)
    return calls


def test_a_budget_the_seed_set_spends_is_refused_before_any_work(
    cli: Any, tmp_path: Path, featurized: list[int]
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(100))
    o = tmp_path / "o"
    for budget in ("19", "20"):
        result = cli("simulate", str(data), "--budget", budget, "--out", str(o), code=1)
        assert one_error_line(result) == (
            f"error: --budget {budget} leaves nothing to query: every strategy starts from "
            "20 random labels; the least budget is 21"
        )
    assert featurized == [] and not o.exists()
    args = ("--strategies", "random", "--seeds", "1", "--budget", "21", "--out", str(o))
    cli("simulate", str(data), *args)  # the least budget runs


def test_the_report_reads_when_nothing_was_queried(tmp_path: Path) -> None:
    from labelloop.insight.simtable import summary_rows
    from labelloop.learn import TfidfFeaturizer, make_strategy
    from labelloop.learn.simreport import to_json
    from labelloop.learn.simulate import simulate

    rows = two_topics(100)
    payloads = [{"text": r["text"]} for r in rows]
    X = TfidfFeaturizer().fit(payloads).transform(payloads)
    y = np.asarray([r["label"] == "sports" for r in rows], dtype=np.int64)
    for budget in (20, 10):  # the seed set exactly; below it (the curve starts past the budget)
        sim = simulate(
            X,
            y,
            classes=("cooking", "sports"),
            strategies={"margin": make_strategy("margin")},
            seeds=[0],
            budget=budget,
            batch_size=10,
        )
        data = to_json(sim)
        (entry,) = data["strategies"]
        assert entry["query_ms_median"] is None
        assert (entry["kept_at_budget"] is None) == (budget < 20)
        head, row = summary_rows(data)
        assert row[0] == "margin" and row[-1] == "–"


def test_out_is_checked_before_any_work(cli: Any, tmp_path: Path, featurized: list[int]) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(100))
    before = data.read_bytes()
    onto_file = cli("simulate", str(data), "--budget", "40", "--out", str(data), code=1)
    assert one_error_line(onto_file) == f"error: --out {data} is a file; give a folder"
    under_file = cli("simulate", str(data), "--budget", "40", "--out", f"{data}/o", code=1)
    assert one_error_line(under_file).startswith(f"error: cannot write to --out {data}/o: ")
    assert featurized == [] and data.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name != "home"] == ["t.jsonl"]


def test_a_failed_write_leaves_the_out_folder_as_it_was(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.insight import curves

    data = write_jsonl(tmp_path / "t.jsonl", two_topics(100))
    args = ("simulate", str(data), "--strategies", "random", "--seeds", "1", "--budget", "30")

    def disk_full(path: Path, chart: Any) -> None:
        path.write_text("<html>half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(curves, "write_html", disk_full)
    fresh = tmp_path / "runs" / "fresh"
    failed = cli(*args, "--out", str(fresh), code=1)
    assert "No space left on device" in one_error_line(failed)
    assert not (tmp_path / "runs").exists()  # nor the parent made for it

    old = tmp_path / "old"
    old.mkdir()
    (old / "results.json").write_text("last run")
    (old / "notes.txt").write_text("mine")
    cli(*args, "--out", str(old), code=1)
    assert sorted(p.name for p in old.iterdir()) == ["notes.txt", "results.json"]
    assert (old / "results.json").read_text() == "last run"

    monkeypatch.undo()

    def no_matplotlib(path: Path, chart: Any) -> None:
        raise ImportError("matplotlib")

    monkeypatch.setattr(curves, "write_png", no_matplotlib)
    (old / "curves.png").write_bytes(b"last run's chart")
    cli(*args, "--out", str(old))
    assert sorted(p.name for p in old.iterdir()) == ["curves.html", "notes.txt", "results.json"]
    assert json.loads((old / "results.json").read_text())["budget"] == 30


def test_an_unknown_featurizer_is_one_line_naming_the_known_ones(cli: Any, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(100))
    result = cli(
        "simulate", str(data), "--featurizer", "nope", "--out", str(tmp_path / "o"), code=1
    )
    assert one_error_line(result) == (
        f"error: unknown featurizer 'nope'; known featurizers: {', '.join(FEATURIZERS.names())}"
    )


@pytest.mark.parametrize(
    ("name", "reads"),
    [("pixels", "image"), ("hog", "image"), ("audio", "audio")],
)
def test_a_featurizer_that_does_not_read_text_is_refused(
    cli: Any, tmp_path: Path, featurized: list[int], name: str, reads: str
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(100))
    result = cli("simulate", str(data), "--featurizer", name, "--out", str(tmp_path / "o"), code=1)
    assert one_error_line(result) == (
        f"error: --featurizer '{name}' reads {reads} items; simulate's data is text "
        "(featurizers for text: minilm, tfidf, tfidf+minilm) or table rows (table)"
    )
    assert featurized == [] and not (tmp_path / "o").exists()


def wine_rows(path: Path) -> Path:
    """scikit-learn's wines as a table CSV, as a table project imports it: an id, 13 numeric
    columns (one cell left empty in ten), a text column and the label."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", *wine.feature_names, "région", "label"])
        for i, (x, y) in enumerate(zip(wine.data, wine.target, strict=True)):
            cells = ["" if i % 10 == j else f"{v:g}" for j, v in enumerate(x)]
            writer.writerow([f"w{i}", *cells, ("nord", "sud")[i % 2], f"c{y}"])
    return path


def test_table_rows_replay_on_the_table_featurizer(cli: Any, tmp_path: Path) -> None:
    """A table project's CSV replays as its project would learn it: the rows' columns on the
    table featurizer. It was refused ('--featurizer table reads table items; simulate's data
    is text'), and without --featurizer the error was about a 'text' column the file never
    had; now that error says how to replay table rows."""
    data = wine_rows(tmp_path / "wine.csv")
    o = str(tmp_path / "o")
    no_text = cli("simulate", str(data), "--out", o, code=1)
    assert one_error_line(no_text).endswith(
        "; table rows (no text column) replay with --featurizer table"
    )
    as_jsonl = write_jsonl(tmp_path / "wine.jsonl", list(csv.DictReader(data.open())))
    said = one_error_line(cli("simulate", str(as_jsonl), "--out", o, code=1))
    assert said.startswith("error: line 1, field 'text': missing; the record has: id, alcohol")
    assert said.endswith("; table rows (no text column) replay with --featurizer table")
    args = ("--strategies", "random,margin", "--seeds", "2", "--budget", "40", "--batch", "5")
    result = cli("simulate", str(data), "--featurizer", "table", *args, "--out", o, "--json")
    report = json.loads(result.stdout)
    assert report["featurizer"] == "table" and report["classes"] == ["c0", "c1", "c2"]
    assert (report["n_records"], report["n_duplicates"]) == (178, 0)
    assert report["full_accuracy"] > 0.9
    again = cli("simulate", str(data), "--featurizer", "table", *args, "--out", o)
    assert "178 labeled records (0 duplicate rows, 0 without a label skipped)" in " ".join(
        again.stdout.split()
    )


def test_a_class_with_one_record_is_refused_when_reading(cli: Any, tmp_path: Path) -> None:
    rows = two_topics(100)
    o = str(tmp_path / "o")
    rare = {"id": 500, "text": "a rare complaint", "label": "rare"}
    for path, records in {
        tmp_path / "rare2.jsonl": [dict(r, label="common") for r in rows] + [rare],
        tmp_path / "rare3.jsonl": [*rows, rare],  # no crash here before, but no test row either
    }.items():
        write_jsonl(path, records)
        result = cli("simulate", str(path), "--seeds", "3", "--budget", "30", "--out", o, code=1)
        assert one_error_line(result) == (
            "error: class 'rare' has 1 record; each class needs at least 2, "
            "for the stratified pool/test split"
        )
    twice = [*rows, rare, dict(rare, id=501, text="another rare complaint")]
    path = write_jsonl(tmp_path / "rare_twice.jsonl", twice)
    args = ("--strategies", "random", "--seeds", "3", "--budget", "30", "--out", o)
    cli("simulate", str(path), *args)  # two records of a class are enough


def test_a_csv_label_cell_holding_json_reads_as_the_jsonl_value(cli: Any, tmp_path: Path) -> None:
    rows = two_topics(100)
    exported = [
        {"text": r["text"], "label": r["label"], "value": {"topic": r["label"]}} for r in rows
    ]
    jsonl = write_jsonl(tmp_path / "export.jsonl", exported)
    csv_path = tmp_path / "export.csv"
    with csv_path.open("w", newline="") as f:  # as `labelloop export --format csv` writes it
        writer = csv.DictWriter(f, fieldnames=["text", "label", "value"])
        writer.writeheader()
        writer.writerows(dict(r, value=json.dumps(r["value"])) for r in exported)
    o = str(tmp_path / "o")
    errors = [
        one_error_line(cli("simulate", str(p), "--label-field", "value", "--out", o, code=1))
        for p in (jsonl, csv_path)
    ]
    assert errors == [
        f"error: line {line}, field 'value': simulate needs one label per record, got a list "
        "or object (a labelloop export has it in field 'label')"
        for line in (1, 2)  # the CSV's header is its line 1
    ]
    args = ("--strategies", "random", "--seeds", "1", "--budget", "30", "--json")
    by_label = json.loads(cli("simulate", str(csv_path), "--out", o, *args).stdout)
    assert by_label["classes"] == ["cooking", "sports"]


def test_simulate_reads_the_texts_of_a_csv_export_as_they_were(tmp_path: Path) -> None:
    """A CSV export guards texts such as '@united ...' with a leading "'" for spreadsheets;
    simulate trains on the texts themselves, as `labelloop import` reads them."""
    from labelloop.cli.simulation import _sim_read
    from labelloop.domain import ExportRecord
    from labelloop.ingest import CsvExporter

    rows = two_topics(60)
    for i, row in enumerate(rows):
        row["text"] = ("@united ", "=", "-", "'=", "+", "")[i % 6] + row["text"]
    empty = {f.name: None for f in dataclasses.fields(ExportRecord) if f.init}
    empty |= {"metadata": {}, "value": {}, "payload": {}}
    records = [
        ExportRecord(**{**empty, "item_id": i, "text": r["text"], "label": r["label"]})
        for i, r in enumerate(rows)
    ]
    path = tmp_path / "export.csv"
    with path.open("wb") as sink:
        CsvExporter().write(records, sink)
    assert "'@united " in path.read_text()
    read = _sim_read(path, fmt=None, text_field="text", label_field="label")
    assert read["payloads"] == [{"text": r["text"]} for r in rows]


def test_a_budget_over_the_pool_is_capped_and_said_so(cli: Any, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(100))
    out = tmp_path / "o"
    args = ("--strategies", "random", "--seeds", "1", "--budget", "500", "--out", str(out))
    result = cli("simulate", str(data), *args, "--json")
    notes = [line for line in result.stderr.splitlines() if line.strip()]
    assert notes == ["note: --budget 500 is more than the pool of 75 records; capped at 75"]
    printed = json.loads(result.stdout)
    saved = json.loads((out / "results.json").read_text())
    for figures in (printed, saved):
        assert figures["budget"] == 75 and figures["budget_requested"] == 500
    assert printed["curves"]["accuracy"][0]["n_labels"][-1] == 75
    page = (out / "curves.html").read_text()
    assert "budget 75," in page and "budget 500" not in page


# ------------------------------------------------------------------------- --project SLUG

TOPICS = {
    "name": "Topics <b>&</b> more",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {"name": "topic", "type": "choice", "labels": ["sports", "cooking"], "target": True}
    ],
}
FAST = ("--strategies", "random,margin", "--seeds", "2", "--budget", "60")


@pytest.fixture
def topics(cli: Any, tmp_path: Path) -> Iterator[Any]:
    """A project 'topics' in the CLI's data dir with 200 labeled items; opens its store."""
    from labelloop.store.db import Database

    cli("init")
    schema = tmp_path / "topics.json"
    schema.write_text(json.dumps(TOPICS))
    cli("projects", "create", "topics", "--schema", str(schema))
    data = write_jsonl(tmp_path / "labeled.jsonl", two_topics(200))
    cli("import", "topics", str(data), "--label-field", "label")
    db = Database(f"sqlite:///{tmp_path / 'home' / 'labelloop.db'}")
    yield db
    db.dispose()


def _simulations(db: Any) -> list[dict[str, Any]]:
    from labelloop.workflow import projects, simulations

    return simulations.recent(db, projects.system_context(db, "topics"))


def test_project_replays_its_labels_here_and_shows_on_its_page(
    cli: Any, tmp_path: Path, topics: Any
) -> None:
    from labelloop.store.tables import audit_event

    out = tmp_path / "sim"
    result = cli("simulate", "--project", "topics", *FAST, "--out", str(out))
    text = " ".join(result.stdout.split())  # as wrapped for COLUMNS
    for expected in ("labels to 95%", "AUC", "stopping", "random", "margin"):
        assert expected in text, expected
    assert "mean of 2 seeds" in text
    assert (
        "200 labeled items, 2 classes, featurizer tfidf, model LogisticRegression; each seed "
        "splits them into 150" in text
    )
    assert re.search(r"margin has the best learning curve|no strategy learned faster", text)
    assert "simulation #1 of project 'topics': also on its page" in text
    assert f"wrote results.json, curves.html to {out}" in text

    assert {p.name for p in out.iterdir()} == {"results.json", "curves.html"}
    results = json.loads((out / "results.json").read_text())
    assert results["project"] == "topics" and results["simulation"] == 1
    assert results["n_records"] == 200 and results["classes"] == ["cooking", "sports"]
    assert [s["strategy"] for s in results["strategies"]] == ["random", "margin"]
    page = (out / "curves.html").read_text()
    assert "<svg" in page and "Active learning on the labels of Topics &lt;b&gt;&amp;" in page

    [row] = _simulations(topics)  # a normal row: the page and the API show it
    assert row["state"] == "done" and row["requested_by"] is None
    assert row["options"]["seeds"] == 2 and row["summary"]["rows"][1][0] == "margin"
    with topics.read() as conn:
        events = conn.execute(
            audit_event.select().where(audit_event.c.action == "simulation.request")
        ).all()
    assert len(events) == 1 and events[0].actor_id is None  # the local operator


def test_project_json_prints_the_simulation_as_the_api_shows_it(
    cli: Any, tmp_path: Path, topics: Any
) -> None:
    result = cli(
        "simulate",
        "--project",
        "topics",
        *FAST,
        "--batch",
        "5",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    view = json.loads(result.stdout)
    assert view["state"] == "done" and view["id"] == 1
    assert view["options"]["strategies"] == ["random", "margin"] and view["options"]["batch"] == 5
    assert [row[0] for row in view["summary"]["rows"]] == ["random", "margin"]
    assert view["chart_url"] == "/api/projects/topics/simulations/1/chart"
    assert view["outputs"] == ["results.json", "curves.html"]
    assert view == {**_simulations(topics)[0], "outputs": view["outputs"]}


def test_project_progress_feeds_the_bar_with_the_labels_and_featurizing_counted_from_the_start(
    cli: Any, tmp_path: Path, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.progress import Progress, TaskID

    from labelloop.cli import simulation
    from labelloop.workflow import simulations

    phases: list[tuple[str, int | None]] = []

    class Recording(Progress):
        def update(self, task_id: TaskID, **kwargs: Any) -> None:
            phases.append((kwargs.get("description", ""), kwargs.get("total")))
            super().update(task_id, **kwargs)

    seen: list[tuple[str, int, int]] = []
    run = simulations.run

    def recording(*args: Any, progress: Any, **kwargs: Any) -> None:
        def hook(phase: str, done: int, total: int) -> None:
            seen.append((phase, done, total))
            progress(phase, done, total)

        run(*args, progress=hook, **kwargs)

    monkeypatch.setattr(simulation, "_bar", lambda: Recording(transient=True))
    monkeypatch.setattr(simulations, "run", recording)
    cli("simulate", "--project", "topics", *FAST, "--out", str(tmp_path / "o"))
    names = list(dict.fromkeys(p for p, _ in phases))
    assert names[:2] == ["reading the labels", "featurizing 200 labeled items"]
    assert "replaying 2 strategies × 2 seeds" in names and names[-1] == "drawing the chart"
    assert any(total for p, total in phases if p.startswith("replaying"))

    phases_seen = list(dict.fromkeys(phase for phase, _, _ in seen))
    assert phases_seen[:2] == ["reading the labels", "featurizing 200 labeled items"]
    # The bar shows "x/200" rather than "0/?" while the labels are read and featurized.
    assert [(d, t) for p, d, t in seen if p == "reading the labels"][0] == (0, 200)
    assert [(d, t) for p, d, t in seen if p.startswith("featurizing")] == [(0, 200), (200, 200)]
    assert all(total > 0 for _, _, total in seen), seen


def test_exactly_one_of_file_and_project(cli: Any, tmp_path: Path, topics: Any) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(100))
    o = str(tmp_path / "o")
    neither = one_error_line(cli("simulate", "--out", o, code=1))
    assert neither == "error: give a labeled FILE or --project SLUG"
    both = one_error_line(cli("simulate", str(data), "--project", "topics", "--out", o, code=1))
    assert both == f"error: give FILE ({data}) or --project topics, not both"
    file_only = cli("simulate", "--project", "topics", "--featurizer", "minilm", "--out", o, code=1)
    assert one_error_line(file_only) == (
        "error: --featurizer reads a FILE; --project replays the project's labels on the "
        "project's featurizer"
    )
    assert not (tmp_path / "o").exists() and _simulations(topics) == []


def test_project_checks_are_one_line_and_queue_nothing(
    cli: Any, tmp_path: Path, topics: Any
) -> None:
    o = ("--out", str(tmp_path / "o"))
    onto_file = ("--out", str(tmp_path / "labeled.jsonl"))
    for args, message in (
        (("--project", "nope", *o), "error: no project 'nope'"),
        (
            ("--project", "topics", "--seeds", "11", *o),
            "error: --seeds must be between 1 and 10, not 11",
        ),
        (
            ("--project", "topics", "--max-seconds", "5", *o),
            "error: --max-seconds must be between 10 and 3600, not 5",
        ),
        (
            ("--project", "topics", "--budget", "20", *o),
            "error: --budget 20 leaves nothing to query",
        ),
        (
            ("--project", "topics", "--strategies", "psychic", *o),
            "error: unknown strategy 'psychic'",
        ),
        (
            ("--project", "topics", *onto_file),
            f"error: --out {onto_file[1]} is a file; give a folder",
        ),
    ):
        assert one_error_line(cli("simulate", *args, code=1)).startswith(message), args
    assert not (tmp_path / "o").exists() and _simulations(topics) == []


def test_project_with_too_few_labels_is_refused(cli: Any, tmp_path: Path, topics: Any) -> None:
    schema = tmp_path / "small.json"
    schema.write_text(json.dumps(TOPICS))
    cli("projects", "create", "small", "--schema", str(schema))
    data = write_jsonl(tmp_path / "few.jsonl", two_topics(30))
    cli("import", "small", str(data), "--label-field", "label")
    result = cli("simulate", "--project", "small", "--out", str(tmp_path / "o"), code=1)
    assert one_error_line(result) == (
        "error: 30 labeled items are too few to simulate; need at least 40"
    )


def test_project_waits_for_nobody_but_refuses_a_second_simulation(
    cli: Any, tmp_path: Path, topics: Any
) -> None:
    from labelloop.workflow import projects, simulations

    queued = simulations.request(
        topics, projects.system_context(topics, "topics"), strategies="random", budget=40
    )
    result = cli("simulate", "--project", "topics", "--out", str(tmp_path / "o"), code=1)
    assert one_error_line(result) == (
        f"error: simulation #{queued['id']} of project 'topics' is still queued; wait for it "
        "or cancel it"
    )


def test_a_failed_replay_is_one_line_and_writes_nothing(
    cli: Any, tmp_path: Path, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("out of cheese")

    monkeypatch.setattr("labelloop.learn.simulate.simulate", boom)
    result = cli("simulate", "--project", "topics", *FAST, "--out", str(tmp_path / "o"), code=1)
    assert one_error_line(result) == "error: the simulation failed: out of cheese (simulation #1)"
    assert not (tmp_path / "o").exists()
    assert _simulations(topics)[0]["state"] == "failed"


def test_ctrl_c_cancels_the_simulation_rather_than_leave_it_running(
    cli: Any, tmp_path: Path, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import simulate as sim

    real, calls = sim.simulate, []

    def interrupted_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "simulate", interrupted_once)
    cli("simulate", "--project", "topics", *FAST, "--out", str(tmp_path / "o"), code=130)
    [row] = _simulations(topics)
    assert row["state"] == "cancelled"
    assert not (tmp_path / "o").exists()
    cli("simulate", "--project", "topics", *FAST, "--out", str(tmp_path / "o"))  # not blocked


def test_a_stopped_command_cancels_the_simulation_rather_than_leave_it_running(
    tmp_path: Path, topics: Any
) -> None:
    """`kill` (SIGTERM) or a closed terminal (SIGHUP) stop the command as Ctrl-C does: the page
    does not show a replay at a standstill that blocks the next one for minutes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env["LABELLOOP_HOME"] = str(tmp_path / "home")

    def in_a_terminal() -> None:
        """Signals as a terminal's command has them, though the tests run under `nohup`
        (a signal started ignored stays ignored: `nohup labelloop simulate` goes on)."""
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        args = ("--strategies", "all", "--seeds", "3", "--budget", "150", "--max-seconds", "60")
        proc = subprocess.Popen(
            [sys.executable, "-m", "labelloop", "simulate", "--project", "topics", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=in_a_terminal,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = _simulations(topics)[0] if _simulations(topics) else None
                if row and row["state"] == "running" and row["phase"].startswith("replaying"):
                    break
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
            assert row is not None and row["state"] == "running", row
            proc.send_signal(sig)
            _, said = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode != 0
        assert f"cancelled simulation #{row['id']}" in said
        assert _simulations(topics)[0]["state"] == "cancelled"


def test_project_follows_a_simulation_a_running_learner_took_first(
    cli: Any, tmp_path: Path, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from labelloop.cli import simulation
    from labelloop.store import simulations as store_sims
    from labelloop.workflow import simulations
    from labelloop.workflow.features import FeatureCache

    real_claim, servers = store_sims.claim, []

    def server_first(conn: Any, sim_id: int) -> bool:
        """`labelloop serve`'s learner claims it between the request and the command's claim."""
        assert real_claim(conn, sim_id)
        row = store_sims.get(conn, 1, sim_id)
        assert row is not None
        options = dict(row["options"])
        server = threading.Thread(
            target=simulations.run, args=(topics, FeatureCache(), sim_id, 1, options)
        )
        servers.append(server)
        return False

    monkeypatch.setattr(store_sims, "claim", server_first)
    monkeypatch.setattr(simulation, "FOLLOW_S", 0.02)
    real_get, polls = simulations.get, []

    def get(*args: Any, **kwargs: Any) -> Any:
        polls.append(1)
        assert len(polls) < 3000, "the command never saw the simulation end"
        if servers and not servers[0].is_alive() and servers[0].ident is None:
            servers[0].start()  # once the command's write transaction is over
        return real_get(*args, **kwargs)

    monkeypatch.setattr(simulations, "get", get)
    out = tmp_path / "o"
    result = cli("simulate", "--project", "topics", *FAST, "--out", str(out))
    servers[0].join(30)
    assert "simulation #1 of project 'topics'" in result.stdout
    assert "random" in result.stdout and "margin" in result.stdout
    assert json.loads((out / "results.json").read_text())["n_records"] == 200
    assert [row["state"] for row in _simulations(topics)] == ["done"]


def test_an_80_column_terminal_gets_the_stopping_rules_in_a_table_of_their_own(
    tmp_path: Path, no_labelloop_env: None
) -> None:
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(120))
    # TTY_COMPATIBLE: a terminal, where sentences wrap too (piped, they stay one line)
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "COLUMNS": "80", "TTY_COMPATIBLE": "1"}
    args = ["simulate", str(data), "--seeds", "1", "--budget", "40", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--strategies", "random,qbc_vote_entropy"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("qbc_vote_entropy │" in line for line in lines)  # names stay whole
    assert "where each stopping rule fired" in result.stdout
    assert any("settled_predictions: " in line for line in lines)  # rule names stay whole


def test_a_files_bar_shows_its_total_from_the_start(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a small file the bar read "0/?" while featurizing and until the replay's second
    round: the featurizing step had no total, and the replay reported its rounds only after the
    first one. Every state the bar is in now has one."""
    from rich.progress import Progress, TaskID

    from labelloop.cli import simulation

    shown: list[tuple[str, float, float | None]] = []

    class Recording(Progress):
        def add_task(self, description: str, **kwargs: Any) -> TaskID:
            task = super().add_task(description, **kwargs)
            self._seen(task)
            return task

        def update(self, task_id: TaskID, **kwargs: Any) -> None:
            super().update(task_id, **kwargs)
            self._seen(task_id)

        def _seen(self, task_id: TaskID) -> None:
            task = self._tasks[task_id]
            shown.append((task.description, task.completed, task.total))

    monkeypatch.setattr(simulation, "_bar", lambda: Recording(transient=True))
    data = write_jsonl(tmp_path / "t.jsonl", two_topics(120))
    cli("simulate", str(data), "--jobs", "1", *FAST, "--out", str(tmp_path / "o"))
    assert shown[0] == ("featurizing 120 texts", 0, 120)
    assert all(total for _, _, total in shown), [s for s in shown if not s[2]]
    replay = [s for s in shown if s[0].startswith("simulating")]
    assert replay[0][1] == 0 and replay[-1][1] == replay[-1][2]


def test_a_level_only_some_seeds_reached_is_explained_in_the_chart_as_in_the_terminal() -> None:
    # "not reached (1/2)" was explained under the terminal's table only: the HTML chart and
    # the project page showed the cell without saying what 1/2 counts.
    from labelloop.insight.curves import render_html
    from labelloop.insight.simtable import NOT_REACHED, chart, summary_rows
    from labelloop.learn import TfidfFeaturizer, make_strategy
    from labelloop.learn.simreport import to_json
    from labelloop.learn.simulate import simulate

    rows = two_topics(200)
    payloads = [{"text": r["text"]} for r in rows]
    X = TfidfFeaturizer().fit(payloads).transform(payloads)
    y = np.asarray([r["label"] == "sports" for r in rows], dtype=np.int64)
    sim = simulate(
        X,
        y,
        classes=("cooking", "sports"),
        strategies={"random": make_strategy("random")},
        seeds=[0, 1],
        budget=40,
        batch_size=10,
    )
    data = {**to_json(sim), "featurizer": "tfidf"}
    page = render_html(chart(data, title="t"))
    (entry,) = data["strategies"]
    assert entry["reached_95"] in (0, 2) and NOT_REACHED not in page  # nothing to explain
    # The one seed that reached 95% past the other's budget: as a seed of the tweets did.
    entry.update(labels_to_95=None, reached_95=1)
    assert summary_rows(data)[1][1] == "not reached (1/2)"
    assert f'<p class="sub">{NOT_REACHED}</p>' in render_html(chart(data, title="t"))
