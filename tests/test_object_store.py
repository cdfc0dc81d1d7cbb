"""The raw store and the exports store on object storage: a real S3 API server on 127.0.0.1
(``s3_server``, :mod:`tests.s3server`), reached as any machine would reach it (``AWS_*``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import obstore
import pytest
from obstore.store import from_url

from stationlab import objectstore, rawstore
from stationlab.errors import ConfigError, StationlabError

from .conftest import DEMO, HOURLY
from .test_cli import stationlab


def objects(url: str) -> dict[str, bytes]:
    """Every object under an ``s3://`` prefix, by key below it."""
    store = from_url(url, client_options={"allow_http": True})
    return {m["path"]: bytes(obstore.get(store, m["path"]).bytes())
            for batch in obstore.list(store) for m in batch}


def test_a_store_variable_takes_a_folder_or_an_s3_url(tmp_path, monkeypatch):
    monkeypatch.setenv("STATIONLAB_HOME", str(tmp_path))
    monkeypatch.delenv("STATIONLAB_RAW_STORE", raising=False)
    assert rawstore.location() == tmp_path / "raw"
    monkeypatch.setenv("STATIONLAB_RAW_STORE", str(tmp_path / "elsewhere"))
    assert rawstore.store(b"x").new and (tmp_path / "elsewhere").is_dir()
    monkeypatch.setenv("STATIONLAB_RAW_STORE", "s3://bucket/some/prefix/")
    assert rawstore.location() == "s3://bucket/some/prefix"
    monkeypatch.setenv("STATIONLAB_RAW_STORE", "gs://bucket/prefix")
    with pytest.raises(ConfigError, match=r"^STATIONLAB_RAW_STORE=gs://bucket/prefix: unknown URL "
                       r"scheme 'gs'; use a folder or s3://bucket/prefix$"):
        rawstore.store(b"x")
    monkeypatch.setenv("STATIONLAB_EXPORTS_STORE", "s3:///prefix")
    from stationlab.export import store
    with pytest.raises(ConfigError, match="STATIONLAB_EXPORTS_STORE=s3:///prefix: the URL names "
                       "no bucket"):
        store.store_dir()


def test_raw_store_on_s3_is_content_addressed_written_once_and_read_back(s3_stores):
    first = rawstore.store(b"logger bytes")
    assert first.new
    assert objects(f"{s3_stores}/raw") == {first.relative_path: b"logger bytes"}
    head = obstore.head(from_url(f"{s3_stores}/raw", client_options={"allow_http": True}),
                        first.relative_path)
    again = rawstore.store(b"logger bytes")
    assert (again.new, again.relative_path) == (False, first.relative_path)
    after = obstore.head(from_url(f"{s3_stores}/raw", client_options={"allow_http": True}),
                         first.relative_path)
    assert (after["e_tag"], after["last_modified"]) == (head["e_tag"], head["last_modified"])
    assert rawstore.read(first.relative_path, digest=first.sha256) == b"logger bytes"
    with pytest.raises(StationlabError, match=r"the raw store has no file 00/00/0000 \(looked in "
                       r"s3://stationlab/.*/raw\)"):
        rawstore.read("00/00/0000")


def test_the_conditional_put_never_replaces_an_object(s3_stores):
    """The server honours ``If-None-Match: *``: a second put of a key is refused, and what the
    first put wrote stays, whatever the second one carried."""
    bucket = objectstore.Bucket(f"{s3_stores}/raw", "STATIONLAB_RAW_STORE")
    assert bucket.put_once("ab/cd/key", b"first")
    assert not bucket.put_once("ab/cd/key", b"second")
    assert bucket.get("ab/cd/key") == b"first"
    # Bytes at a content address that are not those bytes (another writer, a damaged copy): the
    # store refuses to go on and leaves the object alone.
    data = b"real logger bytes"
    address = rawstore.relative_path(hashlib.sha256(data).digest())
    assert bucket.put_once(address, b"something else")
    with pytest.raises(StationlabError, match=r"the raw store's file s3://.* does not match its "
                       "sha256"):
        rawstore.store(data)
    assert bucket.get(address) == b"something else"


def _env(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


def test_bad_configuration_is_one_line_naming_the_variable(db, home, s3_stores, s3_server,
                                                           real_data):
    cases = [
        ({"STATIONLAB_RAW_STORE": "gs://bucket/raw"},
         "Error: STATIONLAB_RAW_STORE=gs://bucket/raw: unknown URL scheme 'gs'; use a folder or "
         "s3://bucket/prefix"),
        ({"STATIONLAB_RAW_STORE": "s3://no-such-bucket/raw"},
         "Error: STATIONLAB_RAW_STORE=s3://no-such-bucket/raw: the bucket 'no-such-bucket' does "
         "not exist; create it, or name another"),
        ({"AWS_SECRET_ACCESS_KEY": "wrong"},
         f"Error: STATIONLAB_RAW_STORE={s3_stores}/raw: the service refused the credentials to "
         "write (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
         f"Error: STATIONLAB_RAW_STORE={s3_stores}/raw: cannot reach http://127.0.0.1:9 to "
         "write; check AWS_ENDPOINT_URL and the network"),
    ]
    for values, message in cases:
        run = stationlab("upload", real_data / HOURLY, env=_env(**values))
        assert (run.returncode, run.stderr.splitlines()) == (1, [message]), values
    assert objects(f"{s3_stores}/raw") == {}
    # A worker whose store is refused stops with the message and fails no file.
    assert stationlab("upload", real_data / HOURLY).returncode == 0
    run = stationlab("worker", env=_env(AWS_SECRET_ACCESS_KEY="wrong"))
    assert (run.returncode, run.stderr.splitlines()) == (1, [
        f"Error: STATIONLAB_RAW_STORE={s3_stores}/raw: the service refused the credentials to "
        "read (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"])
    assert "pending" in stationlab("files").stdout
    run = stationlab("exports", "build", env=_env(STATIONLAB_EXPORTS_STORE="ftp://host/x"))
    assert (run.returncode, run.stderr.splitlines()) == (1, [
        "Error: STATIONLAB_EXPORTS_STORE=ftp://host/x: unknown URL scheme 'ftp'; use a folder "
        "or s3://bucket/prefix"])


def test_upload_worker_retry_and_exports_build_against_s3(db, conn, home, s3_stores, real_data):
    run = stationlab("upload", real_data / DEMO, real_data / HOURLY)
    assert run.returncode == 0, run.stderr
    assert not (home / "raw").exists()  # nothing under STATIONLAB_HOME: all in the bucket
    stored = objects(f"{s3_stores}/raw")
    assert sorted(stored.values()) == sorted(
        (real_data / p).read_bytes() for p in (DEMO, HOURLY))
    # A worker pointed at another prefix finds no file: failed with the reason, then retried.
    run = stationlab("worker", env=_env(STATIONLAB_RAW_STORE=f"{s3_stores}/elsewhere"))
    assert run.stdout.splitlines()[-1] == "2 files: 0 imported, 2 failed", run.stderr
    assert "the raw store has no file" in stationlab("files", "--failed").stdout
    run = stationlab("retry")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "2 files: 2 imported, 0 failed"
    assert conn.execute("SELECT count(*) AS n FROM readings").fetchone()["n"] == 188 * 30 + 15

    run = stationlab("exports", "build", "--station", "TestLogger", "--format", "csv")
    assert run.returncode == 0, run.stderr
    made = objects(f"{s3_stores}/exports")
    [(key, data)] = made.items()
    digest = hashlib.sha256(data).hexdigest()
    assert key == f"TestLogger/{digest}/TestLogger.csv"
    url = f"{s3_stores}/exports/{key}"
    assert run.stdout.splitlines() == [
        f"TestLogger csv: built 3 rows (data version 1) -> {url}",
        f"1 built, 0 up to date, in {s3_stores}/exports"]
    row = conn.execute("SELECT path, sha256, size_bytes FROM exports").fetchone()
    assert (row["path"], bytes(row["sha256"]).hex(), row["size_bytes"]) == (url, digest,
                                                                            len(data))
    assert data.decode().splitlines()[0].startswith("timestamp,")
    again = stationlab("exports", "build", "--station", "TestLogger", "--format", "csv")
    assert again.stdout.splitlines()[0] == f"TestLogger csv: up to date ({url})"
    assert stationlab("exports", "path", "--station", "TestLogger", "--format", "csv"
                      ).stdout.strip() == url
    assert "(current)" in stationlab("exports", "list").stdout
    assert not Path(home / "exports").exists()
