"""The field registry is complete and the only place a field is defined (issue 11).

Three checks, each able to fail:

* every registry entry has every facet its kind needs, and every column it names is stored;
* every summary column has exactly one formula, and every response field an archived value;
* the maps other stages read are derived from the records, and the modules outside
  `replaystore/fields/` do not spell a field's computed summary column as a string literal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pyarrow as pa
import pytest

import replaystore
from replaystore.fields import clicks, registry, schema, shape, summary
from replaystore.fields.registry import FIELDS, Field

STRING_KINDS = ("string", "uuid", "ipv4")
NUMERIC_KINDS = ("number", "duration", "boolean")
SEARCHABLE = [f for f in FIELDS if f.kind != "time"]
SUMMARY = set(schema.REPLAYS.names)


@pytest.mark.parametrize("field", FIELDS, ids=[f.name for f in FIELDS])
def test_every_entry_has_its_facets(field: Field) -> None:
    assert field.doc
    assert field.kind in registry.OPERATORS
    if field.kind in STRING_KINDS:
        assert field.values is not None, "a string-like field needs values in both sources"
    if field.kind in NUMERIC_KINDS:
        assert field.summary is not None and field.raw is not None, "both formulas"
        assert field.summary is not field.raw
    if field.kind == "time":
        assert field.sort is not None, "a time field exists to be sorted by"
    if field.sort_names:
        assert field.sort in SUMMARY, "sorting reads a stored summary column"
    else:
        assert field.sort is None
    if field.column is not None:
        assert field.column in SUMMARY
    assert not field.tag_keys or field.column is not None, "tag keys read `column`"
    assert set(field.tag_keys) <= set(field.names)


@pytest.mark.parametrize("attribute", clicks.ATTRIBUTES, ids=lambda a: a.column)
def test_every_click_attribute_is_stored_searched_and_shaped(
    attribute: clicks.ClickAttribute,
) -> None:
    assert attribute.column in schema.CLICKS.names
    assert attribute.column in schema.CLICK_STRUCT.names
    field = registry.lookup(attribute.search)
    assert field is not None and field.click is not None
    assert attribute.response in dict(shape.RESPONSE_KEYS)
    if attribute.in_element:
        assert attribute.column in schema.SELECTOR_COUNTS.names


# Summary columns that are not a formula over raw rows: keys, the payload and write time.
NOT_COMPUTED = {"project_id", "replay_id", "payload", "updated_at"}


def test_every_summary_column_has_one_formula() -> None:
    sources = {
        "segments": set(summary.SEGMENTS),
        "links": set(summary.LINKS),
        "clicks": set(summary.CLICKS),
        "joined": set(summary.JOINED),
        "derived": set(summary.DERIVED),
    }
    stored = {name for names in sources.values() for name in names} - {"has_segment_0"}
    # The per-table aggregates feed the join; a column may be refined one stage later.
    refined = {"count_dead_clicks", "count_rage_clicks", "clicks", "warning_ids", "info_ids"}
    missing = SUMMARY - NOT_COMPUTED - stored - {"tags"}  # tags: storage.summary's unnest
    assert missing == set()
    assert sources["derived"].isdisjoint(sources["segments"] | sources["joined"])
    assert (sources["clicks"] | sources["links"]) & sources["joined"] <= refined
    extra = stored - SUMMARY - {"segment_error_ids", "link_error_ids"}
    assert extra == set(), "a formula for a column the summary does not store"


def test_every_response_field_has_an_archived_value() -> None:
    row = {"project_id": 1, "replay_id": "a" * 32, "is_archived": True}
    # Sentry: `replay_type` is left out of the archived shape unless asked for.
    assert set(shape.replay_object(row)) == shape.RESPONSE_FIELDS - {"replay_type"}


def test_derived_maps_are_derived() -> None:
    assert {n: f for f in SEARCHABLE for n in f.names} == registry.BY_NAME
    assert {n: f for f in FIELDS for n in f.sort_names} == registry.SORTABLE
    tag_columns = {k: f.column for f in FIELDS for k in f.tag_keys}
    lists = {k for k, c in tag_columns.items() if pa.types.is_list(schema.REPLAYS.field(c).type)}
    assert {k: c for k, c in tag_columns.items() if k in lists} == registry.LIST_TAG_KEYS
    assert {k: c for k, c in tag_columns.items() if k not in lists} == registry.SCALAR_TAG_KEYS
    assert (
        tuple(
            n
            for n in schema.REPLAYS.names
            if n not in (*schema.FETCHED_COLUMNS, "updated_at", "month")
        )
        == schema.PAYLOAD_COLUMNS
    )
    assert tuple(schema.CLICK_STRUCT.names) == schema.CLICK_FIELDS
    assert tuple(a.column for a in clicks.ATTRIBUTES if a.in_element) == clicks.ELEMENT
    assert [f.name for f in FIELDS if f.click is not None] == [a.search for a in clicks.ATTRIBUTES]


def test_readers_use_the_derived_maps() -> None:
    """The other stages read the registry's objects, not copies of them."""
    from replaystore.query import data_source, tags
    from replaystore.query import selectors as ranking
    from replaystore.search import selectors
    from replaystore.storage import selector_counts

    assert tags.SCALAR_TAG_KEYS is registry.SCALAR_TAG_KEYS
    assert tags.LIST_TAG_KEYS is registry.LIST_TAG_KEYS
    assert data_source.STATIC_FIELDS is registry.STATIC_FIELDS
    assert data_source.SCALAR_SORTS is registry.SCALAR_SORTS
    assert selectors.CSS_ATTRIBUTES is clicks.CSS_ATTRIBUTES
    assert selector_counts.ELEMENT is clicks.ELEMENT is ranking.ELEMENT


PACKAGE = Path(replaystore.__file__).parent
# Summary columns only a field's formula computes: not stored on a raw table, not a key or a
# time, and not also the name of a table or a value kind (`clicks`, `tags`, `duration`) or the
# archive marker every read filters on (`is_archived`). Only the registry spells them.
COMPUTED = {
    name
    for name in SUMMARY - NOT_COMPUTED
    if name not in {*schema.SEGMENTS.names, *schema.CLICKS.names, *schema.LINKS.names}
} - {"clicks", "tags", "duration", "is_archived", "started_at", "finished_at", "month"}
# (module, literal) pairs that are not a field's column, each with its reason.
ALLOWED = {
    # The selector ranking's own response/search names: per-element counts.
    ("query/selectors.py", "count_dead_clicks"),
    ("query/selectors.py", "count_rage_clicks"),
    # The Sentry API import reads Sentry's replay objects by their attribute names.
    ("ingest/api_replay.py", "warning_ids"),
    ("ingest/api_replay.py", "info_ids"),
    ("ingest/api_replay.py", "releases"),
}


def _literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_computed_columns_are_covered() -> None:
    assert {"count_errors", "activity", "count_urls", "warning_ids", "releases"} <= COMPUTED


def test_no_other_module_spells_a_computed_column() -> None:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("fields/"):
            continue
        found |= {(relative, name) for name in _literals(path) & COMPUTED}
    assert found - ALLOWED == set(), "name these through replaystore.fields"
    assert ALLOWED - found == set(), "a stale exception: remove it"


def test_the_registry_imports_no_stage() -> None:
    """`fields/` is the ground floor: it imports only itself (and libraries)."""
    imported = set()
    for path in sorted((PACKAGE / "fields").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
    ours = {m for m in imported if m.split(".")[0] == "replaystore"}
    assert ours and all(m.startswith("replaystore.fields") for m in ours), sorted(ours)
