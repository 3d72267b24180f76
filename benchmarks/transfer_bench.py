"""`replaystore import` and `export` timed: a generated store served by `replaystore serve`
as the source, imported (first run, then an incremental run with nothing new), exported as
JSONL and Parquet, and the JSONL ingested again. Measured here, never asserted in a test.

    python -m benchmarks.transfer_bench [--replays 240] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import replaystore
from replaystore.transfer import export_jsonl, export_parquet, import_from
from tests.server_process import ServerProcess
from tests.transfer.helpers import ORG, build_source

RESULTS = Path(__file__).parent / "results"


def _timed(step):
    started = time.perf_counter()
    value = step()
    return value, round(time.perf_counter() - started, 2)


def measure(replays: int, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="transfer-bench-") as tmp:
        root = Path(tmp)
        token = build_source(root / "source", replays)
        server = ServerProcess(root / "source", auth=True)
        server.start()
        try:
            first, first_s = _timed(
                lambda: import_from(
                    str(root / "copy"), server.base, ORG, token, concurrency=concurrency
                )
            )
            again, again_s = _timed(
                lambda: import_from(
                    str(root / "copy"), server.base, ORG, token, concurrency=concurrency
                )
            )
        finally:
            server.stop()
        count, jsonl_s = _timed(lambda: export_jsonl(str(root / "copy"), root / "x.jsonl"))
        tables, parquet_s = _timed(lambda: export_parquet(str(root / "copy"), root / "pq"))
        _, ingest_s = _timed(
            lambda: replaystore.open(str(root / "again")).ingest_files([root / "x.jsonl"])
        )
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {os.cpu_count()} cpus",
            "generated_replays": replays,
            "concurrency": concurrency,
            "import": {
                "replays": first.copied,
                "segments": first.segments,
                "requests": first.requests,
                "seconds": first_s,
            },
            "import_again": {
                "unchanged": again.unchanged,
                "requests": again.requests,
                "seconds": again_s,
            },
            "export_jsonl": {
                "replays": count,
                "bytes": (root / "x.jsonl").stat().st_size,
                "seconds": jsonl_s,
            },
            "export_parquet": {"rows": tables, "seconds": parquet_s},
            "ingest_jsonl": {"seconds": ingest_s},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replays", type=int, default=240)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    result = measure(args.replays, args.concurrency)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "transfer.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
