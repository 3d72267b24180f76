"""One writer and two `serve --read-only` servers on the same S3 store (issue 13): readers
pick up each new commit (polling the manifest every MANIFEST_POLL s, well inside 5 s), and a
token added after they started; the writer journals on its local disk."""

from __future__ import annotations

import random
import time
from pathlib import Path

import orjson
import pytest

from replaystore.catalog import Catalog
from replaystore.storage.store import MANIFEST_POLL, Store
from tests.robustness.envelopes import assemble, valid_envelope
from tests.robustness.wire import Wire
from tests.server_process import ServerProcess

pytestmark = pytest.mark.xdist_group("operations")
LIST = "/api/0/organizations/acme/replays/"
WAIT_SECONDS = 60  # a bound against hanging, not the latency claim (that is MANIFEST_POLL)


def server(url: str, folder: Path, *extra: str) -> ServerProcess:
    process = ServerProcess(url, extra, auth=True)
    process.log = folder / f"server-{process.port}.log"
    return process


def listed(reader: Wire) -> set[str]:
    answer = reader.request("GET", LIST + "?statsPeriod=1d&per_page=100&field=id")
    assert answer.status == 200, answer.body
    return {item["id"] for item in orjson.loads(answer.body)["data"]}


def seen_within(readers: list[Wire], replay_id: str) -> float:
    """Seconds until every reader lists replay_id (bounded by WAIT_SECONDS)."""
    started = time.monotonic()
    pending = list(readers)
    while pending:
        pending = [r for r in pending if replay_id not in listed(r)]
        assert time.monotonic() - started < WAIT_SECONDS, f"{replay_id} never listed"
        time.sleep(0.1)
    return time.monotonic() - started


def test_one_writer_and_two_read_servers_on_s3(s3_url: str, tmp_path: Path) -> None:
    assert MANIFEST_POLL <= 5
    Store.open(s3_url)
    catalog = Catalog(s3_url)
    catalog.add_project("acme", "web", 1, "webkey")
    token = catalog.add_token("acme")
    journal = tmp_path / "journal"
    writer = server(s3_url, tmp_path, "--journal", str(journal))
    readers = [server(s3_url, tmp_path, "--read-only") for _ in range(2)]
    started: list[ServerProcess] = []
    try:
        for process in (writer, *readers):
            process.start()
            started.append(process)
        wires = [Wire(r.base, token) for r in readers]
        rng = random.Random(13)
        lags = []
        for n in range(3):
            replay_id = f"{n + 1:x}".rjust(32, "c")
            envelope = assemble(*valid_envelope(rng, replay_id=replay_id))
            answer = Wire(writer.base).request(
                "POST", "/api/1/envelope/?sentry_key=webkey", body=envelope
            )
            assert answer.status == 200, answer.body
            lags.append(seen_within(wires, replay_id))
        assert journal.is_dir() and any(journal.iterdir())  # the journal is on local disk
        # Read servers refuse ingest; the writer's lease names it.
        refused = Wire(readers[0].base).request(
            "POST", "/api/1/envelope/?sentry_key=webkey", body=envelope
        )
        assert refused.status == 503
        assert Store.open(s3_url).lock.holder().pid == writer.process.pid
        # A token added now (catalog in the bucket) works on the running readers.
        late = Catalog(s3_url).add_token("acme")
        deadline = time.monotonic() + WAIT_SECONDS
        while Wire(readers[1].base, late).request("GET", LIST).status != 200:
            assert time.monotonic() < deadline, "the new token never reached the reader"
            time.sleep(0.1)
        print(f"read servers listed new replays after {[round(x, 2) for x in lags]} s")
    finally:
        for process in started:
            process.stop()


def test_a_killed_s3_writer_restarted_on_its_journal_loses_nothing(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLAYSTORE_LEASE_SECONDS", "2")  # the children's lease
    Store.open(s3_url)
    Catalog(s3_url).add_project("acme", "web", 1, "webkey")
    token = Catalog(s3_url).add_token("acme")
    journal = str(tmp_path / "journal")
    writer = server(s3_url, tmp_path, "--journal", journal)
    writer.start()
    rng = random.Random(7)
    ids = [f"{n + 1:x}".rjust(32, "d") for n in range(5)]
    for replay_id in ids:
        envelope = assemble(*valid_envelope(rng, replay_id=replay_id))
        answer = Wire(writer.base).request(
            "POST", "/api/1/envelope/?sentry_key=webkey", body=envelope
        )
        assert answer.status == 200, answer.body
    writer.kill()  # right after the last 200: some envelopes are only in the journal
    # The next writer starts once the dead one's lease expired (refused before: exit 2).
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            writer.start()
            break
        except AssertionError:
            assert "held by another writer" in writer.log.read_text()
            assert time.monotonic() < deadline, "the killed writer's lease never expired"
            time.sleep(0.5)
    try:
        wire = Wire(writer.base, token)
        seen_within([wire], ids[-1])
        assert set(ids) <= listed(wire)
    finally:
        writer.stop()
