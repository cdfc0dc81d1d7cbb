"""Settings read from the environment, in one place.

``STATIONLAB_HOME``
    Where stationlab keeps its embedded PostgreSQL, exports and run history. [path]
    Default ``./.stationlab``.
``STATIONLAB_DSN``
    A libpq connection string for an external PostgreSQL server. When it, or one of the libpq
    ``PG*`` variables naming a server (``PGHOST``, ``PGDATABASE``, ``PGSERVICE``, ``PGPORT``), is
    set, stationlab uses that server and starts nothing.
``STATIONLAB_RAW_STORE``, ``STATIONLAB_EXPORTS_STORE``
    The raw store and the exports store: a folder, or an object store ``s3://bucket/prefix``
    reached with the standard ``AWS_*`` variables (see :mod:`stationlab.objectstore`). Default
    ``$STATIONLAB_HOME/raw`` and ``$STATIONLAB_HOME/exports``.
``STATIONLAB_READ_DSN``
    Optional: a libpq connection string for a streaming replica of that server. Heavy reads
    (``Station.readings`` and the other read methods, exports, dashboards, ``stationlab health``)
    go there; writes (imports, flags, calibrations, runs) always go to ``STATIONLAB_DSN``.
``STATIONLAB_POOLER``
    ``transaction`` when the DSNs name a pooler in transaction mode (PgBouncer's
    ``pool_mode = transaction``): stationlab then keeps no state in a server session (no
    server-side prepared statements, no startup ``options``). Default ``none``.
``STATIONLAB_MAX_CONNECTIONS``
    The most database connections one stationlab process opens: the connection pool that
    `stationlab worker` threads share is this big. Default 4.
``STATIONLAB_EXPORT_PARALLEL_WORKERS``
    The parallel workers PostgreSQL may start per query of an export session
    (``max_parallel_workers_per_gather``). Default 0: an export job leaves the server's other
    cores to interactive users.
"""

from __future__ import annotations

import os
from pathlib import Path

from stationlab.errors import ConfigError

#: libpq variables that, when set, name an external server.
PG_SERVER_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE", "PGPORT")

#: Name of the database created in the embedded server.
EMBEDDED_DATABASE = "stationlab"


def home() -> Path:
    """The stationlab home folder (not created here)."""
    return Path(os.environ.get("STATIONLAB_HOME") or ".stationlab").absolute()


def mappings_dir() -> Path:
    """The folder of standing mapping files for generic CSV files (``$STATIONLAB_HOME/mappings``):
    every import uses them, the queue's workers included."""
    return home() / "mappings"


def external_dsn() -> str | None:
    """The DSN of an external server named by the environment, or ``None`` for the embedded one.

    An empty string means "libpq's own ``PG*`` variables".
    """
    dsn = os.environ.get("STATIONLAB_DSN")
    if dsn:
        return dsn
    if any(os.environ.get(name) for name in PG_SERVER_VARIABLES):
        return ""
    return None


def read_dsn() -> str | None:
    """The DSN of the replica for heavy reads (``STATIONLAB_READ_DSN``), or ``None``."""
    return os.environ.get("STATIONLAB_READ_DSN") or None


#: The values ``STATIONLAB_POOLER`` takes.
POOLERS = ("none", "transaction")


def pooler() -> str:
    """``transaction`` when connections go through a transaction-pooling PgBouncer, else
    ``none``."""
    value = (os.environ.get("STATIONLAB_POOLER") or "none").strip().lower()
    if value not in POOLERS:
        raise ConfigError(f"STATIONLAB_POOLER must be one of {', '.join(POOLERS)}, not {value!r}")
    return value


def max_connections() -> int:
    """The bound on database connections per process."""
    raw = os.environ.get("STATIONLAB_MAX_CONNECTIONS", "4")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"STATIONLAB_MAX_CONNECTIONS must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ConfigError(f"STATIONLAB_MAX_CONNECTIONS must be at least 1, not {value}")
    return value


def export_parallel_workers() -> int:
    """The bound on the server's parallel workers per query in export sessions."""
    raw = os.environ.get("STATIONLAB_EXPORT_PARALLEL_WORKERS", "0")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError("STATIONLAB_EXPORT_PARALLEL_WORKERS must be a whole number, "
                          f"not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"STATIONLAB_EXPORT_PARALLEL_WORKERS must be 0 or more, not {value}")
    return value
