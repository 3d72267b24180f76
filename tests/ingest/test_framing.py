"""Envelope framing: lengths, newlines, multi-byte UTF-8, content encodings, malformed bodies."""

from __future__ import annotations

import gzip
import zlib

import pytest

from replaystore.errors import IngestError
from replaystore.ingest.framing import parse_envelope
from replaystore.ingest.inflate import ZLIB, decode_content, inflate, is_zlib

H = b'{"event_id":"a1b2c3d4e5f64789a0b1c2d3e4f5a6b7"}'
UTF8 = "héllo ✓ 🎉".encode()  # 9 characters, 15 bytes


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (H, []),
        (H + b"\n", []),
        (H + b'\n{"type":"a"}\n{"x":1}', [("a", b'{"x":1}')]),
        (H + b'\n{"type":"a"}\n{"x":1}\n', [("a", b'{"x":1}')]),
        (H + b'\n{"type":"a","length":7}\n{"x":1}', [("a", b'{"x":1}')]),
        (H + b'\n{"type":"a","length":7}\n{"x":1}\n', [("a", b'{"x":1}')]),
        (H + b'\n{"type":"a","length":3}\na\nb\n{"type":"b"}\nc', [("a", b"a\nb"), ("b", b"c")]),
        (H + b'\n{"type":"a","length":0}\n\n{"type":"b"}\nc', [("a", b""), ("b", b"c")]),
        (H + b'\n{"type":"a","length":null}\nxy', [("a", b"xy")]),
        (H + b'\n{"type":"a"}\n', [("a", b"")]),
        (H + b'\n{"type":"a"}', [("a", b"")]),
        (H + b'\n{"type":"a","length":15}\n' + UTF8, [("a", UTF8)]),
        (H + b'\n{"type":"a"}\n' + UTF8 + b'\n{"type":"b"}\nz', [("a", UTF8), ("b", b"z")]),
        (H + b'\n{"type":"a","length":4}\n\x78\x9c\n\x00', [("a", b"\x78\x9c\n\x00")]),
        (H + b'\n\n{"type":"a"}\nq\n\n', [("a", b"q")]),
    ],
    ids=[
        "header-only",
        "header-newline",
        "no-length-no-trailing-newline",
        "no-length-trailing-newline",
        "length-no-trailing-newline",
        "length-trailing-newline",
        "length-payload-with-newlines",
        "zero-length",
        "length-null",
        "empty-payload-at-end",
        "header-at-very-end",
        "length-counts-utf8-bytes",
        "utf8-without-length",
        "binary-payload",
        "blank-lines-tolerated",
    ],
)
def test_items(body: bytes, expected: list[tuple[str, bytes]]) -> None:
    parsed = parse_envelope(body)
    assert [(i.type, i.payload) for i in parsed.items] == expected
    assert [i.index for i in parsed.items] == list(range(len(expected)))
    assert parsed.headers["event_id"] == "a1b2c3d4e5f64789a0b1c2d3e4f5a6b7"


@pytest.mark.parametrize(
    ("body", "item", "field", "words"),
    [
        (b"", "header", None, "empty envelope"),
        (b"{nope\n", "header", None, "envelope header is not a JSON object"),
        (b"[1]\n", "header", None, "envelope header is not a JSON object"),
        (H + b"\n{bad}\nx", "item 0", None, "item header is not a JSON object"),
        (H + b'\n{"length":1}\nx', "item 0", "type", "non-empty string"),
        (H + b'\n{"type":7}\nx', "item 0", "type", "non-empty string"),
        (H + b'\n{"type":"a","length":9}\nshort', "item 0", "length", "past the end"),
        (H + b'\n{"type":"a","length":6}\n' + "é".encode() * 2, "item 0", "length", "past"),
        (H + b'\n{"type":"a","length":-1}\nx', "item 0", "length", "non-negative"),
        (H + b'\n{"type":"a","length":"3"}\nabc', "item 0", "length", "non-negative"),
        (H + b'\n{"type":"a","length":true}\nabc', "item 0", "length", "non-negative"),
        (H + b'\n{"type":"a","length":2}\nabc', "item 0", "length", "no newline after"),
        (H + b'\n{"type":"a"}\nx\n{"type":"b","length":5}\nxy', "item 1", "length", "past"),
    ],
    ids=[
        "empty",
        "bad-json-header",
        "header-not-object",
        "bad-item-header",
        "missing-type",
        "type-not-string",
        "length-past-end",
        "length-in-characters-not-bytes",
        "negative-length",
        "string-length",
        "bool-length",
        "payload-longer-than-length",
        "second-item-truncated",
    ],
)
def test_malformed(body: bytes, item: str, field: str | None, words: str) -> None:
    with pytest.raises(IngestError) as caught:
        parse_envelope(body)
    assert caught.value.item == item
    assert caught.value.field == field
    assert words in str(caught.value)


PLAIN = H + b'\n{"type":"a"}\nxyz'


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (PLAIN, None),
        (PLAIN, "identity"),
        (gzip.compress(PLAIN), "gzip"),
        (gzip.compress(PLAIN), "x-gzip"),
        (gzip.compress(PLAIN[:20]) + gzip.compress(PLAIN[20:]), "gzip"),
        (zlib.compress(PLAIN), "deflate"),
        (zlib.compress(PLAIN)[2:-4], "deflate"),
        (gzip.compress(zlib.compress(PLAIN)), "deflate, gzip"),
        (gzip.compress(PLAIN), "GZIP"),
    ],
    ids=[
        "none",
        "identity",
        "gzip",
        "x-gzip",
        "gzip-two-members",
        "deflate-zlib",
        "deflate-raw",
        "stacked",
        "case-insensitive",
    ],
)
def test_content_encoding(encoded: bytes, encoding: str | None) -> None:
    decoded = decode_content(encoded, encoding, 10_000)
    assert decoded == PLAIN
    assert [i.payload for i in parse_envelope(decoded).items] == [b"xyz"]


@pytest.mark.parametrize(
    ("encoded", "encoding", "words"),
    [
        (PLAIN, "gzip", "corrupt"),
        (gzip.compress(PLAIN)[:-10], "gzip", "truncated"),
        (gzip.compress(PLAIN) + b"junk", "gzip", "corrupt"),
        (zlib.compress(PLAIN) + b"junk", "deflate", "trailing bytes"),
        (PLAIN, "br", "unsupported encoding 'br'"),
        (gzip.compress(b"\0" * 20_000), "gzip", "exceeds the limit of 10000 bytes"),
        (zlib.compress(b"\0" * 10_001), "deflate", "exceeds the limit"),
    ],
    ids=["not-gzip", "truncated", "garbage-member", "zlib-tail", "brotli", "bomb", "just-over"],
)
def test_content_encoding_errors(encoded: bytes, encoding: str, words: str) -> None:
    with pytest.raises(IngestError) as caught:
        decode_content(encoded, encoding, 10_000)
    assert words in str(caught.value)
    assert caught.value.field == "content-encoding"


def test_limit_is_inclusive() -> None:
    assert len(inflate(zlib.compress(b"a" * 10_000), ZLIB, 10_000)) == 10_000


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"\x78\x9c", True), (b"\x78\x01", True), (b"\x78\xda", True), (b"[{", False), (b"x", False)],
    ids=["default", "fastest", "best", "json", "short"],
)
def test_is_zlib(data: bytes, expected: bool) -> None:
    assert is_zlib(data) is expected
