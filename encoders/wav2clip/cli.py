"""``bench train wav2clip``: the distillation command, registered by this package (``bench.commands``).

Only typer and the standard library are imported here (``bench`` imports this module at
start-up to build its command line); the trainer is imported when the command runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.commands import Command, fail


def train_wav2clip(
    data_root: Annotated[
        Path | None,
        typer.Option(
            help="VGGSound folder (vggsound.csv + {ytid}_{start:06d}.mp4), or its parent; none: the demo set."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Run folder (default $BENCH_HOME/models/wav2clip-demo or wav2clip-vggsound-<checksum>)."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="'paper' (batch 128, ≤100 epochs, 5-s windows of 10-s "
            "clips, 30 fps) or 'demo' (default without --data-root)."
        ),
    ] = None,
    loss: Annotated[
        str,
        typer.Option(
            help="'cx' (the paper's cross-projection loss) or 'clip' (plain CLIP loss on the projected audio)."
        ),
    ] = "cx",
    norm: Annotated[
        str,
        typer.Option(help="Front-end standardisation: 'clip' (per clip) or 'batch' (the reference's batch-global)."),
    ] = "clip",
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (early stopping may end sooner).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Global batch (split across torchrun processes).")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (paper: 1e-3).")] = None,
    window_s: Annotated[float | None, typer.Option(help="Audio/video window per clip, seconds (paper: 5).")] = None,
    clip_s: Annotated[
        float | None, typer.Option(help="Nominal clip length the window is drawn from (VGGSound: 10).")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate of the teacher targets (paper: 30).")] = None,
    teacher: Annotated[
        str | None,
        typer.Option(help="open_clip model name (default ViT-B-32-quickgelu; the demo trains bench-tiny-clip)."),
    ] = None,
    teacher_pretrained: Annotated[
        str | None, typer.Option(help="open_clip pretrained tag (e.g. openai) or a local checkpoint file.")
    ] = None,
    teacher_seed: Annotated[
        int, typer.Option(help="Seed of a randomly initialised teacher (no pretrained weights).")
    ] = 0,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed for initialisation, shuffling, validation carving and windows (paper: 2021)."),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (each torchrun process takes its LOCAL_RANK GPU).")] = "cpu",
    save_every: Annotated[
        int | None, typer.Option(help="Write a resumable state every N steps (also at every epoch end).")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after N optimizer steps (smoke runs; re-run with more to continue).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Background decoding threads.")] = 2,
    fresh: Annotated[
        bool, typer.Option(help="Delete the run folder's state and start over (default: resume).")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    precision: Annotated[
        str | None,
        typer.Option(
            help="fp32, bf16 or fp16: autocast around the forward pass; auto: bf16 where the CPU/GPU runs it "
            "natively, else fp32 (demo preset default: auto; paper: fp32)."
        ),
    ] = None,
    channels_last: Annotated[
        bool | None, typer.Option(help="Channels-last convolutions (demo preset default: on).")
    ] = None,
) -> None:
    """Distil a CLIP teacher into Wav2CLIP on VGGSound (or the demo set); resumes a killed run.

    Under torchrun: `torchrun --nproc-per-node N -m bench.cli train wav2clip ...` (DDP; gloo on CPU, NCCL on GPU).
    """
    from bench.devices import check_device
    from bench.options import OptionError
    from encoders.wav2clip.teacher import PAPER_MODEL, PAPER_PRETRAINED, TeacherSpec
    from encoders.wav2clip.train import TrainError, train
    from encoders.wav2clip.train import preset as make_preset

    try:
        check_device(device)
    except OptionError as exc:
        fail(str(exc))
    name = preset or ("demo" if data_root is None else "paper")
    explicit: dict[str, Any] = {}
    if teacher is not None or teacher_pretrained is not None or data_root is not None:
        model = teacher or PAPER_MODEL
        pre = (
            teacher_pretrained
            if teacher_pretrained is not None
            else (PAPER_PRETRAINED if model == PAPER_MODEL else None)
        )
        explicit = {"teacher": TeacherSpec(model, pre, teacher_seed), "demo_teacher": False}
    try:
        cfg = make_preset(
            name,
            data_root=data_root,
            out_dir=out,
            loss=loss,
            norm=norm,
            max_epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            window_s=window_s,
            clip_s=clip_s,
            fps=fps,
            seed=seed,
            device=device,
            save_every_steps=save_every,
            max_steps=max_steps,
            workers=workers,
            show_progress=not quiet,
            fresh=fresh,
            precision=precision,
            channels_last=channels_last,
            **explicit,
        )
        result = train(cfg)
    except (TrainError, FileNotFoundError, ValueError) as exc:
        fail(str(exc), 1)
    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(f"best: {result.best_path}\nlast: {result.last_path}\nlog:  {result.out_dir / 'log.jsonl'}")


TRAIN = Command(group="train", name="wav2clip", callback=train_wav2clip)
