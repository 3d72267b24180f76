"""Bounded, streaming decompression: zlib, gzip and raw deflate with a maximum output size.

Output is produced in `CHUNK`-sized pieces (`decompressobj(max_length=...)`), each charged to
the ingest budget and offered to an optional `watch` (the JSON value counter) before the next
is made: a bomb is refused after about `limit` bytes, never after inflating it whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

from replaystore.errors import IngestError
from replaystore.ingest import limits
from replaystore.ingest.values import fail

# A decompressed body or recording larger than this is refused (a zip bomb guard). The
# browser SDK stops a replay whose event buffer passes 20 MB, so no real segment is larger.
MAX_DECOMPRESSED = 20 * 1024 * 1024
CHUNK = 256 * 1024

ZLIB = zlib.MAX_WBITS
GZIP = 16 + zlib.MAX_WBITS
RAW_DEFLATE = -zlib.MAX_WBITS

Watch = Callable[[bytes], None]


def _too_large(field: str, limit: int) -> Exception:
    return limits.refuse(
        "decompressed_size", field, f"decompressed size exceeds the limit of {limit} bytes", 413
    )


def inflate_chunks(
    data: bytes, wbits: int, limit: int, *, field: str = "body", watch: Watch | None = None
) -> Iterator[bytes]:
    """Decompress one complete stream (gzip: every member), at most `limit` bytes in all."""
    produced = 0
    rest = data
    while True:
        engine = zlib.decompressobj(wbits)
        pending = rest
        while True:
            try:
                chunk = engine.decompress(pending, min(CHUNK, limit + 1 - produced))
            except zlib.error as error:
                raise fail(field, f"corrupt compressed data ({error})") from None
            produced += len(chunk)
            if produced > limit:
                raise _too_large(field, limit)
            if chunk:
                limits.charge(len(chunk))
                if watch is not None:
                    watch(chunk)
                yield chunk
            pending = engine.unconsumed_tail
            if engine.eof or (not pending and not chunk):
                break
        if not engine.eof:
            raise fail(field, "truncated compressed data")
        rest = engine.unused_data
        # Concatenated gzip members are one valid stream (RFC 1952 §2.2); zlib allows no tail.
        if not rest or wbits != GZIP:
            break
    if rest:
        raise fail(field, "trailing bytes after the compressed data")


def inflate(
    data: bytes, wbits: int, limit: int, *, field: str = "body", watch: Watch | None = None
) -> bytes:
    """`inflate_chunks` joined into one bytes object."""
    return b"".join(inflate_chunks(data, wbits, limit, field=field, watch=watch))


def is_zlib(data: bytes) -> bool:
    """True when `data` starts with a valid zlib (RFC 1950) header, e.g. `78 9c`."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def _codings(content_encoding: str | None) -> list[str]:
    # Encodings are listed in the order they were applied, so undo them last first.
    found = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in reversed(found) if c not in ("", "identity")]
    for coding in codings:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise fail("content-encoding", f"unsupported encoding {coding!r}")
    return codings


def _wbits(coding: str, body: bytes) -> int:
    if coding in ("gzip", "x-gzip"):
        return GZIP
    # HTTP "deflate" means a zlib stream, but some clients send raw deflate.
    return ZLIB if is_zlib(body) else RAW_DEFLATE


def decode_content(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo an HTTP Content-Encoding (identity, gzip, x-gzip, deflate), bounded by `limit`."""
    for coding in _codings(content_encoding):
        body = inflate(body, _wbits(coding, body), limit, field="content-encoding")
    return body


def first_line(body: bytes, content_encoding: str | None, cap: int) -> bytes | None:
    """The first line of the decoded body, decompressing no more than needed to find it;
    None when it is longer than `cap` bytes (or the body is not decodable)."""
    codings = _codings(content_encoding)
    if len(codings) > 1:
        return None  # no SDK stacks encodings; reading one would mean inflating the other
    if not codings:
        line = body[: cap + 1].split(b"\n", 1)[0]
        return line if len(line) <= cap else None
    seen = b""
    try:
        for chunk in inflate_chunks(body, _wbits(codings[0], body), cap + CHUNK, field="body"):
            seen += chunk
            if b"\n" in seen or len(seen) > cap:
                break
    except IngestError:  # a corrupt stream still has a first line if it decoded that far
        if b"\n" not in seen:
            return None
    line = seen.split(b"\n", 1)[0]
    return line if len(line) <= cap else None
