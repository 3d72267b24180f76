"""A `replay_event` payload → one `segments` row, normalised as Relay does."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from replaystore.ingest import values as v
from replaystore.ingest.origin import Origin
from replaystore.ingest.useragent import parse_user_agent
from replaystore.storage.properties import partition_month

MAX_LIST = 100  # urls, error_ids, trace_ids (Relay truncates)
MAX_URLS_BYTES = 8192  # Relay's byte budget for the whole `urls` list
MAX_SHORT = 64  # replay_type, platform, environment, dist
MAX_RELEASE = 200
MAX_TAG = 200  # tag keys and values
MAX_SEGMENT_ID = 2**31 - 1  # stored as int32

# Relay's valid platforms; anything else becomes "other".
PLATFORMS = frozenset(
    {
        *("as", "c", "cfml", "cocoa", "csharp", "elixir", "haskell", "go", "groovy", "java"),
        *("javascript", "native", "node", "objc", "other", "perl", "php", "python", "ruby"),
    }
)
LEGACY_IP_PLATFORMS = frozenset({"javascript", "cocoa", "objc"})
AUTO_IP = "{{auto}}"


def segment_id(value: Any, field: str = "segment_id") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise v.fail(field, f"expected an integer >= 0, got {v.describe(value)}")
    if not 0 <= value <= MAX_SEGMENT_ID:
        raise v.fail(field, f"out of range 0..{MAX_SEGMENT_ID}: {value}")
    return value


def _platform(value: Any) -> str:
    return value if isinstance(value, str) and value in PLATFORMS else "other"


def _urls(value: Any) -> list[str]:
    urls: list[str] = []
    budget = MAX_URLS_BYTES
    for index, url in enumerate(v.array(value, "urls")[:MAX_LIST]):
        if not isinstance(url, str):
            raise v.fail(f"urls[{index}]", f"expected a string, got {v.describe(url)}")
        if budget <= 0:
            break
        encoded = url.encode()
        if len(encoded) > budget:
            url = encoded[:budget].decode(errors="ignore")
        budget -= len(encoded)
        urls.append(url)
    return urls


def _ids(value: Any, field: str) -> list[str]:
    # Relay checks every entry, then truncates.
    ids = [v.uuid_hex(item, f"{field}[{i}]") for i, item in enumerate(v.array(value, field))]
    return ids[:MAX_LIST]


def _tag_pairs(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, dict):
        return list(value.items())
    pairs: list[tuple[Any, Any]] = []
    for index, pair in enumerate(v.array(value, "tags")):
        if not isinstance(pair, list) or len(pair) != 2:
            raise v.fail(f"tags[{index}]", f"expected a [key, value] pair, got {v.describe(pair)}")
        pairs.append((pair[0], pair[1]))
    return pairs


def tags(value: Any) -> tuple[list[str], list[str], str]:
    """Tags (object or list of pairs) → keys, values, and the `transaction` tag as title."""
    keys: list[str] = []
    values: list[str] = []
    title = ""
    for key, raw in _tag_pairs(value):
        if not isinstance(key, str):
            raise v.fail("tags", f"tag key must be a string, got {v.describe(key)}")
        if not key:
            continue
        text = v.lenient_text(raw, f"tags.{key[:40]}", MAX_TAG)
        if key == "transaction":
            title = title or text
            continue
        keys.append(v.cut(key, MAX_TAG))
        values.append(text)
    return keys, values, title


def _header(headers: Any, name: str, field: str) -> str | None:
    """A request header by case-insensitive name; headers are an object or a list of pairs."""
    if headers is None:
        return None
    if isinstance(headers, dict):
        pairs = list(headers.items())
    elif isinstance(headers, list):
        pairs = [tuple(p) for p in headers if isinstance(p, list) and len(p) == 2]
    else:
        raise v.fail(field, f"expected an object or a list of pairs, got {v.describe(headers)}")
    for key, value in pairs:
        if isinstance(key, str) and key.lower() == name and isinstance(value, str) and value:
            return value
    return None


def _ip(user: Mapping[str, Any], event: Mapping[str, Any], platform: str, origin: Origin) -> str:
    given = v.text(user.get("ip_address"), "user.ip_address") or None
    settings = v.obj(v.obj(event.get("sdk"), "sdk").get("settings"), "sdk.settings")
    infer = settings.get("infer_ip")
    if given == AUTO_IP:
        given = None if infer == "never" else origin.client_ip
    elif given is None and infer == "auto":
        given = origin.client_ip
    elif given is None and infer != "never":  # no setting: Relay's legacy rules
        request = v.obj(event.get("request"), "request")
        env = request.get("env")
        remote = env.get("REMOTE_ADDR") if isinstance(env, dict) else None
        if isinstance(remote, str) and remote:
            given = remote
        elif platform in LEGACY_IP_PLATFORMS:
            given = origin.client_ip
    return _ipv4(given)


def _ipv4(address: str | None) -> str:
    """Dotted IPv4 text, or "" for IPv6 (never shown) and unparseable addresses."""
    if not address:
        return ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ""
    return str(parsed) if parsed.version == 4 else ""


def _context(contexts: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    value = contexts.get(name)
    return None if value is None else v.obj(value, f"contexts.{name}")


def _ua_columns(event: Mapping[str, Any], contexts: Mapping[str, Any], origin: Origin) -> dict:
    request = v.obj(event.get("request"), "request")
    agent = _header(request.get("headers"), "user-agent", "request.headers") or origin.user_agent
    parsed = parse_user_agent(agent) if agent else None
    cols: dict[str, str] = {}

    for name in ("browser", "os"):
        context = _context(contexts, name)
        found = getattr(parsed, name) if parsed else None
        if context is not None:
            for key in ("name", "version"):
                cols[f"{name}_{key}"] = v.lenient_text(context.get(key), f"contexts.{name}.{key}")
        elif found:
            cols[f"{name}_name"], cols[f"{name}_version"] = found.name, found.version

    device = _context(contexts, "device")
    if device is not None:
        for key in ("name", "brand", "family", "model"):
            cols[f"device_{key}"] = v.lenient_text(device.get(key), f"contexts.device.{key}")
    elif parsed and parsed.device:
        cols["device_family"] = parsed.device.family
        cols["device_brand"] = parsed.device.brand
        cols["device_model"] = parsed.device.model
    return cols


def _user_columns(event: Mapping[str, Any], platform: str, origin: Origin) -> dict[str, str]:
    user = v.obj(event.get("user"), "user")
    geo = v.obj(user.get("geo"), "user.geo")
    return {
        "user_id": v.lenient_text(user.get("id"), "user.id"),
        "user_name": v.lenient_text(user.get("username"), "user.username"),
        "user_email": v.text(user.get("email"), "user.email"),
        "user_ip": _ip(user, event, platform, origin),
        "user_geo_city": v.text(geo.get("city"), "user.geo.city"),
        "user_geo_country_code": v.text(geo.get("country_code"), "user.geo.country_code"),
        "user_geo_region": v.text(geo.get("region"), "user.geo.region"),
        "user_geo_subdivision": v.text(geo.get("subdivision"), "user.geo.subdivision"),
    }


def normalise_replay_event(event: Mapping[str, Any], origin: Origin) -> dict[str, Any]:
    """The `segments` row for one replay event (without `has_blob`, which the batch decides)."""
    if "replay_id" not in event or event["replay_id"] is None:
        raise v.fail("replay_id", "required")
    if "segment_id" not in event or event["segment_id"] is None:
        raise v.fail("segment_id", "required")
    replay_id = v.uuid_hex(event["replay_id"], "replay_id")
    v.optional_uuid_hex(event.get("event_id"), "event_id")
    moment = origin.clamped(
        v.optional_timestamp(event.get("timestamp"), "timestamp") or origin.received
    )
    start = v.optional_timestamp(event.get("replay_start_timestamp"), "replay_start_timestamp")
    platform = _platform(event.get("platform"))
    contexts = v.obj(event.get("contexts"), "contexts")
    replay_ctx = _context(contexts, "replay") or {}
    sdk = v.obj(event.get("sdk"), "sdk")
    tag_keys, tag_values, title = tags(event.get("tags"))
    row: dict[str, Any] = {
        "project_id": origin.project_id,
        "replay_id": replay_id,
        "segment_id": segment_id(event["segment_id"]),
        "timestamp": moment,
        "replay_start_timestamp": None if start is None else origin.clamped(start),
        "received": origin.received,
        "replay_type": v.text(event.get("replay_type"), "replay_type", MAX_SHORT),
        "platform": platform,
        "environment": v.text(event.get("environment"), "environment", MAX_SHORT),
        "release": v.lenient_text(event.get("release"), "release", MAX_RELEASE),
        "dist": v.lenient_text(event.get("dist"), "dist", MAX_SHORT),
        "title": title,
        "urls": _urls(event.get("urls")),
        "error_ids": _ids(event.get("error_ids"), "error_ids"),
        "trace_ids": _ids(event.get("trace_ids"), "trace_ids"),
        **_user_columns(event, platform, origin),
        "browser_name": "",
        "browser_version": "",
        "os_name": "",
        "os_version": "",
        "device_name": "",
        "device_brand": "",
        "device_family": "",
        "device_model": "",
        "sdk_name": v.text(sdk.get("name"), "sdk.name"),
        "sdk_version": v.text(sdk.get("version"), "sdk.version"),
        "tags_key": tag_keys,
        "tags_value": tag_values,
        "error_sample_rate": v.number(
            replay_ctx.get("error_sample_rate"), "contexts.replay.error_sample_rate", -1.0
        ),
        "session_sample_rate": v.number(
            replay_ctx.get("session_sample_rate"), "contexts.replay.session_sample_rate", -1.0
        ),
        "month": partition_month(moment),
    }
    row.update(_ua_columns(event, contexts, origin))
    return row
