"""The catalog in the store on S3: concurrent updates lose nothing, an abandoned update lock
is taken back, readers see updates after at most CATALOG_POLL."""

from __future__ import annotations

import threading
import time

import pytest

from replaystore import catalog as catalog_module
from replaystore.catalog import Catalog
from replaystore.storage.objectstore import StorageConfig


def test_concurrent_token_adds_are_all_kept(s3_url: str) -> None:
    tokens: list[str] = []

    def add() -> None:
        mine = Catalog(s3_url)  # its own instance: only the lock object excludes the others
        for _ in range(4):
            tokens.append(mine.add_token("acme"))

    threads = [threading.Thread(target=add) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = Catalog(s3_url)
    assert len(tokens) == 12
    assert all(fresh.org_for_token(t) == "acme" for t in tokens)
    assert not StorageConfig.for_root(s3_url).fs.exists(f"{s3_url}/.catalog.lock")


def test_an_abandoned_update_lock_is_taken_back(
    s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "CATALOG_LOCK_SECONDS", 1.0)
    StorageConfig.for_root(s3_url).put(f"{s3_url}/.catalog.lock", b"a dead process's lock")
    token = Catalog(s3_url).add_token("acme")  # waits until the lock is abandoned, then takes it
    assert Catalog(s3_url).org_for_token(token) == "acme"
    assert not StorageConfig.for_root(s3_url).fs.exists(f"{s3_url}/.catalog.lock")


def test_a_reader_sees_a_new_token(s3_url: str) -> None:
    reader = Catalog(s3_url)
    assert reader.organizations() == ()
    token = Catalog(s3_url).add_token("acme")
    deadline = time.monotonic() + 30
    while reader.org_for_token(token) is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert reader.organizations() == ("acme",)


def test_a_reader_keeps_its_catalog_while_storage_is_unreachable(s3_url: str) -> None:
    token = Catalog(s3_url).add_token("acme")
    reader = Catalog(s3_url)
    assert reader.org_for_token(token) == "acme"
    reader._remote.config = StorageConfig.for_root(  # the same bucket, its endpoint now refusing
        s3_url, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    )
    reader._remote._cache = (float("-inf"), *reader._remote._cache[1:])  # the poll is due
    assert reader.org_for_token(token) == "acme"
