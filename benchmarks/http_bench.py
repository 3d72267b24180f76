"""HTTP measurements against a real `replaystore serve` (waitress) on 127.0.0.1.

* envelope ingest: several concurrent clients POST fixture envelopes (the durable
  IngestService answers once each is journaled and fsynced), then the time until every
  segment is queryable;
* query throughput: N clients loop over GET requests for a fixed time; queries/s, p50, p95;
* the server's peak RSS (VmHWM) after the run.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.stats import summarize
from replaystore import fixtures
from replaystore.catalog import Catalog
from replaystore.storage.store import Store

HOST = "127.0.0.1"
CLIENTS = (1, 4, 8, 16)  # concurrent HTTP clients of the query throughput runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _run_all(threads: list[threading.Thread]) -> float:
    """Start every thread, wait for all, and return the seconds that took."""
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


class Server:
    """`replaystore serve --data root` in a child process."""

    def __init__(self, root: Path, threads: int = 8) -> None:
        self.port = free_port()
        exe = Path(sys.executable).parent / "replaystore"
        command = [str(exe), "serve", "--data", str(root), "--host", HOST, "--port", str(self.port)]
        command += ["--threads", str(threads)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
            try:
                status, _ = request(self.port, "GET", "/api/0/openapi.json")
                if status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("server did not start")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


@dataclass(frozen=True)
class IngestResult:
    envelopes: int
    replay_segments: int
    clients: int
    seconds_to_answer_all: float
    envelopes_per_s: float
    seconds_until_queryable: float
    errors: int
    mean_envelope_bytes: float
    server_peak_rss_mb: float


def _post_all(port: int, bodies: list[tuple[int, str, bytes]], errors: list[int]) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        for project_id, key, body in bodies:
            status, _ = request(
                port,
                "POST",
                f"/api/{project_id}/envelope/?sentry_key={key}",
                body,
                {"Content-Type": "application/x-sentry-envelope"},
                conn,
            )
            if status != 200:
                errors.append(status)
    finally:
        conn.close()


def ingest_benchmark(root: Path, replays: int, clients: int) -> IngestResult:
    """POST the fixture envelopes of `replays` replays into a fresh store at root."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    Store.open(str(root))
    catalog = Catalog(root)
    for p in fixtures.PROJECTS:
        catalog.add_project(p.org, p.slug, p.id, p.dsn_key)
    keys = {p.id: p.dsn_key for p in fixtures.PROJECTS}
    envelopes = list(fixtures.generate(datetime.now(UTC), seed=7, replays=replays))
    bodies = [(e.project_id, keys[e.project_id], e.body) for e in envelopes]
    segments = sum(1 for e in envelopes if "-s" in e.name)
    server = Server(root)
    try:
        errors: list[int] = []
        shares = [bodies[i::clients] for i in range(clients)]
        threads = [
            threading.Thread(target=_post_all, args=(server.port, s, errors)) for s in shares
        ]
        started = time.perf_counter()
        answered = _run_all(threads)
        queryable = _wait_queryable(root, segments, started)
        rss = server.peak_rss_mb()
    finally:
        server.stop()
    return IngestResult(
        envelopes=len(bodies),
        replay_segments=segments,
        clients=clients,
        seconds_to_answer_all=round(answered, 3),
        envelopes_per_s=round(len(bodies) / answered, 1),
        seconds_until_queryable=round(queryable, 3),
        errors=len(errors),
        mean_envelope_bytes=round(sum(len(b[2]) for b in bodies) / len(bodies), 1),
        server_peak_rss_mb=round(rss, 1),
    )


def _wait_queryable(root: Path, segments: int, started: float, timeout: float = 600.0) -> float:
    store = Store.open(str(root))
    while time.perf_counter() - started < timeout:
        con = store.connect()
        try:
            (count,) = con.execute("SELECT count(*) FROM segments").fetchone() or (0,)
        finally:
            con.close()
        if count >= segments:
            return time.perf_counter() - started
        time.sleep(0.05)
    return float("nan")


@dataclass(frozen=True)
class LoadResult:
    clients: int
    seconds: float
    requests: int
    queries_per_s: float
    p50_ms: float
    p95_ms: float
    errors: int


def _loop(
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    stop_at: float,
    out: list[float],
    errors: list[int],
    offset: int,
) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    i = offset
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            status, _ = request(port, "GET", paths[i % len(paths)], None, headers, conn)
            out.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
            i += 1
    finally:
        conn.close()


def query_load(
    server: Server, paths: Sequence[str], token: str, clients: int, seconds: float
) -> LoadResult:
    headers = {"Authorization": f"Bearer {token}"}
    for path in paths:  # warm-up
        request(server.port, "GET", path, None, headers)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[int] = []
    stop_at = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=_loop, args=(server.port, paths, headers, stop_at, latencies[i], errors, i)
        )
        for i in range(clients)
    ]
    elapsed = _run_all(threads)
    flat = [x for lat in latencies for x in lat]
    stats = summarize(flat)
    return LoadResult(
        clients=clients,
        seconds=round(elapsed, 2),
        requests=len(flat),
        queries_per_s=round(len(flat) / elapsed, 1),
        p50_ms=stats["p50_ms"],
        p95_ms=stats["p95_ms"],
        errors=len(errors),
    )


def query_benchmark(
    root: Path, browse: Sequence[str], mixed: Sequence[str], seconds: float
) -> dict[str, Any]:
    token = (root / "bench-token.txt").read_text().strip()
    server = Server(root)
    try:
        results: dict[str, Any] = {}
        for n in CLIENTS:
            results[f"browse_{n}_clients"] = asdict(query_load(server, browse, token, n, seconds))
        for n in CLIENTS:
            results[f"mixed_{n}_clients"] = asdict(query_load(server, mixed, token, n, seconds))
        results["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
    finally:
        server.stop()
    return results


def cpu_count() -> int:
    return os.cpu_count() or 1
