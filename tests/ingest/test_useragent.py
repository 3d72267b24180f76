"""User agent parsing with ua-parser: Relay's version rules plus the headless decision."""

from __future__ import annotations

import pytest

from replaystore.ingest.useragent import (
    MAX_USER_AGENT,
    Browser,
    Device,
    Os,
    browser_family,
    parse_user_agent,
)
from tests.ingest.builders import UA

MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("agent", "browser", "os", "device"),
    [
        (UA, Browser("Chrome", "156.0.0"), Os("Linux", ""), None),
        (MAC_CHROME, Browser("Chrome", "120.0.0"), Os("Mac OS X", ">=10.15.7"),
         Device("Mac", "Apple", "Mac")),
        (ANDROID, Browser("Chrome Mobile", "120.0.0"), Os("Android", "10"),
         Device("K", "Generic_Android", "K")),
        ("curl/8.4.0", Browser("curl", "8.4.0"), None, None),
        ("", None, None, None),
        ("???", None, None, None),
    ],
    ids=["headless-chrome", "mac-frozen-version", "android", "curl", "empty", "unknown"],
)  # fmt: skip
def test_parse(agent: str, browser: Browser | None, os: Os | None, device: Device | None) -> None:
    parsed = parse_user_agent(agent)
    assert (parsed.browser, parsed.os, parsed.device) == (browser, os, device)


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("HeadlessChrome", "Chrome"),
        ("Firefox Headless", "Firefox"),
        ("Headless", "Headless"),
        ("Chrome", "Chrome"),
        ("Chrome Mobile", "Chrome Mobile"),
    ],
    ids=["prefix", "suffix", "only-the-word", "plain", "two-words"],
)
def test_browser_family(family: str, expected: str) -> None:
    assert browser_family(family) == expected


def test_cached() -> None:
    parse_user_agent.cache_clear()
    first = parse_user_agent(UA)
    assert parse_user_agent(UA) is first
    assert parse_user_agent.cache_info().hits == 1


def test_very_long_agent_is_cut_before_parsing() -> None:
    parsed = parse_user_agent(UA + " " + "x" * (MAX_USER_AGENT * 4))
    assert parsed.browser == Browser("Chrome", "156.0.0")
