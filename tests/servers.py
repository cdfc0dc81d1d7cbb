"""Real SFTP, FTP and HTTP servers on 127.0.0.1 for the fetch tests, each serving a folder.

SFTP is asyncssh's server, FTP is pyftpdlib's, HTTP is the standard library's (its directory
listing is what fsspec's HTTP file system globs). Each runs in a thread of the test process and
stops when its context ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import logging
import threading
import warnings
from pathlib import Path

import asyncssh

with warnings.catch_warnings():  # pyftpdlib imports asyncore, deprecated in Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

USER = "logger"
PASSWORD = "s3cret-for-tests"


@contextlib.contextmanager
def sftp_server(root: Path):
    """An SFTP server chrooted at ``root``; yields its port. Password login only."""

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def password_auth_supported(self):
            return True

        def validate_password(self, username, password):
            return username == USER and password == PASSWORD

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    async def start():
        key = asyncssh.generate_private_key("ssh-ed25519")
        server = await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[key], server_factory=Server,
            sftp_factory=functools.partial(asyncssh.SFTPServer, chroot=str(root)))
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()),
                                              loop.run_forever()), daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield holder["port"]
    finally:
        async def stop():
            holder["server"].close()
            await holder["server"].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@contextlib.contextmanager
def ftp_server(root: Path):
    """An FTP server serving ``root`` read-only to USER/PASSWORD; yields its port."""
    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(root), perm="elr")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer})
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2},
                              daemon=True)
    thread.start()
    try:
        yield server.address[1]
    finally:
        server.close_all()
        thread.join(30)


@contextlib.contextmanager
def http_server(root: Path):
    """An HTTP server listing and serving ``root``; yields its port."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)
