"""Generated faults on the demo mast (``campbell_toa5/campbell_scientific_demo_data1.csv`` of
tests/data/real): its TOA5 file with columns changed over chosen rows, optionally repeated over
several days."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

DEMO = (Path(__file__).parent / "data" / "real" / "campbell_toa5"
        / "campbell_scientific_demo_data1.csv")
STAMP = "%d/%m/%Y %H:%M:%S+00:00"


def demo_lines() -> tuple[list[str], list[list[str]]]:
    """The demo file's four header lines and its data rows (split at commas)."""
    lines = DEMO.read_text(encoding="utf-8-sig").splitlines()
    return lines[:4], [line.split(",") for line in lines[4:] if line.strip()]


def columns() -> list[str]:
    return demo_lines()[0][1].split(",")


def write(path: Path, *, days: float | None = None, changes=(), start: datetime | None = None
          ) -> Path:
    """Write the demo file (repeated to fill ``days`` when given) with ``changes``: tuples of
    (column name, first row from the end, last row from the end (exclusive), function of the
    old value -> new value); rows counted back from the file's end (1 = the last row)."""
    header, rows = demo_lines()
    if days is not None:
        first = datetime.strptime(rows[0][0], STAMP)
        count = int(days * 144)
        origin = start or first
        rows = [[(origin + timedelta(minutes=10 * i)).strftime(STAMP), *rows[i % len(rows)][1:]]
                for i in range(count)]
    names = header[1].split(",")
    for name, back_from, back_to, func in changes:
        col = names.index(name)
        for row in rows[len(rows) - back_from:len(rows) - back_to if back_to else None]:
            row[col] = func(row[col])
    path.write_text("\n".join(header + [",".join(r) for r in rows]) + "\n")
    return path
