"""`replaystore import` against a real `replaystore serve` as the source (issue 16):
every list item, details object, segment list, download and click list equal; incremental,
resumable, rate-limit aware, bounded concurrency."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from replaystore.catalog import Catalog
from replaystore.transfer import import_from
from replaystore.transfer.state import load
from tests.server_process import CLI, ServerProcess, free_port
from tests.transfer.helpers import (
    ORG,
    build_source,
    delete,
    everything,
    ingest,
    listing,
    slugs,
    split_late,
)

REPLAYS = 40  # generated over every fixture project; about two thirds are ORG's


@dataclass
class Source:
    root: Path
    server: ServerProcess
    token: str


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("source") / "store"
    token = build_source(root, REPLAYS)
    server = ServerProcess(root, auth=True)
    server.start()
    yield Source(root, server, token)
    server.stop()


def served(root: Path) -> tuple[ServerProcess, str]:
    token = Catalog(root).add_token(ORG)
    server = ServerProcess(root, auth=True)
    server.start()
    return server, token


def assert_same(source: Source, copy: Path) -> None:
    server, token = served(copy)
    try:
        want, got = everything(source.server.base, source.token), everything(server.base, token)
    finally:
        server.stop()
    assert want["list"], "the source lists nothing: the comparison would be empty"
    for part in ("list", "details", "segments", "downloads", "clicks"):
        assert got[part] == want[part], part


def run_cli(*args: str, progress: bool = False) -> subprocess.CompletedProcess[str]:
    env = {"REPLAYSTORE_PROGRESS": "1" if progress else "0", "PATH": "/usr/bin:/bin"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=env)


def test_import_cli_copies_every_answer_and_a_second_run_copies_nothing(source, tmp_path):
    copy = tmp_path / "copy"
    args = ["import", "--data", str(copy), "--from", source.server.base, "--org", ORG]
    first = run_cli(*args, "--token", source.token, progress=True)
    assert first.returncode == 0, first.stderr
    listed = len(listing(source.server.base, source.token))
    assert f"imported {listed} new and 0 updated" in first.stdout
    assert f"{listed}/{listed} replays" in first.stderr  # the progress bar, drawn by rich
    assert_same(source, copy)

    again = run_cli(*args, "--token", source.token, "--concurrency", "2")
    assert again.returncode == 0, again.stderr
    assert (
        f"imported 0 new and 0 updated replays (0 segments), 0 deleted; {listed} unchanged"
        in again.stdout
    )
    # the project slugs and ids are the source's
    assert {(p.slug, p.id) for p in Catalog(copy).projects(ORG)} == {
        ("web-app", 11),
        ("checkout", 12),
        ("docs", 13),
    }


def test_incremental_run_copies_new_replays_and_new_segments(tmp_path):
    root = tmp_path / "source"
    token = build_source(root, 24, held_back=3)
    server = ServerProcess(root, auth=True)
    server.start()
    copy = tmp_path / "copy"
    try:
        first = import_from(str(copy), server.base, ORG, token)
        before = {item["id"] for item in listing(server.base, token)}
        assert first.copied == len(before)
        server.stop()
        _, late = split_late(24, 7, 3)
        assert len(late) == 3
        ingest(root, late)  # the held-back last segments of three replays
        more, _ = split_late(12, 8, 0)
        ingest(root, more)  # and new replays
        server.start()
        # one replay without late segments is deleted at the source, through its DELETE route
        gone = sorted(i for i in before if i[:12] not in updated_ids(late))[0]
        slug = slugs()[
            next(i["project_id"] for i in listing(server.base, token) if i["id"] == gone)
        ]
        delete(server.base, token, f"/projects/{ORG}/{slug}/replays/{gone}/")
        after = {item["id"] for item in listing(server.base, token)}
        second = import_from(str(copy), server.base, ORG, token)
        assert second.deleted == 1
        assert second.copied == len(after - before) > 0
        assert second.updated == 3
        assert second.segments == 3 + sum(
            item["count_segments"]
            for item in listing(server.base, token)
            if item["id"] in after - before
        )
        assert second.unchanged == len(before) - 3 - 1
        assert_same(Source(root, server, token), copy)
    finally:
        server.stop()


def updated_ids(late: list) -> set[str]:
    """The replay id prefixes (12 digits) the envelopes of `late` belong to."""
    return {e.name.split("-s")[0] for e in late}


def test_an_interrupted_import_resumes_from_its_state_file(source, tmp_path):
    copy, state = tmp_path / "copy", tmp_path / "state.json"
    total = len(listing(source.server.base, source.token))
    assert total > 12
    done = []

    def stop_after_ten(n: int) -> None:
        done.append(n)
        if sum(done) >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_from(
            str(copy), source.server.base, ORG, source.token,
            state_path=state, page_size=5, on_progress=stop_after_ten,
        )  # fmt: skip
    held = load(state)
    assert held is not None and not held.complete and held.cursor is not None
    # Pages one and two were stored; the cursor still names page two (it was not finished).
    second = import_from(
        str(copy), source.server.base, ORG, source.token, state_path=state, page_size=5
    )
    assert second.resumed
    assert second.listed == total - 5
    assert second.unchanged == 5
    assert second.copied == total - 10
    assert load(state).complete
    assert_same(source, copy)
    # a finished run is not resumed: the next run lists everything again
    third = import_from(str(copy), source.server.base, ORG, source.token, state_path=state)
    assert not third.resumed and third.listed == total and third.unchanged == total


class RateLimiter(ThreadingHTTPServer):
    """A proxy on 127.0.0.1 in front of the source: every third request is first refused
    with 429 and `Retry-After: 1`; it records when each refused request came back and how
    many requests were in flight at once. It answers as Sentry does: `sentry_spelling`, and a
    segment list answered with the segments' bodies."""

    daemon_threads = True

    def __init__(self, upstream: str, *, every: int = 3, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", free_port()), _Forward)
        self.upstream = upstream
        self.every = every  # every Nth request is refused once (0: none)
        self.delay = delay  # seconds each answer is held back
        self.lock = threading.Lock()
        self.count = 0
        self.refused: dict[str, float] = {}
        self.waited: list[float] = []
        self.inflight = 0
        self.most_inflight = 0
        self.probes = 0  # single-segment metadata requests

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: RateLimiter

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        proxy = self.server
        with proxy.lock:
            proxy.count += 1
            proxy.probes += bool(re.search(r"/recording-segments/\d+/", self.path))
            proxy.inflight += 1
            proxy.most_inflight = max(proxy.most_inflight, proxy.inflight)
            now = time.monotonic()
            refuse = bool(proxy.every) and proxy.count % proxy.every == 0
            refuse = refuse and self.path not in proxy.refused
            if refuse:
                proxy.refused[self.path] = now
            elif self.path in proxy.refused:
                proxy.waited.append(now - proxy.refused.pop(self.path))
        try:
            if refuse:
                answer = (429, {"Retry-After": "1"}, b'{"detail": "slow down"}')
            else:
                time.sleep(proxy.delay)
                answer = self._forward(proxy.upstream)
        finally:
            # counted until the answer is ready: once it is sent, the client may go on
            with proxy.lock:
                proxy.inflight -= 1
        self._send(*answer)

    def _forward(self, upstream: str) -> tuple[int, dict[str, str], bytes]:
        path = self.path
        if "/recording-segments/?" in path and "download" not in path:
            path += "&download=1"  # Sentry sends the bodies here too
        request = urllib.request.Request(
            upstream + path,
            headers={"Authorization": self.headers.get("Authorization", "")},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status, headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, error.headers, error.read()
        if status == 200 and "download" not in self.path:
            body = sentry_spelling(self.path, body)
        return status, {k: headers[k] for k in ("Link", "Content-Type") if headers.get(k)}, body

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a killed client
            self.wfile.write(body)


def sentry_spelling(path: str, body: bytes) -> bytes:
    """Sentry's spelling of the same answers: click times as ISO strings, `Z` for UTC."""
    answer = orjson.loads(body)
    items = answer.get("data") if isinstance(answer, dict) else None
    for item in items if isinstance(items, list) else []:
        if "/clicks/" in path:
            moment = datetime.fromtimestamp(item["timestamp"], UTC)
            item["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        for name in ("started_at", "finished_at"):
            if isinstance(item.get(name), str):
                item[name] = item[name].replace("+00:00", "Z")
        if "/replays/?" in path:
            item["ota_updates"] = {"channel": None}  # an attribute replaystore does not have
    return orjson.dumps(answer)


@contextlib.contextmanager
def proxied(upstream: str, **options: Any) -> Iterator[RateLimiter]:
    proxy = RateLimiter(upstream, **options)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_killed_import_resumes_from_its_state_file(source, tmp_path):
    copy, state = tmp_path / "copy", tmp_path / "state.json"
    args = ["--data", str(copy), "--org", ORG, "--token", source.token, "--state", str(state)]
    args += ["--page-size", "5", "--concurrency", "1"]
    env = {"REPLAYSTORE_PROGRESS": "0", "PATH": "/usr/bin:/bin"}
    with proxied(source.server.base, every=0, delay=0.1) as slow:
        with (tmp_path / "import.log").open("wb") as log:
            process = subprocess.Popen(
                [*CLI, "import", *args, "--from", slow.base], stdout=log, stderr=log, env=env
            )
        deadline = time.monotonic() + 120  # a bounded wait, not a timing assertion
        while time.monotonic() < deadline and process.poll() is None:
            held = load(state)
            if held is not None and held.cursor is not None:
                break  # the first page is stored
            time.sleep(0.02)
        process.kill()  # SIGKILL: no clean-up runs
        process.wait(timeout=60)
        held = load(state)
        assert held is not None and held.cursor is not None and not held.complete
        slow.delay = 0.0
        done = run_cli("import", *args, "--from", slow.base)  # the same source: resumed
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("resumed: imported "), done.stdout
    assert load(state).complete
    assert_same(source, copy)


def test_429_is_waited_out_as_retry_after_says_with_bounded_concurrency(source, tmp_path):
    with proxied(source.server.base) as proxy:
        result = import_from(str(tmp_path / "copy"), proxy.base, ORG, source.token, concurrency=2)
        again = import_from(str(tmp_path / "copy"), proxy.base, ORG, source.token)
    assert result.rate_limited + again.rate_limited == len(proxy.waited) > 0
    assert not proxy.refused  # every refused request was asked again
    assert min(proxy.waited) >= 1.0  # not before Retry-After
    assert 1 <= proxy.most_inflight <= 2
    assert proxy.probes > 0  # segment metadata asked one by one, as Sentry needs
    assert result.copied == len(listing(source.server.base, source.token))
    # Sentry's spelling and an attribute the store lacks do not make a replay look changed
    assert again.unchanged == result.copied and again.updated == 0
    assert_same(source, tmp_path / "copy")


def test_only_the_chosen_projects_are_copied(source, tmp_path):
    copy = tmp_path / "copy"
    result = import_from(str(copy), source.server.base, ORG, source.token, projects=["checkout"])
    items = [i for i in listing(source.server.base, source.token) if i["project_id"] == "12"]
    assert result.copied == len(items) > 0
    assert [p.slug for p in Catalog(copy).projects(ORG)] == ["checkout"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "ftp://example"], "error: --from must be an http(s) URL"),
        (["--org", "nope"], "error: the source answered 404"),
        (["--token", "wrong"], "error: the source answered 401"),
        (["--project", "nope"], "error: no project 'nope' in organization 'acme'"),
        (["--since", "yesterday"], "error: "),
        (["--concurrency", "0"], "error: --concurrency must be at least 1"),
    ],
    ids=["url", "org", "token", "project", "since", "concurrency"],
)
def test_bad_import_input_is_one_error_line_and_exit_2(source, tmp_path, args, message):
    given = {"--from": source.server.base, "--org": ORG, "--token": source.token}
    given.update(zip(args[::2], args[1::2], strict=True))
    flat = [x for pair in given.items() for x in pair]
    done = run_cli("import", "--data", str(tmp_path / "copy"), *flat)
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_a_source_that_does_not_answer_is_an_error_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    done = run_cli("import", "--data", str(tmp_path / "c"), "--from", url, "--org", ORG)
    assert done.returncode == 2
    assert done.stderr.startswith("error: the source does not answer"), done.stderr
    assert "Traceback" not in done.stderr


def test_segments_keep_the_sources_date_added(source, tmp_path):
    copy = tmp_path / "copy"
    import_from(str(copy), source.server.base, ORG, source.token)
    import replaystore

    store = replaystore.open(str(copy))
    item = listing(source.server.base, source.token)[0]
    held = store.recording_segments(int(item["project_id"]), item["id"])
    assert orjson.loads(orjson.dumps(held)) == everything_segments(source, item)


def everything_segments(source: Source, item: dict) -> list:
    from tests.transfer.helpers import pages, slugs

    slug = slugs()[item["project_id"]]
    path = f"/projects/{ORG}/{slug}/replays/{item['id']}/recording-segments/"
    return pages(source.server.base, source.token, path, [])


def test_importing_into_a_store_another_writer_holds_is_refused(source, tmp_path):
    copy = tmp_path / "copy"
    import_from(str(copy), source.server.base, ORG, source.token, projects=["docs"])
    writer = ServerProcess(copy)
    writer.start()
    try:
        args = ["--data", str(copy), "--from", source.server.base, "--org", ORG]
        done = run_cli("import", *args, "--token", source.token)
    finally:
        writer.stop()
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
