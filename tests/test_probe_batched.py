"""The folds' probes trained together give, fold for fold, the numbers of the plain per-fold loop.

The reference below is the probe as bench trained it before issue 16: one fold at a time,
``nn.Sequential`` with autograd and ``torch.optim.Adam``, dropout from the global generator
reseeded each step. ``bench.probe.fit_probes`` must reproduce its weights bit for bit (hence
its best epoch, epochs run and scores), including folds of different sizes, last batches of
one row (skipped) and of two rows, weight decay, and multi-label BCE.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, average_precision_score
from torch import nn

from bench.probe import ProbeConfig, ProbeData, build_mlp, fit_probes


def reference_fit(
    data: ProbeData, n_classes: int, kind: str, cfg: ProbeConfig, val_score: Callable[[np.ndarray, np.ndarray], float]
) -> tuple[nn.Module, int, int]:
    mean = data.x_train.mean(axis=0)
    std = data.x_train.std(axis=0) + 1e-8
    xt = torch.from_numpy(((data.x_train - mean) / std).astype(np.float32))
    xv = torch.from_numpy(((data.x_val - mean) / std).astype(np.float32))
    multiclass = kind == "multiclass"
    ydtype = np.int64 if multiclass else np.float32
    yt, yv = torch.from_numpy(data.y_train.astype(ydtype)), torch.from_numpy(data.y_val.astype(ydtype))
    loss_fn: nn.Module = nn.CrossEntropyLoss() if multiclass else nn.BCEWithLogitsLoss()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_mlp(xt.shape[1], n_classes, cfg)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_epoch, best_state, epoch = (-np.inf, -np.inf), -1, None, 0
    for epoch in range(cfg.max_epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            if len(idx) < 2 and len(perm) > 1:
                continue
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
                out = model(xt[idx])
            loss = loss_fn(out, yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.inference_mode():
            logits = model(xv)
            neg_loss = -float(loss_fn(logits, yv))
            probs = torch.softmax(logits, 1) if multiclass else torch.sigmoid(logits)
            current = (float(val_score(data.y_val, probs.numpy())), neg_loss)
        if current > best:
            best, best_epoch = current, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= cfg.patience:
            break
    assert best_state is not None
    model.load_state_dict(best_state)
    return model, best_epoch, epoch + 1


def folds_of(kind: str, sizes: list[int], n_classes: int, seed: int = 0) -> list[ProbeData]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, 16))
    out = []
    for n in sizes:
        parts = []
        for m in (n, max(12, n // 3)):
            if kind == "multiclass":
                y = rng.integers(0, n_classes, m)
                x = centres[y] + 5.0 * rng.standard_normal((m, 16))
            else:
                y = (rng.random((m, n_classes)) < 0.3).astype(np.int8)
                x = y @ centres + 5.0 * rng.standard_normal((m, 16))
            parts += [x.astype(np.float32), y]
        out.append(ProbeData(*parts))
    return out


def accuracy(y: np.ndarray, s: np.ndarray) -> float:
    return float(accuracy_score(y, s.argmax(1)))


def macro_ap(y: np.ndarray, s: np.ndarray) -> float:
    return float(average_precision_score(y, s, average="macro"))


@pytest.mark.parametrize(
    ("kind", "sizes", "weight_decay"),
    [
        ("multiclass", [97, 64, 81, 34], 0.0),  # last batches of 1 (skipped), 16, 1 and 2 rows
        ("multiclass", [50, 49], 1e-4),
        ("multilabel", [90, 77, 65], 0.0),
    ],
)
def test_batched_probes_equal_the_per_fold_loop(kind: str, sizes: list[int], weight_decay: float) -> None:
    n_classes = 7
    data = folds_of(kind, sizes, n_classes)
    cfgs = [
        ProbeConfig(hidden=32, batch_size=16, max_epochs=40, patience=3, weight_decay=weight_decay, seed=k % 2)
        for k in range(len(sizes))
    ]
    score = accuracy if kind == "multiclass" else macro_ap
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the reference and fit_probes at one thread count (the probe protocol's)
    try:
        probes = fit_probes(data, n_classes, kind, cfgs, val_score=score)  # type: ignore[arg-type]
        for d, cfg, probe in zip(data, cfgs, probes, strict=True):
            model, best_epoch, epochs_run = reference_fit(d, n_classes, kind, cfg, score)
            assert (probe.best_epoch, probe.epochs_run) == (best_epoch, epochs_run)
            for name, ref in model.state_dict().items():
                assert torch.equal(probe.model.state_dict()[name], ref), name
    finally:
        torch.set_num_threads(before)
    # the folds did not all stop together, so the stack really shrank on the way
    assert len({p.epochs_run for p in probes}) > 1


def test_fit_probes_refuses_configs_that_differ_beyond_the_seed() -> None:
    data = folds_of("multiclass", [20, 20], 3)
    with pytest.raises(ValueError, match="every setting but the seed"):
        fit_probes(data, 3, "multiclass", [ProbeConfig(seed=0), ProbeConfig(seed=1, lr=1e-2)])
