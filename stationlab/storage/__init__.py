"""Storage: the only package that talks to PostgreSQL (and imports psycopg).

``server`` runs the embedded PostgreSQL, ``db`` connects and migrates, ``catalog`` holds stations,
loggers, channels, configurations and files, ``readings`` moves readings in and out at speed.
"""

from stationlab.storage import catalog, db, quality, readings, runs, server
from stationlab.storage.db import connect, describe_schema, migrate, transaction

__all__ = ["catalog", "connect", "db", "describe_schema", "migrate", "quality", "readings",
           "runs", "server",
           "transaction"]
