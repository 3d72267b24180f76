"""storage stage (see DESIGN.md)."""
