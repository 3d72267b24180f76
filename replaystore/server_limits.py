"""What the HTTP server accepts before the app sees a request (see docs/security.md).

Kept apart from `wsgi` so the command line can show the defaults without importing the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_BODY = 20 * 1024 * 1024  # envelopes above this are refused with 413


@dataclass(frozen=True)
class ServerLimits:
    """What waitress accepts before the app sees a request (docs/security.md)."""

    max_body: int = MAX_BODY  # larger declared bodies are refused (413) before being read
    channel_timeout: int = 30  # seconds a connection may stay silent before it is closed
    connection_limit: int = 1000  # open connections at once (half-sent requests included)
    trusted_proxy: str | None = None  # peer whose X-Forwarded-For names the client
    trusted_proxy_count: int = 1  # proxies in front of replaystore, each adding one address

    def waitress_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_request_body_size": self.max_body,
            "channel_timeout": self.channel_timeout,
            "connection_limit": self.connection_limit,
            # poll(2), not select(2): select cannot watch descriptors past 1024.
            "asyncore_use_poll": True,
            # X-Forwarded-For is honoured from the trusted proxy only, and removed otherwise.
            "clear_untrusted_proxy_headers": True,
        }
        if self.trusted_proxy:
            options |= {
                "trusted_proxy": self.trusted_proxy,
                "trusted_proxy_count": self.trusted_proxy_count,
                "trusted_proxy_headers": {"x-forwarded-for"},
            }
        return options
