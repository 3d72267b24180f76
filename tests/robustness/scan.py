"""Search every file under a folder for byte strings, looking inside what is encoded.

Parquet pages are zstd-compressed, so a raw `grep` can miss a value: Parquet files (data and
Delta checkpoints) are decoded and every cell searched. Other files are searched as raw
bytes and, when they hold a zlib/gzip stream, decompressed too.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq


def _texts(path: Path) -> Iterable[bytes]:
    raw = path.read_bytes()
    yield raw
    if path.name.endswith(".parquet") or raw[:4] == b"PAR1":
        try:
            table = pq.read_table(path)
        except Exception:  # a temp or torn file: its raw bytes were searched above
            return
        yield repr(table.to_pylist()).encode("utf-8", "backslashreplace")
        return
    for wbits in (zlib.MAX_WBITS, 16 + zlib.MAX_WBITS):
        start = raw.find(b"\x78\x9c") if wbits == zlib.MAX_WBITS else raw.find(b"\x1f\x8b")
        while start >= 0:
            with contextlib.suppress(zlib.error):
                yield zlib.decompressobj(wbits).decompress(raw[start:], 256 << 20)
            start = raw.find(raw[start : start + 2], start + 1)


def find(root: Path, needles: Iterable[bytes]) -> list[tuple[str, bytes]]:
    """(file, needle) for every needle found in any file under `root`."""
    wanted = list(needles)
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for text in _texts(path):
            hits.extend((str(path.relative_to(root)), n) for n in wanted if n in text)
    return sorted(set(hits))
