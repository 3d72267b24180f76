"""The `import` and `export` subcommands; `replaystore.cli` wires them in."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from replaystore.progress import progress

TOKEN_ENV = "SENTRY_AUTH_TOKEN"  # what sentry-cli reads too
FORMATS = ("jsonl", "parquet")


def add_commands(commands: Any, data_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `import` and `export` to the CLI's subparsers; `data_arg` adds the CLI's `--data`."""
    source = commands.add_parser(
        "import", help="copy replays from a Replays API server (sentry.io, Sentry, replaystore)"
    )
    data_arg(source)
    source.add_argument(
        "--from", dest="source", required=True, help="server root, e.g. https://sentry.io"
    )
    source.add_argument("--org", required=True, help="organization slug at the source")
    source.add_argument("--token", help=f"bearer token at the source (default: ${TOKEN_ENV})")
    source.add_argument(
        "--project", action="append", dest="projects", metavar="SLUG",
        help="copy only this project (repeatable; default: every project of the org)",
    )  # fmt: skip
    source.add_argument("--since", default="90d", help="replays started this long ago or later")
    source.add_argument(
        "--concurrency", type=int, default=4, help="replays fetched at once (default 4)"
    )
    source.add_argument("--state", help="state file for resuming (default: in the store)")
    source.add_argument(
        "--page-size", type=int, default=100, help="replays per page of the source's list (1..100)"
    )

    out = commands.add_parser("export", help="write replays as JSONL or the tables as Parquet")
    data_arg(out)
    out.add_argument("--out", required=True, help="a .jsonl file ('-': stdout) or a folder")
    out.add_argument("--format", choices=FORMATS, default="jsonl")
    out.add_argument("--query", default="", help="only replays matching this search")
    out.add_argument("--since", default="90d", help="replays started this long ago or later")


def run_import(args: argparse.Namespace) -> int:
    from replaystore.transfer import import_from

    token = args.token or os.environ.get(TOKEN_ENV)
    with progress("import", unit="replays") as bar:
        result = import_from(
            args.data,
            args.source,
            args.org,
            token,
            projects=args.projects,
            since=args.since,
            concurrency=args.concurrency,
            state_path=args.state,
            page_size=args.page_size,
            on_progress=bar.advance,
            on_total=bar.set_total,
        )
    print(result)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from replaystore.transfer import ExportError, export_jsonl, export_parquet
    from replaystore.transfer.export import PARQUET_FILES

    if args.format == "parquet" and args.out == "-":
        raise ExportError("Parquet goes into a folder: give --out a folder, not '-'")
    with progress("export", unit="replays" if args.format == "jsonl" else "files") as bar:
        if args.format == "parquet":
            bar.set_total(len(PARQUET_FILES))
            written = export_parquet(
                args.data, args.out, query=args.query, since=args.since, on_progress=bar.advance
            )
            summary = ", ".join(f"{n} {name}" for name, n in written.items())
            message = f"exported to {args.out}: {summary}"
        else:
            out = sys.stdout if args.out == "-" else args.out
            count = export_jsonl(
                args.data,
                out,
                query=args.query,
                since=args.since,
                on_progress=bar.advance,
                on_total=bar.set_total,
            )
            message = f"exported {count} replays to {args.out}"
    print(message, file=sys.stderr if args.out == "-" else sys.stdout)
    return 0
