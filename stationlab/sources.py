"""Where files come from: the sources configuration (TOML).

``$STATIONLAB_HOME/sources.toml`` by default (``stationlab fetch --config FILE`` names another)::

    secrets_file = "secrets.toml"        # optional, relative to this file: NAME = "value" lines

    [[source]]
    name = "north-sftp"                  # unique; recorded with every file it brings
    station = "north_mast"               # the station its files belong to
    url = "sftp://loggers@data.example.org:22/outgoing"   # any fsspec URL; a plain folder too
    pattern = "*.dat"                    # glob below the URL ("**/*.dat" for sub-folders)
    every = "1h"                         # how often `stationlab fetch --forever` fetches it
    options = { password = "env:NORTH_SFTP_PASSWORD" }    # fsspec storage options
    decrypt = ["vendor-decrypt", "{input}", "{output}"]   # optional; stdin to stdout without
    decrypt_timeout = "2m"               # placeholders; default 60 s

Secrets never sit in this file: an option whose name says it is one (password, passphrase,
secret, token, key, authorization) must read ``"env:NAME"`` (the environment variable ``NAME``)
or ``"secret:NAME"`` (entry ``NAME`` of the secrets file). A literal secret, or a password in the
URL, is refused with a message saying how to move it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from stationlab import config
from stationlab.errors import ConfigError

#: Option names (or parts of names) that hold secrets.
SECRET_WORDS = ("password", "passphrase", "secret", "token", "authorization", "credential")
SECRET_NAMES = ("key", "passwd", "pass")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_KEYS = {"name", "station", "url", "pattern", "every", "options", "decrypt", "decrypt_timeout"}


@dataclass(frozen=True)
class Source:
    """One configured source of logger files.

    Parameters
    ----------
    every
        How often to fetch. [s] as a timedelta
    options
        fsspec storage options with secrets resolved; never logged.
    decrypt
        Command run on each fetched file, or ``None``.
    decrypt_timeout
        How long the decrypt command may run. [s] as a timedelta
    """

    name: str
    station: str | None
    url: str
    pattern: str = "*"
    every: timedelta = timedelta(hours=1)
    options: dict = field(default_factory=dict, repr=False)
    decrypt: tuple[str, ...] | None = None
    decrypt_timeout: timedelta = timedelta(seconds=60)


def default_path() -> Path:
    """``$STATIONLAB_HOME/sources.toml``."""
    return config.home() / "sources.toml"


def load(path: str | os.PathLike | None = None) -> list[Source]:
    """Read and check the sources configuration.

    Raises
    ------
    ConfigError
        If the file is missing or invalid, or holds a literal secret.
    """
    path = Path(path) if path else default_path()
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no sources configuration; write one (see `stationlab fetch "
                          "--help`) or name it with --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    secrets = _secrets(path, document.get("secrets_file"))
    sources = [_source(path, entry, secrets) for entry in document.get("source", [])]
    names = [s.name for s in sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: source names must be unique; repeated: "
                          f"{', '.join(duplicates)}")
    return sources


def _secrets(path: Path, name: str | None) -> dict[str, str]:
    if not name:
        return {}
    file = (path.parent / name).resolve()
    try:
        return {k: str(v) for k, v in tomllib.loads(file.read_text()).items()}
    except FileNotFoundError:
        raise ConfigError(f"{path}: secrets_file {file} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc


def _source(path: Path, entry: dict, secrets: dict[str, str]) -> Source:
    name = entry.get("name")
    where = f"{path}: source {name!r}" if name else f"{path}: a [[source]]"
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown settings {', '.join(sorted(unknown))}; known: "
                          f"{', '.join(sorted(_KEYS))}")
    for key in ("name", "url"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ConfigError(f"{where}: `{key}` is required")
    url = entry["url"]
    if urlsplit(url).password:
        raise ConfigError(f"{where}: the url holds a password; remove it from the url and set "
                          'options = { password = "env:NAME" } (or "secret:NAME")')
    decrypt = entry.get("decrypt")
    if isinstance(decrypt, str):
        decrypt = decrypt.split()
    return Source(
        name=name, station=entry.get("station"), url=url, pattern=entry.get("pattern", "*"),
        every=parse_duration(entry.get("every", "1h"), where, "every"),
        options=_resolve(entry.get("options", {}), where, secrets, "options"),
        decrypt=tuple(decrypt) if decrypt else None,
        decrypt_timeout=parse_duration(entry.get("decrypt_timeout", "60s"), where,
                                       "decrypt_timeout"))


def _is_secret(key: str) -> bool:
    key = key.lower()
    return key in SECRET_NAMES or any(word in key for word in SECRET_WORDS)


def _resolve(value, where: str, secrets: dict[str, str], key: str):
    """Options with ``env:``/``secret:`` references replaced; literal secrets refused."""
    if isinstance(value, dict):
        return {k: _resolve(v, where, secrets, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, where, secrets, key) for v in value]
    if isinstance(value, str) and value.startswith("env:"):
        variable = value[4:]
        if variable not in os.environ:
            raise ConfigError(f"{where}: `{key}` reads the environment variable {variable}, "
                              "which is not set")
        return os.environ[variable]
    if isinstance(value, str) and value.startswith("secret:"):
        entry = value[7:]
        if entry not in secrets:
            raise ConfigError(f"{where}: `{key}` reads {entry!r} from the secrets file, which "
                              "has no such entry (or no secrets_file is configured)")
        return secrets[entry]
    if _is_secret(key) and value not in (None, ""):
        raise ConfigError(
            f"{where}: `{key}` holds a literal secret; secrets never go in the sources "
            f'configuration: write {key} = "env:NAME" and set NAME in the environment, or '
            f'{key} = "secret:NAME" with NAME in the secrets_file')
    return value


def parse_duration(value, where: str = "", key: str = "every") -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` or a number of seconds, as a timedelta."""
    if isinstance(value, int | float) and value > 0:
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match or float(match[1]) <= 0:
        raise ConfigError(f"{where}: `{key}` must be a duration such as \"90s\", \"15m\", "
                          f"\"1h\" or \"1d\", not {value!r}")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})
