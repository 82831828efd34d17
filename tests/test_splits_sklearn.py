"""bench's validation carve gives exactly scikit-learn's ``StratifiedGroupKFold`` folds.

``bench.splits.stratified_group_folds`` scores the candidate folds in one array
operation instead of sklearn's Python loop (issue 16: sklearn's version took ~1 s per carve at
ESC-50 size, more than the probe it feeds). The reference here is sklearn itself, on random sets
with ties (many identical groups), one-clip groups, multi-clip groups, rare classes and several
seeds and fold counts.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from bench.splits import carve_validation, stratified_group_folds
from bench.task import Clip


def sklearn_folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    fold = np.full(len(y), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sgkf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for k, (_, test) in enumerate(sgkf.split(np.arange(len(y)), y, groups)):
            fold[test] = k
    return fold


def random_set(rng: np.random.Generator, n: int, n_classes: int, clips_per_group: int) -> tuple[np.ndarray, ...]:
    n_groups = max(2, n // clips_per_group)
    group_class = rng.integers(0, n_classes, n_groups)  # a source recording has one label, as in ESC-50
    groups = rng.integers(0, n_groups, n)
    y = group_class[groups]
    if rng.random() < 0.5:  # some sets with labels that vary inside a group too
        flip = rng.random(n) < 0.1
        y = np.where(flip, rng.integers(0, n_classes, n), y)
    return y, np.array([f"g{g}" for g in groups])


@pytest.mark.parametrize("case", range(40))
def test_the_folds_are_sklearns(case: int) -> None:
    rng = np.random.default_rng(case)
    n = int(rng.integers(20, 400))
    n_classes = int(rng.integers(2, 25))
    y, groups = random_set(rng, n, n_classes, int(rng.choice([1, 1, 2, 3, 5])))
    n_splits = int(rng.integers(2, 11))
    if n_splits > len(np.unique(groups)) or np.all(n_splits > np.unique(y, return_counts=True)[1]):
        with pytest.raises(ValueError):
            sklearn_folds(y, groups, n_splits, case)
        with pytest.raises(ValueError):
            stratified_group_folds(y, groups, n_splits, case)
        return
    ours = stratified_group_folds(y, groups, n_splits, seed=case)
    assert np.array_equal(ours, sklearn_folds(y, groups, n_splits, case))


def test_esc50_sized_carve_is_sklearns() -> None:
    """The probe benchmark's shape: 1,600 one-clip groups over 50 balanced classes, 10 folds."""
    y = np.repeat(np.arange(50), 32)
    groups = np.array([f"__clip__{i}" for i in range(len(y))])
    ours = stratified_group_folds(y, groups, 10, seed=3)
    assert np.array_equal(ours, sklearn_folds(y, groups, 10, 3))
    clips = [Clip(id=f"c{i}", path=Path(f"c{i}.wav"), target=int(t)) for i, t in enumerate(y)]
    train, val = carve_validation(clips, 0.1, seed=3)
    assert [c.id for c in val] == [f"c{i}" for i in np.flatnonzero(ours == 0)]
    assert len(train) + len(val) == len(clips) and not {c.id for c in train} & {c.id for c in val}
