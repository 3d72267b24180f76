"""The registry as data: every field documented, reachable from both sources, compiling for
every operator it allows; sorting and response field names."""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp

from replaystore.fields.registry import BY_NAME, FIELDS, Field
from replaystore.fields.shape import RESPONSE_FIELDS
from replaystore.search import compile_replay_search, raw_replays_query, sort_order

SAMPLE = {
    "string": "x",
    "uuid": "a" * 32,
    "ipv4": "1.2.3.4",
    "number": "1",
    "duration": "1s",
    "boolean": "true",
    "selector": "a",
    "viewed_by_id": "1",
    "viewed_by_me": "true",
}
OPERATOR_SYNTAX = {
    "=": "{k}:{v}",
    "!=": "{k}:!={v}",
    ">": "{k}:>{v}",
    ">=": "{k}:>={v}",
    "<": "{k}:<{v}",
    "<=": "{k}:<={v}",
    "IN": "{k}:[{v}, {v}]",
    "NOT IN": "!{k}:[{v}, {v}]",
}
SEARCHABLE = [f for f in FIELDS if f.kind != "time"]
CASES = [(f, name, op) for f in SEARCHABLE for name in f.names for op in sorted(f.operators)]


@pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])
def test_field_is_documented_and_reachable(field: Field) -> None:
    assert field.doc
    if field.kind in ("string", "uuid", "ipv4"):
        assert field.values is not None
    if field.kind in ("number", "duration", "boolean"):
        assert field.summary is not None and field.raw is not None


@pytest.mark.parametrize(
    ("field", "name", "op"), CASES, ids=[f"{name} {op}" for _, name, op in CASES]
)
def test_field_compiles_for_every_allowed_operator(
    empty_db: duckdb.DuckDBPyConnection, field: Field, name: str, op: str
) -> None:
    query = OPERATOR_SYNTAX[op].format(k=name, v=SAMPLE[field.kind])
    summary = exp.select("replay_id").from_("replays").where(compile_replay_search(query))
    assert empty_db.execute(summary.sql("duckdb")).fetchall() == []
    raw = raw_replays_query(compile_replay_search(query, source="raw"))
    assert empty_db.execute(raw.sql("duckdb")).fetchall() == []


def test_names_are_unique() -> None:
    names = [name for f in SEARCHABLE for name in f.names]
    assert len(names) == len(set(names)) == len(BY_NAME)


def test_valid_fields_are_the_response_fields() -> None:
    assert "user" in RESPONSE_FIELDS and "count_warnings" in RESPONSE_FIELDS
    assert "user.id" not in RESPONSE_FIELDS
    assert "ota_updates" not in RESPONSE_FIELDS  # the API rejects it (issue 11)


SORTS = [
    ("started_at", "started_at ASC, replay_id ASC"),
    ("-started_at", "started_at DESC, replay_id DESC"),
    ("startedAt", "started_at ASC, replay_id ASC"),
    ("-startedAt", "started_at DESC, replay_id DESC"),
    ("finishedAt", "finished_at ASC, replay_id ASC"),
    ("-finished_at", "finished_at DESC, replay_id DESC"),
    ("projectId", "project_id ASC, replay_id ASC"),
    ("-project_id", "project_id DESC, replay_id DESC"),
    ("duration", "duration ASC, replay_id ASC"),
    ("-countErrors", "count_errors DESC, replay_id DESC"),
    ("countErrors", "count_errors ASC, replay_id ASC"),
    ("count_warnings", "count_warnings ASC, replay_id ASC"),
    ("count_infos", "count_infos ASC, replay_id ASC"),
    ("count_urls", "count_urls ASC, replay_id ASC"),
    ("-count_dead_clicks", "count_dead_clicks DESC, replay_id DESC"),
    ("count_rage_clicks", "count_rage_clicks ASC, replay_id ASC"),
    ("activity", "activity ASC, replay_id ASC"),
    ("browser", "browser_name ASC, replay_id ASC"),
    ("-browser.name", "browser_name DESC, replay_id DESC"),
    ("browser.version", "browser_version ASC, replay_id ASC"),
    ("os_name", "os_name ASC, replay_id ASC"),
    ("os", "os_name ASC, replay_id ASC"),
    ("os.version", "os_version ASC, replay_id ASC"),
    ("device.brand", "device_brand ASC, replay_id ASC"),
    ("device.family", "device_family ASC, replay_id ASC"),
    ("device.model", "device_model ASC, replay_id ASC"),
    ("device.model_id", "device_model ASC, replay_id ASC"),
    ("device.name", "device_name ASC, replay_id ASC"),
    ("dist", "dist ASC, replay_id ASC"),
    ("platform", "platform ASC, replay_id ASC"),
    ("sdk.name", "sdk_name ASC, replay_id ASC"),
    ("user.email", "user_email ASC, replay_id ASC"),
    ("user.id", "user_id ASC, replay_id ASC"),
    ("-user.username", "user_name DESC, replay_id DESC"),
    ("", "started_at DESC, replay_id DESC"),
]


@pytest.mark.parametrize(("sort", "expected"), SORTS, ids=[s for s, _ in SORTS])
def test_sort_order(sort: str, expected: str) -> None:
    order = sort_order(sort)
    assert ", ".join(o.sql("duckdb") for o in order) == expected
    assert all(o.args["nulls_first"] is False for o in order)


def test_sort_puts_nulls_last_in_both_directions() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE replays AS SELECT * FROM (VALUES ('b', NULL), ('a', 'x'), ('c', 'y'))"
        " AS t(replay_id, browser_name)"
    )
    for sort, expected in (("browser", ["a", "c", "b"]), ("-browser", ["c", "a", "b"])):
        select = exp.select("replay_id").from_("replays").order_by(*sort_order(sort))
        assert [r[0] for r in con.execute(select.sql("duckdb")).fetchall()] == expected
