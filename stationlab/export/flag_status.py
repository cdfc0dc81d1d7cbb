"""Flag-status columns: beside each data column, the one-letter codes of the flags covering each
time step, as Windographer's "Also export flag status" writes them.

The letters stand for the flag codes found in the export, in code order (``A`` for the first);
the preamble lists them. A time step covered by several flags gets several letters (``AC``); an
unflagged one an empty field. Flags cover time, not readings: a step without a value can still
be flagged.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator

import numpy as np
import polars as pl

from stationlab.errors import StationlabError

#: The letters a flag code can get, in order.
LETTERS = string.ascii_uppercase + string.ascii_lowercase
#: Appended to a data column's name to name its flag-status column.
SUFFIX = " Flags"


def column_name(name: str) -> str:
    """The flag-status column of a data column."""
    return name + SUFFIX


def with_status_columns(names: list[str]) -> list[str]:
    """Data columns each followed by its flag-status column."""
    return [c for name in names for c in (name, column_name(name))]


def letters(codes: Iterable[str]) -> dict[str, str]:
    """Flag code -> its letter, codes in sorted order.

    Raises
    ------
    StationlabError
        If there are more codes than :data:`LETTERS`.
    """
    codes = sorted(set(codes))
    if len(codes) > len(LETTERS):
        raise StationlabError(f"{len(codes)} flag codes cover this export; flag-status columns "
                              f"have one letter per code, {len(LETTERS)} at most")
    return dict(zip(codes, LETTERS, strict=False))


def legend(code_letters: dict[str, str], descriptions: dict[str, str]) -> list[str]:
    """Preamble lines saying what each letter stands for."""
    if not code_letters:
        return ["Flag status codes: <None>"]
    lines = ["Flag status codes:"]
    for code, letter in code_letters.items():
        description = descriptions.get(code) or ""
        lines.append(f"{letter} = {code}" + (f" ({description})" if description else ""))
    return lines


def add_status(frame: pl.DataFrame, coverage: pl.DataFrame, names: dict[int, str],
               code_letters: dict[str, str]) -> pl.DataFrame:
    """A wide frame (``ts`` sorted, then one column per channel) with a flag-status column after
    each data column.

    ``coverage`` rows are ``channel_id, ts_from, ts_to, code`` (``[ts_from, ts_to)``);
    ``names`` maps a channel to its data column. Per channel, each flag sets its letter's bit
    over the rows it covers (two binary searches), and the few distinct bit sets become text.
    """
    stamps = frame["ts"].dt.epoch("us").to_numpy()
    bits = {name: np.zeros(frame.height, dtype=np.uint64) for name in names.values()}
    bit_of = {code: np.uint64(1 << LETTERS.index(letter)) for code, letter in code_letters.items()}
    if frame.height and coverage.height:
        inside = coverage.filter((pl.col("ts_to") > frame["ts"][0])
                                 & (pl.col("ts_from") <= frame["ts"][-1]))
        for channel_id, ts_from, ts_to, code in inside.select(
                "channel_id", pl.col("ts_from").dt.epoch("us"), pl.col("ts_to").dt.epoch("us"),
                "code").iter_rows():
            if channel_id in names:
                lo, hi = np.searchsorted(stamps, [ts_from, ts_to])
                bits[names[channel_id]][lo:hi] |= bit_of[code]
    return frame.with_columns(_text(bits[name]).alias(column_name(name))
                              for name in names.values()).select(
        "ts", *with_status_columns(list(names.values())))


def _text(bits: np.ndarray) -> pl.Series:
    """Bit sets as their letters, ``""`` for none."""
    values = pl.Series(bits)
    mapping = {int(b): "".join(LETTERS[i] for i in range(len(LETTERS)) if int(b) >> i & 1)
               for b in values.unique()}
    return values.replace_strict(mapping, return_dtype=pl.String)


def add_status_to_windows(frames: Iterable[pl.DataFrame], coverage: pl.DataFrame,
                          names: dict[int, str], code_letters: dict[str, str]
                          ) -> Iterator[pl.DataFrame]:
    """:func:`add_status` on each wide frame of an export."""
    for frame in frames:
        yield add_status(frame, coverage, names, code_letters)
