"""``bench data verify``: compare a dataset folder with its metadata, file by file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench.audio import AudioDecodeError, load_audio
from bench.progress import progress_bar
from bench.task import Clip, TaskSpec


@dataclass
class VerifyReport:
    task: str
    root: Path
    listed: int
    missing: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    expected: int | None = None

    def text(self) -> str:
        lines = [f"{self.task}: {self.root}", f"  listed in metadata: {self.listed}"]
        if self.expected is not None and self.listed != self.expected:
            lines.append(f"  note: the full official dataset lists {self.expected} clips (a subset or the demo suite?)")
        lines.append(f"  missing files: {len(self.missing)}")
        lines += [f"    {cid}: {why}" for cid, why in self.missing[:50]]
        if len(self.missing) > 50:
            lines.append(f"    ... and {len(self.missing) - 50} more")
        lines.append(f"  unreadable files: {len(self.unreadable)}")
        lines += [f"    {cid}: {why}" for cid, why in self.unreadable[:50]]
        if len(self.unreadable) > 50:
            lines.append(f"    ... and {len(self.unreadable) - 50} more")
        lines.append("  OK" if not self.missing and not self.unreadable else "  PROBLEMS FOUND")
        return "\n".join(lines)


def _check(clip: Clip) -> str | None:
    try:
        load_audio(clip.path, sample_rate=None)
    except AudioDecodeError as exc:
        return exc.reason
    return None


def verify(task: TaskSpec, root: Path, decode: bool = True, workers: int = 2) -> VerifyReport:
    dataset = task.loader(root)
    report = VerifyReport(
        task=task.name,
        root=root,
        listed=len(dataset.clips) + len(dataset.missing),
        missing=[(m.id, m.reason) for m in dataset.missing],
        expected=task.expected_clips,
    )
    if decode:
        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            progress_bar(f"verify {task.name}", len(dataset.clips)) as advance,
        ):
            for clip, error in zip(dataset.clips, pool.map(_check, dataset.clips), strict=True):
                if error:
                    report.unreadable.append((clip.id, error))
                advance(1)
    return report
