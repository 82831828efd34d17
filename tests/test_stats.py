"""Bootstrap intervals and paired tests (bench.stats), checked against independent computations.

Every weighted metric is compared with the library that defines the metric, run on the
test set with rows duplicated as often as the weights say; the intervals are checked by
simulation against a known true accuracy; the paired test against its two fixed points.
"""

from __future__ import annotations

import contextlib
import io
import shutil

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, balanced_accuracy_score

from bench.metrics import multiclass_log_loss
from bench.protocols.audio_retrieval.segments import FileEvents, SegmentGrid, sed_eval_segment_scores
from bench.stats import weighted
from bench.stats.bootstrap import (
    BootstrapConfig,
    Draws,
    paired_comparison,
    percentile_interval,
    replicates,
)
from bench.stats.items import FoldItems


def _ids(n: int, prefix: str = "") -> tuple[str, ...]:
    return tuple(f"{prefix}{i:05d}" for i in range(n))


def _resample_weights(n: int, rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1 / n), size=rows).astype(np.float32)


def _duplicated(w_row: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(w_row)), w_row.astype(int))


def test_classification_metrics_under_weights_equal_scikit_learn_on_duplicated_rows() -> None:
    rng = np.random.default_rng(0)
    n, c = 240, 6
    y = rng.integers(0, c, n)
    scores = np.round(rng.random((n, c)), 1).astype(np.float32)  # rounded: many tied scores
    scores /= scores.sum(axis=1, keepdims=True)
    items = FoldItems("f", _ids(n), {"target": y, "scores": scores})
    w = _resample_weights(n, 4, seed=1)
    y_onehot = np.eye(c, dtype=int)[y]
    for b in range(len(w)):
        idx = _duplicated(w[b])
        ref_map = np.mean(
            [average_precision_score(y_onehot[idx, k], scores[idx, k]) for k in range(c) if y_onehot[idx, k].any()]
        )
        assert weighted.mean_average_precision(items, w)[b] == pytest.approx(ref_map, abs=1e-12)
        assert weighted.accuracy(items, w)[b] == pytest.approx(accuracy_score(y[idx], scores[idx].argmax(1)))
        ref_bal = balanced_accuracy_score(y[idx], scores[idx].argmax(1))
        assert weighted.balanced_accuracy(items, w)[b] == pytest.approx(ref_bal, abs=1e-12)
        assert weighted.log_loss(items, w)[b] == pytest.approx(multiclass_log_loss(y[idx], scores[idx]), rel=1e-6)


def test_multilabel_map_under_weights_equals_scikit_learn_sample_weight() -> None:
    rng = np.random.default_rng(2)
    n, c = 150, 5
    targets = rng.random((n, c)) < 0.2
    targets[:, 4] = False  # a class without positives is left out, as in the reported mAP
    scores = rng.random((n, c)).astype(np.float32)
    items = FoldItems("f", _ids(n), {"targets": targets, "scores": scores})
    w = _resample_weights(n, 3, seed=3)
    got = weighted.mean_average_precision(items, w)
    for b in range(len(w)):
        present = [k for k in range(c) if (targets[:, k] * w[b]).sum() > 0]
        ref = np.mean([average_precision_score(targets[:, k], scores[:, k], sample_weight=w[b]) for k in present])
        assert got[b] == pytest.approx(ref, abs=1e-12)


def _random_events(rng: np.random.Generator, classes: list[str], length: float) -> list[tuple[float, float, str]]:
    out = []
    for _ in range(int(rng.integers(0, 4))):
        on = float(np.round(rng.uniform(0, length - 0.5), 2))
        out.append((on, float(min(length, np.round(on + rng.uniform(0.2, 3.0), 2))), str(rng.choice(classes))))
    return out


def test_segment_metrics_under_weights_equal_sed_eval_on_duplicated_clips() -> None:
    rng = np.random.default_rng(4)
    classes = ["dog", "speech", "bell"]
    n = 12
    lengths = [float(np.round(rng.uniform(3, 10), 1)) for _ in range(n)]
    spans = [[(float(s), float(min(s + 1, length))) for s in range(int(np.ceil(length)))] for length in lengths]
    refs = [_random_events(rng, classes, length) for length in lengths]
    grid = SegmentGrid(spans, refs, lengths, classes, 0.1)
    decisions = rng.random((n, grid.n_frames, len(classes))) < 0.3
    for i, s in enumerate(spans):
        decisions[i, len(s) :] = False
    counts, sdi = grid.clip_counts(decisions)
    items = FoldItems("f", _ids(n), {"segment_counts": counts, "segment_sdi": sdi})
    estimated = []  # each frame a predicted event of its classes, as the protocol merges them
    for i, s in enumerate(spans):
        estimated.append([(a, b, classes[k]) for f, (a, b) in enumerate(s) for k in np.flatnonzero(decisions[i, f])])
    w = np.vstack([np.ones(n, np.float32), _resample_weights(n, 3, seed=5)])
    resamplers = {
        "f1": weighted.segment_f1,
        "precision": weighted.segment_precision,
        "recall": weighted.segment_recall,
        "error_rate": weighted.segment_error_rate,
        "f1_macro": weighted.segment_f1_macro,
    }
    for b in range(len(w)):
        files = [FileEvents(f"c{i}-{r}", refs[i], estimated[i], lengths[i]) for r, i in enumerate(_duplicated(w[b]))]
        ref = sed_eval_segment_scores(files, classes, 0.1)
        for name, fn in resamplers.items():
            assert fn(items, w)[b] == pytest.approx(ref[name], abs=1e-9, nan_ok=True), name


def test_bleu_from_per_caption_statistics_equals_pycocoevalcap_corpus_bleu() -> None:
    from pycocoevalcap.bleu.bleu import Bleu

    from bench.protocols.captioning.metrics import bleu_statistics

    gts = {
        0: ["a dog barks loudly in the distance", "a dog is barking", "dogs bark"],
        1: ["rain falls on a metal roof", "heavy rain on a roof"],
        2: ["birds chirp in the morning", "many birds are singing outside"],
        3: ["a car drives past on a wet road", "traffic noise on a street"],
    }
    res = {0: ["a dog barks"], 1: ["rain is falling on the roof of a house"], 2: ["a bird"], 3: ["a car passes by"]}
    items = FoldItems("f", _ids(4), {"bleu_stats": bleu_statistics(gts, res)})
    for counts in ([1, 1, 1, 1], [2, 0, 1, 1], [0, 3, 0, 1]):
        keys = [k for k in gts for _ in range(counts[k])]
        dup_g = {j: gts[k] for j, k in enumerate(keys)}
        dup_r = {j: res[k] for j, k in enumerate(keys)}
        with contextlib.redirect_stdout(io.StringIO()):
            ref, _ = Bleu(4).compute_score(dup_g, dup_r, verbose=0)
        w = np.asarray([counts], dtype=np.float32)
        for n in range(1, 5):
            assert weighted.bleu(n)(items, w)[0] == pytest.approx(ref[n - 1], rel=1e-12)


@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR runs in Java, which is not on PATH")
def test_meteor_of_summed_statistics_equals_the_corpus_score_of_duplicated_captions() -> None:
    from bench.protocols.captioning.metrics import CocoScorer

    refs = {
        "a": ["a dog barks loudly in the distance", "a dog is barking"],
        "b": ["rain falls on a roof", "heavy rain on a metal roof"],
        "c": ["birds chirp in the morning", "many birds are singing"],
    }
    cands = {"a": "a dog barks", "b": "rain is falling on the roof", "c": "a bird sings loudly"}
    with CocoScorer(spice=False) as scorer:
        full = scorer.score(refs, cands)
        dup = scorer.score(
            {"a1": refs["a"], "a2": refs["a"], "b": refs["b"]}, {"a1": cands["a"], "a2": cands["a"], "b": cands["b"]}
        )
        items = FoldItems("f", tuple(full.item_ids), {"meteor_stats": full.item_stats["meteor_stats"]})
        w = np.asarray([[1, 1, 1], [2, 1, 0]], dtype=np.float64)
        got = scorer.meteor_from_stats(w @ items["meteor_stats"])
    assert got[0] == pytest.approx(full.metrics["meteor"], abs=1e-12)
    assert got[1] == pytest.approx(dup.metrics["meteor"], abs=1e-12)


def _simulated_run(run: int, p: float, folds: int = 5, n: int = 100, classes: int = 10) -> list[FoldItems]:
    """Five folds of predictions, each correct with probability ``p`` independently: true accuracy p."""
    rng = np.random.default_rng(run)
    out = []
    for f in range(folds):
        y = rng.integers(0, classes, n)
        correct = rng.random(n) < p
        pred = np.where(correct, y, (y + rng.integers(1, classes, n)) % classes)
        scores = np.eye(classes, dtype=np.float32)[pred]
        out.append(FoldItems(f"fold{f}", _ids(n, f"{run}-{f}-"), {"target": y, "scores": scores}))
    return out


def test_95_percent_intervals_cover_a_known_true_accuracy_in_93_to_97_percent_of_400_runs() -> None:
    p = 0.7
    hits = 0
    for run in range(400):
        values = replicates(_simulated_run(run, p), weighted.accuracy, Draws(BootstrapConfig(seed=run)))
        ci = percentile_interval(values, 0.95)
        assert ci is not None
        hits += ci[0] <= p <= ci[1]
    assert 0.93 <= hits / 400 <= 0.97, hits / 400


def test_paired_test_p_is_one_for_identical_predictions_and_tiny_for_a_clearly_better_encoder() -> None:
    a = _simulated_run(7, 0.7)
    same = paired_comparison(a, a, "accuracy")
    assert same.p_value == 1.0 and same.diff == 0.0 and same.ci == (0.0, 0.0)

    rng = np.random.default_rng(8)
    better = []  # the same clips and labels, right 90 % of the time instead of about 70 %
    for fold in a:
        y = fold["target"]
        correct = rng.random(len(y)) < 0.9
        pred = np.where(correct, y, (y + 1) % 10)
        better.append(FoldItems(fold.fold, fold.ids, {"target": y, "scores": np.eye(10, dtype=np.float32)[pred]}))
    cmp = paired_comparison(better, a, "accuracy")
    assert cmp.p_value < 0.01 and cmp.diff > 0.1 and cmp.a_better and cmp.ci is not None and cmp.ci[0] > 0
    assert cmp.n_items == 500 and cmp.n_folds == 5
    reverse = paired_comparison(a, better, "accuracy")
    assert reverse.p_value == cmp.p_value and reverse.diff == pytest.approx(-cmp.diff) and not reverse.a_better


def test_trials_on_the_same_items_share_one_draw_and_pairing_uses_only_shared_items() -> None:
    base = _simulated_run(9, 0.7, folds=1)[0]
    trials = [FoldItems(f"trial{t}", base.ids, base.arrays) for t in range(3)]
    draws = Draws(BootstrapConfig())
    # three identical trials on one test set: the replicates are those of a single trial
    np.testing.assert_allclose(
        replicates(trials, weighted.accuracy, draws), replicates(trials[:1], weighted.accuracy, draws), atol=1e-12
    )
    # B scored 10 items fewer (unreadable files): the comparison uses the 90 both scored
    fewer = [FoldItems("trial0", base.ids[10:], {k: v[10:] for k, v in base.arrays.items()})]
    cmp = paired_comparison(trials[:1], fewer, "accuracy")
    assert cmp.n_items == len(base) - 10 and cmp.only_a == 10 and cmp.only_b == 0 and cmp.p_value == 1.0
