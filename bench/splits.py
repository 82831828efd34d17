"""Train / validation / test splits for the probes.

Official folds: test on fold i, train on the others. Official train/test splits: repeated
trials with different seeds. Validation is *always* carved from the training clips (or is
the dataset's own validation split, e.g. FSD50K ``val``); the test clips never select an
epoch, a threshold or anything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit

from bench.task import Clip, Dataset, TaskSpec


@dataclass(frozen=True)
class Split:
    name: str
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    seed: int


def _isclose(a: float, b: float) -> bool:
    """``np.isclose(a, b)`` (rtol 1e-5, atol 1e-8) on two Python floats, without numpy's per-call cost."""
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-8 + 1e-5 * abs(b)


def stratified_group_folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """sklearn's ``StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)`` assignment.

    Returns the fold (0 … n_splits - 1) of each sample. The same algorithm as scikit-learn 1.9
    (groups shuffled by ``RandomState(seed)``, taken in order of decreasing spread of their class
    counts, each put in the fold that keeps the per-class share of every fold most even, ties to
    the fold with fewer samples), with the candidate folds scored in one array operation instead
    of a Python loop per fold: sklearn's version spent ~1 s per validation carve at ESC-50 size,
    more than the probe it feeds. The arithmetic per candidate is the same operations in the same
    order, so the folds are identical (tested against sklearn on many random sets).
    """
    rng = np.random.RandomState(seed)
    _, y_inv, y_cnt = np.unique(y, return_inverse=True, return_counts=True)
    _, groups_inv, groups_cnt = np.unique(groups, return_inverse=True, return_counts=True)
    n_groups, n_classes = len(groups_cnt), len(y_cnt)
    if np.all(n_splits > y_cnt):  # sklearn's two refusals, same words
        raise ValueError(f"n_splits={n_splits} cannot be greater than the number of members in each class.")
    if n_splits > n_groups:
        raise ValueError(
            f"Cannot have number of splits n_splits={n_splits} greater than the number of groups: {n_groups}."
        )
    counts = np.zeros((n_groups, n_classes))
    np.add.at(counts, (groups_inv.ravel(), y_inv.ravel()), 1)
    perm = np.arange(n_groups)
    rng.shuffle(perm)
    counts = counts[perm]
    inv_perm = np.empty_like(perm)
    inv_perm[perm] = np.arange(perm.size)
    groups_inv = inv_perm[groups_inv.ravel()]
    order = np.argsort(-np.std(counts, axis=1), kind="stable")
    per_fold = np.zeros((n_splits, n_classes))
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    share = y_cnt.reshape(1, 1, -1)
    eye = np.eye(n_splits).reshape(n_splits, n_splits, 1)
    for g in order:
        # candidate i: the fold counts with group g added to fold i
        evals = np.mean(np.std((per_fold[None] + eye * counts[g]) / share, axis=1), axis=1).tolist()
        sizes = per_fold.sum(axis=1).tolist()
        best, min_eval, min_size = 0, math.inf, math.inf
        for i in range(n_splits):
            fold_eval = evals[i]
            if fold_eval < min_eval or (_isclose(fold_eval, min_eval) and sizes[i] < min_size):
                best, min_eval, min_size = i, fold_eval, sizes[i]
        per_fold[best] += counts[g]
        fold_of_group[g] = best
    return fold_of_group[groups_inv]


def carve_validation(
    clips: list[Clip], fraction: float, seed: int, stratify: bool = True
) -> tuple[list[Clip], list[Clip]]:
    """Split ``clips`` into (train, val), keeping clips of one source ``group`` together.

    Multi-class sets are stratified by label (``StratifiedGroupKFold`` with about 1/fraction
    splits, first split held out); multi-label sets use ``GroupShuffleSplit``.
    """
    if len(clips) < 2:
        raise ValueError(f"cannot carve a validation set from {len(clips)} training clip(s)")
    groups = np.array([c.group if c.group is not None else f"__clip__{c.id}" for c in clips])
    idx = np.arange(len(clips))
    if stratify and all(c.target is not None for c in clips):
        y = np.array([c.target for c in clips])
        # tiny training sets: fewer splits (a larger validation share) rather than failing
        largest_class = int(np.unique(y, return_counts=True)[1].max())
        n_splits = max(2, min(round(1 / fraction), len(np.unique(groups)), largest_class))
        fold = stratified_group_folds(y, groups, n_splits, seed)
        train_idx, val_idx = idx[fold != 0], idx[fold == 0]
    else:
        gss = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train_idx, val_idx = next(gss.split(idx, groups=groups))
    return [clips[i] for i in train_idx], [clips[i] for i in val_idx]


def make_splits(task: TaskSpec, dataset: Dataset, seed: int = 0, val_fraction: float = 0.1) -> list[Split]:
    stratify = task.kind == "multiclass"
    if task.folds:
        present = sorted({c.fold for c in dataset.clips if c.fold is not None})
        folds = [f for f in task.folds if f in present]
        if len(folds) < 2:
            raise ValueError(f"{task.title}: need at least 2 folds with clips for cross-validation, found {present}")
        out = []
        for f in folds:
            test = [c for c in dataset.clips if c.fold == f]
            pool = [c for c in dataset.clips if c.fold != f and c.fold is not None]
            train, val = carve_validation(pool, val_fraction, seed + int(f), stratify)
            out.append(Split(f"fold{f}", train, val, test, seed))
        return out
    train_pool = [c for c in dataset.clips if c.split in task.train_splits]
    test = [c for c in dataset.clips if c.split in task.test_splits]
    given_val = [c for c in dataset.clips if c.split in task.val_splits] if task.val_splits else []
    if not train_pool or not test:
        raise ValueError(
            f"{task.title}: the split needs training clips (split in {task.train_splits}) and test clips "
            f"(split in {task.test_splits}); found {len(train_pool)} and {len(test)}"
        )
    out = []
    for trial in range(max(1, task.trials)):
        trial_seed = seed + 1000 * trial
        if given_val:
            train, val = train_pool, given_val
        else:
            train, val = carve_validation(train_pool, val_fraction, trial_seed, stratify)
        out.append(Split(f"trial{trial}", train, val, test, trial_seed))
    return out
