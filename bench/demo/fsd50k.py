"""FSD50K-like multi-label demo: mixtures of 12 sound events with smeared AudioSet ancestors.

Real layout and quoting: ``FSD50K.ground_truth/{dev,eval}.csv`` (header, quoted comma lists of
labels and mids, ``split`` train/val in dev only), a headerless ``vocabulary.csv`` in
alphabetical order, and ``FSD50K.{dev,eval}_audio/{fname}.wav`` (44.1 kHz, 16-bit, mono,
0.3–6 s). Names and mids are real FSD50K ones (``Zipper_(clothing)``,
``Accelerating_and_revving_and_vroom``, …); each clip mixes one to three leaf events and is
labelled with them and all their ancestors, in shuffled order, as the real ground truth is.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.demo import DemoDataset
from bench.demo.sounds import Nuisance, class_recipes, render_clip

MIDS = {
    "Accelerating_and_revving_and_vroom": "/m/07q2z82",
    "Acoustic_guitar": "/m/042v_gx",
    "Animal": "/m/0jbk",
    "Bark": "/m/05tny_",
    "Car": "/m/0k4j",
    "Car_passing_by": "/t/dd00134",
    "Cat": "/m/01yrx",
    "Crushing": "/m/07plct2",
    "Dog": "/m/0bt9lr",
    "Domestic_animals_and_pets": "/m/068hy",
    "Domestic_sounds_and_home_sounds": "/t/dd00071",
    "Electric_guitar": "/m/02sgy",
    "Guitar": "/m/0342h",
    "Keyboard_(musical)": "/m/05148p4",
    "Keys_jangling": "/m/03v3yw",
    "Meow": "/m/07qrkrw",
    "Motor_vehicle_(road)": "/m/012f08",
    "Music": "/m/04rlf",
    "Musical_instrument": "/m/04szw",
    "Plucked_string_instrument": "/m/0fx80y",
    "Rain": "/m/06mb1",
    "Stream": "/m/0j6m2",
    "Vehicle": "/m/07yv9",
    "Water": "/m/0838f",
    "Zipper_(clothing)": "/m/01s0vc",
}
# leaf event → its ancestors in the vocabulary (the "smeared" labels)
LEAVES: dict[str, list[str]] = {
    "Bark": ["Dog", "Domestic_animals_and_pets", "Animal"],
    "Meow": ["Cat", "Domestic_animals_and_pets", "Animal"],
    "Electric_guitar": ["Guitar", "Plucked_string_instrument", "Musical_instrument", "Music"],
    "Acoustic_guitar": ["Guitar", "Plucked_string_instrument", "Musical_instrument", "Music"],
    "Keyboard_(musical)": ["Musical_instrument", "Music"],
    "Car_passing_by": ["Car", "Motor_vehicle_(road)", "Vehicle"],
    "Accelerating_and_revving_and_vroom": ["Motor_vehicle_(road)", "Vehicle"],
    "Zipper_(clothing)": ["Domestic_sounds_and_home_sounds"],
    "Keys_jangling": ["Domestic_sounds_and_home_sounds"],
    "Rain": ["Water"],
    "Stream": ["Water"],
    "Crushing": [],
}
SR = 44100
SPLITS = {"train": 240, "val": 60, "eval": 120}


def _duration(rng: np.random.Generator) -> float:
    """Like FSD50K, many short clips and a long tail (here 0.3–6 s)."""
    if rng.random() < 0.15:
        return round(float(rng.uniform(0.3, 1.0)), 3)
    return round(float(min(6.0, 1.0 + rng.exponential(1.8))), 3)


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    leaves = list(LEAVES)
    recipes = class_recipes(len(leaves), seed=seed + 50_000)
    rng = np.random.default_rng(seed + 3)
    gt = root / "FSD50K.ground_truth"
    gt.mkdir(parents=True)
    vocabulary = sorted(MIDS)
    with (gt / "vocabulary.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([i, label, MIDS[label]] for i, label in enumerate(vocabulary))
    used: set[int] = set()
    rows: dict[str, list[list[Any]]] = {"dev": [], "eval": []}
    seconds = 0.0
    for split, count in SPLITS.items():
        part = "eval" if split == "eval" else "dev"
        audio_dir = root / f"FSD50K.{part}_audio"
        audio_dir.mkdir(exist_ok=True)
        for j in range(max(len(leaves), round(count * scale))):
            # every leaf is present at least once per split; then 1–3 random leaves
            first = j % len(leaves)
            n_events = int(rng.choice([1, 1, 1, 2, 2, 3]))
            others = [int(k) for k in rng.permutation(len(leaves)) if k != first][: n_events - 1]
            events = [first, *others]
            fname = int(rng.integers(1000, 450_000))
            while fname in used:
                fname = int(rng.integers(1000, 450_000))
            used.add(fname)
            duration = _duration(rng)
            seconds += duration
            wave = render_clip(recipes, events, rng, SR, duration, Nuisance(), event_span=(0.6, 1.0))
            sf.write(audio_dir / f"{fname}.wav", wave, SR, subtype="PCM_16")
            labels = list(dict.fromkeys(lab for k in events for lab in (leaves[k], *LEAVES[leaves[k]])))
            order = rng.permutation(len(labels))
            labels = [labels[i] for i in order]
            row = [fname, ",".join(labels), ",".join(MIDS[lab] for lab in labels)]
            rows[part].append([*row, split] if part == "dev" else row)
    with (gt / "dev.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fname", "labels", "mids", "split"])
        writer.writerows(rows["dev"])
    with (gt / "eval.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fname", "labels", "mids"])
        writer.writerows(rows["eval"])
    return {
        "clips": len(rows["dev"]) + len(rows["eval"]),
        "classes": len(vocabulary),
        "leaf_events": len(leaves),
        "audio_seconds": round(seconds, 1),
    }


DEMO = DemoDataset("fsd50k", folder="FSD50K", version="1", generate=generate)
