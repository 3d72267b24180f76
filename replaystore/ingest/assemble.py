"""Collects validated rows from any source and turns them into one deduplicated `WriteBatch`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from replaystore.errors import IngestError
from replaystore.fields import schema
from replaystore.ingest import clock
from replaystore.ingest.api_replay import ReplayRows
from replaystore.ingest.clicks import extract_clicks
from replaystore.ingest.recording import Recording
from replaystore.storage.batch import Blob, WriteBatch

SegmentKey = tuple[int, str, int]
GIVEN = "given"  # marks a click row a `replay` line gave (not a stored column)


def located(error: IngestError, where: str) -> IngestError:
    """The same error, prefixed with where it happened (envelope and item, or line)."""
    item = f"{where} {error.item}" if error.item else where
    return IngestError(f"{item}: {error.detail}", item=item, field=error.field, status=error.status)


@dataclass
class Collector:
    """Rows in arrival order; later duplicates replace earlier ones when the batch is built."""

    segments: dict[SegmentKey, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[SegmentKey, Blob] = field(default_factory=dict)
    clicks: list[dict[str, Any]] = field(default_factory=list)
    links: dict[tuple[int, str, str], dict[str, Any]] = field(default_factory=dict)
    # Replays whose click rows a `replay` line gave: none are extracted from their recordings.
    clicks_given: set[tuple[int, str]] = field(default_factory=set)

    def add_segment(self, row: dict[str, Any]) -> None:
        key = (row["project_id"], row["replay_id"], row["segment_id"])
        self.segments.pop(key, None)  # keep the last, in its arrival position
        self.segments[key] = row

    def add_recording(
        self,
        project_id: int,
        replay_id: str,
        recording: Recording,
        received: datetime | None = None,
    ) -> None:
        """Add the segment's blob and clicks; with `received`, clicks outside the clock
        bounds around it are dropped."""
        key = (project_id, replay_id, recording.segment_id)
        self.blobs.pop(key, None)
        self.blobs[key] = Blob(project_id, replay_id, recording.segment_id, recording.body)
        for row in extract_clicks(recording.events, replay_id):
            if received is not None and not clock.in_bounds(row["timestamp"], received):
                continue
            self.clicks.append({**row, "project_id": project_id, "segment_id": key[2]})

    def add_link(self, row: dict[str, Any]) -> None:
        key = (row["project_id"], row["replay_id"], row["event_id"])
        self.links.pop(key, None)
        self.links[key] = row

    def add_replay(self, rows: ReplayRows) -> None:
        """Add the rows of a `replay` line; its clicks replace those of the recordings."""
        for row in rows.segments:
            self.add_segment(row)
        for row in rows.links:
            self.add_link(row)
        self.clicks_given.add((rows.project_id, rows.replay_id))
        self.clicks.extend({**row, GIVEN: True} for row in rows.clicks)

    def absorb(self, other: Collector) -> None:
        """Add `other`'s rows after this one's, as if they had been collected here."""
        for row in other.segments.values():
            self.add_segment(row)
        for key, blob in other.blobs.items():
            self.blobs.pop(key, None)
            self.blobs[key] = blob
        self.clicks.extend(other.clicks)
        self.clicks_given.update(other.clicks_given)
        for row in other.links.values():
            self.add_link(row)

    def _clicks(self) -> list[dict[str, Any]]:
        winners: dict[tuple[int, str, str], dict[str, Any]] = {}
        for row in self.clicks:
            if (row["project_id"], row["replay_id"]) in self.clicks_given and GIVEN not in row:
                continue
            key = (row["project_id"], row["replay_id"], row["event_hash"])
            held = winners.get(key)
            # The dead/rage version of a click wins over the plain one; else the later one.
            if held is None or (row["is_dead"], row["is_rage"]) >= (
                held["is_dead"],
                held["is_rage"],
            ):
                winners[key] = row
        # A click takes its segment's environment, else any the replay has in this batch.
        by_replay: dict[tuple[int, str], str] = {}
        for (project, replay, _), segment in self.segments.items():
            if segment["environment"]:
                by_replay.setdefault((project, replay), segment["environment"])
        out = []
        for row in winners.values():
            segment = self.segments.get((row["project_id"], row["replay_id"], row["segment_id"]))
            environment = (
                segment["environment"]
                if segment is not None
                else by_replay.get((row["project_id"], row["replay_id"]), "")
            )
            out.append({**row, "environment": environment})
        return out

    def build(self) -> WriteBatch:
        segments = [{**row, "has_blob": key in self.blobs} for key, row in self.segments.items()]
        return WriteBatch(
            segments=pa.Table.from_pylist(segments, schema=schema.SEGMENTS),
            clicks=pa.Table.from_pylist(self._clicks(), schema=schema.CLICKS),
            links=pa.Table.from_pylist(list(self.links.values()), schema=schema.LINKS),
            blobs=list(self.blobs.values()),
        )
