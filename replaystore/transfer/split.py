"""Split a downloaded JSON array of segments into each segment's exact bytes.

A `recording-segments/?download` page is `[` + segment + `,` + segment ... + `]`, each segment
the server's rrweb JSON as stored. Parsing and re-serialising would change the bytes (spacing,
number spelling), and "downloads equal" means the same bytes; so the elements are cut out of
the text where they stand.
"""

from __future__ import annotations

import re

from replaystore.transfer.client import TransferError

# Strings whole (so brackets inside them do not count), and every bracket or brace.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")


def split_array(body: bytes) -> list[bytes]:
    """The exact text of each element of a JSON array whose elements are arrays or objects."""
    elements: list[bytes] = []
    depth = 0
    start = 0
    for match in _TOKEN.finditer(body):
        char = body[match.start()]
        if char == ord('"'):
            continue
        if char in _OPEN:
            depth += 1
            if depth == 2:
                start = match.start()
        else:
            depth -= 1
            if depth == 1:
                elements.append(body[start : match.end()])
            elif depth < 0:
                break
    if depth != 0 or not body.strip().startswith(b"["):
        raise TransferError(f"a recording download is not a JSON array of arrays: {body[:60]!r}")
    return elements
