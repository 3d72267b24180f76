"""query stage (see DESIGN.md)."""
