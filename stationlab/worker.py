"""Import workers: pending files from the queue (the ``files`` table) into readings; no broker.

A worker claims one pending file with ``FOR UPDATE SKIP LOCKED`` and imports it in that same
transaction, so the claim, the readings and the file's new status commit together. A worker
killed at any point leaves the file pending with nothing of it stored; the next worker imports
it. A file that fails is marked failed with its reason and the worker moves on.

``stationlab worker --concurrency N`` runs N worker threads in one process; they share one pool
of at most :func:`stationlab.config.max_connections` connections. When the database goes away,
each worker reports it and tries again with exponential backoff
(:data:`BACKOFF_FIRST_S` doubling up to :data:`BACKOFF_MAX_S`); its open transaction is lost
with the connection, so nothing is stored twice or lost.

Workers on several machines share the database (``STATIONLAB_DSN``) and an object store
(``STATIONLAB_RAW_STORE``, see :mod:`stationlab.rawstore`). A store that cannot be used as
configured (missing bucket, refused credentials, unreachable endpoint) stops the workers with
that message and leaves the file pending, rather than failing every file in the queue; a file
missing from the store is marked failed with its reason, and ``stationlab retry`` queues it again.

Test hook: with ``STATIONLAB_WORKER_PAUSE_S`` set, a worker sleeps that many seconds after
storing a file's readings and before committing, after logging ``pausing before commit``; the
reliability tests kill it there.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stationlab import ingest, rawstore, storage
from stationlab.errors import ConfigError, DatabaseUnavailable, StationlabError, StorageConflict
from stationlab.ingest import Outcome
from stationlab.storage import catalog, queue
from stationlab.wording import plural

logger = logging.getLogger(__name__)

#: First wait after the database went away, doubled on each failure up to the maximum. [s]
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
#: How often ``--forever`` workers look for new files when the queue is empty. [s]
POLL_S = 5.0
#: Test hook: seconds to sleep after storing a file's readings, before committing.
PAUSE_VARIABLE = "STATIONLAB_WORKER_PAUSE_S"


@dataclass
class WorkerReport:
    """What a run of workers did."""

    outcomes: list[Outcome] = field(default_factory=list)
    database_errors: int = 0
    conflicts: int = 0
    config_error: ConfigError | None = None  # what stopped the workers

    @property
    def failed(self) -> int:
        return sum(o.failed for o in self.outcomes)

    def describe(self) -> str:
        """The summary line ``stationlab worker`` prints."""
        imported = sum(o.status == "imported" for o in self.outcomes)
        text = f"{plural(len(self.outcomes), 'file')}: {imported} imported, {self.failed} failed"
        if self.database_errors:
            text += (f"; the database was unavailable {plural(self.database_errors, 'time')} "
                     "(retried with backoff)")
        return text


def run_workers(concurrency: int = 1, *, forever: bool = False, dsn: str | None = None,
                on_outcome: Callable[[Outcome], None] | None = None,
                stop: threading.Event | None = None, poll_s: float = POLL_S,
                progress: bool | None = None, mappings: Iterable = ()) -> WorkerReport:
    """Import pending files with ``concurrency`` workers until none is left (or, with
    ``forever``, until ``stop`` is set), sharing a bounded pool of connections.

    ``mappings`` (:class:`~stationlab.parse.generic_csv.Mapping`) read generic CSV files
    before the standing ones of ``$STATIONLAB_HOME/mappings``.

    Raises
    ------
    ConfigError
        If the database's schema is not this stationlab's.
    """
    from tqdm.auto import tqdm

    if concurrency < 1:
        raise StationlabError(f"--concurrency must be at least 1, not {concurrency}")
    stop = stop or threading.Event()
    report = WorkerReport()
    lock = threading.Lock()
    pool = storage.pool.open_pool(dsn)
    try:
        with storage.pool.pooled(pool, check=True) as conn:
            pending = queue.counts(conn).get("pending", 0)
        bar = tqdm(total=pending, desc="importing", unit="file", leave=False,
                   disable=None if progress is None else not progress)

        def done(outcome: Outcome) -> None:
            with lock:
                report.outcomes.append(outcome)
                bar.update()
                if on_outcome:
                    on_outcome(outcome)

        name = f"{socket.gethostname()}:{os.getpid()}"
        threads = [threading.Thread(target=_work, name=f"worker-{i}", daemon=True,
                                    args=(pool, f"{name}/{i}", forever, stop, poll_s, done,
                                          report, lock, tuple(mappings)))
                   for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        bar.close()
    finally:
        pool.close()
    if report.config_error is not None:
        raise report.config_error
    return report


def _work(pool, name: str, forever: bool, stop: threading.Event, poll_s: float,
          done: Callable[[Outcome], None], report: WorkerReport, lock: threading.Lock,
          mappings: tuple = ()) -> None:
    delay = BACKOFF_FIRST_S
    while not stop.is_set():
        try:
            outcome = import_next(pool, worker=name, mappings=mappings)
        except DatabaseUnavailable as exc:
            with lock:
                report.database_errors += 1
            logger.warning("%s: %s; retrying in %.1f s", name, exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            continue
        except StorageConflict as exc:
            with lock:
                report.conflicts += 1
            logger.info("%s: %s; retrying", name, exc)
            continue
        except ConfigError as exc:  # the raw store as configured cannot be used: stop
            with lock:
                report.config_error = report.config_error or exc
            stop.set()
            return
        delay = BACKOFF_FIRST_S
        if outcome is None:
            if not forever:
                return
            stop.wait(poll_s)
            continue
        done(outcome)


def list_files(status: str | None = None, *, dsn: str | None = None) -> list[dict]:
    """The received files, all or those of one status (``pending``, ``imported``, ``failed``),
    oldest first: ``file_id``, ``status``, ``name``, ``source`` and a failed file's ``error``."""
    with storage.connect(dsn, autocommit=True) as conn:
        return queue.list_files(conn, status)


def retry_failed(file_ids: Iterable[int] = (), *, dsn: str | None = None
                 ) -> tuple[list[dict], list[int]]:
    """Put failed files back in the queue: those of ``file_ids``, or every failed one.

    Returns the files as they were before (those named that exist, or every failed one) and
    the ids queued again; a file not failed, or without a copy in the raw store (imported by
    path), is not queued.
    """
    file_ids = list(file_ids)
    with storage.connect(dsn, autocommit=True) as conn:
        # read before retrying: a file put back in the queue is no longer 'failed'
        named = (queue.files_by_id(conn, file_ids) if file_ids
                 else queue.list_files(conn, "failed"))
        return named, queue.retry_failed(conn, file_ids or None)


def import_next(pool, *, worker: str = "worker", mappings: Iterable = ()) -> Outcome | None:
    """Claim the next pending file and import it in the claim's transaction; ``None`` if no
    file is waiting (or every waiting one is claimed by another worker)."""
    while True:
        try:
            with storage.pool.pooled(pool) as conn, storage.transaction(conn):
                claim = queue.claim_next(conn)
                if claim is None:
                    return None
                outcome = _import_claim(conn, claim, worker, mappings)
                _pause_hook(claim)
            if outcome.span is not None:
                with storage.pool.pooled(pool) as conn:
                    ingest.after_commit(conn, outcome)
            return outcome
        except ingest.PartitionsNeeded as need:
            with storage.pool.pooled(pool) as conn:
                storage.readings.ensure_partitions(conn, need.ts_first, need.ts_last)


def _import_claim(conn, claim: queue.Claim, worker: str, mappings: Iterable = ()) -> Outcome:
    try:
        data = rawstore.read(claim.stored_path, digest=claim.sha256)
    except ConfigError:
        raise  # the claim's transaction rolls back: the file stays pending
    except StationlabError as exc:
        catalog.mark_failed(conn, claim.file_id, error=str(exc))
        return Outcome(claim.name, "failed", error=str(exc))
    outcome = ingest.import_received(conn, data, file_id=claim.file_id, name=claim.name,
                                     station=claim.station_name, mappings=mappings,
                                     policy=ingest.QUEUED)
    if not outcome.failed:
        queue.set_imported_by(conn, claim.file_id, worker)
    return outcome


def _pause_hook(claim: queue.Claim) -> None:
    pause = os.environ.get(PAUSE_VARIABLE)
    if pause:
        logger.warning("file %d (%s) stored, pausing before commit for %s s (%s)",
                       claim.file_id, claim.name, pause, PAUSE_VARIABLE)
        time.sleep(float(pause))
