"""A replay's recording segments at the source: metadata and exact bodies, page by page.

replaystore (and the API document) answer `recording-segments/` with metadata and
`recording-segments/?download` with the bodies of the same page. Sentry answers both with
the bodies; then each segment's metadata comes from
`recording-segments/{id}/`, probing ids upwards from the last one seen (ids are ascending;
a missing id answers 404).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from replaystore.transfer.client import Answer, Client, TransferError, data_of
from replaystore.transfer.split import split_array

PAGE = 100
MAX_GAP = 1000  # missing segment ids probed in a row before giving up


def fetch_segments(
    client: Client, base: str, stored: Container[int]
) -> tuple[list[dict[str, Any]], dict[int, bytes]]:
    """The metadata of the replay's segments not in `stored` and their bodies, by id."""
    listing = f"{base}/recording-segments/"
    new: list[dict[str, Any]] = []
    bodies: dict[int, bytes] = {}
    cursor: str | None = None
    after = -1  # the last segment id seen (bodies-only answers)
    for answer, following in client.pages(listing, [("per_page", str(PAGE))]):
        if isinstance(answer.json(), list):
            chunks = split_array(answer.body)
            metadata = _probe(client, listing, after, len(chunks))
        else:
            metadata = data_of(answer)
            wanted = any(s["segmentId"] not in stored for s in metadata)
            chunks = _download(client, listing, cursor, len(metadata)) if wanted else []
        if metadata:
            after = metadata[-1]["segmentId"]
        for segment, body in zip(metadata, chunks, strict=False):
            if segment["segmentId"] not in stored:
                new.append(segment)
                bodies[segment["segmentId"]] = body
        cursor = following
    return new, bodies


def _download(client: Client, listing: str, cursor: str | None, expected: int) -> list[bytes]:
    params = [("per_page", str(PAGE)), ("download", "1"), *([("cursor", cursor)] if cursor else [])]
    chunks = split_array(client.get(listing, params).body)
    if len(chunks) != expected:
        raise TransferError(f"{listing}: {expected} segments listed but {len(chunks)} downloaded")
    return chunks


def _probe(client: Client, listing: str, after: int, count: int) -> list[dict[str, Any]]:
    """Metadata of the `count` segments with the lowest ids above `after`."""
    found: list[dict[str, Any]] = []
    number, gap = after + 1, 0
    while len(found) < count:
        answer: Answer | None = client.get(f"{listing}{number}/", missing_ok=True)
        if answer is None:
            gap += 1
            if gap > MAX_GAP:
                raise TransferError(
                    f"{listing}: {count - len(found)} downloaded segments not found"
                )
        else:
            body = answer.json()
            found.append(body["data"] if isinstance(body, dict) and "data" in body else body)
            gap = 0
        number += 1
    return found
