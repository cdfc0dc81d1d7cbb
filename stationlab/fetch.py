"""Files arrive: fetched from configured sources, or uploaded by hand; stored and queued.

Every path ends in :func:`receive`: the bytes go into the raw store as they arrived
(:mod:`stationlab.rawstore`), the arrival is recorded, archives are opened
(:mod:`stationlab.archives`) and each file is queued in ``files`` for ``stationlab worker``.

- :func:`fetch_sources` copies what is new on each source (``stationlab fetch``). A remote file
  is fetched again only when its size, modification time or ETag changed, so running it again,
  at any time and after any outage, fetches exactly what was not fetched yet.
- :func:`upload_bytes` is what the upload widget calls (``stationlab upload`` calls
  :func:`upload_paths`): a person can add files, never remove one.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from stationlab import archives, rawstore, storage
from stationlab.errors import ArchiveError, FetchError, StationlabError
from stationlab.sources import Source
from stationlab.storage import health as health_records
from stationlab.storage import queue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One file that arrived (a plain file, or one member of an archive)."""

    name: str
    status: str  # "queued", "already received", "failed"
    file_id: int | None = None
    file_status: str | None = None
    error: str | None = None
    source: str | None = None
    arrival_id: int | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def describe(self) -> str:
        """The line ``stationlab fetch`` and ``stationlab upload`` print for it."""
        prefix = f"{self.source}: " if self.source else ""
        if self.status == "failed":
            return f"{prefix}{self.name}: failed: {self.error}"
        if self.status == "already received":
            return f"{prefix}{self.name}: already received (file {self.file_id}, " \
                   f"{self.file_status})"
        return f"{prefix}{self.name}: stored and queued for import (file {self.file_id})"


def receive(conn, data: bytes, *, name: str, source: str, station: str | None = None,
            author: str | None = None, imported: bytes | None = None) -> list[Received]:
    """Store arrived bytes, record the arrival and queue each file in them, in one transaction.

    Parameters
    ----------
    data
        The bytes as they arrived (kept in the raw store whatever happens next).
    imported
        The bytes to import when they differ from ``data`` (after a decrypt command).
    """
    stored = rawstore.store(data)
    content = data if imported is None else imported
    try:
        members = archives.expand(name, content)
        error = None
    except ArchiveError as exc:
        members, error = [archives.Member(name, content)], archives.failure(exc, name)
    results = []
    with storage.transaction(conn):
        arrival_id = queue.record_arrival(
            conn, source=source, original_name=name, digest=stored.sha256, size=len(data),
            stored_path=stored.relative_path, station_name=station, author=author)
        for member in members:
            kept = stored if member.data is data else rawstore.store(member.data)
            row = queue.enqueue(conn, digest=kept.sha256, name=member.name, source=source,
                                size=len(member.data), arrival_id=arrival_id,
                                stored_path=kept.relative_path, station_name=station,
                                error=error)
            if not row["created"]:
                item = Received(member.name, "already received", row["file_id"], row["status"])
            elif row["status"] == "failed":
                item = Received(member.name, "failed", row["file_id"], "failed", error=error)
            else:
                item = Received(member.name, "queued", row["file_id"], "pending")
            results.append(replace(item, arrival_id=arrival_id))
    return results


def upload_bytes(name: str, data: bytes, *, station: str | None = None,
                 author: str | None = None, dsn: str | None = None) -> list[Received]:
    """Add a file by hand: store it, record who brought it, queue it (what the upload widget
    calls). An archive queues each file inside it.

    Parameters
    ----------
    name
        The file's original name.
    station
        The station its data belongs to (default: from the file's header).
    author
        Who uploaded it (default: the system user).
    """
    author = author or getpass.getuser()
    with storage.connect(dsn, autocommit=True) as conn:
        return receive(conn, data, name=name, source="upload", station=station, author=author)


def upload_paths(paths: Iterable[str | os.PathLike], *, station: str | None = None,
                 author: str | None = None, dsn: str | None = None, source: str = "upload",
                 on_received: Callable[[Received], None] | None = None) -> list[Received]:
    """Upload files and folders (recursively), as :func:`upload_bytes` does for one."""
    from stationlab.ingest import expand_paths

    author = author or getpass.getuser()
    results = []
    with storage.connect(dsn, autocommit=True) as conn:
        for path in expand_paths(paths):
            for item in receive(conn, path.read_bytes(), name=path.name, source=source,
                                station=station, author=author):
                results.append(item)
                if on_received:
                    on_received(item)
    return results


def fetch_sources(sources: list[Source], *, dsn: str | None = None,
                  on_received: Callable[[Received], None] | None = None) -> list[Received]:
    """Copy every file not fetched yet from each source into the raw store and queue it.

    A source that cannot be reached, or a file whose decrypt command fails, is reported as a
    failed item and fetched again next time; the other sources and files still arrive.
    """
    results = []
    with storage.connect(dsn, autocommit=True) as conn:
        for source in sources:
            for item in _fetch_source(conn, source):
                item = replace(item, source=source.name)
                results.append(item)
                if on_received:
                    on_received(item)
    return results


def _fetch_source(conn, source: Source) -> list[Received]:
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(source.url, skip_instance_cache=True, **source.options)
        pattern = f"{root.rstrip('/')}/{source.pattern}" if root else source.pattern
        listing = fs.glob(pattern, detail=True)
    except Exception as exc:  # network, authentication, missing folder: report, do not stop
        logger.warning("source %s: cannot list %s: %s", source.name, source.url, exc)
        health_records.record_fetch_attempt(conn, source.name, False,
                                            f"{type(exc).__name__}: {exc}", source.station)
        return [Received(source.url, "failed", error=f"cannot list {source.url} "
                         f"({type(exc).__name__}: {exc}); check the url, the server and the "
                         "credentials, then fetch again")]
    health_records.record_fetch_attempt(conn, source.name, True, station=source.station)
    known = queue.fetched_keys(conn, source.name)
    results = []
    for path, info in sorted(listing.items()):
        if info.get("type") == "directory":
            continue
        key = remote_key(info)
        if key and (path, key) in known:
            continue
        try:
            data = fs.cat_file(path)
        except Exception as exc:
            results.append(Received(path, "failed", error=f"cannot read {path} "
                                    f"({type(exc).__name__}: {exc}); fetch again later"))
            continue
        key = key or "sha256:" + hashlib.sha256(data).hexdigest()
        if (path, key) in known:
            continue
        results.extend(_arrive(conn, source, path, key, data))
    return results


def _arrive(conn, source: Source, path: str, key: str, data: bytes) -> list[Received]:
    name = path.rsplit("/", 1)[-1]
    imported = None
    if source.decrypt:
        try:
            imported = decrypt(source, name, data)
        except FetchError as exc:
            rawstore.store(data)  # what arrived is kept; the file is fetched again next time
            return [Received(name, "failed", error=str(exc))]
    with storage.transaction(conn):
        items = receive(conn, data, name=name, source=source.name, station=source.station,
                        author=f"fetch:{source.name}", imported=imported)
        queue.record_fetched(conn, source=source.name, remote_path=path, remote_key=key,
                             arrival_id=items[0].arrival_id)
    return items


def remote_key(info: dict) -> str | None:
    """What identifies one version of a remote file: ETag, or size and modification time;
    ``None`` if the server says neither (the content's hash is used then)."""
    etag = info.get("ETag") or info.get("etag")
    if etag:
        return f"etag:{etag}"
    modified = next((info[k] for k in ("mtime", "modify", "LastModified", "last_modified",
                                       "modified", "created") if info.get(k)), None)
    if modified is None:
        return None
    if isinstance(modified, datetime):
        modified = modified.astimezone(UTC).isoformat()
    return f"size:{info.get('size')};modified:{modified}"


def decrypt(source: Source, name: str, data: bytes) -> bytes:
    """Run the source's decrypt command on a file's bytes, with its timeout.

    ``{input}`` and ``{output}`` in the command are replaced by file paths; without them the
    bytes go to the command's standard input and the result is read from its standard output.

    Raises
    ------
    FetchError
        If the command cannot start, fails, or runs longer than its timeout.
    """
    command = list(source.decrypt)
    seconds = source.decrypt_timeout.total_seconds()
    with tempfile.TemporaryDirectory(prefix="stationlab-decrypt-") as folder:
        inp, out = Path(folder) / name, Path(folder) / f"{name}.out"
        inp.write_bytes(data)
        files = any("{input}" in a or "{output}" in a for a in command)
        argv = [a.replace("{input}", str(inp)).replace("{output}", str(out)) for a in command]
        try:
            run = subprocess.run(argv, input=None if files else data, capture_output=True,
                                 timeout=seconds, check=False)
        except subprocess.TimeoutExpired:
            raise FetchError(f"{name}: decrypt command {command[0]!r} of source "
                             f"{source.name!r} ran longer than {seconds:g} s and was stopped; "
                             "raise decrypt_timeout or fix the command") from None
        except OSError as exc:
            raise FetchError(f"{name}: decrypt command {command[0]!r} of source "
                             f"{source.name!r} cannot run: {exc}") from exc
        if run.returncode != 0:
            tail = run.stderr.decode(errors="replace").strip()[-300:]
            raise FetchError(f"{name}: decrypt command {command[0]!r} of source "
                             f"{source.name!r} failed (exit {run.returncode}): {tail}")
        result = out.read_bytes() if files and out.exists() else run.stdout
    if not result:
        raise FetchError(f"{name}: decrypt command {command[0]!r} of source {source.name!r} "
                         "produced nothing")
    return result


def due(sources: list[Source], last_run: dict[str, datetime], now: datetime) -> list[Source]:
    """The sources whose ``every`` has passed since their last fetch (all on a first run)."""
    return [s for s in sources
            if s.name not in last_run or now - last_run[s.name] >= s.every]


def select(sources: list[Source], name: str | None) -> list[Source]:
    """All sources, or the one called ``name``.

    Raises
    ------
    StationlabError
        If no source has that name.
    """
    if name is None:
        return sources
    chosen = [s for s in sources if s.name == name]
    if not chosen:
        raise StationlabError(f"no source called {name!r}; configured: "
                              f"{', '.join(s.name for s in sources) or 'none'}")
    return chosen
