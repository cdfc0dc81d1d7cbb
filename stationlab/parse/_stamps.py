"""Helpers shared by the delimited-text parsers (TOA5, Windographer).

Time stamps (format detection, offsets, time order, interval) and the table body (field counts,
reading with polars, turning text columns into numbers). Everything works on whole columns: no
per-value Python loops on the happy path. Errors are :class:`~stationlab.errors.ParseError`
naming the file line, computed as ``first_line + row index``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import polars as pl

from stationlab.errors import ParseError

logger = logging.getLogger(__name__)

#: Unambiguous ISO-like stamp formats, tried in order (chrono syntax; ``%.f`` = optional
#: fraction). Stamps without seconds get ``:00`` first (:data:`NO_SECONDS_PATTERN`).
ISO_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f")

#: Slash dates are ambiguous: both orders are tried on every row (see :func:`parse_stamps`).
DATE_ORDERS = {"day-first": "%d/%m/%Y %H:%M:%S%.f", "month-first": "%m/%d/%Y %H:%M:%S%.f"}

#: A time of day without seconds at the end of a stamp, completed with ``:00``.
NO_SECONDS_PATTERN = r"([ T]\d{1,2}:\d{2})$"

#: An explicit UTC offset at the end of a stamp: ``Z``, ``+00:00`` or ``-0500``.
OFFSET_PATTERN = r"\s*(?:Z|([+-])(\d{2}):?(\d{2}))$"

#: Said in messages when no format fits.
STAMP_FORMATS_TEXT = ("YYYY-MM-DD hh:mm[:ss[.fff]], dd/mm/yyyy hh:mm[:ss] or mm/dd/yyyy "
                      "hh:mm[:ss], optionally followed by an offset such as +00:00")


def offset_text(offset: timedelta) -> str:
    """``timedelta(hours=-5)`` -> ``"-05:00"`` (the ``utc_offset`` header key's form)."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _strptime(naive: pl.Series, fmt: str) -> pl.Series:
    return naive.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)


def _to_utc(parsed: pl.Series, offset_minutes: pl.Series, utc_offset: timedelta) -> pl.Series:
    """Naive local stamps minus their own offset (or ``utc_offset`` where they have none)."""
    default = int(utc_offset.total_seconds()) // 60
    shift = pl.duration(minutes=pl.col("offset").fill_null(default))
    frame = pl.DataFrame({"t": parsed, "offset": offset_minutes})
    return frame.select((pl.col("t") - shift).dt.replace_time_zone("UTC")).to_series()


def _increasing(ts: pl.Series) -> bool:
    return bool((ts.drop_nulls().diff().drop_nulls() > timedelta(0)).all())


def split_offset(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Split ``"09/01/2016 15:30+01:00"`` into ``"09/01/2016 15:30:00"`` and the offset. [min]

    The offset is ``None`` where the stamp has none; seconds are added where missing.
    """
    col = pl.col("raw")
    sign = pl.when(col.str.extract(OFFSET_PATTERN, 1) == "-").then(-1).otherwise(1)
    minutes = (col.str.extract(OFFSET_PATTERN, 2).cast(pl.Int32) * 60
               + col.str.extract(OFFSET_PATTERN, 3).cast(pl.Int32))
    parts = raw.to_frame("raw").select(
        col.str.replace(OFFSET_PATTERN, "").str.replace(NO_SECONDS_PATTERN, "${1}:00")
        .alias("naive"),
        pl.when(col.str.contains(r"Z$")).then(0).otherwise(sign * minutes).cast(pl.Int32)
        .alias("offset"),
    )
    return parts["naive"], parts["offset"]


def parse_stamps(raw: pl.Series, *, source: str, first_line: int, column: str,
                 utc_offset: timedelta | None = None, fmt: str | None = None,
                 increasing: bool = True, prefer: str | None = None) -> tuple[pl.Series, str]:
    """Parse a column of stamp text to ``Datetime("us", "UTC")``.

    Stamps with an explicit offset are converted with it; naive stamps are local time at the fixed
    offset ``utc_offset`` (default zero). Slash dates are tried day-first and month-first on
    every row: a reading that parses every row (and, if ``increasing``, strictly increases) is
    kept; if both are kept, the one with the smaller span (last - first) wins, day-first on a
    tie. If no reading increases, the one with the smaller span is returned and the caller's
    time-order check names the line. ``prefer`` (a format this
    function returned before) is used first when it parses every row.

    Parameters
    ----------
    raw
        Stamp text, ``None`` where missing.
    fmt
        A strftime pattern that overrides detection (may contain ``%z``).

    Returns
    -------
    The UTC stamps and the format used.

    Raises
    ------
    ParseError
        On the first row no format reads.
    """
    utc_offset = utc_offset or timedelta(0)
    if fmt is not None:
        try:
            parsed = raw.str.strptime(pl.Datetime("us"), fmt, strict=False, exact=True)
        except pl.exceptions.PolarsError as exc:
            raise ParseError(f"timestamp_format {fmt!r} cannot be used: {exc}".split("\n")[0],
                             source=source, column=column) from None
        if parsed.dtype.time_zone is None:
            parsed = _to_utc(parsed, pl.Series([None] * len(raw), dtype=pl.Int32), utc_offset)
        else:
            parsed = parsed.dt.convert_time_zone("UTC")
        _raise_unread(raw, parsed, source, first_line, column, f"the format {fmt!r}")
        return parsed, fmt
    naive, offset = split_offset(raw)
    wanted = raw.is_not_null().sum()
    candidates = [prefer] if prefer else []
    candidates += list(ISO_FORMATS)
    candidates += list(DATE_ORDERS.values())
    readings: dict[str, pl.Series] = {}
    for candidate in dict.fromkeys(candidates):
        parsed = _strptime(naive, candidate)
        readings[candidate] = parsed
        if parsed.is_not_null().sum() == wanted and (candidate == prefer or "/" not in candidate):
            return _to_utc(parsed, offset, utc_offset), candidate
    full = {f: _to_utc(p, offset, utc_offset) for f, p in readings.items()
            if p.is_not_null().sum() == wanted}
    if full:
        ordered = {f: ts for f, ts in full.items() if _increasing(ts)} if increasing else full
        pool = ordered or full
        chosen = min(pool, key=lambda f: (pool[f].max() - pool[f].min()) if wanted else 0)
        if len(full) > 1:
            logger.info("%s: column %s: stamps read as %s", source, column, chosen)
        return full[chosen], chosen
    best = max(readings, key=lambda f: readings[f].is_not_null().sum())
    _raise_unread(raw, readings[best], source, first_line, column,
                  f"any known layout ({STAMP_FORMATS_TEXT}); pass timestamp_format=")
    raise AssertionError("unreachable")  # pragma: no cover


def _raise_unread(raw, parsed, source, first_line, column, expected) -> None:
    if (parsed.is_null() & raw.is_not_null()).any():
        row = int((parsed.is_null() & raw.is_not_null()).arg_true()[0])
        raise ParseError(f"cannot read timestamp {raw[row]!r} in column {column} as {expected}",
                         source=source, line=first_line + row, column=column)


def row_stamps(raw: pl.Series, *, source: str, first_line: int, column: str,
               missing_text: tuple[str, ...], utc_offset: timedelta | None = None,
               fmt: str | None = None) -> tuple[pl.Series, str]:
    """The row stamps of a table (UTC, as written): every row has one, strictly increasing.

    Returns
    -------
    The stamps and the format they were read with (see :func:`parse_stamps`).
    """
    text = missing_to_null(raw.to_frame(column), missing_text, ()).to_series()
    if text.null_count():
        row = int(text.is_null().arg_true()[0])
        raise ParseError("the row has no time stamp", source=source, line=first_line + row,
                         column=column)
    stamps, used = parse_stamps(text, source=source, first_line=first_line, column=column,
                                utc_offset=utc_offset, fmt=fmt)
    check_increasing(stamps, text, source=source, first_line=first_line)
    return stamps, used


def check_increasing(ts: pl.Series, raw: pl.Series, *, source: str, first_line: int) -> None:
    """Raise on the first stamp that is not after the one before it."""
    if ts.len() < 2:
        return
    bad = (ts.diff() <= timedelta(0)).arg_true()
    if bad.len():
        row = int(bad[0])
        raise ParseError(
            f"timestamp {raw[row]} is not after the previous one ({raw[row - 1]}) "
            f"on line {first_line + row - 1}; rows must be in time order without duplicates",
            source=source, line=first_line + row)


def infer_interval(ts: pl.Series) -> timedelta | None:
    """The most common positive step between consecutive stamps (the smallest on a tie)."""
    steps = ts.diff().drop_nulls()
    steps = steps.filter(steps > timedelta(0))
    if steps.len() == 0:
        return None
    counts = steps.value_counts(name="n").sort(["n", steps.name], descending=[True, False])
    return counts[steps.name][0]


#: A data part longer than this (characters) is read in blocks of about this size when its
#: numeric columns hold numbers: only one block's lines and fields exist at a time, so a big file
#: is held as its text and its numbers, not as text several times over.
BLOCK_CHARS = 16 * 2**20
#: How much of the data part :func:`read_rows` looks at to tell which numeric columns hold
#: numbers (its first 100 rows).
HEAD_CHARS = 2**20


def read_rows(body: str, names: list[str], *, separator: str, quote_char: str | None,
              source: str, first_line: int, padding: int = 0, numeric: tuple[str, ...] = (),
              missing_text: tuple[str, ...] = (), start: int = 0) -> pl.DataFrame:
    """Read the data part of a file, ``body[start:]``, into a frame of columns named ``names``.

    Blank lines at the end of the file are ignored (spreadsheets add them); row ``i`` of the
    frame is line ``first_line + i`` of the file. Up to ``padding`` extra fields are allowed
    after the named ones if they are empty (a spreadsheet re-save pads narrow tables).

    The ``numeric`` columns (those of them whose first rows hold numbers) are read straight to
    Float64 (blank and ``missing_text`` fields are null, in every column) when all of them hold
    only numbers: a big file then never exists as text columns, which take twice the memory and
    time, and is read in blocks of about :data:`BLOCK_CHARS`. Otherwise every column is String,
    for :func:`convert_columns` to name the first bad field.

    Raises
    ------
    ParseError
        On the first blank line, unterminated quote or row with the wrong number of fields.
    """
    layout = dict(names=names, separator=separator, quote_char=quote_char, source=source,
                  padding=padding, missing_text=missing_text)
    if numeric:  # a column of text (a site name, say) keeps the others from being read as numbers
        numeric = _numeric_in_head(body[start:start + HEAD_CHARS], numeric, **layout)
    if numeric and len(body) - start > BLOCK_CHARS:
        frame = _read_blocks(body, start, first_line, numeric, layout)
        if frame is not None:
            return frame
        numeric = ()  # a numeric column holds text: read all as text to name the field
    return _read_block(body[start:] if start else body, first_line=first_line, numeric=numeric,
                       final=True, fall_back=True, **layout)


def _numeric_in_head(head: str, numeric: tuple[str, ...], *, names, separator, quote_char,
                     source, padding, missing_text) -> tuple[str, ...]:
    """The ``numeric`` columns whose fields in the first rows of ``head`` are numbers (or
    missing)."""
    cut = head.rfind("\n")
    head = head[:cut + 1] if cut >= 0 else head
    try:
        rows = pl.read_csv(head.encode("utf-8"), schema=_text_schema(names, padding),
                           n_rows=100, has_header=False, separator=separator,
                           quote_char=quote_char, raise_if_empty=False,
                           truncate_ragged_lines=True)
    except pl.exceptions.PolarsError:
        return ()  # the checks of the whole name the problem
    rows = missing_to_null(rows.select(numeric), missing_text, ())
    return tuple(n for n in numeric
                 if rows[n].cast(pl.Float64, strict=False).null_count() == rows[n].null_count())


def _text_schema(names: list[str], padding: int) -> dict[str, pl.DataType]:
    """Every field as text: the named columns, then the ``padding`` ones."""
    return {n: pl.String for n in [*names, *(f"_padding_{i}" for i in range(padding))]}


def _read_blocks(body: str, start: int, first_line: int, numeric: tuple[str, ...],
                 layout: dict) -> pl.DataFrame | None:
    """The data part read a block of lines at a time, numeric columns as Float64; ``None`` if a
    block has text in one of them."""
    frames, line, end = [], first_line, len(body)
    while start < end:
        cut = body.find("\n", min(start + BLOCK_CHARS, end))
        cut = end if cut < 0 else cut + 1
        block = body[start:cut]
        frame = _read_block(block, first_line=line, numeric=numeric, final=cut >= end,
                            fall_back=False, **layout)
        if frame is None:
            return None
        frames.append(frame)
        line += block.count("\n")
        start = cut
    logger.debug("%s: read %d rows in %d blocks", layout["source"],
                 sum(f.height for f in frames), len(frames))
    return pl.concat(frames)


def _read_block(body: str, *, names: list[str], separator: str, quote_char: str | None,
                source: str, first_line: int, padding: int, numeric: tuple[str, ...],
                missing_text: tuple[str, ...], final: bool, fall_back: bool
                ) -> pl.DataFrame | None:
    """Check and read lines (see :func:`read_rows`). Only the ``final`` block may end in blank
    lines. If a ``numeric`` column holds text: with ``fall_back`` every column is read as text,
    else ``None``."""
    if final:
        lines = body.split("\n")
        end = len(lines)
        while end and not lines[end - 1].strip():
            end -= 1
        if end < len(lines) - 1:
            logger.debug("%s: ignoring %d blank line(s) at the end", source,
                         len(lines) - 1 - end)
    else:  # ends in a line end: every line of it counts
        lines = body[:-1].split("\n")
        end = len(lines)
    schema = _text_schema(names, padding)
    pads = list(schema)[len(names):]
    if end == 0:
        return pl.DataFrame(schema=schema)
    text = pl.Series("line", lines[:end], dtype=pl.String)
    del lines
    if "\r" in body:
        text = text.str.strip_suffix("\r")
    if quote_char:
        odd = text.str.count_matches(quote_char, literal=True) % 2 == 1
        _raise_first(odd, source, first_line, lambda row: "unterminated quote: the row looks "
                     "truncated or a text field holds a stray quote")
    found = text.str.count_matches(separator, literal=True) + 1
    expected = len(names)
    wrong = (found < expected) | (found > expected + padding)
    if quote_char and wrong.any():  # separators inside quotes do not count
        pattern = f"{quote_char}[^{quote_char}]*{quote_char}"
        found = text.str.replace_all(pattern, "x").str.count_matches(separator, literal=True) + 1
        wrong = (found < expected) | (found > expected + padding)
    _raise_first(text.str.strip_chars() == "", source, first_line,
                 lambda row: "blank line inside the data; remove it")

    def wrong_count(row: int) -> str:
        truncated = " (the last row looks truncated)" if final and row == end - 1 and \
            found[row] < expected else ""
        allowed = f" (or up to {expected + padding} with empty padding)" if padding else ""
        return (f"expected {expected} fields as in the header{allowed}, found {found[row]}"
                f"{truncated}")

    _raise_first(wrong, source, first_line, wrong_count)
    del text  # the lines: as big as the block
    data = body.encode("utf-8")
    options = dict(has_header=False, separator=separator, quote_char=quote_char,
                   raise_if_empty=False)
    frame = None
    if numeric:
        try:
            frame = pl.read_csv(data, schema={**schema, **dict.fromkeys(numeric, pl.Float64)},
                                null_values=list(missing_text) or None, **options).head(end)
        except pl.exceptions.PolarsError:
            if not fall_back:
                return None
            logger.debug("%s: a numeric column holds text; reading every column as text", source)
    if frame is None:
        try:
            frame = pl.read_csv(data, schema=schema, **options).head(end)
        except pl.exceptions.PolarsError as exc:  # a layout the checks above did not catch
            detail = str(exc).split("\n")[0]
            raise ParseError(f"the rows cannot be read as {len(names)} fields separated by "
                             f"{separator!r}: {detail}", source=source,
                             line=first_line) from None
    if pads:
        filled = frame.select(pl.any_horizontal(pl.col(pads).str.strip_chars() != "")
                              .fill_null(False)).to_series()
        _raise_first(filled, source, first_line, lambda row: f"a field after the last of the "
                     f"{expected} named columns holds a value")
        frame = frame.drop(pads)
    if frame.height != end:  # pragma: no cover - guarded by the checks above
        raise ParseError(f"read {frame.height} rows from {end} lines", source=source,
                         line=first_line)
    return frame


def _raise_first(mask: pl.Series, source, first_line, message) -> None:
    bad = mask.arg_true()
    if bad.len():
        row = int(bad[0])
        raise ParseError(message(row), source=source, line=first_line + row)


def missing_to_null(rows: pl.DataFrame, missing_text: tuple[str, ...],
                     missing_numbers: tuple[float, ...]) -> pl.DataFrame:
    """Fields stripped of blanks; ``None`` where empty or a sentinel, in each column on its own."""
    def clean(name: str) -> pl.Expr:
        text = pl.col(name).str.strip_chars()
        missing = (text == "") | text.is_in(list(missing_text))
        if missing_numbers:
            missing |= text.cast(pl.Float64, strict=False).is_in(list(missing_numbers))
        return pl.when(missing).then(None).otherwise(text).alias(name)

    return rows.select(clean(name) for name in rows.columns)


def convert_columns(rows: pl.DataFrame, *, kinds: dict[str, str], source: str, first_line: int,
                    missing_text: tuple[str, ...], missing_numbers: tuple[float, ...] = (),
                    utc_offset: timedelta | None = None, fmt: str | None = None,
                    prefer: str | None = None) -> tuple[list[pl.Series], list[str]]:
    """Convert every column of ``rows`` (String) to its kind: number, timestamp or text.

    Missing are empty fields, ``missing_text`` sentinels (e.g. ``"NAN"``) and numbers equal to a
    ``missing_numbers`` sentinel (e.g. ``-9999``), replaced in each column on its own. A column
    named in ``kinds`` as ``"timestamp"`` must hold stamps. Otherwise: all numbers (or all
    missing) -> ``"number"``; no numbers -> ``"timestamp"`` if every value is a stamp, else
    ``"text"``; a mix -> :class:`ParseError` on the first text value. ``fmt`` and ``prefer``
    are passed to :func:`parse_stamps`.

    Returns
    -------
    The converted columns and their kinds, in the order of ``rows``.
    """
    # Fast path: a column whose every field reads as a finite number needs no text handling.
    numbers = rows.select(pl.all().cast(pl.Float64, strict=False))
    plain = [False] * rows.width
    if rows.width:
        finite = numbers.select(pl.all().is_finite().not_().any()).row(0)
        plain = [not odd and a == b for odd, a, b in zip(
            finite, rows.null_count().row(0), numbers.null_count().row(0), strict=True)]
    out, out_kinds = [], []
    for name, is_plain in zip(rows.columns, plain, strict=True):
        read_as_number = rows.schema[name] == pl.Float64  # by read_rows; may hold inf
        if (is_plain or read_as_number) and kinds.get(name) != "timestamp":
            series = numbers[name]
            if missing_numbers:
                series = pl.select(pl.when(series.is_in(list(missing_numbers))).then(None)
                                   .otherwise(series)).to_series()
            out.append(series.alias(name))
            out_kinds.append("number")
            continue
        series, kind = _convert_text(
            rows[name], kind=kinds.get(name), source=source, first_line=first_line,
            missing_text=missing_text, missing_numbers=missing_numbers,
            stamp_options=dict(source=source, first_line=first_line, column=name,
                               utc_offset=utc_offset, fmt=fmt, increasing=False, prefer=prefer))
        out.append(series.alias(name))
        out_kinds.append(kind)
    return out, out_kinds


def _convert_text(raw: pl.Series, *, kind: str | None, source: str, first_line: int,
                  missing_text: tuple[str, ...], missing_numbers: tuple[float, ...],
                  stamp_options: dict) -> tuple[pl.Series, str]:
    """One column with blanks, sentinels or text in it (see :func:`convert_columns`)."""
    name = raw.name
    text = missing_to_null(raw.to_frame(), missing_text, missing_numbers).to_series()
    numbers = text.cast(pl.Float64, strict=False)
    if kind == "timestamp":
        return parse_stamps(text, **stamp_options)[0], "timestamp"
    not_number = text.is_not_null() & numbers.is_null()
    if not not_number.any():
        return numbers, "number"
    if numbers.is_not_null().any():
        row = int(not_number.arg_true()[0])
        raise ParseError(f"text {text[row]!r} in numeric column {name}", source=source,
                         line=first_line + row, column=name)
    try:
        return parse_stamps(text, **stamp_options)[0], "timestamp"
    except ParseError:
        return text, "text"


def check_column_names(names: list[str], *, source: str, line: int, what: str = "column"
                       ) -> None:
    """Every column of the ``what`` line (line ``line``) has a name and no name appears twice;
    else a :class:`ParseError` naming the field."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if not name.strip():
            raise ParseError(f"field {i} of the {what} line has no name", source=source,
                             line=line, column=i)
        if name in seen:
            raise ParseError(f"column name {name!r} appears twice (fields {seen[name]} and {i})",
                             source=source, line=line, column=name)
        seen[name] = i
