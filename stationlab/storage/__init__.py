"""Storage: the only package that talks to PostgreSQL (and imports psycopg).

``server`` runs the embedded PostgreSQL, ``db`` connects and migrates, ``catalog`` holds stations,
loggers, channels, configurations and files, ``readings`` moves readings in and out at speed.
"""

from stationlab.storage import catalog, db, exports, readings, server
from stationlab.storage.db import connect, describe_schema, migrate, transaction

__all__ = ["catalog", "connect", "db", "describe_schema", "exports", "migrate", "readings",
           "server", "transaction"]
