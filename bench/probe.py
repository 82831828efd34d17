"""The paper's downstream classifier: a 2-layer MLP on frozen embeddings.

Trained from in-memory tensors with Adam, early-stopped on a validation set that the
caller carves from training data (the test fold never reaches this module). Multi-class
uses cross-entropy, multi-label ``BCEWithLogitsLoss``. Inputs are standardised with
statistics of the training rows only. Seeding is local (``torch.Generator`` and a forked
RNG), so building a probe never reseeds anyone else's random state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

ProbeKind = Literal["multiclass", "multilabel"]


@dataclass(frozen=True)
class ProbeConfig:
    hidden: int = 512
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 20
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FittedProbe:
    model: nn.Module
    mean: np.ndarray
    std: np.ndarray
    kind: ProbeKind
    best_epoch: int
    epochs_run: int
    best_val: float
    device: str

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities: softmax (multi-class) or per-class sigmoid (multi-label)."""
        self.model.eval()
        xt = torch.from_numpy(((x - self.mean) / self.std).astype(np.float32)).to(self.device)
        with torch.inference_mode():
            logits = (
                torch.cat([self.model(xt[i : i + 4096]) for i in range(0, len(xt), 4096)])
                if len(xt)
                else torch.zeros(0)
            )
            probs = torch.softmax(logits, dim=1) if self.kind == "multiclass" else torch.sigmoid(logits)
        return probs.cpu().numpy()


def build_mlp(dim_in: int, n_out: int, cfg: ProbeConfig) -> nn.Module:
    return nn.Sequential(
        nn.Linear(dim_in, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, n_out)
    )


def fit_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    n_classes: int,
    kind: ProbeKind,
    cfg: ProbeConfig,
    val_score: Callable[[np.ndarray, np.ndarray], float] | None = None,
    device: str = "cpu",
) -> FittedProbe:
    """Train with early stopping on ``val_score`` (higher is better; default: minus val loss).

    ``y`` is an int vector (multi-class) or a {0,1} matrix [N, C] (multi-label). The weights
    of the best validation epoch are restored.
    """
    if len(x_train) == 0:
        raise ValueError("cannot train a probe on zero training clips")
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0) + 1e-8
    norm = lambda a: torch.from_numpy(((a - mean) / std).astype(np.float32)).to(device)  # noqa: E731
    xt, xv = norm(x_train), norm(x_val)
    if kind == "multiclass":
        yt = torch.from_numpy(y_train.astype(np.int64)).to(device)
        yv = torch.from_numpy(y_val.astype(np.int64)).to(device)
        loss_fn: nn.Module = nn.CrossEntropyLoss()
    else:
        yt = torch.from_numpy(y_train.astype(np.float32)).to(device)
        yv = torch.from_numpy(y_val.astype(np.float32)).to(device)
        loss_fn = nn.BCEWithLogitsLoss()

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = build_mlp(x_train.shape[1], n_classes, cfg).to(device)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    best: tuple[float, float] = (-np.inf, -np.inf)
    best_epoch, best_state = -1, None
    epoch = 0
    for epoch in range(cfg.max_epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen).to(device)
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            if len(idx) < 2 and len(perm) > 1:
                continue  # a 1-row batch adds noise and nothing else
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
                out = model(xt[idx])
            loss = loss_fn(out, yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        current = _validate(model, xv, yv, y_val, loss_fn, kind, val_score)
        if current > best:  # metric first, lower validation loss breaks ties
            best, best_epoch = current, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return FittedProbe(model, mean, std, kind, best_epoch, epoch + 1, float(best[0]), device)


def _validate(
    model: nn.Module,
    xv: torch.Tensor,
    yv: torch.Tensor,
    y_val: np.ndarray,
    loss_fn: nn.Module,
    kind: ProbeKind,
    val_score: Callable[[np.ndarray, np.ndarray], float] | None,
) -> tuple[float, float]:
    """(metric, -loss) on validation; with no validation rows every epoch ties."""
    if len(xv) == 0:
        return (0.0, 0.0)
    model.eval()
    with torch.inference_mode():
        logits = model(xv)
        neg_loss = -float(loss_fn(logits, yv))
        if val_score is None:
            return (neg_loss, neg_loss)
        probs = torch.softmax(logits, 1) if kind == "multiclass" else torch.sigmoid(logits)
        return (float(val_score(y_val, probs.cpu().numpy())), neg_loss)
