"""What a task declares about the public files of its real dataset: ``TaskSpec.downloads``.

Plain frozen records, no logic and no I/O, so that a task file can pin its dataset's URLs,
sizes and checksums next to the loader that reads the unpacked layout. The engine that
fetches, checks and unpacks them is :mod:`bench.download`; ``bench data download TASK``
drives it. Every pinned value carries its ``source`` (where it was read), because a
checksum whose origin nobody can retrace is worth little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

UnpackKind = Literal["zip", "tar", "7z", "copy", "volume"]


@dataclass(frozen=True)
class RemoteFile:
    """One file on a server, and where it goes once checked.

    ``name``: the file's name in the downloads folder (and on a ``--mirror``).
    ``size``: bytes; ``None`` when no published record gives it (then the server's
    Content-Length is checked and the size recorded). ``md5`` / ``sha256``: pinned digests,
    either may be ``None``; with neither, the sha256 is computed on first download and
    recorded (trust on first use), and the command says so.
    ``unpack``: ``zip`` / ``tar`` (any compression tarfile reads) / ``7z``; ``copy`` places the
    file as it is; ``volume`` marks a split-zip volume (``.z01`` …) that is unpacked together
    with the ``zip`` entry that names it in ``volumes``.
    ``unpack_to``: folder under the download root that receives the content.
    ``strip_top``: a top folder removed from every member path when all members sit in it
    (archives that may or may not carry one).
    """

    name: str
    url: str
    size: int | None
    md5: str | None = None
    sha256: str | None = None
    source: str = ""
    unpack: UnpackKind = "zip"
    unpack_to: str = ""
    strip_top: str = ""
    volumes: tuple[str, ...] = ()
    note: str = ""

    @property
    def pinned(self) -> bool:
        return bool(self.md5 or self.sha256)


@dataclass(frozen=True)
class ContentFile:
    """A file inside the unpacked dataset whose md5 is pinned (checked after unpacking).

    Used where the archive itself has no stable checksum (a GitHub archive is generated on
    request) but the files in it do. ``path`` is relative to the download root.
    """

    path: str
    md5: str
    source: str


@dataclass(frozen=True)
class DownloadSpec:
    """How a dataset is obtained.

    ``files`` empty and ``manual`` set: the data cannot be downloaded by bench (YouTube-based
    sets) and ``manual`` says how users obtain it.
    """

    page: str
    files: tuple[RemoteFile, ...] = ()
    contents: tuple[ContentFile, ...] = ()
    licence: str = ""
    note: str = ""
    manual: str = ""

    @property
    def total_bytes(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def zenodo(record: int, name: str) -> str:
    """The download URL of file ``name`` in Zenodo record ``record`` (its files API; serves HTTP Range)."""
    return f"https://zenodo.org/api/records/{record}/files/{name}/content"
