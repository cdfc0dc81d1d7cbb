"""The migrations folded into the declared schema at version ``BASELINE``, read from git history
(commit ``BASELINE_COMMIT``), to make a database the way the stationlabs before the fold did."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import psycopg

from stationlab import storage
from stationlab.storage.db import BASELINE_COMMIT, queries

ROOT = Path(__file__).resolve().parents[1]
FOLDER = "stationlab/storage/sql/migrations"
_NAME = re.compile(r"^(\d{4})_(\w+?)(?:\.(plain|timescaledb))?\.sql$")


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


@functools.cache
def available() -> str | None:
    """``None`` if the old migrations can be read, else why not."""
    try:
        found = _git("cat-file", "-e", f"{BASELINE_COMMIT}^{{commit}}")
    except FileNotFoundError:
        return "git is not installed"
    if found.returncode:
        return (f"commit {BASELINE_COMMIT} is not in this checkout's history (a shallow clone or "
                "an unpacked archive)")
    return None


@functools.cache
def migrations() -> list[tuple[int, str, dict[str | None, str]]]:
    """``(version, name, {None: common text, backend: text})``, in order."""
    listing = _git("ls-tree", "--name-only", f"{BASELINE_COMMIT}:{FOLDER}")
    listing.check_returncode()
    found: dict[int, tuple[str, dict]] = {}
    for file in listing.stdout.split():
        if match := _NAME.match(file):
            text = _git("show", f"{BASELINE_COMMIT}:{FOLDER}/{file}")
            text.check_returncode()
            found.setdefault(int(match[1]), (match[2], {}))[1][match[3]] = text.stdout
    return [(version, name, texts) for version, (name, texts) in sorted(found.items())]


def apply(conn: psycopg.Connection, backend: str, *, upto: int | None = None) -> list[str]:
    """Apply the old migrations (up to version ``upto``) to an empty database as the old
    ``migrate`` did: the extension, then each migration's common file and its backend file.
    The backend is recorded by the ``storage.migrate`` that follows."""
    applied = []
    with storage.transaction(conn):
        if backend == "timescaledb":
            conn.execute(queries("timescale.sql")["create_extension"])
        conn.execute(queries("db.sql")["create_schema_migrations"])
        for version, name, texts in migrations():
            if upto is not None and version > upto:
                break
            for text in (texts.get(None), texts.get(backend)):
                if text:
                    conn.execute(text)
            conn.execute(queries("db.sql")["record_migration"], {"version": version, "name": name})
            applied.append(f"{version:04d}_{name}")
    return applied
