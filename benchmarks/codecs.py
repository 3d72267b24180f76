"""Which Parquet codec for the summary tables: the read cost of each, every reader checked.

    python -m benchmarks.codecs --size small [--codecs LZ4_RAW,SNAPPY,ZSTD] [--runs 15]

Copies the dataset once per codec and rewrites its summary files (`replays`, `replays_recent`,
`tags`) with that codec and otherwise the summary's writer settings (8,192-row groups,
128 KiB pages, no dictionary for `payload`, a bloom filter on `replay_id`), then times the
list-path queries through the product's query functions on DuckDB, interleaving the codecs
run by run so machine load falls on each alike. Results: results/codecs-<size>.json, .md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from benchmarks import cases, load
from benchmarks.run import compaction, ensure_dataset, environment
from benchmarks.stats import summarize
from replaystore.engines import open_engine
from replaystore.storage.properties import SUMMARY_ROW_GROUP_ROWS
from replaystore.storage.store import Store

RESULTS_DIR = Path(__file__).parent / "results"
SUMMARY_DIRS = ("replays", "replays_recent", "tags")
QUERIES = (
    "browse_7d",
    "browse_90d",
    "fetch_by_id",
    "search_user_email",
    "search_click_selector",
    "sort_count_errors",
    "tag_values",
)


def rewrite(root: Path, codec: str) -> int:
    """Rewrite the summary files under root with `codec`; returns their bytes."""
    total = 0
    for name in SUMMARY_DIRS:
        for path in sorted((root / "tables" / name).rglob("*.parquet")):
            table = pq.read_table(path, partitioning=None)
            dictionary = [c for c in table.column_names if c != "payload"]
            pq.write_table(
                table,
                path,
                compression=codec,
                row_group_size=SUMMARY_ROW_GROUP_ROWS,
                data_page_size=128 * 1024,
                use_dictionary=dictionary,
                bloom_filter_options={"replay_id": {"ndv": SUMMARY_ROW_GROUP_ROWS, "fpp": 0.01}},
            )
            total += path.stat().st_size
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the summary's Parquet codec.")
    parser.add_argument("--size", default="small")
    parser.add_argument("--codecs", default="LZ4_RAW,SNAPPY,ZSTD")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--data", type=Path, default=load.DATA_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    info = ensure_dataset(args.size, args.data)
    source = load.dataset_dir(args.size, args.data)
    compaction(source, info)
    codecs = args.codecs.split(",")
    scratch = Path(tempfile.mkdtemp(prefix="codecs-"))
    try:
        engines, sizes = {}, {}
        for codec in codecs:
            root = scratch / codec
            shutil.copytree(source, root)
            sizes[codec] = rewrite(root, codec)
            engines[codec] = open_engine(Store.open(str(root), read_only=True), "duckdb")
        samples = cases.pick_samples(engines[codecs[0]])  # type: ignore[arg-type]
        chosen = [c for c in cases.build_cases(samples) if c.name in QUERIES]
        timings: dict[tuple[str, str], list[float]] = {}
        for case in chosen:
            for codec in codecs:  # warm-up
                case.ours(engines[codec])  # type: ignore[arg-type]
            for _ in range(args.runs):
                for codec in codecs:
                    started = time.perf_counter()
                    case.ours(engines[codec])  # type: ignore[arg-type]
                    timings.setdefault((case.name, codec), []).append(time.perf_counter() - started)
            sys.stderr.write(
                f"  {case.name:24s} "
                + "  ".join(
                    f"{c} {summarize(timings[(case.name, c)])['p50_ms']:7.2f}" for c in codecs
                )
                + "\n"
            )
        for engine in engines.values():
            engine.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = [
        {"query": q, "codec": c, **summarize(timings[(q, c)])}
        for q in (c.name for c in chosen)
        for c in codecs
    ]
    results = {"size": args.size, "environment": environment(), "bytes": sizes, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"codecs-{args.size}.json").write_text(json.dumps(results, indent=2))
    (args.out / f"codecs-{args.size}.md").write_text(markdown(results, codecs))
    return 0


def markdown(results: dict[str, Any], codecs: list[str]) -> str:
    by = {(r["query"], r["codec"]): r for r in results["rows"]}
    queries = list(dict.fromkeys(r["query"] for r in results["rows"]))
    env = results["environment"]
    lines = [
        f"### Summary codec on `{results['size']}` ({env['when']}, {env['cpus']} CPUs, "
        f"DuckDB {env['duckdb']})",
        "",
        "The summary tables rewritten with each codec (same row groups, pages, dictionary and "
        "bloom settings), list-path queries through the product's query functions on DuckDB, "
        "runs interleaved across codecs; ms p50 / p95.",
        "",
        "| query | " + " | ".join(codecs) + " |",
        "|---|" + "---|" * len(codecs),
    ]
    for q in queries:
        cells = [f"{by[(q, c)]['p50_ms']} / {by[(q, c)]['p95_ms']}" for c in codecs]
        lines.append(f"| {q} | " + " | ".join(cells) + " |")
    sizes = " | ".join(f"{results['bytes'][c] / 1e6:.1f} MB" for c in codecs)
    lines.append(f"| summary bytes | {sizes} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
