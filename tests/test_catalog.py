"""The catalog: projects, DSN keys and hashed tokens, with atomic updates."""

from __future__ import annotations

import threading

import pytest

from replaystore.catalog import CATALOG_FILE, Catalog, hash_token
from replaystore.errors import CatalogError


def test_project_add_and_lookups(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.add_project("acme", "web", 11, "key11")
    catalog.add_project("acme", "web", 11, "second-key")
    catalog.add_project("globex", "shop", 21, "key21")
    assert catalog.organizations() == ("acme", "globex")
    assert catalog.project("acme", "web").dsn_keys == ("key11", "second-key")
    assert catalog.project_by_id(21).slug == "shop"
    assert catalog.project_for_dsn_key("second-key").id == 11
    assert catalog.project_for_dsn_key("nope") is None
    assert catalog.project_for_dsn_key("kéy\udcff") is None  # a miss, not a TypeError
    assert [p.id for p in catalog.projects("acme")] == [11]
    assert Catalog(tmp_path).project("globex", "shop").id == 21  # persisted


@pytest.mark.parametrize(
    ("org", "slug", "project_id", "key", "message"),
    [
        ("Acme", "web", 1, "k", "Invalid organization slug"),
        ("acme", "we b", 1, "k", "Invalid project slug"),
        ("acme", "web", 0, "k", "Invalid project id"),
        ("acme", "web", 1, "bad key!", "Invalid DSN key"),
        ("acme", "other", 11, "k2", "Project id 11 is already acme/web"),
        ("acme", "web", 12, "k3", "Project acme/web already has id 11"),
        ("acme", "shop", 13, "key11", "DSN key already belongs"),
    ],
)
def test_project_add_rejects(tmp_path, org, slug, project_id, key, message):
    catalog = Catalog(tmp_path)
    catalog.add_project("acme", "web", 11, "key11")
    before = (tmp_path / CATALOG_FILE).read_bytes()
    with pytest.raises(CatalogError, match=message):
        catalog.add_project(org, slug, project_id, key)
    assert (tmp_path / CATALOG_FILE).read_bytes() == before


def test_tokens_are_hashed_at_rest(tmp_path):
    catalog = Catalog(tmp_path)
    token = catalog.add_token("acme")
    other = catalog.add_token("globex")
    stored = (tmp_path / CATALOG_FILE).read_text()
    assert token not in stored and hash_token(token) in stored
    assert catalog.org_for_token(token) == "acme"
    assert catalog.org_for_token(other) == "globex"
    assert (
        catalog.org_for_token(token[:-1] + "0") in (None, "acme")
        and catalog.org_for_token("x" * 64) is None
    )


def test_concurrent_updates_lose_nothing(tmp_path):
    def add(n: int) -> None:
        Catalog(tmp_path).add_project("acme", f"p{n}", 100 + n, f"key{n}")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.id for p in Catalog(tmp_path).projects()) == list(range(100, 116))
