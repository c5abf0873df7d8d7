"""Feature matrices of a project's items: refitted in memory, or computed once per item on disk.

Corpus-fitted featurizers (TF-IDF, table) are refitted whenever the project's items change; the
matrix stays in memory. Featurizers whose rows depend on their own payload only and cost real
time (``cache_per_item``: sentence embeddings) compute each item once, in chunks, and keep the
rows under ``LABELLOOP_HOME/features/<project id>/<featurizer version>/`` so a restart, a second
process or a new import recomputes nothing that was already done. A stacked featurizer
(``tfidf+minilm``) is computed part by part, each part as above, and its blocks put side by side.

A learner killed hard (SIGKILL: the out-of-memory killer, a power cut) in the middle of a part
leaves a ``.tmp`` file or a rows file without its ids file, which nothing reads, and in a merge
the parts it already copied: the learner removes them as it starts and every
:data:`TIDY_EVERY_S` after (:meth:`FeatureCache.tidy`).
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.sizes import size_text
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.shutdown import whole

log = logging.getLogger("labelloop.learner")
CHUNK = 512
"""Items computed and written per part; progress advances in these steps."""
MAX_PARTS = 256
"""More parts than this are merged into one when loaded."""
FALLBACK_FEATURIZER = "tfidf"
"""What rounds and occasional readers use while a featurizer's per-item rows are missing."""
PART_NAME = re.compile(r"(?P<ns>\d{20})-(?P<pid>\d+)-[0-9a-f]{8}")
"""A part's name: when it was started (ns), by which process, and a random part."""
_LEFTOVER = re.compile(r"\.(?P<tmp>.+)\.(X|ids)\.npy\.tmp|(?P<rows>.+)\.X\.npy")
"""What a part's write leaves when cut: a file being written, or rows whose ids file is not."""
FRESH_S = 600.0
"""How long since its last write a leftover of a writer no longer running here is kept: a
writer in another process namespace (a container sharing the data dir) may still be at it. A
``.tmp`` file grows while written; a rows file gets its ids file within a moment."""
STALE_AFTER_S = 24 * 3600.0
"""Leftovers this old go whoever's name they carry (a pid taken again, as a container's is)."""
TIDY_EVERY_S = 3600.0
"""How often a running learner looks for leftovers again (those too fresh at its start)."""


@dataclass
class Features:
    """Rows of ``X`` belong to the items ``ids``, in the order asked for."""

    key: tuple[Any, ...]
    ids: NDArray[np.int64]
    X: Any


class FeatureFiles:
    """One featurizer version's rows for one project: append-only parts of (ids, rows).

    A part is ``<name>.X.npy`` plus ``<name>.ids.npy``; the ids file is written last (each file
    by rename), so a part counts only once it is whole. With ``folder=None`` the parts live in
    memory (tests, and processes without a data dir).
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._parts: list[tuple[NDArray[np.int64], NDArray[Any]]] = []

    def _names(self) -> list[str]:
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(p.name[: -len(".ids.npy")] for p in self.folder.glob("*.ids.npy"))

    def count(self) -> int:
        """Rows stored (reads only the ids files' headers)."""
        if self.folder is None:
            return sum(len(ids) for ids, _ in self._parts)
        total = 0
        for name in self._names():
            try:
                total += int(np.load(self.folder / f"{name}.ids.npy", mmap_mode="r").shape[0])
            except (FileNotFoundError, ValueError):  # merged away meanwhile, or half-written
                continue
        return total

    def ids(self) -> NDArray[np.int64]:
        """The item ids with stored rows, sorted (reads no feature rows)."""
        if self.folder is None:
            parts = [ids for ids, _ in self._parts]
        else:
            parts = []
            for name in self._names():
                try:
                    parts.append(np.load(self.folder / f"{name}.ids.npy", allow_pickle=False))
                except (FileNotFoundError, ValueError):
                    continue
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def append(self, ids: NDArray[np.int64], X: NDArray[Any]) -> None:
        """Store rows for ``ids`` (one part)."""
        ids = np.asarray(ids, dtype=np.int64)
        if self.folder is None:
            self._parts.append((ids, np.asarray(X)))
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = part_name()
        with whole():  # a stopped worker leaves no rows without their ids, nor a .tmp file
            self._save(f"{name}.X.npy", np.asarray(X))
            try:
                self._save(f"{name}.ids.npy", ids)
            except BaseException:  # a full disk, say: no rows without their ids
                (self.folder / f"{name}.X.npy").unlink(missing_ok=True)
                raise

    def _save(self, filename: str, array: NDArray[Any]) -> None:
        """Write ``array`` as ``filename``, whole or not at all: a write that fails (a full
        disk) removes its ``.tmp`` file, which the learner, still running, would keep."""
        assert self.folder is not None
        tmp = self.folder / f".{filename}.tmp"
        try:
            with tmp.open("wb") as out:
                np.save(out, array, allow_pickle=False)
            tmp.replace(self.folder / filename)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def leftovers(self, *, now: float | None = None) -> list[Path]:
        """Files a writer killed hard left (a ``.tmp`` file, a rows file without its ids file)
        whose writer cannot be writing them any more: it no longer runs on this machine and
        they were last written :data:`FRESH_S` ago, or they are :data:`STALE_AFTER_S` old."""
        if self.folder is None or not self.folder.is_dir():
            return []
        now = time.time() if now is None else now
        found = []
        for path in self.folder.iterdir():
            match = _LEFTOVER.fullmatch(path.name)
            if match is None:
                continue
            name = match["tmp"] or match["rows"]
            part = PART_NAME.fullmatch(name)
            if part is None:
                continue  # not named by this code: not ours to remove
            if match["rows"] and (self.folder / f"{name}.ids.npy").exists():
                continue  # a whole part
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:  # renamed or merged away meanwhile
                continue
            pid, started_ns = int(part["pid"]), int(part["ns"])
            if age >= STALE_AFTER_S or (age >= FRESH_S and not _may_run(pid, started_ns)):
                found.append(path)
        return sorted(found)

    def superseded(self, *, now: float | None = None) -> list[Path]:
        """The files of whole parts each row of which newer parts made :data:`FRESH_S` ago
        hold too (ids file first): what a merge killed before it deleted the parts it
        replaced leaves, every row twice. A merge still running deletes them itself."""
        if self.folder is None:
            return []
        now = time.time() if now is None else now
        names, held = [], []
        for name in self._names():
            try:
                held.append(np.load(self.folder / f"{name}.ids.npy", allow_pickle=False))
            except (FileNotFoundError, ValueError):
                continue
            names.append(name)
        if len(names) < 2:
            return []
        ids = np.concatenate(held)
        part = np.repeat(np.arange(len(held)), [len(h) for h in held])
        # The newest part holding each id: ``part`` ascends, so the last of each id's run.
        order = np.lexsort((part, ids))
        last = np.r_[ids[order][1:] != ids[order][:-1], True]
        newest = np.empty_like(part)
        newest[order] = part[order][last][np.cumsum(np.r_[0, last[:-1]])]
        made = np.array([_made_s(name) for name in names])
        found = []
        for i, name in enumerate(names):
            mine = part == i
            if (
                mine.any()
                and (newest[mine] > i).all()
                and now - made[newest[mine]].max() >= FRESH_S
            ):
                found += [self.folder / f"{name}.ids.npy", self.folder / f"{name}.X.npy"]
        return found

    def load(self) -> tuple[NDArray[np.int64], NDArray[Any] | None]:
        """Every stored row once (the first copy of an id wins); ``X`` is None when empty."""
        parts = list(self._parts) if self.folder is None else self._read_parts()
        if not parts:
            return np.empty(0, dtype=np.int64), None
        ids = np.concatenate([p[0] for p in parts])
        X = np.concatenate([p[1] for p in parts])
        ids, first = np.unique(ids, return_index=True)
        return ids, X[first]

    def _read_parts(self) -> list[tuple[NDArray[np.int64], NDArray[Any]]]:
        names, parts = self._listed_parts()
        if len(parts) > MAX_PARTS:
            self._rewrite(names, parts)  # merged into one
        return parts

    def _listed_parts(self) -> tuple[list[str], list[tuple[NDArray[np.int64], NDArray[Any]]]]:
        """The whole parts' names and their (ids, rows), listed again when another process
        merges or tidies parts away between the listing and the reading."""
        assert self.folder is not None
        for _attempt in range(3):
            names = self._names()
            try:
                parts = [
                    (
                        np.load(self.folder / f"{n}.ids.npy", allow_pickle=False),
                        np.load(self.folder / f"{n}.X.npy", allow_pickle=False),
                    )
                    for n in names
                ]
            except FileNotFoundError:
                continue
            return names, parts
        raise RuntimeError(f"feature files under {self.folder} kept changing while read")

    def drop(self, ids: NDArray[np.int64]) -> int:
        """Forget the rows of ``ids`` (items removed with their import); how many went.

        The rows left are written as one part before the old parts are deleted, as a merge
        does, so a reader never misses a row that stays."""
        if self.folder is None:
            kept = [(i[~np.isin(i, ids)], X[~np.isin(i, ids)]) for i, X in self._parts]
            gone = sum(len(i) for i, _ in self._parts) - sum(len(i) for i, _ in kept)
            self._parts = [(i, X) for i, X in kept if len(i)]
            return gone
        if not self.folder.is_dir():
            return 0
        names, parts = self._listed_parts()
        hit = [np.isin(i, ids) for i, _ in parts]
        gone = int(sum(h.sum() for h in hit))
        if not gone:
            return 0
        left = [(i[~h], X[~h]) for (i, X), h in zip(parts, hit, strict=True) if (~h).any()]
        self._rewrite(names, left)
        return gone

    def _rewrite(self, names: list[str], parts: list[tuple[NDArray[Any], NDArray[Any]]]) -> None:
        """Write ``parts`` as one part, then delete the parts ``names``; a stop waits for both,
        or the rows would be counted twice."""
        assert self.folder is not None
        with whole():
            if parts:
                self.append(
                    np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
                )
            for name in names:
                (self.folder / f"{name}.ids.npy").unlink(missing_ok=True)
                (self.folder / f"{name}.X.npy").unlink(missing_ok=True)


def part_name() -> str:
    """A new part's name (:data:`PART_NAME`): unique, in the order written."""
    return f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _made_s(name: str) -> float:
    """When the part ``name`` was started (seconds since the epoch); a name not made by
    :func:`part_name` counts as made just now."""
    found = PART_NAME.fullmatch(name)
    return int(found["ns"]) / 1e9 if found else math.inf


def _may_run(pid: int, since_ns: int) -> bool:
    """Whether process ``pid`` of this machine may be the one that named a part at
    ``since_ns``: it runs and (where Linux tells) started before then, not a later process
    given the same pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    except OverflowError:
        return False
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return True  # not Linux, or gone meanwhile: assume it may
    started = boot + ticks / os.sysconf("SC_CLK_TCK")
    return started <= since_ns / 1e9 + 1  # btime is in whole seconds


def _safe(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", version)[:100] or "_"


class FeatureCache:
    """Features of a project's items per featurizer: in memory, and on disk for per-item ones.

    Thread-safe: the learner thread and request threads (search by similarity) share one.

    Parameters
    ----------
    root : Path, optional
        The data dir's ``features`` folder; without it per-item rows are kept in memory only.
    media_roots : sequence of Path
        Where image items' files are read from (settings ``media_root_paths``).
    """

    def __init__(self, root: Path | None = None, *, media_roots: Sequence[Path] = ()) -> None:
        self.root = root
        self.media_roots = tuple(media_roots)
        self._memory: dict[tuple[int, str], Features] = {}
        self._rows: dict[int, tuple[list[int], list[dict[str, Any]]]] = {}
        self._files: dict[tuple[int, str], FeatureFiles] = {}
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: tuple[int, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def tidy(self, *, now: float | None = None) -> int:
        """Remove what learners killed hard left in every project's stored rows
        (:meth:`FeatureFiles.leftovers`, :meth:`FeatureFiles.superseded`), saying so in the
        learner's log; the bytes freed. A folder this process computes or merges in right now
        is left for the next time."""
        if self.root is None or not self.root.is_dir():
            return 0
        freed = 0
        for folder in sorted(f for p in self.root.iterdir() if p.is_dir() for f in p.iterdir()):
            if not folder.is_dir():
                continue
            files = FeatureFiles(folder)
            project = int(folder.parent.name) if folder.parent.name.isdigit() else -1
            busy = [self._lock((project, f"{use}:{folder}")) for use in ("files", "merge")]
            taken = [lock for lock in busy if lock.acquire(blocking=False)]
            try:
                if len(taken) < len(busy):
                    continue  # this process computes or merges there now: next time
                gone, size = 0, 0
                for path in files.superseded(now=now) + files.leftovers(now=now):
                    try:
                        bytes_ = path.stat().st_size
                        path.unlink()
                    except FileNotFoundError:  # gone meanwhile
                        continue
                    except OSError as exc:  # a read-only disk, say: learning goes on
                        log.warning("could not remove feature file %s: %s", path, exc.strerror)
                        continue
                    gone, size = gone + 1, size + bytes_
            finally:
                for lock in taken:
                    lock.release()
            if gone:
                log.warning(  # shown by default: a learner was killed, out of memory say
                    "removed %d feature file(s) a learner killed hard left in %s: %s freed",
                    gone,
                    folder.relative_to(self.root),
                    size_text(size),
                )
            freed += size
        return freed

    def files(self, project_id: int, featurizer_name: str) -> FeatureFiles:
        """The stored rows of a per-item featurizer for a project.

        For a stacked featurizer, those of its per-item part: a project that moves from
        ``minilm`` to ``tfidf+minilm`` reuses every embedding already computed.
        """
        from labelloop.learn import make_featurizer
        from labelloop.learn.featurize import per_item_part

        name = per_item_part(featurizer_name) or featurizer_name
        version = _safe(str(make_featurizer(name).version))
        if self.root is not None:
            return FeatureFiles(self.root / str(project_id) / version)
        with self._guard:
            return self._files.setdefault((project_id, version), FeatureFiles(None))

    def with_payloads(
        self, project_id: int, ids: list[int], load: Callable[[], Mapping[int, Any]]
    ) -> list[dict[str, Any]]:
        """Rows ``{"id", "payload"}`` for ``ids``, read through ``load`` only when they changed.

        Items are never edited, so the same ids mean the same content: a round in a project
        whose items did not change skips reading and decoding every payload again. An id whose
        item is gone by the time ``load`` reads (an import undone meanwhile) has no row.
        """
        memo = self._rows.get(project_id)
        if memo is not None and memo[0] == ids:
            return memo[1]
        payloads = load()
        rows = [{"id": i, "payload": payloads[i]} for i in ids if i in payloads]
        self._rows[project_id] = ([r["id"] for r in rows], rows)
        return rows

    def holds(self, project_id: int, ids: Sequence[int]) -> bool:
        """Whether a matrix of exactly the items ``ids`` is in memory (of any featurizer):
        features of them come at once, without reading or fitting anything."""
        key = (len(ids), int(sum(ids)))
        with self._guard:
            kept = [f.key[1:] for (p, _), f in self._memory.items() if p == project_id]
        return key in kept

    def forget(self, project_id: int, item_ids: Sequence[int]) -> None:
        """Drop what is kept of items removed from the project (an import undone): their
        stored per-item rows, which ``computed`` would count otherwise, and the matrices and
        payloads held in memory for the project."""
        ids = np.asarray(sorted(item_ids), dtype=np.int64)
        with self._guard:
            for key in [k for k in self._memory if k[0] == project_id]:
                del self._memory[key]
            self._rows.pop(project_id, None)
            in_memory = [f for (p, _), f in self._files.items() if p == project_id]
        if not ids.size:
            return
        folders: list[FeatureFiles] = in_memory
        if self.root is not None and (self.root / str(project_id)).is_dir():
            folders = [
                FeatureFiles(f) for f in (self.root / str(project_id)).iterdir() if f.is_dir()
            ]
        for files in folders:
            key = (project_id, f"files:{files.folder or 'memory'}")
            with self._lock(key), self._lock((project_id, f"merge:{files.folder or 'memory'}")):
                files.drop(ids)

    def computed(self, project_id: int, featurizer_name: str) -> int:
        """How many items have stored rows for this featurizer."""
        return self.files(project_id, featurizer_name).count()

    def get(
        self,
        project_id: int,
        featurizer_name: str,
        rows: Sequence[Mapping[Any, Any]],
        *,
        budget_s: float | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Features | None:
        """Features of ``rows`` (dicts with ``id`` and ``payload``), in their order.

        Items are never edited, so their ids identify their rows. For a per-item featurizer the
        missing rows are computed in chunks of ``CHUNK`` and stored; with ``budget_s`` the work
        stops after that many seconds and ``None`` is returned while rows are still missing
        (``budget_s=0``: use only what is stored). ``progress(done, total)`` follows the chunks.
        """
        ids = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
        key = (featurizer_name, len(rows), int(ids.sum()) if len(ids) else 0)
        hit = self._memory.get((project_id, featurizer_name))
        if hit is not None and hit.key == key:
            return hit
        with self._lock((project_id, featurizer_name)):
            hit = self._memory.get((project_id, featurizer_name))
            if hit is not None and hit.key == key:
                return hit
            X = self._build(project_id, featurizer_name, rows, ids, budget_s, progress)
            if X is None:
                return None
            hit = Features(key=key, ids=ids, X=X)
            self._memory[(project_id, featurizer_name)] = hit
            return hit

    def stored(
        self, project_id: int, featurizer_name: str, rows: Sequence[Mapping[Any, Any]]
    ) -> Any | None:
        """Features of ``rows`` from rows already stored, or ``None`` while some are missing.

        Computes no per-item row and keeps nothing in memory, so an occasional reader (the
        label-error scan, over the labeled items) neither waits for embeddings nor evicts the
        pool matrix a round keeps.
        """
        ids = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
        return self._build(project_id, featurizer_name, rows, ids, 0, None)

    def stored_or_refitted(
        self, ctx: ProjectContext, featurizer_name: str, rows: Sequence[Mapping[Any, Any]]
    ) -> tuple[Any, str]:
        """Features of ``rows`` (``id`` and stored ``payload`` of the project's items; media
        read under the cache's roots as a round reads them) for an occasional reader (the
        label-error scan, a simulation), and the featurizer that made them: :meth:`stored`,
        or while per-item embeddings are still being computed the featurizer's refitted part,
        or TF-IDF, so it never waits."""
        from labelloop.learn import make_featurizer
        from labelloop.learn.featurize import caches_per_item, fit_rows, parts_of
        from labelloop.workflow.media import readable_payloads

        found = readable_payloads(ctx, {int(r["id"]): r["payload"] for r in rows}, self.media_roots)
        rows = [{"id": int(r["id"]), "payload": found[int(r["id"])]} for r in rows]
        X = self.stored(ctx.id, featurizer_name, rows)
        if X is not None:
            return X, featurizer_name
        name = next(
            (p for p in parts_of(featurizer_name) if not caches_per_item(p)), FALLBACK_FEATURIZER
        )
        return fit_rows(make_featurizer(name), [row["payload"] for row in rows]), name

    def _build(
        self,
        project_id: int,
        featurizer_name: str,
        rows: Sequence[Mapping[Any, Any]],
        ids: NDArray[np.int64],
        budget_s: float | None,
        progress: Callable[[int, int], None] | None,
    ) -> Any | None:
        """The matrix of ``rows``, part by part; ``None`` when a per-item part ran out of time."""
        from scipy.sparse import csr_matrix, issparse

        from labelloop.learn import FEATURIZERS, make_featurizer
        from labelloop.learn.featurize import caches_per_item, fit_rows, parts_of

        parts = parts_of(featurizer_name)
        blocks: dict[str, Any] = {}
        # Per-item parts first: a slice that runs out of time has then fitted nothing else.
        for part in sorted(parts, key=lambda p: not caches_per_item(p)):
            if caches_per_item(part):
                if not self._compute(
                    project_id, part, rows, ids, budget_s=budget_s, progress=progress
                ):
                    return None
                block = self._stored(project_id, part, ids)
            else:
                block = fit_rows(make_featurizer(part), [r["payload"] for r in rows])
            blocks[part] = block
        ordered = [blocks[p] for p in parts]
        combine = getattr(FEATURIZERS[featurizer_name], "combine", None)
        X = combine(ordered) if combine is not None else ordered[0]
        if issparse(X):
            # Canonical once, here: views of it (leading_rows) are then never tidied in place.
            X = csr_matrix(X)
            X.sum_duplicates()
        return X

    def prepare(
        self,
        project_id: int,
        featurizer_name: str,
        rows: Sequence[Mapping[Any, Any]],
        *,
        budget_s: float,
    ) -> bool:
        """Compute and store missing per-item rows for about ``budget_s`` seconds (one chunk at
        least), keeping nothing in memory; whether every row of ``rows`` is now stored.

        What the background learner does between rounds: the round that follows reads the rows
        through :meth:`get`, for whatever featurizer, stacked or not, the project uses.
        """
        from labelloop.learn.featurize import per_item_part

        part = per_item_part(featurizer_name)
        if part is None:
            return True
        ids = np.fromiter((r["id"] for r in rows), dtype=np.int64, count=len(rows))
        return self._compute(project_id, part, rows, ids, budget_s=max(budget_s, 1e-6))

    def _compute(
        self,
        project_id: int,
        name: str,
        rows: Sequence[Mapping[Any, Any]],
        ids: NDArray[np.int64],
        *,
        budget_s: float | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> bool:
        """Store the per-item rows of ``ids`` not stored yet; whether all of them are now.

        Locked per project and stored version, so two callers (a round and the background
        slice, or ``tfidf+minilm`` and ``minilm``) never compute or merge the same folder twice.
        """
        from labelloop.learn import make_featurizer

        files = self.files(project_id, name)
        # Looked at without the lock first: stored rows never go away (a merge writes its part
        # before it deletes the old ones), and a search that may not wait must not queue behind
        # a background slice of several seconds.
        missing = np.flatnonzero(~np.isin(ids, files.ids()))
        if not missing.size:
            return True
        if budget_s is not None and budget_s <= 0:
            return False
        with self._lock((project_id, f"files:{files.folder or name}")):
            missing = np.flatnonzero(~np.isin(ids, files.ids()))  # again: stored meanwhile?
            started = time.monotonic()
            featurizer = make_featurizer(name).fit([])
            done = len(ids) - missing.size
            for start in range(0, missing.size, CHUNK):
                chunk = missing[start : start + CHUNK]
                files.append(ids[chunk], featurizer.transform([rows[i]["payload"] for i in chunk]))
                done += chunk.size
                log.info(
                    "project %s: %s features for %d of %d items", project_id, name, done, len(ids)
                )
                if progress is not None:
                    progress(done, len(ids))
                more = start + CHUNK < missing.size
                if more and budget_s is not None and time.monotonic() - started >= budget_s:
                    return False
            return True

    def _stored(self, project_id: int, name: str, ids: NDArray[np.int64]) -> NDArray[Any]:
        """The stored per-item rows of ``ids``, in their order (all of them must be stored)."""
        files = self.files(project_id, name)
        with self._lock((project_id, f"merge:{files.folder or name}")):  # one merge at a time
            have, X = files.load()
        if X is None:
            return np.empty((0, 0), dtype=np.float32)
        return X[np.searchsorted(have, ids)]
