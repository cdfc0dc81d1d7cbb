"""Storage: the only package that talks to PostgreSQL (and imports psycopg).

``server`` runs the embedded PostgreSQL, ``db`` connects and migrates, ``catalog`` holds stations,
loggers, channels, configurations and files, ``readings`` moves readings in and out at speed,
``queue`` records arrivals and hands pending files to workers, ``pool`` bounds connections,
``replica`` sends heavy reads to a streaming replica,
``health`` holds loggers' events and diagnostics, ``timescale`` compresses and refreshes what
only the TimescaleDB backend has.
"""

from stationlab.storage import (
    calibration,
    catalog,
    db,
    exports,
    health,
    pool,
    quality,
    queue,
    readings,
    replica,
    runs,
    server,
    timescale,
)
from stationlab.storage.db import connect, describe_schema, migrate, transaction

__all__ = ["calibration", "catalog", "connect", "db", "describe_schema", "exports", "health",
           "migrate", "pool", "quality", "queue", "readings", "replica", "runs", "server",
           "timescale", "transaction"]
