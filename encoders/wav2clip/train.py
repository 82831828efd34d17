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
import os
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

from bench.atomic import atomic_torch_save, atomic_write_bytes, atomic_write_json
from bench.hashing import sha256_file
from bench.progress import progress_bar
from bench.store import EmbeddingStore
from bench.task import Dataset
from encoders.wav2clip.checkpoint import save_official
from encoders.wav2clip.data import AudioWindows
from encoders.wav2clip.model import MLPLayers, ResNet18Audio, Wav2CLIPAudio
from encoders.wav2clip.targets import WindowRule, teacher_targets
from encoders.wav2clip.teacher import TINY, CLIPTeacher, TeacherSpec

TRAINER_VERSION = "1"
RUN_FORMAT = "bench-wav2clip-run"


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
        return {**{k: getattr(self, k) for k in keys}, "teacher": self.teacher.identity(), "trainer": TRAINER_VERSION}

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
        "max_epochs": 15,
        "window_s": 2.5,
        "clip_s": 5.0,
        "fps": 10.0,
        "val_fraction": 0.15,
        "plateau_patience": 2,
        "early_stop_patience": 4,
        "save_every_steps": 20,
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

    def __init__(self, norm: str = "clip", loss: str = "cx") -> None:
        super().__init__()
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
        a = self.audio_encoder(audio)
        if self.loss == "cx":
            return 0.5 * (
                self.loss_fn_a(a, self.image_transform(image)) + self.loss_fn_i(self.audio_transform(a), image)
            )
        return self.loss_fn(self.audio_transform(a), image)

    def export(self) -> Wav2CLIPAudio:
        model = Wav2CLIPAudio(norm=self.audio_encoder.norm)
        model.load_state_dict(
            {k: v for k, v in self.state_dict().items() if k.startswith(("audio_encoder.", "audio_transform."))}
        )
        return model.eval()


@dataclass
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def broadcast_float(self, value: float, device: str) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        torch.distributed.broadcast(t, src=0)
        return float(t.item())

    def mean(self, value: float, device: str) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.world

    def gather(self, obj: Any) -> list[Any]:
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out


def init_distributed(device: str) -> tuple[DistEnv, str]:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; one process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistEnv(), device
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        device = f"cuda:{local}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return DistEnv(dist.get_rank(), dist.get_world_size(), local), device


def load_vggsound(data_root: Path | None, env: DistEnv) -> Dataset:
    from bench.demo import demo_info, ensure_demo, is_demo
    from tasks.vggsound import TASK, load

    if data_root is None:
        if env.main:
            ensure_demo("vggsound")  # rank 0 builds it; the others wait and read
        env.barrier()
        root = ensure_demo("vggsound")
    else:
        found = TASK.find_root(Path(data_root))
        if found is None:
            raise TrainError(
                f"no vggsound.csv under {data_root} (or {', '.join(TASK.root_names)} inside it); "
                "point --data-root at the VGGSound folder"
            )
        root = found
    ds = load(root)
    ds.info["kind"] = "demo" if is_demo(root) else "real"
    if is_demo(root):
        ds.info["demo"] = demo_info(root)
    return ds


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
            "the interrupted run did not record its numerics: the weights may not be bit-identical to an uninterrupted run"
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
        return models_dir() / "wav2clip-demo"
    return models_dir() / f"wav2clip-vggsound-{dataset.checksum()[:8]}"


@dataclass
class TrainingData:
    train_audio: AudioWindows
    val_audio: AudioWindows
    train_img: torch.Tensor
    val_img: torch.Tensor
    skipped: dict[str, str]


def prepare_data(
    cfg: TrainConfig, dataset: Dataset, env: DistEnv, device: str, say: Callable[[str], None]
) -> TrainingData:
    """Teacher targets (sharded over ranks, consolidated by rank 0), the validation carve, audio crops."""
    from bench.paths import cache_dir

    store = EmbeddingStore(cfg.cache_dir or cache_dir())
    rule = WindowRule(cfg.window_s, cfg.clip_s, cfg.fps, cfg.seed)
    teacher = CLIPTeacher(cfg.teacher, device=device)
    say(
        f"teacher targets: {cfg.teacher.model} ({json.dumps(cfg.teacher.identity()['weights'])}), window {rule.name()}, {cfg.fps:g} fps"
    )
    teacher_targets(
        teacher,
        dataset,
        store,
        rule,
        frame_size=cfg.frame_size,
        shard=(env.rank, env.world),
        show_progress=cfg.show_progress and env.main,
    )
    env.barrier()
    view = (
        teacher_targets(teacher, dataset, store, rule, frame_size=cfg.frame_size, show_progress=False)
        if env.main
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
            show_progress=cfg.show_progress and env.main,
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


def train(cfg: TrainConfig, log: Callable[[str], None] | None = None) -> TrainResult:
    """Run (or resume) a distillation; returns where the checkpoints are."""
    t_start = time.perf_counter()
    env, device = init_distributed(cfg.device)

    def say(msg: str) -> None:
        if env.main:
            (log or (lambda m: print(m, file=sys.stderr, flush=True)))(msg)

    if cfg.batch_size % env.world:
        raise TrainError(f"--batch-size {cfg.batch_size} must be divisible by the number of processes ({env.world})")
    dataset = load_vggsound(cfg.data_root, env)
    out_dir = Path(cfg.out_dir) if cfg.out_dir is not None else default_out_dir(dataset)
    state_path = out_dir / "state.pt"
    if env.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if cfg.fresh:
            for name in ("state.pt", "state.json", "best.pt", "last.pt", "model.json", "log.jsonl", "epochs.csv"):
                (out_dir / name).unlink(missing_ok=True)
        if cfg.demo_teacher:
            from encoders.wav2clip.demo import demo_teacher

            demo_teacher(out_dir, dataset, cfg.show_progress)
    env.barrier()
    if cfg.demo_teacher:
        from encoders.wav2clip.demo import TEACHER_FILE

        cfg = replace(cfg, teacher=TeacherSpec(TINY, str(out_dir / TEACHER_FILE), 0))
    identity = {**cfg.identity(), "data": dataset.checksum()}
    state: dict[str, Any] | None = None
    if state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        assert state is not None
        if state["identity"] != identity:
            raise TrainError(
                f"{out_dir} holds a run with other settings ({state_path}); resume it with the same "
                "options, or pass --out to a new folder (or --fresh to start over there)"
            )

    data = prepare_data(cfg, dataset, env, device, say)
    train_audio, val_audio, train_img, val_img, skipped = (
        data.train_audio,
        data.val_audio,
        data.train_img,
        data.val_img,
        data.skipped,
    )
    n_batches = len(train_audio) // cfg.batch_size
    if n_batches == 0:
        raise TrainError(
            f"{len(train_audio)} training clips cannot fill one batch of {cfg.batch_size}; lower --batch-size"
        )
    per_rank = cfg.batch_size // env.world

    torch.manual_seed(cfg.seed)
    model = DistillationModel(norm=cfg.norm, loss=cfg.loss).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr
    )
    numerics = run_numerics(device, env.world)
    numerics_notes: list[str] = []
    epoch, step, global_step = 0, 0, 0
    best_val, best_epoch, bad_epochs, status = math.inf, -1, 0, "running"
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        epoch, step, global_step = state["epoch"], state["step"], state["global_step"]
        best_val, best_epoch, bad_epochs, status = (
            state["best_val"],
            state["best_epoch"],
            state["bad_epochs"],
            state["status"],
        )
        if len(state["rng"]) != env.world:
            raise TrainError(f"{state_path} was written by {len(state['rng'])} process(es); resume it with as many")
        _set_rng_state(state["rng"][env.rank], device)
        changes = numerics_changes(state.get("numerics"), numerics)
        for warning in changes:
            say(f"warning: {warning}")
        numerics_notes = [*state.get("numerics_notes", []), *(f"global step {global_step}: {c}" for c in changes)]
        if status == "stopped":  # a --max-steps run continues when asked for more
            status = "running"
        elif status == "finished" and epoch < cfg.max_epochs and bad_epochs < cfg.early_stop_patience:
            status = "running"  # ended at max_epochs, not by early stopping: --epochs N extends it
        say(f"resumed {out_dir} at epoch {epoch} step {step} (global step {global_step})")
    runlog = RunLog(out_dir, global_step if state is not None else None) if env.main else None
    net: nn.Module = model
    if env.world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.startswith("cuda") else None)

    meta = _run_meta(cfg, dataset, out_dir, len(train_audio), len(val_audio), skipped)
    meta["numerics"] = numerics
    if numerics_notes:
        meta["numerics_changed_on_resume"] = numerics_notes
    if env.main and state is None:
        _write_meta(out_dir, meta, "running", "", best_val, best_epoch, epoch, global_step)

    def save_state() -> None:
        rngs = env.gather(_rng_state(device))
        if not env.main:
            return
        atomic_torch_save(
            {
                "identity": identity,
                "epoch": epoch,
                "step": step,
                "global_step": global_step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "best_val": best_val,
                "best_epoch": best_epoch,
                "bad_epochs": bad_epochs,
                "status": status,
                "rng": rngs,
                "numerics": numerics,
                "numerics_notes": numerics_notes,
            },
            state_path,
        )
        atomic_write_json(
            out_dir / "state.json",
            {"epoch": epoch, "step": step, "global_step": global_step, "status": status, "numerics": numerics},
        )

    def validate() -> float:
        loss = 0.0
        if env.main:
            model.eval()
            total, count = 0.0, 0
            with torch.no_grad():
                for s in range(0, len(val_audio), cfg.batch_size):
                    idx = list(range(s, min(s + cfg.batch_size, len(val_audio))))
                    if len(idx) < 2:
                        continue  # a contrastive loss needs a negative
                    audio, kept = val_audio.get(idx)
                    total += float(model(torch.from_numpy(audio).to(device), val_img[kept].to(device))) * len(kept)
                    count += len(kept)
            model.train()
            loss = total / max(count, 1)
        return env.broadcast_float(loss, device)

    say(
        f"training on {len(train_audio)} clips ({n_batches} steps/epoch of {cfg.batch_size}), validating on {len(val_audio)}; "
        f"loss {cfg.loss}, norm {cfg.norm}, {env.world} process(es) on {device}"
    )
    model.train()
    stop_reason = ""
    while status == "running" and epoch < cfg.max_epochs:
        order = epoch_order(len(train_audio), cfg.seed, epoch)
        t_epoch = time.perf_counter()
        losses: list[float] = []
        with progress_bar(
            f"epoch {epoch + 1}/{cfg.max_epochs}", n_batches - step, cfg.show_progress and env.main
        ) as advance:
            while step < n_batches:
                if cfg.max_steps is not None and global_step >= cfg.max_steps:
                    status, stop_reason = "stopped", f"max_steps {cfg.max_steps} reached"
                    break
                rows = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                mine = rows[env.rank * per_rank : (env.rank + 1) * per_rank].tolist()
                nxt = None
                if step + 1 < n_batches:
                    nrows = order[(step + 1) * cfg.batch_size : (step + 2) * cfg.batch_size]
                    nxt = nrows[env.rank * per_rank : (env.rank + 1) * per_rank].tolist()
                audio, kept = train_audio.get(mine, prefetch_next=nxt)
                loss = net(torch.from_numpy(audio).to(device), train_img[kept].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                global_step += 1
                value = env.mean(float(loss.detach()), device)
                losses.append(value)
                if runlog is not None:
                    runlog.add(
                        {
                            "kind": "step",
                            "epoch": epoch,
                            "step": step,
                            "global_step": global_step,
                            "train_loss": value,
                            "lr": optimizer.param_groups[0]["lr"],
                        }
                    )
                advance(1)
                if cfg.save_every_steps and global_step % cfg.save_every_steps == 0 and step < n_batches:
                    save_state()
        if status == "stopped":
            break
        val_loss = validate()
        scheduler.step(val_loss)
        improved = val_loss < best_val
        if improved:
            best_val, best_epoch, bad_epochs = val_loss, epoch, 0
        else:
            bad_epochs += 1
        if runlog is not None:  # the whole epoch's steps, also those before a resume
            losses = [r["train_loss"] for r in runlog.rows() if r.get("kind") == "step" and r["epoch"] == epoch]
        train_loss = float(np.mean(losses)) if losses else float("nan")
        epoch += 1
        step = 0
        if env.main:
            export = model.export()
            if improved:
                save_official(export, out_dir / "best.pt")
            save_official(export, out_dir / "last.pt")
            assert runlog is not None
            runlog.add(
                {
                    "kind": "epoch",
                    "epoch": epoch,
                    "global_step": global_step,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "lr": optimizer.param_groups[0]["lr"],
                    "best": improved,
                    "seconds": round(time.perf_counter() - t_epoch, 2),
                }
            )
            runlog.write_csv()
        say(
            f"epoch {epoch}/{cfg.max_epochs}: train {train_loss:.4f}  val {val_loss:.4f}  lr {optimizer.param_groups[0]['lr']:.1e}"
            f"{'  (best)' if improved else ''}  {time.perf_counter() - t_epoch:.1f} s"
        )
        if bad_epochs >= cfg.early_stop_patience:
            status, stop_reason = "finished", f"early stopping: no improvement for {bad_epochs} epochs"
        elif epoch >= cfg.max_epochs:
            status, stop_reason = "finished", f"max_epochs {cfg.max_epochs} reached"
        if env.main:
            _write_meta(out_dir, meta, status, stop_reason, best_val, best_epoch, epoch, global_step)
        save_state()
    if status == "stopped":
        save_state()
        if env.main:
            save_official(model.export(), out_dir / "last.pt")
            _write_meta(out_dir, meta, status, stop_reason, best_val, best_epoch, epoch, global_step)
    if status == "running":  # resumed a run whose max_epochs was already reached
        status = "finished"
    train_audio.close()
    val_audio.close()
    env.barrier()
    if env.world > 1:
        torch.distributed.destroy_process_group()
    say(f"{status}: {stop_reason or 'nothing left to do'}; best val {best_val:.4f} (epoch {best_epoch + 1}); {out_dir}")
    best = out_dir / "best.pt"
    last = out_dir / "last.pt"
    return TrainResult(
        out_dir,
        best if best.is_file() else None,
        last if last.is_file() else None,
        status,
        best_val,
        best_epoch,
        epoch,
        global_step,
        time.perf_counter() - t_start,
        len(train_audio),
        len(val_audio),
        skipped,
    )


def _run_meta(
    cfg: TrainConfig, dataset: Dataset, out_dir: Path, n_train: int, n_val: int, skipped: dict[str, str]
) -> dict[str, Any]:
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


def _write_meta(
    out_dir: Path,
    meta: dict[str, Any],
    status: str,
    reason: str,
    best_val: float,
    best_epoch: int,
    epochs: int,
    steps: int,
) -> None:
    if meta.get("demo"):
        from encoders.wav2clip.demo import mark_demo_weights

        mark_demo_weights(out_dir / "best.pt", out_dir / "last.pt")
    files = {}
    for name in ("best.pt", "last.pt"):
        path = out_dir / name
        if path.is_file():
            files[name] = sha256_file(path)
    atomic_write_json(
        out_dir / "model.json",
        {
            **meta,
            "status": status,
            "stop_reason": reason,
            "best_val_loss": best_val if math.isfinite(best_val) else None,
            "best_epoch": best_epoch + 1,
            "epochs": epochs,
            "steps": steps,
            "sha256": files,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
