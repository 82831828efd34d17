"""Embedding store: embed once, probe many.

Layout of one entry (``<store>/<encoder name>/<task>/<key>/``)::

    manifest.json          what the key is made of, the encoder description, completion
    part-<writer>-<n>.npy  rows written during extraction (atomic: temp file + rename)
    part-<writer>-<n>.json ids, row counts, window starts and failures of that part
    data.npy               final rows [sum T_i, D] after consolidation (memory-mapped on read)
    index.json             ids in dataset order, row offsets, failures
    starts.npy             window start times (frame level only)

The key hashes the encoder fingerprint, the dataset file-list checksum, the clip policy
and the level (clip or frames + window), never a class name alone. A killed run leaves its
finished parts behind; the next run reads them and embeds only what is missing.
Several writers (torchrun ranks) may add parts to one entry; one of them consolidates.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_save_npy, atomic_write_json
from bench.hashing import sha256_json

STORE_FORMAT = 1


@dataclass(frozen=True)
class StoreKey:
    encoder_name: str
    encoder_fingerprint: str
    task: str
    dataset_checksum: str
    policy: str
    level: str  # "clip" or "frames:<window_s>"

    def digest(self) -> str:
        return sha256_json(
            [STORE_FORMAT, self.encoder_fingerprint, self.task, self.dataset_checksum, self.policy, self.level], 24
        )


@dataclass
class EmbeddingView:
    """Read-only access to a finished entry: rows are memory-mapped."""

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


class StoreEntry:
    """One key's directory: parts while extraction runs, consolidated arrays when done."""

    def __init__(self, root: Path, key: StoreKey, extra_manifest: dict[str, Any] | None = None) -> None:
        self.key = key
        self.dir = root / _safe(key.encoder_name) / _safe(key.task) / key.digest()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._writer = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        mpath = self.dir / "manifest.json"
        if not mpath.exists():
            manifest = {
                "format": STORE_FORMAT,
                "key": key.__dict__,
                "digest": key.digest(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "complete": False,
                **(extra_manifest or {}),
            }
            atomic_write_json(mpath, manifest)

    @property
    def manifest(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.dir / "manifest.json").read_text())
        return result

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete")) and (self.dir / "index.json").exists()

    def _parts(self) -> list[tuple[Path, dict[str, Any]]]:
        parts = []
        for meta_path in sorted(self.dir.glob("part-*.json")):
            npy = meta_path.with_suffix(".npy")
            if not npy.exists():
                continue  # a part is valid only once its index is written, after its data
            parts.append((npy, json.loads(meta_path.read_text())))
        return parts

    def done_ids(self) -> tuple[set[str], dict[str, str]]:
        """Ids already embedded, and ids that failed (with reasons), across all parts."""
        done: set[str] = set()
        failed: dict[str, str] = {}
        if self.complete:
            index = json.loads((self.dir / "index.json").read_text())
            return set(index["ids"]), dict(index.get("failed", {}))
        for _npy, meta in self._parts():
            done.update(meta["ids"])
            failed.update(meta.get("failed", {}))
        for cid in done:
            failed.pop(cid, None)
        return done, failed

    def write_part(
        self,
        ids: Sequence[str],
        rows: Sequence[np.ndarray],
        starts: Sequence[np.ndarray] | None,
        failed: dict[str, str],
        dtype: str = "float32",
    ) -> None:
        """Persist one batch of results. Data first, then the small index that validates it."""
        if not ids and not failed:
            return
        name = f"part-{self._writer}-{self._seq:06d}"
        self._seq += 1
        data = (
            np.concatenate([np.asarray(r, dtype=dtype).reshape(len(r), -1) for r in rows], axis=0)
            if rows
            else np.zeros((0, 0), dtype=dtype)
        )
        atomic_save_npy(self.dir / f"{name}.npy", data)
        meta: dict[str, Any] = {"ids": list(ids), "counts": [len(r) for r in rows], "failed": failed}
        if starts is not None:
            meta["starts"] = [np.asarray(s, dtype=np.float64).tolist() for s in starts]
        atomic_write_json(self.dir / f"{name}.json", meta)

    def consolidate(self, order: Sequence[str], dtype: str = "float32") -> EmbeddingView:
        """Merge parts into ``data.npy`` in dataset order; drop the parts afterwards."""
        if self.complete:
            return self.view()
        parts = self._parts()
        chunks: dict[str, tuple[np.ndarray, list[float] | None]] = {}
        failed: dict[str, str] = {}
        dim = 0
        for npy, meta in parts:
            arr = np.load(npy)
            if arr.size:
                dim = arr.shape[1]
            pos = 0
            for k, cid in enumerate(meta["ids"]):
                n = meta["counts"][k]
                st = meta["starts"][k] if "starts" in meta else None
                chunks[cid] = (arr[pos : pos + n], st)
                pos += n
            failed.update(meta.get("failed", {}))
        ids = [cid for cid in order if cid in chunks]
        failed = {cid: why for cid, why in failed.items() if cid not in chunks}
        counts = np.array([len(chunks[c][0]) for c in ids], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        data = (
            np.concatenate([chunks[c][0] for c in ids], axis=0).astype(dtype)
            if ids
            else np.zeros((0, dim), dtype=dtype)
        )
        has_starts = bool(ids) and chunks[ids[0]][1] is not None
        atomic_save_npy(self.dir / "data.npy", data)
        if has_starts:
            starts = np.concatenate([np.asarray(chunks[c][1], dtype=np.float64) for c in ids])
            atomic_save_npy(self.dir / "starts.npy", starts)
        atomic_write_json(self.dir / "index.json", {"ids": ids, "offsets": offsets.tolist(), "failed": failed})
        manifest = self.manifest
        writers = {npy.name.split("-")[1] + "-" + npy.name.split("-")[2] for npy, _ in parts}
        manifest.update(
            writers=len(writers),
            complete=True,
            completed=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            n_clips=len(ids),
            n_rows=int(offsets[-1]),
            dim=int(data.shape[1]) if data.ndim == 2 else 0,
            dtype=dtype,
            n_failed=len(failed),
        )
        atomic_write_json(self.dir / "manifest.json", manifest)
        for npy, _meta in parts:
            npy.unlink(missing_ok=True)
            npy.with_suffix(".json").unlink(missing_ok=True)
        return self.view()

    def view(self) -> EmbeddingView:
        index = json.loads((self.dir / "index.json").read_text())
        data = np.load(self.dir / "data.npy", mmap_mode="r")
        starts_path = self.dir / "starts.npy"
        starts = np.load(starts_path, mmap_mode="r") if starts_path.exists() else None
        return EmbeddingView(
            ids=list(index["ids"]),
            offsets=np.asarray(index["offsets"], dtype=np.int64),
            data=data,
            starts=starts,
            failed=dict(index.get("failed", {})),
            manifest=self.manifest,
        )


class EmbeddingStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def entry(self, key: StoreKey, extra_manifest: dict[str, Any] | None = None) -> StoreEntry:
        return StoreEntry(self.root, key, extra_manifest)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in name)
