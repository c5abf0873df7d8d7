"""A project's model as a file: its classifier trained on every resolved pool label, with the
featurizer that reads new items, to label data outside labelloop (`labelloop model export`).

The file is a joblib pickle of :class:`~labelloop.learn.exported.ProjectModel`. Loading a pickle
runs code, so :func:`load` is for files the user made or trusts, as with any scikit-learn model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np

from labelloop import __version__
from labelloop.errors import ImportFormatError, LabelloopError, NotFound, Unprocessable
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import learning as store_learning
from labelloop.store.db import Database
from labelloop.workflow.features import FALLBACK_FEATURIZER, FeatureCache
from labelloop.workflow.media import MEDIA_TYPES
from labelloop.workflow.projects import ProjectContext

SUFFIX = ".joblib"
"""What a model file is called after: ``SLUG-model.joblib``."""
CHUNK = 1_000
"""Items featurized and scored at once by :func:`predict`: bounded memory on large files."""


def build(db: Database, ctx: ProjectContext, *, cache: FeatureCache) -> Any:
    """Train the project's model on every resolved pool label, as a round would, and return it
    as a :class:`~labelloop.learn.exported.ProjectModel` with its eval metrics (audited).

    The featurizer and model are the project's settings; while per-item embeddings are still
    being computed the model reads TF-IDF instead, as rounds do, and ``info`` says so.

    Raises
    ------
    Unprocessable
        When the target is not a single-label choice, or fewer than two classes have labels.
    """
    from labelloop.learn.exported import ProjectModel
    from labelloop.learn.model import model_label
    from labelloop.learn.round import evaluate

    ctx.require(Permission.EXPORT)
    started = time.perf_counter()
    t = train(db, ctx, cache=cache, why="a model file holds a single-label classifier")
    eval_X = t.X[t.data.n_pool :] if t.data.eval_y.size else None
    metrics = evaluate(t.estimator, eval_X, t.data.eval_y, len(t.classes))
    y = t.data.y[t.labeled]
    with db.read() as conn:
        latest = store_learning.latest(conn, ctx.id)
    info = {
        "project": ctx.slug,
        "name": ctx.name,
        "control": ctx.schema.target.name,
        "data_type": ctx.schema.data_type,
        "columns": list(ctx.schema.data_columns or []),
        "featurizer": t.used,
        "featurizer_note": None
        if t.used == ctx.settings.featurizer
        else f"'{ctx.settings.featurizer}' has not computed every item's features yet, "
        f"so this model reads {t.used}",
        "model": model_label(t.estimator),
        "n_train": int(t.labeled.shape[0]),
        "labels": {name: int((y == i).sum()) for i, name in enumerate(t.classes)},
        "metrics": {k: round(float(v), 4) for k, v in metrics.items()},
        "model_version": int(latest["version"]) if latest is not None else None,
        "labelloop": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 2),
    }
    with db.write(project_id=ctx.id) as conn:
        audit.record(
            db,
            conn,
            action="model.export",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"project:{ctx.slug}",
            payload={k: info[k] for k in ("featurizer", "model", "n_train", "metrics")},
        )
    return ProjectModel(
        featurizer=t.featurizer, estimator=t.estimator, classes=t.classes, info=info
    )


@dataclass(frozen=True)
class Trained:
    """The project's classifier fitted on every resolved pool label, with what it was fitted
    on: the round's rows (``data``, with each pool row's class index ``data.y``, MISSING where
    unlabeled), their features ``X`` (pool rows, then eval rows) and the ``labeled`` rows."""

    classes: tuple[str, ...]
    data: Any
    labeled: Any
    featurizer: Any
    X: Any
    used: str
    estimator: Any


def train(db: Database, ctx: ProjectContext, *, cache: FeatureCache, why: str) -> Trained:
    """Fit the project's featurizer and model on every resolved pool label, as a round would.

    Raises Unprocessable (saying ``why`` a single-label classifier is needed) when the target
    is not a single-label choice, or when fewer than two classes have labels.
    """
    from labelloop.domain import MISSING
    from labelloop.learn import fit_model, make_model
    from labelloop.workflow.learning import classifier_problem, round_rows

    problem = classifier_problem(ctx, why)
    if problem is not None:
        raise Unprocessable(problem)
    classes = tuple(ctx.schema.target.labels)
    data = round_rows(db, ctx, cache)
    y = data.y
    labeled = np.flatnonzero(y != MISSING)
    present = sorted({classes[i] for i in y[labeled].tolist()})
    if len(present) < 2:
        raise Unprocessable(
            f"project '{ctx.slug}' has resolved labels of {len(present)} class"
            f"{'' if len(present) == 1 else 'es'}"
            f"{' (' + present[0] + ')' if present else ''}; a model needs two at least"
        )
    featurizer, X, used = _fitted(ctx, cache, data.rows)
    estimator = fit_model(make_model(ctx.settings.model), X[labeled], y[labeled])
    return Trained(classes, data, labeled, featurizer, X, used, estimator)


def _fitted(ctx: ProjectContext, cache: FeatureCache, rows: list[Any]) -> tuple[Any, Any, str]:
    """The project's featurizer fitted on the round's rows, their features, and its name.

    A featurizer with a per-item part (embeddings) takes that part's rows from the cache, where
    the learner stored them, and falls back to TF-IDF while some are missing; every other
    featurizer is fitted here, on the same rows a round fits it on, so its columns are the
    round's.
    """
    from labelloop.learn import make_featurizer
    from labelloop.learn.featurize import caches_per_item, fit_rows, missing_requirement, parts_of

    name = ctx.settings.featurizer
    payloads = [r["payload"] for r in rows]
    if any(caches_per_item(p) for p in parts_of(name)):
        X = cache.stored(ctx.id, name, rows) if missing_requirement(name) is None else None
        if X is not None:
            return make_featurizer(name).fit(payloads), X, name
        name = FALLBACK_FEATURIZER
    featurizer = make_featurizer(name)
    return featurizer, fit_rows(featurizer, payloads), name


def write(model: Any, target: Path | IO[bytes]) -> None:
    """Save ``model`` (a :class:`~labelloop.learn.exported.ProjectModel`) as a joblib file."""
    import joblib

    joblib.dump(model, target, compress=3)


def load(source: str | Path | IO[bytes]) -> Any:
    """A model file written by :func:`write`; anything else is refused with a clear error.

    Loading unpickles: only open model files you made or trust.
    """
    import joblib

    from labelloop.learn.exported import FORMAT, ProjectModel

    if isinstance(source, str):
        source = Path(source)
    where = source if isinstance(source, Path) else getattr(source, "name", "the file")
    if isinstance(source, Path) and not source.is_file():
        raise LabelloopError(f"no file at {source}")
    what = "a model file is what `labelloop model export` writes, a project's model saved by joblib"
    try:
        found = joblib.load(source)
    except Exception:  # joblib raises whatever the bytes make pickle raise: its name tells nothing
        raise LabelloopError(
            f"{where} is not a labelloop model file: it holds no saved model ({what})"
        ) from None
    if not isinstance(found, ProjectModel) or found.format != FORMAT:
        raise LabelloopError(
            f"{where} is not a labelloop model file: it holds a {type(found).__name__}, not "
            f"a {FORMAT} ({what})"
        )
    return found


def read_items(
    model: Any,
    source: BinaryIO,
    *,
    fmt: str,
    text_field: str = "text",
    id_field: str | None = None,
) -> Iterator[tuple[int, str | None, dict[str, Any]]]:
    """``(line, id, payload)`` per record of ``source``, read as ``labelloop import`` reads it
    into the model's project: a table's columns, sanitized HTML, or an image's path (relative to
    the current folder) in ``text_field``. A bad record raises an error naming its line."""
    from labelloop.ingest import make_importer
    from labelloop.ingest.media import open_under, sniff_audio, sniff_image
    from labelloop.ingest.payloads import stored_payload
    from labelloop.ingest.tables import make_table_importer

    data_type = str(model.info.get("data_type") or "text")
    if data_type == "table":
        importer = make_table_importer(
            fmt, columns=tuple(model.info.get("columns") or ()), id_field=id_field
        )
    else:
        importer = make_importer(fmt, text_field=text_field, id_field=id_field)
    for record in importer.read(source):
        if data_type in MEDIA_TYPES:
            kind = "audio" if data_type == "audio" else "image"
            found = Path(str(record.payload.get(kind) or record.payload.get("text") or ""))
            try:  # as serving opens a file: a named pipe or a link put there since is refused
                with open_under(found, None, kind=None) as head:
                    start = head.read(64)
            except NotFound:
                raise ImportFormatError(
                    line=record.line, field=text_field, reason=f"no file at {found}"
                ) from None
            except LabelloopError as exc:
                raise ImportFormatError(
                    line=record.line, field=text_field, reason=exc.message
                ) from None
            if (sniff_audio if kind == "audio" else sniff_image)(start) is None:
                raise ImportFormatError(
                    line=record.line,
                    field=text_field,
                    reason=f"{found} is not {'an audio file' if kind == 'audio' else 'an image'}"
                    " this project reads",
                )
            payload: dict[str, Any] = {kind: str(found.resolve())}
        else:
            payload, _ = stored_payload(data_type, record.payload, line=record.line)
        yield record.line, record.external_id, payload


def predict(
    model: Any,
    items: Iterable[tuple[int, str | None, dict[str, Any]]],
    *,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per item of :func:`read_items`: its line, id, label, the label's probability and
    every class's, scored :data:`CHUNK` items at a time."""
    stream = iter(items)
    done = 0
    while batch := list(islice(stream, CHUNK)):
        proba = model.predict_proba([payload for _, _, payload in batch])
        for (line, external_id, _), row in zip(batch, proba, strict=True):
            best = int(row.argmax())
            yield {
                "line": line,
                "id": external_id,
                "label": model.classes[best],
                "confidence": round(float(row[best]), 4),
                "probabilities": {
                    c: round(float(p), 4) for c, p in zip(model.classes, row, strict=True)
                },
            }
        done += len(batch)
        if progress is not None:
            progress(done)
