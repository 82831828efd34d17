"""Distil a frozen CLIP teacher into the Wav2CLIP audio encoder (``bench train wav2clip``).

The paper's recipe: audio of a 5-s window → ResNet-18 → 512-d; targets are the teacher's
mean-pooled image embeddings of the same window; the CX loss
``½[L(audio, f(image)) + L(g(audio), image)]`` with f, g the image/audio projection MLPs and
L a symmetric InfoNCE with its own learnable temperature (init 1/0.07), or the plain CLIP
loss ``L(g(audio), image)``. Adam 1e-3, ReduceLROnPlateau on the validation loss (×0.1,
patience 5, min 1e-6), early stopping (patience 10), a validation set carved from the
training split (at most 500 clips, as the reference holds out 500).

One process, or ``torchrun`` (DDP; gloo on CPU, NCCL on GPU): the batch size is the *global*
batch, split evenly across ranks, each rank computing the InfoNCE over its own share (as
the reference's 4-GPU DataParallel did). Rank 0 validates and writes.

Run folder: ``state.pt`` (everything needed for an exact resume: model, optimizer, scheduler,
every rank's RNG, epoch, step; written every ``save_every_steps`` and at each epoch end),
``best.pt`` / ``last.pt`` (the released ``Wav2CLIP.pt`` layout), ``model.json`` (teacher,
data, config, status: what the ``wav2clip`` encoder reads), ``log.jsonl`` (every step and
epoch) and ``epochs.csv``. Re-running the same command resumes from ``state.pt``; a killed run
repeats no finished step and its result equals an uninterrupted run's.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import distributed
from bench.atomic import atomic_torch_save, atomic_write_bytes, atomic_write_json
from bench.datasets import DataNotFound, resolve_dataset
from bench.distributed import DistInfo
from bench.precision import autocast, check_precision, slow_on_this_cpu
from bench.progress import progress_bar
from bench.store import EmbeddingStore
from bench.task import Dataset, get_task
from encoders.wav2clip.checkpoint import save_official
from encoders.wav2clip.data import AudioWindows
from encoders.wav2clip.demo_teacher import TEACHER_FILE, demo_teacher
from encoders.wav2clip.model import MLPLayers, ResNet18Audio, Wav2CLIPAudio
from encoders.wav2clip.run_meta import RUN_FORMAT, RUN_META, demo_model_dir, write_run_metadata
from encoders.wav2clip.targets import WindowRule, teacher_targets
from encoders.wav2clip.teacher import TINY, CLIPTeacher, TeacherSpec

TRAINER_VERSION = "1"


class TrainError(RuntimeError):
    pass


@dataclass
class TrainConfig:
    data_root: Path | None = None  # VGGSound folder (or its parent); None: the demo set
    out_dir: Path | None = None
    loss: str = "cx"  # cx | clip
    norm: str = "clip"  # front-end standardisation: per clip, or "batch" (reference)
    batch_size: int = 128  # global batch
    lr: float = 1e-3
    max_epochs: int = 100
    plateau_patience: int = 5
    plateau_factor: float = 0.1
    min_lr: float = 1e-6
    early_stop_patience: int = 10
    val_fraction: float = 0.1
    val_max: int = 500
    window_s: float = 5.0
    clip_s: float = 10.0
    fps: float = 30.0
    frame_size: int | None = None
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    demo_teacher: bool = False  # fit the tiny demo teacher into the run folder first (demo preset)
    seed: int = 2021
    device: str = "cpu"
    save_every_steps: int = 50
    max_steps: int | None = None
    workers: int = 2
    memory_budget_gb: float = 4.0
    cache_dir: Path | None = None
    show_progress: bool = True
    fresh: bool = False
    # fp32 | bf16 | fp16 (bench.precision autocast around the forward pass) | auto: bf16 where the CPU
    # (or CUDA) runs it natively, else fp32; resolved by train() so records name what ran
    precision: str = "fp32"
    channels_last: bool = False  # convolution weights and activations channels-last (oneDNN's fast layout)

    def identity(self) -> dict[str, Any]:
        """Settings a resumed run must share with the run it continues."""
        keys = (
            "loss",
            "norm",
            "batch_size",
            "lr",
            "plateau_patience",
            "plateau_factor",
            "min_lr",
            "early_stop_patience",
            "val_fraction",
            "val_max",
            "window_s",
            "clip_s",
            "fps",
            "frame_size",
            "seed",
        )
        # precision and layout only when not the defaults: fp32 runs keep the identity (and resume
        # the states) they had before the options existed
        extra = {
            k: v
            for k, v in (("precision", self.precision), ("channels_last", self.channels_last))
            if v not in ("fp32", False)
        }
        return {
            **{k: getattr(self, k) for k in keys},
            **extra,
            "teacher": self.teacher.identity(),
            "trainer": TRAINER_VERSION,
        }

    def to_json(self) -> dict[str, Any]:
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items() if k != "teacher"}
        out["teacher"] = self.teacher.to_json()
        return out


PRESETS: dict[str, dict[str, Any]] = {
    # the paper / reference: global batch 128, up to 100 epochs, 5-s windows of 10-s clips at 30 fps
    "paper": {"batch_size": 128, "max_epochs": 100, "window_s": 5.0, "clip_s": 10.0, "fps": 30.0, "val_max": 500},
    # the demo suite: random 2.5-s windows of the 5-s clips (as the paper takes 5 s of 10 s),
    # 10 fps targets, small batches, few epochs: minutes on a 2-core CPU
    "demo": {
        "demo_teacher": True,
        "batch_size": 16,
        "window_s": 2.5,
        "clip_s": 5.0,
        "fps": 10.0,
        "val_fraction": 0.15,
        "plateau_patience": 2,
        "early_stop_patience": 4,
        "save_every_steps": 20,
        # issue 16: 5 epochs in bf16 (where the CPU has it), channels-last; 15 fp32 epochs took
        # ~20 minutes. Measured effect on the issue-3 bar: docs/wav2clip.md "The demo model"
        "max_epochs": 5,
        "precision": "auto",
        "channels_last": True,
    },
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    if name not in PRESETS:
        raise TrainError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return replace(TrainConfig(**PRESETS[name]), **{k: v for k, v in overrides.items() if v is not None})


class CLIPLoss1D(nn.Module):
    """Symmetric InfoNCE over L2-normalised pairs with a learnable (unclamped) log temperature."""

    def __init__(self) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        logits = self.logit_scale.exp() * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).t()
        target = torch.arange(len(a), device=a.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


class DistillationModel(nn.Module):
    """Audio encoder + projections + losses; key names match the reference (the release's
    ``audio_encoder.*`` / ``audio_transform.*`` plus training-only ``image_transform.*`` /
    ``loss_fn_*``), so the export is a prefix filter."""

    def __init__(self, norm: str = "clip", loss: str = "cx", precision: str = "fp32", device_type: str = "cpu") -> None:
        super().__init__()
        self.precision, self.device_type = precision, device_type
        if loss not in ("cx", "clip"):
            raise TrainError(f"loss must be 'cx' (the paper's cross-projection loss) or 'clip', got {loss!r}")
        self.loss = loss
        self.audio_encoder = ResNet18Audio(norm=norm)
        self.audio_transform = MLPLayers()
        if loss == "cx":
            self.image_transform = MLPLayers()
            self.loss_fn_a = CLIPLoss1D()  # L(audio, f(image))
            self.loss_fn_i = CLIPLoss1D()  # L(g(audio), image)
        else:
            self.loss_fn = CLIPLoss1D()

    def forward(self, audio: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """The loss: encoder and projections under ``precision``'s autocast, the losses in fp32
        (fp32 runs the same operations in the same order as before the option)."""
        with autocast(self.precision, self.device_type):
            a = self.audio_encoder(audio).float()
        if self.loss == "cx":
            with autocast(self.precision, self.device_type):
                fi = self.image_transform(image).float()
            loss_a = self.loss_fn_a(a, fi)
            with autocast(self.precision, self.device_type):
                ga = self.audio_transform(a).float()
            return 0.5 * (loss_a + self.loss_fn_i(ga, image))
        with autocast(self.precision, self.device_type):
            ga = self.audio_transform(a).float()
        return self.loss_fn(ga, image)

    def export(self) -> Wav2CLIPAudio:
        model = Wav2CLIPAudio(norm=self.audio_encoder.norm)
        model.load_state_dict(
            {k: v for k, v in self.state_dict().items() if k.startswith(("audio_encoder.", "audio_transform."))}
        )
        return model.eval()


def load_vggsound(data_root: Path | None, info: DistInfo) -> Dataset:
    """The ``vggsound`` task's dataset (from the task registry): ``data_root``, or the demo suite.

    The demo suite is built by rank 0 while the others wait, then every rank reads it.
    """
    task = get_task("vggsound")
    try:
        if data_root is None and info.is_main:
            resolve_dataset(task)  # builds the demo VGGSound if needed
        info.barrier()
        return resolve_dataset(task, data_root=None if data_root is None else Path(data_root))
    except DataNotFound as exc:
        raise TrainError(f"{exc}; point --data-root at the VGGSound folder") from None


def split_train_val(ids: list[str], fraction: float, cap: int, seed: int) -> tuple[list[str], list[str]]:
    """Validation carved from the training split: a seeded draw of min(cap, fraction·n) ids."""
    if len(ids) < 4:
        raise TrainError(f"only {len(ids)} usable training clips; distillation needs at least 4")
    order = sorted(ids)
    perm = np.random.default_rng(seed).permutation(len(order))
    n_val = max(1, min(cap, int(round(fraction * len(order)))))
    val = sorted(order[i] for i in perm[:n_val])
    train = sorted(order[i] for i in perm[n_val:])
    return train, val


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1009 + epoch))


@dataclass
class TrainResult:
    out_dir: Path
    best_path: Path | None
    last_path: Path | None
    status: str
    best_val: float
    best_epoch: int
    epochs: int
    steps: int
    seconds: float
    n_train: int
    n_val: int
    skipped: dict[str, str]


def _rng_state(device: str) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.startswith("cuda"):
        state["cuda"] = torch.cuda.get_rng_state(torch.device(device))
    return state


def _set_rng_state(state: dict[str, Any], device: str) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and device.startswith("cuda"):
        torch.cuda.set_rng_state(state["cuda"], torch.device(device))


def run_numerics(device: str, world: int) -> dict[str, Any]:
    """What decides the floating-point result besides the data and the seed.

    On CPU the convolution kernels split their reductions by thread count, so one and two
    threads give different sums and training amplifies the difference. A resume is
    bit-identical to an uninterrupted run only when all of these match.
    """
    return {
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "processes": world,
        "dtype": str(torch.get_default_dtype()).removeprefix("torch."),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
    }


def numerics_changes(before: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    """One sentence per setting that differs from the interrupted run's (empty: none)."""
    if before is None:
        return [
            "the interrupted run did not record its numerics: the "
            "weights may not be bit-identical to an uninterrupted run"
        ]
    out = []
    for key, value in now.items():
        old = before.get(key)
        if old == value:
            continue
        if key == "torch_threads":
            what = f"resuming with {value} thread{'s' if value != 1 else ''}; the interrupted run used {old}"
        else:
            what = f"resuming with {key.replace('_', ' ')} {value}; the interrupted run used {old}"
        out.append(f"{what}: the weights will not be bit-identical to an uninterrupted run")
    return out


class RunLog:
    """``log.jsonl`` (one row per step and per epoch) and ``epochs.csv``, truncated on resume."""

    def __init__(self, out_dir: Path, keep_until_step: int | None) -> None:
        self.path = out_dir / "log.jsonl"
        self.csv = out_dir / "epochs.csv"
        rows = self.rows()
        rows = [] if keep_until_step is None else [r for r in rows if r.get("global_step", 0) <= keep_until_step]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in rows).encode())

    def rows(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a torn last line from a kill
        return out

    def add(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()

    def write_csv(self) -> None:
        epochs = [r for r in self.rows() if r.get("kind") == "epoch"]
        cols = ["epoch", "global_step", "train_loss", "val_loss", "lr", "best", "seconds"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(epochs)
        atomic_write_bytes(self.csv, buf.getvalue().encode())


def default_out_dir(dataset: Dataset) -> Path:
    from bench.paths import models_dir

    if dataset.info.get("kind") == "demo":
        return demo_model_dir()
    return models_dir() / f"wav2clip-vggsound-{dataset.checksum()[:8]}"


@dataclass
class TrainingData:
    train_audio: AudioWindows
    val_audio: AudioWindows
    train_img: torch.Tensor
    val_img: torch.Tensor
    skipped: dict[str, str]


def prepare_data(
    cfg: TrainConfig, dataset: Dataset, env: DistInfo, device: str, say: Callable[[str], None]
) -> TrainingData:
    """Teacher targets (sharded over ranks, consolidated by rank 0), the validation carve, audio crops."""
    from bench.paths import cache_dir

    store = EmbeddingStore(cfg.cache_dir or cache_dir())
    rule = WindowRule(cfg.window_s, cfg.clip_s, cfg.fps, cfg.seed)
    teacher = CLIPTeacher(cfg.teacher, device=device)
    say(
        f"teacher targets: {cfg.teacher.model} ({json.dumps(cfg.teacher.identity()['weights'])}), "
        f"window {rule.name()}, {cfg.fps:g} fps"
    )
    teacher_targets(
        teacher,
        dataset,
        store,
        rule,
        frame_size=cfg.frame_size,
        shard=(env.rank, env.world),
        show_progress=cfg.show_progress and env.is_main,
    )
    env.barrier()
    view = (
        teacher_targets(teacher, dataset, store, rule, frame_size=cfg.frame_size, show_progress=False)
        if env.is_main
        else None
    )
    env.barrier()
    if view is None:
        view = teacher_targets(teacher, dataset, store, rule, frame_size=cfg.frame_size, show_progress=False)
    assert view is not None
    teacher.release()
    skipped = dict(view.failed)
    if skipped:
        say(f"{len(skipped)} clip(s) without a usable video skipped, e.g. {next(iter(skipped.items()))}")
    usable = [c.id for c in dataset.clips if c.split == "train" and c.id in view]
    train_ids, val_ids = split_train_val(usable, cfg.val_fraction, cfg.val_max, cfg.seed)
    by_id = {c.id: c for c in dataset.clips}
    sources = [
        AudioWindows(
            [by_id[i] for i in ids],
            rule,
            memory_budget_gb=cfg.memory_budget_gb,
            workers=cfg.workers,
            show_progress=cfg.show_progress and env.is_main,
            desc=desc,
        )
        for ids, desc in ((train_ids, "train audio"), (val_ids, "validation audio"))
    ]
    failed = {k: v for src in sources for k, v in src.failed.items()}
    if failed:
        say(f"{len(failed)} clip(s) with unreadable audio skipped, e.g. {next(iter(failed.items()))}")
    skipped.update(failed)
    images = [torch.from_numpy(view.matrix([c.id for c in src.clips])) for src in sources]
    return TrainingData(sources[0], sources[1], images[0], images[1], skipped)


@dataclass
class Progress:
    """Where a run stands: saved in ``state.pt`` with the weights and restored on resume."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    status: str = "running"  # running | stopped (--max-steps) | finished
    stop_reason: str = ""

    def saved(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("epoch", "step", "global_step", "best_val", "best_epoch", "bad_epochs", "status")
        }


def open_run(cfg: TrainConfig, info: DistInfo) -> tuple[TrainConfig, Dataset, Path, dict[str, Any]]:
    """The dataset and run folder (cleared with ``fresh``; the demo teacher fitted into it first),
    the configuration with that teacher, and the identity a resumed run must share."""
    dataset = load_vggsound(cfg.data_root, info)
    out_dir = Path(cfg.out_dir) if cfg.out_dir is not None else default_out_dir(dataset)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if cfg.fresh:
            for name in ("state.pt", "state.json", "best.pt", "last.pt", RUN_META, "log.jsonl", "epochs.csv"):
                (out_dir / name).unlink(missing_ok=True)
        if cfg.demo_teacher:
            demo_teacher(out_dir, dataset, cfg.show_progress)
    info.barrier()
    if cfg.demo_teacher:
        cfg = replace(cfg, teacher=TeacherSpec(TINY, str(out_dir / TEACHER_FILE), 0))
    return cfg, dataset, out_dir, {**cfg.identity(), "data": dataset.checksum()}


def read_state(out_dir: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state of an interrupted run in ``out_dir`` (None: start afresh); other settings are refused."""
    state_path = out_dir / "state.pt"
    if not state_path.is_file():
        return None
    state: dict[str, Any] = torch.load(state_path, map_location="cpu", weights_only=False)
    if state["identity"] != identity:
        raise TrainError(
            f"{out_dir} holds a run with other settings ({state_path}); resume it with the same "
            "options, or pass --out to a new folder (or --fresh to start over there)"
        )
    return state


class Distillation:
    """One run's model, optimiser, data and progress, and the steps of an epoch."""

    def __init__(
        self,
        cfg: TrainConfig,
        info: DistInfo,
        device: str,
        dataset: Dataset,
        out_dir: Path,
        identity: dict[str, Any],
        say: Callable[[str], None],
    ) -> None:
        self.cfg, self.info, self.device, self.out_dir, self.identity, self.say = (
            cfg,
            info,
            device,
            out_dir,
            identity,
            say,
        )
        self.data = prepare_data(cfg, dataset, info, device, say)
        self.n_batches = len(self.data.train_audio) // cfg.batch_size
        if self.n_batches == 0:
            raise TrainError(
                f"{len(self.data.train_audio)} training clips cannot fill one batch of {cfg.batch_size}; "
                "lower --batch-size"
            )
        self.per_rank = cfg.batch_size // info.world
        torch.manual_seed(cfg.seed)
        self.model = DistillationModel(norm=cfg.norm, loss=cfg.loss, precision=cfg.precision, device_type=device)
        self.model.to(device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr
        )
        self.numerics = run_numerics(device, info.world)
        self.numerics_notes: list[str] = []
        self.progress = Progress()

    def resume(self, state: dict[str, Any]) -> None:
        """Weights, optimiser, scheduler, this rank's RNG and progress from ``state``."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        p = self.progress = Progress(**{k: state[k] for k in Progress().saved()})
        if len(state["rng"]) != self.info.world:
            raise TrainError(
                f"{self.out_dir / 'state.pt'} was written by {len(state['rng'])} process(es); resume it with as many"
            )
        _set_rng_state(state["rng"][self.info.rank], self.device)
        changes = numerics_changes(state.get("numerics"), self.numerics)
        for warning in changes:
            self.say(f"warning: {warning}")
        self.numerics_notes = [
            *state.get("numerics_notes", []),
            *(f"global step {p.global_step}: {c}" for c in changes),
        ]
        if p.status == "stopped":  # a --max-steps run continues when asked for more
            p.status = "running"
        elif p.status == "finished" and p.epoch < self.cfg.max_epochs and p.bad_epochs < self.cfg.early_stop_patience:
            p.status = "running"  # ended at max_epochs, not by early stopping: --epochs N extends it
        self.say(f"resumed {self.out_dir} at epoch {p.epoch} step {p.step} (global step {p.global_step})")

    def save_state(self) -> None:
        """``state.pt`` (every rank's RNG gathered to rank 0) and a readable ``state.json``."""
        rngs = self.info.gather(_rng_state(self.device))
        if not self.info.is_main:
            return
        saved = self.progress.saved()
        atomic_torch_save(
            {
                "identity": self.identity,
                **saved,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rngs,
                "numerics": self.numerics,
                "numerics_notes": self.numerics_notes,
            },
            self.out_dir / "state.pt",
        )
        summary = {k: saved[k] for k in ("epoch", "step", "global_step", "status")}
        atomic_write_json(self.out_dir / "state.json", {**summary, "numerics": self.numerics})

    def validate(self) -> float:
        """Mean validation loss (rank 0 computes it, every rank receives it)."""
        loss = 0.0
        val_audio, val_img, bs = self.data.val_audio, self.data.val_img, self.cfg.batch_size
        if self.info.is_main:
            self.model.eval()
            total, count = 0.0, 0
            with torch.no_grad():
                for s in range(0, len(val_audio), bs):
                    idx = list(range(s, min(s + bs, len(val_audio))))
                    if len(idx) < 2:
                        continue  # a contrastive loss needs a negative
                    audio, kept = val_audio.get(idx)
                    out = self.model(torch.from_numpy(audio).to(self.device), val_img[kept].to(self.device))
                    total += float(out) * len(kept)
                    count += len(kept)
            self.model.train()
            loss = total / max(count, 1)
        return self.info.broadcast_float(loss, self.device)

    def _my_rows(self, order: torch.Tensor, step: int) -> list[int]:
        """This rank's share of batch ``step`` of the epoch's ``order``."""
        rows = order[step * self.cfg.batch_size : (step + 1) * self.cfg.batch_size]
        return rows[self.info.rank * self.per_rank : (self.info.rank + 1) * self.per_rank].tolist()

    def train_epoch(self, net: nn.Module, runlog: RunLog | None) -> list[float]:
        """The remaining steps of the current epoch (stopping early at ``max_steps``); the step losses."""
        cfg, p = self.cfg, self.progress
        order = epoch_order(len(self.data.train_audio), cfg.seed, p.epoch)
        losses: list[float] = []
        show = cfg.show_progress and self.info.is_main
        with progress_bar(f"epoch {p.epoch + 1}/{cfg.max_epochs}", self.n_batches - p.step, show) as advance:
            while p.step < self.n_batches:
                if cfg.max_steps is not None and p.global_step >= cfg.max_steps:
                    p.status, p.stop_reason = "stopped", f"max_steps {cfg.max_steps} reached"
                    break
                nxt = self._my_rows(order, p.step + 1) if p.step + 1 < self.n_batches else None
                audio, kept = self.data.train_audio.get(self._my_rows(order, p.step), prefetch_next=nxt)
                loss = net(torch.from_numpy(audio).to(self.device), self.data.train_img[kept].to(self.device))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                p.step += 1
                p.global_step += 1
                value = self.info.mean(float(loss.detach()), self.device)
                losses.append(value)
                if runlog is not None:
                    lr = self.optimizer.param_groups[0]["lr"]
                    row = {
                        "epoch": p.epoch,
                        "step": p.step,
                        "global_step": p.global_step,
                        "train_loss": value,
                        "lr": lr,
                    }
                    runlog.add({"kind": "step", **row})
                advance(1)
                if cfg.save_every_steps and p.global_step % cfg.save_every_steps == 0 and p.step < self.n_batches:
                    self.save_state()
        return losses

    def end_epoch(self, losses: list[float], t_epoch: float, runlog: RunLog | None, meta: dict[str, Any]) -> None:
        """Validate, step the scheduler, keep the best weights, log, decide whether to stop, save."""
        cfg, p = self.cfg, self.progress
        val_loss = self.validate()
        self.scheduler.step(val_loss)
        improved = val_loss < p.best_val
        if improved:
            p.best_val, p.best_epoch, p.bad_epochs = val_loss, p.epoch, 0
        else:
            p.bad_epochs += 1
        if runlog is not None:  # the whole epoch's steps, also those before a resume
            losses = [r["train_loss"] for r in runlog.rows() if r.get("kind") == "step" and r["epoch"] == p.epoch]
        train_loss = float(np.mean(losses)) if losses else float("nan")
        p.epoch += 1
        p.step = 0
        lr = self.optimizer.param_groups[0]["lr"]
        if self.info.is_main:
            export = self.model.export()
            if improved:
                save_official(export, self.out_dir / "best.pt")
            save_official(export, self.out_dir / "last.pt")
            assert runlog is not None
            runlog.add(
                {
                    "kind": "epoch",
                    "epoch": p.epoch,
                    "global_step": p.global_step,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "lr": lr,
                    "best": improved,
                    "seconds": round(time.perf_counter() - t_epoch, 2),
                }
            )
            runlog.write_csv()
        best = "  (best)" if improved else ""
        self.say(
            f"epoch {p.epoch}/{cfg.max_epochs}: train {train_loss:.4f}  val {val_loss:.4f}  lr {lr:.1e}{best}  "
            f"{time.perf_counter() - t_epoch:.1f} s"
        )
        if p.bad_epochs >= cfg.early_stop_patience:
            p.status, p.stop_reason = "finished", f"early stopping: no improvement for {p.bad_epochs} epochs"
        elif p.epoch >= cfg.max_epochs:
            p.status, p.stop_reason = "finished", f"max_epochs {cfg.max_epochs} reached"
        self.write_meta(meta)
        self.save_state()

    def write_meta(self, meta: dict[str, Any]) -> None:
        if self.info.is_main:
            p = self.progress
            write_run_metadata(
                self.out_dir, meta, p.status, p.stop_reason, p.best_val, p.best_epoch, p.epoch, p.global_step
            )

    def fit(self, meta: dict[str, Any], resumed: bool) -> None:
        """Epochs until early stopping, ``max_epochs`` or ``max_steps``; every rank runs this."""
        cfg, p, data = self.cfg, self.progress, self.data
        runlog = RunLog(self.out_dir, p.global_step if resumed else None) if self.info.is_main else None
        net: nn.Module = self.model
        if self.info.active:
            ids = [self.device] if self.device.startswith("cuda") else None
            net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.say(
            f"training on {len(data.train_audio)} clips ({self.n_batches} steps/epoch of {cfg.batch_size}), "
            f"validating on {len(data.val_audio)}; loss {cfg.loss}, norm {cfg.norm}, "
            f"{self.info.world} process(es) on {self.device}"
        )
        self.model.train()
        while p.status == "running" and p.epoch < cfg.max_epochs:
            t_epoch = time.perf_counter()
            losses = self.train_epoch(net, runlog)
            if p.status == "stopped":
                break
            self.end_epoch(losses, t_epoch, runlog, meta)
        if p.status == "stopped":
            self.save_state()
            if self.info.is_main:
                save_official(self.model.export(), self.out_dir / "last.pt")
            self.write_meta(meta)
        if p.status == "running":  # resumed a run whose max_epochs was already reached
            p.status = "finished"

    def close(self) -> None:
        """Stop the decoding threads; leave the process group once every rank is done."""
        self.data.train_audio.close()
        self.data.val_audio.close()
        self.info.barrier()
        if self.info.active:
            torch.distributed.destroy_process_group()

    def result(self, seconds: float) -> TrainResult:
        p, best, last = self.progress, self.out_dir / "best.pt", self.out_dir / "last.pt"
        return TrainResult(
            self.out_dir,
            best if best.is_file() else None,
            last if last.is_file() else None,
            p.status,
            p.best_val,
            p.best_epoch,
            p.epoch,
            p.global_step,
            seconds,
            len(self.data.train_audio),
            len(self.data.val_audio),
            self.data.skipped,
        )


def train(cfg: TrainConfig, log: Callable[[str], None] | None = None) -> TrainResult:
    """Run (or resume) a distillation; returns where the checkpoints are."""
    t_start = time.perf_counter()
    info = distributed.init(cfg.device)
    device = distributed.rank_device(cfg.device, info)

    def say(msg: str) -> None:
        if info.is_main:
            (log or (lambda m: print(m, file=sys.stderr, flush=True)))(msg)

    if cfg.precision == "auto":  # resolved before the identity, so state, records and resumes name what ran
        cfg = replace(cfg, precision="fp32" if slow_on_this_cpu("bf16", device) else "bf16")
    check_precision(cfg.precision, "bench train wav2clip")
    if cfg.batch_size % info.world:
        raise TrainError(f"--batch-size {cfg.batch_size} must be divisible by the number of processes ({info.world})")
    cfg, dataset, out_dir, identity = open_run(cfg, info)
    state = read_state(out_dir, identity)
    run = Distillation(cfg, info, device, dataset, out_dir, identity, say)
    if state is not None:
        run.resume(state)
    meta = describe_run(cfg, dataset, out_dir, len(run.data.train_audio), len(run.data.val_audio), run.data.skipped)
    meta["numerics"] = run.numerics
    if run.numerics_notes:
        meta["numerics_changed_on_resume"] = run.numerics_notes
    if state is None:
        run.write_meta(meta)
    run.fit(meta, resumed=state is not None)
    run.close()
    p = run.progress
    say(
        f"{p.status}: {p.stop_reason or 'nothing left to do'}; best val {p.best_val:.4f} "
        f"(epoch {p.best_epoch + 1}); {out_dir}"
    )
    return run.result(time.perf_counter() - t_start)


def describe_run(
    cfg: TrainConfig, dataset: Dataset, out_dir: Path, n_train: int, n_val: int, skipped: dict[str, str]
) -> dict[str, Any]:
    """The run's part of ``model.json``: what it was trained on, by which teacher, with which settings."""
    teacher = cfg.teacher.to_json()
    pre = teacher.get("pretrained")
    if pre and Path(pre).is_file() and Path(pre).resolve().parent == out_dir.resolve():
        teacher["pretrained"] = f"./{Path(pre).name}"  # the run folder carries its teacher
    return {
        "format": RUN_FORMAT,
        "trainer_version": TRAINER_VERSION,
        "demo": dataset.info.get("kind") == "demo",
        "data": {
            "kind": dataset.info.get("kind"),
            "root": str(dataset.root),
            "checksum": dataset.checksum(),
            "n_train": n_train,
            "n_val": n_val,
            "n_skipped": len(skipped),
            **({"demo": dataset.info["demo"]} if "demo" in dataset.info else {}),
        },
        "teacher": teacher,
        "teacher_identity": cfg.teacher.identity(),
        "norm": cfg.norm,
        "loss": cfg.loss,
        "config": cfg.to_json(),
    }
