"""A real PostgreSQL for the tests: one migrated template database per run, a fresh copy per test.

The server is the one ``STATIONLAB_TEST_DSN`` names (CI starts Debian's PostgreSQL 15 there), or
else an embedded PostgreSQL started in a temporary folder for this run (with TimescaleDB preloaded
when ``scripts/setup`` built it). ``STATIONLAB_TEST_BACKEND`` (``plain``, the default, or
``timescaledb``) is the backend the template database is migrated with; ``.ci/run`` runs the
suite once on each.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from stationlab import storage

REPO = Path(__file__).resolve().parents[1]
#: Real logger files, copied into the repository with their provenance
#: (tests/data/real/PROVENANCE.md).
REAL_DATA = REPO / "tests" / "data" / "real"
TEMPLATE = "stationlab_template"
#: The backend every test database has (see the module's docstring).
BACKEND = os.environ.get("STATIONLAB_TEST_BACKEND") or "plain"

_counter = itertools.count()


def pytest_configure(config):
    # A private temporary folder per run: pytest's shared one keeps only the newest three runs,
    # so a concurrent run elsewhere on the machine could delete this run's database folder.
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="stationlab-pytest-")
        config._stationlab_basetemp = config.option.basetemp


#: Fixtures through which a test reaches a database on the backend under test (the hub's own
#: server is migrated with ``BACKEND`` too).
BACKEND_FIXTURES = ("pg_server", "auth_server")


def pytest_collection_modifyitems(config, items):
    """The TimescaleDB pass runs what touches a database on the backend under test: a test
    that reaches none (a parser's, or one with its own plain PostgreSQL 15 servers) ran as it
    is in the plain pass."""
    if BACKEND != "timescaledb":
        return
    kept, same = [], []
    for item in items:
        backend = item.get_closest_marker("timescaledb") or any(
            name in getattr(item, "fixturenames", ()) for name in BACKEND_FIXTURES)
        (kept if backend else same).append(item)
    if same:
        config.hook.pytest_deselected(items=same)
        items[:] = kept


def pytest_unconfigure(config):
    folder = getattr(config, "_stationlab_basetemp", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> str:
    """Admin DSN of the server the tests use."""
    dsn = os.environ.get("STATIONLAB_TEST_DSN")
    if dsn:
        yield dsn
        return
    folder = tmp_path_factory.mktemp("pg") / "pgdata"
    server = storage.server.start(folder, cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()


def _admin(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def _create_database(admin_dsn: str, name: str, template: str | None = None) -> str:
    return storage.databases.create_database(admin_dsn, name, template=template)


def _drop_database(admin_dsn: str, name: str) -> None:
    storage.databases.drop_database(admin_dsn, name)


@pytest.fixture(scope="session")
def template_db(pg_server) -> str:
    """The migrated template database (backend ``BACKEND``) that every test database copies."""
    dsn = _create_database(pg_server, TEMPLATE)
    with storage.connect(dsn, autocommit=True, check=False) as conn:
        storage.migrate(conn, backend=BACKEND)
    ident = psycopg.sql.Identifier
    with _admin(pg_server) as conn:
        # TimescaleDB's launcher starts a job scheduler in every database with the extension,
        # and a database someone is connected to cannot be copied. It leaves templates alone.
        conn.execute(psycopg.sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(ident(TEMPLATE)))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (TEMPLATE,))
    yield TEMPLATE
    with _admin(pg_server) as conn:
        conn.execute(psycopg.sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(ident(TEMPLATE)))
    _drop_database(pg_server, TEMPLATE)


@pytest.fixture
def empty_db(pg_server):
    """DSN of a fresh, empty database."""
    name = f"stationlab_test_{os.getpid()}_{next(_counter)}"
    dsn = _create_database(pg_server, name)
    yield dsn
    _drop_database(pg_server, name)


@pytest.fixture
def db(pg_server, template_db, monkeypatch):
    """DSN of a fresh migrated database; ``STATIONLAB_DSN`` points at it for the test."""
    name = f"stationlab_test_{os.getpid()}_{next(_counter)}"
    dsn = _create_database(pg_server, name, template=template_db)
    monkeypatch.setenv("STATIONLAB_DSN", dsn)
    yield dsn
    _drop_database(pg_server, name)


@pytest.fixture
def plain_db(empty_db, monkeypatch):
    """DSN of a fresh database on the plain backend in either pass, for what only its range
    partitions do; ``STATIONLAB_DSN`` points at it for the test."""
    with storage.connect(empty_db, autocommit=True, check=False) as conn:
        storage.migrate(conn, backend="plain")
    monkeypatch.setenv("STATIONLAB_DSN", empty_db)
    return empty_db


@pytest.fixture
def plain_conn(plain_db):
    """An autocommit connection to :func:`plain_db`."""
    with storage.connect(plain_db, autocommit=True) as connection:
        yield connection


def timescaledb_preloaded(dsn: str) -> bool:
    """Whether the server has TimescaleDB loaded (so the backend can be chosen)."""
    with psycopg.connect(dsn) as conn:
        return "timescaledb" in conn.execute("SHOW shared_preload_libraries").fetchone()[0]


@pytest.fixture
def conn(db):
    """An autocommit connection to the test's database."""
    with storage.connect(db, autocommit=True) as connection:
        yield connection


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(f"the real sample files are missing: {REAL_DATA}")
    return REAL_DATA


#: The brightwind demo mast as a TOA5 file (re-saved by a spreadsheet): station ``some_site``.
DEMO = "campbell_toa5/campbell_scientific_demo_data1.csv"
#: Two tables of one real CR1000X logger (station ``TestLogger``) and a broken file.
HOURLY = "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat"
DAILY = "campbell_toa5/pytoa5/TestLogger_Daily_1.dat"
BAD = "campbell_toa5/pytoa5/TestLogger_Hourly_Bad06.dat"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A STATIONLAB_HOME of the test's own (the raw store and exports live there)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("STATIONLAB_HOME", str(folder))
    return folder


@pytest.fixture
def mast(db, real_data):
    """The demo mast imported into the test's database, as a :class:`stationlab.api.Station`
    (connected through ``STATIONLAB_DSN``, as a notebook would be)."""
    import stationlab
    from stationlab import ingest

    ingest.import_paths([real_data / DEMO], dsn=db)
    with stationlab.connect() as client:
        yield client.station("some_site")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 API server on 127.0.0.1 for this run (:mod:`tests.s3server`)."""
    from . import s3server

    proc, server = s3server.start(tmp_path_factory.mktemp("s3"))
    yield server
    s3server.stop(proc)


@pytest.fixture
def s3_stores(s3_server, monkeypatch):
    """The raw store and the exports store in the S3 server, under a prefix of the test's own;
    the ``AWS_*`` variables set as a machine using them would set them. Returns the prefix URL."""
    prefix = f"s3://{s3_server.bucket}/test-{os.getpid()}-{next(_counter)}"
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STATIONLAB_RAW_STORE", f"{prefix}/raw")
    monkeypatch.setenv("STATIONLAB_EXPORTS_STORE", f"{prefix}/exports")
    return prefix


def calibrated_anemometer(conn: psycopg.Connection) -> int:
    """Give the demo mast's 80 m north anemometer a sensor with a Thies certificate (0.04577,
    0.2528), replacing the logger's generic transfer function (0.0462, 0.21); returns the
    sensor's id."""
    import polars as pl

    from stationlab.calibration import Calibration, CalibrationRepository

    point = storage.catalog.channel_table(conn, "some_site").filter(
        pl.col("point_name") == "Spd80mN")["measurement_point_id"][0]
    sensor = storage.calibration.insert_sensor(conn, sensor_type="anemometer", oem="Thies",
                                               model="First Class", serial_number="06123")
    storage.calibration.install_sensor(conn, sensor, point, None, None)
    conn.execute("UPDATE logger_configs lc SET slope = 0.0462, \"offset\" = 0.21 "
                 "FROM channels c WHERE c.channel_id = lc.channel_id "
                 "AND c.measurement_point_id = %s", (point,))
    CalibrationRepository(conn, author="setup").add(sensor, Calibration(0.04577, 0.2528))
    return sensor
