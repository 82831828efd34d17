"""UrbanSound8K (Salamon et al. 2014): 8,732 clips up to 4 s, 10 classes, 10 official folds.

Layout (``UrbanSound8K/``): ``metadata/UrbanSound8K.csv`` with header
``slice_file_name,fsID,start,end,salience,fold,classID,class`` and
``audio/fold{fold}/{slice_file_name}``. Sample rates, bit depths and channel counts vary per
file (the Freesound originals); audio I/O downmixes and resamples, and the clip policy pads
to 4 s. The README forbids reshuffling folds: 10-fold CV on the official folds only.
"""

from __future__ import annotations

from pathlib import Path

from bench.audio import ClipPolicy
from bench.remote import DownloadSpec, RemoteFile, zenodo
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec, ZeroShotSpec
from tasks._csv import MetadataError, parse_int, read_rows

COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")


def load(root: Path) -> Dataset:
    root = Path(root)
    csv_path = root / "metadata" / "UrbanSound8K.csv"
    vocab: dict[int, str] = {}
    rows = []
    for line, row in read_rows(csv_path, COLUMNS):
        cid = parse_int(row["classID"], csv_path, line, "classID")
        fold = parse_int(row["fold"], csv_path, line, "fold")
        if not 1 <= fold <= 10:
            raise MetadataError(f"{csv_path}, line {line}: fold must be 1..10, got {fold}")
        name = row["class"]
        if vocab.setdefault(cid, name) != name:
            raise MetadataError(f"{csv_path}, line {line}: classID {cid} is {name!r} here but {vocab[cid]!r} earlier")
        rows.append((row["slice_file_name"], fold, cid, row["fsID"], row["salience"]))
    ids = sorted(vocab)
    remap = {c: i for i, c in enumerate(ids)}
    clips, missing = [], []
    for name, fold, cid, fsid, salience in rows:
        path = root / "audio" / f"fold{fold}" / name
        rel = f"fold{fold}/{name}"
        if not path.is_file():
            missing.append(MissingFile(rel, path, "listed in metadata/UrbanSound8K.csv but absent"))
            continue
        clips.append(
            Clip(id=rel, path=path, target=remap[cid], fold=fold, group=f"fs{fsid}", extra={"salience": salience})
        )
    return Dataset(task="urbansound8k", root=root, clips=clips, classes=[vocab[c] for c in ids], missing=missing)


DOWNLOADS = DownloadSpec(
    page="https://zenodo.org/records/1203745",
    files=(
        RemoteFile(
            name="UrbanSound8K.tar.gz",
            url=zenodo(1203745, "UrbanSound8K.tar.gz"),
            size=6023741708,
            md5="9aa69802bbf37fb986f71ec1483a196e",
            source=(
                "Zenodo record 1203745; md5 as in soundata datasets/urbansound8k.py and PaddleAudio, size as in "
                "several public download scripts that check it"
            ),
            unpack="tar",
        ),
    ),
    licence="Creative Commons Attribution-NonCommercial (see UrbanSound8K_README.txt)",
)

TASK = TaskSpec(
    name="urbansound8k",
    title="UrbanSound8K",
    kind="multiclass",
    loader=load,
    root_names=("UrbanSound8K", "urbansound8k", "UrbanSound8K-master"),
    marker="metadata/UrbanSound8K.csv",
    metrics=("accuracy",),
    clip_policy=ClipPolicy(duration_s=4.0, pad="zeros"),
    folds=tuple(range(1, 11)),
    zero_shot=ZeroShotSpec(templates=("this is a sound of {label}.",), label_rule="underscores_to_spaces_lower"),
    table_columns=(TableColumn("table2", "UrbanSound8K<br>ACC", "accuracy", paper_key="urbansound8k"),),
    demo="urbansound8k",
    expected_clips=8732,
    order=20,
    description="10 urban sound classes, 10-fold cross-validation on the official folds, accuracy.",
    citation="Salamon, Jacoby, Bello, A dataset and taxonomy for urban sound research, ACM MM 2014",
    downloads=DOWNLOADS,
)
