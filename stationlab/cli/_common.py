"""What the command modules share: errors as messages, the connection, option types, ``KEY=VALUE``
arguments.

Nothing here (nor in any command module) imports :mod:`stationlab.storage` or, at start-up, the
export package: ``stationlab --help`` and every command stay quick to start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import click

from stationlab.errors import StationlabError
from stationlab.wording import plural


def _run(func, *args, **kwargs):
    """Call into the package; turn its errors into a one-line message and exit status 1."""
    try:
        return func(*args, **kwargs)
    except StationlabError as exc:
        raise click.ClickException(str(exc)) from exc


def _connection():
    """A connection (autocommit) to the database stationlab uses, as a context manager."""
    from stationlab import database

    return database.connect()


def _check_database() -> None:
    """Fail now, with the fix named, if the database is not usable."""
    def check():
        with _connection():
            pass

    _run(check)


def _echo_rows(table, describe: Callable[[dict], str], noun: str) -> None:
    """A line per row of a polars table (``describe(row)``, which may add a second line), then
    how many rows there were."""
    for row in table.iter_rows(named=True):
        click.echo(describe(row))
    click.echo(plural(table.height, noun))


class Timestamp(click.ParamType):
    """An ISO 8601 date or time; without an offset it is UTC."""

    name = "timestamp"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time (e.g. 2016-01-09 or "
                      "2016-01-09T15:30Z)", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Duration(click.ParamType):
    """A duration such as ``10min``, ``1h`` or ``30s``."""

    name = "duration"
    UNITS = {"s": 1, "min": 60, "h": 3600}

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*(s|min|h)\s*", value)
        if not match or int(match[1]) == 0:
            self.fail(f"{value!r} is not a duration like 10min, 1h or 30s", param, ctx)
        return timedelta(seconds=int(match[1]) * self.UNITS[match[2]])


class ExportFormat(click.Choice):
    """One of :data:`stationlab.export.FORMATS`, read from the export package only when a command
    needs it (its import takes half a second, too long for every command's start)."""

    def __init__(self) -> None:  # not Choice's: ``choices`` is the property below
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        from stationlab.export import FORMATS

        return FORMATS


def key_values(items: Iterable[str], convert: Callable[[str], object] = str, *,
               param_hint: str | None = None) -> dict:
    """``KEY=VALUE`` arguments as a dict, each value through ``convert`` (a ``ValueError`` from it
    becomes the message); a usage error names an item that is not ``KEY=VALUE``."""
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=param_hint)
        try:
            values[key] = convert(value)
        except ValueError as exc:
            raise click.BadParameter(f"{item!r}: {exc}", param_hint=param_hint) from None
    return values
