"""The benchmark runner.

    python -m benchmarks.run --size small|medium [--runs 30] [--baseline-runs 10]
        [--no-http] [--no-chdb] [--out benchmarks/results]

Loads the dataset first if benchmarks/data/<size> does not exist (see benchmarks.load), then
measures every listed query in-process through the product's query functions (p50/p95 after
warm-up), the same queries in Sentry's shape on DuckDB and on ClickHouse (chdb) over the same
Parquet files, compaction, HTTP envelope ingest and HTTP query throughput at 4 and 8 clients.
Results: benchmarks/results/<size>.json, <size>.md and <size>.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import urllib.parse
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from benchmarks import baselines, cases, datagen, http_bench, load, report
from benchmarks import mergetree as mt
from benchmarks.stats import measure, measure_interleaved
from replaystore.engine import Engine
from replaystore.storage.store import Store

RESULTS_DIR = Path(__file__).parent / "results"


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def ensure_dataset(size: str, data_dir: Path) -> dict[str, Any]:
    root = load.dataset_dir(size, data_dir)
    info = root / "load.json"
    if not info.exists():
        _log(f"loading dataset {size} into {root}")
        load.main(["--size", size, "--out", str(data_dir)])
    return json.loads(info.read_text())


def compaction(root: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Compact once after the bulk load (raw files merged, vacuum); remembered in load.json."""
    if "compaction" not in info:
        _log("compacting")
        store = Store.open(str(root))
        started = time.perf_counter()
        result = store.compact()
        info["compaction"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "files_compacted": result.files_compacted,
            "files_vacuumed": result.files_vacuumed,
        }
        info["bytes_on_disk_compacted"] = load.disk_bytes(root)
        (root / "load.json").write_text(json.dumps(info, indent=2))
    return info["compaction"]


def query_benchmarks(
    root: Path,
    runs: int,
    baseline_runs: int,
    use_chdb: bool,
    *,
    sentry: bool = True,
    only: str = "",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    store = Store.open(str(root))
    engine = Engine(store, result_cache=True)
    # The same engine without the result cache: every query runs in DuckDB (the miss path).
    uncached = Engine(store, result_cache=False)
    samples = cases.pick_samples(engine)
    snapshot = store.snapshot()
    files = {t: list(snapshot.files[t]) for t in ("segments", "clicks", "links")}
    engines: dict[str, tuple[baselines.Runner, baselines.Sources]] = {
        "duckdb_sentry": (baselines.duckdb_runner(), baselines.Sources(baselines.DUCKDB, files))
    }
    if not sentry:
        engines.clear()
    elif use_chdb:
        engines["chdb_sentry"] = (
            baselines.chdb_runner(),
            baselines.Sources(baselines.CLICKHOUSE, files),
        )
    mt_run: baselines.Runner | None = None
    mt_load: dict[str, Any] = {}
    if use_chdb:
        _log("loading the ClickHouse MergeTree of the summary rows (untimed)")
        mt_run = baselines.chdb_runner()
        mt_load = mt.load(mt_run, snapshot.files["replays"])
        _log(f"  {mt_load}")
    rows = []
    for case in cases.build_cases(samples):
        if only and not any(part in case.name for part in only.split(",")):
            continue
        row: dict[str, Any] = {"query": case.name}
        if mt_run is not None and case.mergetree is not None:
            mt_call = mt.call(mt_run, case.mergetree, cases.ALL_PROJECTS, datagen.ANCHOR)
            timed = measure_interleaved(
                {
                    "ours": lambda c=case: c.ours(engine),
                    "ours_uncached": lambda c=case: c.ours(uncached),
                    "chdb_mergetree": mt_call,
                },
                runs,
            )
            row.update(timed)
            row["chdb_mergetree"]["rows"] = mt_call()
        else:
            row["ours"] = measure(lambda c=case: c.ours(engine), runs)
            row["ours_uncached"] = measure(lambda c=case: c.ours(uncached), runs)
        for name, (runner, sources) in engines.items():
            if case.baseline is None:
                continue

            def call(r=runner, s=sources, b=case.baseline) -> int:
                return baselines.run_case(r, s, b, cases.ALL_PROJECTS, datagen.ANCHOR)

            try:
                row[name] = measure(call, baseline_runs, warmup=1)
                row[name]["rows"] = call()
            except Exception as error:  # a baseline failing is a result, not a crash
                row[name] = {"error": str(error).splitlines()[0][:300]}
        _log(
            f"  {case.name:24s} ours p50 {row['ours']['p50_ms']:8.2f} ms  "
            + "  ".join(
                f"{n} p50 {row[n].get('p50_ms', 'err')}"
                for n in (*engines, "chdb_mergetree")
                if n in row
            )
        )
        rows.append(row)
    engine.close()
    uncached.close()
    return rows, {**asdict(samples), "mergetree_load": mt_load}


def _api_path(params: dict[str, str]) -> str:
    start, end = datagen.window(7)
    base = {"start": start.isoformat(), "end": end.isoformat()}
    return f"/api/0/organizations/{load.ORG}/replays/?" + urllib.parse.urlencode({**base, **params})


def http_paths(samples: dict[str, Any]) -> tuple[list[str], list[str]]:
    browse = [_api_path({})]
    start, end = datagen.window(90)
    wide = {"start": start.isoformat(), "end": end.isoformat()}
    mixed = [
        _api_path({}),
        _api_path({**wide, "sort": "-count_errors"}),
        _api_path({**wide, "query": f"user.email:{samples['user_email']}"}),
        _api_path({**wide, "query": "count_errors:>1"}),
        _api_path({**wide, "query": 'click.selector:"button#submit"'}),
        f"/api/0/organizations/{load.ORG}/replays/{samples['replay_id']}/",
        f"/api/0/projects/{load.ORG}/p{samples['project_id']}/replays/{samples['replay_id']}/clicks/",
        f"/api/0/organizations/{load.ORG}/tags/plan/values/?"
        + urllib.parse.urlencode({**wide, "includeReplays": "1"}),
    ]
    return browse, mixed


def environment() -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "cpus": http_bench.cpu_count(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the replaystore benchmarks.")
    parser.add_argument("--size", choices=sorted(datagen.SIZES), default="small")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=10)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--ingest-replays", type=int, default=600)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-chdb", action="store_true")
    parser.add_argument("--no-sentry", action="store_true", help="skip the Sentry-shaped runs")
    parser.add_argument("--no-ingest", action="store_true", help="skip HTTP envelope ingest")
    parser.add_argument("--cases", default="", help="only the queries whose name has this")
    parser.add_argument("--data", type=Path, default=load.DATA_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    info = ensure_dataset(args.size, args.data)
    root = load.dataset_dir(args.size, args.data)
    results: dict[str, Any] = {"size": args.size, "environment": environment(), "load": info}
    results["compaction"] = compaction(root, info)
    _log("queries (in-process, ours vs Sentry-shaped baselines)")
    rows, samples = query_benchmarks(
        root,
        args.runs,
        args.baseline_runs,
        not args.no_chdb,
        sentry=not args.no_sentry,
        only=args.cases,
    )
    results["queries"] = rows
    results["samples"] = samples
    results["runner_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    if not args.no_http and not args.no_ingest:
        _log("HTTP envelope ingest")
        ingest_root = args.data / f"ingest-{args.size}"
        results["http_ingest"] = asdict(
            http_bench.ingest_benchmark(ingest_root, args.ingest_replays, clients=8)
        )
    if not args.no_http:
        _log("HTTP query throughput")
        browse, mixed = http_paths(samples)
        results["http_queries"] = http_bench.query_benchmark(root, browse, mixed, args.http_seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.size}.json").write_text(json.dumps(results, indent=2, default=str))
    report.write(results, args.out)
    _log(f"wrote {args.out}/{args.size}.json, .md, .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
