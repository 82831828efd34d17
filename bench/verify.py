"""``bench data verify``: every problem of a dataset folder in one pass, per kind, with counts.

Metadata problems (malformed rows, folds out of range, unknown labels, duplicate rows, a
file in several folds or with several labels, an undecodable file) come from the loader,
which collects them all instead of stopping at the first; the audio of every row the loader
could read is then decoded (missing, unreadable, empty, non-finite). The dataset audit
(:mod:`bench.audit`) is shown too: its warnings do not make verify fail, they are not
defects of the copy but properties of the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.audit import Audit, run_audit
from bench.clipstats import scan
from bench.metadata import KINDS, MetadataError, metadata_encoding
from bench.task import Dataset, TaskSpec

AUDIO_KINDS = {
    "missing": "listed in the metadata but absent",
    "unreadable": "cannot be decoded",
    "empty": "0 bytes or no audio frames",
    "non-finite": "NaN/inf samples, or samples so large that features overflow",
}
EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    kind: str
    where: str  # file (and line) or clip id
    detail: str


@dataclass
class VerifyReport:
    task: str
    root: Path
    listed: int
    findings: list[Finding] = field(default_factory=list)
    expected: int | None = None
    audit: Audit | None = None
    decoded: bool = True

    @property
    def ok(self) -> bool:
        return not self.findings

    def by_kind(self) -> dict[str, list[Finding]]:
        order = [*KINDS, *AUDIO_KINDS]
        out: dict[str, list[Finding]] = {}
        for f in sorted(self.findings, key=lambda f: order.index(f.kind) if f.kind in order else len(order)):
            out.setdefault(f.kind, []).append(f)
        return out

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def text(self) -> str:
        lines = [f"{self.task}: {self.root}", f"  rows read from the metadata: {self.listed}"]
        if self.expected is not None and self.listed != self.expected:
            lines.append(f"  note: the full official dataset lists {self.expected} clips (a subset or the demo suite?)")
        if not self.decoded:
            lines.append("  audio not decoded (--no-decode): unreadable, empty and non-finite files are not checked")
        for kind, found in self.by_kind().items():
            what = KINDS.get(kind) or AUDIO_KINDS.get(kind, "")
            lines.append(f"  {kind}: {len(found)}" + (f"  ({what})" if what else ""))
            lines += [f"    {f.where}: {f.detail}" for f in found[:EXAMPLES]]
            if len(found) > EXAMPLES:
                lines.append(f"    ... and {len(found) - EXAMPLES} more (--json lists all)")
        if self.audit is not None:
            lines += ["  " + line for line in self.audit.summary()]
        lines.append("  OK" if self.ok else f"  PROBLEMS FOUND: {len(self.findings)} in {len(self.by_kind())} kind(s)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "root": str(self.root),
            "ok": self.ok,
            "listed": self.listed,
            "expected": self.expected,
            "decoded": self.decoded,
            "problems": {
                kind: {
                    "count": len(found),
                    "description": KINDS.get(kind) or AUDIO_KINDS.get(kind, ""),
                    "items": [{"where": f.where, "detail": f.detail} for f in found],
                }
                for kind, found in self.by_kind().items()
            },
            "audit": self.audit.to_json() if self.audit is not None else None,
        }


def _load(task: TaskSpec, root: Path, encoding: str | None) -> tuple[Dataset | None, list[Finding]]:
    """The dataset the loader could read, and every metadata problem it found."""
    try:
        with metadata_encoding(encoding):
            return task.loader(root), []
    except MetadataError as exc:
        findings = [
            Finding(p.kind, f"{p.file}, line {p.line}" if p.line is not None else (p.file or str(root)), _detail(p))
            for p in exc.problems
        ]
        return exc.dataset, findings


def _detail(problem: Any) -> str:
    return problem.message + (f"; {problem.fix}" if problem.fix else "")


def verify(
    task: TaskSpec,
    root: Path,
    decode: bool = True,
    workers: int = 2,
    *,
    encoding: str | None = None,
    cache_dir: Path | None = None,
    show_progress: bool = True,
) -> VerifyReport:
    dataset, findings = _load(task, root, encoding)
    if dataset is None:
        return VerifyReport(task.name, root, 0, findings, task.expected_clips, None, decode)
    findings += [Finding("missing", m.id, m.reason) for m in dataset.missing]
    stats = scan(dataset, cache_dir=cache_dir, workers=workers, show_progress=show_progress) if decode else None
    for clip_id, s in (stats or {}).items():
        if s.problem:
            findings.append(Finding(s.problem, clip_id, s.reason))
    listed = len(dataset.clips) + len(dataset.missing)
    report = VerifyReport(task.name, root, listed, findings, task.expected_clips, None, decode)
    report.audit = run_audit(task, dataset, stats)
    return report
