"""Relay's bounds on client timestamps, applied to what the public endpoint receives.

Relay (and Sentry's store normaliser) accept an event timestamp at most 60 s after and at most
30 days before the moment the event was received (`max_secs_in_future`, `max_secs_in_past`);
a timestamp outside is replaced by the receive time. replaystore applies the same bounds to
replay events (`timestamp`, `replay_start_timestamp`) and linked error events, and drops click
rows outside them (their time is part of their identity, so it cannot be moved). Only envelopes
received over HTTP are bound (`Origin.live`): `replaystore ingest` imports old data as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_IN_FUTURE = timedelta(seconds=60)
MAX_IN_PAST = timedelta(days=30)


def in_bounds(moment: datetime, received: datetime) -> bool:
    return received - MAX_IN_PAST <= moment <= received + MAX_IN_FUTURE


def clamp(moment: datetime, received: datetime) -> datetime:
    """`moment`, or the receive time when it lies outside Relay's bounds."""
    return moment if in_bounds(moment, received) else received
