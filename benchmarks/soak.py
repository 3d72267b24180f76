"""Soak: a steady envelope stream against `replaystore serve`, with readers, for a long time.

A server runs in a child process on a fresh store. Sender threads POST a Sentry-SDK-shaped
stream at `--rate` envelopes/s: replays start and continue (segments of a replay follow each
other, with their recordings, clicks and error events) drawn from the fixture generator.
Readers browse and search at `--readers` requests/s. Every minute the run records browse and
search p50/p95, the store's commit time (from `/metrics` when the server exports it), the
visibility lag (a segment 0's POST answered 200 -> its replay found by the list route), live
data files per table, the server's RSS and the store's bytes on disk against the bytes
received. At the end the server gets SIGTERM, and every acknowledged segment must be stored
exactly once.

    python -m benchmarks.soak --rate 200 --minutes 30

writes `benchmarks/results/soak.json` and `soak.png`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.http_bench import HOST, free_port, request
from benchmarks.stats import percentile
from replaystore import fixtures
from replaystore.catalog import Catalog

RESULTS = Path(__file__).parent / "results"
ORG = fixtures.PROJECTS[0].org
SENDERS = 8
ACTIVE_REPLAYS = 400  # replays in progress at once: new ones start as others end
# Visibility probes poll the list route until a new replay shows up. They are load the issue's
# readers (2 requests/s) do not include, so they are few: one at a time, every PROBE_EVERY
# seconds, polling every PROBE_POLL seconds (~4 requests/s at a 2 s lag).
PROBE_EVERY = 5.0
PROBE_POLL = 0.1
TABLES = ("segments", "clicks", "links", "archives", "replays", "replays_recent", "tags")


@dataclass
class Minute:
    """Raw observations of one minute."""

    browse_ms: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    lag_s: list[float] = field(default_factory=list)
    sent: int = 0
    errors: int = 0
    read_errors: int = 0
    samples: dict[str, Any] = field(default_factory=dict)


class Stream:
    """Envelopes of many replays in progress at once, interleaved as a live SDK sends them."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._active: list[tuple[str, Any]] = [self._new() for _ in range(ACTIVE_REPLAYS)]

    def _new(self) -> tuple[str, Any]:
        weights = [p.weight for p in fixtures.PROJECTS]
        project = self._rng.choices(fixtures.PROJECTS, weights)[0]
        # Started a little in the past: every timestamp the replay carries is before "now".
        start = datetime.now(UTC) - timedelta(minutes=10)
        writer = fixtures._ReplayWriter(self._rng, project, start)
        return writer.replay_id, writer.envelopes()

    def next(self) -> tuple[fixtures.FixtureEnvelope, str]:
        with self._lock:
            while True:
                i = self._rng.randrange(len(self._active))
                replay_id, envelopes = self._active[i]
                envelope = next(envelopes, None)
                if envelope is not None:
                    return envelope, replay_id
                self._active[i] = self._new()


def segment_of(envelope: fixtures.FixtureEnvelope) -> int | None:
    found = re.search(r"-s(\d+)$", envelope.name)
    return int(found.group(1)) if found else None


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(args.data or tempfile.mkdtemp(prefix="replaystore-soak-"))
        self.minutes: dict[int, Minute] = defaultdict(Minute)
        self.acked: set[tuple[str, int]] = set()
        self.bytes_received = 0
        self.started = 0.0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.stream = Stream(args.seed)
        self.keys = {p.id: p.dsn_key for p in fixtures.PROJECTS}
        self.slugs = {p.id: p.slug for p in fixtures.PROJECTS}
        self.probes = threading.Semaphore(1)
        self.last_probe = 0.0

    # -- set-up ----------------------------------------------------------------------------

    def start_server(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        catalog = Catalog(self.root)
        for p in fixtures.PROJECTS:
            catalog.add_project(p.org, p.slug, p.id, p.dsn_key)
        self.port = free_port()
        exe = Path(sys.executable).parent / "replaystore"
        command = [str(exe), "serve", "--data", str(self.root), "--host", HOST]
        command += ["--port", str(self.port), "--no-auth", "--threads", "8"]
        self.log_path = self.root.parent / f"{self.root.name}-server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in finish()
        self.server = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if request(self.port, "GET", "/api/0/openapi.json")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("server did not start")

    def minute(self) -> Minute:
        return self.minutes[int((time.monotonic() - self.started) // 60)]

    # -- load ------------------------------------------------------------------------------

    def sender(self, index: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        interval = SENDERS / self.args.rate
        due = time.monotonic() + index * interval / SENDERS
        while not self.stop.is_set():
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            due += interval
            envelope, replay_id = self.stream.next()
            path = (
                f"/api/{envelope.project_id}/envelope/?sentry_key={self.keys[envelope.project_id]}"
            )
            sent = time.monotonic()
            try:
                status, _ = request(self.port, "POST", path, envelope.body, _ENVELOPE, conn)
            except OSError:
                status = 0
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            answered = time.monotonic()
            minute = self.minute()
            with self.lock:
                minute.sent += 1
                minute.post_ms.append((answered - sent) * 1000)
                if status != 200:
                    minute.errors += 1
                    continue
                self.bytes_received += len(envelope.body)
                segment = segment_of(envelope)
                if segment is not None:
                    self.acked.add((replay_id, segment))
            if (
                segment == 0
                and answered - self.last_probe >= PROBE_EVERY
                and self.probes.acquire(False)
            ):
                self.last_probe = answered
                threading.Thread(
                    target=self.probe, args=(envelope.project_id, replay_id, answered), daemon=True
                ).start()
        conn.close()

    def probe(self, project_id: int, replay_id: str, answered: float) -> None:
        """Poll the list route for one replay until it is there: the visibility lag."""
        path = _list_path({"query": f"id:{replay_id}", "project": str(project_id)})
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            while time.monotonic() - answered < 60 and not self.stop.is_set():
                status, body = request(self.port, "GET", path, None, None, conn)
                if status == 200 and replay_id in body.decode():
                    minute = self.minutes[int((answered - self.started) // 60)]
                    with self.lock:
                        minute.lag_s.append(time.monotonic() - answered)
                    return
                time.sleep(PROBE_POLL)
        except OSError:
            pass
        finally:
            conn.close()
            self.probes.release()

    def reader(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        browse = _list_path({"statsPeriod": "1d"})
        searches = [
            _list_path({"statsPeriod": "1d", "query": "count_errors:>0"}),
            _list_path({"statsPeriod": "1d", "query": "url:*checkout* browser.name:Chrome"}),
            _list_path({"statsPeriod": "1d", "query": "user.email:ada@example.com"}),
            _list_path({"statsPeriod": "1d", "sort": "-duration", "query": "count_segments:>2"}),
        ]
        interval = 1 / self.args.readers
        due = time.monotonic()
        turn = 0
        while not self.stop.is_set():
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            due += interval
            is_browse = turn % 2 == 0
            path = browse if is_browse else searches[(turn // 2) % len(searches)]
            turn += 1
            sent = time.monotonic()
            try:
                status, _ = request(self.port, "GET", path, None, None, conn)
            except OSError:
                status = 0
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            took = (time.monotonic() - sent) * 1000
            minute = self.minute()
            with self.lock:
                if status != 200:
                    minute.read_errors += 1
                elif is_browse:
                    minute.browse_ms.append(took)
                else:
                    minute.search_ms.append(took)

    def sampler(self) -> None:
        """Once a minute, near its end: files, RSS, disk, commit time."""
        previous = _write_histogram(self.port)
        cpu_before = _cpu_seconds(self.server.pid)
        while not self.stop.wait(max(0.0, 60 - ((time.monotonic() - self.started) % 60) - 1)):
            index = int((time.monotonic() - self.started) // 60)  # before the slow samples
            minute = self.minutes[index]
            current = _write_histogram(self.port)
            cpu = _cpu_seconds(self.server.pid)
            samples: dict[str, Any] = {
                "server_cpu_s": round(cpu - cpu_before, 1),
                "files": _live_files(self.root),
                "rss_mb": _rss_mb(self.server.pid),
                "disk_mb": _disk_bytes(self.root) / 1e6,
                "received_mb": self.bytes_received / 1e6,
                "load_average": os.getloadavg()[0],
            }
            if current and previous:
                count = current["count"] - previous["count"]
                total = current["sum"] - previous["sum"]
                samples["commits"] = count
                samples["commit_mean_s"] = round(total / count, 4) if count else None
                acked = current.get("lag_count", 0) - previous.get("lag_count", 0)
                quick = current.get("lag_le_2", 0) - previous.get("lag_le_2", 0)
                # Server side: acknowledgement -> committed and published, every envelope.
                samples["lag_le_2s_share"] = round(quick / acked, 4) if acked else None
            previous, cpu_before = current, cpu
            with self.lock:
                minute.samples = samples
            _log(
                f"minute {index}: "
                f"sent {minute.sent} browse p95 {_p(minute.browse_ms, 95)} ms, "
                f"lag p95 {_p(minute.lag_s, 95)} s, files {samples['files']}, "
                f"cpu {samples['server_cpu_s']} s, commits {samples.get('commits')} "
                f"of {samples.get('commit_mean_s')} s, rss {samples['rss_mb']:.0f} MB, "
                f"disk {samples['disk_mb']:.0f} MB "
                f"/ received {samples['received_mb']:.0f} MB, load {samples['load_average']:.1f}"
            )
            time.sleep(1.5)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.start_server()
        self.started = time.monotonic()
        threads = [threading.Thread(target=self.sender, args=(i,)) for i in range(SENDERS)]
        threads += [threading.Thread(target=self.reader), threading.Thread(target=self.sampler)]
        for t in threads:
            t.start()
        try:
            time.sleep(self.args.minutes * 60)
        finally:
            self.stop.set()
            for t in threads:
                t.join()
        return self.finish()

    def finish(self) -> dict[str, Any]:
        peak_rss = _peak_rss_mb(self.server.pid)
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.log.close()
        present, duplicated = _check_segments(self.root, self.acked)
        minutes = [self._summary(i, m) for i, m in sorted(self.minutes.items())]
        full = [m for m in minutes if m["minute"] < self.args.minutes]
        result = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "rate_per_s": self.args.rate,
            "minutes": self.args.minutes,
            "readers_per_s": self.args.readers,
            "envelopes_sent": sum(m["sent"] for m in minutes),
            "errors": sum(m["errors"] for m in minutes),
            "read_errors": sum(m["read_errors"] for m in minutes),
            "bytes_received_mb": round(self.bytes_received / 1e6, 1),
            "server_peak_rss_mb": peak_rss,
            "acknowledged_segments": len(self.acked),
            "segments_missing_after_sigterm": len(self.acked) - present,
            "segments_duplicated": duplicated,
            "server_exit_code": self.server.returncode,
            "load_average_mean": round(
                sum(m.get("load_average") or 0 for m in full) / max(len(full), 1), 1
            ),
            "per_minute": minutes,
        }
        result["targets"] = _targets(result, full)
        return result

    def _summary(self, index: int, m: Minute) -> dict[str, Any]:
        row: dict[str, Any] = {"minute": index, "sent": m.sent, "errors": m.errors}
        row["read_errors"] = m.read_errors
        for name, values in (("browse", m.browse_ms), ("search", m.search_ms)):
            row[f"{name}_p50_ms"] = _p(values, 50)
            row[f"{name}_p95_ms"] = _p(values, 95)
        row["post_p95_ms"] = _p(m.post_ms, 95)
        row["lag_p50_s"] = _p(m.lag_s, 50)
        row["lag_p95_s"] = _p(m.lag_s, 95)
        row["lag_samples"] = len(m.lag_s)
        row.update(m.samples)
        return row


_ENVELOPE = {"Content-Type": "application/x-sentry-envelope"}


def _list_path(params: dict[str, str]) -> str:
    base = {"per_page": "50"}
    return f"/api/0/organizations/{ORG}/replays/?" + urllib.parse.urlencode({**base, **params})


def _p(values: list[float], q: float) -> float | None:
    """The q-th percentile of the values, rounded (None without values)."""
    return round(percentile(values, q), 3) if values else None


def _write_histogram(port: int) -> dict[str, float] | None:
    """From the server's /metrics: count and sum of the store's write-time histogram, and the
    visibility-lag histogram's count and its count at or under 2 s (the contract's bound)."""
    try:
        status, body = request(port, "GET", "/metrics")
    except OSError:
        return None
    if status != 200:
        return None
    wanted = {
        "replaystore_store_write_seconds_count": "count",
        "replaystore_store_write_seconds_sum": "sum",
        "replaystore_visibility_lag_seconds_count": "lag_count",
        'replaystore_visibility_lag_seconds_bucket{le="2.0"}': "lag_le_2",
    }
    found: dict[str, float] = {}
    for line in body.decode().splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            found[wanted[name]] = float(value)
    return found if "count" in found and "sum" in found else None


def _live_files(root: Path) -> dict[str, int]:
    from deltalake import DeltaTable

    files = {}
    for table in TABLES:
        try:
            files[table] = len(DeltaTable(str(root / "tables" / table)).file_uris())
        except Exception:  # mid-commit reads may race a checkpoint: count next minute
            files[table] = -1
    files["blob_files"] = sum(len(names) for _, _, names in os.walk(root / "blobs"))
    return files


def _rss_mb(pid: int, key: str = "VmRSS:") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    try:
        fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    return round(_rss_mb(pid, "VmHWM:"), 1)


def _disk_bytes(root: Path) -> int:
    """Bytes the store occupies on disk (allocated blocks, as `du`)."""
    total = 0
    for directory, _, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total


def _check_segments(root: Path, acked: set[tuple[str, int]]) -> tuple[int, int]:
    """How many acknowledged segments are stored, and how many keys are stored twice."""
    from replaystore.storage.store import Store

    store = Store.open(str(root))
    con = store.connect()
    try:
        rows = con.execute(
            "SELECT replay_id, segment_id, count(*) FROM segments GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    stored = {(r, int(s)): int(n) for r, s, n in rows}
    present = sum(1 for key in acked if key in stored)
    duplicated = sum(1 for n in stored.values() if n > 1)
    return present, duplicated


def _targets(result: dict[str, Any], minutes: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's "must hold" lines, judged on this run."""
    browse95 = [m["browse_p95_ms"] for m in minutes if m["browse_p95_ms"] is not None]
    p50s = [m["browse_p50_ms"] for m in minutes if m["browse_p50_ms"] is not None]
    first, last = p50s[:5], p50s[-5:]
    lags = [m["lag_p95_s"] for m in minutes if m["lag_p95_s"] is not None]
    shares = [m["lag_le_2s_share"] for m in minutes if m.get("lag_le_2s_share") is not None]
    disk = [m.get("disk_mb", 0) / max(m.get("received_mb", 0), 1e-9) for m in minutes[-1:]]

    def median(values: list[float]) -> float:
        values = sorted(values)
        return values[len(values) // 2] if values else float("nan")

    ratio = median(last) / median(first) if first and last else None
    return {
        "browse_p95_max_ms": max(browse95, default=None),
        "browse_p95_le_50_every_minute": bool(browse95) and max(browse95) <= 50,
        "last5_over_first5_p50": round(ratio, 2) if ratio else None,
        "lag_p95_max_s": max(lags, default=None),
        "lag_p95_le_2s": bool(lags) and max(lags) <= 2,
        # Every envelope's lag, server side: p95 <= 2 s means >= 95 % of them within 2 s.
        "server_lag_le_2s_share_min": min(shares, default=None),
        "rss_le_1gb": result["server_peak_rss_mb"] <= 1024,
        "disk_over_received": round(disk[0], 2) if disk else None,
        "zero_errors": result["errors"] == 0 and result["read_errors"] == 0,
        "every_acked_segment_once": result["segments_missing_after_sigterm"] == 0
        and result["segments_duplicated"] == 0,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["per_minute"]
    x = [r["minute"] for r in rows]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0][0]
    for key in ("browse_p50_ms", "browse_p95_ms", "search_p50_ms", "search_p95_ms"):
        ax.plot(x, [r[key] for r in rows], label=key)
    ax.axhline(50, color="grey", linestyle=":", label="browse p95 target")
    ax.set_title("read latency (ms)")
    ax.legend(fontsize=7)
    ax = axes[0][1]
    ax.plot(x, [r["lag_p95_s"] for r in rows], label="visibility lag p95 (s)")
    ax.plot(x, [r.get("commit_mean_s") for r in rows], label="mean commit (s)")
    ax.axhline(2, color="grey", linestyle=":", label="lag target")
    ax.set_title("ingest")
    ax.legend(fontsize=7)
    ax = axes[1][0]
    for table in TABLES:
        ax.plot(x, [r.get("files", {}).get(table) for r in rows], label=table)
    ax.set_title("live data files per table")
    ax.legend(fontsize=7)
    ax = axes[1][1]
    ax.plot(x, [r.get("rss_mb") for r in rows], label="server RSS (MB)")
    ax.plot(x, [r.get("disk_mb") for r in rows], label="disk (MB)")
    ax.plot(x, [r.get("received_mb") for r in rows], label="received (MB)")
    ax.set_title("memory and disk")
    ax.legend(fontsize=7)
    for ax in axes.flat:
        ax.set_xlabel("minute")
    fig.suptitle(
        f"soak: {result['rate_per_s']} envelopes/s for {result['minutes']} min, "
        f"readers {result['readers_per_s']}/s, load average {result['load_average_mean']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def held(targets: dict[str, Any]) -> bool:
    """Whether a run met every target of the issue."""
    return bool(
        targets["browse_p95_le_50_every_minute"]
        and (targets["last5_over_first5_p50"] or 0) <= 1.5
        and targets["lag_p95_le_2s"]
        and targets["rss_le_1gb"]
        and (targets["disk_over_received"] or 0) <= 2
        and targets["zero_errors"]
        and targets["every_acked_segment_once"]
    )


def run_one(args: argparse.Namespace, out: str) -> dict[str, Any]:
    """One soak at args.rate; its results in benchmarks/results/<out>.json and .png."""
    soak = Soak(args)
    try:
        result = soak.run()
    finally:
        if getattr(soak, "server", None) is not None and soak.server.poll() is None:
            soak.server.kill()
    result["targets"]["all_held"] = held(result["targets"])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{out}.json").write_text(json.dumps(result, indent=2))
    plot(result, RESULTS / f"{out}.png")
    _log(json.dumps(result["targets"], indent=2))
    if not args.keep:
        shutil.rmtree(soak.root, ignore_errors=True)
    return result


def ladder_table(results: list[dict[str, Any]]) -> str:
    """Markdown: one line per rate of a ladder, and the highest rate that held every target."""
    lines = [
        "| envelopes/s | minutes | browse p95 max (ms) | lag p95 max (s) | server lag <= 2 s "
        "(min share) | peak RSS (MB) | disk / received | errors | acked once | all held |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        t = r["targets"]
        lines.append(
            f"| {r['rate_per_s']:g} | {r['minutes']:g} | {t['browse_p95_max_ms']} | "
            f"{t['lag_p95_max_s']} | {t['server_lag_le_2s_share_min']} | "
            f"{r['server_peak_rss_mb']} | {t['disk_over_received']} | "
            f"{r['errors'] + r['read_errors']} | {t['every_acked_segment_once']} | "
            f"{t['all_held']} |"
        )
    best = max((r["rate_per_s"] for r in results if r["targets"]["all_held"]), default=None)
    lines.append("")
    lines.append(f"Highest rate that held every target: {best if best else 'none of these'}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="envelopes per second")
    parser.add_argument(
        "--rates",
        help="a ladder: comma-separated rates, one soak each (fresh store), and a table of "
        "which held every target (results/<out>-ladder.md)",
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--readers", type=float, default=2.0, help="read requests per second")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--data", help="store folder (default: a new temporary folder)")
    parser.add_argument("--out", default="soak", help="name of the results in benchmarks/results")
    parser.add_argument("--keep", action="store_true", help="keep the store afterwards")
    args = parser.parse_args(argv)
    if not args.rates:
        run_one(args, args.out)
        return 0
    results = []
    for rate in (float(r) for r in args.rates.split(",")):
        args.rate = rate
        results.append(run_one(args, f"{args.out}-{rate:g}"))
    table = ladder_table(results)
    (RESULTS / f"{args.out}-ladder.md").write_text(table)
    _log(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
