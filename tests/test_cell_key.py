"""A stored result is reused only when everything it depends on is unchanged (bench.cell_key).

Each test runs a cell, changes one thing the numbers depend on, and checks that the next run
recomputes it (and re-embeds where the audio changed) instead of serving the old record; and
that two configurations of one encoder label keep two records and one leaderboard row.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import toy_task
from fixtures_events import write_clotho
from helpers import CountingEncoder, EmbedCounter

from bench.audio import ClipPolicy
from bench.encoder import ENCODERS
from bench.reports.leaderboard import render
from bench.results import ResultsStore
from bench.runner import RunOptions, run
from bench.task import TASKS, Dataset


@pytest.fixture()
def toy() -> Iterator[None]:
    with TASKS.registered("toy", toy_task.TASK, origin="tests"):
        yield


def _opts(tmp_path: Path, **kw):  # type: ignore[no-untyped-def]
    """Run options; ``probe_opts={}`` for a run without the MLP probe (its options would be refused)."""
    return RunOptions(
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        show_progress=False,
        protocol_options={**kw.pop("probe_opts", {"max_epochs": 20, "patience": 4}), **kw.pop("popt", {})},
        log=lambda m: None,
        **kw,
    )


@pytest.mark.usefixtures("with_test_encoders", "toy")
def test_a_changed_clip_policy_recomputes_the_cell_and_re_embeds(tmp_path: Path, counter: EmbedCounter) -> None:
    opts = _opts(tmp_path, protocols=["probe"])
    assert [o.status for o in run(["counting"], ["toy"], opts)] == ["ok"]
    calls = counter.calls
    assert [o.status for o in run(["counting"], ["toy"], opts)] == ["cached"] and counter.calls == calls
    shorter = replace(toy_task.TASK, clip_policy=ClipPolicy(duration_s=0.25))
    TASKS.unregister("toy")
    with TASKS.registered("toy", shorter, origin="tests"):
        assert [o.status for o in run(["counting"], ["toy"], opts)] == ["ok"]
        assert counter.calls > calls  # the audio is cut differently: embedded again, not served from the store
        record = ResultsStore(tmp_path / "results").find("demo", "counting", "toy", "probe-mlp-v1")
        assert record is not None and record.task.clip_policy == shorter.clip_policy.key()
    TASKS.register("toy", toy_task.TASK, origin="tests")  # what the fixture removes afterwards


def _rewrite_caption(root: Path, split: str, old: str, new: str) -> None:
    path = root / f"clotho_captions_{split}.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert any(old in cell for row in rows for cell in row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[cell.replace(old, new) for cell in row] for row in rows])


@pytest.mark.skipif(shutil.which("java") is None, reason="the COCO caption metrics need Java")
@pytest.mark.usefixtures("with_test_encoders")
def test_changed_clotho_captions_recompute_captioning_without_re_embedding(
    tmp_path: Path, counter: EmbedCounter
) -> None:
    root = write_clotho(tmp_path / "Clotho")
    tiny = {"cap_d_model": 16, "cap_dim_ff": 32, "cap_nhead": 2, "cap_max_epochs": 2}
    opts = _opts(tmp_path, roots={"clotho": root}, popt=tiny, probe_opts={})
    first = run(["counting"], ["clotho"], opts)
    assert [o.status for o in first] == ["ok"]
    calls = counter.calls
    assert [o.status for o in run(["counting"], ["clotho"], opts)] == ["cached"]
    store = ResultsStore(tmp_path / "results")
    before = store.find("real", "counting", "clotho", "captioning-tfdec-v1")
    with (root / "clotho_captions_evaluation.csv").open(newline="", encoding="utf-8") as fh:
        caption = list(csv.reader(fh))[1][1]
    _rewrite_caption(root, "evaluation", caption, caption + " loudly")
    assert [o.status for o in run(["counting"], ["clotho"], opts)] == ["ok"]  # recomputed, not served
    assert counter.calls == calls  # the audio did not change: the stored frame embeddings are reused
    after = store.find("real", "counting", "clotho", "captioning-tfdec-v1")
    assert before is not None and after is not None
    assert after.data.annotations != before.data.annotations and after.cell_key != before.cell_key
    assert after.data.checksum == before.data.checksum  # same files, so the embedding store key is the same


@pytest.mark.usefixtures("toy")
def test_two_teachers_keep_two_records_and_the_leaderboard_one_row_saying_which(tmp_path: Path) -> None:
    def opts(seed: int) -> RunOptions:
        return _opts(
            tmp_path,
            protocols=["probe"],
            encoder_options={"weights": "random", "teacher": "bench-tiny-clip", "teacher_seed": seed},
        )

    assert [o.status for o in run(["wav2clip"], ["toy"], opts(0))] == ["ok"]
    assert [o.status for o in run(["wav2clip"], ["toy"], opts(1))] == ["ok"]  # not "cached": another teacher
    assert [o.status for o in run(["wav2clip"], ["toy"], opts(0))] == ["cached"]  # the first is still there
    store = ResultsStore(tmp_path / "results")
    records = [r for _, r in store.all()]
    assert len(records) == 2 and records[0].encoder.label == records[1].encoder.label == "wav2clip[random]"
    teachers = {r.encoder.options["teacher"]["seed"] for r in records}
    assert teachers == {0, 1} and len({r.encoder.fingerprint for r in records}) == 2
    board = render(tmp_path / "results")
    table2 = board.split("### Table 2")[1].split("###")[0]
    assert sum(line.startswith("| wav2clip[random] |") for line in table2.splitlines()) == 1
    configs = board.split("## Configurations")[1].split("##")[0]
    rows = [line for line in configs.splitlines() if line.startswith("| demo | wav2clip[random] |")]
    assert len(rows) == 2 and sum("| shown |" in r for r in rows) == 1 and sum("| not shown |" in r for r in rows) == 1
    shown = next(r for r in rows if "| shown |" in r)
    assert store.find("demo", "wav2clip[random]", "toy", "probe-mlp-v1").encoder.fingerprint[:12] in shown


@pytest.mark.usefixtures("with_test_encoders", "toy")
def test_a_dataset_is_checksummed_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = Dataset._file_list_checksum

    def counted(self: Dataset) -> str:
        calls.append(self.task)
        return original(self)

    monkeypatch.setattr(Dataset, "_file_list_checksum", counted)
    run(["counting", "texty"], ["toy"], _opts(tmp_path, protocols=["probe", "linear"]))
    assert calls == ["toy"]  # two encoders × two protocols, one checksum (stat of every file) per run


class SawToy(CountingEncoder):
    name = "sawtoy"
    training_data = "the demo toy tones"
    trained_on = ("demo:toy",)


class SawRealToy(CountingEncoder):
    name = "sawrealtoy"
    training_data = "real toy recordings"
    trained_on = ("toy",)


@pytest.mark.usefixtures("toy")
def test_a_cell_whose_encoder_saw_the_tasks_data_is_flagged(tmp_path: Path) -> None:
    with ENCODERS.registered("sawtoy", SawToy, origin="tests"), ENCODERS.registered("sawrealtoy", SawRealToy):
        out = run(["sawtoy", "sawrealtoy"], ["toy"], _opts(tmp_path, protocols=["probe"]))
    assert [o.status for o in out] == ["ok", "ok"] and "trained on this dataset" in out[0].summary
    store = ResultsStore(tmp_path / "results")
    flagged = store.find("demo", "sawtoy", "toy", "probe-mlp-v1")
    clean = store.find("demo", "sawrealtoy", "toy", "probe-mlp-v1")  # trained on real toy data, scored on demo
    assert flagged is not None and "demo:toy" in flagged.training_overlap
    assert clean is not None and clean.training_overlap == ""
    table2 = render(tmp_path / "results").split("### Table 2")[1].split("###")[0]
    assert next(line for line in table2.splitlines() if line.startswith("| sawtoy |")).rstrip(" |").endswith("⚠")
    assert "⚠" not in next(line for line in table2.splitlines() if line.startswith("| sawrealtoy |"))
