"""The listed queries per engine and storage (issue 13): one row per (query, engine, storage).

    python -m benchmarks.matrix --size small --storage local|s3 [--engine duckdb] [--runs 20]

Measures every listed query (benchmarks.cases) through the product's query functions, as
`benchmarks.run` does for "ours", over the `small` (or other) dataset on local disk or copied
to a real S3 server (`weed mini` on 127.0.0.1, started here: tests/s3server.py), read by a
read-only store as a `serve --read-only` would. Each run replaces only its own (engine,
storage) rows of benchmarks/results/matrix-<size>.json, so engines and storages measured
separately (another engine's runner adds `ENGINES` entries) land in one table,
matrix-<size>.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import cases, load
from benchmarks.run import RESULTS_DIR, compaction, ensure_dataset, environment
from benchmarks.stats import measure
from replaystore.engine import Engine
from replaystore.storage.store import Store

# engine name -> a factory of the object the query functions run on (Engine's interface).
ENGINES: dict[str, Callable[[Store], Any]] = {"duckdb": Engine}
STORAGES = ("local", "s3")
KEY = ("query", "engine", "storage")


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


@contextmanager
def store_on(storage: str, root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The dataset's store URL on `storage` (copied to a fresh S3 server for s3), and facts."""
    if storage == "local":
        yield str(root), {}
        return
    import os

    from tests.s3server import running_s3

    with (
        tempfile.TemporaryDirectory(prefix="matrix-s3-") as folder,
        running_s3(Path(folder)) as server,
    ):
        os.environ.update(server.env)
        url = server.url(f"bench-{root.name}")
        started = time.perf_counter()
        from replaystore.storage.objectstore import StorageConfig

        fs = StorageConfig.for_root(url).fs
        fs.put(str(root), url, recursive=True)
        facts = {"upload_seconds": round(time.perf_counter() - started, 1)}
        _log(f"copied {root} to {url} in {facts['upload_seconds']} s")
        yield url, facts


def measure_rows(url: str, engine_name: str, runs: int) -> list[dict[str, Any]]:
    store = Store.open(url, read_only=True)
    engine = ENGINES[engine_name](store)
    try:
        samples = cases.pick_samples(engine)
        rows = []
        for case in cases.build_cases(samples):
            row = {"query": case.name, **measure(lambda c=case: c.ours(engine), runs)}
            _log(f"  {case.name:24s} p50 {row['p50_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms")
            rows.append(row)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    return rows


def record(
    size: str, engine: str, storage: str, rows: list[dict[str, Any]], facts: dict[str, Any],
    out: Path = RESULTS_DIR,
) -> Path:  # fmt: skip
    """Replace the (engine, storage) rows of matrix-<size>.json and rewrite its table."""
    path = out / f"matrix-{size}.json"
    results = json.loads(path.read_text()) if path.exists() else {"size": size, "rows": []}
    kept = [r for r in results["rows"] if (r["engine"], r["storage"]) != (engine, storage)]
    results["rows"] = kept + [{**r, "engine": engine, "storage": storage} for r in rows]
    runs = results.setdefault("runs", {})
    runs[f"{engine}/{storage}"] = {"environment": environment(), **facts}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    (out / f"matrix-{size}.md").write_text(markdown(results))
    return path


def markdown(results: dict[str, Any]) -> str:
    columns = sorted({(r["engine"], r["storage"]) for r in results["rows"]},
                     key=lambda c: (c[0] != "duckdb", c[0], STORAGES.index(c[1])))  # fmt: skip
    cells = {(r["query"], r["engine"], r["storage"]): r for r in results["rows"]}
    queries = list(dict.fromkeys(r["query"] for r in results["rows"]))
    lines = [
        f"### Engines and storage, `{results['size']}` dataset",
        "",
        "Latency in ms (p50 / p95) of each listed query through the product's query "
        "functions, in process, on this 2-core machine. `s3`: the same store copied to a "
        "local S3 server (SeaweedFS `weed mini` on 127.0.0.1), read through fsspec/s3fs.",
        "",
        "| query | " + " | ".join(f"{e} {s}" for e, s in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for query in queries:
        row = [cells.get((query, e, s)) for e, s in columns]
        text = [f"{c['p50_ms']:.1f} / {c['p95_ms']:.1f}" if c else "" for c in row]
        lines.append(f"| {query} | " + " | ".join(text) + " |")
    lines.append("")
    for name, run in sorted(results.get("runs", {}).items()):
        env = run.get("environment", {})
        extra = f", upload {run['upload_seconds']} s" if "upload_seconds" in run else ""
        lines.append(f"- {name}: {env.get('when', '')}, DuckDB {env.get('duckdb', '')}{extra}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Listed queries per engine and storage.")
    parser.add_argument("--size", default="small")
    parser.add_argument("--storage", choices=STORAGES, default="local")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="duckdb")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--data", type=Path, default=load.DATA_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    info = ensure_dataset(args.size, args.data)
    root = load.dataset_dir(args.size, args.data)
    compaction(root, info)  # as benchmarks.run measures it: once after the bulk load
    with store_on(args.storage, root) as (url, facts):
        _log(f"queries: {args.engine} on {args.storage} ({url})")
        rows = measure_rows(url, args.engine, args.runs)
    path = record(args.size, args.engine, args.storage, rows, facts, args.out)
    _log(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
