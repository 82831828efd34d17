"""The pretrained encoders on real recordings: FSDD (spoken digits) as an ESC-50-layout copy.

Until bench reads a bring-your-own dataset directly, the FSDD recordings are laid out as ESC-50
(``meta/esc50.csv`` + ``audio/`` symlinks; nothing is copied into the repository) and run
through the ordinary ``bench run --task esc50 --root esc50=DIR`` path, so the data are "real"
(no demo marker) and the stand-in refusals would apply. Folds are speaker-independent: george,
jackson, lucas, nicolas in folds 1-4, theo and yweweler in fold 5; ``src_file`` is the speaker,
so validation carving keeps a speaker's clips together too. ``BENCH_FSDD_PER_CELL`` (default 2)
recordings per speaker and digit: 120 clips. Skips where the FSDD folder is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPEAKER_FOLD = {"george": 1, "jackson": 2, "lucas": 3, "nicolas": 4, "theo": 5, "yweweler": 5}


def find_fsdd() -> Path | None:
    """``$BENCH_FSDD`` or ``shared/data/fsdd`` beside the project (or beside a folder above it)."""
    if os.environ.get("BENCH_FSDD"):
        return Path(os.environ["BENCH_FSDD"])
    for parent in ROOT.parents:
        if (parent / "shared" / "data" / "fsdd" / "recordings").is_dir():
            return parent / "shared" / "data" / "fsdd"
    return None


def esc50_layout(fsdd: Path, out: Path, per_cell: int) -> Path:
    (out / "meta").mkdir(parents=True)
    (out / "audio").mkdir()
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for digit, word in enumerate(DIGITS):
        for speaker, fold in SPEAKER_FOLD.items():
            for index in range(per_cell):
                src = fsdd / "recordings" / f"{digit}_{speaker}_{index}.wav"
                name = f"{fold}-{speaker}{index}-A-{digit}.wav"
                (out / "audio" / name).symlink_to(src)
                rows.append(f"{name},{fold},{digit},{word},False,{speaker},A")
    (out / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    return out


@pytest.mark.slow
def test_crepe_and_birdnet_on_fsdd_spoken_digits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsdd = find_fsdd()
    if fsdd is None or not (fsdd / "recordings").is_dir():
        pytest.skip("FSDD recordings not found (../shared/data/fsdd beside the project, or $BENCH_FSDD)")
    per_cell = int(os.environ.get("BENCH_FSDD_PER_CELL", "2"))
    data = esc50_layout(fsdd, tmp_path / "FSDD-as-ESC-50", per_cell)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(
        app,
        [
            "run",
            "--encoder",
            "crepe,birdnet",
            "--task",
            "esc50",
            "--root",
            f"esc50={data}",
            "--protocol",
            "probe",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    results = Path(os.environ["BENCH_RESULTS"])
    for name in ("crepe", "birdnet"):
        rec = json.loads((results / "real" / name / "esc50.probe-mlp-v1.json").read_text())
        assert rec["data"]["kind"] == "real" and rec["data"]["n_clips"] == 60 * per_cell
        assert rec["encoder"]["label"] == name and len(rec["folds"]) == 5
        acc = rec["summary"]["accuracy"]
        print(
            f"FSDD ({60 * per_cell} clips, speaker-independent folds) {name}: "
            f"accuracy {acc['mean']:.4f} ± {acc['std']:.4f}"
        )
        # ten digits: chance is 0.1. Seen here with 120 clips: crepe 0.22 ± 0.05 (a pitch model: little
        # about which digit, across speakers), birdnet 0.53 ± 0.09.
        assert acc["mean"] > 0.15, acc
