"""What queries select, one case a line, on a few hand-made replays, over both sources.

The summary rows are computed from the raw rows by storage's summary query, so each case
checks the summary and the raw-row compilation against the same expected answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import duckdb
import pytest
from sqlglot import exp

from replaystore.search import compile_click_search, compile_replay_search, raw_replays_query
from tests.search.rows import T0, click, link, raw_connection, segment, view

R1, R2, R3, R4 = ("1" * 32, "2" * 32, "3" * 32, "4" * 32)
E1, E2, W1, I1, TR1 = ("e1" * 16, "e2" * 16, "f1" * 16, "f2" * 16, "ab" * 16)
DASHED_E1 = f"{E1[:8]}-{E1[8:12]}-{E1[12:16]}-{E1[16:20]}-{E1[20:]}"

SEGMENTS = [
    segment(
        R1,
        0,
        browser_name="Chrome",
        browser_version="120.0",
        urls=["https://example.com/Home", "https://example.com/a"],
        user_email="Alice@Example.com",
        user_id="42",
        release="1.0.0",
        environment="prod",
        platform="javascript",
        os_name="Mac OS X",
        device_model="iPhone",
        user_ip="1.2.3.4",
        tags_key=["k", "k", "site"],
        tags_value=["v1", "v1b", "main"],
        error_ids=[E1],
        trace_ids=[TR1],
        replay_type="session",
    ),
    segment(
        R1,
        1,
        timestamp=T0 + timedelta(seconds=17),
        urls=["https://example.com/checkout"],
        release="1.0.1",
    ),
    segment(
        R2,
        0,
        browser_name="Firefox",
        urls=["https://other.org/x*y"],
        user_name="bob",
        release="2.0",
        environment="dev",
        platform="javascript",
        tags_key=["k"],
        tags_value=["v2"],
        replay_type="buffer",
    ),
    segment(R2, 1, timestamp=T0 + timedelta(seconds=90, milliseconds=400)),
    segment(R3, 0),
    segment(R4, 1, browser_name="Chrome", urls=["https://example.com/a"]),
]
CLICKS = [
    click(
        R1,
        "h1",
        tag="button",
        id="submit",
        **{"class": ["btn", "primary"]},
        role="button",
        text="Buy now",
        is_dead=True,
        timestamp=T0,
    ),
    click(
        R1,
        "h2",
        tag="a",
        **{"class": ["nav"]},
        title="Home",
        aria_label="home link",
        testid="nav-home",
        component_name="NavLink",
        is_rage=True,
        timestamp=T0,
    ),
    click(R2, "h3", tag="img", alt="logo", timestamp=T0),
]
LINKS = [
    link(R1, E2, "error"),
    link(R1, W1, "warning"),
    link(R1, I1, "info"),
    link(R2, E2, "fatal"),
]

CASES = [
    # strings: exact is case-sensitive, wildcards anchored and case-insensitive
    ("browser.name:Chrome", "1"),
    ("browser:Chrome", "1"),
    ("browser.name:chrome", ""),
    ("browser.name:chrom*", "1"),
    ("browser.name:CHROM*", "1"),
    ("browser.name:*hrom", ""),
    ("browser.name:*hrom*", "1"),
    ("browser.name:*", "12"),
    ("!browser.name:Chrome", "23"),
    ("browser.name:!=Chrome", "23"),
    ("browser.name:[Chrome, Firefox]", "12"),
    ("!browser.name:[Chrome, Firefox]", "3"),
    ("browser.name:[chrome, fire*]", "2"),
    ("browser.name:>Chrome", ""),
    ('browser.name:""', "3"),
    ('!browser.name:""', "12"),
    ('browser.name:[Chrome, ""]', "13"),
    ('!browser.name:[Chrome, ""]', "2"),
    ("has:browser.name", "12"),
    ("!has:browser.name", "3"),
    ("browser.version:120.0", "1"),
    ('os:"Mac OS X"', "1"),
    ("os.name:mac*", "1"),
    ("device.model_id:iPhone", "1"),
    ("device.model:iPhone", "1"),
    ("user.email:*@example.com", "1"),
    ("user.email:alice@example.com", ""),
    ("user.email:Alice@Example.com", "1"),
    ("user:bob", "2"),
    ("user.username:b*", "2"),
    ("user.id:42", "1"),
    ("environment:prod", "1"),
    ("platform:javascript", "12"),
    ("replay_type:buffer", "2"),
    ('dist:""', "123"),
    # lists over segments: releases and urls
    ("release:1.0.1", "1"),
    ("releases:1.0.*", "1"),
    ("!release:2.0", "13"),
    ("url:https://example.com/checkout", "1"),
    ("urls:*/home", "1"),
    ("urls:*example.com*", "1"),
    ("url:*x\\*y", "2"),
    ("url:*x\\*", ""),
    ("!url:*example*", "23"),
    ('urls:""', "3"),
    ("has:urls", "12"),
    # numbers and durations (seconds; sub-second exact)
    ("count_errors:2", "1"),
    ("count_errors:>1", "1"),
    ("count_errors:>=1", "12"),
    ("count_errors:<1", "3"),
    ("!count_errors:>1", "23"),
    ("count_errors:[0, 2]", "13"),
    ("!count_errors:[0, 2]", "2"),
    ("count_errors:1.5", ""),
    ("count_errors:<1.5", "23"),
    ("count_errors:<0.001k", "3"),
    ("count_warnings:1", "1"),
    ("count_infos:1", "1"),
    ("count_segments:2", "12"),
    ("count_urls:3", "1"),
    ("count_dead_clicks:1", "1"),
    ("count_rage_clicks:>0", "1"),
    ("count_traces:1", "1"),
    ("activity:6", "1"),
    ("activity:>=3", "12"),
    ("duration:17", "1"),
    ("duration:17s", "1"),
    ("duration:17000ms", "1"),
    ("duration:>16.5s", "12"),
    ("duration:<1.5min", "13"),
    ("duration:>=1m", "2"),
    ("duration:1.5m", "2"),
    ("duration:90.4", ""),
    ("duration:>90400ms", ""),
    ("duration:<1h", "123"),
    ("duration:<1d", "123"),
    ("duration:<1w", "123"),
    ("duration:[0, 17]", "13"),
    ("duration:[17s, 1.5m]", "12"),
    ("!duration:17", "23"),
    # ids: UUIDs with or without dashes, lists of them
    (f"id:{R1}", "1"),
    (f"id:{R1.upper()}", "1"),
    (f"!id:{R1}", "23"),
    (f"id:[{R1}, {R3}]", "13"),
    (f"id:{R4}", ""),
    (f"error_id:{E1}", "1"),
    (f"error_ids:{DASHED_E1}", "1"),
    (f"error_id:{E2}", "12"),
    (f"!error_id:{E2}", "3"),
    (f"warning_id:{W1}", "1"),
    (f"info_id:{I1}", "1"),
    (f"trace:{TR1}", "1"),
    (f"trace_id:{TR1}", "1"),
    ('error_ids:""', "3"),
    # IPv4
    ("user.ip:1.2.3.4", "1"),
    ("user.ip_address:[1.2.3.4, 5.6.7.8]", "1"),
    ("!user.ip:1.2.3.4", "23"),
    ('user.ip:""', "23"),
    # tags: unknown keys and tags[key]
    ("k:v1", "1"),
    ("k:v1b", "1"),
    ("tags[k]:v2", "2"),
    ("k:V*", "12"),
    ("k:[v1, v2]", "12"),
    ("!k:v1", "23"),
    ("has:k", "12"),
    ("!has:tags[k]", "3"),
    ("site:main", "1"),
    ("nosuchtag:x", ""),
    ("!nosuchtag:x", "123"),
    ("started_at:>2024-01-01", ""),
    # free text: case-insensitive substring over urls, user.*, releases, id
    ("checkout", "1"),
    ("CHECKOUT", "1"),
    ("alice", "1"),
    ("bob", "2"),
    ("1.0.1", "1"),
    ("33333", "3"),
    ("other.org", "2"),
    ('"example.com/a"', "1"),
    ("x*y", "2"),
    ("nothing-like-this", ""),
    ("1.2.3.4", "1"),
    # clicks
    ("click.tag:button", "1"),
    ("click.tag:Button", ""),
    ("click.tag:b*", "1"),
    ("!click.tag:button", "23"),
    ("click.id:submit", "1"),
    ("click.class:btn", "1"),
    ("click.class:[nav, other]", "1"),
    ("click.class:pri*", "1"),
    ("!click.class:btn", "23"),
    ('click.textContent:"Buy now"', "1"),
    ("click_text:buy*", "1"),
    ("click.role:button", "1"),
    ("click.alt:logo", "2"),
    ("click.testid:nav-home", "1"),
    ('click.label:"home link"', "1"),
    ("click_aria_label:home*", "1"),
    ("click.title:Home", "1"),
    ("click.component_name:NavLink", "1"),
    ('click.alt:""', "13"),
    ("has:click.alt", "2"),
    ("click.selector:button", "1"),
    ("click.selector:button#submit", "1"),
    ("click.selector:button.btn.primary", "1"),
    ("click.selector:.btn.nav", ""),
    ('click.selector:"button, img"', "12"),
    ("click.selector:*", "12"),
    ("click.selector:#submit", "1"),
    ("click.selector:[role=button]", "1"),
    ("click.selector:\"[title='Home']\"", "1"),
    ("click.selector:a[data-testid=nav-home]", "1"),
    ("click.selector:a[data-test-id=nav-home]", "1"),
    ("click.selector:\"a[aria-label='home link']\"", "1"),
    ("click.selector:a[aria-label='home link']", ""),
    ("click.selector:[data-sentry-component=NavLink]", "1"),
    ("click.selector:img[alt=logo]", "2"),
    ("click.selector:IMG", ""),
    ("!click.selector:button", "23"),
    ("click.selector:div.class\\:hover", ""),
    ("click.selector:$#%^#%", ""),
    ("!click.selector:$#%^#%", ""),
    ("click.selector:div[title=1]", ""),
    ("dead.selector:button", "1"),
    ("dead.selector:a", ""),
    ("rage.selector:a.nav", "1"),
    ("rage.selector:button", ""),
    ("!rage.selector:a", "23"),
    # boolean structure
    ("browser.name:Chrome OR browser.name:Firefox", "12"),
    ("browser.name:Chrome browser.name:Firefox", ""),
    ("browser.name:Chrome AND user.id:42", "1"),
    ("browser.name:Firefox OR browser.name:Chrome count_errors:0", "2"),
    ("(browser.name:Firefox OR browser.name:Chrome) count_errors:0", ""),
    ("count_errors:0 OR browser.name:Chrome AND count_errors:2", "13"),
    ("browser.name:Firefox OR (user.id:42 count_errors:2)", "12"),
    ("!has:browser.name OR click.alt:logo", "23"),
    # other fields
    ("is_archived:false", "123"),
    ("is_archived:0", "123"),
    ("is_archived:true", ""),
    ("!is_archived:true", "123"),
    # viewed by: VIEWERS below (user 7 viewed replays 1 and 2, user 8 replay 2)
    ("viewed_by_me:true", ""),  # no requesting user: nobody
    ("seen_by_me:false", "123"),
    ("viewed_by_id:1", ""),
    ("!viewed_by_id:[1, 2]", "123"),
    ("viewed_by_id:7", "12"),
    ("seen_by_id:8", "2"),
    ("viewed_by_id:[8, 9]", "2"),
    ("!viewed_by_id:7", "3"),
    ("!seen_by_id:[7, 8]", "3"),
    ("viewed_by_id:0", "123"),  # Sentry: every non-view row carries viewer 0
    ("!viewed_by_id:0", ""),
    ("viewed_by_id:99999999999999999999", ""),  # beyond int64: nobody
    ("viewed_by_id:8 OR count_errors:2", "12"),
    ("(viewed_by_id:7 duration:>0) OR browser.name:Firefox", "12"),
    ("", "123"),
]

VIEWERS = [view(R1, 7), view(R2, 7), view(R2, 8)]
ME = [
    ("viewed_by_me:true", 7, "12"),
    ("seen_by_me:TRUE", 8, "2"),
    ("viewed_by_me:false", 8, "13"),
    ("viewed_by_me:true", 9, ""),
    ("(viewed_by_me:true OR duration:>100000)", 8, "2"),  # inside parentheses too (unlike Sentry)
]


@pytest.mark.parametrize(("query", "viewer", "expected"), ME, ids=[f"{q}-{v}" for q, v, _ in ME])
def test_viewed_by_me(
    con: duckdb.DuckDBPyConnection, query: str, viewer: int, expected: str
) -> None:
    summary = exp.select("replay_id").from_("replays")
    summary = summary.where(compile_replay_search(query, viewer=viewer))
    assert _digits(con.execute(summary.sql("duckdb")).fetchall()) == expected
    raw = raw_replays_query(compile_replay_search(query, source="raw", viewer=viewer))
    rows = con.execute(raw.sql("duckdb")).fetchall()
    assert _digits([(replay_id,) for _, replay_id in rows]) == expected


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = raw_connection(SEGMENTS, CLICKS, LINKS, VIEWERS)
    yield connection
    connection.close()


def _digits(rows: list[tuple[str]]) -> str:
    return "".join(sorted(r[0][0] for r in rows))


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_summary(con: duckdb.DuckDBPyConnection, query: str, expected: str) -> None:
    condition = compile_replay_search(query)
    select = exp.select("replay_id").from_("replays").where(condition)
    assert _digits(con.execute(select.sql("duckdb")).fetchall()) == expected


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_raw(con: duckdb.DuckDBPyConnection, query: str, expected: str) -> None:
    select = raw_replays_query(compile_replay_search(query, source="raw"))
    rows = con.execute(select.sql("duckdb")).fetchall()
    assert _digits([(r[1],) for r in rows]) == expected


CLICK_CASES = [
    ("click.tag:button", "h1"),
    ("click.tag:a OR click.tag:img", "h2 h3"),
    ("click.tag:a click.title:Home", "h2"),
    ("click.tag:button click.title:Home", ""),
    ("!click.tag:button", "h2 h3"),
    ("click.class:btn", "h1"),
    ("click.class:[nav, btn]", "h1 h2"),
    ('click.alt:""', "h1 h2"),
    ("has:click.alt", "h3"),
    ("click.selector:button.btn", "h1"),
    ("!click.selector:button.btn", "h2 h3"),
    ('click.selector:"a, img"', "h2 h3"),
    ("dead.selector:*", "h1"),
    ("rage.selector:*", "h2"),
    ("click.textContent:buy*", "h1"),
    ("(click.tag:a OR click.tag:button) !click.class:nav", "h1"),
    ("click.selector:$#%^#%", ""),
]


@pytest.mark.parametrize(("query", "expected"), CLICK_CASES, ids=[c[0] for c in CLICK_CASES])
def test_click_search(con: duckdb.DuckDBPyConnection, query: str, expected: str) -> None:
    select = exp.select("event_hash").from_("clicks").where(compile_click_search(query))
    hashes = sorted(r[0] for r in con.execute(select.sql("duckdb")).fetchall())
    assert " ".join(hashes) == expected
