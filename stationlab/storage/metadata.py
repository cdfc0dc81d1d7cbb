"""Station metadata from documents (IEA Task 43): replace a station's curated metadata, read it
back, and describe it for comparison.

Replacing keeps what readings and flags refer to: measurement points are matched by name and
channels by (point, statistic), so their ids stay; loggers are matched by serial number. The
periods (mounting arrangements, sensor installations, calibrations, measurement and logger
configurations) are replaced as a whole. A documented measurement point that a new document no
longer lists is removed, unless readings, conflicts or flags refer to it: then nothing changes.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from stationlab.errors import MetadataError
from stationlab.storage.db import queries as db_queries
from stationlab.storage.db import statements

queries = statements("metadata.sql")

_LOW, _HIGH = datetime.min.isoformat(), datetime.max.isoformat()


def stored_sha256(conn: psycopg.Connection, station: str) -> bytes | None:
    """The content address of the location a station's metadata was last imported from."""
    row = conn.execute(queries()["meta_document"], {"station": station}).fetchone()
    return bytes(row["sha256"]) if row else None


def documented_stations(conn: psycopg.Connection) -> list[str]:
    """Names of the stations whose metadata came from a document."""
    return [r["name"] for r in conn.execute(queries()["meta_stations"])]


def station_row(conn: psycopg.Connection, station: str) -> dict | None:
    """A station's row: station_id, name, station_type, latitude, longitude, elevation_m."""
    return conn.execute(queries()["meta_station"], {"station": station}).fetchone()


def file_loggers(conn: psycopg.Connection, station: str) -> list[dict]:
    """A station's loggers as its files describe them: logger_id, name, model, serial_number,
    utc_offset (the header's time zone where one was stated), ts_first (of its files)."""
    return conn.execute(queries()["meta_file_loggers"], {"station": station}).fetchall()


def file_columns(conn: psycopg.Connection, station: str) -> dict[int, str]:
    """The file column each channel of a station is read from, by channel_id."""
    return {r["channel_id"]: r["column_name"]
            for r in conn.execute(queries()["meta_file_columns"], {"station": station})}


def documented_loggers(conn: psycopg.Connection, station: str) -> list[dict]:
    """The loggers a station's document describes: logger_id, name, model, serial_number,
    utc_offset."""
    return conn.execute(queries()["meta_documented_loggers"],
                        {"station": station}).fetchall()


def replace_station(conn: psycopg.Connection, rows: dict) -> dict[str, int]:
    """Write one location's rows (see :func:`stationlab.metadata.iea43.location_rows`) over the
    station's curated metadata, in the caller's transaction. Returns counts of what it holds.

    Raises
    ------
    MetadataError
        If a measurement point the document drops still has readings, conflicts or flags.
    """
    q = queries()
    station = rows["station"]
    station_id = conn.execute(q["meta_station_upsert"], {
        **station, "iea43": Jsonb(station["iea43"])}).fetchone()["station_id"]
    conn.execute(q["meta_document_upsert"], {
        "station_id": station_id, "version": str(rows["fields"].get("version")),
        "fields": Jsonb(rows["fields"]), "sha256": rows["sha256"]})
    ids = {"station_id": station_id}
    conn.execute(q["meta_clear_configs"], ids)
    conn.execute(q["meta_clear_mountings"], ids)
    old_sensors = [r["sensor_id"] for r in conn.execute(q["meta_clear_installations"], ids)]
    conn.execute(q["meta_clear_logger_main_configs"], ids)
    old_points = {r["name"]: r["measurement_point_id"]
                  for r in conn.execute(q["meta_documented_points"], ids)}
    loggers = _write_loggers(conn, station_id, rows["loggers"])
    sensor_ids = _write_sensors(conn, rows["sensors"], old_sensors)
    counts = {"loggers": len(loggers), "points": 0, "logger_configs": 0, "sensors": len(sensor_ids),
              "calibrations": sum(len(s["calibrations"]) for s in rows["sensors"])}
    for point in rows["points"]:
        point_id = conn.execute(q["meta_point_upsert"], {
            **point, "station_id": station_id, "iea43": Jsonb(point["iea43"])}
        ).fetchone()["measurement_point_id"]
        old_points.pop(point["name"], None)
        counts["points"] += 1
        for mounting in point["mountings"]:
            conn.execute(q["meta_mounting_insert"], {
                **mounting, "measurement_point_id": point_id, "iea43": Jsonb(mounting["iea43"])})
        for installation in point["installations"]:
            conn.execute(q["meta_installation_insert"], {
                "sensor_id": installation["sensor"]["sensor_id"],
                "measurement_point_id": point_id, "valid_from": installation["valid_from"],
                "valid_to": installation["valid_to"], "iea43": Jsonb(installation["iea43"])})
        for config in point["configs"]:
            counts["logger_configs"] += _write_config(conn, station_id, point_id, point, config,
                                                      loggers)
    conn.execute(q["meta_drop_unused_sensors"], {"sensor_ids": old_sensors})
    for name, point_id in old_points.items():
        if conn.execute(q["meta_point_in_use"], {"measurement_point_id": point_id}
                        ).fetchone()["in_use"]:
            raise MetadataError(
                f"the document no longer lists measurement point {name!r} of station "
                f"{station['name']!r}, but readings or flags refer to it; keep it in the "
                "document (its configurations can end on a date) and import again")
        for step in ("meta_point_delete_configs", "meta_point_delete_channels",
                     "meta_point_delete"):
            conn.execute(q[step], {"measurement_point_id": point_id})
    return counts


def _write_loggers(conn, station_id: int, loggers: list[dict]) -> list[tuple]:
    """Find (by serial number) or create each logger; returns (logger id, its main-configuration
    periods, how far its stamps lie after the start of their interval)."""
    q = queries()
    written = []
    for logger in loggers:
        params = {**logger, "station_id": station_id}
        row = conn.execute(q["meta_logger_find"], params).fetchone()
        if row:
            logger_id = row["logger_id"]
            conn.execute(q["meta_logger_update"], {**params, "logger_id": logger_id})
        else:
            logger_id = conn.execute(q["meta_logger_insert"], params).fetchone()["logger_id"]
        for config in logger["configs"]:
            conn.execute(q["meta_logger_main_config_insert"], {
                **config, "logger_id": logger_id, "iea43": Jsonb(config["iea43"])})
        written.append((logger_id, [(c["valid_from"], c["valid_to"]) for c in logger["configs"]],
                        logger["stamp_shift"]))
    if written:  # curated metadata replaces what earlier file headers guessed
        conn.execute(q["meta_drop_header_configs"], {"logger_ids": [w[0] for w in written]})
    return written


def _write_sensors(conn, sensors: list[dict], old_sensors: list[int]) -> list[int]:
    """Find or create each sensor; replace the calibrations of these and the former sensors."""
    q = queries()
    for sensor in sensors:
        sensor["sensor_id"] = conn.execute(q["meta_sensor_upsert"], sensor).fetchone()["sensor_id"]
    ids = [s["sensor_id"] for s in sensors]
    conn.execute(q["meta_clear_calibrations"], {"sensor_ids": sorted(set(ids + old_sensors))})
    for sensor in sensors:
        for calibration in sensor["calibrations"]:
            conn.execute(q["meta_calibration_insert"], {
                **calibration, "sensor_id": sensor["sensor_id"],
                "iea43": Jsonb(calibration["iea43"])})
    return ids


def _write_config(conn, station_id: int, point_id: int, point: dict, config: dict,
                  loggers: list[tuple]) -> int:
    """One logger measurement configuration and its logger_configs rows: one per column and
    logger whose documented periods meet the configuration's, moved to stored stamps (start of
    interval). Ignored columns get none (their readings become unassigned channels)."""
    q = queries()
    config_id = conn.execute(q["meta_measurement_config_insert"], {
        **config, "measurement_point_id": point_id, "columns": Jsonb(config["columns"]),
        "iea43": Jsonb(config["iea43"])}).fetchone()["measurement_config_id"]
    start, end = _iso(config["valid_from"], _LOW), _iso(config["valid_to"], _HIGH)
    meeting = [(logger_id, shift) for logger_id, periods, shift in loggers
               if any(_iso(a, _LOW) < end and start < _iso(b, _HIGH) for a, b in periods)]
    n = 0
    for column in config["columns"]:
        if column.get("is_ignored"):
            continue
        channel_id = conn.execute(db_queries("catalog.sql")["channel_for_point"], {
            "station_id": station_id, "measurement_point_id": point_id,
            "statistic": column.get("statistic_type_id"), "kind": "number",
            "unit": config["unit"] or point["unit"]}).fetchone()["channel_id"]
        for logger_id, shift in meeting:  # periods in stored stamps: start of interval
            conn.execute(q["meta_logger_config_insert"], {
                "logger_id": logger_id, "column_name": column["column_name"],
                "channel_id": channel_id,
                "slope": 1.0 if config["slope"] is None else config["slope"],
                "offset": config["offset"] or 0.0,
                "valid_from": config["valid_from"] and config["valid_from"] - shift,
                "valid_to": config["valid_to"] and config["valid_to"] - shift,
                "measurement_config_id": config_id})
            n += 1
    return n


def _iso(stamp: datetime | None, default: str) -> str:
    """Comparable text of a UTC stamp (open ends as the extremes)."""
    return default if stamp is None else stamp.replace(tzinfo=None).isoformat()


def load_station(conn: psycopg.Connection, station: str) -> dict | None:
    """A station's documented metadata, shaped as
    :func:`stationlab.metadata.iea43.location_document` reads it; ``None`` if it has none."""
    q = queries()
    document = conn.execute(q["meta_document"], {"station": station}).fetchone()
    if document is None:
        return None
    ids = {"station_id": document["station_id"]}
    loggers: dict[int, dict] = {}
    for row in conn.execute(q["meta_read_main_configs"], ids):
        loggers.setdefault(row["logger_id"], {"configs": []})["configs"].append(row)
    calibrations: dict[int, list] = {}
    for row in conn.execute(q["meta_read_calibrations"], ids):
        calibrations.setdefault(row["sensor_id"], []).append(row)
    points = {}
    for row in conn.execute(q["meta_read_points"], ids):
        points[row["measurement_point_id"]] = {**row, "mountings": [], "installations": [],
                                               "configs": []}
    for row in conn.execute(q["meta_read_mountings"], ids):
        points[row["measurement_point_id"]]["mountings"].append(row)
    for row in conn.execute(q["meta_read_installations"], ids):
        row["sensor"] = {**row, "calibrations": calibrations.get(row["sensor_id"], [])}
        points[row["measurement_point_id"]]["installations"].append(row)
    for row in conn.execute(q["meta_read_measurement_configs"], ids):
        points[row["measurement_point_id"]]["configs"].append(row)
    return {"station": conn.execute(q["meta_station"], {"station": station}).fetchone(),
            "fields": document["fields"], "version": document["version"],
            "loggers": list(loggers.values()), "points": list(points.values())}


def describe_station(conn: psycopg.Connection, station: str) -> dict[str, list]:
    """A station's metadata as the database holds it, without the ids of replaceable rows
    (channel and logger ids, which readings and files refer to, are kept): equal descriptions
    mean the same metadata."""
    meta = load_station(conn, station)
    if meta is None:
        return {}
    q = queries()
    ids = {"station_id": meta["station"]["station_id"]}

    def strip(row: dict, *keys: str) -> dict:
        return {k: v for k, v in row.items() if k not in keys}

    points = [strip(p, "mountings", "installations", "configs") for p in meta["points"]]
    return {
        "station": [meta["station"]], "document": [{"version": meta["version"],
                                                    "fields": meta["fields"]}],
        "logger_main_configs": [strip(c, "id") for c in
                                conn.execute(q["meta_read_main_configs"], ids)],
        "points": points,
        "mountings": [strip(m, "measurement_point_id") | {"point": p["name"]}
                      for p in meta["points"] for m in p["mountings"]],
        "installations": [strip(i, "measurement_point_id", "sensor_id", "sensor")
                          | {"point": p["name"]} for p in meta["points"]
                          for i in p["installations"]],
        "calibrations": [strip(c, "sensor_id") | {"sensor": (i["oem"], i["model"],
                                                             i["serial_number"])}
                         for p in meta["points"] for i in p["installations"]
                         for c in i["sensor"]["calibrations"]],
        "measurement_configs": [strip(c, "measurement_point_id") | {"point": p["name"]}
                                for p in meta["points"] for c in p["configs"]],
        "channels": conn.execute(q["meta_read_channels"], ids).fetchall(),
        "logger_configs": conn.execute(q["meta_read_logger_configs"], ids).fetchall(),
    }
