"""Migrations build exactly the tables the code describes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from labelloop.store.db import Database
from labelloop.store.migrate import alembic_config, described, head_revisions, upgrade
from labelloop.store.tables import metadata
from tests.conftest import ENGINES, Lab, PgCluster, downgrade, make_rows


def test_upgrade_creates_every_table(fresh_db: Database) -> None:
    names = set(inspect(fresh_db.engine).get_table_names())
    assert set(metadata.tables) <= names
    assert "alembic_version" in names


def test_migrated_database_matches_the_table_descriptions(fresh_db: Database) -> None:
    with fresh_db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "include_name": described,
            },
        )
        diff = compare_metadata(context, metadata)
    assert diff == [], f"migrations and tables.py disagree: {diff}"


def test_upgrade_twice_is_a_no_op(db: Database) -> None:
    from labelloop.workflow import accounts

    accounts.create_user(db, "kept", None)
    upgrade(db)
    with db.read() as conn:
        from labelloop.store import users

        assert users.by_name(conn, "kept") is not None


def test_the_newest_revision_is_the_one_alembic_finds(sqlite_db: Database) -> None:
    """A store is taken as current, and not migrated, when it is at the revision read from the
    migration files: that must be the head Alembic itself finds."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config(sqlite_db)).get_heads()
    assert head_revisions() == set(heads)


def test_a_store_one_migration_behind_is_migrated(sqlite_db: Database) -> None:
    before = _revision(sqlite_db)
    downgrade(sqlite_db, "-1")
    assert _revision(sqlite_db) != before
    upgrade(sqlite_db)
    assert _revision(sqlite_db) == before


def _revision(db: Database) -> str:
    with db.read() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


@pytest.fixture(params=ENGINES)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no tables at all, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/old.db")
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        database = Database(cluster.create_database())
    yield database
    database.dispose()
    if not database.is_sqlite:
        request.getfixturevalue("pg_cluster").drop_database(database.url)


_UPGRADE = """
import sys
from labelloop.store.db import Database
from labelloop.store.migrate import upgrade

upgrade(Database(sys.argv[1]))
"""


def test_processes_started_together_take_turns_at_the_migrations(empty_db: Database) -> None:
    """Two serve processes and a worker started together on a new database each ran the
    migrations: all but one died, on PostgreSQL on a table another had just created, on
    SQLite with "database is locked"."""
    root = Path(__file__).resolve().parents[2]
    started = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE, empty_db.url], cwd=root, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    failed = [p.communicate(timeout=120)[1].decode()[-500:] for p in started]
    assert [p.returncode for p in started] == [0, 0, 0], failed
    assert set(metadata.tables) <= set(inspect(empty_db.engine).get_table_names())


def test_a_database_of_the_previous_release_upgrades_and_keeps_its_models(
    empty_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store made before eval metrics per cohort (revision 0004) with a trained model: after
    the upgrade its model still shows, without cohort figures, and the next round has them."""
    from labelloop.store.tables import model_version
    from labelloop.store.users import now
    from labelloop.workflow import learning, projects, status

    db = empty_db
    upgrade(db, "0004")
    assert "cohort_metrics" not in _columns(db, "model_version")
    lab = _lab_of_old_release(db)
    ctx = lab.project()
    with monkeypatch.context() as old_release:  # its inserts knew no removed ids (0012)
        from labelloop.store import highwater

        old_release.setattr(highwater, "insert_of", lambda conn, table: table.insert())
        lab.import_rows(ctx, make_rows(60, labeled=True), labeled=True)
        evals = [{**r, "cohort": "airline"} for r in make_rows(12, start=900, labeled=True)]
        lab.import_rows(ctx, evals, labeled=True, split="eval")
    with db.write() as conn:  # the model version that release wrote (its columns only)
        conn.execute(
            model_version.insert().values(
                project_id=ctx.id,
                version=1,
                n_train=60,
                strategy="margin",
                featurizer="tfidf",
                model="LogisticRegression",
                params={},
                metrics={"accuracy": 0.9, "macro_f1": 0.9, "n_eval": 12.0},
                stop_predictions=[],
                stopping={"cold_start": False, "decisions": []},
                train_seconds=0.5,
                created_at=now(),
            )
        )

    upgrade(db)
    old = status.status(db, ctx)["model"]
    assert (old["version"], old["metrics"]["accuracy"], old["cohorts"]) == (1, 0.9, None)
    assert learning.train(db, projects.system_context(db, "sent")) == 2
    new = status.status(db, ctx)["model"]
    assert [c["cohort"] for c in new["cohorts"]["cohorts"]] == ["airline"]
    assert new["cohorts"]["overall"]["n"] == 12

    downgrade(db, "0004")  # and back: the column goes, the model versions stay
    assert "cohort_metrics" not in _columns(db, "model_version")
    upgrade(db)
    assert [m["version"] for m in status.models(db, ctx)] == [1, 2]


def _lab_of_old_release(db: Database) -> Lab:
    """A Lab on a store of an older revision, its site admin inserted as that release did (its
    columns only): today's account code reads columns the old user table lacks."""
    from sqlalchemy import column, table

    from labelloop.store.users import now
    from labelloop.workflow.accounts import User

    old_user = table(
        "user", column("username"), column("is_admin"), column("is_active"), column("created_at")
    )
    with db.write() as conn:
        conn.execute(
            old_user.insert().values(
                username="admin", is_admin=True, is_active=True, created_at=now()
            )
        )
        uid = conn.execute(text("SELECT id FROM \"user\" WHERE username = 'admin'")).scalar_one()
    return Lab(db, _admin=User(id=int(uid), username="admin", is_admin=True))


def _columns(db: Database, table: str) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns(table)}


def test_alerts_stored_before_acknowledgements_upgrade_and_downgrade(empty_db: Database) -> None:
    """A store of revision 0008 with an open alert: after the upgrade it needs attention (no
    acknowledgement), can be acknowledged, and going back to 0008 keeps the alert."""
    from labelloop.store.tables import alert
    from labelloop.store.users import now
    from labelloop.workflow import acknowledgements, insight, projects

    db = empty_db
    upgrade(db, "0008")
    assert "acknowledged_at" not in _columns(db, "alert")
    lab = _lab_of_old_release(db)
    ctx = lab.project()
    with db.write() as conn:  # the alert that release's learner stored (its columns only)
        conn.execute(
            alert.insert().values(
                project_id=ctx.id, kind="idle", message="No label resolved.", created_at=now()
            )
        )

    upgrade(db)
    rows = [{"id": ctx.id, "role": None}]
    ((stored,),) = insight.open_alerts(db, lab.admin, rows).values()
    assert stored["kind"] == "idle" and stored["acknowledged_at"] is None
    acknowledgements.acknowledge_alert(
        db, projects.system_context(db, "sent"), "idle", note="known"
    )
    assert insight.open_alerts(db, lab.admin, rows)[ctx.id][0]["acknowledged_note"] == "known"

    downgrade(db, "0008")  # and back: the columns go, the alert stays
    assert {"acknowledged_by", "acknowledged_at", "acknowledged_note"}.isdisjoint(
        _columns(db, "alert")
    )
    with db.read() as conn:
        assert [k for (k,) in conn.execute(alert.select().with_only_columns(alert.c.kind))] == [
            "idle"
        ]
    upgrade(db)
    assert insight.open_alerts(db, lab.admin, rows)[ctx.id][0]["acknowledged_at"] is None


def test_users_of_the_previous_release_keep_their_sessions_after_the_upgrade(
    empty_db: Database,
) -> None:
    """A store of revision 0009 with a user: after the upgrade their session cookies (of
    generation 0, as every cookie before) still hold, signing out ends them, and going back
    to 0009 keeps the user."""
    from labelloop.workflow import accounts

    db = empty_db
    upgrade(db, "0009")
    lab = _lab_of_old_release(db)
    upgrade(db)
    assert accounts.user_for_session(db, lab.admin.id, 0) is not None
    accounts.sign_out(db, lab.admin)
    assert accounts.user_for_session(db, lab.admin.id, 0) is None
    assert accounts.user_for_session(db, lab.admin.id, 1) is not None

    downgrade(db, "0009")
    assert "session_generation" not in _columns(db, "user")
    with db.read() as conn:
        assert conn.execute(text('SELECT username FROM "user"')).scalars().all() == ["admin"]
    upgrade(db)
    db.memo.forget()  # as a server restarted on the migrated store
    assert accounts.user_for_session(db, lab.admin.id, 0) is not None


def test_an_upload_imported_before_0016_has_its_folder_recorded_and_undoes_with_it(
    empty_db: Database, tmp_path: Path
) -> None:
    """A YOLO zip imported with its images before its import recorded where they went: the
    upgrade finds the folder from its items' paths, so undoing it deletes the files."""
    from labelloop.store import items as store_items
    from labelloop.workflow import batches, projects

    db = empty_db
    upgrade(db, "0015")
    lab = _lab_of_old_release(db)
    ctx = lab.project("street")
    lab.project("other")
    stamp = "20261201-101010-abcdef"
    media = tmp_path / "media"
    (media / "uploads" / "street" / stamp / "images").mkdir(parents=True)
    (media / "uploads" / "street" / stamp / "images" / "a.png").write_bytes(b"\x89PNG")
    paths = {  # (project, format, where its item's image lies)
        "zip": ("street", "yolo", f"uploads/street/{stamp}/images/a.png"),
        "labels": ("street", "yolo", "cars/images/a.png"),  # a zip of label files
        "jsonl": ("street", "jsonl", f"uploads/street/{stamp}/images/b.png"),
        "elsewhere": ("other", "yolo", f"uploads/street/{stamp}/images/c.png"),
    }
    ids = {}
    with db.write() as conn:
        for name, (slug, fmt, path) in paths.items():
            pid = ctx.id if slug == "street" else ctx.id + 1
            ids[name] = store_items.insert_batch(
                conn,
                project_id=pid,
                user_id=None,
                filename=name,
                format=fmt,
                split="pool",
                n_items=1,
                n_labeled=0,
                n_duplicates=0,
            )
            conn.execute(
                text(
                    "INSERT INTO item (project_id, payload, meta, split, content_hash, "
                    "import_batch_id) VALUES (:p, :payload, '{}', 'pool', :h, :b)"
                ),
                {"p": pid, "payload": f'{{"image": "{path}"}}', "h": name, "b": ids[name]},
            )

    upgrade(db)
    listed = {b["filename"]: b["upload_folder"] for b in batches.imports(db, ctx)}
    assert listed == {"zip": f"uploads/street/{stamp}", "labels": None, "jsonl": None}
    other = batches.imports(db, projects.system_context(db, "other"))
    assert [b["upload_folder"] for b in other] == [None]  # not its own project's folder
    done = batches.undo(db, projects.system_context(db, "street"), ids["zip"], media_roots=(media,))
    assert done["files"] == 1 and not (media / "uploads" / "street").exists()


def test_table_rows_imported_before_0027_are_duplicates_of_the_same_rows_in_any_format(
    empty_db: Database,
) -> None:
    """Rows stored before 0027 were fingerprinted as their JSON (14.23 and "14.23" apart): after
    the upgrade the same rows from a CSV file are duplicates, and a text project's items keep
    their fingerprints."""
    import io

    from labelloop.workflow import imports, projects

    db = empty_db
    upgrade(db, "0022")
    lab = _lab_of_old_release(db)
    schema = {
        "name": "Wines",
        "data": {"type": "table", "field": "row"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
    }
    projects.create_project(db, "wines", schema, actor=lab.admin)
    ctx = lab.ctx("wines", lab.admin)
    texts = lab.project("texts")
    rows = b'{"id": "w1", "alcohol": 14.23, "mg": 127.0}\n{"id": "w2", "alcohol": 13, "mg": 9}\n'
    imports.import_items(db, ctx, io.BytesIO(rows), fmt="jsonl", filename="w.jsonl", id_field="id")
    imports.import_items(db, texts, io.BytesIO(b'{"text": "Fine"}\n'), fmt="jsonl", filename="t")
    with db.write() as conn:  # as that release fingerprinted them: the stored JSON
        for item_id, payload in conn.execute(text("SELECT id, payload FROM item")).all():
            row = (payload if isinstance(payload, dict) else json.loads(payload)).get("row")
            if row is not None:
                old = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                conn.execute(
                    text("UPDATE item SET content_hash = :h WHERE id = :id"),
                    {"h": hashlib.sha256(old.encode()).hexdigest(), "id": item_id},
                )
    with db.read() as conn:
        before = dict(conn.execute(text("SELECT id, content_hash FROM item")).all())

    upgrade(db)
    same = b"id,alcohol,mg\nw1,14.23,127\nw2,13.0,9\n"
    report = imports.import_items(
        db, ctx, io.BytesIO(same), fmt="csv", filename="w.csv", id_field="id"
    )
    assert (report.n_items, report.n_duplicates) == (0, 2)
    with db.read() as conn:
        after = dict(conn.execute(text("SELECT id, content_hash FROM item")).all())
    changed = {i for i in before if before[i] != after[i]}
    assert len(changed) == 2  # the two rows; the text item's fingerprint stays

    downgrade(db, "0022")
    with db.read() as conn:
        assert dict(conn.execute(text("SELECT id, content_hash FROM item")).all()) == before


def test_label_issues_raised_before_0028_keep_the_model_s_suggestion_after_the_upgrade(
    empty_db: Database,
) -> None:
    """Flags raised before the suggestion was stored with them said it in their notes only:
    after the upgrade the second look's list shows each as the note said it, a note naming no
    label of the project (or another kind of flag) gets none, and going back keeps the notes."""
    from labelloop.store.users import now
    from labelloop.workflow import imported_issues

    db = empty_db
    upgrade(db, "0027")
    lab = _lab_of_old_release(db)
    ctx = lab.project()
    rows = [{"id": f"t{k}", "text": f"text number {k}", "label": "neutral"} for k in range(1, 5)]
    lab.import_rows(ctx, rows, labeled=True, filename="old.jsonl")
    notes = {  # as that release's rounds and scans wrote them (its columns only)
        "t1": ("label_issue", "labeled 'neutral' but the model is 0.97 sure it is 'negative'"),
        "t2": ("label_issue", "cross-validated model says positive (0.81)"),
        "t3": ("label_issue", "cross-validated model says eggs (0.66)"),
        "t4": ("model_contradicts", "model says positive (0.91)"),
    }
    with db.write() as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM item")).all())
        for external_id, (kind, note) in notes.items():
            conn.execute(
                text(
                    "INSERT INTO flag (project_id, item_id, kind, note, score, created_at) "
                    "VALUES (:p, :i, :kind, :note, 0.1, :at)"
                ),
                {"p": ctx.id, "i": ids[external_id], "kind": kind, "note": note, "at": now()},
            )

    upgrade(db)
    listed = imported_issues.flagged(db, ctx)["items"]
    assert [(r["external_id"], r["suggestion"], r["confidence"]) for r in listed] == [
        ("t1", "negative", 0.97),
        ("t2", "positive", 0.81),
        ("t3", None, None),
    ]
    with db.read() as conn:
        other = conn.execute(
            text("SELECT suggestion FROM flag WHERE kind = 'model_contradicts'")
        ).scalar_one()
    assert other is None

    downgrade(db, "0027")
    assert {"suggestion", "suggestion_confidence"}.isdisjoint(_columns(db, "flag"))
    with db.read() as conn:
        kept = conn.execute(text("SELECT note FROM flag ORDER BY id")).scalars().all()
    assert kept == [note for _, note in notes.values()]


def test_rework_leases_taken_up_before_0029_are_being_redone_as_before_after_the_upgrade(
    lab: Lab,
) -> None:
    """Before 0029 a rework lease's leased_at moved to when its annotator was last served it or
    renewed it: after the upgrade the dashboard counts the same items as being redone and the
    same as waiting since their rejection, and going back writes leased_at as before."""
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from labelloop.store import insight as store_insight
    from labelloop.store.tables import assignment
    from labelloop.store.users import now
    from labelloop.workflow import tasks

    db = lab.db
    ctx = lab.project("rw", review_policy="all")
    lab.import_rows(ctx, make_rows(6))
    lab.train(ctx)
    ann = lab.member("rw", "ann", "annotator")
    lab.label_next(ann, n=3)
    lab.reject_next(lab.member("rw", "rita", "reviewer"), n=3)
    on_page = tasks.next_task(db, ann)["assignment_id"]  # taken up, still on ann's page
    left = tasks.next_task(db, ann, held=[on_page])  # taken up, then given back
    tasks.release(
        db, ann, {left["assignment_id"]: datetime.fromisoformat(left["lease_expires_at"])}
    )
    rework = assignment.c.strategy == "rework"

    def leases(*columns: object) -> dict[int, tuple[object, ...]]:
        with db.read() as conn:
            found = conn.execute(select(assignment.c.id, *columns).where(rework))
            return {i: tuple(rest) for i, *rest in found}

    def stage(at: datetime) -> dict[str, object]:
        with db.read() as conn:
            return store_insight.waiting(conn, ctx.id, at=at)["rework"]

    before, at = leases(assignment.c.leased_at, assignment.c.taken_up_until), now()
    counted = stage(at)
    assert (counted["waiting"], counted["in_progress"]) == (2, 1)

    downgrade(db, "0028")
    assert "taken_up_until" not in _columns(db, "assignment")
    taken_up = before[on_page][1] - timedelta(minutes=10)  # as that release wrote it
    assert leases(assignment.c.leased_at) == {
        i: (taken_up if i == on_page else sent,) for i, (sent, _) in before.items()
    }

    upgrade(db)
    assert stage(at) == counted
    after = leases(assignment.c.leased_at, assignment.c.taken_up_until)
    assert after[on_page] == before[on_page]
    assert {i: sent for i, (sent, _) in after.items()} == {i: s for i, (s, _) in before.items()}


def test_contradictions_flagged_before_0030_show_the_suggestion_their_answer_was_shown(
    lab: Lab,
) -> None:
    """A model_contradicts flag raised before its check wrote the model's label and probability
    into the flag kept them in its note only: after the upgrade it has those of the suggestion
    its answer records, to the flags' 4 decimals; other flags stay without one, and going back
    keeps what was filled."""
    from sqlalchemy import update

    from labelloop.store.tables import assignment, flag
    from labelloop.workflow import flags, review, tasks

    db = lab.db
    ctx = lab.project("mc", contradiction_threshold=0.5)
    lab.import_rows(ctx, make_rows(6))
    lab.train(ctx)
    ann = lab.member("mc", "ann", "annotator")
    guessed = {"positive": 0.9123456789, "negative": 0.6666666667}  # what the leases offered
    for suggestion, p in guessed.items():
        task = tasks.next_task(db, ann)
        assert task is not None
        with db.write() as conn:
            conn.execute(
                update(assignment)
                .where(assignment.c.id == task["assignment_id"])
                .values(suggestion=suggestion, suggestion_confidence=p)
            )
        flags.flag_task(db, ann, task["assignment_id"], note="sarcasm?")
        tasks.submit(db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=4000)

    def suggested() -> list[tuple[str, str | None, float | None]]:
        listed = review.flags(db, ctx, open_only=False)
        return sorted((f["kind"], f["suggestion"], f["confidence"]) for f in listed)

    as_raised = [
        ("ambiguous", None, None),
        ("ambiguous", None, None),
        ("model_contradicts", "negative", 0.6667),
        ("model_contradicts", "positive", 0.9123),
    ]
    assert suggested() == as_raised
    downgrade(db, "0029")
    with db.write() as conn:  # as the release before wrote them
        conn.execute(update(flag).values(suggestion=None, suggestion_confidence=None))

    upgrade(db)
    assert suggested() == as_raised

    downgrade(db, "0029")
    assert suggested() == as_raised
