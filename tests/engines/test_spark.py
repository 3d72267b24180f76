"""Spark (pyspark local, Java 17) reads a store's tables as they are, and the product's
searches compiled for Spark select the same replays as DuckDB. Slow: a JVM starts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from replaystore.engines import compile_search, open_engine
from replaystore.engines.spark import register_views
from replaystore.storage.store import Store
from tests.engines.conftest import write_state

pyspark = pytest.importorskip("pyspark")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime"),
    pytest.mark.xdist_group("spark"),  # one JVM at a time on a 2-core machine
]

# Every field kind of the search corpus: scalars, lists (exact, overlap, wildcard), ids,
# numbers and durations, tags, free text, click attributes and selectors, boolean structure.
SEARCHES = [
    ("browser.name:Chrome", "15"),
    ("browser.name:[chrome, fire*]", "2"),
    ('!browser.name:[Chrome, ""]', "23"),
    ("release:1.0.1", "15"),
    ("url:*x\\*y", "2"),
    ("url:[https://example.com/checkout, https://other.org/x*y]", "12"),
    ("count_errors:>=1", "12"),
    ("duration:[17s, 1.5m]", "12"),
    (f"error_id:{'e2' * 16}", "12"),
    ("user.ip:1.2.3.4", "1"),
    ("k:[v1, v2]", "12"),
    ("!has:tags[k]", "35"),
    ("CHECKOUT", "1"),
    ("click.selector:button.btn.primary", "1"),
    ("click.selector:\"a[aria-label='home link']\"", "1"),
    ("click.class:[nav, other]", "1"),
    ("rage.selector:a.nav", "1"),
    ("browser.name:Firefox OR (user.id:42 count_errors:2)", "12"),
    ("browser.name:Safari", "3"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("replaystore-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def store(spark: object, tmp_path_factory: pytest.TempPathFactory) -> Store:
    # Compacted, then rewritten: the summary base, its recent tier and the merge view.
    written = write_state(str(tmp_path_factory.mktemp("spark") / "store"), "rewritten")
    register_views(spark, written)
    return written


@pytest.mark.parametrize(("query", "expected"), SEARCHES, ids=[s[0] for s in SEARCHES])
def test_spark_selects_the_same_replays(spark, store: Store, query: str, expected: str) -> None:
    rows = spark.sql(compile_search(query, "spark")).collect()  # type: ignore[attr-defined]
    spark_ids = sorted(r["replay_id"] for r in rows)
    duck = open_engine(store, "duckdb")
    duck_ids = sorted(r["replay_id"] for r in duck.execute_arrow(compile_search(query)).to_pylist())
    duck.close()
    assert spark_ids == duck_ids
    assert "".join(i[0] for i in spark_ids) == expected


def test_spark_reads_every_view(spark, store: Store) -> None:
    counts = {
        view: spark.sql(f"SELECT count(*) AS n FROM {view}").collect()[0]["n"]  # type: ignore[attr-defined]
        for view in ("segments", "clicks", "links", "replays", "replay_tags")
    }
    assert counts == {"segments": 8, "clicks": 3, "links": 4, "replays": 4, "replay_tags": 4}


def test_spark_reads_whole_summary_rows_with_a_pushed_down_filter(spark, store: Store) -> None:
    # What failed on LZ4_RAW: a plain filter Spark pushes into the Parquet reader (dictionary
    # pages), over every column of the summary base and recent tier.
    for view in ("replays_base", "replays_recent"):
        rows = spark.sql(  # type: ignore[attr-defined]
            f"SELECT * FROM {view} WHERE browser_name = 'Chrome' AND environment = 'prod'"
        ).collect()
        assert all(r["browser_name"] == "Chrome" and r["payload"] for r in rows)
    assert spark.sql("SELECT count(*) AS n FROM replays_base").collect()[0]["n"] == 3  # type: ignore[attr-defined]
