"""Bring your own dataset: ``--task csv:…`` and ``--task files:…`` become tasks without Python (issue 12 item 4)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import tone
from typer.testing import CliRunner

from bench.cli import app
from bench.task import get_task
from tasks._csv import MetadataError

runner = CliRunner()
FREQS = ("300", "900", "2700")  # label = the tone's frequency, so the test `texty` encoder can zero-shot it


def write_folder(root: Path, speakers: int = 6, per: int = 3, rate: int = 8000) -> list[list[str]]:
    """clips/{freq}_{speaker}_{k}.wav and the rows of a labels.csv (file, label, group)."""
    (root / "clips").mkdir(parents=True)
    rows = []
    for s in range(speakers):
        for label in FREQS:
            for k in range(per):
                name = f"clips/{label}_spk{s}_{k}.wav"
                sf.write(root / name, tone(float(label), 0.4 + 0.1 * k, rate, seed=100 * s + k), rate)
                rows.append([name, label, f"spk{s}"])
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


@pytest.mark.usefixtures("with_test_encoders")
def test_csv_task_runs_every_classification_protocol_with_generated_group_folds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "My Tones"
    labels = write_csv(data / "labels.csv", ["file", "label", "group"], write_folder(data))
    spec = f"csv:{labels}"
    res = runner.invoke(
        app,
        ["run", "-e", "logmel,texty", "-t", spec, "--quiet", "--popt", "max_epochs=40", "--popt", "patience=5"],
    )
    assert res.exit_code == 0, res.output
    assert "audit my_tones: 54 clips, 3 classes, 5 folds" in res.output
    results = tmp_path / "results" / "real"
    probe = json.loads((results / "logmel" / "my_tones.probe-mlp-v1.json").read_text())
    assert probe["task"]["source"]["folds"] == "5 stratified group folds (generated)"
    assert probe["task"]["source"]["fold_seed"] == 0 and probe["task"]["source"]["spec"] == spec
    assert probe["summary"]["accuracy"]["mean"] > 0.9  # three pure tones
    assert (results / "logmel" / "my_tones.probe-mlp-v1.confusion.png").read_bytes()[:4] == b"\x89PNG"
    zeroshot = json.loads((results / "texty" / "my_tones.zeroshot-v1.json").read_text())
    assert zeroshot["status"] == "ok" and zeroshot["summary"]["accuracy"]["mean"] == 1.0  # prompts name the class

    ds = get_task(spec).loader(data)
    folds_of_group: dict[str, set[int]] = {}
    for c in ds.clips:
        folds_of_group.setdefault(str(c.group), set()).add(int(c.fold))  # type: ignore[arg-type]
    assert all(len(f) == 1 for f in folds_of_group.values())  # a speaker never sits on both sides
    assert sorted(Counter(c.fold for c in ds.clips).values()) == [9, 9, 9, 9, 18]  # 6 speakers into 5 folds
    assert all(len({c.target for c in ds.clips if c.fold == f}) == 3 for f in range(1, 6))  # stratified

    board = (tmp_path / "leaderboard.md").read_text()
    table = board.split("### Your datasets")[1].split("###")[0]
    assert "| Model | My Tones<br>ACC |" in table
    assert re.search(r"^\| texty \(ZS\) \| 1\.0000 \|$", table, re.M)

    res = runner.invoke(
        app,
        ["sweep", "fractions", "-e", "logmel", "-t", spec, "--fractions", "50,100", "--seeds", "1"]
        + ["--popt", "max_epochs=20", "--popt", "patience=3", "--quiet"],
    )
    assert res.exit_code == 0, res.output
    assert (results / "logmel" / "my_tones.probe-mlp-v1-frac50.json").is_file()


def test_generated_folds_are_seeded_and_independent_of_row_order(tmp_path: Path) -> None:
    rows = write_folder(tmp_path, speakers=10, per=2)
    a = write_csv(tmp_path / "a.csv", ["file", "label", "group"], rows)
    b = write_csv(tmp_path / "b.csv", ["Label", "group", "FILE"], [[r[1], r[2], r[0]] for r in reversed(rows)])

    def folds(spec: str) -> dict[str, int | None]:
        task = get_task(spec)
        return {c.id: c.fold for c in task.loader(tmp_path).clips}

    assert folds(f"csv:{a}") == folds(f"csv:{b}")  # same clips, same folds, whatever the row and column order
    assert folds(f"csv:{a}:seed=1:name=a1") != folds(f"csv:{a}")
    assert get_task(f"csv:{a}:seed=1:name=a1").source["fold_seed"] == 1  # type: ignore[index]
    three = get_task(f"csv:{a}:folds=3:name=a3")
    assert three.folds == (1, 2, 3) and set(folds(f"csv:{a}:folds=3:name=a3").values()) == {1, 2, 3}


def test_file_name_pattern_with_groups_as_folds(tmp_path: Path) -> None:
    write_folder(tmp_path / "set", speakers=4, per=2)
    (tmp_path / "set" / "clips" / "README.txt").write_text("not audio")
    task = get_task(f"files:{tmp_path}/set/clips/{{label}}_{{group}}_{{index}}.wav:folds=groups:title=Tones")
    assert task.name == "set" and task.title == "Tones"  # "clips" is a generic folder name: its parent names it
    ds = task.loader(tmp_path)
    assert len(ds.clips) == 24 and ds.classes == sorted(FREQS)
    assert task.folds == (1, 2, 3, 4) and task.source["fold_names"] == {  # type: ignore[index]
        "1": "spk0",
        "2": "spk1",
        "3": "spk2",
        "4": "spk3",
    }
    assert all(f"_spk{c.fold - 1}_" in c.id for c in ds.clips)  # type: ignore[operator]
    given = get_task(f"files:{tmp_path}/set/clips/{{label}}_{{fold}}_{{index}}.wav:name=byfold")
    assert {c.fold for c in given.loader(tmp_path).clips} == {1, 2, 3, 4}


def test_multilabel_csv_splits_and_what_is_refused(tmp_path: Path) -> None:
    rows = write_folder(tmp_path, speakers=2, per=2)
    multi = [
        [f, f"{label};{'900' if label != '900' else '300'}", "train" if i % 3 else "test"]
        for i, (f, label, _) in enumerate(rows)
    ]
    task = get_task(f"csv:{write_csv(tmp_path / 'm.csv', ['file', 'labels', 'split'], multi)}")
    assert task.kind == "multilabel" and task.metrics == ("mAP",) and task.folds == ()
    ds = task.loader(tmp_path)
    assert all(len(c.targets) == 2 for c in ds.clips) and {c.split for c in ds.clips} == {"train", "test"}

    bad = write_csv(tmp_path / "bad.csv", ["file", "label"], [*[r[:2] for r in rows], rows[0][:2], ["gone.wav", "300"]])
    spec = f"csv:{bad}"
    task = get_task(spec)
    with pytest.raises(MetadataError, match=r"bad\.csv, line 14: clips/\S+ repeats line 2 exactly") as info:
        task.loader(tmp_path)
    assert info.value.dataset is not None and [m.id for m in info.value.dataset.missing] == ["gone.wav"]
    for wrong, message in [
        (f"csv:{bad}:fodls=3", "unknown option 'fodls'. Did you mean 'folds'"),
        (f"csv:{bad}:folds=1", "folds='1': use given, groups, or a number of folds"),
        (f"csv:{bad}:name=esc50", "'esc50' is a registered task; give it another with :name=NAME"),
        (f"csv:{bad}:folds=groups", "folds=groups needs a group column"),
        (f"csv:{tmp_path}/none.csv", "no such CSV file"),
        (f"files:{tmp_path}/clips/{{index}}.wav", "the pattern needs a {label} field"),
    ]:
        res = runner.invoke(app, ["run", "-e", "logmel", "-t", wrong, "--quiet", "--no-leaderboard"])
        assert res.exit_code != 0 and message in res.output, (wrong, res.output)


def _fsdd() -> Path | None:
    """``shared/data/fsdd`` beside the project or one of its parents (where the project's README says)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "fsdd" / "recordings"
        if candidate.is_dir():
            return candidate
    return None


FSDD = _fsdd()


@pytest.mark.skipif(FSDD is None, reason="the FSDD recordings (../shared/data/fsdd) are not on this machine")
def test_fsdd_leave_one_speaker_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert FSDD is not None
    monkeypatch.chdir(tmp_path)
    whole = get_task(f"files:{FSDD}/{{label}}_{{group}}_{{index}}.wav:folds=groups")
    assert whole.name == "fsdd" and len(whole.folds) == 6
    assert set(whole.source["fold_names"].values()) == {  # type: ignore[index]
        "george", "jackson", "lucas", "nicolas", "theo", "yweweler"
    }  # fmt: skip
    # a subset keeps the test cheap: indices 0-7 of every digit and speaker (480 real recordings)
    rows = [[str(p), p.name.split("_")[0], p.name.split("_")[1]] for p in sorted(FSDD.glob("*_*_[0-7].wav"))]
    assert len(rows) == 480
    subset = write_csv(tmp_path / "fsdd_subset.csv", ["file", "label", "group"], rows)
    res = runner.invoke(
        app,
        ["run", "-e", "logmel", "-t", f"csv:{subset}:folds=groups:name=fsdd8", "--quiet", "--no-leaderboard"]
        + ["--popt", "max_epochs=60", "--popt", "patience=10"],
    )
    assert res.exit_code == 0, res.output
    assert "8000 Hz ×480; mono ×480" in res.output
    record = json.loads((tmp_path / "results" / "real" / "logmel" / "fsdd8.probe-mlp-v1.json").read_text())
    assert [f["n_test"] for f in record["folds"]] == [80] * 6  # one speaker per fold
    accuracies = np.array([f["metrics"]["accuracy"] for f in record["folds"]])
    assert accuracies.mean() > 0.2  # ten digits: chance is 0.1, on speakers never heard in training
