"""The raw file store: every file that arrives, as it arrived, named by its sha256.

``$STATIONLAB_HOME/raw/ab/cd/abcd...`` holds the bytes whose sha256 is ``abcd...``. Files are
written once, made read-only (0444), and never removed, renamed or overwritten by stationlab:
storing bytes that are already there leaves the stored file untouched. Folders are never removed.
A new file is written under ``raw/incoming/`` first and hard-linked into place, so a crash never
leaves a half-written file under its content address (``os.link`` refuses to replace a file).
``tests/test_rawstore.py`` checks the package for code that could remove or replace a stored
file.

``STATIONLAB_RAW_STORE`` moves the store: another folder, or an object store ``s3://bucket/prefix``
(:mod:`stationlab.objectstore`) that workers on several machines share. There an object is put
under its content address with a conditional put, so two machines storing the same bytes cannot
replace each other's object. Either way, what was stored is read back and checked against its
sha256 before the arrival is recorded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from stationlab import config, objectstore
from stationlab.errors import StationlabError

logger = logging.getLogger(__name__)

#: Where half-written files live until they are linked into place.
INCOMING = "incoming"
#: The variable that moves the store.
VARIABLE = "STATIONLAB_RAW_STORE"


@dataclass(frozen=True)
class Stored:
    """Bytes in the raw store.

    Parameters
    ----------
    sha256
        The content address. [32 bytes]
    relative_path
        Path below the store's root, ``ab/cd/<hex>``; what the database records.
    new
        Whether this call wrote the file (``False``: the bytes were already stored).
    """

    sha256: bytes
    relative_path: str
    new: bool


def location() -> Path | str:
    """The store: ``$STATIONLAB_RAW_STORE`` (a folder or an ``s3://`` URL), by default the
    folder ``$STATIONLAB_HOME/raw``."""
    return objectstore.location(VARIABLE, config.home() / "raw")


def root() -> Path:
    """The store's folder (not created here).

    Raises
    ------
    StationlabError
        If the store is an object store, which has no folder.
    """
    where = location()
    if objectstore.is_url(where):
        raise StationlabError(f"the raw store is {where} ({VARIABLE}), not a folder")
    return where


def relative_path(digest: bytes) -> str:
    """``ab/cd/abcd...`` for a sha256 digest."""
    hexdigest = digest.hex()
    return f"{hexdigest[:2]}/{hexdigest[2:4]}/{hexdigest}"


def store(data: bytes) -> Stored:
    """Store bytes (a no-op if they are already stored); returns where they are."""
    digest = hashlib.sha256(data).digest()
    relative = relative_path(digest)
    where = location()
    if objectstore.is_url(where):
        new = objectstore.Bucket(where, VARIABLE).put_once(relative, data)
        read(relative, digest=digest)  # the object there, ours or another machine's, is right
        logger.debug("raw store: %s %s", relative, "stored" if new else "already there")
        return Stored(digest, relative, new)
    final = where / relative
    if final.exists():
        read(relative, digest=digest)
        return Stored(digest, relative, False)
    final.parent.mkdir(parents=True, exist_ok=True)
    incoming = root() / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    temporary = incoming / f"{uuid.uuid4().hex}.part"
    with open(temporary, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.chmod(0o444)
    try:
        os.link(temporary, final)  # never replaces an existing file
        new = True
    except FileExistsError:  # another process stored the same bytes first
        new = False
    finally:
        _discard_incoming(temporary)
    read(relative, digest=digest)
    logger.debug("raw store: %s %s", relative, "stored" if new else "already there")
    return Stored(digest, relative, new)


def _discard_incoming(temporary: Path) -> None:
    """Remove a half-written file's temporary name (its bytes stay under their content address).

    The one removal in stationlab; it refuses any path outside ``raw/incoming/``.
    """
    if temporary.parent != root() / INCOMING or not temporary.name.endswith(".part"):
        raise StationlabError(f"refusing to remove {temporary}: not a temporary file of the "
                              "raw store")
    temporary.unlink(missing_ok=True)


def read(relative: str, *, digest: bytes | None = None) -> bytes:
    """The bytes stored under ``relative``; with ``digest``, checked against it.

    Raises
    ------
    StationlabError
        If the file is missing or its bytes do not match their address.
    """
    where = location()
    if objectstore.is_url(where):
        bucket = objectstore.Bucket(where, VARIABLE)
        data, path = bucket.get(relative), bucket.key_url(relative)
    else:
        path = where / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = None
    if data is None:
        raise StationlabError(f"the raw store has no file {relative} (looked in {where}); "
                              f"are STATIONLAB_HOME and {VARIABLE} the ones the file was stored "
                              "under?")
    if digest is not None and hashlib.sha256(data).digest() != digest:
        raise StationlabError(f"the raw store's file {path} does not match its sha256; the disk "
                              "may be damaged: restore it from a backup")
    return data
