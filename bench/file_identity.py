"""What a dataset's files are on disk: the identity that says "this clip did not change".

By default a file is known by its size and modification time in nanoseconds: one ``stat``
per file (a 50,000-file dataset is checked in about a second), and any write through the file
system changes it, an in-place overwrite with same-size audio included. Where modification
times cannot be trusted (a copy that kept them over different bytes, a file system with coarse
times), ``content=True`` adds the sha256 of every file's bytes: a full read of the dataset on
each run, and a changed modification time over identical bytes is then no change at all.

The embedding store keeps one :class:`ClipSource` per clip and re-embeds exactly the clips
whose source changed (:mod:`bench.store`); :func:`files_digest` is the same identity as one
digest for a whole dataset, for keys that must notice any change (result records).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.hashing import sha256_file, sha256_json
from bench.task import Clip


@dataclass(frozen=True)
class ClipSource:
    """Where a clip's audio comes from (file relative to the dataset root, segment) and that file's state.

    ``size`` is -1 for a file that cannot be read (``stat`` failed); ``sha256`` is None unless
    the content was hashed.
    """

    file: str
    size: int
    mtime_ns: int
    sha256: str | None = None

    def to_json(self) -> list[Any]:
        return [self.file, self.size, self.mtime_ns, self.sha256]

    @classmethod
    def from_json(cls, value: Sequence[Any]) -> ClipSource:
        return cls(str(value[0]), int(value[1]), int(value[2]), value[3])

    def same_as(self, stored: ClipSource) -> bool:
        """Whether rows computed from ``stored`` are still valid for this (current) state.

        With a content hash the bytes decide (a stored state without a hash cannot be vouched
        for); without one, size and modification time do. A missing file is never the same.
        """
        if self.file != stored.file or self.size != stored.size or self.size < 0:
            return False
        if self.sha256 is not None:
            return stored.sha256 == self.sha256
        return self.mtime_ns == stored.mtime_ns


def clip_source(clip: Clip, root: Path, content: bool = False) -> ClipSource:
    """The current :class:`ClipSource` of ``clip`` (a segment of a longer file names its time range)."""
    try:
        rel = str(clip.path.relative_to(root))
    except ValueError:
        rel = str(clip.path)
    if "segment" in clip.extra:
        start, end = clip.extra["segment"]
        rel = f"{rel}#{start}-{end}"
    try:
        st = os.stat(clip.path)
    except OSError:
        return ClipSource(rel, -1, 0)
    digest = None
    if content:
        try:
            digest = sha256_file(clip.path)
        except OSError:
            return ClipSource(rel, -1, 0)
    return ClipSource(rel, st.st_size, st.st_mtime_ns, digest)


def clip_sources(clips: Sequence[Clip], root: Path, content: bool = False, workers: int = 4) -> dict[str, ClipSource]:
    """Clip id → :class:`ClipSource` for every clip (hashing, when asked, runs in threads: it is I/O)."""
    if not content:
        return {c.id: clip_source(c, root) for c in clips}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = pool.map(lambda c: clip_source(c, root, content=True), clips)
        return {c.id: src for c, src in zip(clips, found, strict=True)}


def files_digest(clips: Sequence[Clip], root: Path, content: bool = False) -> str:
    """One digest of every clip's source and the dataset's absolute root: changes when any file does."""
    sources = clip_sources(clips, root, content)
    return sha256_json([str(Path(root).resolve()), sorted((cid, s.to_json()) for cid, s in sources.items())], 20)
