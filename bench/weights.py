"""Published weights that bench can download on request: ``bench weights fetch NAME``.

Nothing is ever downloaded at import, run or test time; fetching is an explicit command for
users with internet. Files land in ``$BENCH_HOME/weights/<name>/`` with a ``source.json``
recording the URL, size and sha256 (the hash then enters the encoder fingerprint). Adapters
find a fetched file with :func:`fetched_path`. Offline, fetching fails with a message that
says how to place the file by hand.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import atomic_path, atomic_write_json
from bench.hashing import sha256_file
from bench.paths import bench_home
from bench.progress import progress_bar
from bench.registry import Registry


@dataclass(frozen=True)
class WeightsSpec:
    name: str
    url: str
    filename: str
    description: str
    sha256: str | None = None  # pinned when known; otherwise recorded at fetch time


class WeightsFetchError(RuntimeError):
    pass


WEIGHTS: Registry[WeightsSpec] = Registry("weights", entry_point_group="bench.weights")  # declared by encoder packages


def weights_dir(name: str) -> Path:
    return bench_home() / "weights" / name


def fetched_path(name: str) -> Path | None:
    """The fetched file of ``name``, or None when it has not been fetched."""
    spec = WEIGHTS.get(name)
    path = weights_dir(name) / spec.filename
    return path if path.is_file() and (path.parent / "source.json").is_file() else None


def source_info(name: str) -> dict[str, Any]:
    path = weights_dir(name) / "source.json"
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def fetch(
    name: str, url: str | None = None, force: bool = False, timeout_s: float = 60.0, show_progress: bool = True
) -> Path:
    """Download ``name`` (or ``url`` instead of its registered URL) into the weights cache."""
    spec = WEIGHTS.get(name)
    target = weights_dir(name) / spec.filename
    if not force and fetched_path(name) is not None:
        return target
    src = url or spec.url
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, ".part") as tmp:  # kept only when complete and matching its pinned hash
        try:
            with urllib.request.urlopen(src, timeout=timeout_s) as resp, tmp.open("wb") as fh:
                total = resp.headers.get("Content-Length")
                with progress_bar(f"fetch {name}", int(total) if total else None, show_progress) as advance:
                    while block := resp.read(1 << 20):
                        fh.write(block)
                        advance(len(block))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WeightsFetchError(
                f"could not download {name} from {src} ({reason}). If this machine is offline, download "
                f"{spec.filename} elsewhere, then pass it with --weights PATH, or cache it here with "
                f"`bench weights fetch {name} --url file:///path/to/{spec.filename}`."
            ) from exc
        digest = sha256_file(tmp)
        if spec.sha256 and digest != spec.sha256:
            raise WeightsFetchError(f"{name}: downloaded file has sha256 {digest}, expected {spec.sha256}; not kept")
    atomic_write_json(
        target.parent / "source.json",
        {
            "name": name,
            "url": src,
            "filename": spec.filename,
            "sha256": digest,
            "bytes": target.stat().st_size,
            "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    return target
