"""Spark for batch analysis: the store's snapshot as Spark temp views, and searches in the
product's language as Spark SQL.

Spark reads the tables' Parquet files as they are (no Delta jars needed): the files of the
versions the manifest pins, read with the tables' schemas, then the same views as every other
engine (engines.views; Spark's fixes in engines.dialects):

>>> from pyspark.sql import SparkSession                         # doctest: +SKIP
>>> spark = SparkSession.builder.master("local[2]").getOrCreate()  # doctest: +SKIP
>>> register_views(spark, replaystore.open("replays-data").storage)  # doctest: +SKIP
>>> spark.sql(compile_search("browser.name:Firefox", "spark")).count()  # doctest: +SKIP

pyspark is only imported by the caller: this module needs nothing but the session object.
A store on S3 is read through Hadoop's `s3a://` filesystem (hadoop-aws on Spark's classpath,
`spark.hadoop.fs.s3a.endpoint` and credentials set); the `s3://` URIs are renamed for it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

from replaystore.engines.dialects import ReplaysSpark
from replaystore.engines.views import SCANNED, columns, view_queries
from replaystore.storage.layout import table_schema
from replaystore.storage.snapshot import Snapshot
from replaystore.storage.store import Store
from replaystore.storage.views import create_view, duckdb_type

FILES_VIEW = "_files_{table}"  # the temp view of one table's Parquet files


def spark_type(t: pa.DataType) -> str:
    """The Spark SQL type of a stored Arrow type (`ARRAY<STRUCT<key: STRING, ...>>`)."""
    return duckdb_type(t).sql(dialect=ReplaysSpark)


def spark_schema(table: str) -> str:
    """A DDL schema of a table's columns, Hive `month` included (Spark reads it from paths)."""
    schema: pa.Schema = table_schema(table)
    return ", ".join(f"`{f.name}` {spark_type(f.type)}" for f in schema)


def _empty(table: str) -> exp.Select:
    schema: pa.Schema = table_schema(table)
    typed = [
        exp.alias_(exp.cast(exp.null(), duckdb_type(f.type)), f.name, quoted=True) for f in schema
    ]
    return exp.select(*typed).where(exp.false())


def spark_path(uri: str) -> str:
    """A file URI as Spark's Hadoop filesystems name it (`s3://` is `s3a://` there)."""
    return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri


def register_views(spark: Any, store: Store, snapshot: Snapshot | None = None) -> Snapshot:
    """Create (or replace) the temp views `segments`, `clicks`, `links`, `archives`,
    `replays`, `replay_tags`, ... on `spark` over the store's published snapshot."""
    snapshot = snapshot or store.snapshot()
    for table in set(SCANNED.values()):
        files = list(snapshot.files.get(table, ()))
        if files:
            frame = (
                spark.read.schema(spark_schema(table))
                .option("basePath", spark_path(store.layout.table_uri(table)))
                .parquet(*(spark_path(f) for f in files))
            )
            frame.createOrReplaceTempView(FILES_VIEW.format(table=table))

    def scan(view: str, table: str, snap: Snapshot) -> exp.Select:
        if not snap.files.get(table):
            return _empty(table)
        names = [exp.column(n, quoted=True) for n in columns(table)]
        return exp.select(*names).from_(FILES_VIEW.format(table=table))

    for name, query in view_queries(snapshot, scan).items():
        spark.sql(create_view(name, query).sql(dialect=ReplaysSpark))
    return snapshot
