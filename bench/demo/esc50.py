"""ESC-50-like demo: 20 real ESC-50 categories (all ESC-10 ones among them) × 20 clips, 5 folds.

Same layout as the real archive: ``meta/esc50.csv`` and ``audio/{fold}-{src}-{take}-{target}.wav``
(5 s, 44.1 kHz, mono, 16-bit). Targets keep their real ESC-50 numbers, so they are not
contiguous and the loader must build the vocabulary from the CSV. Each source recording
yields one or two takes in the same fold, like the real dataset.
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

ESC10 = {
    "dog",
    "rooster",
    "rain",
    "sea_waves",
    "crackling_fire",
    "crying_baby",
    "sneezing",
    "clock_tick",
    "helicopter",
    "chainsaw",
}
CATEGORIES = {
    0: "dog",
    1: "rooster",
    10: "rain",
    11: "sea_waves",
    12: "crackling_fire",
    20: "crying_baby",
    21: "sneezing",
    38: "clock_tick",
    40: "helicopter",
    41: "chainsaw",
    4: "frog",
    5: "cat",
    9: "crow",
    16: "wind",
    24: "coughing",
    30: "door_wood_knock",
    32: "keyboard_typing",
    36: "vacuum_cleaner",
    42: "siren",
    46: "church_bells",
}
CLIPS_PER_CLASS_PER_FOLD = 4
SR = 44100
DURATION_S = 5.0


def _render_job(job: tuple[str, int, list[int]]) -> None:
    path, k, clip_seed = job
    recipes = concept_recipes([CATEGORIES[t] for t in sorted(CATEGORIES)])
    wave = render_clip(recipes, k, np.random.default_rng(clip_seed), SR, DURATION_S, Nuisance())
    sf.write(path, wave, SR, subtype="PCM_16")


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    clips_per_fold = max(1, round(CLIPS_PER_CLASS_PER_FOLD * scale))
    targets = sorted(CATEGORIES)
    rng = np.random.default_rng(seed)
    jobs: list[tuple[str, int, list[int]]] = []
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows = []
    src = 100000
    for fold in range(1, 6):
        for k, target in enumerate(targets):
            made = 0
            while made < clips_per_fold:
                src += int(rng.integers(1, 500))
                takes = min(clips_per_fold - made, int(rng.integers(1, 3)))
                for take in range(takes):
                    letter = "ABCDEFGH"[take]
                    name = f"{fold}-{src}-{letter}-{target}.wav"
                    jobs.append((str(root / "audio" / name), k, [seed, fold, k, src, take]))
                    category = CATEGORIES[target]
                    rows.append([name, fold, target, category, str(category in ESC10), src, letter])
                made += takes
    map_jobs(_render_job, jobs)
    with (root / "meta" / "esc50.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(sorted(rows))
    return {"clips": len(rows), "classes": len(targets), "sample_rate": SR}


DEMO = DemoDataset("esc50", folder="ESC-50-master", version="2", generate=generate)
