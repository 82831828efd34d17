"""``bench data download``: resumable fetches, checks, unpacking, verify — all against a local server.

Nothing here touches the network: every file is served by ``tests/local_server.py`` on
127.0.0.1, and bench is pointed at it through its documented override (``mirror=`` in the
Python API, ``--mirror`` / ``BENCH_DOWNLOAD_MIRROR`` on the command line). The official
URLs in the test declarations are unroutable on purpose, so a request that ignored the
mirror would fail. Expected digests are computed with hashlib from the bytes the test
serves, independently of bench.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_esc50
from local_server import FileServer
from typer.testing import CliRunner

from bench.cli import app
from bench.download import MANIFEST, DownloadError, Manifest, download_dataset, fetch
from bench.remote import DownloadSpec, RemoteFile
from bench.task import TASKS, get_task
from bench.unpack import UnpackError, unpack

runner = CliRunner()
NOWHERE = "http://127.0.0.1:9"  # the discard port: the official URL must never be contacted


def payload(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def remote(name: str, data: bytes, **kw: object) -> RemoteFile:
    fields: dict[str, object] = {"size": len(data), "md5": hashlib.md5(data).hexdigest(), "unpack": "copy"}
    fields.update(kw)
    return RemoteFile(name=name, url=f"{NOWHERE}/{name}", **fields)  # type: ignore[arg-type]


@pytest.fixture
def server():
    with FileServer() as srv:
        yield srv


def get(srv: FileServer, rf: RemoteFile, folder: Path, msgs: list[str], **kw: object) -> Path:
    opts: dict = {"mirror": srv.url, "show_progress": False, "backoff_s": 0.0}
    opts.update(kw)
    return fetch(rf, folder, Manifest(folder), msgs.append, **opts)


# --- resume, restart, checks -----------------------------------------------------------------


def test_interrupted_transfer_resumes_with_a_range_request(server: FileServer, tmp_path: Path) -> None:
    data = payload(300_000)
    server.files["a.bin"] = data
    server.drops["a.bin"] = 100_000
    rf, msgs = remote("a.bin", data), []
    with pytest.raises(DownloadError) as err:
        get(server, rf, tmp_path, msgs, retries=0)
    text = str(err.value)
    assert "a.bin" in text and "Rerun the same command to resume" in text and "connection closed after 100000" in text
    part = tmp_path / "a.bin.part"
    assert part.read_bytes() == data[:100_000]
    assert not (tmp_path / "a.bin").exists()

    path = get(server, rf, tmp_path, msgs)  # the rerun
    assert server.requests == [("a.bin", None), ("a.bin", "bytes=100000-")]
    assert path.read_bytes() == data
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert not part.exists()


def test_dropped_connection_is_resumed_within_one_run(server: FileServer, tmp_path: Path) -> None:
    data = payload(250_000, seed=1)
    server.files["b.bin"] = data
    server.drops["b.bin"] = 77_777
    msgs: list[str] = []
    path = get(server, remote("b.bin", data), tmp_path, msgs, retries=2)
    assert [r for _, r in server.requests] == [None, "bytes=77777-"]
    assert path.read_bytes() == data
    assert any("retry 1/2 from byte 77777" in m for m in msgs)


def test_the_range_request_survives_a_redirect(server: FileServer, tmp_path: Path) -> None:
    data = payload(200_000, seed=11)
    server.files["store/k.bin"] = data
    server.redirects["k.bin"] = "/store/k.bin"
    server.drops["store/k.bin"] = 123_456
    path = get(server, remote("k.bin", data), tmp_path, [], retries=1)
    assert server.requests == [
        ("k.bin", None),
        ("store/k.bin", None),
        ("k.bin", "bytes=123456-"),
        ("store/k.bin", "bytes=123456-"),
    ]
    assert path.read_bytes() == data


@pytest.mark.parametrize("earlier", ["right", "wrong"])
def test_server_ignoring_range_restarts_cleanly(server: FileServer, tmp_path: Path, earlier: str) -> None:
    data = payload(120_000, seed=2)
    server.files["c.bin"] = data
    server.ignore_range = True
    (tmp_path / "c.bin.part").write_bytes(data[:40_000] if earlier == "right" else b"x" * 40_000)
    msgs: list[str] = []
    path = get(server, remote("c.bin", data), tmp_path, msgs)
    assert server.requests == [("c.bin", "bytes=40000-")]  # asked to resume, got the whole file
    assert path.read_bytes() == data  # restarted from byte 0, not appended
    assert any("ignored the resume request" in m for m in msgs)


def test_corrupted_byte_is_caught_by_the_checksum_and_the_file_named(server: FileServer, tmp_path: Path) -> None:
    data = payload(90_000, seed=3)
    bad = bytearray(data)
    bad[45_000] ^= 0x01
    server.files["d.bin"] = bytes(bad)
    with pytest.raises(DownloadError) as err:
        get(server, remote("d.bin", data), tmp_path, [])
    text = str(err.value)
    assert "checksum mismatch" in text and str(tmp_path / "d.bin.part") in text and "Delete" in text
    assert hashlib.md5(data).hexdigest() in text and hashlib.md5(bytes(bad)).hexdigest() in text
    assert not (tmp_path / "d.bin").exists()  # a bad file never gets the final name


def test_corrupted_byte_in_an_earlier_partial_is_caught_after_resuming(server: FileServer, tmp_path: Path) -> None:
    data = payload(90_000, seed=4)
    server.files["e.bin"] = data
    part = bytearray(data[:30_000])
    part[10] ^= 0xFF
    (tmp_path / "e.bin.part").write_bytes(bytes(part))
    with pytest.raises(DownloadError, match=r"e\.bin\.part: checksum mismatch"):
        get(server, remote("e.bin", data), tmp_path, [])
    assert server.requests == [("e.bin", "bytes=30000-")]


def test_a_file_of_the_wrong_size_is_caught(server: FileServer, tmp_path: Path) -> None:
    data = payload(50_000, seed=5)
    server.files["f.bin"] = data + b"!"
    with pytest.raises(DownloadError, match=r"f\.bin: the server offers 50001 bytes but the published file has 50000"):
        get(server, remote("f.bin", data), tmp_path, [])
    (tmp_path / "g.bin").write_bytes(data[:-1])  # an existing, truncated final file
    with pytest.raises(
        DownloadError, match=r"g\.bin: wrong size, 49999 bytes where the published file has 50000.*Delete"
    ):
        get(server, remote("g.bin", data), tmp_path, [])
    (tmp_path / "h.bin.part").write_bytes(data + b"??")  # a partial larger than the file
    with pytest.raises(DownloadError, match=r"h\.bin\.part: wrong size"):
        get(server, remote("h.bin", data), tmp_path, [])


def test_network_errors_name_the_file_and_how_to_resume(tmp_path: Path) -> None:
    with FileServer() as srv:
        dead = srv.url  # the port is closed once the server stops
    data = payload(1000)
    with pytest.raises(DownloadError) as err:
        fetch(
            remote("i.bin", data),
            tmp_path,
            Manifest(tmp_path),
            print,
            mirror=dead,
            retries=1,
            backoff_s=0.0,
            show_progress=False,
        )
    assert "i.bin: network error from" in str(err.value) and "Rerun the same command to resume" in str(err.value)


def test_missing_file_on_the_mirror_is_a_clear_http_error(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"/nope\.bin: HTTP 404.*--mirror must serve every file under its name"):
        get(server, remote("nope.bin", b"x"), tmp_path, [])


def test_without_a_published_checksum_the_sha256_is_recorded_and_then_enforced(
    server: FileServer, tmp_path: Path
) -> None:
    data = payload(20_000, seed=6)
    server.files["j.zip"] = data
    rf = RemoteFile(name="j.zip", url=f"{NOWHERE}/j.zip", size=None, unpack="copy")
    msgs: list[str] = []
    path = get(server, rf, tmp_path, msgs)
    sha = hashlib.sha256(data).hexdigest()
    assert any("no checksum is published" in m and sha in m for m in msgs)
    assert json.loads((tmp_path / MANIFEST).read_text())["j.zip"]["sha256"] == sha
    path.write_bytes(data[:-1] + b"\0")  # the file changes on disk after it was checked
    with pytest.raises(DownloadError, match=r"j\.zip: checksum mismatch \(sha256 recorded when it was checked"):
        get(server, rf, tmp_path, [])


def test_a_checked_file_is_not_hashed_again_unless_it_or_its_pin_changed(server: FileServer, tmp_path: Path) -> None:
    data = payload(30_000, seed=12)
    server.files["l.bin"] = data
    rf, msgs = remote("l.bin", data), []
    get(server, rf, tmp_path, msgs)
    record = json.loads((tmp_path / MANIFEST).read_text())["l.bin"]
    assert record["md5"] == hashlib.md5(data).hexdigest() and record["url"] == f"{server.url}/l.bin"
    get(server, rf, tmp_path, msgs)  # present and recorded: no request, no error
    assert len(server.requests) == 1
    with pytest.raises(DownloadError, match=r"l\.bin: checksum mismatch \(md5: expected 0{32}"):
        get(server, dataclasses.replace(rf, md5="0" * 32), tmp_path, msgs)  # a corrected pin is enforced


# --- unpacking ---------------------------------------------------------------------------------


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


CONTENT = {
    "top/a.txt": b"hello " * 5000,  # compressible: deflated
    "top/sub/b.bin": payload(70_000, seed=7),  # random: stored
    "top/sub/c d,(e).wav": payload(10, seed=8),
}


def test_tar_gz_and_zip_unpack_the_same_tree_and_strip_an_optional_top_folder(tmp_path: Path) -> None:
    tgz = tmp_path / "x.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        for name, data in CONTENT.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    zpath = tmp_path / "x.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in CONTENT.items():
            zf.writestr(name, data)
    assert unpack(tgz, "tar", tmp_path / "t", show_progress=False) == 3
    assert unpack(zpath, "zip", tmp_path / "z", strip_top="top", show_progress=False) == 3
    assert tree(tmp_path / "t") == CONTENT
    assert tree(tmp_path / "z") == {k.removeprefix("top/"): v for k, v in CONTENT.items()}
    assert unpack(zpath, "zip", tmp_path / "n", strip_top="other", show_progress=False) == 3  # no such top: kept
    assert tree(tmp_path / "n") == CONTENT


def test_an_archive_writing_outside_its_folder_is_refused(tmp_path: Path) -> None:
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("ok.txt", b"1")
        zf.writestr("../escape.txt", b"2")
    with pytest.raises(UnpackError, match=r"evil\.zip: member '\.\./escape\.txt' would be written outside"):
        unpack(zpath, "zip", tmp_path / "out", show_progress=False)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "ok.txt").exists()


def test_a_truncated_archive_is_reported_with_the_fix(tmp_path: Path) -> None:
    tgz = tmp_path / "cut.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        info = tarfile.TarInfo("top/sub/b.bin")
        data = CONTENT["top/sub/b.bin"]
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    tgz.write_bytes(tgz.read_bytes()[:-3000])
    with pytest.raises(UnpackError, match=r"cut\.tar\.gz: the archive is damaged or truncated.*download again"):
        unpack(tgz, "tar", tmp_path / "out", show_progress=False)


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs Info-ZIP's `zip` to make a real split archive")
@pytest.mark.parametrize("zip64", [False, True])
def test_split_zip_volumes_are_read_in_place(tmp_path: Path, zip64: bool) -> None:
    """The archive is made by Info-ZIP `zip -s` (what FSD50K's authors used), not by bench."""
    src = tmp_path / "src"
    for name, data in CONTENT.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    (src / "top" / "big.bin").write_bytes(payload(200_000, seed=9))  # spans volume boundaries
    cmd = ["zip", "-q", "-r", "-s", "64k", *(["-fz"] if zip64 else []), str(tmp_path / "FSD.dev_audio.zip"), "top"]
    subprocess.run(cmd, cwd=src, check=True)
    volumes = sorted(tmp_path.glob("FSD.dev_audio.z0*"))
    assert len(volumes) >= 3
    n = unpack(tmp_path / "FSD.dev_audio.zip", "zip", tmp_path / "out", volumes=volumes, show_progress=False)
    assert n == 4
    assert tree(tmp_path / "out") == tree(src)
    with pytest.raises(UnpackError, match="refers to volume"):  # a volume left out
        unpack(tmp_path / "FSD.dev_audio.zip", "zip", tmp_path / "out2", volumes=volumes[1:], show_progress=False)


def test_7z_unpacks_into_the_split_folders(tmp_path: Path) -> None:
    py7zr = pytest.importorskip("py7zr")
    src = tmp_path / "src" / "evaluation"
    src.mkdir(parents=True)
    (src / " leading space, comma.wav").write_bytes(payload(5000, seed=10))
    with py7zr.SevenZipFile(tmp_path / "clotho_audio_evaluation.7z", "w") as z:
        z.writeall(src, arcname="evaluation")
    assert unpack(tmp_path / "clotho_audio_evaluation.7z", "7z", tmp_path / "Clotho", show_progress=False) == 1
    assert tree(tmp_path / "Clotho") == {"evaluation/ leading space, comma.wav": payload(5000, seed=10)}


def test_multipart_dataset_downloads_volumes_then_unpacks_once(server: FileServer, tmp_path: Path) -> None:
    if shutil.which("zip") is None:
        pytest.skip("needs Info-ZIP's `zip` to make a real split archive")
    src = tmp_path / "src"
    (src / "D.dev_audio").mkdir(parents=True)
    for i in range(3):
        (src / "D.dev_audio" / f"{i}.wav").write_bytes(payload(60_000, seed=20 + i))
    (tmp_path / "arch").mkdir()
    subprocess.run(
        ["zip", "-q", "-r", "-s", "64k", str(tmp_path / "arch" / "D.dev_audio.zip"), "D.dev_audio"], cwd=src, check=True
    )
    parts = sorted((tmp_path / "arch").iterdir())
    for p in parts:
        server.files[p.name] = p.read_bytes()
    vols = tuple(p.name for p in parts if p.suffix != ".zip")
    spec = DownloadSpec(
        page="test",
        files=(
            *(remote(v, server.files[v], unpack="volume") for v in vols),
            remote("D.dev_audio.zip", server.files["D.dev_audio.zip"], unpack="zip", unpack_to="D", volumes=vols),
        ),
    )
    msgs: list[str] = []
    download_dataset(spec, tmp_path / "root", msgs.append, mirror=server.url, show_progress=False, keep_archives=False)
    assert tree(tmp_path / "root" / "D") == tree(src)
    assert not list((tmp_path / "root" / "downloads").glob("D.dev_audio.z*"))  # --no-keep-archives
    n = len(server.requests)
    download_dataset(spec, tmp_path / "root", msgs.append, mirror=server.url, show_progress=False)
    assert len(server.requests) == n  # a rerun downloads nothing: unpacked already
    assert any("already unpacked" in m for m in msgs)


# --- the command, end to end -------------------------------------------------------------------

ESC_TARGETS = {0: "dog", 1: "rooster", 41: "chainsaw"}


def esc50_archive(tmp_path: Path) -> bytes:
    """A small ESC-50-like GitHub archive: one top folder ESC-50-master/ with meta/ and audio/."""
    write_esc50(tmp_path / "gen" / "ESC-50-master", ESC_TARGETS, per_fold=1, esc10={"dog"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        base = tmp_path / "gen"
        for p in sorted(base.rglob("*")):
            zf.write(p, p.relative_to(base).as_posix())
    return buf.getvalue()


def test_end_to_end_download_unpack_verify_then_the_esc50_loader_reads_it(server: FileServer, tmp_path: Path) -> None:
    archive = esc50_archive(tmp_path)
    server.files["ESC-50-master.zip"] = archive
    server.drops["ESC-50-master.zip"] = len(archive) // 3  # and the connection drops once on the way
    base = get_task("esc50")
    spec = dataclasses.replace(
        base,
        name="esc50-mirror-e2e",
        in_all=False,
        downloads=DownloadSpec(
            page="test",
            files=(
                RemoteFile(
                    name="ESC-50-master.zip",
                    url=f"{NOWHERE}/ESC-50-master.zip",
                    size=len(archive),
                    sha256=hashlib.sha256(archive).hexdigest(),
                    source="generated by this test",
                    unpack="zip",
                ),
            ),
        ),
    )
    root = tmp_path / "data"
    with TASKS.registered("esc50-mirror-e2e", spec, origin="test"):
        res = runner.invoke(app, ["data", "download", "esc50-mirror-e2e", "--root", str(root), "--mirror", server.url])
        again = runner.invoke(
            app, ["data", "download", "esc50-mirror-e2e", "--root", str(root), "--mirror", server.url]
        )
    assert res.exit_code == 0, res.output
    assert [r for _, r in server.requests] == [None, f"bytes={len(archive) // 3}-"]
    assert "  OK" in res.output and "PROBLEMS" not in res.output
    assert f"--data-root {root}" in res.output

    from tasks.esc50 import load

    dataset = load(root / "ESC-50-master")
    written = list(csv_rows(tmp_path / "gen" / "ESC-50-master" / "meta" / "esc50.csv"))
    assert len(dataset.clips) == len(written) == 15 and not dataset.missing
    assert dataset.classes == [ESC_TARGETS[t] for t in sorted(ESC_TARGETS)]
    assert sorted((c.id, c.fold) for c in dataset.clips) == sorted((r["filename"], int(r["fold"])) for r in written)
    assert get_task("esc50").find_root(root) == root / "ESC-50-master"  # `--data-root DIR` finds it

    assert again.exit_code == 0 and "already unpacked" in again.output and len(server.requests) == 2


def csv_rows(path: Path):
    import csv

    with path.open(newline="") as fh:
        yield from csv.DictReader(fh)


def test_the_real_esc50_declaration_records_the_archive_and_checks_the_published_metadata(
    server: FileServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through BENCH_DOWNLOAD_MIRROR: a generated archive is not ESC-50, and the pinned md5 of
    meta/esc50.csv (published in soundata's index) says so, naming the file."""
    archive = esc50_archive(tmp_path)
    server.files["ESC-50-master.zip"] = archive
    monkeypatch.setenv("BENCH_DOWNLOAD_MIRROR", server.url)
    root = tmp_path / "data"
    res = runner.invoke(app, ["data", "download", "esc50", "--root", str(root)])
    assert res.exit_code == 1
    assert server.requests == [("ESC-50-master.zip", None)]
    assert "no checksum is published for this file" in res.output
    assert hashlib.sha256(archive).hexdigest() in res.output
    assert re.search(
        r"ESC-50-master/meta/esc50\.csv: md5 [0-9a-f]{32}, but the published dataset's file has "
        r"54a0d0055a10bb7df84ad340a148722e",
        res.output.replace("\n", ""),
    )


def test_dry_run_lists_every_url_size_and_checksum_and_touches_nothing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    res = runner.invoke(
        app,
        ["data", "download", "esc50,urbansound8k,fsd50k,clotho,tau,desed,vggsound", "--dry-run", "--root", str(root)],
    )
    assert res.exit_code == 0, res.output
    assert not root.exists()
    for name in ("esc50", "urbansound8k", "fsd50k", "clotho", "tau"):
        for f in get_task(name).downloads.files:  # type: ignore[union-attr]
            assert f.url in res.output and f.name in res.output
            assert (f.md5 or "no published checksum") in res.output
            if f.size is not None:
                assert f"{f.size} bytes" in res.output
    assert res.output.count("no public download") == 2  # DESED and VGGSound: YouTube
    mirrored = runner.invoke(app, ["data", "download", "fsd50k", "--dry-run", "--mirror", "http://lab.example/d/"])
    assert "http://lab.example/d/FSD50K.dev_audio.z03" in mirrored.output


def test_youtube_datasets_explain_how_to_get_them_and_do_not_pretend_success(tmp_path: Path) -> None:
    for name, words in (("desed", "yt-dlp"), ("vggsound", "vggsound.csv")):
        res = runner.invoke(app, ["data", "download", name, "--root", str(tmp_path)])
        assert res.exit_code == 1 and "no public download" in res.output and words in res.output


def test_every_declared_download_is_consistent() -> None:
    """Registry-driven: digests are well-formed, every file says where its pins come from,
    volumes belong to exactly one zip, and the five public datasets all declare files."""
    public = {"esc50", "esc10", "urbansound8k", "fsd50k", "clotho", "tau"}
    checked = set()
    for name in TASKS.names():
        spec = get_task(name)
        if spec.downloads is None or not spec.loader.__module__.startswith("tasks."):  # this project's own tasks
            continue
        checked.add(name)
        files = spec.downloads.files
        assert (name in public) == bool(files), name
        names = [f.name for f in files]
        assert len(set(names)) == len(names), name
        for f in files:
            assert f.source, (name, f.name)
            assert f.md5 is None or re.fullmatch(r"[0-9a-f]{32}", f.md5), (name, f.name)
            assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256), (name, f.name)
            assert f.pinned or f.note, (name, f.name)  # an unpinned file says why
            if f.unpack == "volume":
                assert sum(f.name in o.volumes for o in files) == 1, (name, f.name)
        for f in files:
            assert all(v in names for v in f.volumes), (name, f.name)
        for c in spec.downloads.contents:
            assert re.fullmatch(r"[0-9a-f]{32}", c.md5) and c.source
    assert public <= checked  # the loop really saw every public dataset


def test_docs_table_lists_every_pinned_url_size_and_checksum() -> None:
    """docs/datasets.md stays true: each declared file has a row with its URL, size and md5."""
    doc = (Path(__file__).parents[1] / "docs" / "datasets.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    for name in ("esc50", "urbansound8k", "fsd50k", "clotho", "tau"):
        for f in get_task(name).downloads.files:  # type: ignore[union-attr]
            row = next((r for r in rows if f"[{f.name}]({f.url})" in r), None)
            assert row is not None, f.name
            assert (f"{f.size:,}" if f.size is not None else "not pinned") in row, f.name
            assert (f"`{f.md5}`" if f.md5 else "none published") in row, f.name
    for c in get_task("esc50").downloads.contents:  # type: ignore[union-attr]
        assert c.md5 in doc


# --- every public dataset: its real unpack settings give the layout its loader reads ---------


def pin(real: RemoteFile, data: bytes, **changes: object) -> RemoteFile:
    """The task's own declaration (name, unpack kind, target folder, top folder) pinned to test bytes."""
    return dataclasses.replace(
        real,
        url=f"{NOWHERE}/{changes.get('name', real.name)}",
        size=len(data),
        md5=hashlib.md5(data).hexdigest(),
        sha256=None,
        **changes,
    )  # type: ignore[arg-type]


def zip_tree(base: Path, members: list[Path]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in members:
            zf.write(p, p.relative_to(base).as_posix())
    return buf.getvalue()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def pack_us8k(src: Path, out: Path, real: DownloadSpec) -> DownloadSpec:
    from fixtures import write_us8k

    write_us8k(src / "UrbanSound8K", ["air_conditioner", "car_horn", "dog_bark"], folds=10)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(src / "UrbanSound8K", arcname="UrbanSound8K")
    (out / "UrbanSound8K.tar.gz").write_bytes(buf.getvalue())
    return dataclasses.replace(real, files=(pin(real.files[0], buf.getvalue()),))


def pack_fsd50k(src: Path, out: Path, real: DownloadSpec) -> DownloadSpec:
    if shutil.which("zip") is None:
        pytest.skip("needs Info-ZIP's `zip` to make FSD50K-like split archives")
    from fixtures_suite import write_fsd50k

    vocab = [("Crushing", "/m/07plct2"), ("Guitar", "/m/0342h"), ("Music", "/m/04rlf")]
    dev = [
        (100 + i, ["Crushing"] if i % 2 else ["Guitar", "Music"], "val" if i % 4 == 0 else "train") for i in range(8)
    ]
    write_fsd50k(
        src,
        vocab,
        dev,
        [(900, ["Crushing"]), (901, ["Music"])],
        {"Crushing": 500.0, "Guitar": 900.0},
        seconds=2.0,
        sr=16000,
    )
    (out / "FSD50K.ground_truth.zip").write_bytes(zip_tree(src, files_under(src / "FSD50K.ground_truth")))
    for part in ("dev", "eval"):
        subprocess.run(
            ["zip", "-q", "-r", "-s", "64k", str(out / f"FSD50K.{part}_audio.zip"), f"FSD50K.{part}_audio"],
            cwd=src,
            check=True,
        )
    by_name = {f.name: f for f in real.files}
    files = [pin(by_name["FSD50K.ground_truth.zip"], (out / "FSD50K.ground_truth.zip").read_bytes())]
    for part in ("dev", "eval"):
        vols = sorted(out.glob(f"FSD50K.{part}_audio.z0*"))
        template = by_name[f"FSD50K.{part}_audio.z01"]
        files += [pin(template, v.read_bytes(), name=v.name) for v in vols]
        last = by_name[f"FSD50K.{part}_audio.zip"]
        files.append(pin(last, (out / last.name).read_bytes(), volumes=tuple(v.name for v in vols)))
    return dataclasses.replace(real, files=tuple(files))


def pack_clotho(src: Path, out: Path, real: DownloadSpec) -> DownloadSpec:
    py7zr = pytest.importorskip("py7zr")
    from fixtures_events import write_clotho

    write_clotho(src)
    files = []
    for f in real.files:
        if f.unpack == "7z":
            split = f.name.removeprefix("clotho_audio_").removesuffix(".7z")
            with py7zr.SevenZipFile(out / f.name, "w") as z:
                z.writeall(src / split, arcname=split)
        else:
            shutil.copy(src / f.name, out / f.name)
        files.append(pin(f, (out / f.name).read_bytes()))
    return dataclasses.replace(real, files=tuple(files))


def pack_tau(src: Path, out: Path, real: DownloadSpec) -> DownloadSpec:
    """Like the Zenodo zips: no common top folder; metadata in one zip, the audio split over two."""
    from fixtures_suite import TAU_SCENES, write_tau

    write_tau(src, TAU_SCENES[:3], dict(zip(TAU_SCENES[:3], [300.0, 600.0, 900.0], strict=True)))
    meta, audio1, audio2 = real.files[:3]
    wavs = files_under(src / "audio")
    parts = {
        meta.name: [src / "meta.csv", *files_under(src / "evaluation_setup")],
        audio1.name: wavs[::2],
        audio2.name: wavs[1::2],
    }
    for f in (meta, audio1, audio2):
        (out / f.name).write_bytes(zip_tree(src, parts[f.name]))
    return dataclasses.replace(real, files=tuple(pin(f, (out / f.name).read_bytes()) for f in (meta, audio1, audio2)))


PACKERS = {
    "urbansound8k": (pack_us8k, "UrbanSound8K"),
    "fsd50k": (pack_fsd50k, "FSD50K"),
    "clotho": (pack_clotho, "Clotho"),
    "tau": (pack_tau, "TAU-urban-audio-visual-scenes-2021-development"),
}


@pytest.mark.parametrize("task", sorted(PACKERS))
def test_each_public_dataset_unpacks_into_the_layout_its_loader_reads(
    server: FileServer, tmp_path: Path, task: str
) -> None:
    spec = get_task(task)
    pack, folder = PACKERS[task]
    src, out, root = tmp_path / "src", tmp_path / "archives", tmp_path / "data"
    out.mkdir()
    test_spec = pack(src, out, spec.downloads)  # type: ignore[arg-type]
    for f in test_spec.files:
        server.files[f.name] = (out / f.name).read_bytes()
    download_dataset(test_spec, root, print, mirror=server.url, show_progress=False)
    found = spec.find_root(root)
    assert found == root / folder
    expected = spec.loader(src / folder if task == "urbansound8k" else src)
    got = spec.loader(found)
    assert len(got.clips) == len(expected.clips) > 0
    key = lambda c: (c.id, c.target, c.targets, c.fold, c.split)  # noqa: E731
    assert sorted(map(key, got.clips)) == sorted(map(key, expected.clips))
    assert [m.id for m in got.missing] == [m.id for m in expected.missing]  # Clotho's fixture lists one absent clip
    for clip in got.clips:
        rel = clip.path.relative_to(found)
        source = (src / folder if task == "urbansound8k" else src) / rel
        assert clip.path.read_bytes() == source.read_bytes()
