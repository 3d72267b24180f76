"""Timing helpers: repeat a call after warm-up and summarise the latencies."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(seconds: Sequence[float]) -> dict[str, Any]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "runs": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "min_ms": round(min(ms), 2) if ms else float("nan"),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan"),
    }


def measure(call: Callable[[], Any], runs: int, warmup: int = 2) -> dict[str, Any]:
    """Latency of `call` over `runs` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return summarize(timings)


def measure_interleaved(
    calls: dict[str, Callable[[], Any]], runs: int, warmup: int = 2
) -> dict[str, dict[str, Any]]:
    """Latency of each call over `runs` rounds, one call of each per round in rotating order,
    so machine noise (other processes on a shared 2-core box) falls on all of them alike."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    timings: dict[str, list[float]] = {name: [] for name in names}
    for i in range(runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            started = time.perf_counter()
            calls[name]()
            timings[name].append(time.perf_counter() - started)
    return {name: summarize(t) for name, t in timings.items()}
