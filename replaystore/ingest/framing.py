"""Envelope framing: a header line, then items of a header line and a payload.

A payload is exactly `length` bytes when the item header has `length`, else it runs to the next
newline (or the end). The newline after the last payload is optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from replaystore.errors import IngestError
from replaystore.ingest import limits
from replaystore.ingest.values import describe, fail


@dataclass(frozen=True)
class Item:
    index: int
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item]


def _item_error(index: int, reason: str, field: str | None = None) -> IngestError:
    detail = reason if field is None else f"field {field!r}: {reason}"
    return IngestError(detail, item=f"item {index}", field=field)


def _line(body: bytes, start: int) -> tuple[bytes, int]:
    """The bytes from `start` to the next newline (excluded) and the offset after it."""
    end = body.find(b"\n", start)
    if end < 0:
        return body[start:], len(body)
    return body[start:end], end + 1


def _json_object(raw: bytes, what: str) -> dict[str, Any] | None:
    try:
        value = limits.loads(raw, what)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def parse_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Parse a JSON object payload or raise IngestError saying which `what` was bad."""
    try:
        value = limits.loads(raw, what)
    except orjson.JSONDecodeError as error:
        raise fail(what, f"invalid JSON ({error})") from None
    if not isinstance(value, dict):
        raise fail(what, f"expected a JSON object, got {describe(value)}")
    return value


def _item_header(raw: bytes, index: int) -> tuple[str, int | None, dict[str, Any]]:
    headers = _json_object(raw, "item header")
    if headers is None:
        raise _item_error(index, f"item header is not a JSON object: {describe(raw[:60])}")
    kind = headers.get("type")
    if not isinstance(kind, str) or not kind:
        raise _item_error(index, f"expected a non-empty string, got {describe(kind)}", "type")
    length = headers.get("length")
    if length is not None and (
        isinstance(length, bool) or not isinstance(length, int) or length < 0
    ):
        raise _item_error(
            index, f"expected a non-negative integer, got {describe(length)}", "length"
        )
    return kind, length, headers


def parse_envelope(body: bytes) -> Envelope:
    """Split an (already decoded) envelope body into its header and items."""
    if not body.strip():
        raise IngestError("empty envelope", item="header")
    raw, pos = _line(body, 0)
    if len(raw) > limits.MAX_HEADER_LINE:
        raise limits.refuse(
            "header_line",
            "header",
            f"the envelope header line is longer than {limits.MAX_HEADER_LINE} bytes",
            413,
        )
    headers = _json_object(raw, "header")
    if headers is None:
        raise IngestError(
            f"envelope header is not a JSON object: {describe(raw[:60])}", item="header"
        )
    items: list[Item] = []
    while pos < len(body):
        raw, after = _line(body, pos)
        if not raw.strip():
            pos = after  # tolerate blank lines between items and at the end
            continue
        index = len(items)
        kind, length, item_headers = _item_header(raw, index)
        if length is None:
            payload, pos = _line(body, after)
        else:
            end = after + length
            if end > len(body):
                raise _item_error(
                    index,
                    f"{length} bytes run past the end of the body "
                    f"({max(len(body) - after, 0)} bytes left)",
                    "length",
                )
            payload = body[after:end]
            if end < len(body) and body[end : end + 1] != b"\n":
                raise _item_error(index, f"no newline after the {length}-byte payload", "length")
            pos = end + 1
        items.append(Item(index=index, type=kind, headers=item_headers, payload=payload))
    return Envelope(headers=headers, items=items)
