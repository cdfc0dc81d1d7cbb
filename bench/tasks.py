"""The measured tasks of ``bench/run``, each run in a child process of ``measure`` so its time and
peak memory are its own. Not product code: the floor and the naive ways are written here as a
person would write them.

    python bench/tasks.py measure -- CMD...        run CMD, print {"seconds", "peak_rss_mb"}
    python bench/tasks.py import-floor DSN FILE    server-side COPY of long binary readings
    python bench/tasks.py export-floor DSN [ST]    COPY (SELECT ...) TO STDOUT (FORMAT binary)
    python bench/tasks.py import-naive DSN FILE    pandas read_csv + melt + to_sql
    python bench/tasks.py export-naive DSN OUT     pandas read_sql + pivot + to_csv
    python bench/tasks.py channel-read DSN N       stationlab.storage.readings.read_channel x N
    python bench/tasks.py clean-read DSN N         Station.readings(one channel, one month, clean)
    python bench/tasks.py recovery DSN N           Station.recovery() x N
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta


def measure(command: list[str]) -> None:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB -> MiB
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak}))


def import_floor(dsn: str, path: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT ensure_readings_partitions('2019-01-01', '2025-12-31')")
        with conn.transaction():
            conn.execute("COPY readings FROM %s (FORMAT binary)".replace("%s", _literal(path)))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_floor(dsn: str, station: str | None = None) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT channel_id FROM channels c JOIN stations s USING (station_id) "
            "WHERE kind = 'number' AND (%(s)s::text IS NULL OR s.name = %(s)s)", {"s": station})]
        with conn.cursor().copy("COPY (SELECT channel_id, ts, value FROM readings WHERE "
                                "channel_id = ANY(%s)) TO STDOUT (FORMAT binary)", (ids,)) as copy:
            for _ in copy:
                pass


def _engine(dsn: str):
    import sqlalchemy
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    url = sqlalchemy.engine.URL.create(
        "postgresql+psycopg", username=params.get("user"), password=params.get("password") or None,
        host=params.get("host"), port=params.get("port"), database=params.get("dbname"))
    return sqlalchemy.create_engine(url)


def import_naive(dsn: str, path: str) -> None:
    import pandas as pd

    frame = pd.read_csv(path, skiprows=[0, 2, 3], na_values=["NAN"])
    frame["ts"] = pd.to_datetime(frame.pop("TIMESTAMP")).dt.tz_localize("UTC") - pd.Timedelta(
        minutes=10)
    frame = frame.drop(columns=["RECORD"])
    frame.columns = ["ts" if c == "ts" else i + 1 for i, c in enumerate(frame.columns)]
    long = frame.melt(id_vars="ts", var_name="channel_id", value_name="value").dropna()
    engine = _engine(dsn)
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT ensure_readings_partitions('2019-01-01', '2025-12-31')")
    long[["channel_id", "ts", "value"]].to_sql("readings", engine, if_exists="append",
                                               index=False)


def export_naive(dsn: str, out: str) -> None:
    import pandas as pd

    long = pd.read_sql("SELECT channel_id, ts, value FROM readings", _engine(dsn))
    wide = long.pivot(index="ts", columns="channel_id", values="value").sort_index()
    wide.to_csv(out, sep="\t", date_format="%Y-%m-%d %H:%M")


def channel_read(dsn: str, count: int) -> None:
    """Time ``read_channel`` (the one function the clean-data work switches) on random channels
    and months; prints the per-call times. [ms]"""
    from stationlab import storage

    rng = random.Random(7)
    with storage.connect(dsn) as conn:
        ids = [r["channel_id"] for r in conn.execute("SELECT channel_id FROM channels")]
        span = storage.readings.readings_range(conn, ids, None, None)
        months = []
        month = span["ts_first"].replace(day=1, hour=0, minute=0)
        while month < span["ts_last"]:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        times, rows = [], []
        for i in range(count + 5):
            start = rng.choice(months)
            end = (start + timedelta(days=32)).replace(day=1)
            began = time.perf_counter()
            frame = storage.readings.read_channel(conn, rng.choice(ids), start, end)
            if i >= 5:  # the first calls warm the connection and the caches
                times.append((time.perf_counter() - began) * 1000)
                rows.append(frame.height)
    print(json.dumps({"ms": times, "median_rows": statistics.median(rows)}))


def _months(station) -> list:
    """The first day of every month the station has readings in."""
    import polars as pl

    first_channel = station.channels()["channel_id"][0]
    first, last = station.readings(channels=[first_channel], clean=False).select(
        pl.col("ts").min(), pl.col("ts").max().alias("last")).row(0)
    months, month = [], first.replace(day=1, hour=0, minute=0, second=0)
    while month < last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def clean_read(dsn: str, count: int) -> None:
    """Time ``Station.readings`` of one channel, one month, clean (calibrated, flags applied), on
    random channels and months, as a notebook asks; prints the per-call times. [ms]"""
    import stationlab

    rng = random.Random(11)
    with stationlab.connect(dsn) as client:
        station = client.station(client.stations()[0])
        ids = station.channels()["channel_id"].to_list()
        months = _months(station)
        times, rows = [], []
        for i in range(count + 5):
            start = rng.choice(months)
            end = (start + timedelta(days=32)).replace(day=1)
            began = time.perf_counter()
            frame = station.readings(channels=[rng.choice(ids)], start=start, end=end,
                                     clean=True)
            if i >= 5:
                times.append((time.perf_counter() - began) * 1000)
                rows.append(frame.height)
    print(json.dumps({"ms": times, "median_rows": statistics.median(rows)}))


def recovery(dsn: str, count: int) -> None:
    """Time ``Station.recovery()`` (every channel x month) right after an import. [ms]"""
    import stationlab

    with stationlab.connect(dsn) as client:
        station = client.station(client.stations()[0])
        times, rows = [], []
        for _ in range(count):
            began = time.perf_counter()
            frame = station.recovery()
            times.append((time.perf_counter() - began) * 1000)
            rows.append(frame.height)
    print(json.dumps({"ms": times, "median_rows": statistics.median(rows)}))


def main() -> None:
    task, *args = sys.argv[1:]
    if task == "measure":
        measure(args[1:] if args[:1] == ["--"] else args)
    elif task == "import-floor":
        import_floor(*args)
    elif task == "export-floor":
        export_floor(*args)
    elif task == "import-naive":
        import_naive(*args)
    elif task == "export-naive":
        export_naive(*args)
    elif task == "channel-read":
        channel_read(args[0], int(args[1]))
    elif task == "clean-read":
        clean_read(args[0], int(args[1]))
    elif task == "recovery":
        recovery(args[0], int(args[1]))
    else:
        sys.exit(f"unknown task {task!r}")


if __name__ == "__main__":
    main()
