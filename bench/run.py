"""Benchmarks of import and export at the scale of a real source; writes bench/RESULTS.md.

Starts its own database (the embedded PostgreSQL in a temporary STATIONLAB_HOME, TimescaleDB
preloaded when scripts/setup built it) unless STATIONLAB_DSN names a server, which must then let
this user create databases and, for the floor, read server-side files (a superuser). Every figure
is measured on the plain backend and, when the server has TimescaleDB, on the TimescaleDB
backend, in one run, side by side, each against its own floor. Every measurement runs in a child
process (time and peak memory of its own), interleaved, ``--repeats`` times; medians and min/max
are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from stationlab import storage

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable
STATION = "bench_mast"
TEMPLATE = "bench_template"


def log(text: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {text}", flush=True)


class Bench:
    def __init__(self, admin_dsn: str, work: Path, env: dict) -> None:
        self.admin, self.work, self.env = admin_dsn, work, env
        self.results: dict[str, list[dict]] = {}
        self.profile: list[str] = []  # the debug lines of one profiled import

    def dsn(self, name: str) -> str:
        return make_conninfo(self.admin, dbname=name)

    def fresh(self, name: str, template: str = TEMPLATE) -> str:
        return storage.databases.create_database(self.admin, name, template=template)

    def run(self, key: str, command: list[str], dsn: str | None = None) -> dict:
        env = dict(self.env, **({"STATIONLAB_DSN": dsn} if dsn else {}))
        out = subprocess.run([PY, str(BENCH / "tasks.py"), "measure", "--", *command], env=env,
                             capture_output=True, text=True, cwd=REPO)
        if out.returncode:
            raise SystemExit(f"{key} failed:\n{out.stdout}\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        self.results.setdefault(key, []).append(result)
        log(f"{key}: {result['seconds']:.1f} s, peak {result['peak_rss_mb']:.0f} MB")
        return result

    def sql(self, dsn: str, text: str, params=None, settings: dict | None = None):
        with psycopg.connect(dsn, autocommit=True) as conn:
            for name, value in (settings or {}).items():
                conn.execute("SELECT set_config(%s, %s, false)", (name, value))
            cur = conn.execute(text, params)
            return cur.fetchall() if cur.description else None


def start_server(work: Path) -> tuple[str, dict]:
    """The admin DSN and the environment the children use."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if os.environ.get("STATIONLAB_DSN"):
        return make_conninfo(os.environ["STATIONLAB_DSN"], dbname="postgres"), env
    env["STATIONLAB_HOME"] = str(work / "home")
    up = subprocess.run([PY, "-m", "stationlab", "db", "up"], env=env, capture_output=True,
                        text=True, check=True, cwd=REPO)
    dsn = next(line[5:] for line in up.stdout.splitlines() if line.startswith("dsn: "))
    return make_conninfo(dsn, dbname="postgres"), env


def stop_server(env: dict) -> None:
    if "STATIONLAB_HOME" in env and not os.environ.get("STATIONLAB_DSN"):
        subprocess.run([PY, "-m", "stationlab", "db", "down"], env=env, cwd=REPO,
                       capture_output=True)


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="Use a 2-year file as the big source (for development).")
    parser.add_argument("--reads", type=int, default=200, help="Channel-month reads timed.")
    parser.add_argument("--no-naive", action="store_true",
                        help="Leave out the naive pandas ways (for development).")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--note", default="", help="A sentence for RESULTS.md (e.g. the machine "
                                                   "was shared).")
    parser.add_argument("--stations", type=int, metavar="N",
                        help="Instead: the growth bench (bench/growth.py), N stations of one year.")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS),
                        help="The growth bench's backends (default: every one the server has).")
    args = parser.parse_args()
    if args.stations:
        import growth

        growth.main(args)
        return
    data = BENCH / "data"
    big, small = data / "big_6y.dat", data / "small_1y.dat"
    if not big.exists() or not small.exists():
        log("generating the sources (bench/generate.py)")
        subprocess.run([PY, str(BENCH / "generate.py")], check=True)
    if args.quick:
        big = data / "mast_2y.dat"
        if not big.exists():
            subprocess.run([PY, str(BENCH / "generate.py"), "--years", "2"], check=True)
    work = Path(tempfile.mkdtemp(prefix="stationlab-bench-"))
    work.chmod(0o777)  # the server writes and reads the floor's COPY file here
    admin, env = start_server(work)
    try:
        bench = Bench(admin, work, env)
        machine = describe_machine(admin)
        measure(bench, big, small, args)
    finally:
        stop_server(env)
    write_results(args, bench, machine, big, small)
    log(f"wrote {args.out}")


BACKENDS = ("plain", "timescaledb")


def available_backends(admin: str) -> list[str]:
    with psycopg.connect(admin) as conn:
        preloaded = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    return [b for b in BACKENDS if b == "plain" or "timescaledb" in preloaded]


def other_station(small: Path) -> Path:
    """The 1-year file as another mast's (another station, another logger serial): a whole year
    of new sensors, all new readings, in the big station's months."""
    path = small.with_name("other_1y.dat")
    if not path.exists():
        text = small.read_bytes()
        head, _, rest = text.partition(b"\r\n")
        head = head.replace(f'"{STATION}"'.encode(), b'"bench_other"').replace(b'"31337"',
                                                                                 b'"42424"')
        path.write_bytes(head + b"\r\n" + rest)
    return path


def measure(bench: Bench, big: Path, small: Path, args) -> None:
    """Every figure, for each backend the server offers, interleaved per repeat."""
    long_file = bench.work / "long.bin"
    cli = [PY, "-m", "stationlab"]
    bench.backends = available_backends(bench.admin)
    bench.counts, bench.reads, bench.clean_reads, bench.recovery = {}, {}, {}, {}
    other = other_station(small)
    for backend in bench.backends:
        template = bench.fresh(f"{TEMPLATE}_{backend}", "template0")
        subprocess.run([*cli, "db", "migrate", "--backend", backend], env=dict(
            bench.env, STATIONLAB_DSN=template), check=True, capture_output=True, cwd=REPO)
    for repeat in range(args.repeats):
        for backend in bench.backends:
            key = f"{backend}:"
            template = f"{TEMPLATE}_{backend}"
            log(f"{backend}: import, repeat {repeat + 1} of {args.repeats}")
            dsn = bench.fresh(f"bench_import_{backend}", template)
            bench.run(key + "import", [*cli, "import", str(big)], dsn)
            if not long_file.exists():  # the same readings in long binary form, for the floor
                bench.sql(dsn, sql.SQL("COPY (SELECT channel_id, ts, value FROM readings) TO {} "
                                       "(FORMAT binary)").format(sql.Literal(str(long_file))))
                long_file.chmod(0o644)
            if backend == "timescaledb":
                bench.run(key + "compress", [*cli, "db", "compress"], dsn)
            bench.run(key + "import_floor", [PY, str(BENCH / "tasks.py"), "import-floor",
                                             bench.fresh(f"bench_floor_{backend}", template),
                                             str(long_file)])
            if backend == "plain" and not args.no_naive:
                bench.run(key + "import_naive_1y", [PY, str(BENCH / "tasks.py"), "import-naive",
                                                    bench.fresh("bench_naive", template),
                                                    str(small)])
    for backend in bench.backends:
        key, big_dsn = f"{backend}:", bench.dsn(f"bench_import_{backend}")
        bench.counts[key + "bytes_imported"] = readings_bytes(bench, big_dsn, backend)
        for repeat in range(args.repeats):
            log(f"{backend}: re-imports, repeat {repeat + 1} of {args.repeats}")
            bench.run(key + "reimport_same", [*cli, "import", str(big)], big_dsn)
            for name, what in ((small.name, "reimport_overlap"), (other.name, "import_other")):
                # forget the file (and, for the other mast, its readings), so it imports again
                bench.sql(big_dsn, "DELETE FROM reading_conflicts WHERE file_id IN "
                          "(SELECT file_id FROM files WHERE name = %s)", (name,))
                bench.sql(big_dsn, "DELETE FROM files WHERE name = %s", (name,))
                if what == "import_other":
                    # By a list of ids (TimescaleDB then opens only their compressed segments),
                    # with no cap on the rows decompressed: bench housekeeping, not an import.
                    ids = [row[0] for row in bench.sql(
                        big_dsn, "SELECT channel_id FROM channels c JOIN stations s "
                        "USING (station_id) WHERE s.name = 'bench_other'")]
                    bench.sql(big_dsn, "DELETE FROM readings WHERE channel_id = ANY(%s)", (ids,),
                              settings={"timescaledb.max_tuples_decompressed_per_dml_"
                                        "transaction": "0"} if backend == "timescaledb" else {})
                    if backend == "timescaledb":  # the backfilled months compressed again
                        subprocess.run([*cli, "db", "compress"], env=dict(
                            bench.env, STATIONLAB_DSN=big_dsn), check=True, capture_output=True,
                            cwd=REPO)
                bench.run(key + what, [*cli, "import", str(small if what == "reimport_overlap"
                                                          else other)], big_dsn)
        if backend == "timescaledb":
            subprocess.run([*cli, "db", "compress"], env=dict(bench.env, STATIONLAB_DSN=big_dsn),
                           check=True, capture_output=True, cwd=REPO)
        bench.sql(big_dsn, "VACUUM ANALYZE")
        out = bench.work / f"export_{backend}.txt"
        for repeat in range(args.repeats):
            log(f"{backend}: export, repeat {repeat + 1} of {args.repeats}")
            bench.run(key + "export", [*cli, "export", "--station", STATION, "--format",
                                       "windographer", "--out", str(out)], big_dsn)
            bench.run(key + "export_floor", [PY, str(BENCH / "tasks.py"), "export-floor",
                                             big_dsn, STATION])
            if backend == "plain" and not args.no_naive:
                bench.run(key + "export_naive_1y", [
                    PY, str(BENCH / "tasks.py"), "export-naive", bench.dsn("bench_naive"),
                    str(bench.work / "naive.txt")])
        bench.counts[key + "big"] = bench.sql(
            big_dsn, "SELECT count(*) FROM readings r JOIN channels c USING (channel_id) "
            "JOIN stations s USING (station_id) WHERE s.name = %s", (STATION,))[0][0]
        bench.counts[key + "all"] = bench.sql(big_dsn, "SELECT count(*) FROM readings")[0][0]
        bench.counts[key + "bytes"] = readings_bytes(bench, big_dsn, backend)
        bench.counts[key + "rows"] = sum(1 for _ in out.open("rb")) - 13
        log(f"{backend}: channel-month reads")
        for task, store in (("channel-read", bench.reads), ("clean-read", bench.clean_reads)):
            done = subprocess.run([PY, str(BENCH / "tasks.py"), task, big_dsn, str(args.reads)],
                                  env=bench.env, capture_output=True, text=True, check=True,
                                  cwd=REPO)
            store[backend] = json.loads(done.stdout)
    for backend in bench.backends:  # right after an import: a fresh database, one import
        log(f"{backend}: recovery right after an import")
        dsn = bench.fresh(f"bench_recovery_{backend}", f"{TEMPLATE}_{backend}")
        subprocess.run([*cli, "import", str(big)], env=dict(bench.env, STATIONLAB_DSN=dsn),
                       check=True, capture_output=True, cwd=REPO)
        done = subprocess.run([PY, str(BENCH / "tasks.py"), "recovery", dsn, "20"],
                              env=bench.env, capture_output=True, text=True, check=True,
                              cwd=REPO)
        bench.recovery[backend] = json.loads(done.stdout)
    if "plain" in bench.backends and not args.no_naive:
        bench.counts["small"] = bench.sql(bench.dsn("bench_naive"),
                                          "SELECT count(*) FROM readings")[0][0]
    log("import, profiled (not timed)")
    profiled = subprocess.run([*cli, "-vv", "import", str(big)], env=dict(
        bench.env, STATIONLAB_DSN=bench.fresh("bench_profile", f"{TEMPLATE}_plain")),
        capture_output=True, text=True, check=True, cwd=REPO)
    bench.profile = [line.split(": ", 1)[1] for line in profiled.stderr.splitlines()
                     if line.startswith(("DEBUG stationlab.parse:",
                                         "DEBUG stationlab.storage.readings:"))]


def readings_bytes(bench: Bench, dsn: str, backend: str) -> int:
    """``readings`` on disk: its partitions (plain), or the hypertable with its compressed
    chunks (TimescaleDB)."""
    if backend == "timescaledb":
        return bench.sql(dsn, "SELECT hypertable_size('readings')")[0][0]
    return bench.sql(dsn, "SELECT sum(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits "
                          "WHERE inhparent = 'readings'::regclass")[0][0]


def describe_machine(admin: str) -> dict:
    with psycopg.connect(admin) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        row = conn.execute("SELECT default_version FROM pg_available_extensions "
                           "WHERE name = 'timescaledb'").fetchone()
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
                 platform.processor())
    return {"cores": os.cpu_count(), "memory_gb": int(memory) / 1024 / 1024, "cpu": model,
            "postgres": version, "python": platform.python_version(),
            "timescaledb": row[0] if row else None,
            "load": os.getloadavg()}


def write_results(args, bench: Bench, machine: dict, big: Path, small: Path) -> None:
    r, n, backends = bench.results, bench.counts, bench.backends
    names = {"plain": "plain PostgreSQL", "timescaledb": "TimescaleDB"}

    def med(key: str) -> float | None:
        return statistics.median(x["seconds"] for x in r[key]) if key in r else None

    def peak(key: str) -> float | None:
        return max(x["peak_rss_mb"] for x in r[key]) if key in r else None

    def cell(key: str) -> str:
        if key not in r:
            return "-"
        lo, hi = min(x["seconds"] for x in r[key]), max(x["seconds"] for x in r[key])
        return f"{med(key):.1f} ({lo:.1f}-{hi:.1f}), {peak(key):,.0f} MB"

    def row(label: str, what: str, note: str = "") -> str:
        return "| " + " | ".join([label, *(cell(f"{b}:{what}") for b in backends), note]) + " |"

    def ms(store: dict, backend: str) -> str:
        if backend not in store:
            return "-"
        return (f"{statistics.median(store[backend]['ms']):.1f} ms median "
                f"({min(store[backend]['ms']):.1f}-{max(store[backend]['ms']):.1f})")

    server = ("STATIONLAB_DSN" if os.environ.get("STATIONLAB_DSN")
              else "embedded, started by bench/run")
    big_n = n[f"{backends[0]}:big"]
    lines = [
        "# Benchmark results", "",
        f"Produced by `{shlex.join(['bench/run', *sys.argv[1:]])}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: both backends in one run, on one server, "
        "each against its own floor.", "",
        "## Machine", "",
        f"- {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']:.1f} GB memory",
        f"- PostgreSQL {machine['postgres']} ({server}), TimescaleDB "
        f"{machine.get('timescaledb') or 'not installed'}, Python {machine['python']}",
        f"- load average at the start: {', '.join(f'{x:.1f}' for x in machine['load'])}",
    ]
    if args.note:
        lines.append(f"- {args.note}")
    lines += [
        "", "## Sources", "",
        f"- big: `{big.name}`, {big_n:,} readings stored ({n[f'{backends[0]}:rows']:,} rows x 80 "
        "columns exported); 20 sensors x 4 statistics x 10-minute rows, with gaps",
        f"- 1-year: `{small.name}`, the big file's first year (every reading already stored); "
        f"`other_1y.dat`, the same year as another mast's (another station and logger): "
        f"{n[f'{backends[0]}:all'] - big_n:,} new readings in months already stored "
        "(compressed, on TimescaleDB)", "",
        f"## Figures ({args.repeats} repeats each, interleaved; median seconds (min-max), "
        "peak child-process RSS)", "",
        "| what | " + " | ".join(names[b] for b in backends) + " | note |",
        "|---|" + "---|" * len(backends) + "---|",
        row("import, `stationlab import` (big)", "import"),
        row("import floor: server-side binary `COPY readings FROM file` (big)", "import_floor",
            "same readings, long binary form, into a fresh keyed table: monthly partitions / "
            "a hypertable"),
        row("`stationlab db compress` after the import", "compress", "every finished chunk"),
        row("re-import of the same big file", "reimport_same", "sha256 answers"),
        row("re-import of the 1-year file (into compressed months on TimescaleDB)",
            "reimport_overlap", "every reading already stored"),
        row("import of the other mast's year (into compressed months on TimescaleDB)",
            "import_other", "every reading new"),
        row("export to Windographer, `stationlab export` (big, from compressed chunks on "
            "TimescaleDB)", "export"),
        row("export floor: `COPY (SELECT ...) TO STDOUT (FORMAT binary)` (big)", "export_floor",
            "read and discarded by psycopg"),
        row("import naive: pandas `read_csv` + `melt` + `to_sql` (1 year)", "import_naive_1y"),
        row("export naive: pandas `read_sql` + `pivot` + `to_csv` (1 year)", "export_naive_1y"),
        "| one channel, one month, raw: `read_channel` | "
        + " | ".join(ms(bench.reads, b) for b in backends) + f" | {args.reads} reads |",
        "| one channel, one month, clean: `Station.readings(channels=[c], clean=True)` | "
        + " | ".join(ms(bench.clean_reads, b) for b in backends) + f" | {args.reads} reads |",
        "| `Station.recovery()` right after the import (every channel x month) | "
        + " | ".join(ms(bench.recovery, b) for b in backends) + " | 20 calls |",
        "| `readings` on disk after the import | "
        + " | ".join(f"{n[f'{b}:bytes_imported'] / 2**20:,.0f} MB "
                     f"({n[f'{b}:bytes_imported'] / big_n:.1f} B/reading)" for b in backends)
        + " | TimescaleDB: after `db compress` |",
        "| `readings` on disk at the end (both stations) | "
        + " | ".join(f"{n[f'{b}:bytes'] / 2**20:,.0f} MB "
                     f"({n[f'{b}:bytes'] / n[f'{b}:all']:.1f} B/reading)" for b in backends)
        + " | |",
        "", "## Goals", "",
        "| goal | measured | met |", "|---|---|---|",
    ]
    goals = []
    for b in backends:
        goals += [goal(f"{names[b]}: import <= 1.25 x its floor",
                       med(f"{b}:import") / med(f"{b}:import_floor"), 1.25, "x"),
                  goal(f"{names[b]}: export <= 1.5 x its floor",
                       med(f"{b}:export") / med(f"{b}:export_floor"), 1.5, "x"),
                  goal(f"{names[b]}: export peak memory <= 600 MB", peak(f"{b}:export"), 600,
                       "MB"),
                  goal(f"{names[b]}: one channel-month clean read < 5 ms",
                       statistics.median(bench.clean_reads[b]["ms"]), 5, "ms"),
                  goal(f"{names[b]}: `Station.recovery()` < 100 ms after an import",
                       statistics.median(bench.recovery[b]["ms"]), 100, "ms")]
    if "timescaledb" in backends:
        ts, plain = "timescaledb", "plain"
        goals += [
            goal("TimescaleDB import (with `db compress`) <= plain import",
                 (med(f"{ts}:import") + med(f"{ts}:compress")) / med(f"{plain}:import"), 1.0,
                 "x plain"),
            goal("TimescaleDB: <= 10 bytes per reading once compressed",
                 n[f"{ts}:bytes_imported"] / big_n, 10, "B"),
            goal("TimescaleDB: overlap into compressed months <= 1.5 x plain",
                 med(f"{ts}:reimport_overlap") / med(f"{plain}:reimport_overlap"), 1.5,
                 "x plain"),
            goal("TimescaleDB: a new year into compressed months <= 1.5 x plain",
                 med(f"{ts}:import_other") / med(f"{plain}:import_other"), 1.5, "x plain"),
            goal("TimescaleDB: identical counts to plain",
                 float(n[f"{ts}:all"] != n[f"{plain}:all"]), 0, "differences"),
        ]
    if "plain:import_naive_1y" in r:
        scale = big_n / n["small"]
        goals.append(goal("plain: import >= 30 x faster than naive (scaled)",
                          med("plain:import_naive_1y") * scale / med("plain:import"), 30, "x",
                          higher=True))
    lines += goals
    lines += ["", "## Where an import's time goes (plain)", "",
              "One more import of the big file into an empty plain database, with `stationlab "
              "-vv import` (its debug lines; the months are made on a helper thread while the "
              "one before is sent, so only the waiting for them shows):", "",
              *(f"- {line}" for line in bench.profile)]
    missed = [line for line in goals if line.endswith("| no |")]
    if missed:
        lines += ["", "## Where a goal is missed", "",
                  "See docs/timescaledb.md for the TimescaleDB ones (what was tried, and why "
                  "the import cannot beat its own floor's keyed COPY)."]
        for line in missed:
            lines.append(f"- {line.split('|')[1].strip()}")
    lines += _other_scripts_sections(args.out)
    args.out.write_text("\n".join(lines) + "\n")


def replace_section(path: Path, heading: str, lines: list[str]) -> None:
    """Write ``lines`` (starting with ``heading``) into ``path`` in place of that section, or
    at the end; the other sections stay as they are."""
    text = path.read_text() if path.exists() else ""
    if heading in text:
        before, _, after = text.partition(heading)
        rest = after.split("\n## ", 1)
        text = before + ("## " + rest[1] if len(rest) > 1 else "")
    path.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines))


def _other_scripts_sections(path: Path) -> list[str]:
    """The sections other bench scripts wrote into ``path`` (heading ending ``(bench/X.py)``),
    kept as they are."""
    if not path.exists():
        return []
    kept, keep = [], False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            keep = re.search(r"\(bench/\w+\.py\)$", line) is not None
            if keep:
                kept.append("")
        if keep:
            kept.append(line)
    return kept


def goal(text: str, value: float, limit: float, unit: str, higher: bool = False) -> str:
    met = value >= limit if higher else value <= limit
    return f"| {text} | {value:.2f} {unit} | {'yes' if met else 'no'} |"


if __name__ == "__main__":
    main()
