"""Engine benchmark: the listed queries through the product's query functions, once per
engine and storage, over the same store.

    python -m benchmarks.engines --size small [--engines duckdb,clickhouse]
        [--store URL --storage s3] [--runs 20] [--out benchmarks/results]

Each row is one (engine, storage) pair: `duckdb`/`clickhouse` (chdb in process) on `local`
(the dataset folder) or on another store URL labelled with `--storage` (e.g. the same dataset
copied to `s3://bucket/prefix`). Rows of earlier runs are kept: results/engines-<size>.json
accumulates pairs, and engines-<size>.md is rewritten from all of them. Every query's answer
is compared with the first engine's (`same` column): a benchmark of wrong answers is no
benchmark. Runs are interleaved across engines (one run of each, repeated), so machine load
falls on every engine alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import cases, load
from benchmarks.run import compaction, ensure_dataset, environment
from benchmarks.stats import summarize
from replaystore.engines import ENGINES, open_engine
from replaystore.query.common import Paged
from replaystore.storage.store import Store

RESULTS_DIR = Path(__file__).parent / "results"


def _answer(result: Any) -> Any:
    """What a query function returned, comparable across engines."""
    items = result.items if isinstance(result, Paged) else result
    return json.loads(json.dumps(items, default=str, sort_keys=True))


def engine_rows(root: str, engines: list[str], storage: str, runs: int) -> list[dict[str, Any]]:
    store = Store.open(root, read_only=True)
    # Samples come from DuckDB SQL (benchmarks.cases); every engine then asks the same thing.
    sampler = open_engine(store, "duckdb")
    samples = cases.pick_samples(sampler)  # type: ignore[arg-type]
    sampler.close()
    query_cases = cases.build_cases(samples)
    opened = {name: open_engine(store, name) for name in engines}
    timings: dict[tuple[str, str], list[float]] = {}
    same: dict[tuple[str, str], bool] = {}
    for case in query_cases:
        reference = None
        for name, engine in opened.items():  # answers compared, and a warm-up each
            answer = _answer(case.ours(engine))  # type: ignore[arg-type]
            reference = answer if reference is None else reference
            same[(name, case.name)] = answer == reference
        # Runs interleaved across engines, so the machine's load falls on each alike.
        for _ in range(runs):
            for name, engine in opened.items():
                started = time.perf_counter()
                case.ours(engine)  # type: ignore[arg-type]
                timings.setdefault((name, case.name), []).append(time.perf_counter() - started)
        sys.stderr.write(
            f"  {storage:6s} {case.name:24s} "
            + "  ".join(
                f"{n} p50 {summarize(timings[(n, case.name)])['p50_ms']:8.2f} ms" for n in opened
            )
            + "\n"
        )
    for engine in opened.values():
        engine.close()
    rows = [
        {
            "engine": name,
            "storage": storage,
            "query": case.name,
            **summarize(timings[(name, case.name)]),
            "same": same[(name, case.name)],
        }
        for name in opened
        for case in query_cases
    ]
    return rows


def merge(previous: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of earlier runs for other (engine, storage) pairs, then this run's."""
    pairs = {(r["engine"], r["storage"]) for r in new}
    return [r for r in previous if (r["engine"], r["storage"]) not in pairs] + new


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    pairs = list(dict.fromkeys((r["engine"], r["storage"]) for r in rows))
    queries = list(dict.fromkeys(r["query"] for r in rows))
    by_key = {(r["engine"], r["storage"], r["query"]): r for r in rows}
    head = " | ".join(f"{e} {s} p50 / p95" for e, s in pairs)
    lines = [
        f"### Engines on `{results['size']}` ({results['when']}, {results['cpus']} CPUs)",
        "",
        "The listed queries through the product's query functions (list, search, fetch, clicks, "
        "segments, tags), in ms after one warm-up. `same`: the answer equals the first "
        "engine's. chdb runs ClickHouse in process over the snapshot's Parquet files.",
        "",
        f"| query | {head} | same |",
        "|---|" + "---|" * len(pairs) + "---|",
    ]
    for query in queries:
        cells = []
        same = True
        for engine, storage in pairs:
            row = by_key.get((engine, storage, query))
            cells.append(f"{row['p50_ms']} / {row['p95_ms']}" if row else "")
            same &= bool(row["same"]) if row else True
        lines.append(f"| {query} | " + " | ".join(cells) + f" | {'yes' if same else '**no**'} |")
    return "\n".join(lines) + "\n"


def _chdb_version() -> str | None:
    try:
        import chdb
    except ImportError:
        return None
    return chdb.__version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the query engines.")
    parser.add_argument("--size", default="small")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--store", help="a store URL holding the dataset (default: local copy)")
    parser.add_argument("--storage", default="local", help="label of the store's storage")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--data", type=Path, default=load.DATA_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    info = ensure_dataset(args.size, args.data)
    local = load.dataset_dir(args.size, args.data)
    compaction(local, info)
    root = args.store or str(local)
    rows = engine_rows(root, args.engines.split(","), args.storage, args.runs)
    out = args.out / f"engines-{args.size}.json"
    previous = json.loads(out.read_text())["rows"] if out.exists() else []
    env = environment()
    env["chdb"] = _chdb_version()
    results = {
        "size": args.size,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": env["cpus"],
        "environment": env,
        "rows": merge(previous, rows),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    (args.out / f"engines-{args.size}.md").write_text(markdown(results))
    sys.stderr.write(f"wrote {out} and engines-{args.size}.md\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
