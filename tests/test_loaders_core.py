"""ESC-50 and UrbanSound8K loaders on hand-written fixtures in the real layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import write_esc50, write_us8k

from bench.audio import load_audio
from bench.task import get_task
from bench.verify import verify
from tasks._csv import MetadataError

ESC_TARGETS = {0: "dog", 10: "rain", 41: "chainsaw", 7: "insects"}


def test_esc50_layout_folds_vocab_and_groups(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "ESC-50-master", ESC_TARGETS, per_fold=2, esc10={"dog", "rain", "chainsaw"})
    ds = get_task("esc50").loader(root)
    assert len(ds.clips) == 5 * 4 * 2
    # vocabulary comes from the CSV, ordered by the original target number, re-indexed densely
    assert ds.classes == ["dog", "insects", "rain", "chainsaw"]
    by_name = {c.id: c for c in ds.clips}
    clip = next(c for c in ds.clips if c.id.endswith("-41.wav"))
    assert ds.classes[clip.target] == "chainsaw"  # type: ignore[index]
    assert {c.fold for c in ds.clips} == {1, 2, 3, 4, 5}
    assert all(c.id.startswith(f"{c.fold}-") for c in by_name.values())
    assert all(c.path == root / "audio" / c.id for c in ds.clips)
    assert all(c.group is not None and c.group.startswith("src") for c in ds.clips)


def test_esc10_subset_and_found_under_data_root(tmp_path: Path) -> None:
    write_esc50(tmp_path / "ESC-50-master", ESC_TARGETS, per_fold=1, esc10={"dog", "rain"})
    task = get_task("esc10")
    root = task.find_root(tmp_path)
    assert root == tmp_path / "ESC-50-master"
    ds = task.loader(root)
    assert ds.classes == ["dog", "rain"]
    assert sorted({c.target for c in ds.clips}) == [0, 1]
    assert len(ds.clips) == 10


def test_esc50_missing_file_is_reported_not_loaded(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1, missing=2)
    ds = get_task("esc50").loader(root)
    assert len(ds.clips) == 20 and len(ds.missing) == 2
    assert all("absent" in m.reason for m in ds.missing)


def test_esc50_bad_metadata_names_file_and_line(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    csv_path = root / "meta" / "esc50.csv"
    lines = csv_path.read_text().splitlines()
    lines[3] = lines[3].replace(",1,", ",one,", 1)
    csv_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MetadataError, match=r"esc50\.csv, line 4: column 'fold'"):
        get_task("esc50").loader(root)
    csv_path.write_text("filename,fold,target\n")
    with pytest.raises(MetadataError, match="lacks column"):
        get_task("esc50").loader(root)


def test_us8k_layout_mixed_rates_channels_depths(tmp_path: Path) -> None:
    classes = ["air_conditioner", "car_horn", "children_playing", "dog_bark"]
    root = write_us8k(tmp_path / "UrbanSound8K", classes, per_fold=1)
    ds = get_task("urbansound8k").loader(root)
    assert len(ds.clips) == 40 and ds.classes == classes
    assert {c.fold for c in ds.clips} == set(range(1, 11))
    infos = {
        (sf.info(str(c.path)).samplerate, sf.info(str(c.path)).channels, sf.info(str(c.path)).subtype) for c in ds.clips
    }
    assert {r for r, _, _ in infos} >= {22050, 44100, 48000}
    assert any(ch == 2 for _, ch, _ in infos) and any(s == "PCM_24" for _, _, s in infos)
    for c in ds.clips:
        assert c.path == root / "audio" / f"fold{c.fold}" / c.path.name and c.id == f"fold{c.fold}/{c.path.name}"
        wave, sr = load_audio(c.path, sample_rate=16000)
        assert sr == 16000 and wave.ndim == 1 and np.isfinite(wave).all()
        padded = get_task("urbansound8k").clip_policy.apply(wave, 16000)
        assert len(padded) == 64000


def test_verify_reports_missing_and_corrupt(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1, missing=1)
    victim = sorted((root / "audio").glob("*.wav"))[0]
    victim.write_bytes(b"RIFF\x00\x00")
    report = verify(get_task("esc50"), root)
    assert len(report.of("missing")) == 1 and len(report.of("unreadable")) == 1
    assert report.of("unreadable")[0].where == victim.name
    assert "PROBLEMS FOUND" in report.text()
