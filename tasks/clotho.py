"""Clotho v2.1 (Drossos et al. 2020): audio captioning, 5 captions per clip.

Layout (the Zenodo archives unpacked side by side)::

    clotho_captions_{development,validation,evaluation}.csv   file_name,caption_1..caption_5 (UTF-8)
    clotho_metadata_{development,validation,evaluation}.csv   file_name,keywords,sound_id,... (latin-1)
    development/  validation/  evaluation/                    the WAV files

File names contain spaces, commas, parentheses and may begin with a space: they are read with
a real CSV parser and used verbatim, never stripped. Captions with commas are quoted. The
metadata files of v2/v2.1 are ISO-8859-1, not UTF-8. Protocol: train on development, select
on validation, score on evaluation (the DCASE 2020 Task 6 setup with Clotho v2.1 splits).
"""

from __future__ import annotations

from pathlib import Path

from bench.audio import ClipPolicy
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec
from tasks._csv import MetadataError, read_rows

SPLITS = ("development", "validation", "evaluation")
CAPTION_COLUMNS = ("file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5")


def read_captions(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, file name, five captions) per row; every caption must be non-empty."""
    rows = []
    try:
        for line, row in read_rows(path, CAPTION_COLUMNS, encoding="utf-8"):
            caps = tuple(row[c].strip() for c in CAPTION_COLUMNS[1:])
            if not row["file_name"]:
                raise MetadataError(f"{path}, line {line}: empty file_name")
            empty = [CAPTION_COLUMNS[1 + i] for i, c in enumerate(caps) if not c]
            if empty:
                raise MetadataError(
                    f"{path}, line {line}: {', '.join(empty)} empty for "
                    f"{row['file_name']!r}; Clotho has 5 captions per clip"
                )
            rows.append((line, row["file_name"], caps))
    except UnicodeDecodeError as exc:
        raise MetadataError(
            f"{path}: not UTF-8 ({exc}); the Clotho caption files are UTF-8, is the file damaged?"
        ) from None
    return rows


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """File name → metadata row, decoded as latin-1 (the v2.1 files are ISO-8859-1)."""
    if not path.is_file():
        return {}
    return {row["file_name"]: row for _, row in read_rows(path, ("file_name", "keywords"), encoding="latin-1")}


def load(root: Path) -> Dataset:
    root = Path(root)
    clips, missing = [], []
    found_splits = []
    for split in SPLITS:
        cap_path = root / f"clotho_captions_{split}.csv"
        if not cap_path.is_file():
            continue
        found_splits.append(split)
        meta = read_metadata(root / f"clotho_metadata_{split}.csv")
        seen: set[str] = set()
        for line, name, caps in read_captions(cap_path):
            if name in seen:
                raise MetadataError(f"{cap_path}, line {line}: {name!r} is listed twice")
            seen.add(name)
            path = root / split / name
            cid = f"{split}/{name}"
            if not path.is_file():
                missing.append(MissingFile(cid, path, f"listed in {cap_path.name} but absent from {split}/"))
                continue
            m = meta.get(name, {})
            keywords = tuple(k for k in m.get("keywords", "").split(";") if k)
            clips.append(
                Clip(
                    id=cid,
                    path=path,
                    split=split,
                    extra={
                        "captions": caps,
                        "file_name": name,
                        "keywords": keywords,
                        "sound_id": m.get("sound_id", ""),
                    },
                )
            )
    if "evaluation" not in found_splits:
        raise MetadataError(
            f"{root}: no clotho_captions_evaluation.csv; point the Clotho root at the folder holding the caption CSVs"
        )
    info = {"splits": found_splits, "found": len(clips), "missing": len(missing)}
    return Dataset(task="clotho", root=root, clips=clips, classes=[], missing=missing, info=info)


TASK = TaskSpec(
    name="clotho",
    title="Clotho (AC)",
    kind="captioning",
    loader=load,
    root_names=("Clotho", "clotho", "clotho_v2.1", "CLOTHO_v2.1", "clotho-v2.1"),
    marker="clotho_captions_evaluation.csv",
    metrics=("cider", "bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "spice", "spider"),
    clip_policy=ClipPolicy(),  # whole clips (15-30 s); the protocol uses 1-s frames
    train_splits=("development",),
    val_splits=("validation",),
    test_splits=("evaluation",),
    trials=1,
    zero_shot=None,
    table_columns=tuple(
        TableColumn("table3", header, metric, protocol="captioning", paper_key=metric)
        for header, metric in (
            ("B1", "bleu_1"),
            ("B2", "bleu_2"),
            ("B3", "bleu_3"),
            ("B4", "bleu_4"),
            ("M", "meteor"),
            ("RL", "rouge_l"),
            ("Cr", "cider"),
            ("S", "spice"),
            ("Sr", "spider"),
        )
    ),
    demo="clotho",
    expected_clips=5929,
    order=80,
    description=(
        "Audio captioning: 1-layer transformer decoder on frozen 1-s "
        "frame embeddings; COCO metrics on evaluation (greedy and beam)."
    ),
    citation="Drossos, Lipping, Virtanen, Clotho: An audio captioning dataset, ICASSP 2020",
)
