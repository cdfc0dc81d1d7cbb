"""Compressed files: zip, gzip, 7z and tar, opened recursively into the files they hold.

Used by ``stationlab import`` and by the fetcher alike, so a file arrives the same way whichever
path it takes. A member is named after its archive: ``day.zip!mast/20160109.dat``; an archive
inside an archive adds another ``!``: ``month.7z!day.zip!20160109.dat``. The kind of archive is
told from its first bytes, not from its name.
"""

from __future__ import annotations

import gzip
import io
import logging
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from stationlab.errors import ArchiveError

logger = logging.getLogger(__name__)

#: Separator between an archive's name and the name of a file inside it.
MEMBER_SEPARATOR = "!"
#: Archives inside archives are opened this deep, no deeper.
MAX_DEPTH = 4
#: The most bytes one archive may expand to (a guard against decompression bombs). [byte]
MAX_EXPANDED_BYTES = 8 * 1024**3

#: Leading bytes of each archive kind.
MAGIC = {
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "gz": (b"\x1f\x8b",),
    "7z": (b"7z\xbc\xaf\x27\x1c",),
}


@dataclass(frozen=True)
class Member:
    """One file to import: a plain file, or a file found inside (nested) archives.

    Parameters
    ----------
    name
        ``"x.dat"`` for a plain file, ``"x.zip!dir/y.dat"`` for a member.
    data
        The file's bytes.
    """

    name: str
    data: bytes


def kind(data: bytes) -> str | None:
    """``"zip"``, ``"gz"``, ``"7z"``, ``"tar"`` or ``None`` for a file that is no archive."""
    for name, prefixes in MAGIC.items():
        if data.startswith(prefixes):
            return name
    if len(data) > 262 and data[257:262] == b"ustar":
        return "tar"
    return None


def failure(exc: ArchiveError, name: str) -> str:
    """Why archive ``name`` cannot be opened, without its name where the message starts with it
    (the lines that show the reason name the file already); a nested member's name is kept."""
    return str(exc).removeprefix(f"{name}: ")


def expand(name: str, data: bytes, *, max_depth: int = MAX_DEPTH) -> list[Member]:
    """The files in ``data``: itself if it is no archive, else every member, recursively.

    Raises
    ------
    ArchiveError
        If an archive is corrupt, encrypted, nested too deep or expands to too much.
    """
    members = list(_expand(name, data, max_depth, [0]))
    if not members:
        raise ArchiveError(f"{name}: the archive holds no files")
    return members


def _expand(name: str, data: bytes, depth: int, total: list[int]) -> Iterator[Member]:
    found = kind(data)
    if found is None:
        yield Member(name, data)
        return
    if depth == 0:
        raise ArchiveError(f"{name}: archives nested more than {MAX_DEPTH} deep; unpack it by "
                           "hand and import the files")
    try:
        inner = list(_OPENERS[found](name, data))
    except ArchiveError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error,
            ValueError, KeyError) as exc:
        raise ArchiveError(f"{name}: not a readable {found} archive ({exc})") from exc
    except Exception as exc:  # py7zr raises its own classes for corrupt archives
        if type(exc).__module__.startswith("py7zr"):
            raise ArchiveError(f"{name}: not a readable 7z archive ({exc})") from exc
        raise
    for member_name, member_data in inner:
        total[0] += len(member_data)
        if total[0] > MAX_EXPANDED_BYTES:
            raise ArchiveError(f"{name}: expands to more than {MAX_EXPANDED_BYTES:,} bytes; "
                               "unpack it by hand and import the files")
        yield from _expand(f"{name}{MEMBER_SEPARATOR}{member_name}", member_data, depth - 1,
                           total)


def _zip(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise ArchiveError(f"{name}: {info.filename} is encrypted; configure a decrypt "
                                   "command for this source, or unpack it by hand")
            yield info.filename, archive.read(info)


def _gz(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    inner = PurePosixPath(name.rsplit(MEMBER_SEPARATOR, 1)[-1])
    member = inner.stem if inner.suffix.lower() in (".gz", ".gzip") else inner.name
    if inner.suffix.lower() == ".tgz":
        member = inner.stem + ".tar"
    yield member, gzip.decompress(data)


def _7z(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    import py7zr

    with py7zr.SevenZipFile(io.BytesIO(data)) as archive:
        if archive.needs_password():
            raise ArchiveError(f"{name}: the 7z archive is encrypted; configure a decrypt "
                               "command for this source, or unpack it by hand")
        infos = sorted((i for i in archive.list() if not i.is_directory),
                       key=lambda i: i.filename)
        sink = _Sink(name)
        archive.extractall(factory=sink)
        for info in infos:
            yield info.filename, sink.buffers[info.filename].getvalue()


class _Sink:
    """Collects what py7zr extracts, in memory, refusing to grow past the bound."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.buffers: dict[str, io.BytesIO] = {}
        self.size = 0

    def create(self, filename: str):
        import py7zr.io

        sink = self

        class Buffer(py7zr.io.Py7zIO):
            def __init__(self) -> None:
                self.buffer = sink.buffers[filename] = io.BytesIO()

            def write(self, s: bytes) -> int:
                sink.size += len(s)
                if sink.size > MAX_EXPANDED_BYTES:
                    raise ArchiveError(f"{sink.name}: expands to more than "
                                       f"{MAX_EXPANDED_BYTES:,} bytes; unpack it by hand")
                return self.buffer.write(s)

            def read(self, size: int | None = None) -> bytes:
                return self.buffer.read(size)

            def seek(self, offset: int, whence: int = 0) -> int:
                return self.buffer.seek(offset, whence)

            def flush(self) -> None:
                self.buffer.flush()

            def size(self) -> int:
                return len(self.buffer.getbuffer())

        return Buffer()


def _tar(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for info in sorted(archive.getmembers(), key=lambda i: i.name):
            if info.isfile():
                yield info.name, archive.extractfile(info).read()


_OPENERS = {"zip": _zip, "gz": _gz, "7z": _7z, "tar": _tar}
