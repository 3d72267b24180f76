"""The engine options of the command line (`--engine`, the ClickHouse settings) and the
`compile` command, which prints a search as SQL of a dialect for a batch job."""

from __future__ import annotations

import argparse
import os
import sys

from replaystore.engines import DEFAULT_ENGINE, DIALECTS, ENGINES, EngineConfig, compile_search

URL_VARIABLE = "REPLAYSTORE_CLICKHOUSE_URL"
CLUSTER_VARIABLE = "REPLAYSTORE_CLICKHOUSE_CLUSTER"


def engine_args(parser: argparse.ArgumentParser) -> None:
    """`--engine` and where ClickHouse runs (a server URL and cluster, else chdb in process)."""
    parser.add_argument(
        "--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="query engine (default duckdb)"
    )
    parser.add_argument(
        "--clickhouse-url",
        default=os.environ.get(URL_VARIABLE),
        help=f"a ClickHouse server, http://user:password@host:8123 (default ${URL_VARIABLE}; "
        "none: chdb in this process)",
    )
    parser.add_argument(
        "--clickhouse-cluster",
        default=os.environ.get(CLUSTER_VARIABLE),
        help="read with deltaLakeCluster/s3Cluster on this cluster of the server",
    )
    parser.add_argument(
        "--clickhouse-source",
        choices=("files", "delta"),
        default="files",
        help="read the snapshot's file lists (default) or the Delta tables at its versions",
    )


def engine_config(args: argparse.Namespace) -> EngineConfig:
    return EngineConfig(
        name=args.engine,
        clickhouse_url=args.clickhouse_url,
        cluster=args.clickhouse_cluster,
        source=args.clickhouse_source,
    )


def add_compile_command(commands: argparse._SubParsersAction) -> None:
    compile_ = commands.add_parser(
        "compile", help="print a replay search as SQL of duckdb, clickhouse or spark"
    )
    compile_.add_argument("query", help='a replay search, e.g. "browser.name:Firefox"')
    compile_.add_argument("--dialect", choices=tuple(DIALECTS), default="duckdb")
    compile_.add_argument(
        "--where", action="store_true", help="only the condition, not a SELECT over `replays`"
    )


def compile_command(args: argparse.Namespace) -> int:
    """Print the search; a bad search is a ReplayStoreError (`error:` and exit 2)."""
    sys.stdout.write(compile_search(args.query, args.dialect, where_only=args.where) + "\n")
    return 0
