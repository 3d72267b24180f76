"""The `replaystore` command line: serve, ingest, compact, sql, project/token add, demo."""

from __future__ import annotations

import argparse
import csv
import ipaddress
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from replaystore.catalog import Catalog
from replaystore.engines.cli import add_compile_command, compile_command, engine_args, engine_config
from replaystore.errors import ReplayStoreError

if TYPE_CHECKING:
    from replaystore.storage.maintenance import MaintenanceSettings


def _data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the store's data folder (or fsspec URL)")


LOG_LEVELS = ("debug", "info", "warning", "error")


def _server_args(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=default_port, help="port to listen on")
    parser.add_argument("--threads", type=int, default=8, help="worker threads")
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="log lines from this level on"
    )


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _limit_args(parser: argparse.ArgumentParser) -> None:
    """`serve`'s connection limits and proxy settings (docs/security.md)."""
    from replaystore.server_limits import ServerLimits

    default = ServerLimits()
    parser.add_argument(
        "--max-body", type=int, default=default.max_body,
        help="largest request body in bytes; larger ones get 413 before being read",
    )  # fmt: skip
    parser.add_argument(
        "--channel-timeout", type=int, default=default.channel_timeout,
        help="seconds a silent connection stays open",
    )  # fmt: skip
    parser.add_argument(
        "--connection-limit", type=int, default=default.connection_limit,
        help="connections open at once",
    )  # fmt: skip
    parser.add_argument(
        "--trusted-proxy", help="address of the reverse proxy whose X-Forwarded-For is believed"
    )
    parser.add_argument(
        "--trusted-proxy-count", type=int, default=default.trusted_proxy_count,
        help="proxies in front, each adding one X-Forwarded-For address",
    )  # fmt: skip
    parser.add_argument(
        "--public-url", help="URL clients reach the server at, for Link headers (else relative)"
    )


def _maintenance_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retention-days",
        type=_positive_int,
        default=90,
        help="remove replays that started more than N days ago (default 90, as Sentry)",
    )
    parser.add_argument(
        "--file-retention-minutes",
        type=_positive_int,
        default=10,
        help="keep replaced data files this long for readers of older snapshots (default 10)",
    )


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _maintenance_settings(args: argparse.Namespace) -> MaintenanceSettings:
    from replaystore.storage.maintenance import MaintenanceSettings

    return MaintenanceSettings(
        retention_days=args.retention_days,
        file_retention=timedelta(minutes=args.file_retention_minutes),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replaystore", description="Session replays as Parquet, served as the Sentry API."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the HTTP API for a store")
    _data_arg(serve)
    _server_args(serve, 8000)
    serve.add_argument("--no-auth", action="store_true", help="no bearer tokens (loopback only)")
    _limit_args(serve)
    serve.add_argument(
        "--read-only",
        action="store_true",
        help="serve reads only, beside the store's writer: no ingest, no lock, no journal",
    )
    _maintenance_args(serve)
    engine_args(serve)

    ingest = commands.add_parser("ingest", help="ingest .envelope files and .jsonl exports")
    _data_arg(ingest)
    ingest.add_argument("--project", type=int, help="project id of every envelope")
    ingest.add_argument("files", nargs="+", help="files or folders (searched for both kinds)")

    compact = commands.add_parser("compact", help="fold recent data into sorted files")
    _data_arg(compact)

    sql = commands.add_parser("sql", help="run SQL over the views replays, segments, ...")
    _data_arg(sql)
    sql.add_argument("query", help="a DuckDB SQL query")
    sql.add_argument("--format", choices=("table", "json", "csv"), default="table")
    engine_args(sql)  # --engine clickhouse: the query is ClickHouse SQL over the same views
    add_compile_command(commands)

    project = commands.add_parser("project", help="manage projects").add_subparsers(
        dest="action", required=True
    )
    project_add = project.add_parser("add", help="register a project and a DSN key")
    _data_arg(project_add)
    project_add.add_argument("--org", required=True, help="organization slug")
    project_add.add_argument("--slug", required=True, help="project slug")
    project_add.add_argument("--id", type=int, required=True, help="numeric project id")
    project_add.add_argument("--dsn-key", required=True, help="DSN public key")

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    token_add = token.add_parser("add", help="print a new bearer token for an organization")
    _data_arg(token_add)
    token_add.add_argument("--org", required=True, help="organization slug")

    demo = commands.add_parser("demo", help="build a populated demo store and serve it")
    demo.add_argument("--data", default="demo-data", help="folder of the demo store")
    _server_args(demo, 8000)
    demo.add_argument("--replays", type=int, default=None, help="number of generated replays")
    demo.add_argument("--no-serve", action="store_true", help="build and summarise only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ReplayStoreError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from replaystore.server_limits import ServerLimits
    from replaystore.wsgi import serve

    if args.no_auth and not ipaddress.ip_address(_resolve(args.host)).is_loopback:
        print("error: --no-auth is only allowed on a loopback address", file=sys.stderr)
        return 2
    for name in ("max_body", "channel_timeout", "connection_limit", "trusted_proxy_count"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    limits = ServerLimits(
        max_body=args.max_body,
        channel_timeout=args.channel_timeout,
        connection_limit=args.connection_limit,
        trusted_proxy=args.trusted_proxy,
        trusted_proxy_count=args.trusted_proxy_count,
    )
    _configure_logging(args.log_level)
    serve(
        args.data,
        args.host,
        args.port,
        auth=not args.no_auth,
        threads=args.threads,
        limits=limits,
        public_url=args.public_url,
        read_only=args.read_only,
        maintenance=_maintenance_settings(args),
        engine=engine_config(args),
    )
    return 0


def _resolve(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


def _ingest(args: argparse.Namespace) -> int:
    import replaystore

    files: list[Path] = []
    for name in args.files:
        path = Path(name)
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.suffix in (".envelope", ".jsonl"))
        else:
            files.append(path)
    count = replaystore.open(args.data).ingest_files(files, project_id=args.project)
    print(f"ingested {count} files")
    return 0


def _compact(args: argparse.Namespace) -> int:
    import replaystore

    result = replaystore.open(args.data).compact()
    print(f"compacted: {result}")
    return 0


def _sql(args: argparse.Namespace) -> int:
    import duckdb

    import replaystore

    try:
        if args.engine != "duckdb":
            store = replaystore.open(args.data, engine=engine_config(args))
            rows = store.engine.execute(args.query)
        else:
            rows = replaystore.open(args.data).sql(args.query)
    except (duckdb.Error, RuntimeError) as error:  # chdb raises RuntimeError for bad SQL
        print(f"error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows, default=str).decode() + "\n")
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        if rows:
            writer.writerow(rows[0].keys())
        writer.writerows(r.values() for r in rows)
    else:
        _print_table(rows)
    return 0


def _print_table(rows: list[dict]) -> None:
    if not rows:
        print("(no rows)")
        return
    names = list(rows[0])
    cells = [[_cell(r[n]) for n in names] for r in rows]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    print("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"({len(rows)} rows)")


def _cell(value: object) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _catalog(data: str) -> Catalog:
    """The catalog of the store at `data`, under the store's one spelling of its root."""
    from replaystore.storage.layout import normalize_root

    return Catalog(normalize_root(data))


def _project(args: argparse.Namespace) -> int:
    project = _catalog(args.data).add_project(args.org, args.slug, args.id, args.dsn_key)
    print(
        f"project {project.org}/{project.slug} id {project.id} keys {', '.join(project.dsn_keys)}"
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    print(_catalog(args.data).add_token(args.org))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from replaystore.demo import build_demo

    _configure_logging(args.log_level)
    summary = build_demo(args.data, anchor=datetime.now(UTC), replays=args.replays)
    print(summary)
    if args.no_serve:
        return 0
    from replaystore.demo import watch_urls
    from replaystore.wsgi import serve

    base = f"http://{args.host}:{args.port}"
    replays, replay = watch_urls(base)
    print(
        f"Serving the demo store on {base}/ (no auth, loopback only). Ctrl-C stops.\n"
        f"API:           {base}/api/0/organizations/acme/replays/\n"
        f"Replay list:   {replays}\n"
        f"Watch one:     {replay}",
        flush=True,
    )
    serve(args.data, args.host, args.port, auth=False, threads=args.threads)
    return 0


COMMANDS = {
    "serve": _serve,
    "ingest": _ingest,
    "compact": _compact,
    "sql": _sql,
    "project": _project,
    "token": _token,
    "demo": _demo,
    "compile": compile_command,
}

if __name__ == "__main__":
    sys.exit(main())
