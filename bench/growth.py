"""Growth: does stationlab stay as fast with 50 stations as with one? ``bench/run --stations N``
imports N stations of one year each (generated like the big source, each its own logger and
weather), one after the other into one database, and at 1, 2, 5, 10, 20, 50 (and N) stations
records the import rate, the bytes on disk per reading, the latency of one channel-month read, of
``Station.recovery()`` for one station and of the export of one station to Windographer. Every
backend the server offers is measured in the same run. Replaces its own section of
bench/RESULTS.md and writes the curve to bench/growth.png.

The goal, on TimescaleDB: every figure flat within 1.5 x from 1 to N stations (the figure at N
over the figure at 1; for the import rate, the other way round).
"""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

from generate import generate
from run import (
    BENCH,
    PY,
    REPO,
    TEMPLATE,
    Bench,
    available_backends,
    describe_machine,
    log,
    readings_bytes,
    replace_section,
    start_server,
    stop_server,
)

HEADING = "## Growth: 1 to N stations of one year each (bench/growth.py)"
CHECKPOINTS = (1, 2, 5, 10, 20, 50)
LIMIT = 1.5
NAMES = {"plain": "plain PostgreSQL", "timescaledb": "TimescaleDB"}


def station_name(number: int) -> str:
    return f"growth_{number:02d}"


def station_file(number: int) -> Path:
    """Station ``number``'s year (its own seed, station name and logger serial), made once."""
    path = BENCH / "data" / "growth" / f"{station_name(number)}.dat"
    if not path.exists():
        generate(path, years=1, seed=7_000 + number, station=station_name(number),
                 serial=str(60_000 + number))
    return path


def checkpoints(stations: int) -> list[int]:
    return sorted({n for n in CHECKPOINTS if n <= stations} | {stations})


def grow(args, bench: Bench, backends: list[str]) -> dict:
    """Every backend's figures: {backend: {"imports": [...], "at": {n: {...}}}}."""
    cli = [PY, "-m", "stationlab"]
    files = [station_file(n) for n in range(1, args.stations + 1)]
    marks = checkpoints(args.stations)
    figures: dict = {}
    for backend in backends:
        template = bench.fresh(f"{TEMPLATE}_growth_{backend}", "template0")
        subprocess.run([*cli, "db", "migrate", "--backend", backend], env=dict(
            bench.env, STATIONLAB_DSN=template), check=True, capture_output=True, cwd=REPO)
        dsn = bench.fresh(f"bench_growth_{backend}", f"{TEMPLATE}_growth_{backend}")
        imports, at = [], {}
        for number, path in enumerate(files, 1):
            log(f"{backend}: station {number} of {args.stations}")
            done = bench.run(f"{backend}:import", [*cli, "import", str(path)], dsn)
            readings = bench.sql(
                dsn, "SELECT count(*) FROM readings WHERE channel_id IN (SELECT channel_id FROM "
                "channels JOIN stations USING (station_id) WHERE name = %s)",
                (station_name(number),))[0][0]
            step = {"station": number, "readings": readings, "import_s": done["seconds"],
                    "compress_s": 0.0}
            if backend == "timescaledb":  # the steady state: a station's year stored compressed
                step["compress_s"] = bench.run(f"{backend}:compress", [*cli, "db", "compress"],
                                               dsn)["seconds"]
            imports.append(step)
            if number in marks:
                at[number] = checkpoint(args, bench, backend, dsn, number)
        figures[backend] = {"imports": imports, "at": at}
        bench.sql(bench.admin, f"DROP DATABASE bench_growth_{backend} WITH (FORCE)")
    return figures


def checkpoint(args, bench: Bench, backend: str, dsn: str, number: int) -> dict:
    """The figures with ``number`` stations stored (reads and export on the first station)."""
    log(f"{backend}: figures at {number} stations")
    bench.sql(dsn, "ANALYZE")
    total = bench.sql(dsn, "SELECT count(*) FROM readings")[0][0]
    figures = {"readings": total, "bytes_per_reading": readings_bytes(bench, dsn, backend) / total}
    for task, key in (("channel-read", "channel_month_ms"), ("recovery", "recovery_ms")):
        done = subprocess.run([PY, str(BENCH / "tasks.py"), task, dsn, str(args.reads)],
                              env=bench.env, capture_output=True, text=True, check=True, cwd=REPO)
        figures[key] = statistics.median(json.loads(done.stdout)["ms"])
    out = bench.work / f"growth_{backend}.txt"
    exports = [bench.run(f"{backend}:export@{number}", [
        PY, "-m", "stationlab", "export", "--station", station_name(1), "--format",
        "windographer", "--out", str(out)], dsn)["seconds"] for _ in range(args.repeats)]
    figures["export_s"] = statistics.median(exports)
    return figures


def rate(step: dict) -> float:
    """Readings stored per second of import (and, on TimescaleDB, compression)."""
    return step["readings"] / (step["import_s"] + step["compress_s"])


def import_rate_at(imports: list[dict], number: int) -> float:
    """The median rate of the (up to) three imports ending with station ``number``: one import
    is one sample, and the machine's hiccups are not the store's growth."""
    return statistics.median(rate(s) for s in imports[max(0, number - 3):number])


def plot(figures: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("import rate [readings/s]", None), ("on disk [bytes/reading]", "bytes_per_reading"),
              ("one channel-month read [ms]", "channel_month_ms"),
              ("Station.recovery() [ms]", "recovery_ms"), ("export of one station [s]",
                                                           "export_s")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), layout="constrained")
    for ax, (title, key) in zip(axes, panels, strict=True):
        for backend, data in figures.items():
            if key is None:
                xs = [s["station"] for s in data["imports"]]
                ax.plot(xs, [rate(s) for s in data["imports"]], ".", alpha=0.35,
                        color="C0" if backend == "plain" else "C1")
                marks = sorted(data["at"])
                ys = [import_rate_at(data["imports"], n) for n in marks]
            else:
                marks = sorted(data["at"])
                ys = [data["at"][n][key] for n in marks]
            ax.plot(marks, ys, "o-", label=NAMES[backend],
                    color="C0" if backend == "plain" else "C1")
        ax.set_xscale("log")
        ax.set_xlabel("stations stored")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def section(args, figures: dict, machine: dict, command: str) -> list[str]:
    first = figures[next(iter(figures))]["imports"][0]["readings"]
    lines = [
        HEADING, "",
        f"Produced by `{command}`: {args.stations} stations of one year each "
        f"(20 sensors x 4 statistics x 10-minute rows, with gaps; about {first:,} readings a "
        "station, all in the same year, so every station after the first lands in months "
        "already stored, compressed on TimescaleDB), imported one after the other into one "
        "database. TimescaleDB: `stationlab db compress` after each import, as its policy "
        "would; the import rate counts both. Reads and the export are of the first station; "
        "the channel-month read is of a random channel and month of any station.", "",
        f"- {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']:.1f} GB memory, "
        f"PostgreSQL {machine['postgres']}, TimescaleDB "
        f"{machine.get('timescaledb') or 'not installed'}; load average at the start: "
        + ", ".join(f"{x:.1f}" for x in machine["load"]),
    ]
    if args.note:
        lines.append(f"- {args.note}")
    lines += ["", "![growth](growth.png)", "",
              "| backend | stations | import rate [readings/s] | on disk [B/reading] | "
              "channel-month read [ms] | recovery [ms] | export [s] |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for backend, data in figures.items():
        for number, at in sorted(data["at"].items()):
            lines.append(
                f"| {NAMES[backend]} | {number} | {import_rate_at(data['imports'], number):,.0f} "
                f"| {at['bytes_per_reading']:.1f} | {at['channel_month_ms']:.1f} | "
                f"{at['recovery_ms']:.1f} | {at['export_s']:.2f} |")
    lines += ["", "| goal (TimescaleDB, flat from 1 to N stations) | measured | met |",
              "|---|---|---|"]
    for backend, data in figures.items():
        if backend != "timescaledb":
            continue
        marks = sorted(data["at"])
        one, last = data["at"][marks[0]], data["at"][marks[-1]]
        ratios = [("import rate", import_rate_at(data["imports"], marks[0])
                   / import_rate_at(data["imports"], marks[-1]))]
        ratios += [(label, last[key] / one[key]) for label, key in (
            ("bytes per reading", "bytes_per_reading"), ("channel-month read",
                                                          "channel_month_ms"),
            ("`Station.recovery()`", "recovery_ms"), ("export of one station", "export_s"))]
        for label, ratio in ratios:
            lines.append(f"| {label} at {marks[-1]} stations <= {LIMIT} x at {marks[0]} | "
                         f"{ratio:.2f} x | {'yes' if ratio <= LIMIT else 'no'} |")
    if any(line.endswith("| no |") for line in lines):
        lines += ["", "Why a goal is missed, and what was measured of it: docs/timescaledb.md, "
                  "\"Growth\"."]
    lines += ["", "The import rate at a checkpoint is the median of the three imports ending "
              "there (the dots in the plot are every import). Raw figures: "
              "`bench/growth.json`.", ""]
    return lines


def main(args) -> None:
    import shlex
    import sys
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="stationlab-growth-"))
    admin, env = start_server(work)
    try:
        bench = Bench(admin, work, env)
        machine = describe_machine(admin)
        backends = [b for b in available_backends(admin) if b in args.backends]
        figures = grow(args, bench, backends)
    finally:
        stop_server(env)
    (args.out.parent / "growth.json").write_text(json.dumps(figures, indent=1) + "\n")
    plot(figures, args.out.parent / "growth.png")
    command = shlex.join(["bench/run", *sys.argv[1:]])
    replace_section(args.out, HEADING, section(args, figures, machine, command))
    log(f"wrote {args.out} and {args.out.parent / 'growth.png'}")
