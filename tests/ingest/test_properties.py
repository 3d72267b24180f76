"""Property: any bytes as an envelope body either build a batch or raise IngestError."""

from __future__ import annotations

import json
import os
import zlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaystore.errors import IngestError
from replaystore.ingest import EnvelopeInput, build_batch, parse_jsonl
from replaystore.storage.batch import WriteBatch
from tests.ingest.builders import replay_envelope

EXAMPLES = int(os.environ.get("REPLAYSTORE_HYPOTHESIS_EXAMPLES", "200"))
PROFILE = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SEED = replay_envelope()


def _either(body: bytes, **kwargs: object) -> None:
    try:
        batch = build_batch([EnvelopeInput(body, **kwargs)], max_decompressed=1 << 16)
    except IngestError as error:
        assert error.item  # always located
        return
    assert isinstance(batch, WriteBatch)


@PROFILE
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(body: bytes) -> None:
    _either(body, project_id=1)


@PROFILE
@given(st.binary(max_size=512), st.sampled_from([None, "gzip", "deflate", "br"]))
def test_arbitrary_bytes_with_encoding(body: bytes, encoding: str | None) -> None:
    _either(body, project_id=1, content_encoding=encoding)


@PROFILE
@given(st.integers(0, len(SEED)), st.binary(max_size=16), st.integers(0, len(SEED)))
def test_mutated_real_envelope(cut: int, noise: bytes, at: int) -> None:
    """Splice noise into a valid envelope: reaches the deeper parsing stages."""
    mutated = SEED[:at] + noise + SEED[at:]
    _either(mutated[:cut] + mutated[cut + len(noise) :], project_id=1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
EVENT_KEYS = ["replay_id", "segment_id", "timestamp", "urls", "error_ids", "tags", "user"]


@PROFILE
@given(st.dictionaries(st.sampled_from(EVENT_KEYS), json_values), st.booleans())
def test_arbitrary_replay_event_fields(fields: dict, compress: bool) -> None:
    event = {"replay_id": "a" * 32, "segment_id": 0, **fields}
    events = json.dumps([{"type": 5, "data": fields}]).encode()
    body = b'{"segment_id":0}\n' + (zlib.compress(events) if compress else events)
    envelope = (
        b"{}\n"
        + b'{"type":"replay_event"}\n'
        + json.dumps(event).encode()
        + b'\n{"type":"replay_recording","length":%d}\n' % len(body)
        + body
    )
    _either(envelope, project_id=1)


@PROFILE
@given(st.lists(st.binary(max_size=200), max_size=4))
def test_arbitrary_jsonl_lines(lines: list[bytes]) -> None:
    try:
        parse_jsonl(lines)
    except IngestError as error:
        assert error.item
