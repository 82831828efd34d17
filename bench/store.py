"""Embedding store: embed once, probe many; never serve rows of audio that changed.

Layout of one entry (``<store>/<encoder name>/<task>/<key>/``)::

    manifest.json          what the key is made of, the encoder description, the last consolidation
    lock                   held (flock) by every process reading or writing the entry
    part-<writer>-<n>.npy  rows written during extraction (atomic: temp file + rename)
    part-<writer>-<n>.json ids, row counts, window starts, failures and clip sources of that part
    data-<id>.npy          consolidated rows [sum T_i, D] (memory-mapped on read)
    starts-<id>.npy        window start times (frame level only)
    index.json             ids, row offsets, failures, each clip's source, the data file's name

The key hashes the encoder fingerprint, the task, the dataset's absolute root, the clip policy
and the level (clip or frames + window), never a class name alone. Inside an entry every clip
carries the :class:`~bench.file_identity.ClipSource` its rows were computed from (file, size,
modification time, optionally a content hash): a clip whose file changed since, or that failed
before and whose file changed since, is embedded again; nothing else is.

Crash safety: rows reach disk in parts (data first, then the small JSON that validates it); a
consolidation writes a new data file under a fresh name and commits by replacing
``index.json``; files the commit made obsolete (merged parts, the old data file) and
temporary files of killed writes are removed then, or by the next process that opens the entry.

Concurrency: a process that embeds holds the entry's lock exclusively, so a second process on
the same entry waits and then reuses what the first computed (it says so once). torchrun ranks
embedding their shards share the lock; rank 0 consolidates afterwards, exclusively.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_save_npy, atomic_write_json
from bench.file_identity import ClipSource
from bench.hashing import sha256_json

STORE_FORMAT = 2


class StoreDamaged(RuntimeError):
    """A store file that cannot be read (truncated, overwritten); the message names it and the fix."""

    def __init__(self, path: Path, entry: Path, why: str) -> None:
        super().__init__(
            f"{path}: this embedding-store file is damaged ({why}). Run again with --reembed to embed "
            f"this encoder and task again, or delete {entry}."
        )


@dataclass(frozen=True)
class StoreKey:
    encoder_name: str
    encoder_fingerprint: str
    task: str
    dataset_root: str  # absolute: two folders with the same file names never share an entry
    policy: str
    level: str  # "clip", "frames:<window_s>" or an image-side level

    def digest(self) -> str:
        return sha256_json(
            [STORE_FORMAT, self.encoder_fingerprint, self.task, self.dataset_root, self.policy, self.level], 24
        )


@dataclass
class EmbeddingView:
    """Read-only access to a consolidated entry: rows are memory-mapped."""

    ids: list[str]
    offsets: np.ndarray
    data: np.ndarray
    starts: np.ndarray | None
    failed: dict[str, str]
    manifest: dict[str, Any]
    _pos: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._pos = {cid: i for i, cid in enumerate(self.ids)}

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._pos

    def rows(self, clip_id: str) -> np.ndarray:
        i = self._pos[clip_id]
        return np.asarray(self.data[self.offsets[i] : self.offsets[i + 1]], dtype=np.float32)

    def starts_of(self, clip_id: str) -> np.ndarray:
        if self.starts is None:
            raise ValueError("this entry holds clip-level embeddings; it has no frame starts")
        i = self._pos[clip_id]
        return np.asarray(self.starts[self.offsets[i] : self.offsets[i + 1]])

    def matrix(self, clip_ids: Sequence[str]) -> np.ndarray:
        """Clip-level embeddings ``[N, D]`` (frame-level entries are mean-pooled)."""
        out = np.empty((len(clip_ids), self.data.shape[1]), dtype=np.float32)
        for k, cid in enumerate(clip_ids):
            rows = self.rows(cid)
            out[k] = rows[0] if len(rows) == 1 else rows.mean(axis=0)
        return out


@dataclass
class _Chunk:
    rows: np.ndarray
    starts: list[float] | None
    source: ClipSource


class StoreEntry:
    """One key's directory: parts while extraction runs, consolidated arrays in between."""

    def __init__(self, root: Path, key: StoreKey, extra_manifest: dict[str, Any] | None = None) -> None:
        self.key = key
        self.dir = root / _safe(key.encoder_name) / _safe(key.task) / key.digest()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._extra_manifest = dict(extra_manifest or {})
        self._writer = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._mode: str | None = None  # "shared" or "exclusive" while this process holds the lock

    # -- locking and tidying ---------------------------------------------------------------

    @contextmanager
    def session(
        self, sources: Mapping[str, ClipSource], *, shared: bool = False, say: Callable[[str], None] | None = None
    ) -> Iterator[set[str]]:
        """Hold the entry's lock (waiting for another process if one holds it) and yield the done ids.

        Done: clips whose rows or failure were recorded from their current source. An exclusive
        session first removes what killed processes left behind (:meth:`tidy`).
        """
        with self.lock(shared=shared, say=say):
            if not shared:
                self.tidy()
            self._ensure_manifest()
            yield self.done(sources)

    @contextmanager
    def lock(self, *, shared: bool = False, say: Callable[[str], None] | None = None) -> Iterator[None]:
        path = self.dir / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = path.read_text().strip()
                (say or _stderr)(
                    f"waiting for another bench process{f' (pid {holder})' if holder else ''} that is embedding "
                    f"{self.key.task} with {self.key.encoder_name}; what it embeds is reused here"
                )
                fcntl.flock(fd, mode)
            if not shared:
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
            self._mode = "shared" if shared else "exclusive"
            yield
        finally:
            self._mode = None
            os.close(fd)  # releases the lock; the kernel does the same for a killed process

    def _require_lock(self, exclusive: bool = False) -> None:
        if self._mode is None or (exclusive and self._mode != "exclusive"):
            raise RuntimeError(f"{self.dir}: store entry used without holding its lock (a bug in the caller)")

    def tidy(self) -> None:
        """Remove what killed processes left: temporary files, merged parts, unreferenced data files.

        Only under the exclusive lock: then no other process is writing into the entry.
        """
        self._require_lock(exclusive=True)
        index = self._index()
        merged = set(index.get("merged", [])) if index else set()
        keep = {index["data"], index.get("starts")} if index else set()
        for path in self.dir.iterdir():
            if _left_behind(path, merged, keep):
                path.unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget every row and failure of this entry (``--reembed``)."""
        self._require_lock(exclusive=True)
        (self.dir / "index.json").unlink(missing_ok=True)
        for path in self.dir.iterdir():
            if path.name.startswith(("part-", "data-", "starts-", ".")):
                path.unlink(missing_ok=True)
        manifest = self.manifest
        manifest.update(complete=False, cleared=_now())
        atomic_write_json(self.dir / "manifest.json", manifest)

    # -- reading ---------------------------------------------------------------------------

    @property
    def manifest(self) -> dict[str, Any]:
        result: dict[str, Any] = self._read_json(self.dir / "manifest.json")
        return result

    def _ensure_manifest(self) -> None:
        if not (self.dir / "manifest.json").exists():
            manifest = {
                "format": STORE_FORMAT,
                "key": self.key.__dict__,
                "digest": self.key.digest(),
                "created": _now(),
                "complete": False,
                **self._extra_manifest,
            }
            atomic_write_json(self.dir / "manifest.json", manifest)

    def _read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreDamaged(path, self.dir, str(exc)) from exc

    def _index(self) -> dict[str, Any] | None:
        path = self.dir / "index.json"
        return self._read_json(path) if path.exists() else None

    def _parts(self) -> list[tuple[str, Path, dict[str, Any]]]:
        """(name, rows file, metadata) of every complete part, in name order."""
        parts = []
        for meta_path in sorted(self.dir.glob("part-*.json")):
            npy = meta_path.with_suffix(".npy")
            if npy.exists():  # a part is valid only once its metadata is written, after its rows
                parts.append((meta_path.stem, npy, self._read_json(meta_path)))
        return parts

    def _recorded(self) -> Iterator[tuple[str, ClipSource, str | None]]:
        """(id, source, failure reason or None) for everything the base and the parts record."""
        index = self._index()
        if index is not None:
            sources = index.get("sources", {})
            for cid in index["ids"]:
                yield cid, ClipSource.from_json(sources[cid]), None
            for cid, why in index.get("failed", {}).items():
                yield cid, ClipSource.from_json(sources[cid]), why
        for _name, _npy, meta in self._parts():
            sources = meta["sources"]
            for cid in meta["ids"]:
                yield cid, ClipSource.from_json(sources[cid]), None
            for cid, why in meta.get("failed", {}).items():
                yield cid, ClipSource.from_json(sources[cid]), why

    def done(self, sources: Mapping[str, ClipSource]) -> set[str]:
        """Ids (of ``sources``) embedded or recorded as failed from their current source."""
        self._require_lock()
        return {cid for cid, stored, _why in self._recorded() if cid in sources and sources[cid].same_as(stored)}

    def changed(self, sources: Mapping[str, ClipSource]) -> set[str]:
        """Ids (of ``sources``) the entry holds rows or a failure for, none of them from the current source."""
        self._require_lock()
        recorded = {cid for cid, _stored, _why in self._recorded() if cid in sources}
        return recorded - self.done(sources)

    def view(self) -> EmbeddingView:
        self._require_lock()
        index = self._index()
        if index is None:
            raise RuntimeError(f"{self.dir}: the entry has not been consolidated yet")
        offsets = np.asarray(index["offsets"], dtype=np.int64)
        data = self._load_rows(self.dir / index["data"])
        if data.ndim != 2 or data.shape[0] != offsets[-1]:
            raise StoreDamaged(
                self.dir / index["data"], self.dir, f"{data.shape[0]} rows, the index lists {offsets[-1]}"
            )
        starts = self._load_rows(self.dir / index["starts"]) if index.get("starts") else None
        return EmbeddingView(
            ids=list(index["ids"]),
            offsets=offsets,
            data=data,
            starts=starts,
            failed=dict(index.get("failed", {})),
            manifest=self.manifest,
        )

    def _load_rows(self, path: Path, mmap: bool = True) -> np.ndarray:
        try:
            return np.load(path, mmap_mode="r" if mmap else None)
        except (OSError, ValueError, EOFError) as exc:
            raise StoreDamaged(path, self.dir, str(exc)) from exc

    # -- writing ---------------------------------------------------------------------------

    def write_part(
        self,
        ids: Sequence[str],
        rows: Sequence[np.ndarray],
        starts: Sequence[np.ndarray] | None,
        failed: Mapping[str, str],
        sources: Mapping[str, ClipSource],
        dtype: str = "float32",
    ) -> None:
        """Persist one batch of results. Rows first, then the small metadata file that validates them."""
        self._require_lock()
        if not ids and not failed:
            return
        data = (
            np.concatenate([np.asarray(r, dtype=dtype).reshape(len(r), -1) for r in rows], axis=0)
            if rows
            else np.zeros((0, 0), dtype=dtype)
        )
        if not np.isfinite(data).all():  # extraction reports such clips as failed; this is the last guard
            raise ValueError(f"{self.dir}: refusing to store non-finite rows")
        name = f"part-{self._writer}-{self._seq:06d}"
        self._seq += 1
        atomic_save_npy(self.dir / f"{name}.npy", data)
        meta: dict[str, Any] = {
            "ids": list(ids),
            "counts": [len(r) for r in rows],
            "failed": dict(failed),
            "sources": {cid: sources[cid].to_json() for cid in [*ids, *failed]},
        }
        if starts is not None:
            meta["starts"] = [np.asarray(s, dtype=np.float64).tolist() for s in starts]
        atomic_write_json(self.dir / f"{name}.json", meta)

    def consolidate(
        self, order: Sequence[str], sources: Mapping[str, ClipSource], dtype: str = "float32"
    ) -> EmbeddingView:
        """Merge the base and the parts into a new data file in ``order``; drop what it replaces.

        Rows of a clip in ``order`` are kept only if they come from its current source; rows
        of other clips (a dataset read through a subset) are kept as they are.
        """
        self._require_lock(exclusive=True)
        parts = self._parts()
        index = self._index()
        if not parts and index is not None:
            return self.view()
        chunks: dict[str, list[_Chunk]] = {}
        failures: dict[str, list[tuple[str, ClipSource]]] = {}
        dim = 0
        if index is not None:
            base = self.view()
            dim = base.data.shape[1]
            base_sources = index.get("sources", {})
            for cid in base.ids:
                starts = base.starts_of(cid).tolist() if base.starts is not None else None
                chunks.setdefault(cid, []).append(
                    _Chunk(base.rows(cid), starts, ClipSource.from_json(base_sources[cid]))
                )
            for cid, why in base.failed.items():
                failures.setdefault(cid, []).append((why, ClipSource.from_json(base_sources[cid])))
        for _name, npy, meta in parts:
            arr = self._load_rows(npy, mmap=False)
            if arr.size:
                dim = arr.shape[1]
            pos = 0
            for k, cid in enumerate(meta["ids"]):
                n = meta["counts"][k]
                st = meta["starts"][k] if "starts" in meta else None
                chunks.setdefault(cid, []).insert(
                    0, _Chunk(arr[pos : pos + n], st, ClipSource.from_json(meta["sources"][cid]))
                )
                pos += n
            for cid, why in meta.get("failed", {}).items():
                failures.setdefault(cid, []).insert(0, (why, ClipSource.from_json(meta["sources"][cid])))

        def fresh(cid: str, source: ClipSource) -> bool:
            return cid not in sources or sources[cid].same_as(source)

        kept: dict[str, _Chunk] = {}
        failed: dict[str, tuple[str, ClipSource]] = {}
        in_order = set(order)
        for cid in [*order, *(c for c in chunks if c not in in_order)]:
            chunk = next((c for c in chunks.get(cid, []) if fresh(cid, c.source)), None)
            if chunk is not None:
                kept[cid] = chunk
        for cid, tries in failures.items():
            latest = next(((w, s) for w, s in tries if fresh(cid, s)), None)
            if latest is not None and cid not in kept:
                failed[cid] = latest
        ids = list(kept)
        counts = np.array([len(kept[c].rows) for c in ids], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        data = np.concatenate([kept[c].rows for c in ids], axis=0).astype(dtype) if ids else np.zeros((0, dim), dtype)
        tag = uuid.uuid4().hex[:12]
        new_index: dict[str, Any] = {
            "format": STORE_FORMAT,
            "data": f"data-{tag}.npy",
            "starts": None,
            "ids": ids,
            "offsets": offsets.tolist(),
            "failed": {cid: why for cid, (why, _s) in failed.items()},
            "sources": {cid: c.source.to_json() for cid, c in kept.items()}
            | {cid: s.to_json() for cid, (_w, s) in failed.items()},
            "merged": [name for name, _npy, _meta in parts],
        }
        atomic_save_npy(self.dir / new_index["data"], data)
        if ids and kept[ids[0]].starts is not None:
            new_index["starts"] = f"starts-{tag}.npy"
            starts = np.concatenate([np.asarray(kept[c].starts, dtype=np.float64) for c in ids])
            atomic_save_npy(self.dir / new_index["starts"], starts)
        atomic_write_json(self.dir / "index.json", new_index)  # the commit point
        manifest = self.manifest
        manifest.update(
            writers=len({name.split("-")[1] + "-" + name.split("-")[2] for name, _n, _m in parts}),
            complete=all(c in kept or c in failed for c in order),
            completed=_now(),
            n_clips=len(ids),
            n_rows=int(offsets[-1]),
            dim=int(data.shape[1]) if data.ndim == 2 else 0,
            dtype=dtype,
            n_failed=len(failed),
        )
        atomic_write_json(self.dir / "manifest.json", manifest)
        self.tidy()
        return self.view()


class EmbeddingStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def entry(self, key: StoreKey, extra_manifest: dict[str, Any] | None = None) -> StoreEntry:
        return StoreEntry(self.root, key, extra_manifest)

    def existing(self, key: StoreKey) -> StoreEntry | None:
        """The entry of ``key`` if some run created it (nothing is created here)."""
        entry_dir = self.root / _safe(key.encoder_name) / _safe(key.task) / key.digest()
        return StoreEntry(self.root, key) if (entry_dir / "manifest.json").exists() else None

    def discard(self, encoder_name: str, encoder_fingerprint: str, task: str, dataset_root: str) -> int:
        """Forget the rows of every entry of this encoder, task and dataset (all levels); the count."""
        folder = self.root / _safe(encoder_name) / _safe(task)
        n = 0
        for manifest_path in sorted(folder.glob("*/manifest.json")) if folder.is_dir() else []:
            key = json.loads(manifest_path.read_text()).get("key", {})
            if key.get("encoder_fingerprint") == encoder_fingerprint and key.get("dataset_root") == dataset_root:
                entry = StoreEntry(self.root, StoreKey(**key))
                with entry.lock():
                    entry.clear()
                n += 1
        return n


def _left_behind(path: Path, merged: set[str], keep: set[str | None]) -> bool:
    """A temporary file of a killed write, a merged part, a half-written part, an old data file."""
    name = path.name
    if name.startswith("."):
        return True
    if name.startswith(("data-", "starts-")):
        return name not in keep
    if name.startswith("part-"):
        other = path.with_suffix(".json" if name.endswith(".npy") else ".npy")
        return path.stem in merged or not other.exists()
    return False


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in name)
