"""``bench report compare`` and the leaderboard's significance marks, on records from real runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import toy_task
from helpers import CountingEncoder
from typer.testing import CliRunner

from bench.cli import app
from bench.encoder import ENCODERS
from bench.reports.leaderboard import render
from bench.results import ResultsStore
from bench.runner import RunOptions, run
from bench.task import TASKS


class Twin(CountingEncoder):
    """The counting encoder under another name: identical embeddings, so identical predictions."""

    name = "twin"


class Muffled(CountingEncoder):
    """The counting features buried in noise: a clearly worse encoder on the same clips."""

    name = "muffled"

    def embed(self, waves):  # type: ignore[no-untyped-def]
        clean = super().embed(waves)
        seeds = [int(np.abs(w[:400]).sum() * 1e6) % 2**32 for w in waves]  # per clip, from its content
        noise = np.stack([np.random.default_rng(s).normal(0, 25.0, clean.shape[1]) for s in seeds])
        return (clean + noise).astype(np.float32)


@pytest.fixture()
def toy_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """counting and twin (identical audio features, so identical predictions) and muffled, on the toy task."""
    monkeypatch.chdir(tmp_path)
    with (
        TASKS.registered("toy", toy_task.TASK, origin="tests"),
        ENCODERS.registered("counting", CountingEncoder, origin="tests"),
        ENCODERS.registered("twin", Twin, origin="tests"),
        ENCODERS.registered("muffled", Muffled, origin="tests"),
    ):
        opts = RunOptions(
            results_dir=tmp_path / "results",
            cache_dir=tmp_path / "cache",
            show_progress=False,
            protocols=["knn"],
            log=lambda m: None,
        )
        assert {o.status for o in run(["counting", "twin", "muffled"], ["toy"], opts)} == {"ok"}
        yield tmp_path / "results"


def test_compare_identical_encoders_gives_p_one_and_a_worse_one_a_small_p(toy_results: Path) -> None:
    runner = CliRunner()
    same = runner.invoke(
        app, ["report", "compare", "--task", "toy", "--encoder", "counting", "--vs", "twin", "--protocol", "knn"]
    )
    assert same.exit_code == 0, same.output
    row = next(line for line in same.output.splitlines() if line.startswith("accuracy "))
    assert re.search(r"\+0\.0000\s+\[\+0\.0000, \+0\.0000\]\s+1$", row), row
    assert "no significant difference" in same.output and "36 test items scored by both" in same.output
    worse = runner.invoke(
        app, ["report", "compare", "--task", "toy", "--encoder", "counting", "--vs", "muffled", "--protocol", "knn"]
    )
    assert worse.exit_code == 0, worse.output
    store = ResultsStore(toy_results)
    a = store.find("demo", "counting", "toy", "probe-knn-v1")
    b = store.find("demo", "muffled", "toy", "probe-knn-v1")
    assert a is not None and b is not None
    diff = a.summary["accuracy"].mean - b.summary["accuracy"].mean
    row = next(line for line in worse.output.splitlines() if line.startswith("accuracy "))
    assert f"{diff:+8.4f}" in row and "counting is better" in worse.output
    assert float(row.split()[-1]) < 0.05


def test_compare_names_what_is_missing(toy_results: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["report", "compare", "--task", "toy", "--encoder", "nope", "--vs", "twin"])
    assert res.exit_code == 1 and "no demo results for encoder 'nope'" in res.output and "counting" in res.output
    res = runner.invoke(app, ["report", "compare", "--task", "toy", "--encoder", "counting", "--vs", "twin"])
    assert res.exit_code == 1 and "protocol 'probe'" in res.output and "bench run" in res.output


def test_leaderboard_marks_the_best_and_the_rows_tied_with_it(toy_results: Path) -> None:
    probes = render(toy_results).split("### Probes compared")[1].split("###")[0]
    cells = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[-1].rstrip(" |") for line in probes.splitlines()}
    marked = [cells["counting (kNN)"], cells["twin (kNN)"]]
    # identical predictions: one is the best (bold), the other not significantly different (italic)
    assert sorted(m[:2] for m in marked) == ["**", "*0"] or sorted(m[:2] for m in marked) == ["**", "*1"]
    assert not cells["muffled (kNN)"].startswith("*")  # significantly worse: no mark


def test_report_intervals_gives_old_records_the_intervals_a_run_gives(toy_results: Path) -> None:
    """A record stripped of its intervals (as written before they existed) gets the run's own back."""
    from dataclasses import replace

    store = ResultsStore(toy_results)
    paths = sorted(p for p, r in store.all() if r.status == "ok")
    assert len(paths) == 3
    original = {p: store.read(p) for p in paths}
    for p, rec in original.items():
        assert rec.summary["accuracy"].ci is not None
        bare = replace(rec, bootstrap=None, summary={m: replace(s, ci=None) for m, s in rec.summary.items()})
        p.write_text(json.dumps(bare.to_json()))
    no_scores = paths[0].with_suffix(".scores.npz")
    no_scores.unlink()  # this one cannot get an interval: nothing per item is stored
    res = CliRunner().invoke(app, ["report", "intervals", "--results", str(toy_results)])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "2 record(s) given intervals, 1 without per-item scores to resample" in out and "0 already had" in out
    for p in paths[1:]:
        assert store.read(p).summary == original[p].summary  # the same intervals as the run wrote
        assert store.read(p).bootstrap == original[p].bootstrap
    first = store.read(paths[0])
    assert (
        first.summary["accuracy"].ci is None
        and first.summary["accuracy"].mean == original[paths[0]].summary["accuracy"].mean
    )
    assert "no per-item 'scores' stored" in first.bootstrap["unavailable"]["accuracy"]
    again = CliRunner().invoke(app, ["report", "intervals", "--results", str(toy_results)])
    assert "0 record(s) given intervals, 0 without per-item scores to resample (said in the record), 3 already had" in (
        " ".join(again.output.split())
    )
