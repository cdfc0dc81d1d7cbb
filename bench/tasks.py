"""The measured tasks of ``bench/run``, each run in a child process of ``measure`` so its time and
peak memory are its own. Not product code: the floor and the naive ways are written here as a
person would write them.

    python bench/tasks.py measure -- CMD...        run CMD, print {"seconds", "peak_rss_mb"}
    python bench/tasks.py import-floor DSN FILE    server-side COPY of long binary readings
    python bench/tasks.py export-floor DSN         COPY (SELECT ...) TO STDOUT (FORMAT binary)
    python bench/tasks.py import-naive DSN FILE    pandas read_csv + melt + to_sql
    python bench/tasks.py export-naive DSN OUT     pandas read_sql + pivot + to_csv
    python bench/tasks.py channel-read DSN N       stationlab.storage.readings.read_channel x N
    python bench/tasks.py timescaledb-size FILE    readings of FILE in TimescaleDB, compressed
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


def export_floor(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        ids = [r[0] for r in conn.execute("SELECT channel_id FROM channels WHERE kind = 'number'")]
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


def timescaledb_size(path: str) -> None:
    """Load the readings of a TOA5 file into TimescaleDB (PostgreSQL 17 + TimescaleDB 2.23 in
    WebAssembly, the test server of tests/timescaledb), compress every chunk and print the
    readings table's size before and after. [bytes]

    The WebAssembly build has no COPY: the readings go in as batches of ``INSERT ... unnest``.
    """
    import tempfile
    from pathlib import Path

    import polars as pl

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from stationlab import parse, standardise, storage
    from tests.test_timescaledb import _Server

    parsed = parse.read_file(path)
    columns = [c.name for c in standardise.stored_columns(parsed)]
    stamp = pl.Datetime("us", "UTC")
    configs = pl.DataFrame(
        {"column_name": columns, "channel_id": range(1, len(columns) + 1),
         "valid_from": None, "valid_to": None},
        schema={"column_name": pl.String, "channel_id": pl.Int32, "valid_from": stamp,
                "valid_to": stamp})
    server = _Server(Path(tempfile.mkdtemp()) / "timescaledb.stderr")
    try:
        dsn = server.wait_ready()
        with storage.connect(dsn, autocommit=True, check=False) as conn:
            storage.migrate(conn)
            readings = 0
            for month in standardise.readings_by_month(parsed, configs):
                for batch in month.iter_slices(100_000):
                    conn.execute("INSERT INTO readings SELECT * FROM unnest(%s::int[], "
                                 "%s::timestamptz[], %s::float8[])", (
                                     batch["channel_id"].to_list(), batch["ts"].to_list(),
                                     batch["value"].to_list()))
                readings += month.height
            size = ("SELECT total_bytes FROM hypertable_detailed_size('readings')")
            before = conn.execute(size).fetchone()["total_bytes"]
            chunks = conn.execute("SELECT count(compress_chunk(c)) AS n "
                                  "FROM show_chunks('readings') c").fetchone()["n"]
            stats = conn.execute(
                "SELECT before_compression_total_bytes AS before, "
                "after_compression_total_bytes AS after "
                "FROM hypertable_compression_stats('readings')").fetchone()
            after = conn.execute(size).fetchone()["total_bytes"]
    finally:
        server.stop()
    print(json.dumps({"readings": readings, "chunks": chunks, "bytes_before": before,
                      "bytes_after": after, "stats_before": stats["before"],
                      "stats_after": stats["after"]}))


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
    elif task == "timescaledb-size":
        timescaledb_size(args[0])
    elif task == "channel-read":
        channel_read(args[0], int(args[1]))
    else:
        sys.exit(f"unknown task {task!r}")


if __name__ == "__main__":
    main()
