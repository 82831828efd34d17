"""Linear and kNN probes: scikit-learn's own estimators agree, and the test fold never selects C or k."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import toy_task
from helpers import CountingEncoder
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench import protocols as protocols_module
from bench.demo import ensure_demo
from bench.extract import extract
from bench.protocols import ProtocolContext
from bench.protocols.shallow_probes import KNNProbeProtocol, LinearProbeProtocol, ShallowProbeProtocol
from bench.splits import Split, make_splits
from bench.store import EmbeddingStore

PROBES = [LinearProbeProtocol(), KNNProbeProtocol()]


@pytest.fixture()
def toy_ctx(tmp_path: Path) -> ProtocolContext:
    """The toy task's demo tones embedded by the counting encoder (16-d log band energies)."""
    root = ensure_demo(toy_task.TASK.demo, tmp_path / "demo", scale=1.5)  # type: ignore[arg-type]
    dataset = toy_task.load(root)
    view = extract(CountingEncoder(), dataset, EmbeddingStore(tmp_path / "cache"), toy_task.TASK.clip_policy)
    return ProtocolContext(toy_task.TASK, dataset, view, CountingEncoder(), show_progress=False)


def _with_targets_shuffled(split: Split, seed: int) -> Split:
    """The same split with the test clips' labels permuted (and changed): only the test fold differs."""
    rng = np.random.default_rng(seed)
    targets = [c.target for c in split.test]
    shuffled = [int((t + 1 + rng.integers(0, 2)) % 3) for t in targets]  # every label changes
    return replace(split, test=[replace(c, target=t) for c, t in zip(split.test, shuffled, strict=True)])


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.short)
def test_the_test_fold_never_selects_the_hyper_parameter(
    probe: ShallowProbeProtocol, toy_ctx: ProtocolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    select = protocols_module.shallow_probes.select_on_validation

    def spy(grid, fit, x_val, y_val, metric):  # type: ignore[no-untyped-def]
        seen.append(len(x_val))
        return select(grid, fit, x_val, y_val, metric)

    monkeypatch.setattr(protocols_module.shallow_probes, "select_on_validation", spy)
    for split in make_splits(toy_ctx.task, toy_ctx.dataset, seed=0):
        fold, ids, _scores = probe.run_split(toy_ctx, split)
        assert seen[-1] == len(split.val) and set(ids) == {c.id for c in split.test}
        # the test fold's labels turned upside down: same choice, same validation scores, other test metric
        flipped, _, _ = probe.run_split(toy_ctx, _with_targets_shuffled(split, seed=len(seen)))
        assert flipped.info["selected"] == fold.info["selected"]
        assert flipped.info["val_scores"] == fold.info["val_scores"]
        assert flipped.metrics["accuracy"] != fold.metrics["accuracy"]
        assert fold.metrics["accuracy"] > 0.6  # three tones: the probes do learn them


def test_knn_votes_equal_scikit_learns_cosine_knn_with_softmax_weights(toy_ctx: ProtocolContext) -> None:
    assert toy_ctx.view is not None
    split = make_splits(toy_ctx.task, toy_ctx.dataset, seed=0)[0]
    x_tr = toy_ctx.view.matrix([c.id for c in split.train])
    x_te = toy_ctx.view.matrix([c.id for c in split.test])
    y_tr = np.array([c.target for c in split.train])
    fit = KNNProbeProtocol().fitter(toy_ctx, x_tr, y_tr, 3, seed=0)
    for k in (1, 5):
        ref = KNeighborsClassifier(n_neighbors=k, metric="cosine", weights=lambda d: np.exp((1 - d) / 0.07))
        ref.fit(x_tr, y_tr)
        np.testing.assert_allclose(fit(k)(x_te), ref.predict_proba(x_te), atol=1e-9)


def test_linear_probe_equals_a_scikit_learn_pipeline_at_the_chosen_c(toy_ctx: ProtocolContext) -> None:
    assert toy_ctx.view is not None
    split = make_splits(toy_ctx.task, toy_ctx.dataset, seed=0)[1]
    fold, ids, scores = LinearProbeProtocol().run_split(toy_ctx, split)
    c = fold.info["selected"]["C"]
    x_tr = toy_ctx.view.matrix([cl.id for cl in split.train]).astype(np.float64)
    y_tr = np.array([cl.target for cl in split.train])
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)).fit(x_tr, y_tr)
    np.testing.assert_allclose(scores, pipe.predict_proba(toy_ctx.view.matrix(ids).astype(np.float64)), atol=1e-6)
    # probabilities (fitted in float64, not in the store's float32): log loss takes them without renormalising
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_grid_options_are_parsed_and_bad_values_name_the_option(toy_ctx: ProtocolContext) -> None:
    ctx = replace(toy_ctx, options={"knn_k": "1|3", "linear_c": 0.5})
    assert KNNProbeProtocol().grid(ctx) == (1, 3) and LinearProbeProtocol().grid(ctx) == (0.5,)
    with pytest.raises(ValueError, match="knn_k"):
        KNNProbeProtocol().grid(replace(toy_ctx, options={"knn_k": "three"}))
    with pytest.raises(ValueError, match="linear_c"):
        LinearProbeProtocol().grid(replace(toy_ctx, options={"linear_c": -1}))
