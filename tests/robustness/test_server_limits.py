"""`replaystore serve` as the internet meets it: bodies refused before they are read, half-sent
requests that do not starve a normal one, X-Forwarded-For from a trusted proxy only, Link
headers that never echo the Host header, and a memory ceiling under every costly envelope."""

from __future__ import annotations

import random
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from replaystore.server import make_app
from tests.conftest import build_store, serving
from tests.robustness.envelopes import assemble, costly_cases, valid_envelope
from tests.robustness.wire import Wire, check_answer
from tests.server_process import ServerProcess

ENVELOPE = "/api/1/envelope/?sentry_key=webkey"
# The server's peak resident memory over everything below: the bound the ingest hardening
# promises under a flood of these requests (docs/security.md; its own size is ~150-300 MB,
# one unbounded bomb alone would take GBs). 450 was too tight for CI's slower machine (458).
CEILING_MB = 600
HALF_SENT = 150  # more than waitress's default connection limit (100)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    store = build_store(tmp_path_factory.mktemp("limits") / "data")
    process = ServerProcess(store.path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _raw(server: ServerProcess, request: bytes, timeout: float = 20.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def test_a_declared_huge_body_is_refused_before_it_is_sent(server: ServerProcess) -> None:
    head = (
        f"POST {ENVELOPE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n"
    ).encode()
    answer = _raw(server, head + b"x" * 1000)  # the rest is never sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_half_sent_requests_do_not_starve_a_normal_one(server: ServerProcess) -> None:
    sockets = []
    try:
        for _ in range(HALF_SENT):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(f"POST {ENVELOPE} HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n".encode())
            sockets.append(sock)
        answer = _raw(server, b"GET /api/0/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", 10.0)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        for sock in sockets:
            sock.close()


def _user_ip(server: ServerProcess, forwarded: str) -> str:
    replay_id = uuid.uuid4().hex
    headers, event, recording = valid_envelope(random.Random(1), replay_id=replay_id)
    wire = Wire(server.base)
    body = assemble(headers, event, recording)
    answer = wire.request("POST", ENVELOPE, body=body, headers={"X-Forwarded-For": forwarded})
    assert answer.status == 200, answer.body
    path = f"/api/0/projects/acme/web/replays/{replay_id}/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = wire.get(path)
        if found.status == 200:
            return found.json()["data"]["user"]["ip"]
        time.sleep(0.2)
    raise AssertionError("the envelope never became queryable")


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(server: ServerProcess) -> None:
    assert _user_ip(server, "203.0.113.7") == "127.0.0.1"


def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    store = build_store(tmp_path / "data")
    process = ServerProcess(store.path, ("--trusted-proxy", "127.0.0.1"))
    process.start()
    try:
        assert _user_ip(process, "203.0.113.7") == "203.0.113.7"
    finally:
        process.stop()


@pytest.mark.parametrize("public_url", [None, "https://replays.example.test/"])
def test_link_headers_never_echo_the_host_header(tmp_path: Path, public_url: str | None) -> None:
    store = build_store(tmp_path / "data")
    with serving(make_app(str(store.path), public_url=public_url)) as base:
        wire = Wire(base, store.tokens["acme"])
        page = wire.get(
            "/api/0/organizations/acme/replays/?per_page=1", headers={"Host": "evil.test"}
        )
    assert page.status == 200, page.body
    link = page.headers["link"]
    assert "evil.test" not in link
    prefix = "<https://replays.example.test/api/0/" if public_url else "</api/0/"
    assert link.startswith(prefix), link


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_every_costly_envelope_keeps_the_server_under_its_memory_ceiling(
    server: ServerProcess,
) -> None:
    cases = costly_cases(uuid.uuid4().hex)
    wire = Wire(server.base)

    def post(index: int) -> tuple[str, int]:
        case = cases[index % len(cases)]
        answer = wire.request("POST", ENVELOPE, body=case.body, headers=case.headers)
        check_answer(answer, case.mutation)
        return case.mutation, answer.status

    with ThreadPoolExecutor(8) as pool:
        statuses = dict(pool.map(post, range(4 * len(cases))))
    assert statuses["far timestamps"] == 200
    assert all(s in (200, 400, 413, 429) for s in statuses.values()), statuses
    assert statuses["millions of objects"] in (400, 413), statuses
    assert server.process is not None
    peak = _peak_rss_mb(server.process.pid)
    assert peak < CEILING_MB, (peak, statuses)
    assert wire.get("/api/0/openapi.json").status == 200
    assert orjson.loads(wire.get("/api/0/openapi.json").body)
