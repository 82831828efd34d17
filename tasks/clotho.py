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
from bench.remote import DownloadSpec, RemoteFile, zenodo
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec
from tasks._csv import FileRows, MetadataError, Problems, read_rows

SPLITS = ("development", "validation", "evaluation")
CAPTION_COLUMNS = ("file_name", "caption_1", "caption_2", "caption_3", "caption_4", "caption_5")


def read_captions(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, file name, five captions) per row; every caption must be non-empty."""
    rows = []
    # strip=False: some Clotho v2.1 file names begin with a space (" Ambience Birds.wav"), and the file does too
    for line, row in read_rows(path, CAPTION_COLUMNS, encoding="utf-8", strip=False):
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
    return rows


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """File name → metadata row, decoded as latin-1 (the v2.1 files are ISO-8859-1)."""
    if not path.is_file():
        return {}
    rows = read_rows(path, ("file_name", "keywords"), encoding="latin-1", strip=False)
    return {row["file_name"]: row for _, row in rows}


def load(root: Path) -> Dataset:
    root = Path(root)
    clips, missing = [], []
    found_splits = []
    problems = Problems()
    for split in SPLITS:
        cap_path = root / f"clotho_captions_{split}.csv"
        if not cap_path.is_file():
            continue
        found_splits.append(split)
        meta = read_metadata(root / f"clotho_metadata_{split}.csv")
        files = FileRows(cap_path, problems, fold_name="split")
        for line, name, caps in read_captions(cap_path):
            if not files.add(name, line, split, caps):
                continue
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
    dataset = Dataset(task="clotho", root=root, clips=clips, classes=[], missing=missing, info=info)
    problems.raise_if_any(dataset)
    return dataset


_CLOTHO_MD5 = "md5 as in soundata datasets/clotho.py and aac-datasets (they agree)"
_CLOTHO_SIZE = "size from a public audit of Zenodo record 4783391's file list"
_NO_SIZE = "no published size found for this file; the server's Content-Length is checked and the md5 is pinned"


def _clotho(name: str, size: int | None, md5: str) -> RemoteFile:
    return RemoteFile(
        name=name,
        url=zenodo(4783391, name),
        size=size,
        md5=md5,
        source=f"Zenodo record 4783391 (Clotho v2.1); {_CLOTHO_MD5}" + (f"; {_CLOTHO_SIZE}" if size else ""),
        unpack="7z" if name.endswith(".7z") else "copy",
        unpack_to="Clotho",
        note="" if size else _NO_SIZE,
    )


DOWNLOADS = DownloadSpec(
    page="https://zenodo.org/records/4783391",
    files=(
        _clotho("clotho_captions_development.csv", 1336762, "d4090b39ce9f2491908eebf4d5b09bae"),
        _clotho("clotho_captions_validation.csv", 367649, "5879e023032b22a2c930aaa0528bead4"),
        _clotho("clotho_captions_evaluation.csv", None, "1b16b9e57cf7bdb7f13a13802aeb57e2"),
        _clotho("clotho_metadata_development.csv", 830797, "170d20935ecfdf161ce1bb154118cda5"),
        _clotho("clotho_metadata_validation.csv", 224803, "2e010427c56b1ce6008b0f03f41048ce"),
        _clotho("clotho_metadata_evaluation.csv", None, "13946f054d4e1bf48079813aac61bf77"),
        _clotho("clotho_audio_development.7z", 4541582263, "c8b05bc7acdb13895bb3c6a29608667e"),
        _clotho("clotho_audio_validation.7z", 1260701425, "7dba730be08bada48bd15dc4e668df59"),
        _clotho("clotho_audio_evaluation.7z", None, "4569624ccadf96223f19cb59fe4f849f"),
    ),
    licence=(
        "audio: the Freesound clips' Creative Commons licences; captions: Tampere University licence (see the record)"
    ),
    note="each .7z holds one folder named after its split (development/, validation/, evaluation/)",
)


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
    downloads=DOWNLOADS,
)
