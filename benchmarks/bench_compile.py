"""Compile time of typical search queries: p50/p95 per query over many runs (no assertion).

Run: `python -m benchmarks.bench_compile [runs]`. The target is well under 2 ms a query.
"""

from __future__ import annotations

import statistics
import sys
import time

from replaystore.search import compile_click_search, compile_replay_search, sort_order

QUERIES = (
    "",
    "count_errors:>2",
    "browser.name:Chrome",
    "user.email:*@example.com",
    "count_errors:>2 AND duration:<1h",
    "!has:user.email release:[1.0, 2.0, 3.0]",
    "url:*checkout* OR (browser:Firefox os:Windows) count_urls:>=5k",
    "click.selector:\"button#submit.btn.primary[role='button']\"",
    "tags[customer]:acme* environment:prod user.ip:1.2.3.4",
    "error_id:c3a6a5a7-4f29-4b6b-8a6a-f46e2b7d1c2a checkout",
    " ".join(f"k{i}:v{i}" for i in range(20)),
)


def _time(fn: object, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(f"{p50:8.3f} {p95:8.3f}  {label}")


def main(runs: int = 500) -> None:
    print(f"{'p50 ms':>8} {'p95 ms':>8}  query ({runs} runs each)")
    for query in QUERIES:
        _report(f"summary  {query[:60]!r}", _time(lambda q=query: compile_replay_search(q), runs))
    for query in QUERIES[1:4]:
        raw = _time(lambda q=query: compile_replay_search(q, source="raw"), runs)
        _report(f"raw      {query[:60]!r}", raw)
    clicks = "click.tag:button !click.class:[a, b] click.selector:div.x"
    _report(f"clicks   {clicks!r}", _time(lambda: compile_click_search(clicks), runs))
    _report("sort     '-countErrors'", _time(lambda: sort_order("-countErrors"), runs))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
