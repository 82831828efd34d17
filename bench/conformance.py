"""One set of checks for every encoder, run by the test suite and by ``bench check-encoder``.

Hard inputs every real dataset contains (digital silence, very short and very long clips,
clips of mixed lengths in one batch) and the promises the harness relies on (shape, finite
values, batch independence, frame timestamps, a fingerprint that is stable and changes with
the numbers, random or demo stand-ins refused on real data). Each check returns a
:class:`CheckResult` with what was seen and, on failure, what to change; a check that does not
apply (an encoder with no frozen embedding, a promise the encoder does not make) is skipped
with the reason. The test suite parametrizes these checks over every registered encoder, so a
new encoder is checked without new tests; researchers run the same checks on their own
encoder (a plugin registered through the ``bench.encoders`` entry point) with
``bench check-encoder NAME``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from bench.encoder import Encoder, NotSupportedError, get_encoder

Status = Literal["pass", "fail", "skip"]
BATCH_TOL = 1e-5  # batched vs alone, relative to the clip's largest |value| (floored at 1)
SHORT_S = 0.05
FRAME_WINDOW_S = 1.0


@dataclass
class CheckResult:
    check: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class Subject:
    """The encoder under check and how it was built (to rebuild it in a fresh process or with variants)."""

    spec: str
    options: dict[str, Any]
    encoder: Encoder
    long_s: float = 60.0
    variants: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        spec: str,
        options: dict[str, Any] | None = None,
        long_s: float = 60.0,
        variants: list[dict[str, Any]] | None = None,
    ) -> Subject:
        options = dict(options or {})
        return cls(spec, options, get_encoder(spec, **options), long_s, list(variants or []))


class CheckFailed(Exception):
    """Raised inside a check: the message is the detail, ``fix`` what to change."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.fix = fix


def noise(seconds: float, sample_rate: int, seed: int = 0, level: float = 0.1) -> np.ndarray:
    n = max(1, int(round(seconds * sample_rate)))
    return (level * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def tone(freq: float, seconds: float, sample_rate: int, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.float32)


def _rows(enc: Encoder, waves: Sequence[np.ndarray], what: str) -> np.ndarray:
    """``embed`` with the finiteness and shape every check relies on (finiteness first, so a
    wrong shape does not hide a NaN)."""
    out = np.asarray(enc.embed(list(waves)))
    if np.issubdtype(out.dtype, np.number) and not np.isfinite(out).all():
        bad: list[int] = []
        if out.ndim >= 1 and out.shape[0] == len(waves):
            bad = [int(i) for i in np.flatnonzero(~np.isfinite(out.reshape(len(waves), -1)).all(axis=1))]
        which = f" for clip(s) {bad}" if bad else ""
        raise CheckFailed(
            f"embed() of {what} gave NaN/inf{which}",
            "guard every division and log: a silent or constant clip has zero variance and zero energy "
            "(divide by max(std, eps), take log(x + eps)); zero-pad inputs shorter than the model's window",
        )
    want = (len(waves), enc.embedding_dim)
    if out.shape != want:
        raise CheckFailed(
            f"embed() of {what} returned shape {out.shape}; expected {want} ([clips, embedding_dim])",
            "return one row per clip, shape [len(waves), embedding_dim], and set embedding_dim to the real width",
        )
    if not np.issubdtype(out.dtype, np.floating):
        raise CheckFailed(f"embed() of {what} returned dtype {out.dtype}", "return float32 embeddings")
    return out


def check_embed_shape(s: Subject) -> str:
    enc = s.encoder
    if enc.embedding_dim <= 0:
        raise CheckFailed(
            f"embedding_dim is {enc.embedding_dim}", "set embedding_dim to the width of the clip embedding"
        )
    sr = enc.sample_rate
    _rows(enc, [noise(1.0, sr, 1), noise(2.5, sr, 2)], "two noise clips (1 s, 2.5 s)")
    return f"[2, {enc.embedding_dim}] float, finite"


def check_silence(s: Subject) -> str:
    enc, sr = s.encoder, s.encoder.sample_rate
    alone = _rows(enc, [silence(1.0, sr)], "an all-zero 1-s clip")
    _rows(enc, [silence(1.0, sr), noise(1.0, sr, 3)], "an all-zero 1-s clip batched with a noise clip")
    return f"all-zero clip finite alone and batched (|e| max {np.abs(alone).max():.3g})"


def check_short_clip(s: Subject) -> str:
    _rows(s.encoder, [noise(SHORT_S, s.encoder.sample_rate, 4)], f"a {SHORT_S:g}-s clip")
    return f"{SHORT_S:g}-s clip: one finite row"


def check_long_clip(s: Subject) -> str:
    _rows(s.encoder, [noise(s.long_s, s.encoder.sample_rate, 5)], f"a {s.long_s:g}-s clip")
    return f"{s.long_s:g}-s clip: one finite row"


def batch_probe(sr: int) -> list[tuple[str, np.ndarray]]:
    """Mixed lengths, with same-length groups (encoders often batch those) and digital silence among them."""
    return [
        ("0.7 s noise", noise(0.7, sr, 11)),
        ("2 s of digital silence", silence(2.0, sr)),
        ("1.3 s 440 Hz tone", tone(440.0, 1.3, sr)),
        ("2 s noise", noise(2.0, sr, 12)),
        ("1.3 s noise", noise(1.3, sr, 13)),
        ("2 s noise (quiet)", noise(2.0, sr, 14, level=0.01)),
    ]


def check_batch_independence(s: Subject) -> str:
    enc = s.encoder
    if not enc.batch_independent:
        raise _Skip(f"{type(enc).__name__} declares batch_independent = False")
    probe = batch_probe(enc.sample_rate)
    together = _rows(enc, [w for _, w in probe], "a batch of mixed-length clips")
    worst = 0.0
    for i, (what, wave) in enumerate(probe):
        alone = _rows(enc, [wave], what)[0]
        scale = max(1.0, float(np.abs(alone).max()))
        diff = float(np.abs(together[i] - alone).max()) / scale
        worst = max(worst, diff)
        if diff > BATCH_TOL:
            raise CheckFailed(
                f"{what}: embedded in a batch of {len(probe)} mixed-length clips it differs from the same clip "
                f"alone by {diff:.3g} (relative to max |e| {scale:.3g}; allowed {BATCH_TOL:g}); "
                f"batched max |e| {np.abs(together[i]).max():.3g}",
                "compute every statistic (mean/std normalisation, padding masks) per clip, never over the batch; "
                "treat a constant (silent) input explicitly; or declare batch_independent = False",
            )
    return f"{len(probe)} mixed-length clips: batched = alone within {worst:.2g} (allowed {BATCH_TOL:g})"


def check_frames(s: Subject) -> str:
    enc, sr = s.encoder, s.encoder.sample_rate
    waves = [noise(SHORT_S, sr, 21), noise(2.5, sr, 22)]
    fe = enc.embed_frames(waves, window_s=FRAME_WINDOW_S)
    fix = (
        "embed_frames must return, per clip, a finite [T_i, embedding_dim] array and T_i window starts in seconds, "
        "strictly increasing and inside the clip (0 <= start < duration)"
    )
    if len(fe.frames) != len(waves) or len(fe.starts_s) != len(waves):
        raise CheckFailed(f"embed_frames of {len(waves)} clips returned {len(fe.frames)} frame arrays", fix)
    for wave, rows, starts in zip(waves, fe.frames, fe.starts_s, strict=True):
        dur = len(wave) / sr
        rows, starts = np.asarray(rows), np.asarray(starts, dtype=np.float64)
        what = f"the {dur:g}-s clip"
        if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] != enc.embedding_dim:
            raise CheckFailed(f"frames of {what} have shape {rows.shape}; expected [T >= 1, {enc.embedding_dim}]", fix)
        if not np.isfinite(rows).all():
            raise CheckFailed(f"frames of {what} contain NaN/inf", fix)
        if starts.shape != (rows.shape[0],):
            raise CheckFailed(f"{what}: {rows.shape[0]} frames but {starts.shape} timestamps", fix)
        if (np.diff(starts) <= 0).any():
            raise CheckFailed(f"{what}: timestamps not strictly increasing: {starts.tolist()}", fix)
        if starts[0] < 0 or starts[-1] >= dur:
            raise CheckFailed(f"{what}: timestamps {starts.tolist()} not inside [0, {dur:g}) s", fix)
    counts = [len(r) for r in fe.frames]
    return (
        f"{FRAME_WINDOW_S:g}-s frames of {SHORT_S:g}-s and 2.5-s clips: {counts} frames, "
        "timestamps increasing and inside"
    )


def fingerprint_in_fresh_process(spec: str, options: dict[str, Any], timeout: float = 600) -> tuple[str | None, str]:
    """(fingerprint, note) computed by a new Python process; None when that process cannot build it."""
    cmd = [sys.executable, "-m", "bench.conformance", "fingerprint", spec, json.dumps(options, default=str)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return None, (proc.stderr.strip().splitlines() or ["no output"])[-1]
    out = json.loads(lines[-1])
    return out.get("fingerprint"), str(out.get("error", ""))


def check_fingerprint_stable(s: Subject) -> str:
    enc = s.encoder
    fix = (
        "build the fingerprint only from the adapter version, a hash of the weights and the options that change "
        "the numbers: no object ids, times, paths of temporary files or values drawn at random"
    )
    first, second = enc.fingerprint(), enc.fingerprint()
    if first != second:
        raise CheckFailed(f"two calls gave {first} and {second}", fix)
    rebuilt = get_encoder(s.spec, **s.options)
    try:
        again = rebuilt.fingerprint()
    finally:
        rebuilt.close()
    if again != first:
        raise CheckFailed(f"a second instance with the same options has fingerprint {again}, not {first}", fix)
    fresh, note = fingerprint_in_fresh_process(s.spec, s.options)
    if fresh is None:
        return f"{first}: stable in this process and for a second instance (a fresh process could not build it: {note})"
    if fresh != first:
        raise CheckFailed(f"a fresh Python process computes {fresh}, this one {first}", fix)
    return f"{first}: same twice, for a second instance and in a fresh process"


def check_fingerprint_options(s: Subject) -> str:
    enc = s.encoder
    variants = [*type(enc).check_variants, *s.variants]
    if not variants:
        raise _Skip(f"{type(enc).__name__} declares no check_variants (option sets that change the numbers)")
    probe = [noise(1.0, enc.sample_rate, 31)]
    base = _rows(enc, probe, "a 1-s noise clip")
    seen = []
    for variant in variants:
        other = get_encoder(s.spec, **{**s.options, **variant})
        try:
            emb = np.asarray(other.embed(probe)) if other.sample_rate == enc.sample_rate else None
            fp = other.fingerprint()
        finally:
            other.close()
        changed = emb is None or emb.shape != base.shape or not np.allclose(emb, base, rtol=1e-6, atol=1e-7)
        if changed and fp == enc.fingerprint():
            raise CheckFailed(
                f"option(s) {variant} change the embedding but not the fingerprint ({fp})",
                f"include {', '.join(variant)} in options() (or in weights_id()), so cached embeddings and results are "
                "not reused across settings",
            )
        seen.append(
            f"{variant}: {'fingerprint changes' if fp != enc.fingerprint() else 'same numbers, same fingerprint'}"
        )
    return "; ".join(seen)


def _label_tags(label: str) -> list[str]:
    if "[" not in label or not label.endswith("]"):
        return []
    return [t.strip() for t in label[label.index("[") + 1 : -1].split(",")]


def check_real_data_refusal(s: Subject) -> str:
    enc = s.encoder
    tags = _label_tags(enc.label())
    demo = "demo" in tags
    random = any(t.startswith("random") for t in tags) or enc.weights_id().startswith("random")
    if not demo and not random:
        raise _Skip(f"weights {enc.weights_id()[:24]!r} are not a random or demo stand-in (label {enc.label()!r})")
    if random and not demo and "weights" in s.options:
        raise _Skip(
            f"random weights given explicitly (weights={s.options['weights']!r}): allowed on real data on purpose"
        )
    reason = enc.refusal("real")
    if reason is None:
        kind = "demo-trained" if demo else "random"
        raise CheckFailed(
            f"label {enc.label()!r} marks {kind} weights, yet refusal('real') is None: "
            "`bench run` would score real data with them",
            "return a reason (with the command that gets real weights) from refusal('real') "
            "unless the user asked for these weights",
        )
    if enc.refusal("demo") is not None:
        raise CheckFailed(
            f"{enc.label()!r} refuses the demo suite too",
            "stand-ins exist to run the demo suite: refuse only real data",
        )
    return f"{enc.label()!r} refused on real data: {reason[:90]}…"


class _Skip(Exception):
    pass


CHECKS: dict[str, Callable[[Subject], str]] = {
    "embed_shape": check_embed_shape,
    "silence": check_silence,
    "short_clip": check_short_clip,
    "long_clip": check_long_clip,
    "batch_independence": check_batch_independence,
    "frames": check_frames,
    "fingerprint_stable": check_fingerprint_stable,
    "fingerprint_options": check_fingerprint_options,
    "real_data_refusal": check_real_data_refusal,
}


def run_check(name: str, subject: Subject) -> CheckResult:
    try:
        detail = CHECKS[name](subject)
    except _Skip as exc:
        return CheckResult(name, "skip", str(exc))
    except NotSupportedError as exc:
        return CheckResult(name, "skip", f"not applicable: {exc}")
    except CheckFailed as exc:
        return CheckResult(name, "fail", str(exc), exc.fix)
    except Exception as exc:  # a crash is a finding, reported with the rest
        return CheckResult(
            name,
            "fail",
            f"raised {type(exc).__name__}: {exc}",
            "the encoder must handle this input; run the check under a debugger to see where",
        )
    return CheckResult(name, "pass", detail)


def run_checks(subject: Subject, names: Sequence[str] | None = None) -> list[CheckResult]:
    unknown = sorted(set(names or []) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    return [run_check(n, subject) for n in (names or list(CHECKS))]


def report(results: Sequence[CheckResult], title: str) -> str:
    lines = [title]
    for r in results:
        lines.append(f"  {r.status.upper():<4}  {r.check:<20} {r.detail}")
        if r.fix:
            lines.append(f"        {'':<20} fix: {r.fix}")
    failed = [r.check for r in results if r.status == "fail"]
    lines.append(
        f"{len(results) - len(failed)} of {len(results)} checks passed or skipped"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return "\n".join(lines)


def _main(argv: list[str]) -> int:
    """``python -m bench.conformance fingerprint SPEC OPTIONS_JSON``: the fresh-process half of a check."""
    if len(argv) != 3 or argv[0] != "fingerprint":
        print("usage: python -m bench.conformance fingerprint SPEC OPTIONS_JSON", file=sys.stderr)
        return 2
    try:
        enc = get_encoder(argv[1], **json.loads(argv[2]))
    except Exception as exc:
        print(json.dumps({"fingerprint": None, "error": f"{type(exc).__name__}: {exc}"}))
        return 0
    print(json.dumps({"fingerprint": enc.fingerprint()}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
