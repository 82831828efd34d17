"""Hand-written DESED and Clotho trees in the real layouts (independent of the demo generators)."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from fixtures import tone


def write_desed(root: Path, sr: int = 8000) -> Path:
    """Three clips: overlapping events, one clip with empty fields, one with only its name; one missing."""
    audio = root / "audio" / "validation" / "validation"
    meta = root / "metadata" / "validation"
    audio.mkdir(parents=True)
    meta.mkdir(parents=True)
    lines = [
        "filename\tonset\toffset\tevent_label",
        "Y-abc_defghij_30.000_40.000.wav\t0.000\t1.500\tDog",
        "Y-abc_defghij_30.000_40.000.wav\t1.000\t3.000\tSpeech",
        "YU0Cg_t_3TdI_30.000_40.000.wav\t\t\t",
        "Yxyz12345678_0.000_10.000.wav",
        "Ymissing0000_0.000_10.000.wav\t0.500\t2.000\tCat",
    ]
    (meta / "validation.tsv").write_text("\n".join(lines) + "\n")
    sf.write(audio / "Y-abc_defghij_30.000_40.000.wav", tone(440, 3.0, sr, seed=1), sr)
    sf.write(audio / "YU0Cg_t_3TdI_30.000_40.000.wav", tone(660, 2.5, sr, seed=2), sr)
    sf.write(audio / "Yxyz12345678_0.000_10.000.wav", tone(880, 2.0, sr, seed=3), sr)
    return root


CLOTHO_CAPTIONS = {
    "development": [
        (
            " Ambience Birds.wav",
            [
                "Birds chirp.",
                "Many birds are chirping.",
                '"Birds, lots of them, chirp."',
                "Birds sing.",
                "Birds tweet loudly.",
            ],
        ),
        (
            "Rain, wind and thunder.wav",
            ["Rain falls.", "It rains hard.", "Rain and wind.", "Thunder, then rain.", "Heavy rain."],
        ),
    ],
    "validation": [
        ("Dog (barking) 2.wav", ["A dog barks.", "Dog barking.", "The dog barks.", "A dog is barking.", "Barking dog."])
    ],
    "evaluation": [
        ("Engine idle.wav", ["An engine idles.", "A motor runs.", "Engine running.", "A car idles.", "An engine hums."])
    ],
}


def write_clotho(root: Path, sr: int = 8000) -> Path:
    """Caption CSVs (UTF-8, quoted commas), latin-1 metadata with non-ASCII, audio dirs; one missing file."""
    import csv

    for k, (split, rows) in enumerate(CLOTHO_CAPTIONS.items()):
        (root / split).mkdir(parents=True)
        with (root / f"clotho_captions_{split}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5"])
            for name, caps in rows:
                w.writerow([name, *caps])
                sf.write(root / split / name, tone(300 + 100 * k, 1.5, sr, seed=k), sr)
            if split == "evaluation":
                w.writerow(["Gone.wav", "a", "b", "c", "d", "e"])
        with (root / f"clotho_metadata_{split}.csv").open("w", newline="", encoding="latin-1") as fh:
            w = csv.writer(fh)
            w.writerow(
                ["file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer", "license"]
            )
            for name, _ in rows:
                w.writerow([name, "café;nature", "327673", "https://freesound.org/s/1", "", "José_Müller", "cc0"])
    return root
