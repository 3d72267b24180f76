"""Operating `replaystore serve`: /healthz and /metrics, the operator's `error:` lines, SIGTERM
draining the journal, and a read-only server following another process's writes."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from replaystore.catalog import Catalog
from replaystore.ingest.journal import read_records
from replaystore.server import make_app
from replaystore.storage.store import Store
from tests.conftest import serving
from tests.ingest.test_store_failures import read_only_folder
from tests.robustness.envelopes import assemble, valid_envelope
from tests.robustness.wire import Wire
from tests.server_process import CLI, ServerProcess, free_port

pytestmark = pytest.mark.xdist_group("operations")

INGEST = "/api/1/envelope/?sentry_key=webkey"
SEGMENTS = "/api/0/projects/acme/web/replays/{}/recording-segments/?per_page=100"


def _store(path: Path) -> Path:
    Catalog(path).add_project("acme", "web", 1, "webkey")
    return path


def _envelope(rng: random.Random, replay_id: str, segment_id: int) -> bytes:
    return assemble(*valid_envelope(rng, replay_id=replay_id, segment_id=segment_id))


def _samples(wire: Wire) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = wire.get("/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.body.decode())
        for s in family.samples
    }


def _segment_ids(wire: Wire, replay_id: str) -> list[int]:
    answer = wire.get(SEGMENTS.format(replay_id))
    assert answer.status == 200, answer.body
    return [row["segmentId"] for row in answer.json()["data"]]


def _poll(check, seconds: float = 60.0):
    """`check()` until truthy, for at most `seconds` (a bound, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_healthz_and_metrics_answer_without_a_token_and_follow_ingest(tmp_path: Path) -> None:
    app = make_app(str(_store(tmp_path / "store")))  # auth on: these two need no token
    with serving(app) as base:
        wire = Wire(base)
        health = wire.get("/healthz")
        assert (health.status, health.json()) == (200, {"status": "ok"})
        before = _samples(wire)
        replay_id = "b" * 32
        answer = wire.request("POST", INGEST, body=_envelope(random.Random(2), replay_id, 0))
        assert answer.status == 200, answer.body
        assert app.writer is not None and app.writer.ingest.flush(timeout=60)
        assert wire.get(f"/api/0/organizations/acme/replays/{replay_id}/").status == 401
        app.store.compact()
        after = _samples(wire)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("replaystore_ingest_envelopes_accepted_total") == 1
    assert grew("replaystore_commit_seconds_count") >= 1
    assert grew("replaystore_visibility_lag_seconds_count") == 1
    assert grew("replaystore_request_seconds_count", route="envelope") == 1
    assert grew("replaystore_request_seconds_count", route="org_replay") == 1
    assert grew("replaystore_maintenance_runs_total", task="compact", outcome="done") == 1
    assert after[("replaystore_table_files", (("table", "segments"),))] >= 1


def _one_error_line(args: list[str]) -> str:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@contextlib.contextmanager
def _port_in_use() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_operator_mistakes_are_one_error_line_and_exit_2(tmp_path: Path) -> None:
    store = _store(tmp_path / "store")
    Store.open(str(store))
    serve = ["serve", "--no-auth", "--port"]
    with _port_in_use() as port:
        line = _one_error_line([*serve, str(port), "--data", str(store)])
        assert f"cannot listen on 127.0.0.1:{port}" in line
    missing = tmp_path / "nothing-here"
    line = _one_error_line([*serve, str(free_port()), "--data", str(missing), "--read-only"])
    assert line == f"error: no replay store at {missing}"
    assert not missing.exists()  # a read command never creates a store
    with read_only_folder(store, tree=True):
        line = _one_error_line([*serve, str(free_port()), "--data", str(store)])
    assert f"the store at {store} is not writable" in line and "--read-only" in line


def _post_all(wire_base: str, posts: list[tuple[str, int, bytes]]) -> list[int]:
    def post(item: tuple[str, int, bytes]) -> int:
        return Wire(wire_base).request("POST", INGEST, body=item[2]).status

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(post, posts))


def _posts(seed: int, replays: int, segments: int) -> list[tuple[str, int, bytes]]:
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(replays)]
    return [(r, s, _envelope(rng, r, s)) for s in range(segments) for r in ids]


def test_sigterm_drains_the_journal_into_the_tables(tmp_path: Path) -> None:
    store = _store(tmp_path / "store")
    server = ServerProcess(store)
    server.start()
    posts = _posts(3, replays=6, segments=4)
    try:
        assert set(_post_all(server.base, posts)) == {200}
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)  # right after the last acknowledgement
        assert server.process.wait(timeout=120) == 0
    finally:
        server.kill()
    log = server.log.read_text()
    assert "draining the journal" in log and "Traceback" not in log
    # Drained: the tables hold everything, read without any journal replay.
    assert read_records(store / "journal") == []
    with Store.open(str(store), read_only=True).connect() as con:
        stored = con.execute("SELECT replay_id, segment_id, count(*) FROM segments GROUP BY ALL")
        counts = {(r, s): n for r, s, n in stored.fetchall()}
    assert counts == {(r, s): 1 for r, s, _ in posts}
    server.start()  # and after a restart, every segment is served exactly once
    try:
        assert "0 journal entries replayed" in server.log.read_text().split("stopped")[-1]
        wire = Wire(server.base)
        for replay_id in {r for r, _, _ in posts}:
            assert _segment_ids(wire, replay_id) == [0, 1, 2, 3]
    finally:
        server.stop()


def test_a_read_only_server_follows_another_process_writes(tmp_path: Path) -> None:
    store = _store(tmp_path / "store")
    writer = ServerProcess(store)
    writer.start()
    reader = ServerProcess(f"file://{store}", extra=("--read-only",))
    try:
        reader.start()  # beside a writer: no lock taken
        wire = Wire(reader.base)
        assert wire.get("/healthz").status == 200
        refused = wire.request("POST", INGEST, body=_envelope(random.Random(4), "c" * 32, 0))
        assert refused.status == 503
        assert "read-only" in refused.json()["detail"]
        delete = wire.request("DELETE", "/api/0/projects/acme/web/replays/" + "c" * 32 + "/")
        assert delete.status == 503 and "read-only" in delete.json()["detail"]
        lags: list[tuple[float, float]] = []  # (writer, reader) seconds from the 200
        writer_wire = Wire(writer.base)
        for replay_id, segment_id, body in _posts(5, replays=3, segments=2):
            answer = writer_wire.request("POST", INGEST, body=body)
            assert answer.status == 200, answer.body
            acked = time.monotonic()
            for side in (writer_wire, wire):
                seen = _poll(lambda: segment_id in _segment_ids(side, replay_id))  # noqa: B023
                assert seen, (side.base, replay_id, segment_id)
                lags.append(time.monotonic() - acked)
        pairs = zip(lags[::2], lags[1::2], strict=True)
        print(
            "200 -> visible on writer / read-only (s):",
            ", ".join(f"{w:.2f}/{r:.2f}" for w, r in pairs),
        )
        assert f"store {store} (read-only)" in reader.log.read_text()
        assert os.path.getsize(store / ".writer.lock") > 0  # the writer still holds the store
    finally:
        reader.stop()
        writer.stop()
