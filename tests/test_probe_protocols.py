"""Probes and protocols: no test-fold leakage, determinism, metrics recomputed by scikit-learn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_esc50, write_us8k
from helpers import EmbedCounter, TextEncoder
from sklearn.metrics import accuracy_score, average_precision_score

from bench.extract import extract
from bench.metrics import mean_average_precision
from bench.probe import ProbeConfig, fit_probe
from bench.protocols import ProtocolContext, get_protocol
from bench.results import ResultsStore
from bench.runner import RunOptions, run
from bench.splits import make_splits
from bench.store import EmbeddingStore
from bench.task import get_task

TARGETS = {0: "dog", 1: "rooster", 2: "pig", 3: "cow"}


def test_validation_never_comes_from_the_test_fold(tmp_path: Path) -> None:
    root = write_us8k(tmp_path / "UrbanSound8K", ["a", "b", "c"], per_fold=3)
    task = get_task("urbansound8k")
    ds = task.loader(root)
    splits = make_splits(task, ds, seed=3)
    assert [s.name for s in splits] == [f"fold{f}" for f in range(1, 11)]
    for s in splits:
        test_ids = {c.id for c in s.test}
        fold = int(s.name[4:])
        assert all(c.fold == fold for c in s.test)
        assert not test_ids & {c.id for c in s.val} and not test_ids & {c.id for c in s.train}
        assert all(c.fold != fold for c in s.val + s.train)
        assert {c.id for c in s.train} | {c.id for c in s.val} | test_ids == {c.id for c in ds.clips}
        # clips of one source recording never straddle train and validation
        assert not {c.group for c in s.train} & {c.group for c in s.val}
        assert s.val


def test_probe_is_deterministic_and_learns() -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 8)) * 3
    y = rng.integers(0, 4, 400)
    x = (centers[y] + rng.normal(size=(400, 8))).astype(np.float32)
    cfg = ProbeConfig(max_epochs=30, patience=5, seed=7)
    a = fit_probe(x[:300], y[:300], x[300:350], y[300:350], 4, "multiclass", cfg)
    b = fit_probe(x[:300], y[:300], x[300:350], y[300:350], 4, "multiclass", cfg)
    sa, sb = a.scores(x[350:]), b.scores(x[350:])
    np.testing.assert_array_equal(sa, sb)
    assert accuracy_score(y[350:], sa.argmax(1)) > 0.8
    assert torch_state_unchanged_by_probe()


def torch_state_unchanged_by_probe() -> bool:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit_probe(
        np.zeros((4, 2), np.float32),
        np.array([0, 1, 0, 1]),
        np.zeros((2, 2), np.float32),
        np.array([0, 1]),
        2,
        "multiclass",
        ProbeConfig(max_epochs=2),
    )
    return bool(torch.equal(torch.rand(3), expected))  # the probe seeds locally, never globally


def test_map_matches_sklearn_on_multilabel_and_multiclass() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random((50, 6)) < 0.3).astype(int)
    y[:, 5] = 0  # a class with no positives is left out
    s = rng.random((50, 6))
    assert mean_average_precision(y, s) == pytest.approx(
        np.mean([average_precision_score(y[:, k], s[:, k]) for k in range(5)])
    )
    labels = rng.integers(0, 4, 40)
    s2 = rng.random((40, 4))
    onehot = np.eye(4)[labels]
    assert mean_average_precision(labels, s2) == pytest.approx(average_precision_score(onehot, s2, average="macro"))


def _opts(tmp_path: Path, **kw):  # type: ignore[no-untyped-def]
    return RunOptions(
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        show_progress=False,
        protocol_options={"max_epochs": 40, "patience": 8},
        log=lambda m: None,
        **kw,
    )


@pytest.mark.usefixtures("with_test_encoders")
def test_run_records_match_sklearn_and_repeat_identically(tmp_path: Path, counter: EmbedCounter) -> None:
    write_esc50(tmp_path / "data" / "ESC-50-master", TARGETS, per_fold=3)
    opts = _opts(tmp_path, data_root=tmp_path / "data")
    out = run(["counting"], ["esc50"], opts)
    assert [(o.protocol, o.status) for o in out] == [("probe", "ok"), ("zeroshot", "n/a")]
    store = ResultsStore(tmp_path / "results")
    rec = store.find("real", "counting", "esc50", "probe-mlp-v1")
    assert rec is not None and len(rec.folds) == 5
    p = rec.predictions
    for f in rec.folds:
        rows = [i for i, name in enumerate(p["fold"]) if name == f.fold]
        acc = accuracy_score([p["target"][i] for i in rows], [p["pred"][i] for i in rows])
        assert acc == pytest.approx(f.metrics["accuracy"])
    assert rec.summary["accuracy"].mean == pytest.approx(np.mean([f.metrics["accuracy"] for f in rec.folds]))
    assert rec.summary["accuracy"].mean > 0.5  # 4 tone classes are easy
    scores = store.scores(store.path_for("real", "counting", "esc50", "probe-mlp-v1"))["scores"]
    assert (scores.argmax(1) == np.array(p["pred"])).all()
    assert sorted(p["ids"]) == sorted(c.id for c in get_task("esc50").loader(tmp_path / "data" / "ESC-50-master").clips)
    # same seed, forced recomputation from the store: identical metrics
    counter.calls = 0
    run(["counting"], ["esc50"], _opts(tmp_path, data_root=tmp_path / "data", force=True))
    assert counter.calls == 0
    rec2 = store.find("real", "counting", "esc50", "probe-mlp-v1")
    assert rec2 is not None
    assert [f.metrics for f in rec2.folds] == [f.metrics for f in rec.folds]
    confusion = (
        (tmp_path / "results" / "real" / "counting" / "esc50.probe-mlp-v1.confusion.csv").read_text().splitlines()
    )
    assert confusion[0].split(",")[1:] == ["dog", "rooster", "pig", "cow"]
    assert sum(int(v) for line in confusion[1:] for v in line.split(",")[1:]) == len(p["ids"])


@pytest.mark.usefixtures("with_test_encoders")
def test_zero_shot_matches_hand_computation(tmp_path: Path) -> None:
    # class names are frequencies; the text side embeds "... <freq>" as that tone
    root = write_esc50(tmp_path / "E", {0: "300", 1: "600", 2: "900"}, per_fold=2, sr=8000)
    task = get_task("esc50")
    ds = task.loader(root)
    enc = TextEncoder()
    view = extract(enc, ds, EmbeddingStore(tmp_path / "c"), task.clip_policy, show_progress=False)
    out = get_protocol("zeroshot").run(ProtocolContext(task, ds, view, enc, show_progress=False))
    text = enc.embed_text([f"this is a sound of {c}." for c in ds.classes])
    text = text / np.linalg.norm(text, axis=1, keepdims=True)
    for f in out.folds:
        clips = [c for c in ds.clips if f"fold{c.fold}" == f.fold]
        a = view.matrix([c.id for c in clips])
        pred = (a / np.linalg.norm(a, axis=1, keepdims=True) @ text.T).argmax(1)
        assert f.metrics["accuracy"] == pytest.approx(accuracy_score([c.target for c in clips], pred))
    assert json.dumps(out.params["prompts"])  # prompts are recorded
    assert out.params["prompts"]["300"] == ["this is a sound of 300."]


@pytest.mark.usefixtures("with_test_encoders")
def test_end_to_end_probe_on_us8k_fixture_uses_all_ten_folds(tmp_path: Path) -> None:
    write_us8k(tmp_path / "UrbanSound8K", ["a", "b", "c"], per_fold=2)
    out = run(
        ["counting"],
        ["urbansound8k"],
        _opts(tmp_path, roots={"urbansound8k": tmp_path / "UrbanSound8K"}, protocols=["probe"]),
    )
    rec = ResultsStore(tmp_path / "results").find("real", "counting", "urbansound8k", "probe-mlp-v1")
    assert out[0].status == "ok" and rec is not None
    assert [f.fold for f in rec.folds] == [f"fold{k}" for k in range(1, 11)]
    assert all(f.n_test == 6 for f in rec.folds)
