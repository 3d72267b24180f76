"""How ClickHouse reads a table of the snapshot: the `scan` of engines.views for ClickHouse.

Three ways, all pinned to the manifest's snapshot so every engine answers from the same data:

* `files` (default): the snapshot's data files with `file([...], Parquet)` (local) or
  `s3(url, ...)` / `s3Cluster(cluster, url, ...)` (object storage; the files as a `{a,b}` glob);
* `delta`: the Delta table itself with `deltaLakeLocal(path)` / `deltaLake(url, ...)` /
  `deltaLakeCluster(cluster, url, ...)` at the manifest's version
  (`SETTINGS delta_lake_snapshot_version = N`, per subquery, so each table has its own).

A cluster name turns the S3 functions into their `*Cluster` forms: every node of the
cluster reads a share of the files (ClickHouse's distributed read over the same tables).
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
from sqlglot import exp

from replaystore.engines.views import columns
from replaystore.errors import EngineError
from replaystore.storage.layout import table_schema
from replaystore.storage.snapshot import Snapshot

SourceMode = Literal["files", "delta"]


@dataclass(frozen=True)
class S3Settings:
    """Where ClickHouse finds the store's objects (the standard AWS_* variables)."""

    endpoint: str | None = None  # e.g. http://127.0.0.1:8333 (path-style addressing)
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> S3Settings:
        env = os.environ if environ is None else environ
        return cls(
            endpoint=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            access_key=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        )

    def http_url(self, uri: str) -> str:
        """The HTTP URL ClickHouse's S3 functions take for an `s3://bucket/key` URI."""
        parsed = urllib.parse.urlsplit(uri)
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
        if self.endpoint:
            return f"{self.endpoint.rstrip('/')}/{bucket}/{key}"
        region = f".{self.region}" if self.region else ""
        return f"https://{bucket}.s3{region}.amazonaws.com/{key}"

    def credentials(self) -> list[exp.Expression]:
        if self.access_key and self.secret_key:
            return [exp.Literal.string(self.access_key), exp.Literal.string(self.secret_key)]
        return []


@dataclass(frozen=True)
class ClickHouseSource:
    """How the engine reads the store's tables (see the module docstring)."""

    mode: SourceMode = "files"
    cluster: str | None = None
    s3: S3Settings = S3Settings()
    table_uris: tuple[tuple[str, str], ...] = ()  # (table, Delta table URI), for `delta`

    def scan(self, view: str, table: str, snapshot: Snapshot) -> exp.Select:
        names = columns(table)
        if self.mode == "delta":
            return self._delta(table, names, snapshot)
        files = list(snapshot.files.get(table, ()))
        if not files:
            return empty_relation(table_schema(table))
        return _select(names, self._files(files), [_setting("use_hive_partitioning", 1)])

    def _files(self, files: list[str]) -> exp.Expression:
        parquet = exp.Literal.string("Parquet")
        if not _is_s3(files[0]):
            if self.cluster:
                raise EngineError("a ClickHouse cluster reads object storage, not local files")
            paths = exp.Array(expressions=[exp.Literal.string(_local(f)) for f in files])
            return _call("file", paths, parquet)
        url = exp.Literal.string(_alternation([self.s3.http_url(f) for f in files]))
        return self._s3_call("s3", url, *self.s3.credentials(), parquet)

    def _delta(self, table: str, names: list[str], snapshot: Snapshot) -> exp.Select:
        uri = dict(self.table_uris).get(table)
        if uri is None:
            raise EngineError(f"no location known for table {table!r}")
        version = snapshot.versions[table]
        if _is_s3(uri):
            url = exp.Literal.string(self.s3.http_url(uri))
            source = self._s3_call("deltaLake", url, *self.s3.credentials())
        else:
            if self.cluster:
                raise EngineError("a ClickHouse cluster reads object storage, not local files")
            source = _call("deltaLakeLocal", exp.Literal.string(_local(uri)))
        return _select(names, source, [_setting("delta_lake_snapshot_version", version)])

    def _s3_call(self, name: str, *args: exp.Expression) -> exp.Expression:
        if self.cluster:
            return _call(f"{name}Cluster", exp.Literal.string(self.cluster), *args)
        return _call(name, *args)


def _is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


def _local(uri: str) -> str:
    return urllib.parse.unquote(uri[len("file://") :]) if uri.startswith("file://") else uri


def _alternation(urls: list[str]) -> str:
    """One glob naming exactly these objects: `prefix{a,b,c}` (ClickHouse path syntax)."""
    if len(urls) == 1:
        return urls[0]
    prefix = os.path.commonprefix(urls)  # noqa: RUF071 - a glob's text prefix, not a path
    rests = [u[len(prefix) :] for u in urls]
    return prefix + "{" + ",".join(rests) + "}"


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _setting(name: str, value: int) -> exp.EQ:
    return exp.EQ(this=exp.column(name), expression=exp.Literal.number(value))


def _select(names: list[str], source: exp.Expression, settings: list[exp.EQ]) -> exp.Select:
    select = exp.select(*(exp.column(n, quoted=True) for n in names)).from_(exp.Table(this=source))
    select.set("settings", settings)
    return select


def clickhouse_type(t: pa.DataType, nullable: bool = True) -> str:
    """The ClickHouse type ClickHouse reads a stored Arrow column as."""
    if pa.types.is_list(t):
        return f"Array({clickhouse_type(t.value_type)})"
    if pa.types.is_struct(t):
        fields = ", ".join(f"{f.name} {clickhouse_type(f.type)}" for f in t)
        return f"Tuple({fields})"
    if pa.types.is_timestamp(t):
        base = "DateTime64(6, 'UTC')"
    else:
        simple = {
            pa.int64(): "Int64",
            pa.int32(): "Int32",
            pa.string(): "String",
            pa.bool_(): "Bool",
            pa.float64(): "Float64",
        }
        base = simple[t]
    return f"Nullable({base})" if nullable else base


def empty_relation(schema: pa.Schema) -> exp.Select:
    """No rows, every stored column typed as ClickHouse reads it (a table with no files)."""
    typed = []
    for f in schema:
        kind = exp.DataType.build(clickhouse_type(f.type), dialect="clickhouse")
        value = exp.Array(expressions=[]) if pa.types.is_list(f.type) else exp.null()
        typed.append(exp.alias_(exp.cast(value, kind), f.name, quoted=True))
    return exp.select(*typed).where(exp.false())
