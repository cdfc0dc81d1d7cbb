"""Automatic quality control: rules per measurement type, stored as flags of source ``rule``.

Each rule has a name, a version and a flag code, and default parameters per measurement type
that a station may override (:func:`configure`). :func:`run` evaluates the rules on calibrated
readings (checks in :mod:`stationlab.qc.checks` never change data) and replaces exactly the
rule's own earlier flags in the period, keeping the parts of them that lie outside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from stationlab import storage
from stationlab.api import EARLIEST, LATEST
from stationlab.errors import StationlabError
from stationlab.qc import checks
from stationlab.storage import catalog

logger = logging.getLogger(__name__)

#: Statistics whose values a physical range applies to.
LEVEL_STATISTICS = ("avg", "min", "max", "sample", "gust", "median")


@dataclass(frozen=True)
class Rule:
    """A QC rule: what it flags with which code, and its default parameters per measurement
    type (``"*"`` for every type the rule applies to)."""

    name: str
    version: int
    code: str
    description: str
    defaults: dict[str, dict] = field(default_factory=dict)


#: No default range for ``voltage``: a voltage channel may be a supply, a sensor's output, a
#: loop-back or a PV module's open-circuit voltage (0 V at night); the supply has its own alert
#: (``low_voltage``, :mod:`stationlab.health`).
RULES = {rule.name: rule for rule in (
    Rule("range", 1, "bad", "value outside its physical range", {
        "wind_speed": {"low": 0.0, "high": 75.0},
        "wind_direction": {"low": 0.0, "high": 360.0},
        "air_temperature": {"low": -60.0, "high": 60.0},
        "relative_humidity": {"low": 0.0, "high": 105.0},
        "air_pressure": {"low": 500.0, "high": 1100.0}}),
    Rule("flat_line", 1, "bad", "sensor stuck: the same value for N intervals", {
        "wind_speed": {"intervals": 6}, "wind_direction": {"intervals": 6},
        "air_temperature": {"intervals": 18}, "relative_humidity": {"intervals": 36},
        "air_pressure": {"intervals": 72}}),
    Rule("spike", 1, "suspect", "a single-interval jump away from both neighbours", {
        "wind_speed": {"threshold": 10.0}, "air_temperature": {"threshold": 5.0},
        "air_pressure": {"threshold": 10.0}}),
    Rule("zero_sd", 1, "bad", "standard deviation zero with a non-zero mean", {
        "wind_speed": {"min_mean": 0.5}, "wind_direction": {"min_mean": 0.5}}),
    Rule("icing", 1, "icing", "air temperature low and the sensor stalled", {
        "wind_speed": {"max_temperature": 2.0, "stall_speed": 0.3},
        "wind_direction": {"max_temperature": 2.0}}),
    Rule("missing", 1, "missing", "readings missing for at least N intervals", {
        "*": {"min_intervals": 1}}),
)}


@dataclass(frozen=True)
class Finding:
    """One period a rule flags, on a channel or a whole measurement point."""

    rule: str
    ts_from: datetime
    ts_to: datetime
    channel_id: int | None = None
    measurement_point_id: int | None = None
    reason: str = ""


def effective_params(rule: Rule, measurement_type: str, settings: list[dict]) -> dict | None:
    """A rule's parameters for a type at a station (defaults, then station overrides for all
    types, then for this type); ``None`` where the rule does not apply or is disabled."""
    params = dict(rule.defaults.get("*") or rule.defaults.get(measurement_type) or {})
    applies = bool(params) or measurement_type in rule.defaults
    for scope in ("*", measurement_type):
        for row in settings:
            if row["rule"] == rule.name and row["measurement_type"] == scope:
                if not row["enabled"]:
                    return None
                params.update(row["params"])
                applies = True
    return params if applies and params else None


def station_settings(conn, station: str) -> list[dict]:
    """The rule parameters a station overrides (rows of rule, measurement_type, params,
    enabled)."""
    catalog.require_station(conn, station)
    return storage.flags.qc_settings(conn, station)


def configure(conn, station: str, rule: str, *, measurement_type: str = "*",
              enabled: bool = True, **params) -> None:
    """Override a rule's parameters at a station (for one measurement type or ``"*"``)."""
    if rule not in RULES:
        raise StationlabError(f"unknown QC rule {rule!r}; rules: {', '.join(RULES)}")
    meta = catalog.require_station(conn, station)
    with storage.transaction(conn):
        storage.flags.set_qc_setting(conn, meta["station_id"], rule, measurement_type, params,
                                     enabled)


def _interval(group: pl.DataFrame, interval_s: int | None) -> timedelta:
    if interval_s:
        return timedelta(seconds=interval_s)
    diffs = group["ts"].diff().drop_nulls()
    return diffs.mode().min() if len(diffs) else timedelta(minutes=10)


def evaluate(channels: pl.DataFrame, data: pl.DataFrame, settings: list[dict],
             rules: list[str], *, period: tuple[datetime | None, datetime | None] = (None, None)
             ) -> list[Finding]:
    """What the rules flag in calibrated readings (``channel_id, ts, value``), without touching
    the database: the pure part of :func:`run`. ``period`` bounds, where given, count as
    readings for the missing-data rule (data missing at the start or end of it is flagged)."""
    meta = {row["channel_id"]: row for row in channels.iter_rows(named=True)}
    by_channel = {key[0]: g.sort("ts") for key, g in data.group_by("channel_id")}
    findings: list[Finding] = []
    points: dict[int, dict[str, int]] = {}
    for cid, info in meta.items():
        if info["measurement_point_id"] is not None:
            points.setdefault(info["measurement_point_id"], {})[info["statistic"]] = cid
    for cid, group in by_channel.items():
        findings.extend(_channel_findings(cid, group, meta, points, by_channel, channels,
                                          settings, rules, period))
    return findings


def _channel_findings(cid: int, group: pl.DataFrame, meta: dict, points: dict, by_channel: dict,
                      channels: pl.DataFrame, settings: list[dict], rules: list[str],
                      period: tuple[datetime | None, datetime | None]) -> list[Finding]:
    findings: list[Finding] = []
    info = meta[cid]
    kind, stat = info["measurement_type"], info["statistic"]
    step = _interval(group, info["interval_s"])
    def add(rule_name: str, mask: pl.Series, reason: str, *, point: bool = False) -> None:
        for start, stop in checks.mask_to_periods(group["ts"], mask, step):
            findings.append(Finding(
                rule_name, start, stop,
                channel_id=None if point else cid,
                measurement_point_id=info["measurement_point_id"] if point else None,
                reason=reason))

    if "range" in rules and (p := effective_params(RULES["range"], kind, settings)):
        low, high = (p["low"], p["high"]) if stat in LEVEL_STATISTICS else (0.0, None)
        add("range", checks.flag_range(group["value"], low, high),
            f"{info['column_name'] or info['point_name']} outside [{low}, {high}]")
    if stat in ("avg", "sample"):
        if "flat_line" in rules and (p := effective_params(RULES["flat_line"], kind,
                                                           settings)):
            add("flat_line", checks.flag_flat_line(group["value"], group["ts"],
                                                   intervals=int(p["intervals"]),
                                                   interval=step),
                f"unchanged for {int(p['intervals'])} or more intervals", point=True)
        if "spike" in rules and (p := effective_params(RULES["spike"], kind, settings)):
            add("spike", checks.flag_spike(group["value"], group["ts"],
                                           threshold=p["threshold"], interval=step),
                f"jump of more than {p['threshold']}")
        if "missing" in rules and (p := effective_params(RULES["missing"], kind, settings)):
            for start, stop in checks.missing_runs(
                    group["ts"], interval=step, min_intervals=int(p["min_intervals"]),
                    period=period):
                findings.append(Finding("missing", start, stop, channel_id=cid,
                                        reason="no readings"))
    if stat == "avg" and info["measurement_point_id"] is not None:
        sd_id = points[info["measurement_point_id"]].get("sd")
        if sd_id in by_channel:
            pair = group.join(by_channel[sd_id].select("ts", pl.col("value").alias("sd")),
                              on="ts", how="left")
            if "zero_sd" in rules and (p := effective_params(RULES["zero_sd"], kind,
                                                             settings)):
                add("zero_sd", checks.flag_zero_sd(pair["value"], pair["sd"],
                                                   min_mean=p["min_mean"]),
                    "standard deviation 0 with a non-zero mean", point=True)
            if "icing" in rules and (p := effective_params(RULES["icing"], kind, settings)):
                temperature = _station_temperature(channels, by_channel)
                if temperature is not None:
                    pair = pair.join(temperature, on="ts", how="left")
                    stalled = pair["sd"] == 0
                    if "stall_speed" in p:
                        stalled = stalled | (pair["value"] < p["stall_speed"])
                    add("icing", checks.flag_icing(pair["temperature"], stalled,
                                                   max_temperature=p["max_temperature"]),
                        f"temperature at or below {p['max_temperature']} and stalled",
                        point=True)
    return findings


def _station_temperature(channels: pl.DataFrame, by_channel: dict) -> pl.DataFrame | None:
    """The air temperature the icing rule uses: the lowest thermometer's mean (or sample)."""
    candidates = (channels.filter((pl.col("measurement_type") == "air_temperature")
                                  & pl.col("statistic").is_in(["avg", "sample"]))
                  .sort(pl.col("statistic") == "sample", "height_m", nulls_last=True))
    for cid in candidates["channel_id"]:
        if cid in by_channel:
            return by_channel[cid].select("ts", pl.col("value").alias("temperature"))
    return None


@dataclass(frozen=True)
class QCResult:
    """Flags each rule holds for the period after a run."""

    station: str
    start: datetime
    end: datetime
    flags: dict[str, int]


def run(conn, station: str, *, start: datetime | None = None, end: datetime | None = None,
        rules: list[str] | None = None) -> QCResult:
    """Run QC rules over a station's readings in ``[start, end)`` (default: all its data).

    Each rule's earlier flags in the period are replaced by its new findings; its flags outside
    the period, and every other flag, stay as they were.
    """
    rules = list(rules or RULES)
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise StationlabError(f"unknown QC rule(s) {', '.join(unknown)}; rules: "
                              f"{', '.join(RULES)}")
    meta = catalog.require_station(conn, station)
    channels = storage.catalog.channel_table(conn, station).filter(
        (pl.col("kind") == "number") & pl.col("measurement_point_id").is_not_null())
    ids = channels["channel_id"].to_list()
    span = storage.readings.readings_range(conn, ids, start, end)
    if span["ts_first"] is None:
        return QCResult(station, start, end, dict.fromkeys(rules, 0))
    shown = (start or span["ts_first"], end or span["ts_last"])
    # An open end means "everything before/after": earlier rule flags there are replaced too.
    start, end = start or EARLIEST, end or LATEST
    data = storage.clean.clean_readings(conn, ids, start, end, include_flagged=True)
    findings = evaluate(channels, data, storage.flags.qc_settings(conn, station), rules,
                        period=(None if start == EARLIEST else start,
                                None if end == LATEST else end))
    counts = dict.fromkeys(rules, 0)
    with storage.transaction(conn):
        for name in rules:
            rule = RULES[name]
            for old in storage.flags.take_rule_flags(conn, meta["station_id"], name, start, end):
                for lo, hi in ((old["ts_from"], min(old["ts_to"], start)),
                               (max(old["ts_from"], end), old["ts_to"])):
                    if lo < hi:  # the part outside the period stays
                        storage.flags.insert_flag(conn, **{**old, "ts_from": lo, "ts_to": hi},
                                            station_id=meta["station_id"], source="rule")
            for f in findings:
                if f.rule == name:
                    storage.flags.insert_flag(
                        conn, station_id=meta["station_id"], channel_id=f.channel_id,
                        measurement_point_id=f.measurement_point_id, ts_from=f.ts_from,
                        ts_to=f.ts_to, code=rule.code, reason=f.reason, author="stationlab qc",
                        source="rule", rule_name=name, rule_version=rule.version)
                    counts[name] += 1
    logger.info("QC %s [%s, %s): %s", station, *shown, counts)
    return QCResult(station, *shown, counts)
