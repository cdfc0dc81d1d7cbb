"""Write a big, realistic, deterministic met-mast source as a Campbell Scientific TOA5 file.

The default is the issue's big source: 20 sensors x 4 statistics (Avg, Std, Max, Min) x 6 years
of 10-minute rows = 315,360 rows, 25,228,800 readings. Wind speeds are Weibull distributed
(k = 2.1, scale 8 m/s at 80 m, power-law shear, correlated in time), directions wander around a
prevailing sector, temperatures follow the seasons and the day, and there are gaps: days when the
logger wrote nothing and weeks when one sensor read ``NAN``.

The values of a year do not depend on how many years are written, so the 1-year file holds
exactly the first year of the 6-year file (re-importing it after the big one overlaps fully).

    python bench/generate.py                    # bench/data/big_6y.dat and bench/data/small_1y.dat
    python bench/generate.py --years 2 --sensors 1 --out /tmp/x.dat
"""

from __future__ import annotations

import argparse
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(__file__).resolve().parent / "data"
START = datetime(2019, 1, 1)  # the first interval starts here; Campbell stamps its end
INTERVAL = timedelta(minutes=10)
ROWS_PER_YEAR = 52_560  # 365 days of 10-minute rows
STATISTICS = ("Avg", "Std", "Max", "Min")

#: The 20 sensors of a tall mast: (column stem, unit, kind, height [m]).
SENSORS = (
    ("Spd120mN", "m/s", "speed", 120), ("Spd120mS", "m/s", "speed", 120),
    ("Spd100mN", "m/s", "speed", 100), ("Spd100mS", "m/s", "speed", 100),
    ("Spd80mN", "m/s", "speed", 80), ("Spd80mS", "m/s", "speed", 80),
    ("Spd60mN", "m/s", "speed", 60), ("Spd40mN", "m/s", "speed", 40),
    ("Spd20mN", "m/s", "speed", 20),
    ("Dir118mN", "Deg", "direction", 118), ("Dir98mN", "Deg", "direction", 98),
    ("Dir78mN", "Deg", "direction", 78), ("Dir58mN", "Deg", "direction", 58),
    ("T2m", "Deg C", "temperature", 2), ("T60m", "Deg C", "temperature", 60),
    ("T118m", "Deg C", "temperature", 118),
    ("RH2m", "%", "humidity", 2), ("RH118m", "%", "humidity", 118),
    ("P2m", "mbar", "pressure", 2), ("BattV", "Volts", "battery", 2),
)


def _ar1(rng: np.random.Generator, n: int, phi: float, state: float) -> tuple[np.ndarray, float]:
    """A standard-normal AR(1) series continuing from ``state``."""
    noise = rng.standard_normal(n) * math.sqrt(1 - phi * phi)
    out = np.empty(n)
    for start in range(0, n, 4096):  # a short Python loop over blocks, numpy inside
        block = noise[start:start + 4096]
        powers = phi ** np.arange(1, len(block) + 1)
        # x_t = phi^t x_0 + sum_{s<=t} phi^(t-s) e_s, via a cumulative sum of scaled noise
        scaled = np.cumsum(block / powers) * powers
        out[start:start + len(block)] = powers * state + scaled
        state = out[start + len(block) - 1]
    return out, state


def _year(rng: np.random.Generator, first: datetime, n: int, sensors, state: dict
          ) -> pl.DataFrame:
    """One year of wide rows (stamps at the *end* of each interval, as Campbell writes them)."""
    offset = (first - START) / INTERVAL
    steps = np.arange(n) + offset
    day = 2 * np.pi * (steps % 144) / 144
    season = 2 * np.pi * (steps % ROWS_PER_YEAR) / ROWS_PER_YEAR
    z, state["wind"] = _ar1(rng, n, 0.995, state.get("wind", 0.0))
    u = 1 / (1 + np.exp(-1.702 * z))  # close to the normal CDF
    v80 = 8.0 * (-np.log1p(-np.clip(u, 1e-9, 1 - 1e-9))) ** (1 / 2.1)
    walk, state["dir"] = _ar1(rng, n, 0.999, state.get("dir", 0.0))
    direction = 240 + 70 * walk
    temp, state["temp"] = _ar1(rng, n, 0.99, state.get("temp", 0.0))
    t2 = 9 - 8 * np.cos(season) - 4 * np.cos(day) + 2 * temp
    columns: dict[str, np.ndarray] = {}
    for stem, _unit, kind, height in sensors:
        if kind == "speed":
            avg = v80 * (height / 80) ** 0.2 * (1 + 0.02 * rng.standard_normal(n))
            sd = avg * np.clip(0.1 + 0.03 * rng.standard_normal(n), 0.02, None)
            values = (avg, sd, avg + 2.8 * sd, np.maximum(avg - 2.5 * sd, 0))
        elif kind == "direction":
            avg = (direction + 3 * rng.standard_normal(n) + height / 10) % 360
            sd = np.clip(6 + 2 * rng.standard_normal(n) + 10 / (v80 + 0.5), 0.5, None)
            values = (avg, sd, (avg + 2.5 * sd) % 360, (avg - 2.5 * sd) % 360)
        elif kind == "temperature":
            avg = t2 - 0.0065 * height + 0.05 * rng.standard_normal(n)
            sd = np.abs(0.1 + 0.03 * rng.standard_normal(n))
            values = (avg, sd, avg + 2 * sd, avg - 2 * sd)
        elif kind == "humidity":
            avg = np.clip(75 + 15 * np.cos(day) - 1.5 * (t2 - 9) + 3 * rng.standard_normal(n),
                          5, 100)
            sd = np.abs(0.5 + 0.2 * rng.standard_normal(n))
            values = (avg, sd, np.minimum(avg + 2 * sd, 100), avg - 2 * sd)
        elif kind == "pressure":
            avg = 1005 + 8 * np.sin(season * 13) + 0.1 * rng.standard_normal(n)
            sd = np.abs(0.05 + 0.01 * rng.standard_normal(n))
            values = (avg, sd, avg + 2 * sd, avg - 2 * sd)
        else:  # battery
            avg = 13.1 + 0.4 * np.sin(day) + 0.02 * rng.standard_normal(n)
            sd = np.abs(0.01 + 0.003 * rng.standard_normal(n))
            values = (avg, sd, avg + 2 * sd, avg - 2 * sd)
        for statistic, value in zip(STATISTICS, values, strict=True):
            columns[f"{stem}_{statistic}"] = np.round(value, 3)
    frame = pl.DataFrame(columns)
    # A sensor fails for a few weeks now and then: its four columns read NAN.
    for _ in range(3):
        stem = sensors[int(rng.integers(len(sensors)))][0]
        begin = int(rng.integers(n))
        length = int(rng.integers(144 * 3, 144 * 30))
        bad = (np.arange(n) >= begin) & (np.arange(n) < begin + length)
        frame = frame.with_columns(pl.when(pl.Series(bad)).then(None).otherwise(pl.col(
            [f"{stem}_{s}" for s in STATISTICS])).name.keep())
    stamps = pl.datetime_range(first + INTERVAL, first + INTERVAL * n, INTERVAL, eager=True)
    frame = frame.insert_column(0, stamps.alias("TIMESTAMP"))
    # The logger was off for a few days: no rows at all.
    keep = np.ones(n, dtype=bool)
    for _ in range(4):
        begin = int(rng.integers(n))
        keep[begin:begin + int(rng.integers(36, 144 * 4))] = False
    return frame.filter(pl.Series(keep))


def header(sensors, station: str = "bench_mast", serial: str = "31337") -> str:
    """The four TOA5 header lines."""
    names = ["TIMESTAMP", "RECORD"] + [f"{s[0]}_{st}" for s in sensors for st in STATISTICS]
    units = ["TS", "RN"] + [s[1] for s in sensors for _ in STATISTICS]
    processing = ["", ""] + [st for _ in sensors for st in STATISTICS]
    lines = [["TOA5", station, "CR1000X", serial, "CR1000X.Std.07", "CPU:mast.CR1X", "4242",
              "Ten_Min"], names, units, processing]
    return "".join(",".join(f'"{f}"' for f in line) + "\r\n" for line in lines)


def generate(path: Path, *, years: int = 6, sensors: int = 20, seed: int = 20240611,
             station: str = "bench_mast", serial: str = "31337") -> int:
    """Write the file; returns the number of readings (non-missing values) in it."""
    chosen = SENSORS[:sensors]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    state: dict = {}
    record, readings = 0, 0
    with tmp.open("wb") as out:
        out.write(header(chosen, station, serial).encode())
        for year in range(years):
            rng = np.random.default_rng([seed, year])
            first = START + INTERVAL * ROWS_PER_YEAR * year
            frame = _year(rng, first, ROWS_PER_YEAR, chosen, state)
            frame = frame.with_columns(
                pl.col("TIMESTAMP").dt.strftime("%Y-%m-%d %H:%M:%S"),
                pl.int_range(record, record + frame.height).alias("RECORD")
            ).select("TIMESTAMP", "RECORD", pl.exclude("TIMESTAMP", "RECORD"))
            record += frame.height
            readings += int(frame.select(pl.exclude("TIMESTAMP", "RECORD").is_not_null().sum())
                            .sum_horizontal().item())
            frame.write_csv(out, include_header=False, null_value='"NAN"', line_terminator="\r\n",
                            quote_style="non_numeric", float_precision=3)
    tmp.replace(path)
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, help="Only this many years, into --out.")
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.years:
        out = args.out or DATA / f"mast_{args.years}y.dat"
        print(f"{out}: {generate(out, years=args.years, sensors=args.sensors):,} readings")
        return
    for name, years in (("small_1y.dat", 1), ("big_6y.dat", 6)):
        out = DATA / name
        print(f"{out}: {generate(out, years=years, sensors=args.sensors):,} readings")


if __name__ == "__main__":
    main()
