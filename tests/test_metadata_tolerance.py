"""Real copies of metadata: what spreadsheets and other tools write is accepted, what would change results is not.

Issue 12 item 1 / must-show 1 and issue 15 item 6: a re-saved ESC-50 CSV gives the same
dataset and the same numbers; an undecodable CSV names the file, the first bad byte and the
fix (``--encoding``, which then works); a header still wrong after BOM/case/space handling is named.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from fixtures import write_esc50
from helpers import result_file
from typer.testing import CliRunner

from bench.cli import app
from bench.datasets import resolve_dataset
from bench.demo import ensure_demo
from bench.task import Dataset, get_task
from tasks._csv import MetadataError

runner = CliRunner()
ESC_TARGETS = {0: "dog", 10: "rain", 41: "chainsaw", 7: "insects"}


def spreadsheet_resave(src: Path, dst: Path) -> None:
    """What a spreadsheet writes: BOM, CRLF, TRUE/FALSE, padded fields, no final newline, an extra column."""
    with src.open(newline="") as fh:
        rows = list(csv.reader(fh))
    out = []
    for i, row in enumerate(rows):
        if i == 0:
            out.append([f" {row[0]}", *row[1:], "Notes"])
            continue
        row = list(row)
        row[4] = row[4].upper()  # True → TRUE, False → FALSE
        out.append([f"{row[0]} ", f" {row[1]}", *row[2:], "re-saved"])
    text = "\r\n".join(",".join(r) for r in out)  # CRLF, and no newline after the last row
    dst.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))


def _clip_table(ds: Dataset) -> list[tuple[object, ...]]:
    return [(c.id, c.target, c.fold, c.group, c.path.name) for c in ds.clips]


def test_spreadsheet_resaved_demo_esc50_gives_the_same_dataset_and_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_DEMO_SCALE", "0.25")
    monkeypatch.chdir(tmp_path)
    original = ensure_demo("esc50", tmp_path / "demo")
    copy = tmp_path / "resaved" / "ESC-50-master"
    (copy / "meta").mkdir(parents=True)
    (copy / "audio").symlink_to(original / "audio")
    spreadsheet_resave(original / "meta" / "esc50.csv", copy / "meta" / "esc50.csv")
    raw = (copy / "meta" / "esc50.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b"TRUE" in raw and b"FALSE" in raw
    assert not raw.endswith(b"\n")

    task = get_task("esc50")
    a, b = task.loader(original), task.loader(copy)
    assert _clip_table(a) == _clip_table(b) and a.classes == b.classes
    assert a.checksum() == b.checksum()  # the same embeddings and results are reused for the copy
    esc10 = get_task("esc10")
    assert _clip_table(esc10.loader(original)) == _clip_table(esc10.loader(copy))  # TRUE/FALSE read as True/False

    args = ["run", "--encoder", "logmel", "--task", "esc50", "--protocol", "probe", "--quiet", "--no-leaderboard"]
    args += ["--popt", "max_epochs=15", "--popt", "patience=3"]
    first = runner.invoke(app, [*args, "--results", "r1"])
    second = runner.invoke(app, [*args, "--results", "r2", "--root", f"esc50={copy}"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    rec1 = json.loads(result_file(tmp_path / "r1", "demo", "logmel", "esc50.probe-mlp-v1.json").read_text())
    rec2 = json.loads(next((tmp_path / "r2").glob("*/logmel/*/esc50.probe-mlp-v1.json")).read_text())
    assert rec1["summary"] == rec2["summary"] and rec1["predictions"] == rec2["predictions"]


def test_booleans_in_any_case_and_bad_ones_named(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1, esc10={"dog", "rain"})
    meta = root / "meta" / "esc50.csv"
    spellings = iter(["TRUE", "true", "1", "True"] * 10)
    falses = iter(["FALSE", "false", "0", "False"] * 10)
    lines = meta.read_text().splitlines()
    fixed = [lines[0]] + [
        ln.replace(",True,", f",{next(spellings)},").replace(",False,", f",{next(falses)},") for ln in lines[1:]
    ]
    meta.write_text("\n".join(fixed) + "\n")
    assert len(get_task("esc10").loader(root).clips) == 10  # 2 classes × 5 folds, whatever the spelling
    fixed[3] = fixed[3].replace(fixed[3].split(",")[4], "yes")
    meta.write_text("\n".join(fixed) + "\n")
    with pytest.raises(MetadataError, match=r"esc50\.csv, line 4: column 'esc10' should be True or False, got 'yes'"):
        get_task("esc50").loader(root)


def _encode_category(root: Path, name: str, encoding: str) -> Path:
    meta = root / "meta" / "esc50.csv"
    meta.write_bytes(meta.read_text().replace("dog", name).encode(encoding))
    return meta


@pytest.mark.parametrize(("name", "encoding"), [("chien-\u00e9", "latin-1"), ("\uac1c", "cp949")])
def test_undecodable_csv_names_file_byte_and_fix_and_encoding_option_reads_it(
    tmp_path: Path, name: str, encoding: str
) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    meta = _encode_category(root, name, encoding)
    data = meta.read_bytes()
    first_bad = next(i for i, byte in enumerate(data) if byte >= 0x80)  # independent of the decoder
    line = data[:first_bad].count(b"\n") + 1
    with pytest.raises(MetadataError) as info:
        get_task("esc50").loader(root)
    message = str(info.value)
    assert str(meta) in message and f"line {line}" in message
    assert f"byte 0x{data[first_bad]:02x} at offset {first_bad}" in message
    assert "--encoding" in message and "re-save the file as UTF-8" in message
    for command in (["data", "verify", "esc50", "--root", str(root)], ["run", "-e", "logmel", "-t", "esc50"]):
        extra = [] if command[0] == "data" else ["--root", f"esc50={root}", "--quiet", "--no-leaderboard"]
        res = runner.invoke(app, [*command, *extra])
        assert res.exit_code == 1 and f"offset {first_bad}" in res.output and "Traceback" not in res.output
    ds = resolve_dataset(get_task("esc50"), roots={"esc50": root}, encoding=encoding)
    assert name in ds.classes
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root), "--encoding", encoding, "--no-decode"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root), "--encoding", "klingon"])
    assert res.exit_code == 1 and "not a known text encoding" in res.output


def test_header_still_wrong_is_named(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    meta = root / "meta" / "esc50.csv"
    text = meta.read_text()
    meta.write_text(text.replace("filename,", " FileName ,", 1))  # case and spaces: accepted
    assert len(get_task("esc50").loader(root).clips) == 20
    meta.write_text(text.replace("filename,", "filenme,", 1))
    with pytest.raises(MetadataError, match=r"line 1: header .* lacks column\(s\) \['filename'\].*'filenme' meant"):
        get_task("esc50").loader(root)
    # a UTF-8 file read as latin-1: its BOM shows up as 'ï»¿' and is named
    meta.write_bytes(b"\xef\xbb\xbf" + text.encode())
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root), "--encoding", "latin-1"])
    assert res.exit_code == 1 and "byte-order mark" in res.output and "drop --encoding" in res.output


def test_strict_where_a_guess_would_change_results(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "E", ESC_TARGETS, per_fold=1)
    meta = root / "meta" / "esc50.csv"
    lines = meta.read_text().splitlines()
    cells = lines[5].split(",")
    lines[5] = ",".join([cells[0], cells[1], cells[2], "puppy", *cells[4:]])  # target 0 under a second name
    lines[7] = lines[7].replace(f",{lines[7].split(',')[1]},", ",1.5,", 1)  # a fold that is not an integer
    meta.write_text(os.linesep.join(lines))
    with pytest.raises(MetadataError) as info:
        get_task("esc50").loader(root)
    kinds = {p.kind for p in info.value.problems}
    assert kinds == {"unknown label", "malformed row"}
    assert "line 6: target" in str(info.value) and "line 8: column 'fold' should be an integer" in str(info.value)
