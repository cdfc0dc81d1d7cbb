"""IEA Task 43 WRA data model documents: validation, and the mapping to and from station metadata.

A document's ``measurement_location[]`` become stations; their ``logger_main_config[]`` loggers
(one row per physical logger, one period per entry), ``measurement_point[]`` measurement points
with their mounting arrangements, sensor installations (sensors and calibrations) and logger
measurement configurations (the file columns, with statistic, slope, offset and period).

Each object's fields that no column holds exactly are kept beside the row (the ``iea43`` jsonb
columns), so that :func:`location_document` writes the document back: a field a column holds is
written from the column, everything else as it was imported.

Dates without an offset are in the logger's time zone (as the data model asks): the location's
first logger that states ``offset_from_utc_hrs``, else UTC. ``date_to`` ends a period (exclusive),
``null`` leaves it open.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import jsonschema

from stationlab.errors import MetadataError

#: Data model version (major, minor) -> bundled schema file (see ``schemas/PROVENANCE.md``).
SCHEMAS = {(1, 0): "iea43_wra_data_model.schema_v1_0.json",
           (1, 2): "iea43_wra_data_model.schema_v1_2.json",
           (1, 3): "iea43_wra_data_model.schema_v1_3.json"}
VERSION = re.compile(r"^(\d+)\.(\d+)\.")
ABSENT = "_absent"  # extra-field key listing the fields the document did not have

#: Per object: document field -> (row column, how it is converted).
STATION_FIELDS = {"name": ("name", "value"), "latitude_ddeg": ("latitude", "value"),
                  "longitude_ddeg": ("longitude", "value"),
                  "measurement_station_type_id": ("station_type", "other")}
LOGGER_FIELDS = {"date_from": ("valid_from", "from"), "date_to": ("valid_to", "to")}
POINT_FIELDS = {"name": ("name", "value"), "measurement_type_id": ("measurement_type", "other"),
                "height_m": ("height_m", "value")}
MOUNTING_FIELDS = {"boom_orientation_deg": ("boom_orientation_deg", "value"),
                   "vane_dead_band_orientation_deg": ("vane_dead_band_orientation_deg", "value"),
                   "orientation_reference_id": ("orientation_reference", "value"),
                   "date_from": ("valid_from", "from"), "date_to": ("valid_to", "to")}
SENSOR_FIELDS = {"oem": ("oem", "text"), "model": ("model", "text"),
                 "serial_number": ("serial_number", "text"),
                 "sensor_type_id": ("sensor_type", "type"),
                 "date_from": ("valid_from", "from"), "date_to": ("valid_to", "to")}
CALIBRATION_FIELDS = {"slope": ("slope", "value"), "offset": ("offset", "zero"),
                      "date_of_calibration": ("calibration_date", "date"),
                      "place_of_calibration": ("place_of_calibration", "value"),
                      "report_file_name": ("certificate", "value")}
CONFIG_FIELDS = {"slope": ("slope", "value"), "offset": ("offset", "value"),
                 "measurement_units_id": ("unit", "value"),
                 "date_from": ("valid_from", "from"), "date_to": ("valid_to", "to")}


@functools.cache
def schema(key: tuple[int, int]) -> dict:
    """The bundled JSON schema of a data model version ``(major, minor)``."""
    folder = importlib.resources.files("stationlab.metadata").joinpath("schemas")
    return json.loads(folder.joinpath(SCHEMAS[key]).read_text())


def schema_key(document: Any, source: str) -> tuple[int, int]:
    """Which schema validates ``document``, from its ``version`` field."""
    version = document.get("version") if isinstance(document, dict) else None
    match = VERSION.match(version) if isinstance(version, str) else None
    key = (int(match[1]), int(match[2])) if match else None
    if key not in SCHEMAS:
        known = ", ".join(f"{a}.{b}" for a, b in SCHEMAS)
        raise MetadataError(f"{source}: data model version {version!r} is not one stationlab "
                            f"knows ({known})", [("$.version", "unknown data model version")])
    return key


def validate(document: Any, source: str = "<document>") -> tuple[int, int]:
    """Validate a document against the schema of its version; returns that version.

    Raises
    ------
    MetadataError
        Listing every violation with its JSON path (a missing property is named in its path).
    """
    key = schema_key(document, source)
    validator = jsonschema.Draft7Validator(schema(key))
    violations = []
    for error in validator.iter_errors(document):
        path = error.json_path
        if error.validator == "required":
            missing = re.match(r"'(.*)' is a required property", error.message)
            path = f"{path}.{missing[1]}" if missing else path
        violations.append((path, error.message))
    if violations:
        version = ".".join(map(str, key))
        raise MetadataError(f"{source} is not a valid IEA Task 43 WRA data model {version} "
                            f"document ({len(violations)} violations)", sorted(violations))
    return key


def read_document(data: bytes, source: str) -> dict:
    """Parse a document's JSON text (without validating it)."""
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{source}: not UTF-8 text ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{source}: not JSON: {exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno}") from exc


def location_sha256(fields: dict, location: dict) -> bytes:
    """A content address of one location with its document's top-level fields."""
    text = json.dumps({"fields": fields, "location": location}, sort_keys=True)
    return hashlib.sha256(text.encode()).digest()


class _Dates:
    """Document dates <-> UTC timestamps at the location's fixed offset."""

    def __init__(self, offset_hours: float | None) -> None:
        self.tz = timezone(timedelta(hours=offset_hours or 0))
        self.errors: list[tuple[str, str]] = []

    def encode(self, kind: str, value: Any, path: str) -> Any:
        if kind in ("value", "type"):
            return value
        if kind in ("zero", "other"):  # columns that are NOT NULL
            return ({"zero": 0, "other": "other"}[kind] if value is None else value)
        if kind == "text":
            return value or ""
        if value is None:
            return None
        try:
            if kind == "date":
                return date.fromisoformat(value)
            stamp = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            self.errors.append((path, f"{value!r} is not an ISO 8601 date"))
            return None
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=self.tz)).astimezone(UTC)

    def decode(self, kind: str, value: Any) -> Any:
        if kind == "text":
            return value or None
        if value is None or kind in ("value", "type", "zero", "other"):
            return value
        if kind == "date":
            return value.isoformat()
        local = value.astimezone(self.tz).replace(tzinfo=None)
        return local.isoformat(timespec="microseconds" if local.microsecond else "seconds")


def _split(obj: dict, fields: dict, dates: _Dates, path: str,
           nested: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """A document object -> (row values, extra fields the row does not hold exactly)."""
    row, extra, absent = {}, {}, []
    for key, (column, kind) in fields.items():
        if key not in obj:
            absent.append(key)
            row[column] = dates.encode(kind, None, f"{path}.{key}")
            continue
        row[column] = dates.encode(kind, obj[key], f"{path}.{key}")
        if kind != "type" and dates.decode(kind, row[column]) != obj[key]:
            extra[key] = obj[key]
    for key, value in obj.items():
        if key in nested:
            if value is None:
                extra[key] = None
        elif key not in fields:
            extra[key] = value
    absent += [key for key in nested if key not in obj]
    if absent:
        extra[ABSENT] = absent
    return row, extra


def _join(row: dict, extra: dict | None, fields: dict, dates: _Dates,
          nested: dict[str, list] | None = None) -> dict:
    """(row values, extra fields) -> the document object."""
    extra = dict(extra or {})
    absent = set(extra.pop(ABSENT, ()))
    obj = {key: dates.decode(kind, row[column]) for key, (column, kind) in fields.items()}
    obj.update((nested or {}).items())
    obj.update(extra)
    return {key: value for key, value in obj.items() if key not in absent}


def _sensor_key(sensor: dict, path: str) -> tuple:
    serial = sensor.get("serial_number") or ""
    if not serial:
        return ("", "", "", path)  # no serial number: a sensor of its own
    return (sensor.get("oem") or "", sensor.get("model") or "", serial)


def location_rows(fields: dict, location: dict, path: str) -> dict:
    """One measurement location -> the rows of its station metadata.

    Raises
    ------
    MetadataError
        For what the schema allows but the tables cannot hold: dates that are not dates,
        overlapping periods of one column, two calibrations of a sensor on one date.
    """
    main_configs = location.get("logger_main_config") or []
    offset = next((c["offset_from_utc_hrs"] for c in main_configs
                   if c.get("offset_from_utc_hrs") is not None), None)
    dates = _Dates(offset)
    station, extra = _split(location, STATION_FIELDS, dates, path,
                            ("logger_main_config", "measurement_point"))
    station["iea43"] = extra
    loggers = _loggers(main_configs, dates, f"{path}.logger_main_config")
    sensors: dict[tuple, dict] = {}
    points, seen = [], {}
    for i, point in enumerate(location.get("measurement_point") or []):
        points.append(_point(point, dates, f"{path}.measurement_point[{i}]", sensors, seen))
    for sensor in sensors.values():
        sensor["calibrations"] = _calibration_periods(sensor["calibrations"], dates)
    violations = dates.errors + _overlapping_columns(points)
    if violations:
        raise MetadataError(f"location {location.get('name')!r} cannot be stored "
                            f"({len(violations)} problems)", violations)
    return {"station": station, "loggers": loggers, "points": points,
            "sensors": list(sensors.values()), "fields": fields,
            "sha256": location_sha256(fields, location)}


def _loggers(main_configs: list[dict], dates: _Dates, path: str) -> list[dict]:
    """Physical loggers (model + serial number; each unnumbered one apart), with their periods."""
    loggers: dict[tuple, dict] = {}
    for i, config in enumerate(main_configs):
        serial = config.get("logger_serial_number") or ""
        model = config.get("logger_model_name") or ""
        name = config.get("logger_name") or config.get("logger_id") or model or f"logger {i + 1}"
        key = (model, serial) if serial else (model, serial, i)
        logger = loggers.setdefault(key, {"model": model, "serial_number": serial, "name": name,
                                          "utc_offset": timedelta(0), "configs": []})
        row, extra = _split(config, LOGGER_FIELDS, dates, f"{path}[{i}]")
        if config.get("offset_from_utc_hrs") is not None:
            logger["utc_offset"] = timedelta(hours=config["offset_from_utc_hrs"])
        logger["stamp_shift"] = _stamp_shift(config)
        logger["configs"].append({**row, "iea43": extra})
    return list(loggers.values())


def _stamp_shift(config: dict) -> timedelta:
    """How far the logger's stamps lie after the start of their interval.

    Document dates refer to the stamps as the logger writes them; stationlab stores the start
    of each interval. A logger that stamps the end (``timestamp_is_end_of_period``, or a
    Campbell Scientific logger that does not say, as they all do) has its column periods moved
    back by its averaging period.
    """
    end = config.get("timestamp_is_end_of_period")
    if end is None:
        end = config.get("logger_oem_id") == "Campbell Scientific"
    minutes = config.get("averaging_period_minutes")
    return timedelta(minutes=minutes) if end and minutes else timedelta(0)


def _point(point: dict, dates: _Dates, path: str, sensors: dict, seen: dict) -> dict:
    row, extra = _split(point, POINT_FIELDS, dates, path,
                        ("mounting_arrangement", "sensor", "logger_measurement_config"))
    name = row["name"] or "unnamed"
    seen[name] = seen.get(name, 0) + 1
    if seen[name] > 1:  # point names are unique per station: the second gets a number
        row["name"] = f"{name} ({seen[name]})"
        extra["name"] = point["name"]
    mountings = []
    for i, mounting in enumerate(point.get("mounting_arrangement") or []):
        m_row, m_extra = _split(mounting, MOUNTING_FIELDS, dates,
                                f"{path}.mounting_arrangement[{i}]")
        mountings.append({**m_row, "iea43": m_extra})
    # The orientation of the point: the boom of its latest mounting arrangement. [deg]
    oriented = [m for m in mountings if m["boom_orientation_deg"] is not None]
    latest = max(oriented, key=lambda m: m["valid_from"] or datetime.min.replace(tzinfo=UTC),
                 default=None)
    row["orientation_deg"] = latest["boom_orientation_deg"] % 360 if latest else None
    installations = []
    for i, sensor in enumerate(point.get("sensor") or []):
        s_path = f"{path}.sensor[{i}]"
        s_row, s_extra = _split(sensor, SENSOR_FIELDS, dates, s_path, ("calibration",))
        group = sensors.setdefault(_sensor_key(sensor, s_path), {
            "oem": s_row["oem"], "model": s_row["model"], "serial_number": s_row["serial_number"],
            "sensor_type": sensor.get("sensor_type_id") or "other", "calibrations": []})
        if sensor.get("sensor_type_id") != group["sensor_type"]:
            s_extra["sensor_type_id"] = sensor.get("sensor_type_id")
        for j, calibration in enumerate(sensor.get("calibration") or []):
            c_row, c_extra = _split(calibration, CALIBRATION_FIELDS, dates,
                                    f"{s_path}.calibration[{j}]")
            group["calibrations"].append({**c_row, "iea43": c_extra,
                                          "path": f"{s_path}.calibration[{j}]"})
        installations.append({"sensor": group, "valid_from": s_row["valid_from"],
                              "valid_to": s_row["valid_to"], "iea43": s_extra})
    configs = []
    for i, config in enumerate(point.get("logger_measurement_config") or []):
        c_path = f"{path}.logger_measurement_config[{i}]"
        c_row, c_extra = _split(config, CONFIG_FIELDS, dates, c_path, ("column_name",))
        configs.append({**c_row, "columns": config.get("column_name") or [], "iea43": c_extra,
                        "path": c_path})
    units = [c["unit"] for c in configs if c["unit"]]
    return {**row, "unit": units[-1] if units else None, "iea43": extra,
            "mountings": mountings, "installations": installations, "configs": configs}


def _calibration_periods(calibrations: list[dict], dates: _Dates) -> list[dict]:
    """A sensor's distinct calibrations, each valid from its date to the next one's."""
    distinct = {}
    for calibration in calibrations:
        key = json.dumps({k: v for k, v in calibration.items() if k != "path"}, sort_keys=True,
                         default=str)
        distinct.setdefault(key, calibration)
    ordered = sorted(distinct.values(), key=lambda c: (c["calibration_date"] is not None,
                                                       c["calibration_date"] or date.min))
    for previous, current in zip(ordered, ordered[1:], strict=False):
        if current["calibration_date"] is None or (
                current["calibration_date"] == previous["calibration_date"]):
            dates.errors.append((current["path"], "a second calibration of the same sensor "
                                 f"without a later date than {previous['path']}"))
    for i, calibration in enumerate(ordered):
        calibration["valid_from"] = None if i == 0 else _midnight(calibration, dates)
        calibration["valid_to"] = (_midnight(ordered[i + 1], dates) if i + 1 < len(ordered)
                                   else None)
    return ordered


def _midnight(calibration: dict, dates: _Dates) -> datetime | None:
    day = calibration["calibration_date"]
    return None if day is None else datetime(day.year, day.month, day.day,
                                             tzinfo=dates.tz).astimezone(UTC)


def _overlapping_columns(points: list[dict]) -> list[tuple[str, str]]:
    """Two configurations of the same file column whose periods overlap: both named."""
    periods: dict[str, list] = {}
    for point in points:
        for config in point["configs"]:
            for column in config["columns"]:
                if column.get("is_ignored"):
                    continue
                periods.setdefault(column["column_name"], []).append(config)
    low, high = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    problems = []
    for name, configs in periods.items():
        for i, a in enumerate(configs):
            for b in configs[i + 1:]:
                if (a["valid_from"] or low) < (b["valid_to"] or high) and \
                        (b["valid_from"] or low) < (a["valid_to"] or high):
                    problems.append((b["path"], f"column {name!r} is configured for "
                                     f"{_period(b)} here and for {_period(a)} at {a['path']}: "
                                     "the periods overlap"))
    return problems


def _period(config: dict) -> str:
    def show(stamp, open_end):
        return open_end if stamp is None else f"{stamp:%Y-%m-%d %H:%M} UTC"
    start, end = show(config["valid_from"], "the beginning"), show(config["valid_to"], "open end")
    return f"[{start}, {end})"


def location_document(meta: dict) -> dict:
    """Station metadata as stored (see :func:`stationlab.storage.metadata.load_station`) -> the
    document of one measurement location, with its top-level fields."""
    main = [c for logger in meta["loggers"] for c in logger["configs"]]
    main.sort(key=lambda c: c["id"])
    offset = next((c["iea43"]["offset_from_utc_hrs"] for c in main
                   if (c["iea43"] or {}).get("offset_from_utc_hrs") is not None), None)
    dates = _Dates(offset)
    points = []
    for point in meta["points"]:
        points.append(_join(point, point["iea43"], POINT_FIELDS, dates, {
            "mounting_arrangement": [_join(m, m["iea43"], MOUNTING_FIELDS, dates)
                                     for m in point["mountings"]],
            "sensor": [_installation_document(i, dates) for i in point["installations"]],
            "logger_measurement_config": [
                _join(c, c["iea43"], CONFIG_FIELDS, dates, {"column_name": c["columns"]})
                for c in point["configs"]],
        }))
    location = _join(meta["station"], meta["station"]["iea43"], STATION_FIELDS, dates, {
        "logger_main_config": [_join(c, c["iea43"], LOGGER_FIELDS, dates) for c in main],
        "measurement_point": points})
    return {**meta["fields"], "measurement_location": [location]}


def _installation_document(installation: dict, dates: _Dates) -> dict:
    sensor = installation["sensor"]
    row = {**sensor, "valid_from": installation["valid_from"],
           "valid_to": installation["valid_to"]}
    calibrations = [_join(c, c["iea43"], CALIBRATION_FIELDS, dates)
                    for c in sensor["calibrations"]]
    return _join(row, installation["iea43"], SENSOR_FIELDS, dates, {"calibration": calibrations})


#: The data model version a document made from files follows.
FILE_DOCUMENT_VERSION = "1.3.0-2024.03"
#: Logger models' makers, for ``logger_oem_id`` (others are ``Other``).
LOGGER_OEMS = (("symphonie", "NRG Systems"), ("logr", "NRG Systems"), ("nrg", "NRG Systems"),
               ("cr", "Campbell Scientific"), ("meteo", "Ammonit"), ("orbit", "Kintech"),
               ("windcube", "Leosphere"), ("zx", "ZX Lidars"))


def file_document(station: dict, loggers: list[dict], channels: Any, columns: dict[int, str],
                  today: date | None = None) -> dict:
    """The document of a station known only from its files: its name and site (latitude,
    longitude), its loggers (maker, model, serial number, the time zone their headers state) and
    one measurement point per stored point, with the file columns of each statistic.

    Dates are the first stamp of each logger's files, in the logger's time zone as the data model
    asks; the elevation a header states has no field in the data model and is not written. A
    measurement type the data model does not list (``solar_zenith_angle``) is written ``other``,
    with ``notes`` naming it.
    """
    measurement_types = set(schema(schema_key({"version": FILE_DOCUMENT_VERSION}, ""))
                            ["definitions"]["measurement_type"]["enum"])
    statistics = {"avg", "sd", "max", "min", "count", "sum", "median", "gust", "ti"}

    def local(stamp: datetime | None, offset: timedelta) -> str:
        stamp = stamp or datetime(1970, 1, 1, tzinfo=UTC)
        return (stamp.astimezone(UTC) + offset).replace(tzinfo=None).isoformat(timespec="seconds")

    offset = next((lg["utc_offset"] for lg in loggers if lg["utc_offset"]), timedelta(0))
    first = min((lg["ts_first"] for lg in loggers if lg["ts_first"]), default=None)
    main = []
    for lg in loggers:
        model = (lg["model"] or "").lower()
        oem = next((o for key, o in LOGGER_OEMS if model.startswith(key)), "Other")
        main.append({"logger_oem_id": oem, "logger_model_name": lg["model"] or None,
                     "logger_serial_number": lg["serial_number"] or lg["name"],
                     "logger_name": lg["name"],
                     "offset_from_utc_hrs": (lg["utc_offset"] or timedelta(0)) / timedelta(hours=1),
                     "date_from": local(lg["ts_first"], lg["utc_offset"] or timedelta(0)),
                     "date_to": None})
    points: dict[str, dict] = {}
    for channel in channels.iter_rows(named=True):
        column = columns.get(channel["channel_id"])
        if channel["point_name"] is None or channel["kind"] != "number" or not column:
            continue
        known = channel["measurement_type"] in measurement_types
        point = points.setdefault(channel["point_name"], {
            "name": channel["point_name"],
            "measurement_type_id": channel["measurement_type"] if known else "other",
            "height_m": channel["height_m"],
            "logger_measurement_config": [{"date_from": local(first, offset), "date_to": None,
                                           "column_name": []}]})
        if not known:  # the data model has no such type: say which, where a reader looks
            point["notes"] = f"measurement type: {channel['measurement_type']}"
        statistic = channel["statistic"] if channel["statistic"] in statistics else "avg"
        point["logger_measurement_config"][0]["column_name"].append(
            {"column_name": column, "statistic_type_id": statistic})
    location = {"name": station["name"], "latitude_ddeg": station["latitude"],
                "longitude_ddeg": station["longitude"],
                "measurement_station_type_id": station.get("station_type") or "mast",
                "logger_main_config": main, "measurement_point": list(points.values())}
    return {"author": "stationlab", "organisation": "stationlab",
            "date": (today or datetime.now(UTC).date()).isoformat(),
            "version": FILE_DOCUMENT_VERSION, "measurement_location": [location]}
