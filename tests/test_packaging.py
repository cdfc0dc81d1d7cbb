"""pyproject.toml and environment.yml list the same dependencies."""

import re
import tomllib

import yaml

from .conftest import REPO

#: PyPI names whose conda-forge package is called differently.
CONDA_NAMES = {"psycopg[binary]": "psycopg"}


def _requirement(text: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", text)
    name = match[1].lower()
    return CONDA_NAMES.get(name, name), match[2].replace(" ", "")


def test_environment_yml_lists_what_pyproject_lists():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    listed_in_pyproject = project["dependencies"] + [
        extra for dev in extras["dev"] for extra in (
            extras[dev.removeprefix("stationlab[").rstrip("]")]
            if dev.startswith("stationlab[") else [dev])]
    wanted = dict(map(_requirement, listed_in_pyproject))
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(d for d in dep["pip"] if not d.startswith("-e"))
        elif not dep.startswith(("python", "pip")):
            conda.append(dep)
    listed = dict(map(_requirement, conda + pip))
    assert listed == wanted
