"""Every per-dialect fix of the product's sqlglot trees, one generator table per dialect.

The query and search stages build trees from neutral nodes (`ArrayContains`, `ArrayOverlaps`,
`ArrayContainsAll`, `ArrayDistinct`, `UnixMicros`, `Escape`, struct `Dot`s); sqlglot's own
generators print a few of them wrongly for ClickHouse and Spark (e.g.
`a && b` for an overlap, `a @> b` for contains-all). The overrides below are the only place
where those differences live; `DIALECTS` maps the names users give to these classes.

>>> from sqlglot import exp
>>> overlap = exp.ArrayOverlaps(this=exp.column("urls"), expression=exp.column("wanted"))
>>> overlap.sql(dialect=ReplaysClickHouse)
'hasAny(urls, wanted)'
>>> overlap.sql(dialect=ReplaysSpark)
'ARRAYS_OVERLAP(urls, wanted)'
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.spark import Spark
from sqlglot.generator import Generator

from replaystore.errors import EngineError

# LIKE patterns of the search stage escape with a backslash (search.values.like_pattern),
# which is also the default escape character of ClickHouse's and Spark's LIKE.
_BACKSLASH = "\\"


def _is_backslash(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string and node.this == _BACKSLASH


def _ch_escape(gen: Generator, node: exp.Escape) -> str:
    """ClickHouse has no `ESCAPE` clause; its LIKE escapes with a backslash already."""
    if not _is_backslash(node.expression):
        gen.unsupported("ClickHouse LIKE only escapes with a backslash")
    return gen.sql(node, "this")


def _ch_dot(gen: Generator, node: exp.Dot) -> str:
    """A field of a named tuple (a struct of the summary's `tags`/`clicks` lists)."""
    name = exp.Literal.string(node.expression.name)
    return gen.func("tupleElement", node.this, name)


class ReplaysClickHouse(ClickHouse):
    """ClickHouse (chdb and servers) with the array functions it spells differently."""

    class Generator(ClickHouse.Generator):
        TRANSFORMS: ClassVar = {
            **ClickHouse.Generator.TRANSFORMS,
            exp.ArrayOverlaps: lambda self, e: self.func("hasAny", e.this, e.expression),
            exp.ArrayContainsAll: lambda self, e: self.func("hasAll", e.this, e.expression),
            exp.ArrayDistinct: lambda self, e: self.func("arrayDistinct", e.this),
            exp.UnixMicros: lambda self, e: self.func("toUnixTimestamp64Micro", e.this),
            exp.IntDiv: lambda self, e: self.func("intDiv", e.this, e.expression),
            exp.Escape: _ch_escape,
            exp.Dot: _ch_dot,
        }


def _spark_contains_all(gen: Generator, node: exp.ArrayContainsAll) -> str:
    """Every element of the right side is in the left one: nothing is left over."""
    left_over = exp.ArraySize(
        this=exp.Anonymous(this="ARRAY_EXCEPT", expressions=[node.expression, node.this])
    )
    return gen.sql(exp.EQ(this=left_over, expression=exp.Literal.number(0)))


class ReplaysSpark(Spark):
    """Spark SQL (batch jobs over the tables' Parquet files)."""

    class Generator(Spark.Generator):
        TRANSFORMS: ClassVar = {
            **Spark.Generator.TRANSFORMS,
            exp.ArrayOverlaps: lambda self, e: self.func("ARRAYS_OVERLAP", e.this, e.expression),
            exp.ArrayContainsAll: _spark_contains_all,
        }


DIALECTS: dict[str, type[Dialect]] = {
    "duckdb": DuckDB,
    "clickhouse": ReplaysClickHouse,
    "spark": ReplaysSpark,
}


def dialect_named(name: str) -> type[Dialect]:
    """The dialect class of a user-given name (`duckdb`, `clickhouse`, `spark`)."""
    try:
        return DIALECTS[name]
    except KeyError:
        choices = ", ".join(DIALECTS)
        raise EngineError(f"unknown SQL dialect {name!r} (choose one of: {choices})") from None
