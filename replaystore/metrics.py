"""The process's Prometheus registry: every metric replaystore exports is registered here.

Define a metric beside the code that updates it, with `registry=REGISTRY`; `GET /metrics`
serves `prometheus_client.generate_latest(REGISTRY)`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

REGISTRY = CollectorRegistry(auto_describe=True)
