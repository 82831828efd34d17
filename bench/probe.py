"""The paper's downstream classifier: a 2-layer MLP on frozen embeddings.

Trained from in-memory tensors with Adam, early-stopped on a validation set that the
caller carves from training data (the test fold never reaches this module). Multi-class
uses cross-entropy, multi-label ``BCEWithLogitsLoss``. Inputs are standardised with
statistics of the training rows only. Seeding is local (``torch.Generator`` objects), so
building a probe never reseeds anyone else's random state.

The probes of all folds (or trials) train together (:func:`fit_probes`): their weights and
Adam state live in stacked ``[F, ...]`` tensors, the training rows in one tensor, and one step
advances every fold. The forward and backward passes are written out as the operations
autograd runs through ``Linear → ReLU → Dropout → Linear`` and its loss, the matrix products
fold by fold with the shapes a fold alone has, the element-wise steps and Adam on the stacked
tensors (same value per element); the random draws are the same too (initial weights,
shuffles, one dropout seed per step). So, on CPU, each fold's weights, epochs and scores are
bit-identical to training it alone with ``nn.Sequential`` and ``torch.optim.Adam`` (tested
against that loop), at a fraction of the cost: no autograd graph or optimiser bookkeeping per
step, Adam once per step for all folds, dropout masks drawn in a helper thread, and a fold that
early-stops leaves the stack. On CUDA the masks come from the same CPU generators (the old
per-fold loop drew them from the CUDA generator), so GPU numbers are deterministic but differ
from that loop's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

ProbeKind = Literal["multiclass", "multilabel"]
ScoreFn = Callable[[np.ndarray, np.ndarray], float]
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults
LAYERS = ((0, "weight"), (0, "bias"), (3, "weight"), (3, "bias"))  # the trained tensors of build_mlp's Sequential


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


@dataclass(frozen=True)
class ProbeData:
    """One fold's training and validation rows; ``y`` is an int vector (multi-class) or a {0,1}
    matrix ``[N, C]`` (multi-label)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def build_mlp(dim_in: int, n_out: int, cfg: ProbeConfig) -> nn.Sequential:
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
    val_score: ScoreFn | None = None,
    device: str = "cpu",
) -> FittedProbe:
    """Train with early stopping on ``val_score`` (higher is better; default: minus val loss).

    The weights of the best validation epoch are restored.
    """
    return fit_probes([ProbeData(x_train, y_train, x_val, y_val)], n_classes, kind, [cfg], val_score, device)[0]


class _Adam:
    """``torch.optim.Adam``'s single-tensor update on the stacked folds' parameters, one step count per fold.

    All four trained tensors of every fold live in one ``[F, P]`` buffer (``params`` are views of
    it), so an update is a handful of element-wise passes over one tensor, not one per layer.
    """

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float) -> None:
        self.shapes = [tuple(p.shape[1:]) for p in params]
        self.flat = torch.cat([p.reshape(len(p), -1) for p in params], 1)
        self.lr = lr
        self.weight_decay = weight_decay
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self.params = self.views(self.flat)

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """``flat`` ``[F, P]`` (or one fold's ``[P]``) seen as the four layer tensors."""
        lead = tuple(flat.shape[:-1])
        sizes = [math.prod(s) for s in self.shapes]
        return [t.view(lead + s) for t, s in zip(flat.split(sizes, -1), self.shapes, strict=True)]

    def keep(self, rows: torch.Tensor) -> None:
        """Drop the folds not in ``rows`` (they stopped early)."""
        self.flat, self.exp_avg, self.exp_avg_sq = (
            t.index_select(0, rows) for t in (self.flat, self.exp_avg, self.exp_avg_sq)
        )
        self.params = self.views(self.flat)

    def step(self, grad: torch.Tensor, steps: list[int], rows: list[int]) -> None:
        """Update the folds in ``rows`` with ``grad`` ``[F, P]``; ``steps[r]``: fold r's step count after it."""
        if len(rows) == len(steps) and len(set(steps)) == 1:
            self._update(self.flat, grad, self.exp_avg, self.exp_avg_sq, steps[0])
            return
        for r in rows:  # folds out of step with each other: one at a time, on views
            self._update(self.flat[r], grad[r], self.exp_avg[r], self.exp_avg_sq[r], steps[r])

    def _update(
        self, param: torch.Tensor, grad: torch.Tensor, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor, step: int
    ) -> None:
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        exp_avg.lerp_(grad, 1 - BETA1)
        exp_avg_sq.mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
        step_size = self.lr / (1 - BETA1**step)
        denom = exp_avg_sq.sqrt().div_(math.sqrt(1 - BETA2**step)).add_(EPS)
        param.addcdiv_(exp_avg, denom, value=-step_size)


def fit_probes(
    folds: Sequence[ProbeData],
    n_classes: int,
    kind: ProbeKind,
    cfgs: Sequence[ProbeConfig],
    val_score: ScoreFn | None = None,
    device: str = "cpu",
) -> list[FittedProbe]:
    """``fit_probe`` for every fold at once (configs may differ only in their seed)."""
    if len(folds) != len(cfgs) or not folds:
        raise ValueError("fit_probes needs one config per fold, and at least one fold")
    cfg = cfgs[0]
    shared = {k: v for k, v in cfg.as_dict().items() if k != "seed"}
    if any({k: v for k, v in c.as_dict().items() if k != "seed"} != shared for c in cfgs):
        raise ValueError("probes trained together must share every setting but the seed")
    for fold in folds:
        if len(fold.x_train) == 0:
            raise ValueError("cannot train a probe on zero training clips")
    trainer = _StackedTrainer(folds, n_classes, kind, cfgs, val_score, device)
    return trainer.fit()


class _StackedTrainer:
    def __init__(
        self,
        folds: Sequence[ProbeData],
        n_classes: int,
        kind: ProbeKind,
        cfgs: Sequence[ProbeConfig],
        val_score: ScoreFn | None,
        device: str,
    ) -> None:
        self.folds, self.cfgs, self.cfg = folds, cfgs, cfgs[0]
        self.kind, self.n_classes, self.val_score, self.device = kind, n_classes, val_score, device
        self.multiclass = kind == "multiclass"
        self.loss_fn: nn.Module = nn.CrossEntropyLoss() if self.multiclass else nn.BCEWithLogitsLoss()
        self.n = [len(f.x_train) for f in folds]
        self.block = max(self.n)  # fold f's training rows start at row f * block of self.x / self.y
        dim = folds[0].x_train.shape[1]
        ydtype = np.int64 if self.multiclass else np.float32
        self.x = torch.zeros(len(folds) * self.block, dim)
        self.y = torch.zeros(
            (len(folds) * self.block,) + (() if self.multiclass else (n_classes,)),
            dtype=torch.int64 if self.multiclass else torch.float32,
        )
        self.mean, self.std, self.xv, self.yv = [], [], [], []
        for f, fold in enumerate(folds):
            mean = fold.x_train.mean(axis=0)
            std = fold.x_train.std(axis=0) + 1e-8
            self.mean.append(mean)
            self.std.append(std)
            rows = slice(f * self.block, f * self.block + self.n[f])
            self.x[rows] = torch.from_numpy(((fold.x_train - mean) / std).astype(np.float32))
            self.y[rows] = torch.from_numpy(fold.y_train.astype(ydtype))
            self.xv.append(torch.from_numpy(((fold.x_val - mean) / std).astype(np.float32)).to(device))
            self.yv.append(torch.from_numpy(fold.y_val.astype(ydtype)).to(device))
        self.x, self.y = self.x.to(device), self.y.to(device)
        self.models: list[nn.Sequential] = []
        for c in cfgs:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(c.seed)
                self.models.append(build_mlp(dim, n_classes, c))
        stacked = [torch.stack([getattr(m[i], name).detach() for m in self.models]).to(device) for i, name in LAYERS]
        self.opt = _Adam(stacked, self.cfg.lr, self.cfg.weight_decay)
        self.gens = [torch.Generator().manual_seed(c.seed + 1) for c in cfgs]

    def fit(self) -> list[FittedProbe]:
        cfg, nf = self.cfg, len(self.folds)
        steps = [0] * nf
        active = list(range(nf))
        best: list[tuple[float, float]] = [(-np.inf, -np.inf)] * nf
        best_epoch, epochs_run = [-1] * nf, [0] * nf
        best_state: list[list[torch.Tensor] | None] = [None] * nf
        for epoch in range(cfg.max_epochs):
            if not active:
                break
            self._epoch(active, steps)
            stopped = []
            for a, f in enumerate(active):
                epochs_run[f] = epoch + 1
                current = self._validate(a, f)
                if current > best[f]:  # metric first, lower validation loss breaks ties
                    best[f], best_epoch[f] = current, epoch
                    best_state[f] = [t[a].clone() for t in self.opt.params]
                elif epoch - best_epoch[f] >= cfg.patience:
                    stopped.append(a)
            for a in stopped:
                if best_state[active[a]] is None:  # never improved (a NaN metric): keep its last weights
                    best_state[active[a]] = [t[a].clone() for t in self.opt.params]
            if stopped:
                keep = [a for a in range(len(active)) if a not in stopped]
                self.opt.keep(torch.tensor(keep, dtype=torch.int64, device=self.device))
                active = [active[a] for a in keep]
        for a, f in enumerate(active):
            if best_state[f] is None:
                best_state[f] = [t[a].clone() for t in self.opt.params]
        out = []
        for f, model in enumerate(self.models):
            state = best_state[f]
            if state is not None:
                with torch.no_grad():
                    for (i, name), t in zip(LAYERS, state, strict=True):
                        getattr(model[i], name).copy_(t)
            out.append(
                FittedProbe(
                    model.to(self.device),
                    self.mean[f],
                    self.std[f],
                    self.kind,
                    best_epoch[f],
                    epochs_run[f],
                    float(best[f][0]),
                    self.device,
                )
            )
        return out

    def _epoch(self, active: list[int], steps: list[int]) -> None:
        """One pass over every active fold's training rows, the folds' batches side by side.

        Dropout masks are drawn in a helper thread (the generator releases the GIL), one step
        ahead of the arithmetic that uses them.
        """
        bsz, na = self.cfg.batch_size, len(active)
        batches: list[list[torch.Tensor]] = []
        seeds: list[list[int]] = []
        for f in active:
            perm = torch.randperm(self.n[f], generator=self.gens[f]) + f * self.block
            # a 1-row batch adds noise and nothing else (unless the fold has a single row)
            mine = [b for b in perm.split(bsz) if len(b) >= 2 or self.n[f] == 1]
            batches.append([b.to(self.device) for b in mine])
            seeds.append(torch.randint(0, 2**31 - 1, (len(mine),), generator=self.gens[f]).tolist())
        n_steps = max(len(b) for b in batches)
        keep = 1 - self.cfg.dropout
        hidden = self.cfg.hidden

        def masks(s: int) -> torch.Tensor:
            """Step s's scaled dropout masks [na, bsz, hidden]: what nn.Dropout draws after torch.manual_seed(seed)."""
            gen = torch.Generator()
            out = torch.zeros(na, bsz, hidden)
            for a in range(na):
                if s < len(batches[a]):
                    gen.manual_seed(seeds[a][s])
                    out[a, : len(batches[a][s])].bernoulli_(keep, generator=gen)
            return out.div_(keep).to(self.device)

        grad = torch.empty_like(self.opt.flat)
        grads = self.opt.views(grad)
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = [pool.submit(masks, s) for s in range(min(2, n_steps))]
            for s in range(n_steps):
                scale = ahead[s].result()
                if s + 2 < n_steps:
                    ahead.append(pool.submit(masks, s + 2))
                rows = [a for a in range(na) if s < len(batches[a])]
                full = [a for a in rows if len(batches[a][s]) == bsz]
                if len(full) == na:
                    self._gradients_stacked([batches[a][s] for a in range(na)], scale, grads)
                else:
                    for a in rows:
                        k = len(batches[a][s])
                        self._gradients(a, batches[a][s], scale[a, :k], [g[a] for g in grads])
                for a in rows:
                    steps[active[a]] += 1
                self.opt.step(grad, [steps[f] for f in active], rows)

    def _gradients(self, a: int, idx: torch.Tensor, scale: torch.Tensor, out: list[torch.Tensor]) -> None:
        """Fold ``a``'s gradients for one batch, op for op what autograd computes through
        Linear → ReLU → Dropout → Linear → mean loss (same kernels, same shapes)."""
        w1, b1, w2, b2 = (p[a] for p in self.opt.params)
        x = self.x.index_select(0, idx)
        a1 = torch.relu(torch.addmm(b1, x, w1.t()))
        d1 = a1 * scale
        z2 = torch.addmm(b2, d1, w2.t())
        y = self.y.index_select(0, idx)
        if self.multiclass:  # nll_loss(mean) then log_softmax backward
            logp = torch.log_softmax(z2, 1)
            g_logp = torch.zeros_like(logp).scatter_(1, y.unsqueeze(1), -float(torch.tensor(1.0) / len(idx)))
            g_z2 = torch._log_softmax_backward_data(g_logp, logp, 1, logp.dtype)
        else:  # binary_cross_entropy_with_logits(mean) backward
            g_z2 = (torch.sigmoid(z2) - y) / z2.numel()
        torch.mm(g_z2.t(), d1, out=out[2])
        torch.sum(g_z2, 0, out=out[3])  # the bias was broadcast over the batch
        g_z1 = torch.ops.aten.threshold_backward(torch.mm(g_z2, w2) * scale, a1, 0)
        torch.mm(g_z1.t(), x, out=out[0])
        torch.sum(g_z1, 0, out=out[1])

    def _gradients_stacked(self, idx: list[torch.Tensor], scale: torch.Tensor, out: list[torch.Tensor]) -> None:
        """``_gradients`` for every fold at once when all have a full batch: batched matrix
        products (on CPU, the same per-matrix kernel and shapes as one fold alone), the
        element-wise and row-wise steps (ReLU, dropout, log-softmax and their backward) on the
        stacked tensors, which gives every element the value it has alone."""
        w1, b1, w2, b2 = self.opt.params
        na, bsz = len(idx), len(idx[0])
        flat = torch.cat(idx)
        x = self.x.index_select(0, flat).view(na, bsz, -1)
        a1 = torch.relu(torch.baddbmm(b1.unsqueeze(1), x, w1.transpose(1, 2)))
        d1 = a1 * scale
        z2 = torch.baddbmm(b2.unsqueeze(1), d1, w2.transpose(1, 2))
        y = self.y.index_select(0, flat)
        if self.multiclass:
            logp = torch.log_softmax(z2, 2)
            g_logp = torch.zeros_like(logp).scatter_(2, y.view(na, bsz, 1), -float(torch.tensor(1.0) / bsz))
            g_z2 = torch._log_softmax_backward_data(g_logp, logp, 2, logp.dtype)
        else:
            # sigmoid fold by fold: its vectorised and scalar paths round differently, and which
            # elements take which path depends on the tensor's length
            sig = torch.stack([torch.sigmoid(z2[a]) for a in range(na)])
            g_z2 = (sig - y.view(na, bsz, -1)) / (bsz * z2.shape[2])
        out[2].copy_(torch.bmm(g_z2.transpose(1, 2), d1))
        out[3].copy_(g_z2.sum(1))
        g_z1 = torch.ops.aten.threshold_backward(torch.bmm(g_z2, w2).mul_(scale), a1, 0)
        out[0].copy_(torch.bmm(g_z1.transpose(1, 2), x))
        out[1].copy_(g_z1.sum(1))

    def _validate(self, a: int, f: int) -> tuple[float, float]:
        """(metric, -loss) on fold f's validation rows; with none, every epoch ties."""
        xv, yv = self.xv[f], self.yv[f]
        if len(xv) == 0:
            return (0.0, 0.0)
        w1, b1, w2, b2 = (t[a] for t in self.opt.params)
        with torch.inference_mode():
            logits = torch.addmm(b2, torch.relu(torch.addmm(b1, xv, w1.t())), w2.t())
            neg_loss = -float(self.loss_fn(logits, yv))
            if self.val_score is None:
                return (neg_loss, neg_loss)
            probs = torch.softmax(logits, 1) if self.multiclass else torch.sigmoid(logits)
            return (float(self.val_score(self.folds[f].y_val, probs.cpu().numpy())), neg_loss)
