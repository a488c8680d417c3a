"""Object storage: URLs for ``-o`` and for the files ``stats``, ``verify`` and ``diff`` read.

Any fsspec URL (``s3://``, ``gs://``, ``az://``, ``memory://``, ``file://``, …) is
opened through fsspec, which is an optional dependency (``pip install
'initgen[cloud]'``) imported only when a URL is given: a local path never imports it.
Credentials and endpoints come from the store's usual configuration (environment
variables, fsspec config files) plus ``--storage-option KEY=VALUE``.

Every failure of the store becomes one :class:`~initgen.errors.InitgenError` line
naming the URL (:func:`store_error`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InitgenError, OutputError, UsageError

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
CLOUD_EXTRA = "pip install 'initgen[cloud]'"
# the fsspec implementation each protocol needs, for the message when it is missing
PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}

StorageOptions = Mapping[str, Any]


def is_url(target: object) -> bool:
    """Whether ``target`` is a URL (``scheme://…``) rather than a local path.

    >>> is_url("s3://bucket/w.safetensors"), is_url("out/w.safetensors"), is_url("C:/w")
    (True, False, False)
    """
    return isinstance(target, str) and URL.match(target) is not None


def protocol(url: str) -> str:
    return url.split("://", 1)[0].lower()


def parse_storage_options(items: Iterable[str]) -> dict[str, Any]:
    """``--storage-option KEY=VALUE`` (repeatable) → fsspec keyword arguments.

    ``true``/``false`` become booleans; a dotted key sets a nested one
    (``client_kwargs.region_name=eu-west-1``).

    >>> parse_storage_options(["endpoint_url=http://127.0.0.1:9000", "anon=false",
    ...                        "client_kwargs.region_name=eu-west-1"])
    {'endpoint_url': 'http://127.0.0.1:9000', 'anon': False, 'client_kwargs': {'region_name': 'eu-west-1'}}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--storage-option '{item}': expected KEY=VALUE (e.g. endpoint_url=http://…)")
        parsed: Any = {"true": True, "false": False}.get(value.strip().lower(), value)
        *parents, leaf = key.strip().split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UsageError(f"--storage-option '{item}': '{p}' is already set to a value")
        node[leaf] = parsed
    return out


def open_store(url: str, options: StorageOptions | None = None) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path inside it.

    Raises:
        UsageError: fsspec, or the protocol's implementation (s3fs, gcsfs, …), is not
            installed, or the protocol is unknown (exit 2).
    """
    proto = protocol(url)
    try:
        import fsspec.core
    except ImportError:
        raise UsageError(f"{url}: object storage URLs need the cloud extra: {CLOUD_EXTRA}") from None
    try:
        return fsspec.core.url_to_fs(url, **dict(options or {}))
    except ImportError:
        package = PACKAGES.get(proto)
        hint = CLOUD_EXTRA if package == "s3fs" else f"pip install {package or 'the fsspec package for it'}"
        raise UsageError(f"{url}: {proto}:// needs {package or 'an fsspec implementation'}: {hint}") from None
    except ValueError as e:
        if "protocol" in str(e).lower():
            raise UsageError(f"{url}: unknown storage protocol '{proto}://'") from None
        raise UsageError(f"{url}: {e}") from None
    except TypeError as e:  # a storage option the filesystem does not take
        raise UsageError(f"{url}: bad --storage-option: {e}") from None


def is_s3(fs: Any) -> bool:
    """An s3fs filesystem: multipart uploads are made part by part, in parallel."""
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return "s3" in protocols and hasattr(fs, "call_s3")


def split_bucket(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    return bucket, key


def check_store(fs: Any, url: str) -> None:
    """Fail in milliseconds, before any work, when the bucket is missing or the
    credentials are refused (S3: ``HeadBucket``; other stores: their parent's info)."""
    try:
        if is_s3(fs):
            fs.call_s3("head_bucket", Bucket=split_bucket(fs._strip_protocol(url))[0])
    except Exception as e:
        raise store_error(url, e) from None


def store_error(url: str, e: BaseException, writing: bool = True) -> InitgenError:
    """A one-line error for an exception met talking to the store at ``url``."""
    if isinstance(e, InitgenError):
        return e
    name = type(e).__name__
    text = str(e).strip().splitlines()[0] if str(e).strip() else name
    bucket = split_bucket(url.split("://", 1)[-1])[0]
    if name == "NoCredentialsError":
        return OutputError(
            f"{url}: no credentials found; set them the store's usual way (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, a profile) or pass --storage-option key=… --storage-option secret=…"
        )
    if isinstance(e, PermissionError):
        return OutputError(f"{url}: access denied ({text}); check the credentials and their permissions")
    if isinstance(e, FileNotFoundError) and (
        "bucket" in text.lower() or text in ("Not Found", bucket) or "NoSuchBucket" in repr(e.__cause__)
    ):
        return OutputError(f"{url}: the bucket '{bucket}' does not exist")
    if isinstance(e, FileNotFoundError):
        return OutputError(f"{url}: no such object")
    if isinstance(e, FileExistsError):
        return UsageError(f"{url}: already exists; use --force to replace it")
    if "EndpointConnectionError" in name or "ConnectTimeout" in name or "ConnectionError" in name:
        return OutputError(f"{url}: cannot reach the store ({text})")
    verb = "write" if writing else "read"
    return OutputError(f"{url}: cannot {verb}: {text}")


def is_store_error(e: BaseException) -> bool:
    """An exception from the store or its client library (not a bug, not a signal)."""
    if isinstance(e, InitgenError) or not isinstance(e, Exception):
        return False
    module = type(e).__module__.split(".")[0]
    return isinstance(e, OSError) or module in ("botocore", "aiobotocore", "aiohttp", "s3fs", "fsspec")
