"""`GET /organizations/{org}/replay-count/` over a live server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from replaystore.catalog import Catalog
from replaystore.fields import schema
from replaystore.server import make_app
from replaystore.storage.batch import WriteBatch
from replaystore.storage.store import Store
from tests.api.conftest import Client
from tests.conftest import BASE, PROJECTS, ReplaySpec, fixture_batch, rid, serving

ROUTE = "/api/0/organizations/acme/replay-count/"
# Replays 1..60 of project 1 in the window; 61 started 20 days ago; 62 has no segment 0;
# 63 is deleted; 64 is of project 2; 65 of the other organization's project 3.
SPECS = (
    *(ReplaySpec(n) for n in range(1, 61)),
    ReplaySpec(61, start=timedelta(days=-20)),
    ReplaySpec(62, segments=2),
    ReplaySpec(63),
    ReplaySpec(64, project_id=2),
    ReplaySpec(65, project_id=3),
)
ISSUES = {"4021": ["e1", "e2"], "4077": ["e3", "e1"], "5000": ["e9"], "6000": ["not an id", "e64"]}


def eid(name: str) -> str:
    return f"{int(name[1:]) + 0xE000:032x}" if name.startswith("e") else name


def _link(n: int, project_id: int, event: str, transaction: str) -> dict[str, Any]:
    ts = BASE + timedelta(hours=1, seconds=30)
    if n == 61:
        ts -= timedelta(days=20)
    return {
        "project_id": project_id, "replay_id": rid(n), "event_id": eid(event), "level": "error",
        "timestamp": ts, "month": ts.strftime("%Y-%m"), "transaction": transaction,
    }  # fmt: skip


LINKS = [
    # /checkout: replays 1..60 (cap 51) plus the ones that do not count.
    *(_link(n, 1, f"e{100 + n}", "/checkout") for n in range(1, 64)),
    _link(1, 1, "e1", "/cart"),  # issue 4021: replay 1 twice, replay 2 once
    _link(1, 1, "e2", "/cart"),
    _link(2, 1, "e3", "/cart"),  # issue 4077
    _link(64, 2, "e64", "/shop"),  # issue 6000 (project 2)
    _link(65, 3, "e9", "/cart"),  # issue 5000: the other organization's replay
]


def _batch() -> WriteBatch:
    batch = fixture_batch(SPECS)
    segments = batch.segments
    first_of_62 = pc.and_(
        pc.equal(segments.column("replay_id"), rid(62)), pc.equal(segments.column("segment_id"), 0)
    )
    batch.segments = segments.filter(pc.invert(first_of_62))
    batch.links = pa.Table.from_pylist(LINKS, schema=schema.LINKS)
    return batch


def _resolve(issue_id: str) -> list[str]:
    return [eid(e) for e in ISSUES.get(issue_id, [])]


@pytest.fixture(scope="module")
def counting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    root: Path = tmp_path_factory.mktemp("count") / "store"
    store = Store.open(str(root))
    store.write(_batch())
    assert store.delete_replay(1, rid(63))
    catalog = Catalog(root)
    for org, slug, project_id, key in PROJECTS:
        catalog.add_project(org, slug, project_id, key)
    token = catalog.add_token("acme")
    with serving(make_app(str(root), issue_resolver=_resolve)) as base:
        yield Client(base, token)


def _count(client: Client, **params: Any) -> Any:
    response = client.get(ROUTE, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_replay_ids(counting: Client) -> None:
    dashed = "00000000-0000-0000-0000-000000000002"
    ids = [rid(1), dashed, "{" + rid(3) + "}", "urn:uuid:" + rid(4), rid(1).upper(), rid(999)]
    query = f"replay_id:[{', '.join(ids)}]"
    assert _count(counting, query=query) == {rid(1): 1, rid(2): 1, rid(3): 1, rid(4): 1}


@pytest.mark.parametrize("n", [61, 62, 63, 65])
def test_replays_that_do_not_exist_here(counting: Client, n: int) -> None:
    """Segment 0 before the window, no segment 0, deleted, another organization's."""
    assert _count(counting, query=f"replay_id:[{rid(n)}]", statsPeriod="7d") == {}


def test_segment_zero_must_be_in_the_window(counting: Client) -> None:
    query = f"replay_id:[{rid(61)}]"
    assert _count(counting, query=query) == {rid(61): 1}  # the default window: 90 days
    assert _count(counting, query=query, statsPeriod="30d") == {rid(61): 1}
    assert _count(counting, query=query, statsPeriod="19d") == {}
    assert _count(counting, query=query, statsPeriod="30d", project="2") == {}


def test_no_forced_version_bits(counting: Client) -> None:
    """Ids are looked up as given (Sentry would look up 0...04...0 for 0*32)."""
    assert _count(counting, query=f"replay_id:[{'0' * 32}, {'a' * 32}]") == {}


def test_transactions(counting: Client) -> None:
    counts = _count(counting, query='transaction:["/checkout", /cart, /shop, /none]')
    assert counts == {"/checkout": 51, "/cart": 2, "/shop": 1}  # capped at 51
    ids = _count(counting, query="transaction:[/checkout, /cart]", returnIds="true")
    assert len(ids["/checkout"]) == 51 and sorted(ids["/cart"]) == [rid(1), rid(2)]
    assert all(i not in ids["/checkout"] for i in (rid(61), rid(62), rid(63)))


def test_issues_through_the_resolver(counting: Client) -> None:
    counts = _count(counting, query="issue.id:[4021, 4077, 5000, 6000, 7000]")
    # Replay 1 is linked twice to 4021 (counts once) and to 4077 too (counts for each).
    assert counts == {"4021": 1, "4077": 2, "6000": 1}
    ids = _count(counting, query="issue.id:[4077]", returnIds="1")
    assert sorted(ids["4077"]) == [rid(1), rid(2)]
    assert _count(counting, query="issue.id:[6000]", project="1") == {}


def test_other_terms_and_data_sources(counting: Client) -> None:
    query = f"replay_id:[{rid(5)}] browser.name:Chrome"
    for source in ("discover", "search_issues", "events", "transactions"):
        assert _count(counting, query=query, data_source=source) == {rid(5): 1}
    assert _count(counting, query=f"(replay_id:[{rid(5)}])", data_source="spans") == {rid(5): 1}
    assert _count(counting, query=f"replay_id:[{rid(5)}]", returnIds="false") == {rid(5): 1}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({}, "query: This field is required."),
        ({"query": " "}, "query: This field may not be blank."),
        ({"query": "replay_id:[x]", "data_source": "abcdefg"},
         'data_source: "abcdefg" is not a valid choice.'),
        ({"query": f"replay_id:[{rid(1)}]", "returnIds": "maybe"},
         "returnIds: Must be a valid boolean."),
        ({"query": "abc"}, "Must provide at least one issue.id, transaction, or replay_id"),
        ({"query": "browser.name:x"},
         "Must provide at least one issue.id, transaction, or replay_id"),
        ({"query": "issue.id:[1] transaction:[2]"},
         "Must provide only one of: issue.id, transaction, replay_id"),
        ({"query": "issue.id:[1] OR issue.id:[2]"},
         "Must provide only one of: issue.id, transaction, replay_id"),
        ({"query": "issue.id:1"}, "Condition value must be a list of strings"),
        ({"query": "replay_id:abc"}, "Condition value must be a list of strings"),
        ({"query": f"issue.id:[{', '.join(map(str, range(26)))}]"}, "Too many values provided"),
        ({"query": f"transaction:[{', '.join(f't{i}' for i in range(26))}]"},
         "Too many values provided"),
        ({"query": f"replay_id:[{', '.join(rid(i) for i in range(101))}]"},
         "Too many values provided"),
        ({"query": "replay_id:[abc]"}, "badly formed hexadecimal UUID string"),
        ({"query": 'transaction:["root ("/")"]'},
         "Invalid quote at '[\"root': quotes must enclose text or be escaped."),
        ({"query": f"replay_id:[{rid(1)}, {rid(2)}]", "data_source": "spans"},
         "The spans data source only supports a single value"),
        ({"query": "replay_id:[x]", "statsPeriod": "x"}, None),
        ({"query": "replay_id:[x]", "project": "3"}, None),
    ],
)  # fmt: skip
def test_errors(counting: Client, params: dict, detail: str | None) -> None:
    response = counting.get(ROUTE, params=params)
    assert response.status_code in (400, 403), response.text
    body = response.json()
    assert set(body) == {"detail"}
    if detail is not None:
        assert body["detail"] == detail


def test_more_than_25_replay_ids_are_fine(counting: Client) -> None:
    ids = ", ".join(rid(n) for n in range(1, 101))
    assert set(_count(counting, query=f"replay_id:[{ids}]")) == {
        rid(n) for n in (*range(1, 62), 64)
    }


def test_an_organization_without_replays_answers_before_validating(tmp_path: Path) -> None:
    """As Sentry: {} even for an invalid query; a replay-count without a resolver is a 400."""
    root = tmp_path / "store"
    store = Store.open(str(root))
    catalog = Catalog(root)
    catalog.add_project("acme", "web", 1, "webkey")
    token = catalog.add_token("acme")
    with serving(make_app(str(root))) as base:
        client = Client(base, token)
        assert _count(client, query="abc") == {}
        assert _count(client) == {}
        store.write(fixture_batch((ReplaySpec(1),)))
        assert client.get(ROUTE, params={"query": "abc"}).status_code == 400
        no_resolver = client.get(ROUTE, params={"query": "issue.id:[1]"})
        assert no_resolver.status_code == 400
        assert no_resolver.json() == {"detail": "issue.id lookups need an issue resolver"}
        assert _count(client, query=f"replay_id:[{rid(1)}]") == {rid(1): 1}
