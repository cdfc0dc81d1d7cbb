"""JupyterHub for the stationlab team: one server per analyst, as the analyst's own system user.

Start (as root, so the hub can start servers as the analysts; once: `npm ci --prefix hub`)::

    PATH=$PWD/hub/node_modules/.bin:$PATH \
    STATIONLAB_ANALYST_DSN='postgresql://{username}@db.example.org/stationlab' \
    .venv/bin/jupyterhub -f hub/jupyterhub_config.py

Each analyst needs a system user (``useradd -m NAME``), a database role made by
``stationlab db grant-analyst NAME`` (read everything, add flags, nothing more; add
``--calibrations`` for those who keep the sensor calibrations with the calibration editor) and,
where the server wants passwords, a ``~/.pgpass`` of their own (mode 600): the hub hands out no
secrets.

Settings (environment variables, so the same file serves production and the tests):

``STATIONLAB_HUB_AUTH``
    ``native`` (default: NativeAuthenticator, sign-up approved by an admin), ``pam`` (the machine's
    own accounts), or ``dummy`` (any password; refused unless ``STATIONLAB_HUB_TESTING=1``).
``STATIONLAB_HUB_ADMINS`` / ``STATIONLAB_HUB_USERS``
    Comma-separated admin users / allowed users.
``STATIONLAB_HUB_IP`` / ``STATIONLAB_HUB_PORT``
    Where the proxy listens (default 127.0.0.1:8000; put TLS in front, or set ssl_cert/ssl_key).
``STATIONLAB_HUB_PUBLIC_URL``
    The URL analysts open (e.g. ``https://hub.example.org/``): JupyterHub's ``public_url``. With it
    the stylesheets Panel's widgets ask for after their first render come from the analyst's own
    server; without it, from cdn.holoviz.org (the widgets work, unstyled, with no internet).
``STATIONLAB_HUB_STATE``
    Folder for the hub's database and cookie secret (default: the current folder).
``STATIONLAB_HUB_PYTHON``
    The Python of the analysts' servers: a venv with stationlab and jupyter_server, readable by
    every analyst (default: the hub's own Python). Created with ``--system-site-packages`` so that
    ``pip install --user`` works: what an analyst installs lands in their own ``~/.local`` and
    changes nobody else's environment, nor the pipelines'.
``STATIONLAB_ANALYST_DSN``
    The analysts' ``STATIONLAB_DSN``; ``{username}`` becomes the analyst's name (their role).
``STATIONLAB_HUB_MEM_LIMIT`` / ``STATIONLAB_HUB_CPU_LIMIT``
    Per-process address-space limit (default ``2G``) and cores (default 1) for each analyst's
    server and kernels, enforced with ``setrlimit(RLIMIT_AS)`` and CPU affinity before the
    server starts as the analyst; a cell allocating more fails with ``MemoryError`` instead of
    taking the machine (and the database) down.
``STATIONLAB_HUB_CULL_AFTER``
    Idle servers are stopped after this many seconds (default 3600; jupyterhub-idle-culler).
``STATIONLAB_HUB_API_TOKEN``
    If set, a ``stationlab-admin`` service with this token may manage users and servers (used by
    automation and the end-to-end test).
``STATIONLAB_HUB_SPAWNER``
    ``local`` (default) or ``kubernetes`` (below).
"""

import math
import os
import resource
import shlex
import sys

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821 (provided by JupyterHub)
env = os.environ.get
HERE = os.path.dirname(os.path.abspath(__file__))
STATE = env("STATIONLAB_HUB_STATE") or os.getcwd()
PYTHON = env("STATIONLAB_HUB_PYTHON") or sys.executable

# --- network and state ---------------------------------------------------------------------
c.JupyterHub.ip = env("STATIONLAB_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("STATIONLAB_HUB_PORT", "8000"))
if env("STATIONLAB_HUB_PUBLIC_URL"):  # the analysts' kernels load Panel's stylesheets from it
    c.JupyterHub.public_url = env("STATIONLAB_HUB_PUBLIC_URL")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env("STATIONLAB_HUB_INTERNAL_PORT", "8081"))
c.JupyterHub.db_url = "sqlite:///" + os.path.join(STATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(STATE, "jupyterhub.pid")
# configurable-http-proxy pinned in hub/package.json (npm ci --prefix hub)
_proxy = os.path.join(HERE, "node_modules", ".bin", "configurable-http-proxy")
if os.path.exists(_proxy):
    c.ConfigurableHTTPProxy.command = [_proxy]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + env("STATIONLAB_HUB_PROXY_API_PORT",
                                                           "8001")

# --- who may log in -----------------------------------------------------------------------
AUTH = env("STATIONLAB_HUB_AUTH", "native")
ADMINS = {u.strip() for u in env("STATIONLAB_HUB_ADMINS", "").split(",") if u.strip()}
USERS = {u.strip() for u in env("STATIONLAB_HUB_USERS", "").split(",") if u.strip()}
if AUTH == "native":
    c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
    c.NativeAuthenticator.open_signup = False       # an admin approves each sign-up
    c.NativeAuthenticator.minimum_password_length = 12
    c.Authenticator.allow_all = not USERS            # approved users; or only those listed
elif AUTH == "pam":
    c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
    c.Authenticator.allow_all = not USERS
elif AUTH == "dummy":
    if env("STATIONLAB_HUB_TESTING") != "1":
        raise SystemExit("STATIONLAB_HUB_AUTH=dummy accepts any password: tests only "
                         "(set STATIONLAB_HUB_TESTING=1)")
    c.JupyterHub.authenticator_class = "dummy"
else:
    raise SystemExit(f"STATIONLAB_HUB_AUTH must be native, pam or dummy, not {AUTH!r}")
c.Authenticator.admin_users = ADMINS
if USERS:
    c.Authenticator.allowed_users = USERS | ADMINS


# --- one server per analyst, as the analyst's own system user, with limits -----------------
class LimitedLocalProcessSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose mem_limit and cpu_limit are enforced (inherited by kernels):
    RLIMIT_AS caps each process's memory, CPU affinity the cores it may use."""

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        mem, cpu = self.mem_limit, self.cpu_limit

        def preexec():
            if mem:
                resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            if cpu:
                cores = sorted(os.sched_getaffinity(0))
                os.sched_setaffinity(0, cores[:max(1, math.ceil(cpu))])
            become_user()

        return preexec


c.JupyterHub.spawner_class = LimitedLocalProcessSpawner
c.Spawner.cmd = [PYTHON, "-m", "jupyterhub.singleuser"]
# stationlab.kernel.SERVER_OPTIONS: JupyterLab fetches nothing from outside (extensions, news)
c.Spawner.args = ["--LabApp.extension_manager=readonly", "--LabApp.news_url=None",
                  "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
c.Spawner.default_url = "/lab"  # JupyterLab (a dependency), its widget extensions from wheels
c.Spawner.mem_limit = env("STATIONLAB_HUB_MEM_LIMIT", "2G")
c.Spawner.cpu_limit = float(env("STATIONLAB_HUB_CPU_LIMIT", "1"))
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ", "STATIONLAB_HOME"]


def _jupyter_environment() -> dict:
    """JUPYTER_PATH and JUPYTER_CONFIG_PATH of the analysts' servers, as the analysts' Python
    has them (stationlab/kernel: the kernel renders Bokeh, Panel and HoloViews with their
    JavaScript inline, nothing from a CDN; JupyterLab offers no build with node)."""
    import json
    import subprocess

    try:
        found = subprocess.run([PYTHON, "-c", "import json; from stationlab import kernel; "
                                "print(json.dumps(kernel.environment({})))"],
                               capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(f"{PYTHON} has no stationlab.kernel (install stationlab there): {exc}"
                         ) from exc
    return json.loads(found.stdout)


JUPYTER_ENVIRONMENT = _jupyter_environment()


def _analyst_environment(spawner):
    """Each analyst reaches the database as their own role (see `stationlab db grant-analyst`);
    their kernels are stationlab's (JUPYTER_PATH), which render plots and widgets offline."""
    extra = {"STATIONLAB_AUTHOR": spawner.user.name, **JUPYTER_ENVIRONMENT}
    template = env("STATIONLAB_ANALYST_DSN")
    if template:
        extra["STATIONLAB_DSN"] = template.format(username=spawner.user.name)
    spawner.environment = {**spawner.environment, **extra}


c.Spawner.pre_spawn_hook = _analyst_environment

# --- services: idle culler, dashboards, automation -----------------------------------------
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                "--timeout=" + env("STATIONLAB_HUB_CULL_AFTER", "3600"), "--cull-every=300"],
}]

# The Panel dashboards (station health, data recovery) as a hub service at
# /services/dashboards/, behind hub login: the hub starts `stationlab dashboard` with
# JUPYTERHUB_SERVICE_PREFIX, JUPYTERHUB_API_TOKEN and the OAuth client settings in its
# environment, and the dashboard admits only users the hub vouches for (HubOAuth). It is added
# only where this stationlab has the `dashboard` command, so a hub without it still starts.
DASHBOARD_PORT = env("STATIONLAB_HUB_DASHBOARD_PORT", "8011")
DASHBOARD = shlex.split(env("STATIONLAB_HUB_DASHBOARD_COMMAND", "")) or [
    PYTHON, "-m", "stationlab", "dashboard", "--address", "127.0.0.1",
    "--port", DASHBOARD_PORT, "--prefix", "/services/dashboards/"]


def _has_dashboard() -> bool:
    try:
        from stationlab.cli import main
    except ImportError:
        return False
    return "dashboard" in main.commands


if _has_dashboard():
    c.JupyterHub.services.append({
        "name": "dashboards",
        "url": "http://127.0.0.1:" + DASHBOARD_PORT,
        "command": DASHBOARD,
        "oauth_no_confirm": True,
        "display": True,
        "environment": {"STATIONLAB_DSN": env("STATIONLAB_DASHBOARD_DSN", "")},
    })
    c.JupyterHub.load_roles.append({"name": "user", "scopes": ["self", "access:services"]})

if env("STATIONLAB_HUB_API_TOKEN"):
    c.JupyterHub.services.append({"name": "stationlab-admin",
                                  "api_token": env("STATIONLAB_HUB_API_TOKEN")})
    c.JupyterHub.load_roles.append({
        "name": "stationlab-admin",
        "scopes": ["admin:users", "admin:servers", "access:servers", "list:users",
                   "read:users"],
        "services": ["stationlab-admin"]})

# --- a team that outgrows one machine: Zero to JupyterHub on Kubernetes -------------------
# With the z2jh Helm chart (https://z2jh.jupyter.org) the hub runs in the cluster and this
# part moves to the chart's values.yaml (hub.extraConfig), with the same meaning:
#   singleuser.image: an image with stationlab installed (pip install . in a Dockerfile)
#   singleuser.memory.limit: 2G, singleuser.cpu.limit: 1   (enforced by Kubernetes cgroups)
#   singleuser.extraEnv.STATIONLAB_DSN: from a per-user Secret, as below
#   cull.enabled: true, cull.timeout: 3600                  (the chart runs the idle culler)
#   hub.services.dashboards: a Deployment running `stationlab dashboard`
if env("STATIONLAB_HUB_SPAWNER") == "kubernetes":
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.KubeSpawner.image = env("STATIONLAB_HUB_IMAGE", "registry.example.org/stationlab:latest")
    c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
    c.KubeSpawner.mem_limit = env("STATIONLAB_HUB_MEM_LIMIT", "2G")
    c.KubeSpawner.cpu_limit = float(env("STATIONLAB_HUB_CPU_LIMIT", "1"))
    c.KubeSpawner.storage_pvc_ensure = True             # a home volume per analyst
    c.KubeSpawner.storage_capacity = "10Gi"
    c.KubeSpawner.pre_spawn_hook = _analyst_environment
