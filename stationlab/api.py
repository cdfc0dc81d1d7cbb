"""The clean-data API for notebooks, widgets and pipelines.

>>> import stationlab
>>> with stationlab.connect() as db:                                    # doctest: +SKIP
...     mast = db.station("demo_mast")
...     speeds = mast.readings(types=["wind_speed"], start="2016-01-01", clean=True)

Readings come back as polars DataFrames, long (one row per channel and time) or wide (one column
per channel, named as in exports). Calibration and flags are applied in SQL; raw readings are
never changed. :meth:`Station.to_brightwind` gives the pandas frame brightwind's functions take
(the optional ``brightwind`` extra).
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from stationlab import storage
from stationlab.errors import StationlabError
from stationlab.storage import metadata as stored_metadata

if TYPE_CHECKING:
    import pandas as pd

#: How to get what :meth:`Station.to_brightwind` needs beyond the core install.
BRIGHTWIND_EXTRA = "pip install 'stationlab[brightwind]'"
#: Time bounds used when a period end is not given.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _ts(value: str | datetime | None) -> datetime | None:
    """An ISO 8601 string or datetime; naive means UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _brightwind_pandas():
    """pandas, once brightwind and a pandas it works with (< 3) are installed: the
    ``brightwind`` extra, which the core install does not include."""
    try:
        found = importlib.util.find_spec("brightwind") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise StationlabError("Station.to_brightwind needs brightwind, an optional extra that "
                              f"is not installed: {BRIGHTWIND_EXTRA}")
    import pandas

    if int(pandas.__version__.split(".")[0]) >= 3:
        raise StationlabError(f"brightwind needs pandas < 3 and pandas {pandas.__version__} is "
                              f"installed: {BRIGHTWIND_EXTRA}")
    return pandas


def connect(dsn: str | None = None, *, read_dsn: str | None = None,
            read_only: bool = False) -> Client:
    """Connect to the stationlab database named by the environment (``STATIONLAB_DSN``, the
    libpq ``PG*`` variables, or the embedded server).

    Parameters
    ----------
    read_dsn
        A streaming replica for the heavy reads (default ``STATIONLAB_READ_DSN``); writes go
        to ``dsn`` whatever it says.
    read_only
        A session that refuses writes (the dashboards' read-only pages).
    """
    manager = storage.connect(dsn, autocommit=True, read_only=read_only)
    conn = manager.__enter__()
    return Client(conn, manager, read_dsn=read_dsn or storage.replica.read_dsn(dsn),
                  read_only=read_only)


class Client:
    """An open connection to the stationlab database; use :func:`connect`.

    ``conn`` is the write connection (the primary's). Heavy reads go through :meth:`reading`:
    on the replica's connection when a ``read_dsn`` is given (opened on first use and checked to
    copy this database), else on ``conn``.
    """

    def __init__(self, conn, manager=None, *, read_dsn: str | None = None,
                 read_only: bool = False) -> None:
        self.conn = conn
        self._manager = manager
        self.read_dsn = read_dsn
        self.read_only = read_only
        self._read_manager = None
        self._read_conn = None

    def close(self) -> None:
        """Close the connections."""
        for manager in (self._read_manager, self._manager):
            if manager is not None:
                manager.__exit__(None, None, None)
        self._read_manager = self._manager = self._read_conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def read_conn(self):
        """The connection heavy reads use (the replica's, opened now if not yet)."""
        if self.read_dsn is None:
            return self.conn
        if self._read_conn is None:
            manager = storage.connect(self.read_dsn, autocommit=True, read_only=True,
                                      what=storage.replica.WHAT)
            conn = manager.__enter__()
            try:
                storage.replica.verify(conn, storage.replica.database_id(self.conn))
            except BaseException:
                manager.__exit__(None, None, None)
                raise
            self._read_manager, self._read_conn = manager, conn
        return self._read_conn

    @contextlib.contextmanager
    def reading(self):
        """The read connection, in one transaction (read-only for a read-only client): the
        statements of one read see one state of the data."""
        conn = self.read_conn
        with storage.transaction(conn):
            yield conn

    def wait_for_replica(self, timeout_s: float = 60.0) -> None:
        """Wait until the replica has replayed every write made so far on the primary (read
        your own writes); at once without a replica."""
        if self.read_dsn is None:
            return
        storage.replica.wait_for(self.read_conn, storage.replica.current_lsn(self.conn),
                                 timeout_s=timeout_s)

    def stations(self) -> list[str]:
        """Station names."""
        with self.reading() as conn:
            return [row["station"] for row in storage.catalog.summary(conn)]

    def station(self, name: str) -> Station:
        """A station by name."""
        with self.reading() as conn:
            storage.catalog.require_station(conn, name)
        return Station(self, name)


class Station:
    """One station's data and metadata."""

    def __init__(self, client: Client, name: str) -> None:
        self.client = client
        self.name = name

    @property
    def conn(self):
        return self.client.conn

    def channels(self, *, types: Iterable[str] | None = None,
                 statistics: Iterable[str] | None = None) -> pl.DataFrame:
        """The station's channels with metadata and the name exports give each (``name``)."""
        from stationlab.export import column_names, order_channels

        with self.client.reading() as conn:
            table = order_channels(storage.catalog.channel_table(conn, self.name))
        table = table.with_columns(pl.Series("name", column_names(table), dtype=pl.String))
        if types is not None:
            table = table.filter(pl.col("measurement_type").is_in(list(types)))
        if statistics is not None:
            table = table.filter(pl.col("statistic").is_in(list(statistics)))
        return table

    def _select(self, types, statistics, channels) -> pl.DataFrame:
        table = self.channels(types=types, statistics=statistics)
        if channels is not None:
            wanted = list(channels)
            table = table.filter(pl.col("channel_id").is_in([c for c in wanted
                                                             if isinstance(c, int)])
                                 | pl.col("name").is_in([c for c in wanted
                                                         if isinstance(c, str)]))
        return table.filter(pl.col("kind") == "number")

    def readings(self, *, types: Iterable[str] | None = None,
                 statistics: Iterable[str] | None = None,
                 channels: Iterable[int | str] | None = None,
                 start: str | datetime | None = None, end: str | datetime | None = None,
                 clean: bool = True, include_flagged: bool = False,
                 excluded_codes: Iterable[str] | None = None,
                 wide: bool = False) -> pl.DataFrame:
        """Readings of the station in ``[start, end)``.

        Parameters
        ----------
        types
            IEA Task 43 measurement types, e.g. ``["wind_speed"]``; default all.
        statistics
            e.g. ``["avg"]``; default all.
        channels
            Channel ids or export names, to narrow further.
        clean
            Calibrated values with excluded flagged readings left out; ``False``: the raw values
            as the logger wrote them, nothing left out.
        include_flagged
            With ``clean``, keep excluded readings too (``excluded`` says which) to see what was
            removed and why (``flags`` lists the codes covering each reading).
        excluded_codes
            Flag codes that exclude a reading; default each code's ``excluded_by_default``.
        wide
            One column per channel (named as in exports) instead of long rows.

        Returns
        -------
        Long: ``ts, channel_id, name, measurement_type, height_m, statistic, value, raw, flags,
        excluded``; wide: ``ts`` and one column per channel.
        """
        table = self._select(types, statistics, channels)
        ids = table["channel_id"].to_list()
        with self.client.reading() as conn:
            rows = storage.clean.clean_readings(
                conn, ids, _ts(start) or EARLIEST, _ts(end) or LATEST,
                excluded_codes=None if excluded_codes is None else list(excluded_codes),
                include_flagged=include_flagged or not clean)
        if not clean:
            rows = rows.with_columns(pl.col("raw").alias("value"))
        long = rows.join(table.select("channel_id", "name", "measurement_type", "height_m",
                                      "statistic"), on="channel_id", how="left")
        long = long.select("ts", "channel_id", "name", "measurement_type", "height_m",
                           "statistic", "value", "raw", "flags", "excluded")
        if not wide:
            return long
        wide_frame = long.pivot(on="name", index="ts", values="value").sort("ts")
        missing = [pl.lit(None, dtype=pl.Float64).alias(n) for n in table["name"]
                   if n not in wide_frame.columns]
        return wide_frame.with_columns(missing).select("ts", *table["name"].to_list())

    def to_brightwind(self, *, clean: bool = True, types: Iterable[str] | None = None,
                      statistics: Iterable[str] | None = None,
                      channels: Iterable[int | str] | None = None,
                      start: str | datetime | None = None, end: str | datetime | None = None,
                      excluded_codes: Iterable[str] | None = None) -> pd.DataFrame:
        """Readings in ``[start, end)`` as brightwind's functions take them (``bw.Shear``,
        ``bw.monthly_means``, ``bw.TI``, ``bw.Correl``, ...). Needs the ``brightwind`` extra.

        Parameters
        ----------
        clean
            Calibrated values, with readings under an excluding flag as NaN (brightwind's
            ``apply_cleaning`` does the same); ``False``: the raw values as the logger wrote them.
        types, statistics, channels, excluded_codes
            As for :meth:`readings`.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``Timestamp``: the start of each averaging interval in UTC, timezone-naive
            (brightwind's loaders drop the time zone), one row per stamp with a stored reading
            (a missing interval has no row, as in a file brightwind loads). One float column per
            number channel, in the order of :meth:`channels` (which gives its height and type),
            named as the logger's files name it (``Spd80mN``, ``Spd80mNStd``, the names the
            station's Task 43 document gives its columns); where two channels were read from
            columns of the same name (two tables of one logger), each gets its measurement
            point's name added: ``PTemp_C_Max (PTemp_C (Daily))``. Give a station whose tables
            differ in interval ``channels`` of one interval: brightwind takes one time step.

        Raises
        ------
        StationlabError
            If brightwind (with pandas < 3) is not installed: ``pip install
            'stationlab[brightwind]'``.
        """
        pandas = _brightwind_pandas()
        table = self._select(types, statistics, channels)
        table = table.with_columns(pl.Series("label", self._file_labels(table), dtype=pl.String))
        with self.client.reading() as conn:
            rows = storage.clean.clean_readings(
                conn, table["channel_id"].to_list(), _ts(start) or EARLIEST,
                _ts(end) or LATEST,
                excluded_codes=None if excluded_codes is None else list(excluded_codes),
                include_flagged=True)
        value = (pl.when(pl.col("excluded")).then(None).otherwise(pl.col("value")) if clean
                 else pl.col("raw"))
        long = rows.select("ts", "channel_id", value.alias("value")).join(
            table.select("channel_id", "label"), on="channel_id", how="left")
        wide = long.pivot(on="label", index="ts", values="value").sort("ts")
        missing = [pl.lit(None, dtype=pl.Float64).alias(n) for n in table["label"]
                   if n not in wide.columns]
        wide = wide.with_columns(missing).select(
            pl.col("ts").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            .dt.cast_time_unit("ns").alias("Timestamp"),
            *[pl.col(n).cast(pl.Float64) for n in table["label"]])
        frame = wide.to_pandas().set_index("Timestamp")
        frame.columns = pandas.Index(list(frame.columns), dtype=object)
        return frame

    def _file_labels(self, table: pl.DataFrame) -> list[str]:
        """Each channel's file column name (its export name where none is stored), made
        unique with the measurement point's name, then the channel id."""
        with self.client.reading() as conn:
            columns = stored_metadata.file_columns(conn, self.name)
        labels = [columns.get(row["channel_id"]) or row["name"]
                  for row in table.iter_rows(named=True)]
        for suffix in ("point_name", "channel_id"):
            clashes = Counter(labels)
            labels = [f"{label} ({row[suffix]})" if clashes[label] > 1 and row[suffix] is not None
                      else label for label, row in zip(labels, table.iter_rows(named=True),
                                                        strict=True)]
        return labels

    def monthly(self, *, types: Iterable[str] | None = None,
                statistics: Iterable[str] | None = None, start: str | datetime | None = None,
                end: str | datetime | None = None, clean: bool = False) -> pl.DataFrame:
        """Per channel and month: ``n``, ``mean``, ``minimum``, ``maximum`` and ``recovery``
        (readings over expected, 0..1; null where the channel's interval is unknown)."""
        table = self._select(types, statistics, None)
        with self.client.reading() as conn:
            result = storage.clean.monthly(conn, table["channel_id"].to_list(), _ts(start),
                                             _ts(end), clean=clean)
        return result.join(table.select("channel_id", "name"), on="channel_id", how="left")

    def recovery(self, **kwargs) -> pl.DataFrame:
        """Data recovery per channel (rows) and month (columns), 0..1."""
        monthly = self.monthly(**kwargs)
        return (monthly.with_columns(pl.col("month").dt.strftime("%Y-%m"))
                .pivot(on="month", index="name", values="recovery", sort_columns=True))

    def statistics(self, *, types: Iterable[str] | None = None,
                   statistics: Iterable[str] | None = None, start: str | datetime | None = None,
                   end: str | datetime | None = None, clean: bool = True,
                   excluded_codes: Iterable[str] | None = None) -> pl.DataFrame:
        """Per channel: ``n``, ``mean``, ``sd``, ``minimum``, ``maximum`` of the readings in
        ``[start, end)``, computed in the database (clean by default)."""
        table = self._select(types, statistics, None)
        with self.client.reading() as conn:
            result = storage.clean.statistics(
                conn, table["channel_id"].to_list(), _ts(start) or EARLIEST,
                _ts(end) or LATEST, clean=clean,
                excluded_codes=None if excluded_codes is None else list(excluded_codes))
        return table.select("channel_id", "name").join(result, on="channel_id", how="inner")

    def health(self, at: str | datetime | None = None) -> pl.DataFrame:
        """Sensor health: every channel ``ok``, ``suspect`` or ``failed`` with the reason, since
        when, recovery and coverage over the day and week ending at ``at`` (default: the
        newest reading); see :func:`stationlab.health.sensor_health`."""
        from stationlab import health

        with self.client.reading() as conn:
            return health.sensor_health(conn, self.name, _ts(at))

    def flags(self, *, start: str | datetime | None = None, end: str | datetime | None = None,
              include_removed: bool = False) -> pl.DataFrame:
        """The station's flags, oldest first (who, what, when); read on the primary, so a flag
        just added is always among them."""
        from stationlab import flags

        return flags.list_flags(self.conn, self.name, start=_ts(start), end=_ts(end),
                                include_removed=include_removed)

    def add_flag(self, start: str | datetime, end: str | datetime, code: str, *,
                 reason: str = "", channel: int | str | None = None, point: str | None = None,
                 author: str | None = None) -> int:
        """Flag ``[start, end)`` on a channel (id or export name), a measurement point or the
        whole station; returns the flag's id."""
        from stationlab import flags

        channel_id = channel
        if isinstance(channel, str):
            match = self.channels().filter(pl.col("name") == channel)
            if match.is_empty():
                raise StationlabError(f"station {self.name!r} has no channel named {channel!r}")
            channel_id = match["channel_id"][0]
        return flags.add_flag(self.conn, self.name, _ts(start), _ts(end), code, reason=reason,
                              author=author, channel_id=channel_id, point=point)
