"""One writer per store, whatever the spelling of its path: a second writer (a library write,
`serve`, `ingest`, `compact`) is refused naming the holder; a crashed holder frees the store."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path

import pytest

from replaystore.catalog import Catalog
from replaystore.storage.lock import StoreLocked
from replaystore.storage.store import Store
from tests.robustness.envelopes import assemble, valid_envelope
from tests.robustness.wire import Wire
from tests.server_process import CLI, ServerProcess, free_port
from tests.storage import batches

pytestmark = pytest.mark.xdist_group("operations")


def spellings(store: Path, link: Path) -> list[str]:
    """Every way to name one local store."""
    return [
        str(store),
        f"{store}/",
        f"file://{store}",
        f"file://localhost{store}/",
        str(link),
        f"file://{link}",
        os.path.relpath(store),
    ]


def refused(args: list[str]) -> str:
    """Run the CLI, which must refuse with exit 2 and one `error:` line; that line."""
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_a_second_writer_is_refused_under_every_spelling(tmp_path: Path) -> None:
    store = tmp_path / "store"
    Catalog(store).add_project("acme", "web", 1, "webkey")
    link = tmp_path / "link"
    link.symlink_to(store, target_is_directory=True)
    envelope = assemble(*valid_envelope(random.Random(1), replay_id="a" * 32, segment_id=0))
    (tmp_path / "one.envelope").write_bytes(envelope)
    # The holder itself opens the store through a file:// URL of the symlink.
    server = ServerProcess(f"file://{link}")
    server.start()
    try:
        assert server.process is not None
        pid = server.process.pid
        # Same catalog and journal as the plain path: its DSN key works, its journal is there.
        answer = Wire(server.base).request(
            "POST", "/api/1/envelope/?sentry_key=webkey", body=envelope
        )
        assert answer.status == 200, answer.body
        assert (store / "journal").is_dir()
        for spelling in spellings(store, link):
            with pytest.raises(StoreLocked) as error:
                Store.open(spelling).write(batches.numbered(1))
            assert error.value.holder is not None and error.value.holder.pid == pid
        port = str(free_port())
        for args in (
            ["serve", "--data", f"file://{store}/", "--port", port, "--no-auth"],
            ["ingest", "--data", str(link), "--project", "1", str(tmp_path / "one.envelope")],
            ["compact", "--data", os.path.relpath(store)],
        ):
            line = refused(args)
            held = f"the store at {os.path.realpath(store)} is held by another writer: pid {pid}"
            assert held in line
            assert f"on {socket.gethostname()}" in line
            assert "serve --data file://" in line and "since 20" in line
    finally:
        server.kill()  # a crash: the kernel drops the lock with the process
    Store.open(spellings(store, link)[-1]).write(batches.numbered(1))
    assert not Store.open(str(link)).lock.held  # released after the write
