"""The selector ranking: its search language, its window split, its text,
and its precomputed counts kept equal to a GROUP BY over the stored click rows through writes,
replacements, deletions, retention, compaction and a rebuild."""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from replaystore.engine import Engine
from replaystore.engines import open_engine
from replaystore.errors import SearchError
from replaystore.fields import schema
from replaystore.query.common import Page, Window
from replaystore.query.selectors import (
    compile_selector_search,
    dom_element,
    list_selectors,
    split,
)
from replaystore.storage import selector_counts
from replaystore.storage.batch import WriteBatch
from replaystore.storage.retention import expire
from replaystore.storage.store import Store
from tests.conftest import ReplaySpec, fixture_batch, rid

DEAD = "count_dead_clicks"
# The same answers from every engine the server can run (`serve --engine`).
ENGINES = ("duckdb", *(("clickhouse",) if importlib.util.find_spec("chdb") else ()))
RAGE = "count_rage_clicks"


# ---- the search language ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "dead", "rage", "holds"),
    [
        ("count_dead_clicks:2", 2, 0, True),
        ("count_dead_clicks:2", 3, 0, False),
        ("!count_dead_clicks:0", 0, 5, False),
        ("!count_dead_clicks:0", 1, 0, True),
        ("count_rage_clicks:[1,2]", 0, 2, True),
        ("!count_rage_clicks:[0]", 0, 0, False),
        ("count_dead_clicks:>1", 2, 0, True),
        ("count_dead_clicks:>1", 1, 0, False),
        ("count_dead_clicks:>=1", 1, 0, True),
        ("count_dead_clicks:<1", 0, 0, True),
        ("count_dead_clicks:<=1", 2, 0, False),
        ("count_dead_clicks:!=1", 2, 0, True),
        ("!count_dead_clicks:>1", 2, 0, False),
        ("count_dead_clicks:2.9", 2, 0, True),  # read as a float, truncated
        ("count_dead_clicks:1 OR count_rage_clicks:1", 0, 1, True),
        ("count_dead_clicks:1 count_rage_clicks:1", 0, 1, False),
        ("count_dead_clicks:1 AND (count_rage_clicks:1 OR count_rage_clicks:0)", 1, 0, True),
    ],
)
def test_search_semantics(query: str, dead: int, rage: int, holds: bool) -> None:
    having = compile_selector_search(query)
    assert having is not None and having.holds({"dead": dead, "rage": rage}) is holds


INT = "Detail: Failed to parse int."


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("click.tag:button", "Unsupported search field: click.tag"),
        ("foo:1", "Unsupported search field: foo"),
        ("tags[count_dead_clicks]:1", "Unsupported search field: tags[count_dead_clicks]"),
        ("hello", "Unsupported search field: message"),
        ("has:count_dead_clicks", "Unsupported search field: has"),
        ("count_dead_clicks:abc", f"Could not parse value for `{DEAD}`. {INT}"),
        ("count_dead_clicks:1*", f"Could not parse value for `{DEAD}`. {INT}"),
        ("count_rage_clicks:1k", f"Could not parse value for `{RAGE}`. {INT}"),
        ('count_rage_clicks:""', f"Could not parse value for `{RAGE}`. {INT}"),
        ("count_rage_clicks:[1,x]", f"Could not parse value for `{RAGE}`. {INT}"),
        ("count_dead_clicks:" + "9" * 40, f"Could not parse value for `{DEAD}`. {INT}"),
    ],
)  # fmt: skip
def test_search_errors(query: str, detail: str) -> None:
    with pytest.raises(SearchError) as raised:
        compile_selector_search(query)
    assert raised.value.detail == detail


def test_syntax_errors_are_the_parsers() -> None:
    with pytest.raises(SearchError, match=r"Parse error|AND|OR|parenthes"):
        compile_selector_search("count_dead_clicks:1 AND")


# ---- the window split and the selector text ---------------------------------------------


def _t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_split_into_whole_days_and_edges() -> None:
    days, edges = split(Window(_t(1, 13), _t(4, 6)))
    assert days == Window(_t(2), _t(4))
    assert edges == [Window(_t(1, 13), _t(2)), Window(_t(4), _t(4, 6))]


def test_split_on_midnights_has_no_edges() -> None:
    assert split(Window(_t(1), _t(3))) == (Window(_t(1), _t(3)), [])


def test_split_within_one_day_is_all_edge() -> None:
    window = Window(_t(1, 2), _t(1, 20))
    assert split(window) == (None, [window])
    across = Window(_t(1, 20), _t(2, 2))
    assert split(across) == (None, [across])


def test_dom_element_order_and_display_names() -> None:
    element = {
        "tag": "button", "id": "save", "class": ["btn", "primary"], "role": "button", "alt": "a",
        "testid": "t", "aria_label": "Save draft", "title": "T", "component_name": "SaveBar",
    }  # fmt: skip
    assert dom_element(element) == (
        'button#save.btn.primary[role="button"][alt="a"][testid="t"][aria="Save draft"]'
        '[title="T"][component_name="SaveBar"]'
    )
    raw = dict.fromkeys(element, "") | {"tag": "div", "class": [], "title": 'say "hi"]'}
    assert dom_element(raw) == 'div[title="say "hi"]"]'  # raw values


# ---- the counts equal a GROUP BY over the click rows -------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)
ELEMENTS: list[dict[str, Any]] = [
    {"tag": "button", "id": "ok", "class": ["btn", "", "primary"]},
    {"tag": "button", "id": "ok", "class": ["btn", "primary"]},  # the same group as above
    {"tag": "button", "id": "ok", "class": ["primary", "btn"]},  # order matters
    {"tag": "a", "title": "Home", "aria_label": "Go home"},
    {"tag": "div", "component_name": "Card", "testid": "card", "role": "link", "alt": "x"},
    {"tag": ""},  # a tap: never ranked
]


def _click(index: int, when: datetime, element: dict, dead: bool, rage: bool, env: str,
           project: int, replay: str) -> dict[str, Any]:  # fmt: skip
    row = {
        "project_id": project, "replay_id": replay, "event_hash": rid(700_000 + index),
        "timestamp": when, "segment_id": 0, "environment": env, "node_id": index, "tag": "",
        "id": "", "class": [], "text": f"text {index}", "role": "", "alt": "", "testid": "",
        "aria_label": "", "title": "", "component_name": "", "is_dead": dead,
        "is_rage": rage, "month": when.strftime("%Y-%m"),
    }  # fmt: skip
    return row | element


def _random_clicks(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        dead = rng.random() < 0.4
        when = NOW - timedelta(days=rng.uniform(0, 40))
        rows.append(
            _click(
                seed * 10_000 + i,
                when,
                rng.choice(ELEMENTS),
                dead,
                dead and rng.random() < 0.5,
                rng.choice(["production", "staging"]),
                rng.choice([1, 2]),
                rid(rng.randint(1, 30)),
            )
        )
    return rows


def _batch(clicks: list[dict[str, Any]]) -> WriteBatch:
    return WriteBatch(clicks=pa.Table.from_pylist(clicks, schema=schema.CLICKS))


def _expected(rows: list[dict], window: Window, envs: set[str] | None = None) -> dict:
    """Sentry's grouping done by hand: group key -> (dead, rage)."""
    groups: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if not r["tag"] or not (window.start <= r["timestamp"] < window.end):
            continue
        if envs is not None and r["environment"] not in envs:
            continue
        key = (r["project_id"], r["tag"], r["id"], tuple(c for c in r["class"] if c),
               r["role"], r["alt"], r["testid"], r["aria_label"], r["title"],
               r["component_name"])  # fmt: skip
        groups[key][0] += r["is_dead"]
        groups[key][1] += r["is_rage"]
    return {k: tuple(v) for k, v in groups.items()}


def _answer(engine: Engine, window: Window, **kwargs: Any) -> dict:
    result = list_selectors(engine, project_ids=[1, 2], window=window, page=Page(0, 100), **kwargs)
    assert not result.has_more
    out = {}
    for item in result.items:
        e = item["element"]
        key = (item["project_id"], e["tag"], e["id"], tuple(e["class"]), e["role"], e["alt"],
               e["testid"], e["aria_label"], e["title"], e["component_name"])  # fmt: skip
        assert key not in out
        out[key] = (item[DEAD], item[RAGE])
    return out


def _stored_clicks(store: Store) -> list[dict[str, Any]]:
    con = store.connect()
    try:
        return con.sql("SELECT * FROM clicks").to_arrow_table().to_pylist()
    finally:
        con.close()


WINDOWS = [
    Window(NOW - timedelta(days=90), NOW + timedelta(seconds=1)),
    Window(NOW - timedelta(days=60, hours=3), NOW - timedelta(days=4, hours=20)),
    Window(NOW - timedelta(days=10, hours=5), NOW - timedelta(days=2, hours=3)),
    Window(NOW - timedelta(days=3, hours=20), NOW - timedelta(days=3, hours=2)),
    Window(
        (NOW - timedelta(days=20)).replace(hour=0, minute=0, second=0),
        (NOW - timedelta(days=5)).replace(hour=0, minute=0, second=0),
    ),
]


def _check(store: Store) -> None:
    for name in ENGINES:
        _check_engine(open_engine(store, name), _stored_clicks(store))


def _check_engine(engine: Any, rows: list[dict[str, Any]]) -> None:
    for window in WINDOWS:
        assert _answer(engine, window) == _expected(rows, window)
        flagged = {k: v for k, v in _expected(rows, window).items() if v[0]}
        assert _answer(engine, window, query="!count_dead_clicks:0") == flagged
        staging = _expected(rows, window, {"staging"})
        assert _answer(engine, window, environments=["staging"]) == staging
        # Long windows rank flagged groups from compaction's totals, corrected (plan B).
        dead_staging = {k: v for k, v in staging.items() if v[0]}
        found = _answer(engine, window, query="count_dead_clicks:>0", environments=["staging"])
        assert found == dead_staging


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(str(tmp_path / "store"))


def test_counts_follow_writes_replacements_deletes_and_compaction(store: Store) -> None:
    first = _random_clicks(1, 150)
    store.write(_batch(first))
    _check(store)
    # The SDK's resend (same keys) changes nothing; dead/rage versions replace plain clicks.
    plain = [r for r in first if not r["is_dead"]][:20]
    store.write(_batch([r | {"is_dead": True, "is_rage": True} for r in plain] + first[:10]))
    store.write(_batch(_random_clicks(2, 120)))
    _check(store)
    assert store.delete_replay(1, rid(3)) and store.delete_replay(2, rid(4))
    gone = {(1, rid(3)), (2, rid(4))}
    assert not any((r["project_id"], r["replay_id"]) in gone for r in _stored_clicks(store))
    _check(store)
    store.compact()
    _check(store)
    # After a compaction: new deltas beside the folded rows and their totals.
    store.write(_batch(_random_clicks(8, 90)))
    assert store.delete_replay(1, rid(6))
    _check(store)
    store.compact()
    _check(store)
    con = store.connect()
    zero = con.sql("SELECT count(*) FROM selectors WHERE clicks = 0 AND dead = 0 AND rage = 0")
    assert zero.fetchall() == [(0,)]  # compaction drops groups that sum to nothing
    assert con.sql("SELECT count(*) FROM selectors WHERE NOT folded").fetchall() == [(0,)]
    totals = con.sql("SELECT sum(dead) FROM selectors WHERE month = 'all' AND environment IS NULL")
    days = con.sql("SELECT sum(dead) FROM selectors WHERE month <> 'all'")
    assert totals.fetchall() == days.fetchall()


def test_retention_takes_the_expired_clicks_off(store: Store) -> None:
    old = NOW - timedelta(days=120)
    store.write(fixture_batch((ReplaySpec(1), ReplaySpec(2))))  # segments: replays exist
    store.write(_batch(_random_clicks(3, 80)))
    aged = [_click(900 + i, old + timedelta(minutes=i), ELEMENTS[0], True, False,
                   "production", 1, rid(99)) for i in range(5)]  # fmt: skip
    store.write(_batch(aged))
    assert expire(store, NOW - timedelta(days=90)) >= 1
    _check(store)
    engine = Engine(store)
    everything = Window(old - timedelta(days=1), NOW + timedelta(days=1))
    assert _answer(engine, everything) == _expected(_stored_clicks(store), everything)


def test_a_store_without_counts_gets_them_from_its_clicks(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "old"))
    store.write(_batch(_random_clicks(4, 100)))
    expected = _expected(_stored_clicks(store), WINDOWS[0])
    # What a store written before the counts existed looks like: no `selectors` table, and a
    # manifest that does not name it.
    shutil.rmtree(Path(store.layout.table_uri("selectors")))
    manifest = Path(store.layout.manifest_path)
    published = json.loads(manifest.read_text())
    del published["versions"]["selectors"]
    manifest.write_text(json.dumps(published))
    reopened = Store.open(str(tmp_path / "old"))
    reopened.write(_batch(_random_clicks(5, 1)))  # the next write publishes them
    rows = _stored_clicks(reopened)
    assert _answer(Engine(reopened), WINDOWS[0]) == _expected(rows, WINDOWS[0])
    assert len(rows) == 101 and expected


def test_rebuild_equals_the_incremental_counts(store: Store) -> None:
    store.write(_batch(_random_clicks(6, 120)))
    store.delete_replay(1, rid(5))
    before = {w: _answer(Engine(store), w) for w in WINDOWS}
    with store.lock.hold():
        selector_counts.rebuild(store)
        store.publish()
    assert {w: _answer(Engine(store), w) for w in WINDOWS} == before


def test_paging_and_sorts(store: Store) -> None:
    store.write(_batch(_random_clicks(7, 200)))
    engine = Engine(store)
    window = WINDOWS[0]
    whole = list_selectors(engine, project_ids=[1, 2], window=window, page=Page(0, 100))
    pages = [
        list_selectors(engine, project_ids=[1, 2], window=window, page=Page(offset, 3))
        for offset in range(0, len(whole.items) + 3, 3)
    ]
    assert [i for p in pages for i in p.items] == whole.items
    assert [p.has_more for p in pages][-2:] == [False, False] or not pages[-1].items
    deads = [i[DEAD] for i in whole.items]
    assert deads == sorted(deads, reverse=True)
    for sort, key, reverse in (
        ("count_dead_clicks", DEAD, False),
        ("-count_rage_clicks", RAGE, True),
        ("count_rage_clicks", RAGE, False),
    ):
        items = list_selectors(
            engine, project_ids=[1, 2], window=window, page=Page(0, 100), sort=sort
        ).items
        assert [i[key] for i in items] == sorted((i[key] for i in items), reverse=reverse)
    with pytest.raises(SearchError, match=r"The field `foo` is not a sortable field\."):
        list_selectors(engine, project_ids=[1], window=window, sort="-foo")
    only_one = list_selectors(engine, project_ids=[2], window=window, page=Page(0, 100))
    assert {i["project_id"] for i in only_one.items} == {2}


def test_background_maintenance_sums_the_deltas_and_keeps_the_totals(store: Store) -> None:
    from replaystore.storage.maintenance import Maintenance, MaintenanceSettings

    store.write(_batch(_random_clicks(9, 120)))
    store.compact()
    for seed in (10, 11, 12):  # three writes: deltas of the same groups and days
        store.write(_batch(_random_clicks(seed, 60)))
    store.delete_replay(2, rid(7))
    con = store.connect()
    before = con.sql("SELECT count(*) FROM selectors WHERE NOT folded").fetchall()[0][0]
    settings = MaintenanceSettings(
        check_every=3600, quiet_seconds=0, selector_fold_rows=1, retention_days=None
    )
    Maintenance(store, settings).run_once()
    con = store.connect()
    after = con.sql("SELECT count(*) FROM selectors WHERE NOT folded").fetchall()[0][0]
    per_group = con.sql(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM selectors WHERE month <> 'all' "
        "GROUP BY project_id, day, environment, element_key, flagged, folded)"
    ).fetchall()[0][0]
    assert 0 < after < before and per_group == 1
    _check(store)


def test_an_attribute_holding_the_key_separator_is_read_back_raw(store: Store) -> None:
    odd = {"tag": "button", "title": "a\x1fb", "class": ["x"]}
    store.write(_batch([_click(1, NOW - timedelta(hours=2), odd, True, False, "p", 1, rid(1))]))
    window = Window(NOW - timedelta(days=1), NOW + timedelta(seconds=1))
    (item,) = list_selectors(Engine(store), project_ids=[1], window=window).items
    assert item["element"]["title"] == "a\x1fb" and item["element"]["class"] == ["x"]
    assert item["dom_element"] == 'button.x[title="a\x1fb"]'
