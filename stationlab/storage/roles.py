"""Login roles for analysts and pipelines, members of stationlab's group roles, and the
connection strings that log in as them."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from stationlab.errors import ConfigError, StorageError
from stationlab.storage.db import statements

queries = statements("roles.sql")


def grant_analyst(conn: psycopg.Connection, name: str, password: str | None = None,
                  calibrations: bool | None = None) -> bool:
    """Create (or update) an analyst's LOGIN role, a member of ``stationlab_analyst``, allowed to
    connect to this database. Returns True if the role was created.

    ``calibrations``: also (``True``) or no longer (``False``) a member of
    ``stationlab_calibrator``, who records and corrects sensor calibrations; ``None`` leaves it.
    """
    extra = {} if calibrations is None else {"stationlab_calibrator": calibrations}
    return _grant_login(conn, name, "stationlab_analyst", password, extra)


def grant_pipeline(conn: psycopg.Connection, name: str, password: str | None = None) -> bool:
    """Create (or update) a LOGIN role for the scheduled jobs, a member of
    ``stationlab_pipeline`` (reads and writes data, never the schema; schema.sql), allowed
    to connect to this database. Returns True if the role was created."""
    return _grant_login(conn, name, "stationlab_pipeline", password, {})


def _grant_login(conn: psycopg.Connection, name: str, group: str, password: str | None,
                 extra: dict[str, bool]) -> bool:
    """A LOGIN role in ``group`` (and in or out of the ``extra`` groups) that may connect."""
    ident = sql.Identifier(name)
    try:
        with conn.transaction():
            created = not conn.execute(queries()["role_exists"], {"name": name}).fetchone()
            key = "role_create_login" if created else "role_grant"
            conn.execute(sql.SQL(queries()[key]).format(name=ident, group=sql.Identifier(group)))
            for other, member in extra.items():
                conn.execute(sql.SQL(queries()["role_grant" if member else "role_revoke"]).format(
                    name=ident, group=sql.Identifier(other)))
            if password is not None:
                conn.execute(sql.SQL(queries()["role_set_password"]).format(
                    name=ident, password=sql.Literal(password)))
            conn.execute(sql.SQL(queries()["role_grant_connect"]).format(
                name=ident, database=sql.Identifier(conn.info.dbname)))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StorageError(f"cannot create role {name!r}: connect as a role with CREATEROLE "
                           f"(the database owner); PostgreSQL said: {exc}".strip()) from exc
    except psycopg.errors.UndefinedObject as exc:
        raise ConfigError(f"a role stationlab needs is missing ({exc.diag.message_primary}); "
                          "run `stationlab db migrate` first") from exc
    return created


def role_memberships(conn: psycopg.Connection, name: str) -> list[str]:
    """The stationlab group roles a login role is a member of, by name."""
    return [r["rolname"] for r in conn.execute(queries()["role_memberships"], {"name": name})]


def dsn_for(dsn: str, **changes) -> str:
    """The DSN with some connection parameters changed (``dbname=``, ``user=``, ...)."""
    return make_conninfo(dsn, **changes)


def dsn_parts(dsn: str) -> dict:
    """A DSN's connection parameters."""
    return conninfo_to_dict(dsn)
