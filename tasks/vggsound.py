"""VGGSound (Chen et al. 2020): ~200k 10-s YouTube clips, 309 classes, train/test split.

Only metadata is distributed: a **headerless** ``vggsound.csv`` with
``youtube_id,start_seconds,label,split`` (labels with commas are double-quoted; ids may start
with ``-``). Media are fetched by users from YouTube and named ``{ytid}_{start:06d}.mp4`` (or an
extracted ``.wav``/``.flac``); many videos have vanished, so real copies are always
incomplete: missing media are counted and recorded in every result, never fatal.
The media files may sit next to the CSV or in one of :data:`MEDIA_DIRS` (anywhere below the
root when none of those holds any). A clip listed twice with the same label counts once; one
listed with two labels or splits is left out (ambiguous, and it could leak into the test).
The vocabulary is the sorted set of labels (the authors' ``sorted(classes)``).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.audio import ClipPolicy
from bench.remote import DownloadSpec
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec, ZeroShotSpec
from tasks._csv import MetadataError, parse_int, read_rows

MEDIA_DIRS = ("", "video", "videos", "audio", "wav", "mp4", "train", "test", "data")
MEDIA_EXTS = (".mp4", ".mkv", ".webm", ".wav", ".flac", ".m4a", ".mp3", ".ogg")


def media_name(ytid: str, start: int) -> str:
    return f"{ytid}_{start:06d}"


def index_media(root: Path) -> dict[str, Path]:
    """Stem → file for every media file in the known folders (video preferred over audio).

    When none of the known folders holds media (an unusual unpacking, e.g. the nested folders
    of some mirrors' tarballs), the whole root is searched once instead.
    """
    found: dict[str, Path] = {}
    for sub in MEDIA_DIRS:
        folder = root / sub if sub else root
        if folder.is_dir():
            _scan(folder, found, recursive=False)
    if not found:
        _scan(root, found, recursive=True)
    return found


def _scan(folder: Path, found: dict[str, Path], recursive: bool) -> None:
    rank = {ext: i for i, ext in enumerate(MEDIA_EXTS)}
    with os.scandir(folder) as it:
        for entry in it:
            if recursive and entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                _scan(Path(entry.path), found, recursive=True)
                continue
            stem, ext = os.path.splitext(entry.name)
            if ext.lower() in rank and entry.is_file():
                prev = found.get(stem)
                if prev is None or rank[ext.lower()] < rank[prev.suffix.lower()]:
                    found[stem] = Path(entry.path)


def read_metadata(root: Path) -> list[tuple[int, str, int, str, str]]:
    """(line, ytid, start, label, split) for every row of the headerless ``vggsound.csv``."""
    csv_path = root / "vggsound.csv"
    rows = []
    for line, row in read_rows(
        csv_path,
        ("ytid", "start", "label", "split"),
        header=False,
        fieldnames=("ytid", "start", "label", "split"),
        encoding="utf-8-sig",
    ):
        if line == 1 and row["start"].strip().lower() in ("start_seconds", "start"):
            continue  # tolerate a header someone added
        split = row["split"].strip()
        if split not in ("train", "test"):
            raise MetadataError(f"{csv_path}, line {line}: split must be 'train' or 'test', got {split!r}")
        ytid, label = row["ytid"].strip(), row["label"].strip()
        if not ytid or not label:
            raise MetadataError(f"{csv_path}, line {line}: empty YouTube id or label")
        rows.append((line, ytid, parse_int(row["start"].strip(), csv_path, line, "start_seconds"), label, split))
    return rows


def unique_rows(
    rows: list[tuple[int, str, int, str, str]],
) -> tuple[list[tuple[int, str, int, str, str]], dict[str, int]]:
    """One row per clip: exact repeats are dropped; a clip listed with two labels or splits is
    dropped altogether (its label is ambiguous and it could leak between train and test)."""
    first: dict[str, tuple[int, str, int, str, str]] = {}
    conflicting: set[str] = set()
    repeats = 0
    for row in rows:
        stem = media_name(row[1], row[2])
        prev = first.get(stem)
        if prev is None:
            first[stem] = row
        elif prev[3:] == row[3:]:
            repeats += 1
        else:
            conflicting.add(stem)
    kept = [r for stem, r in first.items() if stem not in conflicting]
    return kept, {"repeated_rows": repeats, "conflicting_clips": len(conflicting)}


def load(root: Path) -> Dataset:
    root = Path(root)
    rows, dropped = unique_rows(read_metadata(root))
    classes = sorted({r[3] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    media = index_media(root)
    clips, missing = [], []
    listed: dict[str, int] = {}
    absent: dict[str, int] = {}
    for _line, ytid, start, label, split in rows:
        stem = media_name(ytid, start)
        listed[split] = listed.get(split, 0) + 1
        path = media.get(stem)
        if path is None:
            absent[split] = absent.get(split, 0) + 1
            missing.append(
                MissingFile(
                    stem,
                    root / f"{stem}.mp4",
                    f"{split} clip: media not found (vanished from YouTube or not downloaded)",
                )
            )
            continue
        clips.append(
            Clip(
                id=stem,
                path=path,
                target=index[label],
                split=split,
                group=ytid,
                extra={"video": path.suffix.lower() in (".mp4", ".mkv", ".webm"), "ytid": ytid, "start": start},
            )
        )
    info = {"listed": listed, "found": len(clips), "missing": len(missing), "missing_by_split": absent, **dropped}
    return Dataset(task="vggsound", root=root, clips=clips, classes=classes, missing=missing, info=info)


DOWNLOADS = DownloadSpec(
    page="https://www.robots.ox.ac.uk/~vgg/data/vggsound/",
    manual=(
        "VGGSound publishes only its metadata, vggsound.csv (on the VGG page, and data/vggsound.csv in "
        "github.com/hche11/VGGSound); the clips are 10-s excerpts of YouTube videos that users fetch themselves "
        "(e.g. with yt-dlp, from start_seconds for 10 s). Save each clip as {youtube_id}_{start_seconds:06d}.mp4 "
        "next to vggsound.csv or in video/ (docs/datasets.md), then run `bench data verify vggsound --root DIR`. "
        "Many videos are gone: missing clips are counted and listed in every result, never fatal."
    ),
)


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
    table_columns=(TableColumn("table2", "VGGSound<br>mAP", "mAP", paper_key="vggsound"),),
    demo="vggsound",
    expected_clips=199176,
    order=40,
    description=(
        "309-class audio-visual clips; train split (validation carved "
        "from it) → test split; mAP, top-1 accuracy; 3 trials."
    ),
    citation="Chen, Xie, Vedaldi, Zisserman, VGGSound: A large-scale audio-visual dataset, ICASSP 2020",
    downloads=DOWNLOADS,
)
