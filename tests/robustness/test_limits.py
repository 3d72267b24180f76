"""Caps on what one request may ask for, each answered with a clear 4xx/503 and a `detail`:
query length, page size, body size, DuckDB memory and query time."""

from __future__ import annotations

import pytest

from replaystore.engine import QUERY_LIMITS, Engine
from replaystore.errors import QueryLimitError
from replaystore.search.parser import MAX_LENGTH
from replaystore.wsgi import MAX_BODY, MAX_HOST, MAX_QUERY_STRING
from tests.robustness.conftest import Live
from tests.robustness.wire import check_answer, query_string

LIST = "/api/0/organizations/acme/replays/"
SLOW = "SELECT count(*) FROM range(1000000000000) a"  # minutes of work: only an interrupt ends it
GREEDY = "SELECT list(i) FROM range(100000000) t(i)"  # ~800 MB in one list: cannot spill


def _detail(live: Live, path: str, status: int, **kwargs) -> str:
    answer = live.wire.request(kwargs.pop("method", "GET"), path, **kwargs)
    assert answer.status == status, (path[:200], answer.status, answer.body[:300])
    if status < 500:
        check_answer(answer)
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


def test_query_length_is_capped(live: Live) -> None:
    ok = "a" * MAX_LENGTH
    assert live.wire.get(f"{LIST}?{query_string([('query', ok)])}").status == 200
    detail = _detail(live, f"{LIST}?{query_string([('query', ok + 'a')])}", 400)
    assert "too long" in detail


@pytest.mark.parametrize("name", ["per_page", "limit"])
def test_page_size_is_capped(live: Live, name: str) -> None:
    assert live.wire.get(f"{LIST}?{name}=100").status == 200
    assert "Cannot exceed 100" in _detail(live, f"{LIST}?{name}=101", 400)
    assert _detail(live, f"{LIST}?{name}=99999999999999999999", 400)


def test_url_and_host_are_capped(live: Live) -> None:
    # Found by the long fuzz run: the Link header echoes the URL twice, and a 60 kB URL made
    # an answer whose header line clients refuse to read.
    pad = "x" * (MAX_QUERY_STRING - len("per_page=1&pad="))
    answer = live.wire.get(f"{LIST}?per_page=1&pad={pad}")
    assert answer.status == 200 and len(answer.headers["link"]) < 65536
    assert "too long" in _detail(live, f"{LIST}?per_page=1&pad={pad}x", 414)
    long_host = {"Host": "h" * (MAX_HOST + 1)}
    assert "Host" in _detail(live, LIST, 400, headers=long_host)


def test_body_size_is_capped(live: Live) -> None:
    path = "/api/1/envelope/?sentry_key=webkey"
    detail = _detail(live, path, 413, method="POST", body=b"x" * (MAX_BODY + 1), token="")
    assert str(MAX_BODY) in detail


def test_a_query_past_the_time_cap_is_interrupted(live: Live) -> None:
    engine = Engine(live.app.store, query_timeout=0.2)
    with pytest.raises(QueryLimitError) as raised:
        engine.execute(SLOW)
    assert raised.value.status == 503 and raised.value.detail == QUERY_LIMITS
    with pytest.raises(QueryLimitError):
        engine.execute_arrow(SLOW)
    # The cursor is usable again, and fast queries are not interrupted later.
    for _ in range(20):
        assert engine.execute("SELECT 42 AS x") == [{"x": 42}]
    engine.close()


def test_a_query_past_the_memory_cap_is_refused(live: Live) -> None:
    engine = Engine(live.app.store, memory_limit="32MB")
    with pytest.raises(QueryLimitError):
        engine.execute(GREEDY)
    assert engine.execute("SELECT count(*) AS n FROM replays")[0]["n"] > 0
    engine.close()


class _SlowEngine(Engine):
    """Every query the API sends becomes one that only the time cap can end."""

    def execute(self, query, params=None):  # type: ignore[no-untyped-def]
        return super().execute(SLOW)


def test_the_http_answer_to_a_capped_query_is_503_with_detail(live: Live) -> None:
    real = live.app.api.engine
    live.app.api.engine = _SlowEngine(live.app.store, query_timeout=0.2)
    try:
        detail = _detail(live, LIST, 503)
        assert detail == QUERY_LIMITS
    finally:
        live.app.api.engine = real
    assert live.wire.get(LIST).status == 200
