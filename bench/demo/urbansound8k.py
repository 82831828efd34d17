"""UrbanSound8K-like demo: the 10 real classes × 4 clips × 10 folds, in the real layout.

``metadata/UrbanSound8K.csv`` and ``audio/fold{k}/{fsID}-{classID}-{occ}-{slice}.wav``. Like the
real data, files differ in sample rate (8–48 kHz), channels (mono/stereo), sample format
(8-bit unsigned, 16/24/32-bit PCM, 32-bit float) and container (WAV and WAVE_FORMAT_EXTENSIBLE),
and last 0.3–4 s.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.demo import DemoDataset
from bench.demo.parallel import map_jobs
from bench.demo.sounds import Nuisance, concept_recipes, render_clip

CONCEPT = {"dog_bark": "dog", "engine_idling": "engine"}  # shared demo sound concepts

CLASSES = [
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
]
RATES = [8000, 16000, 22050, 44100, 48000, 96000]
SUBTYPES = [
    ("WAV", "PCM_16"),
    ("WAV", "PCM_24"),
    ("WAV", "PCM_U8"),
    ("WAV", "FLOAT"),
    ("WAVEX", "PCM_24"),
    ("WAVEX", "PCM_32"),
]


def _render_job(job: tuple[str, int, float, int, str, str, int, list[int]]) -> None:
    path, cid, duration, sr, fmt, subtype, channels, clip_seed = job
    rng = np.random.default_rng(clip_seed)
    recipes = concept_recipes([CONCEPT.get(c, c) for c in CLASSES])
    wave = render_clip(recipes, cid, rng, sr, duration, Nuisance(), event_span=(0.6, 1.0))
    data = wave if channels == 1 else np.stack([wave, wave * rng.uniform(0.6, 1.0)], axis=1)
    sf.write(path, data, sr, subtype=subtype, format=fmt)


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    clips_per_class_per_fold = max(1, round(4 * scale))
    rng = np.random.default_rng(seed + 1)
    jobs: list[tuple[str, int, float, int, str, str, int, list[int]]] = []
    rows = []
    fsid = 10000
    formats: dict[str, int] = {}
    for fold in range(1, 11):
        (root / "audio" / f"fold{fold}").mkdir(parents=True)
        for cid, cname in enumerate(CLASSES):
            for occ in range(clips_per_class_per_fold):
                fsid += int(rng.integers(1, 900))
                duration = float(rng.choice([4.0, 4.0, rng.uniform(0.3, 4.0)]))
                sr = int(rng.choice(RATES))
                fmt, subtype = SUBTYPES[int(rng.integers(len(SUBTYPES)))]
                channels = int(rng.choice([1, 2]))
                name = f"{fsid}-{cid}-{occ}-0.wav"
                jobs.append(
                    (
                        str(root / "audio" / f"fold{fold}" / name),
                        cid,
                        duration,
                        sr,
                        fmt,
                        subtype,
                        channels,
                        [seed, fold, cid, occ],
                    )
                )
                key = f"{sr}Hz/{channels}ch/{fmt}-{subtype}"
                formats[key] = formats.get(key, 0) + 1
                start = round(float(rng.uniform(0, 60)), 6)
                rows.append([name, fsid, start, round(start + duration, 6), int(rng.choice([1, 2])), fold, cid, cname])
    map_jobs(_render_job, jobs)
    (root / "metadata").mkdir()
    with (root / "metadata" / "UrbanSound8K.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
        writer.writerows(sorted(rows))
    return {"clips": len(rows), "classes": len(CLASSES), "formats": len(formats)}


DEMO = DemoDataset("urbansound8k", folder="UrbanSound8K", version="2", generate=generate)
