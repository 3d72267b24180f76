"""Golden SQL of the per-dialect fixes and of the ClickHouse scans (server and cluster paths,
which no server here can run: chdb parses what they generate instead)."""

from __future__ import annotations

import pytest
from chdb import session
from sqlglot import exp

from replaystore.engines import EngineConfig, compile_search
from replaystore.engines.clickhouse_views import ClickHouseSource, S3Settings, empty_relation
from replaystore.engines.dialects import ReplaysClickHouse, ReplaysSpark, dialect_named
from replaystore.engines.views import SCANNED, view_queries, with_views
from replaystore.errors import EngineError
from replaystore.fields import schema
from replaystore.storage.snapshot import Snapshot

A, B = exp.column("a"), exp.column("b")
NODES = [
    (exp.ArrayOverlaps(this=A, expression=B), "hasAny(a, b)", "ARRAYS_OVERLAP(a, b)"),
    (exp.ArrayContainsAll(this=A, expression=B), "hasAll(a, b)", "SIZE(ARRAY_EXCEPT(b, a)) = 0"),
    (exp.ArrayContains(this=A, expression=exp.Literal.string("x")), "has(a, 'x')",
     "ARRAY_CONTAINS(a, 'x')"),
    (exp.ArrayDistinct(this=A), "arrayDistinct(a)", "ARRAY_DISTINCT(a)"),
    (exp.UnixMicros(this=A), "toUnixTimestamp64Micro(a)", "UNIX_MICROS(a)"),
    (exp.IntDiv(this=A, expression=exp.Literal.number(10)), "intDiv(a, 10)", "a DIV 10"),
    (exp.Escape(this=exp.ILike(this=A, expression=exp.Literal.string("x\\%%")),
                expression=exp.Literal.string("\\")),
     "a ILIKE 'x\\\\%%'", "a ILIKE 'x\\\\%%' ESCAPE '\\\\'"),
    (exp.Dot(this=exp.column("t"), expression=exp.to_identifier("key")),
     "tupleElement(t, 'key')", "t.key"),
]  # fmt: skip


@pytest.mark.parametrize(("node", "clickhouse", "spark"), NODES, ids=[n[1] for n in NODES])
def test_dialect_fix(node: exp.Expression, clickhouse: str, spark: str) -> None:
    assert node.sql(dialect=ReplaysClickHouse) == clickhouse
    assert node.sql(dialect=ReplaysSpark) == spark


def test_unknown_dialect_and_engine_are_refused() -> None:
    with pytest.raises(EngineError, match="unknown SQL dialect 'oracle'"):
        dialect_named("oracle")
    with pytest.raises(EngineError, match="unknown engine 'sqlite'"):
        EngineConfig("sqlite")
    with pytest.raises(EngineError, match="unknown ClickHouse source"):
        EngineConfig("clickhouse", source="kafka")


SEARCHES = [
    ("url:[https://a.test/, https://b.test/]", "clickhouse", "hasAny"),
    ("url:[https://a.test/, https://b.test/]", "spark", "ARRAYS_OVERLAP"),
    ("click.selector:button.btn.primary", "clickhouse", "hasAll"),
    ("click.selector:button.btn.primary", "spark", "ARRAY_EXCEPT"),
    ("url:*checkout*", "clickhouse", "ILIKE '%checkout%'"),
    ("url:*checkout*", "duckdb", "ILIKE '%checkout%' ESCAPE"),
]


@pytest.mark.parametrize(("query", "dialect", "part"), SEARCHES)
def test_compile_search(query: str, dialect: str, part: str) -> None:
    sql = compile_search(query, dialect)
    assert sql.startswith("SELECT project_id, replay_id FROM replays WHERE ")
    assert part in sql
    assert "&&" not in sql and "@>" not in sql


S3 = S3Settings(endpoint="http://127.0.0.1:8333", access_key="KEY", secret_key="SECRET")
FILES = (
    "s3://bucket/store/tables/segments/month=2024-05/part-1.parquet",
    "s3://bucket/store/tables/segments/month=2024-06/part-2.parquet",
)
TABLES = tuple(dict.fromkeys(SCANNED.values()))  # every table the views scan
SNAPSHOT = Snapshot(
    seq=7,
    versions={t: 3 if t == "segments" else 1 for t in TABLES},
    files={t: FILES if t == "segments" else () for t in TABLES},
)
URIS = tuple((t, f"s3://bucket/store/tables/{t}") for t in TABLES)


def _scan_sql(source: ClickHouseSource) -> str:
    return source.scan("segments", "segments", SNAPSHOT).sql(dialect=ReplaysClickHouse)


def test_s3_files_on_a_cluster() -> None:
    sql = _scan_sql(ClickHouseSource(cluster="replays", s3=S3))
    assert (
        "FROM s3Cluster('replays', 'http://127.0.0.1:8333/bucket/store/tables/segments/month=2024-0"
        "{5/part-1.parquet,6/part-2.parquet}', 'KEY', 'SECRET', 'Parquet') "
        "SETTINGS use_hive_partitioning = 1"
    ) in sql


def test_delta_tables_on_a_cluster_at_the_pinned_version() -> None:
    sql = _scan_sql(ClickHouseSource(mode="delta", cluster="replays", s3=S3, table_uris=URIS))
    assert sql.endswith(
        "FROM deltaLakeCluster('replays', 'http://127.0.0.1:8333/bucket/store/tables/segments', "
        "'KEY', 'SECRET') SETTINGS delta_lake_snapshot_version = 3"
    )


def test_delta_on_s3_without_a_cluster() -> None:
    sql = _scan_sql(ClickHouseSource(mode="delta", s3=S3, table_uris=URIS))
    assert "FROM deltaLake('http://127.0.0.1:8333/bucket/store/tables/segments', 'KEY'" in sql


def test_aws_virtual_host_url_without_an_endpoint() -> None:
    settings = S3Settings.from_env({"AWS_REGION": "eu-west-1"})
    assert (
        settings.http_url("s3://b/k/x.parquet")
        == "https://b.s3.eu-west-1.amazonaws.com/k/x.parquet"
    )
    assert settings.credentials() == []


def test_a_cluster_does_not_read_local_files() -> None:
    local = Snapshot(seq=1, versions={"segments": 1}, files={"segments": ("/data/x.parquet",)})
    with pytest.raises(EngineError, match="object storage"):
        ClickHouseSource(cluster="replays").scan("segments", "segments", local)


def test_generated_cluster_queries_parse_as_clickhouse() -> None:
    # No ClickHouse server runs here; chdb (the same parser) checks the whole query's syntax.
    sources = {
        "files": ClickHouseSource(cluster="replays", s3=S3),
        "delta": ClickHouseSource(mode="delta", cluster="replays", s3=S3, table_uris=URIS),
    }
    sess = session.Session()
    for source in sources.values():
        views = view_queries(SNAPSHOT, source.scan)
        tree = exp.select("replay_id").from_("segments").where(exp.column("segment_id").eq(0))
        sql = with_views(tree, views).sql(dialect=ReplaysClickHouse)
        ast = sess.query(f"EXPLAIN AST {sql}", "CSV").bytes().decode()
        assert "Cluster" in ast
    sess.close()


def test_an_empty_table_is_typed_as_clickhouse_reads_it() -> None:
    sql = empty_relation(schema.REPLAYS).sql(dialect=ReplaysClickHouse)
    assert 'CAST([] AS Array(Tuple(key Nullable(String), value Nullable(String)))) AS "tags"' in sql
    assert "CAST(NULL AS Nullable(DateTime64(6, 'UTC'))) AS \"started_at\"" in sql
    assert sql.endswith("WHERE FALSE")


def test_spark_reads_s3_through_s3a() -> None:
    from replaystore.engines.spark import spark_path, spark_schema

    assert spark_path("s3://b/store/tables/x.parquet") == "s3a://b/store/tables/x.parquet"
    assert spark_path("/data/store/tables/x.parquet") == "/data/store/tables/x.parquet"
    assert "`tags` ARRAY<STRUCT<`key`: STRING, `value`: STRING>>" in spark_schema("replays")
