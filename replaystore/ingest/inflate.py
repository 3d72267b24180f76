"""Bounded decompression: zlib, gzip and raw deflate streams with a maximum output size."""

from __future__ import annotations

import zlib

from replaystore.ingest.values import fail

# A decompressed body or recording larger than this is refused (a zip bomb guard).
MAX_DECOMPRESSED = 100 * 1024 * 1024

ZLIB = zlib.MAX_WBITS
GZIP = 16 + zlib.MAX_WBITS
RAW_DEFLATE = -zlib.MAX_WBITS


def inflate(data: bytes, wbits: int, limit: int, *, field: str = "body") -> bytes:
    """Decompress one complete stream (gzip: every member) into at most `limit` bytes."""
    out = bytearray()
    rest = data
    while True:
        engine = zlib.decompressobj(wbits)
        try:
            chunk = engine.decompress(rest, limit + 1 - len(out))
        except zlib.error as error:
            raise fail(field, f"corrupt compressed data ({error})") from None
        out += chunk
        if len(out) > limit or engine.unconsumed_tail:
            raise fail(field, f"decompressed size exceeds the limit of {limit} bytes")
        if not engine.eof:
            raise fail(field, "truncated compressed data")
        rest = engine.unused_data
        # Concatenated gzip members are one valid stream (RFC 1952 §2.2); zlib allows no tail.
        if not rest or wbits != GZIP:
            break
    if rest:
        raise fail(field, "trailing bytes after the compressed data")
    return bytes(out)


def is_zlib(data: bytes) -> bool:
    """True when `data` starts with a valid zlib (RFC 1950) header, e.g. `78 9c`."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo an HTTP Content-Encoding (identity, gzip, x-gzip, deflate), bounded by `limit`."""
    if not content_encoding:
        return body
    # Encodings are listed in the order they were applied, so undo them last first.
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        if coding in ("", "identity"):
            continue
        if coding in ("gzip", "x-gzip"):
            body = inflate(body, GZIP, limit, field="content-encoding")
        elif coding == "deflate":
            # HTTP "deflate" means a zlib stream, but some clients send raw deflate.
            wbits = ZLIB if is_zlib(body) else RAW_DEFLATE
            body = inflate(body, wbits, limit, field="content-encoding")
        else:
            raise fail("content-encoding", f"unsupported encoding {coding!r}")
    return body
