"""ESC-50 (Piczak 2015): 2,000 five-second clips, 50 classes, 5 official folds.

Layout (``ESC-50-master/``): ``meta/esc50.csv`` with header
``filename,fold,target,category,esc10,src_file,take`` and ``audio/{fold}-{id}-{take}-{target}.wav``.
The vocabulary is read from the CSV (target → category), never hard-coded. Clips cut from one
Freesound recording (``src_file``) share a fold; we also keep them together when carving
validation data from the training folds.
"""

from __future__ import annotations

from pathlib import Path

from bench.audio import ClipPolicy
from bench.remote import ContentFile, DownloadSpec, RemoteFile
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec, ZeroShotSpec
from tasks._csv import NumberedFoldRows, Problems, parse_bool, read_int, read_rows

COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
FOLDS = (1, 2, 3, 4, 5)


def load(root: Path, esc10_only: bool = False) -> Dataset:
    root = Path(root)
    csv_path = root / "meta" / "esc50.csv"
    rows = []
    problems = Problems()
    checked = NumberedFoldRows(
        csv_path,
        problems,
        FOLDS,
        "target",
        "fix the fold (a clip outside 1..5 would be trained on in every fold but never tested)",
    )
    for line, row in read_rows(csv_path, COLUMNS, problems=problems):
        target = read_int(row["target"], csv_path, line, "target", problems)
        fold = read_int(row["fold"], csv_path, line, "fold", problems)
        esc10 = parse_bool(row["esc10"], csv_path, line, "esc10", problems)
        if target is None or fold is None or esc10 is None:
            continue
        if checked.accept(line, row["filename"], fold, target, row["category"]):
            rows.append((row["filename"], fold, target, esc10, row["src_file"]))
    if esc10_only:
        rows = [r for r in rows if r[3]]
    targets = sorted({r[2] for r in rows})
    remap = {t: i for i, t in enumerate(targets)}
    classes = checked.class_names(targets)
    clips, missing = [], []
    for filename, fold, target, _esc10, src in rows:
        path = root / "audio" / filename
        if not path.is_file():
            missing.append(MissingFile(filename, path, "listed in meta/esc50.csv but absent from audio/"))
            continue
        clips.append(Clip(id=filename, path=path, target=remap[target], fold=fold, group=f"src{src}"))
    dataset = Dataset(task="esc10" if esc10_only else "esc50", root=root, clips=clips, classes=classes, missing=missing)
    problems.raise_if_any(dataset)
    return dataset


def load_esc10(root: Path) -> Dataset:
    return load(root, esc10_only=True)


DOWNLOADS = DownloadSpec(
    page="https://github.com/karolpiczak/ESC-50",
    files=(
        RemoteFile(
            name="ESC-50-master.zip",
            url="https://github.com/karolpiczak/ESC-50/archive/master.zip",
            size=None,
            source="the download link of the ESC-50 README (≈600 MB)",
            unpack="zip",
            note=(
                "GitHub builds this archive on request from the master branch, so its bytes change whenever the "
                "repository does: peers pin different md5s for the same URL (7771e4b9d86d0945acce719c7a59305a in "
                "hear-preprocess and soundata, 629e8e9ebc1592bcceb06da6bec40275 in kiwano). No archive checksum is "
                "pinned; its sha256 is recorded at the first download, and the unpacked meta/esc50.csv is checked "
                "against the published md5 instead"
            ),
        ),
    ),
    contents=(
        ContentFile(
            "ESC-50-master/meta/esc50.csv",
            "54a0d0055a10bb7df84ad340a148722e",
            "soundata datasets/indexes/esc50_index.json, ESC-50 v2.0.0",
        ),
    ),
    licence="CC BY-NC 3.0 (the ESC-10 subset: CC BY)",
)

_COMMON = {
    "kind": "multiclass",
    "root_names": ("ESC-50-master", "ESC-50", "esc50"),
    "marker": "meta/esc50.csv",
    "metrics": ("accuracy",),
    "clip_policy": ClipPolicy(duration_s=5.0, pad="zeros"),
    "folds": FOLDS,
    "zero_shot": ZeroShotSpec(templates=("this is a sound of {label}.",), label_rule="underscores_to_spaces_lower"),
    "demo": "esc50",
    "citation": "Piczak, ESC: Dataset for Environmental Sound Classification, ACM MM 2015",
    "downloads": DOWNLOADS,
}

TASK = TaskSpec(
    name="esc50",
    title="ESC-50",
    loader=load,
    table_columns=(TableColumn("table2", "ESC-50<br>ACC", "accuracy", paper_key="esc50"),),
    expected_clips=2000,
    order=10,
    description="50-class environmental sounds, 5-fold cross-validation on the official folds, accuracy.",
    **_COMMON,  # type: ignore[arg-type]
)

TASK_ESC10 = TaskSpec(
    name="esc10",
    title="ESC-10",
    loader=load_esc10,
    expected_clips=400,
    in_all=False,
    order=11,
    description="The 10-class ESC-10 subset of ESC-50 (esc10 == True), same folds and protocol.",
    **_COMMON,  # type: ignore[arg-type]
)
