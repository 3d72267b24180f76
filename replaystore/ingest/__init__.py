"""Ingest stage (docs/architecture.md): envelopes and JSONL → a validated, deduplicated WriteBatch.

Public entry points:

* `build_batch(envelopes)`: `EnvelopeInput`s (SDK envelopes) → `WriteBatch`;
* `parse_jsonl(lines, name)`: a JSON-lines export (docs/jsonl-format.md) → `WriteBatch`;
* `envelope_headers(body)` / `envelope_event_id(body)`: the envelope header (its event id is
  the HTTP 200 answer; its `dsn` carries the key of envelopes sent through a tunnel).

Every malformed input raises `IngestError` naming the envelope (or line), item and field.
"""

from replaystore.ingest.envelopes import (
    EnvelopeInput,
    build_batch,
    dsn_project_id,
    dsn_public_key,
    envelope_event_id,
    envelope_headers,
    envelope_items_summary,
)
from replaystore.ingest.inflate import MAX_DECOMPRESSED
from replaystore.ingest.jsonl import export_jsonl, parse_jsonl

__all__ = [
    "MAX_DECOMPRESSED",
    "EnvelopeInput",
    "build_batch",
    "dsn_project_id",
    "dsn_public_key",
    "envelope_event_id",
    "envelope_headers",
    "envelope_items_summary",
    "export_jsonl",
    "parse_jsonl",
]
