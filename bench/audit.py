"""The dataset audit: what makes a number suspicious by construction, found before any protocol runs.

Real datasets differ from generated ones in ways that change results without an error:
folds that leave a class out of training (the class-disjoint case: a probe scores 0 on it by
construction), identical audio on both sides of a split (leakage), silent clips, a clip
policy that pads most clips, a mix of sample rates. The audit reports them as a short
summary before the protocols run, is stored in every result record (``audit``), and its
flags mark the cell in ``leaderboard.md`` with a footnote — never a silent number.

Flags (marks in the leaderboard) apply to protocols that learn from the training side
(``Protocol.trains``): ``unseen-test-classes`` and ``leakage``. Everything else is a note.
Thresholds: classes with fewer than :data:`FEW_TRAIN` training examples in a fold are
listed; a clip whose peak is below :data:`NEAR_SILENT_DBFS` dBFS counts as near-silent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.clipstats import ClipStats, scan
from bench.task import Clip, Dataset, TaskSpec

AUDIT_VERSION = 1
FEW_TRAIN = 5
NEAR_SILENT_DBFS = -60.0
EXAMPLES = 5
MAX_PAIRS = 100  # leakage pairs kept in a record (all are counted)
FLAGS = {
    "unseen-test-classes": "a test fold or split holds classes with no training example there",
    "leakage": "identical audio on both sides of a split",
}


@dataclass(frozen=True)
class Side:
    """One evaluation of a split scheme: train (and validation) clips against test clips."""

    name: str
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]


def sides(task: TaskSpec, dataset: Dataset) -> list[Side]:
    """Test fold i against the other folds, or the test splits against the training splits."""
    if task.folds:
        present = {c.fold for c in dataset.clips}
        return [
            Side(
                f"fold {f}",
                [c for c in dataset.clips if c.fold != f and c.fold is not None],
                [],
                [c for c in dataset.clips if c.fold == f],
            )
            for f in task.folds
            if f in present
        ]
    train = [c for c in dataset.clips if c.split in task.train_splits]
    test = [c for c in dataset.clips if c.split in task.test_splits]
    if not train or not test:
        return []
    val = [c for c in dataset.clips if c.split in task.val_splits]
    return [Side("test split", train, val, test)]


@dataclass
class Audit:
    task: str
    n_clips: int
    flags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def flag(self, name: str, warning: str) -> None:
        if name not in self.flags:
            self.flags.append(name)
        self.warnings.append(warning)

    def summary(self) -> list[str]:
        head = f"audit {self.task}: {self.details.get('overview', f'{self.n_clips} clips')}"
        return [head, *(f"  WARNING {w}" for w in self.warnings), *(f"  note: {n}" for n in self.notes)]

    def to_json(self, trains: bool = True) -> dict[str, Any]:
        """The record's ``audit``; ``flags`` are those that apply to a protocol that trains (or not)."""
        return {
            "version": AUDIT_VERSION,
            "flags": list(self.flags) if trains else [],
            "dataset_flags": list(self.flags),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "details": self.details,
        }


def _names(classes: Sequence[str], idx: Iterable[int]) -> list[str]:
    return [classes[i] if 0 <= i < len(classes) else str(i) for i in sorted(idx)]


def _labels(clip: Clip) -> tuple[int, ...]:
    return (clip.target,) if clip.target is not None else tuple(clip.targets)


def _shown(items: Sequence[str]) -> str:
    more = len(items) - EXAMPLES
    return ", ".join(items[:EXAMPLES]) + (f" and {more} more" if more > 0 else "")


def check_classes(audit: Audit, dataset: Dataset, split_sides: list[Side]) -> None:
    """Test classes without a training example (flag), and classes with very few (note)."""
    unseen: dict[str, list[str]] = {}
    few: dict[str, dict[str, int]] = {}
    for side in split_sides:
        counts = Counter(k for c in side.train for k in _labels(c))
        test_labels = Counter(k for c in side.test for k in _labels(c))
        missing = sorted(k for k in test_labels if counts[k] == 0)
        if missing:
            names = _names(dataset.classes, missing)
            unseen[side.name] = names
            n_test = sum(1 for c in side.test if set(_labels(c)) & set(missing))
            disjoint = all(counts[k] == 0 for k in test_labels)
            what = "every test class is absent from training (class-disjoint folds)" if disjoint else "classes"
            audit.flag(
                "unseen-test-classes",
                f"{side.name} tests {len(missing)} class(es) with no training example: {_shown(names)} — "
                f"{what}; the probe cannot predict them, so {n_test} of {len(side.test)} test clips are wrong by "
                "construction",
            )
        low = {dataset.classes[k]: n for k, n in counts.items() if 0 < n < FEW_TRAIN and k < len(dataset.classes)}
        for name, n in low.items():
            few.setdefault(name, {})[side.name] = n
    if few:
        listed = [
            f"{name} ({min(per.values())} in {min(per, key=per.__getitem__)})" for name, per in sorted(few.items())
        ]
        audit.notes.append(f"classes with fewer than {FEW_TRAIN} training examples: {_shown(listed)}")
    audit.details["unseen_test_classes"] = unseen
    audit.details["few_training_examples"] = few


def check_leakage(audit: Audit, stats: dict[str, ClipStats], split_sides: list[Side]) -> None:
    """Identical decoded audio on the train and test side of any split (flag); repeats within a side (note)."""
    pairs: list[tuple[str, str, str, str]] = []
    seen: set[frozenset[str]] = set()
    for side in split_sides:
        train_by_digest: dict[str, Clip] = {}
        for c in [*side.train, *side.val]:
            s = stats.get(c.id)
            if s is not None and s.digest:
                train_by_digest.setdefault(s.digest, c)
        for c in side.test:
            s = stats.get(c.id)
            other = train_by_digest.get(s.digest) if s is not None and s.digest else None
            if other is not None and frozenset((other.id, c.id)) not in seen:
                seen.add(frozenset((other.id, c.id)))
                pairs.append((c.id, _where(c), other.id, _where(other)))
    if pairs:
        shown = [f"{a} ({wa}) = {b} ({wb})" for a, wa, b, wb in pairs]
        audit.flag(
            "leakage",
            f"identical audio on both sides of a split: {len(pairs)} pair(s), {_shown(shown)}; test clips heard in "
            "training inflate the score (remove the copies or put them in one fold)",
        )
    groups: dict[str, list[str]] = defaultdict(list)
    for cid, s in stats.items():
        if s.digest:
            groups[s.digest].append(cid)
    repeats = [ids for ids in groups.values() if len(ids) > 1]
    if repeats and not pairs:
        audit.notes.append(
            f"{len(repeats)} set(s) of identical clips (same side of every split), e.g. {' = '.join(repeats[0][:3])}"
        )
    audit.details["leakage_pairs"] = [list(p) for p in pairs[:MAX_PAIRS]]
    audit.details["leakage_pair_count"] = len(pairs)
    audit.details["identical_sets"] = len(repeats)


def _where(clip: Clip) -> str:
    return f"fold {clip.fold}" if clip.fold is not None else f"{clip.split}"


def check_audio(audit: Audit, task: TaskSpec, stats: dict[str, ClipStats]) -> None:
    """Empty, unreadable, non-finite, silent and near-silent clips; padding and cropping; rates and channels."""
    by_problem: dict[str, list[str]] = defaultdict(list)
    for cid, s in stats.items():
        if s.problem:
            by_problem[s.problem].append(cid)
    for problem, ids in sorted(by_problem.items()):
        if problem == "non-finite":
            audit.warnings.append(
                f"{len(ids)} file(s) with non-finite samples, or samples so large that features overflow: "
                f"{_shown(ids)} (`bench data verify` says why)"
            )
        else:
            audit.notes.append(f"{len(ids)} {problem} file(s), skipped when embedding: {_shown(ids)}")
    ok = {cid: s for cid, s in stats.items() if not s.problem}
    silent = [cid for cid, s in ok.items() if s.peak == 0.0]
    quiet = [cid for cid, s in ok.items() if 0.0 < s.peak < 10 ** (NEAR_SILENT_DBFS / 20)]
    if silent:
        audit.notes.append(f"{len(silent)} digitally silent clip(s) (all samples 0): {_shown(silent)}")
    if quiet:
        audit.notes.append(f"{len(quiet)} near-silent clip(s) (peak below {NEAR_SILENT_DBFS:g} dBFS): {_shown(quiet)}")
    durations = [s.seconds for s in ok.values()]
    rates = Counter(s.rate for s in ok.values())
    channels = Counter(s.channels for s in ok.values())
    policy = task.clip_policy
    shape = ""
    padded = cropped = 0
    if durations:
        if policy.duration_s is not None:
            padded = sum(d < policy.duration_s - 1e-6 for d in durations)
            cropped = sum(d > policy.duration_s + 1e-6 for d in durations)
            parts = []
            if padded:
                how = "repeated" if policy.pad == "repeat" else "padded with zeros"
                parts.append(f"{_pct(padded, durations)} shorter than {policy.duration_s:g} s, {how}")
            if cropped:
                parts.append(f"{_pct(cropped, durations)} longer, cropped to {policy.duration_s:g} s")
            shape = "; ".join(parts) or f"all {policy.duration_s:g} s"
        elif policy.min_duration_s:
            padded = sum(d < policy.min_duration_s - 1e-6 for d in durations)
            if padded:
                shape = f"{_pct(padded, durations)} shorter than {policy.min_duration_s:g} s, padded to it"
        span = f"{min(durations):.2f}–{max(durations):.2f} s (mean {sum(durations) / len(durations):.2f} s)"
        shape = f"{span}" + (f": {shape}" if shape else "")
    rate_text = ", ".join(f"{r} Hz ×{n}" for r, n in sorted(rates.items()))
    chan_text = ", ".join(f"{'mono' if c == 1 else f'{c} ch'} ×{n}" for c, n in sorted(channels.items()))
    audit.details.update(
        {
            "problems": {k: len(v) for k, v in by_problem.items()},
            "silent": len(silent),
            "near_silent": len(quiet),
            "sample_rates": {str(r): n for r, n in sorted(rates.items())},
            "channels": {str(c): n for c, n in sorted(channels.items())},
            "padded": padded,
            "cropped": cropped,
            "duration_s": [round(min(durations), 3), round(max(durations), 3)] if durations else [],
            "audio_overview": "; ".join(t for t in (rate_text, chan_text, shape) if t),
        }
    )


def _pct(n: int, of: Sequence[object]) -> str:
    return f"{100 * n / len(of):.0f} % of clips"


def run_audit(task: TaskSpec, dataset: Dataset, stats: dict[str, ClipStats] | None) -> Audit:
    """The audit of ``dataset`` under ``task``'s split scheme; ``stats`` None: metadata checks only."""
    audit = Audit(task=dataset.task, n_clips=len(dataset.clips))
    split_sides = sides(task, dataset)
    scheme = f"{len(split_sides)} folds" if task.folds else ("train → test" if split_sides else "no train/test split")
    if task.kind in ("multiclass", "multilabel"):
        check_classes(audit, dataset, split_sides)
    if stats is not None:
        check_leakage(audit, stats, split_sides)
        check_audio(audit, task, stats)
    if dataset.missing:
        ids = [m.id for m in dataset.missing]
        audit.notes.insert(0, f"{len(ids)} file(s) listed in the metadata are missing, left out: {_shown(ids)}")
    missing = f" ({len(dataset.missing)} missing)" if dataset.missing else ""
    classes = f", {len(dataset.classes)} classes" if task.kind in ("multiclass", "multilabel") else ""
    overview = f"{len(dataset.clips)} clips{missing}{classes}, {scheme}"
    audio = audit.details.get("audio_overview")
    audit.details["overview"] = overview + (f"; {audio}" if audio else "")
    return audit


def audit_dataset(
    task: TaskSpec,
    dataset: Dataset,
    *,
    cache_dir: Path | None = None,
    workers: int = 2,
    show_progress: bool = True,
    decode: bool = True,
) -> Audit:
    """Scan the audio (cached per dataset) and audit it; ``decode=False``: metadata checks only."""
    stats = scan(dataset, cache_dir=cache_dir, workers=workers, show_progress=show_progress) if decode else None
    return run_audit(task, dataset, stats)


def attach(dataset: Dataset, audit: Audit) -> None:
    """Keep the audit with the dataset, so every cell run on it stores it in its record."""
    dataset.info["audit"] = audit


def audit_of(dataset: Dataset) -> Audit | None:
    found = dataset.info.get("audit")
    return found if isinstance(found, Audit) else None
