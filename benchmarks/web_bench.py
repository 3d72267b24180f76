"""The replay list's first render in headless chromium, against `replaystore serve` of a loaded
benchmark dataset (`python -m benchmarks.load --size SIZE` first).

The page records `performance.now()` when its first table is on screen: the time since the
page was opened, with its scripts fetched (cold: the first load; warm: revalidated by ETag),
the organization, projects and first 25 replays asked for and drawn. Issue 15's goal is
≤ 500 ms on `medium`; it is measured here, never asserted in a test.

    python -m benchmarks.web_bench --size small [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import datagen
from benchmarks.load import DATA_DIR, ORG, dataset_dir
from benchmarks.stats import percentile
from tests.server_process import ServerProcess
from tests.web.browser import Browser

RESULTS = Path(__file__).parent / "results"
RENDERED = "window.__replaystoreListRendered"
# The replay list request's own time in the same load (the page cannot be faster than it).
LIST_REQUEST = (
    "performance.getEntriesByType('resource').find(e => e.name.includes('/replays/?'))?.duration"
)
GOAL_MS = 500.0


def list_url(base: str, days: int) -> str:
    start, end = datagen.window(days)
    params = {"org": ORG, "start": _iso(start), "end": _iso(end)}
    return f"{base}/?{urllib.parse.urlencode(params)}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def first_renders(browser: Browser, url: str, runs: int) -> list[tuple[float, float]]:
    """(first render, list request) ms for `runs` loads of the page, each in a fresh tab."""
    timings = []
    for _ in range(runs):
        browser.call("newPage")
        browser.call("goto", url=url)
        browser.wait_for(RENDERED, timeout_ms=60_000)
        assert browser.eval("document.querySelectorAll('#replays tbody tr').length") > 0
        timings.append((float(browser.eval(RENDERED)), float(browser.eval(LIST_REQUEST))))
    return timings


def measure(root: Path, runs: int, days: int) -> dict:
    server = ServerProcess(root)
    browser = None
    try:
        server.start()
        browser = Browser()
        url = list_url(server.base, days)
        timings = first_renders(browser, url, runs + 1)
    finally:
        if browser is not None:
            browser.close()
        server.stop()
    cold, warm = timings[0][0], [t for t, _ in timings[1:]]
    requests = [r for _, r in timings[1:]]
    return {
        "window_days": days,
        "cold_ms": round(cold, 1),
        "runs": len(warm),
        "p50_ms": round(percentile(warm, 50), 1),
        "p95_ms": round(percentile(warm, 95), 1),
        "list_request_p50_ms": round(percentile(requests, 50), 1),
        "list_request_p95_ms": round(percentile(requests, 95), 1),
        "goal_ms": GOAL_MS,
        "met": percentile(warm, 95) <= GOAL_MS and cold <= GOAL_MS,
    }


def report(size: str, result: dict, meta: dict) -> str:
    replays = f"{meta['replays']:,}" if meta.get("replays") else "?"
    return (
        f"### Web page `{size}` ({replays} replays)\n\n"
        f"{meta['when']}, {meta['cpus']} CPUs, load average {meta['load']}, headless Debian "
        "chromium. First render = ms from opening `/` (a 7-day window, 25 rows) to its table on "
        "screen, in a fresh tab each time; the API request for the list is timed in the same "
        "loads.\n\n"
        "| measure | cold (first load) | warm p50 / p95 | goal | met |\n|---|---|---|---|---|\n"
        f"| replay list first render | {result['cold_ms']} ms | {result['p50_ms']} / "
        f"{result['p95_ms']} ms ({result['runs']} loads) | ≤ {GOAL_MS:.0f} ms | "
        f"{'yes' if result['met'] else 'no'} |\n"
        f"| its replay list request alone | | {result['list_request_p50_ms']} / "
        f"{result['list_request_p95_ms']} ms | | |\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The replay list's first render in chromium.")
    parser.add_argument("--size", choices=sorted(datagen.SIZES), default="small")
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    root = dataset_dir(args.size, args.data)
    if not (root / "catalog.json").exists():
        parser.error(f"no dataset at {root}: run python -m benchmarks.load --size {args.size}")
    loaded = json.loads((root / "load.json").read_text()) if (root / "load.json").exists() else {}
    meta = {
        "when": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "cpus": os.cpu_count(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "replays": loaded.get("replays"),
    }
    result = measure(root, args.runs, args.days)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"web-{args.size}"
    out.with_suffix(".json").write_text(json.dumps({**meta, **result}, indent=2) + "\n")
    text = report(args.size, result, meta)
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
