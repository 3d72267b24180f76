"""The `replaystore` command line: serve, ingest, compact, sql, project/token, demo.

Every command that takes `--data` falls back to $REPLAYSTORE_DATA. Bad operator input is one
`error: ...` line and exit status 2; read commands never create a store.
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from replaystore import __version__
from replaystore.catalog import Catalog
from replaystore.engines.cli import add_compile_command, compile_command, engine_args, engine_config
from replaystore.errors import CatalogError, ReplayStoreError, SqlError

if TYPE_CHECKING:
    from replaystore.storage.maintenance import MaintenanceSettings


DATA_ENV = "REPLAYSTORE_DATA"


def _data_arg(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get(DATA_ENV) or None
    parser.add_argument(
        "--data",
        required=default is None,
        default=default,
        help=f"the store: a folder, file:// or s3:// URL (default: ${DATA_ENV})",
    )


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
    parser.add_argument("--version", action="version", version=f"replaystore {__version__}")
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
    serve.add_argument(
        "--journal",
        help="the writer's ingest journal folder, on local disk (default: DATA/journal for a "
        "local store; for s3:// a folder under ~/.cache/replaystore/journals)",
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
    sql.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="VALUE",
        help="a value for the query's next ? (or $1, $2...), repeatable; DuckDB casts it",
    )
    sql.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="json and csv write lists and structs as JSON, times as ISO 8601",
    )
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
    project_list = project.add_parser(
        "list", help="list the registered projects and the project ids that have replays"
    )
    _data_arg(project_list)
    project_list.add_argument("--format", choices=("table", "json"), default="table")

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    token_add = token.add_parser("add", help="print a new bearer token for an organization")
    _data_arg(token_add)
    token_add.add_argument("--org", required=True, help="organization slug")
    token_add.add_argument(
        "--user-id", type=_positive_int, help="the user the token acts as (default: a new user)"
    )
    token_add.add_argument("--email", help="the user's email (shown in viewed-by)")
    token_add.add_argument("--name", help="the user's name (shown in viewed-by)")

    delete = commands.add_parser(
        "delete", help="delete every replay of a project matching a search in a time range"
    )
    _data_arg(delete)
    delete.add_argument("--project", type=int, required=True, help="numeric project id")
    delete.add_argument("--query", default="", help="a replay search (as the list's `query`)")
    delete.add_argument("--start", required=True, help="ISO 8601 start (inclusive; naive = UTC)")
    delete.add_argument("--end", required=True, help="ISO 8601 end (exclusive)")
    delete.add_argument(
        "--environment", action="append", default=[], help="only these environments (repeat)"
    )

    demo = commands.add_parser("demo", help="build a populated demo store and serve it")
    demo.add_argument("--data", default="demo-data", help="folder of the demo store")
    _server_args(demo, 8000)
    demo.add_argument("--replays", type=int, default=None, help="number of generated replays")
    demo.add_argument("--no-serve", action="store_true", help="build and summarise only")

    from replaystore.transfer.cli import add_commands  # import / export

    add_commands(commands, _data_arg)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ReplayStoreError as error:
        return _fail(error.detail)
    except OSError as error:
        # A file or folder the operator named: missing, unreadable, a disk full.
        where = f": {error.filename}" if error.filename else ""
        return _fail(f"{error.strerror or error}{where}")
    except KeyboardInterrupt:
        return 130


def _fail(message: str) -> int:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"error: {first}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from replaystore.server import serve
    from replaystore.server_limits import ServerLimits

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
        journal=args.journal,
        engine=engine_config(args),
    )
    return 0


def _resolve(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


def _ingest(args: argparse.Namespace) -> int:
    import replaystore
    from replaystore.facade import expand_paths
    from replaystore.progress import progress

    files = expand_paths(args.files)  # every path checked before the store is touched
    with replaystore.open(args.data) as store:
        with progress("ingest", total=len(files), unit="files") as bar:
            count = store.ingest_files(files, project_id=args.project, on_progress=bar.advance)
        print(f"ingested {count} files")
        _note_unregistered(store)
    return 0


def _note_unregistered(store) -> None:
    """Replays of a project no organization lists are invisible over HTTP (issue 16): say so."""
    if store.catalog is None:
        return
    known = {p.id for p in store.catalog.projects()}
    for project_id in (p for p in store.project_ids() if p not in known):
        print(
            f"note: project {project_id} is in no organization, so the HTTP API does not show "
            f"its replays; register it: replaystore project add --data {store.root} --org ORG "
            f"--slug SLUG --id {project_id} --dsn-key KEY",
            file=sys.stderr,
        )


def _compact(args: argparse.Namespace) -> int:
    import replaystore

    with replaystore.open(args.data, create=False) as store:
        print(f"compacted: {store.compact()}")
    return 0


def _sql(args: argparse.Namespace) -> int:
    import replaystore

    # Read-only: no lock taken beside a running server, and a missing store is an error.
    with replaystore.open(args.data, read_only=True, engine=engine_config(args)) as store:
        if args.engine == "duckdb":
            rows = store.sql(args.query, args.param or None).to_dicts()
        elif args.param:
            raise SqlError("--param binds values for --engine duckdb only")
        else:
            try:
                rows = store.engine.execute(args.query)
            except RuntimeError as error:  # chdb raises RuntimeError for bad SQL
                raise SqlError(str(error).strip().splitlines()[0]) from error
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows, default=_json_default).decode() + "\n")
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        if rows:
            writer.writerow(rows[0].keys())
        writer.writerows([_csv_cell(v) for v in r.values()] for r in rows)
    else:
        _print_table(rows)
    return 0


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)  # Decimal, timedelta, ...


def _csv_cell(value: object) -> object:
    """A CSV cell: lists and structs as JSON (never Python reprs), times as ISO 8601."""
    if value is None or isinstance(value, str | int | float | bool):
        return "" if value is None else value
    return orjson.dumps(value, default=_json_default).decode().strip('"')


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
    if value is None:
        text = "NULL"
    elif isinstance(value, list | dict):
        text = orjson.dumps(value, default=_json_default).decode()
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _catalog(data: str) -> Catalog:
    """The catalog of the store at `data`, under the store's one spelling of its root."""
    from replaystore.storage.layout import normalize_root

    return Catalog(normalize_root(data))


def _project(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _project_list(args)
    project = _catalog(args.data).add_project(args.org, args.slug, args.id, args.dsn_key)
    print(
        f"project {project.org}/{project.slug} id {project.id} keys {', '.join(project.dsn_keys)}"
    )
    return 0


def _project_list(args: argparse.Namespace) -> int:
    rows = _project_rows(args.data, _catalog(args.data))
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
    else:
        _print_table(rows)
    return 0


def _project_rows(data: str, catalog: Catalog) -> list[dict]:
    """Registered projects with their replay counts, then project ids that have replays but
    no organization (the HTTP API does not show those until `project add`)."""
    import replaystore
    from replaystore.storage.store import StoreNotFound

    try:
        with replaystore.open(data, read_only=True) as store:
            counts = {r["project_id"]: r["n"] for r in store.sql(_REPLAYS_PER_PROJECT)}
    except StoreNotFound:
        if not catalog.exists():
            raise
        counts = {}  # projects registered before anything was ingested
    rows = [
        {"org": p.org, "slug": p.slug, "id": p.id, "dsn_keys": list(p.dsn_keys),
         "replays": counts.pop(p.id, 0)}
        for p in sorted(catalog.projects(), key=lambda p: (p.org, p.slug))
    ]  # fmt: skip
    rows += [
        {"org": None, "slug": None, "id": pid, "dsn_keys": [], "replays": n}
        for pid, n in sorted(counts.items())
    ]
    return rows


_REPLAYS_PER_PROJECT = "SELECT project_id, count(*) AS n FROM replays GROUP BY project_id"


def _token(args: argparse.Namespace) -> int:
    catalog = _catalog(args.data)
    if args.org not in catalog.organizations():
        raise CatalogError(
            f"unknown organization {args.org!r}: register a project in it first "
            f"(replaystore project add --org {args.org} ...)"
        )
    print(catalog.add_token(args.org, user_id=args.user_id, email=args.email, name=args.name))
    return 0


def _delete(args: argparse.Namespace) -> int:
    """A bulk deletion job run here: needs the store's writer lock, as ingest does."""
    import replaystore
    from replaystore.job_params import parse_range
    from replaystore.storage.store import StoreNotFound

    parse_range(args.start, args.end)  # bad input fails before the store is opened
    if _catalog(args.data).project_by_id(args.project) is None:
        raise StoreNotFound(f"no project with id {args.project} in the store at {args.data}")
    job = replaystore.open(args.data).delete_replays(
        args.project,
        start=args.start,
        end=args.end,
        query=args.query,
        environments=args.environment,
    )
    print(f"delete job {job['id']}: {job['status']}, {job['countDeleted']} replays deleted")
    return 0 if job["status"] == "completed" else 1


def _demo(args: argparse.Namespace) -> int:
    from replaystore.demo import build_demo
    from replaystore.progress import progress

    _configure_logging(args.log_level)
    with progress("demo: building", unit="envelopes") as bar:

        def step(done: int, total: int) -> None:
            bar.set_total(total)
            bar.set_completed(done)

        summary = build_demo(
            args.data, anchor=datetime.now(UTC), replays=args.replays, on_progress=step
        )
    print(summary)
    if args.no_serve:
        return 0
    from replaystore.demo import watch_urls
    from replaystore.server import serve

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
    "delete": _delete,
    "demo": _demo,
    "compile": compile_command,
}


# import / export: their arguments and code are in replaystore/transfer/cli.py
def _transfer(name: str, args: argparse.Namespace) -> int:
    from replaystore.transfer import cli

    return getattr(cli, name)(args)


COMMANDS.update(
    {
        "import": lambda args: _transfer("run_import", args),
        "export": lambda args: _transfer("run_export", args),
    }
)


if __name__ == "__main__":
    sys.exit(main())
