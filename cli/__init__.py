"""The `studypilot` command: run the whole stack, migrate, serve."""
