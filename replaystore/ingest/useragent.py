"""User agent → browser / os / device contexts, as Relay's `normalize_user_agent` does.

Parsing uses `ua-parser` (uap-core rules). One deliberate difference from Relay: headless
browser variants are reported as their base browser (`HeadlessChrome 156.0.0` → `Chrome
156.0.0`), because a replay recorded by a headless browser is still a replay of that browser
and users search `browser.name:Chrome`. The version is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import ua_parser

# Longer strings are cut before parsing: bounds regex work and the cache's memory.
MAX_USER_AGENT = 2048

_HEADLESS = re.compile(r"^Headless\s*|\s*Headless$")


@dataclass(frozen=True)
class Browser:
    name: str
    version: str


@dataclass(frozen=True)
class Os:
    name: str
    version: str


@dataclass(frozen=True)
class Device:
    family: str
    brand: str
    model: str


@dataclass(frozen=True)
class UserAgentContexts:
    """Each context is None when the parser knows nothing (its family is "Other")."""

    browser: Browser | None
    os: Os | None
    device: Device | None


def _version(*parts: str | None) -> str:
    """`major[.minor[.patch]]`: stops at the first missing part."""
    kept: list[str] = []
    for part in parts:
        if not part:
            break
        kept.append(part)
    return ".".join(kept)


def browser_family(family: str) -> str:
    """The browser family with a headless marker removed (see the module docstring)."""
    base = _HEADLESS.sub("", family)
    return base or family


def _os_version(name: str, version: str) -> str:
    # Browsers freeze these values in the UA string, so they mean "this or newer" (Relay).
    if (name == "Windows" and version == "10") or (name == "Mac OS X" and version == "10.15.7"):
        return ">=" + version
    return version


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> UserAgentContexts:
    result = ua_parser.parse(user_agent[:MAX_USER_AGENT])
    browser = os = device = None
    agent = result.user_agent
    if agent is not None and agent.family != "Other":
        browser = Browser(
            browser_family(agent.family), _version(agent.major, agent.minor, agent.patch)
        )
    system = result.os
    if system is not None and system.family != "Other":
        version = _version(system.major, system.minor, system.patch)
        os = Os(system.family, _os_version(system.family, version))
    found = result.device
    if found is not None and found.family != "Other":
        device = Device(found.family, found.brand or "", found.model or "")
    return UserAgentContexts(browser=browser, os=os, device=device)
