"""Error events (item type `event`) that name a replay → `links` rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replaystore.errors import IngestError
from replaystore.ingest import values as v
from replaystore.ingest.origin import Origin
from replaystore.storage.properties import partition_month

TRANSACTION_LIMIT = 200  # Relay trims a transaction name to this many characters
LEVELS = frozenset({"fatal", "error", "warning", "info", "debug"})
# Relay's spellings that mean one of the levels above.
LEVEL_ALIASES = {"critical": "fatal", "warn": "warning", "log": "info"}


def _tag(tags: Any, key: str) -> Any:
    if isinstance(tags, dict):
        return tags.get(key)
    if isinstance(tags, list):
        for pair in tags:
            if isinstance(pair, list) and len(pair) == 2 and pair[0] == key:
                return pair[1]
    return None


def _as_uuid(value: Any) -> str | None:
    try:
        return v.uuid_hex(value, "replay_id")
    except IngestError:
        return None


def linked_replay_id(event: Mapping[str, Any], envelope_headers: Mapping[str, Any]) -> str | None:
    """The replay an error names: header `trace.replay_id`, `contexts.replay`, or tag `replayId`.

    A source whose value is not a UUID is skipped (tags are free-form user data).
    """
    trace = envelope_headers.get("trace")
    contexts = event.get("contexts")
    replay_ctx = contexts.get("replay") if isinstance(contexts, dict) else None
    candidates = (
        trace.get("replay_id") if isinstance(trace, dict) else None,
        replay_ctx.get("replay_id") if isinstance(replay_ctx, dict) else None,
        _tag(event.get("tags"), "replayId"),
    )
    for candidate in candidates:
        found = _as_uuid(candidate)
        if found is not None:
            return found
    return None


def level(value: Any) -> str:
    if value is None:
        return "error"
    if not isinstance(value, str):
        raise v.fail("level", f"expected a string, got {v.describe(value)}")
    lowered = LEVEL_ALIASES.get(value.lower(), value.lower())
    return lowered if lowered in LEVELS else "error"


def link_row(
    event: Mapping[str, Any], envelope_headers: Mapping[str, Any], origin: Origin
) -> dict[str, Any] | None:
    """The `links` row of an error event, or None when it names no replay or has no id."""
    replay_id = linked_replay_id(event, envelope_headers)
    raw_id = event.get("event_id") or envelope_headers.get("event_id")
    if replay_id is None or raw_id is None:
        return None
    moment = origin.clamped(
        v.optional_timestamp(event.get("timestamp"), "timestamp") or origin.received
    )
    return {
        "project_id": origin.project_id,
        "replay_id": replay_id,
        "event_id": v.uuid_hex(raw_id, "event_id"),
        "level": level(event.get("level")),
        "timestamp": moment,
        "month": partition_month(moment),
        # replay-count's `transaction:[...]` counts replays by it.
        "transaction": v.lenient_text(event.get("transaction"), "transaction", TRANSACTION_LIMIT),
    }
