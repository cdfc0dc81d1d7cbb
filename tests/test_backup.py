"""Backups: pg_dump in rotation, each proven by a restore into a scratch database."""

from datetime import UTC, datetime, timedelta

import pytest

from stationlab import backup, storage


def test_backup_is_restored_and_rotated(mast, db, tmp_path):
    stamps = iter(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(3))
    results = [backup.backup(tmp_path, keep=2, clock=lambda: next(stamps)) for _ in range(3)]
    assert results[0].readings > 0 and results[0].files == 1
    assert results[0].schema_version == storage.db.latest_version()
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == [results[1].path.name, results[2].path.name]
    assert results[2].removed == (results[0].path,)
    assert results[2].path.name.endswith("-20240103T000000Z.dump")


def test_missing_tools_are_named(monkeypatch):
    with pytest.raises(backup.BackupError, match="no pg_dump for PostgreSQL 9 .*install "
                                                 "postgresql-client-9"):
        backup.find_tool("pg_dump", 9)
