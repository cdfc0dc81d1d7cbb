"""stationlab: met-mast and lidar logger data in PostgreSQL, from raw files to clean exports.

The data flow is the folder structure: ``parse`` -> ``standardise`` -> ``storage`` ->
``export``; ``ingest`` runs the first three for a file. Notebooks, pipelines and widgets call
these public functions and hold no parsing and no SQL of their own.
"""

from stationlab.errors import (
    ConfigError,
    ImportRejected,
    ParseError,
    StationlabError,
    StorageError,
    UnknownFormatError,
)

__version__ = "0.1.0"


def connect(dsn: str | None = None, *, read_dsn: str | None = None, read_only: bool = False):
    """Connect to the stationlab database named by the environment; see :mod:`stationlab.api`."""
    from stationlab.api import connect as _connect

    return _connect(dsn, read_dsn=read_dsn, read_only=read_only)


__all__ = ["ConfigError", "ImportRejected", "ParseError", "StationlabError", "StorageError",
           "UnknownFormatError", "__version__", "connect"]
