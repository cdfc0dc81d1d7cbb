"""Exports made in advance: every station's files in the exports store, with a manifest.

The export job (:func:`build_exports`) writes each station's file per format into
``$STATIONLAB_HOME/exports/<station>/`` and records it in the ``exports`` table (format, options,
period, rows, sha256, creation time, and the station's data version it was made from). It makes a
file again only when the station's data changed since: every import that stores readings bumps
the station's data version in its own transaction. A user asking for a file gets the ready one
(:func:`ready_export`); a big re-export is this job, never a request that makes someone wait.

Files are raw, or clean (calibrated, readings under an excluding flag blank; ``source="clean"``).
A clean file also depends on the station's calibrations and flags: it records their digest
(``clean_inputs_digest`` in schema.sql) and is made again when a calibration or flag changed.

``STATIONLAB_EXPORTS_STORE`` moves the store: another folder, or an object store
``s3://bucket/prefix`` (:mod:`stationlab.objectstore`). There each file is made in a temporary
folder and put once under ``<station>/<sha256>/<file name>`` with a conditional put (never over
another object), read back and checked against its sha256; the manifest records its URL.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stationlab import __version__, config, objectstore, storage
from stationlab.errors import StationlabError
from stationlab.export import FORMATS, TEXT_FORMATS, WRITERS, ExportResult, export_station
from stationlab.export.windographer import WindographerOptions

logger = logging.getLogger(__name__)

#: The store's folder under ``$STATIONLAB_HOME``.
FOLDER = "exports"
#: The variable that moves the store.
VARIABLE = "STATIONLAB_EXPORTS_STORE"
#: What a stored file holds: raw readings, or clean values.
SOURCES = ("raw", "clean")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExportNotReady(StationlabError):
    """No ready file of that station and format is in the exports store."""


@dataclass(frozen=True)
class BuildOutcome:
    """What the export job did for one station and format."""

    station: str
    format: str
    status: str  # "built" or "up to date"
    path: Path | str  # a file, or an object's s3:// URL
    rows: int | None = None
    data_version: int | None = None
    source: str = "raw"
    notes: tuple[str, ...] = ()  # ExportResult.notes of a file built

    def describe(self) -> str:
        """The line ``stationlab exports build`` prints (and a line a note of the file built)."""
        what = f"{self.station} {self.format}" + (" clean" if self.source == "clean" else "")
        if self.status == "built":
            return (f"{what}: built {self.rows:,} rows (data version {self.data_version}) -> "
                    f"{self.path}" + "".join(f"\n  note: {note}" for note in self.notes))
        return f"{what}: up to date ({self.path})"


def store_dir() -> Path | str:
    """The exports store: ``$STATIONLAB_EXPORTS_STORE`` (a folder or an ``s3://`` URL), by
    default the folder ``$STATIONLAB_HOME/exports``."""
    return objectstore.location(VARIABLE, config.home() / FOLDER)


def _names(station: str, station_id: int, format: str, source: str) -> tuple[str, str]:
    """The station's folder and the file's name (clean files: ``<name>.clean.<...>``).

    The folder is the station's name made safe for any file system; the station id is added when
    that changed the name, so two stations never share a folder.
    """
    safe = _UNSAFE.sub("_", station).strip("._") or "station"
    folder = safe if safe == station else f"{safe}-{station_id}"
    kind = ".clean" if source == "clean" else ""
    return folder, f"{safe}{kind}{WRITERS[format].SUFFIX}"


def store_path(station: str, station_id: int, format: str, source: str = "raw") -> Path:
    """Where a folder store keeps a station's file in a format (an object store adds the
    file's sha256: see :func:`_publish`)."""
    where = store_dir()
    if objectstore.is_url(where):
        raise StationlabError(f"the exports store is {where} ({VARIABLE}), not a folder")
    folder, name = _names(station, station_id, format, source)
    return where / folder / name


def _present(path: str) -> bool:
    """Whether a manifest's file (a path or an ``s3://`` URL) is in the store."""
    if "://" in path:
        return objectstore.object_exists(path, VARIABLE)
    return Path(path).is_file()


def _publish(where: str, folder: str, name: str, local: Path, digest: bytes) -> str:
    """Put a made file into an object store once, under its sha256; check what is there."""
    bucket = objectstore.Bucket(where, VARIABLE)
    key = f"{folder}/{digest.hex()}/{name}"
    bucket.put_once(key, local.read_bytes())
    stored = bucket.get(key)
    if stored is None or hashlib.sha256(stored).digest() != digest:
        raise StationlabError(f"the exports store's object {bucket.key_url(key)} does not match "
                              "its sha256 after writing it; check the object store")
    return bucket.key_url(key)


def _sha256(path: Path) -> tuple[bytes, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.digest(), size


def _check_formats(formats: Iterable[str]) -> list[str]:
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise StationlabError(f"unknown export format {unknown[0]!r}; known: {', '.join(FORMATS)}")
    return formats


def _check_sources(sources: Iterable[str]) -> list[str]:
    sources = list(dict.fromkeys(sources))
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise StationlabError(f"unknown export source {unknown[0]!r}; known: "
                              f"{', '.join(SOURCES)}")
    return sources


def _made_from(row: dict, data_version: int, digest: str | None) -> bool:
    """Whether a manifest row was made from this data version (and, for a clean file, from the
    calibrations and flags of this digest)."""
    return row["data_version"] == data_version and (
        row["source"] != "clean" or row["inputs_digest"] == digest)


def build_exports(stations: Iterable[str] | None = None, formats: Iterable[str] = FORMATS, *,
                  sources: Iterable[str] = ("raw",), dsn: str | None = None, workers: int = 1,
                  clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                  progress: bool | None = False) -> list[BuildOutcome]:
    """Make each station's files (all stations, or those named) whose data changed since their
    last export, or that were never made; leave the others.

    Parameters
    ----------
    sources
        ``"raw"`` and/or ``"clean"`` (see :data:`SOURCES`): a clean file is also made again
        when the station's calibrations or flags changed.
    workers
        Exports made at the same time, each on its own connection; at most
        ``STATIONLAB_MAX_CONNECTIONS``.
    clock
        Gives the creation time of each file.

    Raises
    ------
    StationlabError
        For a station or format that does not exist.
    """
    formats = _check_formats(formats)
    sources = _check_sources(sources)
    named = None if stations is None else list(dict.fromkeys(stations))
    outcomes: list[BuildOutcome] = []
    todo: list[tuple[dict, str, str, str | None]] = []
    where = store_dir()
    with storage.connect(dsn, autocommit=True) as conn:
        versions = storage.exports.data_versions(conn, named)
        unknown = sorted(set(named or ()) - {v["station"] for v in versions})
        if unknown:
            known = ", ".join(v["station"] for v in storage.exports.data_versions(conn))
            raise StationlabError(f"no station called {unknown[0]!r}; stations: "
                                  f"{known or 'none yet'}")
        for version in versions:
            for source in sources:
                # taken before the file is made: a change meanwhile makes it again next time
                digest = (storage.exports.clean_inputs_digest(conn, version["station_id"])
                          if source == "clean" else None)
                for format in formats:
                    latest = storage.exports.latest(conn, version["station"], format, source)
                    if (latest is not None and _made_from(latest, version["data_version"], digest)
                            and _present(latest["path"])):
                        outcomes.append(BuildOutcome(version["station"], format, "up to date",
                                                     _as_location(latest["path"]), source=source))
                    else:
                        todo.append((version, format, source, digest))
    workers = max(1, min(workers, config.max_connections(), len(todo) or 1))

    def make(task: tuple[dict, str, str, str | None]) -> tuple[ExportResult, Path | str, bytes,
                                                                 int]:
        version, format, source, _ = task
        options = WindographerOptions() if format in TEXT_FORMATS else None
        folder, name = _names(version["station"], version["station_id"], format, source)
        with tempfile.TemporaryDirectory(prefix="stationlab-export-") as tmp:
            out = Path(tmp) / name if objectstore.is_url(where) else where / folder / name
            result = export_station(version["station"], out, format=format, options=options,
                                    dsn=dsn, clock=clock, progress=progress,
                                    clean=source == "clean")
            digest, size = _sha256(result.path)
            if objectstore.is_url(where):
                return result, _publish(where, folder, name, result.path, digest), digest, size
            return result, result.path, digest, size

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stationlab-export") as pool:
        futures = [pool.submit(make, task) for task in todo]
    done = [(task, f.result()) for task, f in zip(todo, futures, strict=True)
            if f.exception() is None]
    if done:  # what was made is recorded even if another export failed
        with storage.connect(dsn, autocommit=True) as conn, storage.transaction(conn):
            for (version, format, source, digest), (result, path, sha256, size) in done:
                _record(conn, version["station_id"], result, clock, source, digest,
                        path=path, sha256=sha256, size=size)
                outcomes.append(BuildOutcome(result.station, format, "built", path, result.rows,
                                             result.data_version, source, result.notes))
    for future in futures:
        if future.exception() is not None:
            raise future.exception()
    for outcome in outcomes:
        logger.info("%s", outcome.describe())
    return sorted(outcomes, key=lambda o: (o.station, SOURCES.index(o.source),
                                           FORMATS.index(o.format)))


def _as_location(path: str) -> Path | str:
    """A manifest's ``path`` as a :class:`Path`, or the ``s3://`` URL it is."""
    return path if "://" in path else Path(path)


def _record(conn, station_id: int, result: ExportResult, clock: Callable[[], datetime],
            source: str, inputs_digest: str | None, *, path: Path | str, sha256: bytes,
            size: int) -> None:
    options = WindographerOptions().as_record() if result.format in TEXT_FORMATS else {}
    if source == "clean" and result.format in TEXT_FORMATS:
        options["excluded_flags"] = list(result.excluded_flags)
    storage.exports.record(
        conn, station_id=station_id, format=result.format, source=source,
        inputs_digest=inputs_digest, options=options,
        period_start=None, period_end=None, ts_first=result.ts_first, ts_last=result.ts_last,
        n_rows=result.rows, n_channels=result.channels, n_readings=result.readings,
        size_bytes=size, sha256=sha256,
        path=path if isinstance(path, str) else str(path.absolute()),
        data_version=result.data_version, stationlab_version=__version__, created_at=clock())


def ready_export(station: str, format: str, *, source: str = "raw",
                 dsn: str | None = None) -> Path | str:
    """The ready file of a station's export in ``format`` (``source``: raw or clean), from the
    exports store.

    A file made from older data (or, clean, older calibrations or flags) than the station now
    holds is still returned, and a warning logged: the export job makes the new one.

    Raises
    ------
    ExportNotReady
        If the export job has not made that file (or it is gone from the store).

    Returns
    -------
    The file's path, or in an object store its ``s3://`` URL.
    """
    _check_formats([format])
    _check_sources([source])
    what = f"{format} export{' of clean data' if source == 'clean' else ''}"
    build = (f"run `stationlab exports build --station {station}"
             f"{' --source clean' if source == 'clean' else ''}`")
    with storage.connect(dsn) as conn:
        storage.catalog.require_station(conn, station)
        latest = storage.exports.latest(conn, station, format, source)
        current = latest is not None and _made_from(
            latest, latest["station_data_version"], _digest_of(conn, latest, {}))
    if latest is None:
        raise ExportNotReady(f"no {what} of station {station!r} is ready; {build}")
    path = _as_location(latest["path"])
    if not _present(latest["path"]):
        raise ExportNotReady(f"the {what} of station {station!r} is missing from the "
                             f"exports store ({path}); {build}")
    if not current:
        logger.warning("the %s of station %s predates its latest data; %s", what, station,
                       build)
    return path


def _digest_of(conn, row: dict, digests: dict[int, str]) -> str | None:
    """The current clean-inputs digest of a clean manifest row's station (kept in ``digests``,
    one query per station); ``None`` for a raw row."""
    if row["source"] != "clean":
        return None
    if row["station_id"] not in digests:
        digests[row["station_id"]] = storage.exports.clean_inputs_digest(conn, row["station_id"])
    return digests[row["station_id"]]


def list_exports(*, dsn: str | None = None) -> list[dict]:
    """The newest file of every station, source and format: the manifest row plus ``stale``
    (the station has newer data, or for a clean file changed calibrations or flags) and
    ``present`` (the file is in the store)."""
    with storage.connect(dsn) as conn:
        rows = storage.exports.newest(conn)
        digests: dict[int, str] = {}
        for row in rows:
            row["stale"] = not _made_from(row, row["station_data_version"],
                                          _digest_of(conn, row, digests))
            row["present"] = _present(row["path"])
    return sorted(rows, key=lambda r: (r["station"], SOURCES.index(r["source"]),
                                       FORMATS.index(r["format"])
                                       if r["format"] in FORMATS else len(FORMATS)))
