"""Train / validation / test splits for the probes.

Official folds: test on fold i, train on the others. Official train/test splits: repeated
trials with different seeds. Validation is *always* carved from the training clips (or is
the dataset's own validation split, e.g. FSD50K ``val``); the test clips never select an
epoch, a threshold or anything else.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from bench.task import Clip, Dataset, TaskSpec


@dataclass(frozen=True)
class Split:
    name: str
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    seed: int


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # small classes: sklearn warns, still splits
            sgkf = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            train_idx, val_idx = next(sgkf.split(idx, y, groups))
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
