"""storage stage (see docs/architecture.md)."""
