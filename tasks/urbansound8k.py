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
from tasks._csv import NumberedFoldRows, Problems, read_int, read_rows

COLUMNS = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")
FOLDS = tuple(range(1, 11))


def load(root: Path) -> Dataset:
    root = Path(root)
    csv_path = root / "metadata" / "UrbanSound8K.csv"
    rows = []
    problems = Problems()
    checked = NumberedFoldRows(
        csv_path, problems, FOLDS, "classID", "fix the fold (the audio lives in audio/fold1..fold10)"
    )
    for line, row in read_rows(csv_path, COLUMNS, problems=problems):
        cid = read_int(row["classID"], csv_path, line, "classID", problems)
        fold = read_int(row["fold"], csv_path, line, "fold", problems)
        rest = (row["fsID"], row["start"], row["end"], row["salience"])
        if (
            cid is not None
            and fold is not None
            and checked.accept(line, row["slice_file_name"], fold, cid, row["class"], rest)
        ):
            rows.append((row["slice_file_name"], fold, cid, row["fsID"], row["salience"]))
    ids = sorted({r[2] for r in rows})
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
    dataset = Dataset(task="urbansound8k", root=root, clips=clips, classes=checked.class_names(ids), missing=missing)
    problems.raise_if_any(dataset)
    return dataset


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
    folds=FOLDS,
    zero_shot=ZeroShotSpec(templates=("this is a sound of {label}.",), label_rule="underscores_to_spaces_lower"),
    table_columns=(TableColumn("table2", "UrbanSound8K<br>ACC", "accuracy", paper_key="urbansound8k"),),
    demo="urbansound8k",
    expected_clips=8732,
    order=20,
    description="10 urban sound classes, 10-fold cross-validation on the official folds, accuracy.",
    citation="Salamon, Jacoby, Bello, A dataset and taxonomy for urban sound research, ACM MM 2014",
    downloads=DOWNLOADS,
)
