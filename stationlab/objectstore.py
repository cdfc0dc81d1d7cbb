"""Object storage for the raw store and the exports store: S3 and S3-compatible services.

``STATIONLAB_RAW_STORE`` and ``STATIONLAB_EXPORTS_STORE`` name a folder (the default, under
``$STATIONLAB_HOME``) or a URL ``s3://bucket/prefix``. The S3 client is obstore (the Rust
``object_store`` crate) and reads the standard ``AWS_*`` variables: ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL`` for an S3-compatible service
(MinIO, SeaweedFS, Ceph); an ``http://`` endpoint is allowed as given.

An object is written once, with a conditional put (``If-None-Match: *``): when two machines store
the same key at once, one put succeeds and the other is refused with ``412 Precondition
Failed``, so no object is ever replaced. Nothing here deletes, copies over or renames an object.
Errors become :class:`~stationlab.errors.ConfigError` (the store cannot be used as configured:
unknown scheme, missing bucket, refused credentials, unreachable endpoint) or
:class:`~stationlab.errors.StationlabError`, each one line naming the variable.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from stationlab.errors import ConfigError, StationlabError

logger = logging.getLogger(__name__)

#: URL schemes an object store may use.
SCHEMES = ("s3",)


def location(variable: str, default: Path) -> Path | str:
    """The folder or ``s3://`` URL a store variable names (``default`` when unset).

    Raises
    ------
    ConfigError
        For a URL of another scheme, or one without a bucket.
    """
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    if "://" not in value:
        return Path(value).expanduser().absolute()
    scheme, _, rest = value.partition("://")
    if scheme.lower() == "file":
        return Path(rest).absolute()
    if scheme.lower() not in SCHEMES:
        raise ConfigError(f"{variable}={value}: unknown URL scheme {scheme!r}; use a folder or "
                          "s3://bucket/prefix")
    if not rest.split("/", 1)[0]:
        raise ConfigError(f"{variable}={value}: the URL names no bucket; use s3://bucket/prefix")
    return f"{scheme.lower()}://{rest.rstrip('/')}"


def is_url(where: Path | str) -> bool:
    """Whether a store location is an object store URL (not a folder)."""
    return isinstance(where, str)


def object_exists(url: str, variable: str) -> bool:
    """Whether the object at ``s3://bucket/key`` is there."""
    scheme, _, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    return Bucket(f"{scheme}://{bucket}", variable).exists(key)


@dataclass(frozen=True)
class Bucket:
    """A prefix of an S3 bucket, as a store variable names it (no I/O until used).

    Parameters
    ----------
    url
        ``s3://bucket/prefix``.
    variable
        The environment variable that named it, for messages.
    """

    url: str
    variable: str

    def _store(self):
        settings = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
        try:
            return _client(self.url, settings)
        except Exception as exc:  # obstore's configuration errors
            raise ConfigError(f"{self.variable}={self.url}: {_first_line(exc)}") from None

    def key_url(self, key: str) -> str:
        """The URL of an object of this store."""
        return f"{self.url}/{key}"

    def put_once(self, key: str, data: bytes) -> bool:
        """Write an object that does not exist yet; ``False`` (nothing written) if it exists."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            obstore.put(self._store(), key, data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        except Exception as exc:
            raise self._error(exc, "write") from None
        return True

    def get(self, key: str) -> bytes | None:
        """An object's bytes, or ``None`` if there is no such object."""
        import obstore

        try:
            return bytes(obstore.get(self._store(), key).bytes())
        except FileNotFoundError as exc:
            if "NoSuchBucket" in str(exc):
                raise self._error(exc, "read") from None
            return None
        except Exception as exc:
            raise self._error(exc, "read") from None

    def exists(self, key: str) -> bool:
        """Whether an object is there."""
        import obstore

        try:
            obstore.head(self._store(), key)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._error(exc, "read") from None
        return True

    def _error(self, exc: Exception, action: str) -> StationlabError:
        from obstore.exceptions import PermissionDeniedError, UnauthenticatedError

        text = str(exc)
        where = f"{self.variable}={self.url}"
        if "NoSuchBucket" in text:
            return ConfigError(f"{where}: the bucket {self.url[5:].split('/')[0]!r} does not "
                               "exist; create it, or name another")
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or any(
                code in text for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch",
                                          "AccessDenied")):
            return ConfigError(f"{where}: the service refused the credentials to {action} "
                               "(check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        if "error sending request" in text or "Connection refused" in text or \
                "dns error" in text:
            endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the S3 endpoint"
            return ConfigError(f"{where}: cannot reach {endpoint} to {action}; check "
                               "AWS_ENDPOINT_URL and the network")
        return StationlabError(f"{where}: cannot {action}: {_first_line(exc)}")


@functools.lru_cache(maxsize=8)
def _client(url: str, settings: tuple[tuple[str, str], ...]):
    """One client per URL and ``AWS_*`` settings (it keeps its connections open)."""
    from obstore.store import from_url

    env = dict(settings)
    endpoint = env.get("AWS_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL_S3")
    options = {"allow_http": True} if endpoint and endpoint.startswith("http://") else {}
    return from_url(url, client_options=options)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
