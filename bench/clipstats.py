"""What each audio file holds, measured once per dataset: length, rate, channels, level, a content hash.

``bench data verify`` and the dataset audit (:mod:`bench.audit`) both read these numbers:
verify to find empty, unreadable and non-finite files, the audit to find silent clips,
identical audio on both sides of a split, and how much the clip policy pads or crops. The
scan decodes every file once (in background threads) and is cached under the embedding
store's folder, one file per dataset folder; a clip's numbers are reused only while its file
(resolved path, size, modification time) is unchanged, so a file repaired in place, or another
copy with the same names and sizes, is measured anew. A second run or another encoder costs no
decoding.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.atomic import atomic_write_json
from bench.audio import AudioDecodeError, EmptyAudioError, NonFiniteAudioError, load_audio
from bench.prefetch import decode_ahead
from bench.progress import progress_bar
from bench.task import Clip, Dataset

SCAN_VERSION = 2


@dataclass(frozen=True)
class ClipStats:
    """One file's audio at its own rate, or why it could not be measured (``problem`` is set).

    ``problem`` is "unreadable", "empty" or "non-finite" (NaN/inf samples, or samples so large
    that the clip's energy overflows float32, so features would be inf or NaN). ``digest``
    hashes the decoded samples and the rate: two files with one digest hold identical audio.
    """

    frames: int = 0
    rate: int = 0
    channels: int = 0
    peak: float = 0.0
    rms: float = 0.0
    digest: str = ""
    problem: str | None = None
    reason: str = ""

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0


def measure(path: Path) -> ClipStats:
    """Decode ``path`` (native rate and channels) and measure it; decoding failures become a ``problem``."""
    try:
        data, rate = load_audio(path, sample_rate=None, mono=False)
    except EmptyAudioError as exc:
        return ClipStats(problem="empty", reason=exc.reason)
    except NonFiniteAudioError as exc:
        return ClipStats(problem="non-finite", reason=exc.reason)
    except AudioDecodeError as exc:
        return ClipStats(problem="unreadable", reason=exc.reason)
    data = data.reshape(len(data), -1)
    with np.errstate(over="ignore", invalid="ignore"):
        energy = np.sum(np.square(data, dtype=np.float32), dtype=np.float32)
    peak = float(np.max(np.abs(data)))
    stats = ClipStats(
        frames=int(data.shape[0]),
        rate=int(rate),
        channels=int(data.shape[1]),
        peak=peak,
        rms=float(np.sqrt(np.mean(np.square(data, dtype=np.float64)))),
        digest=hashlib.blake2b(data.tobytes() + str(rate).encode(), digest_size=16).hexdigest(),
    )
    if not np.isfinite(energy):
        reason = (
            f"samples up to {peak:.3g} (full scale is 1.0) make the clip's energy overflow float32, so features "
            "would be inf or NaN; the file's scale is wrong (re-export it normalised to [-1, 1])"
        )
        return ClipStats(**{**asdict(stats), "problem": "non-finite", "reason": reason})
    return stats


def _cache_path(cache_dir: Path, dataset: Dataset) -> Path:
    folder = hashlib.sha256(str(Path(dataset.root).resolve()).encode()).hexdigest()[:8]
    return cache_dir / "clipstats" / f"{dataset.task}-{dataset.checksum()}-{folder}.json"


def _stamp(path: Path) -> list[str | int]:
    """What must be unchanged for a cached measurement to stand (the file's identity, not its content)."""
    try:
        st = path.stat()
    except OSError:
        return [str(path), -1, -1]
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def scan(
    dataset: Dataset,
    *,
    cache_dir: Path | None = None,
    workers: int = 2,
    show_progress: bool = True,
) -> dict[str, ClipStats]:
    """Clip id → :class:`ClipStats` for every clip of ``dataset`` (read from the cache where possible)."""
    cache = _cache_path(cache_dir, dataset) if cache_dir is not None else None
    known: dict[str, ClipStats] = {}
    if cache is not None and cache.is_file():
        try:
            stored = json.loads(cache.read_text())
            if stored.get("version") == SCAN_VERSION:
                stamps = {c.id: _stamp(c.path) for c in dataset.clips}
                known = {
                    k: ClipStats(**v["stats"]) for k, v in stored["clips"].items() if v.get("stamp") == stamps.get(k)
                }
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError):
            known = {}  # a damaged cache is measured again
    todo: list[Clip] = [c for c in dataset.clips if c.id not in known]
    if todo:
        with progress_bar(f"scan {dataset.task}", total=len(todo), enabled=show_progress) as advance:
            for got in decode_ahead(todo, lambda c: measure(c.path), workers=workers, depth=64, catch=(Exception,)):
                failed = ClipStats(problem="unreadable", reason=got.error or "")
                known[got.item.id] = got.value if got.value is not None else failed
                advance(1)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            clips = {c.id: {"stamp": _stamp(c.path), "stats": asdict(known[c.id])} for c in dataset.clips}
            atomic_write_json(cache, {"version": SCAN_VERSION, "clips": clips})
    return {c.id: known[c.id] for c in dataset.clips}
