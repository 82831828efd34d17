"""VGGSound (Chen et al. 2020): ~200k 10-s YouTube clips, 309 classes, train/test split.

Only metadata is distributed: a **headerless** ``vggsound.csv`` with
``youtube_id,start_seconds,label,split`` (labels with commas are double-quoted; ids may start
with ``-``). Media are fetched by users from YouTube and named ``{ytid}_{start:06d}.mp4`` (or an
extracted ``.wav``/``.flac``); many videos have vanished, so real copies are always
incomplete: missing media are counted and recorded in every result, never fatal.
The media files may sit next to the CSV or in one of :data:`MEDIA_DIRS`.
The vocabulary is the sorted set of labels (the authors' ``sorted(classes)``).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.audio import ClipPolicy
from bench.task import Clip, Dataset, MissingFile, TaskSpec, ZeroShotSpec
from tasks._csv import MetadataError, parse_int, read_rows

MEDIA_DIRS = ("", "video", "videos", "audio", "wav", "mp4", "train", "test", "data")
MEDIA_EXTS = (".mp4", ".mkv", ".webm", ".wav", ".flac", ".m4a", ".mp3", ".ogg")


def media_name(ytid: str, start: int) -> str:
    return f"{ytid}_{start:06d}"


def index_media(root: Path) -> dict[str, Path]:
    """Stem → file for every media file in the known folders (video preferred over audio)."""
    found: dict[str, Path] = {}
    rank = {ext: i for i, ext in enumerate(MEDIA_EXTS)}
    for sub in MEDIA_DIRS:
        folder = root / sub if sub else root
        if not folder.is_dir():
            continue
        with os.scandir(folder) as it:
            for entry in it:
                stem, ext = os.path.splitext(entry.name)
                if ext.lower() in rank and entry.is_file():
                    prev = found.get(stem)
                    if prev is None or rank[ext.lower()] < rank[prev.suffix.lower()]:
                        found[stem] = Path(entry.path)
    return found


def read_metadata(root: Path) -> list[tuple[int, str, int, str, str]]:
    """(line, ytid, start, label, split) for every row of the headerless ``vggsound.csv``."""
    csv_path = root / "vggsound.csv"
    rows = []
    for line, row in read_rows(csv_path, ("ytid", "start", "label", "split"), header=False,
                               fieldnames=("ytid", "start", "label", "split")):
        if line == 1 and row["start"].strip().lower() in ("start_seconds", "start"):
            continue  # tolerate a header someone added
        split = row["split"].strip()
        if split not in ("train", "test"):
            raise MetadataError(f"{csv_path}, line {line}: split must be 'train' or 'test', got {split!r}")
        rows.append((line, row["ytid"], parse_int(row["start"], csv_path, line, "start_seconds"), row["label"].strip(), split))
    return rows


def load(root: Path) -> Dataset:
    root = Path(root)
    rows = read_metadata(root)
    classes = sorted({r[3] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    media = index_media(root)
    clips, missing = [], []
    seen: set[str] = set()
    for line, ytid, start, label, split in rows:
        stem = media_name(ytid, start)
        if stem in seen:
            raise MetadataError(f"{root / 'vggsound.csv'}, line {line}: clip {stem} is listed twice")
        seen.add(stem)
        path = media.get(stem)
        if path is None:
            missing.append(MissingFile(stem, root / f"{stem}.mp4", "media not found (vanished from YouTube or not downloaded)"))
            continue
        clips.append(Clip(id=stem, path=path, target=index[label], split=split, group=ytid,
                          extra={"video": path.suffix.lower() in (".mp4", ".mkv", ".webm"), "ytid": ytid, "start": start}))
    info = {"listed": len(rows), "found": len(clips), "missing": len(missing)}
    return Dataset(task="vggsound", root=root, clips=clips, classes=classes, missing=missing, info=info)


TASK = TaskSpec(
    name="vggsound",
    title="VGGSound",
    kind="multiclass",
    loader=load,
    root_names=("VGGSound", "vggsound", "VGGSound-master"),
    marker="vggsound.csv",
    metrics=("mAP", "accuracy"),
    clip_policy=ClipPolicy(duration_s=10.0, pad="repeat"),  # short clips tiled, as the VGGSound authors do
    train_splits=("train",),
    test_splits=("test",),
    trials=3,
    zero_shot=ZeroShotSpec(templates=("this is a sound of {label}.",), label_rule="verbatim"),
    table_column="VGGSound",
    demo="vggsound",
    expected_clips=199176,
    order=40,
    description="309-class audio-visual clips; train split (validation carved from it) → test split; mAP, top-1 accuracy; 3 trials.",
    citation="Chen, Xie, Vedaldi, Zisserman, VGGSound: A large-scale audio-visual dataset, ICASSP 2020",
)
