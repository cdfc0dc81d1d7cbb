"""``stationlab db``: start, stop, describe, migrate and compress the database; grant roles."""

from __future__ import annotations

import os
import sys

import click

from stationlab import config
from stationlab.cli._common import _run
from stationlab.wording import plural


@click.group("db")
def db() -> None:
    """The database: start, stop, describe, migrate."""


@db.command("up")
def db_up() -> None:
    """Start the embedded PostgreSQL under $STATIONLAB_HOME (nothing if STATIONLAB_DSN is set)."""
    from stationlab import database

    if _external("using the external server named by STATIONLAB_DSN / PG*; nothing to start"):
        return
    dsn = _run(database.up)
    click.echo(f"embedded PostgreSQL running in {database.data_dir()}")
    click.echo(f"dsn: {dsn}")


@db.command("down")
def db_down() -> None:
    """Stop the embedded PostgreSQL."""
    from stationlab import database

    if _external("using an external server; nothing to stop"):
        return
    stopped = _run(database.down)
    click.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


def _external(message: str) -> bool:
    """Whether STATIONLAB_DSN / PG* name an external server; if so, say ``message``."""
    if config.external_dsn() is None:
        return False
    click.echo(message)
    return True


@db.command("status")
def db_status() -> None:
    """Which server is in use, whether it runs, and what the database holds."""
    from stationlab import database

    status = _run(database.status)
    click.echo(f"server: {status.kind}, {'running' if status.running else 'not running'}")
    if status.data_dir:
        click.echo(f"data: {status.data_dir}")
    if status.pid:
        click.echo(f"pid: {status.pid}")
    if status.version:
        click.echo(f"version: PostgreSQL {status.version}")
    if status.dsn:
        click.echo(f"dsn: {status.dsn}")
    if not status.running:
        sys.exit(3)
    held = database.contents(status)
    if held.backend is None:
        click.echo("schema: not migrated (run `stationlab db migrate`)")
        return
    click.echo(f"backend: {held.backend}")
    if status.timescaledb:
        click.echo(f"timescaledb: {status.timescaledb}")
    elif held.timescaledb_unused:
        click.echo("timescaledb: installed, not used (this database was migrated on plain "
                   "PostgreSQL before it was built; `stationlab db migrate --backend "
                   "timescaledb` switches an empty database)")
    for row in held.stations:
        click.echo(_describe_station(row))
    _describe_replica(status)


def _describe_replica(server) -> None:
    """The ``replica:`` lines of ``db status``: which server, and how stale its reads may be."""
    from stationlab import database

    answer = _run(database.replica, server)
    if answer is None:
        return
    dsn, found = answer
    click.echo(f"replica: {dsn}")
    if not found.in_recovery:
        click.echo("replica: not in recovery (a primary, not a replica): its reads are current")
        return
    behind = ("caught up" if found.behind_bytes == 0
              else f"{found.behind_bytes:,} bytes of WAL behind the primary")
    click.echo(f"replica lag: {behind} (replayed up to {found.replay_lsn}, primary at "
               f"{found.primary_lsn})")
    if found.replay_age_s is not None:
        click.echo(f"replica lag: newest replayed transaction committed "
                   f"{found.replay_age_s:,.1f} s ago (grows while the primary is idle)")
    if found.replay_lag_s is not None:
        click.echo(f"replica lag: the primary measures a replay lag of {found.replay_lag_s:,.3f} s")


def _describe_station(row: dict) -> str:
    span = ""
    if row["ts_first"] is not None:
        span = f", {row['ts_first']:%Y-%m-%d %H:%M} to {row['ts_last']:%Y-%m-%d %H:%M} UTC"
    return (f"station {row['station']}: {plural(row['n_channels'], 'channel')}, "
            f"{plural(row['n_files'], 'file')}, {plural(row['n_readings'], 'reading')}{span}")


@db.command("migrate")
@click.option("--backend", type=click.Choice(["plain", "timescaledb"]),
              help="Force a backend on a fresh database (default: detect).")
def db_migrate(backend: str | None) -> None:
    """Create or upgrade the schema; report the backend found (TimescaleDB or plain)."""
    migrate(backend)


def migrate(backend: str | None = None) -> None:
    """Migrate and say what was applied (``db migrate``, and ``demo`` before it imports)."""
    from stationlab import database

    result = _run(database.migrate, backend)
    names = {"plain": "plain PostgreSQL (range partitions)", "timescaledb": "TimescaleDB"}
    applied = ", ".join(result.applied) if result.applied else "none (up to date)"
    click.echo(f"backend: {names[result.backend]}; schema version {result.version}; "
               f"applied: {applied}")


@db.command("compress")
@click.option("--station", help="Only the months holding this station's readings.")
def db_compress(station: str | None) -> None:
    """Compress every finished month not compressed yet (TimescaleDB), whatever the policy says."""
    from stationlab import database

    chunks = _run(database.months_to_compress, station)
    if chunks is None:
        click.echo("plain PostgreSQL has no compression; nothing to do")
        return
    if not chunks:
        click.echo("nothing to compress: every finished month is compressed")
        return
    with click.progressbar(length=len(chunks), label="compressing", file=sys.stderr,
                           item_show_func=lambda c: c and f"{c['range_start']:%Y-%m}") as bar:
        result = _run(database.compress, chunks, progress=lambda chunk: bar.update(1, chunk))
    click.echo(f"compressed {plural(result.chunks, 'chunk')} (30 days of readings each); "
               f"readings now take {result.bytes_after / 2**20:,.1f} MB "
               f"(were {result.bytes_before / 2**20:,.1f} MB)")


_password_option = click.option(
    "--password-env", metavar="VAR", help="Set the role's password from this environment variable.")


@db.command("grant-analyst")
@click.argument("name")
@_password_option
@click.option("--calibrations/--no-calibrations", default=None,
              help="Also (or no longer) record and correct sensor calibrations, as the "
                   "calibration editor does (member of stationlab_calibrator). Default: as is.")
def db_grant_analyst(name: str, password_env: str | None, calibrations: bool | None) -> None:
    """Create or update NAME, a login role that can read everything and add flags, nothing more
    (with --calibrations: and edit calibrations)."""
    from stationlab import database

    _grant("analyst", name, password_env, database.grant_analyst, calibrations)


@db.command("grant-pipeline")
@click.argument("name")
@_password_option
def db_grant_pipeline(name: str, password_env: str | None) -> None:
    """Create or update NAME, a login role for the scheduled jobs: reads and writes data (and
    makes the partitions of new months), never changes the schema."""
    from stationlab import database

    _grant("pipeline", name, password_env, database.grant_pipeline)


def _grant(kind: str, name: str, password_env: str | None, grant, *args) -> None:
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise click.ClickException(f"${password_env} is not set")
    granted = _run(grant, name, password, *args)
    click.echo(f"{kind} role {name} {'created' if granted.created else 'updated'} "
               f"(member of {', '.join(granted.member_of)})")
    click.echo(f"STATIONLAB_DSN for {name}: {granted.dsn}")


COMMANDS = [db]
