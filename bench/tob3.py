"""20 Hz import rate: one day of 20 Hz data for 10 channels as a Campbell TOB3 file (written by
``tests/tob_writer.py`` from the documented layout), imported with ``stationlab import``, against
the floor of a server-side ``COPY`` of the same readings measured in the same run, and imported
with ``--stats 10min``. Appends (or replaces) its own section of bench/RESULTS.md.

    bench/tob3.py [--repeats N]

Starts its own embedded PostgreSQL (plain backend) like bench/run.py, unless STATIONLAB_DSN
names a server.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from run import (
    BENCH,
    PY,
    REPO,
    Bench,
    describe_machine,
    log,
    replace_section,
    start_server,
    stop_server,
)

sys.path.insert(0, str(REPO))
from tests.tob_writer import tob3_bytes  # noqa: E402

CHANNELS = 10
HZ = 20
DAY = datetime(2021, 6, 1, tzinfo=UTC)
TEMPLATE = "bench_tob3_template"
HEADING = "## 20 Hz Campbell TOB3 import (bench/tob3.py)"


def fresh(bench: Bench, name: str) -> str:
    """A fresh copy of the template, once the migration's last session has left it."""
    for _ in range(30):
        try:
            return bench.fresh(name, TEMPLATE)
        except psycopg.errors.ObjectInUse:
            time.sleep(1)
    return bench.fresh(name, TEMPLATE)


def day_file(path: Path) -> Path:
    """1,728,000 records of 10 FP2 fields, 40 records a frame (816-byte frames)."""
    if path.exists():
        return path
    count = 86_400 * HZ
    rng = np.random.default_rng(20)
    base = np.cumsum(rng.normal(0, 0.02, (CHANNELS, count)), axis=1)
    columns = [np.round(8 + b + rng.normal(0, 0.5, count), 2) for b in base]
    seconds = int((DAY - datetime(1990, 1, 1, tzinfo=UTC)).total_seconds())
    names = [f"U{i}" for i in range(CHANNELS)]
    path.write_bytes(tob3_bytes(names, columns, first_second=seconds, interval_ms=1000 // HZ,
                                per_frame=40, units=["m/s"] * CHANNELS))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    (BENCH / "data").mkdir(exist_ok=True)
    source = day_file(BENCH / "data" / "tob3_20hz_day.dat")
    work = Path(tempfile.mkdtemp(prefix="stationlab-bench-tob3-"))
    work.chmod(0o777)  # the server writes and reads the floor's COPY file here
    long_file = work / "long.bin"
    admin, env = start_server(work)
    cli = [PY, "-m", "stationlab"]
    try:
        bench = Bench(admin, work, env)
        machine = describe_machine(admin)
        template = bench.fresh(TEMPLATE, "template0")
        subprocess.run([*cli, "db", "migrate", "--backend", "plain"], env=dict(
            env, STATIONLAB_DSN=template), check=True, capture_output=True, cwd=REPO)
        counts = {}
        for repeat in range(args.repeats):
            log(f"repeat {repeat + 1} of {args.repeats}")
            dsn = fresh(bench, "bench_tob3_import")
            bench.run("import", [*cli, "import", str(source)], dsn)
            counts["readings"] = bench.sql(dsn, "SELECT count(*) FROM readings")[0][0]
            if not long_file.exists():
                bench.sql(dsn, sql.SQL("COPY (SELECT channel_id, ts, value FROM readings) TO {} "
                                       "(FORMAT binary)").format(sql.Literal(str(long_file))))
                long_file.chmod(0o644)
            bench.run("floor", [PY, str(BENCH / "tasks.py"), "import-floor",
                                fresh(bench, "bench_tob3_floor"), str(long_file)])
            dsn = fresh(bench, "bench_tob3_stats")
            bench.run("stats", [*cli, "import", str(source), "--stats", "10min"], dsn)
            counts["stats"] = bench.sql(dsn, "SELECT count(*) FROM readings")[0][0]
    finally:
        stop_server(env)
    write_section(args.out, bench, counts, machine, source)
    log(f"wrote {args.out}")


def write_section(out: Path, bench: Bench, counts: dict, machine: dict, source: Path) -> None:
    seconds = {k: statistics.median(r["seconds"] for r in v) for k, v in bench.results.items()}
    peak = {k: max(r["peak_rss_mb"] for r in v) for k, v in bench.results.items()}
    readings, stats = counts["readings"], counts["stats"]
    runs = len(bench.results["import"])
    lines = [
        HEADING, "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine.get('cpu', 'this machine')}"
        f", PostgreSQL {machine.get('postgres', '?')}, plain backend; median of {runs} run(s); "
        "the machine's 2 cores were shared with other work.",
        "",
        f"Source: one day of 20 Hz data for {CHANNELS} channels as a TOB3 file "
        f"({source.stat().st_size / 2**20:.0f} MiB; FP2 fields, 40 records a frame), written by "
        "`tests/tob_writer.py`: "
        f"{86_400 * HZ:,} records, {readings:,} readings.",
        "",
        "| what | seconds | readings/s | peak MB |",
        "|---|---:|---:|---:|",
        f"| `stationlab import` (parse, standardise, store every reading) | "
        f"{seconds['import']:.1f} | {readings / seconds['import']:,.0f} | "
        f"{peak['import']:.0f} |",
        f"| floor: server-side `COPY readings FROM` of the same readings (binary) | "
        f"{seconds['floor']:.1f} | {readings / seconds['floor']:,.0f} | {peak['floor']:.0f} |",
        f"| `stationlab import --stats 10min` ({stats:,} readings stored: 10 channels x 4 "
        f"statistics x 144 intervals) | {seconds['stats']:.1f} | "
        f"{readings / seconds['stats']:,.0f} samples read/s | {peak['stats']:.0f} |",
        "",
        f"The full import takes {seconds['import'] / seconds['floor']:.2f} x the floor's time (it "
        "loads a new month unkeyed and keys it after; the floor copies into keyed partitions). "
        "A user who needs only 10-minute statistics imports with `--stats 10min`: Avg, Std "
        "(population), Min and Max per channel and interval, labelled at the interval's start, "
        f"{readings // max(stats, 1):,} times fewer rows stored.",
        "",
        "Command: `PYTHONPATH=. .venv/bin/python bench/tob3.py` (this section only; "
        "`bench/run` writes the others).",
        "",
    ]
    replace_section(out, HEADING, lines)


if __name__ == "__main__":
    main()
