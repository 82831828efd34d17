"""Hand-written FSD50K, VGGSound and TAU trees in the exact real layouts (reference/datasets.md).

Metadata lines are written as literal text, not through the csv module, so the loaders are
tested against the quoting, header and separator conventions of the real files (quoted comma
lists, headerless files, tabs), not against our own writer. Audio is a sum of sines, one per
label, so tiny probes can learn it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tones(freqs: list[float], seconds: float, sr: int, seed: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(0.3 * np.sin(2 * np.pi * f * (1 + rng.uniform(-0.02, 0.02)) * t) for f in freqs)
    x = (np.asarray(x) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    return x if channels == 1 else np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)


def write_fsd50k(
    root: Path,
    vocab: list[tuple[str, str]],
    dev: list[tuple[int, list[str], str]],
    evaluation: list[tuple[int, list[str]]],
    freqs: dict[str, float],
    missing: frozenset[int] = frozenset(),
    seconds: float | list[float] = 1.0,
    sr: int = 8000,
) -> Path:
    """FSD50K.ground_truth/{dev,eval,vocabulary}.csv + FSD50K.{dev,eval}_audio/{fname}.wav."""
    gt = root / "FSD50K.ground_truth"
    gt.mkdir(parents=True)
    mid = dict(vocab)
    (gt / "vocabulary.csv").write_text("".join(f"{i},{label},{m}\n" for i, (label, m) in enumerate(vocab)))

    def quoted(items: list[str]) -> str:
        return f'"{",".join(items)}"' if len(items) > 1 else items[0]

    lines = ["fname,labels,mids,split"]
    lines += [f"{f},{quoted(labels)},{quoted([mid[x] for x in labels])},{split}" for f, labels, split in dev]
    (gt / "dev.csv").write_text("\n".join(lines) + "\n")
    lines = ["fname,labels,mids"] + [
        f"{f},{quoted(labels)},{quoted([mid[x] for x in labels])}" for f, labels in evaluation
    ]
    (gt / "eval.csv").write_text("\n".join(lines) + "\n")
    durations = seconds if isinstance(seconds, list) else [seconds]
    for part, rows in (("dev", [(f, labels) for f, labels, _ in dev]), ("eval", evaluation)):
        folder = root / f"FSD50K.{part}_audio"
        folder.mkdir()
        for i, (fname, labels) in enumerate(rows):
            if fname in missing:
                continue
            audible = [freqs[x] for x in labels if x in freqs]
            sf.write(
                folder / f"{fname}.wav",
                tones(audible, durations[i % len(durations)], sr, seed=fname),
                sr,
                subtype="PCM_16",
            )
    return root


def write_vggsound(
    root: Path,
    rows: list[tuple[str, int, str, str]],
    freqs: dict[str, float],
    missing: frozenset[str] = frozenset(),
    media_dir: str = "video",
    extra_lines: list[str] = (),  # type: ignore[assignment]
    seconds: float = 1.0,
    sr: int = 8000,
) -> Path:
    """Headerless vggsound.csv (labels with commas quoted) + media {ytid}_{start:06d}.wav."""
    folder = root / media_dir
    folder.mkdir(parents=True)

    def field(label: str) -> str:
        return f'"{label}"' if "," in label else label

    lines = [f"{ytid},{start},{field(label)},{split}" for ytid, start, label, split in rows] + list(extra_lines)
    (root / "vggsound.csv").write_text("\n".join(lines) + "\n")
    for i, (ytid, start, label, _split) in enumerate(rows):
        stem = f"{ytid}_{start:06d}"
        if stem not in missing:
            sf.write(folder / f"{stem}.wav", tones([freqs[label]], seconds, sr, seed=i), sr, subtype="PCM_16")
    return root


TAU_SCENES = ["airport", "bus", "metro_station", "park", "street_traffic"]


def write_tau(
    root: Path,
    scenes: list[str],
    freqs: dict[str, float],
    locations: dict[str, int] | None = None,
    segments: int = 2,
    meta_folder: str | None = None,
    seconds: float = 0.5,
) -> Path:
    """audio/ + video/ + tab-separated meta.csv and evaluation_setup/fold1_*.csv (48 kHz, 24-bit, stereo).

    ``meta_folder`` puts the setup files in ``<root>/<meta_folder>/`` (the ``*.meta/`` variant).
    """
    sr = 48000
    locations = locations or {"train": 2, "evaluate": 1}
    (root / "audio").mkdir(parents=True)
    (root / "video").mkdir()
    meta_root = root / meta_folder if meta_folder else root
    (meta_root / "evaluation_setup").mkdir(parents=True)
    cities = ["lisbon", "helsinki", "vienna", "lyon"]
    rows: dict[str, list[str]] = {"train": [], "evaluate": []}
    meta = []
    n = 0
    for k, scene in enumerate(scenes):
        for split in ("train", "evaluate"):
            for j in range(locations[split]):
                ident = f"{cities[(k + j) % len(cities)]}-{100 * (k + 1) + 10 * j + (5 if split == 'evaluate' else 0)}"
                for s in range(segments):
                    stem = f"{scene}-{ident}-{4000 + 17 * s + n}"
                    n += 1
                    line = f"audio/{stem}.wav\tvideo/{stem}.mp4\t{scene}"
                    rows[split].append(line)
                    meta.append(f"{line}\t{ident}")
                    (root / "video" / f"{stem}.mp4").write_bytes(b"")  # never opened: audio only
                    sf.write(
                        root / "audio" / f"{stem}.wav",
                        tones([freqs[scene]], seconds, sr, seed=n, channels=2),
                        sr,
                        subtype="PCM_24",
                    )
    header = "filename_audio\tfilename_video\tscene_label"
    (meta_root / "meta.csv").write_text("\n".join([f"{header}\tidentifier", *meta]) + "\n")
    for split, name in (("train", "fold1_train.csv"), ("evaluate", "fold1_evaluate.csv")):
        (meta_root / "evaluation_setup" / name).write_text("\n".join([header, *rows[split]]) + "\n")
    test_lines = ["filename_audio\tfilename_video", *["\t".join(r.split("\t")[:2]) for r in rows["evaluate"]]]
    (meta_root / "evaluation_setup" / "fold1_test.csv").write_text("\n".join(test_lines) + "\n")
    return root
