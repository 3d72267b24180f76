"""A deterministic generator of realistic Sentry envelopes for tests and the demo store.

`generate(anchor)` always yields the same envelopes for the same anchor and seed: several
organizations and projects, real browser user agents (browsers, OSes, devices), users, URLs,
releases, environments, custom tags, multi-segment replays with zlib rrweb recordings, error
events linked to replays, and plain, dead and rage clicks, spread over 30 days before the
anchor. `write_fixtures(folder)` writes them as `.envelope` files plus `catalog.json`, which is
what `data/fixtures/` holds (regenerate with `python -m replaystore.fixtures data/fixtures`).
"""

from __future__ import annotations

import hashlib
import random
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

DEFAULT_ANCHOR = datetime(2026, 11, 26, tzinfo=UTC)
DEFAULT_SEED = 20261126
DEFAULT_REPLAYS = 240
SDK_NAME = "sentry.javascript.browser"
SDK_VERSION = "11.12.0"


@dataclass(frozen=True)
class FixtureProject:
    org: str
    slug: str
    id: int
    dsn_key: str
    site: str  # page origin of the app this project records
    weight: int  # share of the replays


PROJECTS: tuple[FixtureProject, ...] = (
    FixtureProject(
        "acme", "web-app", 11, "acme0web0app0key0000000000000011", "https://app.acme.test", 6
    ),
    FixtureProject(
        "acme", "checkout", 12, "acme0checkout0key000000000000012", "https://shop.acme.test", 3
    ),
    FixtureProject(
        "acme", "docs", 13, "acme0docs0key0000000000000000013", "https://docs.acme.test", 1
    ),
    FixtureProject(
        "globex", "storefront", 21, "globex0storefront0key00000000021", "https://globex.test", 3
    ),
    FixtureProject(
        "globex", "admin", 22, "globex0admin0key0000000000000022", "https://admin.globex.test", 1
    ),
)

USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.39 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
)

PATHS = (
    "/",
    "/login",
    "/dashboard",
    "/settings/profile",
    "/settings/billing",
    "/search?q=replay",
    "/products/42",
    "/products/7",
    "/cart",
    "/checkout/payment",
    "/docs/getting-started",
    "/issues/12345",
)
RELEASES = ("frontend@1.4.0", "frontend@1.4.1", "frontend@1.5.0", "frontend@2.0.0-rc.1")
ENVIRONMENTS = ("production", "production", "production", "staging", "development")
PLANS = ("free", "team", "business", "enterprise")
LOCALES = ("en-US", "de-DE", "fr-FR", "ja-JP", "pt-BR")
FIRST_NAMES = ("ada", "grace", "linus", "margaret", "alan", "barbara", "ken", "radia", "edsger")

# Clickable elements of the generated pages: (tag, id, classes, text, extra attributes).
ELEMENTS: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    ("button", "save-btn", "btn primary", "Save", {"data-testid": "save"}),
    ("button", "cancel-btn", "btn", "Cancel", {"aria-label": "Cancel changes"}),
    ("a", "nav-home", "nav-link", "Home", {"role": "link", "title": "Go home"}),
    ("button", "buy-now", "btn cta large", "Buy now", {"data-sentry-component": "BuyButton"}),
    ("input", "search-box", "form-control", "", {"role": "searchbox"}),
    ("div", "promo", "banner promo", "Spring sale", {}),
    ("img", "logo", "brand", "", {"alt": "Company logo"}),
    ("button", "broken-submit", "btn danger", "Submit", {"data-testid": "submit"}),
)


@dataclass(frozen=True)
class FixtureEnvelope:
    """One envelope file: its name, its body and the project it belongs to."""

    name: str
    project_id: int
    body: bytes
    user_agent: str


def _hex(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def _dsn(project: FixtureProject) -> str:
    return f"http://{project.dsn_key}@127.0.0.1/{project.id}"


def _envelope(headers: dict, items: list[tuple[dict, bytes]]) -> bytes:
    parts = [orjson.dumps(headers)]
    for item_headers, payload in items:
        parts.append(orjson.dumps(item_headers))
        parts.append(payload)
    return b"\n".join(parts)


def _dom(site: str, path: str) -> dict:
    """A small serialised rrweb DOM holding every clickable element, ids from 1."""
    children = []
    node_id = 4
    for tag, el_id, classes, text, extra in ELEMENTS:
        attrs = {"id": el_id, "class": classes, **extra}
        kids = [{"type": 3, "textContent": text, "id": node_id + 1}] if text else []
        children.append(
            {"type": 2, "tagName": tag, "attributes": attrs, "childNodes": kids, "id": node_id}
        )
        node_id += 2
    body = {"type": 2, "tagName": "body", "attributes": {}, "childNodes": children, "id": 3}
    html = {"type": 2, "tagName": "html", "attributes": {"lang": "en"}, "childNodes": [body]}
    html["id"] = 2
    return {"type": 0, "childNodes": [html], "id": 1}


def _element_node(index: int) -> dict:
    tag, el_id, classes, text, extra = ELEMENTS[index]
    attrs = {"id": el_id, "class": classes}
    for key, value in extra.items():
        attrs["testId" if key in ("data-testid", "data-test-id") else key] = value
    return {"id": 4 + 2 * index, "tagName": tag, "textContent": text, "attributes": attrs}


def _breadcrumb(ts: float, category: str, node_index: int, **data: object) -> dict:
    node = _element_node(node_index)
    tag, el_id, classes, _, _ = ELEMENTS[node_index]
    message = "body > " + tag + "#" + el_id + "".join("." + c for c in classes.split())
    payload = {
        "timestamp": ts,
        "type": "default",
        "category": category,
        "message": message,
        "data": {"nodeId": node["id"], "node": node, **data},
    }
    return {
        "type": 5,
        "timestamp": int(ts * 1000),
        "data": {"tag": "breadcrumb", "payload": payload},
    }


class _ReplayWriter:
    """Builds the envelopes of one replay."""

    def __init__(self, rng: random.Random, project: FixtureProject, start: datetime):
        self.rng = rng
        self.project = project
        self.start = start
        self.replay_id = _hex(rng)
        self.user_agent = rng.choice(USER_AGENTS)
        first = rng.choice(FIRST_NAMES)
        self.user = {"id": str(1000 + rng.randrange(60)), "email": f"{first}@example.com"}
        if rng.random() < 0.6:
            self.user["username"] = first.capitalize()
        self.user["ip_address"] = (
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        )
        self.release = rng.choice(RELEASES)
        self.environment = rng.choice(ENVIRONMENTS)
        self.tags = {"plan": rng.choice(PLANS), "locale": rng.choice(LOCALES)}
        if rng.random() < 0.3:
            self.tags["feature.flag"] = rng.choice(("new-nav", "dark-mode", "beta-search"))
        if rng.random() < 0.5:
            self.tags["transaction"] = rng.choice(PATHS)
        self.replay_type = "session" if rng.random() < 0.8 else "buffer"

    def envelopes(self) -> Iterator[FixtureEnvelope]:
        rng = self.rng
        segments = 1 + min(int(rng.expovariate(0.6)), 5)
        t = self.start.timestamp()
        start_ts = t
        path = rng.choice(PATHS)
        dead_index = rng.choice((0, 1, 3, 7)) if rng.random() < 0.25 else None
        rage = dead_index is not None and rng.random() < 0.5
        for segment_id in range(segments):
            events: list[dict] = []
            urls: list[str] = []
            seg_start = t
            if segment_id == 0:
                urls.append(self.project.site + path)
                events.append(
                    {
                        "type": 4,
                        "timestamp": int(t * 1000),
                        "data": {"href": urls[0], "width": 1280, "height": 720},
                    }
                )
                events.append(
                    {
                        "type": 2,
                        "timestamp": int(t * 1000) + 1,
                        "data": {
                            "node": _dom(self.project.site, path),
                            "initialOffset": {"left": 0, "top": 0},
                        },
                    }
                )
            elif rng.random() < 0.5:
                path = rng.choice(PATHS)
                urls.append(self.project.site + path)
            for _ in range(rng.randrange(0, 4)):
                t += rng.uniform(0.5, 6.0)
                index = rng.randrange(len(ELEMENTS))
                events.append(_breadcrumb(t, "ui.click", index))
                events.append(
                    {
                        "type": 3,
                        "timestamp": int(t * 1000) + 20,
                        "data": {"source": 2, "type": 2, "id": 4 + 2 * index, "x": 10, "y": 20},
                    }
                )
            if dead_index is not None and segment_id == segments - 1:
                t += rng.uniform(0.5, 2.0)
                clicks = 6 if rage else 1
                events.append(_breadcrumb(t, "ui.click", dead_index))
                events.append(
                    _breadcrumb(
                        t,
                        "ui.slowClickDetected",
                        dead_index,
                        url=self.project.site + path,
                        timeAfterClickMs=7000,
                        endReason="timeout",
                        clickCount=clicks,
                    )
                )
            error_ids: list[str] = []
            if rng.random() < 0.15:
                t += rng.uniform(0.2, 3.0)
                error_id = _hex(rng)
                error_ids.append(error_id)
                yield self._error_envelope(
                    error_id, t, rng.choice(("error", "error", "fatal", "warning", "info"))
                )
            t += rng.uniform(1.0, 30.0)
            events.append(
                {
                    "type": 5,
                    "timestamp": t,
                    "data": {
                        "tag": "performanceSpan",
                        "payload": {
                            "op": "memory",
                            "description": "memory",
                            "startTimestamp": seg_start,
                            "endTimestamp": t,
                            "data": {
                                "memory": {"usedJSHeapSize": 1_000_000 + rng.randrange(10**6)}
                            },
                        },
                    },
                }
            )
            yield self._segment_envelope(segment_id, start_ts, t, urls, error_ids, events)

    def _segment_envelope(
        self,
        segment_id: int,
        start_ts: float,
        ts: float,
        urls: list[str],
        error_ids: list[str],
        events: list[dict],
    ) -> FixtureEnvelope:
        event = {
            "type": "replay_event",
            "replay_start_timestamp": round(start_ts, 3),
            "timestamp": round(ts, 3),
            "error_ids": error_ids,
            "trace_ids": [hashlib.md5(f"{self.replay_id}{segment_id}".encode()).hexdigest()],
            "urls": urls,
            "replay_id": self.replay_id,
            "segment_id": segment_id,
            "replay_type": self.replay_type,
            "request": {
                "url": urls[0] if urls else self.project.site,
                "headers": {"User-Agent": self.user_agent},
            },
            "contexts": {"culture": {"locale": self.tags["locale"], "timezone": "UTC"}},
            "event_id": self.replay_id,
            "environment": self.environment,
            "release": self.release,
            "dist": "web" if self.project.id == 12 else None,
            "sdk": {"name": SDK_NAME, "version": SDK_VERSION, "settings": {"infer_ip": "never"}},
            "user": self.user,
            "tags": self.tags,
            "platform": "javascript",
        }
        if event["dist"] is None:
            del event["dist"]
        recording = b'{"segment_id":%d}\n' % segment_id + zlib.compress(orjson.dumps(events))
        headers = {
            "event_id": self.replay_id,
            "sent_at": _iso(ts),
            "sdk": {"name": SDK_NAME, "version": SDK_VERSION},
            "dsn": _dsn(self.project),
        }
        body = _envelope(
            headers,
            [
                ({"type": "replay_event"}, orjson.dumps(event)),
                ({"type": "replay_recording", "length": len(recording)}, recording),
            ],
        )
        return FixtureEnvelope(
            f"{self.replay_id[:12]}-s{segment_id:02d}", self.project.id, body, self.user_agent
        )

    def _error_envelope(self, error_id: str, ts: float, level: str) -> FixtureEnvelope:
        event = {
            "event_id": error_id,
            "timestamp": round(ts, 3),
            "level": level,
            "platform": "javascript",
            "environment": self.environment,
            "release": self.release,
            "exception": {
                "values": [{"type": "TypeError", "value": "Cannot read properties of undefined"}]
            },
            "tags": {"replayId": self.replay_id},
            "contexts": {"replay": {"replay_id": self.replay_id}},
            "user": self.user,
        }
        headers = {
            "event_id": error_id,
            "sent_at": _iso(ts),
            "sdk": {"name": SDK_NAME, "version": SDK_VERSION},
            "dsn": _dsn(self.project),
            "trace": {"trace_id": _hex(self.rng), "replay_id": self.replay_id},
        }
        body = _envelope(headers, [({"type": "event"}, orjson.dumps(event))])
        return FixtureEnvelope(
            f"{self.replay_id[:12]}-e{error_id[:6]}", self.project.id, body, self.user_agent
        )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def generate(
    anchor: datetime = DEFAULT_ANCHOR, *, seed: int = DEFAULT_SEED, replays: int = DEFAULT_REPLAYS
) -> Iterator[FixtureEnvelope]:
    """Envelopes of `replays` replays started in the 30 days before `anchor`, in time order."""
    rng = random.Random(seed)
    weights = [p.weight for p in PROJECTS]
    starts = sorted(
        anchor - timedelta(seconds=rng.uniform(600, 30 * 86400)) for _ in range(replays)
    )
    for start in starts:
        project = rng.choices(PROJECTS, weights)[0]
        yield from _ReplayWriter(rng, project, start).envelopes()


def catalog_document() -> dict:
    return {
        "projects": [
            {"org": p.org, "slug": p.slug, "id": p.id, "dsn_key": p.dsn_key} for p in PROJECTS
        ]
    }


def write_fixtures(folder: str | Path, anchor: datetime = DEFAULT_ANCHOR) -> int:
    """Write the envelopes as numbered `.envelope` files plus `catalog.json`; returns the count."""
    out = Path(folder)
    envelopes_dir = out / "envelopes"
    envelopes_dir.mkdir(parents=True, exist_ok=True)
    for old in envelopes_dir.glob("*.envelope"):
        old.unlink()
    count = 0
    for count, envelope in enumerate(generate(anchor), start=1):
        (envelopes_dir / f"{count:05d}-{envelope.name}.envelope").write_bytes(envelope.body)
    (out / "catalog.json").write_bytes(orjson.dumps(catalog_document(), option=orjson.OPT_INDENT_2))
    return count


def main(argv: list[str] | None = None) -> int:
    """`python -m replaystore.fixtures [FOLDER]`: (re)write the fixture files (issue 16:
    `--help` used to become a folder of 593 envelopes)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m replaystore.fixtures",
        description="Write the deterministic fixture envelopes and catalog.json to FOLDER.",
    )
    parser.add_argument("folder", nargs="?", default="data/fixtures", help="default: %(default)s")
    target = parser.parse_args(argv).folder
    print(f"wrote {write_fixtures(target)} envelopes to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
