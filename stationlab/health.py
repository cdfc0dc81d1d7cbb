"""Station health: when each logger last delivered data, how late it is, what failed.

The clock is passed in (``now``), so results are reproducible in tests and notebooks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from stationlab import storage
from stationlab.storage import catalog
from stationlab.storage import health as logger_records

#: A logger whose newest reading is older than this is quiet (files usually arrive daily).
QUIET_AFTER = timedelta(hours=26)


def logger_health(conn, now: datetime, *, quiet_after: timedelta = QUIET_AFTER) -> pl.DataFrame:
    """One row per logger: station, logger, model, serial_number, last_reading (newest stamp
    imported), last_file_at (newest file received), files_imported, files_failed, late_by
    (now - last_reading) and quiet (late_by > quiet_after, or no reading at all)."""
    table = storage.health.logger_health(conn)
    late = pl.lit(now) - pl.col("last_reading")
    return table.with_columns(late.alias("late_by")).with_columns(
        (pl.col("late_by").is_null() | (pl.col("late_by") > quiet_after)).alias("quiet"))


def quiet_loggers(conn, now: datetime, *, quiet_after: timedelta = QUIET_AFTER) -> pl.DataFrame:
    """The loggers that have gone quiet (see :func:`logger_health`)."""
    return logger_health(conn, now, quiet_after=quiet_after).filter(pl.col("quiet"))


def failed_files(conn) -> pl.DataFrame:
    """Files that failed to import, oldest first, with the reason, line and column."""
    return storage.health.failed_files(conn)


def recent_events(conn, *, limit: int = 50) -> pl.DataFrame:
    """The newest events loggers reported about themselves (NRG LOGR ``.log`` files)."""
    return logger_records.recent_events(conn, limit)


def supply_voltages(conn, now: datetime, *, window: timedelta = timedelta(days=30)
                    ) -> pl.DataFrame:
    """Supply voltages from logger diagnostics (NRG LOGR ``.diag`` files) over a window."""
    return logger_records.supply_voltages(conn, now - window)


def supply_series(conn, station: str, start: datetime, end: datetime, *,
                  names: list[str] | None = None) -> pl.DataFrame:
    """A station's supply voltages over ``[start, end]``: the ones the ``low_voltage`` alert of
    :func:`check_loggers` judges (voltage channels and NRG ``.diag`` values whose name matches
    ``names``, default ``LOGGER_DEFAULTS["supply_names"]``: ``BattV``, ``VIN_RP_V``; not a
    loop-back or a PV module's voltage), one row per value:
    ``logger``, ``series`` (the channel's or diagnostic's name and statistic), ``ts`` and
    ``value``. [V]

    Raises
    ------
    StationlabError
        No such station (the message lists the known ones).
    """
    meta = catalog.require_station(conn, station)
    return logger_records.supply_series(
        conn, station_id=meta["station_id"], since=start, until=end,
        names=list(names if names is not None else LOGGER_DEFAULTS["supply_names"]))


def quiet_thresholds(conn, now: datetime, *, quiet_after: timedelta = QUIET_AFTER,
                     stations: dict[str, timedelta] | None = None) -> pl.DataFrame:
    """:func:`logger_health` with each station's own threshold (``stations``: station name ->
    threshold, others get ``quiet_after``) in ``threshold`` and ``quiet`` judged by it."""
    table = logger_health(conn, now, quiet_after=quiet_after)
    limits = pl.Series("threshold", [(stations or {}).get(s, quiet_after)
                                     for s in table["station"]], dtype=pl.Duration("us"))
    return table.with_columns(limits).with_columns(
        (pl.col("late_by").is_null() | (pl.col("late_by") > pl.col("threshold"))).alias("quiet"))


def check(conn, now: datetime, *, settings=None, quiet_after: timedelta = QUIET_AFTER,
          stations: dict[str, timedelta] | None = None, link: str | None = None,
          run_id: int | None = None) -> pl.DataFrame:
    """Judge every logger's freshness and raise an alert per newly quiet logger, once per
    incident (``logger_quiet:LOGGER_ID``); a logger that delivers again closes its incident.

    Parameters
    ----------
    settings
        :class:`stationlab.alerts.AlertSettings` (default: record the alert, send nothing).
    quiet_after
        A logger whose newest reading is older than this is quiet. [h as timedelta]
    stations
        Per-station thresholds overriding ``quiet_after``.
    link
        Link or path of the executed health notebook, put into the alert.

    Returns
    -------
    :func:`quiet_thresholds`'s table with ``alert_id`` (set where an alert was raised now).
    """
    from stationlab import alerts

    settings = settings or alerts.AlertSettings()
    table = quiet_thresholds(conn, now, quiet_after=quiet_after, stations=stations)
    raised = []
    for row in table.iter_rows(named=True):
        incident = f"logger_quiet:{row['logger_id']}"
        if not row["quiet"]:
            raised.append(None)
            continue
        last = (f"its newest reading is from {row['last_reading']:%Y-%m-%d %H:%M} UTC, "
                f"{_hours(row['late_by']):.0f} h before {now:%Y-%m-%d %H:%M} UTC"
                if row["last_reading"] else "it has delivered no readings yet")
        raised.append(alerts.raise_alert(
            conn, settings, incident=incident, kind="logger_quiet",
            subject=f"stationlab: logger {row['logger']} at {row['station']} is quiet",
            message=(f"Logger {row['logger']} ({row['model']} {row['serial_number']}) at "
                     f"station {row['station']} is quiet: {last}; the threshold is "
                     f"{_hours(row['threshold']):.0f} h. Check the logger's power and "
                     "communication, and the fetch job."),
            link=link, run_id=run_id))
    awake = [f"logger_quiet:{i}" for i in table.filter(~pl.col("quiet"))["logger_id"]]
    alerts.resolve(conn, awake)
    return table.with_columns(pl.Series("alert_id", raised, dtype=pl.Int64))


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


# ---------------------------------------------------------------------------------------------
# Sensor health from the data

#: Health settings; a station overrides them with :func:`configure` (stored with its QC
#: settings as rule ``health``).
SENSOR_DEFAULTS = {
    "day_hours": 24.0,          # the short window [h]
    "week_days": 7.0,           # the long window (two-sensor checks) [d]
    "min_recovery": 0.8,        # below: suspect (none at all: failed) [fraction]
    "flat_hours": 6.0,          # one value this long: failed [h]
    "flagged_suspect": 0.1,     # share of the day flagged bad/icing or out of range: suspect
    "flagged_failed": 0.5,      # ... failed [fraction]
    "pair_suspect": 0.06,       # paired anemometers' ratio of means off 1 by this: suspect
    "pair_failed": 0.10,        # ... failed (the lower one) [fraction]
    "pair_min_speed": 3.0,      # both speeds above this [m/s]
    "pair_min_count": 6,        # readings per direction sector
    "shadow_halfwidth": 30.0,   # tower shadow: within this of the boom's orientation + 180 [deg]
    "vane_max_diff": 30.0,      # vanes at other heights differing by more on average [deg]
    "report_to": [],            # addresses the weekly report is sent to
}
#: Types and statistics a flat line means a stuck sensor for.
FLAT_TYPES = ("wind_speed", "wind_direction", "air_temperature", "relative_humidity",
              "air_pressure")
FLAT_STATISTICS = ("avg", "sample", "median")
STATES = ("ok", "suspect", "failed")

HEALTH_SCHEMA = {
    "station": pl.String, "channel_id": pl.Int32, "name": pl.String, "point_name": pl.String,
    "measurement_type": pl.String, "statistic": pl.String, "height_m": pl.Float64,
    "state": pl.String, "reason": pl.String, "since": pl.Datetime("us", "UTC"),
    "recovery_day": pl.Float64, "coverage_day": pl.Float64, "recovery_week": pl.Float64,
    "coverage_week": pl.Float64, "window_from": pl.Datetime("us", "UTC"),
    "window_to": pl.Datetime("us", "UTC")}


def settings_for(conn, station: str) -> dict:
    """A station's health settings: :data:`SENSOR_DEFAULTS` with its overrides."""

    found = dict(SENSOR_DEFAULTS)
    for row in storage.flags.qc_settings(conn, station):
        if row["rule"] == "health":
            found.update(row["params"])
    return found


def configure(conn, station: str, **params) -> dict:
    """Override a station's health settings (see :data:`SENSOR_DEFAULTS`, e.g.
    ``day_hours=48``, ``report_to=["manager@example.org"]``); returns the effective settings."""
    from stationlab import storage
    from stationlab.errors import StationlabError

    unknown = sorted(set(params) - set(SENSOR_DEFAULTS))
    if unknown:
        raise StationlabError(f"unknown health settings: {', '.join(unknown)}; known: "
                              f"{', '.join(SENSOR_DEFAULTS)}")
    meta = catalog.require_station(conn, station)
    current = {k: v for k, v in settings_for(conn, station).items()
               if v != SENSOR_DEFAULTS[k]}
    with storage.transaction(conn):
        storage.flags.set_qc_setting(conn, meta["station_id"], "health", "*",
                               {**current, **params}, True)
    return settings_for(conn, station)


def _channels(conn, station: str) -> pl.DataFrame:
    from stationlab import qc
    from stationlab.export import column_names, order_channels

    table = order_channels(storage.catalog.channel_table(conn, station)).filter(
        pl.col("measurement_point_id").is_not_null() & (pl.col("kind") == "number"))
    table = table.with_columns(pl.Series("name", column_names(table), dtype=pl.String))
    settings = storage.flags.qc_settings(conn, station)
    low, high = [], []
    for row in table.iter_rows(named=True):
        params = None
        if row["statistic"] in qc.LEVEL_STATISTICS:
            params = qc.effective_params(qc.RULES["range"], row["measurement_type"] or "",
                                         settings)
        low.append((params or {}).get("low"))
        high.append((params or {}).get("high"))
    return table.with_columns(pl.Series("low", low, dtype=pl.Float64),
                              pl.Series("high", high, dtype=pl.Float64))


def _finding(frame: pl.DataFrame, state: str, reason: pl.Expr, since: pl.Expr) -> pl.DataFrame:
    return frame.select(pl.col("channel_id"), pl.lit(state).alias("state"),
                        reason.alias("reason"), since.cast(pl.Datetime("us", "UTC")).alias("since"))


def _hours_expr(seconds: pl.Expr) -> pl.Expr:
    return (seconds / 3600).round(1).cast(pl.String)


def _single_checks(stats: pl.DataFrame, cfg: dict, day_h: float) -> list[pl.DataFrame]:
    found = []
    none = stats.filter(pl.col("n_day") == 0)
    found.append(_finding(none, "failed", pl.lit(f"no readings in the last {day_h:g} h"),
                          pl.coalesce("last_ts", "window_from")))
    low = stats.filter((pl.col("n_day") > 0) & (pl.col("recovery_day") < cfg["min_recovery"]))
    stopped = pl.col("last_ts") + pl.duration(seconds=pl.col("step"))
    found.append(_finding(low, "suspect", pl.format(
        "only {} % of readings present in the last {} h ({} of {} expected)",
        (pl.col("recovery_day") * 100).round(0).cast(pl.Int64), pl.lit(f"{day_h:g}"),
        pl.col("n_day"), pl.col("expected_day").cast(pl.Int64)),
        # readings that stopped before the window's end are missing since they stopped
        pl.when(stopped <= pl.col("window_to")).then(stopped).otherwise(pl.col("day_from"))))
    flat_s = ((pl.col("last_ts") - pl.col("flat_since")).dt.total_seconds()
              + pl.col("step"))
    flat = stats.filter(pl.col("measurement_type").is_in(FLAT_TYPES)
                        & pl.col("statistic").is_in(FLAT_STATISTICS)
                        & (pl.col("n_flat") >= 2) & (flat_s >= cfg["flat_hours"] * 3600)
                        & ~((pl.col("measurement_type") == "relative_humidity")
                            & (pl.col("last_value") >= 99)))
    found.append(_finding(flat, "failed", pl.format(
        "flat line at {} for {} h", pl.col("last_value").round(3), _hours_expr(flat_s)),
        pl.col("flat_since")))
    share_out = pl.col("out_day") / pl.col("n_day")
    for state, test in (("failed", share_out >= cfg["flagged_failed"]),
                        ("suspect", (share_out < cfg["flagged_failed"])
                         & (share_out >= cfg["flagged_suspect"]))):
        found.append(_finding(stats.filter((pl.col("n_day") > 0) & test), state, pl.format(
            "out of range [{}, {}] in {} of {} readings of the last {} h",
            pl.col("low"), pl.col("high"), pl.col("out_day"), pl.col("n_day"),
            pl.lit(f"{day_h:g}")), pl.col("out_since")))
    share_bad = pl.col("bad_day") / pl.col("n_day")
    for state, test in (("failed", share_bad >= cfg["flagged_failed"]),
                        ("suspect", (share_bad < cfg["flagged_failed"])
                         & (share_bad >= cfg["flagged_suspect"]))):
        found.append(_finding(stats.filter((pl.col("n_day") > 0) & test), state, pl.format(
            "flagged ({}) in {} % of the last {} h", pl.col("bad_rules").fill_null("bad"),
            (share_bad * 100).round(0).cast(pl.Int64), pl.lit(f"{day_h:g}")),
            pl.coalesce("bad_since", "day_from")))
    return found


def _failed(findings: list[pl.DataFrame]) -> set[int]:
    """The channels some finding judged failed."""
    return {c for f in findings for c in f.filter(pl.col("state") == "failed")["channel_id"]}


def _pair_checks(conn, stats: pl.DataFrame, cfg: dict, week_from, until,
                 failed: set[int]) -> list[pl.DataFrame]:
    """Paired anemometers and vanes at other heights; ``failed``: the channels the single
    checks found failed. Tower shadow is judged with the nearest vane that has not failed (by
    the single checks or by disagreeing with the other vanes); with none, a pair is judged over
    all directions and is suspect at most."""
    speeds = stats.filter((pl.col("measurement_type") == "wind_speed")
                          & (pl.col("statistic") == "avg") & pl.col("height_m").is_not_null()
                          & pl.col("orientation_deg").is_not_null())
    vanes = stats.filter((pl.col("measurement_type") == "wind_direction")
                         & (pl.col("statistic") == "avg") & pl.col("height_m").is_not_null())
    found = []
    if vanes.height >= 2:
        vpairs = (vanes.join(vanes, how="cross", suffix="_b")
                  .filter((pl.col("channel_id") < pl.col("channel_id_b"))
                          & (pl.col("height_m") != pl.col("height_m_b"))))
        diffs = logger_records.vane_pairs(
            conn, vpairs.select(pl.col("channel_id").alias("a"),
                                pl.col("channel_id_b").alias("b")),
            week_from=week_from, until=until).filter(pl.col("n") >= cfg["pair_min_count"])
        found += _judge_vanes(diffs, vanes, cfg)
    failed = failed | _failed(found)
    healthy = vanes.filter(~pl.col("channel_id").is_in(sorted(failed)))
    if vanes.height and speeds.height >= 2:
        pairs = (speeds.join(speeds, on="height_m", suffix="_b")
                 .filter(pl.col("channel_id") < pl.col("channel_id_b")))
        if pairs.height:
            vane_of = [healthy.with_columns((pl.col("height_m") - h).abs().alias("d"))
                       .sort("d", "channel_id")["channel_id"][0] if healthy.height else None
                       for h in pairs["height_m"]]
            spec = pairs.select(
                pl.col("channel_id").alias("a"), pl.col("channel_id_b").alias("b"),
                pl.Series("vane", vane_of, dtype=pl.Int32),
                ((pl.col("orientation_deg") + 180) % 360).alias("shadow_a"),
                ((pl.col("orientation_deg_b") + 180) % 360).alias("shadow_b"))
            sums = logger_records.anemometer_pairs(
                conn, spec, week_from=week_from, until=until,
                min_speed=float(cfg["pair_min_speed"]),
                halfwidth=float(cfg["shadow_halfwidth"]))
            found += _judge_pairs(sums, pairs, cfg, until)
    return found


def _judge_pairs(sums: pl.DataFrame, pairs: pl.DataFrame, cfg: dict, until) -> list:
    """Sector ``-1`` in ``sums``: a pair without a working vane, summed over all directions."""
    if sums.height == 0:
        return []
    names = dict(zip(pairs["channel_id"].to_list() + pairs["channel_id_b"].to_list(),
                     pairs["name"].to_list() + pairs["name_b"].to_list(), strict=True))
    sectors = (sums.group_by("a", "b", "sector").agg(pl.col("n").sum(), pl.col("sum_a").sum(),
                                                     pl.col("sum_b").sum())
               .filter(pl.col("n") >= cfg["pair_min_count"])
               .with_columns((pl.col("sum_a") / pl.col("sum_b")).alias("ratio"))
               .group_by("a", "b").agg(pl.col("ratio").median(), pl.len().alias("sectors"),
                                       (pl.col("sector") < 0).any().alias("no_vane")))
    days = (sums.group_by("a", "b", "day_back").agg(pl.col("sum_a").sum(), pl.col("sum_b").sum())
            .with_columns(((pl.col("sum_a") / pl.col("sum_b")) - 1).abs().alias("dev")))
    found = []
    for row in sectors.iter_rows(named=True):
        deviation = row["ratio"] - 1
        size = abs(deviation)
        if size < cfg["pair_suspect"]:
            continue
        state = "failed" if size >= cfg["pair_failed"] and not row["no_vane"] else "suspect"
        low, high = (row["a"], row["b"]) if deviation < 0 else (row["b"], row["a"])
        ratio = row["ratio"] if deviation < 0 else 1 / row["ratio"]
        daily = days.filter((pl.col("a") == row["a"]) & (pl.col("b") == row["b"])).sort(
            "day_back")
        run = 0
        for day_back, dev in zip(daily["day_back"], daily["dev"], strict=True):
            if day_back != run or dev < cfg["pair_suspect"]:
                break
            run += 1
        since = until - timedelta(days=max(run, 1))
        where = ("over all directions: every vane has failed, so tower shadow is not "
                 "excluded and it is suspect at most" if row["no_vane"] else
                 f"in {row['sectors']} direction sectors outside tower shadow")
        reason = (f"reads {1 - ratio:.0%} below its pair {names[high]} (ratio of means "
                  f"{ratio:.3f} {where})")
        found.append(pl.DataFrame({"channel_id": [low], "state": [state], "reason": [reason],
                                   "since": [since]},
                                  schema={"channel_id": pl.Int32, "state": pl.String,
                                          "reason": pl.String,
                                          "since": pl.Datetime("us", "UTC")}))
    return found


def _judge_vanes(diffs: pl.DataFrame, vanes: pl.DataFrame, cfg: dict) -> list:
    names = dict(zip(vanes["channel_id"], vanes["name"], strict=True))
    limit = cfg["vane_max_diff"]
    partners: dict[int, list[tuple[int, float]]] = {}
    for row in diffs.iter_rows(named=True):
        partners.setdefault(row["a"], []).append((row["b"], row["mean_diff_deg"]))
        partners.setdefault(row["b"], []).append((row["a"], row["mean_diff_deg"]))
    agreeing = {(r["a"], r["b"]) for r in diffs.iter_rows(named=True)
                if r["mean_diff_deg"] <= limit}
    found = []
    for vane, others in partners.items():
        if not others or any(d <= limit for _, d in others):
            continue
        ids = [o for o, _ in others]
        others_agree = any((x, y) in agreeing for x in ids for y in ids if x < y)
        state = "failed" if others_agree else "suspect"
        text = ", ".join(f"{names[o]} by {d:.0f} deg" for o, d in others)
        since = vanes.filter(pl.col("channel_id") == vane)["window_from"][0]
        found.append(pl.DataFrame({"channel_id": [vane], "state": [state],
                                   "reason": [f"disagrees with the vanes at other heights "
                                              f"({text} on average)"],
                                   "since": [since]},
                                  schema={"channel_id": pl.Int32, "state": pl.String,
                                          "reason": pl.String,
                                          "since": pl.Datetime("us", "UTC")}))
    return found


def sensor_health(conn, station: str, at: datetime | None = None,
                  settings: dict | None = None) -> pl.DataFrame:
    """Judge every channel of a station: ``ok``, ``suspect`` or ``failed``, with the reason and
    since when.

    The windows (``day_hours`` and ``week_days`` of the station's settings, see
    :data:`SENSOR_DEFAULTS`) end at ``at`` or at the station's newest reading. Judged over the
    day: missing readings, a flat line, values outside the range of the ``range`` QC rule, the
    share flagged bad or iced by stored flags; over the week: paired anemometers at one height
    (the ratio of their means by 30-degree direction sector outside tower shadow, judged with the
    nearest vane that has not failed; with none, over all directions and suspect at most) and
    vanes at different heights. A channel's state is the worst finding; its reasons are joined.

    Returns
    -------
    One row per channel (:data:`HEALTH_SCHEMA`): recovery (rows present) and coverage (rows
    valid after flags) are fractions of the expected rows of each window. [fraction]
    """

    meta = catalog.require_station(conn, station)
    cfg = {**settings_for(conn, station), **(settings or {})}
    channels = _channels(conn, station)
    end = at or logger_records.newest_reading(conn, meta["station_id"])
    if end is None or channels.height == 0:
        return pl.DataFrame(schema=HEALTH_SCHEMA)
    until = end + timedelta(microseconds=1)
    day_from = until - timedelta(hours=float(cfg["day_hours"]))
    week_from = until - timedelta(days=float(cfg["week_days"]))
    counts = logger_records.channel_windows(
        conn, channels.select("channel_id", "low", "high"), week_from=week_from,
        day_from=day_from, until=until)
    stats = channels.join(counts, on="channel_id", how="left")
    step = pl.coalesce(pl.col("interval_s").cast(pl.Float64), pl.col("step_s"), pl.lit(600.0))

    def expected(start):  # rows from start, or from the channel's first reading in the week
        first = pl.col("first_ts").fill_null(pl.lit(start))
        since = pl.max_horizontal(pl.lit(start).cast(pl.Datetime("us", "UTC")), first)
        rows = ((pl.lit(until) - since).dt.total_microseconds() / 1e6 / pl.col("step")).floor()
        return (rows + pl.when(since == first).then(1).otherwise(0)).clip(1)

    start_day, start_week = day_from, week_from

    stats = stats.with_columns(step.alias("step"), pl.lit(day_from).alias("day_from"),
                               pl.lit(week_from).alias("window_from"),
                               pl.lit(end).cast(pl.Datetime("us", "UTC")).alias("window_to")
                               ).with_columns(expected(start_day).alias("expected_day")
                                              ).with_columns(
        (pl.col("n_day") / pl.col("expected_day")).clip(0, 1).alias("recovery_day"),
        (pl.col("valid_day") / pl.col("expected_day")).clip(0, 1).alias("coverage_day"),
        (pl.col("n_week") / expected(start_week)).clip(0, 1).alias("recovery_week"),
        (pl.col("valid_week") / expected(start_week)).clip(0, 1).alias("coverage_week"))
    day_h = float(cfg["day_hours"])
    single = _single_checks(stats, cfg, day_h)
    failed = _failed(single)
    findings = single + _pair_checks(conn, stats, cfg, week_from, until, failed)
    found = pl.concat([f for f in findings if f.height], how="vertical") if any(
        f.height for f in findings) else pl.DataFrame(
        schema={"channel_id": pl.Int32, "state": pl.String, "reason": pl.String,
                "since": pl.Datetime("us", "UTC")})
    rank = pl.col("state").replace_strict({s: i for i, s in enumerate(STATES)},
                                          return_dtype=pl.Int8)
    worst = (found.with_columns(rank.alias("rank"))
             .filter(pl.col("rank") == pl.col("rank").max().over("channel_id"))
             .group_by("channel_id").agg(pl.col("state").first(),
                                         pl.col("reason").str.join("; "),
                                         pl.col("since").min()))
    return (stats.join(worst, on="channel_id", how="left")
            .with_columns(pl.lit(station).alias("station"),
                          pl.col("state").fill_null("ok"))
            .select([pl.col(c).cast(t) for c, t in HEALTH_SCHEMA.items()]))


# ---------------------------------------------------------------------------------------------
# Alerts once per incident from sensor and logger health

#: Logger health settings (``[health]`` of the schedule overrides them).
LOGGER_DEFAULTS = {
    "low_voltage": 11.5,              # the supply's daily (night) minimum below this [V]
    "falling_nights": 3,              # minima falling this many nights in a row
    "falling_drop": 0.3,              # ... by at least this in all [V]
    # voltage channels and NRG diagnostics that are the supply, by name (ILIKE)
    "supply_names": ["VIN%", "%batt%", "%vbat%", "%supply%"],
    "clock_tolerance_s": 3600.0,      # newest stamp ahead of the file's arrival, or behind the
                                      # earlier files' newest stamp, by more [s]
    "import_failures": 1,             # a station's newest files failed in a row
    "fetch_failures": 3,              # a fetch source failed this many times in a row
    "sensor_suspect_alerts": False,   # also alert sensor_suspect:CHANNEL
}


def _rows(table: pl.DataFrame) -> list[dict]:
    return list(table.iter_rows(named=True))


def _sync(conn, settings, prefix: str, raising: dict[str, dict], judged: set[str] | None,
          *, link, run_id, note: str) -> list[int]:
    """Raise each incident of ``raising`` (incident -> kind, subject, message) not open yet;
    resolve the open incidents of ``prefix`` that are judged (``judged``: None = all) and no
    longer raised."""
    from stationlab import alerts

    raised = []
    for incident, alert in raising.items():
        alert_id = alerts.raise_alert(conn, settings, incident=incident, link=link,
                                      run_id=run_id, **alert)
        if alert_id is not None:
            raised.append(alert_id)
    cleared = [i for i in storage.alerts.open_incidents(conn, prefix)
               if i not in raising and (judged is None or i in judged)]
    alerts.resolve(conn, cleared, settings, notes={i: note for i in cleared})
    return raised


def check_sensors(conn, *, settings=None, at: datetime | None = None, suspect: bool = False,
                  link: str | None = None, run_id: int | None = None) -> pl.DataFrame:
    """Judge every station's sensors (:func:`sensor_health`) and alert once per incident: a
    sensor (measurement point) with a failed channel raises ``sensor_failed:CHANNEL_ID`` (the
    point's mean channel, else its first), with ``suspect`` also ``sensor_suspect:CHANNEL_ID``;
    an incident closes, with one resolved message, when the sensor is no longer so.

    Returns
    -------
    Every station's sensor health table, one after the other.
    """
    from stationlab import alerts

    settings = settings or alerts.AlertSettings()
    tables = [sensor_health(conn, row["station"], at) for row in catalog.summary(conn)]
    table = pl.concat(tables) if tables else pl.DataFrame(schema=HEALTH_SCHEMA)
    points = table.with_columns(
        pl.col("channel_id").sort_by(pl.col("statistic") != "avg", pl.col("channel_id"))
        .first().over("station", "point_name").alias("key"))
    judged = {f"{kind}:{k}" for k in points["key"].unique() for kind in
              ("sensor_failed", "sensor_suspect")}
    raising: dict[str, dict[str, dict]] = {"sensor_failed": {}, "sensor_suspect": {}}
    for (station, key), group in points.group_by("station", "key"):
        for state in ("failed", "suspect"):
            bad = group.filter(pl.col("state") == state)
            if bad.is_empty() or (state == "suspect" and (
                    not suspect or (group["state"] == "failed").any())):
                continue
            lines = "\n".join(f"  {r['name']} {state}: {r['reason']} since "
                              f"{r['since']:%Y-%m-%d %H:%M} UTC" for r in _rows(bad))
            point = bad["point_name"][0]
            raising[f"sensor_{state}"][f"sensor_{state}:{key}"] = {
                "kind": f"sensor_{state}",
                "subject": f"stationlab: sensor {point} at {station} {state}",
                "message": (f"Sensor {point} at station {station} is {state} (judged over the "
                            f"windows ending {bad['window_to'][0]:%Y-%m-%d %H:%M} UTC):\n"
                            f"{lines}\nLook at its plot with the flags on the health "
                            "dashboard; a site visit may be needed.")}
    for kind, incidents in raising.items():
        _sync(conn, settings, f"{kind}:", incidents, judged, link=link, run_id=run_id,
              note="every channel of the sensor is ok again")
    return table


def check_loggers(conn, *, settings=None, at: datetime | None = None, config: dict | None = None,
                  link: str | None = None, run_id: int | None = None) -> dict[str, pl.DataFrame]:
    """Logger health from its own words, alerting once per incident: ``low_voltage:LOGGER_ID``
    (the supply's daily minimum below ``low_voltage``, or falling ``falling_nights`` nights in a
    row), ``logger_fault:LOGGER_ID`` (NRG ``.log`` FAULT events in its last day),
    ``clock_jump:LOGGER_ID`` (the newest file of one of its tables stamped ahead of its
    arrival, or back before the files of that table received before it: a clock set back or
    reset; within one file, the readers refuse stamps out of time order, so
    ``import_failing`` names the line),
    ``import_failing:STATION`` (its newest files failed to import) and
    ``fetch_failing:SOURCE`` (a source failed ``fetch_failures`` times in a row). Each closes,
    with one resolved message, when its condition clears.

    Returns
    -------
    The tables judged: ``supply``, ``faults``, ``clock``, ``imports``, ``fetches``.
    """
    from stationlab import alerts

    settings = settings or alerts.AlertSettings()
    cfg = {**LOGGER_DEFAULTS, **(config or {})}
    nights = int(cfg["falling_nights"])
    supply = logger_records.supply_daily(conn, at=at, days=nights + 1,
                                         names=list(cfg["supply_names"]))
    low = {}
    for (logger_id,), days in supply.group_by("logger_id"):
        days = days.sort("day_back")
        last = days.filter(pl.col("day_back") == 0)
        if last.is_empty():
            continue
        row = last.row(0, named=True)
        minima = days["v_min"].to_list()  # newest first
        falling = (len(minima) > nights and all(a < b for a, b in zip(
            minima[:nights], minima[1:nights + 1], strict=True))
            and minima[nights] - minima[0] >= cfg["falling_drop"])
        why = None
        if row["v_min"] < cfg["low_voltage"]:
            why = (f"its minimum over the 24 h to {row['until']:%Y-%m-%d %H:%M} UTC is "
                   f"{row['v_min']:.2f} V, below {cfg['low_voltage']:g} V")
        elif falling:
            why = (f"its nightly minimum has fallen {nights} nights in a row, "
                   f"{minima[nights]:.2f} V -> {minima[0]:.2f} V")
        if why:
            low[f"low_voltage:{logger_id}"] = {
                "kind": "low_voltage",
                "subject": f"stationlab: low supply voltage on logger {row['logger']} at "
                           f"{row['station']}",
                "message": f"Logger {row['logger']} at station {row['station']}: {why}. Check "
                           "the battery, the solar panel and the charge controller."}
    judged = {f"low_voltage:{i}" for i in supply["logger_id"].unique()}
    _sync(conn, settings, "low_voltage:", low, judged, link=link, run_id=run_id,
          note="the supply voltage is normal again")

    faults = logger_records.logger_faults(conn, at=at)
    raising = {f"logger_fault:{r['logger_id']}": {
        "kind": "logger_fault",
        "subject": f"stationlab: logger {r['logger']} at {r['station']} reports faults",
        "message": (f"Logger {r['logger']} at station {r['station']} reported {r['n_faults']} "
                    f"FAULT events since {r['since']:%Y-%m-%d %H:%M} UTC: {r['faults']}")}
        for r in _rows(faults.filter(pl.col("n_faults") > 0))}
    _sync(conn, settings, "logger_fault:", raising,
          {f"logger_fault:{i}" for i in faults["logger_id"]}, link=link, run_id=run_id,
          note="the logger reported no FAULT event in its last day")

    clock = logger_records.clock_jumps(conn, tolerance_s=float(cfg["clock_tolerance_s"]))
    raising = {f"clock_jump:{r['logger_id']}": {
        "kind": "clock_jump",
        "subject": f"stationlab: the clock of logger {r['logger']} at {r['station']} jumped",
        "message": (f"Logger {r['logger']} at station {r['station']}: its file {r['file']} "
                    f"ends at {r['ts_last']:%Y-%m-%d %H:%M} UTC, " + (
                        f"after it arrived ({r['received_at']:%Y-%m-%d %H:%M} UTC)" if r["ahead"]
                        else f"before the files received before it, which reached "
                             f"{r['earlier_last']:%Y-%m-%d %H:%M} UTC: its clock went back "
                             "(was it reset?)") + "; set the logger's clock.")}
        for r in _rows(clock.filter(pl.col("ahead") | pl.col("behind")))}
    _sync(conn, settings, "clock_jump:", raising, {f"clock_jump:{i}" for i in clock["logger_id"]},
          link=link, run_id=run_id, note="the logger's newest files are stamped between the "
          "files before them and their arrival again")

    imports = logger_records.import_failures(conn)
    raising = {f"import_failing:{r['station']}": {
        "kind": "import_failing",
        "subject": f"stationlab: files of {r['station']} fail to import",
        "message": (f"{r['n_failed']} file(s) of station {r['station']} in a row failed to "
                    f"import (since {r['since']:%Y-%m-%d %H:%M} UTC); the newest, "
                    f"{r['newest_name']}: {r['newest_error']}. See `stationlab files --failed`.")}
        for r in _rows(imports.filter(pl.col("n_failed") >= int(cfg["import_failures"])))}
    _sync(conn, settings, "import_failing:", raising,
          {f"import_failing:{s}" for s in imports["station"]}, link=link, run_id=run_id,
          note="the station's newest file imported")

    fetches = logger_records.fetch_failures(conn)
    raising = {f"fetch_failing:{r['source']}": {
        "kind": "fetch_failing",
        "subject": f"stationlab: fetch source {r['source']} is failing",
        "message": (f"Fetching from source {r['source']} failed {r['n_failed']} times in a row "
                    f"since {r['since']:%Y-%m-%d %H:%M} UTC: {r['last_error']}")}
        for r in _rows(fetches.filter(pl.col("n_failed") >= int(cfg["fetch_failures"])))}
    _sync(conn, settings, "fetch_failing:", raising,
          {f"fetch_failing:{s}" for s in fetches["source"]}, link=link, run_id=run_id,
          note="the source was fetched again")
    return {"supply": supply, "faults": faults, "clock": clock, "imports": imports,
            "fetches": fetches}
