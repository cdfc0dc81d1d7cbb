"""Storage: the only package that talks to PostgreSQL (and imports psycopg). One module a job,
each with its SQL in ``sql/<module>.sql``, in the order the data flows:

``server`` runs the embedded PostgreSQL; ``db`` connects and migrates; ``pool`` bounds
connections and ``replica`` sends heavy reads to a streaming replica; ``queue`` records arrivals
and hands pending files to workers; ``catalog`` holds stations, loggers, channels, logger
configurations and files; ``readings`` moves readings in and out at speed; ``timescale``
compresses and refreshes what only the TimescaleDB backend has; ``metadata`` keeps a station's
IEA Task 43 document; ``calibration`` keeps sensors and their calibrations; ``flags`` holds
flags, their codes and the QC rules' settings; ``clean`` reads calibrated, flag-aware readings and
their monthly summaries; ``health`` holds what loggers say about themselves and the health
queries; ``exports`` records export files; ``runs`` records pipeline runs and holds their job
locks; ``alerts`` opens, sends and resolves incidents; ``reports`` records the weekly station
reports; ``roles`` makes analysts' and pipelines' login roles; ``databases`` makes scratch
databases (a backup's restore proof).
"""

from stationlab.storage import (
    alerts,
    calibration,
    catalog,
    clean,
    databases,
    db,
    exports,
    flags,
    health,
    metadata,
    pool,
    queue,
    readings,
    replica,
    reports,
    roles,
    runs,
    server,
    timescale,
)
from stationlab.storage.db import connect, describe_schema, migrate, transaction

__all__ = ["alerts", "calibration", "catalog", "clean", "connect", "databases", "db",
           "describe_schema", "exports", "flags", "health", "metadata", "migrate", "pool", "queue",
           "readings", "replica", "reports", "roles", "runs", "server", "timescale",
           "transaction"]
