"""Where an item came from: what the HTTP request (or export line) tells us besides its body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from replaystore.ingest import clock


@dataclass(frozen=True)
class Origin:
    project_id: int
    received: datetime  # aware, UTC
    client_ip: str | None = None
    user_agent: str | None = None  # the HTTP request's User-Agent (fallback for the event's)
    live: bool = False  # received over HTTP just now: clock bounds apply (ingest.clock)

    def clamped(self, moment: datetime) -> datetime:
        """`moment` within the clock bounds of a live envelope (as given otherwise)."""
        return clock.clamp(moment, self.received) if self.live else moment
