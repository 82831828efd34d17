"""Unpack downloaded dataset archives: zip, split zip (``.z01`` … ``.zip``), tar(.gz), 7z.

Every member path is checked before anything is written: absolute paths and ``..`` are
refused (an archive must not write outside its folder). Files are written to a temporary
name and renamed, so an interrupted unpack leaves whole files or none; the next run simply
unpacks again. Split zips (FSD50K ships its audio as ``zip -s 3g`` volumes) are read in
place through the central directory, with no merged copy on disk: Python's ``zipfile``
refuses multi-disk archives, and ``zip -s 0`` would need another 24 GB.
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import os
import shutil
import struct
import tarfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from bench.progress import progress_bar
from bench.remote import UnpackKind


class UnpackError(RuntimeError):
    """An archive that cannot be unpacked (message names the archive, the member and the fix)."""


# Errors that mean "the archive's bytes are bad"; other OSErrors (disk full, permissions) pass
# through unchanged so that they are not blamed on the download.
_DAMAGED = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile, lzma.LZMAError)


def unpack(
    archive: Path,
    kind: UnpackKind,
    dest: Path,
    strip_top: str = "",
    volumes: Sequence[Path] = (),
    show_progress: bool = True,
) -> int:
    """Unpack ``archive`` into ``dest``; returns the number of files written."""
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "copy":
        _write(dest / archive.name, lambda out: _copy(archive, out))
        return 1
    if kind == "zip" and volumes:
        return _unpack_split_zip([*volumes, archive], dest, strip_top, show_progress)
    if kind == "zip":
        return _unpack_zip(archive, dest, strip_top, show_progress)
    if kind == "tar":
        return _unpack_tar(archive, dest, strip_top, show_progress)
    if kind == "7z":
        return _unpack_7z(archive, dest, strip_top)
    raise UnpackError(f"{archive.name}: unknown unpack kind {kind!r}")


def member_target(dest: Path, name: str, strip: str, archive: str) -> Path | None:
    """Where member ``name`` goes under ``dest`` (None for the stripped top folder itself)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and (parts[0].endswith(":") or ".." in parts)):
        raise UnpackError(
            f"{archive}: member {name!r} would be written outside {dest}; refusing to unpack this archive "
            "(it is not the published file: delete it and download again)"
        )
    if strip and parts and parts[0] == strip:
        parts = parts[1:]
    return dest.joinpath(*parts) if parts else None


def common_top(names: Sequence[str], wanted: str) -> str:
    """``wanted`` if every member sits inside that top folder, else ``""`` (nothing to strip)."""
    if not wanted or not names:
        return ""
    return wanted if all(n.replace("\\", "/").split("/", 1)[0] == wanted for n in names) else ""


def _write(target: Path, fill: Callable[[BinaryIO], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with tmp.open("wb") as out:
            fill(out)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy(src: Path, out: BinaryIO) -> None:
    with src.open("rb") as fh:
        shutil.copyfileobj(fh, out, 1 << 20)


def _unpack_zip(path: Path, dest: Path, strip_top: str, show_progress: bool) -> int:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnpackError(f"{path}: not a readable zip archive ({exc}); delete it and download again") from None
    with zf:
        infos = zf.infolist()
        strip = common_top([i.filename for i in infos], strip_top)
        targets = [(i, member_target(dest, i.filename, strip, path.name)) for i in infos]
        count = 0
        with progress_bar(
            f"unpack {path.name}", sum(i.file_size for i in infos), show_progress, unit="bytes"
        ) as advance:
            for info, target in targets:
                if target is None:
                    continue
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                try:
                    with zf.open(info) as src:
                        _write(target, lambda out, src=src: shutil.copyfileobj(src, out, 1 << 20))  # type: ignore[misc]
                except _DAMAGED as exc:
                    raise UnpackError(
                        f"{path}: member {info.filename!r} is damaged ({exc}); delete {path.name} and download again"
                    ) from None
                count += 1
                advance(info.file_size)
    return count


def _unpack_tar(path: Path, dest: Path, strip_top: str, show_progress: bool) -> int:
    count = 0
    try:
        with tarfile.open(path, "r:*") as tf, progress_bar(f"unpack {path.name}", None, show_progress) as advance:
            members = tf.getmembers()
            strip = common_top([m.name for m in members], strip_top)
            for member in members:
                target = member_target(dest, member.name, strip, path.name)
                if target is None:
                    continue
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    src = tf.extractfile(member)
                    if src is None:
                        continue
                    with src:
                        _write(target, lambda out, src=src: shutil.copyfileobj(src, out, 1 << 20))  # type: ignore[misc]
                    count += 1
                    advance(1)
                # links, devices and fifos are skipped: a dataset needs none, and links could point outside
    except _DAMAGED as exc:
        raise UnpackError(
            f"{path}: the archive is damaged or truncated ({exc}); delete it and download again"
        ) from None
    return count


def _unpack_7z(path: Path, dest: Path, strip_top: str) -> int:
    try:
        import py7zr
    except ImportError:
        raise UnpackError(
            f"{path}: unpacking .7z needs the py7zr package (`pip install py7zr`), or unpack it yourself "
            f"with `7z x {path.name}` into {dest}"
        ) from None
    try:
        with py7zr.SevenZipFile(path, mode="r") as z:
            names = z.getnames()
            strip = common_top(names, strip_top)
            for name in names:
                member_target(dest, name, strip, path.name)
            staging = dest / f".unpack-{uuid.uuid4().hex[:8]}"
            z.extractall(path=staging)
    except py7zr.exceptions.ArchiveError as exc:
        raise UnpackError(f"{path}: not a readable 7z archive ({exc}); delete it and download again") from None
    try:
        top = staging / strip if strip else staging
        count = 0
        for item in sorted(top.rglob("*")):
            if item.is_file():
                target = dest / item.relative_to(top)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(item, target)
                count += 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


# --- split zip archives -------------------------------------------------------------------

_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"


@dataclass(frozen=True)
class _Entry:
    name: str
    method: int
    flags: int
    crc: int
    compressed: int
    size: int
    disk: int
    offset: int


class _Volumes:
    """The volumes of a split zip read as one stream: (disk, offset) → absolute position."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.sizes = [p.stat().st_size for p in self.paths]
        self.starts = [sum(self.sizes[:i]) for i in range(len(self.paths))]
        self.total = sum(self.sizes)

    def absolute(self, disk: int, offset: int) -> int:
        if not 0 <= disk < len(self.paths):
            raise UnpackError(
                f"{self.paths[-1].name}: the archive refers to volume {disk + 1} but {len(self.paths)} volumes are "
                "here; download every .z?? part"
            )
        return self.starts[disk] + offset

    def read(self, pos: int, n: int) -> bytes:
        return b"".join(self.iter_range(pos, n))

    def iter_range(self, pos: int, n: int, block: int = 1 << 20) -> Iterator[bytes]:
        while n > 0:
            i = max(k for k, s in enumerate(self.starts) if s <= pos)
            with self.paths[i].open("rb") as fh:
                fh.seek(pos - self.starts[i])
                while n > 0:
                    chunk = fh.read(min(block, n))
                    if not chunk:
                        break
                    pos += len(chunk)
                    n -= len(chunk)
                    yield chunk
            if n > 0 and i == len(self.paths) - 1:
                raise UnpackError(f"{self.paths[-1].name}: the split archive ends early; a volume is truncated")


def _central_directory(vol: _Volumes, last: Path) -> tuple[int, int, int]:
    """(absolute start, size, entry count) of the central directory, from the last volume's tail."""
    tail_len = min(vol.sizes[-1], 65536 + 22)
    tail = vol.read(vol.total - tail_len, tail_len)
    at = tail.rfind(_EOCD)
    if at < 0:
        raise UnpackError(
            f"{last}: no end-of-archive record; is this the last part (.zip) of a split archive, downloaded whole?"
        )
    _, _disk, cd_disk, _n_disk, n_total, cd_size, cd_offset, _clen = struct.unpack("<4sHHHHIIH", tail[at : at + 22])
    if 0xFFFF in (cd_disk, n_total) or 0xFFFFFFFF in (cd_size, cd_offset):
        loc = tail.rfind(_EOCD64_LOCATOR, 0, at)
        if loc < 0:
            raise UnpackError(f"{last}: zip64 archive without its zip64 locator; the file is damaged")
        _, eocd64_disk, eocd64_offset, _disks = struct.unpack("<4sIQI", tail[loc : loc + 20])
        rec = vol.read(vol.absolute(eocd64_disk, eocd64_offset), 56)
        if rec[:4] != _EOCD64:
            raise UnpackError(f"{last}: zip64 end record not where the locator points; the file is damaged")
        _, _rsize, _made, _need, _disk64, cd_disk, _n_disk64, n_total, cd_size, cd_offset = struct.unpack(
            "<4sQHHIIQQQQ", rec
        )
    return vol.absolute(cd_disk, cd_offset), cd_size, n_total


def _entries(vol: _Volumes, last: Path) -> list[_Entry]:
    start, size, count = _central_directory(vol, last)
    data = vol.read(start, size)
    out: list[_Entry] = []
    pos = 0
    for _ in range(count):
        if data[pos : pos + 4] != _CENTRAL:
            raise UnpackError(f"{last}: central directory entry {len(out) + 1} is damaged")
        (_, _made, _need, flags, method, _t, _d, crc, csize, usize, nlen, xlen, clen, disk, _ia, _ea, offset) = (
            struct.unpack("<4sHHHHHHIIIHHHHHII", data[pos : pos + 46])
        )
        name = data[pos + 46 : pos + 46 + nlen].decode("utf-8" if flags & 0x800 else "cp437")
        extra = data[pos + 46 + nlen : pos + 46 + nlen + xlen]
        usize, csize, offset, disk = _zip64_fields(extra, usize, csize, offset, disk)
        out.append(_Entry(name, method, flags, crc, csize, usize, disk, offset))
        pos += 46 + nlen + xlen + clen
    return out


def _zip64_fields(extra: bytes, usize: int, csize: int, offset: int, disk: int) -> tuple[int, int, int, int]:
    """Replace the 0xFFFFFFFF placeholders by the zip64 extra field's values (spec order)."""
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[i : i + 4])
        if tag == 0x0001:
            body, j = extra[i + 4 : i + 4 + length], 0
            if usize == 0xFFFFFFFF:
                (usize,), j = struct.unpack("<Q", body[j : j + 8]), j + 8
            if csize == 0xFFFFFFFF:
                (csize,), j = struct.unpack("<Q", body[j : j + 8]), j + 8
            if offset == 0xFFFFFFFF:
                (offset,), j = struct.unpack("<Q", body[j : j + 8]), j + 8
            if disk == 0xFFFF:
                (disk,) = struct.unpack("<I", body[j : j + 4])
        i += 4 + length
    return usize, csize, offset, disk


def _unpack_split_zip(paths: Sequence[Path], dest: Path, strip_top: str, show_progress: bool) -> int:
    last = paths[-1]
    vol = _Volumes(paths)
    entries = _entries(vol, last)
    strip = common_top([e.name for e in entries], strip_top)
    count = 0
    with progress_bar(
        f"unpack {last.name} (+{len(paths) - 1} volumes)", sum(e.size for e in entries), show_progress, unit="bytes"
    ) as advance:
        for entry in entries:
            target = member_target(dest, entry.name, strip, last.name)
            if target is None:
                continue
            if entry.name.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                continue
            _write(target, lambda out, e=entry: _extract_entry(vol, e, out, last))  # type: ignore[misc]
            count += 1
            advance(entry.size)
    return count


def _extract_entry(vol: _Volumes, entry: _Entry, out: BinaryIO, last: Path) -> None:
    where = f"{last.name}: member {entry.name!r}"
    if entry.flags & 0x1:
        raise UnpackError(f"{where} is encrypted; bench cannot unpack it")
    local = vol.absolute(entry.disk, entry.offset)
    header = vol.read(local, 30)
    if header[:4] != _LOCAL:
        raise UnpackError(f"{where}: no local header where the directory points; a volume is damaged or out of order")
    nlen, xlen = struct.unpack("<HH", header[26:30])
    decoder = _decoder(entry.method)
    if decoder is None:
        raise UnpackError(f"{where} uses compression method {entry.method}, which bench does not read; unpack with 7z")
    crc, size = 0, 0
    try:
        for chunk in itertools.chain(vol.iter_range(local + 30 + nlen + xlen, entry.compressed), [None]):
            data = decoder.decompress(chunk) if chunk is not None else decoder.flush()
            crc = zlib.crc32(data, crc)
            size += len(data)
            out.write(data)
    except _DAMAGED as exc:
        raise UnpackError(f"{where} is damaged ({exc}); check the volumes' checksums and download again") from None
    if crc != entry.crc or size != entry.size:
        raise UnpackError(
            f"{where} fails its CRC/size check; a volume is damaged: delete the volumes and download again"
        )


class _Stored:
    def decompress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Bzip2:
    def __init__(self) -> None:
        self._d = bz2.BZ2Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self._d.decompress(data)

    def flush(self) -> bytes:
        return b""


def _decoder(method: int) -> _Stored | _Bzip2 | zlib._Decompress | None:
    """The decompressor for a zip compression method: 0 stored, 8 deflate, 12 bzip2."""
    if method == 0:
        return _Stored()
    if method == 8:
        return zlib.decompressobj(-15)
    if method == 12:
        return _Bzip2()
    return None
