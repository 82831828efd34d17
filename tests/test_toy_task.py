"""Adding a task touches one module and its registration; the tables are built from declarations."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.metrics import METRICS
from bench.reports.leaderboard import render
from bench.reports.tables import registered_tasks, tables
from bench.task import TASKS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def toy() -> Iterator[None]:
    with TASKS.registered("toy", "toy_task:TASK", origin="tests"):  # what one entry point in a pyproject does
        yield


@pytest.mark.usefixtures("toy")
def test_a_task_from_one_module_is_listed_run_and_on_the_leaderboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(app, ["tasks"])
    assert listed.exit_code == 0 and re.search(r"^toy\s+multiclass\s+accuracy\s+3 folds", listed.output, re.M)
    res = runner.invoke(
        app,
        ["run", "--encoder", "logmel", "--task", "toy", "--quiet", "--popt", "max_epochs=30", "--popt", "patience=5"],
    )
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "results" / "demo" / "logmel" / "toy.probe-mlp-v1.json").read_text())
    assert record["status"] == "ok" and [f["fold"] for f in record["folds"]] == ["fold1", "fold2", "fold3"]
    assert record["data"]["demo"]["generator"] == "toy"  # generated from the module's own demo declaration
    board = (tmp_path / "leaderboard.md").read_text()
    table2 = board.split("### Table 2: classification and retrieval")[1].split("###")[0]
    header = next(line for line in table2.splitlines() if line.startswith("| Model |"))
    assert header.endswith("| VGGSound (CMR)<br>I→A MRR | Toy<br>ACC |")  # its column, after the paper's
    row = next(line for line in table2.splitlines() if line.startswith("| logmel |"))
    mean = record["summary"]["accuracy"]["mean"]
    assert row.rstrip(" |").endswith(f"{mean:.4f} ± {record['summary']['accuracy']['std']:.4f}")
    assert mean > 0.8  # three pure tones
    paper = board.split("## Paper reference")[1]
    assert next(line for line in paper.splitlines() if line.startswith("| Wav2CLIP ‡")).endswith("| 0.0678 |  |")


def test_leaderboard_columns_come_from_the_task_declarations() -> None:
    layout = {t.id: t for t in tables(registered_tasks())}
    assert [c.header.split("<br>")[0] for c in layout["table2"].columns] == [
        "ESC-50", "UrbanSound8K", "FSD50K", "VGGSound", "TAU Audio Only", "DESED (AR)", "VGGSound (CMR)",
        "VGGSound (CMR)",
    ]  # fmt: skip
    assert [c.task for c in layout["table2"].columns if c.zero_shot] == [
        "esc50",
        "urbansound8k",
        "fsd50k",
        "vggsound",
        "tau",
    ]  # the tasks that declare zero-shot prompts
    assert [c.header for c in layout["table3"].columns] == ["B1", "B2", "B3", "B4", "M", "RL", "Cr", "S", "Sr"]


def test_every_metric_a_task_names_is_registered_with_its_direction() -> None:
    for spec in registered_tasks():
        for name in (*spec.metrics, *(c.metric for c in spec.table_columns)):
            assert name in METRICS, f"task {spec.name!r} names metric {name!r}, which is not registered"
        assert {c.metric for c in spec.table_columns} <= set(spec.metrics)
    assert METRICS.get("mrr_a2i").higher_is_better and not METRICS.get("error_rate").higher_is_better
    assert not METRICS.get("log_loss").higher_is_better and METRICS.get("bleu_1").higher_is_better


def test_leaderboard_is_the_same_bytes_when_regenerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "results", tmp_path / "results")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    outputs = []
    for _ in range(2):
        assert runner.invoke(app, ["leaderboard", "--results", "results"]).exit_code == 0
        outputs.append((tmp_path / "leaderboard.md").read_bytes())
        os.utime(tmp_path / "leaderboard.md", (0, 0))
    assert outputs[0] == outputs[1]
    # and the committed leaderboard.md is exactly what the committed records give
    assert outputs[0] == (ROOT / "leaderboard.md").read_bytes()
    assert render(Path("results")) == outputs[0].decode()
