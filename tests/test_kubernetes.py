"""The hub on Kubernetes (hub/kubernetes/): the Zero to JupyterHub values file and the
dashboards Deployment, checked without a cluster.

What runs here: the values are turned into JupyterHub configuration the way the chart's own
``jupyterhub_config.py`` turns them (for the keys the file uses; any other key fails the test
rather than being ignored), its ``hub.extraConfig`` runs on that configuration, KubeSpawner
(jupyterhub-kubespawner) loads it, and the pod it would start for an analyst is built and read.
What does not run: Helm, a cluster, the images. The chart's published schema
(``values.schema.json`` in the chart, from ``helm pull jupyterhub/jupyterhub --untar``) is not
on PyPI: with ``STATIONLAB_Z2JH_SCHEMA`` naming it, the values are validated against it; without,
that one test is skipped and says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from traitlets.config import Config

from stationlab.cli import main
from tests.conftest import REPO

kubespawner = pytest.importorskip("kubespawner", reason="jupyterhub-kubespawner (.[dev])")

HERE = REPO / "hub" / "kubernetes"
VALUES = yaml.safe_load((HERE / "values.yaml").read_text())
#: singleuser.* keys and the KubeSpawner (or Spawner) traits the chart sets from them.
SINGLEUSER_TRAITS = {"memory.limit": "mem_limit", "memory.guarantee": "mem_guarantee",
                     "cpu.limit": "cpu_limit", "cpu.guarantee": "cpu_guarantee",
                     "extraEnv": "environment", "cmd": "cmd", "defaultUrl": "default_url"}
#: singleuser.* keys the chart turns into Kubernetes objects, not spawner traits.
SINGLEUSER_OBJECTS = {"image", "storage", "networkPolicy"}
HUB_KEYS = {"config", "extraConfig", "services", "loadRoles", "image", "extraEnv"}


def _flat(tree: dict, prefix: str = "") -> dict:
    """``{"memory": {"limit": "2G"}}`` as ``{"memory.limit": "2G"}`` (down to known keys)."""
    out = {}
    for key, value in tree.items():
        name = prefix + key
        if isinstance(value, dict) and name not in SINGLEUSER_TRAITS and key not in (
                SINGLEUSER_OBJECTS if not prefix else ()):
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def chart_config(values: dict) -> Config:
    """The JupyterHub configuration the chart makes of ``values`` (its jupyterhub_config.py:
    hub.config merged as is, hub.services and hub.loadRoles from maps to lists, the singleuser
    keys to KubeSpawner traits, the image from name and tag, then every hub.extraConfig)."""
    hub, single = values["hub"], values["singleuser"]
    assert set(hub) <= HUB_KEYS, set(hub) - HUB_KEYS
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    for section, traits in hub.get("config", {}).items():
        for trait, value in traits.items():
            c[section][trait] = value
    c.JupyterHub.services = [{"name": name, **spec}
                             for name, spec in hub.get("services", {}).items()]
    c.JupyterHub.load_roles = [{"name": name, **spec}
                               for name, spec in hub.get("loadRoles", {}).items()]
    flat = _flat(single)
    unknown = set(flat) - set(SINGLEUSER_TRAITS) - SINGLEUSER_OBJECTS
    assert not unknown, f"singleuser keys this test does not know the chart's meaning of: {unknown}"
    for key, trait in SINGLEUSER_TRAITS.items():
        if key in flat:
            c.KubeSpawner[trait] = flat[key]
    c.KubeSpawner.image = f"{single['image']['name']}:{single['image']['tag']}"
    if single["storage"]["type"] == "dynamic":
        c.KubeSpawner.storage_pvc_ensure = True
        c.KubeSpawner.storage_capacity = single["storage"]["capacity"]
    for name, code in hub.get("extraConfig", {}).items():  # in the hub's environment
        exec(compile(code, f"hub.extraConfig.{name}", "exec"), {"c": c})
    return c


@pytest.fixture(autouse=True)
def kubeconfig(tmp_path, monkeypatch):
    """KubeSpawner loads a client configuration when made; this one names a cluster that is
    never contacted (building a pod manifest needs no API server)."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
        "users": [{"name": "none", "user": {"token": "unused"}}]}))
    from kubernetes_asyncio.config import kube_config

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    # what the hub's environment holds (hub.extraEnv, from the Secret)
    monkeypatch.setenv("DASHBOARDS_API_TOKEN", "t0ken")


class _User:
    """What KubeSpawner reads of a hub user."""

    def __init__(self, name: str):
        self.name, self.id, self.url = name, 7, f"/user/{name}/"


async def _make(config: Config, username: str):
    """A KubeSpawner for the user (made in an event loop, as the hub makes it)."""
    return kubespawner.KubeSpawner(config=config, user=_User(username), _mock=True)


def _spawner(config: Config, username: str):
    return asyncio.run(_make(config, username))


def _pod(config: Config, username: str) -> tuple:
    """The spawner and the pod it would start, as a dict."""
    async def build():
        spawner = await _make(config, username)
        return spawner, (await spawner.get_pod_manifest()).to_dict()
    return asyncio.run(build())


def test_an_analyst_pod_reads_as_the_analysts_own_role_within_limits():
    config = chart_config(VALUES)
    spawner, pod = _pod(config, "ana")
    [container] = [c for c in pod["spec"]["containers"] if c["name"] == "notebook"]
    env = {e["name"]: e for e in container["env"]}
    # the analyst's own role, writes to the primary, reads from the replica, no shared secret
    assert env["STATIONLAB_DSN"]["value"] == \
        "postgresql://ana@db-primary.stationlab.svc:5432/stationlab"
    assert env["STATIONLAB_READ_DSN"]["value"] == \
        "postgresql://ana@db-replica.stationlab.svc:5432/stationlab"
    assert env["STATIONLAB_AUTHOR"]["value"] == "ana"
    assert env["PGPASSWORD"]["value_from"] == {
        "secretKeyRef": {"name": "stationlab-db-ana", "key": "password"}}
    # per-user limits, as KubeSpawner parsed them (bytes, cores) and as the pod asks for them
    assert spawner.mem_limit == 2 * 1024**3 and spawner.cpu_limit == 1.0
    assert container["resources"]["limits"] == {"cpu": 1.0, "memory": 2 * 1024**3}
    assert container["resources"]["requests"] == {"cpu": 0.5, "memory": 1024**3}
    # JupyterLab, offline: the same server options as on one machine
    from stationlab.kernel import SERVER_OPTIONS

    assert container["args"][0] == "jupyterhub-singleuser"
    assert set(SERVER_OPTIONS) <= set(container["args"])
    assert env["JUPYTERHUB_DEFAULT_URL"]["value"] == "/lab"
    assert container["image"] == "registry.example.org/stationlab-analyst:0.1.0"


def test_a_name_that_is_not_a_kubernetes_name_still_gets_its_own_role():
    """Roles are the hub's names as they are; Kubernetes objects get the chart's safe slug."""
    spawner, pod = _pod(chart_config(VALUES), "Jo.Smith")
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["STATIONLAB_DSN"]["value"].startswith("postgresql://Jo.Smith@")
    secret = env["PGPASSWORD"]["value_from"]["secretKeyRef"]["name"]
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", secret), secret
    assert secret.startswith("stationlab-db-jo-smith-")  # the slug KubeSpawner's pods use


def test_the_dashboards_service_is_the_deployment_the_hub_expects():
    config = chart_config(VALUES)
    [service] = [s for s in config.JupyterHub.services if s["name"] == "dashboards"]
    assert service["api_token"] == "t0ken"  # from the Secret the Deployment reads too
    # every key is one JupyterHub's services take
    from jupyterhub.services.service import Service

    assert set(service) - {"name"} <= set(Service.class_trait_names()) | {"api_token"}
    deployment, svc = yaml.safe_load_all((HERE / "dashboards.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    port = svc["spec"]["ports"][0]["port"]
    assert service["url"] == f"http://{svc['metadata']['name']}:{port}"
    command = container["command"]
    assert command[:2] == ["stationlab", "dashboard"] and "--read-only" in command
    assert command[command.index("--port") + 1] == str(port)
    prefix = command[command.index("--prefix") + 1]
    assert service["oauth_redirect_uri"] == prefix + "oauth_callback"
    env = {e["name"]: e for e in container["env"]}
    from stationlab.dashboards.hub_auth import HUB_VARIABLES

    assert set(HUB_VARIABLES) <= set(env)  # the dashboards ask the hub who is looking
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"] == \
        VALUES["hub"]["extraEnv"]["DASHBOARDS_API_TOKEN"]["valueFrom"]
    # the command is one this stationlab takes
    help_text = CliRunner().invoke(main, ["dashboard", "--help"]).output
    for option in (arg for arg in command[2:] if arg.startswith("--")):
        assert option in help_text, option
    # analysts may open services: the role the hub gives every user says so
    [user] = [r for r in config.JupyterHub.load_roles if r["name"] == "user"]
    assert "access:services" in user["scopes"]


def test_the_one_machine_config_loads_kubespawner_too(tmp_path, monkeypatch):
    """hub/jupyterhub_config.py with STATIONLAB_HUB_SPAWNER=kubernetes, loaded by JupyterHub's
    own loader: the same limits and environment hook."""
    from jupyterhub.app import JupyterHub

    monkeypatch.setenv("STATIONLAB_HUB_SPAWNER", "kubernetes")
    monkeypatch.setenv("STATIONLAB_HUB_STATE", str(tmp_path))
    monkeypatch.setenv("STATIONLAB_ANALYST_DSN", "postgresql://{username}@db/stationlab")
    hub = JupyterHub()
    hub.load_config_file(str(REPO / "hub" / "jupyterhub_config.py"))
    assert hub.config.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    spawner = _spawner(hub.config, "ana")
    assert spawner.mem_limit == 2 * 1024**3 and spawner.cpu_limit == 1.0
    spawner.pre_spawn_hook(spawner)
    assert spawner.environment["STATIONLAB_DSN"] == "postgresql://ana@db/stationlab"


def test_the_analyst_image_is_built_from_this_repository():
    """The Dockerfile installs this checkout within constraints.txt and checks the offline
    kernel paths (the build itself needs Docker, which these machines do not have)."""
    lines = (HERE / "analyst.Dockerfile").read_text()
    assert "pip install --no-cache-dir -c /opt/stationlab/constraints.txt /opt/stationlab" in lines
    image = VALUES["singleuser"]["image"]
    assert f"-t {image['name']}:{image['tag']}" in lines
    assert all(key in lines for key in ("JUPYTER_PATH=", "JUPYTER_CONFIG_PATH="))
    shlex.split(lines.splitlines()[2].lstrip("# "))  # the build command in its header parses


def test_the_values_pass_the_charts_published_schema():
    schema = os.environ.get("STATIONLAB_Z2JH_SCHEMA")
    if not schema:
        pytest.skip("the chart's values.schema.json is not available offline: set "
                    "STATIONLAB_Z2JH_SCHEMA to it (helm pull jupyterhub/jupyterhub --untar)")
    import jsonschema

    jsonschema.validate(VALUES, json.loads(Path(schema).read_text()))
