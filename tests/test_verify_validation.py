"""`bench data verify` lists every problem in one pass; loaders validate their metadata (issue 12 item 2, issue 15).

Each issue-15 case failed on the code before: fold 6 or 0, an exact duplicate row, one file
in two folds, one file with two labels were all "OK" in verify and loaded; a float WAV with
samples near 5e29 was "OK"; missing files were recorded but not printed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import write_esc50, write_us8k
from typer.testing import CliRunner

from bench.cli import app
from bench.task import get_task
from bench.verify import verify
from tasks._csv import MetadataError

runner = CliRunner()
ESC_TARGETS = {0: "dog", 10: "rain", 41: "chainsaw", 7: "insects"}

Rows = list[list[str]]


def edit_csv(path: Path, change: Callable[[Rows], Rows]) -> None:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(change(rows))


def with_fold(row: list[str], fold: str, column: int = 1) -> list[str]:
    return [*row[:column], fold, *row[column + 1 :]]


ESC_CASES: dict[str, tuple[Callable[[Rows], Rows], str, str]] = {
    "fold 6": (lambda r: [r[0], with_fold(r[1], "6"), *r[2:]], "fold out of range", "line 2: .*fold must be 1..5"),
    "fold 0": (lambda r: [r[0], with_fold(r[1], "0"), *r[2:]], "fold out of range", "line 2: .*got 0"),
    "exact duplicate row": (lambda r: [*r, r[3]], "duplicate row", r"line 22: .* repeats line 4 exactly"),
    "one file in two folds": (
        lambda r: [*r, with_fold(r[3], "5")],
        "file in several folds",
        r"line 22: \S+ is in fold 5 here but in fold 1 at line 4",
    ),
    "one file with two labels": (
        lambda r: [*r, [*r[3][:2], "41", "chainsaw", *r[3][4:]]],
        "file with several labels",
        r"line 22: \S+ is labelled 41 \(chainsaw\) here but 10 \(rain\) at line 4",
    ),
}


@pytest.mark.parametrize("case", list(ESC_CASES))
def test_esc50_metadata_defects_fail_verify_and_run_with_one_message(tmp_path: Path, case: str) -> None:
    change, kind, pattern = ESC_CASES[case]
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    edit_csv(root / "meta" / "esc50.csv", change)
    with pytest.raises(MetadataError, match=pattern) as info:
        get_task("esc50").loader(root)
    assert [p.kind for p in info.value.problems] == [kind]
    message = info.value.problems[0].text()
    assert message.startswith(str(root / "meta" / "esc50.csv")) and ";" in message  # file, line, then the fix
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root), "--no-decode"])
    assert res.exit_code == 1 and f"{kind}: 1" in res.output and message in res.output
    res = runner.invoke(
        app, ["run", "-e", "logmel", "-t", "esc50", "--root", f"esc50={root}", "--quiet", "--no-leaderboard"]
    )
    assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output


def test_us8k_duplicate_row_two_folds_and_fold_range(tmp_path: Path) -> None:
    root = write_us8k(tmp_path / "U", ["air_conditioner", "car_horn"], per_fold=1)
    edit_csv(
        root / "metadata" / "UrbanSound8K.csv",
        lambda r: [*r, r[2], with_fold(r[3], "4", 5), with_fold(r[4], "11", 5)],
    )
    with pytest.raises(MetadataError) as info:
        get_task("urbansound8k").loader(root)
    assert [(p.kind, p.line) for p in info.value.problems] == [
        ("duplicate row", 22),
        ("file in several folds", 23),
        ("fold out of range", 24),
    ]


def _five_defects(root: Path) -> dict[str, str]:
    """missing, unreadable, empty, non-finite (5e29), malformed row, unknown label, duplicate row."""
    audio = sorted((root / "audio").glob("*.wav"))
    audio[0].unlink()  # missing
    audio[1].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")  # unreadable
    audio[2].write_bytes(b"")  # empty
    sf.write(audio[3], np.full(800, 5e29, np.float32), 8000, subtype="FLOAT")  # finite, but features overflow
    edit_csv(
        root / "meta" / "esc50.csv",
        lambda r: [*r, ["9-1-A-0.wav", "x", "0", "dog", "False", "1", "A"], [*r[9][:3], "kitten", *r[9][4:]], r[12]],
    )
    return {
        "missing": audio[0].name,
        "unreadable": audio[1].name,
        "empty": audio[2].name,
        "non-finite": audio[3].name,
        "malformed row": "line 22",
        "unknown label": "line 23",
        "duplicate row": "line 24",
    }


def test_verify_lists_every_problem_in_one_pass_and_as_json(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    expected = _five_defects(root)
    report = verify(get_task("esc50"), root)
    found = {kind: [f.where for f in items] for kind, items in report.by_kind().items()}
    assert set(found) == set(expected)
    for kind, where in expected.items():
        assert len(found[kind]) == 1 and where in found[kind][0], (kind, found[kind])
    assert "5e+29" in report.of("non-finite")[0].detail and "overflow" in report.of("non-finite")[0].detail
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root)])
    assert res.exit_code == 1
    for kind in expected:
        assert f"  {kind}: 1" in res.output
    assert "PROBLEMS FOUND: 7 in 7 kind(s)" in res.output
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root), "--json"])
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert data["ok"] is False and {k: v["count"] for k, v in data["problems"].items()} == dict.fromkeys(expected, 1)
    assert data["problems"]["missing"]["items"][0]["where"] == expected["missing"]


def test_verify_flags_nan_samples_and_a_clean_copy_passes(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    assert verify(get_task("esc50"), root).ok
    victim = sorted((root / "audio").glob("*.wav"))[4]
    wave = np.zeros(800, np.float32)
    wave[10] = np.nan
    sf.write(victim, wave, 8000, subtype="FLOAT")
    report = verify(get_task("esc50"), root)
    assert [(f.kind, f.where) for f in report.findings] == [("non-finite", victim.name)]


def test_verify_unknown_task_and_no_root_are_errors_not_tracebacks() -> None:
    res = runner.invoke(app, ["data", "verify", "esc5O", "--root", "."])
    assert res.exit_code != 0 and "Did you mean 'esc50'" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)  # a message, not a traceback
    res = runner.invoke(app, ["data", "verify", "esc50"])
    assert res.exit_code == 2 and "--root" in res.output


def test_missing_files_are_printed_when_a_run_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=2, missing=3)
    res = runner.invoke(
        app,
        ["run", "-e", "logmel", "-t", "esc50", "--root", f"esc50={root}", "--quiet", "--no-leaderboard"]
        + ["--popt", "max_epochs=3"],
    )
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if "missing" in ln and "listed in the metadata" in ln)
    assert "3 file(s)" in line and "1-900000-A-0.wav, 1-900001-A-0.wav, 1-900002-A-0.wav" in line
    assert res.output.index(line) < res.output.index("probe")  # before any protocol
