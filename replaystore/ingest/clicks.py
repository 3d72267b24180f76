"""Click rows from rrweb breadcrumbs."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from replaystore.ingest.values import seconds_to_datetime
from replaystore.storage.properties import partition_month

MAX_CLICKS_PER_SEGMENT = 20
MAX_CLASSES = 10
SLOW_CLICK_TAGS = frozenset({"a", "button", "input"})
DEAD_AFTER_MS = 7000
RAGE_COUNT = 5

# Column → (attribute name, max length); testid and class have their own rules.
_ATTRIBUTES = {
    "id": ("id", 64),
    "role": ("role", 32),
    "alt": ("alt", 64),
    "aria_label": ("aria-label", 64),
    "title": ("title", 64),
    "component_name": ("data-sentry-component", 64),
}
_TESTID_KEYS = ("testId", "data-testid", "data-test-id")


def _number(data: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def classify(category: Any, data: Mapping[str, Any]) -> tuple[bool, bool] | None:
    """(is_dead, is_rage) for a click breadcrumb, or None when it makes no click row."""
    if category == "ui.click":
        return False, False
    if category != "ui.slowClickDetected":
        return None
    node = data.get("node")
    tag = node.get("tagName") if isinstance(node, dict) else None
    after = _number(data, "timeAfterClickMs", "timeafterclickms")
    if data.get("endReason") != "timeout" or tag not in SLOW_CLICK_TAGS:
        return None
    if after is None or after < DEAD_AFTER_MS:
        return None
    count = _number(data, "clickCount", "clickcount")
    return True, count is not None and count >= RAGE_COUNT


def _attr(attributes: Mapping[str, Any], key: str, limit: int) -> str:
    # The SDK only sends strings; anything else is treated as absent.
    value = attributes.get(key)
    return value[:limit] if isinstance(value, str) else ""


def _classes(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    return [part for part in value.split(" ") if part][:MAX_CLASSES]


def _testid(attributes: Mapping[str, Any]) -> str:
    for key in _TESTID_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value[:64]
    return ""


def event_hash(replay_id: str, seconds: float, node_id: int) -> str:
    """md5 hex of replay id + whole seconds + node id: a resent or upgraded click collides."""
    return hashlib.md5(f"{replay_id}{int(seconds)}{node_id}".encode()).hexdigest()


def click_row(payload: Mapping[str, Any], replay_id: str) -> dict[str, Any] | None:
    """The click columns for one breadcrumb payload, or None when it is not a usable click."""
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    kind = classify(payload.get("category"), data)
    node = data.get("node")
    seconds = payload.get("timestamp")
    if kind is None or not isinstance(node, dict):
        return None
    node_id = node.get("id")
    if isinstance(node_id, bool) or not isinstance(node_id, int) or not 0 <= node_id < 2**63:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not math.isfinite(seconds) or not 0 <= seconds <= 253402300799:
        return None
    attributes = node.get("attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    tag = node.get("tagName")
    text = node.get("textContent")
    moment = seconds_to_datetime(float(seconds), "timestamp")
    row: dict[str, Any] = {
        "replay_id": replay_id,
        "event_hash": event_hash(replay_id, seconds, node_id),
        "timestamp": moment,
        "node_id": node_id,
        "tag": tag[:32] if isinstance(tag, str) else "",
        "class": _classes(attributes.get("class")),
        "text": text[:1024] if isinstance(text, str) else "",
        "testid": _testid(attributes),
        "is_dead": kind[0],
        "is_rage": kind[1],
        "month": partition_month(moment),
    }
    for column, (key, limit) in _ATTRIBUTES.items():
        row[column] = _attr(attributes, key, limit)
    return row


def _breadcrumbs(events: Iterable[Any]) -> Iterable[Mapping[str, Any]]:
    for event in events:
        if not isinstance(event, dict) or event.get("type") != 5:
            continue
        data = event.get("data")
        if isinstance(data, dict) and data.get("tag") == "breadcrumb":
            payload = data.get("payload")
            if isinstance(payload, dict):
                yield payload


def extract_clicks(events: Iterable[Any], replay_id: str) -> list[dict[str, Any]]:
    """Click rows of one recording segment, in event order, at most 20."""
    rows: list[dict[str, Any]] = []
    for payload in _breadcrumbs(events):
        row = click_row(payload, replay_id)
        if row is not None:
            rows.append(row)
            if len(rows) == MAX_CLICKS_PER_SEGMENT:
                break
    return rows
