"""Small dataset trees written by hand in the exact real layouts (docs/datasets.md).

These writers are independent of the demo generator, so loader tests do not test the
generator against itself. Audio is a class-dependent sine plus noise: learnable and tiny.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

ESC_HEADER = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
US8K_HEADER = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]


def tone(freq: float, seconds: float, sr: int, seed: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.4 * np.sin(2 * np.pi * freq * (1 + rng.uniform(-0.02, 0.02)) * t) + 0.05 * rng.standard_normal(len(t))
    x = x.astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def write_esc50(
    root: Path,
    targets: dict[int, str],
    per_fold: int = 2,
    sr: int = 8000,
    seconds: float = 1.0,
    esc10: set[str] | None = None,
    missing: int = 0,
) -> Path:
    """ESC-50-master/meta/esc50.csv + audio/{fold}-{src}-{take}-{target}.wav."""
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows = []
    src = 100000
    for fold in range(1, 6):
        for k, (target, name) in enumerate(sorted(targets.items())):
            for j in range(per_fold):
                src += 7
                fname = f"{fold}-{src}-A-{target}.wav"
                sf.write(root / "audio" / fname, tone(300 * (k + 1), seconds, sr, seed=src + j), sr, subtype="PCM_16")
                rows.append([fname, fold, target, name, str(name in (esc10 or set())), src, "A"])
    for m in range(missing):
        rows.append(
            [f"1-{900000 + m}-A-{min(targets)}.wav", 1, min(targets), targets[min(targets)], "False", 900000 + m, "A"]
        )
    with (root / "meta" / "esc50.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(ESC_HEADER)
        w.writerows(rows)
    return root


US8K_FORMATS = [
    (22050, 2, "WAV", "PCM_16"),
    (44100, 1, "WAV", "PCM_24"),
    (48000, 2, "WAVEX", "PCM_24"),
    (16000, 1, "WAV", "FLOAT"),
    (8000, 1, "WAV", "PCM_U8"),
    (44100, 2, "WAV", "PCM_32"),
]


def write_us8k(root: Path, classes: list[str], per_fold: int = 1, folds: int = 10) -> Path:
    """UrbanSound8K/metadata/UrbanSound8K.csv + audio/fold{k}/{fsID}-{classID}-{occ}-{slice}.wav."""
    rows = []
    fsid = 5000
    n = 0
    for fold in range(1, folds + 1):
        d = root / "audio" / f"fold{fold}"
        d.mkdir(parents=True)
        for cid, cname in enumerate(classes):
            for occ in range(per_fold):
                fsid += 3
                sr, ch, fmt, sub = US8K_FORMATS[n % len(US8K_FORMATS)]
                seconds = [0.3, 1.0, 2.5][n % 3]
                n += 1
                name = f"{fsid}-{cid}-{occ}-0.wav"
                sf.write(
                    d / name, tone(250 * (cid + 1), seconds, sr, seed=fsid, channels=ch), sr, subtype=sub, format=fmt
                )
                rows.append([name, fsid, 1.5, 1.5 + seconds, 1, fold, cid, cname])
    (root / "metadata").mkdir()
    with (root / "metadata" / "UrbanSound8K.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(US8K_HEADER)
        w.writerows(rows)
    return root
