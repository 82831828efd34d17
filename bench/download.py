"""``bench data download``: fetch a dataset's public files, check them, unpack them.

Resumable: bytes arrive in ``NAME.part`` next to the final file; a rerun (or an automatic
retry after a dropped connection) asks the server for the rest with an HTTP ``Range``
header. A server that ignores ``Range`` answers with the whole file, and the part is then
restarted from byte 0 rather than appended to (which would corrupt it). A file becomes
``NAME`` only after its size and checksum match the values pinned in the task
(:mod:`bench.remote`); where no checksum is published, the sha256 is computed on first
download and recorded in ``bench-downloads.json``, and later runs check against it.

``--mirror URL`` (or ``BENCH_DOWNLOAD_MIRROR``) fetches every file from ``URL/NAME``
instead of its official URL: a lab mirror, or the local server the tests start. Nothing
here runs at import time, and nothing downloads unless the command is given.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.progress import progress_bar
from bench.remote import DownloadSpec, RemoteFile
from bench.unpack import UnpackError, unpack

MIRROR_ENV = "BENCH_DOWNLOAD_MIRROR"
MANIFEST = "bench-downloads.json"
USER_AGENT = "bench-audio (bench data download)"

Say = Callable[[str], None]


class DownloadError(RuntimeError):
    """A download that failed or a file that failed its checks; the message names the fix."""


class _Transient(Exception):
    """A network failure worth a retry with a Range request (connection dropped, timeout, 5xx)."""


def file_url(remote: RemoteFile, mirror: str | None) -> str:
    if not mirror:
        return remote.url
    return f"{mirror.rstrip('/')}/{urllib.parse.quote(remote.name)}"


def human(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


@dataclass
class Digests:
    size: int
    md5: str
    sha256: str


def digest_file(path: Path, show_progress: bool = True) -> Digests:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as fh, progress_bar(f"check {path.name}", size, show_progress, unit="bytes") as advance:
        while block := fh.read(1 << 22):
            md5.update(block)
            sha.update(block)
            advance(len(block))
    return Digests(size, md5.hexdigest(), sha.hexdigest())


class Manifest:
    """``bench-downloads.json`` in the downloads folder: what was verified, recorded, unpacked."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / MANIFEST
        self.data: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                self.data = dict(json.loads(self.path.read_text()))
            except ValueError:
                self.data = {}  # a damaged manifest only costs re-checking the files

    def get(self, name: str) -> dict[str, Any]:
        return dict(self.data.get(name, {}))

    def put(self, name: str, **values: Any) -> None:
        self.data.setdefault(name, {}).update(values)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, self.data)


def check_file(
    remote: RemoteFile,
    path: Path,
    manifest: Manifest,
    say: Say,
    show_progress: bool = True,
    fresh: bool = False,
) -> Digests:
    """Size and checksum of a complete file against the pins, or else against the sha256 recorded
    when it was first checked. A ``fresh`` download of an unpinned file is re-recorded (with a
    warning if the server's bytes changed: GitHub regenerates archives); the dataset's pinned
    contents and ``verify`` still guard it."""
    stat = path.stat()
    record = manifest.get(remote.name)
    if remote.size is not None and stat.st_size != remote.size:
        raise DownloadError(
            f"{path}: wrong size, {stat.st_size} bytes where the published file has {remote.size} "
            f"({remote.source or 'pinned in the task'}). Delete {path} and rerun the command to download it again."
        )
    same_pins = all(
        want is None or record.get(kind) == want for kind, want in (("md5", remote.md5), ("sha256", remote.sha256))
    )
    if (
        record.get("verified")
        and same_pins
        and record.get("size") == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
    ):
        return Digests(
            stat.st_size, record["md5"], record["sha256"]
        )  # checked before against these pins, untouched since
    got = digest_file(path, show_progress)
    expected = [
        (kind, want, have)
        for kind, want, have in (("md5", remote.md5, got.md5), ("sha256", remote.sha256, got.sha256))
        if want
    ]
    if not expected and record.get("sha256") and not fresh:
        expected = [
            (f"sha256 recorded when it was checked on {record.get('checked', '?')}", record["sha256"], got.sha256)
        ]
    elif not expected and record.get("sha256") and record["sha256"] != got.sha256:
        say(
            f"  {remote.name}: the server now serves other bytes than at the first download "
            f"(sha256 {got.sha256}, recorded {record['sha256']}); re-recorded"
        )
    for kind, want, have in expected:
        if want != have:
            raise DownloadError(
                f"{path}: checksum mismatch ({kind}: expected {want}, got {have}); the file is corrupted or not the "
                f"published one. Delete {path} and rerun the command to download it again."
            )
    if not expected:
        say(
            f"  {remote.name}: no checksum is published for this file (why: --dry-run, docs/datasets.md); "
            f"recorded its sha256 {got.sha256} in {manifest.path}; later runs check against it"
        )
    manifest.put(
        remote.name,
        verified=True,
        size=got.size,
        md5=got.md5,
        sha256=got.sha256,
        mtime_ns=stat.st_mtime_ns,
        pinned=bool(remote.pinned),
        checked=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    return got


def fetch(
    remote: RemoteFile,
    folder: Path,
    manifest: Manifest,
    say: Say,
    mirror: str | None = None,
    retries: int = 3,
    timeout_s: float = 60.0,
    show_progress: bool = True,
    backoff_s: float = 2.0,
) -> Path:
    """Download ``remote`` into ``folder`` (resuming a ``.part``), check it, return its path."""
    target = folder / remote.name
    if target.is_file():
        check_file(remote, target, manifest, say, show_progress)
        return target
    folder.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    url = file_url(remote, mirror)
    attempt = 0
    while True:
        try:
            _transfer(url, part, remote, say, timeout_s, show_progress)
            break
        except _Transient as exc:
            attempt += 1
            have = part.stat().st_size if part.exists() else 0
            if attempt > retries:
                raise DownloadError(
                    f"{remote.name}: network error from {url} ({exc}); {human(have)} kept in {part}. "
                    "Rerun the same command to resume where it stopped."
                ) from None
            say(f"  {remote.name}: {exc}; retry {attempt}/{retries} from byte {have}")
            time.sleep(backoff_s * attempt)
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        raise DownloadError(
            f"{part}: wrong size, {size} bytes where the published file has {remote.size} "
            f"({remote.source or 'pinned in the task'}). Delete {part} and rerun the command."
        )
    try:
        check_file(remote, part, manifest, say, show_progress, fresh=True)
    except DownloadError as exc:
        manifest.put(remote.name, verified=False)
        raise exc
    os.replace(part, target)
    manifest.put(remote.name, mtime_ns=target.stat().st_mtime_ns, url=url)
    return target


def _request(url: str, start: int, timeout_s: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            return exc  # type: ignore[return-value]  # handled by the caller: range past the end
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise DownloadError(
            f"{url}: HTTP {exc.code} {exc.reason}. Is the URL right? A --mirror must serve every file under its "
            "name (see --dry-run for the names)."
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(str(getattr(exc, "reason", exc))) from None
    return resp


def _content_range_total(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total) from ``bytes 100-199/1000`` (or ``bytes */1000``)."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    first = span.split("-", 1)[0]
    return (int(first) if first.isdigit() else None), (int(total) if total.isdigit() else None)


def _transfer(url: str, part: Path, remote: RemoteFile, say: Say, timeout_s: float, show_progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have > remote.size:
        raise DownloadError(
            f"{part}: wrong size, the partial download has {have} bytes, more than the published {remote.size}. "
            f"Delete {part} and rerun the command."
        )
    if remote.size is not None and have == remote.size:
        return  # complete; the checksum decides
    resp = _request(url, have, timeout_s)
    with resp:
        status = resp.status
        if status == 416:
            first, total = _content_range_total(resp.headers.get("Content-Range"))
            if total is not None and total == have:
                return
            raise DownloadError(
                f"{part}: the server has {total if total is not None else 'fewer'} bytes, the partial file {have}; "
                f"delete {part} and rerun the command."
            )
        length = resp.headers.get("Content-Length")
        if status == 206 and have:
            first, total = _content_range_total(resp.headers.get("Content-Range"))
            if first != have:
                say(f"  {remote.name}: the server resumed at byte {first}, not {have}; starting again from byte 0")
                part.unlink()
                return _transfer(url, part, remote, say, timeout_s, show_progress)
            mode = "ab"
        else:
            if have:
                say(
                    f"  {remote.name}: the server ignored the resume request (no HTTP Range support); "
                    "starting again from byte 0"
                )
            have, mode = 0, "wb"
            total = int(length) if length and length.isdigit() else None
        if total is not None and remote.size is not None and total != remote.size:
            raise DownloadError(
                f"{remote.name}: the server offers {total} bytes but the published file has {remote.size} "
                f"({remote.source or 'pinned in the task'}); {url} serves another file. Check the URL or mirror."
            )
        expected_total = total if total is not None else remote.size
        received = have
        try:
            with (
                part.open(mode) as fh,
                progress_bar(f"download {remote.name}", expected_total, show_progress, unit="bytes") as advance,
            ):
                advance(have)
                while block := resp.read(1 << 20):
                    fh.write(block)
                    received += len(block)
                    advance(len(block))
        except (OSError, http.client.HTTPException) as exc:
            raise _Transient(f"connection lost after {received} bytes ({exc})") from None
        if expected_total is not None and received < expected_total:
            raise _Transient(f"connection closed after {received} of {expected_total} bytes")


def free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free


def still_needed(spec: DownloadSpec, folder: Path, manifest: Manifest) -> int:
    """Bytes left to download (files neither complete here nor already unpacked)."""
    todo = 0
    for f in spec.files:
        if _unpacked(f, spec, manifest) or (folder / f.name).is_file():
            continue
        part = folder / (f.name + ".part")
        todo += max((f.size or 0) - (part.stat().st_size if part.exists() else 0), 0)
    return todo


def _owner(volume: RemoteFile, spec: DownloadSpec) -> RemoteFile | None:
    return next((f for f in spec.files if volume.name in f.volumes), None)


def _unpacked(f: RemoteFile, spec: DownloadSpec, manifest: Manifest) -> bool:
    owner = _owner(f, spec) if f.unpack == "volume" else f
    return bool(owner and manifest.get(owner.name).get("unpacked"))


def download_dataset(
    spec: DownloadSpec,
    root: Path,
    say: Say,
    archives: Path | None = None,
    mirror: str | None = None,
    retries: int = 3,
    keep_archives: bool = True,
    force: bool = False,
    show_progress: bool = True,
    timeout_s: float = 60.0,
    backoff_s: float = 2.0,
) -> None:
    """Fetch, check and unpack every file of ``spec`` under ``root``; then check pinned contents."""
    folder = archives or root / "downloads"
    manifest = Manifest(folder)
    if force:
        for f in spec.files:
            manifest.put(f.name, unpacked=False)
    need = still_needed(spec, folder, manifest)
    free = free_bytes(folder)
    if need > free:
        raise DownloadError(
            f"{folder}: {human(need)} still to download but only {human(free)} free; free some space or "
            "choose another --root / --archives folder."
        )
    by_name = {f.name: f for f in spec.files}
    for f in spec.files:
        if f.unpack == "volume":
            continue  # fetched and unpacked with the .zip that lists it
        if manifest.get(f.name).get("unpacked"):
            say(f"  {f.name}: already unpacked (rerun with --force to unpack again)")
            continue
        volumes = [
            fetch(by_name[v], folder, manifest, say, mirror, retries, timeout_s, show_progress, backoff_s)
            for v in f.volumes
        ]
        path = fetch(f, folder, manifest, say, mirror, retries, timeout_s, show_progress, backoff_s)
        dest = root / f.unpack_to
        try:
            n = unpack(path, f.unpack, dest, strip_top=f.strip_top, volumes=volumes, show_progress=show_progress)
        except UnpackError as exc:
            raise DownloadError(str(exc)) from None
        manifest.put(f.name, unpacked=True, unpacked_to=str(dest), files=n)
        say(f"  {f.name}: {n} file(s) unpacked into {dest}")
        if not keep_archives and f.unpack != "copy":
            for p in (*volumes, path):
                p.unlink(missing_ok=True)
            say(f"  {f.name}: archive deleted (--no-keep-archives)")
    check_contents(spec, root, say)


def check_contents(spec: DownloadSpec, root: Path, say: Say) -> None:
    """Pinned md5s of files inside the unpacked dataset (where the archive has no stable checksum)."""
    for c in spec.contents:
        path = root / c.path
        if not path.is_file():
            raise DownloadError(f"{path}: missing after unpacking; the archive does not have the published layout")
        got = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        if got != c.md5:
            raise DownloadError(
                f"{path}: md5 {got}, but the published dataset's file has {c.md5} ({c.source}); the archive is not "
                "the published dataset (another version or a damaged copy). Delete the archive in the downloads "
                "folder and rerun with --force."
            )
        say(f"  {c.path}: md5 matches the published file ({c.source})")


def plan_lines(spec: DownloadSpec, root: Path, mirror: str | None = None, archives: Path | None = None) -> list[str]:
    """What ``--dry-run`` prints: every URL, size and checksum with its source; touches nothing."""
    if not spec.files:
        return [f"  no public download: {spec.manual}", f"  page: {spec.page}"]
    folder = archives or root / "downloads"
    lines = [f"  page: {spec.page}", f"  archives go to {folder}/ ; contents are unpacked under {root}/"]
    if spec.licence:
        lines.append(f"  licence: {spec.licence}")
    last_source = ""
    for f in spec.files:
        sums = ", ".join(s for s in (f"md5 {f.md5}" if f.md5 else "", f"sha256 {f.sha256}" if f.sha256 else "") if s)
        size = (
            f"{f.size} bytes ({human(f.size)})"
            if f.size is not None
            else "not pinned (the server's Content-Length is checked)"
        )
        lines.append(f"  {f.name}")
        lines.append(f"      url     {file_url(f, mirror)}")
        lines.append(f"      size    {size}")
        lines.append(f"      check   {sums or 'no published checksum: sha256 recorded on first download'}")
        if f.source and f.source != last_source:
            lines.append(f"      source  {f.source}")
        last_source = f.source
        owners = ", ".join(o.name for o in spec.files if f.name in o.volumes)
        into = f"volume of {owners}" if f.unpack == "volume" else f"{f.unpack} into {root / f.unpack_to}"
        lines.append(f"      unpack  {into}")
        if f.note:
            lines.append(f"      note    {f.note}")
    for c in spec.contents:
        lines.append(f"  after unpacking: {c.path} must have md5 {c.md5} ({c.source})")
    known = sum(f.size or 0 for f in spec.files)
    total = spec.total_bytes
    lines.append(
        f"  total: {human(total)}"
        if total is not None
        else f"  total: {'at least ' + human(known) if known else 'unknown'} (some sizes are not pinned)"
    )
    if spec.note:
        lines.append(f"  note: {spec.note}")
    return lines
