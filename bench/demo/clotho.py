"""Clotho-like demo: short clips of one or two sound sources, each with five templated captions.

Real layout: ``clotho_captions_{split}.csv`` (UTF-8, ``file_name,caption_1..caption_5``, quoted
commas), ``clotho_metadata_{split}.csv`` in latin-1 with a non-ASCII character, and the audio in
``development/``, ``validation/``, ``evaluation/``. File names have spaces; one starts with a
space, some contain commas or parentheses, as in the real set. A caption names the main
source (several phrasings per source), sometimes a second source, and whether the scene is
quiet or noisy, so a decoder can only caption well if the embeddings tell sources apart.
Clips last 6-10 s (the real ones 15-30 s) to keep the demo small.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.demo import DemoDataset
from bench.demo.sounds import Nuisance, class_recipes, render_clip

SR = 16000
SOURCES = {
    "birds": [
        "birds are chirping",
        "several birds chirp and sing",
        "small birds are tweeting",
        "a group of birds sing",
        "birds call to each other",
    ],
    "dog": [
        "a dog barks",
        "a dog is barking loudly",
        "the dog barks several times",
        "a dog barks repeatedly",
        "a large dog is barking",
    ],
    "engine": [
        "an engine is running",
        "a car engine idles",
        "a motor hums steadily",
        "an engine revs and runs",
        "a vehicle engine is running",
    ],
    "rain": [
        "rain falls on a roof",
        "heavy rain is pouring down",
        "rain drops hit the ground",
        "it is raining steadily",
        "rain is falling outside",
    ],
    "bell": [
        "a bell is ringing",
        "a church bell rings",
        "bells chime loudly",
        "a bell rings several times",
        "a metal bell is struck",
    ],
    "water": [
        "water is flowing",
        "a stream of water runs",
        "water runs from a tap",
        "water splashes and flows",
        "running water gurgles",
    ],
    "people": [
        "people are talking",
        "a crowd of people chatter",
        "several people speak at once",
        "people talk in the background",
        "a group of people are chatting",
    ],
    "footsteps": [
        "someone is walking",
        "footsteps on a hard floor",
        "a person walks slowly",
        "footsteps echo in a hall",
        "someone walks across the room",
    ],
}
NAMES = {
    "birds": "Ambience Birds",
    "dog": "Dog Bark",
    "engine": "Engine Idle",
    "rain": "Rain, roof",
    "bell": "Church Bell",
    "water": "Stream (creek)",
    "people": "Crowd Talk",
    "footsteps": "Footsteps Hall",
}
QUIET = ["in a quiet place", "in the distance", "with little background noise", "softly", "nearby"]
NOISY = [
    "with loud background noise",
    "in a noisy place",
    "over a constant hiss",
    "with static noise behind",
    "amid heavy noise",
]
SPLIT_SIZES = {"development": 80, "validation": 20, "evaluation": 25}
MIN_SIZES = {"development": 24, "validation": 6, "evaluation": 8}


def captions_for(rng: np.random.Generator, main: str, second: str | None, noisy: bool) -> list[str]:
    """Five captions: distinct phrasings of the main source, a second source or the setting."""
    phrases = list(rng.permutation(SOURCES[main]))
    out = []
    for k, phrase in enumerate(phrases):
        if second is not None and k % 2 == 0:
            other = SOURCES[second][int(rng.integers(len(SOURCES[second])))]
            text = f"{phrase}, while {other}" if k == 0 else f"{phrase} and {other}"
        else:
            text = f"{phrase} {(NOISY if noisy else QUIET)[int(rng.integers(5))]}"
        out.append(text[0].upper() + text[1:] + ".")
    return out


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    keys = list(SOURCES)
    recipes = class_recipes(len(keys), seed=seed + 7)
    rng = np.random.default_rng(seed + 8)
    counts: dict[str, int] = {}
    serial = 0
    for split, size in SPLIT_SIZES.items():
        (root / split).mkdir(parents=True)
        cap_rows, meta_rows = [], []
        n = max(MIN_SIZES[split], round(size * scale))
        for i in range(n):
            main = keys[serial % len(keys)]
            second = keys[int(rng.integers(len(keys)))] if rng.random() < 0.3 else None
            second = None if second == main else second
            noisy = bool(rng.random() < 0.5)
            nuisance = Nuisance(snr_db=(-3.0, 3.0) if noisy else (25.0, 35.0), distractor_prob=0.0)
            labels = [keys.index(main)] + ([keys.index(second)] if second else [])
            audio = render_clip(
                recipes, labels, rng, SR, float(rng.uniform(6.0, 10.0)), nuisance, event_span=(0.7, 1.0)
            )
            name = f"{NAMES[main]} {serial:03d}.wav"
            if serial == 0:
                name = " " + name  # a leading space, as in the real " Ambience Birds.wav"
            serial += 1
            sf.write(root / split / name, audio, SR, subtype="PCM_16")
            cap_rows.append([name, *captions_for(rng, main, second, noisy)])
            keywords = ";".join(
                [main, *([second] if second else []), "noisy" if noisy else "quiet", "café" if i == 1 else "demo"]
            )
            meta_rows.append(
                [
                    name,
                    keywords,
                    str(100000 + serial),
                    f"https://freesound.org/s/{100000 + serial}",
                    f"[0, {len(audio)}]",
                    "José_Müller" if i == 2 else "bench_demo",
                    "http://creativecommons.org/publicdomain/zero/1.0/",
                ]
            )
        with (root / f"clotho_captions_{split}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5"])
            w.writerows(cap_rows)
        with (root / f"clotho_metadata_{split}.csv").open("w", newline="", encoding="latin-1") as fh:
            w = csv.writer(fh)
            w.writerow(
                ["file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer", "license"]
            )
            w.writerows(meta_rows)
        counts[split] = n
    return {"clips": counts, "sample_rate": SR, "sources": keys}


DEMO = DemoDataset("clotho", folder="Clotho", version="1", generate=generate)
