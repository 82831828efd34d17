"""The dataset audit: class-disjoint folds and leakage are flagged where the number is shown (issue 12 item 3)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import ESC_HEADER, tone, write_esc50
from typer.testing import CliRunner

from bench import clipstats
from bench.audit import FEW_TRAIN, audit_dataset
from bench.cli import app
from bench.task import get_task

runner = CliRunner()
ESC_TARGETS = {0: "dog", 10: "rain", 41: "chainsaw", 7: "insects"}


def write_class_disjoint_esc50(root: Path) -> dict[int, list[str]]:
    """ESC-50 layout in which fold f holds classes 2f-2 and 2f-1 only (no other fold has them)."""
    names = ["dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow"]
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows, by_fold = [], {}
    for fold in range(1, 6):
        by_fold[fold] = names[2 * fold - 2 : 2 * fold]
        for target in (2 * fold - 2, 2 * fold - 1):
            for k in range(3):
                src = 1000 * fold + 10 * target + k
                name = f"{fold}-{src}-A-{target}.wav"
                sf.write(root / "audio" / name, tone(200 + 150 * target, 0.5, 8000, seed=src), 8000)
                rows.append([name, fold, target, names[target], "False", src, "A"])
    with (root / "meta" / "esc50.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([ESC_HEADER, *rows])
    return by_fold


def test_class_disjoint_folds_warned_recorded_and_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    by_fold = write_class_disjoint_esc50(tmp_path / "ESC-50-master")
    res = runner.invoke(
        app,
        ["run", "-e", "logmel", "-t", "esc50", "--root", f"esc50={tmp_path / 'ESC-50-master'}", "--quiet"]
        + ["--popt", "max_epochs=5", "--popt", "patience=2"],
    )
    assert res.exit_code == 0, res.output
    out = res.output
    for fold, classes in by_fold.items():
        line = next(ln for ln in out.splitlines() if f"WARNING fold {fold} tests 2 class(es)" in ln)
        assert f"no training example: {', '.join(classes)}" in line and "class-disjoint" in line
    probe_line = next(ln for ln in out.splitlines() if re.search(r"esc50\s+probe\s+ok", ln))
    assert out.index("WARNING fold 1") < out.index(probe_line)  # printed before any protocol ran
    assert "accuracy 0.0000 ± 0.0000" in probe_line and "⚑ audit: unseen-test-classes" in probe_line

    record = json.loads((tmp_path / "results" / "real" / "logmel" / "esc50.probe-mlp-v1.json").read_text())
    audit = record["audit"]
    assert audit["flags"] == ["unseen-test-classes"]
    assert audit["details"]["unseen_test_classes"] == {f"fold {f}": c for f, c in by_fold.items()}
    zeroshot = json.loads((tmp_path / "results" / "real" / "logmel" / "esc50.zeroshot-v1.json").read_text())
    assert zeroshot["status"] == "n/a"  # logmel has no text side; an n/a cell carries no mark

    board = (tmp_path / "leaderboard.md").read_text()
    real = board.split("## Real datasets")[1].split("## Paper reference")[0]
    row = next(ln for ln in real.splitlines() if ln.startswith("| logmel |"))
    assert "| 0.0000 ⚑ |" in row
    assert "### ⚑ Dataset audit warnings" in real and "**ESC-50**: fold 1 tests 2 class(es)" in real


def test_zero_shot_cells_are_not_flagged_by_training_side_problems(tmp_path: Path) -> None:
    write_class_disjoint_esc50(tmp_path / "E")
    task = get_task("esc50")
    audit = audit_dataset(task, task.loader(tmp_path / "E"), show_progress=False)
    assert audit.to_json(trains=True)["flags"] == ["unseen-test-classes"]
    assert audit.to_json(trains=False)["flags"] == [] and audit.to_json(trains=False)["dataset_flags"]


def test_duplicated_clip_across_folds_is_reported_as_leakage(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    source = sorted((root / "audio").glob("1-*-10.wav"))[0]
    shutil.copy(source, root / "audio" / "3-999999-B-10.wav")  # the same recording under another name, fold 3
    with (root / "meta" / "esc50.csv").open("a", newline="") as fh:
        csv.writer(fh).writerow(["3-999999-B-10.wav", 3, 10, "rain", "False", 999999, "B"])
    task = get_task("esc50")
    audit = audit_dataset(task, task.loader(root), show_progress=False)
    assert audit.flags == ["leakage"]
    assert audit.details["leakage_pairs"] == [[source.name, "fold 1", "3-999999-B-10.wav", "fold 3"]]  # once
    assert any(f"{source.name} (fold 1) = 3-999999-B-10.wav (fold 3)" in w for w in audit.warnings)
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root)])
    assert res.exit_code == 0 and "WARNING identical audio on both sides of a split: 1 pair(s)" in res.output


def test_silence_padding_rates_and_few_examples_are_summarised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    clips = sorted((root / "audio").glob("*.wav"))
    sf.write(clips[0], np.zeros(8000, np.float32), 8000, subtype="PCM_16")  # digital silence
    sf.write(clips[1], (1e-4 * tone(440, 1.0, 8000, 1)).astype(np.float32), 8000, subtype="FLOAT")  # −80 dBFS
    sf.write(clips[2], np.stack([tone(440, 6.0, 16000, 2)] * 2, axis=1), 16000)  # longer than 5 s, stereo
    task = get_task("esc50")
    dataset = task.loader(root)
    audit = audit_dataset(task, dataset, cache_dir=tmp_path / "cache", show_progress=False)
    assert audit.flags == []
    assert audit.details["silent"] == 1 and audit.details["near_silent"] == 1
    assert audit.details["padded"] == 19 and audit.details["cropped"] == 1
    assert audit.details["sample_rates"] == {"8000": 19, "16000": 1} and audit.details["channels"] == {"1": 19, "2": 1}
    text = "\n".join(audit.summary())
    assert "95 % of clips shorter than 5 s, padded with zeros" in text and "5 % of clips longer, cropped" in text
    assert "1 digitally silent clip(s)" in text and "1 near-silent clip(s) (peak below -60 dBFS)" in text
    # one clip per class per fold: every class has 4 training examples in every fold, fewer than FEW_TRAIN
    assert FEW_TRAIN == 5 and f"fewer than {FEW_TRAIN} training examples: chainsaw (4 in fold 1)" in text

    calls = {"n": 0}
    measure = clipstats.measure

    def counting(path: Path) -> clipstats.ClipStats:
        calls["n"] += 1
        return measure(path)

    monkeypatch.setattr(clipstats, "measure", counting)
    again = audit_dataset(task, dataset, cache_dir=tmp_path / "cache", show_progress=False)
    assert calls["n"] == 0 and again.details == audit.details  # the scan is cached per dataset


def test_cached_scan_follows_file_changes_and_other_copies(tmp_path: Path) -> None:
    """A clip repaired in place at the same size, or another copy with the same names and sizes, is measured anew."""
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    victim = sorted((root / "audio").glob("*.wav"))[3]
    broken = np.zeros(800, np.float32)
    broken[10] = np.nan
    sf.write(victim, broken, 8000, subtype="FLOAT")
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    task = get_task("esc50")
    cache = tmp_path / "cache"
    first = audit_dataset(task, task.loader(root), cache_dir=cache, show_progress=False)
    assert first.details["problems"] == {"non-finite": 1}

    size = victim.stat().st_size
    sf.write(copy / "audio" / victim.name, tone(440, 0.1, 8000, 3), 8000, subtype="FLOAT")  # repaired in the copy
    assert (copy / "audio" / victim.name).stat().st_size == size  # same names and sizes: same dataset checksum
    assert task.loader(copy).checksum() == task.loader(root).checksum()
    other = audit_dataset(task, task.loader(copy), cache_dir=cache, show_progress=False)
    assert other.details["problems"] == {}

    before = victim.stat().st_mtime_ns
    sf.write(victim, tone(440, 0.1, 8000, 3), 8000, subtype="FLOAT")  # repaired in place, same size
    os.utime(victim, ns=(before + 10**9, before + 10**9))  # a later edit (coarse file clocks could repeat `before`)
    assert victim.stat().st_size == size
    again = audit_dataset(task, task.loader(root), cache_dir=cache, show_progress=False)
    assert again.details["problems"] == {}
