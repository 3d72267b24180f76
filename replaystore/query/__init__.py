"""query stage (see docs/architecture.md)."""
