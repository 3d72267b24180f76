"""The listed queries per engine and storage (issue 13): one row per (query, engine, storage).

    python -m benchmarks.matrix --size small --storage local|s3 [--engine duckdb] [--runs 20]
        [--ingest-replays 300] [--follow 20]

Measures every listed query (benchmarks.cases) through the product's query functions, as
`benchmarks.run` does for "ours", over the `small` (or other) dataset on local disk or copied
to a real S3 server (`weed mini` on 127.0.0.1, started here: tests/s3server.py), read by a
read-only store as a `serve --read-only` would. Each run replaces only its own (engine,
storage) rows of benchmarks/results/matrix-<size>.json, so engines and storages measured
separately (another engine's runner adds `ENGINES` entries) land in one table,
matrix-<size>.md. With `--ingest-replays N` it also POSTs N generated replays' envelopes with
8 clients to a writer `serve` on that storage (benchmarks.http_bench's envelope set) and
records envelopes/s and the time until all are queryable. With `--follow N` it runs a writer
and a `serve --read-only` server on a fresh store on that storage, POSTs N new replays one at
a time and measures, for each, the time from the writer's 200 to the read server answering
the replay's details (issue 13: read servers follow within 5 s).
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
from replaystore.engines import open_engine
from replaystore.storage.store import Store

# engine name -> a factory of the object the query functions run on (Engine's interface).
ENGINES: dict[str, Callable[[Store], Any]] = {
    "duckdb": Engine,
    "clickhouse": lambda store: open_engine(store, "clickhouse"),  # chdb in process
}
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


def ingest_on(storage: str, url: str, replays: int, clients: int = 8) -> dict[str, Any]:
    """http_bench's envelope ingest against a writer on a fresh store next to `url`."""
    import shutil
    import threading
    from dataclasses import asdict
    from datetime import UTC, datetime

    from benchmarks import http_bench
    from replaystore import fixtures
    from replaystore.catalog import Catalog

    target = f"{url}-ingest"
    if storage == "local":
        shutil.rmtree(target, ignore_errors=True)
    Store.open(target)
    catalog = Catalog(target)
    for p in fixtures.PROJECTS:
        catalog.add_project(p.org, p.slug, p.id, p.dsn_key)
    keys = {p.id: p.dsn_key for p in fixtures.PROJECTS}
    envelopes = list(fixtures.generate(datetime.now(UTC), seed=7, replays=replays))
    bodies = [(e.project_id, keys[e.project_id], e.body) for e in envelopes]
    segments = sum(1 for e in envelopes if "-s" in e.name)
    server = http_bench.Server(target)  # type: ignore[arg-type]
    try:
        errors: list[int] = []
        threads = [
            threading.Thread(target=http_bench._post_all, args=(server.port, share, errors))
            for share in (bodies[i::clients] for i in range(clients))
        ]
        started = time.perf_counter()
        answered = http_bench._run_all(threads)
        queryable = http_bench._wait_queryable(target, segments, started)  # type: ignore[arg-type]
    finally:
        server.stop()
    result = http_bench.IngestResult(
        envelopes=len(bodies), replay_segments=segments, clients=clients,
        seconds_to_answer_all=round(answered, 3),
        envelopes_per_s=round(len(bodies) / answered, 1),
        seconds_until_queryable=round(queryable, 3), errors=len(errors),
        mean_envelope_bytes=round(sum(len(b[2]) for b in bodies) / len(bodies), 1),
        server_peak_rss_mb=float("nan"),
    )  # fmt: skip
    return {"http_ingest": {k: v for k, v in asdict(result).items() if k != "server_peak_rss_mb"}}


def follow_on(url: str, count: int) -> dict[str, Any]:
    """Seconds from a writer's 200 to a read-only server answering the new replay."""
    import orjson

    from benchmarks import http_bench
    from benchmarks.stats import summarize
    from replaystore import fixtures
    from replaystore.catalog import Catalog
    from tests.server_process import ServerProcess

    target = f"{url}-follow"
    Store.open(target)
    catalog = Catalog(target)
    for p in fixtures.PROJECTS:
        catalog.add_project(p.org, p.slug, p.id, p.dsn_key)
    keys = {p.id: (p.org, p.dsn_key) for p in fixtures.PROJECTS}
    firsts = [e for e in fixtures.generate(seed=11, replays=4 * count) if e.name.endswith("-s00")]
    with tempfile.TemporaryDirectory(prefix="follow-") as folder:
        writer = ServerProcess(target, ("--journal", f"{folder}/journal"))
        reader = ServerProcess(target, ("--read-only",))
        started = []
        lags = []
        try:
            for process in (writer, reader):
                process.log = Path(folder) / f"server-{process.port}.log"
                process.start()
                started.append(process)
            for envelope in firsts[:count]:
                org, key = keys[envelope.project_id]
                replay_id = orjson.loads(envelope.body.split(b"\n", 1)[0])["event_id"]
                path = f"/api/{envelope.project_id}/envelope/?sentry_key={key}"
                status, _ = http_bench.request(writer.port, "POST", path, envelope.body)
                answered = time.perf_counter()
                assert status == 200, status
                details = f"/api/0/organizations/{org}/replays/{replay_id}/?field=id"
                while http_bench.request(reader.port, "GET", details)[0] != 200:
                    if time.perf_counter() - answered > 60:
                        raise RuntimeError(f"replay {replay_id} never reached the read server")
                    time.sleep(0.01)
                lags.append(time.perf_counter() - answered)
        finally:
            for process in started:
                process.stop()
    lag = summarize(lags)
    _log(f"  follow: p50 {lag['p50_ms']:.0f} ms, p95 {lag['p95_ms']:.0f} ms, max {max(lags):.2f} s")
    return {"follow": {**lag, "max_ms": round(max(lags) * 1000, 1)}}


def measure_rows(url: str, engine_name: str, runs: int) -> list[dict[str, Any]]:
    store = Store.open(url, read_only=True)
    # The samples are picked with DuckDB SQL, so every engine is asked the same thing.
    sampler = Engine(store)
    samples = cases.pick_samples(sampler)
    sampler.close()
    engine = ENGINES[engine_name](store)
    try:
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
    size: str, engine: str, storage: str, rows: list[dict[str, Any]] | None,
    facts: dict[str, Any], out: Path = RESULTS_DIR,
) -> Path:  # fmt: skip
    """Replace the (engine, storage) rows of matrix-<size>.json and rewrite its table
    (rows None: keep the pair's rows and add these facts to its run)."""
    path = out / f"matrix-{size}.json"
    results = json.loads(path.read_text()) if path.exists() else {"size": size, "rows": []}
    runs = results.setdefault("runs", {})
    name = f"{engine}/{storage}"
    if rows is None:
        runs[name] = {**runs.get(name, {}), **facts}
    else:
        kept = [r for r in results["rows"] if (r["engine"], r["storage"]) != (engine, storage)]
        results["rows"] = kept + [{**r, "engine": engine, "storage": storage} for r in rows]
        runs[name] = {"environment": environment(), **facts}
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
        extra += f", chdb {run['chdb']}" if "chdb" in run else ""
        if "follow" in run:
            follow = run["follow"]
            extra += (
                f"; a read server answered a new replay {follow['p50_ms']:.0f} ms (p50), "
                f"{follow['p95_ms']:.0f} ms (p95), {follow['max_ms']:.0f} ms (max) after the "
                f"writer's 200 ({follow['runs']} replays)"
            )
        if "http_ingest" in run:
            ingest = run["http_ingest"]
            extra += (
                f"; HTTP envelope ingest, {ingest['clients']} clients: "
                f"{ingest['envelopes_per_s']} envelopes/s ({ingest['envelopes']} envelopes, "
                f"{ingest['errors']} errors), all queryable after "
                f"{ingest['seconds_until_queryable']} s"
            )
        lines.append(f"- {name}: {env.get('when', '')}, DuckDB {env.get('duckdb', '')}{extra}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Listed queries per engine and storage.")
    parser.add_argument("--size", default="small")
    parser.add_argument("--storage", choices=STORAGES, default="local")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="duckdb")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--ingest-replays", type=int, default=0)
    parser.add_argument("--follow", type=int, default=0)
    parser.add_argument("--data", type=Path, default=load.DATA_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    info = ensure_dataset(args.size, args.data)
    root = load.dataset_dir(args.size, args.data)
    compaction(root, info)  # as benchmarks.run measures it: once after the bulk load
    with store_on(args.storage, root) as (url, facts):
        _log(f"queries: {args.engine} on {args.storage} ({url})")
        # --runs 0: only the ingest/follow measures, the pair's query rows are kept
        rows = measure_rows(url, args.engine, args.runs) if args.runs else None
        if args.ingest_replays:
            _log(f"HTTP envelope ingest on {args.storage}")
            facts |= ingest_on(args.storage, url, args.ingest_replays)
        if args.follow:
            _log(f"a read server following a writer on {args.storage}")
            facts |= follow_on(url, args.follow)
    if args.engine == "clickhouse":
        import chdb

        facts["chdb"] = chdb.__version__
    path = record(args.size, args.engine, args.storage, rows, facts, args.out)
    _log(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
