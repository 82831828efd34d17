"""DESED-like demo: 10-s domestic soundscapes with overlapping, annotated events.

Real layout: tab-separated ``metadata/validation/validation.tsv`` (``filename onset offset
event_label``, one row per event, 3 decimals; a clip without events has one row with empty
fields) and the audio in ``audio/validation/validation/``, named like the YouTube cuts
(``Y{11-char id}_{start}_{end}.wav``, some ids starting with ``-``). Each of the 10 DESED classes
gets a procedural sound; events of a class have class-typical durations (a bark is short,
a vacuum cleaner long), random onsets, pitch and level, and overlap freely over background
noise. A few clips are a little shorter than 10 s, and some have no target event.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.demo import DemoDataset
from bench.demo.sounds import Nuisance, Recipe, concept_recipes, render_source
from bench.demo.vggsound import youtube_id

CLASSES = (
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
)
# shared demo sound concepts (bench.demo.sounds.CONCEPTS); other classes map to their lower-case name
CONCEPT = {"Alarm_bell_ringing": "alarm_bell", "Electric_shaver_toothbrush": "electric_shaver"}
# (shortest, longest) event in seconds, roughly as in the real annotations
DURATIONS = {
    "Alarm_bell_ringing": (0.8, 4.0),
    "Blender": (2.0, 7.0),
    "Cat": (0.5, 2.0),
    "Dishes": (0.2, 1.2),
    "Dog": (0.3, 1.5),
    "Electric_shaver_toothbrush": (2.0, 8.0),
    "Frying": (3.0, 10.0),
    "Running_water": (2.0, 9.0),
    "Speech": (0.5, 3.0),
    "Vacuum_cleaner": (3.0, 10.0),
}
SR = 16000
CLIP_S = 10.0
CLIPS = 50
BACKGROUND = Recipe(
    source="noise",
    f0=100.0,
    n_harm=1,
    tilt=1.0,
    band_lo=80.0,
    band_hi=6000.0,
    rate=1.0,
    decay=0.1,
    chirp_ratio=1.0,
    pattern="sustained",
)


def clip_events(rng: np.random.Generator, duration: float, empty: bool) -> list[tuple[float, float, str]]:
    if empty:
        return []
    events = []
    for _ in range(int(rng.integers(1, 4))):
        label = CLASSES[int(rng.integers(len(CLASSES)))]
        lo, hi = DURATIONS[label]
        length = float(min(duration, rng.uniform(lo, hi)))
        onset = float(rng.uniform(0.0, duration - length))
        events.append((round(onset, 3), round(min(duration, onset + length), 3), label))
    return sorted(events)


def render(
    events: list[tuple[float, float, str]], recipes: list[Recipe], rng: np.random.Generator, duration: float
) -> np.ndarray:
    n = int(round(duration * SR))
    nz = Nuisance()
    out = render_source(BACKGROUND, rng, SR, n, 1.0, 1.0) * 10 ** (rng.uniform(-32, -22) / 20)
    for onset, offset, label in events:
        a, b = int(round(onset * SR)), int(round(offset * SR))
        pitch = 2 ** (rng.uniform(-nz.pitch_semitones, nz.pitch_semitones) / 12)
        rate = 1 + rng.uniform(-nz.rate_jitter, nz.rate_jitter)
        src = render_source(recipes[CLASSES.index(label)], rng, SR, b - a, pitch, rate)
        out[a:b] += src * 0.25 * 10 ** (rng.uniform(-8, 0) / 20)
    return (out / max(1.0, float(np.max(np.abs(out))) / 0.9)).astype(np.float32)


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    recipes = concept_recipes([CONCEPT.get(c, c.lower()) for c in CLASSES])
    rng = np.random.default_rng(seed + 5)
    audio_dir = root / "audio" / "validation" / "validation"
    meta_dir = root / "metadata" / "validation"
    audio_dir.mkdir(parents=True)
    meta_dir.mkdir(parents=True)
    n_clips = max(10, round(CLIPS * scale))
    rows: list[list[str]] = []
    n_events = n_empty = 0
    for i in range(n_clips):
        duration = CLIP_S if i % 7 != 5 else round(float(rng.uniform(8.5, 9.9)), 3)
        start = int(rng.integers(0, 300)) * 10
        name = f"Y{youtube_id(rng, dash=i % 9 == 4)}_{start:.3f}_{start + duration:.3f}.wav"
        events = clip_events(rng, duration, empty=i % 8 == 0)
        sf.write(audio_dir / name, render(events, recipes, rng, duration), SR, subtype="PCM_16")
        if events:
            rows += [[name, f"{on:.3f}", f"{off:.3f}", label] for on, off, label in events]
            n_events += len(events)
        else:
            rows.append([name, "", "", ""])
            n_empty += 1
    with (meta_dir / "validation.tsv").open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["filename", "onset", "offset", "event_label"])
        writer.writerows(rows)
    return {"clips": n_clips, "events": n_events, "clips_without_events": n_empty, "sample_rate": SR}


DEMO = DemoDataset("desed", folder="DESED", version="2", generate=generate)
