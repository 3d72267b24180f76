"""A flood of costly envelopes against `replaystore serve`, with normal browses alongside.

`clients` threads POST bombs for `seconds` (decompression bombs in the body and the recording,
millions of tiny objects, huge arrays, deep JSON, a keyless gzip bomb); one more client browses
the replay list the whole time. Measured: the server's resident memory (sampled from /proc
every 0.2 s, and its VmHWM peak), the browse latencies during the flood against a baseline
measured just before it on the same server, and the answers the bombs got.

    .venv/bin/python -m benchmarks.flood [--seconds 60] [--clients 8] [--replays 300]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import shutil
import tempfile
import threading
import time
import zlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.http_bench import HOST, Server, request
from benchmarks.stats import summarize
from replaystore import fixtures
from replaystore.catalog import Catalog
from replaystore.ingest import EnvelopeInput, build_batch
from replaystore.storage.store import Store

RESULTS = Path(__file__).parent / "results"
BROWSE = "/api/0/organizations/{org}/replays/?statsPeriod=30d&per_page=25"
GOAL_RSS_MB = 600


def _frame(header: dict, items: list[tuple[dict, bytes]]) -> bytes:
    lines = [json.dumps(header).encode()]
    for item_header, payload in items:
        lines += [json.dumps(item_header).encode(), payload]
    return b"\n".join(lines)


def _with_recording(body: bytes) -> bytes:
    event_id = "f" * 32
    now = time.time()
    event = {"replay_id": event_id, "segment_id": 0, "timestamp": now, "type": "replay_event"}
    payload = b'{"segment_id":0}\n' + body
    return _frame(
        {"event_id": event_id},
        [
            ({"type": "replay_event"}, json.dumps(event).encode()),
            ({"type": "replay_recording", "length": len(payload)}, payload),
        ],
    )


def bombs() -> list[tuple[str, bytes, dict[str, str], bool]]:
    """(name, body, headers, with key) of every costly shape."""
    zeros = zlib.compress(b"\0" * (200 * 1024 * 1024), 9)
    objects = zlib.compress(b"[" + b"{}," * 5_000_000 + b"{}]", 9)
    huge = b"[" + b"0," * 5_000_000 + b"0]"
    gzipped = {"Content-Encoding": "gzip"}
    return [
        ("body gzip bomb", gzip.compress(b"\0" * (200 * 1024 * 1024), 9), gzipped, True),
        ("body deflate bomb", zeros, {"Content-Encoding": "deflate"}, True),
        ("recording zlib bomb", _with_recording(zeros), {}, True),
        ("millions of objects", _with_recording(objects), {}, True),
        ("huge header line", gzip.compress(huge + b"\n{}"), gzipped, True),
        ("huge recording", _with_recording(zlib.compress(huge)), {}, True),
        ("deep recording", _with_recording(zlib.compress(b"[" * 100_000 + b"]" * 100_000)), {},
         True),
        ("keyless gzip bomb", gzip.compress(huge + b"\n"), gzipped, False),
    ]  # fmt: skip


def build_store(root: Path, replays: int) -> str:
    """A store of `replays` fixture replays, its projects, and a token of the first org."""
    shutil.rmtree(root, ignore_errors=True)
    store = Store.open(str(root))
    envelopes = [
        EnvelopeInput(e.body, project_id=e.project_id, name=e.name)
        for e in fixtures.generate(datetime.now(UTC), seed=18, replays=replays)
    ]
    store.write(build_batch(envelopes))
    catalog = Catalog(root)
    for p in fixtures.PROJECTS:
        catalog.add_project(p.org, p.slug, p.id, p.dsn_key)
    return catalog.add_token(fixtures.PROJECTS[0].org)


def _browse(port: int, token: str, stop: threading.Event, out: list[float], errors: list) -> None:
    path = BROWSE.format(org=fixtures.PROJECTS[0].org)
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, _ = request(port, "GET", path, None, headers)
        except OSError as error:
            errors.append(repr(error))
            continue
        out.append(time.perf_counter() - started)
        if status != 200:
            errors.append(status)


def _flood(port: int, cases: list, stop: threading.Event, offset: int, answers: Counter) -> None:
    project = fixtures.PROJECTS[0]
    i = offset
    while not stop.is_set():
        name, body, headers, keyed = cases[i % len(cases)]
        query = f"?sentry_key={project.dsn_key}" if keyed else ""
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        try:
            status, _ = request(
                port, "POST", f"/api/{project.id}/envelope/{query}", body, headers, conn
            )
            answers[f"{name}: {status}"] += 1
        except OSError as error:
            answers[f"{name}: {type(error).__name__}"] += 1
        finally:
            conn.close()
        i += 1


def _rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sample(pid: int, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        out.append(_rss_mb(pid, "VmRSS"))
        stop.wait(0.2)


def _timed(port: int, token: str, seconds: float) -> tuple[list[float], list]:
    stop, latencies, errors = threading.Event(), [], []
    thread = threading.Thread(target=_browse, args=(port, token, stop, latencies, errors))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    return latencies, errors


def run(seconds: float, clients: int, replays: int, root: Path) -> dict[str, Any]:
    token = build_store(root, replays)
    cases = bombs()
    load_before = os.getloadavg()
    server = Server(root)
    try:
        rss_idle = _rss_mb(server.process.pid, "VmRSS")
        baseline, baseline_errors = _timed(server.port, token, min(15.0, seconds / 4))
        stop, latencies, errors, samples = threading.Event(), [], [], []
        answers: Counter = Counter()
        threads = [
            threading.Thread(target=_flood, args=(server.port, cases, stop, i, answers))
            for i in range(clients)
        ]
        threads.append(
            threading.Thread(target=_browse, args=(server.port, token, stop, latencies, errors))
        )
        threads.append(threading.Thread(target=_sample, args=(server.process.pid, stop, samples)))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        after, after_errors = _timed(server.port, token, min(15.0, seconds / 4))
        peak = _rss_mb(server.process.pid, "VmHWM")
    finally:
        server.stop()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "flood_seconds": round(elapsed, 1),
        "flood_clients": clients,
        "bomb_requests": sum(answers.values()),
        "bomb_answers": dict(sorted(answers.items())),
        "server_rss_idle_mb": round(rss_idle, 1),
        "server_rss_max_sampled_mb": round(max(samples, default=float("nan")), 1),
        "server_peak_rss_mb": round(peak, 1),
        "goal_peak_rss_mb": GOAL_RSS_MB,
        "browse_before": summarize(baseline) | {"errors": len(baseline_errors)},
        "browse_during_flood": summarize(latencies) | {"errors": len(errors)},
        "browse_after": summarize(after) | {"errors": len(after_errors)},
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        ("server peak RSS (VmHWM)", f"{result['server_peak_rss_mb']} MB",
         f"< {GOAL_RSS_MB} MB"),
        ("server RSS idle / max sampled", f"{result['server_rss_idle_mb']} / "
         f"{result['server_rss_max_sampled_mb']} MB", ""),
    ]  # fmt: skip
    for phase in ("browse_before", "browse_during_flood", "browse_after"):
        s = result[phase]
        rows.append(
            (phase.replace("_", " "), f"p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
             f"{s['runs']} requests, {s['errors']} errors", "answered")
        )  # fmt: skip
    lines = [
        "# Flood of costly envelopes",
        "",
        f"{result['when']}, {result['cpus']} CPUs, load average before "
        f"{result['load_average_before']} and after {result['load_average_after']} (the "
        "machine is shared: latencies are noisy, compare the phases of this run only). "
        f"{result['flood_clients']} clients posted {result['bomb_requests']} costly envelopes "
        f"in {result['flood_seconds']} s while one more client browsed.",
        "",
        "| measure | value | goal |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        "Answers to the costly envelopes:",
        "",
        "| shape: status | count |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in result["bomb_answers"].items()),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--replays", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flood-") as folder:
        result = run(args.seconds, args.clients, args.replays, Path(folder) / "data")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flood.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "flood.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
