"""Storage: the only package that talks to PostgreSQL (and imports psycopg).

``server`` runs the embedded PostgreSQL, ``db`` connects and migrates, ``catalog`` holds stations,
loggers, channels, configurations and files, ``readings`` moves readings in and out at speed.
"""

from stationlab.storage import calibration, catalog, db, quality, readings, server
from stationlab.storage.db import connect, describe_schema, migrate, transaction

__all__ = ["calibration", "catalog", "connect", "db", "describe_schema", "migrate", "quality",
           "readings", "server", "transaction"]
