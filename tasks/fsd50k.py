"""FSD50K (Fonseca et al. 2022): 51,197 Freesound clips, 200 AudioSet classes, multi-label.

Layout (each Zenodo zip has its own top folder, unpacked side by side)::

    FSD50K.ground_truth/dev.csv        fname,labels,mids,split   (labels/mids: quoted comma lists)
    FSD50K.ground_truth/eval.csv       fname,labels,mids
    FSD50K.ground_truth/vocabulary.csv index,label,mid           (no header)
    FSD50K.dev_audio/{fname}.wav       40,966 clips (split train 36,796 / val 4,170)
    FSD50K.eval_audio/{fname}.wav      10,231 clips

Labels are smeared (ancestors included) and in no fixed order; the vocabulary file fixes the
class index. Protocol: train on ``split == train``, early-stop on the official ``val`` split,
report macro mAP over the classes on eval. Clips last 0.3–30 s; each is embedded whole (the
paper mean-pools over the entire clip), clips shorter than 1 s are tiled to 1 s so every
encoder's first analysis window (YAMNet 0.96 s, OpenL3 1 s) holds sound, not silence.
"""

from __future__ import annotations

from pathlib import Path

from bench.audio import ClipPolicy
from bench.remote import DownloadSpec, RemoteFile, UnpackKind, zenodo
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec, ZeroShotSpec
from tasks._csv import FileRows, MetadataError, Problems, parse_int, read_rows

GROUND_TRUTH = "FSD50K.ground_truth"
AUDIO_DIRS = {"dev": "FSD50K.dev_audio", "eval": "FSD50K.eval_audio"}


def read_vocabulary(path: Path) -> tuple[list[str], list[str]]:
    """(labels, mids) in index order from the headerless ``index,label,mid`` file."""
    entries: dict[int, tuple[str, str]] = {}
    for line, row in read_rows(path, ("index", "label", "mid"), header=False, fieldnames=("index", "label", "mid")):
        index = parse_int(row["index"].strip(), path, line, "index")
        label, mid = row["label"].strip(), row["mid"].strip()
        if not label:
            raise MetadataError(f"{path}, line {line}: empty label")
        if index in entries:
            raise MetadataError(f"{path}, line {line}: index {index} appears twice")
        entries[index] = (label, mid)
    if not entries:
        raise MetadataError(f"{path}: the vocabulary is empty")
    order = sorted(entries)  # the real file runs 0..199; trimmed copies keep the order, not the numbers
    labels = [entries[i][0] for i in order]
    if len(set(labels)) != len(labels):
        raise MetadataError(f"{path}: a label appears under two indices")
    return labels, [entries[i][1] for i in order]


def _split_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def read_ground_truth(
    path: Path, index: dict[str, int], mids: list[str], with_split: bool, problems: Problems | None = None
) -> list[tuple[int, str, tuple[int, ...], str | None]]:
    """(line, fname, class indices, split) per row; every label must be in the vocabulary.

    Rows with a problem are left out and the problem recorded (raised at once without ``problems``).
    """
    required = ("fname", "labels", "mids", "split") if with_split else ("fname", "labels", "mids")
    collect = problems if problems is not None else Problems()
    rows = []
    for line, row in read_rows(path, required, problems=collect):
        fname = row["fname"]
        labels = _split_list(row["labels"])
        unknown = [lab for lab in labels if lab not in index]
        row_mids = _split_list(row["mids"])
        split = row["split"] if with_split else None
        if not fname or not labels:
            collect.add("malformed row", path, line, f"empty fname or no labels ({fname!r})", "complete the row")
        elif unknown:
            collect.add("unknown label", path, line, f"label(s) {unknown} are not in vocabulary.csv", "")
        elif row_mids and sorted(row_mids) != sorted(mids[index[lab]] for lab in labels):
            collect.add(
                "unknown label",
                path,
                line,
                f"the mids {row_mids} do not match the labels {labels} according to vocabulary.csv",
                "are the ground-truth files from one FSD50K release?",
            )
        elif with_split and split not in ("train", "val"):
            collect.add("malformed row", path, line, f"split must be 'train' or 'val', got {split!r}", "")
        else:
            rows.append((line, fname, tuple(sorted({index[lab] for lab in labels})), split))
            continue
        if problems is None:
            collect.raise_if_any()
    return rows


def load(root: Path) -> Dataset:
    root = Path(root)
    gt = root / GROUND_TRUTH
    classes, mids = read_vocabulary(gt / "vocabulary.csv")
    index = {c: i for i, c in enumerate(classes)}
    clips: list[Clip] = []
    missing: list[MissingFile] = []
    counts: dict[str, int] = {}
    problems = Problems()
    for part, csv_name in (("dev", "dev.csv"), ("eval", "eval.csv")):
        csv_path = gt / csv_name
        audio_dir = root / AUDIO_DIRS[part]
        files = FileRows(csv_path, problems, fold_name="split")
        for line, fname, targets, split in read_ground_truth(csv_path, index, mids, part == "dev", problems):
            clip_id = f"{part}/{fname}"
            if not files.add(fname, line, split or "eval", targets):
                continue
            split = split or "eval"
            counts[split] = counts.get(split, 0) + 1
            path = audio_dir / f"{fname}.wav"
            if not path.is_file():
                missing.append(
                    MissingFile(clip_id, path, f"listed in {csv_name} ({split}) but absent from {AUDIO_DIRS[part]}/")
                )
                continue
            clips.append(Clip(id=clip_id, path=path, targets=targets, split=split, extra={"fname": fname}))
    info = {"listed": counts, "found": len(clips), "missing": len(missing), "mids": mids}
    dataset = Dataset(task="fsd50k", root=root, clips=clips, classes=classes, missing=missing, info=info)
    problems.raise_if_any(dataset)
    return dataset


_FSD_SOURCE = (
    "Zenodo record 4060432; md5 as in soundata datasets/fsd50k.py (and other public download scripts), sizes as "
    "in public download scripts that check them (every .z0N volume is 3 GiB: the archives were made with zip -s 3g)"
)
_VOLUME = 3 * 2**30


def _fsd(name: str, size: int, md5: str, unpack: UnpackKind = "zip", volumes: tuple[str, ...] = ()) -> RemoteFile:
    return RemoteFile(
        name=name,
        url=zenodo(4060432, name),
        size=size,
        md5=md5,
        source=_FSD_SOURCE,
        unpack=unpack,
        unpack_to="FSD50K",
        volumes=volumes,
    )


DOWNLOADS = DownloadSpec(
    page="https://zenodo.org/records/4060432",
    files=(
        _fsd("FSD50K.ground_truth.zip", 334701, "ca27382c195e37d2269c4c866dd73485"),
        _fsd("FSD50K.dev_audio.z01", _VOLUME, "faa7cf4cc076fc34a44a479a5ed862a3", "volume"),
        _fsd("FSD50K.dev_audio.z02", _VOLUME, "8f9b66153e68571164fb1315d00bc7bc", "volume"),
        _fsd("FSD50K.dev_audio.z03", _VOLUME, "1196ef47d267a993d30fa98af54b7159", "volume"),
        _fsd("FSD50K.dev_audio.z04", _VOLUME, "d088ac4e11ba53daf9f7574c11cccac9", "volume"),
        _fsd("FSD50K.dev_audio.z05", _VOLUME, "81356521aa159accd3c35de22da28c7f", "volume"),
        _fsd(
            "FSD50K.dev_audio.zip",
            2306663327,
            "c480d119b8f7a7e32fdb58f3ea4d6c5a",
            volumes=tuple(f"FSD50K.dev_audio.z0{i}" for i in range(1, 6)),
        ),
        _fsd("FSD50K.eval_audio.z01", _VOLUME, "3090670eaeecc013ca1ff84fe4442aeb", "volume"),
        _fsd(
            "FSD50K.eval_audio.zip", 3037675767, "6fa47636c3a3ad5c7dfeba99f2637982", volumes=("FSD50K.eval_audio.z01",)
        ),
    ),
    licence="CC BY 4.0 for the dataset; each clip keeps its Freesound licence (FSD50K.metadata)",
    note="FSD50K.metadata.zip and FSD50K.doc.zip are not fetched: the loader does not read them",
)


TASK = TaskSpec(
    name="fsd50k",
    title="FSD50K",
    kind="multilabel",
    loader=load,
    root_names=("FSD50K", "fsd50k"),
    marker=f"{GROUND_TRUTH}/vocabulary.csv",
    metrics=("mAP",),
    clip_policy=ClipPolicy(duration_s=None, pad="repeat", min_duration_s=1.0),
    train_splits=("train",),
    val_splits=("val",),
    test_splits=("eval",),
    trials=3,
    zero_shot=ZeroShotSpec(templates=("this is a sound of {label}.",), label_rule="audioset"),
    table_columns=(TableColumn("table2", "FSD50K<br>mAP", "mAP", paper_key="fsd50k"),),
    demo="fsd50k",
    expected_clips=51197,
    order=30,
    description=(
        "200-class multi-label Freesound clips; train → early stopping "
        "on the official val split → eval; macro mAP; 3 trials."
    ),
    citation="Fonseca, Favory, Pons, Font, Serra, FSD50K: an open dataset of human-labeled sound events, TASLP 2022",
    downloads=DOWNLOADS,
)
