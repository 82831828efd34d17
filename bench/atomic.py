"""Atomic file writes: a temporary file beside the target, renamed over it when complete.

Readers (a resumed run, another torchrun rank, ``bench leaderboard``) never see a half-written
file: a write killed midway leaves the previous version, or nothing, plus a dot-file that no
reader looks at. Every writer of a file another process may read goes through here.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds (removed otherwise).

    ``suffix`` ends the temporary name, for writers that add an extension of their own
    (``np.save`` appends ``.npy`` unless the name already ends with it).
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, flushed to disk before the rename."""
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    """JSON with sorted keys and one-space indent (the format of every bench record and manifest)."""
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, ".tmp.npy") as tmp:
        np.save(tmp, array)


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Compressed ``.npz`` of named arrays."""
    with atomic_path(path, ".tmp.npz") as tmp:
        np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` atomically (torch is imported only here, when a checkpoint is written)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())
