"""Data-fraction subsets (nested, stratified) and ``bench sweep fractions`` end to end."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from fixtures_suite import write_vggsound
from helpers import CountingEncoder, EmbedCounter, registered_test_encoders
from typer.testing import CliRunner

from bench.cli import app
from bench.protocols.data_fraction.subsets import fraction_subset, parse_fractions, subset_order
from bench.results import ResultsStore
from bench.runner import DemoOnlyEncoderError, RunOptions
from bench.sweep import sweep_fractions
from bench.task import Clip

PAPER = [1, 2, 5, 10, 20, 50, 100]


def _clips(counts: list[int]) -> list[Clip]:
    """Imbalanced single-label pool: class k has counts[k] clips."""
    out = []
    for k, n in enumerate(counts):
        out += [Clip(id=f"c{k}-{i:04d}", path=Path("x"), target=k) for i in range(n)]
    return out


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_subsets_are_nested_sized_and_stratified(seed: int) -> None:
    counts = [400, 250, 120, 60, 30, 15, 90, 35]
    pool = _clips(counts)
    n = len(pool)
    previous: set[str] = set()
    for p in PAPER:
        sub = fraction_subset(pool, p, seed)
        ids = {c.id for c in sub}
        assert len(sub) == max(1, round(p / 100 * n))
        assert previous <= ids  # nested: every smaller subset lies inside the larger one
        previous = ids
        per_class = Counter(c.target for c in sub)
        share = len(sub) / n
        for k, nk in enumerate(counts):
            # hand-derived bound for the interleaved ordering: within 1 + C·N_k/N clips of proportional
            assert abs(per_class.get(k, 0) - share * nk) <= 1 + len(counts) * nk / n
    assert fraction_subset(pool, 100, seed) == pool  # 100 %: the full pool, in its own order


def test_subsets_depend_on_seed_not_on_input_order_or_other_fractions() -> None:
    pool = _clips([50, 50, 50])
    a = {c.id for c in fraction_subset(pool, 10, seed=3)}
    rng = np.random.default_rng(0)
    shuffled = [pool[i] for i in rng.permutation(len(pool))]
    assert {c.id for c in fraction_subset(shuffled, 10, seed=3)} == a
    assert {c.id for c in fraction_subset(pool, 10, seed=4)} != a
    assert subset_order(pool, 3) == subset_order(list(reversed(pool)), 3)


def test_multilabel_subsets_stratify_by_the_rarest_label() -> None:
    clips = [Clip(id=f"a{i}", path=Path("x"), targets=(0,)) for i in range(80)]
    clips += [Clip(id=f"b{i}", path=Path("x"), targets=(0, 1)) for i in range(20)]  # rare label 1 rides on 0
    sub = fraction_subset(clips, 50, seed=0)
    assert sum(1 in c.targets for c in sub) in (9, 10, 11)  # ~half of label 1's clips, not left to chance
    nested = [{c.id for c in fraction_subset(clips, p, seed=0)} for p in PAPER]
    assert all(x <= y for x, y in itertools.pairwise(nested))


def test_parse_fractions() -> None:
    assert parse_fractions("10,1,2%,100") == [1.0, 2.0, 10.0, 100.0]
    for bad in ("0", "150", "abc", ""):
        with pytest.raises(ValueError, match="fraction"):
            parse_fractions(bad)


LABELS = {"people marching": 300.0, "heart sounds, heartbeat": 700.0, "church bell ringing": 1300.0}


def _vgg_fixture(root: Path) -> Path:
    rows = []
    for k, label in enumerate(LABELS):
        for i in range(14):
            rows.append((f"{'-' if i % 5 == 0 else 'a'}{k}x{i:08d}", i, label, "train"))
        for i in range(5):
            rows.append((f"t{k}x{i:09d}", i, label, "test"))
    return write_vggsound(root, rows, LABELS)


@pytest.mark.usefixtures("with_test_encoders")
def test_sweep_fractions_cli_records_figure_resume_and_full_fraction_matches_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counter: EmbedCounter
) -> None:
    monkeypatch.chdir(tmp_path)
    _vgg_fixture(tmp_path / "VGGSound")
    runner = CliRunner()
    common = [
        "--encoder",
        "counting",
        "--task",
        "vggsound",
        "--root",
        f"vggsound={tmp_path / 'VGGSound'}",
        "--quiet",
        "--popt",
        "max_epochs=25",
        "--popt",
        "patience=5",
    ]
    res = runner.invoke(app, ["sweep", "fractions", *common, "--fractions", "10,50,100", "--seeds", "2"])
    assert res.exit_code == 0, res.output
    store = ResultsStore(tmp_path / "results")
    recs = {p: store.find("real", "counting", "vggsound", f"probe-mlp-v1-frac{p}") for p in (10, 50, 100)}
    assert all(r is not None and r.status == "ok" for r in recs.values())
    pool = 3 * 14  # training clips listed (all present)
    for p, rec in recs.items():
        assert rec is not None and [f.fold for f in rec.folds] == ["seed0", "seed1"]
        assert rec.protocol.fraction_pct == p and rec.protocol.params["subsets"] == "nested-stratified-v1"
        for f in rec.folds:
            assert f.n_train == max(1, round(p / 100 * f.info["n_pool"])) and f.n_test == 15
            assert f.n_val > 0 and f.info["n_pool"] + f.n_val == pool
    png = tmp_path / "results" / "real" / "vggsound.fractions.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and f"figure: {png}" in res.output
    table = (tmp_path / "results" / "real" / "vggsound.fractions.csv").read_text().splitlines()
    assert table[0].startswith("encoder,fraction_pct") and len(table) == 4
    # the 100 % point is the probe protocol itself (trial r ≡ seed r)
    res = runner.invoke(app, ["run", *common, "--protocol", "probe", "--no-leaderboard"])
    assert res.exit_code == 0, res.output
    probe = store.find("real", "counting", "vggsound", "probe-mlp-v1")
    assert probe is not None
    assert [f.metrics for f in recs[100].folds] == [f.metrics for f in probe.folds[:2]]
    # resumable and cached: a second sweep (one more fraction) embeds nothing and recomputes only the new point
    counter.calls = 0
    res = runner.invoke(app, ["sweep", "fractions", *common, "--fractions", "10,20,50,100", "--seeds", "2"])
    assert res.exit_code == 0 and counter.calls == 0
    assert (
        res.output.count("cached") == 3
        and store.find("real", "counting", "vggsound", "probe-mlp-v1-frac20") is not None
    )
    res = runner.invoke(app, ["leaderboard"])
    board = (tmp_path / "leaderboard.md").read_text()
    assert res.exit_code == 0 and "Data-fraction curves" in board and "| 10 % | 20 % | 50 % | 100 % |" in board
    # Table 2 keeps the full probe's cell; fraction records never take its place
    assert re.search(r"\| counting \| — \| — \| — \| [01]\.\d{4} \| — \|", board)
    res = runner.invoke(app, ["report", "fractions", "--task", "vggsound", "--data", "real", "--out", "f.png"])
    assert res.exit_code == 0 and (tmp_path / "f.png").exists()
    rec = json.loads((tmp_path / "results" / "real" / "counting" / "vggsound.probe-mlp-v1-frac20.json").read_text())
    assert rec["protocol"]["short"] == "probe-frac20"


def test_sweep_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", "fractions", "--encoder", "logmel", "--fractions", "0,5"])
    assert res.exit_code == 2 and "(0, 100]" in res.output
    res = runner.invoke(app, ["report", "fractions", "--task", "vggsound"])
    assert res.exit_code == 1 and "bench sweep fractions" in res.output
    for args in (["sweep", "--help"], ["sweep", "fractions", "--help"], ["report", "fractions", "--help"]):
        assert runner.invoke(app, args).exit_code == 0


class StandInEncoder(CountingEncoder):
    """Random stand-in weights: refuses real data (the task is skipped)."""

    name = "standin"

    def refusal(self, data_kind: str) -> str | None:
        return "stand-in weights, refusing real data" if data_kind == "real" else None


class DemoTrainedEncoder(StandInEncoder):
    """Weights trained on the demo suite: real data stops the run."""

    name = "demotrained"
    demo_only = True


def test_sweep_refuses_real_data_as_run_does(tmp_path: Path, counter: EmbedCounter) -> None:
    """Regression: the sweep embedded and probed real data with encoders that `bench run` refuses."""
    _vgg_fixture(tmp_path / "VGGSound")
    opts = RunOptions(
        roots={"vggsound": tmp_path / "VGGSound"}, results_dir=tmp_path / "results", cache_dir=tmp_path / "cache",
        show_progress=False, log=lambda m: None,
    )  # fmt: skip
    with registered_test_encoders(StandInEncoder, DemoTrainedEncoder):
        out = sweep_fractions(["standin"], ["vggsound"], [50.0], 1, opts, plot=False)
        assert [(o.status, o.summary) for o in out.outcomes] == [("refused", "stand-in weights, refusing real data")]
        with pytest.raises(DemoOnlyEncoderError, match="refusing real data"):
            sweep_fractions(["demotrained"], ["vggsound"], [50.0], 1, opts, plot=False)
    assert counter.calls == 0 and not (tmp_path / "results").exists()
