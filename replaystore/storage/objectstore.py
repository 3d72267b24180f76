"""Object storage: one store's settings, kept apart per consumer, and conditional writes.

A store on `s3://bucket/prefix` is reached by three clients, each configured its own way
(issue 13: handing deltalake's options to fsspec was the bug):

- deltalake (Rust `object_store`) takes `storage_options`, a dict of `AWS_*` strings;
- fsspec (s3fs) takes keyword arguments (`key`, `secret`, `endpoint_url`, ...), and holds the
  recording packs, the manifest, the catalog and the writer lease;
- DuckDB reads the tables' Parquet files through that fsspec filesystem, registered on each
  connection (`register_filesystem`): its httpfs extension cannot be downloaded here and has
  no build for DuckDB 2.x, so autoloading is turned off and never tried.

Settings come from the standard variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ALLOW_HTTP`), overridden by
explicit `storage_options` (the same `AWS_*` names). Conditional puts (`If-None-Match: *`,
`If-Match: <etag>`) are what the writer lease, the manifest and the catalog rely on; delta-rs
commits rely on the first one too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import duckdb
import fsspec

from replaystore.errors import ReplayStoreError
from replaystore.storage.layout import is_remote

# The variables read from the environment for an s3:// store, in deltalake's spelling.
S3_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
)
# Parquet reads through s3fs: readahead in 4 MiB blocks took a list query from 114-169 ms to
# 46 ms on a 1M-row table.
READ_BLOCK = 4 << 20
# S3 error codes meaning "the condition did not hold" (412; AWS answers 409 for a race).
CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})


class PreconditionFailed(ReplayStoreError):
    """A conditional put or delete lost: the object is not (or no longer) what was expected."""

    status = 409


class UnsupportedStorage(ReplayStoreError):
    """A URL scheme replaystore cannot write safely (no conditional puts)."""

    status = 400


@dataclass(frozen=True)
class Versioned:
    """An object's bytes with its ETag, and the storage server's clock when it was read."""

    data: bytes
    etag: str
    server_time: datetime
    modified: datetime  # the server's time of the last write of the object


@dataclass
class StorageConfig:
    """How to reach one store root: deltalake's options, the fsspec filesystem, DuckDB's."""

    root: str
    storage_options: dict[str, str] | None = None  # for deltalake, None on local disk
    fs: fsspec.AbstractFileSystem = field(default=None)  # type: ignore[assignment]

    @classmethod
    def for_root(
        cls,
        root: str,
        storage_options: Mapping[str, str] | None = None,
        filesystem: fsspec.AbstractFileSystem | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> StorageConfig:
        """The settings for `root` (already normalised): `AWS_*` from the environment, then
        `storage_options` over them; `filesystem` replaces the fsspec one built from them."""
        if not is_remote(root):
            fs = filesystem or fsspec.filesystem("file")
            return cls(root, dict(storage_options) if storage_options else None, fs)
        scheme = root.split("://", 1)[0]
        if scheme not in ("s3", "s3a"):
            options = dict(storage_options) if storage_options else None
            fs = filesystem or fsspec.url_to_fs(root)[0]
            return cls(root, options, fs)
        env = os.environ if environ is None else environ
        options = {k: env[k] for k in S3_VARIABLES if env.get(k)}
        options.update({k.upper(): str(v) for k, v in (storage_options or {}).items()})
        if "AWS_REGION" not in options and "AWS_DEFAULT_REGION" in options:
            options["AWS_REGION"] = options["AWS_DEFAULT_REGION"]
        options.pop("AWS_DEFAULT_REGION", None)
        config = cls(root, options, filesystem or s3_filesystem(options))
        _OPENED[root] = config
        return config

    @property
    def remote(self) -> bool:
        return is_remote(self.root)

    def attach(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """Let a DuckDB connection (and its cursors) read this store's files."""
        if self.remote and not _registered(con, self.fs):
            # Never try to download httpfs (offline; no build for DuckDB 2.x): reads go
            # through the registered fsspec filesystem.
            con.execute("SET GLOBAL autoinstall_known_extensions = false")
            con.execute("SET GLOBAL autoload_known_extensions = false")
            con.register_filesystem(self.fs)
        return con

    # -- conditional operations (object stores) ---------------------------------------------

    def get(self, path: str) -> Versioned | None:
        """An object with its ETag, or None when there is none."""
        bucket, key = self._split(path)
        try:
            response = self._call("get_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        body = response["Body"]
        data = _read_body(self.fs, body)
        now = _server_time(response)
        return Versioned(data, response["ETag"], now, _modified(response, now))

    def head(self, path: str) -> tuple[str, datetime, datetime] | None:
        """(ETag, the server's clock, the object's last write) of an object, or None."""
        bucket, key = self._split(path)
        try:
            response = self._call("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        now = _server_time(response)
        return response["ETag"], now, _modified(response, now)

    def put(self, path: str, data: bytes, *, if_match: str | None = None) -> Versioned:
        """Write an object only if it does not exist (`if_match` None) or still has the ETag
        `if_match`; PreconditionFailed otherwise."""
        bucket, key = self._split(path)
        condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        response = self._call("put_object", Bucket=bucket, Key=key, Body=data, **condition)
        now = _server_time(response)
        return Versioned(data, response["ETag"], now, now)

    def delete(self, path: str, *, if_match: str) -> None:
        """Delete an object only while it has the ETag `if_match` (gone already: fine)."""
        bucket, key = self._split(path)
        try:
            self._call("delete_object", Bucket=bucket, Key=key, IfMatch=if_match)
        except FileNotFoundError:
            return

    def _split(self, path: str) -> tuple[str, str]:
        if not hasattr(self.fs, "call_s3"):
            raise UnsupportedStorage(
                f"the store at {self.root} needs conditional puts, which replaystore uses on "
                "s3:// only (a local path or an s3://bucket/prefix URL)"
            )
        bucket, key, _ = self.fs.split_path(path)
        return bucket, key

    def _call(self, method: str, **kwargs: object) -> dict:
        try:
            return self.fs.call_s3(method, **kwargs)
        except OSError as error:
            if _is_conflict(error):
                raise PreconditionFailed(
                    f"{kwargs.get('Key')}: changed by another process meanwhile"
                ) from None
            raise


# The remote stores opened in this process, by root: `attach_files` finds the filesystem a
# connection needs from the file URLs its views name (storage/views.py), whichever engine
# or maintenance task made the connection.
_OPENED: dict[str, StorageConfig] = {}


def attach_files(con: duckdb.DuckDBPyConnection, files: Iterable[str]) -> None:
    """Attach the filesystem of the remote store the first remote file belongs to."""
    for name in files:
        if "://" not in name:
            continue
        for root, config in list(_OPENED.items()):
            if name.startswith(root + "/"):
                config.attach(con)
                return
        return


def s3_filesystem(options: Mapping[str, str]) -> fsspec.AbstractFileSystem:
    """An s3fs filesystem from deltalake-style `AWS_*` options, whose immutable data files
    are read through the process's block cache (readcache.py)."""
    from replaystore.storage.readcache import CachedS3FileSystem

    kwargs: dict = {
        "default_cache_type": "readahead",
        "default_block_size": READ_BLOCK,
        # Listings must never be stale: readers look for packs another process wrote.
        "use_listings_cache": False,
    }
    if options.get("AWS_ACCESS_KEY_ID"):
        kwargs["key"] = options["AWS_ACCESS_KEY_ID"]
        kwargs["secret"] = options.get("AWS_SECRET_ACCESS_KEY")
    if options.get("AWS_SESSION_TOKEN"):
        kwargs["token"] = options["AWS_SESSION_TOKEN"]
    if options.get("AWS_ENDPOINT_URL"):
        kwargs["endpoint_url"] = options["AWS_ENDPOINT_URL"]
    if options.get("AWS_REGION"):
        kwargs["client_kwargs"] = {"region_name": options["AWS_REGION"]}
    return CachedS3FileSystem(**kwargs)


def _registered(con: duckdb.DuckDBPyConnection, fs: fsspec.AbstractFileSystem) -> bool:
    name = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return any(name in registered for registered in con.list_filesystems())


def _read_body(fs: fsspec.AbstractFileSystem, body: object) -> bytes:
    from fsspec.asyn import sync

    async def read() -> bytes:
        async with body:  # type: ignore[attr-defined]
            return await body.read()  # type: ignore[attr-defined]

    return sync(fs.loop, read)


def _server_time(response: dict) -> datetime:
    """The storage server's clock from the response's Date header (lease expiry is judged by
    one clock, the server's, whatever the writers' clocks say); local time without one."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


def _modified(response: dict, default: datetime) -> datetime:
    modified = response.get("LastModified")
    return modified.astimezone(UTC) if isinstance(modified, datetime) else default


def _is_conflict(error: OSError) -> bool:
    cause = error.__cause__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return code in CONFLICT_CODES or status in ("412", "409")
    return isinstance(error, FileExistsError) or "pre-conditions" in str(error)
