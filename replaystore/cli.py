"""The `replaystore` command line: serve, ingest, compact, sql, project/token add, demo."""

from __future__ import annotations

import argparse
import csv
import ipaddress
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from replaystore.catalog import Catalog
from replaystore.errors import ReplayStoreError

if TYPE_CHECKING:
    from replaystore.storage.maintenance import MaintenanceSettings


def _data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the store's data folder (or fsspec URL)")


def _server_args(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=default_port, help="port to listen on")
    parser.add_argument("--threads", type=int, default=8, help="worker threads")


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
    _maintenance_args(serve)

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
    from replaystore.wsgi import serve

    if args.no_auth and not ipaddress.ip_address(_resolve(args.host)).is_loopback:
        print("error: --no-auth is only allowed on a loopback address", file=sys.stderr)
        return 2
    serve(
        args.data,
        args.host,
        args.port,
        auth=not args.no_auth,
        threads=args.threads,
        maintenance=_maintenance_settings(args),
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
        rows = replaystore.open(args.data).sql(args.query)
    except duckdb.Error as error:
        print(f"error: {error}", file=sys.stderr)
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


def _project(args: argparse.Namespace) -> int:
    project = Catalog(args.data).add_project(args.org, args.slug, args.id, args.dsn_key)
    print(
        f"project {project.org}/{project.slug} id {project.id} keys {', '.join(project.dsn_keys)}"
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    print(Catalog(args.data).add_token(args.org))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from replaystore.demo import build_demo

    summary = build_demo(args.data, anchor=datetime.now(UTC), replays=args.replays)
    print(summary)
    if args.no_serve:
        return 0
    from replaystore.wsgi import serve

    print(
        f"Serving the demo store on http://{args.host}:{args.port}/ (no auth, loopback only).\n"
        f"Open http://{args.host}:{args.port}/api/0/organizations/acme/replays/ "
        "in your browser. Ctrl-C stops."
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
}

if __name__ == "__main__":
    sys.exit(main())
