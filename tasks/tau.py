"""TAU Urban Audio-Visual Scenes 2021, development set (DCASE2021 Task 1B), audio only.

Layout (the Zenodo zips unpacked into one folder; they have no common top folder)::

    audio/<scene>-<city>-<location>-<segment>.wav      10 s, 48 kHz, 24-bit, stereo
    video/<scene>-<city>-<location>-<segment>.mp4      (never read here: audio only)
    meta.csv                                           filename_audio filename_video scene_label identifier
    evaluation_setup/fold1_train.csv                   filename_audio filename_video scene_label
    evaluation_setup/fold1_evaluate.csv                idem
    evaluation_setup/fold1_test.csv                    filename_audio filename_video (no labels)

The ".csv" files are **tab**-separated with a header; paths are relative to the dataset
root. Tools that unzip each archive into a folder named after it leave ``meta.csv`` and
``evaluation_setup/`` in ``<root>/TAU-urban-audio-visual-scenes-2021-development.meta/``;
both places are searched. Protocol: train on fold1_train (validation carved from it, whole
recording locations kept together), report on fold1_evaluate (locations do not overlap).
The paper reports plain accuracy; DCASE's log loss and class-wise accuracy come alongside.
The vocabulary is the sorted set of scene labels (there is no vocabulary file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.audio import ClipPolicy
from bench.remote import DownloadSpec, RemoteFile, zenodo
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec, ZeroShotSpec
from tasks._csv import MetadataError, Problems, read_rows

BASE_NAME = "TAU-urban-audio-visual-scenes-2021-development"
SETUP = "evaluation_setup"
FOLD_FILES = {"train": "fold1_train.csv", "evaluate": "fold1_evaluate.csv"}
FOLD_COLUMNS = ("filename_audio", "filename_video", "scene_label")
META_COLUMNS = (*FOLD_COLUMNS, "identifier")


def meta_dir(root: Path) -> Path | None:
    """The folder holding ``evaluation_setup/``: the root, or a ``*.meta/`` folder inside it."""
    if (root / SETUP / FOLD_FILES["train"]).is_file():
        return root
    for sub in sorted(root.glob("*.meta")):
        if (sub / SETUP / FOLD_FILES["train"]).is_file():
            return sub
    return None


def identifier_of(filename_audio: str) -> str:
    """``audio/airport-lisbon-1175-44106.wav`` → ``lisbon-1175`` (city-location)."""
    parts = Path(filename_audio).stem.split("-")
    return "-".join(parts[1:3]) if len(parts) >= 4 else Path(filename_audio).stem


def read_identifiers(meta: Path) -> dict[str, str]:
    path = meta / "meta.csv"
    if not path.is_file():
        return {}
    return {
        row["filename_audio"].strip(): row["identifier"].strip()
        for _line, row in read_rows(path, META_COLUMNS, delimiter="\t")
    }


def _check_tabs(path: Path) -> None:
    if not path.is_file():
        raise MetadataError(f"{path}: metadata file not found; is the dataset root right?")
    with path.open(encoding="utf-8") as fh:
        head = fh.readline()
    if "\t" not in head:
        raise MetadataError(
            f"{path}: the header {head.strip()!r} is not tab-separated; TAU setup files use tabs despite the .csv name"
        )


def load(root: Path) -> Dataset:
    root = Path(root)
    meta = meta_dir(root)
    if meta is None:
        raise MetadataError(
            f"{root}: no {SETUP}/{FOLD_FILES['train']} here or in a *.meta/ folder; point the root at the "
            f"folder where the {BASE_NAME} zips were unpacked"
        )
    identifiers = read_identifiers(meta)
    rows: list[tuple[str, str, str, str]] = []  # (filename_audio, scene, split, identifier)
    seen: dict[str, tuple[str, int, str, str]] = {}  # file → (setup file, line, split, scene)
    problems = Problems()
    for split, name in FOLD_FILES.items():
        path = meta / SETUP / name
        _check_tabs(path)
        for line, row in read_rows(path, FOLD_COLUMNS, delimiter="\t", problems=problems):
            rel, scene = row["filename_audio"], row["scene_label"]
            if not rel or not scene:
                problems.add("malformed row", path, line, "empty filename_audio or scene_label", "complete the row")
                continue
            if rel in seen:
                first, first_line, first_split, first_scene = seen[rel]
                kind = (
                    "file in several folds"
                    if first_split != split
                    else ("duplicate row" if first_scene == scene else "file with several labels")
                )
                problems.add(
                    kind,
                    path,
                    line,
                    f"{rel} is already listed in {first}, line {first_line}",
                    "keep one row per file (a file in both fold1_train and fold1_evaluate leaks test data)",
                )
                continue
            seen[rel] = (name, line, split, scene)
            rows.append((rel, scene, split, identifiers.get(rel) or identifier_of(rel)))
    classes = sorted({r[1] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    clips, missing = [], []
    for rel, scene, split, ident in rows:
        path = root / rel
        if not path.is_file():
            missing.append(MissingFile(rel, path, f"listed in {FOLD_FILES[split]} but absent"))
            continue
        clips.append(
            Clip(id=rel, path=path, target=index[scene], split=split, group=ident, extra={"identifier": ident})
        )
    train_locs = {r[3] for r in rows if r[2] == "train"}
    eval_locs = {r[3] for r in rows if r[2] == "evaluate"}
    info = {
        "listed": len(rows),
        "found": len(clips),
        "missing": len(missing),
        "meta_dir": str(meta),
        "shared_locations": sorted(train_locs & eval_locs),
    }
    dataset = Dataset(task="tau", root=root, clips=clips, classes=classes, missing=missing, info=info)
    problems.raise_if_any(dataset)
    return dataset


_TAU_SOURCE = (
    "Zenodo record 4477542; size and md5 from dcase_util 0.2.20 datasets/tut.py "
    "(TAUUrbanAudioVisualScenes_2021_DevelopmentSet, the dataset authors' toolbox); the md5s agree with PaddleAudio"
)


def _tau(part: str, size: int, md5: str) -> RemoteFile:
    name = f"{BASE_NAME}.{part}.zip"
    return RemoteFile(
        name=name,
        url=zenodo(4477542, name),
        size=size,
        md5=md5,
        source=_TAU_SOURCE,
        unpack="zip",
        unpack_to=BASE_NAME,
        strip_top=BASE_NAME,
    )


DOWNLOADS = DownloadSpec(
    page="https://zenodo.org/records/4477542",
    files=(
        _tau("meta", 235316, "76e3d7ed5291b118372e06379cb2b490"),
        _tau("audio.1", 4349202707, "186f6273f8f69ed9dbdc18ad65ac234f"),
        _tau("audio.2", 4490960726, "7fd6bb63127f5785874a55aba4e77aa5"),
        _tau("audio.3", 4223486056, "61396bede29d7c8c89729a01a6f6b2e2"),
        _tau("audio.4", 4172854493, "6ddac89717fcf9c92c451868eed77fe1"),
        _tau("audio.5", 4185568337, "af4820756cdf1a7d4bd6037dc034d384"),
        _tau("audio.6", 4215402064, "ebd11ec24411f2a17a64723bd4aa7fff"),
        _tau("audio.7", 4407222915, "2be39a76aeed704d5929d020a2909efd"),
        _tau("audio.8", 345864456, "972d8afe0874720fc2f28086e7cb22a9"),
    ),
    licence="free for non-commercial use (see the record)",
    note="audio and metadata only (30.4 GB): the task reads no video, so the 16 video zips (77 GB) are not fetched",
)


@dataclass(frozen=True)
class TauTaskSpec(TaskSpec):
    """Finds the dataset whether the setup files sit in the root or in a ``*.meta/`` folder."""

    def find_root(self, data_root: Path) -> Path | None:
        for cand in (data_root, *(data_root / n for n in self.root_names)):
            if cand.is_dir() and meta_dir(cand) is not None:
                return cand
        return None


TASK = TauTaskSpec(
    name="tau",
    title="TAU Urban Audio-Visual Scenes 2021 (audio only)",
    kind="multiclass",
    loader=load,
    root_names=(BASE_NAME, "TAU-urban-audio-visual-scenes-2021", "TAU2021", "tau"),
    marker=f"{SETUP}/{FOLD_FILES['train']}",
    metrics=("accuracy", "log_loss", "balanced_accuracy"),
    clip_policy=ClipPolicy(duration_s=None),  # every segment lasts 10 s: embed it whole
    train_splits=("train",),
    test_splits=("evaluate",),
    trials=3,
    zero_shot=ZeroShotSpec(templates=("this is a sound of {label}.",), label_rule="underscores_to_spaces_lower"),
    table_columns=(TableColumn("table2", "TAU Audio Only<br>ACC", "accuracy", paper_key="tau"),),
    demo="tau",
    expected_clips=None,  # ≈12.3k segments; the exact fold1 counts are unverified here
    order=50,
    description=(
        "10 acoustic scenes, audio only; fold1_train (validation carved by recording "
        "location) → fold1_evaluate; accuracy, log loss, class-wise accuracy; 3 trials."
    ),
    citation=(
        "Wang, Mesaros, Heittola, Virtanen, A curated dataset of "
        "urban scenes for audio-visual scene analysis, ICASSP 2021"
    ),
    downloads=DOWNLOADS,
)
