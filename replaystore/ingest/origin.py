"""Where an item came from: what the HTTP request (or export line) tells us besides its body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Origin:
    project_id: int
    received: datetime  # aware, UTC
    client_ip: str | None = None
    user_agent: str | None = None  # the HTTP request's User-Agent (fallback for the event's)
