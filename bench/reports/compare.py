"""``bench report compare``: is encoder A really better than B on a task?

Both records are read from ``results/`` (the configuration each label shows), restricted to
the test items both scored, and every metric of the record is compared with the paired
bootstrap of :mod:`bench.stats.bootstrap`: A, B, A − B, its interval and the two-sided p-value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.results import ResultRecord, ResultsStore
from bench.stats.bootstrap import BootstrapConfig, Comparison, paired_comparison
from bench.stats.items import MissingItemData, record_items

ALPHA = 0.05


@dataclass(frozen=True)
class Side:
    label: str
    record: ResultRecord
    scores: dict


def resolve_label(store: ResultsStore, kind: str, name: str) -> str:
    """An encoder label in ``store``: ``name`` itself, or the one label whose encoder is ``name``.

    ``wav2clip`` finds ``wav2clip[demo]`` when that is the only Wav2CLIP label of this data kind.
    """
    labels = sorted({r.encoder.label for _, r in store.all() if r.data_kind == kind})
    if name in labels:
        return name
    matches = [lb for lb in labels if lb.split("[")[0].split("@")[0] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"encoder {name!r} has several {kind} results: {', '.join(matches)}; name one of them")
    raise ValueError(
        f"no {kind} results for encoder {name!r} in {store.root}; labels there: {', '.join(labels) or 'none'}"
    )


def load_side(store: ResultsStore, kind: str, name: str, task: str, protocol: str) -> Side:
    label = resolve_label(store, kind, name)
    for path, rec in store.shown():
        if (rec.data_kind, rec.encoder.label, rec.task.name) == (kind, label, task) and protocol in (
            rec.protocol.short,
            rec.protocol.id,
        ):
            if rec.status != "ok":
                raise ValueError(f"{label} on {task} ({rec.protocol.id}) is {rec.status}: {rec.reason}")
            return Side(label, rec, store.scores(path))
    raise ValueError(f"no {kind} result for {label} on task {task!r} with protocol {protocol!r}; run `bench run` first")


def compare(a: Side, b: Side, metrics: Sequence[str], cfg: BootstrapConfig) -> list[tuple[str, Comparison | str]]:
    """Per metric, the comparison or why it could not be made."""
    if a.record.data.checksum != b.record.data.checksum:
        raise ValueError(
            f"{a.label} and {b.label} were scored on different data (dataset checksums "
            f"{a.record.data.checksum} and {b.record.data.checksum}); re-run both on the same data"
        )
    folds_a, folds_b = record_items(a.record, a.scores), record_items(b.record, b.scores)
    out: list[tuple[str, Comparison | str]] = []
    for metric in metrics:
        try:
            out.append((metric, paired_comparison(folds_a, folds_b, metric, cfg)))
        except (ValueError, MissingItemData) as exc:
            out.append((metric, str(exc)))
    return out


def report(a: Side, b: Side, results: list[tuple[str, Comparison | str]], cfg: BootstrapConfig) -> str:
    rec = a.record
    first = next((c for _, c in results if isinstance(c, Comparison)), None)
    lines = [
        f"{rec.task.title} ({rec.task.name}), {rec.protocol.id}, {rec.data_kind} data",
        f"A = {a.label}   B = {b.label}",
    ]
    if first is not None:
        lines.append(
            f"{first.n_folds} fold(s)/trial(s), {first.n_items} test items scored by both"
            + (
                f" (left out: {first.only_a} only in A, {first.only_b} only in B)"
                if first.only_a or first.only_b
                else ""
            )
        )
    width = max(len(m) for m, _ in results) if results else 6
    lines.append(f"{'metric':<{width}}  {'A':>8}  {'B':>8}  {'A − B':>8}  {cfg.level:.0%} interval of A − B   p")
    for metric, c in results:
        if isinstance(c, str):
            lines.append(f"{metric:<{width}}  not compared: {c}")
            continue
        ci = f"[{c.ci[0]:+.4f}, {c.ci[1]:+.4f}]" if c.ci else "undefined"
        lines.append(f"{metric:<{width}}  {c.a:8.4f}  {c.b:8.4f}  {c.diff:+8.4f}  {ci:<22}  {c.p_value:.3g}")
    for metric, c in results:
        if isinstance(c, Comparison):
            better = a.label if c.a_better else b.label
            verdict = (
                f"{better} is better (p = {c.p_value:.3g} < {ALPHA})"
                if c.significant(ALPHA)
                else f"no significant difference at α = {ALPHA} (p = {c.p_value:.3g})"
            )
            lines.append(f"{metric}: {verdict}")
            break
    lines.append(
        f"Paired bootstrap: {cfg.resamples:,} resamples (seed {cfg.seed}) of the test items within each fold, "
        "the same resamples for A and B; two-sided p = 2·min(share of resampled A − B ≤ 0, share ≥ 0)."
    )
    return "\n".join(lines)
