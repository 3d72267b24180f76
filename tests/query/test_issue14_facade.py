"""The Python store answers replay-selectors and replay-count like the routes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import replaystore
from replaystore.fields import schema
from tests.conftest import BASE, BUTTON, ReplaySpec, fixture_batch, rid


def test_selectors_and_replay_counts_from_python(tmp_path: Path) -> None:
    store = replaystore.open(tmp_path / "store")
    batch = fixture_batch((ReplaySpec(1, clicks=(BUTTON | {"is_dead": True},)), ReplaySpec(2)))
    link = {"project_id": 1, "replay_id": rid(2), "event_id": rid(77), "level": "error",
            "timestamp": BASE, "month": BASE.strftime("%Y-%m"), "transaction": "/cart"}  # fmt: skip
    batch.links = pa.Table.from_pylist([link], schema=schema.LINKS)
    store.write(batch)
    (item,) = store.selectors(query="!count_dead_clicks:0")
    assert (item["dom_element"], item["count_dead_clicks"], item["project_id"]) == (
        "button#ok.btn.primary",
        1,
        1,
    )
    assert store.replay_counts(f"replay_id:[{rid(1)}, {rid(3)}]") == {rid(1): 1}
    assert store.replay_counts("transaction:[/cart]", return_ids=True) == {"/cart": [rid(2)]}
    resolved = store.replay_counts("issue.id:[9]", issue_resolver=lambda issue: [rid(77)])
    assert resolved == {"9": 1}


def test_a_store_whose_links_have_no_transaction_gets_the_column(tmp_path: Path) -> None:
    from deltalake import DeltaTable, write_deltalake

    from replaystore.storage.store import Store

    root = tmp_path / "old"
    store = Store.open(str(root))
    batch = fixture_batch((ReplaySpec(1, errors=2),))
    store.write(batch)
    # What a store written before links carried the transaction looks like.
    links = DeltaTable(store.layout.table_uri("links"))
    old = links.to_pyarrow_table().drop(["transaction"])
    write_deltalake(links, old, mode="overwrite", schema_mode="overwrite", partition_by=["month"])
    assert (
        "transaction" not in DeltaTable(store.layout.table_uri("links")).schema().to_arrow().names
    )
    reopened = Store.open(str(root))
    reopened.write(fixture_batch((ReplaySpec(2, errors=1),)))  # publishes the new version
    rows = reopened.connect().sql('SELECT replay_id, "transaction" FROM links').fetchall()
    assert sorted(rows) == [(rid(1), ""), (rid(1), ""), (rid(2), None)]
