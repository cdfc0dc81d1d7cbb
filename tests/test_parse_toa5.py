"""Campbell Scientific TOA5 parser, on real logger files (pytoa5's test tables, brightwind's demo
mast) and on small files written here to break one rule each."""

from __future__ import annotations

import functools
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stationlab import parse
from stationlab.errors import ParseError
from stationlab.parse import Column, _stamps, parse_bytes, sniff
from stationlab.parse.toa5 import MISSING_TEXT, interval_from_table_name, statistic_of

parse_toa5 = functools.partial(parse_bytes, format="toa5")

DATA = Path(__file__).resolve().parent / "data" / "real"
TOA5 = DATA / "campbell_toa5"
PYTOA5 = TOA5 / "pytoa5"

TS = pl.Datetime("us", "UTC")
LOGGER = {"station_name": "TestLogger", "logger_model": "CR1000X", "logger_serial": "12342",
          "logger_os": "CR1000X.Std.03.02", "program": "CPU:TestLogger.CR1X",
          "program_signature": "2438"}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def frame(columns: dict, schema: dict) -> pl.DataFrame:
    return pl.DataFrame(columns, schema=schema)


# A small table to break, one rule at a time.
HEAD = (b'"TOA5","Mast","CR1000X","1","OS","P.CR1X","2","Hourly"\n'
        b'"TIMESTAMP","RECORD","WS_Avg","Site"\n'
        b'"TS","RN","m/s",""\n'
        b'"","","Avg","Smp"\n')
ROW1 = b'"2021-06-18 21:00:00",1,5.5,"a"\n'
ROW2 = b'"2021-06-18 22:00:00",2,6.5,"a"\n'


def parse_error(data: bytes, **options) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_toa5(data, source="mast.dat", **options)
    return info.value


def test_hourly_file_reads_exactly():
    parsed = parse.read(PYTOA5 / "TestLogger_Hourly_1.dat", format="toa5")
    assert parsed.format == "toa5"
    assert parsed.source == "TestLogger_Hourly_1.dat"
    assert parsed.header == {**LOGGER, "table_name": "Hourly", "first_record": "10",
                             "last_record": "12"}
    assert parsed.columns == (
        Column("BattV", "avg", "Volts", "number", "Avg"),
        Column("PTemp_C_Min", "min", "Deg C", "number", "Min"),
        Column("PTemp_C_Max", "max", "Deg C", "number", "Max"),
        Column("AirT_C(42)", "sample", "Deg C", "number", "Smp"),
        Column("RelHumid_Avg(3)", "avg", "%", "number", "Avg"),
    )
    assert parsed.interval == timedelta(hours=1)
    assert parsed.first_data_line == 5
    # Stamps label the end of the hour: 21:00 is the hour that started at 20:00.
    expected = frame({
        "ts": [utc(2021, 6, 18, 20), utc(2021, 6, 18, 21), utc(2021, 6, 18, 22)],
        "BattV": [13.23, 13.31, 13.36],
        "PTemp_C_Min": [28.62, 27.14, 25.62],
        "PTemp_C_Max": [30.82, 28.62, 27.14],
        "AirT_C(42)": [26.29, 25.14, 23.64],
        "RelHumid_Avg(3)": [49.31, 54.85, 63.28],
    }, {"ts": TS, **{c.name: pl.Float64 for c in parsed.columns}})
    assert_frame_equal(parsed.data, expected)
    assert parsed.n_readings == 15


def test_daily_file_keeps_times_of_min_and_max_unshifted():
    parsed = parse.read(PYTOA5 / "TestLogger_Daily_1.dat", format="toa5")
    assert parsed.header == {**LOGGER, "table_name": "Daily", "first_record": "0",
                             "last_record": "1"}
    assert parsed.columns == (
        Column("BattV_Min", "min", "Volts", "number", "Min"),
        Column("BattV_TMn", "time_of_min", None, "timestamp", "TMn"),
        Column("PTemp", "sample", "oC", "number", "Smp"),
        Column("PTemp_C_Min", "min", "Deg C", "number", "Min"),
        Column("PTemp_C_TMn", "time_of_min", None, "timestamp", "TMn"),
        Column("PTemp_C_Max", "max", "Deg C", "number", "Max"),
        Column("PTemp_C_TMx", "time_of_max", None, "timestamp", "TMx"),
    )
    assert parsed.interval == timedelta(days=1)
    expected = frame({
        "ts": [utc(2021, 6, 18), utc(2021, 6, 19)],
        "BattV_Min": [12.99, 12.96],
        "BattV_TMn": [utc(2021, 6, 18, 16, 8, 30), utc(2021, 6, 19, 13, 13, 5)],
        "PTemp": [20.1, 30.5],
        "PTemp_C_Min": [23.72, 21.54],
        "PTemp_C_TMn": [utc(2021, 6, 19), utc(2021, 6, 19, 3, 15)],
        "PTemp_C_Max": [39.16, 40.91],
        "PTemp_C_TMx": [utc(2021, 6, 18, 15, 33, 20), utc(2021, 6, 19, 14, 4, 15)],
    }, {"ts": TS, "BattV_Min": pl.Float64, "BattV_TMn": TS, "PTemp": pl.Float64,
        "PTemp_C_Min": pl.Float64, "PTemp_C_TMn": TS, "PTemp_C_Max": pl.Float64,
        "PTemp_C_TMx": TS})
    assert_frame_equal(parsed.data, expected)


def test_example_file_without_final_line_end():
    parsed = parse.read(PYTOA5 / "Example.dat", format="toa5")
    assert parsed.header == {**LOGGER, "table_name": "Example", "first_record": "0",
                             "last_record": "1"}
    assert parsed.columns == (Column("BattV_Min", "min", "Volts", "number", "Min"),)
    assert parsed.interval == timedelta(days=1)
    assert_frame_equal(parsed.data, frame(
        {"ts": [utc(2021, 6, 18), utc(2021, 6, 19)], "BattV_Min": [12.99, 12.96]},
        {"ts": TS, "BattV_Min": pl.Float64}))


def test_narrow_table_padded_by_a_spreadsheet():
    # Re-saved by a spreadsheet, every line is as wide as the 8-field environment line.
    resaved = (b"TOA5,TestLogger,CR1000X,12342,CR1000X.Std.03.02,CPU:TestLogger.CR1X,2438,"
               b"Example\r\nTIMESTAMP,RECORD,BattV_Min,,,,,\r\nTS,RN,Volts,,,,,\r\n"
               b",,Min,,,,,\r\n2021-06-19 00:00:00,0,12.99,,,,,\r\n"
               b"2021-06-20 00:00:00,1,12.96,,,,,\r\n")
    original = parse.read(PYTOA5 / "Example.dat", format="toa5")
    parsed = parse_toa5(resaved)
    assert (parsed.header, parsed.columns) == (original.header, original.columns)
    assert_frame_equal(parsed.data, original.data)
    error = parse_error(resaved.replace(b"12.96,,,,,", b"12.96,,,7,,"))
    assert error.line == 6
    assert error.message == "a field after the last of the 3 named columns holds a value"
    error = parse_error(resaved.replace(b"12.96,,,,,", b"12.96,,,,,,"))
    assert error.message == ("expected 3 fields as in the header (or up to 8 with empty "
                             "padding), found 9")


DEMO_COLUMNS = [  # name, statistic, unit, kind, processing, as in the file's header
    ("Site", "sample", None, "text", "Smp"),
    ("LoggerID", "sample", None, "number", "Smp"),
    *[(f"Spd{h}m{d}", "avg", "Metres/Second", "number", "Avg")
      for h in (80, 60, 40) for d in "NS"],
    *[(f"Spd{h}m{d}Std", "sd", "Metres/Second", "number", "Std")
      for h in (80, 60, 40) for d in "NS"],
    *[(f"Spd{h}m{d}Max", "max", "Metres/Second", "number", "Max")
      for h in (80, 60, 40) for d in "NS"],
    ("Dir78mS", "avg", "Deg", "number", "WVc"), ("Dir78mSStd", "sd", "Deg", "number", "WVc"),
    ("Dir58mS", "avg", "Deg", "number", "WVc"), ("Dir58mSStd", "sd", "Deg", "number", "WVc"),
    ("Dir38mS", "avg", "Deg", "number", "WVc"), ("Dir38mSStd", "sd", "Deg", "number", "WVc"),
    ("T2m", "sample", "Celcius", "number", "Smp"), ("RH2m", "avg", "%", "number", "Avg"),
    ("P2m", "avg", "Millibars", "number", "Avg"), ("PrcpTot", "sum", "mm", "number", "Tot"),
    ("BattMin", "min", "Volts", "number", "Min"),
]


def test_spreadsheet_resaved_demo_file():
    # BOM, no quotes, CRLF, environment line padded with empty fields, day-first stamps with
    # +00:00, a blank line at the end: 4 header lines + 188 rows + 1 blank = 193 lines.
    parsed = parse.read(TOA5 / "campbell_scientific_demo_data1.csv")
    assert parsed.format == "toa5"
    assert parsed.header == {
        "station_name": "some_site", "logger_model": "CR1000", "logger_serial": "E7000",
        "logger_os": "CR1000.Std.22", "program": "CPU:demo_mast.CR1",
        "program_signature": "12345", "table_name": "demo_mast", "first_record": "0",
        "last_record": "187"}
    assert parsed.columns == tuple(Column(*c) for c in DEMO_COLUMNS)
    assert parsed.interval == timedelta(minutes=10)
    assert parsed.data.height == 188
    names = [c[0] for c in DEMO_COLUMNS]
    # 09/01/2016 15:30:00+00:00 is 9 January (day-first), the 10 minutes ending at 15:30.
    assert parsed.data.row(0) == (
        utc(2016, 1, 9, 15, 20), "demo_mast", 7000.0, 8.37, 7.911, 8.16, 7.849, 7.857, 7.626,
        1.24, 1.075, 1.06, 0.947, 0.8, 0.767, 11.37, 10.65, 11.16, 10.47, 10.35, 9.89, 114.2,
        6.1, 110.1, 6.009, 112.2, 5.724, 0.711, 100.0, 935.0, 0.0, 12.94)
    assert parsed.data.row(-1) == (
        utc(2016, 1, 10, 23, 40), "demo_mast", 7000.0, 10.59, 10.41, 9.65, 9.54, 9.03, 8.9,
        1.552, 1.458, 1.494, 1.302, 1.381, 1.281, 14.46, 14.26, 13.85, 13.39, 12.41, 12.33,
        208.5, 8.05, 202.7, 8.32, 200.2, 8.57, 1.419, 99.1, 928.0, 0.0, 12.44)
    assert parsed.data.columns == ["ts", *names]
    assert parsed.data.schema["Site"] == pl.String
    assert parsed.data["Site"].unique().to_list() == ["demo_mast"]
    assert parsed.data.schema["LoggerID"] == pl.Float64
    # Sums computed with awk over the file's columns 5, 29 and 32.
    assert parsed.data["Spd80mN"].sum() == pytest.approx(1798.178)
    assert parsed.data["T2m"].sum() == pytest.approx(123.043)
    assert parsed.data["PrcpTot"].sum() == pytest.approx(0.2)
    assert parsed.data["ts"].is_sorted()
    assert parsed.data.null_count().sum_horizontal().item() == 0


def test_timestamp_format_with_offset_on_the_demo_file():
    path = TOA5 / "campbell_scientific_demo_data1.csv"
    detected = parse.read(path, format="toa5")
    given = parse.read(path, format="toa5", timestamp_format="%d/%m/%Y %H:%M:%S%:z")
    assert_frame_equal(given.data, detected.data)
    month_first = parse.read(path, format="toa5", timestamp_format="%m/%d/%Y %H:%M:%S%:z")
    assert month_first.data["ts"][0] == utc(2016, 9, 1, 15, 20)


@pytest.mark.parametrize(("name", "line", "fragment"), [
    ("Bad01", 1, "the file is empty"),
    ("Bad02", 1, "unterminated quote in the environment line: the line looks truncated"),
    ("Bad03", 1, "the line is blank; expected the TOA5 environment line"),
    ("Bad04", 1, "not a TOA5 file: the first field is 'TOA6', not 'TOA5'"),
    ("Bad05", 1, "the environment line has 9 fields; TOA5 has 8"),
    ("Bad06", 3, "the file ends after line 2; a TOA5 header has 4 lines"),
    ("Bad07", 2, "the field names line is missing"),
    ("Bad08", 2, "unterminated quote in the field names line"),
    ("Bad09", 3, "unterminated quote in the units line"),
    ("Bad10", 3, "the units line has 7 fields but the field-names line has 6"),
    ("Bad11", 3, "the units line has 6 fields but the field-names line has 7"),
    ("Bad12", 2, "column name 'AirT_C(42)' appears twice (fields 6 and 7)"),
])
def test_broken_headers_name_the_line(name, line, fragment):
    path = PYTOA5 / f"TestLogger_Hourly_{name}.dat"
    with pytest.raises(ParseError) as info:
        parse.read(path, format="toa5")
    assert info.value.line == line
    assert info.value.source == path.name
    assert str(info.value).startswith(f"{path.name}, line {line}")
    assert fragment in str(info.value)


def test_wrong_encoding_names_the_line():
    error = parse_error(HEAD + ROW1 + b'"2021-06-18 22:00:00",2,6.5,"caf\xe9"\n')
    assert error.line == 6
    assert str(error).startswith("mast.dat, line 6: byte 0xe9")
    parsed = parse_toa5(HEAD + ROW1 + b'"2021-06-18 22:00:00",2,6.5,"caf\xe9"\n',
                        encoding="latin-1")
    assert parsed.data["Site"].to_list() == ["a", "café"]


def test_text_in_a_numeric_column_names_line_and_column():
    error = parse_error(HEAD + ROW1 + ROW2 + b'"2021-06-18 23:00:00",3,abc,"a"\n')
    assert (error.line, error.column) == (7, "WS_Avg")
    assert str(error) == "mast.dat, line 7, column WS_Avg: text 'abc' in numeric column WS_Avg"


NUMBERS_HEAD = (b'"TOA5","Mast","CR1000X","1","OS","P.CR1X","2","Hourly"\n'
                b'"TIMESTAMP","RECORD","WS_Avg","WS_Std"\n'
                b'"TS","RN","m/s","m/s"\n'
                b'"","","Avg","Std"\n')


def test_text_in_an_all_numeric_table_names_line_and_column():
    # No text column: the numbers are read straight to Float64 until "abc" stops that.
    error = parse_error(NUMBERS_HEAD + b'"2021-06-18 21:00:00",1,5.5,0.5\n'
                        b'"2021-06-18 22:00:00",2,6.5,0.25\n'
                        b'"2021-06-18 23:00:00",3,1.5,abc\n')
    assert (error.line, error.column) == (7, "WS_Std")
    assert "text 'abc' in numeric column WS_Std" in error.message


#: Every way a number or a missing value is written in the files seen so far.
NUMBER_FIELDS = ("5.5", '"6.25"', " 7", "NAN", '"NAN"', "", " ", "-INF", "INF", "+INF",
                 "NaN", "nan", "1e400", "-1e400", "+3", ".5", "-0", "1E-3", '""')


def test_numbers_read_straight_or_as_text_are_the_same():
    names = ["TIMESTAMP", "RECORD", "A", "B"]
    body = "\n".join(f'"2021-06-18 {i // 60:02d}:{i % 60:02d}:00",{i},{a},{b}'
                     for i, (a, b) in enumerate(zip(NUMBER_FIELDS, NUMBER_FIELDS[::-1],
                                                    strict=True)))
    options = dict(separator=",", quote_char='"', source="x.dat", first_line=5)
    straight = _stamps.read_rows(body, names, numeric=("A", "B"), missing_text=MISSING_TEXT,
                                 **options)
    as_text = _stamps.read_rows(body, names, **options)
    assert straight.schema["A"] == straight.schema["B"] == pl.Float64
    assert as_text.schema["A"] == pl.String
    converted = [_stamps.convert_columns(rows.select("A", "B"), kinds={}, source="x.dat",
                                         first_line=5, missing_text=MISSING_TEXT)
                 for rows in (straight, as_text)]
    assert converted[0][1] == converted[1][1] == ["number", "number"]
    for fast, slow in zip(converted[0][0], converted[1][0], strict=True):
        assert fast.to_list() == slow.to_list()
    assert converted[0][0][0].to_list()[:5] == [5.5, 6.25, 7.0, None, None]


def test_a_number_polars_does_not_read_falls_back_to_text():
    parsed = parse_toa5(NUMBERS_HEAD + b'"2021-06-18 21:00:00",1,5.5 ,0.5\n')
    assert parsed.data.row(0)[1:] == (5.5, 0.5)


GOOD_FILES = [p for p in sorted(TOA5.rglob("*")) if p.suffix in (".dat", ".csv")
              and "_Bad" not in p.name]


@pytest.mark.parametrize("path", GOOD_FILES, ids=lambda p: p.name)
def test_sample_files_read_the_same_without_the_numeric_shortcut(path, monkeypatch):
    read_rows, read = _stamps.read_rows, []
    monkeypatch.setattr(_stamps, "read_rows", lambda *args, **kw: read.append(
        read_rows(*args, **kw)) or read[-1])
    fast = parse.read(path, format="toa5")
    assert pl.Float64 in read[0].dtypes  # the shortcut was taken
    monkeypatch.setattr(_stamps, "read_rows", lambda *args, numeric=(), **kw: read_rows(
        *args, **kw))
    slow = parse.read(path, format="toa5")
    assert_frame_equal(fast.data, slow.data)
    assert fast.columns == slow.columns
    assert fast.header == slow.header


def _long_table(head: bytes, rows: int, *, site: bool = False) -> tuple[bytes, list[str]]:
    """A table of ``rows`` hourly rows (some NAN), and its data lines."""
    lines = [f'"2021-06-{1 + i // 24:02d} {i % 24:02d}:00:00",{i},{i * 0.5},'
             + ('"a"' if site else ("NAN" if i % 7 == 0 else f"{i * 0.25}")) for i in range(rows)]
    return head + ("\n".join(lines) + "\n").encode(), lines


@pytest.mark.parametrize("head", [NUMBERS_HEAD, HEAD], ids=["numbers", "with a text column"])
def test_a_big_table_is_read_in_blocks_as_it_would_be_at_once(head, monkeypatch):
    data, _ = _long_table(head, 300, site=head is HEAD)
    whole = parse_toa5(data)
    blocks = []
    read_block = _stamps._read_block
    monkeypatch.setattr(_stamps, "BLOCK_CHARS", 1000)
    monkeypatch.setattr(_stamps, "_read_block", lambda body, **kw: blocks.append(kw["final"])
                        or read_block(body, **kw))
    in_blocks = parse_toa5(data)
    assert_frame_equal(in_blocks.data, whole.data)
    assert in_blocks.columns == whole.columns and in_blocks.header == whole.header
    assert len(blocks) > 5 and blocks[-1] and not any(blocks[:-1])


def test_blocks_do_not_hide_a_blank_line_or_text_from_the_checks(monkeypatch):
    monkeypatch.setattr(_stamps, "BLOCK_CHARS", 1000)
    data, lines = _long_table(NUMBERS_HEAD, 300)
    body = "\n".join(lines) + "\n"
    boundary = body[:body.find("\n", 1000) + 1].count("\n")  # lines in the first block
    for blank_after in range(boundary - 2, boundary + 3):
        broken = lines[:blank_after] + [""] + lines[blank_after:]
        error = parse_error(NUMBERS_HEAD + ("\n".join(broken) + "\n").encode())
        assert (error.line, error.message) == (5 + blank_after,
                                                "blank line inside the data; remove it")
    lines[250] = lines[250].rsplit(",", 1)[0] + ",abc"
    error = parse_error(NUMBERS_HEAD + ("\n".join(lines) + "\n").encode())
    assert (error.line, error.column) == (5 + 250, "WS_Std")
    short = lines[:100] + [lines[100].rsplit(",", 1)[0]] + lines[101:]
    error = parse_error(NUMBERS_HEAD + ("\n".join(short) + "\n").encode())
    assert (error.line, error.message) == (5 + 100, "expected 4 fields as in the header, found 3")


def test_backwards_timestamp_names_the_line():
    error = parse_error(HEAD + ROW1 + ROW2 + b'"2021-06-18 21:30:00",3,1,"a"\n')
    assert error.line == 7
    assert str(error) == (
        "mast.dat, line 7: timestamp 2021-06-18 21:30:00 is not after the previous one "
        "(2021-06-18 22:00:00) on line 6; rows must be in time order without duplicates")


def test_repeated_timestamp_is_an_error():
    assert parse_error(HEAD + ROW1 + ROW1).line == 6


def test_truncated_last_row():
    error = parse_error(HEAD + ROW1 + ROW2 + b'"2021-06-18 23:00:00",3,6.')
    assert error.line == 7
    assert error.message == ("expected 4 fields as in the header, found 3 "
                             "(the last row looks truncated)")


def test_row_with_too_many_fields():
    error = parse_error(HEAD + b'"2021-06-18 21:00:00",1,5.5,"a",9\n' + ROW2)
    assert error.line == 5
    assert error.message == "expected 4 fields as in the header, found 5"


def test_quoted_comma_is_one_field():
    parsed = parse_toa5(HEAD + b'"2021-06-18 21:00:00",1,5.5,"a,b"\n' + ROW2)
    assert parsed.data["Site"].to_list() == ["a,b", "a"]


def test_blank_line_inside_the_data():
    error = parse_error(HEAD + ROW1 + b"\r\n" + ROW2)
    assert (error.line, error.message) == (6, "blank line inside the data; remove it")


def test_processing_count_mismatch():
    error = parse_error(HEAD.replace(b'"","","Avg","Smp"', b'"","","Avg"') + ROW1)
    assert error.line == 4
    assert error.message == "the processing line has 3 fields but the field-names line has 4"


def test_first_column_must_be_the_timestamp():
    error = parse_error(HEAD.replace(b'"TIMESTAMP"', b'"Time"').replace(b'"TS"', b'""') + ROW1)
    assert (error.line, error.column) == (2, "Time")


def test_missing_timestamp():
    error = parse_error(HEAD + ROW1 + b'"NAN",2,6.5,"a"\n')
    assert (error.line, error.message) == (6, "the row has no time stamp")


def test_unreadable_timestamp():
    error = parse_error(HEAD + ROW1 + b'"2021-06-18 25:00:00",2,6.5,"a"\n')
    assert (error.line, error.column) == (6, "TIMESTAMP")
    assert "cannot read timestamp '2021-06-18 25:00:00'" in error.message
    assert "timestamp_format=" in error.message


def test_sentinels_become_null_per_column():
    parsed = parse_toa5(HEAD + b'"2021-06-18 21:00:00",1,"NAN","NAN"\n'
                        b'"2021-06-18 22:00:00",2,NaN,"b"\n'
                        b'"2021-06-18 23:00:00",3,-INF,"NAN"\n'
                        b'"2021-06-19 00:00:00",4,INF,""\n'
                        b'"2021-06-19 01:00:00",5,7.25,"c"\n')
    assert_frame_equal(parsed.data, frame({
        "ts": [utc(2021, 6, 18, h) for h in (20, 21, 22, 23)] + [utc(2021, 6, 19, 0)],
        "WS_Avg": [None, None, None, None, 7.25],
        "Site": [None, "b", None, None, "c"],
    }, {"ts": TS, "WS_Avg": pl.Float64, "Site": pl.String}))
    assert parsed.columns[1] == Column("Site", "sample", None, "text", "Smp")


def test_all_missing_column_is_numeric():
    parsed = parse_toa5(HEAD + b'"2021-06-18 21:00:00",1,"NAN","x"\n')
    assert parsed.columns[0].kind == "number"
    assert parsed.data.schema["WS_Avg"] == pl.Float64


def test_column_of_stamps_is_a_timestamp():
    parsed = parse_toa5(HEAD + b'"2021-06-18 21:00:00",1,5.5,"2021-06-18 20:41:10"\n'
                        + b'"2021-06-18 22:00:00",2,6.5,"NAN"\n')
    assert parsed.columns[1].kind == "timestamp"
    assert parsed.data["Site"].to_list() == [utc(2021, 6, 18, 20, 41, 10), None]


@pytest.mark.parametrize(("table", "interval"), [
    ("Hourly", timedelta(hours=1)), ("Table_Hour", timedelta(hours=1)),
    ("Data60min", timedelta(hours=1)), ("Daily", timedelta(days=1)),
    ("Day", timedelta(days=1)), ("Stats24hr", timedelta(days=1)),
    ("Min10", timedelta(minutes=10)), ("TenMin", timedelta(minutes=10)),
    ("Ten_Min", timedelta(minutes=10)), ("wind10min", timedelta(minutes=10)),
    ("Min1", timedelta(minutes=1)), ("OneMin", timedelta(minutes=1)),
    ("met1min", timedelta(minutes=1)), ("Status", None), ("Min100", None),
])
def test_interval_from_table_name(table, interval):
    assert interval_from_table_name(table) == interval


def test_single_row_takes_the_interval_from_the_table_name():
    parsed = parse_toa5(HEAD.replace(b"Hourly", b"Min10") + ROW1)
    assert parsed.interval == timedelta(minutes=10)
    assert parsed.data["ts"].to_list() == [utc(2021, 6, 18, 20, 50)]


def test_single_row_of_an_unknown_table_asks_for_the_interval():
    error = parse_error(HEAD.replace(b"Hourly", b"Status") + ROW1)
    assert error.line == 5
    assert error.message.endswith("pass interval=")
    parsed = parse_toa5(HEAD.replace(b"Hourly", b"Status") + ROW1,
                        interval=timedelta(minutes=30))
    assert parsed.data["ts"].to_list() == [utc(2021, 6, 18, 20, 30)]


def test_header_only_file_has_no_rows():
    parsed = parse_toa5(HEAD)
    assert parsed.data.height == 0
    assert parsed.data.schema == pl.Schema({"ts": TS, "WS_Avg": pl.Float64,
                                            "Site": pl.Float64})
    assert "first_record" not in parsed.header
    assert parsed.interval == timedelta(hours=1)


def test_given_interval_overrides_the_inferred_one():
    parsed = parse_toa5(HEAD + ROW1 + ROW2, interval=timedelta(minutes=15))
    assert parsed.interval == timedelta(minutes=15)
    assert parsed.data["ts"].to_list() == [utc(2021, 6, 18, 20, 45), utc(2021, 6, 18, 21, 45)]


def test_logger_clock_offset():
    parsed = parse_toa5(HEAD + ROW1 + ROW2, utc_offset=timedelta(hours=-5))
    assert parsed.data["ts"].to_list() == [utc(2021, 6, 19, 1), utc(2021, 6, 19, 2)]


def test_explicit_offset_wins_over_utc_offset():
    data = HEAD + b'"01/02/2021 10:00+01:00",1,5.5,"a"\n"01/02/2021 11:00+01:00",2,6,"a"\n'
    parsed = parse_toa5(data, utc_offset=timedelta(hours=-5))
    # Day-first and month-first both read; 1 Feb and 2 Jan have the same span, day-first wins.
    assert parsed.data["ts"].to_list() == [utc(2021, 2, 1, 8), utc(2021, 2, 1, 9)]


def test_month_first_when_day_first_cannot_read_every_row():
    data = HEAD + b'01/12/2021 23:00,1,5.5,a\n01/13/2021 00:00,2,6,a\n'
    assert parse_toa5(data).data["ts"].to_list() == [utc(2021, 1, 12, 22),
                                                     utc(2021, 1, 12, 23)]


def test_date_order_that_goes_backwards_is_rejected():
    hourly = timedelta(hours=1)
    # Day-first: 12 January, 1 February. Month-first: 1 December, 2 January (backwards).
    data = HEAD + b'12/01/2021 10:00,1,5.5,a\n01/02/2021 10:00,2,6,a\n'
    assert parse_toa5(data, interval=hourly).data["ts"].to_list() == [
        utc(2021, 1, 12, 9), utc(2021, 2, 1, 9)]
    # Day-first: 1 December, 2 January (backwards). Month-first: 12 January, 1 February.
    data = HEAD + b'01/12/2021 10:00,1,5.5,a\n02/01/2021 10:00,2,6,a\n'
    assert parse_toa5(data, interval=hourly).data["ts"].to_list() == [
        utc(2021, 1, 12, 9), utc(2021, 2, 1, 9)]


def test_backwards_slash_dates_name_the_line():
    # Both orders read every row and neither increases: the error names the row.
    data = HEAD + b'02/02/2021 10:00,1,5.5,a\n01/01/2021 10:00,2,6,a\n'
    error = parse_error(data)
    assert error.line == 6
    assert error.message.startswith("timestamp 01/01/2021 10:00 is not after the previous one")


def test_timestamp_format_overrides_detection():
    data = HEAD + b'"2021.06.18 21h00",1,5.5,"a"\n"2021.06.18 22h00",2,6.5,"a"\n'
    parsed = parse_toa5(data, timestamp_format="%Y.%m.%d %Hh%M")
    assert parsed.data["ts"].to_list() == [utc(2021, 6, 18, 20), utc(2021, 6, 18, 21)]
    error = parse_error(data, timestamp_format="%Y-%m-%d %H:%M:%S")
    assert error.line == 5
    assert "as the format '%Y-%m-%d %H:%M:%S'" in error.message
    error = parse_error(data, timestamp_format="%Y.%m.%d %Hh")
    assert error.message.startswith("timestamp_format '%Y.%m.%d %Hh' cannot be used")


def test_fractional_seconds():
    data = HEAD + b'"2021-06-18 21:00:00.5",1,5.5,"a"\n"2021-06-18 21:00:01",2,6.5,"a"\n'
    parsed = parse_toa5(data)
    assert parsed.interval == timedelta(milliseconds=500)
    assert parsed.data["ts"].to_list() == [utc(2021, 6, 18, 21), utc(2021, 6, 18, 21, 0, 0,
                                                                        500000)]


@pytest.mark.parametrize(("processing", "name", "statistic"), [
    ("Avg", "WS", "avg"), ("Std", "WS_Std", "sd"), ("Max", "x", "max"), ("Min", "x", "min"),
    ("Tot", "Rain", "sum"), ("Smp", "x", "sample"), ("TMx", "x", "time_of_max"),
    ("TMn", "x", "time_of_min"), ("WVc", "WindDir", "avg"), ("WVc", "WindDirStd", "sd"),
    ("WVc", "WindDir_SD", "sd"), ("WVc", "WindDirStdDev", "sd"), ("WVc", "WindDir_SD1_WVT", "sd"),
    ("Med", "x", None), ("Hst", "x", None), ("", "x", None), ("Xyz", "x", None),
])
def test_statistic_of(processing, name, statistic):
    assert statistic_of(processing, name) == statistic


def test_sniff_and_registry():
    assert sniff((PYTOA5 / "TestLogger_Hourly_1.dat").read_bytes()) == "toa5"
    assert sniff((TOA5 / "campbell_scientific_demo_data1.csv").read_bytes()) == "toa5"
    assert sniff(b"TOA5,a,b\r\n") == "toa5"
    parsed = parse_bytes(HEAD + ROW1 + ROW2, source="x.dat")
    assert (parsed.format, parsed.source) == ("toa5", "x.dat")


def test_read_from_bytes_and_file_objects():
    from_bytes = parse.read(HEAD + ROW1 + ROW2, format="toa5")
    assert from_bytes.source == "<buffer>"
    from_file = parse.read(io.BytesIO(HEAD + ROW1 + ROW2), format="toa5", source="upload.dat")
    assert from_file.source == "upload.dat"
    assert_frame_equal(from_bytes.data, from_file.data)
    with pytest.raises(ParseError, match=r"^upload\.dat, line 1: the file is empty$"):
        parse.read(io.BytesIO(b""), format="toa5", source="upload.dat")


def test_an_option_no_parser_takes_is_named():
    with pytest.raises(TypeError, match="unknown options: utc_ofset"):
        parse_bytes(HEAD + ROW1, utc_ofset=timedelta(hours=1))
